"""Lesson 08: the per-task adaptation step of MAML for RL (REINFORCE with the linear baseline, via torch.func), and
one task's meta-loss (adapt on D, score the adapted policy on D')."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from metarl_edu.classroom.cases import Exercise, Failure, expect_close, fmt, register
from metarl_edu.classroom.references import rl_meta_loss_reference
from metarl_edu.maml import adapt
from metarl_edu.maml_rl import adapt_step as _reference
from metarl_edu.maml_rl import advantages, inner_loss
from metarl_edu.nets import CategoricalMLPPolicy
from metarl_edu.pg import Episodes, normalise_advantages

SIGN = "the inner step goes DOWN the loss: theta' = theta - alpha * grad L, with L = -mean(log pi * A)"
BASELINE = "subtract the linear baseline from the returns before normalising: A = G - linear_baseline(obs, G, mask)"
NORMALISE = "normalise the advantages to mean 0 and standard deviation 1 over the real steps"
UNBIASED = ("A.std() divides by n - 1: normalise with the population standard deviation over the real steps, "
            "sqrt(mean((A - mean A)^2)), as normalise_advantages does (with few steps the two differ)")
PADDING = ("the mean and the standard deviation of the advantages count the padding (mask == 0) too: normalise over "
           "the real steps only, as normalise_advantages(A, mask) does, or pass the mask to every sum")
NO_GRAPH = ("theta' lost its link to params (.detach(), .data, torch.no_grad() or a new leaf tensor): keep theta' = "
            "theta - alpha * g a function of params, with create_graph=True (or torch.func.grad), so that MAML's "
            "meta-gradient can flow through the inner step")


def _step_with(policy: Any, params: dict, episodes: Episodes, alpha: float, A: torch.Tensor) -> dict:
    """theta - alpha * grad L with the given advantages ``A`` (to build a mistake's answer): the library's inner
    loop, :func:`metarl_edu.maml.adapt`, on :func:`inner_loss`."""
    def loss(theta: dict, e: Episodes) -> torch.Tensor:
        return inner_loss(policy.log_prob(e.obs, e.actions, params=theta), A, e.mask)

    return adapt(loss, params, episodes, alpha, 1, True)


def _one_step_episodes(obs: list[float], actions: list[int], rewards: list[float]) -> Episodes:
    """One-step episodes (T = 1, B = len(actions)), all terminated."""
    n = len(actions)
    ones = torch.ones((1, n))
    o = torch.tensor(obs, dtype=torch.float32).reshape(1, n, 1)
    return Episodes(obs=o, actions=torch.tensor([actions]), rewards=torch.tensor([rewards], dtype=torch.float32),
                    terminated=ones.bool(), truncated=~ones.bool(), mask=ones, next_obs=o.clone())


def _zero_linear_policy() -> tuple[CategoricalMLPPolicy, dict[str, torch.Tensor]]:
    """pi(a|s) = softmax(W s + c) over 2 actions, W (2, 1) and c (2,) all zero: both actions have probability 1/2."""
    policy = CategoricalMLPPolicy(1, 2, hidden_sizes=())
    return policy, {k: torch.zeros_like(v) for k, v in policy.params().items()}


def _call(fn: Callable[..., Any], policy: Any, params: dict, episodes: Episodes, alpha: float) -> dict:
    before = {k: v.clone() for k, v in params.items()}
    got = fn(policy, params, episodes, alpha, 0.99)
    if not isinstance(got, dict):
        raise Failure(f"return a dict name -> tensor (the new parameters); got {type(got).__name__}: {fmt(got)}")
    if got.keys() != params.keys():
        raise Failure(f"return the same names as params {sorted(params)}; got {sorted(got)}")
    if any(not torch.equal(params[k], before[k]) for k in params) or any(got[k] is params[k] for k in params):
        raise Failure("params changed in place: build a new dict, {k: theta[k] - alpha * g[k] ...}, and leave "
                      "params as it was (MAML needs theta after adapting)")
    return {k: v.detach().numpy() for k, v in got.items()}


def _cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def constant_state() -> None:
        # s = 1 everywhere; actions 0, 0, 1 with rewards 1, 1, 0: G = (1, 1, 0). The baseline is the mean return
        # 2/3 (s and t are constant), so A = (1/3, 1/3, -2/3), std sqrt(2/9): normalised A = (1, 1, -2) / sqrt 2.
        # Score of a at uniform pi: onehot(a) - (1/2, 1/2). grad L = -(1/3) sum_i A_i score_i = -(sqrt 2 / 3)(1, -1),
        # so theta' = alpha sqrt2 / 3 (1, -1) for c and for W (s = 1).
        # No normalising: grad L = -(1/3)(2/3)(1, -1), theta' = alpha (2/9)(1, -1). Ascent: the opposite sign.
        policy, params = _zero_linear_policy()
        alpha = 0.5
        got = _call(fn, policy, params, _one_step_episodes([1, 1, 1], [0, 0, 1], [1, 1, 0]), alpha)
        right = alpha * math.sqrt(2) / 3 * np.array([1.0, -1.0])
        expect_close(got["logits.0.bias"], right, atol=1e-4, what="c' (the new bias)", mistakes=(
            (-right, SIGN), (alpha * 2 / 9 * np.array([1.0, -1.0]), NORMALISE),
            (right * math.sqrt(2 / 3), UNBIASED),  # n = 3 steps: the n - 1 std is sqrt(3/2) times larger
        ))
        expect_close(got["logits.0.weight"].ravel(), right, atol=1e-4, what="W' (the new weight)")

    def two_states() -> None:
        # s = +1: actions 0, 1 with rewards 1, 0; s = -1: actions 0, 1 with rewards 3, 2. The linear baseline is exact
        # on two states: b(+1) = 0.5, b(-1) = 2.5, so A = (0.5, -0.5, 0.5, -0.5), normalised (1, -1, 1, -1).
        # sum_i A_i score_i = 4 (1/2, -1/2) = (2, -2) for c, and 0 for W (the s = +1 and s = -1 terms cancel):
        # theta'_c = alpha (1/4)(2, -2) = alpha (0.5, -0.5), W' = 0.
        # Without the baseline, A = normalised G = (-1, -3, 3, 1) / sqrt 5 (G - 1.5 = (-0.5, -1.5, 1.5, 0.5), std
        # sqrt 1.25): sum A score = (4 / sqrt 5)(1/2, -1/2), theta'_c = alpha (1 / (2 sqrt 5))(1, -1).
        policy, params = _zero_linear_policy()
        alpha = 0.2
        got = _call(fn, policy, params, _one_step_episodes([1, 1, -1, -1], [0, 1, 0, 1], [1, 0, 3, 2]), alpha)
        right = alpha * np.array([0.5, -0.5])
        expect_close(got["logits.0.bias"], right, atol=1e-4, what="c' (the new bias)", mistakes=(
            (-right, SIGN), (alpha / (2 * math.sqrt(5)) * np.array([1.0, -1.0]), BASELINE),
            (right * math.sqrt(3 / 4), UNBIASED),  # n = 4 steps
        ))
        expect_close(got["logits.0.weight"].ravel(), [0.0, 0.0], atol=1e-4, what="W' (the new weight)")

    def navigation() -> None:
        # A Gaussian policy on 2D navigation episodes, against the library's adapt_step.
        from metarl_edu.fast.envs import BatchedNavigation2D
        from metarl_edu.nets import GaussianMLPPolicy
        from metarl_edu.pg import sample_batched_episodes

        policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,), seed=0)
        env = BatchedNavigation2D([[0.3, -0.2]], n_traj=4, max_episode_steps=20)
        e = sample_batched_episodes(env, policy, generator=torch.Generator().manual_seed(0))
        one_task = Episodes(*(getattr(e, f)[:, 0] for f in Episodes.__dataclass_fields__))
        params = {k: v.detach().clone() for k, v in policy.params().items()}
        got = _call(fn, policy, params, one_task, 0.1)
        expected = _reference(policy, params, one_task, 0.1, 0.99)
        for k in params:
            expect_close(got[k], expected[k].detach().numpy(), atol=1e-4, what=f"the new {k}")

    def unequal_lengths() -> None:
        # Four episodes of 3, 1, 2 and 3 steps, padded to T = 3: the mean and the standard deviation of the
        # advantages are over the 9 real steps only; padding (mask 0) must not count.
        lengths = torch.tensor([3, 1, 2, 3])
        mask = (torch.arange(3)[:, None] < lengths).float()
        g = torch.Generator().manual_seed(1)
        obs = torch.randn((3, 4, 1), generator=g) * mask[..., None]
        rewards = torch.rand((3, 4), generator=g) * mask
        e = Episodes(obs=obs, actions=torch.randint(0, 2, (3, 4), generator=g) * mask.long(), rewards=rewards,
                     terminated=torch.arange(3)[:, None] == lengths - 1, truncated=torch.zeros((3, 4), dtype=bool),
                     mask=mask, next_obs=obs.clone())
        policy = CategoricalMLPPolicy(1, 2, hidden_sizes=(4,), seed=0)
        params = {k: v.detach().clone() for k, v in policy.params().items()}
        got = _call(fn, policy, params, e, 0.3)
        expected = _reference(policy, params, e, 0.3, 0.99)
        raw = advantages(e, 0.99, normalise=False)
        over_padding = _step_with(policy, params, e, 0.3, normalise_advantages(raw, torch.ones_like(mask)))
        for k in params:
            expect_close(got[k], expected[k].detach().numpy(), atol=1e-4, what=f"the new {k}", mistakes=(
                (over_padding[k].detach().numpy(), PADDING),))

    def differentiable() -> None:
        # theta' must be a differentiable function of theta: MAML's meta-gradient flows through it.
        policy, params = _zero_linear_policy()
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        got = fn(policy, leaves, _one_step_episodes([1, 1, -1, -1], [0, 1, 0, 1], [1, 0, 3, 2]), 0.2, 0.99)
        if not isinstance(got, dict) or got.keys() != leaves.keys():
            raise Failure(f"return a dict with the names of params {sorted(leaves)}")
        if any(not isinstance(v, torch.Tensor) or not v.requires_grad for v in got.values()):
            raise Failure(NO_GRAPH)
        total = sum(v.sum() for v in got.values())
        grads = torch.autograd.grad(total, list(leaves.values()), allow_unused=True)
        if any(g is None for g in grads):
            raise Failure(NO_GRAPH)

    yield "one state: three one-step episodes", constant_state
    yield "two states: the baseline matters", two_states
    yield "theta' is differentiable in theta", differentiable
    yield "2D navigation, a Gaussian policy", navigation
    yield "episodes of different lengths: padding does not count", unequal_lengths


ADAPT_STEP = register(
    Exercise(
        id="adapt_step",
        title="The per-task adaptation step of MAML for RL",
        reference=_reference,
        reference_name="metarl_edu.maml_rl.adapt_step",
        cases=_cases,
    )
)


# --------------------------------------------------------------------------------------------- the meta-loss
DETACHED = ("the meta-gradient does not flow through the inner step: theta' must stay a function of params (no "
            ".detach(), no torch.no_grad() around adapt): MAML differentiates through theta' = theta - alpha grad L")
PRE_UPDATE = "score the ADAPTED parameters theta' = adapt(policy, params, D, alpha, gamma) on D', not params itself"
SAME_DATA = ("score theta' on D', the NEW trajectories sampled with theta', not on D again (D' = D rewards a step "
             "that fits the noise of D)")


def _meta_batch(seed: int) -> tuple[Any, dict, Episodes, Episodes]:
    """A Gaussian policy on one 2D navigation task: D sampled with theta, D' with the library's theta'."""
    from metarl_edu.fast.envs import BatchedNavigation2D
    from metarl_edu.nets import GaussianMLPPolicy
    from metarl_edu.pg import sample_batched_episodes

    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(8,), seed=seed, action_scale=0.1)
    env = BatchedNavigation2D([[0.3, -0.2 + 0.1 * seed]], n_traj=5, max_episode_steps=15)
    g = torch.Generator().manual_seed(seed)
    params = {k: v.detach().clone() for k, v in policy.params().items()}

    def one_task(e: Episodes) -> Episodes:
        return Episodes(*(getattr(e, f)[:, 0] for f in Episodes.__dataclass_fields__))

    D = one_task(sample_batched_episodes(env, policy, generator=g))
    theta_prime = {k: v.detach() for k, v in _reference(policy, params, D, 0.1).items()}
    D_prime = one_task(sample_batched_episodes(env, policy, generator=g,
                                               params={k: v.unsqueeze(0) for k, v in theta_prime.items()},
                                               params_per_task=True))
    return policy, params, D, D_prime


def _meta_loss_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def case(seed: int) -> Callable[[], None]:
        def run() -> None:
            policy, params, D, D_prime = _meta_batch(seed)
            theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
            before = {k: v.detach().clone() for k, v in theta.items()}
            got = fn(policy, theta, D, D_prime, 0.1, 0.99, adapt=_reference)
            if not isinstance(got, torch.Tensor) or got.numel() != 1:
                raise Failure(f"return the meta-loss as a scalar tensor; got {fmt(got)}")
            if any(not torch.equal(theta[k].detach(), before[k]) for k in theta):
                raise Failure("params changed in place: adapt returns new parameters, leave params as it was")
            right = rl_meta_loss_reference(policy, params, D, D_prime, 0.1, 0.99)
            pre = inner_loss(policy.log_prob(D_prime.obs, D_prime.actions, params=params),
                             advantages(D_prime, 0.99), D_prime.mask)
            same = rl_meta_loss_reference(policy, params, D, D, 0.1, 0.99)
            expect_close(float(got.detach()), float(right), atol=1e-5, what="the meta-loss",
                         mistakes=((float(pre), PRE_UPDATE), (float(same), SAME_DATA)))
            if not got.requires_grad:
                raise Failure(DETACHED)
            grads = torch.autograd.grad(got, list(theta.values()), allow_unused=True)
            if any(g is None for g in grads):
                raise Failure(DETACHED)
            want_params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
            want = torch.autograd.grad(rl_meta_loss_reference(policy, want_params, D, D_prime, 0.1, 0.99),
                                       list(want_params.values()))
            first_order = {k: v.clone().requires_grad_(True) for k, v in params.items()}
            fo = torch.autograd.grad(rl_meta_loss_reference(policy, first_order, D, D_prime, 0.1, 0.99,
                                                            first_order=True), list(first_order.values()))
            flat = torch.cat([g.reshape(-1) for g in grads]).numpy()
            expect_close(flat, torch.cat([g.reshape(-1) for g in want]).numpy(), atol=1e-4,
                         what="the meta-gradient d(meta-loss)/d(params)",
                         mistakes=((torch.cat([g.reshape(-1) for g in fo]).numpy(), DETACHED),))
        return run

    yield "2D navigation, a Gaussian policy (seed 0)", case(0)
    yield "2D navigation, another goal (seed 1)", case(1)
    yield "2D navigation, a third goal (seed 2)", case(2)


RL_META_LOSS = register(
    Exercise(
        id="rl_meta_loss",
        title="One task's meta-loss of MAML for RL",
        reference=rl_meta_loss_reference,
        reference_name="metarl_edu.classroom.references.rl_meta_loss_reference",
        cases=_meta_loss_cases,
        equivalents=("metarl_edu.maml_rl.meta_loss",),
    )
)
