"""Baselines for trials of n episodes on random tabular MDPs: random, greedy (certainty equivalence), oracle.

A trial is n episodes of H steps on one MDP, each episode starting in state 0; the score is the trial's total
reward. The agents here run B trials at once on a :class:`~metarl_edu.fast.tasks.RandomTabularMDPs` batch.

* ``random``: a uniformly random action at every step; the floor.
* ``greedy``: acts greedily on the *maximum-likelihood* model of what it has seen so far
  (:func:`empirical_model`: a pair never tried pays 0 and moves uniformly), re-planned at every step, and never
  explores on purpose. It plans the ``H - t`` steps left in the episode by finite-horizon value iteration on that
  model and takes an action of highest value (ties at random). Duan et al. call this kind of agent greedy; it is
  the "certainty equivalent" agent of adaptive control.
* ``posterior_greedy``: the same planner on the *posterior mean* model under the task distribution
  (:func:`posterior_mean_model`; Duan et al. 2016's random MDPs): with mean rewards ``R ~ N(1, 1)`` and unit
  reward noise, the posterior mean of ``R[s, a]`` after ``N[s, a]`` visits paying ``sum_r`` is
  ``(1 + sum_r) / (1 + N[s, a])``; with a flat ``Dirichlet(1, ..., 1)`` prior on ``P[s, a, :]``, the posterior
  mean is ``(1 + N[s, a, s']) / (S + N[s, a])``. An untried pair is worth its prior mean 1, the average reward,
  where the maximum-likelihood model says 0, so this agent tries actions that ``greedy`` writes off.
* ``oracle``: plans on the true ``P`` and ``R``: the best expected total any agent can reach, since it is told
  the task. An upper bound, not a competitor.

>>> result = evaluate_mdp_baseline("greedy", n_episodes=10, n_tasks=500, rng=0)

References:
    Duan, Schulman, Chen, Bartlett, Sutskever & Abbeel (2016), RL^2: Fast reinforcement learning via slow
    reinforcement learning. arXiv:1611.02779 (random MDPs, section 4.2).
    Puterman (1994), Markov Decision Processes, section 4.5 (finite-horizon backward induction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from metarl_edu.bandits import argmax_random_ties
from metarl_edu.fast.tasks import RandomTabularMDPs
from metarl_edu.studies.bandit_baselines import TrialTotals

STRATEGIES = ("random", "greedy", "posterior_greedy", "oracle")


@dataclass(frozen=True, eq=False)
class TrialResult(TrialTotals):
    """Mean total reward per trial over many tasks, with a confidence interval (see :class:`TrialTotals`).

    Attributes:
        name: who played (an agent's or a baseline's name).
        n_episodes: episodes per trial.
        totals: total reward of each trial, shape (B,).
        seconds: wall time.
    """

    name: str
    n_episodes: int
    totals: np.ndarray
    seconds: float

    @property
    def n_tasks(self) -> int:
        return self.totals.size

    def __str__(self) -> str:
        lo, hi = self.total_ci
        return (f"{self.name}: total {self.mean_total:.1f} (95% CI {lo:.1f}-{hi:.1f}); n={self.n_episodes} "
                f"episodes, {self.n_tasks} tasks, {self.seconds:.2f} s")


def finite_horizon_q(P: np.ndarray, R: np.ndarray, h: int) -> np.ndarray:
    """``Q_h``, shape (B, S, A): the best expected reward of the next h steps, by backward induction.

    ``V_0 = 0``; ``Q_j[s, a] = R[s, a] + sum_s' P[s, a, s'] V_{j-1}[s']``; ``V_j = max_a Q_j``.

    Args:
        P: (B, S, A, S); R: (B, S, A); h: steps left, >= 1.
    """
    if h < 1:
        raise ValueError(f"h must be >= 1; got {h}")
    V = np.zeros(P.shape[:2])
    for _ in range(h):
        Q = R + np.einsum("bsat,bt->bsa", P, V)
        V = Q.max(axis=2)
    return Q


def posterior_mean_model(N: np.ndarray, reward_sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mean ``(P_hat, R_hat)`` under the task prior, from transition counts and reward sums.

    ``P_hat[s, a, s'] = (1 + N[s, a, s']) / (S + N[s, a])`` (flat Dirichlet prior) and
    ``R_hat[s, a] = (1 + sum_r[s, a]) / (1 + N[s, a])`` (``N(1, 1)`` prior on the mean, unit noise).

    Args:
        N: transition counts ``N[b, s, a, s']``, (B, S, A, S).
        reward_sums: ``sum_r[b, s, a]``, (B, S, A).
    """
    n_sa = N.sum(axis=-1)
    S = N.shape[-1]
    return (1.0 + N) / (S + n_sa[..., None]), (1.0 + reward_sums) / (1.0 + n_sa)


def empirical_model(N: np.ndarray, reward_sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The maximum-likelihood model: ``P_hat[s, a, s'] = N[s, a, s'] / N[s, a]`` and ``R_hat = sum_r / N[s, a]``.

    A pair never tried gets ``R_hat = 0`` and uniform ``P_hat = 1 / S`` (no data, no belief).

    Args:
        N: transition counts (B, S, A, S); reward_sums: (B, S, A).
    """
    n_sa = N.sum(axis=-1)
    S = N.shape[-1]
    seen = n_sa > 0
    P_hat = np.where(seen[..., None], N / np.maximum(n_sa, 1)[..., None], 1.0 / S)
    R_hat = np.where(seen, reward_sums / np.maximum(n_sa, 1), 0.0)
    return P_hat, R_hat


def run_mdp_baseline(strategy: str, tasks: RandomTabularMDPs, n_episodes: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Play one trial of ``n_episodes`` episodes on each of the B tasks; returns the totals, shape (B,)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1; got {n_episodes}")
    B, S, A, H = tasks.n_tasks, tasks.n_states, tasks.n_actions, tasks.horizon
    b = np.arange(B)
    N = np.zeros((B, S, A, S))
    reward_sums = np.zeros((B, S, A))
    totals = np.zeros(B)
    for _ in range(n_episodes):
        s = tasks.start(rng)
        for t in range(H):
            if strategy == "random":
                a = rng.integers(A, size=B)
            else:
                if strategy == "oracle":
                    P, R = tasks.P, tasks.R
                elif strategy == "greedy":
                    P, R = empirical_model(N, reward_sums)
                else:
                    P, R = posterior_mean_model(N, reward_sums)
                a = argmax_random_ties(finite_horizon_q(P, R, H - t)[b, s], rng)
            s_next, r = tasks.step(s, a, rng)
            N[b, s, a, s_next] += 1
            reward_sums[b, s, a] += r
            totals += r
            s = s_next
    return totals


def evaluate_mdp_baseline(strategy: str, n_episodes: int, n_tasks: int = 1000, *,
                          rng: np.random.Generator | int = 0, n_states: int = 10, n_actions: int = 5,
                          horizon: int = 10) -> TrialResult:
    """Mean total per trial of ``strategy`` on ``n_tasks`` random MDPs, with a 95% CI.

    The tasks are drawn first, ``RandomTabularMDPs.sample(n_tasks, rng, ...)``, as
    :func:`metarl_edu.studies.rl2.evaluate_rl2` draws them, so the same integer seed gives both the same MDPs.
    """
    if n_tasks < 2:
        raise ValueError(f"n_tasks must be >= 2 (for a confidence interval); got {n_tasks}")
    rng = np.random.default_rng(rng)  # a Generator passes through unchanged
    tasks = RandomTabularMDPs.sample(n_tasks, rng, n_states, n_actions, horizon)
    start = time.perf_counter()
    totals = run_mdp_baseline(strategy, tasks, n_episodes, rng)
    return TrialResult(f"{strategy} (MDP)", n_episodes, totals, time.perf_counter() - start)
