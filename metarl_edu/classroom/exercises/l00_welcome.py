"""Lesson 00: the discounted return of one episode.

Hand-worked cases, then random episodes (seeded) against the sum formula. The learner's function gets a copy of
each list, and a case fails when it changed that copy (reversing the caller's list in place is a classic).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, call_unchanged, expect_close, fmt_exception, register
from metarl_edu.mdp import discounted_return as _reference

# (rewards, gamma, expected G_0, worked by hand)
_CASES = [
    ([1.0, 1.0, 1.0], 0.5, 1.0 + 0.5 + 0.25),
    ([0.0, 0.0, 1.0], 0.9, 0.81),
    ([1.0, 2.0, 3.0], 0.0, 1.0),
    ([2.0, 0.0, -1.0, 4.0], 0.5, 2.0 - 0.25 + 0.125 * 4.0),
]


def _mistakes(rewards: list[float], gamma: float) -> tuple[tuple[Any, str], ...]:
    n = len(rewards)
    tail = [sum(gamma ** (k - t) * rewards[k] for k in range(t, n)) for t in range(n)]
    return (
        (sum(rewards), "this is the plain sum; each reward r_{t+1} should be multiplied by gamma**t"),
        (sum(gamma ** (t + 1) * r for t, r in enumerate(rewards)),
         "the first reward is not discounted: G_0 = r_1 + gamma r_2 + ..., so r_1 gets gamma**0 = 1"),
        (sum(gamma ** (n - 1 - t) * r for t, r in enumerate(rewards)),
         "the discounts run backwards: r_1 should get weight 1 and the last reward gamma**(T-1), not the other way"),
        (tail, "return one number, G_0; this is the list of every G_t"),
        (tail[::-1], "return one number, G_0; this is the list of every G_t"),
    )


def _call(fn: Callable[..., Any], rewards: list[float], gamma: float) -> Any:
    return call_unchanged(fn, (list(rewards), gamma), ("rewards", "gamma"), advice={
        "rewards": "read the list without changing it: `reversed(rewards)` or `rewards[::-1]` give a new order "
                   "and leave the caller's list as it was"})


def _cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    for rewards, gamma, expected in _CASES:
        def run(rewards: list[float] = rewards, gamma: float = gamma, expected: float = expected) -> None:
            expect_close(_call(fn, rewards, gamma), expected, what="G_0", mistakes=_mistakes(rewards, gamma))

        yield f"rewards={rewards}, gamma={gamma}", run

    def empty() -> None:
        try:
            got = _call(fn, [], 0.9)
        except (IndexError, ValueError, ZeroDivisionError, TypeError) as exc:
            raise Failure(f"an episode without rewards has G_0 = 0, but your function raised {fmt_exception(exc)}. "
                          "Start from g = 0 and let the loop add nothing") from None
        expect_close(got, 0.0, what="G_0")

    def random_episodes() -> None:
        for seed in range(3):
            rng = np.random.default_rng(seed)
            rewards = rng.normal(size=int(rng.integers(5, 30))).round(3).tolist()
            gamma = 1.0 if seed == 2 else float(rng.uniform(0.5, 0.99))  # gamma = 1: the plain sum is right
            expected = sum(gamma**t * r for t, r in enumerate(rewards))  # the definition, term by term
            expect_close(_call(fn, rewards, gamma), expected, what="G_0", atol=1e-9,
                         mistakes=_mistakes(rewards, gamma))

    yield "rewards=[], gamma=0.9", empty
    yield "three random episodes of 5-30 rewards (seeds 0-2; the last with gamma = 1)", random_episodes


DISCOUNTED_RETURN = register(
    Exercise(
        id="discounted_return",
        title="The discounted return G_0",
        reference=_reference,
        reference_name="metarl_edu.mdp.discounted_return",
        cases=_cases,
        equivalents=("metarl_edu.pg.discounted_returns",),
    )
)
