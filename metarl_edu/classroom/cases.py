"""What the lessons' check cases are made of: the :class:`Exercise` record, the registry every lesson's exercises
register into, :class:`Failure`, and the helpers that compare a learner's answer with the expected one.

The modules in :mod:`metarl_edu.classroom.exercises` import only this module; :mod:`metarl_edu.classroom.checks`
runs the registered exercises. So the checks import the exercises, and the exercises never import the checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


class Failure(Exception):
    """Raised inside a check case to report one specific problem to the learner."""


@dataclass
class Exercise:
    """A gradable exercise: its id, the library function it re-implements, and its cases.

    ``cases`` is a function that receives the learner's function and yields ``(description, run)`` pairs;
    calling ``run()`` executes one case and raises :class:`Failure` with a hint when the answer is wrong. A case
    must be deterministic apart from the learner's answers: the grader runs it once where the learner's code runs
    and once more, replaying the recorded answers, where it judges (:mod:`metarl_edu.classroom.wire`).
    ``equivalents`` names the library's other functions that compute the same thing (dotted names): like the
    reference, a learner's answer may not call them.
    """

    id: str
    title: str
    reference: Callable[..., Any]
    reference_name: str
    cases: Callable[[Callable[..., Any]], Iterator[tuple[str, Callable[[], None]]]]
    equivalents: tuple[str, ...] = ()


_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (done by the modules in :mod:`metarl_edu.classroom.exercises`)."""
    if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
        raise ValueError(f"exercise id {exercise.id!r} is registered twice")
    _REGISTRY[exercise.id] = exercise
    return exercise


def registered() -> dict[str, Exercise]:
    """The exercises registered so far, by id (:func:`metarl_edu.classroom.checks.exercises` loads them all)."""
    return dict(_REGISTRY)


# --------------------------------------------------------------------------------------------- helpers for cases
def fmt(x: Any) -> str:
    """Short, readable rendering of a value for a hint."""
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=4, suppress_small=True, max_line_width=100, threshold=30)
    if isinstance(x, float):
        return f"{x:.6g}"
    return repr(x)


def as_numbers(got: Any, what: str) -> np.ndarray:
    """A learner's answer as a float array, or a :class:`Failure` that says why it is not one (None: a missing
    ``return``). Torch tensors are detached first, so an answer that requires grad is accepted."""
    if got is None:
        raise Failure(f"{what} is None; did you forget to `return` it?")
    if hasattr(got, "detach"):  # a torch tensor, without importing torch here
        got = got.detach().cpu().double().numpy()
    try:
        return np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise Failure(f"expected numbers for {what}, got {type(got).__name__}: {fmt(got)}") from None


def expect_close(
    got: Any,
    expected: Any,
    *,
    atol: float = 1e-6,
    what: str = "the result",
    mistakes: tuple[tuple[Any, str], ...] = (),
) -> None:
    """Raise :class:`Failure` unless ``got`` matches ``expected`` (numbers or arrays) within ``atol``.

    ``mistakes`` pairs the answer a typical mistake produces with a hint about that mistake; when ``got`` matches
    one, the hint is added to the message.
    """
    expected_arr = np.asarray(expected, dtype=float)
    got_arr = as_numbers(got, what)
    if got_arr.shape != expected_arr.shape:
        raise Failure(f"{what} has shape {got_arr.shape}, expected shape {expected_arr.shape}")
    if not np.all(np.isfinite(got_arr)):
        raise Failure(f"{what} contains nan or inf: {fmt(got_arr)}")
    if np.allclose(got_arr, expected_arr, atol=atol, rtol=0):
        return
    message = f"{what}: expected {_short(expected_arr)}, got {_short(got_arr)}"
    matching = [
        hint for wrong, hint in mistakes
        if np.shape(wrong) == got_arr.shape and np.allclose(got_arr, np.asarray(wrong, dtype=float), atol=atol, rtol=0)
    ]
    if len(matching) == 1:  # a hint only when the answer points to one mistake, not several at once
        message += f". Hint: {matching[0]}"
    raise Failure(message)


def _short(x: np.ndarray) -> str:
    return fmt(x if x.ndim else float(x))
