"""Lesson 11: the Beta posterior update, the one-step Bayes backup of the bandit's belief MDP, the value of
information, and the Gaussian goal-posterior update from two observed distances.

Beta update: a success adds 1 to the pulled arm's ``alpha``, a failure 1 to its ``beta``. Bayes backup:
``Q_i = mu_i (1 + V_success_i) + (1 - mu_i) V_failure_i`` with
``mu_i = alpha_i / (alpha_i + beta_i)``, ``V = max_i Q_i``. Information value:
``sum_g b(g) V(knowing g) - V(not knowing)``. Goal update: ``u = p' - p``,
``y = (d^2 - d'^2 + |p'|^2 - |p|^2) / 2``, ``Lambda' = Lambda + u u^T / noise^2``,
``mean' = Lambda'^-1 (Lambda mean + u y / noise^2)``. The hand-worked cases are small enough to do on paper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, as_numbers, expect_close, fmt, register
from metarl_edu.classroom.references import (
    bayes_backup_reference,
    beta_update_reference,
    goal_update_reference,
    information_value_reference,
)


# ------------------------------------------------------------------------------------------- the Beta update
def _update(fn: Callable[..., Any], alpha: np.ndarray, beta: np.ndarray, arm: np.ndarray, reward: np.ndarray
            ) -> np.ndarray:
    """The learner's ``(alpha, beta)`` stacked into one (2, B, k) array, with the inputs checked unchanged."""
    before = [x.copy() for x in (alpha, beta, arm, reward)]
    got = fn(alpha, beta, arm, reward)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Failure(f"return the pair (alpha, beta); got {type(got).__name__}: {fmt(got)}")
    new = np.stack([as_numbers(got[0], "alpha"), as_numbers(got[1], "beta")]) if all(
        np.shape(g) == alpha.shape for g in got) else None
    if new is None:
        raise Failure(f"alpha and beta must keep the shape (B, k) = {alpha.shape}; got {np.shape(got[0])} and "
                      f"{np.shape(got[1])}")
    if not all(np.array_equal(a, b) for a, b in zip(before, (alpha, beta, arm, reward), strict=True)):
        raise Failure("the arrays passed in were changed: Bayes' rule gives a NEW belief; update copies "
                      "(alpha.copy(), beta.copy()) and return them")
    return new


_SWAPPED = "a success (reward 1) adds to alpha, a failure (reward 0) to beta: Beta(a + successes, b + failures)"
_EVERY_ARM = "only the arm that was pulled learns something; the other arms keep their alpha and beta"
_BOTH = "a pull adds 1 in all: the reward to alpha and 1 - reward to beta, not 1 to both"
_COLUMN = ("update one entry per bandit, [b, arm[b]], with alpha[np.arange(B), arm]: alpha[:, arm] updates the "
           "pulled arms of ALL bandits in every row")


def _beta_update_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def one_success() -> None:
        # Beta(1, 1) on both arms; arm 1 pays 1 -> arm 1 becomes Beta(2, 1), arm 0 stays Beta(1, 1)
        got = _update(fn, np.ones((1, 2)), np.ones((1, 2)), np.array([1]), np.array([1.0]))
        expect_close(got, [[[1, 2]], [[1, 1]]], what="(alpha, beta)", mistakes=(
            ([[[1, 1]], [[1, 2]]], _SWAPPED), ([[[2, 2]], [[1, 1]]], _EVERY_ARM), ([[[1, 2]], [[1, 2]]], _BOTH)))

    def three_bandits() -> None:
        # bandit 0 pulls arm 2 (paid), bandit 1 arm 0 (failed), bandit 2 arm 1 (paid); priors Beta(2, 3):
        #   alpha: [2, 2, 3], [2, 2, 2], [2, 3, 2];  beta: [3, 3, 3], [4, 3, 3], [3, 3, 3]
        alpha, beta = np.full((3, 3), 2.0), np.full((3, 3), 3.0)
        got = _update(fn, alpha, beta, np.array([2, 0, 1]), np.array([1.0, 0.0, 1.0]))
        column = np.stack([alpha.copy(), beta.copy()])
        for arm, r in ((2, 1.0), (0, 0.0), (1, 1.0)):
            column[0][:, arm] += r
            column[1][:, arm] += 1 - r
        expect_close(got, [[[2, 2, 3], [2, 2, 2], [2, 3, 2]], [[3, 3, 3], [4, 3, 3], [3, 3, 3]]],
                     what="(alpha, beta) of three bandits", mistakes=((column, _COLUMN),))

    def against_reference() -> None:
        rng = np.random.default_rng(0)
        alpha, beta = rng.uniform(0.5, 4, (40, 5)), rng.uniform(0.5, 4, (40, 5))
        arm, reward = rng.integers(0, 5, 40), (rng.random(40) < 0.5).astype(float)
        got = _update(fn, alpha, beta, arm, reward)
        expect_close(got, np.stack(beta_update_reference(alpha, beta, arm, reward)), what="(alpha, beta) of 40 "
                     "bandits with 5 arms", atol=1e-9)

    yield "Beta(1, 1) arms, arm 1 pays", one_success
    yield "three bandits, Beta(2, 3) priors", three_bandits
    yield "40 random bandits with 5 arms", against_reference


# ------------------------------------------------------------------------------------------- the Bayes backup
def _backup(fn: Callable[..., Any], alpha: np.ndarray, beta: np.ndarray, v_success: np.ndarray,
            v_failure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    got = fn(alpha, beta, v_success, v_failure)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Failure(f"return the pair (q, v); got {type(got).__name__}: {fmt(got)}")
    q, v = as_numbers(got[0], "q"), as_numbers(got[1], "v")
    if q.shape != alpha.shape:
        raise Failure(f"q has one value per arm, the shape of alpha {alpha.shape}; got {q.shape}")
    if v.shape != alpha.shape[:-1]:
        raise Failure(f"v has one value per belief: the shape of alpha without its last (arm) axis, "
                      f"{alpha.shape[:-1]}; got {v.shape} (take the max over axis=-1)")
    return q, v


_NO_REWARD = "pulling pays 1 with probability mu right now: q = mu (1 + V_success) + (1 - mu) V_failure"
_MU = "the posterior mean of Beta(alpha, beta) is alpha / (alpha + beta), not alpha / beta"
_SWAPPED_V = "after a success the belief is the one worth v_success; after a failure, v_failure"
_HALF = "weigh the two outcomes by the arm's posterior mean mu = alpha / (alpha + beta), not by 1/2"


def _bayes_backup_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def last_pull() -> None:
        # one pull left: successors are worth 0, Q is the posterior mean: Beta(2, 1) -> 2/3, Beta(1, 1) -> 1/2
        q, v = _backup(fn, np.array([2.0, 1.0]), np.array([1.0, 1.0]), np.zeros(2), np.zeros(2))
        expect_close(q, [2 / 3, 0.5], what="q", mistakes=(([2.0, 1.0], _MU),))
        expect_close(v, 2 / 3, what="v = max_i q_i")

    def hand_worked() -> None:
        # alpha = (3, 1), beta = (1, 1): mu = (3/4, 1/2); v_success = (1, 2), v_failure = (0.5, 0):
        #   q_0 = 3/4 (1 + 1) + 1/4 * 0.5 = 1.625;  q_1 = 1/2 (1 + 2) + 1/2 * 0 = 1.5;  v = 1.625
        q, v = _backup(fn, np.array([3.0, 1.0]), np.array([1.0, 1.0]), np.array([1.0, 2.0]), np.array([0.5, 0.0]))
        expect_close(q, [1.625, 1.5], what="q", mistakes=(
            ([0.875, 1.0], _NO_REWARD), ([5.0, 3.0], _MU), ([1.375, 1.5], _SWAPPED_V), ([1.25, 1.5], _HALF)))
        expect_close(v, 1.625, what="v = max_i q_i", mistakes=((1.5625, "v is the value of the BEST arm, the max "
                                                                        "over q, not the mean"),))

    def batch() -> None:
        rng = np.random.default_rng(1)
        alpha, beta = rng.uniform(1, 5, (4, 3, 2)), rng.uniform(1, 5, (4, 3, 2))
        v_success, v_failure = rng.uniform(0, 5, (4, 3, 2)), rng.uniform(0, 5, (4, 3, 2))
        before = [x.copy() for x in (alpha, beta, v_success, v_failure)]
        q, v = _backup(fn, alpha, beta, v_success, v_failure)
        want_q, want_v = bayes_backup_reference(alpha, beta, v_success, v_failure)
        expect_close(q, want_q, atol=1e-9, what="q of 12 beliefs")
        expect_close(v, want_v, atol=1e-9, what="v of 12 beliefs", mistakes=(
            (want_q.mean(-1), "v is the value of the BEST arm, the max over q, not the mean"),))
        if not all(np.array_equal(a, b) for a, b in zip(before, (alpha, beta, v_success, v_failure), strict=True)):
            raise Failure("the arrays passed in were changed: compute q in a new array")

    yield "one pull left", last_pull
    yield "alpha = (3, 1), beta = (1, 1), worked by hand", hand_worked
    yield "a (4, 3) batch of two-armed beliefs", batch


# ------------------------------------------------------------------------------------------ information value
def _voi(fn: Callable[..., Any], belief: np.ndarray, v_informed: np.ndarray, v_uninformed: float) -> float:
    before = (belief.copy(), v_informed.copy())
    got = as_numbers(fn(belief, v_informed, v_uninformed), "the information value")
    if got.size != 1:
        raise Failure(f"return one number (the value of the information); got shape {got.shape}")
    if not (np.array_equal(before[0], belief) and np.array_equal(before[1], v_informed)):
        raise Failure("the arrays passed in were changed")
    return float(got.reshape(()))


_MEAN = ("weigh each goal by the belief b(g): a goal already ruled out (b = 0) will never be what the sign says; "
         "use belief @ v_informed, not the plain mean")
_MAX = "the agent does not choose what the sign says: average over b(g), do not take the best case"
_NO_SUBTRACT = "the value of the information is what it ADDS: subtract the value without it"
_REVERSED = "informed minus uninformed, not the other way round"


def _information_value_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def two_left() -> None:
        # b = (1/2, 1/2, 0); knowing g is worth (3, 1, 9); not knowing 1.5: 0.5 * 3 + 0.5 * 1 - 1.5 = 0.5
        got = _voi(fn, np.array([0.5, 0.5, 0.0]), np.array([3.0, 1.0, 9.0]), 1.5)
        expect_close(got, 0.5, what="the information value", mistakes=(
            (13 / 3 - 1.5, _MEAN), (7.5, _MAX), (2.0, _NO_SUBTRACT), (-0.5, _REVERSED)))

    def worthless() -> None:
        # knowing the goal changes nothing when every goal is worth what not knowing is worth: 0
        got = _voi(fn, np.full(4, 0.25), np.full(4, 2.0), 2.0)
        expect_close(got, 0.0, what="the information value", mistakes=((2.0, _NO_SUBTRACT),))

    def uneven() -> None:
        belief = np.array([0.1, 0.0, 0.6, 0.3])
        v_informed = np.array([4.0, 7.0, 1.0, 2.5])
        got = _voi(fn, belief, v_informed, 1.25)
        expect_close(got, information_value_reference(belief, v_informed, 1.25), what="the information value",
                     mistakes=((v_informed.mean() - 1.25, _MEAN), (7.0 - 1.25, _MAX), (1.75, _NO_SUBTRACT)))

    yield "two goals left of three", two_left
    yield "information that changes nothing", worthless
    yield "an uneven belief", uneven


# ------------------------------------------------------------------------------------------ the goal update
def _goal(fn: Callable[..., Any], mean: np.ndarray, precision: np.ndarray, p: np.ndarray, p_next: np.ndarray,
          d: float, d_next: float, noise: float) -> np.ndarray:
    """The learner's ``(mean, precision)`` as one (3, 2) array: the mean, then the precision's two rows."""
    before = [x.copy() for x in (mean, precision, p, p_next)]
    got = fn(mean, precision, p, p_next, d, d_next, noise)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Failure(f"return the pair (mean, precision); got {type(got).__name__}: {fmt(got)}")
    new_mean, new_precision = as_numbers(got[0], "mean"), as_numbers(got[1], "precision")
    if new_mean.shape != (2,) or new_precision.shape != (2, 2):
        raise Failure(f"the mean has shape (2,) and the precision (2, 2); got {new_mean.shape} and "
                      f"{new_precision.shape}")
    if not all(np.array_equal(a, b) for a, b in zip(before, (mean, precision, p, p_next), strict=True)):
        raise Failure("the arrays passed in were changed: return a new mean and a new precision")
    return np.vstack([new_mean, new_precision])


_SIGN = "y = (d^2 - d_next^2 + |p_next|^2 - |p|^2) / 2: the distance that shrank is the one subtracted"
_NO_HALF = "subtracting the two squared distances leaves 2 u.g: y is half of the difference"
_NOISE = "the noise enters as a variance: divide u u^T and u y by noise**2, not by noise"
_PRIOR_MEAN = ("the prior's information stays: the new mean solves Lambda' mean' = Lambda mean + u y / noise^2; "
               "without Lambda mean the unobserved direction falls back to 0")
_NO_SOLVE = ("precisions and precision-weighted means add; the mean itself does not: solve Lambda' mean' = "
             "Lambda mean + u y / noise^2 for mean'")
_STALE = "the precision grows by u u^T / noise^2: return the NEW precision"


def _goal_update_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def hand_worked() -> None:
        # prior mean (0, 0.1), precision 10 I; p = (0.1, 0) -> (0.2, 0), d = 0.3 -> 0.2, noise 0.01:
        #   u = (0.1, 0), y = (0.09 - 0.04 + 0.04 - 0.01) / 2 = 0.04 (the goal's x is 0.4 if it lies on the axis)
        #   Lambda' = diag(10 + 100, 10); Lambda mean + u y / noise^2 = (0, 1) + (40, 0); mean' = (40/110, 0.1)
        got = _goal(fn, np.array([0.0, 0.1]), 10 * np.eye(2), np.array([0.1, 0.0]), np.array([0.2, 0.0]),
                    0.3, 0.2, 0.01)
        want = [[40 / 110, 0.1], [110, 0], [0, 10]]
        expect_close(got, want, atol=1e-9, what="(mean, precision)", mistakes=(
            ([[-40 / 110, 0.1], [110, 0], [0, 10]], _SIGN), ([[80 / 110, 0.1], [110, 0], [0, 10]], _NO_HALF),
            ([[0.4 / 11, 0.1], [11, 0], [0, 10]], _NOISE), ([[40 / 110, 0.0], [110, 0], [0, 10]], _PRIOR_MEAN),
            ([[40.0, 0.1], [110, 0], [0, 10]], _NO_SOLVE), ([[40 / 110, 0.1], [10, 0], [0, 10]], _STALE)))

    def diagonal_step() -> None:
        # a diagonal step towards a goal at (0.3, 0.3), from an exact distance pair: the mean moves along (1, 1)
        goal, p, p_next = np.array([0.3, 0.3]), np.array([0.0, 0.0]), np.array([0.1, 0.1])
        d, d_next = float(np.linalg.norm(p - goal)), float(np.linalg.norm(p_next - goal))
        args = (np.zeros(2), 12 * np.eye(2), p, p_next, d, d_next, 0.05)
        mean, precision = goal_update_reference(*args)
        expect_close(_goal(fn, *args), np.vstack([mean, precision]), atol=1e-9,
                     what="(mean, precision) after a diagonal step")

    def random_beliefs() -> None:
        rng = np.random.default_rng(3)
        for _ in range(5):
            goal, p = rng.uniform(-0.5, 0.5, 2), rng.uniform(-0.5, 0.5, 2)
            p_next = p + rng.uniform(-0.1, 0.1, 2)
            a = rng.normal(size=(2, 2))
            args = (rng.uniform(-0.3, 0.3, 2), a @ a.T + np.eye(2), p, p_next, float(np.linalg.norm(p - goal)),
                    float(np.linalg.norm(p_next - goal)), float(rng.uniform(0.01, 0.2)))
            mean, precision = goal_update_reference(*args)
            expect_close(_goal(fn, *args), np.vstack([mean, precision]), atol=1e-8,
                         what="(mean, precision) of a random belief and step")

    yield "a step along x, worked by hand", hand_worked
    yield "a diagonal step towards the goal", diagonal_step
    yield "five random beliefs and steps", random_beliefs


BETA_UPDATE = register(Exercise(
    id="beta_update", title="The Beta posterior update", reference=beta_update_reference,
    reference_name="metarl_edu.classroom.references.beta_update_reference", cases=_beta_update_cases,
    equivalents=("metarl_edu.bayes.beta_update",)))

BAYES_BACKUP = register(Exercise(
    id="bayes_backup", title="The one-step Bayes backup", reference=bayes_backup_reference,
    reference_name="metarl_edu.classroom.references.bayes_backup_reference", cases=_bayes_backup_cases,
    equivalents=("metarl_edu.bayes.bayes_backup",)))

INFORMATION_VALUE = register(Exercise(
    id="information_value", title="The value of information", reference=information_value_reference,
    reference_name="metarl_edu.classroom.references.information_value_reference", cases=_information_value_cases,
    equivalents=("metarl_edu.bayes.information_value",)))

GOAL_UPDATE = register(Exercise(
    id="goal_update", title="The Gaussian goal-posterior update from two distances", reference=goal_update_reference,
    reference_name="metarl_edu.classroom.references.goal_update_reference", cases=_goal_update_cases,
    equivalents=("metarl_edu.belief.gaussian_goal_update", "metarl_edu.belief.linear_observation")))
