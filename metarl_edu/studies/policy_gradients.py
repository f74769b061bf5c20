"""Experiments on policy-gradient estimators: the spread of REINFORCE gradients with and without a baseline."""

from __future__ import annotations

import gymnasium as gym
import torch

from metarl_edu.nets import MLPPolicy
from metarl_edu.pg import (
    BatchedEnv,
    baseline_features,
    discounted_returns,
    fit_linear_baseline,
    policy_gradient_loss,
    reinforce_loss,
    sample_batch,
)

ESTIMATORS = ("no baseline", "baseline", "baseline, penalised", "baseline from another batch")


def policy_gradient_samples(
    env: gym.Env | BatchedEnv,
    policy: MLPPolicy,
    n_batches: int,
    *,
    batch_size: int | None = 10,
    gamma: float = 0.99,
    seed: int = 0,
    other_reg: float = 1.0,
) -> dict[str, torch.Tensor]:
    """REINFORCE gradient estimates of ``n_batches`` independent batches, four ways each (the keys of the result,
    :data:`ESTIMATORS`): without a baseline; with the linear baseline fitted to the same batch (what
    :func:`~metarl_edu.pg.train_reinforce` does); with it fitted to the same batch with the ridge penalty
    ``other_reg`` (the control that separates the penalty from the batch); and fitted to the batch sampled before
    it, an independent batch of the same policy (one extra batch is sampled first), with the ridge penalty
    ``other_reg``. ``g`` of each key has shape (n_batches, n_params). The policy is not changed.

    Fitted to the same batch, ``b_t`` depends a little on ``a_t`` through ``G_t`` (a bias of order
    features / steps); fitted to another batch it does not depend on this batch's actions at all, so the estimate
    stays exactly unbiased. But it must then *predict* returns of episodes it was not fitted to: with 12 weights
    and a few episodes, the almost unpenalised fit (1e-5) extrapolates wildly in t (a cubic) and adds variance
    instead of removing it; a penalty of about 1 (lesson 05's ridge) makes it a useful baseline.
    """
    generator = torch.Generator().manual_seed(seed)
    params = list(policy.parameters())
    samples: dict[str, list[torch.Tensor]] = {name: [] for name in ESTIMATORS}

    def flat(loss: torch.Tensor) -> torch.Tensor:
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])

    previous = sample_batch(env, policy, batch_size, generator, seed=seed)
    for _ in range(n_batches):
        episodes = sample_batch(env, policy, batch_size, generator)
        samples["no baseline"].append(flat(policy_gradient_loss(policy, episodes, gamma, baseline=False)))
        samples["baseline"].append(flat(policy_gradient_loss(policy, episodes, gamma, baseline=True)))
        G_previous = discounted_returns(previous.rewards, previous.terminated, previous.truncated, gamma)
        w = fit_linear_baseline(previous.obs, G_previous, previous.mask, reg_coeff=other_reg)
        G = discounted_returns(episodes.rewards, episodes.terminated, episodes.truncated, gamma)
        features = baseline_features(episodes.obs, episodes.mask)
        b = features @ w
        log_probs = policy.log_prob(episodes.obs, episodes.actions)
        b_penalised = features @ fit_linear_baseline(episodes.obs, G, episodes.mask, reg_coeff=other_reg)
        samples["baseline, penalised"].append(flat(reinforce_loss(
            policy.log_prob(episodes.obs, episodes.actions), G, b_penalised, episodes.mask)))
        samples["baseline from another batch"].append(flat(reinforce_loss(log_probs, G, b, episodes.mask)))
        previous = episodes
    return {name: torch.stack(g) for name, g in samples.items()}


def mean_shift(samples: dict[str, torch.Tensor], reference: str = "no baseline") -> dict[str, tuple[float, float]]:
    """How far each estimator's mean gradient moves from the reference's, along the reference's mean direction.

    With ``u`` the unit vector of the reference's mean gradient, batch ``i`` gives ``d_i = (g_i - r_i) . u``
    (both estimates from the same batch, so the batch's own noise largely cancels). Returns, for every other key,
    ``(mean(d) / mean(r . u), standard error of mean(d) / mean(r . u))``: 0 for an unbiased estimator, up to its
    standard error; -0.2 for one whose mean gradient is a fifth shorter along ``u``.
    """
    r = samples[reference]
    if r.shape[0] < 2:
        raise ValueError(f"need at least 2 batches to estimate a standard error; got {r.shape[0]}")
    u = r.mean(0) / r.mean(0).norm()
    scale = float((r @ u).mean())
    out = {}
    for name, g in samples.items():
        if name != reference:
            d = (g - r) @ u
            out[name] = (float(d.mean()) / scale, float(d.std() / d.numel() ** 0.5) / scale)
    return out
