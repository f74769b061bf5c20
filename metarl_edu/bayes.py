"""Bayes-optimal behaviour, computed exactly: the belief MDP of a two-armed Bernoulli bandit.

A player who does not know the task but knows the distribution it was drawn from can act on its **belief**, the
posterior over tasks given everything seen so far. The belief is a state of its own MDP, the *belief MDP* (Duff
2002; Ghavamzadeh et al. 2015, chapter 4): its transitions are Bayes' rule, and its optimal policy is the
**Bayes-optimal** policy, the best any player can do on average over the task distribution. A meta-learner trained
on that distribution (RL^2, VariBAD) can at best match it.

For Bernoulli arms with independent ``Beta(a, b)`` priors, the belief after ``s_i`` successes and ``f_i`` failures
of arm i is ``Beta(a + s_i, b + f_i)`` per arm, so the counts ``(s1, f1, s2, f2)`` are the whole belief. With
``t = s1 + f1 + s2 + f2`` pulls made and ``n`` in all, the belief MDP is solved backwards from ``V = 0`` at
``t = n`` by the one-step Bayes backup (:func:`bayes_backup`)

    Q(b, i) = mu_i (1 + V(b after arm i paid)) + (1 - mu_i) V(b after arm i failed)
    V(b)    = max_i Q(b, i),          mu_i = (a + s_i) / (a + b + s_i + f_i)

over the ``C(n + 3, 4)`` beliefs with ``t < n``. :func:`bayes_optimal_bandit` does this one layer ``t`` at a time,
each layer a numpy cube indexed ``[s1, f1, s2]`` (``f2 = t - s1 - f1 - s2``); :class:`BayesOptimal` plays the
policy it finds as a :class:`~metarl_edu.bandits.Strategy`.

>>> solution = bayes_optimal_bandit(2)
>>> round(solution.value, 6)          # 1/2 + 1/2 * 2/3 + 1/2 * 1/2 = 13/12
1.083333

References:
    Bellman (1956), A problem in the sequential design of experiments. Sankhya 16.
    Berry & Fristedt (1985), Bandit Problems: Sequential Allocation of Experiments. Chapman & Hall.
    Duff (2002), Optimal learning: computational procedures for Bayes-adaptive Markov decision processes.
        PhD thesis, University of Massachusetts Amherst.
    Ghavamzadeh, Mannor, Pineau & Tamar (2015), Bayesian reinforcement learning: a survey. Foundations and
        Trends in Machine Learning 8.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from metarl_edu._checks import check_int, check_number
from metarl_edu.bandits import QUIET, BanditError, BanditState, Strategy, argmax_random_ties

MAX_HORIZON = 100  # the layers of Q take about 2 n^4 / 4 floats: 400 MB at n = 100
TIE_DECIMALS = 12  # Q values equal to this many decimals are a tie (the same sums, added in another order)


# ======================================================================================= the two equations
def beta_update(alpha: np.ndarray, beta: np.ndarray, arm: np.ndarray, reward: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Bayes' rule for Bernoulli arms with Beta beliefs, for B bandits at once: the pulled arm's ``alpha`` gains the
    reward, its ``beta`` gains ``1 - reward``; the other arms' beliefs stay as they are.

    Args:
        alpha, beta: the Beta parameters of every arm, shape (B, k), > 0; left unchanged.
        arm: the arm each bandit pulled, integers of shape (B,).
        reward: what it paid, 0 or 1, shape (B,).

    Returns:
        ``(alpha, beta)``, new arrays of shape (B, k).

    >>> beta_update(np.ones((1, 2)), np.ones((1, 2)), np.array([1]), np.array([1.0]))
    (array([[1., 2.]]), array([[1., 1.]]))
    """
    alpha, beta = np.array(alpha, dtype=float), np.array(beta, dtype=float)  # copies
    arm, reward = np.asarray(arm), np.asarray(reward, dtype=float)
    rows = np.arange(alpha.shape[0])
    alpha[rows, arm] += reward
    beta[rows, arm] += 1.0 - reward
    return alpha, beta


def bayes_backup(alpha: np.ndarray, beta: np.ndarray, v_success: np.ndarray, v_failure: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One Bayes backup of the bandit's belief MDP: ``(Q, V)`` of a belief from the values of its successors.

    Arms run along the last axis. Arm i's posterior mean ``mu_i = alpha_i / (alpha_i + beta_i)`` is the probability
    that it pays now; then the belief moves to the one after a success (worth ``v_success[..., i]``) or after a
    failure (``v_failure[..., i]``):

        Q_i = mu_i (1 + v_success_i) + (1 - mu_i) v_failure_i,      V = max_i Q_i

    Args:
        alpha, beta: Beta parameters of the belief, shape (..., k).
        v_success, v_failure: values of the next beliefs, shape (..., k).

    Returns:
        ``(Q, V)``: Q of shape (..., k) and V of shape (...).

    >>> q, v = bayes_backup(np.array([2.0, 1.0]), np.array([1.0, 1.0]), np.zeros(2), np.zeros(2))
    >>> q.round(4).tolist(), round(float(v), 4)      # one pull left: the posterior means
    ([0.6667, 0.5], 0.6667)
    """
    mu = alpha / (alpha + beta)
    q = mu * (1.0 + v_success) + (1.0 - mu) * v_failure
    return q, q.max(axis=-1)


# ======================================================================================= the exact solution
def belief_states(horizon: int) -> int:
    """The number of beliefs ``(s1, f1, s2, f2)`` with ``s1 + f1 + s2 + f2 < horizon``, where a pull is chosen:
    ``C(t + 3, 3)`` at depth t, ``C(horizon + 3, 4)`` in all."""
    return math.comb(horizon + 3, 4)


@dataclass(frozen=True, eq=False)
class BanditSolution:
    """The exact solution of the two-armed Bernoulli bandit's belief MDP over ``horizon`` pulls.

    Attributes:
        horizon: n, the pulls of a trial.
        prior: ``(a, b)``, the Beta prior of each arm.
        q: one array per depth ``t = 0, ..., n - 1``, shape (t + 1, t + 1, t + 1, 2): ``q[t][s1, f1, s2, i]`` is
            the expected reward still to come when arm i is pulled in belief ``(s1, f1, s2, t - s1 - f1 - s2)``
            and the optimal policy is followed after it; NaN where ``s1 + f1 + s2 > t`` (no such belief).
        value: ``V`` of the empty belief: the Bayes-optimal expected total of a trial, over the prior.
        n_states: beliefs where a pull is chosen, :func:`belief_states`.
        seconds: wall time of the dynamic programme.
    """

    horizon: int
    prior: tuple[float, float]
    q: list[np.ndarray] = field(repr=False)
    value: float
    n_states: int
    seconds: float

    def _layer(self, s1: int, f1: int, s2: int, f2: int) -> tuple[int, np.ndarray]:
        counts = (s1, f1, s2, f2)
        if any(int(c) != c or c < 0 for c in counts):
            raise BanditError(f"counts must be integers >= 0; got (s1, f1, s2, f2) = {counts}")
        t = s1 + f1 + s2 + f2
        if t >= self.horizon:
            raise BanditError(f"after {t} pulls a trial of {self.horizon} pulls is over; no pull is chosen there")
        return t, self.q[t][s1, f1, s2]

    def q_values(self, s1: int, f1: int, s2: int, f2: int) -> np.ndarray:
        """``(Q_1, Q_2)`` of the belief with these counts, shape (2,)."""
        return self._layer(s1, f1, s2, f2)[1].copy()

    def value_of(self, s1: int, f1: int, s2: int, f2: int) -> float:
        """``V`` of the belief with these counts: the expected reward of the pulls still to come."""
        return float(self._layer(s1, f1, s2, f2)[1].max())

    def arm(self, s1: int, f1: int, s2: int, f2: int) -> int:
        """The arm the Bayes-optimal policy pulls in this belief: 0 or 1, or -1 when both are equally good."""
        q = np.round(self._layer(s1, f1, s2, f2)[1], TIE_DECIMALS)
        return -1 if q[0] == q[1] else int(np.argmax(q))


def bayes_optimal_bandit(horizon: int, prior: tuple[float, float] = (1, 1)) -> BanditSolution:
    """Solve the belief MDP of a two-armed Bernoulli bandit with ``horizon`` pulls exactly, by backward induction.

    Both arms have the prior ``Beta(a, b)``; ``(1, 1)`` is uniform, the family of
    :func:`~metarl_edu.studies.bandit_baselines.evaluate_strategy`. Depth ``t`` holds the beliefs with ``t`` pulls
    made, as a cube ``[s1, f1, s2]`` (``f2 = t - s1 - f1 - s2``); its successors are shifted slices of depth
    ``t + 1``'s values, so each depth is a few numpy operations on ``(t + 1)^3`` entries. Time and memory grow like
    ``n^4``: a fraction of a second for n = 30.

    Args:
        horizon: n, pulls per trial, 1 to :data:`MAX_HORIZON`.
        prior: ``(a, b)``, both > 0.

    Returns:
        a :class:`BanditSolution`; its ``value`` is the Bayes-optimal expected total.
    """
    horizon = check_int("horizon", horizon, 1, MAX_HORIZON, error=BanditError)
    a, b = check_beta_prior(prior)
    start = time.perf_counter()
    q_layers: list[np.ndarray] = [np.empty(0)] * horizon
    v_next = np.zeros((horizon + 1,) * 3)  # depth n: the trial is over
    for t in range(horizon - 1, -1, -1):
        i = np.arange(t + 1)
        s1, f1, s2 = i[:, None, None], i[None, :, None], i[None, None, :]
        f2 = t - s1 - f1 - s2
        valid = f2 >= 0
        with np.errstate(divide="ignore", invalid="ignore"):  # f2 < 0 off the simplex; masked below
            alpha = np.stack(np.broadcast_arrays(a + s1, a + s2), axis=-1).astype(float)
            beta = np.stack(np.broadcast_arrays(b + f1, b + np.where(valid, f2, 0)), axis=-1).astype(float)
            v_success = np.stack([v_next[1:, :-1, :-1], v_next[:-1, :-1, 1:]], axis=-1)  # s1 + 1; s2 + 1
            v_failure = np.stack([v_next[:-1, 1:, :-1], v_next[:-1, :-1, :-1]], axis=-1)  # f1 + 1; f2 + 1
            q, v = bayes_backup(alpha, beta, v_success, v_failure)
        q[~valid] = np.nan
        q_layers[t] = q
        v_next = np.where(valid, v, np.nan)
    seconds = time.perf_counter() - start
    return BanditSolution(horizon, (a, b), q_layers, float(v_next[0, 0, 0]), belief_states(horizon), seconds)


def check_beta_prior(prior: object) -> tuple[float, float]:
    """``prior`` as a pair ``(a, b)`` of Beta parameters, both > 0; :class:`BanditError` otherwise."""
    try:
        a, b = prior  # type: ignore[misc]
    except (TypeError, ValueError):
        raise BanditError(f"prior must be a pair (a, b) of Beta parameters; got {prior!r}") from None
    return (check_number("prior a", a, 0.0, low_open=True, error=BanditError),
            check_number("prior b", b, 0.0, low_open=True, error=BanditError))


# ======================================================================================= the policy, played
@dataclass(frozen=True)
class BayesOptimal(Strategy):
    """Play the Bayes-optimal policy of :func:`bayes_optimal_bandit` on two-armed Bernoulli bandits.

    Optimal on average over bandits drawn from the prior, for trials of exactly ``horizon`` pulls; equally good
    arms are chosen at random. The solution is computed on first use, once per strategy object.

    Attributes:
        horizon: pulls per trial.
        alpha_0, beta_0: the Beta prior of each arm; the default ``Beta(1, 1)`` is the family of
            :func:`~metarl_edu.studies.bandit_baselines.evaluate_strategy`.
    """

    horizon: int = 10
    alpha_0: float = field(default=1.0, metadata=QUIET)
    beta_0: float = field(default=1.0, metadata=QUIET)

    def __post_init__(self) -> None:
        check_int("horizon", self.horizon, 1, MAX_HORIZON, error=BanditError)
        check_beta_prior((self.alpha_0, self.beta_0))

    @cached_property
    def solution(self) -> BanditSolution:
        return bayes_optimal_bandit(self.horizon, (self.alpha_0, self.beta_0))

    def prepare(self) -> None:
        _ = self.solution

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        if state.k != 2:
            raise BanditError(f"BayesOptimal plays two-armed bandits; got k = {state.k}")
        if state.t >= self.horizon:
            raise BanditError(f"BayesOptimal(horizon={self.horizon}) cannot choose pull {state.t + 1}; build it with "
                              f"the trial's number of pulls")
        s = np.rint(state.sums).astype(np.int64)
        f = state.counts - s
        q = self.solution.q[state.t][s[:, 0], f[:, 0], s[:, 1]]  # (B, 2)
        return argmax_random_ties(np.round(q, TIE_DECIMALS), rng)


# ======================================================================================= a signpost gridworld
def information_value(belief: np.ndarray, v_informed: np.ndarray, v_uninformed: float) -> float:
    """What it is worth to learn the task now, for free: ``sum_g b(g) V(knowing g) - V(not knowing)``.

    Before the information arrives the agent does not know which ``g`` it will learn; it learns ``g`` with its
    belief's probability ``b(g)``, after which it is worth ``v_informed[g]``. Never negative for a Bayes-optimal
    agent: it could always ignore what it learned.

    Args:
        belief: ``b(g)`` over the tasks, shape (G,), summing to 1 (0 for the tasks already ruled out).
        v_informed: the value of each task once it is known, shape (G,).
        v_uninformed: the value of the same situation without the information.

    >>> information_value(np.array([0.5, 0.5, 0.0]), np.array([3.0, 1.0, 9.0]), 1.5)
    0.5
    """
    return float(np.dot(belief, v_informed) - v_uninformed)


@dataclass(frozen=True, eq=False)
class SignpostSolution:
    """The belief MDP of a :class:`~metarl_edu.envs.signpost.SignpostWorld`, solved or evaluated exactly.

    A belief is the set of candidate goals not ruled out yet, a bit mask ``m`` over ``world.goals`` (uniform over
    its members, since the prior is uniform). ``q[e, h - 1, c, m, a]``: the expected reward still to come in the
    trial when action a is taken in cell c with belief m, with h steps left in episode e (0-based), and the policy
    followed after it; ``v[e, h, c, m]`` the same for the policy's own action (``v[e, 0]``: the episode is over).

    Attributes:
        value: the expected total of a trial from the start with the initial belief (all candidates possible,
            unless ``solve_signpost`` was given another).
        optimal: True for the Bayes-optimal policy, False for the evaluation of a given one.
    """

    world: object = field(repr=False)
    n_episodes: int
    horizon: int
    q: np.ndarray = field(repr=False)
    v: np.ndarray = field(repr=False)
    value: float
    optimal: bool

    def action(self, episode: int, steps_left: int, cell: int, mask: int) -> int:
        """The Bayes-optimal action there. Among equally good actions, the one that is also best with fewer steps
        left (so, of equally good paths, a shortest one); then the lowest-numbered."""
        best = np.arange(self.q.shape[-1])
        for h in range(steps_left, 0, -1):
            q = np.round(self.q[episode, h - 1, cell, mask, best], TIE_DECIMALS)
            best = best[q == q.max()]
        return int(best[0])


def _signpost_outcomes(world) -> tuple[np.ndarray, ...]:
    """Every outcome of every (cell, belief, action): probability, next cell, next belief, reward, episode ended;
    each of shape (C, M, A, O) with M = 2^G beliefs and O = G outcomes at most (the sign, read with G possible)."""
    C, G = world.n_cells, world.n_goals
    M, A = 2 ** G, 4
    prob, reward = np.zeros((C, M, A, G)), np.zeros((C, M, A, G))
    cell, mask, ends = np.zeros((C, M, A, G), dtype=np.int64), np.zeros((C, M, A, G), dtype=np.int64), np.zeros(
        (C, M, A, G), dtype=bool)
    goal_of = {c: g for g, c in enumerate(world.goals)}
    for c in range(C):
        for m in range(1, M):
            members = [g for g in range(G) if m >> g & 1]
            for a in range(A):
                there = world.next_cell[c, a]
                cell[c, m, a], mask[c, m, a], reward[c, m, a] = there, m, world.step_reward
                if there == world.sign and len(members) > 1:  # read the sign: learn g
                    for o, g in enumerate(members):
                        prob[c, m, a, o], mask[c, m, a, o] = 1 / len(members), 1 << g
                elif there in goal_of and m >> goal_of[there] & 1:  # a candidate still possible: is it the goal?
                    g = goal_of[there]
                    prob[c, m, a, 0], mask[c, m, a, 0], ends[c, m, a, 0] = 1 / len(members), 1 << g, True
                    reward[c, m, a, 0] += world.goal_reward
                    if len(members) > 1:
                        prob[c, m, a, 1], mask[c, m, a, 1] = 1 - 1 / len(members), m & ~(1 << g)
                else:
                    prob[c, m, a, 0] = 1.0
    return prob, cell, mask, reward, ends


def solve_signpost(world, n_episodes: int, horizon: int, policy: np.ndarray | None = None,
                   initial_mask: int | None = None) -> SignpostSolution:
    """The Bayes-optimal policy of a signpost task family, by backward induction on its belief MDP; or, given
    ``policy``, that policy's exact expected total.

    The belief MDP's state is (episode, steps left, cell, belief). From the last step of the last episode
    backwards: ``Q = sum over outcomes of prob * (reward + value after)``, where the value after is the next
    step's ``V`` in the next cell and belief, or, when the episode ends (the goal was reached, or no steps are
    left), the value of the next episode's start with the belief carried over.

    Args:
        world: a :class:`~metarl_edu.envs.signpost.SignpostWorld`.
        n_episodes, horizon: episodes per trial, and steps per episode at most.
        policy: None for the Bayes-optimal policy; else the probabilities of a stationary policy, shape
            (C, 2^G, 4): action probabilities in each cell and belief.
        initial_mask: the belief the trial starts with; default all candidates (``2^G - 1``). A single bit
            ``1 << g`` is an agent told the goal: the oracle.
    """
    n_episodes = check_int("n_episodes", n_episodes, 1)
    horizon = check_int("horizon", horizon, 1)
    prob, cell, mask, reward, ends = _signpost_outcomes(world)
    C, M, A, _ = prob.shape
    if policy is not None:
        policy = np.asarray(policy, dtype=float)
        if policy.shape != (C, M, A) or not np.allclose(policy[:, 1:].sum(-1), 1.0):
            raise ValueError(f"policy must hold action probabilities of shape (C, 2^G, 4) = {(C, M, A)} that sum "
                             f"to 1 in every cell and belief; got shape {policy.shape}")
    start_mask = M - 1 if initial_mask is None else check_int("initial_mask", initial_mask, 1, M - 1)
    q = np.zeros((n_episodes, horizon, C, M, A))
    v = np.zeros((n_episodes, horizon + 1, C, M))
    w = np.zeros(M)  # the value of the next episode's start, by belief
    for e in range(n_episodes - 1, -1, -1):
        v[e, 0] = w  # no steps left: the next episode starts with the same belief
        for h in range(1, horizon + 1):
            after = np.where(ends, w[mask], v[e, h - 1][cell, mask])
            q[e, h - 1] = np.sum(prob * (reward + after), axis=-1)
            v[e, h] = q[e, h - 1].max(-1) if policy is None else np.sum(policy * q[e, h - 1], axis=-1)
        w = v[e, horizon, world.start]
    return SignpostSolution(world, n_episodes, horizon, q, v, float(w[start_mask]), policy is None)


__all__ = ["BanditSolution", "BayesOptimal", "MAX_HORIZON", "SignpostSolution", "bayes_backup", "bayes_optimal_bandit",
           "belief_states", "beta_update", "information_value", "solve_signpost"]
