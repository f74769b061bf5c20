"""A Gymnasium environment that plays out any :class:`~metarl_edu.mdp.TabularMDP`.

The MDP is the data; this environment only samples from it, so the exact answers of dynamic programming
(``policy_evaluation``, ``value_iteration``) are always available for the same task an agent learns from.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces

from metarl_edu.mdp import TabularMDP


class TabularMDPEnv(gym.Env):
    """Sample episodes from a finite MDP given as arrays.

    ## Description
    Each step draws ``s_next ~ P[s, a, :]`` from ``mdp.P`` and pays the MDP's reward: ``R[s, a]`` when ``R``
    has shape (S, A), ``R[s, a, s_next]`` when it has shape (S, A, S).

    ## Action Space
    ``Discrete(A)``: the action index ``a`` in ``[0, A)`` (names in ``mdp.action_names`` when given).

    ## Observation Space
    ``Discrete(S)``: the state index ``s`` in ``[0, S)`` (names in ``mdp.state_names`` when given).

    ## Starting State
    Drawn from ``mdp.start``.

    ## Reward
    As above; the reward of the transition *into* a terminal state is paid.

    ## Episode End
    Terminated when ``s_next`` is a terminal state (``mdp.terminal[s_next]``). This environment never
    truncates; wrap it in ``gymnasium.wrappers.TimeLimit`` (``gym.make`` does with ``max_episode_steps``)
    when an MDP has policies that never terminate.

    Args:
        mdp: the MDP to play out. Available afterwards as ``env.mdp``.
        render_mode: ``None`` or ``"ansi"`` (a line of text with the current state and the last step).

    >>> import numpy as np
    >>> P = np.zeros((2, 1, 2)); P[:, 0, 1] = 1.0
    >>> env = TabularMDPEnv(TabularMDP(P=P, R=[[1.0], [0.0]], gamma=1.0, terminal=[False, True]))
    >>> env.reset(seed=0)
    (0, {})
    >>> env.step(0)
    (1, 1.0, True, False, {})
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, mdp: TabularMDP, render_mode: str | None = None) -> None:
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"mdp must be a metarl_edu.TabularMDP; got {type(mdp).__name__}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}; got {render_mode!r}"
            )
        self.mdp = mdp
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(mdp.n_states)
        self.action_space = spaces.Discrete(mdp.n_actions)
        self.s: int | None = None  # None until the first reset
        self.terminated = False
        self.last_step: tuple[int, float] | None = None  # (a, r) of the latest step, for rendering

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        """Start an episode: ``s_0 ~ mdp.start``. Returns ``(s_0, {})``."""
        super().reset(seed=seed)
        self.s = self.mdp.sample_start(self.np_random)
        self.terminated = False
        self.last_step = None
        return self.s, {}

    def step(self, a: Any) -> tuple[int, float, bool, bool, dict]:
        """Take action ``a``. Returns ``(s_next, r, terminated, truncated=False, {})``."""
        if self.s is None:
            raise RuntimeError("call reset() before step(): the episode has not started")
        if self.terminated:
            raise RuntimeError("the episode has terminated; call reset() to start a new one before step()")
        if not self.action_space.contains(a):
            raise ValueError(
                f"invalid action {a!r}: actions are integers in [0, {self.mdp.n_actions})"
                + (f" meaning {list(self.mdp.action_names)}" if self.mdp.action_names else "")
            )
        s_next, r, terminated = self.mdp.sample_transition(self.s, int(a), self.np_random)
        self.s, self.terminated, self.last_step = s_next, terminated, (int(a), r)
        return s_next, r, terminated, False, {}

    def render(self) -> str | None:
        """With ``render_mode="ansi"``: a line such as ``"state 3 (after action 1, reward -1)"``."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='ansi' to the constructor"
            )
            return None
        if self.s is None:
            return "not started: call reset()\n"
        text = f"state {self._state_name(self.s)}"
        if self.last_step is not None:
            a, r = self.last_step
            text += f" (after action {self._action_name(a)}, reward {r:g})"
        if self.terminated:
            text += " [terminated]"
        return text + "\n"

    def _state_name(self, s: int) -> str:
        return self.mdp.state_names[s] if self.mdp.state_names else str(s)

    def _action_name(self, a: int) -> str:
        return self.mdp.action_names[a] if self.mdp.action_names else str(a)
