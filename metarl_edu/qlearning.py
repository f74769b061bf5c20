"""Tabular Q-learning, Sarsa and Expected Sarsa: the updates as small pure functions, an agent for Gymnasium
environments, a discretiser for continuous observations, and a batched Q-learning that runs many tasks at once.

Notation (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., 2018, chapter 6):

==============  ===========  ====================================================================
symbol          shape        meaning
==============  ===========  ====================================================================
``q``           (S, A)       action-value table, ``q[s, a]`` estimates Q(s, a)
``q_s``         (A,)         one row ``q[s]``: the action values of one state
``q_next``      (A,)         the row of the next state, ``q[s_next]``
``s, a, r``     scalars      state, action, reward of one transition ``s, a -> r, s_next``
``alpha``       scalar       step size in (0, 1]
``gamma``       scalar       discount in [0, 1]
``epsilon``     scalar       exploration rate in [0, 1]: the probability of a uniformly random action
``terminated``  bool         ``s_next`` ends the episode (a goal, a pit, the pole fell): nothing follows it
==============  ===========  ====================================================================

An episode can also be *truncated* (a time limit): the task goes on beyond the cut, so the value of ``s_next``
still counts. Only ``terminated`` stops bootstrapping; truncation merely ends the loop.

Randomness comes from a passed-in ``rng: np.random.Generator`` (or a seed). :class:`QLearningAgent` and
:class:`BatchedQLearning` choose each action from two uniform numbers by the rule of :func:`action_from_uniforms`,
so that the batched version can be checked against a plain loop that reads the same numbers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from metarl_edu.mdp import TabularMDP

METHODS = ("q_learning", "sarsa", "expected_sarsa")


# =============================================================================================== the updates
def td_target(r: float, q_next: np.ndarray, gamma: float, terminated: bool) -> float:
    """The Q-learning target (Sutton & Barto, 2018, eq. 6.8):

        target = r + gamma * max_a' q_next[a']      if the episode goes on,
        target = r                                  if s_next is terminal (``terminated``).

    Args:
        r: reward of the transition.
        q_next: (A,) action values of the next state, ``q[s_next]``.
        gamma: discount in [0, 1].
        terminated: True if ``s_next`` ends the episode; a truncated episode passes False here.

    >>> td_target(1.0, np.array([0.0, 2.0]), gamma=0.5, terminated=False)
    2.0
    >>> td_target(1.0, np.array([0.0, 2.0]), gamma=0.5, terminated=True)
    1.0
    """
    if terminated:
        return float(r)  # a terminal state has value 0: the episode is over, there is nothing to bootstrap from
    return float(r + gamma * np.max(q_next))


def sarsa_target(r: float, q_next: np.ndarray, a_next: int, gamma: float, terminated: bool) -> float:
    """The Sarsa target (Sutton & Barto, 2018, eq. 6.7): the value of the action actually taken next,

        target = r + gamma * q_next[a_next]         (r alone if ``terminated``).
    """
    if terminated:
        return float(r)  # nothing follows a terminal state
    return float(r + gamma * q_next[a_next])


def epsilon_greedy_probs(q_s: np.ndarray, epsilon: float) -> np.ndarray:
    """pi(a | s) of the epsilon-greedy policy, shape (A,):

        pi(a | s) = epsilon / A + (1 - epsilon) * [a is maximal] / (number of maximal actions).

    Ties among maximal actions share the greedy probability, as :func:`epsilon_greedy` breaks them at random.
    """
    q_s = np.asarray(q_s, dtype=float)
    best = q_s == np.max(q_s)
    return epsilon / q_s.size + (1.0 - epsilon) * best / best.sum()


def expected_sarsa_target(r: float, q_next: np.ndarray, gamma: float, terminated: bool, epsilon: float) -> float:
    """The Expected Sarsa target (Sutton & Barto, 2018, eq. 6.9), the expectation over the epsilon-greedy policy:

        target = r + gamma * sum_a' pi(a' | s_next) * q_next[a']      (r alone if ``terminated``).
    """
    if terminated:
        return float(r)  # nothing follows a terminal state
    return float(r + gamma * np.dot(epsilon_greedy_probs(q_next, epsilon), q_next))


def q_learning_update(
    q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float, gamma: float
) -> np.ndarray:
    """One Q-learning step (Sutton & Barto, 2018, eq. 6.8), returning a NEW table (``q`` is left unchanged):

        q[s, a] <- q[s, a] + alpha * (r + gamma * max_a' q[s_next, a'] - q[s, a])

    with the bracket's bootstrap term dropped when ``s_next`` is terminal. Off-policy: the target uses the
    greedy action in ``s_next`` whatever the behaviour policy does next.

    Args:
        q: (S, A) action values.
        s, a, r, s_next: the transition.
        terminated: True if ``s_next`` ends the episode. Pass False for a truncated episode (time limit): the
            task did not end, so its future value still counts.
        alpha: step size in (0, 1]. gamma: discount in [0, 1].

    >>> q = np.zeros((2, 2)); q[1] = [0.0, 2.0]
    >>> q_learning_update(q, s=0, a=1, r=1.0, s_next=1, terminated=False, alpha=0.5, gamma=0.5)[0]
    array([0., 1.])
    """
    target = td_target(r, q[s_next], gamma, terminated)
    q_new = np.array(q, dtype=float)
    q_new[s, a] = q[s, a] + alpha * (target - q[s, a])
    return q_new


def sarsa_update(
    q: np.ndarray, s: int, a: int, r: float, s_next: int, a_next: int, terminated: bool, alpha: float, gamma: float
) -> np.ndarray:
    """One Sarsa step (Sutton & Barto, 2018, eq. 6.7), returning a NEW table:

        q[s, a] <- q[s, a] + alpha * (r + gamma * q[s_next, a_next] - q[s, a])

    On-policy: ``a_next`` is the action the agent will actually take in ``s_next`` (exploration included).
    """
    target = sarsa_target(r, q[s_next], a_next, gamma, terminated)
    q_new = np.array(q, dtype=float)
    q_new[s, a] = q[s, a] + alpha * (target - q[s, a])
    return q_new


def expected_sarsa_update(
    q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float, gamma: float,
    epsilon: float,
) -> np.ndarray:
    """One Expected Sarsa step (Sutton & Barto, 2018, eq. 6.9), returning a NEW table:

        q[s, a] <- q[s, a] + alpha * (r + gamma * sum_a' pi(a' | s_next) q[s_next, a'] - q[s, a])

    with ``pi`` the epsilon-greedy policy of ``q`` (:func:`epsilon_greedy_probs`). With ``epsilon = 0`` it is
    Q-learning.
    """
    target = expected_sarsa_target(r, q[s_next], gamma, terminated, epsilon)
    q_new = np.array(q, dtype=float)
    q_new[s, a] = q[s, a] + alpha * (target - q[s, a])
    return q_new


# =============================================================================================== acting
def epsilon_greedy(q_s: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """Pick an action: with probability ``epsilon`` a uniformly random one, otherwise a maximal one of ``q_s``
    (ties broken at random, so that unexplored actions with equal values all get tried).

    Args:
        q_s: (A,) action values of the current state.
        epsilon: exploration rate in [0, 1]; 0 is greedy, 1 uniformly random.
        rng: the random generator to draw from.
    """
    if rng.random() < epsilon:
        return int(rng.integers(len(q_s)))  # explore: every action with probability 1/A
    best = np.flatnonzero(q_s == np.max(q_s))
    return int(rng.choice(best))  # exploit: a maximal action, ties at random


def action_from_uniforms(q_s: Sequence[float], epsilon: float, u_explore: float, u_action: float) -> int:
    """Epsilon-greedy from two uniform numbers in [0, 1): the rule :class:`QLearningAgent` and
    :class:`BatchedQLearning` follow, written out plainly so that tests can replay it.

    Explore if ``u_explore < epsilon`` and take action ``floor(u_action * A)``; otherwise take the
    ``floor(u_action * k)``-th of the ``k`` maximal actions (in index order). Same distribution as
    :func:`epsilon_greedy`.
    """
    A = len(q_s)
    if u_explore < epsilon:
        return min(int(u_action * A), A - 1)  # explore: any action
    best = [a for a in range(A) if q_s[a] == max(q_s)]  # exploit: a maximal action
    return best[min(int(u_action * len(best)), len(best) - 1)]


def _check_scalar(name: str, x: Any, low: float, high: float, low_open: bool = False) -> float:
    """``x`` as a float after checking it is a number in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(x, (bool, str, bytes)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {x!r}")
    x = float(x)
    bracket = "(" if low_open else "["
    if not (math.isfinite(x) and (low < x if low_open else low <= x) and x <= high):
        raise ValueError(f"{name} must be in {bracket}{low:g}, {high:g}]; got {x}")
    return x


# =============================================================================================== schedules
@dataclass(frozen=True)
class LinearSchedule:
    """A value that moves in a straight line from ``start`` to ``end`` over ``n_episodes`` episodes, then stays:

        value(episode) = start + (end - start) * min(episode / n_episodes, 1)

    Attributes:
        start: value at episode 0.
        end: value from episode ``n_episodes`` on.
        n_episodes: length of the decay, >= 1. ``None``: a ``fraction`` of the episodes of the
            ``train(n_episodes)`` call the schedule is used in, so that ``LinearSchedule(1.0, 0.01)`` fits
            whatever length of training is asked for.
        fraction: with ``n_episodes=None``, the part of training spent decaying, in (0, 1]. Default 0.5: the
            first half moves from ``start`` to ``end``, the second half stays at ``end``.

    >>> LinearSchedule(1.0, 0.0, 4)(1)
    0.75
    >>> LinearSchedule(1.0, 0.0).for_episodes(100)
    LinearSchedule(start=1.0, end=0.0, n_episodes=50, fraction=0.5)
    """

    start: float
    end: float
    n_episodes: int | None = None
    fraction: float = 0.5

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            _check_scalar(name, getattr(self, name), -math.inf, math.inf)
        n = self.n_episodes
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
            raise ValueError(f"n_episodes must be an integer >= 1 or None; got {n!r}")
        _check_scalar("fraction", self.fraction, 0.0, 1.0, low_open=True)

    def __call__(self, episode: int | np.ndarray) -> float | np.ndarray:
        if self.n_episodes is None:
            raise ValueError("this LinearSchedule has n_episodes=None: train() sets its length from the number of "
                             "episodes; to call it yourself, give n_episodes or use .for_episodes(n)")
        fraction = np.minimum(np.asarray(episode, dtype=float) / self.n_episodes, 1.0)
        value = self.start + (self.end - self.start) * fraction
        return float(value) if np.ndim(value) == 0 else value

    def for_episodes(self, n_episodes: int) -> LinearSchedule:
        """This schedule for a training of ``n_episodes`` episodes: ``n_episodes`` filled in if it was ``None``."""
        if self.n_episodes is not None:
            return self
        return replace(self, n_episodes=max(1, math.ceil(self.fraction * n_episodes)))


@dataclass(frozen=True)
class ExponentialSchedule:
    """A value that decays geometrically from ``start`` towards ``end``:

        value(episode) = end + (start - end) * decay ** episode

    Attributes:
        start: value at episode 0.
        end: the limit approached.
        decay: factor per episode in (0, 1]; the gap to ``end`` halves every ``log(0.5) / log(decay)`` episodes.

    >>> ExponentialSchedule(1.0, 0.0, 0.5)(2)
    0.25
    """

    start: float
    end: float
    decay: float

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            _check_scalar(name, getattr(self, name), -math.inf, math.inf)
        _check_scalar("decay", self.decay, 0.0, 1.0, low_open=True)

    def __call__(self, episode: int | np.ndarray) -> float | np.ndarray:
        value = self.end + (self.start - self.end) * self.decay ** np.asarray(episode, dtype=float)
        return float(value) if np.ndim(value) == 0 else value

    def for_episodes(self, n_episodes: int) -> ExponentialSchedule:
        """Itself: an exponential schedule does not depend on the length of training."""
        return self


Schedule = float | Callable[[int], float]


def schedule_values(name: str, schedule: Schedule, n_episodes: int, low: float, high: float,
                    low_open: bool = False) -> np.ndarray:
    """The values a constant or schedule takes on episodes ``0 .. n_episodes - 1``, shape (n_episodes,), after
    checking that each lies in [low, high] (or (low, high] with ``low_open``).

    A schedule is any callable ``episode -> value`` (such as :class:`LinearSchedule`); one with a
    ``for_episodes(n)`` method is first given the length of training.
    """
    if callable(schedule):
        if hasattr(schedule, "for_episodes"):
            schedule = schedule.for_episodes(n_episodes)
        values = np.empty(n_episodes)
        for episode in range(n_episodes):
            value = schedule(episode)
            try:
                values[episode] = _check_scalar(name, value, low, high, low_open)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{exc} (the {name} schedule {schedule!r} at episode {episode})") from None
        return values
    return np.full(n_episodes, _check_scalar(name, schedule, low, high, low_open))


def _check_schedule(name: str, schedule: Schedule, low: float, high: float, low_open: bool = False) -> Schedule:
    """Check a constant now; check a schedule's first values (all of them are checked when training starts)."""
    if callable(schedule):
        schedule_values(name, schedule, 1, low, high, low_open)
        return schedule
    return _check_scalar(name, schedule, low, high, low_open)


# =============================================================================================== discretiser
@dataclass(frozen=True)
class Discretizer:
    """Turn a continuous observation into a state index by cutting each dimension into equal bins.

    Dimension ``i`` is clipped to ``[low[i], high[i]]`` and cut into ``bins[i]`` equal intervals; the bin
    numbers ``(b_0, ..., b_{d-1})`` are flattened row-major (as ``np.ravel_multi_index``) into one index in
    ``[0, n_states)``. Values outside the range fall into the first or last bin. ``bins[i] = 1`` ignores
    dimension ``i``.

    Attributes:
        bins: number of bins per dimension, each >= 1.
        low, high: clipping range per dimension, finite, ``low[i] < high[i]``.

    >>> d = Discretizer(bins=(2, 3), low=(0.0, 0.0), high=(1.0, 3.0))
    >>> d(np.array([0.9, 1.5])), d.n_states
    (4, 6)
    """

    bins: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    _fast: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            bins = tuple(int(b) for b in self.bins)
            low = tuple(float(x) for x in self.low)
            high = tuple(float(x) for x in self.high)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"bins, low and high must be sequences of numbers ({exc})") from None
        if not (len(bins) == len(low) == len(high) >= 1):
            raise ValueError(f"bins, low and high need one entry per dimension; got lengths {len(bins)}, "
                             f"{len(low)}, {len(high)}")
        for i, (b, lo, hi) in enumerate(zip(bins, low, high, strict=True)):
            if b < 1:
                raise ValueError(f"bins[{i}] must be >= 1; got {b}")
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError(f"the range of dimension {i} must be finite; got [{lo}, {hi}]")
            if not lo < hi:
                raise ValueError(f"low[{i}] must be below high[{i}]; got [{lo}, {hi}]")
        strides = tuple(int(np.prod(bins[i + 1:])) for i in range(len(bins)))
        scales = tuple(b / (hi - lo) for b, lo, hi in zip(bins, low, high, strict=True))
        for name, value in (("bins", bins), ("low", low), ("high", high)):
            object.__setattr__(self, name, value)
        # per dimension: (low, bins per unit, last bin, stride), precomputed for the per-step path
        fast = tuple(zip(low, scales, (b - 1 for b in bins), strides, strict=True))
        object.__setattr__(self, "_fast", fast)

    @property
    def n_states(self) -> int:
        """The number of state indices, ``prod(bins)``."""
        return int(np.prod(self.bins))

    def bin_edges(self, i: int) -> np.ndarray:
        """The ``bins[i] + 1`` edges of dimension ``i`` (the outer ones are the clipping range)."""
        return np.linspace(self.low[i], self.high[i], self.bins[i] + 1)

    def __call__(self, obs: Any) -> int:
        """The state index in ``[0, n_states)`` of one observation of shape (d,)."""
        x = np.asarray(obs, dtype=float)
        if x.shape != (len(self.bins),):
            raise ValueError(f"the observation must have shape ({len(self.bins)},); got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"the observation must be finite; got {x}")
        return self.index(x.tolist())

    def index(self, x: Sequence[float]) -> int:
        """:meth:`__call__` without checks, for a list of d floats: the agent calls this on every step."""
        s = 0
        for value, (low, scale, last, stride) in zip(x, self._fast, strict=False):
            b = int((value - low) * scale)
            s += (0 if b < 0 else last if b > last else b) * stride  # clip to the first and last bin
        return s

    @classmethod
    def for_cartpole(cls, bins: Sequence[int] = (1, 4, 6, 12),
                     high: Sequence[float] = (2.4, 2.0, 0.21, 2.0)) -> Discretizer:
        """A discretiser for ``CartPole-v1``'s (x, x_dot, theta, theta_dot), symmetric around 0: ranges
        ``[-high, high]``, so 1 * 4 * 6 * 12 = 288 states by default.

        The angle range is the failure angle (12 degrees = 0.21 rad) and matters most, so it gets 6 bins and
        the angular velocity 12. The velocities are unbounded in the observation space, so they are clipped
        to ranges a balancing pole rarely leaves. The position gets a single bin (it is ignored): the cart
        seldom drifts off the track within 500 steps, and every extra bin multiplies the states to learn.
        With the agent's defaults these make Q-learning balance the pole (greedy return >= 195, mostly 500)
        after 2000 episodes for each of seeds 0-14.
        """
        high = tuple(float(h) for h in high)
        return cls(tuple(bins), tuple(-h for h in high), high)

    @classmethod
    def for_env(cls, env: Any, bins: int | Sequence[int] = 10, low: Sequence[float] | None = None,
                high: Sequence[float] | None = None) -> Discretizer:
        """A discretiser for an env with a 1-D ``Box`` observation space, from the space's bounds.

        ``low`` / ``high`` override the bounds; they are required where the space is unbounded (for example
        a velocity). ``bins``: one count for every dimension, or one per dimension.
        """
        from gymnasium import spaces

        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise TypeError(f"Discretizer.for_env needs a 1-D Box observation space; got {space}")
        d = space.shape[0]
        low = np.asarray(space.low if low is None else low, dtype=float)
        high = np.asarray(space.high if high is None else high, dtype=float)
        if low.shape != (d,) or high.shape != (d,):
            raise ValueError(f"low and high must have {d} entries, one per dimension; got {low.shape} and "
                             f"{high.shape}")
        unbounded = np.flatnonzero(~np.isfinite(low) | ~np.isfinite(high))
        if unbounded.size:
            raise ValueError(f"the observation space is unbounded in dimension(s) {unbounded.tolist()} "
                             f"(low={space.low.tolist()}, high={space.high.tolist()}); pass finite low= and high= "
                             "ranges to clip to")
        bins = (int(bins),) * d if np.ndim(bins) == 0 else tuple(bins)
        return cls(bins, tuple(low.tolist()), tuple(high.tolist()))


class StateIndex(Protocol):
    """Anything that maps an observation to a state index: a :class:`Discretizer` or your own."""

    n_states: int

    def __call__(self, obs: Any) -> int: ...


def _is_cartpole(env: Any) -> bool:
    from gymnasium.envs.classic_control import CartPoleEnv

    return isinstance(getattr(env, "unwrapped", env), CartPoleEnv)


# =============================================================================================== the agent
def _uniform_stream(rng: np.random.Generator, block: int = 4096):
    """Uniform numbers in [0, 1) from ``rng``, one at a time, drawn in blocks (one numpy call per block)."""
    while True:
        yield from rng.random(block).tolist()


def _check_count(name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {n!r}")
    return int(n)


class QLearningAgent:
    """Tabular Q-learning (or Sarsa, or Expected Sarsa) on any Gymnasium env with a ``Discrete`` action space.

    Discrete observations index the table directly. ``Box`` observations go through a :class:`Discretizer`:
    ``Discretizer.for_cartpole()`` for CartPole, ``Discretizer.for_env(env)`` for other bounded spaces, or the
    one you pass as ``discretizer``.

    Args:
        env: a Gymnasium env; its action space must be ``Discrete``.
        alpha: step size in (0, 1], a constant or a schedule ``episode -> alpha``. Default 0.1.
        gamma: discount in [0, 1]. Default 0.99.
        epsilon: exploration rate in [0, 1], a constant or a schedule ``episode -> epsilon``. Default
            ``LinearSchedule(1.0, 0.01)``: from fully random to 1 % random over the first half of the episodes of
            each ``train(n_episodes)`` call, then 1 % for the second half.
        seed: seeds the agent's generator, the env's first reset and its action space, so that the same seed
            gives the same run. ``None``: fresh randomness, and the env is left as you seeded it.
        discretizer: maps an observation to a state index (see :class:`Discretizer`); built for you when ``None``.
        method: ``"q_learning"`` (off-policy, Sutton & Barto eq. 6.8), ``"sarsa"`` (on-policy, eq. 6.7) or
            ``"expected_sarsa"`` (eq. 6.9).
        progress: show a progress bar in ``train`` and ``evaluate``.
        q_init: the initial value of every entry of ``q`` (a high value explores optimistically). Default 0.
        max_steps: cut an episode after this many steps (a truncation: its last update still bootstraps).
            Default: no cut of our own if the env has a time limit (``gym.make`` adds the registered one),
            else 1000 steps, so that a greedy policy walking in circles cannot hang ``evaluate``.

    Schedules are called with the episode number within the current ``train`` call (0, 1, ...).

    The defaults suit small tabular tasks and, through ``Discretizer.for_cartpole()``, CartPole: with them
    ``QLearningAgent(gym.make("CartPole-v1"), seed=s).train(2000)`` balances the pole, a greedy mean return over
    100 episodes of 436 to 500 (500 is the time limit) for each of seeds 0-14, in well under a minute.

    Attributes:
        q: (S, A) action values, updated in place by ``train``.
        rng: the agent's ``np.random.Generator``.
        epsilon_now: the exploration rate of the latest training episode (what ``act`` uses by default).
        n_transitions: the number of environment steps of the latest ``train`` call.
        n_states, n_actions: S and A.

    >>> import gymnasium as gym
    >>> agent = QLearningAgent(gym.make("CliffWalking-v1"), alpha=0.5, gamma=1.0, epsilon=0.1, seed=0,
    ...                        progress=False)
    >>> returns = agent.train(300)
    >>> float(agent.evaluate(1, progress=False)[0])     # the shortest path, along the cliff: 13 steps of -1
    -13.0
    """

    def __init__(
        self,
        env: Any,
        alpha: Schedule = 0.1,
        gamma: float = 0.99,
        epsilon: Schedule = LinearSchedule(1.0, 0.01),  # noqa: B008  (frozen, so sharing the default is safe)
        seed: int | None = None,
        discretizer: StateIndex | None = None,
        method: str = "q_learning",
        progress: bool = True,
        q_init: float = 0.0,
        max_steps: int | None = None,
    ) -> None:
        from gymnasium import spaces

        action_space = getattr(env, "action_space", None)
        if isinstance(action_space, spaces.Box):
            raise TypeError(
                f"QLearningAgent needs a Discrete action space, and this env's actions are continuous "
                f"({action_space}). A table has one column per action; for continuous actions use a policy "
                "gradient method (lesson 06, metarl_edu.pg)."
            )
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError(f"QLearningAgent needs a Gymnasium env with a Discrete action space; got {action_space!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        self.env = env
        self.alpha = _check_schedule("alpha", alpha, 0.0, 1.0, low_open=True)
        self.gamma = _check_scalar("gamma", gamma, 0.0, 1.0)
        self.epsilon = _check_schedule("epsilon", epsilon, 0.0, 1.0)
        self.epsilon_now = float(schedule_values("epsilon", self.epsilon, 1, 0.0, 1.0)[0])
        self.method = method
        self.progress = bool(progress)
        self.discretizer, self._index = self._state_index(env, discretizer)
        self.n_states = int(env.observation_space.n) if self.discretizer is None else int(self.discretizer.n_states)
        self.n_actions = int(action_space.n)
        self._action_start = int(action_space.start)
        self.q = np.full((self.n_states, self.n_actions), _check_scalar("q_init", q_init, -math.inf, math.inf))
        self.n_transitions = 0
        self.max_steps = self._max_steps(env, max_steps)

        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"seed must be an integer or None; got {seed!r}")
        self.seed = seed
        agent_seed, env_seed, space_seed = np.random.SeedSequence(seed).spawn(3)
        self.rng = np.random.default_rng(agent_seed)
        self._uniforms = _uniform_stream(self.rng)
        # With a seed, the env's first reset and its action space are seeded too; without one they are left alone.
        self._reset_seed = None if seed is None else int(env_seed.generate_state(1)[0])
        if seed is not None:
            action_space.seed(int(space_seed.generate_state(1)[0]))

    # ------------------------------------------------------------------------------------------- set-up
    @staticmethod
    def _state_index(env: Any, discretizer: Any) -> tuple[Any, Callable[[Any], int]]:
        from gymnasium import spaces

        space = env.observation_space
        if discretizer is None:
            if isinstance(space, spaces.Discrete):
                start = int(space.start)
                return None, (int if start == 0 else (lambda obs: int(obs) - start))
            if isinstance(space, spaces.Box):
                discretizer = Discretizer.for_cartpole() if _is_cartpole(env) else Discretizer.for_env(env)
            else:
                raise TypeError(f"QLearningAgent handles Discrete and Box observation spaces; got {space}. Pass a "
                                "discretizer: any object with n_states and __call__(obs) -> state index")
        if not callable(discretizer) or not hasattr(discretizer, "n_states"):
            raise TypeError(f"discretizer must have n_states and __call__(obs) -> int; got {discretizer!r}")
        if isinstance(discretizer, Discretizer):
            if not isinstance(space, spaces.Box) or space.shape != (len(discretizer.bins),):
                raise ValueError(f"the discretizer has {len(discretizer.bins)} dimension(s) but the observation "
                                 f"space is {space}")
            return discretizer, (lambda obs: discretizer.index(obs.tolist()))
        return discretizer, discretizer

    @staticmethod
    def _max_steps(env: Any, max_steps: int | None) -> int:
        if max_steps is not None:
            return _check_count("max_steps", max_steps)
        spec = getattr(env, "spec", None)
        has_limit = spec is not None and getattr(spec, "max_episode_steps", None) is not None
        return 10**12 if has_limit else 1000

    def _reset(self) -> Any:
        seed, self._reset_seed = self._reset_seed, None  # only the first reset is seeded
        obs, _ = self.env.reset(seed=seed)
        return obs

    # ------------------------------------------------------------------------------------------- acting
    def state(self, obs: Any) -> int:
        """The table row (state index) of an observation, checked."""
        s = int(self.discretizer(obs)) if self.discretizer is not None else self._index(obs)
        if not 0 <= s < self.n_states:
            raise ValueError(f"observation {obs!r} gives state {s}, outside the table's [0, {self.n_states})")
        return s

    def _choose(self, s: int, epsilon: float) -> int:
        """Epsilon-greedy on ``q[s]`` by the two-uniform rule of :func:`action_from_uniforms`, on Python floats."""
        u_explore, u_action = next(self._uniforms), next(self._uniforms)
        if u_explore < epsilon:
            return int(u_action * self.n_actions)
        q_s = self.q[s].tolist()
        best = max(q_s)
        if q_s.count(best) == 1:
            return q_s.index(best)
        ties = [a for a, value in enumerate(q_s) if value == best]
        return ties[int(u_action * len(ties))]  # ties at random

    def act(self, obs: Any, greedy: bool = False, epsilon: float | None = None) -> int:
        """The env action for ``obs``: epsilon-greedy with ties at random (``epsilon`` default: the latest value
        training used, or the schedule's first value before training), or with ``greedy=True`` the greedy
        action, ties to the lowest (as :meth:`greedy_policy`)."""
        s = self.state(obs)
        if greedy:
            return int(np.argmax(self.q[s])) + self._action_start
        epsilon = self.epsilon_now if epsilon is None else _check_scalar("epsilon", epsilon, 0.0, 1.0)
        return self._choose(s, epsilon) + self._action_start

    def greedy_policy(self) -> np.ndarray:
        """The greedy policy of ``q``, one-hot of shape (S, A), ties to the lowest action
        (:func:`metarl_edu.mdp.greedy_policy`)."""
        from metarl_edu.mdp import greedy_policy

        return greedy_policy(self.q, tol=0.0)

    # ------------------------------------------------------------------------------------------- learning
    def train(self, n_episodes: int, progress: bool | None = None) -> np.ndarray:
        """Learn for ``n_episodes`` episodes; returns their undiscounted returns, shape (n_episodes,)."""
        n = _check_count("n_episodes", n_episodes)
        alphas = schedule_values("alpha", self.alpha, n, 0.0, 1.0, low_open=True).tolist()
        epsilons = schedule_values("epsilon", self.epsilon, n, 0.0, 1.0).tolist()
        returns = np.empty(n)
        self.n_transitions = 0
        with _bar(n, "train", self.progress if progress is None else progress) as bar:
            for episode in range(n):
                returns[episode], n_steps = self._learn_episode(alphas[episode], epsilons[episode])
                self.n_transitions += n_steps
                _tick(bar, episode, returns)
        self.epsilon_now = epsilons[-1]
        return returns

    def evaluate(self, n_episodes: int = 100, progress: bool | None = None) -> np.ndarray:
        """Run ``n_episodes`` greedy episodes (ties to the lowest action) without learning; returns their
        undiscounted returns, shape (n_episodes,)."""
        n = _check_count("n_episodes", n_episodes)
        returns = np.empty(n)
        with _bar(n, "evaluate", self.progress if progress is None else progress) as bar:
            for episode in range(n):
                returns[episode] = self._greedy_episode()
                _tick(bar, episode, returns)
        return returns

    def _greedy_episode(self) -> float:
        q, index, step, offset = self.q, self._index, self.env.step, self._action_start
        s, G = index(self._reset()), 0.0
        for _ in range(self.max_steps):
            q_s = q[s].tolist()
            obs, r, terminated, truncated, _ = step(q_s.index(max(q_s)) + offset)  # greedy, ties to the lowest
            G += r
            if terminated or truncated:
                break
            s = index(obs)
        return G

    def _learn_episode(self, alpha: float, epsilon: float) -> tuple[float, int]:
        """One episode of learning; the update is :func:`q_learning_update` (or its siblings), done in place.
        Returns the episode's return and its number of steps."""
        q, gamma, index, step, offset = self.q, self.gamma, self._index, self.env.step, self._action_start
        sarsa, expected = self.method == "sarsa", self.method == "expected_sarsa"
        s = index(self._reset())
        a = self._choose(s, epsilon)
        G, t = 0.0, 0
        for t in range(1, self.max_steps + 1):  # noqa: B007  (t is the episode's length after the loop)
            obs, r, terminated, truncated, _ = step(a + offset)
            s_next = index(obs)
            G += r
            q_next = q[s_next].tolist()
            if sarsa:
                a_next = self._choose(s_next, epsilon) if not terminated else 0
                v_next = q_next[a_next]  # the action the agent will take
            elif expected:
                v_next = epsilon * sum(q_next) / len(q_next) + (1.0 - epsilon) * max(q_next)  # E_pi q(s', .)
            else:
                v_next = max(q_next)  # the greedy action, whatever the agent does next
            # Termination stops bootstrapping (nothing follows a terminal state). Truncation does not: the
            # episode was cut by a time limit, s_next still has a future, so its value stays in the target.
            target = r if terminated else r + gamma * v_next
            q[s, a] += alpha * (target - q[s, a])
            if terminated or truncated:
                break
            s = s_next
            a = a_next if sarsa else self._choose(s, epsilon)
        return G, t


def _bar(n: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=n, desc=desc, unit="episode", disable=not progress, mininterval=0.5)


def _tick(bar: Any, episode: int, returns: np.ndarray) -> None:
    bar.update(1)
    if not bar.disable and (episode + 1) % 100 == 0:
        bar.set_postfix(mean_return=f"{returns[episode - 99:episode + 1].mean():.3g}", refresh=False)


# =============================================================================================== many tasks at once
class UniformSource(Protocol):
    """Where :class:`BatchedQLearning` gets its random numbers: ``np.random.Generator`` or anything with
    ``random(size) -> np.ndarray`` of uniform numbers in [0, 1) (tests pass a fixed sequence)."""

    def random(self, size: Any) -> np.ndarray: ...


def _per_row(name: str, value: Any, n_rows: int, low: float, high: float, low_open: bool = False) -> np.ndarray:
    """A scalar or an (N,) array as an (N,) float array, each entry checked to lie in the range."""
    x = np.asarray(value)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number) or x.shape not in ((), (n_rows,)):
        raise ValueError(f"{name} must be a number or an array of shape (N,) = ({n_rows},) with one value per "
                         f"task; got {value!r}")
    x = np.broadcast_to(x.astype(float), (n_rows,))
    bad = ~(np.isfinite(x) & ((x > low) if low_open else (x >= low)) & (x <= high))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low:g}, {high:g}]; got {x[i]} for task {i}")
    return x


def _schedule_table(name: str, schedule: Any, n_rows: int, n_episodes: int, low: float, high: float,
                    low_open: bool = False) -> np.ndarray:
    """Values of a constant, an (N,) array or a schedule ``episode -> value or (N,) array``, shape (N, n_episodes)."""
    if not callable(schedule):
        return np.repeat(_per_row(name, schedule, n_rows, low, high, low_open)[:, None], n_episodes, axis=1)
    if hasattr(schedule, "for_episodes"):
        schedule = schedule.for_episodes(n_episodes)
    columns = []
    for episode in range(n_episodes):
        try:
            columns.append(_per_row(name, schedule(episode), n_rows, low, high, low_open))
        except ValueError as exc:
            raise ValueError(f"{exc} (the {name} schedule {schedule!r} at episode {episode})") from None
    return np.stack(columns, axis=1)


class _Categorical:
    """Draw from many categorical distributions at once with one uniform number each; ``probs`` (M, X) holds
    one distribution over X outcomes per row.

    Row ``i`` with number ``u`` draws the first outcome ``x`` with ``u < cumsum(probs[i])[x]``. Only outcomes of
    probability > 0 are compared (at most K per row; K = 3 in slippery FrozenLake), one column per numpy
    operation, which is much faster than a reduction along a short axis. The last outcome of each row takes
    whatever the rounding of the cumulative sum leaves, so an outcome of probability 0 is never drawn.
    ``sample`` returns draw positions ``k * M + i`` (the k-th possible outcome of row i); :meth:`at` lays out any
    per-outcome table in the same positions, so that one lookup gives the outcome's state, reward or flag.
    """

    def __init__(self, probs: np.ndarray) -> None:
        self.M = probs.shape[0]
        n_possible = (probs > 0).sum(axis=1)
        K = int(n_possible.max())
        # outcomes of probability > 0 first, in increasing order, then padding that is never drawn
        self.order = np.argsort(probs <= 0, axis=1, kind="stable")[:, :K]
        cdf = np.cumsum(np.take_along_axis(probs, self.order, axis=1), axis=1)
        cdf[np.arange(K)[None, :] >= n_possible[:, None] - 1] = np.inf
        self.cdf = [np.ascontiguousarray(cdf[:, k]) for k in range(K - 1)]  # the last outcome needs no test

    def at(self, values: np.ndarray) -> np.ndarray:
        """``values`` (M, X) per outcome, as a flat array indexed by draw position."""
        return np.take_along_axis(values, self.order, axis=1).T.reshape(-1)

    def sample(self, i: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Draw positions ``k * M + i`` for rows ``i`` (int array) with numbers ``u`` in [0, 1)."""
        position = i.copy()
        for cdf_k in self.cdf:
            position += (cdf_k[i] <= u) * self.M  # past the k-th possible outcome: on to the next
        return position


class BatchedQLearning:
    """Q-learning on N tabular tasks at once, every step a few numpy operations over all N rows.

    Each row is an independent learner: its own MDP, its own ``alpha``, ``epsilon`` and ``gamma`` (so a row
    can be a task, a hyperparameter setting or a seed), its own episodes. Rows learn exactly as a plain loop of
    :func:`q_learning_update` with epsilon-greedy by :func:`action_from_uniforms` does, given the same random
    numbers (the tests replay it). A row whose episode ends starts the next at once; a row that has finished
    its ``n_episodes`` drops out, so that only real transitions cost time.

    Args:
        mdps: N :class:`TabularMDP` sharing S and A (for example ``TabularMDP.from_gymnasium`` of 1000
            FrozenLake maps). Stacked into ``P`` (N, S, A, S), ``R`` (N, S, A, S), ``terminal`` (N, S),
            ``start`` (N, S).
        alpha: step size in (0, 1]: a number, an array (N,), or a schedule ``episode -> number or (N,)``.
        gamma: discount in [0, 1], a number or (N,). Default: each MDP's own ``gamma``.
        epsilon: exploration rate in [0, 1], as ``alpha``. Default ``LinearSchedule(1.0, 0.01)`` (as
            :class:`QLearningAgent`: decays over the first half of each ``train`` call).
        max_steps: an episode is truncated after this many steps (its last update still bootstraps). Default
            100, as ``gym.make("FrozenLake-v1")``.
        seed: seeds the default generator. rng: the source of random numbers (see below); default
            ``np.random.Generator(np.random.SFC64(seed))``, one of numpy's generators and about twice as fast as
            ``default_rng`` at the thousands of numbers each step takes.
        progress: show a progress bar (episodes completed by the slowest row).
        q_init: the initial value of every entry of ``q``.

    Random numbers: ``train`` first draws ``rng.random(N)``, the first state of each row. Then every step draws
    ``rng.random((3, n))`` for the ``n`` rows still learning, in row order: ``u_explore`` and ``u_action`` (the
    action, by :func:`action_from_uniforms`) and ``u_next`` (the next state: the first ``s'`` with
    ``u_next < cumsum(P[s, a])[s']``); then, if ``m`` of these rows ended an episode, ``rng.random(m)`` for the
    first states of their next episodes (drawn the same way from ``start``), in row order.

    Attributes:
        q: (N, S, A) action values (a view of a table stored action by action, so that one numpy operation
            reads one action's values for all rows). n_transitions: real transitions of the latest ``train``.

    >>> import gymnasium as gym
    >>> mdp = TabularMDP.from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.99)
    >>> batch = BatchedQLearning([mdp] * 3, alpha=[0.05, 0.1, 0.2], seed=0, progress=False)
    >>> batch.train(50).shape, batch.q.shape
    ((3, 50), (3, 16, 4))
    """

    def __init__(
        self,
        mdps: Sequence[TabularMDP],
        alpha: Any = 0.1,
        gamma: Any = None,
        epsilon: Any = LinearSchedule(1.0, 0.01),  # noqa: B008  (frozen, so sharing the default is safe)
        max_steps: int = 100,
        seed: int | None = None,
        rng: UniformSource | None = None,
        progress: bool = True,
        q_init: float = 0.0,
    ) -> None:
        mdps = list(mdps)
        if not mdps or not all(isinstance(m, TabularMDP) for m in mdps):
            raise TypeError("mdps must be a non-empty sequence of metarl_edu.TabularMDP")
        shapes = {(m.n_states, m.n_actions) for m in mdps}
        if len(shapes) > 1:
            raise ValueError(f"all MDPs must share S and A to be stacked; got (S, A) in {sorted(shapes)}")
        self.N, (self.S, self.A) = len(mdps), shapes.pop()
        N, S, A = self.N, self.S, self.A
        self.P = np.stack([m.P for m in mdps])
        self.R = np.stack([m.R if m.R.ndim == 3 else np.repeat(m.R[:, :, None], S, axis=2) for m in mdps])
        self.terminal = np.stack([m.terminal for m in mdps])
        self.start = np.stack([m.start for m in mdps])
        self.gamma = _per_row("gamma", [m.gamma for m in mdps] if gamma is None else gamma, N, 0.0, 1.0)
        _schedule_table("alpha", alpha, N, 1, 0.0, 1.0, low_open=True)  # fail early on a bad value
        _schedule_table("epsilon", epsilon, N, 1, 0.0, 1.0)
        self.alpha, self.epsilon = alpha, epsilon
        self.max_steps = _check_count("max_steps", max_steps)
        if rng is not None and not callable(getattr(rng, "random", None)):
            raise TypeError(f"rng must have a random(size) method, like np.random.Generator; got {rng!r}")
        self.rng = np.random.Generator(np.random.SFC64(seed)) if rng is None else rng
        self.progress = bool(progress)
        self.n_transitions = 0

        # A state is numbered globally, x = n * S + s. q is stored action by action: q_by_action[a, x].
        self._q_by_action = np.full((A, N * S), _check_scalar("q_init", q_init, -math.inf, math.inf))
        self.q = self._q_by_action.reshape(A, N, S).transpose(1, 2, 0)  # a view, (N, S, A)
        # Transitions: row a * N * S + x of the sampler is P[n, s, a]; per draw position: x' and the reward.
        self._next = _Categorical(self.P.transpose(2, 0, 1, 3).reshape(A * N * S, S))
        x_of = np.broadcast_to((np.arange(N) * S)[None, :, None, None] + np.arange(S), (A, N, S, S))
        self._next_x = self._next.at(x_of.reshape(A * N * S, S))
        self._next_r = self._next.at(self.R.transpose(2, 0, 1, 3).reshape(A * N * S, S))
        self._first = _Categorical(self.start)
        self._first_x = self._first.at(np.arange(N)[:, None] * S + np.arange(S)[None, :])

    def _draw(self, size: Any) -> np.ndarray:
        u = self.rng.random(size)
        if not isinstance(self.rng, np.random.Generator):  # an injected source: check what it gives
            u = np.asarray(u, dtype=float)
            if u.shape != np.empty(size).shape or not np.all((u >= 0) & (u < 1)):
                raise ValueError(f"rng.random({size}) must return uniform numbers in [0, 1) of that shape")
        return u

    def train(self, n_episodes: int, progress: bool | None = None) -> np.ndarray:
        """Run ``n_episodes`` episodes on every row; returns the undiscounted returns, shape (N, n_episodes)."""
        n = _check_count("n_episodes", n_episodes)
        N, S = self.N, self.S
        alpha_table = _schedule_table("alpha", self.alpha, N, n, 0.0, 1.0, low_open=True)
        epsilon_table = _schedule_table("epsilon", self.epsilon, N, n, 0.0, 1.0)
        schedules = not (np.all(alpha_table == alpha_table[:, :1]) and np.all(epsilon_table == epsilon_table[:, :1]))
        q_a = list(self._q_by_action)  # q_a[a][x], one array per action
        q_flat = self._q_by_action.reshape(-1)  # q_flat[a * N * S + x]
        next_x, next_r, terminal = self._next_x, self._next_r, self.terminal.reshape(-1)
        draw, sample_next, max_steps = self._draw, self._next.sample, self.max_steps
        returns = np.zeros((N, n))
        n_transitions = 0
        # One entry per live row (rows with episodes left, in row order); finished rows are dropped.
        live = np.arange(N)
        x = self._first_x[self._first.sample(live, self._draw(N))]  # global state of each live row
        G, t, episode = np.zeros(N), np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)
        alpha, epsilon, gamma = alpha_table[:, 0].copy(), epsilon_table[:, 0].copy(), self.gamma.copy()
        with _bar(n, "train (slowest task)", self.progress if progress is None else progress) as bar:
            step = 0
            while live.size:
                if step % 1024 == 0:
                    bar.update(int(episode.min()) - bar.n)
                step += 1
                u_explore, u_action, u_next = draw((3, live.size))
                # --- epsilon-greedy by action_from_uniforms: take the j-th of the k candidate actions, where the
                # candidates are the maximal actions, or all A actions for a row that explores
                q_s = [q[x] for q in q_a]
                threshold = functools.reduce(np.maximum, q_s)  # a new array: the greedy value of each row
                threshold[u_explore < epsilon] = -np.inf  # a row that explores: every action is a candidate
                counts = [(q_s[0] >= threshold).view(np.int8)]  # counts[a]: candidates among actions 0..a
                for q in q_s[1:]:
                    counts.append(counts[-1] + (q >= threshold))
                # the j-th candidate, j = floor(u_action * k), comes after each action a with counts[a] <= j,
                # that is counts[a] <= u_action * k (counts are whole numbers)
                uk = u_action * counts[-1]
                a = functools.reduce(np.add, [count <= uk for count in counts[:-1]], np.zeros(live.size, np.int8))
                # --- the environment: x' ~ P[s, a], its reward R[s, a, s'] and whether s' is terminal
                xa = np.multiply(a, N * S, dtype=np.intp) + x
                drawn = sample_next(xa, u_next)
                x_next, r = next_x[drawn], next_r[drawn]
                terminated = terminal[x_next]
                # --- the Q-learning update (q_learning_update). Termination stops bootstrapping; truncation does
                # not (the time limit is not part of the task: s_next keeps its value in the target).
                v_next = functools.reduce(np.maximum, [q[x_next] for q in q_a])
                target = np.where(terminated, r, r + gamma * v_next)
                q_sa = q_flat[xa]
                q_flat[xa] = q_sa + alpha * (target - q_sa)
                # --- bookkeeping: returns, episode ends, the next episode's first state
                n_transitions += live.size
                G += r
                t += 1
                ended = terminated | (t >= max_steps)
                if np.count_nonzero(ended):
                    e = np.flatnonzero(ended)
                    returns[live[e], episode[e]] = G[e]
                    G[e], t[e] = 0.0, 0
                    episode[e] += 1
                    x_next[e] = self._first_x[self._first.sample(live[e], draw(len(e)))]
                    if schedules:
                        e_more = e[episode[e] < n]
                        alpha[e_more] = alpha_table[live[e_more], episode[e_more]]
                        epsilon[e_more] = epsilon_table[live[e_more], episode[e_more]]
                    if episode[e].max() >= n:
                        keep = episode < n
                        live, x_next, G, t, episode = live[keep], x_next[keep], G[keep], t[keep], episode[keep]
                        alpha, epsilon, gamma = alpha[keep], epsilon[keep], gamma[keep]
                x = x_next
            bar.update(n - bar.n)
        self.n_transitions = n_transitions
        return returns

    def greedy_policies(self) -> np.ndarray:
        """The greedy policy of every row, one-hot (N, S, A), ties to the lowest action."""
        pi = np.zeros((self.N, self.S, self.A))
        np.put_along_axis(pi, self.q.argmax(axis=2)[:, :, None], 1.0, axis=2)
        return pi


def discretize(obs: Sequence[float], low: Sequence[float], high: Sequence[float], bins: Sequence[int]) -> int:
    """The state index of one observation, as :class:`Discretizer` computes it, written as one function:

        b_i = clip(floor((obs_i - low_i) / (high_i - low_i) * bins_i), 0, bins_i - 1),
        index = ravel_multi_index(b, bins)      (row-major: the last dimension varies fastest).

    Args:
        obs, low, high: shape (d,); ``low < high`` in every dimension. bins: (d,) positive integers.
    """
    return Discretizer(tuple(int(b) for b in bins), tuple(low), tuple(high))(np.asarray(obs, dtype=float))
