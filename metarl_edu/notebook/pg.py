"""Plots and a widget for lesson 06: REINFORCE's learning curves, live."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import gymnasium as gym
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metarl_edu.nets import make_policy
from metarl_edu.notebook.learning import plot_runs
from metarl_edu.notebook.widgets import _png_output
from metarl_edu.pg import train_reinforce

CARTPOLE_RETURNS = (0.0, 510.0)  # CartPole-v1's return per episode runs from 0 to 500 (a little room above)


def plot_reinforce_curves(
    curves: Mapping[str, tuple[np.ndarray, int]],
    ax: Axes | None = None,
    title: str = "REINFORCE",
    ylabel: str = "mean return of the batch",
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """Mean return per update against the episodes played so far: ``curves[name] = (mean_returns, batch_size)``,
    so that runs with different batch sizes share the x-axis (the cost in episodes). ``mean_returns`` is
    (n_updates,) for one run or (n_seeds, n_updates) for several: their mean is drawn with one standard error
    shaded (:func:`~metarl_edu.notebook.learning.plot_runs`). ``xlim``, ``ylim``: fixed axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, (mean_returns, batch_size) in curves.items():
        episodes = batch_size * np.arange(1, np.shape(mean_returns)[-1] + 1)
        plot_runs(ax, episodes, mean_returns, name, marker="o", markersize=2)
    ax.set_xlabel("episodes played")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def reinforce_seeds(make_env: Callable[[], gym.Env], lr: float, batch_size: int, n_episodes: int,
                    hidden_sizes: tuple[int, ...], seeds: Sequence[int]) -> np.ndarray:
    """Train a fresh policy with REINFORCE once per seed (the seed makes the network and the episodes), each for
    ``max(1, n_episodes // batch_size)`` updates of ``batch_size`` episodes. Returns the mean return of each
    update's batch, shape (n_seeds, n_updates)."""
    n_updates = max(1, n_episodes // batch_size)
    runs = []
    for seed in seeds:
        env = make_env()
        policy = make_policy(env, hidden_sizes=hidden_sizes, seed=seed)
        runs.append(train_reinforce(env, policy, n_updates, batch_size=batch_size, lr=lr, seed=seed,
                                    progress=False))
    return np.array(runs)


def reinforce_figure(runs: np.ndarray, lr: float, batch_size: int, n_episodes: int, env_name: str,
                     ylim: tuple[float, float]) -> Figure:
    """The explorer's plot: the runs of one setting, on axes fixed by the budget ``n_episodes`` and ``ylim`` so that
    settings compare by eye."""
    fig = Figure(figsize=(7, 3.5))
    plot_reinforce_curves({f"learning rate {lr:.4g}, batch size {batch_size}": (runs, batch_size)},
                          ax=fig.add_subplot(), xlim=(0, n_episodes), ylim=ylim,
                          title=f"REINFORCE on {env_name}: {runs.shape[1]} updates, mean of {len(runs)} seeds "
                                f"(band: one standard error)")
    fig.tight_layout()
    return fig


class ReinforceExplorer(widgets.VBox):
    """Sliders for Adam's learning rate and the batch size above the learning curves of fresh REINFORCE runs
    (fixed seeds ``seed, seed + 1, ...``) on every change, their mean with one standard error; the number of
    updates is chosen so that every run plays about the same number of episodes, and the axes stay fixed.

    Attributes:
        lr: the FloatLogSlider; batch_size: the IntSlider; output: the plot.
        runs: (n_seeds, n_updates) mean return of each update's batch in the latest runs; mean_returns: their mean.
        n_updates: updates in the latest runs, ``max(1, n_episodes // batch_size)``.
    """

    def __init__(self, make_env: Callable[[], gym.Env], lr: float, batch_size: int, n_episodes: int,
                 hidden_sizes: tuple[int, ...], seed: int, n_seeds: int, ylim: tuple[float, float]) -> None:
        self.make_env, self.n_episodes, self.hidden_sizes = make_env, n_episodes, hidden_sizes
        self.seeds, self.ylim = list(range(seed, seed + n_seeds)), ylim
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
        """Train fresh policies with the sliders' values, then replace the plot."""
        batch_size, lr = int(self.batch_size.value), float(self.lr.value)
        self.runs = reinforce_seeds(self.make_env, lr, batch_size, self.n_episodes, self.hidden_sizes, self.seeds)
        self.mean_returns = self.runs.mean(axis=0)
        self.n_updates = self.runs.shape[1]
        env = self.make_env()
        name = env.spec.id if env.spec else type(env).__name__
        self.output.outputs = (_png_output(reinforce_figure(self.runs, lr, batch_size, self.n_episodes, name,
                                                            self.ylim)),)


def reinforce_explorer(
    make_env: Callable[[], gym.Env] | None = None,
    lr: float = 0.02,
    batch_size: int = 10,
    n_episodes: int = 200,
    hidden_sizes: tuple[int, ...] = (32,),
    seed: int = 0,
    n_seeds: int = 3,
    ylim: tuple[float, float] = CARTPOLE_RETURNS,
) -> ReinforceExplorer:
    """Train REINFORCE live: move the learning rate or the batch size and the learning curve redraws.

    Args:
        make_env: builds the env for each run (default: ``gym.make("CartPole-v1")``).
        lr: starting learning rate, in [1e-4, 1].
        batch_size: starting number of episodes per update, in [1, 50].
        n_episodes: episodes each run plays in total (the budget), >= 1.
        hidden_sizes: hidden layers of the policy network.
        seed: the first run's seed; n_seeds: runs per setting (seeds fixed, so that only the sliders change the
            result).
        ylim: the return axis, the same for every setting (default: CartPole's 0 to 500; give another for another
            env).
    """
    if not 1e-4 <= lr <= 1 or not 1 <= batch_size <= 50 or n_episodes < 1 or n_seeds < 1:
        raise ValueError(f"need lr in [1e-4, 1], batch_size in [1, 50], n_episodes >= 1 and n_seeds >= 1; got {lr}, "
                         f"{batch_size}, {n_episodes}, {n_seeds}")
    return ReinforceExplorer(make_env or (lambda: gym.make("CartPole-v1")), lr, batch_size, n_episodes,
                             hidden_sizes, seed, n_seeds, ylim)


__all__ = ["CARTPOLE_RETURNS", "ReinforceExplorer", "plot_reinforce_curves", "reinforce_explorer", "reinforce_figure",
           "reinforce_seeds"]
