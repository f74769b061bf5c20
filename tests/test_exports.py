"""`metarl-edu export nbgrader|otter`: the lessons in each tool's source format.

The structure tests run everywhere. The tests marked ``slow`` run the real tools (the ``exports`` extra, installed
by ``make test-all``) on lesson 00: nbgrader's generate_assignment + autograde and Otter's assign + run give the
solution full marks and the stub 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from metarl_edu.classroom import cli
from metarl_edu.classroom.build import load_course

ROOT = Path(__file__).resolve().parents[1]
LESSONS = load_course(ROOT / "course")
LESSON = "00_welcome"


def _export(tmp_path: Path, tool: str) -> Path:
    out = tmp_path / tool
    assert cli.main(["--root", str(ROOT), "export", tool, str(out)]) == 0
    return out


def _sources(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


def test_nbgrader_export_marks_solutions_checks_and_hidden_tests(tmp_path):
    out = _export(tmp_path, "nbgrader")
    assert "c.CourseDirectory.course_id" in (out / "nbgrader_config.py").read_text()
    for lesson in LESSONS:
        nb = nbformat.read(out / "source" / lesson.stem / f"{lesson.stem}.ipynb", as_version=4)
        nbformat.validate(nb)
        meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
        solutions = [m["grade_id"] for m in meta if m.get("solution")]
        graded = {m["grade_id"]: m["points"] for m in meta if m.get("grade")}
        assert solutions == [f"exercise-{e.id}" for e in lesson.exercises]
        assert graded == {f"check-{e.id}": e.points for e in lesson.exercises}
        for cell, m in zip(nb.cells, meta, strict=True):
            has_hidden = "### BEGIN HIDDEN TESTS" in cell.source
            assert not has_hidden or m.get("grade"), "hidden tests only in autograded cells"
            assert ("### BEGIN SOLUTION" in cell.source) == bool(m.get("solution"))
        text = _sources(nb)
        assert text.count("### BEGIN HIDDEN TESTS") == len({h.exercise for h in lesson.hidden_tests})
        assert "id=" not in text.split("### BEGIN")[1].splitlines()[0]  # the tool's bare markers
        assert f'start_lesson("{lesson.stem}", kind="lesson")' in text


def test_otter_export_has_one_question_per_exercise(tmp_path):
    out = _export(tmp_path, "otter")
    for lesson in LESSONS:
        nb = nbformat.read(out / lesson.stem / f"{lesson.stem}.ipynb", as_version=4)
        raw = [c.source for c in nb.cells if c.cell_type == "raw"]
        assert raw[0].startswith("# ASSIGNMENT CONFIG") and f'name: "{lesson.stem}"' in raw[0]
        questions = [r for r in raw if r.startswith("# BEGIN QUESTION")]
        assert [q.splitlines()[1] for q in questions] == [f'name: "{e.id}"' for e in lesson.exercises]
        for question, exercise in zip(questions, lesson.exercises, strict=True):
            assert f"points: {json.dumps(exercise.points)}" in question and "all_or_nothing: true" in question
        assert raw.count("# BEGIN TESTS") == raw.count("# END QUESTION") == len(lesson.exercises)
        text = _sources(nb)
        assert text.count("# HIDDEN\n") == len({h.exercise for h in lesson.hidden_tests})
        assert text.count("# BEGIN PROMPT") == text.count("# BEGIN SOLUTION NO PROMPT") == len(lesson.exercises)


def test_export_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert cli.main(["--root", str(ROOT), "export", "otter", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "keep.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------ the real tools (slow)
def _tool_env() -> dict[str, str]:
    """The tools run in this interpreter's environment (its bin/ first on PATH), in quick mode, strict mode off
    (a submission is graded as it is, like `metarl-edu grade` does)."""
    env = {k: v for k, v in os.environ.items() if k != "METARL_EDU_STRICT"}
    env.update(METARL_EDU_QUICK="1", MPLBACKEND="Agg", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    return env


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, env=_tool_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def _with_cells(nb, sources: dict[str, str]):
    """A copy of ``nb`` with the sources of the cells whose nbgrader grade_id is a key replaced."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    return nb


@pytest.mark.slow
def test_nbgrader_autograde_gives_the_solution_full_marks_and_the_stub_zero(tmp_path):
    pytest.importorskip("nbgrader", reason="the exports extra is not installed (make test-all installs it)")
    from nbgrader.api import Gradebook

    out = _export(tmp_path, "nbgrader")
    _run(["nbgrader", "generate_assignment", LESSON], out)
    released = nbformat.read(out / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    assert "BEGIN HIDDEN TESTS" not in _sources(released) and "reversed(rewards)" not in _sources(released)
    source = nbformat.read(out / "source" / LESSON / f"{LESSON}.ipynb", as_version=4)
    solution = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution"))
    reference = 'def discounted_return(rewards, gamma):\n    from metarl_edu.mdp import discounted_return as d\n' \
                '    return d(rewards, gamma)'
    submissions = {
        "alice": _with_cells(released, {"exercise-discounted_return": solution}),
        "bob": released,
        "carol": _with_cells(released, {"exercise-discounted_return": reference}),
        # an edited check cell: autograde puts the locked cell (and its hidden tests) back from the source
        "dave": _with_cells(released, {"check-discounted_return": "pass"}),
    }
    for student, nb in submissions.items():
        path = out / "submitted" / student / LESSON / f"{LESSON}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    _run(["nbgrader", "autograde", LESSON], out)
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission(LESSON, s).score for s in submissions}
    # nbgrader does not know the reference ban: carol's call of the library earns the point that
    # `metarl-edu grade` refuses (README: what each route keeps and loses).
    assert scores == {"alice": 1.0, "bob": 0.0, "carol": 1.0, "dave": 0.0}


@pytest.mark.slow
def test_otter_run_gives_the_solution_full_marks_and_the_stub_zero(tmp_path):
    pytest.importorskip("otter", reason="the exports extra is not installed (make test-all installs it)")
    out = _export(tmp_path, "otter") / LESSON
    _run(["otter", "assign", f"{LESSON}.ipynb", "dist"], out)
    student = nbformat.read(out / "dist" / "student" / f"{LESSON}.ipynb", as_version=4)
    assert "reversed(rewards)" not in _sources(student) and "NotImplementedError(" in _sources(student)
    (autograder,) = (out / "dist" / "autograder").glob("*.zip")
    submissions = {"alice": out / "dist" / "autograder" / f"{LESSON}.ipynb", "bob": out / "dist" / "student" /
                   f"{LESSON}.ipynb"}
    scores = {}
    for name, notebook in submissions.items():
        folder = tmp_path / "graded" / name
        folder.mkdir(parents=True)
        (folder / notebook.name).write_bytes(notebook.read_bytes())
        _run(["otter", "run", "--no-logo", "-a", str(autograder), "-o", str(folder), notebook.name], folder)
        results = json.loads((folder / "results.json").read_text())
        scores[name] = {t["name"]: t.get("score") for t in results["tests"] if "score" in t}
    assert scores == {"alice": {"discounted_return": 1.0}, "bob": {"discounted_return": 0.0}}
