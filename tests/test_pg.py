"""Tests of the policy-gradient toolkit: REINFORCE against the exact policy gradient of a bandit, returns and
the linear baseline on hand-worked cases, policies called with explicit parameters, rollouts and their errors."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.func import functional_call

from metarl_edu.envs.navigation import Navigation2DEnv
from metarl_edu.fast.envs import BatchedNavigation2D
from metarl_edu.mdp import discounted_return
from metarl_edu.nets import CategoricalMLPPolicy, GaussianMLPPolicy, make_policy
from metarl_edu.pg import (
    PolicyError,
    baseline_features,
    discounted_returns,
    fit_linear_baseline,
    linear_baseline,
    reinforce_loss,
    sample_batched_episodes,
    sample_episodes,
)

F, T = False, True


def col(*values, dtype=torch.float32) -> torch.Tensor:
    """One episode column of shape (T, 1)."""
    return torch.tensor(values, dtype=dtype).reshape(-1, 1)


# ----------------------------------------------------------------------------------------- REINFORCE
@pytest.mark.parametrize("baseline", [None, 1.0])
def test_reinforce_gradient_is_unbiased_on_a_bandit(baseline):
    # A one-step bandit with arms paying r = (1, 0, 2) and a softmax policy pi = softmax(theta). The expected
    # reward J(theta) = sum_a pi_a r_a has the exact gradient dJ/dtheta_b = pi_b (r_b - J). A linear policy with
    # no hidden layer and a zero observation has logits = its bias, so theta is the bias.
    policy = CategoricalMLPPolicy(obs_dim=1, n_actions=3, hidden_sizes=())
    theta = torch.tensor([0.5, -0.3, 0.1], requires_grad=True)
    params = {"logits.0.weight": torch.zeros(3, 1), "logits.0.bias": theta}
    r_arms = torch.tensor([1.0, 0.0, 2.0])
    pi = torch.softmax(theta.detach(), 0)
    exact = pi * (r_arms - (pi * r_arms).sum())

    n = 200_000
    obs = torch.zeros(1, n, 1)  # (T=1, B=n, obs_dim=1)
    a = policy.sample(obs, torch.Generator().manual_seed(0), params)
    returns = r_arms[a]
    b = None if baseline is None else torch.full_like(returns, baseline)
    loss = reinforce_loss(policy.log_prob(obs, a, params), returns, b)
    (grad,) = torch.autograd.grad(-loss, theta)
    # Standard error of the mean of the per-sample gradients g_b = (1[a = b] - pi_b)(r_a - c), c the baseline:
    # Var g_b = sum_a pi_a (1[a = b] - pi_b)^2 (r_a - c)^2 - exact_b^2. Allow 4 standard errors.
    c = 0.0 if baseline is None else baseline
    second_moment = ((torch.eye(3) - pi) ** 2 * (pi * (r_arms - c) ** 2)[:, None]).sum(0)
    tolerance = 4 * ((second_moment - exact**2) / n).sqrt()
    assert torch.all((grad - exact).abs() < tolerance)
    assert torch.all(tolerance < exact.abs() / 2)  # a wrong sign or scale on any component would fail


def test_reinforce_loss_hand_worked_with_mask_and_baseline():
    log_probs = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]])
    returns = torch.tensor([[2.0, 1.0], [1.0, 4.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    # -(1/2) [(-1)(2) + (-2)(1) + (-0.5)(1)] = 2.25 (the masked step does not count)
    assert reinforce_loss(log_probs, returns, mask=mask).item() == pytest.approx(2.25)
    # advantages G - b = [[1, 0], [0, 3]]: -(1/2) [(-1)(1)] = 0.5
    assert reinforce_loss(log_probs, returns, torch.ones(2, 2), mask).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="returns must have the shape of log_probs"):
        reinforce_loss(log_probs, returns[0])


def test_reinforce_loss_sends_no_gradient_into_returns_or_baseline():
    log_probs = torch.tensor([[-1.0]], requires_grad=True)
    returns = torch.tensor([[2.0]], requires_grad=True)
    baseline = torch.tensor([[0.5]], requires_grad=True)
    reinforce_loss(log_probs, returns, baseline).backward()
    assert log_probs.grad.item() == -1.5 and returns.grad is None and baseline.grad is None


# ----------------------------------------------------------------------------------------- returns
def test_returns_after_termination_never_bootstrap():
    r = col(1.0, 1.0, 1.0)
    end = col(F, F, T, dtype=torch.bool)
    no = col(F, F, F, dtype=torch.bool)
    # G_2 = 1, G_1 = 1 + 0.5, G_0 = 1 + 0.5 * 1.5 = 1.75, whatever V(s_3) is
    for v in (None, col(7.0, 7.0, 4.0)):
        G = discounted_returns(r, terminated=end, truncated=no, gamma=0.5, values_next=v)
        assert G.squeeze(1).tolist() == [1.75, 1.5, 1.0]


def test_returns_after_truncation_bootstrap_from_the_value_estimate():
    r = col(1.0, 1.0, 1.0)
    end = col(F, F, T, dtype=torch.bool)
    no = col(F, F, F, dtype=torch.bool)
    # G_2 = 1 + 0.5 * V(s_3) = 3, G_1 = 1 + 0.5 * 3 = 2.5, G_0 = 1 + 0.5 * 2.5 = 2.25
    G = discounted_returns(r, terminated=no, truncated=end, gamma=0.5, values_next=col(7.0, 7.0, 4.0))
    assert G.squeeze(1).tolist() == [2.25, 2.5, 3.0]
    # without an estimate the unseen future counts as 0
    assert discounted_returns(r, no, end, gamma=0.5).squeeze(1).tolist() == [1.75, 1.5, 1.0]
    # Gymnasium allows both flags at once: terminated wins, no bootstrap
    G = discounted_returns(r, end, end, gamma=0.5, values_next=col(7.0, 7.0, 4.0))
    assert G.squeeze(1).tolist() == [1.75, 1.5, 1.0]


def test_returns_restart_after_each_episode_and_ignore_padding():
    # one column holding a terminated episode (t = 0, 1) and a truncated one (t = 2), then padding (t = 3)
    r = col(1.0, 2.0, 3.0, 0.0)
    terminated = col(F, T, F, F, dtype=torch.bool)
    truncated = col(F, F, T, F, dtype=torch.bool)
    v = col(10.0, 20.0, 30.0, 40.0)
    # G_2 = 3 + 0.9 * 30 = 30, G_1 = 2 (terminated), G_0 = 1 + 0.9 * 2 = 2.8
    G = discounted_returns(r, terminated, truncated, gamma=0.9, values_next=v).squeeze(1)
    assert torch.allclose(G, torch.tensor([2.8, 2.0, 30.0, 0.0]))


def test_returns_match_the_tabular_discounted_return():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(12, 3))
    flags = torch.zeros(12, 3, dtype=torch.bool)
    flags[-1] = True
    G = discounted_returns(torch.as_tensor(rewards), flags, torch.zeros_like(flags), gamma=0.9)
    for b in range(3):
        for t in range(12):
            assert G[t, b].item() == pytest.approx(discounted_return(rewards[t:, b], 0.9))


def test_returns_reject_bad_input():
    r = col(1.0, 1.0)
    flags = col(F, T, dtype=torch.bool)
    with pytest.raises(ValueError, match="gamma must be in"):
        discounted_returns(r, flags, flags, gamma=1.5)
    with pytest.raises(ValueError, match="terminated must have the shape of rewards"):
        discounted_returns(r, flags[:1], flags, gamma=0.9)


# ----------------------------------------------------------------------------------------- baseline
def test_baseline_features_hand_worked():
    obs = torch.tensor([[[2.0]], [[3.0]], [[5.0]]])  # (T=3, B=1, obs_dim=1)
    mask = torch.tensor([[1.0], [1.0], [0.0]])
    phi = baseline_features(obs, mask)
    assert phi.shape == (3, 1, 6)
    assert torch.allclose(phi[0, 0], torch.tensor([2.0, 4.0, 0.0, 0.0, 0.0, 1.0]))
    assert torch.allclose(phi[1, 0], torch.tensor([3.0, 9.0, 0.01, 1e-4, 1e-6, 1.0]))
    assert torch.all(phi[2] == 0)  # padding


def test_linear_baseline_recovers_an_exactly_linear_target_and_ignores_padding():
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(rng.uniform(-1, 1, size=(50, 8, 2)), dtype=torch.float64)
    mask = torch.ones(50, 8, dtype=torch.float64)
    mask[30:, :4] = 0.0  # four episodes end after 30 steps
    w_true = torch.tensor([1.0, -2.0, 0.5, 3.0, 4.0, -1.0, 2.0, 0.7], dtype=torch.float64)
    returns = baseline_features(obs, mask) @ w_true  # exactly in the span of the features
    returns = torch.where(mask > 0, returns, 1e6)  # garbage on padding must not matter
    w = fit_linear_baseline(obs, returns, mask, reg_coeff=1e-10)
    assert torch.allclose(w, w_true, atol=1e-5)
    b = linear_baseline(obs, returns, mask, reg_coeff=1e-10)
    assert torch.allclose(b * mask, torch.where(mask > 0, returns, 0.0), atol=1e-5)


def test_linear_baseline_is_the_least_squares_fit():
    rng = np.random.default_rng(1)
    obs = torch.as_tensor(rng.normal(size=(20, 5, 3)), dtype=torch.float64)
    returns = torch.as_tensor(rng.normal(size=(20, 5)), dtype=torch.float64)
    phi = baseline_features(obs).reshape(-1, 10).numpy()
    w_ref, *_ = np.linalg.lstsq(phi, returns.reshape(-1).numpy(), rcond=None)  # naive reference
    w = fit_linear_baseline(obs, returns, reg_coeff=1e-12)
    assert np.allclose(w.numpy(), w_ref, atol=1e-6)
    # and with only the constant mattering (all returns equal c), the baseline predicts c everywhere
    assert torch.allclose(linear_baseline(obs, torch.full((20, 5), 3.0, dtype=torch.float64)), torch.tensor(3.0,
                          dtype=torch.float64), atol=1e-4)


# ----------------------------------------------------------------------------------------- policies
@pytest.mark.parametrize("policy", [CategoricalMLPPolicy(4, 3, seed=1), GaussianMLPPolicy(4, 2, init_std=0.5, seed=1)])
def test_policy_called_with_params_equals_module_call(policy):
    obs = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    theta = policy.params()
    flat = lambda out: torch.cat([o.reshape(-1) for o in out]) if isinstance(out, tuple) else out  # noqa: E731
    assert torch.equal(flat(policy(obs, params=theta)), flat(policy(obs)))
    assert torch.equal(flat(functional_call(policy, theta, (obs,))), flat(policy(obs)))

    theta_prime = {k: v.detach() + 0.1 for k, v in theta.items()}
    other = copy.deepcopy(policy)
    with torch.no_grad():
        for k, p in other.named_parameters():
            p.copy_(theta_prime[k])
    before = {k: v.detach().clone() for k, v in theta.items()}
    assert torch.allclose(flat(policy(obs, params=theta_prime)), flat(other(obs)))
    assert all(torch.equal(before[k], v) for k, v in policy.params().items())  # the module is untouched


def test_log_probs_match_torch_distributions():
    obs = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    cat = CategoricalMLPPolicy(3, 4, hidden_sizes=(8,))
    a = cat.sample(obs, g)
    ref = torch.distributions.Categorical(logits=cat(obs)).log_prob(a)
    assert torch.allclose(cat.log_prob(obs, a), ref)
    gauss = GaussianMLPPolicy(3, 2, hidden_sizes=(8,), init_std=0.3)
    a = gauss.sample(obs, g)
    mu, log_std = gauss(obs)
    ref = torch.distributions.Normal(mu, log_std.exp()).log_prob(a).sum(-1)
    assert torch.allclose(gauss.log_prob(obs, a), ref)


def test_same_seed_same_policy_and_bad_observation_shape():
    obs = torch.ones(2)
    assert torch.equal(GaussianMLPPolicy(2, 2, seed=3)(obs)[0], GaussianMLPPolicy(2, 2, seed=3)(obs)[0])
    assert not torch.equal(GaussianMLPPolicy(2, 2, seed=3)(obs)[0], GaussianMLPPolicy(2, 2, seed=4)(obs)[0])
    with pytest.raises(PolicyError, match="obs_dim=2"):
        GaussianMLPPolicy(2, 2)(torch.ones(3))


def test_categorical_policy_in_a_continuous_action_env_is_a_clear_error():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(PolicyError, match="discrete actions.*Box.*GaussianMLPPolicy"):
        sample_episodes(Navigation2DEnv(goal=(0.1, 0.1)), CategoricalMLPPolicy(2, 2), 1, generator=g)
    with pytest.raises(PolicyError, match="real-valued actions.*Discrete.*CategoricalMLPPolicy"):
        sample_episodes(gym.make("CartPole-v1"), GaussianMLPPolicy(4, 1), 1, generator=g)
    with pytest.raises(PolicyError, match="discrete actions.*Box"):
        sample_batched_episodes(BatchedNavigation2D([[0.1, 0.1]], 2), CategoricalMLPPolicy(2, 2), generator=g)
    assert isinstance(make_policy(Navigation2DEnv()), GaussianMLPPolicy)
    assert isinstance(make_policy(gym.make("CartPole-v1")), CategoricalMLPPolicy)


# ----------------------------------------------------------------------------------------- rollouts
def test_sample_episodes_on_cartpole_pads_and_flags_each_episode_end():
    env = gym.make("CartPole-v1")
    policy = make_policy(env, hidden_sizes=(16,))
    episodes = sample_episodes(env, policy, 4, generator=torch.Generator().manual_seed(0), seed=0)
    T = int(episodes.lengths.max())
    assert episodes.obs.shape == (T, 4, 4) and episodes.actions.shape == (T, 4)
    for b, n in enumerate(episodes.lengths.long().tolist()):
        assert episodes.mask[:n, b].eq(1).all() and episodes.mask[n:, b].eq(0).all()
        assert episodes.terminated[:, b].nonzero().flatten().tolist() == [n - 1]  # the pole fell at the last step
    assert torch.equal(episodes.total_rewards(), episodes.lengths)  # CartPole pays 1 per step
    again = sample_episodes(env, policy, 4, generator=torch.Generator().manual_seed(0), seed=0)
    assert torch.equal(again.obs, episodes.obs)


def test_sample_episodes_marks_its_own_step_limit_as_truncation():
    env = Navigation2DEnv(goal=(0.4, 0.4))
    episodes = sample_episodes(env, make_policy(env), 2, generator=torch.Generator().manual_seed(0), max_steps=5)
    assert episodes.truncated[-1].all() and not episodes.terminated.any() and episodes.obs.shape == (5, 2, 2)


def test_batched_rollout_applies_each_task_its_own_params():
    goals = np.array([[0.2, 0.1], [-0.3, 0.4], [0.0, -0.2]])
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(16,), init_std=1e-6, seed=0)  # actions = means, nearly
    theta = {k: v.detach() for k, v in policy.params().items()}
    # task i acts with theta shifted by 0.05 i, so that rows of different tasks behave differently
    per_task = {k: torch.stack([v + 0.05 * i for i in range(3)]) for k, v in theta.items()}
    g = torch.Generator().manual_seed(5)
    episodes = sample_batched_episodes(BatchedNavigation2D(goals, 4), policy, generator=g, params=per_task,
                                       params_per_task=True)
    assert episodes.obs.shape == (100, 3, 4, 2) and episodes.mask.shape == (100, 3, 4)
    for i in range(3):
        theta_i = {k: v[i] for k, v in per_task.items()}
        mu, _ = policy(episodes.obs[:, i], params=theta_i)
        assert torch.allclose(episodes.actions[:, i], mu, atol=1e-4)
    with pytest.raises(ValueError, match="params_per_task=True needs params"):
        sample_batched_episodes(BatchedNavigation2D(goals, 4), policy, generator=g, params_per_task=True)


def test_torch_names_are_reachable_lazily_from_the_package():
    import metarl_edu

    for name, module in metarl_edu._LAZY.items():
        if module in ("metarl_edu.pg", "metarl_edu.maml", "metarl_edu.envs.navigation"):
            assert getattr(metarl_edu, name).__module__ == module
            assert name in dir(metarl_edu)
