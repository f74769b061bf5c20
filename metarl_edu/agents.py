"""Agents that learn a table by temporal differences: :class:`QLearningAgent` (Q-learning, Sarsa or Expected
Sarsa on any Gymnasium env with discrete actions), the :class:`Discretizer` that turns a continuous observation
into a state index, and schedules for ``alpha`` and ``epsilon``.

The agent runs the updates and the action choice of :mod:`metarl_edu.td` (the functions the lessons teach), one
call per transition; see that module for the notation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from metarl_edu import td
from metarl_edu._checks import check_int, check_number

METHODS = ("q_learning", "sarsa", "expected_sarsa")


def _number(name: str, x: Any, low: float = -math.inf, high: float = math.inf, low_open: bool = False) -> float:
    return check_number(name, x, low, high, low_open=low_open, type_error=TypeError)


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
            _number(name, getattr(self, name))
        n = self.n_episodes
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
            raise ValueError(f"n_episodes must be an integer >= 1 or None; got {n!r}")
        _number("fraction", self.fraction, 0.0, 1.0, low_open=True)

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
            _number(name, getattr(self, name))
        _number("decay", self.decay, 0.0, 1.0, low_open=True)

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
                values[episode] = _number(name, value, low, high, low_open)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{exc} (the {name} schedule {schedule!r} at episode {episode})") from None
        return values
    return np.full(n_episodes, _number(name, schedule, low, high, low_open))


def _check_schedule(name: str, schedule: Schedule, low: float, high: float, low_open: bool = False) -> Schedule:
    """Check a constant now; check a schedule's first values (all of them are checked when training starts)."""
    if callable(schedule):
        schedule_values(name, schedule, 1, low, high, low_open)
        return schedule
    return _number(name, schedule, low, high, low_open)


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

        The angle range is the failure angle (12 degrees = 0.21 rad); the angle and the angular velocity say
        most about where the pole is heading, so they get 6 and 12 bins. The velocities are unbounded in the
        observation space, so they are clipped to ranges a balancing pole rarely leaves. The position gets a
        single bin (it is ignored): every extra bin multiplies the states to learn, and the price is an agent
        blind to the track's edge.
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

    The defaults suit small tabular tasks and, through ``Discretizer.for_cartpole()``, CartPole:
    ``QLearningAgent(gym.make("CartPole-v1"), seed=s).train(2000)`` learns to balance the pole.

    Attributes:
        q: (S, A) action values; ``train`` replaces it by the new table of every update.
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
        self.gamma = _number("gamma", gamma, 0.0, 1.0)
        self.epsilon = _check_schedule("epsilon", epsilon, 0.0, 1.0)
        self.epsilon_now = float(schedule_values("epsilon", self.epsilon, 1, 0.0, 1.0)[0])
        self.method = method
        self.progress = bool(progress)
        self.discretizer, self._index = self._state_index(env, discretizer)
        self.n_states = int(env.observation_space.n) if self.discretizer is None else int(self.discretizer.n_states)
        self.n_actions = int(action_space.n)
        self._action_start = int(action_space.start)
        self.q = np.full((self.n_states, self.n_actions), _number("q_init", q_init))
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
            return check_int("max_steps", max_steps, low=1)
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
        """Epsilon-greedy on ``q[s]`` by :func:`metarl_edu.td.action_from_uniforms`, from the next two uniform
        numbers of the agent's stream."""
        u_explore, u_action = next(self._uniforms), next(self._uniforms)
        return td.action_from_uniforms(self.q[s].tolist(), epsilon, u_explore, u_action)

    def act(self, obs: Any, greedy: bool = False, epsilon: float | None = None) -> int:
        """The env action for ``obs``: epsilon-greedy with ties at random (``epsilon`` default: the latest value
        training used, or the schedule's first value before training), or with ``greedy=True`` the greedy
        action, ties to the lowest (as :meth:`greedy_policy`)."""
        s = self.state(obs)
        if greedy:
            return int(np.argmax(self.q[s])) + self._action_start
        epsilon = self.epsilon_now if epsilon is None else _number("epsilon", epsilon, 0.0, 1.0)
        return self._choose(s, epsilon) + self._action_start

    def greedy_policy(self) -> np.ndarray:
        """The greedy policy of ``q``, one-hot of shape (S, A), ties to the lowest action
        (:func:`metarl_edu.mdp.greedy_policy`)."""
        from metarl_edu.mdp import greedy_policy

        return greedy_policy(self.q, tol=0.0)

    # ------------------------------------------------------------------------------------------- learning
    def train(self, n_episodes: int, progress: bool | None = None) -> np.ndarray:
        """Learn for ``n_episodes`` episodes; returns their undiscounted returns, shape (n_episodes,)."""
        n = check_int("n_episodes", n_episodes, low=1)
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
        n = check_int("n_episodes", n_episodes, low=1)
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
        """One episode of learning, one call of :func:`metarl_edu.td.q_learning_update` (or of its Sarsa or
        Expected Sarsa sibling) per transition. Returns the episode's return and its number of steps."""
        gamma, index, step, offset, method = self.gamma, self._index, self.env.step, self._action_start, self.method
        s = index(self._reset())
        a = self._choose(s, epsilon)
        G, t = 0.0, 0
        for t in range(1, self.max_steps + 1):  # noqa: B007  (t is the episode's length after the loop)
            obs, r, terminated, truncated, _ = step(a + offset)
            s_next = index(obs)
            G += r
            # Pass `terminated`, never `truncated`: termination stops bootstrapping (nothing follows a terminal
            # state), while an episode cut by a time limit goes on in the task, so s_next keeps its value.
            if method == "sarsa":
                a_next = self._choose(s_next, epsilon) if not terminated else 0  # the action the agent will take
                self.q = td.sarsa_update(self.q, s, a, r, s_next, a_next, terminated, alpha, gamma)
            elif method == "expected_sarsa":
                self.q = td.expected_sarsa_update(self.q, s, a, r, s_next, terminated, alpha, gamma, epsilon)
            else:
                self.q = td.q_learning_update(self.q, s, a, r, s_next, terminated, alpha, gamma)
            if terminated or truncated:
                break
            s = s_next
            a = a_next if method == "sarsa" else self._choose(s, epsilon)
        return G, t


def _bar(n: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=n, desc=desc, unit="episode", disable=not progress, mininterval=0.5)


def _tick(bar: Any, episode: int, returns: np.ndarray) -> None:
    bar.update(1)
    if not bar.disable and (episode + 1) % 100 == 0:
        bar.set_postfix(mean_return=f"{returns[episode - 99:episode + 1].mean():.3g}", refresh=False)




def discretize(obs: Sequence[float], low: Sequence[float], high: Sequence[float], bins: Sequence[int]) -> int:
    """The state index of one observation, as :class:`Discretizer` computes it, written as one function:

        b_i = clip(floor((obs_i - low_i) / (high_i - low_i) * bins_i), 0, bins_i - 1),
        index = ravel_multi_index(b, bins)      (row-major: the last dimension varies fastest).

    Args:
        obs, low, high: shape (d,); ``low < high`` in every dimension. bins: (d,) positive integers.
    """
    return Discretizer(tuple(int(b) for b in bins), tuple(low), tuple(high))(np.asarray(obs, dtype=float))
