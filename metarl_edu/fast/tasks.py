"""Batched task simulators: B tasks of one family stepped together with numpy, one step in all of them per call.

A meta-RL agent such as RL^2 learns across many tasks at once; simulating them one Gymnasium env at a time would
cost a Python call per task per step. These simulators hold the parameters of B tasks as arrays and step all B
with a few numpy operations. They are arrays first (the MDP is data), so exact answers and baselines can be
computed from the same parameters.

Both families share one small interface:

===================  ========  =====================================================================
name                 shape     meaning
===================  ========  =====================================================================
``n_tasks``                    B, the number of tasks stepped together
``n_states``                   S (1 for a bandit: it has a single, constant state)
``n_actions``                  A (k for a bandit)
``horizon``                    H, steps per episode (1 for a bandit: every pull is one episode)
``start(rng)``       (B,)      the first state of an episode, ``s_0``, in every task
``step(s, a, rng)``  (B,) x2   ``(s_next, r)``: next states and rewards of all B tasks
===================  ========  =====================================================================

Task distributions (the parameters are drawn with the ``rng`` passed to ``sample``):

* :class:`BernoulliBandits`: arm means ``p[b, a] ~ U[0, 1]`` independently, shape (B, k); pulling arm ``a`` pays
  ``r ~ Bernoulli(p[b, a])``. ``p`` is drawn as ``rng.random((B, k))``, the same call as
  :func:`metarl_edu.studies.bandit_baselines.evaluate_strategy`, so the same seed gives the same bandits.
* :class:`RandomTabularMDPs` (Duan et al. 2016, section 4.2): ``S = 10`` states, ``A = 5`` actions, horizon
  ``H = 10``; transitions ``P[b, s, a, :] ~ Dirichlet(1, ..., 1)`` (flat); mean rewards
  ``R[b, s, a] ~ N(1, 1)``; each step pays ``r ~ N(R[b, s, a], 1)`` (unit variance); every episode starts in
  state 0. Drawn as ``P = rng.dirichlet(np.ones(S), size=(B, S, A))``, then ``R = rng.normal(1, 1, (B, S, A))``.

References:
    Duan, Schulman, Chen, Bartlett, Sutskever & Abbeel (2016), RL^2: Fast reinforcement learning via slow
    reinforcement learning. arXiv:1611.02779.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from metarl_edu._checks import check_int, check_number


class BatchedTaskError(ValueError):
    """Task parameters, states or actions that do not fit the batch; the message says what is wrong."""


@dataclass(frozen=True, eq=False)
class BernoulliBandits:
    """B Bernoulli bandits with k arms, pulled together.

    Attributes:
        p: arm means, shape (B, k), in [0, 1]. Pulling arm ``a`` of bandit ``b`` pays 1 with probability
            ``p[b, a]``, else 0.

    A bandit has one state (always 0) and every pull is an episode of one step (``horizon = 1``), so a trial of
    n episodes is n pulls.
    """

    p: np.ndarray

    def __post_init__(self) -> None:
        p = np.asarray(self.p, dtype=float)
        if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1 or not np.all((p >= 0) & (p <= 1)):
            raise BatchedTaskError(f"p must hold arm means in [0, 1] with shape (B, k); got shape {p.shape}")
        object.__setattr__(self, "p", p)

    @classmethod
    def sample(cls, n_tasks: int, k: int, rng: np.random.Generator) -> BernoulliBandits:
        """``p ~ U[0, 1]``, shape (n_tasks, k), drawn as ``rng.random((n_tasks, k))``."""
        if n_tasks < 1 or k < 1:
            raise BatchedTaskError(f"need n_tasks >= 1 and k >= 1; got n_tasks={n_tasks}, k={k}")
        return cls(rng.random((n_tasks, k)))

    n_states = 1
    horizon = 1

    @property
    def n_tasks(self) -> int:
        return self.p.shape[0]

    @property
    def n_actions(self) -> int:
        return self.p.shape[1]

    @property
    def best_means(self) -> np.ndarray:
        """``max_a p[b, a]``, shape (B,): the expected reward per pull of the best arm."""
        return self.p.max(axis=1)

    def start(self, rng: np.random.Generator) -> np.ndarray:
        """The single state 0 of every bandit, shape (B,). Uses no randomness."""
        return np.zeros(self.n_tasks, dtype=np.int64)

    def step(self, s: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Pull arm ``a[b]`` in bandit ``b``: ``r = 1`` where ``u < p[b, a_b]`` for ``u = rng.random(B)``.

        Returns ``(s_next, r)``: zeros (B,) and rewards (B,) in {0., 1.}.
        """
        a = _check_actions(a, self.n_tasks, self.n_actions)
        r = (rng.random(self.n_tasks) < self.p[np.arange(self.n_tasks), a]).astype(float)
        return np.zeros(self.n_tasks, dtype=np.int64), r


@dataclass(frozen=True, eq=False)
class RandomTabularMDPs:
    """B random tabular MDPs stepped together (Duan et al. 2016, section 4.2).

    Attributes:
        P: transition probabilities ``P[b, s, a, s']``, shape (B, S, A, S); each ``P[b, s, a]`` sums to 1.
        R: mean rewards ``R[b, s, a]``, shape (B, S, A). A step pays ``r ~ N(R[b, s, a], reward_std^2)``.
        horizon: H, steps per episode (>= 1). Every episode starts in state 0 and ends after H steps (a time
            limit: the MDP has no terminal states).
        reward_std: standard deviation of the reward noise, >= 0.
    """

    P: np.ndarray
    R: np.ndarray
    horizon: int = 10
    reward_std: float = 1.0

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=float)
        R = np.asarray(self.R, dtype=float)
        if P.ndim != 4 or P.shape[1] != P.shape[3] or R.shape != P.shape[:3]:
            raise BatchedTaskError(f"P must have shape (B, S, A, S) and R shape (B, S, A); got P {P.shape}, "
                                   f"R {R.shape}")
        if np.any(P < 0) or not np.allclose(P.sum(axis=-1), 1.0):
            raise BatchedTaskError("every P[b, s, a, :] must be a probability vector (>= 0, summing to 1)")
        check_int("horizon", self.horizon, 1, error=BatchedTaskError)
        check_number("reward_std", self.reward_std, 0.0, error=BatchedTaskError)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)

    @classmethod
    def sample(cls, n_tasks: int, rng: np.random.Generator, n_states: int = 10, n_actions: int = 5,
               horizon: int = 10) -> RandomTabularMDPs:
        """Duan et al.'s distribution: ``P[b, s, a, :] ~ Dirichlet(1, ..., 1)``, ``R[b, s, a] ~ N(1, 1)``.

        Drawn in that order: ``rng.dirichlet(np.ones(S), size=(B, S, A))``, then ``rng.normal(1, 1, (B, S, A))``.
        """
        if n_tasks < 1 or n_states < 1 or n_actions < 1:
            raise BatchedTaskError(f"need n_tasks, n_states and n_actions >= 1; got {n_tasks}, {n_states}, "
                                   f"{n_actions}")
        P = rng.dirichlet(np.ones(n_states), size=(n_tasks, n_states, n_actions))
        R = rng.normal(1.0, 1.0, size=(n_tasks, n_states, n_actions))
        return cls(P, R, horizon=horizon)

    @property
    def n_tasks(self) -> int:
        return self.P.shape[0]

    @property
    def n_states(self) -> int:
        return self.P.shape[1]

    @property
    def n_actions(self) -> int:
        return self.P.shape[2]

    @cached_property
    def _cdf(self) -> np.ndarray:
        """``P`` accumulated over s', shape (B, S, A, S), for sampling next states by inversion."""
        return np.cumsum(self.P, axis=-1)

    def start(self, rng: np.random.Generator) -> np.ndarray:
        """State 0 in every task, shape (B,). Uses no randomness."""
        return np.zeros(self.n_tasks, dtype=np.int64)

    def step(self, s: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``s_next ~ P[b, s_b, a_b, :]`` (by inversion of one uniform each) and ``r = R[b, s_b, a_b] + std * z``.

        Draws ``u = rng.random(B)``, then ``z = rng.standard_normal(B)``. Returns ``(s_next, r)``, both (B,).
        """
        a = _check_actions(a, self.n_tasks, self.n_actions)
        s = np.asarray(s)
        b = np.arange(self.n_tasks)
        u = rng.random(self.n_tasks)
        cdf = self._cdf[b, s, a]  # (B, S)
        s_next = np.minimum((u[:, None] >= cdf).sum(axis=1), self.n_states - 1)  # min: guards float round-off
        r = self.R[b, s, a] + self.reward_std * rng.standard_normal(self.n_tasks)
        return s_next, r


def _check_actions(a: np.ndarray, B: int, A: int) -> np.ndarray:
    a = np.asarray(a)
    if a.shape != (B,) or not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= A:
        raise BatchedTaskError(f"actions must be integers in [0, {A - 1}] of shape ({B},); got shape {a.shape}, "
                               f"dtype {a.dtype}")
    return a
