"""Plots and widgets for lessons 04 and 05: task galleries, sweep heatmaps, held-out results, meta-gradient paths."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from metarl_edu.envs.tasks import FrozenLakeFamily, GridWorldFamily, TaskFamily
from metarl_edu.notebook.learning import plot_runs
from metarl_edu.notebook.widgets import _png_output
from metarl_edu.studies.hyperparams import HeldOutResult, Setting, SweepResult, score_curves
from metarl_edu.studies.two_goals import TwoGoalsFamily

# cell kinds drawn by plot_task_gallery: (characters, colour, legend label)
_CELLS = (("#", "dimgray", "wall"), (".F", "white", "floor"), ("S", "tab:blue", "start"),
          ("G", "tab:green", "goal"), ("g", "yellowgreen", "near goal (small reward)"), ("PH", "black", "pit / hole"))


def task_rows(family: TaskFamily, task: Any) -> tuple[tuple[str, ...], str]:
    """The map of a grid task as rows of characters, and a short title naming its features.

    GridWorldFamily: the layout with the task's goal; FrozenLakeFamily: the map (``H`` holes); TwoGoalsFamily:
    the room, with the near goal drawn ``g``.
    """
    if isinstance(family, GridWorldFamily):
        x = family.features(task)
        return family.task_layout(task), f"slip {task.slip:.2f}, goal {x[3]:.0f} moves away"
    if isinstance(family, FrozenLakeFamily):
        x = family.features(task)
        return tuple(task.desc), f"{x[1]:.0%} holes, path {x[2]:.0f}"
    if isinstance(family, TwoGoalsFamily):
        rows = [list(line) for line in family.grid(task).layout]
        r, c = family.near_goal
        rows[r][c] = "g"
        return tuple("".join(line) for line in rows), (f"H {task.horizon}, near reward {task.near_reward:.2f}, "
                                                       f"slip {task.slip:.2f}")
    raise TypeError(f"no map to draw for {type(family).__name__}; plot its features instead")


def plot_task_gallery(family: TaskFamily, tasks: Sequence[Any], n_cols: int = 4, title: str = "") -> Figure:
    """Small maps of grid tasks side by side (walls, start, goals, pits or holes), each titled with its features."""
    n_rows = -(-len(tasks) // n_cols)
    fig = plt.figure(figsize=(3.0 * n_cols, 3.4 * n_rows + 0.7))
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
    cmap = ListedColormap([colour for _, colour, _ in _CELLS])
    present: set[int] = set()
    for ax, task in zip(axes, tasks, strict=False):
        rows, label = task_rows(family, task)
        codes = np.array([[next(k for k, (chars, _, _) in enumerate(_CELLS) if ch in chars) for ch in line]
                          for line in rows])
        present |= set(codes.ravel().tolist())
        ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(_CELLS) - 0.5, interpolation="nearest")
        ax.set_xticks(np.arange(-0.5, codes.shape[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, codes.shape[0]), minor=True)
        ax.grid(which="minor", color="lightgray", linewidth=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(label, fontsize=9)
    for ax in axes[len(tasks):]:
        ax.axis("off")
    kinds = [_CELLS[k] for k in sorted(present)]
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=colour, edgecolor="gray") for _, colour, _ in kinds]
    fig.legend(handles, [label for _, _, label in kinds], loc="lower center", ncol=len(kinds), fontsize=8)
    fig.suptitle(title or f"Tasks drawn from {type(family).__name__}")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_feature_histograms(family: TaskFamily, tasks: Sequence[Any], title: str = "") -> Figure:
    """One histogram per feature of ``family`` over ``tasks``: what a hyperparameter model gets to see."""
    X = family.feature_matrix(tasks)
    fig = plt.figure(figsize=(3.2 * X.shape[1], 2.8))
    axes = np.atleast_1d(fig.subplots(1, X.shape[1]))
    for ax, column, name in zip(axes, X.T, family.feature_names, strict=True):
        ax.hist(column, bins=20, color="tab:blue", alpha=0.8)
        ax.set(xlabel=name, ylabel="tasks")
    fig.suptitle(title or f"Features of {len(tasks)} tasks from {type(family).__name__}")
    fig.tight_layout()
    return fig


# ============================================================================================ sweep heatmap
def _grid_axes(result: SweepResult) -> tuple[list[float], list[float]]:
    alphas = sorted({s.alpha for s in result.settings})
    epsilons = sorted({s.epsilon for s in result.settings})
    if len(result.settings) != len(alphas) * len(epsilons) or len({(s.gamma, s.schedule)
                                                                     for s in result.settings}) != 1:
        raise ValueError("the heatmap needs a sweep over an alpha x epsilon grid at one gamma and one schedule "
                         "(setting_grid(alphas, epsilons, [gamma], [schedule]))")
    return alphas, epsilons


class SweepHeatmap(widgets.VBox):
    """Pick a task (or the mean over all tasks) and see its score over the (alpha, epsilon) grid.

    Every cell shows the mean score and, below it, its spread: the standard deviation over the seeds for one task,
    over the tasks for the mean. The colour scale is the same for every choice (from the lowest mean score of any
    task, or 0, up to 1 = optimal), so that colours compare across tasks.

    Attributes:
        task: the Dropdown (value -1: the mean over all tasks; i: task i). output: the plot.
        alphas, epsilons: the grid's axes. values, spread: (n_alpha, n_epsilon) the means and spreads shown now.
        vmin, vmax: the fixed colour scale.
        best: (alpha, epsilon) of the best cell shown now; best_constant: that of the mean over all tasks.
    """

    def __init__(self, result: SweepResult, labels: Sequence[str] | None, task: int) -> None:
        self.result = result
        self.alphas, self.epsilons = _grid_axes(result)
        index = {(s.alpha, s.epsilon): k for k, s in enumerate(result.settings)}
        order = [[index[(a, e)] for e in self.epsilons] for a in self.alphas]
        self.tables = result.mean_scores[:, np.array(order)]  # (n_tasks, n_alpha, n_epsilon)
        self.seed_spread = result.scores.std(axis=2)[:, np.array(order)]  # (n_tasks, n_alpha, n_epsilon)
        self.vmin, self.vmax = min(0.0, float(self.tables.min())), 1.0
        mean = self.tables.mean(axis=0)
        i, j = np.unravel_index(np.argmax(mean), mean.shape)
        self.best_constant = (self.alphas[i], self.epsilons[j])
        labels = labels or [", ".join(f"{n} {x:.3g}" for n, x in zip(result.feature_names, row, strict=True))
                            for row in result.X]
        options = [("mean over all tasks", -1)] + [(f"task {i}: {label}", i) for i, label in enumerate(labels)]
        self.task = widgets.Dropdown(options=options, value=task, description="task",
                                     layout=widgets.Layout(width="520px"))
        self.output = widgets.Output()
        super().__init__([self.task, self.output])
        self.task.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        t = self.task.value
        self.values = self.tables.mean(axis=0) if t < 0 else self.tables[t]
        self.spread = self.tables.std(axis=0) if t < 0 else self.seed_spread[t]
        i, j = np.unravel_index(np.argmax(self.values), self.values.shape)
        self.best = (self.alphas[i], self.epsilons[j])
        self.output.outputs = (_png_output(self._figure()),)

    def _figure(self) -> Figure:
        fig = Figure(figsize=(6.4, 4.4))
        ax = fig.add_subplot()
        im = ax.imshow(self.values, cmap="viridis", origin="lower", aspect="auto", vmin=self.vmin, vmax=self.vmax)
        fig.colorbar(im, ax=ax, label="score (0 random, 1 optimal); same scale for every task")
        for i in range(len(self.alphas)):
            for j in range(len(self.epsilons)):
                ax.text(j, i, f"{self.values[i, j]:.2f}\n±{self.spread[i, j]:.2f}", ha="center", va="center",
                        fontsize=7, color="white")
        best = (self.alphas.index(self.best[0]), self.epsilons.index(self.best[1]))
        const = (self.alphas.index(self.best_constant[0]), self.epsilons.index(self.best_constant[1]))
        ax.scatter([best[1]], [best[0]], marker="*", s=500, facecolor="none", edgecolor="red", linewidth=2,
                   label="best for this task")
        ax.scatter([const[1]], [const[0]], marker="o", s=700, facecolor="none", edgecolor="white", linewidth=2,
                   label="best over all tasks")
        ax.set_xticks(range(len(self.epsilons)), [f"{e:g}" for e in self.epsilons])
        ax.set_yticks(range(len(self.alphas)), [f"{a:g}" for a in self.alphas])
        ax.set(xlabel="epsilon (exploration rate)", ylabel="alpha (step size)")
        name = ("mean over all tasks (± sd over tasks)" if self.task.value < 0
                else f"task {self.task.value} (± sd over {self.result.scores.shape[2]} seeds)")
        ax.set_title(f"Score after {self.result.n_episodes} episodes: {name}", fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.3, 1.0), fontsize=8, facecolor="silver")
        fig.tight_layout()
        return fig


def sweep_heatmap(result: SweepResult, labels: Sequence[str] | None = None, task: int = 0) -> SweepHeatmap:
    """A heatmap of one task's scores over the (alpha, epsilon) grid of a sweep, with a task menu.

    Args:
        result: a sweep over ``setting_grid(alphas, epsilons, [gamma], [schedule])``.
        labels: one label per task for the menu; default: its features.
        task: the task shown first (-1: the mean over all tasks).

    >>> w = sweep_heatmap(result)   # doctest: +SKIP
    >>> w.task.value = 3            # w.values, w.best and the plot follow
    """
    return SweepHeatmap(result, labels, task)


def plot_best_settings(result: SweepResult, feature: str, hyperparameter: str, ax: Axes | None = None,
                       title: str = "") -> Axes:
    """Each training task's best value of one hyperparameter against one of its features (a little vertical
    jitter separates tasks with the same best value)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    x = result.X[:, list(result.feature_names).index(feature)]
    y = np.array([getattr(result.settings[k], hyperparameter) for k in result.best_per_task()])
    jitter = np.random.default_rng(0).uniform(-0.01, 0.01, size=y.shape) * (np.ptp(y) or 1.0)
    ax.scatter(x, y + jitter, s=14, alpha=0.7, label="one training task")
    ax.set(xlabel=feature, ylabel=f"best {hyperparameter}", title=title or f"Best {hyperparameter} per task")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


# ============================================================================================ held-out results
SCORE_RANGE = (-0.5, 1.05)  # the score axis of every held-out plot: 0 is the random policy, 1 the optimum


def plot_held_out(result: HeldOutResult, ax: Axes | None = None, title: str = "Held-out tasks") -> Axes:
    """Mean held-out score of each method with its 95% bootstrap interval; the gap each closes in the label."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    rows = result.summary()
    y = np.arange(len(rows))[::-1]
    means = np.array([r.ci.estimate for r in rows])
    errors = np.array([[r.ci.estimate - r.ci.low for r in rows], [r.ci.high - r.ci.estimate for r in rows]])
    colours = ["tab:gray"] + ["tab:blue"] * (len(rows) - 2) + ["tab:green"]
    ax.barh(y, means, xerr=errors, color=colours, alpha=0.8, capsize=4, label="mean with 95% CI")
    ax.set_yticks(y, [f"{r.name}\n(gap closed {r.gap_closed:.2f})" for r in rows], fontsize=8)
    ax.set(xlabel="score on held-out tasks (0 random, 1 optimal)", title=title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return ax


class HeldOutExplorer(widgets.VBox):
    """Pick a held-out task: see the settings each method predicts for it and their learning curves.

    Attributes:
        task: the Dropdown of held-out tasks. table: an HTML widget with the predicted settings. output: the plot.
        episodes: (n_points,) episodes at which scores are measured. curves: {method: (n_seeds, n_points)}.
    """

    def __init__(self, family: TaskFamily, result: HeldOutResult, methods: Sequence[str], n_episodes: int,
                 n_points: int, n_seeds: int, seed: int) -> None:
        self.family, self.result, self.methods = family, result, list(methods)
        self.n_episodes, self.n_points, self.n_seeds, self.seed = n_episodes, n_points, n_seeds, seed
        self.ylim = SCORE_RANGE
        self.episodes = np.array([round(n_episodes * (p + 1) / n_points) for p in range(n_points)])
        X = family.feature_matrix(result.tasks)
        options = [(f"task {i}: " + ", ".join(f"{n} {x:.3g}" for n, x in zip(family.feature_names, row,
                                                                            strict=True)), i)
                   for i, row in enumerate(X)]
        self.task = widgets.Dropdown(options=options, value=0, description="task",
                                     layout=widgets.Layout(width="520px"))
        self.table = widgets.HTML()
        self.output = widgets.Output()
        super().__init__([self.task, self.table, self.output])
        self.task.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        i = self.task.value
        task = self.result.tasks[i]
        chosen: dict[str, Setting] = {m: self.result.chosen[m][i] for m in self.methods}
        tasks = [task] * (len(chosen) * self.n_seeds)
        settings = [s for s in chosen.values() for _ in range(self.n_seeds)]
        curves = score_curves(self.family, tasks, settings, self.n_episodes, self.n_points, self.seed)
        self.curves = {m: curves[k * self.n_seeds:(k + 1) * self.n_seeds] for k, m in enumerate(chosen)}
        rows = "".join(f"<tr><td>{html.escape(m)}</td><td>{s.alpha:.3g}</td><td>{s.epsilon:.3g} ({s.schedule})</td>"
                       f"<td>{s.gamma:.3g}</td></tr>" for m, s in chosen.items())
        self.table.value = ("<table><tr><th>method</th><th>alpha</th><th>epsilon</th><th>gamma</th></tr>"
                            f"{rows}</table>")
        self.output.outputs = (_png_output(self._figure()),)

    def _figure(self) -> Figure:
        return held_out_curves_figure(self.curves, self.episodes, self.task.value, self.ylim)


def held_out_curves_figure(curves: Mapping[str, np.ndarray], episodes: np.ndarray, task: int,
                           ylim: tuple[float, float] = SCORE_RANGE) -> Figure:
    """The held-out explorer's plot: each method's runs (n_seeds, n_points) on one task against the training
    episodes, their mean with one standard error shaded, on a score axis fixed to ``ylim`` for every task (a mean
    below it is named in the title)."""
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    for name, runs in curves.items():
        plot_runs(ax, episodes, runs, name, marker="o", markersize=3)
    n_seeds = len(next(iter(curves.values())))
    title = f"Held-out task {task}: mean of {n_seeds} runs (band: one standard error)"
    low = [name for name, runs in curves.items() if runs.mean(axis=0).min() < ylim[0]]
    if low:
        title += f"\n{', '.join(low)}: scores below {ylim[0]:g} are off the chart"
    ax.set(xlabel="training episodes", ylabel="score (0 random, 1 optimal)", title=title,
           xlim=(0, episodes[-1] * 1.02), ylim=ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def held_out_explorer(family: TaskFamily, result: HeldOutResult, methods: Sequence[str] | None = None,
                      n_episodes: int = 100, n_points: int = 10, n_seeds: int = 4,
                      seed: int = 7) -> HeldOutExplorer:
    """A menu of held-out tasks; for the chosen task, each method's predicted setting and its learning curve
    (score after 1/n_points, 2/n_points, ... of ``n_episodes``, ``n_seeds`` runs each).

    Args:
        methods: which of ``result.methods`` to show; default all but the oracle.
    """
    methods = [m for m in result.methods if m != "oracle"] if methods is None else list(methods)
    unknown = set(methods) - set(result.methods)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; choose from {list(result.methods)}")
    return HeldOutExplorer(family, result, methods, n_episodes, n_points, n_seeds, seed)


# ============================================================================================ meta-gradients
def plot_meta_gradient(alphas: np.ndarray, gammas: np.ndarray, grid: np.ndarray, paths: Mapping[str, Any],
                       ax: Axes | None = None, title: str = "Meta-objective J(alpha, gamma)") -> Axes:
    """Heatmap of the meta-objective over an (alpha, gamma) grid with gradient-ascent paths drawn on it.

    ``paths`` maps a label to a :class:`~metarl_edu.studies.meta_gradient.MetaGradientResult` (its ``alphas``,
    ``gammas``); the grid's best cell is marked.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    mesh = ax.pcolormesh(gammas, alphas, grid, shading="nearest", cmap="viridis")
    ax.figure.colorbar(mesh, ax=ax, label="J: value of the softmax policy")
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    ax.scatter([gammas[j]], [alphas[i]], marker="*", s=300, color="red", label="best grid cell")
    for label, path in paths.items():
        ax.plot(path.gammas, path.alphas, color="white", linewidth=1.5)
        ax.scatter([path.gammas[0]], [path.alphas[0]], color="white", s=25)
        ax.scatter([path.gammas[-1]], [path.alphas[-1]], color="orange", s=40, zorder=3)
        ax.annotate(label, (path.gammas[0], path.alphas[0]), color="white", fontsize=8, ha="right",
                    xytext=(-6, -10), textcoords="offset points")
    ax.scatter([], [], color="orange", s=40, label="end of a gradient ascent")
    ax.set(xlabel="bootstrap gamma", ylabel="step size alpha", title=title)
    ax.legend(loc="upper left", fontsize=8)
    return ax


__all__ = ["SCORE_RANGE", "HeldOutExplorer", "SweepHeatmap", "held_out_curves_figure", "held_out_explorer",
           "plot_best_settings", "plot_feature_histograms", "plot_held_out", "plot_meta_gradient", "plot_task_gallery",
           "sweep_heatmap", "task_rows"]
