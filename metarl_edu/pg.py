"""Policy gradients in torch: MLP policies, batched rollouts, discounted returns, a baseline, REINFORCE.

The policy-gradient theorem in the form REINFORCE uses (Williams, 1992):

    grad J(theta) = E_tau[ sum_t grad log pi_theta(a_t | s_t) (G_t - b(s_t)) ],   G_t = sum_{k>=t} gamma^(k-t) r_k

where ``J(theta)`` is the expected return of the policy ``pi_theta``, ``G_t`` the reward-to-go and ``b`` any
baseline that does not depend on ``a_t``. Everything here is written so that MAML can use it: the policies can be
called with an explicit parameter dict (``policy(obs, params=theta_prime)``, through
``torch.func.functional_call``) and every function is pure.

Batches are time first, as in rlax and pytorch-maml-rl:

===============  ======================  =============================================================
symbol           shape                   meaning
===============  ======================  =============================================================
``obs``          (T, *B, obs_dim)        observation s_t
``actions``      (T, *B) or (T, *B, d)   a_t: integers (categorical) or vectors (Gaussian)
``rewards``      (T, *B)                 r_t, paid for the step s_t, a_t -> s_{t+1}
``terminated``   (T, *B) bool            s_{t+1} ends the episode: the task says there is no future
``truncated``    (T, *B) bool            the episode was cut after step t (time limit): the future is unseen
``mask``         (T, *B) float           1 on real steps, 0 on padding after an episode has ended
===============  ======================  =============================================================

``T`` is the longest episode in the batch and ``B`` the batch shape: (n_episodes,) for one env,
(n_tasks, n_traj) for a meta-batch of tasks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch.func import vmap
from tqdm.auto import trange

from metarl_edu._checks import check_int, check_number
from metarl_edu.nets import MLPPolicy, Params, PolicyError, obs_tensor  # noqa: F401  (PolicyError: re-exported)


# --------------------------------------------------------------------------------------------- rollouts
@dataclass(frozen=True)
class Episodes:
    """A batch of episodes, time first, padded after each episode's end (see the module table).

    On padding, ``mask``, ``rewards`` and the two flags are 0; observations and actions there are placeholders
    (zeros from :func:`sample_episodes`, the frozen rows of a batched env) that only matter through ``mask``.

    ``next_obs[t]`` is ``s_{t+1}``, kept so that a value estimate can be bootstrapped where an episode was
    truncated.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    mask: torch.Tensor
    next_obs: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        """Steps in each episode, shape (*B,)."""
        return self.mask.sum(0)

    def total_rewards(self) -> torch.Tensor:
        """Undiscounted return of each episode, ``sum_t r_t``, shape (*B,)."""
        return (self.rewards * self.mask).sum(0)


def default_max_steps(env: gym.Env) -> int:
    """The env's time limit (its spec's ``max_episode_steps``, else its own attribute, else 1000)."""
    if env.spec is not None and env.spec.max_episode_steps is not None:
        return int(env.spec.max_episode_steps)
    return int(getattr(env.unwrapped, "max_episode_steps", None) or 1000)


def sample_episodes(
    env: gym.Env,
    policy: MLPPolicy,
    n_episodes: int,
    *,
    generator: torch.Generator,
    params: Params | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
) -> Episodes:
    """Play ``n_episodes`` episodes of ``pi_theta`` in a Gymnasium env, one after the other; batch shape (n,).

    Args:
        env: a Gymnasium env with ``Discrete`` or flat ``Box`` observations.
        policy: a policy whose action space matches the env's (else :class:`PolicyError`).
        generator: draws the actions.
        params: ``theta`` to act with; ``None``: the policy's own parameters.
        seed: passed to the first ``env.reset``; ``None`` continues the env's own generator.
        max_steps: cut an episode after this many steps (marked truncated); default: the env's time limit.
    """
    policy.check_action_space(env.action_space)
    check_int("n_episodes", n_episodes, low=1)
    max_steps = default_max_steps(env) if max_steps is None else max_steps
    space = env.observation_space
    columns = []
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        s = obs_tensor(space, obs)
        steps = []
        for t in range(max_steps):
            a = policy.sample(s, generator, params)
            env_action = int(a) if isinstance(env.action_space, spaces.Discrete) else a.numpy()
            obs, r, terminated, truncated, _ = env.step(env_action)
            s_next = obs_tensor(space, obs)
            # Stopping because *we* ran out of steps is a time limit too: truncated, not terminated.
            truncated = truncated or (not terminated and t == max_steps - 1)
            steps.append((s, a, float(r), bool(terminated), bool(truncated), s_next))
            if terminated or truncated:
                break
            s = s_next
        columns.append(steps)
    return _pad(columns)


def _pad(columns: list[list[tuple]]) -> Episodes:
    """Stack per-episode step lists into (T, B, ...) tensors, zero-padded after each end."""
    T, B = max(len(c) for c in columns), len(columns)
    s0, a0 = columns[0][0][0], columns[0][0][1]
    obs = torch.zeros((T, B, *s0.shape))
    next_obs = torch.zeros_like(obs)
    actions = torch.zeros((T, B, *a0.shape), dtype=a0.dtype)
    rewards, mask = torch.zeros((T, B)), torch.zeros((T, B))
    terminated, truncated = torch.zeros((T, B), dtype=torch.bool), torch.zeros((T, B), dtype=torch.bool)
    for b, steps in enumerate(columns):
        for t, (s, a, r, term, trunc, s_next) in enumerate(steps):
            obs[t, b], actions[t, b], rewards[t, b], next_obs[t, b] = s, a, r, s_next
            terminated[t, b], truncated[t, b], mask[t, b] = term, trunc, 1.0
    return Episodes(obs, actions, rewards, terminated, truncated, mask, next_obs)


class BatchedEnv(Protocol):
    """What :func:`sample_batched_episodes` needs from a torch env that steps a whole batch at once (such as
    :class:`~metarl_edu.envs.navigation.BatchedNavigation2D`)."""

    max_episode_steps: int
    done: torch.Tensor  # (*B,) bool
    action_space: spaces.Space  # of one row; checked against the policy

    def reset(self) -> torch.Tensor: ...  # (*B, obs_dim)

    def step(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]: ...


def sample_batched_episodes(
    env: BatchedEnv,
    policy: MLPPolicy,
    *,
    generator: torch.Generator,
    params: Params | None = None,
    params_per_task: bool = False,
) -> Episodes:
    """Play one episode in every row of a batched torch env, all rows stepped together; batch shape = the env's.

    Rows that have ended keep stepping as padding (the env freezes them); sampling stops once all have ended.
    A policy that does not fit the env's ``action_space`` (that of one row) is a :class:`PolicyError`.

    Args:
        env: a batched env, e.g. ``BatchedNavigation2D`` with batch shape (n_tasks, n_traj).
        policy: the policy; its action dimension must match the env's.
        generator: draws the actions.
        params: ``theta`` to act with; ``None``: the policy's own parameters.
        params_per_task: ``params`` holds one parameter set per task, stacked along a leading n_tasks
            dimension (for example the adapted ``theta'_i`` of every task), applied to row ``i`` of the env
            with ``torch.func.vmap``.
    """
    policy.check_action_space(env.action_space)
    if params_per_task and params is None:
        raise ValueError("params_per_task=True needs params stacked along a leading n_tasks dimension")
    obs = env.reset()
    steps = []
    with torch.no_grad():
        for _ in range(env.max_episode_steps):
            if params_per_task:
                outputs = vmap(lambda p, o: policy(o, params=p))(params, obs)
            else:
                outputs = policy(obs, params)
            a = policy.sample_from(outputs, generator)
            active = ~env.done
            next_obs, r, terminated, truncated = env.step(a)
            steps.append((obs, a, r, terminated, truncated, active.float(), next_obs))
            obs = next_obs
            if bool(env.done.all()):
                break
    return Episodes(*(torch.stack(column) for column in zip(*steps, strict=True)))


# --------------------------------------------------------------------------------------------- returns
def discounted_returns(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    values_next: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reward-to-go ``G_t = r_t + gamma G_{t+1}`` within each episode, computed from the end; shape (T, *B).

    At the last step of an episode the future is handled by how the episode ended:

    - terminated: ``G_t = r_t``: the task is over, there is no future reward;
    - truncated:  ``G_t = r_t + gamma V(s_{t+1})`` with ``values_next[t] = V(s_{t+1})`` when given, else ``r_t``.

    Several episodes may follow each other along the time axis: the recursion restarts after each end.

    >>> r = torch.tensor([[1.0], [1.0], [1.0]])
    >>> no, end = torch.tensor([[False], [False], [False]]), torch.tensor([[False], [False], [True]])
    >>> discounted_returns(r, terminated=end, truncated=no, gamma=0.5).squeeze(1)
    tensor([1.7500, 1.5000, 1.0000])
    """
    rewards = torch.as_tensor(rewards)
    if not rewards.is_floating_point():
        rewards = rewards.to(torch.get_default_dtype())
    terminated, truncated = torch.as_tensor(terminated, dtype=torch.bool), torch.as_tensor(truncated, dtype=torch.bool)
    for name, x in (("terminated", terminated), ("truncated", truncated), ("values_next", values_next)):
        if x is not None and x.shape != rewards.shape:
            raise ValueError(f"{name} must have the shape of rewards {tuple(rewards.shape)}; got {tuple(x.shape)}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1]; got {gamma!r}")
    G_next = torch.zeros_like(rewards[0])
    returns = []
    for t in reversed(range(rewards.shape[0])):
        if values_next is None:
            future = torch.where(terminated[t] | truncated[t], 0.0, G_next)
        else:
            # Bootstrap on truncation only: a time limit is not part of the task, so s_{t+1} still has the
            # value V(s_{t+1}); after termination the future is worth exactly 0, never V.
            bootstrap = torch.where(truncated[t] & ~terminated[t], values_next[t], 0.0)
            future = torch.where(terminated[t] | truncated[t], bootstrap, G_next)
        G_next = rewards[t] + gamma * future
        returns.append(G_next)
    return torch.stack(returns[::-1])


# --------------------------------------------------------------------------------------------- baseline
def baseline_features(obs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``phi(s_t, t) = [s, s^2, t/100, (t/100)^2, (t/100)^3, 1]``, zero on padding; shape (T, *B, 2 obs_dim + 4).

    The features of the linear baseline of Duan et al. (2016), which the MAML paper uses; time is divided by
    100 (as in rllab) so that the cubic stays of order 1.
    """
    T = obs.shape[0]
    if mask is None:
        mask = torch.ones(obs.shape[:-1])
    m = mask.unsqueeze(-1).to(obs.dtype)
    t = torch.arange(T, dtype=obs.dtype).reshape(T, *([1] * (obs.ndim - 1))) / 100.0 * m
    return torch.cat([obs * m, obs**2 * m, t, t**2, t**3, m], dim=-1)


def fit_linear_baseline(
    obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None = None, reg_coeff: float = 1e-5
) -> torch.Tensor:
    """Ridge least squares ``w = (Phi^T Phi + c I)^{-1} Phi^T G`` over all real steps; ``w`` has shape (F,).

    ``Phi`` stacks :func:`baseline_features` of every step (padding rows are zero, so they do not count) and
    ``G`` the returns. Where the solve fails, ``c`` is multiplied by 10, up to four times (as in rllab); the five
    solves are made together and the first finite one is kept, so that the function has no data-dependent branch
    and ``torch.func.vmap`` can fit one baseline per task. Not finite at all: NaN (see :func:`linear_baseline`).
    """
    phi = baseline_features(obs, mask).reshape(-1, 2 * obs.shape[-1] + 4).double()
    G = returns.reshape(-1).double()
    if mask is not None:
        G = G * mask.reshape(-1).double()
    A, b = phi.T @ phi, phi.T @ G
    regs = reg_coeff * 10.0 ** torch.arange(5, dtype=A.dtype)
    eye = torch.eye(A.shape[0], dtype=A.dtype)
    ws = torch.linalg.solve(A + regs[:, None, None] * eye, b.expand(5, -1))  # (5, F)
    finite = torch.isfinite(ws).all(-1)
    first = torch.argmax(finite.to(torch.int64))  # the smallest ridge that gave a finite solution
    w = torch.where(finite.any(), ws[first], torch.full_like(ws[0], float("nan")))
    return w.to(obs.dtype)


def linear_baseline(
    obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None = None, reg_coeff: float = 1e-5
) -> torch.Tensor:
    """``b(s_t, t) = phi(s_t, t) . w``, with ``w`` fitted to this batch's returns; shape (T, *B), 0 on padding."""
    w = fit_linear_baseline(obs, returns, mask, reg_coeff)
    return baseline_features(obs, mask) @ w


def normalise_advantages(adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(A - mean) / std`` over the real steps (``mask = 1``), population std; padding stays 0.

    Rescaling the advantages makes the step size independent of the scale of the rewards (rllab's
    ``center_adv``, which the MAML paper's code used; PPO implementations do the same).
    """
    n = mask.sum()
    mean = (adv * mask).sum() / n
    std = (((adv - mean) ** 2 * mask).sum() / n).sqrt()
    return (adv - mean) / (std + 1e-8) * mask


def gae_advantages(r: torch.Tensor, v: torch.Tensor, gamma: float, lam: float,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    """Generalised advantage estimates over whole trials (Schulman et al. 2016), shape (T, B).

    ``delta_t = r_t + gamma * V_{t+1} - V_t`` and ``A_t = delta_t + gamma * lam * A_{t+1}``, with ``V_T = 0`` and
    ``A_T = 0``: after the last step of a trial nothing follows. Episode ends inside a trial are not ends here,
    because the trial's total is the objective (RL^2, lesson 09); in a batch of single episodes (lesson 06), each
    column is one episode and its trial. A padding step (``mask = 0``) counts as "after the end":
    its advantage is 0 and the step before it does not bootstrap from it.

    Args:
        r, v: rewards and value estimates ``V(s_t)``, (T, B). gamma, lam: discount and GAE's lambda, in [0, 1].
        mask: 1 for real steps, 0 for padding, (T, B); None: every step is real.
    """
    T = r.shape[0]
    mask = torch.ones_like(r) if mask is None else mask
    adv = torch.zeros_like(r)
    next_v = torch.zeros_like(r[0])
    next_adv = torch.zeros_like(r[0])
    for t in range(T - 1, -1, -1):
        delta = r[t] + gamma * next_v - v[t]
        adv[t] = mask[t] * (delta + gamma * lam * next_adv)
        next_v, next_adv = mask[t] * v[t], adv[t]
    return adv


def advantages(episodes: Episodes, gamma: float, normalise: bool = True) -> torch.Tensor:
    """``A_t = G_t - b(s_t, t)``, shape (T, *B), 0 on padding, no gradient: the reward-to-go
    (:func:`discounted_returns`) minus the linear baseline fitted to these episodes (:func:`linear_baseline`),
    rescaled by :func:`normalise_advantages` when ``normalise``.

    The baseline is fitted on the same batch it is subtracted from, so it depends a little on each ``a_t``; the
    resulting bias is of order 1/(number of steps) and is what the MAML paper's code accepted.
    """
    G = discounted_returns(episodes.rewards, episodes.terminated, episodes.truncated, gamma)
    A = (G - linear_baseline(episodes.obs, G, episodes.mask)) * episodes.mask
    return (normalise_advantages(A, episodes.mask) if normalise else A).detach()


# --------------------------------------------------------------------------------------------- REINFORCE
def reinforce_loss(
    log_probs: torch.Tensor,
    returns: torch.Tensor,
    baseline: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    per: str = "episode",
) -> torch.Tensor:
    """The surrogate loss whose gradient is the REINFORCE estimate of ``-grad J(theta)``:

        L(theta) = -(1/N) sum_{i=1}^{N} sum_t m_t^i log pi_theta(a_t^i | s_t^i) (G_t^i - b_t^i)

    over ``N`` episodes (all batch entries), with mask ``m`` (1 on real steps) and baseline ``b`` (0 if
    ``None``). ``G - b`` is treated as data: no gradient flows through the returns or the baseline.

    Args:
        log_probs: ``log pi_theta(a_t | s_t)``, shape (T, *B), differentiable in ``theta``.
        returns: ``G_t``, shape (T, *B), e.g. from :func:`discounted_returns` (or advantages, with no baseline).
        baseline: ``b_t``, shape (T, *B), e.g. from :func:`linear_baseline`; must not depend on ``a_t``.
        mask: shape (T, *B), 1 on real steps and 0 on padding.
        per: ``"episode"`` divides by ``N``, the number of episodes (the estimate of ``grad J``);
            ``"step"`` divides by the number of real steps ``sum m`` instead, as MAML for RL does, so that a
            step size keeps its meaning whatever the horizon.
    """
    for name, x in (("returns", returns), ("baseline", baseline), ("mask", mask)):
        if x is not None and x.shape != log_probs.shape:
            raise ValueError(f"{name} must have the shape of log_probs {tuple(log_probs.shape)}; got {tuple(x.shape)}")
    if per not in ("episode", "step"):
        raise ValueError(f"per must be 'episode' or 'step'; got {per!r}")
    advantages = returns if baseline is None else returns - baseline
    weighted = log_probs * advantages.detach()
    if mask is not None:
        weighted = weighted * mask
    if per == "step":
        return -weighted.sum() / (mask.sum() if mask is not None else log_probs.numel())
    return -weighted.sum() / math.prod(log_probs.shape[1:])


# --------------------------------------------------------------------------------------------- training
LossFn = Callable[..., torch.Tensor]


def sample_batch(
    env: gym.Env | BatchedEnv, policy: MLPPolicy, batch_size: int | None, generator: torch.Generator,
    seed: int | None = None,
) -> Episodes:
    """``batch_size`` episodes from a Gymnasium env (one after the other), or one episode per row of a batched env
    (``batch_size`` must then be ``None``: the env's rows are the batch)."""
    if isinstance(env, gym.Env):
        if batch_size is None:
            raise ValueError("batch_size (episodes per batch) is needed for a Gymnasium env")
        return sample_episodes(env, policy, batch_size, generator=generator, seed=seed)
    if batch_size is not None:
        raise ValueError(f"a batched env's rows are the batch; pass batch_size=None, got {batch_size!r}")
    return sample_batched_episodes(env, policy, generator=generator)


def policy_gradient_loss(
    policy: MLPPolicy, episodes: Episodes, gamma: float, baseline: bool, loss_fn: LossFn = reinforce_loss,
    lam: float | None = None, gae_fn: Callable[..., torch.Tensor] | None = None,
) -> torch.Tensor:
    """The REINFORCE loss of a batch: reward-to-go ``G_t``, the linear baseline ``b`` (or none), then
    ``loss_fn(log pi(a_t | s_t), G, b, mask)``.

    With ``lam``, the weights are generalised advantage estimates instead (Schulman et al. 2016): the linear
    baseline, fitted to ``G``, serves as the value estimate ``V(s_t)``, and
    ``loss_fn(log pi, gae_fn(rewards, V, gamma, lam, mask), None, mask)`` (``gae_fn``: default
    :func:`gae_advantages`). Each column of a batch is one episode, so after its last step nothing follows: with
    ``lam = 1`` the weights are ``G - V``, the baseline's REINFORCE again; ``lam = 0`` gives the TD errors.
    """
    returns = discounted_returns(episodes.rewards, episodes.terminated, episodes.truncated, gamma)
    log_probs = policy.log_prob(episodes.obs, episodes.actions)
    if lam is not None:
        check_number("lam", lam, 0.0, 1.0)
        values = linear_baseline(episodes.obs, returns, episodes.mask)
        weights = (gae_fn or gae_advantages)(episodes.rewards, values, gamma, lam, episodes.mask)
        return loss_fn(log_probs, weights, None, episodes.mask)
    b = linear_baseline(episodes.obs, returns, episodes.mask) if baseline else None
    return loss_fn(log_probs, returns, b, episodes.mask)


def train_reinforce(
    env: gym.Env | BatchedEnv,
    policy: MLPPolicy,
    n_iterations: int,
    *,
    batch_size: int | None = 10,
    lr: float = 0.01,
    gamma: float = 0.99,
    baseline: bool = True,
    loss_fn: LossFn = reinforce_loss,
    seed: int = 0,
    progress: bool = True,
    lam: float | None = None,
    gae_fn: Callable[..., torch.Tensor] | None = None,
) -> np.ndarray:
    """REINFORCE with Adam: each iteration samples a batch of episodes with ``pi_theta``, then takes one Adam step
    of size ``lr`` on :func:`policy_gradient_loss`. Changes ``policy`` in place.

    Args:
        env: a Gymnasium env (``batch_size`` episodes per iteration) or a batched env (one episode per row,
            ``batch_size=None``).
        policy: the policy to train.
        n_iterations: number of updates.
        batch_size: episodes per update for a Gymnasium env.
        lr: Adam's step size, > 0.
        gamma: discount in [0, 1] for the reward-to-go.
        baseline: subtract the linear feature baseline (:func:`linear_baseline`).
        loss_fn: ``loss_fn(log_probs, returns, baseline, mask)``, :func:`reinforce_loss` or a learner's own.
        seed: seeds the actions and the env's first reset.
        lam: weight each step by GAE(lambda) advantages instead of ``G - b`` (see :func:`policy_gradient_loss`),
            computed by ``gae_fn`` (default :func:`gae_advantages`, or a learner's own).

    Returns:
        The mean undiscounted return of each iteration's batch, shape (n_iterations,).
    """
    if not lr > 0:
        raise ValueError(f"lr must be positive; got {lr!r}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    mean_returns = []
    for i in trange(n_iterations, disable=not progress, desc="REINFORCE"):
        episodes = sample_batch(env, policy, batch_size, generator, seed=seed if i == 0 else None)
        loss = policy_gradient_loss(policy, episodes, gamma, baseline, loss_fn, lam, gae_fn)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        mean_returns.append(float(episodes.total_rewards().mean()))
    return np.array(mean_returns)
