"""One source, two releases: the committed notebooks match course/, stubs hide solutions, the build is strict
about its markers, refuses to clobber hand edits, and a release leaks nothing."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from metarl_edu.classroom.build import (
    BuildError,
    EditedNotebookError,
    build,
    load_course,
    load_lesson,
)
from metarl_edu.classroom.release import ReleaseError, find_leaks, release

ROOT = Path(__file__).resolve().parents[1]
LESSONS = load_course(ROOT / "course")


def generated(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.ipynb"))


def test_committed_notebooks_match_the_course(tmp_path):
    build(ROOT, tmp_path, course_dir=ROOT / "course")
    for folder in ("lessons", "solutions"):
        built = sorted(p.name for p in (tmp_path / folder).glob("*.ipynb"))
        assert built == [p.name for p in generated(folder)], f"{folder}/ has extra or missing notebooks"
        for name in built:
            fresh = (tmp_path / folder / name).read_text(encoding="utf-8")
            committed = (ROOT / folder / name).read_text(encoding="utf-8")
            assert fresh == committed, f"{folder}/{name} differs from course/; run `make build`"
    assert (tmp_path / "course" / "syllabus.md").read_text() == (ROOT / "course" / "syllabus.md").read_text()


def test_build_is_deterministic(tmp_path):
    build(ROOT, tmp_path / "a", course_dir=ROOT / "course")
    build(ROOT, tmp_path / "b", course_dir=ROOT / "course")
    for path in sorted((tmp_path / "a").rglob("*.*")):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


NOTEBOOKS = generated("lessons") + generated("solutions")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_hygiene(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kind = "lesson" if path.parent.name == "lessons" else "solution"
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.metarl_edu.kind == kind and nb.metadata.metarl_edu.lesson == path.stem
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "stored outputs"
    assert f'start_lesson("{path.stem}", kind="{kind}")' in code[0].source
    text = "\n".join(c.source for c in nb.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text
    for cell in code:
        assert len(cell.source.splitlines()) <= 25, f"cell {cell.id} is longer than 25 lines"
    roles = [c.metadata.metarl_edu.role for c in nb.cells]
    assert roles[0] == "header" and roles.count("exercise") == roles.count("check")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.stem)
def test_stubs_replace_solutions(lesson):
    student = nbformat.read(ROOT / "lessons" / f"{lesson.stem}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{lesson.stem}.ipynb", as_version=4)
    for spec in lesson.exercises:
        (stub,) = [c for c in student.cells if c.id == f"exercise-{spec.id}"]
        (full,) = [c for c in solution.cells if c.id == f"exercise-{spec.id}"]
        assert f"raise NotImplementedError({spec.hint!r}".replace("'", '"') in stub.source
        body = [line.strip() for line in spec.code.splitlines() if line.strip()]
        assert all(line in full.source for line in body)
        assert not any(line in stub.source for line in body if len(line) > 15)
        assert stub.metadata.metarl_edu.points == spec.points
        if spec.replaces:
            assert stub.metadata.metarl_edu.replaces == spec.replaces
    header = student.cells[0].source
    for spec in lesson.exercises:
        assert f"| `{spec.id}` | {spec.points:g} |" in header


def test_every_exercise_has_a_registered_check_and_matching_reference():
    from metarl_edu.classroom.checks import exercises

    registered = exercises()
    for lesson in LESSONS:
        for spec in lesson.exercises:
            assert spec.id in registered, f"no check registered for {spec.id}"
            assert spec.replaces == registered[spec.id].reference_name


# --------------------------------------------------------------------------------------------- marker errors
MASTER = '''\
# ---
# jupyter:
#   kernelspec: {{display_name: Python 3, language: python, name: python3}}
#   metarl_edu: {{title: Tiny, minutes: 5, prerequisites: [], objectives: [add]}}
# ---

# %%
from metarl_edu.classroom import check, start_lesson
start_lesson("{stem}", kind="master")

# %%
def add(a, b):
    {begin}
    return a + b
    {end}

# %%
{check}

# %%
### BEGIN HIDDEN TESTS id={hidden_id}
### PROBE
_four = add(2, 2)
### JUDGE
assert _four == 4
### END HIDDEN TESTS
'''

GOOD = dict(
    stem="05_tiny",
    begin='### BEGIN SOLUTION id=add points=1 hint="Use +"',
    end="### END SOLUTION",
    check='check("add", add)',
    hidden_id="add",
)


def write_master(folder: Path, **changes) -> Path:
    fields = {**GOOD, **changes}
    path = folder / f"{fields['stem']}.py"
    path.write_text(MASTER.format(**fields), encoding="utf-8")
    return path


def test_a_good_master_parses(tmp_path):
    lesson = load_lesson(write_master(tmp_path))
    assert [(e.id, e.points, e.hint) for e in lesson.exercises] == [("add", 1.0, "Use +")]
    assert lesson.hidden_tests[0].parts == ("", "_four = add(2, 2)", "assert _four == 4")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": ""}, "never closed"),
        ({"begin": ""}, "never opened"),
        ({"begin": '### BEGIN SOLUTION points=1 hint="x"'}, "needs id="),
        ({"begin": '### BEGIN SOLUTION id=add points=lots hint="x"'}, "points must be a number"),
        ({"begin": '### BEGIN SOLUTION id=add points=-1 hint="x"'}, "points must be positive"),
        ({"begin": "### BEGIN SOLUTION id=add points=1"}, "needs hint="),
        ({"begin": '### BEGIN SOLUTION id=add points=1 hint="x" colour=red'}, "unknown marker attribute"),
        ({"begin": '### BEGIN SOLUTION id=add points=1 hint="unclosed'}, "cannot read the marker"),
        ({"check": "print(add(1, 2))"}, "exactly one check cell"),
        ({"hidden_id": "sub"}, "lacks"),
        ({"stem": "5_tiny"}, "NN_name.py"),
    ],
)
def test_marker_errors_name_the_problem(tmp_path, changes, message):
    with pytest.raises(BuildError, match=message):
        load_lesson(write_master(tmp_path, **changes))


def test_error_names_file_and_line(tmp_path):
    with pytest.raises(BuildError, match=r"05_tiny\.py:\d+"):
        load_lesson(write_master(tmp_path, end=""))


def test_start_lesson_must_name_the_lesson(tmp_path):
    path = write_master(tmp_path)
    path.write_text(path.read_text().replace('start_lesson("05_tiny"', 'start_lesson("06_other"'))
    with pytest.raises(BuildError, match="names another lesson"):
        load_lesson(path)


# --------------------------------------------------------------------------------------------- hand edits
def test_build_refuses_to_overwrite_hand_edits(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    write_master(course)
    build(tmp_path)
    lesson = tmp_path / "lessons" / "05_tiny.ipynb"
    nb = nbformat.read(lesson, as_version=4)
    nb.cells[2].source = "def add(a, b):\n    return a + b  # my answer"
    nbformat.write(nb, lesson)
    edited = lesson.read_text()

    (course / "05_tiny.py").write_text((course / "05_tiny.py").read_text().replace("Tiny", "Tiny lesson"))
    with pytest.raises(EditedNotebookError, match="edited by hand"):
        build(tmp_path)
    assert lesson.read_text() == edited, "a refused build must not touch the file"
    build(tmp_path, force=True)
    assert "my answer" not in lesson.read_text()


def test_build_updates_unedited_notebooks(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    write_master(course)
    build(tmp_path)
    (course / "05_tiny.py").write_text((course / "05_tiny.py").read_text().replace("Tiny", "Renamed"))
    build(tmp_path)
    assert "Renamed" in (tmp_path / "lessons" / "05_tiny.ipynb").read_text()


# --------------------------------------------------------------------------------------------- release
def test_release_holds_lessons_and_package_but_no_solutions(tmp_path):
    out = release(ROOT, tmp_path / "class")
    assert sorted(p.name for p in (out / "lessons").glob("*.ipynb")) == [p.name for p in generated("lessons")]
    assert (out / "metarl_edu" / "mdp.py").exists() and (out / "README.md").exists()
    assert not (out / "solutions").exists() and not (out / "course").exists()
    readme = (out / "README.md").read_text()  # for learners: how to start, the lessons, the self-check
    assert "make lab" in readme and "| 11 |" in readme and "metarl-edu check" in readme
    assert "make test" not in readme and "solutions/" not in readme and "course/" not in readme
    assert not list(out.rglob("__pycache__"))
    assert find_leaks(ROOT, out) == []


def test_leak_detector_catches_a_planted_solution(tmp_path):
    out = release(ROOT, tmp_path / "class")
    shutil.copy(ROOT / "solutions" / "01_mdp.ipynb", out / "lessons" / "01_mdp.ipynb")
    leaks = find_leaks(ROOT, out)
    assert any("solution of value_iteration" in leak for leak in leaks)
    hidden = next(line for line in LESSONS[1].hidden_tests[0].code.splitlines() if "assert" in line)
    (out / "metarl_edu" / "extra.py").write_text(textwrap.dedent(hidden).strip() + "\n")
    assert any("hidden tests" in leak for leak in find_leaks(ROOT, out))


def test_release_never_overwrites(tmp_path):
    target = tmp_path / "class"
    target.mkdir()
    (target / "grades.csv").write_text("precious")
    with pytest.raises(ReleaseError, match="not empty"):
        release(ROOT, target)
    assert (target / "grades.csv").read_text() == "precious"
