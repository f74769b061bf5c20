"""MAML for reinforcement learning (Finn, Abbeel & Levine, 2017, section 3.2): ``MAMLAgent`` and its baselines.

A task ``T_i`` is an MDP drawn from a task distribution ``p(T)`` (a :class:`~metarl_edu.envs.tasks.TaskFamily`).
Adapting to a task is one (or a few) policy-gradient steps on trajectories sampled in that task:

    theta'_i = theta - alpha grad_theta L_i(theta; D_i),      D_i ~ pi_theta in T_i            (inner, per task)
    theta   <- Adam step on  sum_i L_i(theta'_i; D'_i),       D'_i ~ pi_theta'_i in T_i        (outer)

``L_i`` is the REINFORCE surrogate with the linear baseline (:func:`inner_loss` on :func:`~metarl_edu.pg.advantages`);
the outer gradient goes through ``theta'_i`` (second order) unless ``first_order=True``. The inner step is
:func:`adapt_step`, one task's meta-loss :func:`meta_loss`; the agents run exactly these functions, vmapped over
the tasks of a meta-batch. The paper used vanilla policy gradient inside and TRPO outside; here the outer
optimiser is Adam on the same meta-loss.

=====================  =============================  ===================================================
symbol                 shape                          meaning
=====================  =============================  ===================================================
``episodes``           (T, n_traj, ...)               one task's episodes (see :mod:`metarl_edu.pg`)
meta-batch episodes    (T, n_tasks, n_traj, ...)      every task of a meta-batch, task axis 1
``params``             dict name -> tensor            ``theta``; stacked per task: leading n_tasks axis
``returns``            (n_tasks, steps + 1)           mean return on each task after 0, 1, ... inner steps
=====================  =============================  ===================================================

References:
    Finn, Abbeel & Levine, *Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks*, ICML 2017.
    Deleu, *pytorch-maml-rl* (the normalised advantages and per-step averaged surrogate used here).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from torch.func import vmap
from tqdm.auto import trange

from metarl_edu._checks import check_int, check_number
from metarl_edu.config import size
from metarl_edu.envs.cartpole import CartPoleTaskEnv
from metarl_edu.envs.navigation import Navigation2DEnv, Navigation2DFamily
from metarl_edu.envs.tasks import CartPoleFamily, TaskFamily, task_key
from metarl_edu.fast.envs import BatchedNavigation2D, batched_env
from metarl_edu.maml import adapt
from metarl_edu.nets import MLPPolicy, Params, make_policy
from metarl_edu.pg import Episodes, advantages, default_max_steps, reinforce_loss, sample_batched_episodes

__all__ = [
    "MAMLAgent",
    "MAMLRLConfig",
    "MetaTestResult",
    "TaskDistributionError",
    "adapt_step",
    "advantages",
    "inner_loss",
    "meta_loss",
    "task_column",
    "task_distribution",
]


class TaskDistributionError(ValueError):
    """An env that is one task, of a kind MAMLAgent does not know how to vary; the message says what to pass."""


class TaskLeakError(ValueError):
    """A held-out task that was also a training task."""


# ============================================================================================ the inner loop
def inner_loss(log_probs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The REINFORCE surrogate averaged over real steps: ``L(theta) = -sum m log pi_theta(a|s) A / sum m``.

    :func:`~metarl_edu.pg.reinforce_loss` with ``per="step"``: averaging over steps rather than episodes keeps
    ``alpha`` meaningful whatever the horizon (the MAML paper's ``alpha = 0.1`` for 2D navigation assumes it).
    Shapes (T, *B).
    """
    return reinforce_loss(log_probs, advantages, mask=mask, per="step")


def adapt_step(policy: MLPPolicy, params: Params, episodes: Episodes, alpha: float, gamma: float = 0.99,
               first_order: bool = False) -> Params:
    """One inner step of MAML for RL on one task: ``theta' = theta - alpha grad_theta L(theta)``.

    ``L`` is :func:`inner_loss` with the :func:`~metarl_edu.pg.advantages` (linear baseline, normalised) of
    ``episodes``, which were sampled with ``theta`` in the task. Returns a new dict (``params`` is not changed),
    differentiable in ``params`` (``first_order=True`` treats the inner gradient as a constant): the step is
    :func:`metarl_edu.maml.adapt`, the same inner loop as MAML on sinusoids.
    """
    A = advantages(episodes, gamma)

    def loss(theta: Params, e: Episodes) -> torch.Tensor:
        return inner_loss(policy.log_prob(e.obs, e.actions, params=theta), A, e.mask)

    return adapt(loss, params, episodes, alpha, 1, first_order)


def meta_loss(policy: MLPPolicy, params: Params, train: list[Episodes], valid: Episodes, alpha: float | Sequence[float],
              gamma: float = 0.99, first_order: bool = False, every_step: bool = False) -> torch.Tensor:
    """One task's meta-loss ``L(theta'; D')``: adapt with :func:`adapt_step` on each batch of ``train`` in turn
    (``D``, one batch per inner step, each sampled with the parameters reached so far), then the
    :func:`inner_loss` of the adapted policy on ``valid`` (``D'``, sampled with ``theta'``).

    ``alpha``: one step size, or one per inner step. ``every_step``: with several inner steps, average the losses
    after *each* step (step k scored on the batch the next step adapts on, the last on ``valid``), so that every
    step is trained to help, not only the last (Antoniou et al. 2019's multi-step loss).

    Differentiable in ``params`` through every inner step. Like the paper, it treats the trajectories as data: it
    ignores how changing ``theta`` changes *which* trajectories the inner steps see (E-MAML, ProMP and DiCE add
    that term).
    """
    alphas = [alpha] * len(train) if isinstance(alpha, (int, float)) else list(alpha)
    batches = [*train, valid]
    theta_prime, losses = params, []
    for k, episodes in enumerate(train):
        theta_prime = _module().adapt_step(policy, theta_prime, episodes, alphas[k], gamma, first_order)
        scored = batches[k + 1]
        if every_step or scored is valid:
            A = advantages(scored, gamma)
            losses.append(inner_loss(policy.log_prob(scored.obs, scored.actions, params=theta_prime), A, scored.mask))
    return torch.stack(losses).mean()


def _module() -> Any:
    """This module, looked up at call time, so that a wrapped ``adapt_step`` (a test's counter) is the one run."""
    return sys.modules[__name__]


def task_column(episodes: Episodes, i: int) -> Episodes:
    """Task ``i``'s episodes of a meta-batch, batch shape (n_traj,)."""
    return Episodes(*(getattr(episodes, f.name)[:, i] for f in fields(Episodes)))


def _per_task(fn: Any, n_episodes: int) -> Any:
    """``fn`` of Episodes objects, taking their tensors instead: ``n_episodes`` groups of 7 tensors each, so that
    ``torch.func.vmap`` can map it over the task axis (axis 1) of meta-batch episodes."""
    n_fields = len(fields(Episodes))

    def wrapped(params: Params, *tensors: torch.Tensor) -> Any:
        groups = [Episodes(*tensors[k * n_fields:(k + 1) * n_fields]) for k in range(n_episodes)]
        return fn(params, *groups)

    return wrapped


def _tensors(*batches: Episodes, lo: int = 0, hi: int | None = None) -> list[torch.Tensor]:
    """The tensors of each of ``batches``, tasks ``lo:hi`` only (task axis 1)."""
    return [getattr(e, f.name)[:, lo:hi] for e in batches for f in fields(Episodes)]


# ============================================================================================ task distributions
def task_distribution(env: Any, verbose: bool = True) -> TaskFamily:
    """The task distribution ``p(T)`` that ``env`` stands for.

    - a :class:`TaskFamily` (``CartPoleFamily()``, ``BanditFamily()``, ``RandomMDPFamily()``, ...) is used as is;
    - 2D navigation (``Navigation2DEnv``, ``BatchedNavigation2D``): goals uniform in [-0.5, 0.5]^2;
    - ``metarl_edu/CartPoleTasks-v0``: :class:`CartPoleFamily` with its default ranges;
    - plain ``CartPole-v1`` is ONE task, so a :class:`CartPoleFamily` is built around it, its physics varied and the
      actions swapped on half the tasks (``mirror_prob=0.5``), and a line says so.

    Anything else raises :class:`TaskDistributionError`.
    """
    if isinstance(env, TaskFamily):
        return env
    if isinstance(env, BatchedNavigation2D):
        return Navigation2DFamily(env.max_episode_steps)
    unwrapped = getattr(env, "unwrapped", None)
    max_steps = default_max_steps(env) if isinstance(env, gym.Env) else None
    if isinstance(unwrapped, Navigation2DEnv):
        return Navigation2DFamily(unwrapped.max_episode_steps)
    if isinstance(unwrapped, CartPoleTaskEnv):
        return CartPoleFamily(max_episode_steps=max_steps)
    if isinstance(unwrapped, CartPoleEnv):
        family = CartPoleFamily(max_episode_steps=max_steps, mirror_prob=0.5)
        if verbose:
            (l0, l1), (m0, m1), (g0, g1) = family.length_range, family.masspole_range, family.gravity_range
            print(f"MAMLAgent: {env.spec.id if env.spec else 'CartPole'} is one task, so MAML meta-learns over "
                  f"CartPoleFamily(mirror_prob=0.5): half the tasks swap the two actions (unobserved), so a policy "
                  f"that treats the pushes one way fails on half of them; half pole length ~ U[{l0:g}, {l1:g}] m, "
                  f"pole mass ~ U[{m0:g}, {m1:g}] kg, gravity ~ U[{g0:g}, {g1:g}] m/s^2, episodes of at most "
                  f"{max_steps} steps")
        return family
    name = env.spec.id if isinstance(env, gym.Env) and env.spec is not None else type(env).__name__
    raise TaskDistributionError(
        f"MAMLAgent needs a distribution of tasks, but {name} is a single task it does not know how to vary. "
        "Pass a task distribution instead: a TaskFamily such as CartPoleFamily(), BanditFamily(), "
        "RandomMDPFamily() or GridWorldFamily() (from metarl_edu.envs), Navigation2DEnv(), "
        "gym.make('metarl_edu/CartPoleTasks-v0'), or gym.make('CartPole-v1'), which it varies for you"
    )



# ============================================================================================ configuration
@dataclass(frozen=True)
class MAMLRLConfig:
    """Hyperparameters of MAML for RL. :meth:`for_family` gives the defaults used for each task family.

    Attributes:
        alpha: inner step size, > 0. 2D navigation: 0.1 (Finn et al. 2017, section 5.3).
        test_step_sizes: the step sizes of the 1st, 2nd, ... inner step at test time (``adapt``, ``evaluate``);
            the last one repeats. ``None``: ``alpha``, then ``alpha / 2``, the paper's test schedule.
        test_traj: trajectories per inner step, and for the measured return, at test time (``adapt``,
            ``evaluate``), >= 1. ``None``: ``n_traj``. The paper's test script sampled 40 for 2D navigation (4,000
            steps at horizon 100), twice its training batch, and :meth:`for_family` does the same.
        inner_steps: inner policy-gradient steps during meta-training, >= 1, with the test-time step sizes (the
            paper: 1). Default 2, so that the second step at test time is one the training prepared.
        loss_every_step: with several inner steps, the meta-loss averages the losses after each step
            (:func:`meta_loss`'s ``every_step``), so that both the first and the second step are trained to help.
        meta_batch: tasks per meta-update, >= 1 (the paper's 2D navigation: 20).
        n_traj: trajectories per task for each inner step and for the meta-loss, >= 1 (the paper: 20).
        gamma: discount in [0, 1] of the returns the policy gradient uses (0.99).
        meta_optimizer: ``"adam"`` (Adam on the meta-loss, its gradient clipped) or ``"trpo"`` (the paper's trust
            region: :class:`metarl_edu.studies.trpo.TRPOMAMLAgent`).
        outer_lr: Adam's step size for the meta-update, > 0.
        lr_schedule: ``"constant"``: ``outer_lr`` throughout; ``"linear"``: Adam's step size falls linearly from
            ``outer_lr`` to 0 over ``n_iterations`` updates (later updates keep it at 0), so that a larger
            ``outer_lr`` settles at the end instead of drifting away from its best.
        max_grad_norm: Adam only: clip the meta-gradient's norm to this (``None``: no clipping). Without it, one
            bad meta-batch can throw the policy far off, and training collapses after its early peak.
        max_kl: TRPO only: the largest mean KL divergence between the adapted policies before and after a step.
        cg_iters, cg_damping: TRPO only: conjugate-gradient iterations, and the damping added to the KL Hessian.
        ls_steps, ls_backtrack: TRPO only: the line search halves (``ls_backtrack``) the step up to this often.
        first_order: drop the second-order terms (first-order MAML).
        tasks_per_backward: tasks whose gradient graph (inner steps, meta-loss) is held in memory at once, >= 1
            (memory against speed).
        hidden_sizes: hidden ReLU layers of the policy (the paper: two of 100; here two of 64, as pytorch-maml-rl,
            which trains faster on a CPU).
        normalise_actions: a Gaussian policy works in units of half the action range, as the paper's code did
            (see :class:`~metarl_edu.nets.GaussianMLPPolicy`).
        init_std: the Gaussian policy's initial standard deviation, in those units.
        n_iterations: meta-updates that ``train()`` runs by default, full mode.
        quick_iterations: the same in quick mode (:func:`metarl_edu.config.quick`).
        eval_tasks: held-out tasks that ``evaluate()`` uses by default (quick mode: a quarter, at least 4).
    """

    alpha: float = 0.1
    test_step_sizes: tuple[float, ...] | None = None
    test_traj: int | None = None
    inner_steps: int = 2
    loss_every_step: bool = True
    meta_batch: int = 20
    n_traj: int = 20
    gamma: float = 0.99
    meta_optimizer: str = "adam"
    outer_lr: float = 1e-3
    lr_schedule: str = "constant"
    max_grad_norm: float | None = 1.0
    max_kl: float = 0.01
    cg_iters: int = 10
    cg_damping: float = 1e-5
    ls_steps: int = 15
    ls_backtrack: float = 0.5
    first_order: bool = False
    tasks_per_backward: int = 5
    hidden_sizes: tuple[int, ...] = (64, 64)
    normalise_actions: bool = True
    init_std: float = 0.5
    n_iterations: int = 300
    quick_iterations: int = 3
    eval_tasks: int = 40

    def __post_init__(self) -> None:
        for name in ("alpha", "outer_lr", "max_kl", "init_std"):
            check_number(name, getattr(self, name), 0.0, low_open=True)
        check_number("cg_damping", self.cg_damping, 0.0)
        check_number("ls_backtrack", self.ls_backtrack, 0.0, 1.0, low_open=True, high_open=True)
        check_number("gamma", self.gamma, 0.0, 1.0)
        if self.test_traj is not None:
            check_int("test_traj", self.test_traj, low=1)
        if self.max_grad_norm is not None:
            check_number("max_grad_norm", self.max_grad_norm, 0.0, low_open=True)
        if self.test_step_sizes is not None:
            if len(self.test_step_sizes) == 0:
                raise ValueError("test_step_sizes must hold at least one step size, or be None")
            for k, value in enumerate(self.test_step_sizes):
                check_number(f"test_step_sizes[{k}]", value, 0.0, low_open=True)
        if self.lr_schedule not in ("linear", "constant"):
            raise ValueError(f"lr_schedule must be 'linear' or 'constant'; got {self.lr_schedule!r}")
        if self.meta_optimizer not in ("adam", "trpo"):
            raise ValueError(f"meta_optimizer must be 'adam' or 'trpo'; got {self.meta_optimizer!r}")
        for name in ("inner_steps", "meta_batch", "n_traj", "n_iterations", "quick_iterations", "eval_tasks",
                     "tasks_per_backward", "cg_iters", "ls_steps"):
            check_int(name, getattr(self, name), low=1)

    @property
    def test_batch(self) -> int:
        """Trajectories per inner step at test time: ``test_traj``, else ``n_traj``."""
        return self.test_traj or self.n_traj

    def step_size(self, k: int) -> float:
        """The step size of the ``k``-th inner step at test time (``k = 1, 2, ...``)."""
        sizes = self.test_step_sizes or (self.alpha, self.alpha / 2)
        return float(sizes[min(k, len(sizes)) - 1])

    @classmethod
    def for_family(cls, family: TaskFamily) -> MAMLRLConfig:
        """Defaults for ``family``: the paper's settings for 2D navigation (its test batch of 40 trajectories
        included); for CartPole a larger inner step and
        outer step size, and 200 meta-iterations when actions may be mirrored (60 for the physics alone)."""
        if isinstance(family, Navigation2DFamily):
            return cls(test_traj=40)
        if isinstance(family, CartPoleFamily):
            # Two actions and normalised advantages: a step of 0.1 barely moves a softmax, 0.5 can flip it.
            many = 200 if family.mirror_prob > 0 else 60  # the physics alone are learned much sooner
            return cls(alpha=0.5, outer_lr=0.01, lr_schedule="linear", inner_steps=1, meta_batch=10, n_traj=10,
                       n_iterations=many, eval_tasks=20)
        return cls(inner_steps=1, n_iterations=100, eval_tasks=20)


# ============================================================================================ evaluation result
@dataclass(frozen=True)
class MetaTestResult:
    """Returns on held-out tasks after 0, 1, ..., ``steps`` inner steps.

    Attributes:
        returns: (n_tasks, steps + 1) mean undiscounted return of each task's trajectories after k steps.
        tasks: the held-out tasks, in the order of the rows.

    Intervals over tasks: :func:`metarl_edu.studies.evaluation.adaptation_curve` and
    :func:`~metarl_edu.studies.evaluation.paired_bootstrap_ci` take ``returns``.
    """

    returns: np.ndarray
    tasks: list[Any]

    @property
    def mean(self) -> np.ndarray:
        """Mean over tasks after 0, 1, ... steps, shape (steps + 1,)."""
        return self.returns.mean(axis=0)

    def __str__(self) -> str:
        lines = [f"after {k} step{'s' if k != 1 else ''}: {m:8.2f}" for k, m in enumerate(self.mean)]
        return f"mean return on {len(self.returns)} held-out tasks\n" + "\n".join(lines)


# ============================================================================================ the agents
class MetaRLAgent:
    """What MAML and its baselines share: a policy ``pi_theta``, a task distribution, adaptation and evaluation.

    :class:`MAMLAgent` and the pretrained baseline (:class:`metarl_edu.studies.maml_rl.PretrainedAgent`) differ only
    in the update that :meth:`train` repeats; an untrained agent is the "learning from scratch" baseline (a fresh
    policy taking the same inner steps).

    Args:
        env: a task distribution, or a plain env MAMLAgent knows how to vary (see :func:`task_distribution`).
        config: hyperparameters; default ``MAMLRLConfig.for_family(family)``.
        policy: the policy; default :func:`~metarl_edu.nets.make_policy` for the family's envs.
        seed: seeds the policy's weights, the training tasks and the actions.
        verbose: print the task distribution built for a plain env.
    """

    def __init__(self, env: Any, config: MAMLRLConfig | None = None, policy: MLPPolicy | None = None,
                 seed: int = 0, verbose: bool = True) -> None:
        self.family = task_distribution(env, verbose=verbose)
        self.config = config or MAMLRLConfig.for_family(self.family)
        policy_seed, task_seed, action_seed, env_seed = np.random.SeedSequence(seed).spawn(4)
        example_env = self.family.make_env(self.family.sample(1, np.random.default_rng(0))[0])
        gaussian = isinstance(example_env.action_space, gym.spaces.Box)
        options = {"normalise_actions": self.config.normalise_actions, "init_std": self.config.init_std}
        self.policy = policy or make_policy(example_env, self.config.hidden_sizes,
                                            seed=int(policy_seed.generate_state(1)[0]), **(options if gaussian else {}))
        self.policy.check_action_space(example_env.action_space)  # a clear PolicyError for a policy that does not fit
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.config.outer_lr)
        self.rng = np.random.default_rng(task_seed)  # draws the training tasks
        self.env_seeds = np.random.default_rng(env_seed)  # seeds the envs' resets
        self.generator = torch.Generator().manual_seed(int(action_seed.generate_state(1)[0]))  # draws the actions
        self.train_tasks: list[Any] = []  # every training task, so that held-out tasks can be checked
        self.history: list[tuple[float, float]] = []  # (return before, after adaptation) of each iteration
        self.step_info: dict[str, float] = {}  # what the latest update measured (gradient norm; TRPO's KL, ...)
        self.env_steps = 0  # environment steps sampled so far, training and evaluation (padding not counted)

    @property
    def params(self) -> Params:
        """``theta``: the policy's parameters (the module's own tensors)."""
        return dict(self.policy.named_parameters())

    # ------------------------------------------------------------------------------ sampling and adaptation
    def _env(self, tasks: list[Any], n_traj: int) -> Any:
        return batched_env(self.family, tasks, n_traj, seed=int(self.env_seeds.integers(2**62)))

    def _sample(self, env: Any, params: Params | None, per_task: bool, generator: torch.Generator) -> Episodes:
        episodes = sample_batched_episodes(env, self.policy, generator=generator, params=params,
                                           params_per_task=per_task)
        self.env_steps += int(episodes.mask.sum())
        return episodes

    def adapt_tasks(self, thetas: Params, episodes: Episodes, alpha: float | None = None,
                    first_order: bool = False) -> Params:
        """:func:`adapt_step` on every task of a meta-batch: ``thetas`` stacked per task (leading n_tasks axis),
        ``episodes`` of batch shape (n_tasks, n_traj); vmapped over tasks, ``config.tasks_per_backward`` tasks
        at a time so that the graph of the inner gradients stays bounded. ``alpha``: default ``config.alpha``."""
        c = self.config
        alpha = c.alpha if alpha is None else alpha

        def one_task(theta: Params, e: Episodes) -> Params:
            return _module().adapt_step(self.policy, theta, e, alpha, c.gamma, first_order)

        step = vmap(_per_task(one_task, 1), in_dims=(0, *[1] * len(fields(Episodes))))
        n_tasks, chunk = episodes.mask.shape[1], c.tasks_per_backward
        parts = [step({k: v[lo:lo + chunk] for k, v in thetas.items()}, *_tensors(episodes, lo=lo, hi=lo + chunk))
                 for lo in range(0, n_tasks, chunk)]
        return {k: torch.cat([part[k] for part in parts]) for k in thetas}

    def _adapt_batch(self, env: Any, steps: int, generator: torch.Generator) -> tuple[list[Params], list[Episodes]]:
        """Sample, step, sample, ...: per-task parameters after 0..steps steps, and the episodes sampled with each;
        step k with :meth:`MAMLRLConfig.step_size` (k), in training as at test time."""
        theta = {k: v.detach() for k, v in self.params.items()}
        n_tasks = env.batch_shape[0]
        thetas = [{k: v.expand(n_tasks, *v.shape) for k, v in theta.items()}]
        episodes = [self._sample(env, theta, False, generator)]
        for k in range(1, steps + 1):
            adapted = self.adapt_tasks(thetas[-1], episodes[-1], self.config.step_size(k))
            thetas.append({k: v.detach() for k, v in adapted.items()})
            episodes.append(self._sample(env, thetas[-1], True, generator))
        return thetas, episodes

    def adapt(self, task: Any, steps: int = 1, n_traj: int | None = None, seed: int = 0) -> Params:
        """``theta'`` after ``steps`` inner steps on ``task``, each on ``n_traj`` fresh trajectories (default
        ``config.test_traj``, else ``config.n_traj``) sampled with the current parameters. Returns a new dict; the
        policy is not changed."""
        check_int("steps", steps, low=0)
        env = batched_env(self.family, [task], n_traj or self.config.test_batch, seed)
        thetas, _ = self._adapt_batch(env, steps, torch.Generator().manual_seed(seed))
        return {k: v[0].clone() for k, v in thetas[-1].items()}

    def evaluate(self, n_tasks: int | None = None, steps: int = 2, n_traj: int | None = None,
                 seed: int = 2024) -> MetaTestResult:
        """Mean return on held-out tasks after 0, 1, ..., ``steps`` inner steps.

        The tasks come from a stream of their own (``seed``) and are checked against every training task (a
        :class:`TaskLeakError` if one was trained on). Two agents evaluated with the same seed see the same tasks.
        Default ``n_tasks``: ``config.eval_tasks`` (a quarter, at least 4, in quick mode); default ``n_traj``:
        ``config.test_traj``, else ``config.n_traj``.
        """
        if n_tasks is None:
            n_tasks = size(quick=max(4, self.config.eval_tasks // 4), full=self.config.eval_tasks)
        tasks = self.family.sample(n_tasks, np.random.default_rng(np.random.SeedSequence([seed, 1])))
        trained = {task_key(task) for task in self.train_tasks}
        leaked = [task for task in tasks if task_key(task) in trained]
        if leaked:
            raise TaskLeakError(f"{len(leaked)} held-out task(s) were also training tasks, e.g. {leaked[0]!r}")
        env = batched_env(self.family, tasks, n_traj or self.config.test_batch, seed)
        _, episodes = self._adapt_batch(env, steps, torch.Generator().manual_seed(seed))
        returns = np.stack([e.total_rewards().mean(1).numpy() for e in episodes], axis=1).astype(float)
        return MetaTestResult(returns, list(tasks))

    # ------------------------------------------------------------------------------ training
    def adam_step(self) -> None:
        """Adam on the gradients in the policy's ``.grad``: clipped to ``config.max_grad_norm``, with the step size
        of ``config.lr_schedule`` at this iteration. MAML and the pretrained baseline share it."""
        c = self.config
        if c.max_grad_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), c.max_grad_norm)
            self.step_info = {"grad_norm": float(norm)}
        if c.lr_schedule == "linear":
            fraction_left = max(0.0, 1.0 - len(self.history) / c.n_iterations)
            for group in self.optimizer.param_groups:
                group["lr"] = c.outer_lr * fraction_left
        self.optimizer.step()

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
            self.history.append(rows[-1])
            bar.set_postfix(before=f"{rows[-1][0]:.1f}", after=f"{rows[-1][1]:.1f}")
        return np.array(rows, dtype=float).reshape(-1, 2)

    def step(self, tasks: list[Any]) -> tuple[float, float]:
        """One update on the meta-batch ``tasks``; returns the mean return before and after adaptation."""
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
    Adam step on the mean of the tasks' :func:`meta_loss`, vmapped over tasks a chunk at a time.
    """

    def meta_gradient(self, episodes: list[Episodes]) -> Params:
        """The gradient of the mean :func:`meta_loss` over the tasks of ``episodes`` (the inner batches, then
        ``D'``, each of batch shape (n_tasks, n_traj)), accumulated into the policy's ``.grad``; returned too."""
        c = self.config
        n_batches, n_tasks = len(episodes), episodes[0].mask.shape[1]

        alphas = [c.step_size(k) for k in range(1, n_batches)]

        def task_loss(params: Params, *batches: Episodes) -> torch.Tensor:
            return meta_loss(self.policy, params, list(batches[:-1]), batches[-1], alphas, c.gamma, c.first_order,
                             c.loss_every_step)

        losses_of = vmap(_per_task(task_loss, n_batches), in_dims=(None, *[1] * (n_batches * len(fields(Episodes)))))
        self.optimizer.zero_grad()
        for lo in range(0, n_tasks, c.tasks_per_backward):  # the gradient of the mean, a chunk of tasks at a time
            losses = losses_of(self.params, *_tensors(*episodes, lo=lo, hi=lo + c.tasks_per_backward))
            (losses.sum() / n_tasks).backward()  # frees this chunk's graph: memory grows with the chunk, not n_tasks
        return {k: p.grad for k, p in self.policy.named_parameters()}

    def step(self, tasks: list[Any]) -> tuple[float, float]:
        c = self.config
        _, episodes = self._adapt_batch(self._env(tasks, c.n_traj), c.inner_steps, self.generator)
        self.meta_update(episodes)
        return float(episodes[0].total_rewards().mean()), float(episodes[-1].total_rewards().mean())

    def meta_update(self, episodes: list[Episodes]) -> None:
        """Adam on :meth:`meta_gradient`. The paper's trust-region step (``meta_optimizer="trpo"``) is
        :class:`metarl_edu.studies.trpo.TRPOMAMLAgent`'s."""
        if self.config.meta_optimizer != "adam":
            raise ValueError(f"MAMLAgent steps with Adam; meta_optimizer={self.config.meta_optimizer!r} needs "
                             "metarl_edu.studies.trpo.TRPOMAMLAgent")
        self.meta_gradient(episodes)
        self.adam_step()
