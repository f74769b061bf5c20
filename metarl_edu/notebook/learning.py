"""Plots and a widget for lessons on learning from experience (Q-learning and its siblings)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metarl_edu.envs.gridworld import GridWorld
from metarl_edu.mdp import policy_evaluation, uniform_policy, value_iteration
from metarl_edu.notebook.plots import plot_values
from metarl_edu.notebook.widgets import _png_output


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` entries at each position (fewer at the start), same length as ``x``."""
    x = np.asarray(x, dtype=float)
    if window < 1:
        raise ValueError(f"window must be >= 1; got {window}")
    c = np.cumsum(np.insert(x, 0, 0.0))
    n = np.minimum(np.arange(1, x.size + 1), window)
    i = np.arange(x.size)
    return (c[i + 1] - c[i + 1 - n]) / n


def plot_runs(ax: Axes, x: np.ndarray, runs: np.ndarray, label: str, window: int = 1, unit: str = "seed",
              **style) -> None:
    """Draw runs of one method, (n_points,) or (n_seeds, n_points), against ``x``: the mean over seeds (a moving
    average over ``window`` points) as a line labelled with the number of seeds (or of another ``unit``, such as
    tasks), and one standard error of that mean shaded around it when there are several."""
    runs = np.atleast_2d(np.asarray(runs, dtype=float))
    n = runs.shape[0]
    mean = moving_average(runs.mean(axis=0), window)
    (line,) = ax.plot(x, mean, label=f"{label} ({n} {unit}{'s' * (n > 1)})", **style)
    if n > 1:
        se = np.vstack([moving_average(r, window) for r in runs]).std(axis=0) / np.sqrt(n)
        ax.fill_between(x, mean - se, mean + se, color=line.get_color(), alpha=0.2)


def plot_learning_curves(
    curves: Mapping[str, np.ndarray],
    ax: Axes | None = None,
    window: int = 10,
    title: str = "Learning curves",
    ylabel: str = "return per episode",
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """Plot returns against episodes for several methods: each curve is (episodes,) or (seeds, episodes);
    seeds are averaged, then a moving average over ``window`` episodes is drawn, with the seeds' spread
    (one standard error) shaded when there are several (:func:`plot_runs`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, returns in curves.items():
        plot_runs(ax, np.arange(1, np.shape(returns)[-1] + 1), returns, name, window)
    ax.set_xlabel("episode")
    ax.set_ylabel(f"{ylabel} (moving average of {window})")
    ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def greedy_path(
    q: np.ndarray, step: Callable[[int, int], tuple[int, bool]], start: int, max_steps: int = 100
) -> list[int]:
    """States visited by the greedy policy of ``q`` from ``start``, where ``step(s, a)`` gives
    ``(s_next, done)`` for a deterministic environment; stops at ``done`` or after ``max_steps`` steps."""
    path, s = [start], start
    for _ in range(max_steps):
        s, done = step(s, int(np.argmax(q[s])))
        path.append(s)
        if done:
            break
    return path


def plot_paths_on_grid(
    paths: Mapping[str, Sequence[tuple[int, int]]],
    shape: tuple[int, int],
    special: Mapping[str, Sequence[tuple[int, int]]],
    ax: Axes | None = None,
    title: str = "Greedy paths",
) -> Axes:
    """Draw paths of (row, col) cells on an empty grid of ``shape``; ``special`` maps a label (for example
    "cliff") to cells to shade."""
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * shape[1] + 1, 0.6 * shape[0] + 0.8))
    colours = {"cliff": "tab:red", "start": "tab:blue", "goal": "tab:green"}
    for label, cells in special.items():
        for k, (r, c) in enumerate(cells):
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color=colours.get(label, "grey"), alpha=0.35,
                                       label=label if k == 0 else None))
    offsets = np.linspace(-0.12, 0.12, max(len(paths), 1))
    for (name, cells), dy in zip(paths.items(), offsets, strict=True):
        rows, cols = zip(*cells, strict=True)
        ax.plot(np.array(cols), np.array(rows) + dy, marker="o", markersize=3, linewidth=2, label=name)
    ax.set_xlim(-0.5, shape[1] - 0.5)
    ax.set_ylim(shape[0] - 0.5, -0.5)
    ax.set_xticks(range(shape[1]))
    ax.set_yticks(range(shape[0]))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return ax


@dataclasses.dataclass(frozen=True)
class SeedRuns:
    """Q-learning runs of one setting on one gridworld, one row per seed, scored exactly on the task.

    Attributes:
        returns: (n_seeds, n_episodes) undiscounted training returns.
        policies: (n_seeds, S, A) the greedy policy of each learned table (ties to the lowest action).
        values: (n_seeds, S) the exact value of each greedy policy under the TASK's discount ``grid.gamma``.
        v_star: (S,) the task's optimal values. start: the start state.
    """

    returns: np.ndarray
    policies: np.ndarray
    values: np.ndarray
    v_star: np.ndarray
    start: int

    @property
    def v_start(self) -> np.ndarray:
        """(n_seeds,) each learned policy's exact value at the start."""
        return self.values[:, self.start]


def q_learning_seeds(grid: GridWorld, alpha: float, epsilon: float, gamma: float, n_episodes: int,
                     n_seeds: int = 5, seed: int = 0) -> SeedRuns:
    """Train Q-learning with a constant ``alpha`` and ``epsilon`` and the LEARNER's discount ``gamma`` on
    ``grid`` for ``n_episodes`` episodes (100 steps at most), ``n_seeds`` independent times, and score each
    greedy policy exactly with the task's own discount ``grid.gamma``: the learner's gamma is a knob, the task's
    is the goal, and the knob must not move the goal."""
    from metarl_edu.fast.qlearning import BatchedQLearning
    from metarl_edu.mdp import greedy_policy

    batch = BatchedQLearning([grid.mdp] * n_seeds, alpha=alpha, gamma=gamma, epsilon=epsilon, seed=seed,
                             progress=False, max_steps=100)
    returns = batch.train(n_episodes)
    policies = np.stack([greedy_policy(q, tol=0.0) for q in batch.q])
    values = np.stack([policy_evaluation(grid.mdp, pi) for pi in policies])
    return SeedRuns(returns, policies, values, value_iteration(grid.mdp)[0], int(np.argmax(grid.mdp.start)))


class QLearningExplorer(widgets.VBox):
    """Sliders for alpha, epsilon, the learner's gamma and the number of episodes above the learning curve and the
    learned greedy policies on a gridworld. Every change trains ``n_seeds`` fresh learners (fixed seeds) and scores
    each greedy policy exactly under the task's own discount (:func:`q_learning_seeds`).

    Attributes:
        alpha, epsilon, gamma, episodes: the sliders; output: the plot.
        runs: the latest :class:`SeedRuns`. returns: (n_seeds, episodes) its training returns.
        v_greedy_start: (n_seeds,) exact value of each learned greedy policy at the start, under the task's gamma;
        v_star_start: the optimum there.
    """

    def __init__(self, grid: GridWorld, alpha: float, epsilon: float, gamma: float, n_episodes: int,
                 seed: int, n_seeds: int) -> None:
        self.grid, self.seed, self.n_seeds = grid, seed, n_seeds
        slider = dict(continuous_update=False, style={"description_width": "110px"})
        self.alpha = widgets.FloatSlider(value=alpha, min=0.01, max=1.0, step=0.01, description="alpha", **slider)
        self.epsilon = widgets.FloatSlider(value=epsilon, min=0.0, max=1.0, step=0.01, description="epsilon",
                                           **slider)
        self.gamma = widgets.FloatSlider(value=gamma, min=0.0, max=0.99, step=0.01, description="learner's gamma",
                                         **slider)
        self.episodes = widgets.IntSlider(value=n_episodes, min=10, max=2000, step=10, description="episodes",
                                          **slider)
        self.output = widgets.Output()
        super().__init__([widgets.HBox([self.alpha, self.epsilon]), widgets.HBox([self.gamma, self.episodes]),
                          self.output])
        # one colour scale for every setting: from the random policy's values to the optimum's
        self.vmax = float(np.abs(np.concatenate([value_iteration(grid.mdp)[0],
                                                 policy_evaluation(grid.mdp, uniform_policy(grid.mdp))])).max())
        for control in (self.alpha, self.epsilon, self.gamma, self.episodes):
            control.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        self.runs = q_learning_seeds(self.grid, self.alpha.value, self.epsilon.value, self.gamma.value,
                                     int(self.episodes.value), self.n_seeds, self.seed)
        self.returns = self.runs.returns
        self.v_greedy_start = self.runs.v_start
        self.v_star_start = float(self.runs.v_star[self.runs.start])
        self.output.outputs = (_png_output(self._figure()),)

    def _figure(self) -> Figure:
        fig = Figure(figsize=(12, 3.8))
        ax_curve, ax_grid = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        plot_learning_curves({"Q-learning": self.returns}, ax=ax_curve, window=20, ylim=(-3.0, 1.0),
                             title="Return per training episode (exploring); mean and standard error")
        v = self.v_greedy_start
        plot_values(self.grid, self.runs.values.mean(axis=0), self.runs.policies.mean(axis=0), ax=ax_grid,
                    vmax=self.vmax, title=f"greedy policies, exact value at the task's gamma {self.grid.gamma:g}\n"
                                          f"v(start) = {v.mean():.3f} ± {v.std():.3f} over {v.size} seeds "
                                          f"(best {self.v_star_start:.3f})")
        fig.tight_layout()
        return fig


def q_learning_explorer(
    grid: GridWorld | str | None = None,
    alpha: float = 0.5,
    epsilon: float = 0.1,
    gamma: float = 0.9,
    n_episodes: int = 300,
    seed: int = 0,
    n_seeds: int = 5,
) -> QLearningExplorer:
    """Train Q-learning on a gridworld live: move a slider and the learning curve and greedy policies redraw.

    The heatmap shows the exact values of the learned greedy policies under the task's own discount (the grid's
    ``gamma``), averaged over the seeds, and arrows as long as the fraction of seeds that chose each action; the
    colour scale stays fixed as the sliders move.

    Args:
        grid: a GridWorld or layout; default lesson 01's world with slip 0.2, step cost 0.04 and gamma 0.9.
        alpha, epsilon, gamma, n_episodes: starting values of the sliders (``gamma`` is the learner's discount).
        seed: the seed of the first run (fixed, so that only the sliders change the result). n_seeds: runs per
            setting.
    """
    if grid is None:
        grid = GridWorld.from_layout("small", slip=0.2, step_reward=-0.04)
    elif isinstance(grid, str):
        grid = GridWorld.from_layout(grid)
    return QLearningExplorer(grid, alpha, epsilon, gamma, n_episodes, seed, n_seeds)


__all__ = ["QLearningExplorer", "SeedRuns", "greedy_path", "moving_average", "plot_learning_curves",
           "plot_paths_on_grid", "plot_runs", "q_learning_explorer", "q_learning_seeds"]
