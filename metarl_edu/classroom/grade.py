"""``metarl-edu grade``: grade a folder of learners' notebooks into a CSV gradebook and feedback files.

Each submission is a learner's copy of a lesson notebook. The grader

1. reads it without changing it, never through a symbolic link and only if it is a regular file of at most
   :data:`MAX_BYTES`, checks its JSON (nesting depth, the types of the fields it uses) and finds its lesson from its
   metadata; anything wrong gives a row that says so, and one file never stops the run;
2. maps its cells back to the lesson's master through the cell metadata and ids the build writes, and assembles
   the notebook to execute from the master's own structure: the setup cell and the lesson's other cells come from
   ``course/``; only the exercise cells, and cells the learner added, come from the submission. Each check cell
   and each block of hidden tests becomes a call of the kernel's recorder, placed where the master has it;
3. executes it in quick mode, strict mode off, in a fresh kernel: its own process (started through
   ``limits.py`` with an address-space limit, and as an unprivileged user when the grader runs as root and one is
   usable), its own empty temporary working directory and a minimal environment, with a time limit per cell and
   per notebook. A cell that runs past its limit is interrupted; a kernel that dies or ignores the interrupt is
   killed, and the notebook runs again in a fresh kernel without that cell (at most twice);
4. judges, in this process, what the kernel reports. **The trust split:** learner code runs only in the kernel,
   which calls the learner's functions and reports their answers as plain data (:mod:`metarl_edu.classroom.wire`,
   :mod:`metarl_edu.classroom.sandbox`); the grader replays them through its own copy of the check cases, builds
   the hidden tests' inputs itself and runs their judges here, so expected answers, hidden judges and every
   comparison stay out of the kernel, and hints are the grader's own words. Nothing the kernel says is signed or
   needs to be: a forged report can only claim answers, which are judged like any others;
5. reads the learner's source (:mod:`metarl_edu.classroom.review`): a use of the exercise's reference or of the
   library's other versions of it scores 0, and what static reading cannot follow is flagged for review;
6. scores each exercise: its points when the check passes and the hidden tests pass, else 0 with a reason.

A kernel's output is capped by the grader, which reads its clock between short slices of message reading: an
oversized message is refused by zmq unread, and a cell that floods its output is cut (see :meth:`Kernel.run`).

Results are saved one file per submission in a private state folder next to the gradebook, each written
atomically, keyed by the submission's content hash, a hash of the grader's code, the lesson's master and the
limits, so an interrupted run resumes where it stopped and a rerun only grades what changed.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import errno
import functools
import hashlib
import io
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from metarl_edu import config
from metarl_edu.classroom import build
from metarl_edu.classroom.limits import default_memory_mb, torch_build
from metarl_edu.classroom.review import DYNAMIC, parse_source, python_source
from metarl_edu.classroom.sandbox import GRADER_NAME, LEARNER_MARK, TAG, read_report_line

GRADER_VERSION = "1"
LIMITS_SCRIPT = Path(__file__).with_name("limits.py")
PACKAGE_DIR = Path(__file__).resolve().parents[1]
MAX_BYTES = 50 * (1 << 20)  # a submission larger than this is refused unread
MAX_ATTEMPTS = 3  # one run, plus at most two reruns without a cell that stopped the kernel
KERNEL_START_S = 60.0
INTERRUPT_GRACE_S = 3.0
TRUSTED_CELL_S = 60.0
# What one kernel may send the grader. A message larger than MAX_MESSAGE_BYTES is refused by zmq before it is read
# (the kernel's connection is dropped, which the grader sees and reports); a cell whose output passes
# MAX_CELL_OUTPUT characters or MAX_CELL_MESSAGES messages is cut: its kernel is stopped and the cell is skipped.
MAX_MESSAGE_BYTES = 8 << 20
MAX_QUEUED_MESSAGES = 64  # per channel, so at most 64 x 8 MiB wait in the grader's memory
MAX_CELL_OUTPUT = 32 << 20
MAX_CELL_MESSAGES = 20_000
SLICE_S = 0.05  # messages are read for at most this long before the grader looks at its clock again
REPLY_GRACE_S = 5.0  # after the cell's reply, how long to wait for its last output when a message was dropped
DEATH_GRACE_S = 1.0  # a dropped connection counts as an oversized message unless the kernel dies within this
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV")


_STOP = threading.Event()  # set when a run is interrupted: kernels still running are killed, nothing reruns


class GradeError(ValueError):
    """A problem with the grader's own inputs (the course, the arguments), not with a submission."""


@dataclass(frozen=True)
class Limits:
    """How a notebook may run while it is graded.

    Attributes:
        cell_timeout: seconds one cell may run, > 0; past it the cell is interrupted (and the kernel killed if the
            interrupt is ignored for a few seconds).
        notebook_timeout: seconds the whole notebook may run, reruns included, > 0.
        memory_mb: the memory a kernel may use, in MiB; 0 for none; ``None`` for the default, which depends on the
            build of torch installed (:func:`~metarl_edu.classroom.limits.default_memory_mb`). In a jail, what the
            kernel and everything it starts really hold (its cgroup's limit, ``/tmp`` and ``/dev/shm`` included);
            without one, the address space of the kernel's process alone (``RLIMIT_AS``), which is more than it
            holds: numpy, matplotlib and torch reserve address space when imported (torch's CUDA build, gigabytes).
        fsize_mb: the largest file the kernel may write, in MiB (``RLIMIT_FSIZE``); 0 for none.
        user: without a jail, the unprivileged user kernels run as when the grader runs as root (``None``: the
            grader's own user). A jailed kernel has a user of its own.
        output_chars: characters of each cell's printed output kept for feedback; the rest is counted, not kept.
        isolation: ``jail`` (each kernel in a jail, :mod:`metarl_edu.classroom.jail`; grading refuses to start where
            none can be made), ``none`` (a trusted class: kernels as above, without a jail) or ``auto`` (a jail
            where one can be made).
    """

    cell_timeout: float = 120.0
    notebook_timeout: float = 900.0
    memory_mb: int | None = None
    fsize_mb: int = 256
    user: str | None = None
    output_chars: int = 4000
    isolation: str = "jail"

    def __post_init__(self) -> None:
        if self.isolation not in ("jail", "none", "auto"):
            raise GradeError(f"isolation must be 'jail', 'none' or 'auto'; got {self.isolation!r}")
        if self.memory_mb is None:
            object.__setattr__(self, "memory_mb", default_memory_mb("jail" if self.jailed else "none"))
        for name, kind in (("cell_timeout", float), ("notebook_timeout", float), ("memory_mb", int),
                           ("fsize_mb", int), ("output_chars", int)):
            object.__setattr__(self, name, kind(getattr(self, name)))  # 3 and 3.0 are the same limit
        if not (self.cell_timeout > 0 and self.notebook_timeout > 0):
            raise GradeError(f"time limits must be positive; got {self.cell_timeout} and {self.notebook_timeout}")
        if self.memory_mb < 0 or self.fsize_mb < 0:
            raise GradeError(f"memory and file limits must be >= 0 MiB; got {self.memory_mb} and {self.fsize_mb}")

    @property
    def jailed(self) -> bool:
        """Whether kernels run in a jail: always for ``jail`` (see :func:`require_jail`), where possible for
        ``auto``."""
        from metarl_edu.classroom import jail

        return self.isolation == "jail" or (self.isolation == "auto" and jail.unavailable() is None)


def require_jail(limits: Limits) -> None:
    """Refuse to grade, with the reason and the way out, when ``limits`` ask for a jail that cannot be made."""
    from metarl_edu.classroom import jail

    reason = jail.unavailable() if limits.isolation == "jail" else None
    if reason:
        raise GradeError(f"cannot jail the kernels here: {reason}. Untrusted code is not graded without a jail; "
                         "for a class you trust, pass --trusted-class (kernels then run without one)")


# --------------------------------------------------------------------------------------------- lesson plans
@dataclass(frozen=True)
class ExerciseInfo:
    """One graded exercise of a lesson, as its master declares it."""

    id: str
    points: float
    hint: str
    replaces: str | None
    function: str  # the name the check cell passes to check(...)


@dataclass(frozen=True)
class MasterCell:
    """One code cell of the master, in the form the grader executes it.

    ``role`` is ``setup``, ``code``, ``exercise`` or ``check``; ``hidden`` holds the cell's hidden-test regions as
    ``(exercise id, code)`` pairs, run right after the cell.
    """

    index: int
    role: str
    source: str
    exercise: str | None = None
    hidden: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LessonPlan:
    """What grading needs to know about one lesson."""

    stem: str
    title: str
    exercises: tuple[ExerciseInfo, ...]
    cells: tuple[MasterCell, ...]
    fingerprint: str  # changes whenever the master changes
    has_hidden: bool

    @property
    def max_points(self) -> float:
        return sum(e.points for e in self.exercises)

    def exercise(self, exercise_id: str) -> ExerciseInfo:
        return next(e for e in self.exercises if e.id == exercise_id)


def _check_function_name(source: str, exercise_id: str) -> str:
    """The name passed to ``check("<id>", name)`` in a check cell (falls back to the exercise id)."""
    try:
        tree = parse_source(source)
    except SyntaxError:
        return exercise_id
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == exercise_id and isinstance(node.args[1], ast.Name)):
            return node.args[1].id
    return exercise_id


def _hidden_regions(source: str) -> list[tuple[str, str]]:
    regions, body, current = [], [], None
    for line in source.splitlines():
        begin = build.BEGIN_HIDDEN.match(line)
        if begin:
            current, body = build._parse_attrs(begin.group("attrs"), "")["id"], []
        elif build.END_HIDDEN.match(line) and current:
            regions.append((current, "\n".join(body)))
            current = None
        elif current:
            body.append(line)
    return regions


def plan_from_master(path: Path) -> LessonPlan:
    """The plan of a master ``course/NN_name.py`` (with its hidden tests)."""
    lesson = build.load_lesson(Path(path))
    specs = iter(lesson.exercises)
    cells: list[MasterCell] = []
    for index, cell in enumerate(lesson.notebook.cells):
        if cell.cell_type != "code":
            continue
        source = cell.source
        hidden = tuple(_hidden_regions(source))
        text = build._transform_source(source, "lesson")
        check_ids = build.CHECK_CALL.findall(source)
        if not cells:
            cells.append(MasterCell(index, "setup", text, hidden=hidden))
        elif any(build.BEGIN_SOLUTION.match(line) for line in source.splitlines()):
            cells.append(MasterCell(index, "exercise", text, next(specs).id, hidden))
        elif check_ids:
            cells.append(MasterCell(index, "check", text, check_ids[0], hidden))
        else:
            cells.append(MasterCell(index, "code", text, hidden=hidden))
    checks = {c.exercise: c.source for c in cells if c.role == "check"}
    exercises = tuple(
        ExerciseInfo(e.id, e.points, e.hint, e.replaces, _check_function_name(checks.get(e.id, ""), e.id))
        for e in lesson.exercises
    )
    fingerprint = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return LessonPlan(lesson.stem, lesson.title, exercises, tuple(cells), fingerprint,
                      has_hidden=bool(lesson.hidden_tests))


def plan_from_notebook(path: Path) -> LessonPlan:
    """The plan of a generated lesson notebook (``lessons/NN_name.ipynb``): no hidden tests, which only the
    masters hold. Used by the self-check where ``course/`` is absent (a class release)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    meta = nb.get("metadata", {}).get("metarl_edu", {})
    cells: list[MasterCell] = []
    hints: dict[str, str] = {}
    replaces: dict[str, str | None] = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        cell_meta = cell.get("metadata", {}).get("metarl_edu", {})
        source = _source(cell)
        role = cell_meta.get("role", "code")
        cells.append(MasterCell(int(cell_meta.get("master_cell", len(cells))), role, source, cell_meta.get("exercise")))
        if role == "exercise":
            match = re.search(r"raise NotImplementedError\((\".*\")\)", source)
            hints[cell_meta["exercise"]] = json.loads(match.group(1)) if match else ""
            replaces[cell_meta["exercise"]] = cell_meta.get("replaces")
    checks = {c.exercise: c.source for c in cells if c.role == "check"}
    exercises = tuple(
        ExerciseInfo(e["id"], float(e["points"]), hints.get(e["id"], ""), replaces.get(e["id"]),
                     _check_function_name(checks.get(e["id"], ""), e["id"]))
        for e in meta.get("exercises", [])
    )
    fingerprint = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return LessonPlan(meta["lesson"], meta.get("title", meta["lesson"]), exercises, tuple(cells), fingerprint, False)


@lru_cache(maxsize=8)
def _load_plans(folder: str, kind: str) -> dict[str, LessonPlan]:
    if kind == "course":
        return {p.stem: plan_from_master(p) for p in build.discover(Path(folder))}
    return {p.stem: plan_from_notebook(p) for p in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))}


def load_plans(course: Path) -> dict[str, LessonPlan]:
    """Plans for every lesson: from ``course/*.py`` masters, or from ``lessons/*.ipynb`` when given that folder."""
    course = Path(course).resolve()
    if list(course.glob("[0-9][0-9]_*.py")):
        return _load_plans(str(course), "course")
    if list(course.glob("[0-9][0-9]_*.ipynb")):
        return _load_plans(str(course), "lessons")
    raise GradeError(f"no lesson masters (course/NN_name.py) or lesson notebooks in {course}")


def find_course(root: Path | None = None) -> Path:
    """The folder to take lessons from: ``course/`` of the checkout, else ``lessons/`` (a class release)."""
    package_root = Path(__file__).resolve().parents[2]
    for base in ([Path(root)] if root else []) + [Path.cwd(), package_root]:
        for name in ("course", "lessons"):
            folder = base / name
            if folder.is_dir() and any(folder.glob("[0-9][0-9]_*.*")):
                return folder
    raise GradeError("cannot find course/ or lessons/; run from the course checkout or pass --course")


# --------------------------------------------------------------------------------------------- submissions
MAX_DEPTH = 64  # JSON nesting deeper than this is no notebook (a lesson's is about 8 deep)
MAX_CELLS = 5000
LESSON_ID = re.compile(r"\d\d_[A-Za-z0-9_]{1,60}")


@dataclass
class Submission:
    """A submission as read from disk: its bytes' hash, its code cells, its lesson, or why it cannot be graded.

    ``name`` is the path relative to the submissions folder as shown in the gradebook: bytes that are not UTF-8
    and control characters are escaped (``caf\\xe9.ipynb``), so every name can be written to the CSV.
    """

    path: Path
    name: str
    sha256: str = ""
    cells: list[dict[str, Any]] = field(default_factory=list)
    lesson: str | None = None
    error: str | None = None


def display_name(raw: str | bytes) -> str:
    """A file name as the gradebook shows it: UTF-8 decoded, with other bytes and control characters escaped."""
    data = os.fsencode(raw) if isinstance(raw, str) else raw
    return _printable(data.decode("utf-8", errors="backslashreplace"))


def _printable(text: str) -> str:
    """``text`` with control characters (and anything else not printable) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


LESSON_CALL = re.compile(r"""start_lesson\(\s*["'](?P<lesson>\d\d_\w+)["']""")


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when lists and objects nest deeper than ``limit`` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    """The code cells as the grader uses them (source, id, the ``metarl_edu`` metadata, and ``number``: the cell's
    place among all the notebook's cells, counted from 1 as JupyterLab shows them), each field checked; raises
    ValueError with the reason for a malformed cell."""
    cells = []
    if len(nb["cells"]) > MAX_CELLS:
        raise ValueError(f"{len(nb['cells'])} cells (at most {MAX_CELLS})")
    for number, cell in enumerate(nb["cells"], 1):
        if not isinstance(cell, dict):
            raise ValueError(f"cell {number} is not a JSON object")
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ValueError(f"the source of cell {number} is not text")
        meta = cell.get("metadata", {})
        meta = meta.get("metarl_edu", {}) if isinstance(meta, dict) else {}
        meta = {k: v for k, v in meta.items() if isinstance(v, (str, int)) and not isinstance(v, bool)} \
            if isinstance(meta, dict) else {}
        cell_id = cell.get("id", "")
        cells.append({"cell_type": "code", "source": source, "id": cell_id if isinstance(cell_id, str) else "",
                      "metadata": {"metarl_edu": meta}, "number": number})
    return cells


def parse_submission(sub: Submission, data: bytes, plans: dict[str, LessonPlan]) -> Submission:
    """Fill ``sub`` from the file's bytes: its hash, code cells and lesson, or the reason it cannot be graded."""
    sub.sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        sub.error = f"the file is too large to be a lesson notebook (over {MAX_BYTES >> 20} MiB)"
        return sub
    if not data.strip():
        sub.error = "invalid notebook: the file is empty"
        return sub
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        sub.error = "invalid notebook: the file is not UTF-8 text"
        return sub
    except RecursionError:
        sub.error = f"invalid notebook: JSON nested more than {MAX_DEPTH} levels deep"
        return sub
    except ValueError as exc:
        sub.error = f"invalid notebook: not valid JSON ({str(exc)[:200]})"
        return sub
    if _too_deep(nb):
        sub.error = f"invalid notebook: JSON nested more than {MAX_DEPTH} levels deep"
        return sub
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        sub.error = "invalid notebook: a Jupyter notebook is a JSON object with a list of cells"
        return sub
    try:
        sub.cells = _code_cells(nb)
    except ValueError as exc:
        sub.error = f"invalid notebook: {exc}"
        return sub
    meta = nb.get("metadata")
    meta = meta.get("metarl_edu") if isinstance(meta, dict) else None
    lesson = meta.get("lesson") if isinstance(meta, dict) else None
    if lesson is None:
        found = [m.group("lesson") for c in sub.cells for m in [LESSON_CALL.search(c["source"])] if m]
        lesson = found[0] if found else None
    if lesson is None:
        sub.error = "not a lesson of this course: no metarl_edu lesson in its metadata and no start_lesson call"
    elif not isinstance(lesson, str) or not LESSON_ID.fullmatch(lesson):
        kinds = {dict: "object", list: "array", bool: "boolean", int: "number", float: "number"}
        shown = repr(display_name(lesson[:60])) if isinstance(lesson, str) else \
            f"a JSON {kinds.get(type(lesson), 'value')}"
        sub.error = f"invalid notebook: its metadata names the lesson as {shown}, not as NN_name"
    elif lesson not in plans:
        sub.error = f"unknown lesson {lesson!r}; this course has {', '.join(sorted(plans))}"
    else:
        sub.lesson = lesson
    return sub


def _read_regular_file(name: str | bytes, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file, opened without following a symbolic link (``O_NOFOLLOW``) and read up to one
    byte past :data:`MAX_BYTES`; raises OSError with a reason for anything else."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, "a symbolic link; the grader reads regular files only") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file; the grader reads regular files only")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_submission(path: Path, name: str, plans: dict[str, LessonPlan], dir_fd: int | None = None) -> Submission:
    """Read a submission (never writing to it) and say which lesson it is, or why it cannot be graded.

    Never raises: whatever is wrong with the file becomes the submission's ``error``. With ``dir_fd``, ``path``
    is a bare file name in that open folder (how :func:`grade_folder` reads, so no link on the way is followed).
    """
    sub = Submission(Path(os.fsdecode(path)), display_name(name))
    try:
        data = _read_regular_file(path, dir_fd)
    except OSError as exc:
        sub.error = f"cannot read the file ({exc.strerror or exc})"
        return sub
    try:
        return parse_submission(sub, data, plans)
    except Exception as exc:  # noqa: BLE001  (one file never stops the run)
        sub.cells, sub.lesson = [], None
        sub.error = f"invalid notebook: the grader could not read it ({type(exc).__name__})"
        return sub


# --------------------------------------------------------------------------------------------- assembling
@dataclass(frozen=True)
class RunCell:
    """One cell of the notebook the grader executes.

    ``kind``: ``grader`` (the grader's own first cell), ``setup``, ``code`` (the lesson's cells), ``learner``,
    ``check`` or ``hidden``. ``exercise`` names the exercise a learner, check or hidden cell belongs to. A hidden
    cell runs only its inputs and probe in the kernel; ``inputs`` and ``judge`` are kept here, for the grader.
    """

    kind: str
    source: str
    exercise: str | None = None
    label: str = ""
    nonce: str = ""
    inputs: str = ""
    judge: str = ""
    names: tuple[str, ...] = ()


def _bound_names(source: str) -> set[str]:
    """The names ``source`` binds in its own scope (inside loops, ``if``, ``try`` and ``with`` too; not the
    variables of comprehensions, lambdas and functions)."""
    try:
        tree = parse_source(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    scopes = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda, ast.FunctionDef,
              ast.AsyncFunctionDef, ast.ClassDef)
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                found.add(child.id)
            elif isinstance(child, ast.ExceptHandler) and child.name:
                found.add(child.name)
            if not isinstance(child, scopes):
                stack.append(child)
    return found


def _read_names(source: str) -> set[str]:
    try:
        tree = parse_source(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def probe_names(inputs: str, probe: str, judge: str) -> list[str]:
    """The names whose values a hidden test's probe sends back: bound by the probe and read by the judge, never one
    the inputs bind (the grader builds those itself)."""
    return sorted((_bound_names(probe) & _read_names(judge)) - _bound_names(inputs))


def _classify(cell: dict[str, Any], plan: LessonPlan) -> tuple[str, int | str | None]:
    """(``exercise``, id) for a learner's exercise cell; (``master``, index) for a cell the master owns; else
    (``added``, None) for a cell the learner added. A cell is known by its metadata or its id, or, where a tool
    dropped both, by its source when that is a cell of the released lesson, unchanged."""
    meta = cell.get("metadata", {})
    meta = meta.get("metarl_edu", {}) if isinstance(meta, dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    cell_id = str(cell.get("id", ""))
    ids = {e.id for e in plan.exercises}
    if meta.get("role") == "exercise" and meta.get("exercise") in ids:
        return "exercise", meta["exercise"]
    if cell_id.startswith("exercise-") and cell_id[len("exercise-"):] in ids:
        return "exercise", cell_id[len("exercise-"):]
    owned = {c.index for c in plan.cells if c.role != "exercise"}
    if meta.get("role") in ("setup", "check", "code") and meta.get("master_cell") in owned:
        return "master", int(meta["master_cell"])
    if cell_id == "setup":
        return "master", plan.cells[0].index
    match = re.fullmatch(r"cell-(\d+)", cell_id)
    if match and int(match.group(1)) in owned:
        return "master", int(match.group(1))
    if cell_id.startswith("check-") and any(c.exercise == cell_id[6:] for c in plan.cells if c.role == "check"):
        return "master", next(c.index for c in plan.cells if c.role == "check" and c.exercise == cell_id[6:])
    source = _source(cell).strip()
    unchanged = next((c for c in plan.cells if source and c.source.strip() == source), None)
    if unchanged is not None:
        return ("exercise", unchanged.exercise) if unchanged.role == "exercise" else ("master", unchanged.index)
    return "added", None


def _shown_line(line: str, width: int = 40) -> str:
    """A line of the learner's source as a reason quotes it: stripped, shortened, control characters escaped."""
    text = _printable(line.strip())
    return f"`{text if len(text) <= width else text[:width - 3] + '...'}`"


def _cell_name(number: int, source: str) -> str:
    """How a reason names a cell the learner added: its place among all the notebook's cells (markdown cells count,
    as in JupyterLab) and its first line of code."""
    first = next((line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    return f"your cell {number}" + (f" ({_shown_line(first)})" if first else "")


def grader_spec(plan: LessonPlan) -> str:
    """What the kernel's first cell is told (JSON): each exercise's id, function name and the library functions it
    may not call. No secret: the kernel holds nothing the grader trusts."""
    return json.dumps({"exercises": [{"id": e.id, "function": e.function, "replaces": list(references(e))}
                                     for e in plan.exercises]})


def references(ex: ExerciseInfo) -> tuple[str, ...]:
    """The dotted names of the library functions exercise ``ex`` re-implements: its ``replaces=`` marker and the
    library's other versions of it (the exercise's ``equivalents``)."""
    from metarl_edu.classroom.checks import exercises

    registered = exercises().get(ex.id)
    return tuple(dict.fromkeys([*([ex.replaces] if ex.replaces else []),
                                *(registered.equivalents if registered else ())]))


def assemble(plan: LessonPlan, cells: list[dict[str, Any]]) -> list[RunCell]:
    """The notebook to execute: the master's cells in the master's order, with the submission's exercise cells in
    their slots and the cells the learner added after the cell they follow (never before the setup cell). Check
    cells and hidden tests are replaced by calls of the kernel's recorder (:mod:`metarl_edu.classroom.sandbox`)."""
    slot = {c.exercise: c.index for c in plan.cells if c.role == "exercise"}
    setup_index = plan.cells[0].index
    placed: list[tuple[tuple[int, int, int], RunCell]] = []
    anchor = setup_index
    for position, cell in enumerate(cells):
        kind, what = _classify(cell, plan)
        source = _source(cell).rstrip()
        if kind == "exercise":
            anchor = slot[str(what)]
            text = f"{source}\n{LEARNER_MARK}"
            placed.append(((anchor, 1, position), RunCell("learner", text, str(what), f"exercise-{what}")))
        elif kind == "master":
            anchor = max(int(what), setup_index)  # type: ignore[arg-type]
        elif source.strip():
            owner = next((c.exercise for c in plan.cells if c.index == anchor and c.role == "exercise"), None)
            text = f"{source}\n{LEARNER_MARK}"
            label = _cell_name(int(cell.get("number", position + 1)), source)
            placed.append(((anchor, 1, position), RunCell("learner", text, owner, label)))
    for cell in plan.cells:
        if cell.role == "setup":
            placed.append(((cell.index, 0, 0), RunCell("setup", cell.source, label="setup")))
        elif cell.role == "check" and cell.exercise:
            nonce = secrets.token_hex(8)
            function = plan.exercise(cell.exercise).function
            source = f"{GRADER_NAME}.check({cell.exercise!r}, {function!r}, {nonce!r})"
            placed.append(((cell.index, 0, 0), RunCell("check", source, cell.exercise, f"check-{cell.exercise}",
                                                       nonce)))
        elif cell.role == "code" and cell.source.strip():
            placed.append(((cell.index, 0, 0), RunCell("code", cell.source, label=f"cell-{cell.index:02d}")))
        for k, (exercise_id, code) in enumerate(cell.hidden):
            inputs, probe, judge = build.split_hidden(code)
            nonce = secrets.token_hex(8)
            names = probe_names(inputs, probe, judge)
            source = f"{GRADER_NAME}.hidden({exercise_id!r}, {inputs + chr(10) + probe!r}, {names!r}, {nonce!r})"
            placed.append(((cell.index, 0, 2 + k), RunCell("hidden", source, exercise_id, "hidden tests", nonce,
                                                           inputs, judge, tuple(names))))
    preamble = (f"import metarl_edu.classroom.sandbox as _sandbox\n_sandbox.install({grader_spec(plan)!r})\n"
                "del _sandbox")
    ordered = [RunCell("grader", preamble, label="grader setup")]
    ordered += [cell for _, cell in sorted(placed, key=lambda item: item[0])]
    return ordered


# --------------------------------------------------------------------------------------------- the kernel
@dataclass
class Outcome:
    """What executing one cell gave.

    ``status``: ``ok``, ``error`` (the cell raised), ``timeout`` (interrupted at its time limit), ``dead`` (the
    kernel process ended), ``hung`` (it ignored the interrupt and was killed) or ``exit`` (it asked to exit).
    """

    status: str  # also ``flood``: it sent more output than a cell may (the kernel was stopped)
    ename: str = ""
    evalue: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    printed_chars: int = 0  # everything the cell sent (text and displays): the flood limit
    stream_chars: int = 0  # what it printed (stdout and stderr)
    seconds: float = 0.0
    dropped: bool = False  # zmq dropped the kernel's connection (an oversized message)
    oom: bool = False  # the jail's memory limit was reached while the cell ran (a process of it was killed)
    flood: str = ""  # what the flood was, when status is ``flood``


def resolve_user(name: str | None) -> tuple[int, int] | None:
    """(uid, gid) of ``name`` when the grader runs as root, else None (kernels keep the grader's user)."""
    if not name or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def kernel_user(requested: str | None = "nobody") -> tuple[str | None, str]:
    """The user kernels will run as, and a line saying why: ``requested`` when the grader runs as root and that
    user can start this Python and import the course; else the grader's own user."""
    if not requested:
        return None, "kernels run as the grader's own user (no --user given)"
    if os.geteuid() != 0:
        return None, "kernels run as the grader's own user (the grader is not root, so it cannot switch users)"
    ids = resolve_user(requested)
    if ids is None:
        return None, f"kernels run as root: there is no user {requested!r}"
    probe = ("import importlib.util as u, sys; s = u.find_spec('metarl_edu'); k = u.find_spec('ipykernel'); "
             "open(s.origin).close(); open(k.origin).close()")
    with tempfile.TemporaryDirectory(prefix="metarl-edu-probe-") as folder:
        os.chown(folder, *ids)
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", str(LIMITS_SCRIPT), "--", sys.executable, "-c", probe],
                cwd=folder, env=_kernel_env(Path(folder)), user=ids[0], group=ids[1], extra_groups=[],
                capture_output=True, text=True, timeout=60,
            )
            problem = done.stderr.strip().splitlines()[-1] if done.returncode else ""
        except (OSError, subprocess.SubprocessError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
    if problem:
        return None, (f"kernels run as root: user {requested!r} cannot start {sys.executable} and import the course "
                      f"({problem[:200]}); install the course where that user can read it to isolate kernels")
    return requested, f"kernels run as user {requested!r}"


def _kernel_env(work: Path) -> dict[str, str]:
    """The kernel's whole environment: no secret of the grader's, quick mode, and its own folders under ``work``
    (for a jailed kernel, its private ``/tmp``: a fresh IPython folder, so no startup file)."""
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    env.update({
        config.QUICK_VAR: "1", config.STRICT_VAR: "0", "MPLBACKEND": "Agg", "HOME": str(work),
        "IPYTHONDIR": str(work / ".ipython"), "MPLCONFIGDIR": str(work / ".matplotlib"), "TMPDIR": str(work),
        "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    return env


@lru_cache(maxsize=1)
def _zmq_context() -> Any:
    """The grader's zmq context: every socket it makes refuses oversized messages and queues only a few."""
    import zmq

    context = zmq.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    context.setsockopt(zmq.RCVHWM, MAX_QUEUED_MESSAGES)
    return context


class Kernel:
    """A fresh IPython kernel under limits, in its own temporary working directory; ``run`` executes one cell."""

    _live: set[Kernel] = set()
    _lock = threading.Lock()

    @classmethod
    def kill_all(cls) -> None:
        """Kill every kernel this process started that is still running (after an interrupt)."""
        with cls._lock:
            live = list(cls._live)
        for kernel in live:
            kernel.kill()

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.jailed = limits.jailed
        self.work = Path(tempfile.mkdtemp(prefix="metarl-edu-grade-"))
        self.private = Path(tempfile.mkdtemp(prefix="metarl-edu-grader-"))
        self.ids = None if self.jailed else resolve_user(limits.user)
        self.process: subprocess.Popen[bytes] | None = None
        self.client: Any = None
        self.cgroup: Any = None
        self.uid: int | None = None
        self.memory_peak_mb: float | None = None

    def start(self) -> None:
        import zmq
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        connection = self.work / ".kernel.json"
        write_connection_file(str(connection), transport="ipc", ip=str(self.work / ".kernel"))
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection),
                  "--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
        with self._lock:
            self._live.add(self)
        user: dict[str, Any] = {}
        if self.jailed:
            from metarl_edu.classroom import jail

            self.cgroup = jail.Cgroup(self.limits.memory_mb)
            self.uid = jail.take_uid()
            for path in (self.work, connection):
                os.chown(path, self.uid, self.uid)
            inner = [sys.executable, str(LIMITS_SCRIPT), "--uid", str(self.uid), "--fsize-mb",
                     str(self.limits.fsize_mb), "--", *kernel]
            command = [sys.executable, "-I", "-S", str(LIMITS_SCRIPT),
                       *[arg for folder in self.cgroup.dirs for arg in ("--cgroup", str(folder))], "--",
                       *jail.command(inner, work=self.work, env=_kernel_env(Path("/tmp")))]
        else:
            if self.ids:
                os.chown(self.work, *self.ids)
                os.chown(connection, *self.ids)
                user = {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}
            command = [sys.executable, "-I", "-S", str(LIMITS_SCRIPT), "--memory-mb", str(self.limits.memory_mb),
                       "--fsize-mb", str(self.limits.fsize_mb), "--", *kernel]
        with open(self.private / "kernel.log", "wb") as log:
            self.process = subprocess.Popen(command, cwd=self.work, env=_kernel_env(self.work),
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True, **user)
        self.client = BlockingKernelClient(connection_file=str(connection), context=_zmq_context())
        self.client.load_connection_file()
        self.client.start_channels(hb=False)  # liveness is the process itself, watched in run()
        self.poller = zmq.Poller()
        for channel in (self.client.shell_channel, self.client.iopub_channel):
            self.poller.register(channel.socket, zmq.POLLIN)
        # zmq drops the connection of a kernel that sends an oversized message: the monitor says so.
        self.monitors = [channel.socket.get_monitor_socket(
                             zmq.EVENT_DISCONNECTED, f"inproc://metarl-edu-monitor-{secrets.token_hex(8)}")
                         for channel in (self.client.shell_channel, self.client.iopub_channel)]
        for monitor in self.monitors:
            self.poller.register(monitor, zmq.POLLIN)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Ask for kernel_info until the kernel answers on the shell channel *and* its iopub messages arrive
        (then no output of the first cell can be lost)."""
        deadline = time.monotonic() + KERNEL_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_tail = (self.private / "kernel.log").read_text(errors="replace")[-500:]
                raise RuntimeError(f"the kernel exited with status {self.process.returncode} while starting; "
                                   f"its log ends: {log_tail}")
            msg_id = self.client.kernel_info()
            replied = published = False
            ask_again = time.monotonic() + 1.0
            while time.monotonic() < ask_again and not (replied and published):
                self.poller.poll(100)
                while self.client.shell_channel.msg_ready():
                    replied |= self.client.get_shell_msg(timeout=0)["parent_header"].get("msg_id") == msg_id
                while self.client.iopub_channel.msg_ready():
                    published |= self.client.get_iopub_msg(timeout=0)["parent_header"].get("msg_id") == msg_id
            if replied and published:
                return
        raise RuntimeError(f"the kernel did not answer within {KERNEL_START_S:g} s")

    def run(self, source: str, timeout: float, *, store_history: bool = True) -> Outcome:
        """Execute ``source``; interrupt it after ``timeout`` s and kill the kernel if that does not stop it.

        The grader's own clock is read between slices of at most :data:`SLICE_S` of message reading, so a kernel
        that floods its output channel cannot hold the loop; past :data:`MAX_CELL_OUTPUT` characters or
        :data:`MAX_CELL_MESSAGES` messages, or after a message too large to read, the kernel is stopped."""
        started = time.monotonic()
        kills = self.cgroup.oom_kills() if self.cgroup is not None else 0
        msg_id = self.client.execute(source, store_history=store_history, allow_stdin=False, stop_on_error=False)
        out = Outcome("ok")
        stdout_tail, kept, kept_chars, n_messages = "", [], 0, 0
        idle = reply = False
        replied_at: float | None = None
        dropped_at: float | None = None
        interrupted_at: float | None = None
        while not (idle and reply):
            if self.process.poll() is not None:
                out.status = "dead"
                break
            now = time.monotonic()
            if interrupted_at is None and now - started > timeout:
                self.interrupt()
                interrupted_at = now
            elif interrupted_at is not None and now - interrupted_at > INTERRUPT_GRACE_S:
                out.status = "hung"
                self.kill()
                break
            if out.status == "flood":
                self.kill()
                break
            if replied_at is not None and out.dropped and now - replied_at > REPLY_GRACE_S:
                break  # its idle message was lost with the dropped connection
            self.poller.poll(50)  # wakes as soon as a channel has a message
            if dropped_at is not None and out.status == "ok" and now - dropped_at > DEATH_GRACE_S:
                out.status = "flood"  # a live kernel whose connection zmq dropped: an oversized message
                out.flood = f"sent a message larger than {MAX_MESSAGE_BYTES >> 20} MiB"
                continue
            if any(monitor.poll(0) for monitor in self.monitors):
                for monitor in self.monitors:
                    while monitor.poll(0):
                        monitor.recv_multipart()
                out.dropped = True
                dropped_at = now if dropped_at is None else dropped_at  # a dying kernel disconnects too
            slice_end = time.monotonic() + SLICE_S
            while self.client.shell_channel.msg_ready() and time.monotonic() < slice_end:
                msg = self.client.get_shell_msg(timeout=0)
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply, replied_at = True, time.monotonic()
                    content = msg["content"]
                    if content.get("status") == "error" and not out.ename:  # its error message may be lost
                        out.ename = str(content.get("ename", "error"))[:200]
                    if any(isinstance(p, dict) and p.get("source") == "ask_exit"
                           for p in content.get("payload", []) or []):
                        out.status = "exit"
            while self.client.iopub_channel.msg_ready() and time.monotonic() < slice_end:
                msg = self.client.get_iopub_msg(timeout=0)
                n_messages += 1
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind == "stream":
                    text = str(content.get("text", ""))
                    out.printed_chars += len(text)
                    out.stream_chars += len(text)
                    if content.get("name") == "stdout":
                        stdout_tail = self._collect_records(stdout_tail + text, out)
                    if kept_chars < self.limits.output_chars:
                        kept.append(text[: self.limits.output_chars])
                        kept_chars += len(text)
                elif kind in ("display_data", "update_display_data", "execute_result"):
                    out.printed_chars += sum(len(str(v)) for v in (content.get("data") or {}).values())
                elif kind == "error":
                    out.ename = str(content.get("ename", ""))[:200]
                    out.evalue = str(content.get("evalue", ""))[:500]
            if out.status != "flood" and (out.printed_chars > MAX_CELL_OUTPUT or n_messages > MAX_CELL_MESSAGES):
                out.status = "flood"
                out.flood = (f"printed more than {MAX_CELL_OUTPUT >> 20} million characters"
                             if out.printed_chars > MAX_CELL_OUTPUT else f"sent over {MAX_CELL_MESSAGES} messages")
        self._collect_records(stdout_tail + "\n", out)
        out.oom = self.cgroup is not None and self.cgroup.oom_kills() > kills
        out.text = "".join(kept)[: self.limits.output_chars]
        if out.status == "ok" and interrupted_at is not None:
            out.status = "timeout"
        elif out.status == "ok" and out.ename:
            out.status = "error"
        out.seconds = time.monotonic() - started
        return out

    def interrupt(self) -> None:
        """SIGINT to the kernel: its own process, or in a jail the kernel's process among the cgroup's (bubblewrap,
        the process the grader started, would end the jail instead)."""
        pids = [self.process.pid]
        if self.cgroup is not None:
            kernel = [b"-m", b"ipykernel_launcher"]  # its argv[1:3]; bubblewrap's command line holds it too
            pids = [pid for pid in self.cgroup.pids() if _cmdline(pid).split(b"\0")[1:3] == kernel]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGINT)

    def _collect_records(self, text: str, out: Outcome) -> str:
        """Read the reports on the complete lines of ``text``; return the unfinished last line (dropped past
        :data:`MAX_MESSAGE_BYTES`: no report is that long)."""
        *lines, tail = text.split("\n")
        for line in lines:
            if line.startswith(TAG) and len(out.records) < 100:
                report = read_report_line(line)
                if report is not None:
                    out.records.append({**report[1], "nonce": report[0]})
        return tail if len(tail) <= MAX_MESSAGE_BYTES else ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        if self.cgroup is not None:  # whatever the kernel started, wherever it went
            self.cgroup.kill_all()

    def close(self) -> None:
        if self.client is not None:
            for channel in (self.client.shell_channel, self.client.iopub_channel):
                with contextlib.suppress(Exception):
                    channel.socket.disable_monitor()
            for monitor in getattr(self, "monitors", []):
                monitor.close(linger=0)
            self.client.stop_channels()
        self.kill()
        if self.process is not None:
            try:  # children the learner's code left behind share the kernel's process group
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.cgroup is not None:
            self.memory_peak_mb = self.cgroup.peak_mb()
            self.cgroup.close()
        if self.uid is not None:
            from metarl_edu.classroom import jail

            jail.give_back_uid(self.uid)
            self.uid = None
        with self._lock:
            self._live.discard(self)
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.private, ignore_errors=True)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# --------------------------------------------------------------------------------------------- one submission
def _fatal_reason(outcome: Outcome, limits: Limits) -> str:
    memory = f"the kernel and everything it starts may hold {limits.memory_mb} MiB: --memory-mb"
    if outcome.oom and outcome.status == "hung":  # a cell starved of memory often cannot answer the interrupt
        return (f"ran out of memory (a process it started was killed; {memory}), then ran past the time limit "
                f"({limits.cell_timeout:g} s) and did not answer the interrupt")
    if outcome.status == "hung":
        return f"ran past the time limit ({limits.cell_timeout:g} s) and ignored the interrupt"
    if outcome.status == "exit":
        return "asked the kernel to exit"
    if outcome.status == "flood":
        return f"{outcome.flood} (output is capped: the kernel was stopped)"
    if outcome.oom:
        return f"ran out of memory and stopped the kernel ({memory})"
    return "stopped the kernel (its process exited or was killed)"


def _out_of_memory(outcome: Outcome) -> bool:
    """Whether a cell failed for want of memory: the jail's limit was reached, Python raised ``MemoryError``, or a
    library could not be loaded into the address space left (torch's CUDA build under a small ``RLIMIT_AS``)."""
    text = f"{outcome.ename}: {outcome.evalue}"
    return outcome.oom or outcome.ename == "MemoryError" or "failed to map segment" in text \
        or "Cannot allocate memory" in text


def _memory_advice(limits: Limits) -> str:
    """What to do when the lesson's own cells run out of memory: the limit is too small for this environment."""
    default = default_memory_mb("jail" if limits.jailed else "none")
    build = torch_build()
    advice = (f"the lesson needs more memory than --memory-mb {limits.memory_mb} MiB with this Python environment "
              f"(the {build.upper()} build of torch); raise --memory-mb")
    if limits.memory_mb < default:
        advice += f" (the default here is {default})"
    if build == "gpu":
        advice += ", or install the CPU build of torch, which needs less (the README: TORCH_INDEX)"
    return advice


def _reports(cell: RunCell, outcome: Outcome | None, kind: str) -> list[dict[str, Any]]:
    """The kernel's reports answering this cell (its nonce, its exercise)."""
    if outcome is None:
        return []
    return [r for r in outcome.records
            if r.get("kind") == kind and r.get("nonce") == cell.nonce and r.get("exercise") == cell.exercise]


def _confession(report: dict[str, Any], known: tuple[str, ...]) -> str | None:
    """What the kernel said about a reference: its guards caught a call, or the checked function is the reference
    or other library code. Untrusted, so it can only cost the learner marks; only names the grader knows are
    quoted."""
    hits = report.get("hits")
    caught = [h for h in hits if h in known] if isinstance(hits, list) else []
    provenance = report.get("provenance")
    if isinstance(provenance, str) and provenance.startswith("reference: ") and provenance[11:] in known:
        caught.append(provenance[11:])
    if caught:
        return f"uses the reference implementation ({', '.join(sorted(set(caught)))})"
    if isinstance(provenance, str) and provenance.startswith("library: "):
        return "the checked function is the library's own code, not yours"
    return None


def judge_check_cell(cell: RunCell, outcome: Outcome | None, known: tuple[str, ...],
                     defined_in: RunCell | None = None) -> dict[str, Any] | None:
    """The grader's verdict on a check cell: the kernel's record replayed through the grader's own copy of the
    exercise's cases (:func:`metarl_edu.classroom.checks.judge_check`). None when the kernel did not report.
    ``defined_in``: the learner's cell that defines the checked function (:func:`_defining_cell`); a hint on an
    exception then names the line the record gives, quoted from the grader's copy of that cell."""
    from metarl_edu.classroom.checks import judge_check

    reports = _reports(cell, outcome, "check")
    if not reports:
        return None
    report = reports[-1]
    verdict: dict[str, Any] = {"status": "failed", "hints": [], "n_cases": 0, "n_passed": 0, "reason": "",
                               "several": len(reports) > 1, "mismatch": False}
    confession = _confession(report, known)
    if "missing" in report:
        verdict.update(status="missing", reason="not defined")
    elif report.get("interrupted"):
        verdict.update(status="timeout")
    elif confession and confession.startswith("uses"):
        verdict.update(status="reference", reason=confession)
    elif confession:
        verdict.update(status="failed", reason=confession)
    else:
        place = None if defined_in is None else functools.partial(_function_place, defined_in)
        result = judge_check(cell.exercise or "", report, messages=False, place=place)
        verdict.update(status=result.status, hints=list(result.hints)[:20], n_cases=result.n_cases,
                       n_passed=result.n_passed, mismatch=result.mismatch)
    return verdict


def judge_hidden_cell(cell: RunCell, outcome: Outcome | None, known: tuple[str, ...]) -> dict[str, Any] | None:
    """The grader's verdict on a block of hidden tests: its inputs built here, the probe's values from the
    kernel's report (plain data), and its judge run here. None when the kernel did not report."""
    import builtins

    from metarl_edu.classroom import wire

    reports = _reports(cell, outcome, "hidden")
    if not reports:
        return None
    report = reports[-1]
    confession = _confession(report, known)
    if confession and confession.startswith("uses"):
        return {"status": "reference", "reason": confession}
    if report.get("interrupted"):
        return {"status": "timeout"}
    if "raised" in report:
        return {"status": "failed", "error": f"your code raised {_safe_name(str(report['raised']))}"}
    values = report.get("values") if isinstance(report.get("values"), dict) else {}
    env: dict[str, Any] = {"__builtins__": builtins}
    try:
        exec(compile(cell.inputs, "<hidden-test inputs>", "exec"), env)  # noqa: S102  (the course's own code)
    except Exception as exc:  # noqa: BLE001
        return {"status": "failed", "error": f"the hidden tests' inputs could not be built ({type(exc).__name__})"}
    for name in cell.names:
        env[name] = wire.restore(values.get(name, {"opaque": "missing"}))
    try:
        exec(compile(cell.judge, "<hidden-test judge>", "exec"), env)  # noqa: S102
    except AssertionError:
        return {"status": "failed", "error": "a wrong answer"}
    except Exception as exc:  # noqa: BLE001  (an answer of the wrong kind)
        return {"status": "failed", "error": f"{type(exc).__name__} on your answer"}
    return {"status": "passed"}


def execute(cells: list[RunCell], limits: Limits, plan: LessonPlan | None = None) -> dict[str, Any]:
    """Run the assembled cells; on a fatal cell, run again without it. Each check and hidden-test cell is judged
    here as soon as it has run (hidden tests run only after their check passed). Returns outcomes and verdicts by
    cell index, the fatal cells and their reasons, and why the run stopped early (``None`` when every cell ran)."""
    deadline = time.monotonic() + limits.notebook_timeout
    fatal: dict[int, str] = {}
    outcomes: dict[int, Outcome] = {}
    verdicts: dict[int, dict[str, Any] | None] = {}
    stopped: str | None = None
    peaks: list[float] = []
    known = {e.id: references(e) for e in plan.exercises} if plan else {}
    for _attempt in range(MAX_ATTEMPTS):
        if _STOP.is_set():
            raise KeyboardInterrupt("grading was interrupted")
        outcomes, verdicts, stopped, rerun = {}, {}, None, False
        kernel = Kernel(limits)
        try:
            kernel.start()
            passed: dict[str, bool] = {}
            for index, cell in enumerate(cells):
                if index in fatal or (cell.kind == "hidden" and not passed.get(cell.exercise or "")):
                    continue  # hidden tests only matter once the check passed
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    stopped = f"the notebook time limit ({limits.notebook_timeout:g} s) was reached"
                    break
                # The grader's and the lesson's setup cells are trusted: they get time enough on a busy machine.
                budget = max(limits.cell_timeout, TRUSTED_CELL_S) if cell.kind in ("grader", "setup") \
                    else limits.cell_timeout
                outcome = kernel.run(cell.source, min(budget, remaining),
                                     store_history=cell.kind in ("setup", "code", "learner"))
                outcomes[index] = outcome
                exercise_known = known.get(cell.exercise or "", ())
                if cell.kind == "check":
                    defined_in = _defining_cell(cells, outcomes, index, plan.exercise(cell.exercise or "").function) \
                        if plan else None
                    verdicts[index] = judge_check_cell(cell, outcome, exercise_known, defined_in)
                    passed[cell.exercise or ""] = (verdicts[index] or {}).get("status") == "passed"
                elif cell.kind == "hidden":
                    verdicts[index] = judge_hidden_cell(cell, outcome, exercise_known)
                if outcome.status in ("dead", "hung", "exit", "flood"):
                    if cell.kind in ("grader", "setup"):
                        stopped = f"the lesson's {cell.label} cell {_fatal_reason(outcome, limits)}"
                        stopped += f": {_memory_advice(limits)}" if _out_of_memory(outcome) else ""
                        break
                    fatal[index] = _fatal_reason(outcome, limits)
                    rerun = True
                    break
                if outcome.status == "timeout" and remaining < budget:
                    stopped = f"the notebook time limit ({limits.notebook_timeout:g} s) was reached"
                    break
                if cell.kind in ("grader", "setup") and outcome.status != "ok":
                    stopped = f"the lesson's {cell.label} cell failed ({outcome.ename})"
                    stopped += f": {_memory_advice(limits)}" if _out_of_memory(outcome) else ""
                    break
        except RuntimeError as exc:
            stopped = str(exc)
        finally:
            kernel.close()
            if kernel.memory_peak_mb is not None:
                peaks.append(kernel.memory_peak_mb)
        if not rerun:
            break
    else:
        stopped = stopped or f"the kernel was stopped {MAX_ATTEMPTS} times"
    return {"outcomes": outcomes, "verdicts": verdicts, "fatal": fatal, "stopped": stopped,
            "isolation": "jail" if kernel.jailed else "none", "memory_peak_mb": max(peaks) if peaks else None}


def _what(cell: RunCell) -> str:
    """How a learner's cell is named in a reason: "your exercise cell", or for one they added its place and first
    line ("your cell 12 (`x = f(3)`)", see :func:`_cell_name`)."""
    return "your exercise cell" if cell.label.startswith("exercise-") else cell.label


def _reported_line(outcome: Outcome) -> Any:
    """The line the kernel reported for a learner's cell that raised (see :mod:`metarl_edu.classroom.sandbox`),
    as IPython numbers the cell; None when it reported none. Untrusted: only a number to look up in the grader's
    own copy of the cell."""
    reported = [r.get("line") for r in outcome.records if r.get("kind") == "error"]
    return reported[-1] if reported else None


def _line_place(cell: RunCell, reported: Any, width: int = 40) -> str:
    """" at line 3 (`for r in rewards`)": line ``reported`` of a learner's cell as IPython numbers it (without
    the leading blank lines), named as the learner sees it and quoted from the grader's own copy of the cell,
    shortened to ``width``; "" when ``reported`` is not the number of one of the cell's lines."""
    lines = cell.source.splitlines()[:-1]  # the learner's lines, without the grader's mark
    skipped = next((k for k, line in enumerate(lines) if line.strip()), 0)  # IPython drops leading blank lines
    line = reported + skipped if type(reported) is int else 0
    if not skipped < line <= len(lines):
        return ""
    return f" at line {line}" + (f" ({_shown_line(lines[line - 1], width)})" if lines[line - 1].strip() else "")


def _error_place(cell: RunCell, outcome: Outcome) -> str:
    """Where in a learner's cell its error arose (" at line 3 (`for r in rewards`)"), from the line the kernel
    reported and the grader's own copy of the cell; "" when the kernel named no line of the cell."""
    return _line_place(cell, _reported_line(outcome))


def _function_place(cell: RunCell, reported: Any) -> str:
    """Where in ``cell``, the learner's cell that defines a checked function, an exception of that function arose
    (" at line 4 (`total += rewards[t]`) of your exercise cell"), from the line the check's record names and the
    grader's own copy of the cell, shortened as the self-study check shortens it (:func:`wire.learner_line`);
    "" when the record names no line of the cell."""
    place = _line_place(cell, reported, width=60)
    return f"{place} of {_what(cell)}" if place else ""


def _definition_line(source: str, function: str) -> int | None:
    """How a cell's code binds the name ``function``. When only its top-level, undecorated ``def function``
    statements bind it: the first line (as IPython numbers the cell) whose running shows one of them ran, the first
    line of its body below the line where its signature ends. 0 when nothing in it binds the name, or it does
    not compile (so it never ran). None when something else may: an assignment, an import, a class, a decorated
    def or one inside a block or another function, ``global``, or code static reading cannot follow (a magic,
    ``exec``, ``globals()``: :data:`~metarl_edu.classroom.review.DYNAMIC`) in a cell that mentions the name."""
    try:
        tree = parse_source(python_source(source))
    except (SyntaxError, ValueError):
        return 0
    nodes = list(ast.walk(tree))
    binders = [node for node in nodes if
               (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == function)
               or (isinstance(node, ast.Name) and node.id == function and not isinstance(node.ctx, ast.Load))
               or (isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) in (function, "*"))
               or (isinstance(node, ast.ExceptHandler) and node.name == function)
               or (isinstance(node, ast.Global | ast.Nonlocal) and function in node.names)]
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name == function and not node.decorator_list]
    if function in source and any(isinstance(node, ast.Name) and node.id in DYNAMIC for node in nodes):
        return None
    if not binders:
        return 0
    if {id(node) for node in binders} != {id(node) for node in defs}:
        return None
    starts = []
    for d in defs:  # its defaults and annotations run with the def itself, and may raise there
        signature = [n for part in (d.args, d.returns) if part is not None for n in ast.walk(part)]
        end = max([d.lineno, *(getattr(n, "end_lineno", None) or 0 for n in signature)])
        starts.append(max(d.body[0].lineno, end + 1))
    return min(starts)


def _defining_cell(cells: list[RunCell], outcomes: dict[int, Outcome], index: int, function: str) -> RunCell | None:
    """The learner's cell whose definition of ``function`` the check at ``cells[index]`` was given, in the
    grader's own copy: the last cell run before the check whose code binds the name, when that is a learner's
    cell that binds it only by top-level ``def`` (:func:`_definition_line`) and ran to its end, or raised on a
    line that shows the definition ran; None when that cannot be told."""
    for i in range(index - 1, -1, -1):
        outcome = outcomes.get(i)
        if outcome is None or cells[i].kind not in ("setup", "code", "learner"):
            continue
        bound_from = _definition_line(cells[i].source, function)
        if bound_from == 0:
            continue
        if bound_from is None or cells[i].kind != "learner":
            return None
        reported = _reported_line(outcome)
        ran = outcome.status == "ok" or (outcome.status == "error" and type(reported) is int and reported >= bound_from)
        return cells[i] if ran else None
    return None


def _code_below_the_raise(sources: Iterable[str], function: str) -> bool:
    """Whether a definition of ``function`` in ``sources`` has code after a ``raise NotImplementedError`` line in
    its body: the learner wrote below the stub's ``raise``, which still runs first."""
    for source in sources:
        try:
            tree = parse_source(python_source(source))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function):
                continue
            raised = [getattr(s.exc, "func", s.exc) for s in node.body[:-1] if isinstance(s, ast.Raise)]
            if any(isinstance(e, ast.Name) and e.id == "NotImplementedError" for e in raised):
                return True
    return False


def _exercise_result(ex: ExerciseInfo, cells: list[RunCell], run: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """Score one exercise from the run's verdicts: its points and a reason, and the hints of its failed checks."""
    outcomes: dict[int, Outcome] = run["outcomes"]
    verdicts: dict[int, dict[str, Any] | None] = run.get("verdicts", {})
    fatal: dict[int, str] = run["fatal"]
    result: dict[str, Any] = {"points": 0.0, "max": ex.points, "status": "failed", "reason": "", "hints": []}
    learner = [i for i, c in enumerate(cells) if c.kind == "learner" and c.exercise == ex.id]
    learner_fatal = [f"{_what(cells[i])} {fatal[i]}" for i in learner if i in fatal]
    learner_errors = [(_what(cells[i]), outcomes[i], cells[i]) for i in learner
                      if i in outcomes and outcomes[i].status in ("error", "timeout")]
    check_index = next((i for i, c in enumerate(cells) if c.kind == "check" and c.exercise == ex.id), None)
    hidden = [i for i, c in enumerate(cells) if c.kind == "hidden" and c.exercise == ex.id]

    check = verdicts.get(check_index) if check_index is not None else None
    if check_index in fatal:
        result.update(status="error", reason=f"while being checked, your code {fatal[check_index]}")
        return result
    if check is None and check_index in outcomes:  # it ran, yet no report: learner code interfered
        outcome = outcomes[check_index]
        error = f" ({_safe_name(outcome.ename)})" if outcome.ename else ""
        result.update(status="error", reason=f"the grader's check could not report{error}")
        return result
    if check is None:
        result.update(status="not_run", reason="not graded: the check did not run")
        return result
    status = check.get("status")
    result["hints"] = list(check.get("hints", []))
    if status == "missing" or learner_fatal:
        if learner_fatal:
            cause = f"{learner_fatal[0]}; it was skipped"
        elif learner_errors and learner_errors[0][1].status == "timeout":
            cause = f"{learner_errors[0][0]} ran past the time limit ({limits.cell_timeout:g} s)"
        elif learner_errors:
            cause = (f"{learner_errors[0][0]} raised {_safe_name(learner_errors[0][1].ename)}"
                     f"{_error_place(learner_errors[0][2], learner_errors[0][1])}")
            if learner_errors[0][1].ename == "MemoryError":
                cause += f" (the memory limit is {limits.memory_mb} MiB)"
        elif not learner:
            cause = "the exercise cell is missing"
        else:
            cause = f"`{ex.function}` is not defined"
        if status != "passed":
            result.update(status="missing" if status == "missing" else status,
                          reason=f"no working `{ex.function}`: {cause}" if status == "missing" else cause)
            return result
    if status == "not_attempted":
        result.update(status="not_attempted", reason="not attempted")
        if _code_below_the_raise([cells[i].source for i in learner], ex.function):
            result["reason"] = (f"`{ex.function}` still raises NotImplementedError before your code runs: delete "
                                "the stub's `raise NotImplementedError(...)` line")
    elif status == "reference":
        result.update(status="reference", reason=check.get("reason") or "uses the reference implementation")
    elif status == "timeout":
        result.update(status="timeout", reason=f"timed out: your function ran past the time limit "
                                               f"({limits.cell_timeout:g} s)")
    elif status == "failed":
        n, k = check.get("n_cases", 0), check.get("n_passed", 0)
        result.update(reason=check.get("reason") or f"{k} of {n} checks passed")
    elif status == "passed":
        hidden_verdicts = [verdicts.get(i) for i in hidden]
        bad = next((v for v in hidden_verdicts if v is None or v.get("status") != "passed"), None)
        if any(i in fatal for i in hidden):
            result.update(status="error", reason="stopped the kernel during the hidden tests")
        elif bad is not None or len(hidden_verdicts) != len(hidden):
            kind = (bad or {}).get("status")
            if kind == "reference":
                result.update(status="reference", reason=bad.get("reason", "uses the reference implementation"))
            elif kind == "timeout":
                result.update(status="timeout", reason="timed out in the hidden tests")
            elif bad is None:
                result.update(status="not_run", reason="not graded: the hidden tests did not report")
            else:
                result.update(status="hidden_failed",
                              reason=f"passed the checks but failed the hidden tests ({bad.get('error', 'failed')})")
        else:
            result.update(status="passed", points=float(ex.points), reason="passed")
    else:
        result.update(status="error", reason=f"the check reported {_safe_name(str(status))!r}")
    return result


def _safe_name(name: str) -> str:
    """An exception's type name as the kernel gave it, if it looks like one (the kernel's text is not quoted)."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,79}", name) else "an error"


def new_record(sub: Submission) -> dict[str, Any]:
    """A result that says the submission could not be graded (yet); ``reason`` says why."""
    return {
        "submission": sub.name, "sha256": sub.sha256, "lesson": sub.lesson or "", "status": "error",
        "reason": sub.error or "", "exercises": {}, "total": 0.0, "max_total": 0.0, "notes": [],
        "cacheable": True, "seconds": 0.0, "review": "", "isolation": "",
    }


def grade_submission(sub: Submission, plans: dict[str, LessonPlan], limits: Limits) -> dict[str, Any]:
    """Grade one read submission; the record is JSON-serialisable (see :func:`record_row`)."""
    from metarl_edu.classroom.review import review_cells

    started = time.monotonic()
    record = new_record(sub)
    if sub.error:
        return record
    plan = plans[sub.lesson]  # type: ignore[index]
    record["max_total"] = plan.max_points
    cells = assemble(plan, sub.cells)
    review = review_cells([c.source for c in cells if c.kind == "learner"],
                          functions={e.id: e.function for e in plan.exercises},
                          references={e.id: references(e) for e in plan.exercises},
                          lesson_sources=[c.source for c in plan.cells if c.role in ("setup", "code")])
    try:
        run = execute(cells, limits, plan)
    except Exception as exc:  # an internal failure must not stop a whole class's grading
        record.update(reason=f"the grader failed: {type(exc).__name__}: {exc}", cacheable=False)
        return record
    record["isolation"] = run.get("isolation", "")
    record["memory_peak_mb"] = run.get("memory_peak_mb")
    setup_index = next(i for i, c in enumerate(cells) if c.kind == "setup")
    if run["outcomes"].get(setup_index, Outcome("dead")).status != "ok":
        record.update(reason=f"could not run the lesson: {run['stopped'] or 'its setup cell did not run'}",
                      cacheable=False)
        return record
    for ex in plan.exercises:
        result = _exercise_result(ex, cells, run, limits)
        if ex.id in review.uses:  # read from the learner's source by the grader: it does not depend on the kernel
            result.update(status="reference", points=0.0,
                          reason=f"uses the reference implementation ({', '.join(sorted(review.uses[ex.id]))})")
        record["exercises"][ex.id] = result
    record["total"] = sum(r["points"] for r in record["exercises"].values())
    not_run = [k for k, r in record["exercises"].items() if r["status"] == "not_run"]
    record["status"] = "incomplete" if not_run else "ok"
    if not_run:  # a time limit under load, or an interruption: graded again on the next run, not remembered
        record["cacheable"] = False
    notes = []
    if run["stopped"]:
        notes.append(f"the run stopped early: {run['stopped']}")
    said = " ".join(r["reason"] for r in record["exercises"].values())
    for i, cell in enumerate(cells):  # what stopped a learner's cell, unless an exercise's reason says it already
        if cell.kind == "code" and i in run["fatal"]:  # the lesson's own cell: the limits, not the learner
            notes.append(f"the lesson's {cell.label} {run['fatal'][i]}; it was skipped")
        elif cell.kind == "code" and _out_of_memory(run["outcomes"].get(i, Outcome("ok"))):
            notes.append(f"the lesson's {cell.label} ran out of memory: {_memory_advice(limits)}")
        if cell.kind != "learner":
            continue
        tail = ""
        if i in run["fatal"]:
            note, tail = f"{_what(cell)} {run['fatal'][i]}", "; it was skipped"
        elif run["outcomes"].get(i, Outcome("ok")).oom:
            note = (f"{_what(cell)} ran out of memory: a process it started was killed (the kernel and everything "
                    f"it starts may hold {limits.memory_mb} MiB: --memory-mb)")
        elif run["outcomes"].get(i, Outcome("ok")).status == "timeout":
            note = f"{_what(cell)} ran past the time limit ({limits.cell_timeout:g} s)"
        else:
            continue
        if note not in said:
            notes.append(note + tail)
    printed = sum(run["outcomes"][i].stream_chars for i, c in enumerate(cells)
                  if c.kind == "learner" and i in run["outcomes"])
    if printed > 10 * limits.output_chars:
        notes.append(f"your cells printed {printed / 1e6:.1f} million characters (only the start of each cell's "
                     "output is kept)")
    flags = list(review.flags)
    verdicts = [v for v in run["verdicts"].values() if v]
    if any(v.get("mismatch") for v in verdicts):
        flags.append("answers recorded for other inputs than the checks' (tampering in the kernel)")
    if any(v.get("several") for v in verdicts):
        flags.append("several reports for one check (printed by learner code)")
    if flags:
        record["review"] = f"review by hand: {'; '.join(flags)}"
    if not plan.has_hidden:
        notes.append("hidden tests not run (they live in course/, which is not here)")
    record["notes"] = notes
    reasons = [f"{k}: {r['reason']}" for k, r in record["exercises"].items() if r["status"] != "passed"]
    record["reason"] = "; ".join(reasons + notes[:3])
    record["seconds"] = round(time.monotonic() - started, 2)
    return record


# --------------------------------------------------------------------------------------------- a folder
def code_fingerprint(package: Path = PACKAGE_DIR) -> str:
    """A hash of the grader's own code: every ``.py`` file of the package (the grader, the checks, the references
    and the library they call), so that a changed check or reference re-grades saved results."""
    digest = hashlib.sha256(GRADER_VERSION.encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def _own_code_fingerprint() -> str:
    return code_fingerprint(PACKAGE_DIR)


def state_key(sub: Submission, plans: dict[str, LessonPlan], limits: Limits) -> str:
    """What a saved result depends on: the submission's bytes, the grader's code and checks, its lesson's master
    and the limits."""
    plan = plans.get(sub.lesson or "")
    how = {**asdict(limits), "isolation": "jail" if limits.jailed else "none"}  # how it runs, not how it was asked
    parts = [_own_code_fingerprint(), sub.sha256 or sub.name, plan.fingerprint if plan else "",
             json.dumps(how, sort_keys=True)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def load_state(state_dir: Path, key: str) -> dict[str, Any] | None:
    try:
        saved = json.loads(_read_regular_file(str(Path(state_dir) / f"{key}.json")).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None  # missing, or half-written by an interrupted run: grade again
    record = saved.get("record") if isinstance(saved, dict) and saved.get("key") == key else None
    return record if isinstance(record, dict) else None


def private_folder(path: Path) -> Path:
    """Create ``path`` (and its parents) if needed, readable and writable by the grader's user only."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_atomically(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``: a reader sees the old file or
    the whole new one, never half of it, and a link planted at ``path`` is replaced, not followed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def save_state(state_dir: Path, key: str, record: dict[str, Any]) -> None:
    private_folder(state_dir)
    write_atomically(Path(state_dir) / f"{key}.json", json.dumps({"key": key, "record": record}, sort_keys=True))


def collect_submissions(folder: Path, plans: dict[str, LessonPlan], exclude: Iterable[Path] = ()
                        ) -> list[Submission]:
    """Read every ``*.ipynb`` under ``folder`` (checkpoints and the ``exclude`` folders left out), in name order.

    The walk never follows a symbolic link, and each file is opened relative to its open folder without following
    one; a link, a pipe or anything else that is not a regular file still gets a submission, whose ``error`` says
    what it is. Never raises for a file: each is read inside its own error boundary.
    """
    folder = Path(folder)
    excluded = set()
    for path in exclude:
        with contextlib.suppress(OSError):
            info = os.stat(path)
            excluded.add((info.st_dev, info.st_ino))
    found: list[tuple[bytes, Submission]] = []
    for top, dirs, files, top_fd in os.fwalk(os.fsencode(folder), follow_symlinks=False):
        kept = []
        for d in dirs:
            try:
                info = os.stat(d, dir_fd=top_fd, follow_symlinks=False)
            except OSError:
                continue
            if d != b".ipynb_checkpoints" and (info.st_dev, info.st_ino) not in excluded:
                kept.append(d)
            if stat.S_ISLNK(info.st_mode) and d.endswith(b".ipynb"):
                files.append(d)  # a link named like a notebook gets a row saying what it is
        dirs[:] = kept
        for f in files:
            if not f.endswith(b".ipynb"):
                continue
            relative = os.path.relpath(os.path.join(top, f), os.fsencode(folder))
            try:
                sub = read_submission(f, relative, plans, dir_fd=top_fd)
                sub.path = Path(os.fsdecode(os.path.join(top, f)))
            except Exception as exc:  # noqa: BLE001  (one file never stops the run)
                sub = Submission(Path(os.fsdecode(os.path.join(top, f))), display_name(relative),
                                 error=f"cannot read the file ({type(exc).__name__})")
            found.append((relative, sub))
    return [sub for _, sub in sorted(found, key=lambda item: item[0])]


def find_submissions(folder: Path, exclude: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    """``(path, name relative to folder)`` of every ``*.ipynb`` under ``folder`` (see :func:`collect_submissions`)."""
    return [(sub.path, sub.name) for sub in collect_submissions(folder, {}, exclude)]


@dataclass
class Summary:
    """What one ``grade_folder`` call did."""

    records: list[dict[str, Any]]
    graded: int
    resumed: int
    gradebook: Path
    feedback: Path | None

    @property
    def ungraded(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] != "ok"]


def _guarded(sub: Submission, what: str, action: Callable[[], Any], default: Any = None) -> Any:
    """``action()``, or ``default`` when it raises: one submission's trouble is noted, never fatal to the run."""
    try:
        return action()
    except Exception as exc:  # noqa: BLE001
        print(f"warning: {sub.name}: could not {what} ({type(exc).__name__}: {exc})", file=sys.stderr)
        return default


def grade_folder(
    folder: Path,
    out: Path,
    *,
    course: Path,
    limits: Limits = Limits(),
    jobs: int = 1,
    feedback: Path | None = None,
    state_dir: Path | None = None,
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> Summary:
    """Grade every notebook under ``folder``; write the gradebook ``out`` and a feedback file per submission.

    Each result is saved under ``state_dir`` (default: ``<out>.state/`` beside the gradebook, readable by the
    grader's user only) as soon as it is known, so an interrupted run loses nothing: run it again and only the
    rest is graded. ``on_result`` is called with each new record (tests use it). Every file gets a row, whatever
    is wrong with it, and the gradebook is written even when the run is interrupted.
    """
    from tqdm.auto import tqdm

    if jobs < 1:
        raise GradeError(f"--jobs must be >= 1; got {jobs}")
    folder, out, course = Path(folder), Path(out), Path(course)
    if not folder.is_dir():
        raise GradeError(f"{folder} is not a folder of submissions")
    plans = load_plans(course)
    require_jail(limits)
    state_dir = Path(state_dir) if state_dir else out.with_name(out.name + ".state")
    feedback = Path(feedback) if feedback else out.with_name(out.stem + "-feedback")
    subs = collect_submissions(folder, plans, exclude=[state_dir, feedback])
    records: list[dict[str, Any] | None] = [None] * len(subs)
    todo: list[tuple[int, Submission, str]] = []
    for index, sub in enumerate(subs):
        if sub.error:
            records[index] = new_record(sub)
            continue
        key = _guarded(sub, "compute its state key", lambda sub=sub: state_key(sub, plans, limits), "")
        saved = _guarded(sub, "load its saved result", lambda key=key: load_state(state_dir, key)) if key else None
        if saved is not None:
            records[index] = {**saved, "submission": sub.name}
        else:
            todo.append((index, sub, key))
    resumed = sum(r is not None and not subs[i].error for i, r in enumerate(records))

    def finished(index: int, sub: Submission, key: str, record: dict[str, Any]) -> None:
        records[index] = record
        if key and record.get("cacheable", True):
            _guarded(sub, "save its result", lambda: save_state(state_dir, key, record))
        _guarded(sub, "write its feedback", lambda: write_feedback(record, plans, feedback))
        bar.update(1)
        if on_result:
            on_result(record)

    bar = tqdm(total=len(todo), desc="grading", unit="nb", disable=not progress)
    try:
        if jobs == 1 or len(todo) <= 1:
            for index, sub, key in todo:
                finished(index, sub, key, grade_one(sub, plans, limits))
        else:
            _grade_parallel(todo, plans, limits, jobs, finished)
    finally:
        bar.close()
        for index, sub, _key in todo:
            if records[index] is None:  # interrupted before this one was graded
                records[index] = {**new_record(sub), "status": "incomplete", "cacheable": False, "interrupted": True,
                                  "reason": "not graded: the run was interrupted (run the command again)"}
        ordered = [r for r in records if r is not None]
        write_gradebook(ordered, plans, out)
        for record in ordered:  # error rows and resumed rows whose feedback file went missing
            if not record.get("interrupted") and not (feedback / _feedback_name(record["submission"])).exists():
                _guarded(Submission(Path(), record["submission"]), "write its feedback",
                         lambda record=record: write_feedback(record, plans, feedback))
    return Summary(ordered, len(todo), resumed, out, feedback)


def grade_one(sub: Submission, plans: dict[str, LessonPlan], limits: Limits) -> dict[str, Any]:
    """:func:`grade_submission` inside an error boundary: an internal failure gives a row that says so."""
    try:
        return grade_submission(sub, plans, limits)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001
        record = new_record(sub)
        record.update(reason=f"the grader failed: {type(exc).__name__}: {str(exc)[:300]}", cacheable=False)
        return record


def _grade_parallel(todo: list[tuple[int, Submission, str]], plans: dict[str, LessonPlan], limits: Limits,
                    jobs: int, finished: Callable[[int, Submission, str, dict[str, Any]], None]) -> None:
    """Grade on ``jobs`` threads; each drives its own kernel process, so the work runs in parallel."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="metarl-edu-grade")
    futures = {pool.submit(grade_one, sub, plans, limits): (index, sub, key) for index, sub, key in todo}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                index, sub, key = futures[future]
                finished(index, sub, key, future.result())
    except BaseException:
        # Interrupted: every finished record is saved already; stop the kernels still running and leave.
        _STOP.set()
        for future in futures:
            future.cancel()
        Kernel.kill_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _STOP.clear()


# --------------------------------------------------------------------------------------------- outputs
BASE_COLUMNS = ("submission", "lesson")
TAIL_COLUMNS = ("total", "max_total", "status", "reason", "review", "isolation")
TEXT_COLUMNS = ("submission", "lesson", "status", "reason", "review", "isolation")
# A spreadsheet reads a field that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: str) -> str:
    """A text field as the gradebook stores it: one that a spreadsheet would read as a formula (a file named
    ``=HYPERLINK(...).ipynb``) gets a leading ``'``, and so does one that starts with ``'`` already, so that
    :func:`read_gradebook` gives back the exact text."""
    return "'" + value if value.startswith((*FORMULA_STARTS, "'")) else value


def gradebook_columns(records: list[dict[str, Any]], plans: dict[str, LessonPlan]) -> list[str]:
    """submission, lesson, one column per exercise of the lessons present (course order), total, max, status,
    reason."""
    lessons = {r["lesson"] for r in records}
    exercise_ids = [e.id for stem in sorted(plans) if stem in lessons for e in plans[stem].exercises]
    return [*BASE_COLUMNS, *exercise_ids, *TAIL_COLUMNS]


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {"submission": record["submission"], "lesson": record["lesson"], "total": f"{record['total']:g}",
           "max_total": f"{record['max_total']:g}", "status": record["status"],
           "reason": " ".join(str(record["reason"]).split()), "review": record.get("review", ""),
           "isolation": record.get("isolation", "")}
    row.update({column: _csv_text(str(row[column])) for column in TEXT_COLUMNS})
    for exercise_id, result in record["exercises"].items():
        row[exercise_id] = f"{result['points']:g}"
    return row


def write_gradebook(records: list[dict[str, Any]], plans: dict[str, LessonPlan], path: Path) -> Path:
    """Write the CSV gradebook (atomically: a reader never sees half a file); a text field that a spreadsheet would
    read as a formula is stored with a leading ``'``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=gradebook_columns(records, plans), restval="")
    writer.writeheader()
    for record in records:
        writer.writerow(record_row(record))
    return write_atomically(path, buffer.getvalue(), mode=0o644)


def read_gradebook(path: Path) -> list[dict[str, Any]]:
    """The rows of a gradebook: numbers as floats (blank where an exercise is not in the row's lesson), text as it
    was graded (without the ``'`` that :func:`write_gradebook` puts before a field a spreadsheet would run)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for raw in reader:
            row: dict[str, Any] = {}
            for column, value in raw.items():
                if column in TEXT_COLUMNS:
                    row[column] = value[1:] if value.startswith("'") else value
                else:
                    row[column] = float(value) if value != "" else None
            rows.append(row)
    return rows


def _feedback_name(submission: str) -> str:
    return re.sub(r"\.ipynb$", "", submission) + ".txt"


MARKS = {"passed": "✅", "not_attempted": "⏳"}


def feedback_text(record: dict[str, Any], plans: dict[str, LessonPlan]) -> str:
    """A short report for the learner: points per exercise, and each failed check's hint."""
    plan = plans.get(record["lesson"])
    title = (f"lesson {record['lesson']}" + (f" ({plan.title})" if plan else "")) if record["lesson"] else \
        "a notebook whose lesson could not be told"
    lines = [f"Feedback on {record['submission']}: {title}"]
    if record["status"] == "error":
        lines += ["", f"This notebook could not be graded: {record['reason']}"]
        return "\n".join(lines) + "\n"
    lines += [f"Total: {record['total']:g} of {record['max_total']:g} points", ""]
    if record["status"] == "incomplete":
        lines[-1:-1] = ["Some exercises were not graded this time (a time limit or an interruption): the next grading "
                        "run grades them again."]
    for exercise_id, result in record["exercises"].items():
        mark = MARKS.get(result["status"], "❌")
        line = f"{mark} {exercise_id}: {result['points']:g}/{result['max']:g} points"
        lines.append(line if result["status"] == "passed" else f"{line}: {result['reason']}")
        if result["status"] != "passed":
            lines += [f"   • {hint}" for hint in result["hints"][:10]]
            if plan and result["status"] in ("not_attempted", "failed", "missing"):
                lines.append(f"   Hint: {plan.exercise(exercise_id).hint}")
    if record["notes"]:
        lines += ["", *[f"Note: {note}" for note in record["notes"]]]
    return "\n".join(lines) + "\n"


def write_feedback(record: dict[str, Any], plans: dict[str, LessonPlan], folder: Path) -> Path:
    path = Path(folder) / _feedback_name(record["submission"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, feedback_text(record, plans), mode=0o644)
