"""Lesson 02: epsilon-greedy action selection and the Q-learning update.

Each case is worked by hand in a comment. The epsilon-greedy cases are statistical: with a seeded generator and a
few thousand draws, each frequency must sit within a tolerance far wider than its sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, expect_close, fmt, register
from metarl_edu.td import epsilon_greedy as _epsilon_greedy_reference
from metarl_edu.td import q_learning_update as _q_update_reference

N_DRAWS = 4000


# --------------------------------------------------------------------------------------------- epsilon-greedy
def _draw(fn: Callable[..., Any], q_s: np.ndarray, epsilon: float, seed: int, n: int = N_DRAWS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    actions = []
    for _ in range(n):
        a = fn(q_s.copy(), epsilon, rng)
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise Failure(f"return an int action; got {type(a).__name__}: {fmt(a)}")
        if not 0 <= int(a) < len(q_s):
            raise Failure(f"action {a} is out of range for {len(q_s)} actions")
        actions.append(int(a))
    return np.bincount(actions, minlength=len(q_s)) / n


def _expect_frequencies(freq: np.ndarray, expected: np.ndarray, hints: tuple[tuple[np.ndarray, str], ...]) -> None:
    if np.all(np.abs(freq - expected) < 0.04):
        return
    message = f"action frequencies {fmt(freq)}, expected about {fmt(expected)}"
    for wrong, hint in hints:
        if np.all(np.abs(freq - wrong) < 0.04):
            message += f". Hint: {hint}"
            break
    raise Failure(message)


def _epsilon_greedy_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def greedy_unique() -> None:
        # epsilon = 0 and a unique maximum: always action 2.
        _expect_frequencies(_draw(fn, np.array([0.0, 1.0, 5.0, 2.0]), 0.0, 1, n=200), np.eye(4)[2], ())

    def greedy_ties() -> None:
        # epsilon = 0, actions 1 and 3 tie for the maximum: each about half the time, never 0 or 2.
        freq = _draw(fn, np.array([0.0, 3.0, 1.0, 3.0]), 0.0, 2)
        _expect_frequencies(freq, np.array([0.0, 0.5, 0.0, 0.5]), (
            (np.array([0.0, 1.0, 0.0, 0.0]), "break ties at random among the best actions (np.argmax always "
                                             "picks the first one, which biases learning)"),
        ))

    def explore_all() -> None:
        # epsilon = 1: uniformly random, 1/4 each.
        freq = _draw(fn, np.array([0.0, 1.0, 5.0, 2.0]), 1.0, 3)
        _expect_frequencies(freq, np.full(4, 0.25), (
            (np.eye(4)[2], "with probability epsilon pick a uniformly random action"),
        ))

    def explore_some() -> None:
        # epsilon = 0.2, 4 actions, best action 2: Pr(2) = 0.8 + 0.2 / 4 = 0.85, the others 0.05 each.
        freq = _draw(fn, np.array([0.0, 1.0, 5.0, 2.0]), 0.2, 4)
        _expect_frequencies(freq, np.array([0.05, 0.05, 0.85, 0.05]), (
            (np.array([0.2 / 3, 0.2 / 3, 0.8, 0.2 / 3]),
             "the random action is drawn from ALL actions, the greedy one included"),
            (np.array([0.8 / 4, 0.8 / 4, 0.2 + 0.8 / 4, 0.8 / 4]),
             "epsilon is the probability of exploring, not of acting greedily"),
        ))

    def uses_rng() -> None:
        # The same seed must give the same actions: all randomness comes from the generator passed in.
        q_s = np.array([1.0, 1.0, 1.0])
        first, second = (_draw(fn, q_s, 0.5, 5, n=300) for _ in range(2))
        if not np.array_equal(first, second):
            raise Failure("two runs with the same seed differ: draw random numbers from `rng`, not np.random")

    yield "epsilon=0, unique best action", greedy_unique
    yield "epsilon=0, two best actions tie", greedy_ties
    yield "epsilon=1", explore_all
    yield "epsilon=0.2", explore_some
    yield "same seed, same actions", uses_rng


# --------------------------------------------------------------------------------------------- Q-learning update
def _q_update_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def q_before() -> np.ndarray:
        return np.array([[0.0, 0.0], [2.0, 3.0], [0.0, 0.0]])

    def call(q: np.ndarray, *args: Any) -> np.ndarray:
        original = q.copy()
        new = fn(q, *args)
        if new is None:
            raise Failure("the function returned None; return the updated table")
        if not np.array_equal(q, original):
            raise Failure("the q passed in was modified; start with `q = q.copy()` and return the copy")
        return np.asarray(new, dtype=float)

    def bootstraps() -> None:
        # s=0, a=1, r=1, s'=1 with q[1] = [2, 3]: target = 1 + 0.9 * max(2, 3) = 3.7,
        # q[0, 1] = 0 + 0.5 * (3.7 - 0) = 1.85; every other entry unchanged.
        expected = q_before()
        expected[0, 1] = 1.85
        wrong_mean = q_before()
        wrong_mean[0, 1] = 0.5 * (1 + 0.9 * 2.5)
        wrong_alpha = q_before()
        wrong_alpha[0, 1] = 3.7
        got = call(q_before(), 0, 1, 1.0, 1, False, 0.5, 0.9)
        expect_close(got, expected, what="q", mistakes=(
            (wrong_mean, "the target uses the MAX over next actions, not the mean"),
            (wrong_alpha, "move q[s, a] only a step alpha towards the target: q + alpha * (target - q)"),
        ))

    def max_not_taken_action() -> None:
        # s=0, a=0, r=0, s'=1: target = 0 + 0.9 * max(2, 3) = 2.7 -> q[0, 0] = 0.5 * 2.7 = 1.35.
        # A Sarsa-like target would use q[1, a=0] = 2 instead.
        expected = q_before()
        expected[0, 0] = 1.35
        sarsa_like = q_before()
        sarsa_like[0, 0] = 0.5 * 0.9 * 2.0
        got = call(q_before(), 0, 0, 0.0, 1, False, 0.5, 0.9)
        expect_close(got, expected, what="q", mistakes=(
            (sarsa_like, "Q-learning bootstraps from max_a' q[s', a'], not from q[s', a]"),
        ))

    def terminal() -> None:
        # terminated: the target is just r = 1, so q[0, 1] = 0 + 0.5 * (1 - 0) = 0.5.
        expected = q_before()
        expected[0, 1] = 0.5
        bootstrapped = q_before()
        bootstrapped[0, 1] = 1.85
        got = call(q_before(), 0, 1, 1.0, 1, True, 0.5, 0.9)
        expect_close(got, expected, what="q", mistakes=(
            (bootstrapped, "after a terminal transition there is no next state to bootstrap from: target = r"),
        ))

    def against_reference() -> None:
        rng = np.random.default_rng(0)
        q = rng.normal(size=(5, 3))
        for s, a, r, s_next, terminated in [(0, 2, -1.0, 4, False), (3, 0, 2.5, 3, False), (4, 1, 0.3, 0, True)]:
            expected = _q_update_reference(q, s, a, r, s_next, terminated, 0.1, 0.95)
            q = call(q, s, a, r, s_next, terminated, 0.1, 0.95)
            expect_close(q, expected, what="q after three updates")

    yield "non-terminal transition, alpha=0.5, gamma=0.9", bootstraps
    yield "the target's max is not the action taken", max_not_taken_action
    yield "terminal transition", terminal
    yield "three updates on a random table", against_reference


EPSILON_GREEDY = register(
    Exercise(
        id="epsilon_greedy",
        title="Epsilon-greedy action selection",
        reference=_epsilon_greedy_reference,
        reference_name="metarl_edu.td.epsilon_greedy",
        cases=_epsilon_greedy_cases,
        equivalents=("metarl_edu.td.epsilon_greedy_probs", "metarl_edu.td.action_from_uniforms"),
    )
)

Q_LEARNING_UPDATE = register(
    Exercise(
        id="q_learning_update",
        title="The Q-learning update",
        reference=_q_update_reference,
        reference_name="metarl_edu.td.q_learning_update",
        cases=_q_update_cases,
        equivalents=("metarl_edu.td.td_target",),
    )
)
