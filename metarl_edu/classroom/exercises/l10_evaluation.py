"""Lesson 10: a percentile bootstrap confidence interval, and a meta-train / meta-test split.

The bootstrap cases mix answers known exactly (two data points) with statistical properties checked against a
reference run with many more replicates, with tolerances far wider than the Monte Carlo noise and far narrower
than the typical mistakes. The split cases check the split itself (disjoint, complete, the right size), that it
is seeded, and that every task is equally likely to be held out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, fmt, register
from metarl_edu.classroom.references import percentile_interval as _bootstrap_reference
from metarl_edu.classroom.references import shuffle_split as _split_reference
from metarl_edu.envs.tasks import GridTask
from metarl_edu.studies.evaluation import TaskLeakError, check_disjoint


# --------------------------------------------------------------------------------------------- bootstrap
def _interval(fn: Callable[..., Any], values: np.ndarray, n_boot: int, seed: int, level: float) -> tuple[float, float]:
    given = values.copy()  # the learner gets a copy; a change to it is noticed, and the case's data stay intact
    got = fn(given, n_boot, np.random.default_rng(seed), level)
    if not np.array_equal(given, values):
        raise Failure("the values passed in were changed (sorted or shuffled in place?): resample indices into "
                      "them and leave the data as they are")
    if hasattr(got, "__len__") and len(got) == n_boot and n_boot > 2:
        raise Failure(f"you returned {n_boot} numbers, one per resample: return only the interval (low, high), "
                      "the two quantiles of those resampled means")
    try:
        low, high = (float(x) for x in got)
    except (TypeError, ValueError):
        raise Failure(f"return a pair (low, high) of numbers; got {type(got).__name__}: {fmt(got)}") from None
    if not (np.isfinite(low) and np.isfinite(high)):
        raise Failure(f"expected two finite numbers; got ({low:.4g}, {high:.4g})")
    if low > high:
        raise Failure(f"expected low <= high; got ({low:.4g}, {high:.4g}): return the LOWER quantile "
                      "(1 - level) / 2 first, then (1 + level) / 2")
    return low, high


def _bootstrap_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def two_points() -> None:
        # values [0, 1], n = 2: a resample is (0,0), (0,1), (1,0) or (1,1), so its mean is 0, 0.5 or 1 with
        # probabilities 1/4, 1/2, 1/4. The 2.5 % and 97.5 % quantiles of 4000 such means are 0 and 1 exactly.
        # Without replacement every resample is {0, 1}, mean 0.5: the interval collapses to (0.5, 0.5).
        low, high = _interval(fn, np.array([0.0, 1.0]), 4000, 0, 0.95)
        if (low, high) == (0.0, 1.0):
            return
        message = f"values [0, 1], level 0.95: expected (0, 1), got ({low:.4g}, {high:.4g})"
        if low == high == 0.5:
            message += (". Hint: resample WITH replacement (rng.integers(0, n, size=(n_boot, n)) as indices); "
                        "without it every resample is the data itself, reordered")
        raise Failure(message)

    def against_reference() -> None:
        # 30 skewed values; the reference uses 40,000 replicates, so its endpoints are within ~0.5 % of the
        # interval's width of the exact bootstrap interval; 20,000 replicates of yours add ~0.7 %. Allow 3 %.
        # Cutting 5 % from each end instead of 2.5 % moves each endpoint by ~8 % of the width.
        values = np.random.default_rng(3).exponential(size=30)
        ref_low, ref_high = _bootstrap_reference(values, 40_000, np.random.default_rng(99), 0.95)
        width = ref_high - ref_low
        low, high = _interval(fn, values, 20_000, 1, 0.95)
        if abs(low - ref_low) < 0.03 * width and abs(high - ref_high) < 0.03 * width:
            return
        message = (f"30 values, level 0.95: expected about ({ref_low:.4f}, {ref_high:.4f}), got ({low:.4f}, "
                   f"{high:.4f})")
        sd = values.std()
        five_95 = _bootstrap_reference(values, 40_000, np.random.default_rng(99), 0.90)
        if abs(low - five_95[0]) < 0.03 * width and abs(high - five_95[1]) < 0.03 * width:
            message += (". Hint: a 95 % interval cuts (1 - level) / 2 = 2.5 % from EACH end of the bootstrap "
                        "means: quantiles 0.025 and 0.975, not 0.05 and 0.95")
        elif high - low > 2.0 * width:
            message += (f". Hint: the interval is {(high - low) / width:.1f} times too wide: the spread of the DATA "
                        f"(std {sd:.3g}) is not the uncertainty of its MEAN; take quantiles of the n_boot "
                        "resampled means")
        elif high - low < 0.3 * width:
            message += (". Hint: the interval is far too narrow: np.percentile takes percents (2.5, 97.5); "
                        "np.quantile takes fractions (0.025, 0.975)")
        raise Failure(message)

    def contains_mean_and_level() -> None:
        # A 50 % interval lies inside the 95 % one, and both contain the sample mean of these 40 values.
        values = np.random.default_rng(4).normal(2.0, 1.0, size=40)
        wide = _interval(fn, values, 4000, 2, 0.95)
        narrow = _interval(fn, values, 4000, 2, 0.5)
        mean = values.mean()
        if not (wide[0] <= mean <= wide[1] and narrow[0] <= mean <= narrow[1]):
            raise Failure(f"the interval should contain the sample mean {mean:.4f}; got {fmt(np.array(wide))} "
                          f"at level 0.95 and {fmt(np.array(narrow))} at level 0.5")
        if not (wide[0] < narrow[0] and narrow[1] < wide[1]):
            raise Failure(f"a 50 % interval {fmt(np.array(narrow))} should lie strictly inside the 95 % one "
                          f"{fmt(np.array(wide))}: use `level` to choose the quantiles")

    def shrinks() -> None:
        # The standard error of a mean falls like 1 / sqrt(n): 4 times the data, half the width (0.5 +- 0.1).
        rng = np.random.default_rng(5)
        small, large = rng.normal(size=100), rng.normal(size=400)
        w_small = np.subtract(*_interval(fn, small, 4000, 3, 0.95)[::-1])
        w_large = np.subtract(*_interval(fn, large, 4000, 3, 0.95)[::-1])
        ratio = w_large / w_small
        if not 0.4 <= ratio <= 0.6:
            raise Failure(f"with 4 times more data the interval should be about half as wide; width ratio "
                          f"{ratio:.3f} (n=400: {w_large:.4f}, n=100: {w_small:.4f}). It measures the uncertainty of "
                          "the MEAN, which shrinks like 1 / sqrt(n)")

    def seeded() -> None:
        values = np.random.default_rng(6).normal(size=20)
        first = _interval(fn, values, 500, 7, 0.9)
        second = _interval(fn, values, 500, 7, 0.9)
        other = _interval(fn, values, 500, 8, 0.9)
        if first != second:
            raise Failure("two calls with generators seeded alike gave different intervals: draw every random "
                          "number from `rng`, not np.random")
        if first == other:
            raise Failure("generators with different seeds gave identical intervals: resample with `rng`")

    yield "values [0, 1] (answer known exactly)", two_points
    yield "30 values against a 40,000-replicate reference", against_reference
    yield "contains the mean; 50 % inside 95 %", contains_mean_and_level
    yield "width shrinks like 1 / sqrt(n)", shrinks
    yield "same seed, same interval", seeded


# --------------------------------------------------------------------------------------------- split
def _tasks(n: int) -> list[GridTask]:
    return [GridTask(goal=(1 + i // 5, 1 + i % 5), slip=0.1) for i in range(n)]


def _split(fn: Callable[..., Any], tasks: list[Any], n_test: int, seed: int) -> tuple[list[Any], list[Any]]:
    original = list(tasks)
    given = list(tasks)  # a copy: the case's own list stays intact, and a change to the copy is noticed
    got = fn(given, n_test, np.random.default_rng(seed))
    if given != original:
        raise Failure("the list of tasks passed in was changed (reordered?); shuffle indices or a copy instead")
    try:
        train, test = got
        train, test = list(train), list(test)
    except (TypeError, ValueError):
        raise Failure(f"return a pair (train, test) of lists; got {type(got).__name__}") from None
    strangers = [x for x in train + test if not isinstance(x, GridTask)]
    if strangers:
        raise Failure(f"train and test must hold the tasks themselves; found {fmt(strangers[0])} "
                      f"({type(strangers[0]).__name__}): use tasks[i], not the index i")
    if len(test) == len(tasks) - n_test != n_test and len(train) == n_test:
        raise Failure(f"test has {len(test)} tasks and train {len(train)}: return (train, test) in that order, "
                      f"test holding the n_test = {n_test} held-out tasks")
    return train, test


def _split_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def sizes_and_leaks() -> None:
        # 10 tasks, 3 held out: 7 train + 3 test, no task in both.
        tasks = _tasks(10)
        train, test = _split(fn, tasks, 3, 0)
        if len(test) != 3:
            raise Failure(f"asked for n_test=3 test tasks; got {len(test)}")
        try:
            check_disjoint(train, test)
        except TaskLeakError as exc:
            raise Failure(f"{exc}. Hint: a held-out task must not be trained on: put each task in train OR "
                          "test") from None

    def complete() -> None:
        # Every task lands in exactly one of the two lists: nothing dropped, nothing duplicated.
        tasks = _tasks(10)
        train, test = _split(fn, tasks, 3, 1)
        if len(test) != len(set(test)):
            raise Failure("the same task appears twice in test: draw test tasks WITHOUT replacement (rng.choice "
                          "draws with replacement unless replace=False)")
        missing = [t for t in tasks if t not in train and t not in test]
        if missing:
            raise Failure(f"{len(missing)} task(s) are in neither train nor test, e.g. {missing[0]}: a split keeps "
                          "every task (len(train) + len(test) == len(tasks))")
        extra = [t for t in train + test if t not in tasks]
        if extra or len(train) + len(test) != len(tasks):
            raise Failure(f"train + test has {len(train) + len(test)} tasks; expected exactly the {len(tasks)} "
                          "tasks given")

    def seeded() -> None:
        tasks = _tasks(12)
        first, second = _split(fn, tasks, 4, 5), _split(fn, tasks, 4, 5)
        if first != second:
            raise Failure("two calls with generators seeded alike gave different splits: draw every random number "
                          "from `rng`, not np.random or random")
        if all(_split(fn, tasks, 4, s)[1] == first[1] for s in range(6, 10)):
            raise Failure("generators with different seeds gave the same test set: choose the test tasks with "
                          "`rng` (for example rng.permutation)")

    def uniform() -> None:
        # Over 1000 seeds each of 10 tasks should be held out 3/10 of the time; the standard deviation of the
        # frequency is sqrt(0.3 * 0.7 / 1000) = 0.015, so allow +-0.06 (4 sd). Every one of these splits must also
        # be a partition: drawing with replacement repeats a test task in 28 % of the splits, so it cannot pass
        # by the luck of one seed.
        tasks = _tasks(10)
        counts = np.zeros(10)
        for s in range(1000):
            train, test = _split(fn, tasks, 3, 100 + s)
            if len(set(test)) < len(test) or len(train) + len(test) != len(tasks) or set(train) & set(test):
                raise Failure(f"with seed {100 + s} the split is not a partition of the tasks (test {fmt(test)}): "
                              "draw the test tasks WITHOUT replacement: rng.permutation, or rng.choice(n, n_test, "
                              "replace=False) (rng.choice draws with replacement by default)")
            for t in test:
                counts[tasks.index(t)] += 1
        freq = counts / 1000
        if np.all(np.abs(freq - 0.3) < 0.06):
            return
        raise Failure(f"how often each task was held out over 1000 seeds: {fmt(freq)}; expected 0.3 each. Every "
                      "task must be equally likely to be a test task: a fixed rule (the last n_test, the first) "
                      "lets the choice of test tasks favour a method")

    yield "10 tasks, 3 held out: sizes, no leak", sizes_and_leaks
    yield "every task in exactly one list", complete
    yield "same seed, same split", seeded
    yield "each task held out equally often", uniform


BOOTSTRAP_CI = register(
    Exercise(
        id="bootstrap_ci",
        title="A percentile bootstrap confidence interval",
        reference=_bootstrap_reference,
        reference_name="metarl_edu.classroom.references.percentile_interval",
        cases=_bootstrap_cases,
        equivalents=("metarl_edu.studies.evaluation.bootstrap_ci",
                     "metarl_edu.studies.evaluation._percentile_bootstrap"),
    )
)

META_TEST_SPLIT = register(
    Exercise(
        id="meta_test_split",
        title="A meta-train / meta-test split",
        reference=_split_reference,
        reference_name="metarl_edu.classroom.references.shuffle_split",
        cases=_split_cases,
    )
)
