"""The two-goal room of lesson 05: a task family whose best discount depends on the task's features.

Take the small reward close by, or walk to the large one far away? The answer depends on the steps left, so
the best ``gamma`` of a tabular Q-learner is a function of the task's horizon and near reward: the family on which
:mod:`metarl_edu.studies.hyperparams` learns hyperparameters from task features. It has the interface of
:class:`~metarl_edu.envs.tasks.TaskFamily`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import TimeLimit

from metarl_edu._checks import check_int, check_range
from metarl_edu.envs.gridworld import GridWorld, parse_layout
from metarl_edu.envs.tabular import TabularMDPEnv
from metarl_edu.envs.tasks import TaskFamily, distances_from_start
from metarl_edu.mdp import TabularMDP

__all__ = ["TWO_GOALS_ROOM", "TwoGoalsFamily", "TwoGoalsTask"]


TWO_GOALS_ROOM = """
    #######
    #S.G..#
    #.....#
    #..#..#
    #.....#
    #....G#
    #######
"""


@dataclass(frozen=True)
class TwoGoalsTask:
    """A two-goal room played for a fixed number of steps.

    Attributes:
        horizon: steps per episode (the step budget), >= 1.
        near_reward: reward in [0, 1] for entering the goal near the start; the far goal pays 1.
        slip: probability in [0, 1] that a move goes to one of the two perpendicular directions.
    """

    horizon: int
    near_reward: float
    slip: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "horizon", check_int("horizon", self.horizon, low=1))
        for name in ("near_reward", "slip"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)  # frozen: normalise once, here


@dataclass(frozen=True)
class TwoGoalsFamily(TaskFamily):
    """Take the small reward close by, or walk to the large one far away? It depends on the steps left.

    A room with two terminal goals: the one nearer to the start pays ``near_reward``, the other pays 1. An episode
    ends at a goal or after ``horizon`` steps, and nothing is discounted: a task's return is the sum of its
    rewards within the step budget (gamma = 1, as in :class:`~metarl_edu.envs.tasks.RandomMDPFamily`). In the
    default room the near goal is 2 moves from the start and the far one 8, so without slip the far goal is worth
    the walk exactly when ``horizon >= 8``; slip makes every walk longer and the choice closer.

    A tabular Q-learner does not see the clock, so one stationary policy must serve the whole budget. Its
    bootstrap discount decides which goal it learns to prefer: entering the far goal is worth
    ``gamma^(d_far - 1)`` from the start, the near one ``near_reward * gamma^(d_near - 1)``. So the best discount
    for a task depends on its horizon and near reward, which are features a model can read: the family of
    lesson 05.

    Attributes:
        layout: ASCII art (or a name of :data:`~metarl_edu.envs.gridworld.LAYOUTS`) with a start ``S`` and exactly
            two goals ``G`` at different distances from it. Default :data:`TWO_GOALS_ROOM` (7 x 7).
        horizon_range: (lo, hi) integers, 1 <= lo <= hi; the horizon is uniform over lo..hi. Default (3, 30).
        near_reward_range: (lo, hi) with 0 <= lo <= hi <= 1. Default (0.1, 0.6).
        slip_range: (lo, hi) with 0 <= lo <= hi <= 1. Default (0, 0.3).

    Features: ``horizon``, ``near_reward`` and ``slip``.

    Set on construction: ``near_goal`` and ``far_goal`` (``(row, col)``), ``goal_distances`` (fewest moves from
    the start to each, near first), ``n_states`` and ``n_actions``.
    """

    layout: str = TWO_GOALS_ROOM
    horizon_range: tuple[int, int] = (3, 30)
    near_reward_range: tuple[float, float] = (0.1, 0.6)
    slip_range: tuple[float, float] = (0.0, 0.3)

    task_type: ClassVar[type] = TwoGoalsTask
    feature_names: ClassVar[tuple[str, ...]] = ("horizon", "near_reward", "slip")
    tabular: ClassVar[bool] = True

    def __post_init__(self) -> None:
        rows = parse_layout(self.layout)
        distances = distances_from_start(rows)
        goals = [(r, c) for r, line in enumerate(rows) for c, char in enumerate(line) if char == "G"]
        if len(goals) != 2 or not all(goal in distances for goal in goals):
            raise ValueError(f"the layout needs exactly two goals 'G' reachable from the start; found {len(goals)} "
                             f"goal(s) at {goals}")
        near, far = sorted(goals, key=distances.__getitem__)
        if distances[near] == distances[far]:
            raise ValueError(f"the two goals are both {distances[near]} moves from the start; put one nearer")
        lo, hi = self.horizon_range
        if not (check_int("horizon_range[0]", lo, low=1) <= check_int("horizon_range[1]", hi, low=1)):
            raise ValueError(f"horizon_range must be (lo, hi) with 1 <= lo <= hi; got {self.horizon_range!r}")
        object.__setattr__(self, "horizon_range", (int(lo), int(hi)))
        for name in ("near_reward_range", "slip_range"):
            object.__setattr__(self, name, check_range(name, getattr(self, name), 0.0, 1.0))
        object.__setattr__(self, "_rows", rows)
        object.__setattr__(self, "near_goal", near)
        object.__setattr__(self, "far_goal", far)
        object.__setattr__(self, "goal_distances", (distances[near], distances[far]))
        object.__setattr__(self, "n_states", self.grid(TwoGoalsTask(1, 0.0, 0.0)).n_states)

    @property
    def n_actions(self) -> int:
        """A = 4: up, right, down, left."""
        return 4

    def sample_task(self, rng: np.random.Generator) -> TwoGoalsTask:
        horizon = int(rng.integers(self.horizon_range[0], self.horizon_range[1] + 1))
        near_reward = float(rng.uniform(*self.near_reward_range))
        return TwoGoalsTask(horizon=horizon, near_reward=near_reward, slip=float(rng.uniform(*self.slip_range)))

    def grid(self, task: TwoGoalsTask) -> GridWorld:
        """The room as a :class:`~metarl_edu.envs.gridworld.GridWorld` (both goals paying 1, gamma = 1)."""
        self._check_task(task)
        return GridWorld(self._rows, task.slip, step_reward=0.0, goal_reward=1.0, gamma=1.0)

    def features(self, task: TwoGoalsTask) -> np.ndarray:
        self._check_task(task)
        return np.array([task.horizon, task.near_reward, task.slip], dtype=float)

    def to_mdp(self, task: TwoGoalsTask) -> TabularMDP:
        """The task's MDP: the grid's, with ``near_reward`` for entering the near goal; gamma = 1.

        Its horizon is ``task.horizon``: evaluate it with ``finite_horizon_value(mdp, task.horizon)``.
        """
        grid = self.grid(task)
        mdp = grid.mdp
        R = mdp.R.copy()
        R[:, :, grid.state_of(*self.near_goal)] = task.near_reward
        R[mdp.terminal] = 0.0  # the absorbing rows of the goals pay nothing: the episode is over there
        return TabularMDP(P=mdp.P, R=R, gamma=1.0, terminal=mdp.terminal, start=mdp.start,
                          state_names=mdp.state_names, action_names=mdp.action_names)

    def make_env(self, task: TwoGoalsTask, render_mode: str | None = None) -> gym.Env:
        """A :class:`~metarl_edu.envs.tabular.TabularMDPEnv` of :meth:`to_mdp`, truncated after ``horizon``."""
        return TimeLimit(TabularMDPEnv(self.to_mdp(task), render_mode=render_mode), max_episode_steps=task.horizon)
