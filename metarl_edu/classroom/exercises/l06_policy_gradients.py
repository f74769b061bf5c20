"""Lesson 06: the REINFORCE loss with a baseline and a mask.

``L = -(1/N) sum_episodes sum_t m_t log pi(a_t | s_t) (G_t - b_t)``, with ``G - b`` treated as data. The cases are
small enough to work by hand; the gradient cases check what the optimiser will see, not only the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from metarl_edu.classroom.cases import Exercise, Failure, expect_close, fmt, register
from metarl_edu.classroom.references import reinforce_loss_reference


def _batch() -> dict[str, torch.Tensor]:
    """T = 2 steps, N = 2 episodes; the second episode ended after one step (mask 0 at t = 1)."""
    return {
        "log_probs": torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], dtype=torch.float64, requires_grad=True),
        "returns": torch.tensor([[3.0, 1.0], [2.0, 0.0]], dtype=torch.float64, requires_grad=True),
        "baseline": torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True),
        "mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=torch.float64),
    }


def _loss(fn: Callable[..., Any], batch: dict[str, torch.Tensor], baseline: bool = True,
          mask: bool = True) -> torch.Tensor:
    loss = fn(batch["log_probs"], batch["returns"], batch["baseline"] if baseline else None,
              batch["mask"] if mask else None)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise Failure(f"return the loss as a one-element tensor; got {type(loss).__name__}: {fmt(loss)}")
    if not loss.requires_grad:
        raise Failure("the loss carries no gradient w.r.t. log_probs: no torch.no_grad() or .detach() on log_probs")
    return loss.reshape(())


# By hand, for _batch(): the weights G - b are [[2, 0], [1, -1]]; the masked products m * log_pi * (G - b) are
# t=0: -1 * 2 = -2 and -2 * 0 = 0; t=1: -0.5 * 1 = -0.5 and (masked) 0. Their sum is -2.5, over N = 2 episodes:
# L = -(-2.5) / 2 = 1.25.
# Mistakes: no minus sign -> -1.25; mean over the 4 entries -> 0.625; over the 3 real steps -> 0.8333;
# no mask (adds -3 * -1 = 3 to the sum, which becomes 0.5) -> -0.25; no baseline -> -(-3 - 2 - 1) / 2 = 3.
_MISTAKES = (
    (-1.25, "minimise MINUS the weighted log-probabilities: the optimiser descends, REINFORCE ascends J"),
    (0.625, "divide by the number of episodes N (the batch entries), not by every step: the sum over t stays a sum"),
    (2.5 / 3, "divide by the number of episodes N, not by the number of real steps"),
    (-0.25, "multiply by the mask: padding after an episode ended must not count"),
    (3.0, "subtract the baseline: the weight is G - b"),
)


def _cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def value() -> None:
        loss = _loss(fn, _batch())
        expect_close(float(loss.detach()), 1.25, what="the loss", mistakes=_MISTAKES)

    def gradient() -> None:
        # dL/d log_pi = -m (G - b) / N = [[-1, 0], [-0.5, 0]]
        batch = _batch()
        (d_log_probs,) = torch.autograd.grad(_loss(fn, batch), [batch["log_probs"]])
        expect_close(d_log_probs.numpy(), [[-1.0, 0.0], [-0.5, 0.0]], what="dL/d log_probs", mistakes=(
            (np.array([[1.0, 0.0], [0.5, 0.0]]), "minimise MINUS the weighted log-probabilities (a sign)"),
            (np.array([[-1.0, 0.0], [-0.5, 0.5]]), "multiply by the mask: padding must not count"),
        ))

    def weight_is_data() -> None:
        # G - b is a weight, not something to optimise: no gradient may reach the returns or the baseline.
        batch = _batch()
        d_returns, d_baseline = torch.autograd.grad(_loss(fn, batch), [batch["returns"], batch["baseline"]],
                                                    allow_unused=True)
        for name, d in (("returns", d_returns), ("baseline", d_baseline)):
            if d is not None and bool(torch.any(d != 0)):
                raise Failure(f"a gradient reaches the {name} ({fmt(d.numpy())}): detach the weight, "
                              "(returns - baseline).detach(), so only log_probs are differentiated")

    def no_baseline_no_mask() -> None:
        # baseline None: weights G; mask None: every step counts.
        # sum = -1*3 + -2*1 + -0.5*2 + -3*0 = -6 -> L = 3
        loss = _loss(fn, _batch(), baseline=False, mask=False)
        expect_close(float(loss.detach()), 3.0, what="the loss with baseline=None and mask=None", mistakes=(
            (-3.0, "minimise MINUS the weighted log-probabilities (a sign)"),
            (1.5, "divide by the number of episodes N, not by every step"),
        ))

    def meta_batch() -> None:
        # batch shape (n_tasks, n_traj) = (2, 3): N = 6 episodes, against the library.
        g = torch.Generator().manual_seed(0)
        log_probs = -torch.rand(5, 2, 3, generator=g, dtype=torch.float64)
        returns, baseline = torch.randn(2, 5, 2, 3, generator=g, dtype=torch.float64)
        mask = (torch.arange(5).reshape(5, 1, 1) < torch.tensor([[5, 3, 1], [2, 4, 5]])).double()
        log_probs.requires_grad_(True)
        got = fn(log_probs, returns, baseline, mask)
        expected = float(reinforce_loss_reference(log_probs, returns, baseline, mask).detach())
        if not isinstance(got, torch.Tensor):
            raise Failure(f"return the loss as a tensor; got {type(got).__name__}")
        n_steps = float(mask.sum())
        expect_close(float(got.detach()), expected, atol=1e-9,
                     what="the loss for a (T, n_tasks, n_traj) batch", mistakes=(
                         (expected * 6 / 3, "N is every batch entry (n_tasks * n_traj), not only the "
                                                   "first batch dimension"),
                         (expected * 6 / n_steps, "divide by the number of episodes N, not by the steps"),
                     ))

    yield "T=2, N=2, baseline and mask: the loss", value
    yield "the gradient w.r.t. log_probs", gradient
    yield "no gradient into the returns or the baseline", weight_is_data
    yield "baseline=None and mask=None", no_baseline_no_mask
    yield "a (5, 2, 3) meta-batch", meta_batch


REINFORCE_LOSS = register(
    Exercise(
        id="reinforce_loss",
        title="The REINFORCE loss with a baseline",
        reference=reinforce_loss_reference,
        reference_name="metarl_edu.classroom.references.reinforce_loss_reference",
        cases=_cases,
        equivalents=("metarl_edu.pg.reinforce_loss", "metarl_edu.pg.policy_gradient_loss"),
    )
)
