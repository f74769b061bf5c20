"""Lesson 02: epsilon-greedy action selection and the Q-learning update.

Each case is worked by hand in a comment. The epsilon-greedy cases are statistical: with a seeded generator and a
few thousand draws, each frequency must sit within a tolerance far wider than its sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, call_unchanged, expect_close, fmt, register
from metarl_edu.td import epsilon_greedy as _epsilon_greedy_reference
from metarl_edu.td import q_learning_update as _q_update_reference

N_DRAWS = 4000


# --------------------------------------------------------------------------------------------- epsilon-greedy
def _draw(fn: Callable[..., Any], q_s: np.ndarray, epsilon: float, seed: int, n: int = N_DRAWS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    actions = []
    for _ in range(n):
        a = call_unchanged(fn, (q_s, epsilon, rng), ("q_s", "epsilon", "rng"), advice={
            "q_s": "q_s is a row of the agent's table: adding noise to it, or sorting it, changes what the agent "
                   "learned. Read it only"})
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

    def random_rows() -> None:
        # Random rows of 3-6 actions with a tie among the best (seeds 6-8): Pr(a) = epsilon / A for every action,
        # plus (1 - epsilon) / k for each of the k best ones.
        for seed in (6, 7, 8):
            rng = np.random.default_rng(seed)
            q_s = rng.normal(size=int(rng.integers(3, 7))).round(2)
            q_s[rng.choice(q_s.size, size=2, replace=False)] = q_s.max() + 1.0  # two actions tie for the best
            epsilon = float(rng.uniform(0.1, 0.6))
            best = q_s == q_s.max()
            expected = epsilon / q_s.size + (1 - epsilon) * best / best.sum()
            _expect_frequencies(_draw(fn, q_s, epsilon, seed), expected, (
                (epsilon / q_s.size + (1 - epsilon) * np.eye(q_s.size)[np.argmax(q_s)],
                 "break ties at random among the best actions (np.argmax always picks the first one)"),
            ))

    yield "epsilon=0, unique best action", greedy_unique
    yield "epsilon=0, two best actions tie", greedy_ties
    yield "epsilon=1", explore_all
    yield "epsilon=0.2", explore_some
    yield "same seed, same actions", uses_rng
    yield "random rows with ties, random epsilon (seeds 6-8)", random_rows


# --------------------------------------------------------------------------------------------- Q-learning update
ALPHA_TIMES_TARGET = ("move q[s, a] a step alpha from where it is towards the target, q[s, a] + alpha * (target - "
                      "q[s, a]); `q[s, a] += alpha * target` forgets to subtract q[s, a] (it only works when q[s, a] "
                      "is 0)")


def _q_update_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def q_before() -> np.ndarray:
        # Non-zero entries where the updates happen, so that a step that forgets q[s, a] shows.
        return np.array([[-0.2, 0.4], [2.0, 3.0], [-1.0, 0.5]])

    def call(q: np.ndarray, *args: Any) -> np.ndarray:
        new = call_unchanged(fn, (q, *args), ("q", "s", "a", "r", "s_next", "terminated", "alpha", "gamma"),
                             advice={"q": "start with `q = q.copy()` and return the copy"})
        if new is None:
            raise Failure("the function returned None; return the updated table")
        return new

    def with_entry(value: float, s: int = 0, a: int = 1) -> np.ndarray:
        q = q_before()
        q[s, a] = value
        return q

    def bootstraps() -> None:
        # s=0, a=1, r=1, s'=1 with q[1] = [2, 3]: target = 1 + 0.9 * max(2, 3) = 3.7,
        # q[0, 1] = 0.4 + 0.5 * (3.7 - 0.4) = 2.05; every other entry unchanged.
        got = call(q_before(), 0, 1, 1.0, 1, False, 0.5, 0.9)
        expect_close(got, with_entry(2.05), what="q", mistakes=(
            (with_entry(0.4 + 0.5 * (1 + 0.9 * 2.5 - 0.4)), "the target uses the MAX over next actions, not the mean"),
            (with_entry(3.7), "move q[s, a] only a step alpha towards the target: q + alpha * (target - q)"),
            (with_entry(0.4 + 0.5 * 3.7), ALPHA_TIMES_TARGET),
            (with_entry(0.5 * (3.7 - 0.4)), "the new q[s, a] is the old one plus the step: q[s, a] + alpha * "
                                            "(target - q[s, a]), not the step alone"),
        ))

    def max_not_taken_action() -> None:
        # s=0, a=0, r=0, s'=1: target = 0 + 0.9 * max(2, 3) = 2.7 -> q[0, 0] = -0.2 + 0.5 * (2.7 + 0.2) = 1.25.
        # A Sarsa-like target would use q[1, a=0] = 2 instead: -0.2 + 0.5 * (1.8 + 0.2) = 0.8.
        got = call(q_before(), 0, 0, 0.0, 1, False, 0.5, 0.9)
        expect_close(got, with_entry(1.25, 0, 0), what="q", mistakes=(
            (with_entry(0.8, 0, 0), "Q-learning bootstraps from max_a' q[s', a'], not from q[s', a]"),
            (with_entry(-0.2 + 0.5 * 2.7, 0, 0), ALPHA_TIMES_TARGET),
            (with_entry(-0.2 + 0.5 * (0.9 * 0.4 + 0.2), 0, 0), "bootstrap from the NEXT state's row q[s_next], "
                                                               "not from the row of s"),
        ))

    def terminal() -> None:
        # terminated: the target is just r = 1, so q[0, 1] = 0.4 + 0.5 * (1 - 0.4) = 0.7.
        got = call(q_before(), 0, 1, 1.0, 1, True, 0.5, 0.9)
        expect_close(got, with_entry(0.7), what="q", mistakes=(
            (with_entry(2.05), "after a terminal transition there is no next state to bootstrap from: target = r"),
            (with_entry(0.4 + 0.5 * 1.0), ALPHA_TIMES_TARGET),
        ))

    def against_reference() -> None:
        # Random tables and transitions, three seeds: each update from the previous result.
        for seed in range(3):
            rng = np.random.default_rng(seed)
            q = rng.normal(size=(5, 3))
            alpha, gamma = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.5, 1.0))
            for _ in range(4):
                s, a, s_next = int(rng.integers(5)), int(rng.integers(3)), int(rng.integers(5))
                r, terminated = float(rng.normal()), bool(rng.random() < 0.3)
                expected = _q_update_reference(q, s, a, r, s_next, terminated, alpha, gamma)
                wrong = q.copy()
                wrong[s, a] += alpha * (r if terminated else r + gamma * q[s_next].max())
                got = call(q, s, a, r, s_next, terminated, alpha, gamma)
                expect_close(got, expected, what=f"q after the update (s={s}, a={a}, s_next={s_next}, "
                                                 f"terminated={terminated})", mistakes=((wrong, ALPHA_TIMES_TARGET),))
                q = expected

    yield "non-terminal transition, alpha=0.5, gamma=0.9", bootstraps
    yield "the target's max is not the action taken", max_not_taken_action
    yield "terminal transition", terminal
    yield "four updates each on three random tables (seeds 0-2)", against_reference


EPSILON_GREEDY = register(
    Exercise(
        id="epsilon_greedy",
        title="Epsilon-greedy action selection",
        reference=_epsilon_greedy_reference,
        reference_name="metarl_edu.td.epsilon_greedy",
        cases=_epsilon_greedy_cases,
    )
)

Q_LEARNING_UPDATE = register(
    Exercise(
        id="q_learning_update",
        title="The Q-learning update",
        reference=_q_update_reference,
        reference_name="metarl_edu.td.q_learning_update",
        cases=_q_update_cases,
    )
)
