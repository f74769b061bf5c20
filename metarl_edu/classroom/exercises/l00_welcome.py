"""Lesson 00: the discounted return of one episode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from metarl_edu.classroom.cases import Exercise, expect_close, register
from metarl_edu.mdp import discounted_return as _reference

# (rewards, gamma, expected G_0, worked by hand)
_CASES = [
    ([1.0, 1.0, 1.0], 0.5, 1.0 + 0.5 + 0.25),
    ([0.0, 0.0, 1.0], 0.9, 0.81),
    ([1.0, 2.0, 3.0], 1.0, 6.0),
    ([1.0, 2.0, 3.0], 0.0, 1.0),
    ([], 0.9, 0.0),
    ([-1.0, 10.0], 0.5, -1.0 + 5.0),
]


def _mistakes(rewards: list[float], gamma: float) -> tuple[tuple[float, str], ...]:
    n = len(rewards)
    return (
        (sum(rewards), "this is the plain sum; each reward r_{t+1} should be multiplied by gamma**t"),
        (sum(gamma ** (t + 1) * r for t, r in enumerate(rewards)),
         "the first reward is not discounted: G_0 = r_1 + gamma r_2 + ..., so r_1 gets gamma**0 = 1"),
        (sum(gamma ** (n - 1 - t) * r for t, r in enumerate(rewards)),
         "the discounts run backwards: r_1 should get weight 1 and the last reward gamma**(T-1), not the other way"),
    )


def _cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    for rewards, gamma, expected in _CASES:
        def run(rewards: list[float] = rewards, gamma: float = gamma, expected: float = expected) -> None:
            got = fn(list(rewards), gamma)
            expect_close(got, expected, what="G_0", mistakes=_mistakes(rewards, gamma))

        yield f"rewards={rewards}, gamma={gamma}", run


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
