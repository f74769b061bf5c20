"""Plots, a results table and a replay widget for lesson 09: RL^2 next to the classic bandit strategies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metarl_edu.fast.tasks import BernoulliBandits
from metarl_edu.notebook.learning import plot_runs
from metarl_edu.notebook.widgets import _png_output
from metarl_edu.rl2 import RL2Agent
from metarl_edu.studies.bandit_baselines import BanditResult
from metarl_edu.studies.mdp_baselines import TrialResult
from metarl_edu.studies.rl2 import TrialRecord, record_trial

Result = BanditResult | TrialResult
N_TASK_SEEDS = 100  # the replay widget offers tasks 0..99


# ============================================================================================== tables and plots
def format_results(results: Mapping[str, Result], title: str = "", paper: Mapping[str, float] | None = None,
                   paper_name: str = "paper") -> str:
    """A plain-text table: mean total reward per trial with its 95% confidence interval, best first; for bandits
    also the mean regret against always pulling the best arm.

    ``paper`` adds a column headed ``paper_name``: the published total of each player it names (keyed as in
    ``results``), and "-" for a player it does not report.
    """
    bandits = all(isinstance(r, BanditResult) for r in results.values())
    width = max(len(name) for name in results) + 2
    paper_width = max(len(paper_name), 6) + 2
    header = (f"{'':<{width}}{'mean total':>11}{'95% CI':>17}" + (f"{'regret':>9}" if bandits else "")
              + (f"{paper_name:>{paper_width}}" if paper is not None else ""))
    lines = [title] if title else []
    lines.append(header)
    for name, r in sorted(results.items(), key=lambda item: -item[1].mean_total):
        lo, hi = r.total_ci
        line = f"{name:<{width}}{r.mean_total:>11.2f}{f'[{lo:.2f}, {hi:.2f}]':>17}"
        line += f"{r.mean_regret:>9.2f}" if bandits else ""
        if paper is not None:
            line += f"{paper[name]:>{paper_width}.1f}" if name in paper else f"{'-':>{paper_width}}"
        lines.append(line)
    return "\n".join(lines)


def format_seeds(per_seed: Sequence[float] | np.ndarray, digits: int = 2) -> str:
    """One line for the training seeds behind a result: each seed's own mean, then their mean and standard
    deviation (the spread between training runs, which a single lucky run would hide).

    >>> format_seeds([1.0, 2.0, 3.0])
    'RL^2 by training seed: [1.0, 2.0, 3.0]; mean 2.00, sd across seeds 1.00'
    """
    x = np.asarray(per_seed, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"per_seed must be a non-empty 1-D list of per-seed means; got shape {x.shape}")
    sd = f"{x.std(ddof=1):.{digits}f}" if x.size > 1 else "- (one seed)"
    return f"RL^2 by training seed: {np.round(x, digits).tolist()}; mean {x.mean():.{digits}f}, sd across seeds {sd}"


def plot_results(results: Mapping[str, Result], ax: Axes | None = None, title: str = "",
                 xlabel: str = "mean total reward per trial") -> Axes:
    """The mean totals as dots with their 95% confidence intervals, best at the top."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.4 * len(results) + 1.2))
    ordered = sorted(results.items(), key=lambda item: item[1].mean_total)
    means = np.array([r.mean_total for _, r in ordered])
    ci = np.array([r.total_ci for _, r in ordered])
    y = np.arange(len(ordered))
    # dots, not bars: the axis does not start at 0, and a bar's length would exaggerate the gaps
    ax.errorbar(means, y, xerr=[means - ci[:, 0], ci[:, 1] - means], fmt="o", color="tab:blue", ecolor="black",
                capsize=3, label="mean, 95% confidence interval")
    ax.set_yticks(y, [name for name, _ in ordered])
    ax.set_ylim(-0.6, len(ordered) - 0.4)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_training_curve(agents: RL2Agent | Sequence[RL2Agent], baselines: Mapping[str, float] | None = None,
                        ax: Axes | None = None, title: str | None = None) -> Axes:
    """The mean total reward of each training batch against the iteration, with dashed lines for baselines
    (name -> mean total, e.g. the strategies' results on the same kind of trial). Several agents (training seeds of
    one config) are averaged over their common iterations, with one standard error shaded."""
    agents = [agents] if isinstance(agents, RL2Agent) else list(agents)
    if not agents or any(not agent.history for agent in agents):
        raise ValueError("plot_training_curve needs agents with a training history (train them first)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    n = min(len(agent.history) for agent in agents)
    totals = np.array([[h["mean_total"] for h in agent.history[:n]] for agent in agents])
    plot_runs(ax, np.arange(1, n + 1), totals, f"RL$^2$ (batch of {agents[0].config.n_tasks})", color="tab:blue")
    for (name, value), color in zip((baselines or {}).items(), plt.cm.tab10.colors[1:], strict=False):
        ax.axhline(value, color=color, linestyle="--", linewidth=1, label=name)
    ax.set_xlabel("training iteration (one batch of trials on fresh tasks)")
    ax.set_ylabel("mean total reward per trial")
    ax.set_title(title or f"Training {agents[0].config.name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")  # the curve rises from the left; the baselines sit near the top
    return ax


# ============================================================================================== replay widget
class RL2Replay(widgets.VBox):
    """A slider over the steps of one recorded trial: the agent's actions and rewards up to that step, and the
    policy it acted with there, next to the arms' true means (bandits).

    Attributes:
        step, task: the IntSliders (step in 1..T; task picks the task, a seed); output: the plot.
        record: the :class:`~metarl_edu.studies.rl2.TrialRecord` shown.
        t: the step shown, 1-based: steps 1..t are drawn in colour, the later ones in grey.
        probs: ``pi(.|h)`` with which step t's action was drawn (after seeing steps 1..t-1), shape (A,).
        counts: how often each action was taken in steps 1..t, shape (A,).
        total: the reward of steps 1..t.
        arm_means: the bandit's true arm means ``p``, shape (A,); None for an MDP.
        state: the state in which step t's action was taken (always 0 for a bandit).
    """

    def __init__(self, agent: RL2Agent, task: int, step: int | None, greedy: bool) -> None:
        self.agent, self.greedy = agent, greedy
        T = agent.config.steps_per_trial
        slider = dict(continuous_update=False, style={"description_width": "60px"})
        self.step = widgets.IntSlider(value=T if step is None else step, min=1, max=T, description="step", **slider)
        self.task = widgets.IntSlider(value=task, min=0, max=N_TASK_SEEDS - 1, description="task", **slider)
        self.output = widgets.Output()
        super().__init__([widgets.HBox([self.step, self.task]), self.output])
        self._record(task)
        self.step.observe(lambda change: self.redraw(), names="value")
        self.task.observe(lambda change: (self._record(int(change["new"])), self.redraw()), names="value")
        self.redraw()

    def _record(self, seed: int) -> None:
        self.record: TrialRecord = record_trial(self.agent, rng=seed, greedy=self.greedy)
        task = self.record.task
        self.arm_means = task.p[0].copy() if isinstance(task, BernoulliBandits) else None

    def redraw(self) -> None:
        """Recompute what step t shows, then replace the plot."""
        rec, self.t = self.record, int(self.step.value)
        self.probs = rec.probs[self.t - 1]
        self.counts = np.bincount(rec.actions[: self.t], minlength=rec.probs.shape[1])
        self.total = float(rec.rewards[: self.t].sum())
        self.state = int(rec.states[self.t - 1])
        self.output.outputs = (_png_output(self._figure()),)

    def _figure(self) -> Figure:
        rec, t, A = self.record, self.t, self.record.probs.shape[1]
        fig = Figure(figsize=(10, 3.6))
        ax, bars = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
        steps = np.arange(1, len(rec.actions) + 1)
        ax.scatter(steps[t:], rec.actions[t:], color="lightgrey", s=12, label="later steps")
        if self.arm_means is not None:  # Bernoulli rewards: paid or not
            paid = rec.rewards[:t] > 0
            ax.scatter(steps[:t][paid], rec.actions[:t][paid], color="tab:green", s=22, label="reward 1")
            ax.scatter(steps[:t][~paid], rec.actions[:t][~paid], facecolors="none", edgecolors="tab:red", s=22,
                       label="reward 0")
            best = int(np.argmax(self.arm_means))
            ax.axhspan(best - 0.4, best + 0.4, color="gold", alpha=0.25, label=f"best arm ({best})")
        else:
            points = ax.scatter(steps[:t], rec.actions[:t], c=rec.rewards[:t], cmap="RdYlGn", s=22)
            fig.colorbar(points, ax=ax, label="reward")
            for boundary in np.flatnonzero(np.diff(rec.episode)) + 1.5:
                ax.axvline(boundary, color="grey", linestyle=":", linewidth=0.8)
            path = rec.states[np.flatnonzero(rec.episode[:t] == rec.episode[t - 1])]  # step t's episode so far
        ax.axvline(t, color="black", linewidth=0.8)
        ax.set_yticks(range(A))
        ax.set_ylim(-0.6, A - 0.4)
        ax.set_xlabel("step of the trial" + (" (one pull each)" if self.arm_means is not None else
                                             " (dotted: a new episode starts)"))
        ax.set_ylabel("arm pulled" if self.arm_means is not None else "action taken")
        title = f"Steps 1-{t} of {len(steps)}: total reward {self.total:.1f}"
        if self.arm_means is None:
            title += f"\nepisode {rec.episode[t - 1] + 1}, states so far: {' > '.join(map(str, path))}"
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=4)
        x = np.arange(A)
        bars.bar(x, self.probs, color="tab:blue", alpha=0.7, label="policy: P(action)")
        if self.arm_means is not None:
            bars.scatter(x, self.arm_means, color="black", marker="D", zorder=3, label="true arm mean p")
        for a in x:
            bars.annotate(f"{self.counts[a]}x", (a, 1.02), ha="center", fontsize=8)
        bars.set_ylim(0, 1.12)
        bars.set_xticks(x)
        bars.set_xlabel("arm (above: times pulled so far)" if self.arm_means is not None else "action")
        bars.set_ylabel("probability / arm mean" if self.arm_means is not None else "probability")
        bars.set_title(f"The policy at step {t}" + ("" if self.arm_means is not None else f", in state {self.state}"))
        bars.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2))
        fig.tight_layout()
        return fig


def rl2_replay(agent: RL2Agent, task: int = 0, step: int | None = None, greedy: bool = False) -> RL2Replay:
    """Replay one trial of ``agent`` step by step: move the step slider to see which arms it pulled, what they
    paid, and how its policy shifted; move the task slider for another task.

    Args:
        agent: a trained (or untrained) :class:`~metarl_edu.rl2.RL2Agent`; it is only run, never trained.
        task: the seed that draws the task and the agent's random actions, in [0, 99].
        step: the step shown first, in [1, T]; None shows the whole trial.
        greedy: act with ``argmax pi`` instead of sampling.
    """
    T = agent.config.steps_per_trial
    if not 0 <= task < N_TASK_SEEDS or (step is not None and not 1 <= step <= T):
        raise ValueError(f"task must be in [0, {N_TASK_SEEDS - 1}] and step in [1, {T}]; got task={task}, "
                         f"step={step}")
    return RL2Replay(agent, task, step, greedy)


def trial_inputs_table(x: Sequence[np.ndarray] | np.ndarray, n_obs: int, n_actions: int) -> str:
    """The rows ``x_t = [o_t | onehot(a_{t-1}) | r_{t-1} | d_{t-1}]`` of one trial as text, one line per step."""
    x = np.asarray(x)
    lines = [f"{'t':>3}  {'o_t':<{4 * n_obs}}  {'onehot(a_t-1)':<{max(4 * n_actions, 13)}}  {'r_t-1':>6}  {'d_t-1':>5}"]
    for t, row in enumerate(x):
        o, a = row[:n_obs], row[n_obs:n_obs + n_actions]
        r, d = row[n_obs + n_actions], row[n_obs + n_actions + 1]
        lines.append(f"{t:>3}  {' '.join(f'{v:3.0f}' for v in o):<{4 * n_obs}}  "
                     f"{' '.join(f'{v:3.0f}' for v in a):<{max(4 * n_actions, 13)}}  {r:>6.2f}  {d:>5.0f}")
    return "\n".join(lines)


__all__ = ["RL2Replay", "format_results", "plot_results", "plot_training_curve", "rl2_replay", "trial_inputs_table"]
