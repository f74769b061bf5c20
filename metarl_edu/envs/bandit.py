"""A Bernoulli multi-armed bandit as a Gymnasium environment.

Arm ``a`` pays 1 with probability ``means[a]`` and 0 otherwise. The means are the task; an agent never sees them.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class BernoulliBanditEnv(gym.Env):
    """Pull one of k arms; arm ``a`` pays 1 with probability ``means[a]``, else 0.

    ## Description
    A k-armed Bernoulli bandit (Sutton & Barto 2018, chapter 2). There is no state to observe: the only thing that
    changes is what the agent has learned about the arms.

    ## Action Space
    ``Discrete(k)``: the arm to pull.

    ## Observation Space
    ``Discrete(1)``: always 0 (a placeholder; bandits have a single state).

    ## Starting State
    Observation 0.

    ## Reward
    ``r ~ Bernoulli(means[a])``: 1.0 or 0.0.

    ## Episode End
    Never terminated. Truncated after ``horizon`` pulls when ``horizon`` is given (a trial of RL^2's bandit
    experiments, Duan et al. 2016); otherwise the episode goes on until the caller stops.

    ## References
    Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., 2018, chapter 2.
    Duan et al. (2016), *RL^2: Fast Reinforcement Learning via Slow Reinforcement Learning*, section 3.1.

    Args:
        means: (k,) success probability of each arm, each in [0, 1]; k >= 1.
        horizon: number of pulls per episode (>= 1), or ``None`` for no limit.
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, means: Any, horizon: int | None = None, render_mode: str | None = None) -> None:
        means = np.asarray(means, dtype=float)
        if means.ndim != 1 or means.size == 0:
            raise ValueError(f"means must be a 1-D array with one entry per arm (k >= 1); got shape {means.shape}")
        if not np.all((means >= 0) & (means <= 1)):  # also rejects nan
            bad = int(np.flatnonzero(~((means >= 0) & (means <= 1)))[0])
            raise ValueError(f"means are probabilities in [0, 1]; arm {bad} has mean {means[bad]!r}")
        if horizon is not None and (isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1):
            raise ValueError(f"horizon must be a positive integer or None; got {horizon!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}; got {render_mode!r}")
        means.setflags(write=False)
        self.means = means
        self.horizon = None if horizon is None else int(horizon)
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(means.size)
        self.observation_space = spaces.Discrete(1)
        self.t = 0  # pulls so far in this episode
        self.last_step: tuple[int, float] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        """Start an episode. Returns ``(0, {})``."""
        super().reset(seed=seed)
        self.t = 0
        self.last_step = None
        return 0, {}

    def step(self, a: Any) -> tuple[int, float, bool, bool, dict]:
        """Pull arm ``a``. Returns ``(0, r, terminated=False, truncated, {})``."""
        if not self.action_space.contains(a):
            raise ValueError(f"invalid action {a!r}: arms are integers in [0, {self.means.size})")
        r = float(self.np_random.random() < self.means[int(a)])
        self.t += 1
        self.last_step = (int(a), r)
        # The trial is cut off, not ended by the bandit itself: truncated, never terminated.
        truncated = self.horizon is not None and self.t >= self.horizon
        return 0, r, False, truncated, {}

    def render(self) -> str | None:
        """With ``render_mode="ansi"``: a line such as ``"pull 3: arm 1, reward 1"``."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' to the constructor")
            return None
        if self.last_step is None:
            return f"{self.means.size}-armed bandit, no pull yet\n"
        a, r = self.last_step
        return f"pull {self.t}: arm {a}, reward {r:g}\n"
