"""The learner's self-check: run a notebook exactly the way the grader does, and report.

``metarl-edu check work/01_mdp.ipynb`` grades a copy of the notebook with the grader's engine
(:mod:`metarl_edu.classroom.grade`): a fresh kernel, quick mode, strict mode off, the lesson's own check cells and,
where ``course/`` is present, its hidden tests. It prints each exercise's status, the hints of failed checks and
the points it would get, then a progress summary over every lesson copy in the notebook's folder. The learner's
file is never modified. Results are remembered in ``.metarl-edu-check/`` beside the notebooks, keyed by each
notebook's content, so an unchanged notebook is reported at once and the summary covers lessons checked earlier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metarl_edu.classroom.grade import (
    LessonPlan,
    Limits,
    find_course,
    grade_submission,
    load_plans,
    load_state,
    read_submission,
    save_state,
    state_key,
)

CACHE_DIR = ".metarl-edu-check"
MARKS = {"passed": "✅", "not_attempted": "⏳", "failed": "❌"}
LABELS = {"not_attempted": "not attempted", "hidden_failed": "hidden tests", "not_run": "not run"}


class NotebookError(ValueError):
    """A file that is not a readable lesson notebook."""


@dataclass
class RunReport:
    """What checking one notebook gave: per exercise ``results[id]`` with ``status``, ``points``, ``reason`` and
    ``hints``; ``error`` says why the run was incomplete, if it was."""

    path: Path
    lesson: str | None
    exercises: list[dict[str, Any]]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    cached: bool = False

    def points(self, exercise_id: str) -> float:
        result = self.results.get(exercise_id)
        return float(result["points"]) if result else 0.0

    @property
    def total(self) -> float:
        return sum(self.points(e["id"]) for e in self.exercises)

    @property
    def max_total(self) -> float:
        return sum(float(e["points"]) for e in self.exercises)


def self_check_limits(cell_timeout: float = 120.0, memory_mb: int | None = None) -> Limits:
    """The grader's limits, with kernels kept as the learner's own user and no jail: it is their own code."""
    return Limits(cell_timeout=cell_timeout, user=None, isolation="none", memory_mb=memory_mb)


def report_from_record(path: Path, record: dict[str, Any], plan: LessonPlan, cached: bool = False) -> RunReport:
    exercises = [{"id": e.id, "points": e.points, "hint": e.hint} for e in plan.exercises]
    error = None
    if record["status"] != "ok":
        error = record["reason"] or "the notebook could not be run"
    return RunReport(Path(path), record["lesson"], exercises, dict(record["exercises"]), error, record, cached)


def run_notebook(
    path: Path,
    *,
    cell_timeout: float = 120.0,
    course: Path | None = None,
    cache: bool = False,
    memory_mb: int | None = None,
) -> RunReport:
    """Check one notebook like the grader would; with ``cache``, reuse and store the result beside it.

    Raises :class:`NotebookError` for a file that is not a lesson notebook of this course.
    """
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: {'a folder, not a notebook' if path.is_dir() else 'no such file'}")
    plans = load_plans(course or find_course())
    sub = read_submission(path, path.name, plans)
    if sub.error:
        raise NotebookError(f"{path}: {sub.error}")
    limits = self_check_limits(cell_timeout, memory_mb)
    key = state_key(sub, plans, limits)
    cache_dir = path.parent / CACHE_DIR
    record = load_state(cache_dir, key) if cache else None
    cached = record is not None
    if record is None:
        record = grade_submission(sub, plans, limits)
        if cache and record.get("cacheable", True):
            save_state(cache_dir, key, record)
    return report_from_record(path, record, plans[sub.lesson], cached)  # type: ignore[index]


def format_report(report: RunReport) -> str:
    """Per-exercise lines with hints and points, and a total."""
    lines = [f"{report.path.name} (lesson {report.lesson})" + ("  [unchanged since the last check]"
                                                                if report.cached else "")]
    for spec in report.exercises:
        result = report.results.get(spec["id"], {"status": "not_run", "points": 0.0, "hints": [],
                                                 "reason": "not run"})
        status = result["status"]
        label = LABELS.get(status, status)
        lines.append(f"  {MARKS.get(status, '⚠️')} {spec['id']:<32} {label:<14} "
                     f"{float(result['points']):g}/{float(spec['points']):g} points")
        if status not in ("passed", "failed") and result["reason"] != LABELS.get(status):
            lines.append(f"       {result['reason']}")
        for hint in result.get("hints", []):
            lines.append(f"       • {hint}")
        if status in ("not_attempted", "failed", "missing") and spec.get("hint"):
            lines.append(f"       hint: {spec['hint']}")
    for note in report.record.get("notes", []):
        lines.append(f"  note: {note}")
    if report.record.get("review"):
        lines.append(f"  note: an instructor would look at this notebook by hand ({report.record['review']})")
    if report.error:
        lines.append(f"  ⚠️  the notebook could not be checked completely: {report.error}")
    lines.append(f"  total: {report.total:g}/{report.max_total:g} points")
    return "\n".join(lines)


def progress_summary(folder: Path, *, course: Path | None = None, cell_timeout: float = 120.0) -> str:
    """One line per lesson: the points of its copy in ``folder`` as last checked, or what to do next."""
    folder = Path(folder)
    plans = load_plans(course or find_course())
    limits = self_check_limits(cell_timeout)
    copies: dict[str, list[Any]] = {}
    for path in sorted(folder.glob("*.ipynb")):
        sub = read_submission(path, path.name, plans)
        if sub.lesson:
            copies.setdefault(sub.lesson, []).append(sub)
    lines = [f"Progress in {folder}/:"]
    earned = possible = 0.0
    for stem, plan in plans.items():
        possible += plan.max_points
        subs = copies.get(stem, [])
        if not subs:
            lines.append(f"  {stem:<28} no copy here yet")
            continue
        records = [load_state(folder / CACHE_DIR, state_key(s, plans, limits)) for s in subs]
        checked = [(s, r) for s, r in zip(subs, records, strict=True) if r is not None]
        if not checked:
            lines.append(f"  {stem:<28} not checked since its last change: metarl-edu check {folder / subs[0].name}")
            continue
        sub, record = max(checked, key=lambda item: item[1]["total"])
        earned += record["total"]
        done = "complete" if record["total"] == plan.max_points and plan.max_points else (
            f"{sum(r['status'] == 'passed' for r in record['exercises'].values())} of {len(plan.exercises)} "
            "exercises done")
        lines.append(f"  {stem:<28} {record['total']:g}/{plan.max_points:g} points  {done}  ({sub.name})")
    lines.append(f"  total: {earned:g}/{possible:g} points over {len(plans)} lessons")
    return "\n".join(lines)
