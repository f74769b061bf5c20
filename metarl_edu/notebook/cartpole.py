"""Lesson 03's helpers: frames of a CartPole rollout, and a widget over the discretiser's bins."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from metarl_edu.agents import Discretizer, QLearningAgent
from metarl_edu.notebook.learning import plot_learning_curves
from metarl_edu.notebook.widgets import _png_output


def rollout_frames(env: Any, policy: Callable[[Any], int], n_frames: int = 6, seed: int = 0,
                   max_steps: int = 500) -> tuple[list[np.ndarray], list[int], float]:
    """Run one episode of ``policy`` (obs -> action) on an env made with ``render_mode="rgb_array"`` and keep
    ``n_frames`` evenly spaced frames. Returns (frames, their step numbers, the episode's return)."""
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError('make the env with render_mode="rgb_array" to record frames')
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws off-screen; no display is needed
    obs, _ = env.reset(seed=seed)
    frames, G = [env.render()], 0.0
    for _ in range(max_steps):
        obs, r, terminated, truncated, _ = env.step(policy(obs))
        G += float(r)
        frames.append(env.render())
        if terminated or truncated:
            break
    keep = np.unique(np.linspace(0, len(frames) - 1, n_frames).round().astype(int))
    return [frames[i] for i in keep], keep.tolist(), G


def plot_frames(frames: list[np.ndarray], steps: list[int], title: str) -> Figure:
    """A row of frames labelled with their step numbers."""
    fig, axes = plt.subplots(1, len(frames), figsize=(2.4 * len(frames), 2.2))
    for ax, frame, step in zip(np.atleast_1d(axes), frames, steps, strict=True):
        ax.imshow(frame)
        ax.set_title(f"step {step}", fontsize=9)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def bins_runs(make_env: Callable[[], Any], bins: tuple[int, ...], n_episodes: int, seeds: Sequence[int],
              n_eval: int) -> tuple[np.ndarray, np.ndarray]:
    """Train a fresh :class:`QLearningAgent` with ``Discretizer.for_cartpole(bins)`` for ``n_episodes`` episodes
    once per seed, and evaluate each greedily for ``n_eval`` episodes. Returns the training returns
    (n_seeds, n_episodes) and each seed's mean greedy return (n_seeds,)."""
    returns, greedy = [], []
    for seed in seeds:
        agent = QLearningAgent(make_env(), seed=seed, discretizer=Discretizer.for_cartpole(bins=bins), progress=False)
        returns.append(agent.train(n_episodes))
        greedy.append(agent.evaluate(n_eval, progress=False).mean())
    return np.array(returns), np.array(greedy)


class CartPoleBinsExplorer(widgets.VBox):
    """Sliders for the number of angle bins, angular-velocity bins and training episodes; each change trains
    ``n_seeds`` fresh agents (seeds ``seed, seed + 1, ...``) and redraws their mean learning curve with its spread,
    and each seed's greedy evaluation. The axes stay fixed (returns 0 to 500), so settings can be compared.

    Attributes: angle_bins, velocity_bins, episodes (sliders); returns (n_seeds, episodes) training returns;
    greedy (n_seeds,) each seed's mean greedy return over ``n_eval`` episodes; greedy_mean their mean; n_states.
    """

    def __init__(self, make_env: Callable[[], Any], angle_bins: int, velocity_bins: int, n_episodes: int,
                 seed: int, n_eval: int, n_seeds: int) -> None:
        self.make_env, self.seeds, self.n_eval = make_env, list(range(seed, seed + n_seeds)), n_eval
        style = dict(continuous_update=False, style={"description_width": "110px"})
        self.angle_bins = widgets.IntSlider(value=angle_bins, min=1, max=20, description="angle bins", **style)
        self.velocity_bins = widgets.IntSlider(value=velocity_bins, min=1, max=24, description="ang. vel. bins",
                                               **style)
        self.episodes = widgets.IntSlider(value=n_episodes, min=50, max=3000, step=50, description="episodes",
                                          **style)
        self.output = widgets.Output()
        super().__init__([widgets.HBox([self.angle_bins, self.velocity_bins, self.episodes]), self.output])
        for control in (self.angle_bins, self.velocity_bins, self.episodes):
            control.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        bins = (1, 4, self.angle_bins.value, self.velocity_bins.value)
        self.n_states = int(np.prod(bins))
        self.returns, self.greedy = bins_runs(self.make_env, bins, int(self.episodes.value), self.seeds, self.n_eval)
        self.greedy_mean = float(self.greedy.mean())
        fig = Figure(figsize=(11, 3.6))
        ax, ax_greedy = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
        plot_learning_curves({"Q-learning": self.returns}, ax=ax, window=50, ylim=(0, 510),
                             title=f"{self.n_states} states: return per training episode")
        ax.axhline(195, color="grey", linestyle=":", linewidth=1)
        x = np.arange(len(self.seeds))
        ax_greedy.bar(x, self.greedy, color="tab:blue", alpha=0.7)
        ax_greedy.axhline(self.greedy_mean, color="black", linewidth=1.5, label=f"mean {self.greedy_mean:.0f}")
        ax_greedy.axhline(195, color="grey", linestyle=":", linewidth=1, label="195")
        ax_greedy.set(ylim=(0, 510), xticks=x, xticklabels=[str(s) for s in self.seeds], xlabel="seed",
                      ylabel=f"greedy return (mean of {self.n_eval} episodes)",
                      title=f"greedy: {self.greedy_mean:.0f} ± {self.greedy.std():.0f} (sd over seeds)")
        ax_greedy.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        self.output.outputs = (_png_output(fig),)


def cartpole_bins_explorer(make_env: Callable[[], Any], angle_bins: int = 6, velocity_bins: int = 12,
                           n_episodes: int = 500, seed: int = 0, n_eval: int = 20,
                           n_seeds: int = 3) -> CartPoleBinsExplorer:
    """Train tabular Q-learning on CartPole with a chosen discretisation, ``n_seeds`` times per setting;
    ``make_env()`` returns a fresh env."""
    return CartPoleBinsExplorer(make_env, angle_bins, velocity_bins, n_episodes, seed, n_eval, n_seeds)
