"""Baselines for trials of n episodes on random tabular MDPs: random, greedy (certainty equivalence), PSRL, oracle.

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
* ``psrl``: posterior sampling for reinforcement learning (Strens 2000; Osband, Russo & Van Roy 2013). At the
  start of every episode it draws one MDP from its posterior (:func:`sample_posterior_model`), solves it exactly
  for the H steps of the episode and follows that plan until the episode ends. A pair it knows little about is
  sometimes drawn good and then tried: exploration by randomised beliefs, with no bonus to tune. Its prior:
  ``Dirichlet(1, ..., 1)`` on ``P[s, a, :]`` and ``N(0, 1)`` on each mean reward with the noise variance known
  (1); see :func:`sample_posterior_model` for why the prior mean is 0 and what other priors earn.
* ``oracle``: plans on the true ``P`` and ``R``: the best expected total any agent can reach, since it is told
  the task. An upper bound, not a competitor.

>>> result = evaluate_mdp_baseline("greedy", n_episodes=10, n_tasks=500, rng=0)

References:
    Duan, Schulman, Chen, Bartlett, Sutskever & Abbeel (2016), RL^2: Fast reinforcement learning via slow
    reinforcement learning. arXiv:1611.02779 (random MDPs, section 4.2).
    Osband, Russo & Van Roy (2013), (More) efficient reinforcement learning via posterior sampling. NeurIPS.
    Strens (2000), A Bayesian framework for reinforcement learning. ICML.
    Puterman (1994), Markov Decision Processes, section 4.5 (finite-horizon backward induction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from metarl_edu._checks import check_number
from metarl_edu.bandits import argmax_random_ties
from metarl_edu.fast.tasks import RandomTabularMDPs
from metarl_edu.mdp import backward_induction
from metarl_edu.studies.bandit_baselines import TrialTotals

STRATEGIES = ("random", "greedy", "posterior_greedy", "psrl", "oracle")

# Duan et al. (2016), RL^2, arXiv:1611.02779, Table 2 ("Random MDP Results"): total reward of a trial of n
# episodes on random MDPs (S = 10, A = 5, H = 10), keyed n, then player (named as in STRATEGIES). Only the entries
# used here; the paper also lists OPSRL, UCRL2, BEB and epsilon-greedy, and n = 50, 75, 100.
DUAN_2016_TABLE2 = {
    10: {"random": 100.1, "greedy": 134.8, "psrl": 138.1, "RL^2": 156.2},
    25: {"random": 250.2, "psrl": 408.8, "RL^2": 445.7},
}


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


def sample_posterior_model(N: np.ndarray, reward_sums: np.ndarray, rng: np.random.Generator, *,
                           concentration: float = 1.0, reward_prior_mean: float = 0.0
                           ) -> tuple[np.ndarray, np.ndarray]:
    """One MDP ``(P, R)`` drawn from the posterior, independently in every task of the batch (PSRL's draw).

    Transitions: ``P[s, a, :] ~ Dirichlet(concentration + N[s, a, :])``, drawn as normalised Gamma variates.
    Mean rewards: prior ``N(m, 1)`` with ``m = reward_prior_mean`` and known unit noise, so the posterior is
    ``R[s, a] ~ N((m + sum_r) / (1 + N[s, a]), 1 / (1 + N[s, a]))``. Known variance rather than Normal-Gamma:
    :class:`RandomTabularMDPs` pays ``N(R[s, a], 1)`` in every task, so the variance is part of the family, not
    something to learn (a Normal-Gamma prior, which must learn it, earned less in every variant we tried).

    Why ``m = 0`` by default when the family draws ``R ~ N(1, 1)``: these are the defaults of the PSRL agent in
    Osband's TabulaRL library (``alpha0=1, mu0=0, tau0=1, tau=1``), and with them PSRL earns what Duan et al.'s
    Table 2 PSRL column (:data:`DUAN_2016_TABLE2`) reports. The family's own prior, ``reward_prior_mean=1``, is
    the Bayes-correct one, yet earns less: PSRL explores as if the trial were long, and a prior that values every
    untried pair at the average reward sends it to more of them than 10 or 25 episodes repay. A sparse Dirichlet,
    ``concentration = 1 / S``, earns less with either mean. Lesson 09 prints all four priors on its held-out MDPs
    (``docs/RESULTS.md``). With ``concentration = 1, m = 1`` the mean of this posterior is
    :func:`posterior_mean_model`.

    Draws ``rng.standard_gamma`` of shape (B, S, A, S), then ``rng.standard_normal`` of shape (B, S, A).

    Args:
        N: transition counts (B, S, A, S); reward_sums: (B, S, A).
        concentration: the Dirichlet prior's pseudo-count per next state, > 0.
        reward_prior_mean: the prior mean of every mean reward.
    """
    check_number("concentration", concentration, 0.0, low_open=True)
    check_number("reward_prior_mean", reward_prior_mean)
    g = rng.standard_gamma(concentration + N)
    P = g / g.sum(axis=-1, keepdims=True)
    n_sa = N.sum(axis=-1)
    z = rng.standard_normal(n_sa.shape)
    R = (reward_prior_mean + reward_sums + np.sqrt(1.0 + n_sa) * z) / (1.0 + n_sa)
    return P, R


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


def run_mdp_baseline(strategy: str, tasks: RandomTabularMDPs, n_episodes: int, rng: np.random.Generator, *,
                     concentration: float = 1.0, reward_prior_mean: float = 0.0) -> np.ndarray:
    """Play one trial of ``n_episodes`` episodes on each of the B tasks; returns the totals, shape (B,).

    ``concentration`` and ``reward_prior_mean`` set PSRL's prior (see :func:`sample_posterior_model`); the other
    strategies ignore them.
    """
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
        if strategy == "psrl":  # one model per episode, followed for all of its H steps
            P, R = sample_posterior_model(N, reward_sums, rng, concentration=concentration,
                                          reward_prior_mean=reward_prior_mean)
            q_sampled = backward_induction(P, R, H)
        for t in range(H):
            if strategy == "random":
                a = rng.integers(A, size=B)
            elif strategy == "psrl":
                a = argmax_random_ties(q_sampled[t, b, s], rng)
            else:
                if strategy == "oracle":
                    P, R = tasks.P, tasks.R
                elif strategy == "greedy":
                    P, R = empirical_model(N, reward_sums)
                else:
                    P, R = posterior_mean_model(N, reward_sums)
                a = argmax_random_ties(backward_induction(P, R, H - t)[0][b, s], rng)
            s_next, r = tasks.step(s, a, rng)
            N[b, s, a, s_next] += 1
            reward_sums[b, s, a] += r
            totals += r
            s = s_next
    return totals


def evaluate_mdp_baseline(strategy: str, n_episodes: int, n_tasks: int = 1000, *,
                          rng: np.random.Generator | int = 0, n_states: int = 10, n_actions: int = 5,
                          horizon: int = 10, concentration: float = 1.0, reward_prior_mean: float = 0.0
                          ) -> TrialResult:
    """Mean total per trial of ``strategy`` on ``n_tasks`` random MDPs, with a 95% CI.

    ``concentration`` and ``reward_prior_mean`` set PSRL's prior (see :func:`sample_posterior_model`).

    The tasks are drawn first, ``RandomTabularMDPs.sample(n_tasks, rng, ...)``, as
    :func:`metarl_edu.studies.rl2.evaluate_rl2` draws them, so the same integer seed gives both the same MDPs.
    """
    if n_tasks < 2:
        raise ValueError(f"n_tasks must be >= 2 (for a confidence interval); got {n_tasks}")
    rng = np.random.default_rng(rng)  # a Generator passes through unchanged
    tasks = RandomTabularMDPs.sample(n_tasks, rng, n_states, n_actions, horizon)
    start = time.perf_counter()
    totals = run_mdp_baseline(strategy, tasks, n_episodes, rng, concentration=concentration,
                              reward_prior_mean=reward_prior_mean)
    return TrialResult(f"{strategy} (MDP)", n_episodes, totals, time.perf_counter() - start)
