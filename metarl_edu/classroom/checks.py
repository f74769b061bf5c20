"""Instant feedback for the exercises in the lessons.

A lesson calls :func:`start_lesson` in its first cell, then ``check("exercise_id", learner_function)`` right after
each exercise. A check runs the learner's function on small cases with exact answers and returns a
:class:`CheckResult` that prints as one pass line, or as one hint per failed case (which input, what was expected,
what came back). The stub's ``NotImplementedError`` reads as "not attempted yet".

Outside strict mode a check never raises, so a learner's notebook keeps running. In strict mode
(``METARL_EDU_STRICT=1``, set by ``make test``) a check in a *solution* notebook raises unless it passes, and a check
in a *lesson* notebook raises unless it reports "not attempted": the test suite then fails when either the
solution or the stub is wrong.

:func:`pick` gives later cells a working function: the learner's when it passed its check, otherwise the
library's reference implementation, with a line saying so.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from metarl_edu import config
from metarl_edu.classroom import wire
from metarl_edu.classroom.cases import Exercise, Failure, fmt_exception, registered

Status = Literal["passed", "failed", "not_attempted"]
KINDS = ("lesson", "solution", "master")


class CheckFailed(AssertionError):
    """Raised in strict mode when a check result is not what the notebook's kind requires."""


class CaseTimeout(BaseException):
    """A check case ran past its time limit (a BaseException, so a learner's ``except Exception`` cannot eat it)."""


CASE_SECONDS = 10.0


@dataclass
class CheckResult:
    """The outcome of one check; ``repr`` is the report the learner reads."""

    exercise: str
    status: Status
    hints: list[str] = field(default_factory=list)
    n_cases: int = 0
    n_passed: int = 0
    mismatch: bool = False  # a replayed record was made for other inputs (see judge_check)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:
        if self.status == "passed":
            return f"✅ {self.exercise}: all {self.n_cases} checks passed."
        if self.status == "not_attempted":
            return f"⏳ {self.exercise}: not attempted yet. Replace `raise NotImplementedError` with your code."
        lines = [f"❌ {self.exercise}: {self.n_passed} of {self.n_cases} checks passed."]
        lines += [f"   • {hint}" for hint in self.hints]
        return "\n".join(lines)


@dataclass
class Session:
    """What the running notebook is: its lesson id and kind, and the check results so far."""

    lesson: str
    kind: str
    results: dict[str, CheckResult] = field(default_factory=dict)


_session: Session | None = None


# --------------------------------------------------------------------------------------------- exercises
def exercises() -> dict[str, Exercise]:
    """All the lessons' exercises by id."""
    # Imported here, not at the top: the exercises of the later lessons import torch, which a lesson that only
    # calls check() should not pay for. The lesson modules import cases, never this module: no cycle.
    from metarl_edu.classroom import exercises as _  # noqa: F401  (registers the lessons' exercises)

    return registered()


def get_exercise(exercise_id: str) -> Exercise:
    table = exercises()
    if exercise_id not in table:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(table))}")
    return table[exercise_id]


# --------------------------------------------------------------------------------------------- session
def start_lesson(lesson: str, kind: str = "master") -> None:
    """Begin a lesson: remember which notebook this is, and print the mode it runs in.

    Args:
        lesson: the lesson's file stem, for example ``"01_mdp"``.
        kind: ``"lesson"`` (student notebook with stubs), ``"solution"``, or ``"master"`` (the course source);
            written by ``metarl-edu build``.
    """
    global _session
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    _session = Session(lesson=lesson, kind=kind)
    mode = "quick mode (small budgets)" if config.quick() else "full mode"
    print(f"metarl-edu · lesson {lesson} · {kind} notebook · {mode}" + (" · strict" if config.strict() else ""))


# --------------------------------------------------------------------------------------------- running
def run_check(exercise_id: str, fn: Callable[..., Any]) -> CheckResult:
    """Run an exercise's cases against ``fn`` and collect the result; never raises for a wrong answer.

    The cases run the way the grader runs them (:mod:`metarl_edu.classroom.wire`): once with ``fn`` recorded,
    then again with the recorded answers replayed, and it is the replay whose comparisons decide."""
    record = record_check(exercise_id, fn)
    return judge_check(exercise_id, wire.loads(wire.dumps(record)))


def record_check(exercise_id: str, fn: Callable[..., Any]) -> dict[str, Any]:
    """Where the learner's code runs: run the exercise's cases against ``fn`` (each within a time limit) and record
    every call of it. Returns plain data: ``{"callable": ..., "cases": [{"outcome": ..., "calls": [...]}, ...]}``
    (the outcomes are what the cases said here; only :func:`judge_check` decides)."""
    exercise = get_exercise(exercise_id)
    if not callable(fn):
        return {"callable": False, "type": type(fn).__name__[:60]}
    recorder = wire.Recorder(fn)
    cases: list[dict[str, Any]] = []
    for _description, run in exercise.cases(recorder):
        recorder.calls = []
        try:
            _with_time_limit(run, CASE_SECONDS)
            outcome = "passed"
        except CaseTimeout:
            outcome = "timeout"
        except NotImplementedError:
            outcome = "not_attempted"
        except Failure:
            outcome = "failed"
        except Exception:  # noqa: BLE001  (a learner's bug: the replay says which)
            outcome = "raised"
        cases.append({"outcome": outcome, "calls": recorder.calls})
        if outcome == "not_attempted":
            break
    return {"callable": True, "cases": cases}


class _Stand:
    """The function a case generator is given on replay: it calls whichever replayer is current."""

    def __init__(self) -> None:
        self.target: Callable[..., Any] = wire.Replayer([])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target(*args, **kwargs)


def judge_check(exercise_id: str, record: Any, *, messages: bool = True,
                place: Callable[[int], str] | None = None) -> CheckResult:
    """In the judging process: replay a :func:`record_check` record through the exercise's cases, whose
    comparisons run here. ``messages``: quote the messages of the exceptions the learner's code raised (the
    grader does not: its hints are its own words, and the replayed exceptions carry only their type, so that a
    case that words its own hint on one quotes no kernel text either). ``place``: for the grader, what to say of
    the line the record names for an exception (" at line 4 (`...`) of your exercise cell", quoted from the
    grader's own copy of the cell, or "" when it is no line of that cell); the record's text of the line is then
    not used."""
    exercise = get_exercise(exercise_id)
    if not isinstance(record, dict) or record.get("callable") is not True:
        shown = str(record.get("type", "something else")) if isinstance(record, dict) else "something else"
        shown = shown if wire.TYPE_NAME.fullmatch(shown) else "something else"
        return CheckResult(exercise_id, "failed", [f"expected a function, got {shown}"], 1, 0)
    recorded = record.get("cases") if isinstance(record.get("cases"), list) else []
    stand = _Stand()
    mismatch = False
    hints: list[str] = []
    n_cases = n_passed = 0
    for k, (description, run) in enumerate(exercise.cases(stand)):
        n_cases += 1
        case = recorded[k] if k < len(recorded) and isinstance(recorded[k], dict) else {}
        stand.target = replayer = wire.Replayer(case.get("calls"), messages=messages)
        try:
            run()
        except (wire.NoAnswer, CaseTimeout):
            if replayer.mismatch:
                mismatch = True
                hints.append(f"{description}: the recorded answers were given for other inputs than this case's")
            elif case.get("outcome") == "timeout":
                hints.append(f"{description}: did not finish within {CASE_SECONDS:g} s. Does your loop stop? "
                             "Check that it updates its variables and that its stopping test can become true.")
            else:
                hints.append(f"{description}: no answer of your function came back (its run was cut short)")
        except NotImplementedError:
            return CheckResult(exercise_id, "not_attempted", [], n_cases, 0)
        except Failure as failure:
            hints.append(f"{description}: {failure}")
        except wire.LearnerError as exc:
            hints.append(f"{description}: your function raised {exc.type_name}" + _where(exc, messages, place))
        except Exception as exc:  # a learner's bug must read as a hint, never as a traceback
            hints.append(f"{description}: your function raised {fmt_exception(exc) if messages else type(exc).__name__}"
                         + _where(exc, messages, place))
        else:
            n_passed += 1
    status: Status = "passed" if n_cases and n_passed == n_cases else "failed"
    return CheckResult(exercise_id, status, hints, n_cases, n_passed, mismatch)


def _where(exc: BaseException, messages: bool, place: Callable[[int], str] | None = None) -> str:
    """" (line 7 of the cell that defines it: `...`)": where the learner's code raised ``exc``
    (:func:`wire.learner_line`), for the self-study check. The grader quotes no text of the kernel's
    (``messages`` False): it says only what ``place`` makes of the line's number, if it gives one."""
    where = getattr(exc, "where", None)
    if not isinstance(where, tuple):
        return ""
    line, text = where
    if place is not None:
        return place(line)
    if not messages:
        return ""
    return f" (line {line} of the cell that defines it" + (f": `{text}`)" if text else ")")


def _with_time_limit(run: Callable[[], None], seconds: float) -> None:
    """Run ``run()``, raising :class:`CaseTimeout` after ``seconds`` (where a POSIX timer is available: the
    main thread, as in a notebook kernel; elsewhere without a limit)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        run()
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(exercise_id: str, fn: Callable[..., Any]) -> CheckResult:
    """Check the learner's ``fn`` for exercise ``exercise_id`` and return the report.

    In strict mode, raise :class:`CheckFailed` when the result does not fit the notebook's kind.
    """
    result = run_check(exercise_id, fn)
    if _session is not None:
        _session.results[exercise_id] = result
    if config.strict():
        _enforce_strict(result)
    warning = reference_warning(exercise_id, fn) if result.passed else None
    if warning:
        print(warning)
    return result


def reference_warning(exercise_id: str, fn: Callable[..., Any]) -> str | None:
    """A line for the learner when ``fn`` visibly calls the library's version of the exercise (which the grader
    scores 0, :mod:`metarl_edu.classroom.review`), read from its source and the names it finds in its module;
    None when it does not, or when its source cannot be read. Only a warning: the grader decides."""
    import inspect
    import textwrap
    import types

    from metarl_edu.classroom.review import review_cells

    try:
        exercise = get_exercise(exercise_id)
        source = textwrap.dedent(inspect.getsource(fn))
        names, codes = set(), [fn.__code__]
        while codes:
            code = codes.pop()
            names.update(code.co_names)
            codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        imports = []
        for name in sorted(names):
            obj = fn.__globals__.get(name)
            if isinstance(obj, types.ModuleType) and obj.__name__.split(".")[0] == "metarl_edu":
                imports.append(f"import {obj.__name__} as {name}")
            elif str(getattr(obj, "__module__", "")).split(".")[0] == "metarl_edu" and hasattr(obj, "__qualname__"):
                imports.append(f"from {obj.__module__} import {obj.__qualname__.split('.')[0]} as {name}")
        review = review_cells([source], functions={exercise_id: fn.__name__},
                              references={exercise_id: [exercise.reference_name, *exercise.equivalents]},
                              lesson_sources=["\n".join(imports)])
    except Exception:  # noqa: BLE001  (no source, a lambda, a builtin: nothing to warn about)
        return None
    uses = review.uses.get(exercise_id)
    if not uses:
        return None
    return (f"⚠️  The grader scores {exercise_id} 0 as written: it calls the library's {', '.join(sorted(uses))}. "
            "Write that part yourself.")


def _enforce_strict(result: CheckResult) -> None:
    kind = None if _session is None else _session.kind
    if kind is None:
        raise CheckFailed("strict mode: call start_lesson(...) first so the check knows the notebook's kind")
    if kind == "lesson" and result.status != "not_attempted":
        raise CheckFailed(f"strict mode, lesson notebook: the stub should read as not attempted\n{result!r}")
    if kind in ("solution", "master") and result.status != "passed":
        raise CheckFailed(f"strict mode, {kind} notebook: the solution should pass\n{result!r}")


def pick(exercise_id: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The learner's ``fn`` if it passes its check, else the library's reference (and a line saying so)."""
    result = None if _session is None else _session.results.get(exercise_id)
    if result is None:
        result = run_check(exercise_id, fn)
    if result.passed:
        return fn
    exercise = get_exercise(exercise_id)
    reason = "is not attempted yet" if result.status == "not_attempted" else "does not pass its check yet"
    print(f"ℹ️  Your {exercise_id} {reason}; the cells below use the library's {exercise.reference_name} instead.")
    return exercise.reference
