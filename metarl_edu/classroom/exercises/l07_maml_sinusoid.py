"""Lesson 07: MAML's inner update and one task's meta-loss.

The hand-worked cases use a one-parameter linear model ``f(x) = w x`` whose adapted parameter and meta-gradient
can be computed on paper; the other cases compare against the library on a small tanh network (smooth, so the
second-order terms are not zero).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from metarl_edu.classroom.cases import Exercise, Failure, expect_close, fmt, register, unfinished_dependency
from metarl_edu.classroom.references import inner_update_reference, meta_loss_reference
from metarl_edu.nets import mlp


# --------------------------------------------------------------------------------------------- inner update
def _params() -> dict[str, torch.Tensor]:
    return {"w": torch.tensor([1.0, 2.0], dtype=torch.float64), "b": torch.tensor(0.5, dtype=torch.float64)}




def _grads() -> dict[str, torch.Tensor]:
    return {"w": torch.tensor([10.0, -10.0], dtype=torch.float64), "b": torch.tensor(1.0, dtype=torch.float64)}


def _call_update(fn: Callable[..., Any], params: dict, grads: dict, alpha: float) -> dict:
    new = fn(params, grads, alpha)
    if not isinstance(new, dict):
        raise Failure(f"return a dict name -> tensor (theta'); got {type(new).__name__}")
    if set(new) != set(params):
        raise Failure(f"theta' must have the same names as params {sorted(params)}; got {sorted(new)}")
    return new


def _inner_update_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def by_hand() -> None:
        # alpha = 0.1: w' = [1, 2] - 0.1 * [10, -10] = [0, 3];  b' = 0.5 - 0.1 * 1 = 0.4
        new = _call_update(fn, _params(), _grads(), 0.1)
        expect_close(new["w"], [0.0, 3.0], what="theta'['w']", mistakes=(
            ([2.0, 1.0], "step against the gradient: theta' = theta - alpha * grad (a minus sign)"),
            ([-9.0, 12.0], "scale the gradient by the step size alpha"),
        ))
        expect_close(new["b"], 0.4, what="theta'['b']")

    def leaves_params_alone() -> None:
        params, grads = _params(), _grads()
        new = _call_update(fn, params, grads, 0.1)
        if new is params:
            raise Failure("you returned the params dict itself: build and return a NEW dict, MAML still needs theta")
        if not (torch.equal(params["w"], _params()["w"]) and torch.equal(params["b"], _params()["b"])):
            raise Failure("the params passed in were changed: do not update in place (no -=), MAML still "
                          "needs theta for the outer update; return a new dict")
        if not torch.equal(grads["w"], _grads()["w"]):
            raise Failure("the grads passed in were changed; leave them as they are")

    def differentiable() -> None:
        # d theta'/d theta = 1 and d theta'/d grads = -alpha: the outer gradient must flow through the update.
        params = {k: v.clone().requires_grad_(True) for k, v in _params().items()}
        grads = {k: v.clone().requires_grad_(True) for k, v in _grads().items()}
        new = _call_update(fn, params, grads, 0.1)
        total = sum(v.sum() for v in new.values())
        if not isinstance(total, torch.Tensor) or not total.requires_grad:
            raise Failure("theta' carries no gradient: no torch.no_grad(), .data or .detach() here; MAML "
                          "differentiates through this step")
        d_params, d_grads = torch.autograd.grad(total, [params["w"], grads["w"]], allow_unused=True)
        if d_params is None:
            raise Failure("theta' does not depend on params: .data or .detach() on params cuts the path of MAML's "
                          "meta-gradient (d theta'/d theta = 1); use params[k] itself")
        if d_grads is None:
            raise Failure("theta' does not depend on grads: do not detach the gradients here; meta_loss decides "
                          "that (first_order), and second-order MAML differentiates through them")
        expect_close(d_params.numpy(), [1.0, 1.0], what="d theta'/d theta")
        expect_close(d_grads.numpy(), [-0.1, -0.1], what="d theta'/d grads")

    def against_reference() -> None:
        net = mlp((1, 4, 1), "tanh", seed=3).double()
        params = {k: v.detach() for k, v in net.named_parameters()}
        g = torch.Generator().manual_seed(0)
        grads = {k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in params.items()}
        new = _call_update(fn, params, grads, 0.01)
        expected = inner_update_reference(params, grads, 0.01)
        for k in params:
            expect_close(new[k], expected[k].numpy(), atol=1e-9, what=f"theta'[{k!r}]")

    yield "two parameters, alpha=0.1", by_hand
    yield "params and grads are left unchanged", leaves_params_alone
    yield "the outer gradient flows through the step", differentiable
    yield "a 1-4-1 network's parameters", against_reference


# --------------------------------------------------------------------------------------------- meta-loss
def _linear_task() -> tuple[torch.nn.Module, dict, tuple]:
    """f(x) = w x with w = 1; support x = [1, -1], y = [3, -3]; query x = [1, -1], y = [5, -5]."""
    model = torch.nn.Linear(1, 1, bias=False).double()
    params = {"weight": torch.tensor([[1.0]], dtype=torch.float64, requires_grad=True)}
    x = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    return model, params, ((x, 3 * x), (x.clone(), 5 * x))


def _meta_value(fn: Callable[..., Any], model: Any, params: dict, task: tuple, alpha: float,
                first_order: bool, blocked: list[str] | None = None) -> torch.Tensor:
    """The learner's meta-loss as a 0-d tensor that carries a gradient, or a Failure that says why not. A stub of
    another exercise that ``fn`` calls is reported as such (and its name appended to ``blocked``)."""
    before = [v.detach().clone() for v in (*params.values(), *task[0], *task[1])]
    try:
        loss = fn(model, params, task, alpha, first_order=first_order)
    except NotImplementedError as exc:
        name = unfinished_dependency(fn, exc)
        if name is None:
            raise  # meta_loss itself is the stub: not attempted yet
        if blocked is not None:
            blocked.append(name)
        raise Failure(f"your meta_loss calls {name}, which still raises NotImplementedError: this check depends on "
                      f"it, so write {name} first (its own check must pass), then run this check again") from None
    after = [v.detach() for v in (*params.values(), *task[0], *task[1])]
    if not all(torch.equal(x, y) for x, y in zip(before, after, strict=True)):
        raise Failure("params or the task's points were changed in place: build theta' as a new dict and leave "
                      "the inputs as they are (MAML still needs theta for the outer update)")
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise Failure(f"return the meta-loss as a one-element tensor; got {type(loss).__name__}: {fmt(loss)}")
    if not loss.requires_grad:
        raise Failure("the meta-loss carries no gradient w.r.t. params: compute it from theta' without "
                      "torch.no_grad() or .detach(), so the outer update can differentiate it")
    return loss.reshape(())


def _meta_loss_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    # By hand, alpha = 0.25, L = mean squared error over the two points:
    #   inner gradient: dL_s/dw = mean(2 x (w x - y)) = mean(2 * 1 * (1 - 3), 2 * (-1) * (-1 + 3)) = -4
    #   w' = 1 - 0.25 * (-4) = 2;  L_q(w') = mean((2 - 5)^2, (-2 + 5)^2) = 9
    #   dw'/dw = 1 - alpha * mean(2 x^2) = 0.5 (second order) or 1 (first order: the inner gradient is a constant)
    #   dL_q/dw' = mean(2 x (w' x - y)) = -6, so the meta-gradient is -3 (second order) or -6 (first order).
    # Mistakes: w' = w + alpha g = 0 -> L = 25 and meta-gradient -10 * 1.5 = -15; the inner step on the query set
    # (dL_q/dw = -8) -> w' = 3 -> L = 4; no inner step -> L = 16; sums instead of means -> w' = 3 -> L = 8.
    blocked: list[str] = []  # an unwritten exercise that fn calls: one hint says so, the other cases are skipped

    def value() -> None:
        model, params, task = _linear_task()
        loss = _meta_value(fn, model, params, task, 0.25, False, blocked)
        expect_close(float(loss.detach()), 9.0, what="the meta-loss", mistakes=(
            (25.0, "the inner step goes against the gradient: theta' = theta - alpha * grad"),
            (4.0, "take the inner gradient on the SUPPORT set; the query set only scores theta'"),
            (16.0, "score theta' (after the inner step), not theta, on the query set"),
            (8.0, "use the MEAN squared error over the points (torch.mean), not the sum"),
        ))

    def second_order() -> None:
        model, params, task = _linear_task()
        loss = _meta_value(fn, model, params, task, 0.25, False)
        (meta_grad,) = torch.autograd.grad(loss, [params["weight"]])
        expect_close(float(meta_grad), -3.0, what="the meta-gradient dL/dw (second order)", mistakes=(
            (-6.0, "with first_order=False do not detach the inner gradient: the meta-gradient must flow through "
                   "it (torch.func.grad keeps that graph by itself; torch.autograd.grad needs create_graph=True)"),
            (-15.0, "the inner step goes against the gradient: theta' = theta - alpha * grad"),
        ))

    def first_order() -> None:
        model, params, task = _linear_task()
        loss = _meta_value(fn, model, params, task, 0.25, True)
        (meta_grad,) = torch.autograd.grad(loss, [params["weight"]])
        expect_close(float(meta_grad), -6.0, what="the meta-gradient dL/dw (first order)", mistakes=(
            (-3.0, "with first_order=True detach the inner gradients (g.detach()) so they count as constants"),
        ))

    def network(first_order: bool) -> Callable[[], None]:
        def run() -> None:
            net = mlp((1, 5, 5, 1), "tanh", seed=1).double()
            g = torch.Generator().manual_seed(2)
            params = {k: (v.detach() + 0.3 * torch.randn(v.shape, generator=g, dtype=v.dtype)).requires_grad_(True)
                      for k, v in net.named_parameters()}
            x = torch.rand(2, 10, 1, generator=g, dtype=torch.float64) * 10 - 5
            task = ((x[0], 2 * torch.sin(x[0] - 1)), (x[1], 2 * torch.sin(x[1] - 1)))
            loss = _meta_value(fn, net, params, task, 0.05, first_order)
            expected = meta_loss_reference(net, params, task, 0.05, first_order)
            expect_close(float(loss.detach()), float(expected.detach()), atol=1e-8, what="the meta-loss")
            got_grads = torch.autograd.grad(loss, list(params.values()))
            expected_grads = torch.autograd.grad(expected, list(params.values()))
            for name, a, b in zip(params, got_grads, expected_grads, strict=True):
                expect_close(a.numpy(), b.numpy(), atol=1e-8, what=f"the meta-gradient for {name!r}")
        return run

    yield "f(x) = w x, alpha=0.25: the meta-loss", value
    if blocked:
        return
    yield "f(x) = w x: the second-order meta-gradient", second_order
    yield "f(x) = w x: the first-order meta-gradient", first_order
    yield "a 1-5-5-1 tanh network, second order", network(False)
    yield "a 1-5-5-1 tanh network, first order", network(True)


INNER_UPDATE = register(
    Exercise(
        id="inner_update",
        title="MAML's inner update",
        reference=inner_update_reference,
        reference_name="metarl_edu.classroom.references.inner_update_reference",
        cases=_inner_update_cases,
        equivalents=("metarl_edu.maml.inner_update",),
    )
)

META_LOSS = register(
    Exercise(
        id="meta_loss",
        title="One task's meta-loss",
        reference=meta_loss_reference,
        reference_name="metarl_edu.classroom.references.meta_loss_reference",
        cases=_meta_loss_cases,
        equivalents=("metarl_edu.maml.task_meta_loss", "metarl_edu.maml.maml_loss"),
    )
)
