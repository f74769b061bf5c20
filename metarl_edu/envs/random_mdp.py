"""Finite-horizon tabular MDPs with Gaussian rewards, as in the RL^2 paper, and their exact optimal values.

An episode lasts exactly ``H`` steps and nothing is discounted (``gamma = 1``), so the infinite-horizon tools of
:mod:`metarl_edu.mdp` do not apply: with no terminal state, ``policy_evaluation`` has no finite answer. Backward
induction (:func:`metarl_edu.mdp.backward_induction`, :func:`~metarl_edu.mdp.finite_horizon_value`) gives the
exact optimum instead.

References: Duan et al. (2016), *RL^2: Fast Reinforcement Learning via Slow Reinforcement Learning*, section 3.2.
Puterman (1994), *Markov Decision Processes*, chapter 4.
"""

from __future__ import annotations

from typing import Any

from metarl_edu._checks import check_int, check_number
from metarl_edu.envs.tabular import TabularMDPEnv
from metarl_edu.mdp import MDPError, TabularMDP


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
    ``R[s, a] + reward_std * N(0, 1)``; its expectation is ``R[s, a]``, so
    :func:`~metarl_edu.mdp.finite_horizon_value` gives the exact optimal expected return.

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
        self.horizon = check_int("horizon", horizon, low=1, error=MDPError)
        self.reward_std = check_number("reward_std", reward_std, low=0.0, error=MDPError)
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
