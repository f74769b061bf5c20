"""Lesson 05: ridge regression in closed form, and the held-out evaluation loop.

Each ridge case is worked by hand in a comment or compared with least squares on the augmented system
[X 1; sqrt(lam) I 0] (an independent route to the same minimiser). The evaluation-loop cases use spies that record
what the learner's function passes where, and a split that leaks a test task into training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, as_numbers, expect_close, fmt, fmt_exception, register
from metarl_edu.classroom.references import held_out_scores as _held_out_reference
from metarl_edu.classroom.references import ridge_fit as _ridge_reference
from metarl_edu.classroom.wire import Spy, spied
from metarl_edu.envs.tasks import GridTask, task_key
from metarl_edu.studies.evaluation import TaskLeakError, TaskSplit
from metarl_edu.studies.hyperparams import Setting


# --------------------------------------------------------------------------------------------- ridge regression
def _fit(fn: Callable[..., Any], X: np.ndarray, Y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    X0, Y0 = X.copy(), Y.copy()
    out = fn(X, Y, lam)
    if not np.array_equal(X, X0) or not np.array_equal(Y, Y0):
        raise Failure("X or Y was changed; compute centred copies (X - X.mean(axis=0)) instead of editing them")
    if not isinstance(out, tuple) or len(out) != 2:
        raise Failure(f"return a pair (W, b); got {type(out).__name__}")
    W, b = (np.asarray(part, dtype=float) for part in out)
    F, K = X.shape[1], Y.shape[1]
    if W.shape != (F, K) or b.shape != (K,):
        raise Failure(f"W must have shape (F, K) = ({F}, {K}) and b shape (K,) = ({K},); got {W.shape} and {b.shape}"
                      + (". Return (W, b) in that order" if W.shape == (K,) else ""))
    return W, b


def _augmented_lstsq(X: np.ndarray, Y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    n, F = X.shape
    A = np.vstack([np.hstack([X, np.ones((n, 1))]), np.hstack([np.sqrt(lam) * np.eye(F), np.zeros((F, 1))])])
    solution = np.linalg.lstsq(A, np.vstack([Y, np.zeros((F, Y.shape[1]))]), rcond=None)[0]
    return solution[:F], solution[F]


def _ridge_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def line() -> None:
        # lam = 0 through (0, 1), (1, 3), (2, 5): W = 2, b = 1. Without an intercept, W = sum(x y) / sum(x^2)
        # = 13 / 5 = 2.6 and b = 0.
        W, b = _fit(fn, np.array([[0.0], [1.0], [2.0]]), np.array([[1.0], [3.0], [5.0]]), 0.0)
        expect_close(np.append(W.ravel(), b), np.array([2.0, 1.0]), what="(W, b)", mistakes=(
            (np.array([2.6, 0.0]), "fit an intercept b too: centre X and Y, solve for W, then b = mean(Y) - "
                                   "mean(X) @ W"),
        ))

    def penalty() -> None:
        # x = -1, 1 and y = -1, 1 are centred; lam = 2: W = sum(x y) / (sum(x^2) + lam) = 2 / (2 + 2) = 0.5, b = 0.
        W, b = _fit(fn, np.array([[-1.0], [1.0]]), np.array([[-1.0], [1.0]]), 2.0)
        expect_close(np.append(W.ravel(), b), np.array([0.5, 0.0]), what="(W, b)", mistakes=(
            (np.array([1.0, 0.0]), "the penalty is missing: add lam to the diagonal, (Xc^T Xc + lam I) W = Xc^T Yc"),
            (np.array([2.0 / 6.0, 0.0]), "add lam once to the diagonal of Xc^T Xc (an identity matrix of size F)"),
        ))

    def intercept_free() -> None:
        # x = 1, 2, 3 and y = 2, 3, 4 with lam = 1: centred, W = 2 / (2 + 1) = 2/3 and b = 3 - 2 * 2/3 = 5/3.
        # Penalising b as well (solving with a column of ones inside the penalty) gives W = 13/12, b = 5/8.
        W, b = _fit(fn, np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [3.0], [4.0]]), 1.0)
        expect_close(np.append(W.ravel(), b), np.array([2.0 / 3.0, 5.0 / 3.0]), what="(W, b)", mistakes=(
            (np.array([13.0 / 12.0, 5.0 / 8.0]), "do not penalise the intercept: centre X and Y and penalise W only"),
        ))

    def several_outputs(seed: int) -> Callable[[], None]:
        def run() -> None:
            rng = np.random.default_rng(seed)
            X, Y = rng.normal(size=(20, 3)) + rng.normal(size=3) * 2.0, rng.normal(size=(20, 2))
            W_expected, b_expected = _augmented_lstsq(X, Y, 0.5)
            W, b = _fit(fn, X, Y, 0.5)
            # Typical slips that a one-feature case cannot tell apart: one mean over all of X (X.mean()) instead of
            # a mean per column, and lam added to every entry of Xc^T Xc instead of its diagonal.
            Yc = Y - Y.mean(axis=0)
            one_mean = X - X.mean()
            Xc = X - X.mean(axis=0)
            expect_close(W, W_expected, what="W (3 features, 2 outputs)", mistakes=(
                (np.linalg.solve(one_mean.T @ one_mean + 0.5 * np.eye(3), one_mean.T @ (Y - Y.mean())),
                 "centre each column with its own mean, X.mean(axis=0), not one mean over all of X"),
                (np.linalg.solve(Xc.T @ Xc + 0.5, Xc.T @ Yc),
                 "add lam to the DIAGONAL only: lam * np.eye(F), not lam added to every entry"),
            ))
            expect_close(b, b_expected, what="b (2 outputs)")
        return run

    yield "a line through three points, lam = 0", line
    yield "two centred points, lam = 2", penalty
    yield "the intercept is not penalised, lam = 1", intercept_free
    yield "3 features, 2 outputs, against least squares", several_outputs(0)
    yield "3 features, 2 outputs, other random data", several_outputs(7)


# --------------------------------------------------------------------------------------------- the evaluation loop
A, B, C, D = (GridTask((1, k), 0.0) for k in range(1, 5))


class _Spy(Spy):
    """A fit and a run that record how they are called; the chooser gives task (1, k) the setting alpha = k / 10.
    (A :class:`~metarl_edu.classroom.wire.Spy`: the learner's calls of it are made again where the grader judges.)

    ``run_on`` collects the tasks of every call of ``run`` in order, so that one call with all the held-out tasks
    and one call per task are both correct.
    """

    def __init__(self) -> None:
        self.fitted_on: list[Any] | None = None
        self.chosen_for: list[Any] = []
        self.run_on: list[Any] | None = None

    @spied
    def fit(self, train: Any) -> Callable[[Any], Setting]:
        self.fitted_on = list(train)
        return self.choose

    @spied
    def choose(self, task: Any) -> Setting:
        self.chosen_for.append(task)
        return Setting(task.goal[1] / 10, 0.1, 0.9)

    @spied
    def run(self, tasks: Any, settings: Any) -> np.ndarray:
        tasks, settings = list(tasks), list(settings)
        if len(tasks) != len(settings):
            raise Failure(f"run(tasks, settings) needs one setting per task; got {len(tasks)} tasks and "
                          f"{len(settings)} settings")
        self.run_on = (self.run_on or []) + tasks
        return np.array([[s.alpha, s.alpha + 1.0, s.alpha + 2.0] for s in settings]).reshape(len(tasks), 3)


def _call(fn: Callable[..., Any], split: Any, spy: _Spy | None = None) -> tuple[_Spy, np.ndarray]:
    spy = _Spy() if spy is None else spy
    out = fn(spy.fit, split, spy.run)
    if out is None:
        raise Failure("the function returned None; return what run(...) returns")
    return spy, as_numbers(out, "the scores")


def _loop_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def scores() -> None:
        # train (A, B), test (C, D): the chooser gives C alpha 0.3 and D alpha 0.4; the spy's run returns
        # [alpha, alpha + 1, alpha + 2] per task.
        spy, out = _call(fn, TaskSplit((A, B), (C, D)))
        if spy.fitted_on is not None and any(task_key(t) in {task_key(C), task_key(D)} for t in spy.fitted_on):
            raise Failure("the model was fitted on held-out task(s): give fit only split.train")
        if spy.run_on != [C, D]:
            raise Failure(f"run the held-out tasks split.test, in order; run got {fmt(spy.run_on)}")
        expected = np.array([[0.3, 1.3, 2.3], [0.4, 1.4, 2.4]])
        if out.shape == expected.mean(axis=1).shape and np.allclose(out, expected.mean(axis=1)):
            raise Failure("scores has shape (2,): return the (n_test, n_seeds) array of scores that run gives, one "
                          "row per held-out task, not its mean over seeds")
        expect_close(out, expected, what="scores")

    def fits_on_train() -> None:
        spy, _ = _call(fn, TaskSplit((A, B, C), (D,)))
        if spy.fitted_on is None:
            raise Failure("call fit(split.train) to get the chooser")
        if any(task_key(t) == task_key(D) for t in spy.fitted_on):
            raise Failure("the model was fitted on the held-out task: give fit only split.train")
        if [task_key(t) for t in spy.fitted_on] != [task_key(t) for t in (A, B, C)]:
            raise Failure(f"fit must get exactly the training tasks; it got {fmt(spy.fitted_on)}")
        if [task_key(t) for t in spy.chosen_for] != [task_key(D)]:
            raise Failure(f"choose a setting for each held-out task (and only those); chose for {fmt(spy.chosen_for)}")

    def leak() -> None:
        # B is in both lists: the split must be refused before anything is fitted.
        leaky = SimpleNamespace(train=[A, B], test=[B, C])
        spy = _Spy()
        try:
            _call(fn, leaky, spy)
        except TaskLeakError:
            if spy.fitted_on is not None or spy.run_on is not None:
                raise Failure("the leaking split was refused only after the model was fitted (or run): call "
                              "check_disjoint(split.train, split.test) first, before anything else") from None
            return
        except Failure:
            raise
        except Exception as exc:
            raise Failure(f"the leaking split raised {fmt_exception(exc)}; refuse it with "
                          "check_disjoint(split.train, split.test), which raises TaskLeakError") from None
        raise Failure("this split has task B in both train and test, and it was accepted. A leaking split measures "
                      "memory, not generalisation: call check_disjoint(split.train, split.test) first")

    yield "two training and two held-out tasks", scores
    yield "the model sees the training tasks only", fits_on_train
    yield "a split that leaks a test task into training", leak


RIDGE_FIT = register(
    Exercise(
        id="ridge_fit",
        title="Ridge regression in closed form",
        reference=_ridge_reference,
        reference_name="metarl_edu.classroom.references.ridge_fit",
        cases=_ridge_cases,
        equivalents=("metarl_edu.studies.hyperparams._ridge_lstsq",),
    )
)

HELD_OUT_SCORES = register(
    Exercise(
        id="held_out_scores",
        title="The held-out evaluation loop",
        reference=_held_out_reference,
        reference_name="metarl_edu.classroom.references.held_out_scores",
        cases=_loop_cases,
    )
)
