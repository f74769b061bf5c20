"""Environments that step a whole meta-batch of tasks x trajectories at once, as torch tensors.

Each is the twin of a Gymnasium env of :mod:`metarl_edu.envs`, tested to follow it step for step:

- :class:`BatchedNavigation2D`: :class:`~metarl_edu.envs.navigation.Navigation2DEnv`, one tensor operation a step;
- :class:`BatchedCartPole`: :class:`~metarl_edu.envs.cartpole.CartPoleTaskEnv` with per-task physics;
- :class:`TaskEnvBatch`: any :class:`~metarl_edu.envs.tasks.TaskFamily`, a loop over its Gymnasium envs in lockstep.

They implement what :func:`~metarl_edu.pg.sample_batched_episodes` needs: ``reset()``, ``step(a)``, ``done``,
``max_episode_steps``, and the ``action_space`` of one row. Row ``(i, j)`` is trajectory ``j`` of task ``i``; a
finished row no longer moves, earns 0 and reports neither terminated nor truncated again.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from metarl_edu._checks import check_number
from metarl_edu.envs.cartpole import CartPoleTask
from metarl_edu.envs.navigation import GOAL_RADIUS, MAX_ACTION, MAX_EPISODE_STEPS, Navigation2DEnv, sample_goals
from metarl_edu.envs.tasks import CartPoleFamily, TaskFamily
from metarl_edu.nets import obs_tensor
from metarl_edu.pg import default_max_steps


class BatchedNavigation2D:
    """A meta-batch of 2D navigation tasks x trajectories, stepped as one tensor operation.

    Row ``(i, j)`` is trajectory ``j`` on task ``i`` (goal ``goals[i]``); every row follows exactly the rules
    of :class:`Navigation2DEnv`. Rows end at different times; :attr:`done` says which have, and a finished row
    no longer moves, earns 0 and reports neither terminated nor truncated again.

    ====================  ===========================  ==========================================
    symbol                shape                        meaning
    ====================  ===========================  ==========================================
    ``goals``             (n_tasks, 2)                 one goal per task
    observation ``p``     (n_tasks, n_traj, 2)         positions, float32
    action ``a``          (n_tasks, n_traj, 2)         displacements, clipped to [-0.1, 0.1]
    ``r``                 (n_tasks, n_traj)            -||p_next - g||, 0 on finished rows
    ``terminated``        (n_tasks, n_traj) bool       reached the goal on this step
    ``truncated``         (n_tasks, n_traj) bool       hit the time limit on this step
    ``done``              (n_tasks, n_traj) bool       finished on this step or before
    ====================  ===========================  ==========================================

    >>> env = BatchedNavigation2D(goals=[[0.3, 0.0], [-0.2, 0.4]], n_traj=5)
    >>> env.reset().shape
    torch.Size([2, 5, 2])

    ``observation_space`` and ``action_space`` are those of one row, as in :class:`Navigation2DEnv`.

    Args:
        goals: array-like of shape (n_tasks, 2), e.g. from :func:`sample_goals`.
        n_traj: positive number of trajectories per task.
        max_episode_steps: positive integer horizon (default 100).
    """

    sample_tasks = staticmethod(sample_goals)

    def __init__(self, goals: Any, n_traj: int, max_episode_steps: int = MAX_EPISODE_STEPS) -> None:
        goals = np.asarray(goals, dtype=np.float64)
        if goals.ndim != 2 or goals.shape[1] != 2 or len(goals) == 0 or not np.all(np.isfinite(goals)):
            raise ValueError(f"goals must be finite and of shape (n_tasks, 2); got shape {goals.shape}")
        for name, value in (("n_traj", n_traj), ("max_episode_steps", max_episode_steps)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        self.goals = torch.as_tensor(goals.astype(np.float32))  # float32 first, exactly as Navigation2DEnv
        self._goal_per_row = self.goals.unsqueeze(1)  # (n_tasks, 1, 2), broadcast over trajectories
        self.n_traj = int(n_traj)
        self.max_episode_steps = int(max_episode_steps)
        single = Navigation2DEnv(max_episode_steps=self.max_episode_steps)
        self.observation_space, self.action_space = single.observation_space, single.action_space  # of one row
        self.position: torch.Tensor | None = None
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0

    @property
    def n_tasks(self) -> int:
        return len(self.goals)

    @property
    def batch_shape(self) -> tuple[int, int]:
        """(n_tasks, n_traj)."""
        return (self.n_tasks, self.n_traj)

    def reset(self) -> torch.Tensor:
        """Every row at the origin; returns positions of shape (n_tasks, n_traj, 2)."""
        self.position = torch.zeros((*self.batch_shape, 2), dtype=torch.float32)
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0
        return self.position.clone()

    def step(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Move every unfinished row by ``clip(a, -0.1, 0.1)``. Returns ``(p_next, r, terminated, truncated)``."""
        if self.position is None:
            raise RuntimeError("call reset() before step(): the episodes have not started")
        a = torch.as_tensor(a, dtype=torch.float32)
        if a.shape != (*self.batch_shape, 2):
            raise ValueError(
                f"actions must have shape (n_tasks, n_traj, 2) = {(*self.batch_shape, 2)}; got {tuple(a.shape)}"
            )
        active = ~self.done
        moved = self.position + torch.clamp(a, -MAX_ACTION, MAX_ACTION)
        self.position = torch.where(active.unsqueeze(-1), moved, self.position)  # finished rows stay put
        delta = self.position - self._goal_per_row
        distance = torch.hypot(delta[..., 0], delta[..., 1])  # bit for bit numpy's hypot in Navigation2DEnv
        self.t += 1
        r = torch.where(active, -distance, 0.0)
        terminated = active & (distance < GOAL_RADIUS)
        if self.t < self.max_episode_steps:
            truncated = torch.zeros_like(active)
            self.done = self.done | terminated
        else:
            truncated = active & ~terminated
            self.done = self.done | terminated | truncated
        return self.position.clone(), r, terminated, truncated


class BatchedCartPole:
    """``tasks`` x ``n_traj`` CartPoles stepped together; row ``(i, j)`` plays ``tasks[i]``.

    A finished row no longer moves, earns 0 and reports neither terminated nor truncated again.

    Args:
        tasks: the physics of each task, a list of :class:`CartPoleTask`.
        n_traj: positive number of trajectories per task.
        max_episode_steps: time limit, >= 1 (CartPole-v1: 500).
        generator: draws the initial states, uniform in [-0.05, 0.05]^4 as in Gymnasium.
        cart_position: added to every initial cart position, in metres, inside the track's (-2.4, 2.4); the start
            is jittered by up to 0.05 m and an episode ends once the cart passes 2.4 m. Default 0 (Gymnasium's
            start); lesson 08 starts carts off-centre to see what a policy reads from the position.
    """

    def __init__(self, tasks: list[CartPoleTask], n_traj: int, max_episode_steps: int = 500,
                 generator: torch.Generator | None = None, cart_position: float = 0.0) -> None:
        if not tasks or not all(isinstance(t, CartPoleTask) for t in tasks):
            raise ValueError(f"tasks must be a non-empty list of CartPoleTask; got {tasks!r}")
        for name, value in (("n_traj", n_traj), ("max_episode_steps", max_episode_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        single = CartPoleEnv()
        self.observation_space, self.action_space = single.observation_space, single.action_space  # of one row
        self.force_mag, self.tau, self.masscart = single.force_mag, single.tau, single.masscart
        self.x_threshold, self.theta_threshold = single.x_threshold, single.theta_threshold_radians
        self.cart_position = check_number("cart_position", cart_position, -self.x_threshold, self.x_threshold,
                                          low_open=True, high_open=True)

        def column(name: str) -> torch.Tensor:  # (n_tasks, 1): broadcast over the trajectories
            return torch.tensor([getattr(t, name) for t in tasks], dtype=torch.float64).unsqueeze(1)

        self.length, self.masspole, self.gravity = column("length"), column("masspole"), column("gravity")
        self.mirrored = column("mirrored").bool()  # (n_tasks, 1): the task swaps the two actions
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length
        self.n_traj, self.max_episode_steps = n_traj, max_episode_steps
        self.generator = generator or torch.Generator().manual_seed(0)
        self.batch_shape = (len(tasks), n_traj)
        self.state: torch.Tensor | None = None
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0

    def reset(self) -> torch.Tensor:
        """Every row at a state uniform in [-0.05, 0.05]^4 (the cart shifted by ``cart_position``); returns
        observations (n_tasks, n_traj, 4), float32."""
        u = torch.rand((*self.batch_shape, 4), generator=self.generator, dtype=torch.float64)
        self.state = -0.05 + 0.1 * u
        self.state[..., 0] += self.cart_position
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0
        return self.state.float()

    def step(self, a: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gymnasium's CartPole step on every unfinished row. Returns ``(obs, r, terminated, truncated)``."""
        if self.state is None:
            raise RuntimeError("call reset() before step(): the episodes have not started")
        a = torch.as_tensor(a)
        if a.shape != self.batch_shape:
            raise ValueError(f"actions must have shape (n_tasks, n_traj) = {self.batch_shape}; got {tuple(a.shape)}")
        x, x_dot, theta, theta_dot = self.state.unbind(-1)
        push_right = (a == 1) ^ self.mirrored  # a mirrored task swaps the actions, as CartPoleTaskEnv.step does
        force = torch.where(push_right, self.force_mag, -self.force_mag).double()
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = (force + self.polemass_length * theta_dot**2 * sin) / self.total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos**2 / self.total_mass))
        x_acc = temp - self.polemass_length * theta_acc * cos / self.total_mass
        moved = torch.stack([x + self.tau * x_dot, x_dot + self.tau * x_acc,
                             theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc], dim=-1)
        active = ~self.done
        self.state = torch.where(active.unsqueeze(-1), moved, self.state)  # finished rows stay put
        x, theta = self.state[..., 0], self.state[..., 2]
        self.t += 1
        fell = (x.abs() > self.x_threshold) | (theta.abs() > self.theta_threshold)
        terminated = active & fell
        # The time limit is not part of the task: a row still balancing at step max_episode_steps is truncated.
        truncated = active & ~fell & (self.t >= self.max_episode_steps)
        r = active.float()  # +1 per step, the terminating step included (Gymnasium's default reward)
        self.done = self.done | terminated | truncated
        return self.state.float(), r, terminated, truncated


class TaskEnvBatch:
    """Gymnasium envs of many tasks stepped in lockstep: row ``(i, j)`` is trajectory ``j`` of ``tasks[i]``.

    Implements the batched-env interface of :func:`~metarl_edu.pg.sample_batched_episodes` for any
    :class:`TaskFamily`: one policy forward pass per time step for all rows, one ``env.step`` per active row.
    Finished rows are frozen: they earn 0 and report neither terminated nor truncated again.

    Args:
        family: the task family; ``family.make_env(task)`` plays a task.
        tasks: the n_tasks tasks.
        n_traj: trajectories per task.
        seed: seeds the first reset of every row (through ``np.random.SeedSequence``).
    """

    def __init__(self, family: TaskFamily, tasks: list[Any], n_traj: int, seed: int) -> None:
        self.family, self.tasks, self.n_traj = family, list(tasks), int(n_traj)
        self.envs = [[family.make_env(task) for _ in range(self.n_traj)] for task in self.tasks]
        first = self.envs[0][0]
        self.observation_space, self.action_space = first.observation_space, first.action_space
        self.max_episode_steps = max(default_max_steps(env) for row in self.envs for env in row)
        self.seeds = np.random.SeedSequence(seed).generate_state(len(self.tasks) * self.n_traj).reshape(
            len(self.tasks), self.n_traj)
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0

    @property
    def batch_shape(self) -> tuple[int, int]:
        return (len(self.tasks), self.n_traj)

    def _obs(self, obs: Any) -> torch.Tensor:
        return obs_tensor(self.observation_space, obs)

    def reset(self) -> torch.Tensor:
        obs = [[self._obs(env.reset(seed=int(self.seeds[i, j]))[0]) for j, env in enumerate(row)]
               for i, row in enumerate(self.envs)]
        self.last = torch.stack([torch.stack(row) for row in obs])  # (n_tasks, n_traj, obs_dim)
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0
        return self.last.clone()

    def step(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        discrete = isinstance(self.action_space, gym.spaces.Discrete)
        r = torch.zeros(self.batch_shape)
        terminated = torch.zeros(self.batch_shape, dtype=torch.bool)
        truncated = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t += 1
        for i, j in (~self.done).nonzero().tolist():
            action = int(a[i, j]) if discrete else a[i, j].numpy()
            obs, r_ij, term, trunc, _ = self.envs[i][j].step(action)
            self.last[i, j] = self._obs(obs)
            r[i, j], terminated[i, j] = float(r_ij), bool(term)
            # Every row must end by max_episode_steps: a row still running there is cut by a time limit (truncated).
            truncated[i, j] = bool(trunc) or (not term and self.t >= self.max_episode_steps)
        self.done = self.done | terminated | truncated
        return self.last.clone(), r, terminated, truncated


def batched_env(family: TaskFamily, tasks: list[Any], n_traj: int, seed: int) -> Any:
    """``tasks`` x ``n_traj`` rows stepped together: :class:`BatchedNavigation2D` for 2D navigation,
    :class:`BatchedCartPole` for CartPole physics, else :class:`TaskEnvBatch` (a loop over Gymnasium envs)."""
    from metarl_edu.envs.navigation import Navigation2DFamily

    for task in tasks:
        family._check_task(task)
    if isinstance(family, Navigation2DFamily):
        return BatchedNavigation2D([task.goal for task in tasks], n_traj, family.max_episode_steps)
    if isinstance(family, CartPoleFamily):
        return BatchedCartPole(tasks, n_traj, family.max_episode_steps, torch.Generator().manual_seed(seed))
    return TaskEnvBatch(family, tasks, n_traj, seed)
