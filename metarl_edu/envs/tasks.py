"""Task distributions: families of related tasks to meta-learn from.

A *task family* is a distribution p(T) over tasks. Every family here has the same small interface:

    tasks = family.sample(n, rng)        # n tasks drawn with the np.random.Generator you pass
    x = family.features(task)            # (F,) what a hyperparameter model may see before training
    family.feature_names                 # the F names, in order
    X = family.feature_matrix(tasks)     # (n, F)
    env = family.make_env(task)          # a Gymnasium env that plays the task, time limit included
    mdp = family.to_mdp(task)            # the exact TabularMDP (tabular families; S is the same for every task)

A task is a frozen dataclass of its parameters. Two tasks are equal when every parameter is equal
(:func:`task_key`); that is what keeps meta-train and meta-test tasks apart in :mod:`metarl_edu.evaluation`.

====================  ==============================  ====================================  ===================
family                task                            what varies                           exact MDP
====================  ==============================  ====================================  ===================
``GridWorldFamily``   ``GridTask``                    goal cell; slip ~ U[lo, hi]           yes, S fixed
``FrozenLakeFamily``  ``FrozenLakeTask``              hole probability ~ U[lo, hi]; map     yes, S = size^2
``RandomMDPFamily``   ``RandomMDPTask``               P ~ Dirichlet(1), means ~ N(1, 1)     yes, S = 10
``BanditFamily``      ``BanditTask``                  arm means ~ U[0, 1]                   no: an env only
``CartPoleFamily``    ``CartPoleTask``                pole length, pole mass, gravity       no: continuous
====================  ==============================  ====================================  ===================

References: Duan et al. (2016), *RL^2: Fast Reinforcement Learning via Slow Reinforcement Learning* (random MDPs,
bandits). Finn, Abbeel & Levine (2017), *Model-Agnostic Meta-Learning* (task distributions p(T)).

Lesson 05's two-goal room, a family made for its hyperparameter study, is
:class:`metarl_edu.studies.two_goals.TwoGoalsFamily`.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv, generate_random_map

from metarl_edu._checks import check_distribution_rows, check_int, check_probability, check_range
from metarl_edu.envs.bandit import BernoulliBanditEnv
from metarl_edu.envs.cartpole import DEFAULT_GRAVITY, DEFAULT_LENGTH, DEFAULT_MASSPOLE, CartPoleTask
from metarl_edu.envs.gridworld import MOVES, GridWorld, parse_layout
from metarl_edu.envs.random_mdp import RandomMDPEnv
from metarl_edu.mdp import MDPError, TabularMDP

__all__ = [
    "BanditFamily",
    "BanditTask",
    "CartPoleFamily",
    "CartPoleTask",
    "FrozenLakeFamily",
    "FrozenLakeTask",
    "GridTask",
    "GridWorldFamily",
    "RandomMDPFamily",
    "RandomMDPTask",
    "TaskFamily",
    "task_key",
]


# ============================================================================================ the interface
def task_key(task: Any) -> tuple:
    """A hashable value that is equal for two tasks exactly when their type and every parameter are equal.

    Arrays compare by shape, dtype and bytes, so two tasks with identical arrays have the same key. Fields declared
    with ``compare=False`` say how a task was made, not what it is, and are left out, as ``==`` leaves them out
    (:class:`FrozenLakeTask`'s ``hole_prob`` and ``map_seed``: the map alone is the task).

    >>> task_key(GridTask(goal=(1, 2), slip=0.1)) == task_key(GridTask(goal=(1, 2), slip=0.1))
    True
    """
    if not dataclasses.is_dataclass(task) or isinstance(task, type):
        raise TypeError(f"a task is a dataclass instance (GridTask, FrozenLakeTask, ...); got {type(task).__name__}")

    def freeze(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return ("ndarray", value.shape, value.dtype.str, value.tobytes())
        if isinstance(value, (list, tuple)):
            return tuple(freeze(v) for v in value)
        return value

    return (type(task).__name__, *(freeze(getattr(task, f.name)) for f in dataclasses.fields(task) if f.compare))


class TaskFamily(ABC):
    """A distribution over tasks: sample tasks, describe them by features, and play them.

    Subclasses are frozen dataclasses whose fields are the family's settings (ranges, sizes), documented with
    their allowed values. They set ``task_type`` and ``feature_names`` and implement :meth:`sample_task`,
    :meth:`features` and :meth:`make_env`; tabular families also :meth:`to_mdp`, ``n_states`` and ``n_actions``.
    """

    task_type: ClassVar[type]
    feature_names: ClassVar[tuple[str, ...]]
    tabular: ClassVar[bool] = False

    @abstractmethod
    def sample_task(self, rng: np.random.Generator) -> Any:
        """Draw one task with ``rng``."""

    @abstractmethod
    def features(self, task: Any) -> np.ndarray:
        """The task's feature vector, shape (F,) with F = len(feature_names)."""

    @abstractmethod
    def make_env(self, task: Any, render_mode: str | None = None) -> gym.Env:
        """A Gymnasium environment that plays ``task`` (with a time limit, so every episode ends)."""

    def sample(self, n: int, rng: np.random.Generator) -> list[Any]:
        """Draw ``n`` tasks i.i.d. from the family. Task ``i`` uses the same draws whatever ``n`` is, so
        ``sample(3, rng)`` is the first three of ``sample(5, rng)`` for generators in the same state."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy Generator, for example np.random.default_rng(0); got {type(rng).__name__}"
            )
        return [self.sample_task(rng) for _ in range(check_int("n (the number of tasks)", n, low=0))]

    def feature_matrix(self, tasks: list[Any]) -> np.ndarray:
        """Features of many tasks stacked: shape (n_tasks, F)."""
        X = np.array([self.features(task) for task in tasks], dtype=float)
        return X.reshape(len(tasks), len(self.feature_names))

    def to_mdp(self, task: Any) -> TabularMDP:
        """The task's exact :class:`TabularMDP` (tabular families only)."""
        raise TypeError(
            f"{type(self).__name__} has no exact TabularMDP (its tasks are not finite MDPs with known arrays); "
            "use make_env(task) to play a task"
        )

    def _check_task(self, task: Any) -> None:
        if not isinstance(task, self.task_type):
            raise TypeError(f"{type(self).__name__} plays {self.task_type.__name__}s; got a {type(task).__name__}")


def distances_from_start(rows: tuple[str, ...]) -> dict[tuple[int, int], int]:
    """Fewest moves (up, right, down, left) from an ``S`` cell to each cell of a layout, by breadth-first search.

    Walls ``#`` are never entered; terminal cells (``G`` goal, ``P`` pit, ``H`` hole) are reached but not passed
    through, since the episode ends there. Unreachable cells are absent from the result.
    """
    frontier = [(r, c) for r, line in enumerate(rows) for c, char in enumerate(line) if char == "S"]
    dist = dict.fromkeys(frontier, 0)
    while frontier:
        next_frontier = []
        for r, c in frontier:
            if rows[r][c] in "GPH":
                continue
            for d_row, d_col in MOVES:
                cell = (r + d_row, c + d_col)
                if 0 <= cell[0] < len(rows) and 0 <= cell[1] < len(rows[0]) and rows[cell[0]][cell[1]] != "#":
                    if cell not in dist:
                        dist[cell] = dist[(r, c)] + 1
                        next_frontier.append(cell)
        frontier = next_frontier
    return dist


# ============================================================================================ gridworlds
ROOM = """
    #######
    #S....#
    #.....#
    #..#..#
    #.....#
    #.....#
    #######
"""


@dataclass(frozen=True)
class GridTask:
    """A gridworld task: where the goal is and how slippery the floor is.

    Attributes:
        goal: ``(row, col)`` of the goal cell in the family's layout.
        slip: probability in [0, 1] that a move goes to one of the two perpendicular directions.
    """

    goal: tuple[int, int]
    slip: float

    def __post_init__(self) -> None:
        goal = tuple(int(x) for x in self.goal)
        if len(goal) != 2:
            raise ValueError(f"goal must be a (row, col) pair; got {self.goal!r}")
        if not 0.0 <= float(self.slip) <= 1.0:
            raise ValueError(f"slip must be in [0, 1]; got {self.slip!r}")
        object.__setattr__(self, "goal", goal)  # frozen: normalise once, here
        object.__setattr__(self, "slip", float(self.slip))


@dataclass(frozen=True)
class GridWorldFamily(TaskFamily):
    """Gridworlds on one layout with the goal on a random floor cell and a random slip probability.

    Every task has the same cells, so the same number of states S; the goal cell is uniform over the floor cells
    ``.`` reachable from the start, and ``slip ~ U[slip_range]``.

    Attributes:
        layout: ASCII art or a name of :data:`~metarl_edu.envs.gridworld.LAYOUTS`, with a start ``S`` and no goal
            ``G`` (the task places it). Default :data:`ROOM`, 7 x 7 with 24 floor cells.
        slip_range: (lo, hi) with 0 <= lo <= hi <= 1. Default (0, 0.4).
        step_reward, goal_reward, pit_reward: as in :class:`~metarl_edu.envs.gridworld.GridWorld`.
        gamma: discount in [0, 1] of the task's MDP. Default 0.95.
        max_episode_steps: time limit of ``make_env``'s episodes, >= 1. Default 100.

    Features: ``slip``, ``goal_row``, ``goal_col`` and ``goal_distance`` (fewest moves from the start to the goal
    without slipping).

    Set on construction: ``goal_cells`` (the possible goals, ``(row, col)`` each), ``n_states`` and ``n_actions``.
    """

    layout: str = ROOM
    slip_range: tuple[float, float] = (0.0, 0.4)
    step_reward: float = 0.0
    goal_reward: float = 1.0
    pit_reward: float = -1.0
    gamma: float = 0.95
    max_episode_steps: int = 100

    task_type: ClassVar[type] = GridTask
    feature_names: ClassVar[tuple[str, ...]] = ("slip", "goal_row", "goal_col", "goal_distance")
    tabular: ClassVar[bool] = True

    def __post_init__(self) -> None:
        rows = parse_layout(self.layout)
        if any("G" in line for line in rows):
            raise ValueError("the layout of a GridWorldFamily must have no goal 'G': each task places its own")
        distances = distances_from_start(rows)
        goal_cells = tuple(sorted(cell for cell in distances if rows[cell[0]][cell[1]] == "."))
        if not goal_cells:
            raise ValueError("the layout has no floor cell '.' reachable from the start 'S' to put a goal on")
        object.__setattr__(self, "slip_range", check_range("slip_range", self.slip_range, 0.0, 1.0))
        object.__setattr__(self, "max_episode_steps", check_int("max_episode_steps", self.max_episode_steps, low=1))
        object.__setattr__(self, "_rows", rows)
        object.__setattr__(self, "goal_cells", goal_cells)  # (row, col) of every possible goal
        object.__setattr__(self, "n_states", self.grid(GridTask(goal_cells[0], 0.0)).n_states)

    @property
    def n_actions(self) -> int:
        """A = 4: up, right, down, left."""
        return 4

    def sample_task(self, rng: np.random.Generator) -> GridTask:
        goal = self.goal_cells[int(rng.integers(len(self.goal_cells)))]
        return GridTask(goal=goal, slip=float(rng.uniform(*self.slip_range)))

    def task_layout(self, task: GridTask) -> tuple[str, ...]:
        """The family's layout with a ``G`` drawn at the task's goal cell."""
        self._check_task(task)
        if task.goal not in self.goal_cells:
            raise ValueError(f"goal {task.goal} is not a reachable floor cell of this layout; use one of goal_cells")
        r, c = task.goal
        rows = list(self._rows)
        rows[r] = rows[r][:c] + "G" + rows[r][c + 1 :]
        return tuple(rows)

    def grid(self, task: GridTask) -> GridWorld:
        """The task as a :class:`~metarl_edu.envs.gridworld.GridWorld` (layout, dynamics, rewards and MDP)."""
        return GridWorld(
            self.task_layout(task), task.slip, self.step_reward, self.goal_reward, self.pit_reward, self.gamma
        )

    def features(self, task: GridTask) -> np.ndarray:
        distance = distances_from_start(self.task_layout(task))[task.goal]
        return np.array([task.slip, task.goal[0], task.goal[1], distance], dtype=float)

    def to_mdp(self, task: GridTask) -> TabularMDP:
        return self.grid(task).mdp

    def make_env(self, task: GridTask, render_mode: str | None = None) -> gym.Env:
        grid = self.grid(task)
        return gym.make(
            "metarl_edu/GridWorld-v0",
            layout="\n".join(grid.layout),
            slip=task.slip,
            step_reward=self.step_reward,
            goal_reward=self.goal_reward,
            pit_reward=self.pit_reward,
            render_mode=render_mode,
            max_episode_steps=self.max_episode_steps,
        )


# ============================================================================================ FrozenLake
@dataclass(frozen=True)
class FrozenLakeTask:
    """A FrozenLake map and how it was made.

    Attributes:
        desc: the map, one string per row: ``S`` start (top left), ``F`` frozen, ``H`` hole, ``G`` goal.
        hole_prob: the probability in [0, 1) that the generator made each cell a hole (Gymnasium's ``1 - p``).
        map_seed: the seed given to ``generate_random_map``; ``desc`` is its output for ``hole_prob``.

    The map is the task: two tasks with the same ``desc`` are equal (``==``, :func:`task_key`) whatever made them,
    since small maps often come out the same (every 4 x 4 map with few holes drawn is the lake without holes).
    """

    desc: tuple[str, ...]
    hole_prob: float = dataclasses.field(compare=False)  # how the map was made, not what it is
    map_seed: int = dataclasses.field(compare=False)


@dataclass(frozen=True)
class FrozenLakeFamily(TaskFamily):
    """FrozenLake maps of one size whose hole density varies from task to task.

    A task draws ``hole_prob ~ U[hole_prob_range]`` and a map seed, and builds the map with Gymnasium's
    ``generate_random_map(size, p=1 - hole_prob, seed)``, which redraws until a path from start to goal exists. So
    the realised fraction of holes is a little below ``hole_prob`` (a map with many holes is more often invalid).

    Attributes:
        size: side of the square map, >= 2; every task has S = size^2 states. Default 5.
        hole_prob_range: (lo, hi) with 0 <= lo <= hi <= 0.6. Default (0.05, 0.4). (Denser maps rarely have a
            path, and the generator's redrawing gets slow: about 0.1 s a map at 8 x 8 and 0.7.)
        is_slippery: Gymnasium's slippery ice (the intended move with probability 1/3, each perpendicular move
            with 1/3). Default True.
        gamma: discount in [0, 1] of the task's MDP. Default 0.99.
        max_episode_steps: time limit of ``make_env``'s episodes, >= 1. Default 100.

    Features: ``hole_prob``, ``hole_fraction`` (holes / cells in the map) and ``path_length`` (fewest moves from
    start to goal around the holes).
    """

    size: int = 5
    hole_prob_range: tuple[float, float] = (0.05, 0.4)
    is_slippery: bool = True
    gamma: float = 0.99
    max_episode_steps: int = 100

    task_type: ClassVar[type] = FrozenLakeTask
    feature_names: ClassVar[tuple[str, ...]] = ("hole_prob", "hole_fraction", "path_length")
    tabular: ClassVar[bool] = True

    def __post_init__(self) -> None:
        size = check_int("size", self.size, low=1)
        if size < 2:
            raise ValueError(f"size must be at least 2 (start and goal need their own cells); got {size}")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "hole_prob_range", check_range("hole_prob_range", self.hole_prob_range, 0.0, 0.6))
        object.__setattr__(self, "max_episode_steps", check_int("max_episode_steps", self.max_episode_steps, low=1))

    @property
    def n_states(self) -> int:
        """S = size^2, one state per cell."""
        return self.size**2

    @property
    def n_actions(self) -> int:
        """A = 4: left, down, right, up (Gymnasium's FrozenLake order)."""
        return 4

    def sample_task(self, rng: np.random.Generator) -> FrozenLakeTask:
        hole_prob = float(rng.uniform(*self.hole_prob_range))
        map_seed = int(rng.integers(2**31))
        desc = generate_random_map(size=self.size, p=1.0 - hole_prob, seed=map_seed)
        return FrozenLakeTask(desc=tuple(desc), hole_prob=hole_prob, map_seed=map_seed)

    def _check_task(self, task: Any) -> None:
        super()._check_task(task)
        if len(task.desc) != self.size or any(len(row) != self.size for row in task.desc):
            raise ValueError(f"the map of this task is not {self.size} x {self.size}: {task.desc}")

    def features(self, task: FrozenLakeTask) -> np.ndarray:
        self._check_task(task)
        goal = (self.size - 1, self.size - 1)
        hole_fraction = sum(row.count("H") for row in task.desc) / self.size**2
        path_length = distances_from_start(task.desc).get(goal, math.inf)
        return np.array([task.hole_prob, hole_fraction, path_length], dtype=float)

    def to_mdp(self, task: FrozenLakeTask) -> TabularMDP:
        self._check_task(task)
        return TabularMDP.from_gymnasium(FrozenLakeEnv(desc=list(task.desc), is_slippery=self.is_slippery), self.gamma)

    def make_env(self, task: FrozenLakeTask, render_mode: str | None = None) -> gym.Env:
        self._check_task(task)
        return gym.make(
            "FrozenLake-v1",
            desc=list(task.desc),
            is_slippery=self.is_slippery,
            render_mode=render_mode,
            max_episode_steps=self.max_episode_steps,
        )


# ============================================================================================ random MDPs (RL^2)
@dataclass(frozen=True, eq=False)
class RandomMDPTask:
    """A random finite-horizon MDP: its transition table, reward means and horizon.

    Attributes:
        P: (S, A, S) transition probabilities; rows sum to 1.
        reward_mean: (S, A) expected reward of each state-action pair.
        horizon: steps per episode, >= 1.

    Arrays are stored read-only. Equality compares every array entry (:func:`task_key`).
    """

    P: np.ndarray
    reward_mean: np.ndarray
    horizon: int

    def __post_init__(self) -> None:
        P = np.array(self.P, dtype=float)
        reward_mean = np.array(self.reward_mean, dtype=float)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"P must have shape (S, A, S); got {P.shape}")
        if reward_mean.shape != P.shape[:2]:
            raise ValueError(f"reward_mean must have shape (S, A) = {P.shape[:2]}; got {reward_mean.shape}")
        check_distribution_rows("P", P, ("s", "a"), error=MDPError)
        for name, value in (("P", P), ("reward_mean", reward_mean)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)  # frozen: set once, here
        object.__setattr__(self, "horizon", check_int("horizon", self.horizon, low=1))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RandomMDPTask) and task_key(self) == task_key(other)

    def __hash__(self) -> int:
        return hash(task_key(self))


@dataclass(frozen=True)
class RandomMDPFamily(TaskFamily):
    """Random tabular MDPs as in RL^2 (Duan et al. 2016, section 3.2).

    Each task draws every row ``P[s, a] ~ Dirichlet(alpha, ..., alpha)`` (flat for alpha = 1) and every reward
    mean ``reward_mean[s, a] ~ N(reward_mean_loc, reward_mean_scale^2)``; an episode starts in state 0, lasts
    ``horizon`` steps, and each reward is ``N(reward_mean[s, a], reward_std^2)``. Nothing is discounted
    (gamma = 1) and no state is terminal; :func:`~metarl_edu.envs.random_mdp.finite_horizon_value` gives the exact
    optimal return.

    Attributes:
        n_states: S >= 1. Default 10.
        n_actions: A >= 1. Default 5.
        horizon_range: (lo, hi) integers, 1 <= lo <= hi; the horizon is uniform over lo..hi inclusive.
            Default (10, 10): RL^2's fixed horizon.
        dirichlet_alpha: concentration > 0 of the transition rows. Default 1 (flat).
        reward_mean_loc, reward_mean_scale: mean and standard deviation (>= 0) of the reward means. Default 1, 1.
        reward_std: standard deviation (>= 0) of a reward around its mean. Default 1.

    Features: ``horizon`` only. A feature is what a model may see *before* training, and the transitions and
    reward means are exactly what the agent must find out by acting; statistics of them (their average, their
    spread) would hand a hyperparameter model the hidden task.
    """

    n_states: int = 10
    n_actions: int = 5
    horizon_range: tuple[int, int] = (10, 10)
    dirichlet_alpha: float = 1.0
    reward_mean_loc: float = 1.0
    reward_mean_scale: float = 1.0
    reward_std: float = 1.0

    task_type: ClassVar[type] = RandomMDPTask
    feature_names: ClassVar[tuple[str, ...]] = ("horizon",)
    tabular: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name in ("n_states", "n_actions"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), low=1))
        lo, hi = self.horizon_range
        if not (check_int("horizon_range[0]", lo, low=1) <= check_int("horizon_range[1]", hi, low=1)):
            raise ValueError(f"horizon_range must be (lo, hi) with 1 <= lo <= hi; got {self.horizon_range!r}")
        object.__setattr__(self, "horizon_range", (int(lo), int(hi)))
        if not self.dirichlet_alpha > 0:
            raise ValueError(f"dirichlet_alpha must be > 0; got {self.dirichlet_alpha!r}")
        for name in ("reward_mean_scale", "reward_std"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")

    def sample_task(self, rng: np.random.Generator) -> RandomMDPTask:
        S, A = self.n_states, self.n_actions
        P = rng.dirichlet(np.full(S, self.dirichlet_alpha), size=(S, A))  # (S, A, S)
        reward_mean = rng.normal(self.reward_mean_loc, self.reward_mean_scale, size=(S, A))
        horizon = int(rng.integers(self.horizon_range[0], self.horizon_range[1] + 1))
        return RandomMDPTask(P=P, reward_mean=reward_mean, horizon=horizon)

    def _check_task(self, task: Any) -> None:
        super()._check_task(task)
        if task.P.shape[:2] != (self.n_states, self.n_actions):
            raise ValueError(
                f"this family's tasks have (S, A) = {(self.n_states, self.n_actions)}; the task has {task.P.shape[:2]}"
            )

    def features(self, task: RandomMDPTask) -> np.ndarray:
        self._check_task(task)
        return np.array([task.horizon], dtype=float)  # P and the reward means stay hidden: the agent must act

    def to_mdp(self, task: RandomMDPTask) -> TabularMDP:
        """The MDP with R = the reward means, gamma = 1, no terminal state, start in state 0.

        Its horizon is ``task.horizon``: evaluate it with ``finite_horizon_value(mdp, task.horizon)``.
        """
        self._check_task(task)
        start = np.zeros(self.n_states)
        start[0] = 1.0
        return TabularMDP(P=task.P, R=task.reward_mean, gamma=1.0, start=start)

    def make_env(self, task: RandomMDPTask, render_mode: str | None = None) -> gym.Env:
        """A :class:`~metarl_edu.envs.random_mdp.RandomMDPEnv`: Gaussian rewards, truncated after the horizon."""
        mdp = self.to_mdp(task)
        return RandomMDPEnv(mdp, horizon=task.horizon, reward_std=self.reward_std, render_mode=render_mode)


# ============================================================================================ bandits
@dataclass(frozen=True)
class BanditTask:
    """A Bernoulli bandit: ``means[a]`` is the probability in [0, 1] that arm ``a`` pays 1."""

    means: tuple[float, ...]

    def __post_init__(self) -> None:
        means = tuple(float(m) for m in self.means)
        if not means or not all(0.0 <= m <= 1.0 for m in means):
            raise ValueError(f"means must be one or more probabilities in [0, 1]; got {self.means!r}")
        object.__setattr__(self, "means", means)  # frozen: normalise once, here


@dataclass(frozen=True)
class BanditFamily(TaskFamily):
    """Bernoulli bandits with independent arm means ``means[a] ~ U[mean_range]`` (RL^2, Duan et al. 2016, 3.1).

    Attributes:
        n_arms: k >= 1. Default 5.
        horizon: pulls per episode (a "trial"), >= 1. Default 100.
        mean_range: (lo, hi) with 0 <= lo <= hi <= 1. Default (0, 1).

    Features: ``n_arms`` and ``horizon``, the same for every task of a family: a bandit's arms are hidden until
    pulled, so nothing task-specific is known before training.
    """

    n_arms: int = 5
    horizon: int = 100
    mean_range: tuple[float, float] = (0.0, 1.0)

    task_type: ClassVar[type] = BanditTask
    feature_names: ClassVar[tuple[str, ...]] = ("n_arms", "horizon")

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_arms", check_int("n_arms", self.n_arms, low=1))
        object.__setattr__(self, "horizon", check_int("horizon", self.horizon, low=1))
        object.__setattr__(self, "mean_range", check_range("mean_range", self.mean_range, 0.0, 1.0))

    def sample_task(self, rng: np.random.Generator) -> BanditTask:
        return BanditTask(means=tuple(float(m) for m in rng.uniform(*self.mean_range, size=self.n_arms)))

    def features(self, task: BanditTask) -> np.ndarray:
        self._check_task(task)
        return np.array([len(task.means), self.horizon], dtype=float)

    def make_env(self, task: BanditTask, render_mode: str | None = None) -> gym.Env:
        """A :class:`~metarl_edu.envs.bandit.BernoulliBanditEnv` truncated after ``horizon`` pulls."""
        self._check_task(task)
        return BernoulliBanditEnv(task.means, horizon=self.horizon, render_mode=render_mode)


# ============================================================================================ CartPole
@dataclass(frozen=True)
class CartPoleFamily(TaskFamily):
    """CartPole with uniformly drawn physics around Gymnasium's CartPole-v1.

    Each of the three parameters is uniform in its range; the defaults span x0.5 to x2 of CartPole-v1's half pole
    length (0.5 m) and pole mass (0.1 kg), and x0.5 to x1.5 of its gravity (9.8 m/s^2).

    Attributes:
        length_range: HALF the pole length in metres, as Gymnasium's ``CartPoleEnv.length``. Default (0.25, 1.0),
            poles of 0.5 m to 2 m.
        masspole_range: pole mass in kg. Default (0.05, 0.2).
        gravity_range: gravity in m/s^2. Default (4.9, 14.7).
        max_episode_steps: time limit of ``make_env``'s episodes, >= 1. Default 500 (CartPole-v1's).
        mirror_prob: the probability that a task swaps the two actions (:attr:`CartPoleTask.mirrored`), in
            [0, 1]. Default 0: the physics alone vary, and one policy balances every pole (meta-learning has
            little to add). With 0.5, a policy that treats the pushes one way fails on half of the tasks (lesson
            08 probes a meta-trained policy that balances both kinds, reading the mirror from the side of the track
            its pushes carry the cart to: check what a family forces).

    Every range is (lo, hi) with 0 < lo <= hi. Features: ``length``, ``masspole``, ``gravity`` (the mirror is
    hidden).
    """

    length_range: tuple[float, float] = (0.5 * DEFAULT_LENGTH, 2.0 * DEFAULT_LENGTH)
    masspole_range: tuple[float, float] = (0.5 * DEFAULT_MASSPOLE, 2.0 * DEFAULT_MASSPOLE)
    gravity_range: tuple[float, float] = (0.5 * DEFAULT_GRAVITY, 1.5 * DEFAULT_GRAVITY)
    max_episode_steps: int = 500
    mirror_prob: float = 0.0

    task_type: ClassVar[type] = CartPoleTask
    feature_names: ClassVar[tuple[str, ...]] = ("length", "masspole", "gravity")

    def __post_init__(self) -> None:
        for name in ("length_range", "masspole_range", "gravity_range"):
            lo, hi = check_range(name, getattr(self, name), 0.0, math.inf)
            if lo <= 0:
                raise ValueError(f"{name} must be positive: physics needs lo > 0; got {getattr(self, name)!r}")
            object.__setattr__(self, name, (lo, hi))
        object.__setattr__(self, "max_episode_steps", check_int("max_episode_steps", self.max_episode_steps, low=1))
        object.__setattr__(self, "mirror_prob", check_probability("mirror_prob", self.mirror_prob))

    def sample_task(self, rng: np.random.Generator) -> CartPoleTask:
        physics = {"length": float(rng.uniform(*self.length_range)),
                   "masspole": float(rng.uniform(*self.masspole_range)),
                   "gravity": float(rng.uniform(*self.gravity_range))}
        # no draw for the mirror when it cannot happen, so that physics-only task streams stay as they were
        mirrored = bool(rng.random() < self.mirror_prob) if self.mirror_prob > 0 else False
        return CartPoleTask(**physics, mirrored=mirrored)

    def features(self, task: CartPoleTask) -> np.ndarray:
        self._check_task(task)
        return np.array([task.length, task.masspole, task.gravity], dtype=float)

    def make_env(self, task: CartPoleTask, render_mode: str | None = None) -> gym.Env:
        """``gym.make("metarl_edu/CartPoleTasks-v0", task=task)`` with this family's time limit."""
        self._check_task(task)
        return gym.make(
            "metarl_edu/CartPoleTasks-v0", task=task, render_mode=render_mode, max_episode_steps=self.max_episode_steps
        )
