"""MAML for reinforcement learning (Finn, Abbeel & Levine, 2017, section 3.2): ``MAMLAgent`` and its baselines.

A task ``T_i`` is an MDP drawn from a task distribution ``p(T)`` (a :class:`~metarl_edu.envs.tasks.TaskFamily`).
Adapting to a task is one (or a few) policy-gradient steps on trajectories sampled in that task:

    theta'_i = theta - alpha grad_theta L_i(theta; D_i),      D_i ~ pi_theta in T_i            (inner, per task)
    theta   <- Adam step on  sum_i L_i(theta'_i; D'_i),       D'_i ~ pi_theta'_i in T_i        (outer)

``L_i`` is the REINFORCE surrogate with the linear baseline (:func:`inner_loss`); the outer gradient goes through
``theta'_i`` (second order) unless ``first_order=True``. The paper used vanilla policy gradient inside and TRPO
outside; here the outer optimiser is Adam on the same meta-loss, which is simpler to read but has no trust region.

=====================  =============================  ===================================================
symbol                 shape                          meaning
=====================  =============================  ===================================================
``episodes``           (T, n_tasks, n_traj, ...)      a meta-batch of episodes (see :mod:`metarl_edu.pg`)
``advantages``         (T, n_tasks, n_traj)           ``A_t = G_t - b(s_t, t)``, normalised per task
``params``             dict name -> tensor            ``theta``; stacked per task: leading n_tasks axis
``returns``            (n_tasks, steps + 1)           mean return on each task after 0, 1, ... inner steps
=====================  =============================  ===================================================

References:
    Finn, Abbeel & Levine, *Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks*, ICML 2017.
    Deleu, *pytorch-maml-rl* (the normalised advantages and per-step averaged surrogate used here).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from torch.func import grad, vmap
from tqdm.auto import trange

from metarl_edu.config import size
from metarl_edu.envs.batched_cartpole import BatchedCartPole
from metarl_edu.envs.cartpole import CartPoleTaskEnv
from metarl_edu.envs.navigation import BatchedNavigation2D, Navigation2DEnv, Navigation2DFamily
from metarl_edu.envs.tasks import CartPoleFamily, TaskFamily
from metarl_edu.maml import inner_update
from metarl_edu.pg import (
    Episodes,
    MLPPolicy,
    Params,
    _default_max_steps,
    baseline_features,
    discounted_returns,
    linear_baseline,
    make_policy,
    obs_tensor,
    sample_batched_episodes,
)
from metarl_edu.studies.evaluation import (
    AdaptationCurve,
    ConfidenceInterval,
    adaptation_curve,
    check_disjoint,
    paired_bootstrap_ci,
)

__all__ = [
    "MAMLAgent",
    "MAMLRLConfig",
    "MetaTestResult",
    "PretrainedAgent",
    "TaskDistributionError",
    "TaskEnvBatch",
    "adapt_step",
    "advantages",
    "inner_loss",
    "task_column",
    "task_distribution",
]


class TaskDistributionError(ValueError):
    """An env that is one task, of a kind MAMLAgent does not know how to vary; the message says what to pass."""


# ============================================================================================ the inner loss
def advantages(episodes: Episodes, gamma: float, normalize: bool = True) -> torch.Tensor:
    """``A_t = G_t - b(s_t, t)`` for episodes of ONE task, shape (T, *B); 0 on padding. No gradient.

    ``G_t`` is the reward-to-go (:func:`~metarl_edu.pg.discounted_returns`) and ``b`` the linear baseline fitted
    to these episodes (:func:`~metarl_edu.pg.linear_baseline`). ``normalize`` rescales to mean 0 and standard
    deviation 1 over the real steps, as the MAML paper's code did (rllab's ``center_adv``), so that the step size
    ``alpha`` does not depend on the scale of the rewards.
    """
    G = discounted_returns(episodes.rewards, episodes.terminated, episodes.truncated, gamma)
    A = (G - linear_baseline(episodes.obs, G, episodes.mask)) * episodes.mask
    if normalize:
        n = episodes.mask.sum()
        mean = A.sum() / n
        std = torch.sqrt(((A - mean) ** 2 * episodes.mask).sum() / n)
        A = (A - mean) / (std + 1e-8) * episodes.mask
    return A.detach()


def inner_loss(log_probs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The REINFORCE surrogate, averaged over real steps: ``L(theta) = -sum m log pi_theta(a|s) A / sum m``.

    Its gradient is the policy gradient estimate with baseline; shapes (T, *B). The same as
    :func:`~metarl_edu.pg.reinforce_loss` up to the factor ``n_episodes / n_steps``: averaging over steps keeps
    ``alpha`` meaningful whatever the horizon (the MAML paper's ``alpha = 0.1`` for 2D navigation assumes it).
    """
    return -(log_probs * advantages.detach() * mask).sum() / mask.sum()


def adapt_step(policy: MLPPolicy, params: Params, episodes: Episodes, alpha: float, gamma: float = 0.99) -> Params:
    """One inner step of MAML for RL on one task: ``theta' = theta - alpha grad_theta L(theta)``.

    ``L`` is :func:`inner_loss` with :func:`advantages` (linear baseline, normalised) of ``episodes``, which were
    sampled with ``theta`` in the task. Returns a new dict (``params`` is not changed), differentiable in ``params``.
    """
    A = advantages(episodes, gamma)

    def loss(theta: Params) -> torch.Tensor:
        return inner_loss(policy.log_prob(episodes.obs, episodes.actions, params=theta), A, episodes.mask)

    return inner_update(params, grad(loss)(params), alpha)


# ============================================================================================ task distributions
def task_distribution(env: Any, verbose: bool = True) -> TaskFamily:
    """The task distribution ``p(T)`` that ``env`` stands for.

    - a :class:`TaskFamily` (``CartPoleFamily()``, ``BanditFamily()``, ``RandomMDPFamily()``, ...) is used as is;
    - 2D navigation (``Navigation2DEnv``, ``BatchedNavigation2D``): goals uniform in [-0.5, 0.5]^2;
    - ``metarl_edu/CartPoleTasks-v0``: :class:`CartPoleFamily` with its default ranges;
    - plain ``CartPole-v1`` is ONE task, so a :class:`CartPoleFamily` is built around its physics and a line says so.

    Anything else raises :class:`TaskDistributionError`.
    """
    if isinstance(env, TaskFamily):
        return env
    if isinstance(env, BatchedNavigation2D):
        return Navigation2DFamily(env.max_episode_steps)
    unwrapped = getattr(env, "unwrapped", None)
    max_steps = _default_max_steps(env) if isinstance(env, gym.Env) else None
    if isinstance(unwrapped, Navigation2DEnv):
        return Navigation2DFamily(unwrapped.max_episode_steps)
    if isinstance(unwrapped, CartPoleTaskEnv):
        return CartPoleFamily(max_episode_steps=max_steps)
    if isinstance(unwrapped, CartPoleEnv):
        family = CartPoleFamily(max_episode_steps=max_steps)
        if verbose:
            (l0, l1), (m0, m1), (g0, g1) = family.length_range, family.masspole_range, family.gravity_range
            print(f"MAMLAgent: {env.spec.id if env.spec else 'CartPole'} is one task, so MAML meta-learns over "
                  f"CartPoleFamily: half pole length ~ U[{l0:g}, {l1:g}] m, pole mass ~ U[{m0:g}, {m1:g}] kg, "
                  f"gravity ~ U[{g0:g}, {g1:g}] m/s^2, episodes of at most {max_steps} steps")
        return family
    name = env.spec.id if isinstance(env, gym.Env) and env.spec is not None else type(env).__name__
    raise TaskDistributionError(
        f"MAMLAgent needs a distribution of tasks, but {name} is a single task it does not know how to vary. "
        "Pass a task distribution instead: a TaskFamily such as CartPoleFamily(), BanditFamily(), "
        "RandomMDPFamily() or GridWorldFamily() (from metarl_edu.envs), Navigation2DEnv(), "
        "gym.make('metarl_edu/CartPoleTasks-v0'), or gym.make('CartPole-v1'), which it varies for you"
    )


class TaskEnvBatch:
    """Gymnasium envs of many tasks stepped in lockstep: row ``(i, j)`` is trajectory ``j`` of ``tasks[i]``.

    Implements the batched-env interface of :func:`~metarl_edu.pg.sample_batched_episodes` for any
    :class:`TaskFamily`: one policy forward pass per time step for all rows, one ``env.step`` per active row.
    Finished rows are frozen: they earn 0 and report neither terminated nor truncated again.

    Args:
        family: the task family; ``family.make_env(task)`` plays a task.
        tasks: the n_tasks tasks.
        n_traj: trajectories per task.
        seed: seeds the first reset of every row (through ``np.random.SeedSequence``).
    """

    def __init__(self, family: TaskFamily, tasks: list[Any], n_traj: int, seed: int) -> None:
        self.family, self.tasks, self.n_traj = family, list(tasks), int(n_traj)
        self.envs = [[family.make_env(task) for _ in range(self.n_traj)] for task in self.tasks]
        first = self.envs[0][0]
        self.observation_space, self.action_space = first.observation_space, first.action_space
        self.max_episode_steps = max(_default_max_steps(env) for row in self.envs for env in row)
        self.seeds = np.random.SeedSequence(seed).generate_state(len(self.tasks) * self.n_traj).reshape(
            len(self.tasks), self.n_traj)
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0

    @property
    def batch_shape(self) -> tuple[int, int]:
        return (len(self.tasks), self.n_traj)

    def _obs(self, obs: Any) -> torch.Tensor:
        return obs_tensor(self.observation_space, obs)

    def reset(self) -> torch.Tensor:
        obs = [[self._obs(env.reset(seed=int(self.seeds[i, j]))[0]) for j, env in enumerate(row)]
               for i, row in enumerate(self.envs)]
        self.last = torch.stack([torch.stack(row) for row in obs])  # (n_tasks, n_traj, obs_dim)
        self.done = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t = 0
        return self.last.clone()

    def step(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        discrete = isinstance(self.action_space, gym.spaces.Discrete)
        r = torch.zeros(self.batch_shape)
        terminated = torch.zeros(self.batch_shape, dtype=torch.bool)
        truncated = torch.zeros(self.batch_shape, dtype=torch.bool)
        self.t += 1
        for i, j in (~self.done).nonzero().tolist():
            action = int(a[i, j]) if discrete else a[i, j].numpy()
            obs, r_ij, term, trunc, _ = self.envs[i][j].step(action)
            self.last[i, j] = self._obs(obs)
            r[i, j], terminated[i, j] = float(r_ij), bool(term)
            # Every row must end by max_episode_steps: a row still running there is cut by a time limit (truncated).
            truncated[i, j] = bool(trunc) or (not term and self.t >= self.max_episode_steps)
        self.done = self.done | terminated | truncated
        return self.last.clone(), r, terminated, truncated


def batched_env(family: TaskFamily, tasks: list[Any], n_traj: int, seed: int) -> Any:
    """``tasks`` x ``n_traj`` rows stepped together: :class:`BatchedNavigation2D` for 2D navigation,
    :class:`BatchedCartPole` for CartPole physics, else :class:`TaskEnvBatch` (a loop over Gymnasium envs)."""
    if isinstance(family, Navigation2DFamily):
        return family.batched_env(tasks, n_traj)
    if isinstance(family, CartPoleFamily):
        return BatchedCartPole(tasks, n_traj, family.max_episode_steps, torch.Generator().manual_seed(seed))
    return TaskEnvBatch(family, tasks, n_traj, seed)


# ============================================================================================ configuration
@dataclass(frozen=True)
class MAMLRLConfig:
    """Hyperparameters of MAML for RL. :meth:`for_family` gives the defaults used for each task family.

    Attributes:
        alpha: inner step size, > 0. 2D navigation: 0.1 (Finn et al. 2017, section 5.3).
        inner_steps: inner policy-gradient steps during meta-training, >= 1 (the paper: 1).
        meta_batch: tasks per meta-update, >= 1 (the paper's 2D navigation: 20).
        n_traj: trajectories per task for each inner step and for the meta-loss, >= 1 (the paper: 20).
        gamma: discount in [0, 1] of the returns the policy gradient uses (0.99).
        outer_lr: Adam's step size for the meta-update, > 0 (the paper used TRPO instead).
        first_order: drop the second-order terms (first-order MAML).
        max_grad_norm: clip the meta-gradient's norm to this (``None``: no clipping); a crude stand-in for the
            trust region of TRPO, which keeps one bad meta-batch from wrecking the policy.
        tasks_per_backward: tasks whose gradient graph (inner steps, meta-loss) is held in memory at once, >= 1
            (memory against speed).
        hidden_sizes: hidden ReLU layers of the policy (the paper: two of 100; here two of 64, as pytorch-maml-rl,
            which trains faster on a CPU).
        n_iterations: meta-updates that ``train()`` runs by default, full mode.
        quick_iterations: the same in quick mode (:func:`metarl_edu.config.quick`).
        eval_tasks: held-out tasks that ``evaluate()`` uses by default (quick mode: a quarter, at least 4).
    """

    alpha: float = 0.1
    inner_steps: int = 1
    meta_batch: int = 20
    n_traj: int = 20
    gamma: float = 0.99
    outer_lr: float = 0.01
    first_order: bool = False
    hidden_sizes: tuple[int, ...] = (64, 64)
    max_grad_norm: float | None = None
    tasks_per_backward: int = 5
    n_iterations: int = 50
    quick_iterations: int = 3
    eval_tasks: int = 40

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.outer_lr > 0):
            raise ValueError(f"alpha and outer_lr must be positive; got {self.alpha!r} and {self.outer_lr!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1]; got {self.gamma!r}")
        for name in ("inner_steps", "meta_batch", "n_traj", "n_iterations", "quick_iterations", "eval_tasks",
                     "tasks_per_backward"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")

    @classmethod
    def for_family(cls, family: TaskFamily) -> MAMLRLConfig:
        """Defaults for ``family``: the paper's settings for 2D navigation, a smaller budget for CartPole."""
        if isinstance(family, Navigation2DFamily):
            return cls()
        if isinstance(family, CartPoleFamily):
            return cls(meta_batch=10, n_traj=10, n_iterations=40, eval_tasks=20)
        return cls(n_iterations=100, eval_tasks=20)


# ============================================================================================ evaluation result
@dataclass(frozen=True)
class MetaTestResult:
    """Returns on held-out tasks after 0, 1, ..., ``steps`` inner steps.

    Attributes:
        returns: (n_tasks, steps + 1) mean undiscounted return of each task's trajectories after k steps.
        curve: the mean over tasks with a 95% bootstrap band over tasks.
        gain: mean of (return after 1 step - return after 0 steps), with its paired bootstrap interval.
    """

    returns: np.ndarray
    curve: AdaptationCurve
    gain: ConfidenceInterval | None

    def __str__(self) -> str:
        lines = [f"after {k} step{'s' if k != 1 else ''}: {m:8.2f}  [{lo:.2f}, {hi:.2f}]"
                 for k, m, lo, hi in zip(self.curve.steps, self.curve.mean, self.curve.low, self.curve.high,
                                         strict=True)]
        if self.gain is not None:
            lines.append(f"gain of one step: {self.gain}")
        return f"mean return on {len(self.returns)} held-out tasks (95% CI over tasks)\n" + "\n".join(lines)


# ============================================================================================ the agents
def task_column(episodes: Episodes, i: int) -> Episodes:
    """Task ``i``'s episodes, batch shape (n_traj,)."""
    return Episodes(*(getattr(episodes, f.name)[:, i] for f in fields(Episodes)))


def task_baselines(obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, reg_coeff: float = 1e-5
                   ) -> torch.Tensor:
    """The linear baseline fitted to each task of a meta-batch on its own, all tasks in one batched solve.

    For task ``i``: ``w_i = (Phi_i^T Phi_i + c I)^{-1} Phi_i^T G_i`` over its real steps, ``b = Phi_i w_i``: the
    same as :func:`~metarl_edu.pg.linear_baseline` on task ``i``'s episodes alone. obs (T, n_tasks, n_traj, d),
    returns and mask (T, n_tasks, n_traj); returns the baseline, shape (T, n_tasks, n_traj), 0 on padding.
    """
    phi = baseline_features(obs, mask).double()  # (T, n, j, F), zero rows on padding
    G = (returns * mask).double()
    A = torch.einsum("tnjf,tnjg->nfg", phi, phi)
    b = torch.einsum("tnjf,tnj->nf", phi, G)
    reg = torch.full((A.shape[0], 1, 1), reg_coeff, dtype=A.dtype)
    eye = torch.eye(A.shape[-1], dtype=A.dtype)
    for _attempt in range(5):
        w = torch.linalg.solve(A + reg * eye, b)
        bad = ~torch.isfinite(w).all(-1)
        if not bad.any():
            return torch.einsum("tnjf,nf->tnj", phi, w).to(obs.dtype)
        reg = torch.where(bad[:, None, None], reg * 10, reg)  # as rllab: more ridge where the solve failed
    raise ValueError("the linear baseline could not be fitted: the features or returns are not finite")


def _batch_advantages(episodes: Episodes, gamma: float) -> torch.Tensor:
    """:func:`advantages` of every task of a meta-batch, the baseline fitted per task; shape (T, n_tasks, n_traj)."""
    m = episodes.mask
    G = discounted_returns(episodes.rewards, episodes.terminated, episodes.truncated, gamma)
    A = (G - task_baselines(episodes.obs, G, m)) * m
    n = m.sum((0, 2), keepdim=True)  # real steps of each task
    mean = A.sum((0, 2), keepdim=True) / n
    std = torch.sqrt(((A - mean) ** 2 * m).sum((0, 2), keepdim=True) / n)
    return ((A - mean) / (std + 1e-8) * m).detach()


class MetaRLAgent:
    """What MAML and its baselines share: a policy ``pi_theta``, a task distribution, adaptation and evaluation.

    :class:`MAMLAgent` and :class:`PretrainedAgent` differ only in the update that :meth:`train` repeats; an
    untrained agent is the "learning from scratch" baseline (a fresh policy taking the same inner steps).

    Args:
        env: a task distribution, or a plain env MAMLAgent knows how to vary (see :func:`task_distribution`).
        config: hyperparameters; default ``MAMLRLConfig.for_family(family)``.
        policy: the policy; default :func:`~metarl_edu.pg.make_policy` for the family's envs.
        seed: seeds the policy's weights, the training tasks and the actions.
        verbose: print the task distribution built for a plain env.
    """

    def __init__(self, env: Any, config: MAMLRLConfig | None = None, policy: MLPPolicy | None = None,
                 seed: int = 0, verbose: bool = True) -> None:
        self.family = task_distribution(env, verbose=verbose)
        self.config = config or MAMLRLConfig.for_family(self.family)
        policy_seed, task_seed, action_seed, env_seed = np.random.SeedSequence(seed).spawn(4)
        example_env = self.family.make_env(self.family.sample(1, np.random.default_rng(0))[0])
        self.policy = policy or make_policy(example_env, self.config.hidden_sizes,
                                            seed=int(policy_seed.generate_state(1)[0]))
        self.policy.check_action_space(example_env.action_space)  # a clear PolicyError for a policy that does not fit
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.config.outer_lr)
        self.rng = np.random.default_rng(task_seed)  # draws the training tasks
        self.env_seeds = np.random.default_rng(env_seed)  # seeds the envs' resets
        self.generator = torch.Generator().manual_seed(int(action_seed.generate_state(1)[0]))  # draws the actions
        self.train_tasks: list[Any] = []  # every training task, so that held-out tasks can be checked
        self.history: list[tuple[float, float]] = []  # (return before, after adaptation) of each iteration

    @property
    def params(self) -> Params:
        """``theta``: the policy's parameters (the module's own tensors)."""
        return dict(self.policy.named_parameters())

    # ------------------------------------------------------------------------------ sampling and adaptation
    def _env(self, tasks: list[Any], n_traj: int) -> Any:
        return batched_env(self.family, tasks, n_traj, seed=int(self.env_seeds.integers(2**62)))

    def _sample(self, env: Any, params: Params | None, per_task: bool, generator: torch.Generator) -> Episodes:
        return sample_batched_episodes(env, self.policy, generator=generator, params=params, params_per_task=per_task)

    def _inner_step(self, theta: Params, obs: torch.Tensor, actions: torch.Tensor, A: torch.Tensor,
                    mask: torch.Tensor, first_order: bool = False) -> Params:
        """``theta - alpha grad L(theta)`` for one task (vmapped over tasks by the callers)."""
        def loss(params: Params) -> torch.Tensor:
            return inner_loss(self.policy.log_prob(obs, actions, params=params), A, mask)

        grads = grad(loss)(theta)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}  # FOMAML: the inner gradient is a constant
        return inner_update(theta, grads, self.config.alpha)

    def _adapt_batch(self, env: Any, steps: int, generator: torch.Generator
                     ) -> tuple[list[Params], list[Episodes], list[torch.Tensor]]:
        """Sample, step, sample, ...: per-task parameters after 0..steps steps, the episodes sampled with each, and
        the advantages of all but the last episodes."""
        theta = {k: v.detach() for k, v in self.params.items()}
        n_tasks = env.batch_shape[0]
        thetas = [{k: v.expand(n_tasks, *v.shape) for k, v in theta.items()}]
        episodes, advs = [self._sample(env, theta, False, generator)], []
        step = vmap(self._inner_step, in_dims=(0, 1, 1, 1, 1))
        chunk = self.config.tasks_per_backward  # the inner gradients' graph of this many tasks at once: bounded memory
        for _ in range(steps):
            e = episodes[-1]
            advs.append(_batch_advantages(e, self.config.gamma))
            parts = [step({k: v[lo:lo + chunk] for k, v in thetas[-1].items()},
                          *(x[:, lo:lo + chunk] for x in (e.obs, e.actions, advs[-1], e.mask)))
                     for lo in range(0, n_tasks, chunk)]
            thetas.append({k: torch.cat([part[k].detach() for part in parts]) for k in theta})
            episodes.append(self._sample(env, thetas[-1], True, generator))
        return thetas, episodes, advs

    def adapt(self, task: Any, steps: int = 1, n_traj: int | None = None, seed: int = 0) -> Params:
        """``theta'`` after ``steps`` inner steps on ``task``, each on ``n_traj`` fresh trajectories (default
        ``config.n_traj``) sampled with the current parameters. Returns a new dict; the policy is not changed."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
        env = batched_env(self.family, [task], n_traj or self.config.n_traj, seed)
        thetas, _, _ = self._adapt_batch(env, steps, torch.Generator().manual_seed(seed))
        return {k: v[0].clone() for k, v in thetas[-1].items()}

    def evaluate(self, n_tasks: int | None = None, steps: int = 2, n_traj: int | None = None,
                 seed: int = 2024) -> MetaTestResult:
        """Mean return on held-out tasks after 0, 1, ..., ``steps`` inner steps, with 95% intervals over tasks.

        The tasks come from a stream of their own (``seed``) and are checked against every training task
        (:func:`~metarl_edu.evaluation.check_disjoint`). Two agents evaluated with the same seed see the same tasks.
        Default ``n_tasks``: ``config.eval_tasks`` (a quarter, at least 4, in quick mode).
        """
        if n_tasks is None:
            n_tasks = size(quick=max(4, self.config.eval_tasks // 4), full=self.config.eval_tasks)
        tasks = self.family.sample(n_tasks, np.random.default_rng(np.random.SeedSequence([seed, 1])))
        check_disjoint(self.train_tasks, tasks)
        env = batched_env(self.family, tasks, n_traj or self.config.n_traj, seed)
        _, episodes, _ = self._adapt_batch(env, steps, torch.Generator().manual_seed(seed))
        returns = np.stack([e.total_rewards().mean(1).numpy() for e in episodes], axis=1).astype(float)
        curve = adaptation_curve(returns[:, None, :], rng=seed)
        gain = paired_bootstrap_ci(returns[:, 1], returns[:, 0], rng=seed) if steps >= 1 else None
        return MetaTestResult(returns, curve, gain)

    # ------------------------------------------------------------------------------ training
    def train(self, n_iterations: int | None = None, progress: bool = True) -> np.ndarray:
        """Run ``n_iterations`` updates (default ``config.n_iterations``, ``config.quick_iterations`` in quick mode).

        Returns shape (n_iterations, 2): the mean return of each iteration's trajectories before and after adaptation
        (for the pretrained baseline, both columns are the return of the shared policy).
        """
        if n_iterations is None:
            n_iterations = size(quick=self.config.quick_iterations, full=self.config.n_iterations)
        bar = trange(n_iterations, disable=not progress, desc=type(self).__name__)
        rows = []
        for _ in bar:
            tasks = self.family.sample(self.config.meta_batch, self.rng)
            self.train_tasks.extend(tasks)
            rows.append(self.step(tasks))
            bar.set_postfix(before=f"{rows[-1][0]:.1f}", after=f"{rows[-1][1]:.1f}")
        self.history.extend(rows)
        return np.array(rows, dtype=float).reshape(-1, 2)

    def step(self, tasks: list[Any]) -> tuple[float, float]:
        raise NotImplementedError


class MAMLAgent(MetaRLAgent):
    """MAML for RL: Adam on the meta-loss ``(1/n) sum_i L_i(theta'_i; D'_i)``, differentiated through the inner steps.

    >>> import gymnasium as gym
    >>> agent = MAMLAgent(gym.make("CartPole-v1"))        # varies the pole length, pole mass and gravity
    >>> history = agent.train()                            # (n_iterations, 2): returns before / after adaptation
    >>> print(agent.evaluate())                            # held-out tasks, after 0, 1 and 2 inner steps
    >>> theta_prime = agent.adapt(task, steps=1)           # a dict of new parameters

    Each :meth:`step`: sample ``n_traj`` trajectories per task with ``theta``, take ``inner_steps`` steps (each on
    fresh trajectories sampled with the current adapted parameters), sample ``D'_i`` with ``theta'_i``, then one
    Adam step on the meta-loss, whose gradient flows through ``theta'_i`` back to ``theta`` (second order unless
    ``config.first_order``). Like the paper, the meta-gradient treats the pre-update trajectories as data: it
    ignores how changing ``theta`` changes *which* trajectories the inner step sees.
    """

    def step(self, tasks: list[Any]) -> tuple[float, float]:
        c = self.config
        env = self._env(tasks, c.n_traj)
        _, episodes, advs = self._adapt_batch(env, c.inner_steps, self.generator)
        advs.append(_batch_advantages(episodes[-1], c.gamma))
        batches = [(e.obs, e.actions, A, e.mask) for e, A in zip(episodes, advs, strict=True)]

        def task_loss(params: Params, train: list[tuple], valid: tuple) -> torch.Tensor:
            theta_prime = params
            for obs, actions, A, mask in train:
                theta_prime = self._inner_step(theta_prime, obs, actions, A, mask, c.first_order)
            obs, actions, A, mask = valid
            return inner_loss(self.policy.log_prob(obs, actions, params=theta_prime), A, mask)

        self.optimizer.zero_grad()
        n_tasks = len(tasks)
        for lo in range(0, n_tasks, c.tasks_per_backward):  # the gradient of the mean, a chunk of tasks at a time
            chunk = [tuple(x[:, lo:lo + c.tasks_per_backward] for x in batch) for batch in batches]
            losses = vmap(task_loss, in_dims=(None, 1, 1))(self.params, chunk[:-1], chunk[-1])
            (losses.sum() / n_tasks).backward()  # frees this chunk's graph: memory grows with the chunk, not n_tasks
        if c.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), c.max_grad_norm)
        self.optimizer.step()
        return float(episodes[0].total_rewards().mean()), float(episodes[-1].total_rewards().mean())


class PretrainedAgent(MetaRLAgent):
    """The baseline: one policy trained on all tasks jointly with REINFORCE, then fine-tuned like MAML.

    Each :meth:`step` samples ``n_traj`` trajectories per task with ``theta`` and takes one Adam step on the
    mean of the tasks' :func:`inner_loss` (each task's advantages with its own baseline); :meth:`adapt` and
    :meth:`evaluate` then take the same inner steps as MAML's.
    """

    def step(self, tasks: list[Any]) -> tuple[float, float]:
        e = self._sample(self._env(tasks, self.config.n_traj), None, False, self.generator)
        A = _batch_advantages(e, self.config.gamma)
        loss = inner_loss(self.policy.log_prob(e.obs, e.actions), A, e.mask)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        mean_return = float(e.total_rewards().mean())
        return mean_return, mean_return


def scratch_agent(env: Any, config: MAMLRLConfig | None = None, seed: int = 0) -> MetaRLAgent:
    """A freshly initialised policy with the same inner steps: the "learning from scratch" baseline."""
    return MAMLAgent(env, config, seed=seed, verbose=False)

