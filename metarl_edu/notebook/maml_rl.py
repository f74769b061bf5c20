"""Plots for lesson 08 (MAML for RL): 2D navigation trajectories before and after adaptation, adaptation curves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from metarl_edu.fast.envs import batched_env
from metarl_edu.maml_rl import MetaRLAgent, MetaTestResult
from metarl_edu.studies.evaluation import adaptation_curve


@dataclass(frozen=True)
class AdaptedTrajectories:
    """Positions walked on each task before and after adaptation.

    Attributes:
        goals: (n_tasks, 2).
        paths: (steps + 1, n_tasks, n_traj, T + 1, 2): positions after 0, 1, ... inner steps, the origin first;
            padding after an episode's end repeats its last position.
        returns: (steps + 1, n_tasks) mean return of the plotted trajectories.
    """

    goals: np.ndarray
    paths: np.ndarray
    returns: np.ndarray


def navigation_trajectories(agent: MetaRLAgent, tasks: list[Any], steps: int = 1, n_traj: int = 20,
                            seed: int = 0) -> AdaptedTrajectories:
    """Sample ``n_traj`` trajectories per task with ``theta`` and after 1, ..., ``steps`` inner steps."""
    env = batched_env(agent.family, tasks, n_traj, seed)
    _, episodes = agent._adapt_batch(env, steps, torch.Generator().manual_seed(seed))
    paths = []
    for e in episodes:
        p = torch.cat([torch.zeros_like(e.next_obs[:1]), e.next_obs]).numpy()  # (T + 1, n_tasks, n_traj, 2)
        paths.append(np.moveaxis(p, 0, 2))
    returns = np.stack([e.total_rewards().mean(1).numpy() for e in episodes])
    return AdaptedTrajectories(np.array([t.goal for t in tasks]), np.stack(paths), returns)


def plot_navigation_trajectories(data: AdaptedTrajectories, n_show: int = 3) -> np.ndarray:
    """One panel per number of inner steps: ``n_show`` trajectories of each task, coloured per task, goals as stars."""
    n_steps = data.paths.shape[0]
    fig, axes = plt.subplots(1, n_steps, figsize=(4.2 * n_steps, 4.2), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    colours = plt.cm.tab10(np.arange(len(data.goals)) % 10)
    for k, ax in enumerate(axes):
        for i, (goal, colour) in enumerate(zip(data.goals, colours, strict=True)):
            for j in range(min(n_show, data.paths.shape[2])):
                path = data.paths[k, i, j]
                ax.plot(path[:, 0], path[:, 1], color=colour, alpha=0.6, lw=1,
                        label=f"task {i}: goal ({goal[0]:.2f}, {goal[1]:.2f})" if j == 0 else None)
            ax.plot(*goal, marker="*", ms=16, color=colour, mec="black")
        ax.plot(0, 0, "ko", ms=5)
        ax.set_title(f"after {k} inner step{'s' if k != 1 else ''}\nmean return {data.returns[k].mean():.1f}")
        ax.set_xlabel("x (position units)")
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("y (position units)")
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.suptitle("2D navigation: trajectories from the origin (dot) towards each task's goal (star)")
    fig.tight_layout()
    return axes


def plot_adaptation_curves(results: Mapping[str, MetaTestResult], title: str, ax: Axes | None = None) -> Axes:
    """Mean return on held-out tasks against the number of inner steps, one line per method, 95% bands over tasks."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    for name, result in results.items():
        c = adaptation_curve(result.returns[:, None, :], rng=0)
        (line,) = ax.plot(c.steps, c.mean, marker="o", label=f"{name} ({len(result.returns)} tasks)")
        ax.fill_between(c.steps, c.low, c.high, color=line.get_color(), alpha=0.2)
    ax.set_xticks(c.steps)
    ax.set_xlabel("inner policy-gradient steps on the new task")
    ax.set_ylabel("mean return per episode")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_training_curves(records: Mapping[str, dict], steps: tuple[int, ...] = (1, 2), reference: float | None = None,
                         bottom: float | None = None, ax: Axes | None = None) -> Axes:
    """Held-out return against meta-iteration, from training runs' ``eval.json`` records
    (:func:`metarl_edu.studies.maml_rl.read_run`): one colour per run, a line style per number of inner steps.
    ``bottom``: the lowest return shown (a collapsed run falls off the chart, and the title says so)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.2))
    styles = ("-", "--", ":", "-.")
    highest = -np.inf
    for colour, (name, record) in zip(plt.cm.tab10(np.arange(10)), records.items(), strict=False):
        iterations = sorted(int(k) for k in record["curve"])
        for style, k in zip(styles, steps, strict=False):
            values = [record["curve"][str(i)][k] for i in iterations]
            highest = max(highest, *values)
            ax.plot(iterations, values, style, color=colour, marker="o", ms=3,
                    label=f"{name}, after {k} step{'s' if k != 1 else ''}")
    if reference is not None:
        ax.axhline(reference, color="grey", lw=1, ls=":", label=f"paper, after 1 step ({reference})")
    ax.set_xlabel("meta-iteration")
    ax.set_ylabel("mean return on held-out tasks")
    title = "MAML for RL: the whole training curve, evaluated every 50 iterations"
    if bottom is not None:
        ax.set_ylim(bottom=bottom, top=max(highest, bottom) + 0.05 * abs(bottom))
        title += f"\n(returns below {bottom:g} are off the chart)"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.figure.tight_layout()
    return ax
