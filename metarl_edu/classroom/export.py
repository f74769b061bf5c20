"""``metarl-edu export nbgrader|otter DIR``: the lessons in the source format of nbgrader or Otter-Grader.

Both are written from the masters in ``course/``, for a class that already runs one of these tools.

- **nbgrader**: ``DIR/nbgrader_config.py`` and ``DIR/source/<lesson>/<lesson>.ipynb``, one assignment per lesson.
  Each exercise cell is a solution cell (``### BEGIN SOLUTION`` / ``### END SOLUTION``; ``generate_assignment``
  puts nbgrader's ``raise NotImplementedError()`` there, below a comment with the lesson's hint). Its check cell
  becomes a locked, autograded test cell worth the exercise's points: it prints the check's report and fails unless
  the check passes, then runs the hidden tests between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``
  (``generate_assignment`` strips them, ``autograde`` puts them back).
- **otter**: ``DIR/<lesson>/<lesson>.ipynb`` in Otter Assign's notebook format. Each exercise is a question worth
  its points, all or nothing; the student version raises ``NotImplementedError(hint)`` (a ``BEGIN PROMPT``
  block), and the question's tests are the lesson's check and, marked ``# HIDDEN``, the hidden tests.

What the tools do not do that ``metarl-edu grade`` does is in the README (For instructors).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat

from metarl_edu.classroom.build import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    CHECK_CALL,
    END_HIDDEN,
    END_SOLUTION,
    GENERATED_NOTE,
    START_CALL,
    Lesson,
    _parse_attrs,
    header_markdown,
    load_course,
)
from metarl_edu.config import QUICK_VAR

TOOLS = ("nbgrader", "otter")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

NBGRADER_CONFIG = f'''\
# nbgrader's configuration for the metarl-edu lessons, written by `metarl-edu export nbgrader`.
# Grade in quick mode, as `metarl-edu grade` does:  {QUICK_VAR}=1 nbgrader autograde LESSON
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "metarl-edu"
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ExecutePreprocessor.timeout = 300
'''


def _split(lesson: Lesson, source: str) -> tuple[list[str], list[str], dict[str, Any] | None, list[str]]:
    """One master code cell as (lines before its solution region, the region's body, the marker's attributes or
    None, lines after it), without its hidden tests (the build's parser keeps those in ``lesson.hidden_tests``)."""
    before: list[str] = []
    body: list[str] = []
    after: list[str] = []
    attrs: dict[str, Any] | None = None
    target: list[str] | None = before
    for line in source.splitlines():
        begin = BEGIN_SOLUTION.match(line)
        if begin:
            attrs = {**_parse_attrs(begin.group("attrs"), str(lesson.path)), "indent": begin.group("indent")}
            target = body
        elif END_SOLUTION.match(line):
            target = after
        elif BEGIN_HIDDEN.match(line):
            resume, target = target, None
        elif END_HIDDEN.match(line):
            target = resume
        elif target is not None:
            target.append(line)
    return before, body, attrs, after


def _lesson_cells(lesson: Lesson) -> tuple[list[tuple[str, Any]], dict[str, list[str]]]:
    """The master's cells as ("markdown" | "setup" | "code" | "exercise" | "check", payload), and the hidden tests'
    lines by exercise id. An exercise's payload is what :func:`_split` returns."""
    cells: list[tuple[str, Any]] = []
    hidden: dict[str, list[str]] = {}
    for test in lesson.hidden_tests:
        hidden.setdefault(test.exercise, []).extend(test.code.splitlines())
    first_code = True
    for cell in lesson.notebook.cells:
        if cell.cell_type == "markdown":
            cells.append(("markdown", cell.source))
            continue
        parts = _split(lesson, cell.source)
        if parts[2] is not None:
            cells.append(("exercise", parts))
            continue
        text = "\n".join(parts[0]).strip("\n")
        if not text:
            continue  # a cell that held only hidden tests
        if first_code:
            text = START_CALL.sub(lambda m: f'start_lesson("{m.group("lesson")}", kind="lesson")', text)
            cells.append(("setup", text))
            first_code = False
        elif CHECK_CALL.search(text):
            cells.append(("check", (CHECK_CALL.search(text).group("id"), text)))
        else:
            cells.append(("code", text))
    return cells, hidden


def _exercise_source(payload: Any, tool: str) -> str:
    before, body, attrs, after = payload
    indent, hint = attrs["indent"], json.dumps(attrs["hint"])
    if tool == "nbgrader":
        region = [f"{indent}# Hint: {attrs['hint']}", f"{indent}### BEGIN SOLUTION", *body, f"{indent}### END SOLUTION"]
    else:
        quote = f'{indent}"""'
        prompt = [f"{quote} # BEGIN PROMPT", f"{indent}raise NotImplementedError({hint})", f"{quote} # END PROMPT"]
        region = [*prompt, f"{indent}# BEGIN SOLUTION NO PROMPT", *body, f"{indent}# END SOLUTION"]
    return "\n".join(before + region + after).strip("\n")


def _check_lines(exercise: str, function: str, report: bool) -> list[str]:
    """Test code that fails unless the lesson's check of ``function`` passes (its report is the failure message)."""
    lines = [f'_check = check("{exercise}", {function})']
    if report:
        lines.append("print(repr(_check))")
    return lines + ["assert _check.passed, repr(_check)"]


def _checked_function(text: str) -> str:
    match = re.search(r"""^check\(\s*["']\w+["']\s*,\s*(?P<fn>[\w.]+)\s*\)""", text, re.MULTILINE)
    if not match:
        raise ValueError(f"a check cell should read check(\"id\", function); got {text!r}")
    return match.group("fn")


def to_nbgrader(lesson: Lesson) -> Any:
    cells, hidden = _lesson_cells(lesson)
    specs = {e.id: e for e in lesson.exercises}
    out = [nbformat.v4.new_markdown_cell(_header(lesson))]
    for kind, payload in cells:
        if kind == "markdown":
            out.append(nbformat.v4.new_markdown_cell(payload))
        elif kind == "exercise":
            cell = nbformat.v4.new_code_cell(_exercise_source(payload, "nbgrader"))
            cell.metadata["nbgrader"] = _nbgrader_meta(f"exercise-{payload[2]['id']}", solution=True)
            out.append(cell)
        elif kind == "check":
            exercise, text = payload
            lines = _check_lines(exercise, _checked_function(text), report=True)
            if hidden.get(exercise):
                lines += ["### BEGIN HIDDEN TESTS", *hidden[exercise], "### END HIDDEN TESTS"]
            cell = nbformat.v4.new_code_cell("\n".join(lines))
            cell.metadata["nbgrader"] = _nbgrader_meta(f"check-{exercise}", grade=True,
                                                       points=specs[exercise].points)
            out.append(cell)
        else:
            cell = nbformat.v4.new_code_cell(payload)
            if kind == "setup":
                cell.metadata["nbgrader"] = _nbgrader_meta("setup", locked=True)
            out.append(cell)
    return _notebook(out)


def _nbgrader_meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
                   points: float | None = None) -> dict[str, Any]:
    meta = {"grade": grade, "grade_id": grade_id, "locked": grade or locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def to_otter(lesson: Lesson) -> Any:
    cells, hidden = _lesson_cells(lesson)
    specs = {e.id: e for e in lesson.exercises}
    checks = {payload[0]: _checked_function(payload[1]) for kind, payload in cells if kind == "check"}
    config = {"name": lesson.stem, "init_cell": True, "check_all_cell": False, "export_cell": False,
              "generate": True, "solutions_pdf": False, "tests": {"ok_format": True}}
    out = [_raw("# ASSIGNMENT CONFIG\n" + _yaml(config)),
           nbformat.v4.new_markdown_cell(_header(lesson))]
    for kind, payload in cells:
        if kind == "markdown":
            out.append(nbformat.v4.new_markdown_cell(payload))
        elif kind == "exercise":
            exercise = payload[2]["id"]
            question = {"name": exercise, "points": specs[exercise].points, "all_or_nothing": True}
            out += [_raw("# BEGIN QUESTION\n" + _yaml(question)), _raw("# BEGIN SOLUTION"),
                    nbformat.v4.new_code_cell(_exercise_source(payload, "otter")),
                    _raw("# END SOLUTION"), _raw("# BEGIN TESTS"),
                    nbformat.v4.new_code_cell("\n".join(_check_lines(exercise, checks[exercise], report=False)))]
            if hidden.get(exercise):
                out.append(nbformat.v4.new_code_cell("\n".join(["# HIDDEN", *hidden[exercise]])))
            out += [_raw("# END TESTS"), _raw("# END QUESTION")]
        else:
            out.append(nbformat.v4.new_code_cell(payload[1] if kind == "check" else payload))
    return _notebook(out)


def _header(lesson: Lesson) -> str:
    note = GENERATED_NOTE.format(stem=lesson.stem)
    exported = f"Exported by `metarl-edu export` from `course/{lesson.stem}.py`; edit the master, not this notebook."
    return header_markdown(lesson, "lesson").replace(note, exported)


def _raw(text: str) -> Any:
    return nbformat.v4.new_raw_cell(text)


def _yaml(mapping: dict[str, Any], indent: str = "") -> str:
    """A small YAML writer for Otter's flat configs (JSON scalars are valid YAML)."""
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.append(_yaml(value, indent + "  "))
        else:
            lines.append(f"{indent}{key}: {json.dumps(value)}")
    return "\n".join(lines)


def _notebook(cells: list[Any]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:03d}"
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    return nb


def export(course_dir: Path, out: Path, tool: str) -> list[Path]:
    """Write every lesson of ``course_dir`` in ``tool``'s source format into the new or empty folder ``out``."""
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}; got {tool!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; give a new folder so nothing is overwritten")
    lessons = load_course(Path(course_dir))
    written = []
    for lesson in lessons:
        if tool == "nbgrader":
            path, nb = out / "source" / lesson.stem / f"{lesson.stem}.ipynb", to_nbgrader(lesson)
        else:
            path, nb = out / lesson.stem / f"{lesson.stem}.ipynb", to_otter(lesson)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        written.append(path)
    if tool == "nbgrader":
        config = out / "nbgrader_config.py"
        config.write_text(NBGRADER_CONFIG)
        written.append(config)
    return written
