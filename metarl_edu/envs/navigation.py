"""2D point navigation, the reinforcement-learning task family of the MAML paper (Finn et al., 2017).

A point starts at the origin and must walk to a goal it cannot see; each task is one goal drawn uniformly in
[-0.5, 0.5]^2, so the agent learns where the goal is only from the rewards it collects. Two versions that step
the same dynamics with the same float32 arithmetic:

- :class:`Navigation2DEnv`: one task, one trajectory, a Gymnasium env (``gym.make("metarl_edu/Navigation2D-v0")``).
- :class:`~metarl_edu.fast.envs.BatchedNavigation2D`: a meta-batch of tasks x trajectories, positions of shape
  (n_tasks, n_traj, 2), stepped as one tensor operation, with a per-row done mask.

>>> import numpy as np
>>> env = Navigation2DEnv(goal=(0.3, 0.0))
>>> obs, info = env.reset(seed=0)
>>> obs
array([0., 0.], dtype=float32)
>>> obs, r, terminated, truncated, info = env.step(np.array([0.5, 0.0]))   # clipped to 0.1
>>> obs, round(r, 6)
(array([0.1, 0. ], dtype=float32), -0.2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from metarl_edu.envs.tasks import TaskFamily

GOAL_LOW, GOAL_HIGH = -0.5, 0.5  # goals are uniform in [GOAL_LOW, GOAL_HIGH]^2
MAX_ACTION = 0.1  # each coordinate of an action is clipped to [-MAX_ACTION, MAX_ACTION]
GOAL_RADIUS = 0.01  # the episode terminates when the distance to the goal is below this
MAX_EPISODE_STEPS = 100  # and is truncated after this many steps


def sample_goals(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` goals drawn uniformly in [-0.5, 0.5]^2: an array of shape (n, 2).

    >>> sample_goals(2, np.random.default_rng(0)).shape
    (2, 2)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (the number of tasks) must be a positive integer; got {n!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, e.g. np.random.default_rng(0); got {type(rng).__name__}")
    return rng.uniform(GOAL_LOW, GOAL_HIGH, size=(int(n), 2))


def _check_goal(goal: Any) -> np.ndarray:
    goal = np.asarray(goal, dtype=np.float64)
    if goal.shape != (2,) or not np.all(np.isfinite(goal)):
        raise ValueError(f"a goal must be two finite numbers (x, y); got {goal!r}")
    return goal.astype(np.float32)


class Navigation2DEnv(gym.Env):
    """Walk a point to a hidden goal in the plane.

    ## Description
    The agent is a point at position ``p`` in the plane, starting at the origin. Each step moves it by the
    action, clipped coordinate-wise: ``p_next = p + clip(a, -0.1, 0.1)``. The task is the goal ``g``; set it
    with :meth:`set_task` and draw new ones with :meth:`sample_tasks` (uniform in [-0.5, 0.5]^2).

    ## Action Space
    ``Box(-0.1, 0.1, (2,), float32)``: the displacement (dx, dy). Larger actions are clipped, not rejected, so
    an unbounded Gaussian policy can act directly.

    ## Observation Space
    ``Box(-b, b, (2,), float32)``: the position (x, y), with ``b = 1.01 * 0.1 * max_episode_steps`` (10.1), just
    beyond the farthest a point can walk in one episode. The goal is not observed.

    ## Starting State
    The origin (0, 0).

    ## Reward
    Minus the Euclidean distance from the new position to the goal: ``r = -||p_next - g||``.

    ## Episode End
    Terminated when ``||p_next - g|| < 0.01``. Truncated after ``max_episode_steps`` (100) steps; the env
    counts steps itself, so :class:`BatchedNavigation2D`, which has no wrappers, matches it step for step.

    ## References
    Finn, Abbeel & Levine, *Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks*, ICML 2017,
    section 5.3 (2D navigation). Deleu, *pytorch-maml-rl* (``2DNavigation-v0``), whose termination test is a
    0.01 box around the goal; here it is the 0.01 disc the paper describes.

    Args:
        goal: the task ``(x, y)``. ``None``: draw one from the env's seeded generator at the first reset.
        max_episode_steps: positive integer horizon (default 100, as in the paper).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, goal: Any = None, max_episode_steps: int = MAX_EPISODE_STEPS) -> None:
        if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, (int, np.integer)) \
                or max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be a positive integer; got {max_episode_steps!r}")
        self.max_episode_steps = int(max_episode_steps)
        self.goal: np.ndarray | None = None if goal is None else _check_goal(goal)
        # the farthest a point can walk in one episode, with 1% to spare for float32 rounding
        bound = 1.01 * MAX_ACTION * self.max_episode_steps
        self.observation_space = spaces.Box(-bound, bound, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-MAX_ACTION, MAX_ACTION, shape=(2,), dtype=np.float32)
        self.position: np.ndarray | None = None  # None until the first reset
        self.t = 0
        self.done = False

    # ------------------------------------------------------------------------------ the task distribution
    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` goals uniform in [-0.5, 0.5]^2, shape (n, 2); give one to :meth:`set_task`."""
        return sample_goals(n, rng)

    def set_task(self, goal: Any) -> None:
        """Make ``goal`` (two numbers) the task; it takes effect at the next :meth:`reset`."""
        self.goal = _check_goal(goal)

    # ------------------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start at the origin. ``options={"goal": (x, y)}`` sets the task first. Returns ``(p_0, {})``."""
        super().reset(seed=seed)
        if options and "goal" in options:
            self.set_task(options["goal"])
        if self.goal is None:
            self.goal = _check_goal(sample_goals(1, self.np_random)[0])
        self.position = np.zeros(2, dtype=np.float32)
        self.t = 0
        self.done = False
        return self.position.copy(), {}

    def step(self, a: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Move by ``clip(a, -0.1, 0.1)``. Returns ``(p_next, -||p_next - g||, terminated, truncated, {})``."""
        if self.position is None:
            raise RuntimeError("call reset() before step(): the episode has not started")
        if self.done:
            raise RuntimeError("the episode has ended; call reset() to start a new one before step()")
        a = np.asarray(a, dtype=np.float32)
        if a.shape != (2,) or not np.all(np.isfinite(a)):
            raise ValueError(f"an action must be two finite numbers (dx, dy); got {a!r}")
        self.position = self.position + np.clip(a, -MAX_ACTION, MAX_ACTION)
        delta = self.position - self.goal
        distance = np.hypot(delta[0], delta[1])  # sqrt(dx^2 + dy^2) in float32, as BatchedNavigation2D computes it
        self.t += 1
        terminated = bool(distance < GOAL_RADIUS)
        truncated = not terminated and self.t >= self.max_episode_steps
        self.done = terminated or truncated
        return self.position.copy(), -float(distance), terminated, truncated, {}


# ============================================================================================ as a task family
@dataclass(frozen=True)
class NavigationTask:
    """One 2D navigation task: the goal ``(x, y)``."""

    goal: tuple[float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "goal", tuple(float(v) for v in _check_goal(self.goal)))  # frozen: set once, here


@dataclass(frozen=True)
class Navigation2DFamily(TaskFamily):
    """2D navigation as a :class:`~metarl_edu.envs.tasks.TaskFamily`: goals uniform in [-0.5, 0.5]^2.

    Attributes:
        max_episode_steps: horizon of every episode, >= 1. Default 100 (the MAML paper's).

    Features: ``goal_x``, ``goal_y``. ``make_env`` gives a :class:`Navigation2DEnv`; meta-learners step many tasks
    at once in :class:`~metarl_edu.fast.envs.BatchedNavigation2D`.
    """

    max_episode_steps: int = MAX_EPISODE_STEPS

    task_type: ClassVar[type] = NavigationTask
    feature_names: ClassVar[tuple[str, ...]] = ("goal_x", "goal_y")

    def __post_init__(self) -> None:
        if isinstance(self.max_episode_steps, bool) or not isinstance(self.max_episode_steps, (int, np.integer)) \
                or self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be a positive integer; got {self.max_episode_steps!r}")

    def sample_task(self, rng: np.random.Generator) -> NavigationTask:
        return NavigationTask(goal=tuple(float(v) for v in sample_goals(1, rng)[0]))

    def features(self, task: NavigationTask) -> np.ndarray:
        self._check_task(task)
        return np.array(task.goal, dtype=float)

    def make_env(self, task: NavigationTask, render_mode: str | None = None) -> gym.Env:
        self._check_task(task)
        return Navigation2DEnv(goal=task.goal, max_episode_steps=self.max_episode_steps)
