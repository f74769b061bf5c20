"""Plots for lesson 11's belief agent: the exact posterior over the goal beside the encoder's Gaussian, per step."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Ellipse

from metarl_edu.belief import beliefs_along, grid_posterior, play
from metarl_edu.envs.navigation import GOAL_HIGH, GOAL_LOW
from metarl_edu.studies.belief import BeliefAgent


@dataclass(frozen=True)
class BeliefPath:
    """One episode of the belief agent on one goal: ``positions`` (T + 1, 2) from the origin, ``distances`` (T,) seen
    after each step, and the encoder's belief after each step, ``means`` (T, 2) and ``covs`` (T, 2, 2)."""

    goal: np.ndarray
    positions: np.ndarray
    distances: np.ndarray
    means: np.ndarray
    covs: np.ndarray


def belief_path(agent: BeliefAgent, goal: np.ndarray, seed: int = 0) -> BeliefPath:
    """Play one episode on ``goal`` (actions sampled with ``seed``) and recompute the encoder's belief at each step."""
    trial = play(agent.policy, agent.encoder, np.asarray(goal, dtype=float)[None], 1, 1,
                 generator=torch.Generator().manual_seed(seed))
    episodes = trial.episodes[0]
    with torch.no_grad():
        etas, precisions = beliefs_along(agent.encoder, trial.episodes)
        covs = torch.linalg.inv(precisions[0][:, 0, 0])
        means = (covs @ etas[0][:, 0, 0].unsqueeze(-1)).squeeze(-1)
    n = int(episodes.mask[:, 0, 0].sum())
    positions = np.vstack([np.zeros(2), episodes.next_obs[:n, 0, 0, :2].numpy()])
    return BeliefPath(np.asarray(goal, dtype=float), positions, -episodes.rewards[:n, 0, 0].numpy().astype(float),
                      means[:n].numpy().astype(float), covs[:n].numpy().astype(float))


def plot_belief_steps(path: BeliefPath, steps: tuple[int, ...] = (1, 2, 3, 5, 10), noise: float = 0.01,
                      n_grid: int = 101) -> np.ndarray:
    """One panel per step ``t`` in ``steps``: the exact posterior over the goal after the first ``t`` distances
    (:func:`~metarl_edu.belief.grid_posterior`, uniform prior, Gaussian noise ``noise``) as colour, the encoder's
    Gaussian as its 1- and 2-std ellipses, the path so far and the true goal. Returns the axes."""
    steps = tuple(t for t in steps if 1 <= t <= len(path.distances))
    if not steps:
        raise ValueError(f"steps must include a step between 1 and {len(path.distances)} (the episode's length)")
    fig, axes = plt.subplots(1, len(steps), figsize=(3.2 * len(steps), 3.4), squeeze=False)
    for ax, t in zip(axes[0], steps, strict=True):
        post = grid_posterior(path.positions[1:t + 1], path.distances[:t], noise=noise, n=n_grid)
        ax.imshow(post, origin="lower", extent=(GOAL_LOW, GOAL_HIGH, GOAL_LOW, GOAL_HIGH), cmap="Greys")
        values, vectors = np.linalg.eigh(path.covs[t - 1])
        angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
        for k in (1, 2):
            width, height = 2 * k * np.sqrt(np.maximum(values[::-1], 0))
            ax.add_patch(Ellipse(path.means[t - 1], width, height, angle=angle, fill=False, color="tab:blue",
                                 linestyle="-" if k == 1 else "--"))
        ax.plot(*path.means[t - 1], "x", color="tab:blue", label="encoder's mean")
        ax.plot(*path.positions[:t + 1].T, ".-", color="tab:orange", label="path")
        ax.plot(*path.goal, "*", color="tab:red", markersize=12, label="true goal")
        ax.set(xlim=(GOAL_LOW - 0.05, GOAL_HIGH + 0.05), ylim=(GOAL_LOW - 0.05, GOAL_HIGH + 0.05), xlabel="goal x",
               title=f"after step {t}")
    axes[0, 0].set_ylabel("goal y")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle("exact posterior over the goal (grey) and the encoder's Gaussian (blue: 1 and 2 std)")
    fig.tight_layout()
    return axes[0]
