"""What the lessons' check cases are made of: the :class:`Exercise` record, the registry every lesson's exercises
register into, :class:`Failure`, and the helpers that compare a learner's answer with the expected one.

The modules in :mod:`metarl_edu.classroom.exercises` import only this module; :mod:`metarl_edu.classroom.checks`
runs the registered exercises. So the checks import the exercises, and the exercises never import the checks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
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


def fmt_exception(exc: BaseException) -> str:
    """An exception for a hint: ``IndexError: list index out of range``, or only ``IndexError`` when it carries no
    message, as the learner's exceptions do when the grader replays them (:class:`metarl_edu.classroom.wire.Replayer`
    gives them only their type there)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


def call_unchanged(fn: Callable[..., Any], args: Sequence[Any], names: Sequence[str],
                   advice: dict[str, str] | None = None) -> Any:
    """``fn(*args)`` called on copies of the data among ``args`` (arrays, lists, tuples, dicts), so that a learner's
    function never changes the case's own values; a :class:`Failure` if it changed a copy in place.

    ``names`` names each argument in the message; ``advice`` maps a name to what to do instead (for example
    "start with `q = q.copy()`").
    """
    copies = [copy.deepcopy(a) if _is_data(a) else a for a in args]
    result = fn(*copies)
    for name, original, passed in zip(names, args, copies, strict=True):
        if _is_data(original) and not _same(original, passed):
            raise changed_input(name, (advice or {}).get(name))
    return result


def changed_input(name: str, tip: str | None = None) -> Failure:
    """The failure for a learner's function that changed its input ``name`` in place."""
    tip = tip or "leave the inputs as they are and build new values"
    return Failure(f"your function changed the {name} passed in (the caller's own data); {tip}")


def _is_data(x: Any) -> bool:
    return isinstance(x, (np.ndarray, list, tuple, dict))


def _same(a: Any, b: Any) -> bool:
    """Equal in type, shape and every value (nan equals nan): the test for "changed in place"."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(a == b) or (a != a and b != b)  # nan is unchanged nan
    except Exception:  # an object without a truthful ==: compare identity
        return a is b


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
        message = f"{what} has shape {got_arr.shape}, expected shape {expected_arr.shape}"
    elif not np.all(np.isfinite(got_arr)):
        raise Failure(f"{what} contains nan or inf: {fmt(got_arr)}")
    elif np.allclose(got_arr, expected_arr, atol=atol, rtol=0):
        return
    else:
        message = f"{what}: expected {_short(expected_arr)}, got {_short(got_arr)}"
    matching = {
        hint for wrong, hint in mistakes
        if np.shape(wrong) == got_arr.shape and np.allclose(got_arr, np.asarray(wrong, dtype=float), atol=atol, rtol=0)
    }
    if len(matching) == 1:  # a hint only when the answer points to one mistake, not several at once
        message += f". Hint: {matching.pop()}"
    raise Failure(message)


def _short(x: np.ndarray) -> str:
    return fmt(x if x.ndim else float(x))


def unfinished_dependency(fn: Any, exc: NotImplementedError) -> str | None:
    """The name of the function whose stub raised ``exc`` inside the learner's ``fn``, when that is another
    function of the learner's notebook (an earlier exercise ``fn`` calls), else None.

    A check reads a stub's ``NotImplementedError`` as "not attempted"; when the stub is not ``fn`` but one it calls,
    the honest report is what ``fn`` depends on. Only a function defined in ``fn``'s own namespace counts, so a
    ``NotImplementedError`` from a library (torch raises some) is not mistaken for an unwritten exercise.
    """
    recorded = getattr(exc, "dependency", None)  # worked out where the learner's code ran (see wire.Recorder)
    if isinstance(recorded, str) and recorded.isidentifier():
        return recorded
    frame, tb = None, exc.__traceback__
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
    code = getattr(fn, "__code__", None)
    if frame is None or frame.f_code is code or frame.f_globals is not getattr(fn, "__globals__", None):
        return None
    return frame.f_code.co_name
