"""Run a learner's notebook the way the self-check does: a copy, a fresh kernel, quick mode, strict mode off.

The learner's file is never modified: it is copied into a temporary folder and executed there with nbclient.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from metarl_edu import config
from metarl_edu.classroom.checks import RESULT_SENTINEL

DUMP_SOURCE = "from metarl_edu.classroom.checks import results_json as _results_json\nprint(_results_json())"


class NotebookError(ValueError):
    """A file that is not a readable lesson notebook."""


@dataclass
class RunReport:
    """What running one notebook produced."""

    path: Path
    lesson: str | None
    exercises: list[dict[str, Any]]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None

    def points(self, exercise_id: str) -> float:
        spec = next(e for e in self.exercises if e["id"] == exercise_id)
        result = self.results.get(exercise_id)
        return float(spec["points"]) if result and result["status"] == "passed" else 0.0

    @property
    def total(self) -> float:
        return sum(self.points(e["id"]) for e in self.exercises)

    @property
    def max_total(self) -> float:
        return sum(float(e["points"]) for e in self.exercises)


def read_notebook(path: Path) -> Any:
    """Read and validate a notebook, with a clear error for anything that is not one."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such file")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several types for broken JSON or schema errors
        raise NotebookError(f"{path}: not a valid Jupyter notebook ({type(exc).__name__}: {exc})") from None
    if "metarl_edu" not in nb.metadata:
        raise NotebookError(f"{path}: not a metarl-edu lesson (no metarl_edu metadata); open a copy of lessons/*.ipynb")
    return nb


def run_notebook(path: Path, *, cell_timeout: int = 120) -> RunReport:
    """Execute a copy of the notebook in quick mode with strict mode off, and collect its check results."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = read_notebook(path)
    meta = nb.metadata["metarl_edu"]
    report = RunReport(Path(path), meta.get("lesson"), list(meta.get("exercises", [])))
    nb.cells.append(nbformat.v4.new_code_cell(DUMP_SOURCE))
    env = {config.QUICK_VAR: "1", config.STRICT_VAR: "0", "MPLBACKEND": "Agg"}
    saved = {k: os.environ.get(k) for k in env}
    workdir = Path(tempfile.mkdtemp(prefix="metarl-edu-check-"))
    try:
        shutil.copy(path, workdir / Path(path).name)
        os.environ.update(env)
        client = NotebookClient(
            nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
            resources={"metadata": {"path": str(workdir)}},
        )
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            report.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(workdir, ignore_errors=True)
    report.results = _read_results(nb.cells[-1])
    if not report.results and report.error is None:
        report.error = "the notebook stopped before its checks could report"
    return report


def _read_results(cell: Any) -> dict[str, dict[str, Any]]:
    for output in cell.get("outputs", []):
        text = output.get("text", "")
        for line in text.splitlines():
            if line.startswith(RESULT_SENTINEL):
                return json.loads(line[len(RESULT_SENTINEL):])
    return {}


def format_report(report: RunReport) -> str:
    """Per-exercise lines with hints and points, and a total."""
    lines = [f"{report.path.name} (lesson {report.lesson})"]
    for spec in report.exercises:
        result = report.results.get(spec["id"])
        status = result["status"] if result else "not run"
        mark = {"passed": "✅", "failed": "❌", "not_attempted": "⏳"}.get(status, "⚠️")
        points = report.points(spec["id"])
        lines.append(f"  {mark} {spec['id']:<32} {status:<14} {points:g}/{float(spec['points']):g} points")
        for hint in (result or {}).get("hints", []):
            lines.append(f"       • {hint}")
    if report.error:
        lines.append(f"  ⚠️  the notebook raised an error while running: {report.error}")
    lines.append(f"  total: {report.total:g}/{report.max_total:g} points")
    return "\n".join(lines)
