"""Experiments on policy-gradient estimators: the spread of REINFORCE gradients with and without a baseline."""

from __future__ import annotations

import gymnasium as gym
import torch

from metarl_edu.nets import MLPPolicy
from metarl_edu.pg import BatchedEnv, policy_gradient_loss, sample_batch


def policy_gradient_samples(
    env: gym.Env | BatchedEnv,
    policy: MLPPolicy,
    n_batches: int,
    *,
    batch_size: int | None = 10,
    gamma: float = 0.99,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """REINFORCE gradient estimates of ``n_batches`` independent batches, with and without the linear baseline
    (both from the same batch); ``{"no baseline": g, "baseline": g}`` with ``g`` of shape (n_batches, n_params).
    The policy is not changed."""
    generator = torch.Generator().manual_seed(seed)
    params = list(policy.parameters())
    samples: dict[str, list[torch.Tensor]] = {"no baseline": [], "baseline": []}
    for i in range(n_batches):
        episodes = sample_batch(env, policy, batch_size, generator, seed=seed if i == 0 else None)
        for name, use_baseline in (("no baseline", False), ("baseline", True)):
            grads = torch.autograd.grad(policy_gradient_loss(policy, episodes, gamma, use_baseline), params)
            samples[name].append(torch.cat([g.reshape(-1) for g in grads]))
    return {name: torch.stack(g) for name, g in samples.items()}
