"""Lesson 04: a held-out split of a list of tasks that can never leak a test task into training.

The tasks of the cases are gridworld tasks (``GridTask``); lists with copies of a task are where a split by
position leaks. The uniformity case is statistical: 800 draws, tolerance far wider than the sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, call_unchanged, fmt, register
from metarl_edu.classroom.references import held_out_split as _reference
from metarl_edu.envs.tasks import GridTask, task_key
from metarl_edu.studies.evaluation import TaskLeakError, check_disjoint

A, B, C, D, E, F = (GridTask((1, k), 0.0) for k in range(1, 7))


def _split(fn: Callable[..., Any], tasks: list[Any], n_test: int, seed: int) -> tuple[list[Any], list[Any]]:
    out = call_unchanged(fn, (tasks, n_test, np.random.default_rng(seed)), ("tasks", "n_test", "rng"), advice={
        "tasks": "build new train and test lists instead of shuffling or removing from the caller's list"})
    if not isinstance(out, tuple) or len(out) != 2:
        raise Failure(f"return a pair (train, test) of lists; got {type(out).__name__}: {fmt(out)}")
    try:
        train, test = (list(part) for part in out)
        for t in train + test:
            task_key(t)
    except TypeError:
        raise Failure(f"train and test must be lists of tasks (the entries of `tasks`); got {fmt(out)}") from None
    return train, test


def _check_split(tasks: list[Any], train: list[Any], test: list[Any], n_test: int) -> None:
    keys = {task_key(t) for t in tasks}
    if any(task_key(t) not in keys for t in train + test):
        raise Failure("train and test must contain only tasks from the list")
    if len(test) != n_test or len({task_key(t) for t in test}) != n_test:
        raise Failure(f"test must hold {n_test} different tasks; got {len(test)} task(s), "
                      f"{len({task_key(t) for t in test})} different")
    try:
        check_disjoint(train, test)
    except TaskLeakError:
        raise Failure("a test task is also in train (a copy of it: the list holds some tasks more than once). "
                      "Choose among the DISTINCT tasks, then leave every copy of a test task out of train") from None
    test_keys = {task_key(t) for t in test}
    expected_train = [t for t in tasks if task_key(t) not in test_keys]
    if sorted(map(repr, train)) != sorted(map(repr, expected_train)):
        raise Failure(f"train must keep every task that is not a test task, copies included: expected "
                      f"{len(expected_train)} tasks, got {len(train)}")


def _cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def distinct() -> None:
        # 6 different tasks, 2 for testing: test has 2 of them, train the other 4.
        tasks = [A, B, C, D, E, F]
        train, test = _split(fn, tasks, 2, 0)
        _check_split(tasks, train, test, 2)

    def copies() -> None:
        # A appears 3 times and B twice: whatever is drawn, no copy of a test task may stay in train.
        tasks = [A, B, A, C, D, B, A]
        for seed in range(10):
            train, test = _split(fn, tasks, 2, seed)
            _check_split(tasks, train, test, 2)

    def uses_rng() -> None:
        tasks = [A, B, C, D, E, F]
        first = [_split(fn, tasks, 2, seed)[1] for seed in range(8)]
        again = [_split(fn, tasks, 2, seed)[1] for seed in range(8)]
        if first != again:
            raise Failure("two calls with the same seed gave different splits: draw from `rng`, not np.random")
        if len({tuple(map(repr, t)) for t in first}) < 3:
            raise Failure("different seeds keep giving the same test tasks: draw them at random with `rng`")

    def uniform() -> None:
        # [A, A, A, B, C, D] holds 4 distinct tasks: each must be the single test task about 1 time in 4.
        tasks = [A, A, A, B, C, D]
        counts = {key: 0 for key in map(task_key, (A, B, C, D))}
        for seed in range(800):
            counts[task_key(_split(fn, tasks, 1, seed)[1][0])] += 1
        freq = np.array(list(counts.values())) / 800
        if np.all(np.abs(freq - 0.25) < 0.06):
            return
        message = f"how often A, B, C, D were the test task: {fmt(freq)}, expected about 0.25 each"
        if abs(freq[0] - 0.5) < 0.06:
            message += (". Hint: draw among the distinct tasks: a task listed three times must not be three times as "
                        "likely to be held out")
        raise Failure(message)

    def none() -> None:
        tasks = [A, B, A]
        train, test = _split(fn, tasks, 0, 0)
        if test:
            raise Failure(f"test must be empty; got {fmt(test)}")
        if sorted(map(repr, train)) == sorted(map(repr, tasks)) and train != tasks:
            raise Failure(f"train holds the whole list but reordered ({fmt(train)}): keep the tasks of "
                          "train in the list's own order")
        if train != tasks:
            raise Failure(f"train must be the whole list; got {fmt(train)}")

    def reproducible() -> None:
        # The same seed must give the same split in every Python process: number the distinct tasks in order of
        # first appearance, draw rng.choice(n_distinct, n_test, replace=False), keep train in the list's order.
        tasks = [C, A, B, A, D, B, E, A]
        for seed in range(5):
            train, test = _split(fn, tasks, 2, seed)
            _check_split(tasks, train, test, 2)
            want_train, want_test = _reference(tasks, 2, np.random.default_rng(seed))
            if list(map(task_key, test)) != list(map(task_key, want_test)):
                raise Failure(f"seed {seed}: test is {fmt(test)}, expected {fmt(want_test)}. Hint: number the distinct "
                              "tasks in order of first appearance (a dict keyed by task_key keeps that order; a set "
                              "does not, and its order of strings changes from one Python process to the next, so "
                              "the same seed would give another split tomorrow), then draw the indices with "
                              "rng.choice(n_distinct, size=n_test, replace=False) and list the tasks in drawn order")
            if train != want_train:
                raise Failure(f"seed {seed}: train holds the right tasks but in another order ({fmt(train)}): keep "
                              "the tasks of train in the list's own order")

    yield "6 different tasks, 2 held out", distinct
    yield "a list with copies of tasks (10 seeds)", copies
    yield "randomness from rng", uses_rng
    yield "each distinct task equally likely", uniform
    yield "n_test = 0", none
    yield "the same seed, the same split (5 seeds)", reproducible


HELD_OUT_SPLIT = register(
    Exercise(
        id="held_out_split",
        title="A held-out split that never leaks",
        reference=_reference,
        reference_name="metarl_edu.classroom.references.held_out_split",
        cases=_cases,
    )
)
