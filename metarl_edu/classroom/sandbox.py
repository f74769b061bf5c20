"""The grader's side inside the kernel: private checks, banned references, and signed results.

The grader (:mod:`metarl_edu.classroom.grade`) runs a notebook whose first cell calls :func:`install`. That cell
runs before any learner code, and it:

1. reads the run's configuration from a file the grader wrote, then deletes the file, so that the signing key
   appears in no cell source, no environment variable and no file while learner code runs;
2. captures private references to what grading needs: each exercise's check cases and the library's reference
   implementation (the registry binds them at import), the stdout writer, ``json`` and ``hmac``;
3. replaces each function an exercise re-implements (its ``replaces=`` marker) in every loaded ``metarl_edu``
   module, the top-level ``metarl_edu`` name included, by a guard. The guard raises
   :class:`ReferenceImplementationUsed` when learner code calls it (at the top level of a learner cell, or anywhere
   while that exercise is being checked), and otherwise calls the real function, so the library, the lesson's own
   cells and ``pick``'s fallbacks keep working.

The grader's cells then call the object stored as ``__metarl_edu_grader__``: ``after_setup`` once the lesson's
setup cell ran (it snapshots the modules grading depends on), ``check_cell`` in place of each check cell and
``hidden_tests`` for each block of hidden tests. Before running anything, and again before reporting, these put
back every module attribute of ``builtins``, ``numpy``, ``json``, ``hmac``, ``hashlib`` and ``metarl_edu`` that
learner code rebound (function code included for ``metarl_edu``), so redefining ``check`` or patching the library
changes nothing. Each result is printed as one line ``TAG <hmac> <json>``, signed with the run's key and bound to
a nonce the grader chose for that cell; the grader accepts only correctly signed lines with the right nonce, in
the output of the cell it expected them from. A learner's print, file or stale line cannot pass for a result.

This raises the bar against accidents and naive cheating. It is not a security boundary against code that digs
into the interpreter (closures, frames, ``gc``) to steal the key: the README says what the grader does and does
not guarantee.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

TAG = "@@metarl-edu-grade@@"
LEARNER_MARK = "# metarl-edu: learner cell"
GRADER_NAME = "__metarl_edu_grader__"
PROTECTED_MODULES = ("builtins", "numpy", "json", "hmac", "hashlib", "metarl_edu")


class ReferenceImplementationUsed(RuntimeError):
    """Raised when learner code calls the library function that its exercise re-implements, while grading."""


# --------------------------------------------------------------------------------------------- signed lines
def sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def tag_line(key: bytes, record: dict[str, Any]) -> str:
    """One result line: the tag, the HMAC-SHA256 of the JSON payload, and the payload."""
    payload = json.dumps(record, sort_keys=True, ensure_ascii=True)
    return f"{TAG} {sign(key, payload)} {payload}"


def read_tag_line(key: bytes, line: str) -> dict[str, Any] | None:
    """The record of a correctly signed result line, or None (for the grader, outside the kernel)."""
    parts = line.strip().split(" ", 2)
    if len(parts) != 3 or parts[0] != TAG:
        return None
    if not hmac.compare_digest(sign(key, parts[2]), parts[1]):
        return None
    try:
        record = json.loads(parts[2])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


# --------------------------------------------------------------------------------------------- in the kernel
def install(config_path: str) -> None:
    """Set up grading in this kernel (the grader's first cell calls this; see the module docstring)."""
    import builtins
    import functools
    import inspect
    import linecache
    import os
    import sys
    import sysconfig
    import threading
    from pathlib import Path
    from types import FunctionType

    from IPython import get_ipython

    import metarl_edu
    from metarl_edu.classroom import cases, checks

    path = Path(config_path)
    config = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    key = bytes.fromhex(config["key"])
    nonce = config["nonce"]
    ip = get_ipython()
    user_ns = ip.user_ns
    registry = checks.exercises()

    # Private references, captured before any learner code runs.
    write, flush = sys.stdout.write, sys.stdout.flush
    getframe, setprofile, thread_setprofile = sys._getframe, sys.setprofile, threading.setprofile
    main_thread, current_thread = threading.main_thread(), threading.current_thread
    dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=True).encode
    hmac_new, sha256, compile_, exec_, isinstance_ = hmac.new, hashlib.sha256, compile, exec, isinstance
    Failure = cases.Failure
    CheckResult = checks.CheckResult

    hidden_file = f"<metarl-edu hidden tests {nonce}>"
    check_file = f"<metarl-edu check {nonce}>"
    grader_files = {hidden_file, check_file}
    package_dir = os.path.realpath(os.path.dirname(metarl_edu.__file__))
    exercises_dir = os.path.join(package_dir, "classroom", "exercises") + os.sep
    trusted_dirs = tuple(
        os.path.realpath(d) + os.sep
        for d in {*(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
                  sys.prefix, sys.base_prefix, sys.exec_prefix, package_dir}
    )

    state: dict[str, Any] = {"context": None, "hidden": False, "learner_cell": False, "depth": 0}
    hits: dict[str, set[str]] = {}
    snapshot: dict[str, tuple[Any, dict[str, Any], list[tuple[Any, Any, Any, Any]]]] = {}
    overlay: dict[str, Any] = {}
    hidden_ns: dict[str, Any] = {}
    learner_cache: dict[str, bool] = {}

    # ------------------------------------------------------------------ whose code is this frame running?
    def is_learner_file(filename: str) -> bool:
        """True for code from a learner cell (marked by the grader) or from anywhere but the installed software,
        the grader and the lesson's own cells (for example code a learner compiled or wrote to a file)."""
        if filename in learner_cache:
            return learner_cache[filename]
        entry = linecache.cache.get(filename)
        lines = entry[2] if entry and len(entry) > 2 else None
        if lines:
            verdict = lines[-1].rstrip() == LEARNER_MARK
        elif filename in grader_files or filename.startswith("<frozen "):
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
    originals: dict[str, tuple[str, Any]] = {}  # exercise id -> (dotted name, reference function)
    guards: dict[int, str] = {}  # id(guard) -> exercise id
    code_ids: dict[tuple[str, int, str], str] = {}  # identity of a reference's code -> exercise id

    def code_id(code: Any) -> tuple[str, int, str]:
        return (os.path.realpath(code.co_filename), code.co_firstlineno, code.co_name)

    def make_guard(exercise_id: str, dotted: str, original: Any) -> Any:
        def guard(*args: Any, **kwargs: Any) -> Any:
            if should_block(exercise_id, getframe(1)):
                hits.setdefault(exercise_id, set()).add(dotted)
                raise ReferenceImplementationUsed(
                    f"{dotted} is the library's reference implementation of exercise {exercise_id!r}; "
                    "while grading it cannot be called from your code: write the function yourself"
                )
            return original(*args, **kwargs)

        for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(guard, attribute, getattr(original, attribute, None))
        guards[id(guard)] = exercise_id
        return guard

    def should_block(exercise_id: str, caller: Any) -> bool:
        if current_thread() is not main_thread:
            return True
        if state["context"] == exercise_id:
            if state["hidden"] and caller.f_code.co_filename == hidden_file:
                return False  # the hidden tests' own call of the reference
            return caller.f_code.co_filename.startswith(exercises_dir) or learner_on_stack(caller)
        return state["context"] is None and state["learner_cell"]

    def profile(frame: Any, event: str, arg: Any) -> None:
        """While an exercise is checked, note calls of its reference's code from learner code (copies and reloads
        of the function included, which the guards cannot see)."""
        if event != "call":
            return
        exercise_id = code_ids.get(code_id(frame.f_code)) if frame.f_code.co_name in names else None
        if exercise_id == state["context"] and frame.f_back is not None \
                and is_learner_file(frame.f_back.f_code.co_filename):
            hits.setdefault(exercise_id, set()).add(originals[exercise_id][0])

    names: set[str] = set()
    for spec in config["exercises"]:
        dotted = spec.get("replaces")
        exercise = registry.get(spec["id"])
        if not dotted or exercise is None:
            continue
        module_name, _, attribute = dotted.rpartition(".")
        original = getattr(__import__(module_name, fromlist=[attribute]), attribute)
        guard = make_guard(spec["id"], dotted, original)
        originals[spec["id"]] = (dotted, original)
        code_ids[code_id(original.__code__)] = spec["id"]
        names.add(original.__code__.co_name)
        for name, module in list(sys.modules.items()):
            if module is None or not (name == "metarl_edu" or name.startswith("metarl_edu.")):
                continue
            if name.startswith("metarl_edu.classroom") and name != "metarl_edu.classroom.references":
                continue  # the checks keep their private references
            for key_, value in list(vars(module).items()):
                if value is original:
                    setattr(module, key_, guard)
        exercise.reference = guard  # pick's fallback works for the lesson's cells, and raises for learner code

    cases = {spec["id"]: registry[spec["id"]].cases for spec in config["exercises"] if spec["id"] in registry}
    cases_code = {k: (f, f.__code__) for k, f in cases.items()}

    def refuse_exit(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("exit() does not stop the kernel while grading")

    ip.ask_exit = refuse_exit

    def pre_run_cell(info: Any) -> None:
        state["learner_cell"] = (info.raw_cell or "").rstrip().endswith(LEARNER_MARK)

    def post_run_cell(result: Any) -> None:
        state["learner_cell"] = False

    ip.events.register("pre_run_cell", pre_run_cell)
    ip.events.register("post_run_cell", post_run_cell)

    # ------------------------------------------------------------------ snapshot and restore
    def protected(name: str) -> bool:
        return name.split(".")[0] in PROTECTED_MODULES

    def take_snapshot() -> None:
        for name, module in list(sys.modules.items()):
            if module is None or not protected(name):
                continue
            namespace = vars(module)
            functions = []
            if name.startswith("metarl_edu"):
                functions = [(f, f.__code__, f.__defaults__, f.__kwdefaults__)
                             for f in namespace.values() if type(f) is FunctionType]
            snapshot[name] = (module, dict(namespace), functions)

    def restore() -> None:
        for name, (module, saved, functions) in snapshot.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
            namespace = vars(module)
            for attribute, value in saved.items():
                if namespace.get(attribute, restore) is not value:
                    namespace[attribute] = value
            for f, code, defaults, kwdefaults in functions:
                if f.__code__ is not code:
                    f.__code__ = code
                if f.__defaults__ is not defaults:
                    f.__defaults__ = defaults
                if f.__kwdefaults__ is not kwdefaults:
                    f.__kwdefaults__ = kwdefaults
        for f, code in cases_code.values():
            if f.__code__ is not code:
                f.__code__ = code

    # ------------------------------------------------------------------ results
    def emit(record: dict[str, Any]) -> None:
        restore()  # learner code may have run since the last restore
        payload = dumps(record)
        line = f"{TAG} {hmac_new(key, payload.encode(), sha256).hexdigest()} {payload}"
        write("\n" + line + "\n")
        flush()

    class Busy:
        """Grader methods do not nest: learner code running inside one cannot call another to emit a result."""

        def __enter__(self) -> None:
            state["depth"] += 1
            if state["depth"] > 1:
                state["depth"] -= 1
                raise RuntimeError("the grader is busy")

        def __exit__(self, *exc: Any) -> None:
            state["depth"] -= 1

    class Context:
        """While exercise ``exercise_id`` is checked: its guard blocks, and calls of its reference are watched."""

        def __init__(self, exercise_id: str, hidden: bool = False) -> None:
            self.exercise_id, self.hidden = exercise_id, hidden

        def __enter__(self) -> None:
            state["context"], state["hidden"] = self.exercise_id, self.hidden
            if self.exercise_id in originals:
                setprofile(profile)
                thread_setprofile(profile)

        def __exit__(self, *exc: Any) -> None:
            setprofile(None)
            thread_setprofile(None)
            state["context"], state["hidden"] = None, False

    def origin(fn: Any) -> Any:
        for _ in range(10):
            if isinstance_(fn, functools.partial):
                fn = fn.func
            elif inspect.ismethod(fn):
                fn = fn.__func__
            else:
                break
        return fn

    def provenance(exercise_id: str, fn: Any) -> dict[str, Any] | None:
        """A verdict when ``fn`` is not the learner's own code: a guard, the reference, or other library code."""
        fn = origin(fn)
        code = getattr(fn, "__code__", None)
        if id(fn) in guards or (code is not None and code_ids.get(code_id(code)) is not None):
            dotted = originals[guards.get(id(fn)) or code_ids[code_id(code)]][0]
            return {"status": "reference", "reason": f"uses the reference implementation ({dotted})"}
        if code is not None and os.path.realpath(code.co_filename).startswith(package_dir + os.sep):
            qualname = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"
            return {"status": "failed", "reason": f"is the library's {qualname}, not your own code"}
        return None

    def run_cases(exercise_id: str, fn: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"status": "failed", "hints": [], "n_cases": 0, "n_passed": 0}
        if exercise_id not in cases:
            return {**result, "status": "error", "reason": f"no check is registered for {exercise_id!r}"}
        if not callable(fn):
            return {**result, "reason": f"expected a function, got {type(fn).__name__}"}
        verdict = provenance(exercise_id, fn)
        if verdict:
            return {**result, **verdict}
        hits.pop(exercise_id, None)
        hints: list[str] = result["hints"]
        n_cases = n_passed = 0
        with Context(exercise_id):
            try:
                for description, run in cases[exercise_id](fn):
                    n_cases += 1
                    try:
                        run()
                    except NotImplementedError:
                        result["status"] = "not_attempted"
                        break
                    except Failure as failure:
                        hints.append(f"{description}: {failure}"[:500])
                    except ReferenceImplementationUsed:
                        break
                    except KeyboardInterrupt:
                        raise
                    except BaseException as exc:  # a learner's bug (SystemExit too) reads as a hint
                        hints.append(f"{description}: your function raised {type(exc).__name__}: {exc}"[:500])
                    else:
                        n_passed += 1
            except KeyboardInterrupt:
                result["status"] = "timeout"
        result.update(n_cases=n_cases, n_passed=n_passed)
        if result["status"] == "failed" and n_cases and n_passed == n_cases:
            result["status"] = "passed"
        elif result["status"] == "failed" and not n_cases:
            result["reason"] = "no check cases ran"
        if exercise_id in hits:
            result["status"] = "reference"
            result["reason"] = f"uses the reference implementation ({', '.join(sorted(hits[exercise_id]))})"
        del hints[20:]
        return result

    def namespace(private: dict[str, Any]) -> dict[str, Any]:
        env = dict(user_ns)
        env.update(overlay)
        env.update(private)
        return env

    # ------------------------------------------------------------------ the methods the grader's cells call
    def after_setup(cell_nonce: str) -> None:
        """After the lesson's setup cell (before any learner cell): snapshot modules and the setup's names."""
        with Busy():
            take_snapshot()
            skip = set(config.get("functions", [])) | {"In", "Out", "exit", "quit", "get_ipython", GRADER_NAME}
            overlay.update({k: v for k, v in user_ns.items() if not k.startswith("_") and k not in skip})
            emit({"kind": "setup", "nonce": cell_nonce})

    def check_cell(exercise_id: str, source: str, cell_nonce: str) -> None:
        """Run the master's check cell with the grader's private ``check``; emit the result."""
        with Busy():
            restore()
            results: dict[str, dict[str, Any]] = {}

            def check(checked_id: str, fn: Any) -> Any:
                results[checked_id] = run_cases(checked_id, fn)
                return None

            record: dict[str, Any]
            try:
                exec_(compile_(source, check_file, "exec"), namespace({"check": check}))
                record = results.get(exercise_id) or {"status": "error", "reason": "the check did not run"}
            except NameError as exc:
                record = {"status": "missing", "reason": str(exc)}
            except KeyboardInterrupt:
                record = {"status": "timeout"}
            except BaseException as exc:  # the grader reports, whatever learner code did to the namespace
                record = {"status": "error", "reason": f"the check could not run ({type(exc).__name__}: {exc})"}
            restore()
            session = checks._session
            if session is not None and record.get("status") in ("passed", "failed", "not_attempted"):
                session.results[exercise_id] = CheckResult(exercise_id, record["status"], list(record["hints"]),
                                                           record["n_cases"], record["n_passed"])
            elif session is not None:
                session.results[exercise_id] = CheckResult(exercise_id, "failed", [record.get("reason", "")])
            emit({"kind": "check", "exercise": exercise_id, "nonce": cell_nonce, **record})

    def hidden_tests(exercise_id: str, source: str, cell_nonce: str) -> None:
        """Run one block of the master's hidden tests for ``exercise_id``; emit whether it passed."""
        with Busy():
            restore()
            hits.pop(exercise_id, None)
            env = namespace(hidden_ns)
            before = dict(env)
            record: dict[str, Any] = {"status": "passed"}
            with Context(exercise_id, hidden=True):
                try:
                    exec_(compile_(source, hidden_file, "exec"), env)
                except KeyboardInterrupt:
                    record = {"status": "timeout"}
                except BaseException as exc:
                    record = {"status": "failed", "error": type(exc).__name__}
            if exercise_id in hits:
                record = {"status": "reference",
                          "reason": f"uses the reference implementation ({', '.join(sorted(hits[exercise_id]))})"}
            hidden_ns.update({k: v for k, v in env.items() if k != "__builtins__" and before.get(k, env) is not v})
            emit({"kind": "hidden", "exercise": exercise_id, "nonce": cell_nonce, **record})

    class Grader:
        """What the grader's cells call (see the module docstring)."""

        __slots__ = ()

    grader = Grader()
    for function in (after_setup, check_cell, hidden_tests):
        setattr(Grader, function.__name__, staticmethod(function))
    user_ns[GRADER_NAME] = grader
    _ = builtins  # imported for the snapshot's sake (builtins is a protected module)
