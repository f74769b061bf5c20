"""Evaluating meta-learners honestly: held-out tasks, tasks x seeds, adaptation curves and bootstrap intervals.

The meta-test protocol (Finn et al. 2017; Duan et al. 2016): meta-train on tasks drawn from a family p(T), then
measure on *new* tasks from the same p(T), which meta-training never saw, with several seeds per task.

=================  =========================  =======================================================
name               shape                      meaning
=================  =========================  =======================================================
``values``         (n_tasks,) or              one score per task, or per task and seed
                   (n_tasks, n_seeds)
``returns``        (n_tasks, n_seeds,         score after 0, 1, 2, ... updates or episodes of adaptation
                   n_steps)
=================  =========================  =======================================================

Uncertainty comes from the percentile bootstrap (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
chapter 13), resampling *tasks*: the seeds of one task share that task, so they are not independent draws, and the
question a meta-test answers is about new tasks from p(T). Resampling the top level of such nested data (tasks)
and keeping each task's seeds together is the cluster bootstrap (Davison & Hinkley 1997, *Bootstrap Methods and
their Application*, section 3.8, hierarchical data); treating all n_tasks x n_seeds numbers as independent would
make the intervals too narrow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from metarl_edu._checks import check_int, check_number
from metarl_edu.envs.tasks import TaskFamily, task_key

__all__ = [
    "AdaptationCurve",
    "ConfidenceInterval",
    "TaskLeakError",
    "TaskSplit",
    "adaptation_curve",
    "bootstrap_ci",
    "check_disjoint",
    "paired_bootstrap_ci",
    "run_tasks_x_seeds",
    "spawn_seeds",
    "split_tasks",
]


# ============================================================================================ splits
class TaskLeakError(ValueError):
    """A meta-test task is also a meta-train task: the evaluation would measure memory, not adaptation."""


def check_disjoint(train: Sequence[Any], test: Sequence[Any]) -> None:
    """Raise :class:`TaskLeakError` if any task of ``test`` equals a task of ``train``.

    Tasks are equal when their type and every parameter are equal (:func:`~metarl_edu.envs.tasks.task_key`),
    so a copy of a training task counts as a leak too.
    """
    train_index = {task_key(task): i for i, task in enumerate(train)}
    leaks = [(j, train_index[task_key(task)]) for j, task in enumerate(test) if task_key(task) in train_index]
    if leaks:
        j, i = leaks[0]
        raise TaskLeakError(
            f"{len(leaks)} meta-test task(s) also appear in meta-training, e.g. test task {j} equals train task {i} "
            f"({test[j]!r}); held-out tasks must be new, or the evaluation measures memory instead of adaptation"
        )


@dataclass(frozen=True)
class TaskSplit:
    """Meta-train and meta-test tasks that share no task (checked on construction, and the split is frozen).

    Attributes:
        train: tasks to meta-train on (select hyperparameters, fit models, meta-learn).
        test: held-out tasks, used only to report results.
        seed: the seed that :func:`split_tasks` drew the split from, or None.
    """

    train: tuple[Any, ...]
    test: tuple[Any, ...]
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", tuple(self.train))  # tuples: nobody can append a test task later
        object.__setattr__(self, "test", tuple(self.test))
        check_disjoint(self.train, self.test)


def split_tasks(family: TaskFamily, n_train: int, n_test: int, seed: int) -> TaskSplit:
    """Draw ``n_train`` meta-train and ``n_test`` meta-test tasks from ``family`` that can never mix.

    ``np.random.SeedSequence(seed).spawn(2)`` gives the two sets independent random streams. A test draw that
    happens to equal a training task (possible only in families with few distinct tasks) is discarded and drawn
    again, so the test tasks come from p(T) restricted to tasks not seen in training. Raises ``ValueError`` if
    ``n_test`` new tasks cannot be found in ``100 + 10 * n_test`` draws.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("seed", seed)):
        check_int(name, value, low=0)
    train_seq, test_seq = np.random.SeedSequence(int(seed)).spawn(2)
    train = family.sample(n_train, np.random.default_rng(train_seq))
    seen = {task_key(task) for task in train}
    test_rng = np.random.default_rng(test_seq)
    test: list[Any] = []
    max_draws = 100 + 10 * int(n_test)
    for _ in range(max_draws):
        if len(test) == n_test:
            break
        (task,) = family.sample(1, test_rng)
        if task_key(task) not in seen:
            test.append(task)
    if len(test) < n_test:
        raise ValueError(
            f"found only {len(test)} of {n_test} test tasks unlike every training task in {max_draws} draws: "
            f"{type(family).__name__} has too few distinct tasks; widen its ranges or ask for fewer tasks"
        )
    return TaskSplit(tuple(train), tuple(test), int(seed))


# ============================================================================================ tasks x seeds
def spawn_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent integer seeds derived from ``seed`` with ``np.random.SeedSequence.spawn``."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(n)]


def run_tasks_x_seeds(
    fn: Callable[[Any, int], Any], tasks: Sequence[Any], seeds: Sequence[int], progress: bool = False
) -> np.ndarray:
    """Run ``fn(task, seed)`` on every task with every seed and stack the results.

    ``fn`` returns a number (for example the return after training) or an array of one fixed shape (for example
    a learning curve of ``n_steps`` returns). Returns shape (n_tasks, n_seeds) or (n_tasks, n_seeds, *shape);
    ``result[i, j]`` is ``fn(tasks[i], seeds[j])``. ``progress=True`` shows a progress bar.
    """
    tasks, seeds = list(tasks), [int(s) for s in seeds]
    if not tasks or not seeds:
        raise ValueError(f"run_tasks_x_seeds needs at least one task and one seed; got {len(tasks)} and {len(seeds)}")
    results = np.empty((len(tasks), len(seeds)), dtype=object)
    with tqdm(total=results.size, desc="tasks x seeds", disable=not progress) as bar:
        for i, task in enumerate(tasks):
            for j, seed in enumerate(seeds):
                try:
                    results[i, j] = np.asarray(fn(task, seed), dtype=float)
                except Exception as exc:
                    exc.add_note(f"(in run_tasks_x_seeds: task {i}, seed {seed})")
                    raise
                if results[i, j].shape != results[0, 0].shape:
                    raise ValueError(
                        f"fn returned shape {results[i, j].shape} for task {i}, seed {seed}, but "
                        f"{results[0, 0].shape} for task 0, seed {seeds[0]}; it must return one shape throughout"
                    )
                bar.update()
    return np.array(results.tolist(), dtype=float)


# ============================================================================================ bootstrap
@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with a confidence interval [low, high] at ``level`` (for example 0.95)."""

    estimate: float
    low: float
    high: float
    level: float

    def contains(self, x: float) -> bool:
        """True if ``low <= x <= high``; ``not ci.contains(0.0)`` means the difference is significant."""
        return self.low <= x <= self.high

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}] ({self.level:.0%} CI)"


def _as_rng(rng: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator or an int seed; got {type(rng).__name__}")


def _check_bootstrap_args(n_boot: int, ci: float) -> None:
    check_int("n_boot", n_boot, low=1)
    check_number("ci (the confidence level, for example 0.95)", ci, 0.0, 1.0, low_open=True, high_open=True)


def _task_means(values: Any, name: str, max_ndim: int) -> np.ndarray:
    """Average over seeds: (n_tasks,) from (n_tasks,) or (n_tasks, n_seeds); keeps a trailing step axis."""
    values = np.asarray(values, dtype=float)
    if not 1 <= values.ndim <= max_ndim:
        raise ValueError(f"{name} must have 1 to {max_ndim} axes (tasks first); got shape {values.shape}")
    if values.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 tasks (rows) to bootstrap; got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite; entry {tuple(np.argwhere(~np.isfinite(values))[0])} is not")
    return values


BOOTSTRAP_CHUNK = 1 << 20  # resampled indices drawn at once (8 MB of int64), whatever n_boot and n_tasks


def _percentile_bootstrap(
    per_task: np.ndarray, n_boot: int, ci: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over tasks and its percentile interval, for ``per_task`` of shape (n_tasks, *rest).

    Each bootstrap replicate ``b`` draws n_tasks task indices with replacement; ``counts[b, i]`` is how often task
    ``i`` was drawn, so the replicate's mean is ``counts[b] @ per_task / n_tasks`` (no (n_boot, n_tasks, *rest)
    copy of the data is made). The replicates are drawn in chunks of rows, about :data:`BOOTSTRAP_CHUNK` indices
    at a time, so memory stays bounded for any ``n_boot * n_tasks``; numpy's generator gives the same indices
    drawn in chunks as in one ``rng.integers(0, n, size=(n_boot, n))``, so the intervals are those of one draw.
    Returns ``(estimate, low, high)``, each of shape ``rest``.
    """
    n = per_task.shape[0]
    flat = per_task.reshape(n, -1)
    replicates = np.empty((n_boot, flat.shape[1]))
    rows = max(1, BOOTSTRAP_CHUNK // n)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))  # idx[b] = the tasks of replicate start + b
        counts = np.bincount((np.arange(stop - start)[:, None] * n + idx).ravel(),
                             minlength=(stop - start) * n).reshape(stop - start, n)
        replicates[start:stop] = counts @ flat / n
    low, high = np.quantile(replicates, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0], axis=0)
    rest = per_task.shape[1:]
    return per_task.mean(axis=0), low.reshape(rest), high.reshape(rest)


def bootstrap_ci(
    values: Any, *, rng: np.random.Generator | int, n_boot: int = 2000, ci: float = 0.95
) -> ConfidenceInterval:
    """Mean of ``values`` with a percentile bootstrap confidence interval (Efron & Tibshirani 1993, ch. 13).

    ``values`` of shape (n,) are resampled item by item; of shape (n_tasks, n_seeds), whole tasks (rows) are
    resampled with their seeds (see the module docstring for why). ``ci`` is the level, ``n_boot`` the number of
    bootstrap replicates, ``rng`` a Generator or an int seed.

    >>> bootstrap_ci([1.0, 2.0, 3.0, 4.0], rng=0).estimate
    2.5
    """
    _check_bootstrap_args(n_boot, ci)
    values = _task_means(values, "values", 2)
    per_task = values if values.ndim == 1 else values.mean(axis=1)
    estimate, low, high = _percentile_bootstrap(per_task, n_boot, ci, _as_rng(rng))
    return ConfidenceInterval(float(estimate), float(low), float(high), float(ci))


def paired_bootstrap_ci(
    a: Any, b: Any, *, rng: np.random.Generator | int, n_boot: int = 2000, ci: float = 0.95
) -> ConfidenceInterval:
    """Mean of ``a - b`` with a task-level percentile bootstrap interval, for two methods run on the same tasks.

    ``a`` and ``b`` have the same shape, (n_tasks,) or (n_tasks, n_seeds), and entry ``[i, j]`` of both comes from
    task ``i`` with seed ``j``. Pairing subtracts each task's own difficulty, which is usually the largest source of
    variation, so a real difference shows with far fewer tasks than comparing two separate intervals. Tasks are
    resampled, seeds stay nested in their task. An interval that excludes 0 says that ``a`` beats ``b`` (or loses)
    on this task distribution at that level.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must come from the same tasks x seeds, so have one shape; got {a.shape} and "
                         f"{b.shape}")
    return bootstrap_ci(a - b, rng=rng, n_boot=n_boot, ci=ci)


@dataclass(frozen=True)
class AdaptationCurve:
    """Mean score after 0, 1, 2, ... adaptation steps, with a pointwise bootstrap confidence band.

    Attributes:
        steps: (n_steps,) 0, 1, ..., n_steps - 1.
        mean, low, high: (n_steps,) the mean over tasks and seeds, and the band's edges.
        level: the confidence level of the band.
    """

    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float


def adaptation_curve(
    returns: Any, *, rng: np.random.Generator | int, n_boot: int = 2000, ci: float = 0.95
) -> AdaptationCurve:
    """Summarise ``returns`` of shape (n_tasks, n_seeds, n_steps) as a mean curve with a bootstrap band.

    ``returns[i, j, k]`` is the score on task ``i`` with seed ``j`` after ``k`` updates (or episodes). The band at
    each step is a percentile bootstrap over tasks, with the same resampled tasks at every step.
    """
    _check_bootstrap_args(n_boot, ci)
    returns = _task_means(returns, "returns", 3)
    if returns.ndim != 3:
        raise ValueError(f"returns must have shape (n_tasks, n_seeds, n_steps); got {returns.shape}")
    mean, low, high = _percentile_bootstrap(returns.mean(axis=1), n_boot, ci, _as_rng(rng))
    return AdaptationCurve(np.arange(returns.shape[2]), mean, low, high, float(ci))
