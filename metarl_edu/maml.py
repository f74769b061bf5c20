"""Model-agnostic meta-learning (Finn, Abbeel & Levine, 2017), written functionally with ``torch.func``.

MAML looks for an initialisation ``theta`` from which one (or a few) gradient steps on a task's small support
set give parameters ``theta'_i`` that do well on that task's query set:

    theta'_i = theta - alpha grad_theta L_i(theta; support_i)                 (inner update, per task)
    theta   <- theta - beta grad_theta sum_i L_i(theta'_i; query_i)           (outer, meta-update)

The outer gradient goes *through* the inner update, so it contains second derivatives (a Hessian-vector
product); first-order MAML drops them by treating ``grad L_i(theta)`` as a constant.

Parameters are dicts ``name -> tensor`` (``dict(model.named_parameters())``) and a model is evaluated at any
parameters with ``torch.func.functional_call``: adaptation returns new dicts and never changes a module.

References:
    Finn, Abbeel & Levine, *Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks*, ICML 2017.
    functorch's ``examples/maml_regression``: MAML on sinusoids with ``grad`` and ``vmap``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from metarl_edu._checks import check_int

Params = dict[str, torch.Tensor]
Batch = Any  # whatever a loss function takes as data, e.g. a tuple (x, y) of tensors


# --------------------------------------------------------------------------------------------- the inner loop
def inner_update(params: Params, grads: Params, alpha: float) -> Params:
    """One gradient step on every parameter: ``theta'[k] = theta[k] - alpha * grads[k]``.

    Returns a new dict; ``params`` is not changed.

    >>> inner_update({"w": torch.tensor(1.0)}, {"w": torch.tensor(2.0)}, alpha=0.1)
    {'w': tensor(0.8000)}
    """
    if params.keys() != grads.keys():
        raise KeyError(f"params and grads must have the same names; got {sorted(params)} and {sorted(grads)}")
    return {k: params[k] - alpha * grads[k] for k in params}


def adapt(
    loss_fn: Callable[[Params, Batch], torch.Tensor],
    params: Params,
    batch: Batch,
    alpha: float,
    steps: int = 1,
    first_order: bool = False,
) -> Params:
    """``steps`` inner updates ``theta <- theta - alpha grad_theta loss_fn(theta, batch)``; returns ``theta'``.

    Differentiable: a loss computed at ``theta'`` can be back-propagated to ``params`` (second-order MAML).
    ``first_order=True`` detaches each inner gradient, so the outer gradient treats it as a constant and
    ``d theta' / d theta = I`` (first-order MAML, FOMAML).

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``, e.g. the mean squared error of a model at ``params``.
        params: ``theta``, dict name -> tensor.
        batch: the task's support data, passed to ``loss_fn`` unchanged.
        alpha: inner step size (positive).
        steps: number of inner updates (0 returns ``params``).
        first_order: drop the second-order terms.
    """
    check_int("steps", steps, low=0)
    theta = params
    for _ in range(steps):
        grads = grad(loss_fn)(theta, batch)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}  # FOMAML: the inner gradient is a constant
        theta = inner_update(theta, grads, alpha)
    return theta


# --------------------------------------------------------------------------------------------- regression losses
def regression_loss(model: nn.Module, params: Params, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean squared error ``(1/K) sum_j (f_theta(x_j) - y_j)^2`` of ``model`` at ``params``; x, y of shape (K, 1)."""
    x, y = batch
    return torch.mean((functional_call(model, params, (x,)) - y) ** 2)


def task_meta_loss(
    model: nn.Module,
    params: Params,
    task: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    alpha: float,
    first_order: bool = False,
    steps: int = 1,
) -> torch.Tensor:
    """One task's meta-loss ``L(theta'; query)`` with ``theta' = theta - alpha grad_theta L(theta; support)``.

    ``task = ((x_s, y_s), (x_q, y_q))``, each of shape (K, 1); ``L`` is the mean squared error; ``steps`` inner
    updates (:func:`adapt`). Differentiable in ``params``: through the inner gradient (second order), or with that
    gradient detached (``first_order``). :func:`maml_loss` maps it over a batch of tasks.
    """
    support, query = task
    theta_prime = adapt(partial(regression_loss, model), params, support, alpha, steps, first_order)
    return regression_loss(model, theta_prime, query)


def maml_loss(
    model: nn.Module,
    params: Params,
    support: tuple[torch.Tensor, torch.Tensor],
    query: tuple[torch.Tensor, torch.Tensor],
    alpha: float,
    steps: int = 1,
    first_order: bool = False,
) -> torch.Tensor:
    """The meta-loss ``(1/n) sum_i L(theta'_i; query_i)`` with ``theta'_i = adapt(theta; support_i)``, vmapped.

    ``support`` and ``query`` are ``(x, y)`` pairs of shape (n_tasks, K, 1); every task is adapted and scored
    in one batched computation: :func:`task_meta_loss` under ``torch.func.vmap`` over the task dimension.
    Differentiable in ``params``.
    """
    def one_task(theta: Params, task: tuple) -> torch.Tensor:
        return task_meta_loss(model, theta, task, alpha, first_order, steps)

    return vmap(one_task, in_dims=(None, 0))(params, (support, query)).mean()
