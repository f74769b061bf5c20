"""Plots and a widget for lesson 06: REINFORCE's learning curves, live."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import gymnasium as gym
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metarl_edu.nets import make_policy
from metarl_edu.notebook.widgets import _png_output
from metarl_edu.pg import train_reinforce


def plot_reinforce_curves(
    curves: Mapping[str, tuple[np.ndarray, int]],
    ax: Axes | None = None,
    title: str = "REINFORCE",
    ylabel: str = "mean return of the batch",
) -> Axes:
    """Mean return per update against the episodes played so far: ``curves[name] = (mean_returns, batch_size)``,
    so that runs with different batch sizes share the x-axis (the cost in episodes)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, (mean_returns, batch_size) in curves.items():
        episodes = batch_size * np.arange(1, len(mean_returns) + 1)
        ax.plot(episodes, mean_returns, marker="o", markersize=2, label=name)
    ax.set_xlabel("episodes played")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


class ReinforceExplorer(widgets.VBox):
    """Sliders for Adam's learning rate and the batch size above the learning curve of a fresh REINFORCE run
    (fixed seed) on every change; the number of updates is chosen so that every run plays about the same number
    of episodes.

    Attributes:
        lr: the FloatLogSlider; batch_size: the IntSlider; output: the plot.
        mean_returns: (n_updates,) mean return of each update's batch in the latest run.
        n_updates: updates in the latest run, ``max(1, n_episodes // batch_size)``.
    """

    def __init__(self, make_env: Callable[[], gym.Env], lr: float, batch_size: int, n_episodes: int,
                 hidden_sizes: tuple[int, ...], seed: int) -> None:
        self.make_env, self.n_episodes, self.hidden_sizes, self.seed = make_env, n_episodes, hidden_sizes, seed
        slider = dict(continuous_update=False, style={"description_width": "90px"})
        self.lr = widgets.FloatLogSlider(value=lr, base=10, min=-4, max=0, step=0.25, description="learning rate",
                                         readout_format=".4f", **slider)
        self.batch_size = widgets.IntSlider(value=batch_size, min=1, max=50, description="batch size", **slider)
        self.output = widgets.Output()
        super().__init__([widgets.HBox([self.lr, self.batch_size]), self.output])
        for control in (self.lr, self.batch_size):
            control.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        """Train a fresh policy with the sliders' values, then replace the plot."""
        env = self.make_env()
        policy = make_policy(env, hidden_sizes=self.hidden_sizes, seed=self.seed)
        batch_size = int(self.batch_size.value)
        self.n_updates = max(1, self.n_episodes // batch_size)
        self.mean_returns = train_reinforce(env, policy, self.n_updates, batch_size=batch_size,
                                            lr=float(self.lr.value), seed=self.seed, progress=False)
        fig = Figure(figsize=(7, 3.5))
        name = f"learning rate {self.lr.value:.4g}, batch size {batch_size}"
        plot_reinforce_curves({name: (self.mean_returns, batch_size)}, ax=fig.add_subplot(),
                              title=f"REINFORCE on {env.spec.id if env.spec else type(env).__name__}: "
                                    f"{self.n_updates} updates")
        self.output.outputs = (_png_output(fig),)


def reinforce_explorer(
    make_env: Callable[[], gym.Env] | None = None,
    lr: float = 0.02,
    batch_size: int = 10,
    n_episodes: int = 200,
    hidden_sizes: tuple[int, ...] = (32,),
    seed: int = 0,
) -> ReinforceExplorer:
    """Train REINFORCE live: move the learning rate or the batch size and the learning curve redraws.

    Args:
        make_env: builds the env for each run (default: ``gym.make("CartPole-v1")``).
        lr: starting learning rate, in [1e-4, 1].
        batch_size: starting number of episodes per update, in [1, 50].
        n_episodes: episodes each run plays in total (the budget), >= 1.
        hidden_sizes: hidden layers of the policy network.
        seed: the run's seed (fixed, so that only the sliders change the result).
    """
    if not 1e-4 <= lr <= 1 or not 1 <= batch_size <= 50 or n_episodes < 1:
        raise ValueError(f"need lr in [1e-4, 1], batch_size in [1, 50] and n_episodes >= 1; got {lr}, "
                         f"{batch_size}, {n_episodes}")
    return ReinforceExplorer(make_env or (lambda: gym.make("CartPole-v1")), lr, batch_size, n_episodes,
                             hidden_sizes, seed)


__all__ = ["ReinforceExplorer", "plot_reinforce_curves", "reinforce_explorer"]
