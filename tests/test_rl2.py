"""Tests for metarl_edu.rl2, metarl_edu.fast.tasks, metarl_edu.studies.rl2 and metarl_edu.studies.mdp_baselines.

1. Hand-worked cases: the input vector, GAE, finite-horizon planning, the posterior-mean model.
2. References: GAE against a naive return loop, the rollout's stepwise GRU against one pass over the trial, the
   task samplers against the distributions they document.
3. Semantics: the hidden state persists across the episodes of a trial and restarts with every trial; padding
   changes neither the loss nor its gradient; seeding, checkpoints and resuming.
4. Smoke runs that assert learning happened: RL^2 beats random play on bandits by a clear margin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metarl_edu import config as config_module
from metarl_edu.bandits import UCB1, Random
from metarl_edu.envs.bandit import BernoulliBanditEnv
from metarl_edu.fast.tasks import BatchedTaskError, BernoulliBandits, RandomTabularMDPs
from metarl_edu.mdp import backward_induction
from metarl_edu.pg import gae_advantages, normalise_advantages
from metarl_edu.rl2 import (
    RL2Agent,
    RL2Config,
    RL2Error,
    collect_trials,
    rl2_input,
    rl2_loss,
    sample_categorical,
)
from metarl_edu.studies.bandit_baselines import evaluate_strategy
from metarl_edu.studies.mdp_baselines import (
    empirical_model,
    evaluate_mdp_baseline,
    posterior_mean_model,
)
from metarl_edu.studies.rl2 import evaluate_rl2, load_agent, record_trial, save_agent, train_rl2

TINY_BANDIT = RL2Config(task="bandit", n_episodes=5, k=3, hidden_size=8, n_tasks=8, n_iterations=4, n_epochs=2,
                        n_minibatches=2, seed=3)
TINY_MDP = RL2Config(task="mdp", n_episodes=2, n_states=4, n_actions=3, horizon=3, hidden_size=8, n_tasks=6,
                     n_iterations=2, seed=1)


# ============================================================================ 1. hand-worked cases
def test_rl2_input_on_a_hand_made_step():
    # state 2 of S = 3 (one-hot), previous action 1 of A = 2, previous reward 0.5, the previous step ended an episode
    x = rl2_input(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([1]), torch.tensor([0.5]), torch.tensor([1.0]), 2)
    assert x.tolist() == [[0.0, 0.0, 1.0, 0.0, 1.0, 0.5, 1.0]]


def test_rl2_input_at_the_start_of_a_trial_has_no_action_reward_or_done():
    # two bandits (constant observation 1); the first has no previous action yet (-1), the second pulled arm 0
    x = rl2_input(torch.ones(2, 1), torch.tensor([-1, 0]), torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]), 3)
    assert x.tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]]


def test_rl2_input_rejects_mismatched_shapes():
    with pytest.raises(RL2Error, match="shape"):
        rl2_input(torch.ones(2, 1), torch.tensor([0]), torch.zeros(2), torch.zeros(2), 3)


def test_gae_on_a_hand_worked_trial():
    # r = (1, 0, 2), V = 0.5 everywhere, gamma = 0.9, lambda = 0.5, V_3 = 0 (the trial is over):
    # delta_2 = 2 - 0.5 = 1.5; delta_1 = 0 + 0.45 - 0.5 = -0.05; delta_0 = 1 + 0.45 - 0.5 = 0.95
    # A_2 = 1.5; A_1 = -0.05 + 0.45 * 1.5 = 0.625; A_0 = 0.95 + 0.45 * 0.625 = 1.23125
    adv = gae_advantages(torch.tensor([[1.0], [0.0], [2.0]]), torch.full((3, 1), 0.5), gamma=0.9, lam=0.5)
    np.testing.assert_allclose(adv[:, 0].numpy(), [1.23125, 0.625, 1.5], rtol=1e-6)


def test_normalise_advantages_over_the_real_steps_only():
    # real steps 1 and 3 (mean 2, std 1) become -1 and 1; the padding step (100) stays 0 and moves nothing
    adv = normalise_advantages(torch.tensor([[1.0], [3.0], [100.0]]), torch.tensor([[1.0], [1.0], [0.0]]))
    np.testing.assert_allclose(adv[:, 0].numpy(), [-1.0, 1.0, 0.0], atol=1e-6)


def test_finite_horizon_q_on_a_two_state_chain():
    # state 0: action 0 pays 1 and stays, action 1 pays 0 and moves to state 1; state 1: both actions pay 3, stay.
    # h = 1: Q = R. h = 2: Q[0, 0] = 1 + 1 = 2, Q[0, 1] = 0 + 3 = 3, Q[1, :] = 3 + 3 = 6.
    P = np.zeros((1, 2, 2, 2))
    P[0, 0, 0, 0] = P[0, 0, 1, 1] = P[0, 1, :, 1] = 1.0
    R = np.array([[[1.0, 0.0], [3.0, 3.0]]])
    np.testing.assert_allclose(backward_induction(P, R, 1)[0], R)
    np.testing.assert_allclose(backward_induction(P, R, 2)[0], [[[2.0, 3.0], [6.0, 6.0]]])


def test_models_from_counts_on_a_hand_made_history():
    # S = 2, A = 1: from state 0, three visits went to state 1 and paid 0.5, 1.5, 1.0 (sum 3); state 1 never visited
    N = np.zeros((1, 2, 1, 2))
    N[0, 0, 0, 1] = 3
    sums = np.array([[[3.0], [0.0]]])
    P, R = posterior_mean_model(N, sums)
    np.testing.assert_allclose(P[0, 0, 0], [1 / 5, 4 / 5])  # (1 + N) / (S + n) = (1, 4) / 5
    np.testing.assert_allclose(P[0, 1, 0], [1 / 2, 1 / 2])  # the prior mean
    np.testing.assert_allclose(R[0, :, 0], [4 / 4, 1.0])  # (1 + 3) / (1 + 3); prior mean 1
    P, R = empirical_model(N, sums)
    np.testing.assert_allclose(P[0, :, 0], [[0.0, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(R[0, :, 0], [1.0, 0.0])


# ============================================================================ 2. references
def test_gae_against_naive_returns():
    g = torch.Generator().manual_seed(0)
    r, v = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
    gamma = 0.8
    G = torch.zeros(7, 4)  # naive: G_t = sum_{j >= t} gamma^(j - t) r_j
    for t in range(7):
        G[t] = sum(gamma ** (j - t) * r[j] for j in range(t, 7))
    torch.testing.assert_close(gae_advantages(r, v, gamma, 1.0), G - v)  # lambda = 1: Monte Carlo minus V
    next_v = torch.cat([v[1:], torch.zeros(1, 4)])
    torch.testing.assert_close(gae_advantages(r, v, gamma, 0.0), r + gamma * next_v - v)  # lambda = 0: TD error


def test_stepwise_rollout_matches_one_pass_over_the_trial():
    agent = RL2Agent(TINY_MDP)
    tasks = TINY_MDP.sample_tasks(5, np.random.default_rng(0))
    batch = collect_trials(agent.policy, tasks, TINY_MDP.n_episodes, np.random.default_rng(1))
    with torch.no_grad():
        logits, v, h = agent.policy(batch.x)  # all T steps at once, from h = 0
    torch.testing.assert_close(h, batch.h)
    torch.testing.assert_close(v, batch.v)
    torch.testing.assert_close(torch.log_softmax(logits, -1).gather(-1, batch.a[..., None])[..., 0], batch.logp)


def test_categorical_sampling_follows_the_probabilities():
    probs = np.tile([0.2, 0.5, 0.3, 0.0], (30_000, 1))
    a = sample_categorical(probs, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(a, minlength=4) / 30_000, probs[0], atol=4 * math.sqrt(0.25 / 30_000))


def test_bandit_sampler_draws_like_evaluate_strategy():
    p = BernoulliBandits.sample(50, 4, np.random.default_rng(7)).p
    np.testing.assert_array_equal(p, np.random.default_rng(7).random((50, 4)))
    result = evaluate_strategy(Random(), n_pulls=3, k=4, n_bandits=50, rng=7)
    np.testing.assert_array_equal(result.best_means, p.max(axis=1))


def test_bandit_rewards_are_bernoulli_with_the_arm_means():
    bandits = BernoulliBandits(np.tile([0.1, 0.8], (20_000, 1)))
    rng = np.random.default_rng(0)
    for arm, p in [(0, 0.1), (1, 0.8)]:
        _, r = bandits.step(np.zeros(20_000, dtype=int), np.full(20_000, arm), rng)
        assert set(np.unique(r)) <= {0.0, 1.0}
        assert abs(r.mean() - p) < 4 * math.sqrt(p * (1 - p) / 20_000)


def test_one_batched_bandit_pays_exactly_as_the_gymnasium_env_with_the_same_seed():
    # fast.tasks.BernoulliBandits is the batched twin of envs.bandit.BernoulliBanditEnv: one uniform per pull each
    means = [0.2, 0.7, 0.5]
    env = BernoulliBanditEnv(means)
    env.reset(seed=11)
    bandits, rng = BernoulliBandits(np.array([means])), np.random.default_rng(11)
    arms = np.random.default_rng(0).integers(3, size=200)
    for a in arms:
        _, r = bandits.step(np.zeros(1, dtype=np.int64), np.array([a]), rng)
        assert env.step(int(a))[1] == r[0]


def test_random_mdps_follow_the_documented_distribution():
    mdps = RandomTabularMDPs.sample(2000, np.random.default_rng(0))
    assert mdps.P.shape == (2000, 10, 5, 10) and mdps.R.shape == (2000, 10, 5) and mdps.horizon == 10
    np.testing.assert_allclose(mdps.P.sum(-1), 1.0)
    # Dirichlet(1, ..., 1) on S = 10: each P[s, a, s'] has mean 1/S = 0.1 and variance (S-1) / (S^2 (S+1)) = 9/1100
    assert abs(mdps.P.mean() - 0.1) < 1e-12  # exact: rows sum to 1
    assert abs(mdps.P.var() - 9 / 1100) < 3e-4
    assert abs(mdps.R.mean() - 1.0) < 0.01 and abs(mdps.R.std() - 1.0) < 0.01  # N(1, 1), 100,000 draws
    np.testing.assert_array_equal(mdps.start(np.random.default_rng(0)), 0)


def test_mdp_steps_sample_next_states_from_P_and_noisy_rewards():
    P = np.zeros((30_000, 3, 1, 3))
    P[:, 0, 0] = [0.2, 0.5, 0.3]
    P[:, 1:, 0, 0] = 1.0
    mdps = RandomTabularMDPs(P, np.full((30_000, 3, 1), 2.0), horizon=4)
    s_next, r = mdps.step(np.zeros(30_000, dtype=int), np.zeros(30_000, dtype=int), np.random.default_rng(0))
    freq = np.bincount(s_next, minlength=3) / 30_000
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=4 * math.sqrt(0.25 / 30_000))
    assert abs(r.mean() - 2.0) < 0.03 and abs(r.std() - 1.0) < 0.03


def test_batched_tasks_reject_bad_parameters_and_actions():
    with pytest.raises(BatchedTaskError, match="p must"):
        BernoulliBandits(np.array([[0.5, 1.5]]))
    with pytest.raises(BatchedTaskError, match="probability"):
        RandomTabularMDPs(np.full((1, 2, 1, 2), 0.7), np.zeros((1, 2, 1)))
    with pytest.raises(BatchedTaskError, match="actions"):
        BernoulliBandits(np.full((2, 3), 0.5)).step(np.zeros(2, dtype=int), np.array([0, 3]), np.random.default_rng())


# ============================================================================ 3. semantics
def test_hidden_state_persists_across_episodes_and_restarts_with_each_trial():
    agent = RL2Agent(TINY_MDP)  # horizon 3, 2 episodes: steps 0-2 are episode 0, steps 3-5 episode 1
    rng = np.random.default_rng(0)
    first = collect_trials(agent.policy, TINY_MDP.sample_tasks(6, rng), 2, rng)
    second = collect_trials(agent.policy, TINY_MDP.sample_tasks(6, rng), 2, rng)
    for batch in (first, second):
        # the inputs mark the boundary: done = 1 and the start state 0 exactly at step 3
        np.testing.assert_array_equal(batch.x[:, :, -1].numpy(), np.array([[0], [0], [0], [1], [0], [0]] * np.ones(6)))
        assert (batch.s[3] == 0).all() and (batch.s[0] == 0).all()
        # not reset between episodes: restarting the GRU from h = 0 at step 3 would give different states
        with torch.no_grad():
            _, _, h_reset = agent.policy(batch.x[3:])
        assert not torch.allclose(h_reset[0], batch.h[3], atol=1e-4)
    # reset between trials: every trial begins with the same input (state 0, nothing before), and the first hidden
    # state is the same in every trial of both batches, so nothing of the first batch reached the second
    torch.testing.assert_close(second.x[0], first.x[0])
    torch.testing.assert_close(second.h[0], first.h[0][:1].expand(6, -1))
    with torch.no_grad():
        _, _, h_fresh = agent.policy(first.x[:1, :1])
    torch.testing.assert_close(second.h[0, :1], h_fresh[0])


def _loss_and_grad(agent, x, a, logp_old, r, v_old, mask):
    adv = normalise_advantages(gae_advantages(r, v_old, 0.9, 0.8, mask), mask)
    returns = gae_advantages(r, v_old, 0.9, 0.8, mask) + v_old
    agent.policy.zero_grad()
    logits, v, _ = agent.policy(x)
    loss, _ = rl2_loss(logits, v, a, logp_old, adv, returns, mask, value_coef=0.5, entropy_coef=0.01, clip_eps=0.2)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in agent.policy.parameters()], adv


def test_padding_steps_are_masked_out_of_the_advantages_loss_and_gradient():
    agent = RL2Agent(TINY_BANDIT)
    rng = np.random.default_rng(0)
    batch = collect_trials(agent.policy, TINY_BANDIT.sample_tasks(4, rng), 5, rng)
    T, B = batch.a.shape
    # append 3 padding steps holding garbage (inputs, actions, rewards, values), as a trial that ended early would
    g = torch.Generator().manual_seed(1)
    pad = 3
    x = torch.cat([batch.x, 50 * torch.randn(pad, B, batch.x.shape[2], generator=g)])
    a = torch.cat([batch.a, torch.randint(0, 3, (pad, B), generator=g)])
    logp = torch.cat([batch.logp, torch.randn(pad, B, generator=g)])
    r = torch.cat([batch.r, 100 * torch.randn(pad, B, generator=g)])
    v = torch.cat([batch.v, 100 * torch.randn(pad, B, generator=g)])
    mask = torch.cat([torch.ones(T, B), torch.zeros(pad, B)])
    loss, grads, adv = _loss_and_grad(agent, batch.x, batch.a, batch.logp, batch.r, batch.v, batch.mask)
    loss_pad, grads_pad, adv_pad = _loss_and_grad(agent, x, a, logp, r, v, mask)
    torch.testing.assert_close(adv_pad[:T], adv)
    assert (adv_pad[T:] == 0).all()
    torch.testing.assert_close(loss_pad, loss)
    for g0, g1 in zip(grads, grads_pad, strict=True):
        torch.testing.assert_close(g1, g0)
    # and the mask matters: the same padded batch counted as real steps gives another loss
    loss_unmasked, _, _ = _loss_and_grad(agent, x, a, logp, r, v, torch.ones(T + pad, B))
    assert not torch.isclose(loss_unmasked, loss)


def test_first_pass_of_the_loss_is_the_a2c_policy_gradient():
    # with rho = 1 (logp_old = current log pi), the clipped surrogate's gradient is -mean(A grad log pi)
    logits = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(0), requires_grad=True)
    a = torch.tensor([[0, 1, 1], [1, 0, 0], [0, 0, 1], [1, 1, 0]])
    adv = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    logp = torch.log_softmax(logits, -1).gather(-1, a[..., None])[..., 0]
    loss, _ = rl2_loss(logits, torch.zeros(4, 3), a, logp.detach(), adv, torch.zeros(4, 3), torch.ones(4, 3),
                       value_coef=0.0, entropy_coef=0.0, clip_eps=0.2)
    (grad,) = torch.autograd.grad(loss, logits)
    (expected,) = torch.autograd.grad(-(adv * logp).mean(), logits)
    torch.testing.assert_close(grad, expected)


def test_same_seed_same_agent_other_seed_other_agent():
    a, b = RL2Agent(TINY_BANDIT).train(progress=False), RL2Agent(TINY_BANDIT).train(progress=False)
    c = RL2Agent(RL2Config(**{**TINY_BANDIT.__dict__, "seed": 4})).train(progress=False)
    for pa, pb in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.policy.parameters(), c.policy.parameters(), strict=True))
    assert a.history == b.history


def test_training_in_two_sittings_with_resume_equals_one(tmp_path):
    straight = train_rl2(TINY_BANDIT, progress=False)
    save_agent(RL2Agent(TINY_BANDIT).train(2, progress=False), tmp_path)  # stopped after 2 of 4 iterations
    resumed = train_rl2(TINY_BANDIT, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert resumed.iteration == 4 and len(resumed.history) == 4
    for p0, p1 in zip(straight.policy.parameters(), resumed.policy.parameters(), strict=True):
        torch.testing.assert_close(p1, p0, rtol=0, atol=0)
    assert resumed.history == straight.history
    # a finished run resumes at once; without resume it starts afresh
    again = train_rl2(TINY_BANDIT, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert again.iteration == 4 and again.history == straight.history
    # a checkpoint of another config is refused with the fields that differ
    with pytest.raises(RL2Error, match="hidden_size"):
        train_rl2(RL2Config(**{**TINY_BANDIT.__dict__, "hidden_size": 4}), progress=False, checkpoint_dir=tmp_path,
                  resume=True)


def test_an_interrupted_run_leaves_a_checkpoint(tmp_path, monkeypatch):
    calls = []

    def interrupt_on_third(agent, original=RL2Agent.train_step):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return original(agent)

    monkeypatch.setattr(RL2Agent, "train_step", interrupt_on_third)
    with pytest.raises(KeyboardInterrupt):
        train_rl2(TINY_BANDIT, progress=False, checkpoint_dir=tmp_path)
    assert load_agent(tmp_path).iteration == 2


def test_checkpoint_dir_is_temporary_in_quick_mode_and_a_user_cache_otherwise(monkeypatch, tmp_path):
    monkeypatch.setenv(config_module.QUICK_VAR, "1")
    quick_dir = config_module.checkpoint_dir("rl2-test")
    assert quick_dir.is_dir() and quick_dir.name == "rl2-test"
    assert quick_dir == config_module.checkpoint_dir("rl2-test")  # stable within a process
    assert "lessons" not in quick_dir.parts and "solutions" not in quick_dir.parts
    monkeypatch.setenv(config_module.QUICK_VAR, "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert config_module.checkpoint_dir("rl2-test") == tmp_path / "metarl-edu" / "checkpoints" / "rl2-test"
    with pytest.raises(ValueError, match="slashes"):
        config_module.checkpoint_dir("../lessons")


def test_config_rejects_bad_settings():
    with pytest.raises(RL2Error, match="task"):
        RL2Config(task="maze")
    with pytest.raises(RL2Error, match="gamma"):
        RL2Config(gamma=1.5)
    with pytest.raises(RL2Error, match="n_tasks"):
        RL2Config(n_tasks=1)


def test_n_actions_is_the_number_of_actions_for_either_task():
    assert RL2Config(task="bandit", k=3).n_actions == 3  # a bandit's actions are its arms
    assert RL2Config(task="bandit", k=3, n_actions=7) == RL2Config(task="bandit", k=3)
    assert RL2Config(task="mdp", n_actions=4, k=2).n_actions == 4
    assert RL2Agent(TINY_BANDIT).policy.pi.out_features == TINY_BANDIT.k


def test_record_trial_replays_one_task_step_by_step():
    agent = RL2Agent(TINY_MDP)
    rec = record_trial(agent, rng=0)
    T = TINY_MDP.n_episodes * TINY_MDP.horizon
    assert rec.actions.shape == rec.rewards.shape == rec.hidden_norms.shape == (T,)
    assert rec.probs.shape == (T, 3)
    np.testing.assert_allclose(rec.probs.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(rec.episode, [0, 0, 0, 1, 1, 1])
    assert rec.states[0] == rec.states[3] == 0 and (rec.hidden_norms > 0).all()
    assert rec.task.n_tasks == 1


def test_evaluation_uses_the_same_bandits_as_the_strategies():
    agent = RL2Agent(TINY_BANDIT)
    result = evaluate_rl2(agent, n_tasks=200, rng=5)
    reference = evaluate_strategy(UCB1(), n_pulls=TINY_BANDIT.n_episodes, k=TINY_BANDIT.k, n_bandits=200, rng=5)
    np.testing.assert_array_equal(result.best_means, reference.best_means)
    assert result.n_pulls == 5 and result.totals.shape == (200,)


def test_mdp_baselines_rank_as_expected_and_random_earns_one_per_step():
    random, greedy, oracle = (evaluate_mdp_baseline(s, n_episodes=3, n_tasks=400, rng=0, n_states=5, n_actions=3,
                                                    horizon=4) for s in ("random", "greedy", "oracle"))
    # random play earns E[R] = 1 per step in expectation: 3 episodes x 4 steps = 12
    lo, hi = random.total_ci
    assert lo < 12.0 < hi
    assert random.mean_total < greedy.mean_total < oracle.mean_total
    with pytest.raises(ValueError, match="strategy"):
        evaluate_mdp_baseline("optimism", n_episodes=1)


def test_bench_reports_steps_per_second():
    from metarl_edu.studies.bench import bench_rl2

    speeds = bench_rl2([TINY_BANDIT, TINY_MDP], n_iterations=1, verbose=False)
    assert set(speeds) == {TINY_BANDIT.name, TINY_MDP.name} and all(s > 0 for s in speeds.values())


# ============================================================================ 4. smoke run
def test_rl2_learns_to_beat_random_play_on_bandits():
    config = RL2Config(task="bandit", n_episodes=10, k=2, hidden_size=16, n_tasks=128, n_iterations=50, lr=1e-2,
                       gamma=0.9, gae_lambda=0.9, entropy_coef=0.01, n_epochs=4, n_minibatches=4, seed=0)
    agent = train_rl2(config, progress=False)
    rl2 = evaluate_rl2(agent, n_tasks=2000, rng=1)
    random = evaluate_strategy(Random(), n_pulls=10, k=2, n_bandits=2000, rng=1)
    # random play earns 10 * 0.5 = 5; the best arm of 2 uniform means pays 2/3 a pull on average, 6.67 in 10 pulls
    assert rl2.total_ci[0] > random.total_ci[1] + 0.4, (str(rl2), str(random))
