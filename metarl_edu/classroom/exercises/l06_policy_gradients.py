"""Lesson 06: the reward-to-go, the REINFORCE loss with a baseline and a mask, REINFORCE itself, and GAE.

``L = -(1/N) sum_episodes sum_t m_t log pi(a_t | s_t) (G_t - b_t)``, with ``G - b`` treated as data. The cases are
small enough to work by hand; the gradient cases check what the optimiser will see, not only the value. The
learner's REINFORCE is run on CartPole against the library's :func:`~metarl_edu.pg.train_reinforce` with the same
seed, and a mismatch is compared with the runs that typical mistakes produce, so that the hint can name one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from metarl_edu.classroom.cases import Exercise, Failure, as_numbers, expect_close, fmt, fmt_exception, register
from metarl_edu.classroom.references import (
    gae_reference,
    reinforce_loss_reference,
    reinforce_reference,
    reward_to_go_reference,
)
from metarl_edu.nets import CategoricalMLPPolicy
from metarl_edu.pg import (
    discounted_returns,
    linear_baseline,
    reinforce_loss,
    sample_episodes,
    train_reinforce,
)


def _batch() -> dict[str, torch.Tensor]:
    """T = 2 steps, N = 2 episodes; the second episode ended after one step (mask 0 at t = 1)."""
    return {
        "log_probs": torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], dtype=torch.float64, requires_grad=True),
        "returns": torch.tensor([[3.0, 1.0], [2.0, 0.0]], dtype=torch.float64, requires_grad=True),
        "baseline": torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True),
        "mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=torch.float64),
    }


def _call(fn: Callable[..., Any], log_probs: torch.Tensor, returns: torch.Tensor, baseline: torch.Tensor | None,
          mask: torch.Tensor | None) -> Any:
    """``fn(log_probs, returns, baseline, mask)``, with a Failure that names an input it changed in place, and a
    hint for ``None`` arguments it did not handle."""
    inputs = {"log_probs": log_probs, "returns": returns, "baseline": baseline, "mask": mask}
    before = {k: v.detach().clone() for k, v in inputs.items() if v is not None}
    try:
        out = fn(log_probs, returns, baseline, mask)
    except TypeError as exc:
        if baseline is None or mask is None:  # decided on the case's inputs: the grader sees no exception text
            raise Failure(f"your function raised {fmt_exception(exc)}. Hint: baseline=None means b = 0 and mask=None "
                          "means every step counts; handle None before subtracting or multiplying") from None
        raise
    for name, value in before.items():
        if not torch.equal(inputs[name].detach(), value):
            raise Failure(f"{name} was changed in place (-=, *=, sub_, or an in-place operation on a .detach() of "
                          f"it, which shares its memory): compute new tensors and leave the inputs as they are")
    return out


def _loss(fn: Callable[..., Any], batch: dict[str, torch.Tensor], baseline: bool = True,
          mask: bool = True) -> torch.Tensor:
    loss = _call(fn, batch["log_probs"], batch["returns"], batch["baseline"] if baseline else None,
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
        expected = float(reinforce_loss_reference(log_probs, returns, baseline, mask).detach())
        got = _call(fn, log_probs, returns, baseline, mask)
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise Failure(f"return the loss as a one-element tensor; got {type(got).__name__}: {fmt(got)}")
        n_steps = float(mask.sum())
        expect_close(float(got.detach()), expected, atol=1e-9,
                     what="the loss for a (T, n_tasks, n_traj) batch", mistakes=(
                         (expected * 6 / 2, "N is every batch entry (n_tasks * n_traj), not only the "
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


# --------------------------------------------------------------------------------------------- reward-to-go
def _flags(T: int, ends: dict[int, str], B: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(terminated, truncated) of shape (T, B): ``ends[t]`` is "term" or "trunc" for the step t that ends."""
    terminated, truncated = torch.zeros(T, B, dtype=torch.bool), torch.zeros(T, B, dtype=torch.bool)
    for t, kind in ends.items():
        (terminated if kind == "term" else truncated)[t] = True
    return terminated, truncated


def _column(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 1)


def _reward_to_go(fn: Callable[..., Any], rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                  gamma: float) -> np.ndarray:
    """The learner's G as numbers of the rewards' shape; inputs that were changed are reported."""
    inputs = {"rewards": rewards, "terminated": terminated, "truncated": truncated}
    before = {k: v.clone() for k, v in inputs.items()}
    out = fn(rewards, terminated, truncated, gamma)
    for name, value in before.items():
        if not torch.equal(inputs[name], value):
            raise Failure(f"{name} was changed in place: build a new tensor for G (torch.zeros_like(rewards), "
                          "then fill it from the end) and leave the inputs as they are")
    G = as_numbers(out, "G")
    if G.shape != tuple(rewards.shape):
        raise Failure(f"G must have the shape of rewards {tuple(rewards.shape)}, one value per step; got {G.shape}")
    return G


_FORWARD = ("G_t sums the rewards from t ON, r_t + gamma G_(t+1): compute it backwards from the last step. You "
            "have the sum up to t, or G in reverse order (a list built from the end must be reversed)")


def _reward_to_go_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def by_hand() -> None:
        # r = 1, 1, 1, the episode terminates at t = 2, gamma = 0.5: G = (1 + 0.5 + 0.25, 1 + 0.5, 1).
        G = _reward_to_go(fn, _column(1, 1, 1), *_flags(3, {2: "term"}), 0.5)
        expect_close(G.ravel(), [1.75, 1.5, 1.0], what="G", mistakes=(
            ([1.0, 1.5, 1.75], _FORWARD),
            ([1.75, 1.75, 1.75], "G_t is the reward-TO-GO from step t, not the whole episode's return at every step: "
                                 "rewards before t do not depend on a_t"),
            ([3.0, 2.0, 1.0], "discount: G_t = r_t + gamma G_(t+1)"),
            ([1.75, 0.75, 0.25], "discount from step t, gamma^(k - t) r_k, not from the start of the episode"),
        ))

    def two_episodes() -> None:
        # Two episodes one after the other along the time axis: r = 1, 2 | 3, 4, the first terminates at t = 1, the
        # second is truncated at t = 3. gamma = 0.5: G = (1 + 0.5 * 2, 2, 3 + 0.5 * 4, 4) = (2, 2, 5, 4).
        # Without the restart: G_1 = 2 + 0.5 * 5 = 4.5, G_0 = 1 + 0.5 * 4.5 = 3.25.
        G = _reward_to_go(fn, _column(1, 2, 3, 4), *_flags(4, {1: "term", 3: "trunc"}), 0.5)
        expect_close(G.ravel(), [2.0, 2.0, 5.0, 4.0], what="G", mistakes=(
            ([3.25, 4.5, 5.0, 4.0], "restart at each episode end: where terminated or truncated, G_t = r_t (the "
                                    "next step belongs to another episode)"),
        ))

    def truncation_ends_too() -> None:
        # r = 1 | 2, 3: the first episode is cut by a time limit at t = 0 (truncated), the second terminates at
        # t = 2. gamma = 0.5: G = (1, 2 + 1.5, 3). Restarting at termination only: G_0 = 1 + 0.5 * 3.5 = 2.75.
        G = _reward_to_go(fn, _column(1, 2, 3), *_flags(3, {0: "trunc", 2: "term"}), 0.5)
        expect_close(G.ravel(), [1.0, 3.5, 3.0], what="G", mistakes=(
            ([2.75, 3.5, 3.0], "a truncated episode ends too: without a value estimate, stop at the cut, G_t = r_t "
                               "where truncated (as where terminated)"),
        ))

    def batch(shape: tuple[int, ...], seed: int) -> Callable[[], None]:
        def run() -> None:
            # Random rewards and episode ends in a batch of that shape, against the library.
            g = torch.Generator().manual_seed(seed)
            rewards = torch.randn(shape, generator=g, dtype=torch.float64)
            terminated = torch.rand(shape, generator=g) < 0.2
            truncated = (torch.rand(shape, generator=g) < 0.1) & ~terminated
            truncated[-1] |= ~terminated[-1]  # every episode ends by the last step
            expected = reward_to_go_reference(rewards, terminated, truncated, 0.9).numpy()
            G = _reward_to_go(fn, rewards, terminated, truncated, 0.9)
            expect_close(G, expected, atol=1e-9, what=f"G for a batch of shape {shape}")
        return run

    yield "one episode of 3 steps, gamma = 0.5", by_hand
    yield "two episodes in one column", two_episodes
    yield "a time limit ends an episode too", truncation_ends_too
    yield "a random (6, 4) batch", batch((6, 4), 0)
    yield "a random (5, 2, 3) meta-batch", batch((5, 2, 3), 1)


REWARD_TO_GO = register(
    Exercise(
        id="reward_to_go",
        title="The discounted reward-to-go",
        reference=reward_to_go_reference,
        reference_name="metarl_edu.classroom.references.reward_to_go_reference",
        cases=_reward_to_go_cases,
        equivalents=("metarl_edu.pg.discounted_returns",),
    )
)


# --------------------------------------------------------------------------------------------- REINFORCE
def _mistaken_run(env: gym.Env, policy: Any, n: int, batch_size: int, lr: float, gamma: float, seed: int,
                  mistake: str) -> tuple[np.ndarray, np.ndarray]:
    """The REINFORCE loop with one typical mistake, to recognise a learner's run by its numbers (the correct loop
    is the library's ``train_reinforce``)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    means = []
    for i in range(n):
        if mistake == "new optimizer":
            optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        e = sample_episodes(env, policy, batch_size, generator=generator, seed=seed if i == 0 else None)
        G = discounted_returns(e.rewards, e.terminated, e.truncated, {"undiscounted": 1.0, "default gamma": 0.99}
                               .get(mistake, gamma))
        if mistake == "whole return":
            G = G[:1].expand_as(G) * e.mask
        if mistake == "whole undiscounted return":
            G = e.total_rewards().expand_as(G) * e.mask
        b = None if mistake == "no baseline" else linear_baseline(e.obs, G, e.mask)
        loss = reinforce_loss(policy.log_prob(e.obs, e.actions), G, b, e.mask)
        if mistake != "no zero_grad":
            optimizer.zero_grad()
        (-loss if mistake == "ascent" else loss).backward()
        optimizer.step()
        means.append(float(e.total_rewards().mean()))
    return np.array(means), _params_vector(policy)


_WHOLE = "weight step t by its reward-to-go G_t (returns_fn), not by the whole episode's return"
_RUN_MISTAKES = {
    "no baseline": "subtract the linear baseline: b = linear_baseline(episodes.obs, G, episodes.mask), passed to "
                   "loss_fn with G",
    "ascent": "minimise the loss: loss.backward() then optimizer.step() (loss_fn already carries the minus sign; do "
              "not negate it)",
    "no zero_grad": "call optimizer.zero_grad() before loss.backward() in every iteration: otherwise the gradients "
                    "of earlier batches pile up",
    "whole return": _WHOLE,
    "whole undiscounted return": _WHOLE,
    "undiscounted": "discount the reward-to-go with gamma: returns_fn(episodes.rewards, episodes.terminated, "
                    "episodes.truncated, gamma)",
    "default gamma": "use the gamma passed in, not 0.99",
    "new optimizer": "make the optimizer once, before the loop: Adam keeps running averages of the gradients from "
                     "one update to the next, and a new one forgets them",
}


def _params_vector(policy: Any) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in policy.parameters()]).double().numpy()


def _reinforce_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def against_library(n: int, batch_size: int, lr: float, gamma: float, seed: int) -> Callable[[], None]:
        def run() -> None:
            def fresh() -> tuple[gym.Env, Any]:
                return gym.make("CartPole-v1"), CategoricalMLPPolicy(4, 2, hidden_sizes=(8,), seed=seed)

            env, policy = fresh()
            start = _params_vector(policy)
            got = fn(env, policy, n, batch_size=batch_size, lr=lr, gamma=gamma, seed=seed)
            curve = as_numbers(got, "the mean returns")
            if curve.shape != (n,):
                raise Failure(f"return one mean return per update, shape ({n},); got shape {curve.shape}")
            params = _params_vector(policy)
            env, reference = fresh()
            expected = train_reinforce(env, reference, n, batch_size=batch_size, lr=lr, gamma=gamma, seed=seed,
                                       progress=False)
            if np.allclose(curve, expected, atol=1e-3) and np.allclose(params, _params_vector(reference),
                                                                        atol=1e-4):
                return
            message = f"mean returns {fmt(curve)}, the library's {fmt(expected)}"
            if abs(curve[0] - expected[0]) > 1e-3:
                raise Failure(f"{message}: the first batch, played before any update, already differs. Sample as "
                              "described: generator = torch.Generator().manual_seed(seed), made once; then "
                              "sample_episodes(env, policy, batch_size, generator=generator, seed=seed if i == 0 "
                              "else None); record float(episodes.total_rewards().mean())")
            if np.array_equal(params, start):
                raise Failure(f"{message}: the policy's parameters never changed. Make the optimizer from "
                              "policy.parameters() and call optimizer.step() after loss.backward()")
            for mistake, hint in _RUN_MISTAKES.items():
                if mistake == "default gamma" and gamma == 0.99:
                    continue
                env, other = fresh()
                other_curve, other_params = _mistaken_run(env, other, n, batch_size, lr, gamma, seed, mistake)
                if np.allclose(curve, other_curve, atol=1e-3) and np.allclose(params, other_params, atol=1e-4):
                    raise Failure(f"{message}. Hint: {hint}")
            raise Failure(f"{message}: the updates differ from REINFORCE's. Per batch: G = returns_fn(...), "
                          "b = linear_baseline(obs, G, mask), loss = loss_fn(policy.log_prob(obs, actions), G, b, "
                          "mask), then zero_grad, backward, step")
        return run

    yield "CartPole, 3 updates of 4 episodes, lr 0.05, seed 0: as the library's", against_library(3, 4, 0.05, 0.99, 0)
    yield "CartPole, 3 updates of 3 episodes, gamma 0.9, lr 0.1, seed 7", against_library(3, 3, 0.1, 0.9, 7)
    yield "CartPole, 4 updates of 1 episode, lr 0.02, seed 11", against_library(4, 1, 0.02, 0.99, 11)


REINFORCE = register(
    Exercise(
        id="reinforce",
        title="REINFORCE with reward-to-go and a baseline",
        reference=reinforce_reference,
        reference_name="metarl_edu.classroom.references.reinforce_reference",
        cases=_reinforce_cases,
        equivalents=("metarl_edu.pg.train_reinforce",),
    )
)


# --------------------------------------------------------------------------------------------- GAE
def _gae(fn: Callable[..., Any], rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float,
         mask: torch.Tensor | None = None) -> np.ndarray:
    inputs = {"rewards": rewards, "values": values, "mask": mask}
    before = {k: v.clone() for k, v in inputs.items() if v is not None}
    try:
        out = fn(rewards, values, gamma, lam, mask)
    except TypeError as exc:
        if mask is None:  # decided on the case's inputs: the grader sees no exception text
            raise Failure(f"your function raised {fmt_exception(exc)}. Hint: mask=None means every step is real: "
                          "use torch.ones_like(rewards) then") from None
        raise
    for name, value in before.items():
        if not torch.equal(inputs[name], value):
            raise Failure(f"{name} was changed in place: write the advantages into a new tensor "
                          "(torch.zeros_like(rewards)) and leave the inputs as they are")
    A = as_numbers(out, "the advantages")
    if A.shape != tuple(rewards.shape):
        raise Failure(f"the advantages must have the shape of rewards {tuple(rewards.shape)}; got {A.shape}")
    return A


def _gae_variant(r: torch.Tensor, v: torch.Tensor, gamma_delta: float, decay: float,
                 mask: torch.Tensor | None = None, mask_next_v: bool = True) -> np.ndarray:
    """``delta_t = r_t + gamma_delta V_(t+1) - V_t`` and ``A_t = delta_t + decay A_(t+1)``, backwards, padding after
    the end: GAE is ``gamma_delta = gamma, decay = gamma * lam``; other values (and ``mask_next_v=False``, which
    bootstraps from V on padding) are typical mistakes."""
    mask = torch.ones_like(r) if mask is None else mask
    A, next_v, next_a = torch.zeros_like(r), torch.zeros_like(r[0]), torch.zeros_like(r[0])
    for t in range(r.shape[0] - 1, -1, -1):
        A[t] = mask[t] * (r[t] + gamma_delta * next_v - v[t] + decay * next_a)
        next_v, next_a = (mask[t] * v[t] if mask_next_v else v[t]), A[t]
    return A.numpy()


def _gae_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def by_hand() -> None:
        # r = 1, 1, 1 and V = 0.5 everywhere, gamma = lam = 0.5, nothing after t = 2:
        # delta = (1 + 0.25 - 0.5, 1 + 0.25 - 0.5, 1 + 0 - 0.5) = (0.75, 0.75, 0.5)
        # A_2 = 0.5, A_1 = 0.75 + 0.25 * 0.5 = 0.875, A_0 = 0.75 + 0.25 * 0.875 = 0.96875.
        # Forwards instead: A_0 = 0.75, A_1 = 0.75 + 0.25 * 0.75 = 0.9375, A_2 = 0.5 + 0.25 * 0.9375 = 0.734375.
        r, v = _column(1, 1, 1), _column(0.5, 0.5, 0.5)
        A = _gae(fn, r, v, 0.5, 0.5)
        expect_close(A.ravel(), [0.96875, 0.875, 0.5], what="A", mistakes=(
            ([0.75, 0.9375, 0.734375], "compute backwards from the last step: A_t needs A_(t+1)"),
            (_gae_variant(r, v, 1.0, 0.25).ravel(), "delta_t = r_t + gamma V(s_(t+1)) - V(s_t): the next value "
                                                    "is discounted by gamma"),
        ))

    def lam_is_used() -> None:
        # gamma = 0.9 and lam = 0.5 differ, so each slip in the recursion gives its own numbers.
        r, v = _column(1, 0, 2), _column(1, 2, 0.5)
        A = _gae(fn, r, v, 0.9, 0.5)
        expect_close(A.ravel(), gae_reference(r, v, 0.9, 0.5).numpy().ravel(), atol=1e-9, what="A (gamma 0.9, lam 0.5)",
                     mistakes=(
                         (_gae_variant(r, v, 0.9, 0.9).ravel(), "accumulate with gamma * lam: A_t = delta_t + "
                                                                "gamma * lam * A_(t+1), not gamma alone"),
                         (_gae_variant(r, v, 0.9, 0.5).ravel(), "accumulate with gamma * lam: A_t = delta_t + "
                                                                "gamma * lam * A_(t+1), not lam alone"),
                         (_gae_variant(r, v, 0.45, 0.45).ravel(), "delta_t discounts V(s_(t+1)) by gamma, not by "
                                                                  "gamma * lam"),
                     ))

    def extremes() -> None:
        # lam = 0: A_t = delta_t, the TD error. lam = 1: A_t = G_t - V(s_t), the reward-to-go minus the baseline.
        g = torch.Generator().manual_seed(3)
        r, v = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64)
        next_v = torch.cat([v[1:], torch.zeros(1, 2, dtype=torch.float64)])
        expect_close(_gae(fn, r, v, 0.9, 0.0), (r + 0.9 * next_v - v).numpy(), atol=1e-9,
                     what="A with lam = 0 (the TD errors r_t + gamma V(s_(t+1)) - V(s_t))")
        ends = torch.zeros(5, 2, dtype=torch.bool)
        ends[-1] = True
        G = discounted_returns(r, ends, torch.zeros_like(ends), 0.9)
        expect_close(_gae(fn, r, v, 0.9, 1.0), (G - v).numpy(), atol=1e-9, what="A with lam = 1 (G_t - V(s_t))")

    def padding() -> None:
        # Column 0 is 3 real steps; column 1 ended after 1 step (mask 1, 0, 0) and V there is 100 on padding.
        # Column 1: A_0 = r_0 - V_0 = 1 - 0.5 (nothing follows the last real step), A_1 = A_2 = 0.
        r = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
        v = torch.tensor([[0.5, 0.5], [0.5, 100.0], [0.5, 100.0]], dtype=torch.float64)
        mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
        A = _gae(fn, r, v, 0.5, 0.5, mask)
        unmasked = _gae_variant(r, v, 0.5, 0.25)
        expect_close(A, [[0.96875, 0.5], [0.875, 0.0], [0.5, 0.0]], what="A with padding", mistakes=(
            (unmasked, "use the mask: a padding step (mask 0) comes after the episode's end, so its advantage is 0 "
                       "and the last real step does not bootstrap from its V"),
            (unmasked * mask.numpy(), "the padding's advantages are 0, but the last real step bootstrapped from V on "
                                      "the padding step: after the end V counts as 0 (next_v = mask[t] * v[t])"),
            (_gae_variant(r, v, 0.5, 0.25, mask, mask_next_v=False),
             "the padding's advantages are 0, but the last real step bootstrapped from V on the padding step: after "
             "the end V counts as 0 (next_v = mask[t] * v[t])"),
        ))

    def no_mask_means_all_real() -> None:
        r, v = _column(1, 1, 1), _column(0.5, 0.5, 0.5)
        expect_close(_gae(fn, r, v, 0.5, 0.5, None).ravel(), [0.96875, 0.875, 0.5], what="A with mask=None")

    def batch(seed: int) -> Callable[[], None]:
        def run() -> None:
            g = torch.Generator().manual_seed(seed)
            lengths = torch.randint(1, 8, (5,), generator=g)
            mask = (torch.arange(7).reshape(7, 1) < lengths).double()
            r = torch.randn(7, 5, generator=g, dtype=torch.float64) * mask
            v = torch.randn(7, 5, generator=g, dtype=torch.float64)
            expected = gae_reference(r, v, 0.95, 0.9, mask).numpy()
            expect_close(_gae(fn, r, v, 0.95, 0.9, mask), expected, atol=1e-9,
                         what="A for 5 episodes of random lengths")
        return run

    yield "3 steps by hand, gamma = lam = 0.5", by_hand
    yield "gamma 0.9, lam 0.5", lam_is_used
    yield "lam = 0 gives TD errors, lam = 1 gives G - V", extremes
    yield "padding after an episode's end", padding
    yield "mask=None: every step is real", no_mask_means_all_real
    yield "5 random episodes, seed 0", batch(0)
    yield "5 random episodes, seed 1", batch(1)


GAE = register(
    Exercise(
        id="gae",
        title="Generalised advantage estimation",
        reference=gae_reference,
        reference_name="metarl_edu.classroom.references.gae_reference",
        cases=_gae_cases,
        equivalents=("metarl_edu.pg.gae_advantages",),
    )
)
