"""Lesson 11's widget and tables: the Bayes-optimal bandit player's decisions, and the signpost world's players."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from metarl_edu.bayes import BanditSolution, bayes_optimal_bandit
from metarl_edu.notebook.widgets import _png_output

HORIZON_MAX = 30
PRIOR_MAX = 5.0


def policy_tree(solution: BanditSolution, depth: int = 3) -> str:
    """The Bayes-optimal arm after every history of up to ``depth`` pulls, as indented text: each line is a history
    (arm and outcome of each pull, ``1+`` for arm 1 paid, ``2-`` for arm 2 failed), the belief's value ``V`` and the
    arm pulled next (``1``, ``2``, or ``either`` on a tie; when tied, the tree follows arm 1)."""
    lines = [f"Bayes-optimal player, n = {solution.horizon}, prior Beta{solution.prior}: V = expected reward to come"]

    def visit(history: str, counts: tuple[int, int, int, int]) -> None:
        t = sum(counts)
        if t >= min(depth, solution.horizon):
            return
        arm = solution.arm(*counts)
        shown = "either" if arm < 0 else str(arm + 1)
        label = '  ' * t + (history or 'start')
        lines.append(f"{label:<{5 * depth + 6}} V = {solution.value_of(*counts):6.3f}  -> pull arm {shown}")
        a = max(arm, 0)
        for paid, mark in ((1, "+"), (0, "-")):
            nxt = list(counts)
            nxt[2 * a + (0 if paid else 1)] += 1
            visit(f"{history} {a + 1}{mark}".strip(), tuple(nxt))

    visit("", (0, 0, 0, 0))
    return "\n".join(lines)


def plot_decisions(solution: BanditSolution, s2: int = 0, f2: int = 0, ax: Axes | None = None) -> Axes:
    """``Q_1 - Q_2`` over arm 1's successes (rows) and failures (columns), with arm 2 at ``(s2, f2)``: blue where
    the Bayes-optimal player pulls arm 1, red where it pulls arm 2, white on a tie; grey where the trial is over.
    With small n each cell is labelled with the arm pulled."""
    if ax is None:
        ax = Figure(figsize=(5, 4.5)).add_subplot()
    n = solution.horizon
    size = max(n - s2 - f2, 1)
    diff = np.full((size, size), np.nan)
    for s1 in range(size):
        for f1 in range(size - s1):
            if s1 + f1 + s2 + f2 < n:
                q = solution.q_values(s1, f1, s2, f2)
                diff[s1, f1] = q[0] - q[1]
    bound = max(float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0, 1e-9)
    image = ax.imshow(diff, origin="lower", cmap="coolwarm_r", norm=TwoSlopeNorm(0.0, -bound, bound))
    ax.set_facecolor("0.85")
    if size <= 12:
        for s1, f1 in zip(*np.nonzero(np.isfinite(diff)), strict=True):
            arm = solution.arm(int(s1), int(f1), s2, f2)
            ax.text(f1, s1, "=" if arm < 0 else str(arm + 1), ha="center", va="center", fontsize=8)
    ax.set(xlabel="failures of arm 1 (f1)", ylabel="successes of arm 1 (s1)",
           title=f"arm pulled next, n = {n}, arm 2 at s2 = {s2}, f2 = {f2}")
    ax.figure.colorbar(image, ax=ax, label="Q(arm 1) - Q(arm 2)", shrink=0.8)
    return ax


class BayesBanditExplorer(widgets.VBox):
    """Sliders for the horizon n, the prior Beta(a, b) of both arms and arm 2's counts, above the decision map
    (:func:`plot_decisions`) and the policy tree (:func:`policy_tree`). ``solution`` is the solution shown now."""

    def __init__(self, horizon: int, prior: tuple[float, float]) -> None:
        style = {"description_width": "initial"}
        self.horizon = widgets.IntSlider(value=horizon, min=1, max=HORIZON_MAX, description="pulls n",
                                         continuous_update=False, style=style)
        self.a = widgets.FloatSlider(value=prior[0], min=0.5, max=PRIOR_MAX, step=0.5, description="prior a",
                                     continuous_update=False, style=style)
        self.b = widgets.FloatSlider(value=prior[1], min=0.5, max=PRIOR_MAX, step=0.5, description="prior b",
                                     continuous_update=False, style=style)
        self.s2 = widgets.IntSlider(value=0, min=0, max=HORIZON_MAX - 1, description="arm 2 successes",
                                    continuous_update=False, style=style)
        self.f2 = widgets.IntSlider(value=0, min=0, max=HORIZON_MAX - 1, description="arm 2 failures",
                                    continuous_update=False, style=style)
        self.output = widgets.Output()
        self.tree = widgets.HTML()
        self.solution = bayes_optimal_bandit(horizon, prior)
        super().__init__(children=[widgets.HBox([self.horizon, self.a, self.b]), widgets.HBox([self.s2, self.f2]),
                                   widgets.HBox([self.output, self.tree])])
        for control in (self.horizon, self.a, self.b, self.s2, self.f2):
            control.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        """Solve again for the sliders' n and prior, and replace the map and the tree."""
        n, prior = self.horizon.value, (self.a.value, self.b.value)
        if self.solution.horizon != n or self.solution.prior != prior:
            self.solution = bayes_optimal_bandit(n, prior)
        s2, f2 = self.s2.value, self.f2.value
        fig = Figure(figsize=(5.2, 4.4))
        if s2 + f2 < n:
            plot_decisions(self.solution, s2, f2, ax=fig.add_subplot())
        else:
            fig.text(0.5, 0.5, f"arm 2 pulled {s2 + f2} times: the trial of {n} pulls is over", ha="center")
        self.output.outputs = (_png_output(fig),)
        text = policy_tree(self.solution, depth=3)
        self.tree.value = f"<pre style='font-size: 11px'>{text}\n\nexpected total: {self.solution.value:.4f} " \
                          f"({self.solution.n_states} beliefs, {self.solution.seconds * 1000:.0f} ms)</pre>"


def bayes_bandit_explorer(horizon: int = 10, prior: tuple[float, float] = (1.0, 1.0)) -> BayesBanditExplorer:
    """Watch the Bayes-optimal two-armed bandit player change with the horizon and the prior.

    >>> w = bayes_bandit_explorer(horizon=10)
    >>> w.horizon.value = 25   # w.solution and the pictures follow
    """
    if not (isinstance(horizon, int) and 1 <= horizon <= HORIZON_MAX):
        raise ValueError(f"horizon must be an integer in [1, {HORIZON_MAX}] for the explorer; got {horizon!r}")
    if not all(0.5 <= p <= PRIOR_MAX for p in prior):
        raise ValueError(f"prior (a, b) must lie in [0.5, {PRIOR_MAX}] for the explorer; got {prior!r}")
    return BayesBanditExplorer(horizon, (float(prior[0]), float(prior[1])))


def format_table(rows: Mapping[str, Mapping[str, float]], title: str = "", digits: int = 3) -> str:
    """A plain-text table: one row per name, one column per key of the inner mappings."""
    columns = list(next(iter(rows.values())))
    width = max(len(name) for name in rows) + 2
    lines = [title] if title else []
    lines.append(f"{'':<{width}}" + "".join(f"{c:>14}" for c in columns))
    for name, row in rows.items():
        lines.append(f"{name:<{width}}" + "".join(f"{row[c]:>14.{digits}f}" for c in columns))
    return "\n".join(lines)


__all__ = ["BayesBanditExplorer", "bayes_bandit_explorer", "format_table", "plot_decisions", "policy_tree"]
