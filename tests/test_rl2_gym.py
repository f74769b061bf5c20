"""RL^2 trials on Gymnasium vector envs: the autoreset step reaches neither the agent's memory nor its loss."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from metarl_edu.envs.bandit import BernoulliBanditEnv
from metarl_edu.envs.tabular import TabularMDPEnv
from metarl_edu.fast.tasks import BernoulliBandits
from metarl_edu.mdp import TabularMDP
from metarl_edu.rl2 import RL2Agent, RL2Config, RL2Error, collect_trials
from metarl_edu.rl2_gym import collect_gym_trials

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MEANS = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # deterministic bandits: the same trial in every mode
BANDIT = RL2Config(task="bandit", n_episodes=6, k=2, hidden_size=8, n_tasks=3, n_iterations=1, n_minibatches=1, seed=0)


def bandit_envs(mode: AutoresetMode) -> gym.vector.SyncVectorEnv:
    return gym.vector.SyncVectorEnv([lambda m=m: BernoulliBanditEnv(m, horizon=1) for m in MEANS],
                                    autoreset_mode=mode)


def test_the_autoreset_step_never_reaches_the_agent():
    """With NEXT_STEP autoreset every other call is a reset; the recorded trial must be the one the lockstep
    simulator plays (no reset steps at all) and the one SAME_STEP gives, input for input, state for state."""
    policy = RL2Agent(BANDIT).policy
    rng = np.random.default_rng(0)
    next_step = collect_gym_trials(policy, bandit_envs(AutoresetMode.NEXT_STEP), 6, rng, seed=0, greedy=True)
    same_step = collect_gym_trials(policy, bandit_envs(AutoresetMode.SAME_STEP), 6, rng, seed=0, greedy=True)
    lockstep = collect_trials(policy, BernoulliBandits(MEANS), 6, rng, greedy=True)
    assert next_step.x.shape[0] == 6 and bool((next_step.mask == 1).all())  # 6 pulls; the 5 reset calls dropped
    for batch in (same_step, lockstep):
        for name in ("x", "a", "r", "h", "v"):
            torch.testing.assert_close(getattr(next_step, name), getattr(batch, name))
    # what the agent read after each pull: that pull's arm and reward (never the reset call's reward 0), done = 1
    x = next_step.x
    assert torch.equal(x[1:, :, 1:3].argmax(-1), next_step.a[:-1]) and torch.equal(x[1:, :, 3], next_step.r[:-1])
    assert bool((x[1:, :, 4] == 1).all()) and bool((next_step.r[:, 2] == 1).all())


def ragged_envs() -> gym.vector.SyncVectorEnv:
    """Three copies of a 3-state chain whose episodes end at random times (state 2 is terminal) or after 4 steps;
    every reward is at least 1, so a reset call's reward 0 would show in the inputs."""
    P = np.array([[[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]], [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]], [[0, 0, 1.0], [0, 0, 1.0]]])
    mdp = TabularMDP(P=P, R=[[1.0, 2.0], [3.0, 1.5], [0.0, 0.0]], gamma=1.0, terminal=[False, False, True],
                     start=[1.0, 0.0, 0.0])
    return gym.vector.SyncVectorEnv([lambda: gym.wrappers.TimeLimit(TabularMDPEnv(mdp), 4)] * 3)


def test_trials_of_ragged_episodes_are_packed_and_replay_in_one_pass():
    config = RL2Config(task="mdp", n_episodes=5, n_states=3, n_actions=2, horizon=4, hidden_size=8, n_tasks=3,
                       n_iterations=1, n_minibatches=1, seed=0)
    policy = RL2Agent(config).policy
    batch = collect_gym_trials(policy, ragged_envs(), 5, np.random.default_rng(1), seed=3)
    lengths = batch.mask.sum(0).long()
    assert len(set(lengths.tolist())) > 1  # the rows' trials have different lengths: padding at the end
    for b, n in enumerate(lengths.tolist()):
        assert bool((batch.mask[:n, b] == 1).all()) and bool((batch.mask[n:, b] == 0).all())
        x = batch.x[:n, b]
        assert int(x[1:, -1].sum()) == 4  # 5 episodes: 4 episode ends inside the trial, each seen once by the agent
        assert torch.equal(x[1:, 3:5].argmax(-1), batch.a[:n - 1, b]) and torch.equal(x[1:, 5], batch.r[:n - 1, b])
        assert bool((batch.r[:n, b] >= 1).all())  # no reset call's reward 0 among the steps
    with torch.no_grad():
        _, v, h = policy(batch.x)  # one pass from h = 0, as training does
    m = batch.mask.bool()
    torch.testing.assert_close(h[m], batch.h[m])
    torch.testing.assert_close(v[m], batch.v[m])


def test_envs_that_do_not_fit_get_clear_errors():
    policy = RL2Agent(BANDIT).policy
    rng = np.random.default_rng(0)
    with pytest.raises(RL2Error, match="Discrete observations and actions"):
        collect_gym_trials(policy, gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")]), 2, rng)
    with pytest.raises(RL2Error, match="autoreset mode is DISABLED"):
        collect_gym_trials(policy, bandit_envs(AutoresetMode.DISABLED), 2, rng)
    with pytest.raises(RL2Error, match="the policy reads 5 inputs"):
        collect_gym_trials(policy, gym.vector.SyncVectorEnv([lambda: BernoulliBanditEnv([0.5] * 3)]), 2, rng)
    with pytest.raises(RL2Error, match="n_episodes must be an integer >= 1"):
        collect_gym_trials(policy, bandit_envs(AutoresetMode.NEXT_STEP), 0, rng)
