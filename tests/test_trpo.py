"""TRPO for MAML's meta-update: conjugate gradient, Hessian-vector products, the line search, and one whole step."""

from __future__ import annotations

import pytest
import torch

from metarl_edu.envs.navigation import Navigation2DEnv
from metarl_edu.maml_rl import MAMLAgent, MAMLRLConfig
from metarl_edu.nets import CategoricalMLPPolicy
from metarl_edu.studies.trpo import (
    TRPOMAMLAgent,
    conjugate_gradient,
    flatten,
    hessian_vector_product,
    line_search,
    unflatten,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_conjugate_gradient_solves_a_known_spd_system():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(6, 6, generator=g, dtype=torch.float64)
    A = M @ M.T + 0.5 * torch.eye(6, dtype=torch.float64)  # symmetric positive definite
    x_true = torch.randn(6, generator=g, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, A @ x_true, iters=6)
    torch.testing.assert_close(x, x_true, atol=1e-8, rtol=1e-8)
    # fewer iterations than the dimension: a partial solve, still a descent on the residual
    x2 = conjugate_gradient(lambda v: A @ v, A @ x_true, iters=2)
    assert torch.linalg.norm(A @ x2 - A @ x_true) < torch.linalg.norm(A @ x_true)


def test_hessian_vector_product_equals_the_explicit_hessian_times_v_on_a_tiny_policy():
    policy = CategoricalMLPPolicy(2, 3, hidden_sizes=(4,), seed=1).double()
    obs = torch.randn(5, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in policy.named_parameters()}
    with torch.no_grad():
        old = policy(obs) + 0.3  # the old policy's logits, a little off the current ones

    def kl(p):
        return policy.kl_from(old, policy(obs, params=p)).mean()

    v = torch.randn(flatten(params).numel(), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    hv = hessian_vector_product(kl, params, damping=0.1)(v)
    H = torch.autograd.functional.hessian(lambda flat: kl(unflatten(flat, params)), flatten(params).detach())
    torch.testing.assert_close(hv, H @ v + 0.1 * v, atol=1e-9, rtol=1e-7)


def test_line_search_rejects_a_step_that_breaks_the_kl_bound():
    params = {"w": torch.zeros(2)}

    def loss_and_kl(p):  # the loss falls along the step, the KL grows with its square
        return -p["w"].sum(), 10.0 * (p["w"] ** 2).sum()

    far = line_search(loss_and_kl, params, torch.tensor([1.0, 1.0]), 0.0, max_kl=1e-6, max_backtracks=3)
    assert not far.accepted and torch.equal(far.params["w"], params["w"])  # every try broke the bound: unchanged
    near = line_search(loss_and_kl, params, torch.tensor([1.0, 1.0]), 0.0, max_kl=0.5, max_backtracks=10)
    assert near.accepted and near.kl <= 0.5 and near.backtracks == 3  # 10 * 2 * (1/8)^2 = 0.31 is the first to fit
    worse = line_search(lambda p: (p["w"].sum(), 0.0 * p["w"].sum()), params, torch.tensor([1.0, 1.0]), 0.0,
                        max_kl=1.0, max_backtracks=4)
    assert not worse.accepted  # a step that does not improve the surrogate is refused too


def test_one_trpo_step_improves_the_surrogate_within_the_kl_bound():
    config = MAMLRLConfig(meta_batch=3, n_traj=4, hidden_sizes=(8,), meta_optimizer="trpo", max_kl=0.01,
                          cg_iters=5)
    agent = TRPOMAMLAgent(Navigation2DEnv(max_episode_steps=20), config, seed=0)
    _, episodes = agent._adapt_batch(agent._env(agent.family.sample(3, agent.rng), 4), 1, agent.generator)
    loss_fn, kl_fn = agent.trpo_functions(episodes)
    before = {k: v.detach().clone() for k, v in agent.params.items()}
    with torch.no_grad():
        loss_before = float(loss_fn(before))
        assert float(kl_fn(before)) == pytest.approx(0.0, abs=1e-7)  # no change, no divergence
    result = agent.trpo_update(episodes)
    assert result.accepted
    after = {k: v.detach() for k, v in agent.params.items()}
    with torch.no_grad():
        assert float(loss_fn(after)) < loss_before
        assert 0 < float(kl_fn(after)) <= config.max_kl
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_trpo_needs_the_same_sizes_as_the_step_it_takes():
    with pytest.raises(ValueError, match="TRPOMAMLAgent"):  # MAMLAgent itself steps with Adam only
        MAMLAgent(Navigation2DEnv(max_episode_steps=5), MAMLRLConfig(meta_batch=1, n_traj=1, hidden_sizes=(4,),
                                                                     meta_optimizer="trpo"), seed=0).train(1, False)
    with pytest.raises(ValueError, match="meta_optimizer"):
        MAMLRLConfig(meta_optimizer="sgd")
    with pytest.raises(ValueError, match="max_kl"):
        MAMLRLConfig(max_kl=0.0)
