"""The grader's side inside a kernel: run the learner's functions on the check cases and hidden-test probes, and
report what they did, as plain data.

The grader (:mod:`metarl_edu.classroom.grade`) runs a notebook whose first cell calls :func:`install`, before any
learner code. Its later cells call the object stored as ``__metarl_edu_grader__``:

- ``check(exercise_id, function_name, nonce)`` in place of each check cell: the exercise's cases run against the
  learner's function with every call recorded (:func:`metarl_edu.classroom.checks.record_check`);
- ``hidden(exercise_id, source, names, nonce)`` for each block of hidden tests: only its inputs and probe parts
  (the calls of the learner's functions) run here, and the values of ``names`` are recorded.

After a learner's cell that raised, a report of kind ``error`` says on which line of the cell (the grader quotes
that line from its own copy of the cell).

Each report is printed as one line ``TAG nonce JSON``. **Nothing here is trusted by the grader**: a report only
says what the learner's code answered, and the grader replays it through its own copy of the cases and hidden
tests, whose expected answers and comparisons never enter the kernel. Learner code that forges a report, patches
this module or the library, or reads frames and closures, can change only the answers reported for itself.

What runs here is a courtesy to honest learners and a source of evidence: each function an exercise re-implements
(its ``replaces=`` marker and the library's other versions of it) is replaced, in every loaded ``metarl_edu``
module, by a guard that raises :class:`ReferenceImplementationUsed` when learner code calls it, and calls of the
reference's code from learner code are noted; the report says so, and the grader scores such an exercise 0. The
grader's own reading of the learner's source (:mod:`metarl_edu.classroom.review`) does not depend on any of it.
The check results are also kept in the lesson's session, so that ``pick`` in the lesson's later cells works.
"""

from __future__ import annotations

import json
from typing import Any

TAG = "@@metarl-edu-grade@@"
LEARNER_MARK = "# metarl-edu: learner cell"
GRADER_NAME = "__metarl_edu_grader__"


class ReferenceImplementationUsed(RuntimeError):
    """Raised when learner code calls the library function that its exercise re-implements, while grading."""


def report_line(nonce: str, record: dict[str, Any]) -> str:
    """One report: the tag, the nonce of the grader's cell that asked for it, and the record as JSON."""
    from metarl_edu.classroom import wire

    return f"{TAG} {nonce} {wire.dumps(record)}"


def read_report_line(line: str) -> tuple[str, dict[str, Any]] | None:
    """``(nonce, record)`` of a report line, or None (for the grader, outside the kernel). Size and nesting are
    capped; the record is plain data, read without running anything."""
    from metarl_edu.classroom import wire

    parts = line.strip().split(" ", 2)
    if len(parts) != 3 or parts[0] != TAG:
        return None
    try:
        record = wire.loads(parts[2])
    except ValueError:
        return None
    return (parts[1], record) if isinstance(record, dict) else None


# --------------------------------------------------------------------------------------------- in the kernel
def install(spec_text: str) -> None:
    """Set up grading in this kernel (the grader's first cell calls this; see the module docstring).

    ``spec_text`` is JSON: ``{"exercises": [{"id": ..., "function": ..., "replaces": [dotted names]}, ...]}``.
    """
    import os
    import sys
    import sysconfig
    import threading

    from IPython import get_ipython

    import metarl_edu
    from metarl_edu.classroom import checks, wire

    spec = json.loads(spec_text)
    ip = get_ipython()
    user_ns = ip.user_ns
    registry = checks.exercises()
    write, flush = sys.stdout.write, sys.stdout.flush
    getframe, main_thread, current_thread = sys._getframe, threading.main_thread(), threading.current_thread

    package_dir = os.path.realpath(os.path.dirname(metarl_edu.__file__))
    trusted_dirs = tuple(
        os.path.realpath(d) + os.sep
        for d in {*(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
                  sys.prefix, sys.base_prefix, sys.exec_prefix, package_dir}
    )
    probe_file = "<metarl-edu hidden-test probe>"
    state: dict[str, Any] = {"context": None, "learner_cell": False}
    hits: dict[str, set[str]] = {}
    learner_cache: dict[str, bool] = {}

    # ------------------------------------------------------------------ whose code is this frame running?
    def is_learner_file(filename: str) -> bool:
        """True for code from a learner cell (marked by the grader) or from anywhere but the installed software and
        the lesson's own cells (for example code a learner compiled or wrote to a file)."""
        if filename in learner_cache:
            return learner_cache[filename]
        import linecache

        entry = linecache.cache.get(filename)
        lines = entry[2] if entry and len(entry) > 2 else None
        if lines:
            verdict = lines[-1].rstrip() == LEARNER_MARK
        elif filename == probe_file or filename.startswith("<frozen "):
            verdict = False
        else:
            verdict = not os.path.realpath(filename).startswith(trusted_dirs)
        learner_cache[filename] = verdict
        return verdict

    def learner_on_stack(frame: Any) -> bool:
        while frame is not None:
            if is_learner_file(frame.f_code.co_filename):
                return True
            frame = frame.f_back
        return False

    # ------------------------------------------------------------------ banned references
    owners: dict[int, tuple[str, str]] = {}  # id(guard) -> (exercise id, dotted name)
    code_ids: dict[tuple[str, int, str], tuple[str, str]] = {}  # a reference's code -> (exercise id, dotted name)

    def code_id(code: Any) -> tuple[str, int, str]:
        return (os.path.realpath(code.co_filename), code.co_firstlineno, code.co_name)

    def make_guard(exercise_id: str, dotted: str, original: Any) -> Any:
        def guard(*args: Any, **kwargs: Any) -> Any:
            caller = getframe(1)
            if should_block(exercise_id, caller):
                hits.setdefault(exercise_id, set()).add(dotted)
                raise ReferenceImplementationUsed(
                    f"{dotted} is the library's reference implementation of exercise {exercise_id!r}; "
                    "while grading it cannot be called from your code: write the function yourself")
            return original(*args, **kwargs)

        for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(guard, attribute, getattr(original, attribute, None))
        owners[id(guard)] = (exercise_id, dotted)
        return guard

    def should_block(exercise_id: str, caller: Any) -> bool:
        """Learner code may not call the guarded function: from a thread of its own, while its exercise is
        checked (the function given to the check is the guard itself, or learner code is on the stack), or at
        the top level of a learner cell."""
        if current_thread() is not main_thread:
            return True
        if state["context"] == exercise_id:
            return caller.f_code.co_filename == wire.__file__ or learner_on_stack(caller)
        return state["context"] is None and state["learner_cell"]

    def profile(frame: Any, event: str, arg: Any) -> None:
        """While an exercise is checked, note calls of its reference's code from learner code (copies of the
        function included, which the guards cannot see)."""
        if event != "call" or frame.f_code.co_name not in names:
            return
        owner = code_ids.get(code_id(frame.f_code))
        if owner and owner[0] == state["context"] and frame.f_back is not None \
                and is_learner_file(frame.f_back.f_code.co_filename):
            hits.setdefault(owner[0], set()).add(owner[1])

    names: set[str] = set()
    for item in spec["exercises"]:
        exercise = registry.get(item["id"])
        for dotted in item.get("replaces", []):
            module_name, _, attribute = dotted.rpartition(".")
            try:
                original = getattr(__import__(module_name, fromlist=[attribute]), attribute)
            except (ImportError, AttributeError):
                continue
            guard = make_guard(item["id"], dotted, original)
            if hasattr(original, "__code__"):
                code_ids[code_id(original.__code__)] = (item["id"], dotted)
                names.add(original.__code__.co_name)
            for name, module in list(sys.modules.items()):
                if module is None or not (name == "metarl_edu" or name.startswith("metarl_edu.")):
                    continue
                if name.startswith("metarl_edu.classroom") and name != "metarl_edu.classroom.references":
                    continue  # the checks keep their own references
                for key, value in list(vars(module).items()):
                    if value is original:
                        setattr(module, key, guard)
            if exercise is not None and exercise.reference is original:
                exercise.reference = guard  # pick's fallback works for the lesson's cells, and raises for learners

    def refuse_exit(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("exit() does not stop the kernel while grading")

    ip.ask_exit = refuse_exit

    def pre_run_cell(info: Any) -> None:
        state["learner_cell"] = (info.raw_cell or "").rstrip().endswith(LEARNER_MARK)

    def error_line(result: Any) -> int | None:
        """The line of the learner's cell, as IPython compiled it, where the cell's error arose: a SyntaxError's own
        line when it did not compile, else the cell's last line in the traceback (the deepest call in the cell)."""
        error = getattr(result, "error_before_exec", None)
        if error is not None:
            line = getattr(error, "lineno", None)
            return line if isinstance(line, int) else None
        first = tb = getattr(getattr(result, "error_in_exec", None), "__traceback__", None)
        while tb is not None and not is_learner_file(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next  # the cell's own code: the first frame after IPython's
        if tb is None:
            return None
        return wire.deepest_line(first, tb.tb_frame.f_code.co_filename) or None

    def post_run_cell(result: Any) -> None:
        """After a learner cell that raised, report the line where (the grader quotes that line from its own copy)."""
        try:
            line = error_line(result) if state["learner_cell"] else None
        except Exception:  # noqa: BLE001  (no line then: the grader still names the error)
            line = None
        state["learner_cell"] = False
        if line is not None:
            emit("cell", {"kind": "error", "line": line})

    ip.events.register("pre_run_cell", pre_run_cell)
    ip.events.register("post_run_cell", post_run_cell)

    class Context:
        """While exercise ``exercise_id`` is checked: its guards block learner code, and calls of its reference's
        code from learner code are noted."""

        def __init__(self, exercise_id: str) -> None:
            self.exercise_id = exercise_id

        def __enter__(self) -> None:
            state["context"] = self.exercise_id
            hits.pop(self.exercise_id, None)
            sys.setprofile(profile)
            threading.setprofile(profile)

        def __exit__(self, *exc: Any) -> None:
            sys.setprofile(None)
            threading.setprofile(None)
            state["context"] = None

    def emit(nonce: str, record: dict[str, Any]) -> None:
        write("\n" + report_line(nonce, record) + "\n")
        flush()

    def provenance(fn: Any) -> str | None:
        """What the checked function is when it is not the learner's own code: a guard, the reference itself, or
        other code of the library."""
        inner = fn
        for _ in range(10):
            inner = getattr(inner, "func", None) or getattr(inner, "__func__", None) or inner
        if id(inner) in owners:
            return f"reference: {owners[id(inner)][1]}"
        code = getattr(inner, "__code__", None)
        if code is not None and code_id(code) in code_ids:
            return f"reference: {code_ids[code_id(code)][1]}"
        if code is not None and os.path.realpath(code.co_filename).startswith(package_dir + os.sep):
            return f"library: {getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', '?')}"
        return None

    # ------------------------------------------------------------------ what the grader's cells call
    def check(exercise_id: str, function_name: str, nonce: str) -> None:
        """Record the exercise's cases against the learner's function; report; keep the verdict for ``pick``."""
        record: dict[str, Any] = {"kind": "check", "exercise": exercise_id}
        if function_name not in user_ns:
            record["missing"] = function_name
        else:
            fn = user_ns[function_name]
            record["provenance"] = provenance(fn)
            with Context(exercise_id):
                try:
                    record.update(checks.record_check(exercise_id, fn))
                except KeyboardInterrupt:
                    record["interrupted"] = True
            record["hits"] = sorted(hits.get(exercise_id, ()))
        emit(nonce, record)
        session = checks._session
        if session is not None:
            outcomes = [c["outcome"] for c in record.get("cases", [])]
            status = "not_attempted" if "not_attempted" in outcomes else \
                "passed" if outcomes and set(outcomes) == {"passed"} and not record.get("hits") else "failed"
            session.results[exercise_id] = checks.CheckResult(exercise_id, status, [], len(outcomes),
                                                              outcomes.count("passed"))

    def hidden(exercise_id: str, source: str, names_: list[str], nonce: str) -> None:
        """Run a hidden-test block's inputs and probe (the grader keeps its judge); report the probe's values."""
        env = dict(user_ns)
        record: dict[str, Any] = {"kind": "hidden", "exercise": exercise_id}
        with Context(exercise_id):
            try:
                exec(compile(source, probe_file, "exec"), env)  # noqa: S102  (the grader's own probe code)
            except KeyboardInterrupt:
                record["interrupted"] = True
            except BaseException as exc:  # noqa: BLE001  (reported; the grader says the hidden tests failed)
                record["raised"] = type(exc).__name__[:80]
        record["values"] = {name: wire.observe(env[name]) for name in names_ if name in env}
        record["hits"] = sorted(hits.get(exercise_id, ()))
        emit(nonce, record)

    class Grader:
        """What the grader's cells call (see the module docstring)."""

        __slots__ = ()

    for function in (check, hidden):
        setattr(Grader, function.__name__, staticmethod(function))
    user_ns[GRADER_NAME] = Grader()
