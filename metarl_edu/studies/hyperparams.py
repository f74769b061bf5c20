"""Learning Q-learning's hyperparameters across tasks: sweeps, models from task features to settings, and an
honest evaluation on held-out tasks.

The three steps (the course's seed article; Duan et al. 2016 and Finn et al. 2017 for the meta-train / meta-test
protocol):

1. **learn**: run Q-learning with many settings on many training tasks (:func:`sweep`), and fit a model from a
   task's features to a setting (:class:`NearestNeighbours`, :class:`RidgePerHyperparameter`, :class:`MLPScores`);
2. **use**: for a new task, read its features and let the model pick alpha, epsilon, gamma and the epsilon schedule;
3. **evaluate**: on held-out tasks that step 1 never saw (:func:`compare_on_held_out`), next to
   ``QLearningAgent``'s defaults, the single best setting over the training tasks, and a per-task oracle that
   searches the grid on the very task it is scored on, with a few runs of its own (a search no method can afford
   on a new task, used for nothing else; not an upper bound: a choice made from a few noisy runs per setting can
   be worse than one made from many tasks' runs).

What one run is worth (its *score*). Q-learning with one :class:`Setting` learns on one task for ``n_episodes``
episodes (:class:`~metarl_edu.fast.qlearning.BatchedQLearning`, many runs at once). Then the greedy policy ``pi`` of its
table is evaluated **exactly** on the task's :class:`~metarl_edu.mdp.TabularMDP` (no sampling noise):

    J(pi) = start @ v_pi,   v_pi = r_pi + gamma_task P_pi v_pi             (tasks without a horizon)
    J(pi) = start @ v_0,    v_t  = r_pi + P_pi v_{t+1},  v_H = 0           (tasks with a ``horizon`` H)

    score = (J(pi) - J(uniform random)) / (J(optimal) - J(uniform random))

``gamma_task`` is the task MDP's own discount (0.95 in gridworlds, 0.99 in FrozenLake), fixed for the whole
experiment: it is the goal, while the ``gamma`` of a setting is a knob of the learner, and tuning the knob must not
move the goal. A score of 0 is no better than acting at random, 1 is the best any policy can do (for a horizon,
even one that looks at the clock: a stationary greedy policy may stay below 1). Dividing by the task's own range
makes scores of different tasks comparable, so averages over tasks mean something.

=================  =====================================  ===============================================
name               shape                                  meaning
=================  =====================================  ===============================================
``settings``       (K,) of :class:`Setting`               the candidate hyperparameters
``scores``         (n_tasks, K, n_seeds)                  score of every task, setting and repetition
``X``              (n_tasks, F)                           task features, ``family.feature_matrix(tasks)``
=================  =====================================  ===============================================

Seeds: a run's random numbers come from one generator per batch of runs, derived from ``seed`` with
``np.random.SeedSequence``; a "seed" index ``j`` is the j-th independent repetition of each (task, setting).
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from metarl_edu._checks import check_int, check_number
from metarl_edu.agents import LinearSchedule, QLearningAgent
from metarl_edu.envs.tasks import TaskFamily, task_key
from metarl_edu.fast.qlearning import BatchedQLearning, UniformSource
from metarl_edu.mdp import TabularMDP, evaluate_policies, expected_reward, finite_horizon_value, value_iteration
from metarl_edu.studies.evaluation import (
    ConfidenceInterval,
    TaskSplit,
    bootstrap_ci,
    check_disjoint,
    paired_bootstrap_ci,
)

__all__ = [
    "SCHEDULES",
    "BestConstant",
    "FixedSetting",
    "HeldOutResult",
    "HyperparameterModel",
    "MLPScores",
    "MethodSummary",
    "NearestNeighbours",
    "RidgePerHyperparameter",
    "Setting",
    "SweepResult",
    "TaskObjective",
    "compare_on_held_out",
    "default_setting",
    "policy_returns",
    "random_settings",
    "score_curves",
    "score_runs",
    "setting_grid",
    "sweep",
    "task_objective",
]

SCHEDULES = ("constant", "linear")


# ============================================================================================ settings
@dataclass(frozen=True)
class Setting:
    """One choice of Q-learning's hyperparameters.

    Attributes:
        alpha: step size in (0, 1].
        epsilon: exploration rate in [0, 1]: the value used throughout (``"constant"``), or the value reached
            halfway through training (``"linear"``).
        gamma: the learner's bootstrap discount in [0, 1] (not the task's: see the module docstring).
        schedule: ``"constant"`` or ``"linear"``: ``LinearSchedule(1.0, epsilon)``, from fully random to
            ``epsilon`` over the first half of the episodes, as ``QLearningAgent``'s default.
    """

    alpha: float
    epsilon: float
    gamma: float
    schedule: str = "constant"

    def __post_init__(self) -> None:
        for name, low, high, low_open in (("alpha", 0.0, 1.0, True), ("epsilon", 0.0, 1.0, False),
                                          ("gamma", 0.0, 1.0, False)):
            value = getattr(self, name)
            if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{name} must be a number; got {value!r}")
            value = check_number(name, value, low, high, low_open=low_open)
            object.__setattr__(self, name, value)  # frozen: normalise once, here
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; got {self.schedule!r}")

    def epsilons(self, n_episodes: int) -> np.ndarray:
        """The exploration rate of each of ``n_episodes`` episodes, shape (n_episodes,)."""
        if self.schedule == "constant":
            return np.full(n_episodes, self.epsilon)
        return np.asarray(LinearSchedule(1.0, self.epsilon).for_episodes(n_episodes)(np.arange(n_episodes)))

    def __str__(self) -> str:
        return f"alpha={self.alpha:.3g}, epsilon={self.epsilon:.3g} ({self.schedule}), gamma={self.gamma:.3g}"


def default_setting() -> Setting:
    """``QLearningAgent``'s defaults as a :class:`Setting`, read from its signature: alpha 0.1, gamma 0.99 and
    ``LinearSchedule(1.0, 0.01)``. They were fixed before any experiment here, so they are a fair baseline."""
    parameters = inspect.signature(QLearningAgent).parameters
    epsilon = parameters["epsilon"].default
    if not (isinstance(epsilon, LinearSchedule) and epsilon.start == 1.0 and epsilon.n_episodes is None
            and epsilon.fraction == 0.5):
        raise TypeError(f"QLearningAgent's default epsilon {epsilon!r} is not a Setting's linear schedule")
    return Setting(parameters["alpha"].default, epsilon.end, parameters["gamma"].default, "linear")


def setting_grid(alphas: Sequence[float], epsilons: Sequence[float], gammas: Sequence[float],
                 schedules: Sequence[str] = SCHEDULES) -> tuple[Setting, ...]:
    """Every distinct combination of the given values, alpha varying slowest: ``len(alphas) * len(epsilons) *
    len(gammas) * len(schedules)`` settings, less the duplicates.

    A linear schedule that ends at epsilon 1 starts at 1 too: it is the constant epsilon 1. When both schedules
    are asked for, that setting is kept once, as ``"constant"``, so that no setting is swept (and counted) twice.
    """
    both = "constant" in schedules and "linear" in schedules
    return tuple(Setting(a, e, g, s) for a, e, g, s in itertools.product(alphas, epsilons, gammas, schedules)
                 if not (both and s == "linear" and e == 1.0))


def random_settings(n: int, rng: np.random.Generator, alpha: tuple[float, float] = (0.01, 1.0),
                    epsilon: tuple[float, float] = (0.01, 1.0), gamma: tuple[float, float] = (0.5, 0.999),
                    schedules: Sequence[str] = SCHEDULES) -> tuple[Setting, ...]:
    """``n`` settings drawn at random (Bergstra & Bengio 2012, *Random search for hyper-parameter optimization*):
    alpha and epsilon log-uniform in their ranges, ``1 - gamma`` log-uniform (so the effective horizon
    ``1 / (1 - gamma)`` is spread evenly on a log scale), the schedule uniform. Ranges are (lo, hi) with lo > 0 for
    alpha and epsilon and hi < 1 for gamma."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator; got {type(rng).__name__}")
    for name, (lo, hi), low, high in (("alpha", alpha, 0.0, 1.0), ("epsilon", epsilon, 0.0, 1.0),
                                      ("gamma", gamma, 0.0, 1.0)):
        if not (low <= lo <= hi <= high) or (name != "gamma" and lo <= 0) or (name == "gamma" and hi >= 1):
            raise ValueError(f"the {name} range must be (lo, hi) inside [0, 1] with lo > 0 for alpha and epsilon "
                             f"and hi < 1 for gamma; got {(lo, hi)}")

    def log_uniform(lo: float, hi: float) -> np.ndarray:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), size=n))

    alphas, epsilons = log_uniform(*alpha), log_uniform(*epsilon)
    gammas = 1.0 - log_uniform(1.0 - gamma[1], 1.0 - gamma[0])
    kinds = rng.integers(len(schedules), size=n)
    return tuple(Setting(a, e, g, schedules[k]) for a, e, g, k in zip(alphas, epsilons, gammas, kinds, strict=True))


# ============================================================================================ scoring a run
def policy_returns(P: np.ndarray, R: np.ndarray, terminal: np.ndarray, start: np.ndarray, gamma: np.ndarray,
                   pi: np.ndarray, horizon: int | None = None) -> np.ndarray:
    """J(pi) = start @ v_pi of N policies on N MDPs at once, exactly. Shape (N,).

    Args:
        P: (N, S, A, S) transitions. R: (N, S, A, S) rewards of ``s, a -> s'``. terminal: (N, S) bool.
        start: (N, S) start distributions. gamma: (N,) discounts in [0, 1].
        pi: (N, S, A) policies (rows sum to 1).
        horizon: None: the discounted value, v = r_pi + gamma P_pi v, solved as a linear system (gamma < 1).
            H: the expected sum of the first H rewards, by H backups v_t = r_pi + gamma P_pi v_{t+1}, v_H = 0.

    Terminal states are worth 0: their rows of P_pi and r_pi are zeroed (the episode has ended there), which is
    what :func:`~metarl_edu.mdp.policy_evaluation` does too.
    """
    gamma = np.asarray(gamma, dtype=float)
    if horizon is None and np.any(gamma >= 1.0):
        raise ValueError("a discounted value needs gamma < 1; give the horizon of a finite-horizon task")
    v = evaluate_policies(P, expected_reward(P, R), terminal, gamma, pi, horizon)
    return np.einsum("ns,ns->n", start, v)


@dataclass(frozen=True)
class TaskObjective:
    """How runs on one task are trained and scored (see the module docstring).

    Attributes:
        mdp: the task's exact MDP; its ``gamma`` is the fixed evaluation discount.
        horizon: H for finite-horizon tasks (the sum of H rewards is scored), else None (discounted).
        max_steps: episode length limit during training: H, or the family's ``max_episode_steps``.
        j_optimal: J of an optimal policy (non-stationary for a horizon: backward induction).
        j_uniform: J of the uniformly random policy.
    """

    mdp: TabularMDP
    horizon: int | None
    max_steps: int
    j_optimal: float
    j_uniform: float

    def returns(self, pi: np.ndarray) -> float:
        """J(pi) of one policy pi (S, A), exactly (:func:`policy_returns`)."""
        mdp = self.mdp
        R = mdp.R if mdp.R.ndim == 3 else np.repeat(mdp.R[:, :, None], mdp.n_states, axis=2)
        return float(policy_returns(mdp.P[None], R[None], mdp.terminal[None], mdp.start[None], np.array([mdp.gamma]),
                                    np.asarray(pi, dtype=float)[None], self.horizon)[0])

    def score(self, pi: np.ndarray) -> float:
        """The score of one policy pi (S, A): its J, normalised."""
        return float(self.normalise(self.returns(pi)))

    def normalise(self, j: np.ndarray) -> np.ndarray:
        """(J - J_uniform) / (J_optimal - J_uniform); 1 where every policy is optimal (a range of 0)."""
        span = self.j_optimal - self.j_uniform
        if span <= 1e-12:
            return np.ones_like(np.asarray(j, dtype=float))
        return (np.asarray(j, dtype=float) - self.j_uniform) / span


def task_objective(family: TaskFamily, task: Any) -> TaskObjective:
    """The :class:`TaskObjective` of ``task``: a task with a ``horizon`` attribute is finite-horizon (random MDPs,
    two-goal rooms), any other is discounted with its MDP's gamma and trained with the family's time limit."""
    if not family.tabular:
        raise TypeError(f"{type(family).__name__} has no exact MDP; sweeps need a tabular family")
    mdp = family.to_mdp(task)
    horizon = getattr(task, "horizon", None)
    if horizon is None:
        j_optimal = float(mdp.start @ value_iteration(mdp)[0])
        max_steps = int(family.max_episode_steps)
    else:
        j_optimal = float(mdp.start @ finite_horizon_value(mdp, int(horizon)))
        max_steps = int(horizon)
    objective = TaskObjective(mdp, None if horizon is None else int(horizon), max_steps, j_optimal, math.nan)
    uniform = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    return replace(objective, j_uniform=objective.returns(uniform))


class _EpsilonTable:
    """The epsilon schedule of a batch: one value per (row, episode), read from a table from ``offset`` on."""

    def __init__(self, table: np.ndarray, offset: int) -> None:
        self.table, self.offset = table, offset

    def __call__(self, episode: int) -> np.ndarray:
        return self.table[:, self.offset + episode]


def _run_rows(objectives: Sequence[TaskObjective], settings: Sequence[Setting], n_episodes: int, n_points: int,
              seed: int, rng: UniformSource | None, chunk_size: int, bar: Any) -> np.ndarray:
    """Scores (N, n_points) of N runs, row i with ``settings[i]`` on ``objectives[i]``, after
    ``n_episodes * (p + 1) / n_points`` episodes for p = 0 .. n_points - 1.

    Runs are batched by (S, A, max_steps, horizon), at most ``chunk_size`` rows per batch; batch ``b`` of group
    ``g`` draws from ``SFC64(SeedSequence([seed, g, b]))`` (or from ``rng`` when given).
    """
    N = len(objectives)
    scores = np.empty((N, n_points))
    ends = [round(n_episodes * (p + 1) / n_points) for p in range(n_points)]
    if len(set(ends)) < n_points or ends[0] < 1:
        raise ValueError(f"n_points ({n_points}) must be between 1 and n_episodes ({n_episodes})")
    groups: dict[tuple, list[int]] = {}  # rows that can share a batch: same S, A, episode limit and horizon
    for i, o in enumerate(objectives):
        groups.setdefault((o.mdp.n_states, o.mdp.n_actions, o.max_steps, o.horizon), []).append(i)
    for g, (key, rows) in enumerate(groups.items()):
        for b, first in enumerate(range(0, len(rows), chunk_size)):
            chunk = rows[first:first + chunk_size]
            batch_rng = rng if rng is not None else np.random.Generator(
                np.random.SFC64(np.random.SeedSequence([seed, g, b])))
            batch = BatchedQLearning(
                [objectives[i].mdp for i in chunk], alpha=np.array([settings[i].alpha for i in chunk]),
                gamma=np.array([settings[i].gamma for i in chunk]), epsilon=0.0, max_steps=key[2], rng=batch_rng,
                progress=False)
            epsilon_table = np.array([settings[i].epsilons(n_episodes) for i in chunk])
            done = 0
            for p, end in enumerate(ends):
                batch.epsilon = _EpsilonTable(epsilon_table, done)  # the schedule goes on where it stopped
                batch.train(end - done)
                done = end
                j = policy_returns(batch.P, batch.R, batch.terminal, batch.start,
                                   np.array([objectives[i].mdp.gamma for i in chunk]), batch.greedy_policies(),
                                   key[3])
                scores[chunk, p] = [objectives[i].normalise(j_i) for i, j_i in zip(chunk, j, strict=True)]
            bar.update(len(chunk))
    return scores


def _objectives(family: TaskFamily, tasks: Sequence[Any]) -> list[TaskObjective]:
    """The objective of each task, computed once per distinct task."""
    cache: dict[tuple, TaskObjective] = {}
    for task in tasks:
        if task_key(task) not in cache:
            cache[task_key(task)] = task_objective(family, task)
    return [cache[task_key(task)] for task in tasks]


def score_runs(family: TaskFamily, tasks: Sequence[Any], settings: Sequence[Setting], n_episodes: int,
               seed: int = 0, *, rng: UniformSource | None = None, chunk_size: int = 2000,
               progress: bool = False) -> np.ndarray:
    """Score N runs: run ``i`` trains Q-learning with ``settings[i]`` on ``tasks[i]`` for ``n_episodes`` episodes.

    Returns shape (N,). ``rng``: a source every batch draws from instead of its own generator (tests pass fixed
    numbers, so that a run does not depend on the batch it shares). ``chunk_size`` bounds the runs per batch
    (memory grows as chunk_size * S^2 * A).
    """
    return score_curves(family, tasks, settings, n_episodes, 1, seed, rng=rng, chunk_size=chunk_size,
                        progress=progress)[:, 0]


def score_curves(family: TaskFamily, tasks: Sequence[Any], settings: Sequence[Setting], n_episodes: int,
                 n_points: int, seed: int = 0, *, rng: UniformSource | None = None, chunk_size: int = 2000,
                 progress: bool = False) -> np.ndarray:
    """Learning curves of N runs as :func:`score_runs` scores them: shape (N, n_points), column ``p`` after
    ``round(n_episodes * (p + 1) / n_points)`` episodes. The epsilon schedule spans all ``n_episodes``."""
    check_int("n_episodes", n_episodes, low=1)
    check_int("chunk_size", chunk_size, low=1)
    tasks, settings = list(tasks), list(settings)
    if len(tasks) != len(settings):
        raise ValueError(f"one setting per task: got {len(tasks)} tasks and {len(settings)} settings")
    if not all(isinstance(s, Setting) for s in settings):
        raise TypeError("settings must be Setting objects, for example Setting(alpha=0.1, epsilon=0.1, gamma=0.9)")
    with tqdm(total=len(tasks), desc="Q-learning runs", unit="run", disable=not progress) as bar:
        return _run_rows(_objectives(family, tasks), settings, n_episodes, n_points, seed, rng, chunk_size, bar)


# ============================================================================================ the sweep
@dataclass(frozen=True)
class SweepResult:
    """Scores of every (task, setting, repetition) of a sweep.

    Attributes:
        tasks: the n_tasks tasks swept. settings: the K settings.
        scores: (n_tasks, K, n_seeds) scores (see the module docstring).
        X: (n_tasks, F) task features. feature_names: their F names.
        n_episodes: the training budget of every run.
    """

    tasks: tuple[Any, ...]
    settings: tuple[Setting, ...]
    scores: np.ndarray
    X: np.ndarray
    feature_names: tuple[str, ...]
    n_episodes: int
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n, K = len(self.tasks), len(self.settings)
        if self.scores.ndim != 3 or self.scores.shape[:2] != (n, K):
            raise ValueError(f"scores must have shape (n_tasks, K, n_seeds) = ({n}, {K}, ...); got "
                             f"{self.scores.shape}")
        if self.X.shape != (n, len(self.feature_names)):
            raise ValueError(f"X must have shape (n_tasks, F) = ({n}, {len(self.feature_names)}); got {self.X.shape}")
        object.__setattr__(self, "_index", {task_key(t): i for i, t in enumerate(self.tasks)})

    @property
    def mean_scores(self) -> np.ndarray:
        """(n_tasks, K): each task's score of each setting, averaged over repetitions."""
        return self.scores.mean(axis=2)

    def best_constant(self) -> int:
        """Index of the setting with the best score averaged over all tasks and repetitions."""
        return int(np.argmax(self.mean_scores.mean(axis=0)))

    def best_per_task(self) -> np.ndarray:
        """(n_tasks,) index of each task's best setting, judged on that task's own scores only."""
        return np.argmax(self.mean_scores, axis=1)

    def subset(self, tasks: Sequence[Any]) -> SweepResult:
        """The rows of ``tasks`` (each must have been swept), in their order."""
        missing = [t for t in tasks if task_key(t) not in self._index]
        if missing:
            raise KeyError(f"{len(missing)} task(s) were not swept, e.g. {missing[0]!r}")
        rows = [self._index[task_key(t)] for t in tasks]
        return SweepResult(tuple(tasks), self.settings, self.scores[rows], self.X[rows], self.feature_names,
                           self.n_episodes)


def sweep(family: TaskFamily, tasks: Sequence[Any], settings: Sequence[Setting], *, n_episodes: int,
          n_seeds: int = 2, seed: int = 0, rng: UniformSource | None = None, chunk_size: int = 2000,
          progress: bool = True) -> SweepResult:
    """Run Q-learning with every setting on every task ``n_seeds`` times and score each run.

    ``n_tasks * len(settings) * n_seeds`` runs of ``n_episodes`` episodes, batched (see :func:`score_runs`).
    ``progress`` shows a bar counting runs.

    >>> from metarl_edu.envs import GridWorldFamily
    >>> family = GridWorldFamily()
    >>> result = sweep(family, family.sample(3, np.random.default_rng(0)), setting_grid([0.1, 0.5], [0.1], [0.9]),
    ...                n_episodes=20, progress=False)
    >>> result.scores.shape
    (3, 4, 2)
    """
    tasks, settings = list(tasks), tuple(settings)
    if not tasks or not settings:
        raise ValueError(f"a sweep needs at least one task and one setting; got {len(tasks)} and {len(settings)}")
    check_int("n_seeds", n_seeds, low=1)
    rows = list(itertools.product(range(len(tasks)), range(len(settings)), range(n_seeds)))  # task-major
    flat = score_runs(family, [tasks[i] for i, _, _ in rows], [settings[k] for _, k, _ in rows], n_episodes,
                      seed, rng=rng, chunk_size=chunk_size, progress=progress)
    scores = flat.reshape(len(tasks), len(settings), n_seeds)
    return SweepResult(tuple(tasks), settings, scores, family.feature_matrix(tasks), tuple(family.feature_names),
                       int(n_episodes))


# ============================================================================================ models
class HyperparameterModel(ABC):
    """A way to choose a :class:`Setting` for a task from its features, fitted on a sweep of training tasks.

    ``fit(sweep)`` sees only the training tasks' features and scores; ``predict(X)`` then gets the features
    (n, F) of new tasks and returns one setting for each.
    """

    name: str = "model"

    @abstractmethod
    def fit(self, result: SweepResult) -> HyperparameterModel:
        """Learn from a sweep of training tasks; returns ``self``."""

    @abstractmethod
    def predict(self, X: np.ndarray) -> list[Setting]:
        """One setting for each row of ``X`` (n, F)."""

    def _check_X(self, X: Any, n_features: int) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(f"X must have shape (n_tasks, F) with F = {n_features} features; got {X.shape}")
        return X


class FixedSetting(HyperparameterModel):
    """The same setting for every task, decided before seeing any (for example :func:`default_setting`)."""

    def __init__(self, setting: Setting, name: str = "defaults") -> None:
        self.setting, self.name = setting, name

    def fit(self, result: SweepResult) -> FixedSetting:
        return self

    def predict(self, X: np.ndarray) -> list[Setting]:
        return [self.setting] * len(np.asarray(X))


class BestConstant(HyperparameterModel):
    """The meta-learned constant: the one setting with the best mean score over all training tasks and seeds."""

    name = "best constant"

    def fit(self, result: SweepResult) -> BestConstant:
        self.setting = result.settings[result.best_constant()]
        return self

    def predict(self, X: np.ndarray) -> list[Setting]:
        return [self.setting] * len(np.asarray(X))


def _standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each feature column; a constant column gets scale 1 (it carries no information)."""
    scale = X.std(axis=0)
    return X.mean(axis=0), np.where(scale > 0, scale, 1.0)


class NearestNeighbours(HyperparameterModel):
    """For a new task, the setting that did best on average over its ``k`` most similar training tasks.

    Similarity is Euclidean distance between standardised features (each feature minus its training mean,
    divided by its training standard deviation), so that a feature measured in steps does not outweigh one
    measured as a probability. Averaging the neighbours' scores *before* taking the best setting uses their
    repetitions together, which is less noisy than copying one neighbour's best (Cover & Hart 1967; Hastie,
    Tibshirani & Friedman 2009, *The Elements of Statistical Learning*, section 13.3).
    """

    def __init__(self, k: int = 10) -> None:
        self.k = check_int("k", k, low=1)
        self.name = f"{k}-nearest neighbours"

    def fit(self, result: SweepResult) -> NearestNeighbours:
        self.mean, self.scale = _standardiser(result.X)
        self.Z = (result.X - self.mean) / self.scale  # (n_train, F)
        self.mean_scores, self.settings = result.mean_scores, result.settings
        return self

    def predict(self, X: np.ndarray) -> list[Setting]:
        Z = (self._check_X(X, self.Z.shape[1]) - self.mean) / self.scale
        d2 = ((Z[:, None, :] - self.Z[None, :, :]) ** 2).sum(axis=2)  # (n, n_train) squared distances
        nearest = np.argsort(d2, axis=1, kind="stable")[:, : self.k]
        best = self.mean_scores[nearest].mean(axis=1).argmax(axis=1)  # (n,) best of the neighbours' mean
        return [self.settings[k] for k in best]


def _ridge_lstsq(X: np.ndarray, Y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression as ordinary least squares on an augmented system: append sqrt(lam) I below [X 1] (the
    penalty rows) with zero targets, and leave the intercept column unpenalised. Same answer as the closed form
    of lesson 05's exercise (:func:`metarl_edu.classroom.references.ridge_fit`), by another route."""
    n, F = X.shape
    A = np.block([[X, np.ones((n, 1))], [math.sqrt(lam) * np.eye(F), np.zeros((F, 1))]])
    targets = np.vstack([Y, np.zeros((F, Y.shape[1]))])
    solution = np.linalg.lstsq(A, targets, rcond=None)[0]
    return solution[:F], solution[F]


# Each hyperparameter is regressed on a scale where equal steps matter about equally.
_TRANSFORMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "alpha": (np.log, np.exp),
    "epsilon": (lambda e: np.log(e + 0.01), lambda z: np.exp(z) - 0.01),
    "gamma": (lambda g: np.log(1.001 - g), lambda z: 1.001 - np.exp(z)),  # the effective horizon, in logs
}


class RidgePerHyperparameter(HyperparameterModel):
    """One ridge regression per hyperparameter, from standardised features to the training tasks' best settings.

    Each training task contributes its own best setting (:meth:`SweepResult.best_per_task`). Then alpha is
    regressed as ``log(alpha)``, epsilon as ``log(epsilon + 0.01)``, gamma as ``log(1.001 - gamma)`` (its
    effective horizon, in logs), and the schedule as 1 for linear, 0 for constant. A prediction is transformed
    back, clipped to the range the sweep covered, and the schedule is linear when its regression says > 0.5. The
    model is linear, so it is easy to read (``coefficients``) but cannot follow a threshold sharply.

    Args:
        lam: ridge penalty >= 0 on the standardised features.

    Attributes after fit: ``coefficients`` {name: (F,) weights}, ``intercepts`` {name: float}.
    """

    name = "ridge per hyperparameter"

    def __init__(self, lam: float = 1.0) -> None:
        self.lam = check_number("lam", lam, 0.0)

    def fit(self, result: SweepResult) -> RidgePerHyperparameter:
        best = [result.settings[k] for k in result.best_per_task()]
        self.mean, self.scale = _standardiser(result.X)
        Z = (result.X - self.mean) / self.scale
        targets = {name: forward(np.array([getattr(s, name) for s in best]))
                   for name, (forward, _) in _TRANSFORMS.items()}
        targets["schedule"] = np.array([s.schedule == "linear" for s in best], dtype=float)
        W, b = _ridge_lstsq(Z, np.stack(list(targets.values()), axis=1), self.lam)
        self.coefficients = {name: W[:, j] for j, name in enumerate(targets)}
        self.intercepts = {name: float(b[j]) for j, name in enumerate(targets)}
        self.ranges = {name: (min(getattr(s, name) for s in result.settings),
                              max(getattr(s, name) for s in result.settings)) for name in _TRANSFORMS}
        self.schedules = sorted({s.schedule for s in result.settings})
        return self

    def predict(self, X: np.ndarray) -> list[Setting]:
        Z = (self._check_X(X, len(self.mean)) - self.mean) / self.scale
        values = {name: np.clip(inverse(Z @ self.coefficients[name] + self.intercepts[name]), *self.ranges[name])
                  for name, (_, inverse) in _TRANSFORMS.items()}
        linear = Z @ self.coefficients["schedule"] + self.intercepts["schedule"] > 0.5
        schedule = ["linear" if (lin and "linear" in self.schedules) or self.schedules == ["linear"] else "constant"
                    for lin in linear]
        return [Setting(a, e, g, s) for a, e, g, s in zip(values["alpha"], values["epsilon"], values["gamma"],
                                                          schedule, strict=True)]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (and restore the setting after). A network this small gains nothing
    from threads that wait for each other, above all on a busy 2-core laptop."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class MLPScores(HyperparameterModel):
    """A small neural network that predicts every setting's score from a task's features; it picks the best.

    Standardised features -> Linear(F, hidden) -> tanh -> Linear(hidden, K): one output per setting, trained with
    Adam on the mean squared error to the training tasks' mean scores, with weight decay. Built with torch, which
    is imported only when this model is fitted.

    Args:
        hidden: units in the hidden layer. epochs: full-batch Adam steps. lr: Adam's step size.
        weight_decay: L2 penalty (Adam's ``weight_decay``). seed: seeds the initial weights.
    """

    name = "MLP (torch)"

    def __init__(self, hidden: int = 32, epochs: int = 2000, lr: float = 0.01, weight_decay: float = 1e-3,
                 seed: int = 0) -> None:
        self.hidden, self.epochs, self.lr, self.weight_decay, self.seed = hidden, epochs, lr, weight_decay, seed

    def fit(self, result: SweepResult) -> MLPScores:
        import torch

        generator = torch.Generator().manual_seed(self.seed)
        self.mean, self.scale = _standardiser(result.X)
        Z = torch.as_tensor((result.X - self.mean) / self.scale, dtype=torch.float32)
        Y = torch.as_tensor(result.mean_scores, dtype=torch.float32)
        self.net = torch.nn.Sequential(torch.nn.Linear(Z.shape[1], self.hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(self.hidden, Y.shape[1]))
        with torch.no_grad():
            for p in self.net.parameters():  # seeded initial weights, PyTorch's default uniform range
                bound = 1.0 / math.sqrt(p.shape[-1] if p.ndim > 1 else self.hidden)
                p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        with single_thread():
            for _ in range(self.epochs):
                optimiser.zero_grad()
                loss = torch.mean((self.net(Z) - Y) ** 2)
                loss.backward()
                optimiser.step()
        self.final_loss = loss.item()
        self.settings = result.settings
        return self

    def predict(self, X: np.ndarray) -> list[Setting]:
        import torch

        Z = (self._check_X(X, len(self.mean)) - self.mean) / self.scale
        with torch.no_grad():
            predicted = self.net(torch.as_tensor(Z, dtype=torch.float32)).numpy()
        return [self.settings[k] for k in predicted.argmax(axis=1)]


# ============================================================================================ held-out evaluation
@dataclass(frozen=True)
class MethodSummary:
    """One row of a results table: a method's mean score on held-out tasks with its bootstrap interval, and the
    fraction of the gap between the defaults and the oracle that it closes, (mean - defaults) / (oracle -
    defaults): above 1 when the method beats the oracle, which is a noisy search and no upper bound."""

    name: str
    ci: ConfidenceInterval
    gap_closed: float


@dataclass(frozen=True)
class HeldOutResult:
    """Methods compared on the same held-out tasks and repetitions.

    Attributes:
        tasks: the n_test held-out tasks. methods: names, in order (``"defaults"`` first, ``"oracle"`` last).
        chosen: {method: n_test settings, one per task}.
        scores: {method: (n_test, n_seeds) scores}; entry [i, j] of every method is task i, repetition j.
    """

    tasks: tuple[Any, ...]
    methods: tuple[str, ...]
    chosen: dict[str, tuple[Setting, ...]]
    scores: dict[str, np.ndarray]

    def summary(self, rng: int = 0, n_boot: int = 2000) -> list[MethodSummary]:
        """Mean score and bootstrap CI (tasks resampled with their repetitions) of each method, and the gap it
        closes between ``"defaults"`` and ``"oracle"`` (nan if either is missing or they are equal)."""
        means = {m: float(s.mean()) for m, s in self.scores.items()}
        gap = means.get("oracle", math.nan) - means.get("defaults", math.nan)
        return [MethodSummary(m, bootstrap_ci(self.scores[m], rng=rng, n_boot=n_boot),
                              (means[m] - means["defaults"]) / gap if abs(gap) > 1e-12 else math.nan)
                for m in self.methods]

    def paired(self, a: str, b: str, rng: int = 0, n_boot: int = 2000) -> ConfidenceInterval:
        """Mean of ``a - b`` over held-out tasks and repetitions, with a paired bootstrap interval over tasks."""
        return paired_bootstrap_ci(self.scores[a], self.scores[b], rng=rng, n_boot=n_boot)

    def table(self, rng: int = 0) -> str:
        """The summary as aligned text."""
        lines = [f"{'method':<26} {'mean score':>10}  {'95% CI':>18}  {'gap closed':>10}"]
        for row in self.summary(rng):
            lines.append(f"{row.name:<26} {row.ci.estimate:>10.3f}  [{row.ci.low:>7.3f}, {row.ci.high:>7.3f}]  "
                         f"{row.gap_closed:>10.2f}")
        return "\n".join(lines)


def compare_on_held_out(family: TaskFamily, split: TaskSplit, result: SweepResult,
                        models: Sequence[HyperparameterModel], *, n_seeds: int = 3, oracle_seeds: int = 2,
                        seed: int = 1, rng: UniformSource | None = None, chunk_size: int = 2000,
                        progress: bool = True) -> HeldOutResult:
    """Fit each model on the sweep of the training tasks, let it choose for the held-out tasks, and score all
    choices with the same budget on the same held-out tasks, ``n_seeds`` repetitions each.

    ``"defaults"`` (:func:`default_setting`) comes first; ``"oracle"`` last: for each held-out task, the best
    setting of the sweep's grid found by a sweep on that task alone with ``oracle_seeds`` repetitions of its own
    (a search that no method can afford on a new task, used for nothing else). All methods are then scored in one
    batch with fresh repetitions, so the oracle's search noise does not flatter it; the same noise makes its
    choice imperfect, so it is a reference, not an upper bound, and a method may score above it.

    ``rng`` is passed on to :func:`score_runs` (tests). Raises :class:`~metarl_edu.studies.evaluation.TaskLeakError` if
    the sweep or the split's training tasks include a held-out task.
    """
    test = list(split.test)
    check_disjoint(split.train, test)
    check_disjoint(result.tasks, test)  # the models learn from the sweep: it must not have seen a test task
    X_test = family.feature_matrix(test)
    methods = [FixedSetting(default_setting(), "defaults"), *models]
    chosen = {m.name: tuple(m.fit(result).predict(X_test)) for m in methods}
    if len(chosen) != len(methods):
        raise ValueError(f"model names must differ; got {[m.name for m in methods]}")
    search = sweep(family, test, result.settings, n_episodes=result.n_episodes, n_seeds=oracle_seeds,
                   seed=seed + 1, rng=rng, chunk_size=chunk_size, progress=progress)
    chosen["oracle"] = tuple(result.settings[k] for k in search.best_per_task())  # task i's own scores only
    names = list(chosen)
    rows = list(itertools.product(range(len(names)), range(len(test)), range(n_seeds)))
    flat = score_runs(family, [test[i] for _, i, _ in rows], [chosen[names[m]][i] for m, i, _ in rows],
                      result.n_episodes, seed, rng=rng, chunk_size=chunk_size, progress=progress)
    scores = flat.reshape(len(names), len(test), n_seeds)
    return HeldOutResult(tuple(test), tuple(names), chosen, {name: scores[m] for m, name in enumerate(names)})

