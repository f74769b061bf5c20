"""A belief-based meta-learner for 2D navigation: a Gaussian posterior over the goal, and a policy that acts on it.

The task is the hidden goal ``g`` of :class:`~metarl_edu.envs.navigation.Navigation2DEnv`; each step pays
``r = -||p - g||``, a distance. Two distances ``d, d'`` at consecutive positions ``p, p'`` say one *linear* thing about
the goal (subtract ``d^2 = ||p||^2 - 2 p.g + ||g||^2`` from ``d'^2``):

    u . g = y,     u = p' - p,     y = (d^2 - d'^2 + ||p'||^2 - ||p||^2) / 2                       (1)

so with Gaussian noise of precision ``w`` on ``y``, Bayes' rule for a Gaussian belief over ``g`` is a sum of natural
parameters (precision ``Lambda`` and ``eta = Lambda mu``):

    Lambda' = Lambda + w u u^T,     eta' = eta + w y u                                             (2)

The encoder is PEARL's product of Gaussian factors (Rakelly et al. 2019), one factor per transition, with the shape
(2) gives; a small network ``w = exp(f(|u|, d, d'))`` learns how much to trust each one. It is trained by maximum
likelihood of the true goal under the posterior (privileged task supervision, Humplik et al. 2019). The policy is
lesson 06's :class:`~metarl_edu.nets.GaussianMLPPolicy` on ``(p, mu, sigma)``: position, belief mean, belief std.

=================  ======================  ==================================================================
symbol             shape                   meaning
=================  ======================  ==================================================================
``eta``            (*B, 2)                 precision times mean of the belief
``precision``      (*B, 2, 2)              ``Lambda``, the inverse covariance
``obs``            (*B, 6)                 the policy's input ``(p, mu, sigma)``; the goal-aware oracle: ``(p, g, 0)``
=================  ======================  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from metarl_edu._checks import check_int
from metarl_edu.envs.navigation import GOAL_HIGH, GOAL_LOW, MAX_ACTION
from metarl_edu.fast.envs import BatchedNavigation2D
from metarl_edu.nets import GaussianMLPPolicy, mlp
from metarl_edu.pg import Episodes

PRIOR_VAR = (GOAL_HIGH - GOAL_LOW) ** 2 / 12  # the variance of the uniform goal prior, per coordinate
MAX_LOG_W = 20.0  # the largest log-precision of one factor: keeps the 2x2 solves finite in float32


# --------------------------------------------------------------------------------------------- Bayes' rule
def linear_observation(p: torch.Tensor, p_next: torch.Tensor, d: torch.Tensor, d_next: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(u, y)`` of equation (1): ``u . g = y`` holds for the goal ``g`` of any step ``p -> p_next`` with distances
    ``d, d_next`` to it. Shapes (*B, 2), (*B, 2), (*B,), (*B,) -> (*B, 2), (*B,).

    >>> u, y = linear_observation(torch.tensor([0.1, 0.0]), torch.tensor([0.2, 0.0]), torch.tensor(0.3),
    ...                           torch.tensor(0.2))
    >>> u, round(float(y), 6)   # the goal's x is 0.04 / 0.1 = 0.4
    (tensor([0.1000, 0.0000]), 0.04)
    """
    u = p_next - p
    return u, (d**2 - d_next**2 + (p_next**2).sum(-1) - (p**2).sum(-1)) / 2


def gaussian_goal_update(mean: np.ndarray, precision: np.ndarray, p: np.ndarray, p_next: np.ndarray, d: float,
                         d_next: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """One exact Bayes update of a Gaussian belief ``N(mean, precision^-1)`` over the goal by the step ``p -> p_next``
    with distances ``d, d_next``, equation (1) observed with noise std ``noise``:
    ``Lambda' = Lambda + u u^T / noise^2``, ``mean' = Lambda'^-1 (Lambda mean + u y / noise^2)``.

    >>> m, P = gaussian_goal_update(np.array([0.0, 0.1]), 10 * np.eye(2), np.array([0.1, 0.0]), np.array([0.2, 0.0]),
    ...                             0.3, 0.2, noise=0.01)
    >>> m.round(4), P.round(6)   # x moves from 0 towards 0.4; y, not observed, keeps the prior's 0.1
    (array([0.3636, 0.1   ]), array([[110.,   0.],
           [  0.,  10.]]))
    """
    mean, precision = np.asarray(mean, dtype=float), np.asarray(precision, dtype=float)
    if mean.shape != (2,) or precision.shape != (2, 2):
        raise ValueError(f"mean must be (2,) and precision (2, 2); got {mean.shape} and {precision.shape}")
    if not noise > 0:
        raise ValueError(f"noise must be positive; got {noise!r}")
    u, y = linear_observation(np.asarray(p, dtype=float), np.asarray(p_next, dtype=float), d, d_next)
    new_precision = precision + np.outer(u, u) / noise**2
    return np.linalg.solve(new_precision, precision @ mean + u * y / noise**2), new_precision


def prior(batch_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The belief before any step, ``N(0, PRIOR_VAR I)`` (the uniform prior's mean and variance) as ``(eta,
    precision)`` of shapes (*B, 2) and (*B, 2, 2)."""
    return torch.zeros((*batch_shape, 2)), torch.eye(2).expand((*batch_shape, 2, 2)) / PRIOR_VAR


def mean_and_std(eta: torch.Tensor, precision: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The belief's mean ``Lambda^-1 eta`` and per-coordinate std ``sqrt(diag(Lambda^-1))``, each (*B, 2)."""
    cov = torch.linalg.inv(precision)
    return (cov @ eta.unsqueeze(-1)).squeeze(-1), torch.diagonal(cov, dim1=-2, dim2=-1).clamp(min=0).sqrt()


# --------------------------------------------------------------------------------------------- the encoder
class GoalEncoder(nn.Module):
    """Gaussian factors of equation (2), one per step, with learned log-precision ``f(|u| / 0.1, d, d')``.

    Args:
        hidden_sizes: widths of ``f``'s hidden layers. seed: seeds its weights.
    """

    def __init__(self, hidden_sizes: tuple[int, ...] = (32, 32), seed: int = 0) -> None:
        super().__init__()
        self.f = mlp((3, *hidden_sizes, 1), "tanh", seed)

    def factors(self, p: torch.Tensor, p_next: torch.Tensor, d: torch.Tensor, d_next: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w y u, w u u^T)`` of each step, (*B, 2) and (*B, 2, 2); 0 where ``mask`` is 0 (no previous distance,
        or padding)."""
        u, y = linear_observation(p, p_next, d, d_next)
        x = torch.stack([u.norm(dim=-1) / MAX_ACTION, d, d_next], -1)
        w = torch.exp(self.f(x).squeeze(-1).clamp(max=MAX_LOG_W)) * mask
        return (w * y).unsqueeze(-1) * u, w[..., None, None] * u.unsqueeze(-1) * u.unsqueeze(-2)


def encoder_inputs(episodes: Episodes) -> tuple[torch.Tensor, ...]:
    """``(p, p_next, d, d_next, mask)`` of every step of a batch played by :func:`play` (time first). ``d`` is the
    distance after the previous step of the same episode; the first step has none, so its mask is 0."""
    p, p_next, d_next = episodes.obs[..., :2], episodes.next_obs[..., :2], -episodes.rewards
    d = torch.cat([torch.zeros_like(d_next[:1]), d_next[:-1]])
    mask = episodes.mask * torch.cat([torch.zeros_like(d_next[:1]), episodes.mask[:-1]])
    return p, p_next, d, d_next, mask


def encoder_loss(encoder: GoalEncoder, trial: list[Episodes], goals: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the true goal under the belief after every real step of a trial (its
    episodes in order, the belief carried across them). ``goals``: (n_tasks, 2), broadcast over trajectories."""
    nll, n = 0.0, 0.0
    for etas, precisions, episodes in zip(*beliefs_along(encoder, trial), trial, strict=True):
        mean = torch.linalg.solve(precisions, etas.unsqueeze(-1)).squeeze(-1)
        err = (goals.unsqueeze(1) - mean).unsqueeze(-1)
        step_nll = 0.5 * (err.transpose(-1, -2) @ precisions @ err).squeeze((-1, -2)) \
            - 0.5 * torch.logdet(precisions)
        nll, n = nll + (step_nll * episodes.mask).sum(), n + episodes.mask.sum()
    return nll / n


def beliefs_along(encoder: GoalEncoder, trial: list[Episodes]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The belief ``(eta, precision)`` after every step of each episode of a trial, starting from the prior and
    carried across episodes: per episode (T, *B, 2) and (T, *B, 2, 2). Differentiable in the encoder."""
    eta, precision = prior(trial[0].mask.shape[1:])
    etas, precisions = [], []
    for episodes in trial:
        d_eta, d_prec = encoder.factors(*encoder_inputs(episodes))
        etas.append(eta + d_eta.cumsum(0))
        precisions.append(precision + d_prec.cumsum(0))
        eta, precision = etas[-1][-1], precisions[-1][-1]  # padding adds nothing: the last row is the episode's end
    return etas, precisions


# --------------------------------------------------------------------------------------------- acting
def make_policy(hidden_sizes: tuple[int, ...] = (64, 64), init_std: float = 0.5, seed: int = 0) -> GaussianMLPPolicy:
    """The Gaussian MLP policy on ``(p, mu, sigma)``, in normalised action units (``action_scale = 0.1``)."""
    return GaussianMLPPolicy(6, 2, hidden_sizes, "tanh", init_std=init_std, action_scale=MAX_ACTION, seed=seed)


@dataclass(frozen=True)
class Trial:
    """What :func:`play` returns: one :class:`~metarl_edu.pg.Episodes` per episode (batch (n_tasks, n_traj), obs
    ``(p, mu, sigma)``), and the belief's ``means`` and ``stds`` before each step and after the last, per episode,
    each (T + 1, n_tasks, n_traj, 2)."""

    episodes: list[Episodes]
    means: list[torch.Tensor]
    stds: list[torch.Tensor]

    def returns(self) -> np.ndarray:
        """Each episode's undiscounted return, shape (n_episodes, n_tasks, n_traj)."""
        return np.stack([e.total_rewards().numpy() for e in self.episodes]).astype(float)


def play(policy: GaussianMLPPolicy, encoder: GoalEncoder, goals: np.ndarray, n_episodes: int, n_traj: int, *,
         generator: torch.Generator, oracle: bool = False) -> Trial:
    """Play trials of ``n_episodes`` episodes on each goal (``n_traj`` trials per goal), the belief carried from
    one episode to the next, actions sampled with ``generator``. ``oracle``: the policy is told the goal,
    ``(p, g, 0)``, and the encoder is not used. No gradient."""
    check_int("n_episodes", n_episodes, low=1)
    env = BatchedNavigation2D(goals, check_int("n_traj", n_traj, low=1))
    goal_rows = env.goals.unsqueeze(1).expand(*env.batch_shape, 2)
    eta, precision = prior(env.batch_shape)
    episodes, means, stds = [], [], []
    with torch.no_grad():
        for _ in range(n_episodes):
            p, d, steps, beliefs = env.reset(), None, [], []
            for _ in range(env.max_episode_steps):
                mean, std = (goal_rows, torch.zeros_like(goal_rows)) if oracle else mean_and_std(eta, precision)
                beliefs.append((mean, std))
                obs = torch.cat([p, mean, std], -1)
                a = policy.sample_from(policy(obs), generator)
                active = ~env.done
                p_next, r, terminated, truncated = env.step(a)
                if d is not None and not oracle:  # equation (2) needs the previous distance
                    d_eta, d_prec = encoder.factors(p, p_next, d, -r, active.float())
                    eta, precision = eta + d_eta, precision + d_prec
                d = -r
                steps.append((obs, a, r, terminated, truncated, active.float(), p_next))
                p = p_next
                if bool(env.done.all()):
                    break
            mean, std = (goal_rows, torch.zeros_like(goal_rows)) if oracle else mean_and_std(eta, precision)
            beliefs.append((mean, std))
            obs, a, r, term, trunc, mask, p_next = (torch.stack(c) for c in zip(*steps, strict=True))
            next_obs = torch.cat([p_next, torch.stack([m for m, _ in beliefs[1:]]),
                                  torch.stack([s for _, s in beliefs[1:]])], -1)
            episodes.append(Episodes(obs, a, r, term, trunc, mask, next_obs))
            means.append(torch.stack([m for m, _ in beliefs]))
            stds.append(torch.stack([s for _, s in beliefs]))
    return Trial(episodes, means, stds)


# --------------------------------------------------------------------------------------------- the exact posterior
def grid_posterior(positions: np.ndarray, distances: np.ndarray, noise: float = 0.01, n: int = 101) -> np.ndarray:
    """The exact posterior over the goal on an ``n x n`` grid of the goal square, uniform prior, after observing
    ``distances[t] = ||positions[t] - g|| + N(0, noise^2)`` at each position. Shape (n, n), rows along y, sums to 1.

    >>> post = grid_posterior(np.array([[0.0, 0.0]]), np.array([0.0]), noise=0.01, n=11)
    >>> np.unravel_index(post.argmax(), post.shape)   # a distance of 0 from the origin: the goal is there
    (np.int64(5), np.int64(5))
    """
    positions, distances = np.asarray(positions, dtype=float), np.asarray(distances, dtype=float)
    if positions.ndim != 2 or positions.shape[1] != 2 or distances.shape != positions.shape[:1]:
        raise ValueError(f"positions must be (T, 2) and distances (T,); got {positions.shape} and {distances.shape}")
    if not noise > 0:
        raise ValueError(f"noise must be positive; got {noise!r}")
    axis = np.linspace(GOAL_LOW, GOAL_HIGH, check_int("n", n, low=2))
    gx, gy = np.meshgrid(axis, axis)  # (n, n), row i is y = axis[i]
    predicted = np.hypot(gx[..., None] - positions[:, 0], gy[..., None] - positions[:, 1])  # (n, n, T)
    log_post = -0.5 * (((predicted - distances) / noise) ** 2).sum(-1)
    post = np.exp(log_post - log_post.max())
    return post / post.sum()
