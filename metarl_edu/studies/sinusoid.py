"""Lesson 07's experiment: MAML on the sinusoid regression tasks of Finn et al. (2017), section 5.1.

The task family (:class:`SinusoidTasks`), the two learners it compares (:class:`MAMLRegression`, which meta-learns
an initialisation with :func:`metarl_edu.maml.maml_loss`, and :class:`PretrainedRegression`, one network fitted to
all tasks), and :func:`adaptation_mse`, the query error after k inner steps on new tasks. :func:`maml_loss_loop` is
the plain autograd loop over tasks that the vmapped meta-loss is tested and benchmarked against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap
from tqdm.auto import trange

from metarl_edu._checks import check_number
from metarl_edu.config import size
from metarl_edu.maml import Batch, Params, adapt, inner_update, maml_loss, regression_loss
from metarl_edu.nets import mlp


def maml_loss_loop(
    model: nn.Module,
    params: Params,
    support: tuple[torch.Tensor, torch.Tensor],
    query: tuple[torch.Tensor, torch.Tensor],
    alpha: float,
    steps: int = 1,
    first_order: bool = False,
) -> torch.Tensor:
    """The same meta-loss as :func:`maml_loss`, by a plain Python loop over tasks with ``torch.autograd.grad``.

    The reference implementation: ``create_graph=True`` keeps the graph of the inner gradient so that the
    outer backward pass differentiates through it; ``create_graph=False`` (first order) returns gradients
    that are constants.
    """
    losses = []
    for i in range(support[0].shape[0]):
        theta = params
        for _ in range(steps):
            inner = regression_loss(model, theta, (support[0][i], support[1][i]))
            grads = torch.autograd.grad(inner, tuple(theta.values()), create_graph=not first_order)
            theta = inner_update(theta, dict(zip(theta, grads, strict=True)), alpha)
        losses.append(regression_loss(model, theta, (query[0][i], query[1][i])))
    return torch.stack(losses).mean()


# --------------------------------------------------------------------------------------------- sinusoid tasks
@dataclass(frozen=True)
class SinusoidTasks:
    """The sinusoid regression tasks of Finn et al. (2017), section 5.1: ``y = A sin(x - phi)``.

    Attributes:
        amplitude: range (low, high) of ``A``, drawn uniformly; the paper: [0.1, 5].
        phase: range of ``phi``, drawn uniformly; the paper: [0, pi].
        x_range: range of the inputs ``x``, drawn uniformly; the paper: [-5, 5].
    """

    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def __post_init__(self) -> None:
        for name in ("amplitude", "phase", "x_range"):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"{name} must be a finite range (low, high) with low < high; got {(low, high)}")

    def sample(self, n_tasks: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n_tasks`` tasks: amplitudes ``A`` and phases ``phi``, two arrays of shape (n_tasks,)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, e.g. np.random.default_rng(0); got {type(rng).__name__}")
        return rng.uniform(*self.amplitude, size=n_tasks), rng.uniform(*self.phase, size=n_tasks)

    def points(
        self, amplitude: np.ndarray, phase: np.ndarray, k: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``k`` points ``(x, A sin(x - phi))`` of each task, ``x`` uniform in ``x_range``: x, y of shape (n, k, 1)."""
        x = rng.uniform(*self.x_range, size=(len(amplitude), k, 1))
        y = amplitude[:, None, None] * np.sin(x - phase[:, None, None])
        return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)

    def mean_function(self, x: np.ndarray) -> np.ndarray:
        """The average task ``E[A sin(x - phi)]`` at ``x``, what a network fitted to all tasks at once converges to.

        ``A`` and ``phi`` are independent, so it is ``E[A] E[sin(x - phi)]``, and for ``phi ~ U[a, b]``
        ``E[sin(x - phi)] = (cos(x - b) - cos(x - a)) / (b - a)``. With the paper's ranges, ``E[A] = 2.55`` and
        ``phi ~ U[0, pi]``: ``-(2 * 2.55 / pi) cos x = -1.62 cos x``, not 0 (the phases cover half a period only).
        """
        (a_lo, a_hi), (lo, hi) = self.amplitude, self.phase
        x = np.asarray(x, dtype=float)
        return (a_lo + a_hi) / 2 * (np.cos(x - hi) - np.cos(x - lo)) / (hi - lo)

    def meta_batch(self, n_tasks: int, k: int, rng: np.random.Generator) -> tuple[tuple, tuple]:
        """Fresh tasks with a support set and a query set of ``k`` points each: ``((x_s, y_s), (x_q, y_q))``."""
        amplitude, phase = self.sample(n_tasks, rng)
        return self.points(amplitude, phase, k, rng), self.points(amplitude, phase, k, rng)


@dataclass(frozen=True)
class SinusoidConfig:
    """Hyperparameters of MAML on sinusoids; defaults are the paper's (Finn et al., 2017, section 5.1).

    Attributes:
        hidden_sizes: hidden layers of the ReLU network 1 -> 40 -> 40 -> 1.
        alpha: inner step size, > 0 (0.01).
        inner_steps: inner gradient steps during meta-training, >= 1 (1).
        k_shot: K, points in each task's support set (and in its query set) during training (10).
        meta_batch: tasks per meta-update (25).
        outer_lr: Adam's step size beta for the meta-update, > 0 (0.001).
        first_order: first-order MAML (drop the second derivatives).
    """

    hidden_sizes: tuple[int, ...] = (40, 40)
    alpha: float = 0.01
    inner_steps: int = 1
    k_shot: int = 10
    meta_batch: int = 25
    outer_lr: float = 1e-3
    first_order: bool = False

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.outer_lr > 0):
            raise ValueError(f"alpha and outer_lr must be positive; got {self.alpha!r} and {self.outer_lr!r}")
        for name in ("inner_steps", "k_shot", "meta_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")


class RegressionLearner:
    """A 1 -> hidden -> 1 ReLU network, its Adam optimiser, and few-shot adaptation by ``adapt``.

    :class:`MAMLRegression` and :class:`PretrainedRegression` differ only in how ``train`` sets ``theta``.
    """

    def __init__(self, config: SinusoidConfig | None = None, tasks: SinusoidTasks | None = None, seed: int = 0):
        self.config = config or SinusoidConfig()
        self.tasks = tasks or SinusoidTasks()
        self.net = mlp((1, *self.config.hidden_sizes, 1), "relu", seed)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.outer_lr)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])  # draws training tasks
        self.losses: list[float] = []  # training loss of every iteration so far

    @property
    def params(self) -> Params:
        """``theta``, the network's parameters as a dict (the module's own tensors)."""
        return dict(self.net.named_parameters())

    def loss(self, params: Params, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean squared error of the network at ``params`` on ``batch = (x, y)``."""
        return regression_loss(self.net, params, batch)

    def adapt(self, x: torch.Tensor, y: torch.Tensor, steps: int = 1) -> Params:
        """``theta'`` after ``steps`` inner updates (step size ``config.alpha``) on points x, y of shape (K, 1)."""
        params = {k: v.detach() for k, v in self.params.items()}
        return adapt(self.loss, params, (x, y), self.config.alpha, steps)

    def predict(self, x: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        """``f_theta(x)`` for x of shape (..., 1), at ``params`` (default: the learned ``theta``)."""
        with torch.no_grad():
            return functional_call(self.net, params or self.params, (x,))

    def train(self, n_iterations: int | None = None, progress: bool = True) -> np.ndarray:
        """Run ``n_iterations`` updates (default: 20,000, or 300 in quick mode); returns their losses."""
        n_iterations = size(quick=300, full=20_000) if n_iterations is None else n_iterations
        losses = [self.step() for _ in trange(n_iterations, disable=not progress, desc=type(self).__name__)]
        self.losses.extend(losses)
        return np.array(losses)

    def step(self) -> float:
        raise NotImplementedError


class MAMLRegression(RegressionLearner):
    """MAML on sinusoid regression: Adam on the meta-loss :func:`maml_loss`, one meta-batch per step.

    >>> learner = MAMLRegression(seed=0)
    >>> losses = learner.train(100, progress=False)
    >>> mse = evaluate(learner, steps=1)           # {5: (2,), 10: (2,)} query MSE after 0 and 1 steps
    """

    def step(self, vectorized: bool = True) -> float:
        """One meta-update on fresh tasks: vmapped (:func:`maml_loss`) or by the plain loop
        (:func:`maml_loss_loop`); returns the meta-loss before the update."""
        c = self.config
        support, query = self.tasks.meta_batch(c.meta_batch, c.k_shot, self.rng)
        meta_loss_fn = maml_loss if vectorized else maml_loss_loop
        meta_loss = meta_loss_fn(self.net, self.params, support, query, c.alpha, c.inner_steps, c.first_order)
        self.optimizer.zero_grad()
        meta_loss.backward()
        self.optimizer.step()
        return float(meta_loss.detach())


class PretrainedRegression(RegressionLearner):
    """The paper's baseline: one network trained on all tasks jointly, then fine-tuned like MAML.

    Each step fits the mean squared error over a meta-batch of tasks pooled together, ``2 * k_shot`` points per
    task: as many as MAML's step reads (support and query); at test time the same :meth:`adapt` fine-tunes it on a
    new task's K points.
    """

    def step(self) -> float:
        c = self.config
        amplitude, phase = self.tasks.sample(c.meta_batch, self.rng)
        x, y = self.tasks.points(amplitude, phase, 2 * c.k_shot, self.rng)
        loss = self.loss(self.params, (x.reshape(-1, 1), y.reshape(-1, 1)))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())


def adaptation_mse(
    learner: RegressionLearner,
    steps: int = 10,
    k_shots: tuple[int, ...] = (5, 10),
    n_tasks: int = 100,
    n_query: int = 100,
    seed: int = 1234,
    *,
    per_task: bool = False,
    alpha: float | None = None,
) -> dict[int, np.ndarray]:
    """Query MSE on new tasks after 0, 1, ..., ``steps`` inner updates from K support points, for each K.

    The tasks and points depend only on ``seed``, so two learners evaluated with the same seed see the same
    tasks. Returns ``{K: mse}`` with ``mse[s]`` the mean over ``n_tasks`` tasks after ``s`` steps, shape
    (steps + 1,); with ``per_task``, each task's own row, shape (n_tasks, steps + 1). ``alpha``: the step size of
    the updates, default the learner's ``config.alpha`` (a fine-tuning step can be tuned on other seeds' tasks).
    """
    params = {k: v.detach() for k, v in learner.params.items()}
    alpha = learner.config.alpha if alpha is None else check_number("alpha", alpha, low=0.0, low_open=True)

    def curve(support: Batch, query: Batch) -> torch.Tensor:
        theta, mse = params, [learner.loss(params, query)]
        for _ in range(steps):
            theta = adapt(learner.loss, theta, support, alpha)
            mse.append(learner.loss(theta, query))
        return torch.stack(mse)

    results = {}
    for k in k_shots:
        rng = np.random.default_rng(seed)  # the same tasks for every K and every learner
        amplitude, phase = learner.tasks.sample(n_tasks, rng)
        query = learner.tasks.points(amplitude, phase, n_query, rng)
        support = learner.tasks.points(amplitude, phase, k, rng)
        with torch.no_grad():
            per_task_mse = vmap(curve)(support, query)
        results[k] = (per_task_mse if per_task else per_task_mse.mean(0)).numpy()
    return results


FINE_TUNING_STEPS = (0.002, 0.005, 0.01, 0.02)


def tuned_step(learner: RegressionLearner, k_shots: tuple[int, ...] = (5, 10),
               tried: tuple[float, ...] = FINE_TUNING_STEPS, steps: int = 10, seed: int = 99) -> dict[int, float]:
    """For each K, the step size among ``tried`` with the lowest mean query MSE over steps 1 to ``steps`` on new
    tasks drawn from ``seed``: the fine-tuning step of the pretrained baseline, tuned as the paper tuned it, on
    other tasks than those :func:`adaptation_mse` tests on (its default seed)."""
    curves = {step: adaptation_mse(learner, steps, k_shots, seed=seed, alpha=step) for step in tried}
    return {k: min(tried, key=lambda step: float(curves[step][k][1:].mean())) for k in k_shots}


def train_pair(config: SinusoidConfig, tasks: SinusoidTasks, seed: int, n_iterations: int, steps: int = 10,
               progress: bool = False) -> dict:
    """MAML and the pretrained baseline trained from one seed for ``n_iterations`` steps each, the baseline's step
    tuned (:func:`tuned_step`), both evaluated per task on :func:`adaptation_mse`'s test tasks.

    Returns ``{"maml": learner, "pretrained": learner, "tuned": {K: step}, "mse": {"MAML": {K: (n_tasks,
    steps + 1)}, "pretrained": {K: ...}}}``."""
    maml, pretrained = MAMLRegression(config, tasks, seed=seed), PretrainedRegression(config, tasks, seed=seed)
    maml.train(n_iterations, progress=progress)
    pretrained.train(n_iterations, progress=progress)
    tuned = tuned_step(pretrained, steps=steps)
    mse = {"MAML": adaptation_mse(maml, steps, per_task=True),
           "pretrained": {k: adaptation_mse(pretrained, steps, (k,), per_task=True, alpha=step)[k]
                          for k, step in tuned.items()}}
    return {"maml": maml, "pretrained": pretrained, "tuned": tuned, "mse": mse}
