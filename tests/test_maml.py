"""Tests of the functional MAML inner loop: a hand-derived scalar case, gradients against an unrolled
torch.autograd reference (second and first order), the vmapped meta-loss against the plain loop, and a short
meta-training run that must make adaptation better."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from torch.func import functional_call

from metarl_edu.maml import adapt, inner_update, maml_loss, regression_loss
from metarl_edu.nets import mlp
from metarl_edu.studies.sinusoid import (
    MAMLRegression,
    PretrainedRegression,
    SinusoidConfig,
    SinusoidTasks,
    adaptation_mse,
    maml_loss_loop,
    train_pair,
    tuned_step,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_net() -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """A 1 -> 3 -> 1 tanh network in float64 (smooth, so second derivatives are not zero)."""
    net = mlp((1, 3, 1), "tanh", seed=0).double()
    with torch.no_grad():
        for p in net.parameters():  # non-zero biases too
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    return net, dict(net.named_parameters())


def tiny_tasks(n_tasks: int = 4, k: int = 5) -> tuple[tuple, tuple]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, n_tasks, k, 1, generator=g, dtype=torch.float64)
    y = torch.sin(2 * x) + 0.1 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    return (x[0], y[0]), (x[1], y[1])


def unrolled_meta_grad(net, params, support, query, alpha, steps, first_order) -> list[torch.Tensor]:
    """Reference: the inner steps written out with torch.autograd.grad on one task."""
    theta = list(params.values())
    names = list(params)
    for _ in range(steps):
        inner = regression_loss(net, dict(zip(names, theta, strict=True)), support)
        grads = torch.autograd.grad(inner, theta, create_graph=not first_order)
        theta = [t - alpha * g for t, g in zip(theta, grads, strict=True)]
    outer = regression_loss(net, dict(zip(names, theta, strict=True)), query)
    return list(torch.autograd.grad(outer, list(params.values())))


def test_inner_update_is_a_gradient_step_and_leaves_params_alone():
    params = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor(0.5)}
    grads = {"w": torch.tensor([10.0, -10.0]), "b": torch.tensor(1.0)}
    theta_prime = inner_update(params, grads, alpha=0.1)
    assert theta_prime["w"].tolist() == [0.0, 3.0] and theta_prime["b"].item() == pytest.approx(0.4)
    assert params["w"].tolist() == [1.0, 2.0]
    with pytest.raises(KeyError, match="same names"):
        inner_update(params, {"w": grads["w"]}, alpha=0.1)


@pytest.mark.parametrize("first_order", [False, True])
def test_scalar_maml_gradient_by_hand(first_order):
    # f(x) = w x with one support point (x, y) and one query point (u, v), loss (f - y)^2:
    #   w' = w - alpha * 2 x (w x - y)
    #   dL_q(w')/dw = 2 u (w' u - v) * dw'/dw,  dw'/dw = 1 - 2 alpha x^2 (second order) or 1 (first order)
    w, x, y, u, v, alpha = 0.7, 1.5, 2.0, -0.5, 1.0, 0.1
    model = torch.nn.Linear(1, 1, bias=False).double()
    params = {"weight": torch.tensor([[w]], dtype=torch.float64, requires_grad=True)}
    loss_fn = partial(regression_loss, model)
    support = (torch.tensor([[x]], dtype=torch.float64), torch.tensor([[y]], dtype=torch.float64))
    query = (torch.tensor([[u]], dtype=torch.float64), torch.tensor([[v]], dtype=torch.float64))
    theta_prime = adapt(loss_fn, params, support, alpha, steps=1, first_order=first_order)
    w_prime = w - alpha * 2 * x * (w * x - y)
    assert theta_prime["weight"].item() == pytest.approx(w_prime)
    (meta_grad,) = torch.autograd.grad(loss_fn(theta_prime, query), params["weight"])
    expected = 2 * u * (w_prime * u - v) * (1.0 if first_order else 1 - 2 * alpha * x**2)
    assert meta_grad.item() == pytest.approx(expected)


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("steps", [1, 3])
def test_functional_inner_loop_matches_unrolled_autograd(first_order, steps):
    net, params = tiny_net()
    (xs, ys), (xq, yq) = tiny_tasks(n_tasks=1)
    support, query = (xs[0], ys[0]), (xq[0], yq[0])
    loss_fn = partial(regression_loss, net)
    theta_prime = adapt(loss_fn, params, support, alpha=0.3, steps=steps, first_order=first_order)
    got = torch.autograd.grad(loss_fn(theta_prime, query), list(params.values()))
    expected = unrolled_meta_grad(net, params, support, query, 0.3, steps, first_order)
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-12)
    # and the two orders really differ on this network, so the comparison above can tell them apart
    other = unrolled_meta_grad(net, params, support, query, 0.3, steps, not first_order)
    assert max((g - o).abs().max() for g, o in zip(got, other, strict=True)) > 1e-3


@pytest.mark.parametrize("first_order", [False, True])
def test_vmapped_meta_gradient_equals_the_plain_loop(first_order):
    net, params = tiny_net()
    support, query = tiny_tasks(n_tasks=4)
    grads = []
    for meta_loss_fn in (maml_loss, maml_loss_loop):
        loss = meta_loss_fn(net, params, support, query, alpha=0.3, steps=2, first_order=first_order)
        grads.append((loss.detach(), torch.autograd.grad(loss, list(params.values()))))
    (loss_vmap, g_vmap), (loss_loop, g_loop) = grads
    assert torch.allclose(loss_vmap, loss_loop, atol=1e-12)
    for a, b in zip(g_vmap, g_loop, strict=True):
        assert torch.allclose(a, b, atol=1e-12)
    # the meta-loss is the mean over tasks of the per-task unrolled reference
    per_task = [unrolled_meta_grad(net, params, (support[0][i], support[1][i]), (query[0][i], query[1][i]), 0.3, 2,
                                   first_order) for i in range(4)]
    for j, g in enumerate(g_vmap):
        assert torch.allclose(g, sum(t[j] for t in per_task) / 4, atol=1e-12)


def test_adapt_leaves_the_module_untouched_and_zero_steps_is_identity():
    net, params = tiny_net()
    before = {k: v.detach().clone() for k, v in params.items()}
    (xs, ys), _ = tiny_tasks(n_tasks=1)
    loss_fn = partial(regression_loss, net)
    theta_prime = adapt(loss_fn, params, (xs[0], ys[0]), alpha=0.3, steps=2)
    assert all(torch.equal(before[k], v) for k, v in net.named_parameters())
    assert loss_fn(theta_prime, (xs[0], ys[0])) < loss_fn(params, (xs[0], ys[0]))  # adaptation fits the support
    assert adapt(loss_fn, params, (xs[0], ys[0]), alpha=0.3, steps=0) is params
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        adapt(loss_fn, params, (xs[0], ys[0]), alpha=0.3, steps=-1)


def test_sinusoid_tasks_follow_the_paper_and_are_seeded():
    tasks = SinusoidTasks()
    amplitude, phase = tasks.sample(5000, np.random.default_rng(0))
    assert 0.1 <= amplitude.min() and amplitude.max() <= 5.0 and 0.0 <= phase.min() and phase.max() <= np.pi
    x, y = tasks.points(amplitude[:3], phase[:3], 10, np.random.default_rng(1))
    assert x.shape == y.shape == (3, 10, 1) and x.abs().max() <= 5.0
    assert torch.allclose(y, torch.as_tensor(amplitude[:3, None, None] * np.sin(x.double().numpy() - phase[:3, None,
                          None]), dtype=torch.float32), atol=1e-5)
    a, b = tasks.meta_batch(4, 10, np.random.default_rng(7)), tasks.meta_batch(4, 10, np.random.default_rng(7))
    assert torch.equal(a[0][0], b[0][0]) and torch.equal(a[1][1], b[1][1])
    with pytest.raises(ValueError, match="amplitude must be a finite range"):
        SinusoidTasks(amplitude=(5.0, 0.1))
    with pytest.raises(ValueError, match="meta_batch must be a positive integer"):
        SinusoidConfig(meta_batch=0)


def test_the_average_sinusoid_is_minus_1_62_cos_x_not_zero():
    tasks = SinusoidTasks()
    x = np.linspace(-5, 5, 11)
    # Exact for the paper's ranges: E[A] = 2.55, E[sin(x - phi)] = -(2 / pi) cos x for phi ~ U[0, pi].
    np.testing.assert_allclose(tasks.mean_function(x), -2 * 2.55 / np.pi * np.cos(x), atol=1e-12)
    # Against the average of many sampled tasks (standard error about 0.02 at 40,000 tasks).
    amplitude, phase = tasks.sample(40_000, np.random.default_rng(0))
    sampled = (amplitude[:, None] * np.sin(x[None, :] - phase[:, None])).mean(axis=0)
    np.testing.assert_allclose(sampled, tasks.mean_function(x), atol=0.08)
    # Phases over a full period average out to zero.
    np.testing.assert_allclose(SinusoidTasks(phase=(0.0, 2 * np.pi)).mean_function(x), 0.0, atol=1e-12)


def test_maml_regression_meta_training_makes_adaptation_better():
    # quick sizes: 400 meta-updates (the paper runs 70,000) with the paper's network, K, alpha and meta-batch
    maml = MAMLRegression(seed=0)
    before = adaptation_mse(maml, steps=1, n_tasks=50)
    losses = maml.train(400, progress=False)
    after = adaptation_mse(maml, steps=1, n_tasks=50)
    assert losses.shape == (400,) and np.mean(losses[-50:]) < 0.7 * np.mean(losses[:50])
    assert after[10][1] < 0.7 * before[10][1]  # post-adaptation MSE on held-out tasks, K = 10
    assert after[10][1] < after[10][0] and after[5][1] < after[5][0]  # one step on K points helps
    # the learned init is a better starting point for one step than the jointly pretrained network
    pretrained = PretrainedRegression(seed=0)
    pretrained.train(400, progress=False)
    assert after[10][1] < 0.9 * adaptation_mse(pretrained, steps=1, n_tasks=50)[10][1]


def test_adaptation_mse_takes_the_step_size_it_is_given():
    learner = MAMLRegression(seed=0)
    default = adaptation_mse(learner, steps=2, n_tasks=5)
    same = adaptation_mse(learner, steps=2, n_tasks=5, alpha=learner.config.alpha)
    tiny = adaptation_mse(learner, steps=2, n_tasks=5, alpha=1e-9)
    assert all(np.array_equal(default[k], same[k]) for k in (5, 10))
    assert np.allclose(tiny[5], tiny[5][0], rtol=1e-6) and not np.allclose(default[5], default[5][0], rtol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        adaptation_mse(learner, steps=1, n_tasks=5, alpha=0.0)


def test_the_pretrained_step_is_tuned_on_other_tasks_and_the_pair_is_tested_on_the_same_ones():
    config = SinusoidConfig(meta_batch=5)
    pretrained = PretrainedRegression(config, seed=0)
    pretrained.train(30, progress=False)
    tuned = tuned_step(pretrained, tried=(1e-6, 0.01, 0.05))
    for k, step in tuned.items():  # the lowest mean error over steps 1-10, on tasks of seed 99 (not the test's)
        error = {a: adaptation_mse(pretrained, 10, (k,), seed=99, alpha=a)[k][1:].mean() for a in (1e-6, 0.01, 0.05)}
        assert error[step] == min(error.values()) and len(set(error.values())) == 3
    run = train_pair(config, SinusoidTasks(), seed=1, n_iterations=5, steps=2)
    assert set(run) == {"maml", "pretrained", "tuned", "mse"} and len(run["maml"].losses) == 5
    assert all(run["mse"][name][k].shape == (100, 3) for name in ("MAML", "pretrained") for k in (5, 10))
    again = adaptation_mse(run["pretrained"], 2, (5,), per_task=True, alpha=run["tuned"][5])[5]
    assert np.array_equal(again, run["mse"]["pretrained"][5])  # the same test tasks, the tuned step


def test_learner_adapt_and_predict():
    learner = MAMLRegression(SinusoidConfig(alpha=0.05), seed=0)
    x = torch.linspace(-5, 5, 10).reshape(-1, 1)
    y = torch.sin(x)
    theta_prime = learner.adapt(x, y, steps=5)
    assert torch.mean((learner.predict(x, theta_prime) - y) ** 2) < torch.mean((learner.predict(x) - y) ** 2)
    assert torch.equal(learner.predict(x), functional_call(learner.net, learner.params, (x,)).detach())
