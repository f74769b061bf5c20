"""Finite-horizon tabular MDPs with Gaussian rewards, as in the RL^2 paper, and their exact optimal values.

An episode lasts exactly ``H`` steps and nothing is discounted (``gamma = 1``), so the infinite-horizon tools of
:mod:`metarl_edu.mdp` do not apply: with no terminal state, ``policy_evaluation`` has no finite answer. Backward
induction gives the exact optimum instead (Puterman 1994, section 4.5; Sutton & Barto 2018, section 4.1 with a
time index):

    q_t(s, a) = r(s, a) + gamma * sum_s' P[s, a, s'] * max_a' q_{t+1}(s', a'),     q_H = 0.

References: Duan et al. (2016), *RL^2: Fast Reinforcement Learning via Slow Reinforcement Learning*, section 3.2.
Puterman (1994), *Markov Decision Processes*, chapter 4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metarl_edu.envs.tabular import TabularMDPEnv
from metarl_edu.mdp import MDPError, TabularMDP, q_from_v


def _check_horizon(horizon: Any) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise MDPError(f"horizon must be a non-negative integer (the number of steps); got {horizon!r}")
    return int(horizon)


def finite_horizon_q(mdp: TabularMDP, horizon: int) -> np.ndarray:
    """Optimal action values with a time index, by backward induction.

    ``q[t, s, a]`` is the best expected return of the steps ``t, t+1, ..., H-1`` when action ``a`` is taken in state
    ``s`` at step ``t`` (so ``H - t`` rewards remain):

        q[H-1] = r(s, a),   q[t] = r(s, a) + gamma * P @ max_a' q[t+1]   (terminal next states contribute 0).

    Returns shape (H, S, A). The optimal policy is non-stationary: ``argmax(q[t, s])`` at step ``t``.
    """
    horizon = _check_horizon(horizon)
    q = np.zeros((horizon, mdp.n_states, mdp.n_actions))
    v_next = np.zeros(mdp.n_states)  # nothing is earned after the last step
    for t in reversed(range(horizon)):
        q[t] = q_from_v(mdp, v_next)
        v_next = q[t].max(axis=1)
    return q


def finite_horizon_value(mdp: TabularMDP, horizon: int) -> np.ndarray:
    """v[s]: the optimal expected return of an episode of ``horizon`` steps that starts in ``s``. Shape (S,).

    The optimal expected return of the task is ``mdp.start @ v``.

    >>> P = np.ones((1, 2, 1)); mdp = TabularMDP(P=P, R=[[1.0, 2.0]], gamma=1.0)
    >>> finite_horizon_value(mdp, 3)   # best arm (reward 2) three times
    array([6.])
    """
    q = finite_horizon_q(mdp, horizon)
    return q[0].max(axis=1) if len(q) else np.zeros(mdp.n_states)


class RandomMDPEnv(TabularMDPEnv):
    """Play a tabular MDP for ``horizon`` steps with Gaussian rewards around ``mdp.R``.

    ## Description
    ``s_next ~ P[s, a, :]`` as in :class:`TabularMDPEnv`; the reward is noisy: ``r ~ N(R[s, a], reward_std^2)``.
    With the arrays of :class:`~metarl_edu.envs.tasks.RandomMDPFamily` this is the random-MDP task of RL^2
    (Duan et al. 2016): 10 states, 5 actions, 10 steps, start in state 0.

    ## Action Space
    ``Discrete(A)``.

    ## Observation Space
    ``Discrete(S)``: the state index. The step count is *not* observed.

    ## Starting State
    Drawn from ``mdp.start``.

    ## Reward
    ``R[s, a] + reward_std * N(0, 1)``; its expectation is ``R[s, a]``, so :func:`finite_horizon_value` gives
    the exact optimal expected return.

    ## Episode End
    Truncated after ``horizon`` steps. Terminated only on entering a terminal state of ``mdp`` (RL^2's MDPs have
    none).

    Args:
        mdp: the MDP; ``R`` must have shape (S, A) (the reward means).
        horizon: steps per episode, >= 1.
        reward_std: standard deviation of the reward noise, >= 0 (RL^2: 1).
        render_mode: ``None`` or ``"ansi"``.
    """

    def __init__(self, mdp: TabularMDP, horizon: int, reward_std: float = 1.0, render_mode: str | None = None) -> None:
        super().__init__(mdp, render_mode=render_mode)
        if mdp.R.ndim != 2:
            raise MDPError(f"RandomMDPEnv needs reward means R of shape (S, A); got shape {mdp.R.shape}")
        if _check_horizon(horizon) < 1:
            raise MDPError(f"horizon must be at least 1 step; got {horizon}")
        if not (np.isfinite(reward_std) and reward_std >= 0):
            raise MDPError(f"reward_std must be a finite number >= 0; got {reward_std!r}")
        self.horizon = int(horizon)
        self.reward_std = float(reward_std)
        self.t = 0  # steps taken in this episode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        """Start an episode at step 0: ``s_0 ~ mdp.start``. Returns ``(s_0, {})``."""
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, a: Any) -> tuple[int, float, bool, bool, dict]:
        """Take action ``a``. Returns ``(s_next, r, terminated, truncated, {})``."""
        s_next, r_mean, terminated, _, info = super().step(a)
        r = r_mean + self.reward_std * float(self.np_random.standard_normal())
        self.t += 1
        self.last_step = (int(a), r)
        # The horizon ends the episode, but the step count is not part of the observed state, so no state is
        # terminal: report truncation, as Gymnasium's TimeLimit does. (A learner that bootstraps here values
        # states as if the episode went on; Pardo et al. 2018, "Time Limits in Reinforcement Learning".)
        truncated = self.t >= self.horizon
        return s_next, r, terminated, truncated, info
