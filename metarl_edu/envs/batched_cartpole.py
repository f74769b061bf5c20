"""CartPole with per-task physics, a meta-batch of tasks x trajectories stepped as one tensor operation.

Every row follows :class:`~metarl_edu.envs.cartpole.CartPoleTaskEnv` (Gymnasium's CartPole equations, Euler
integration, float64 state, float32 observations) with its own task's pole length, pole mass and gravity. A test
steps it against the single env from the same states with the same actions.

====================  ===========================  ==========================================
symbol                shape                        meaning
====================  ===========================  ==========================================
``state``             (n_tasks, n_traj, 4)         x, x_dot, theta, theta_dot (float64)
action ``a``          (n_tasks, n_traj)            0 push left, 1 push right
``r``                 (n_tasks, n_traj)            1 on every step of a running row, 0 on finished rows
``terminated``        (n_tasks, n_traj) bool       the pole fell or the cart left the track on this step
``truncated``         (n_tasks, n_traj) bool       the time limit ended the episode on this step
``done``              (n_tasks, n_traj) bool       finished on this step or before
====================  ===========================  ==========================================
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from metarl_edu.envs.cartpole import CartPoleTask


class BatchedCartPole:
    """``tasks`` x ``n_traj`` CartPoles stepped together; row ``(i, j)`` plays ``tasks[i]``.

    A finished row no longer moves, earns 0 and reports neither terminated nor truncated again.

    Args:
        tasks: the physics of each task, a list of :class:`CartPoleTask`.
        n_traj: positive number of trajectories per task.
        max_episode_steps: time limit, >= 1 (CartPole-v1: 500).
        generator: draws the initial states, uniform in [-0.05, 0.05]^4 as in Gymnasium.
    """

    def __init__(self, tasks: list[CartPoleTask], n_traj: int, max_episode_steps: int = 500,
                 generator: torch.Generator | None = None) -> None:
        if not tasks or not all(isinstance(t, CartPoleTask) for t in tasks):
            raise ValueError(f"tasks must be a non-empty list of CartPoleTask; got {tasks!r}")
        for name, value in (("n_traj", n_traj), ("max_episode_steps", max_episode_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        single = CartPoleEnv()
        self.observation_space, self.action_space = single.observation_space, single.action_space  # of one row
        self.force_mag, self.tau, self.masscart = single.force_mag, single.tau, single.masscart
        self.x_threshold, self.theta_threshold = single.x_threshold, single.theta_threshold_radians

        def column(name: str) -> torch.Tensor:  # (n_tasks, 1): broadcast over the trajectories
            return torch.tensor([getattr(t, name) for t in tasks], dtype=torch.float64).unsqueeze(1)

        self.length, self.masspole, self.gravity = column("length"), column("masspole"), column("gravity")
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length
        self.n_traj, self.max_episode_steps = n_traj, max_episode_steps
        self.generator = generator or torch.Generator().manual_seed(0)
        self.batch_shape = (len(tasks), n_traj)
        self.state: torch.Tensor | None = None
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0

    def reset(self) -> torch.Tensor:
        """Every row at a state uniform in [-0.05, 0.05]^4; returns observations (n_tasks, n_traj, 4), float32."""
        u = torch.rand((*self.batch_shape, 4), generator=self.generator, dtype=torch.float64)
        self.state = -0.05 + 0.1 * u
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
        force = torch.where(a == 1, self.force_mag, -self.force_mag).double()
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

