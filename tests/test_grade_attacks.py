"""Attacks on ``metarl-edu grade``: submissions written by a learner who wants marks without the work, or who wants
the run (or a classmate's grade) to fail.

Each attack is a small function with a docstring saying what it tries; it writes its file(s) into the class folder
and returns their names. One class (honest submissions and every attack) is graded once, and the tests check that

- the run finishes and its gradebook has one row per file;
- every attack ends with a grade no higher than the blank lesson's, or is flagged for review;
- the honest submissions get the same grades as when they are graded without the attackers.

The default run grades the reduced class (attacks that take a few seconds); ``pytest -m slow`` grades the full
class, adding the attacks that need a minute or a lot of memory. Everything is written under pytest's tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from grading_helpers import LIMITS, ROOT, lesson_json, welcome

from metarl_edu.classroom.grade import grade_folder, read_gradebook

Attack = Callable[[Path], list[str]]
ATTACKS: dict[str, tuple[Attack, bool]] = {}  # name -> (attack, slow)


def attack(slow: bool = False) -> Callable[[Attack], Attack]:
    def register(fn: Attack) -> Attack:
        assert fn.__doc__, f"attack {fn.__name__} says what it tries in its docstring"
        ATTACKS[fn.__name__] = (fn, slow)
        return fn
    return register


def write(folder: Path, name: str | bytes, notebook: dict | bytes) -> str:
    data = notebook if isinstance(notebook, bytes) else json.dumps(notebook).encode()
    path = os.path.join(os.fsencode(folder), name if isinstance(name, bytes) else name.encode())
    with open(path, "wb") as handle:
        handle.write(data)
    return os.fsdecode(name) if isinstance(name, bytes) else name


EXERCISE = next(i for i, c in enumerate(lesson_json("lessons", "00_welcome")["cells"])
                if c.get("id") == "exercise-discounted_return")


def blank(added: tuple[str, ...] = (), **meta) -> dict:
    """The untouched lesson 00 (no work done), with cells added after its exercise."""
    return welcome(added=added, **meta)


# ============================================================================================ the whole run fails
@attack()
def deep_json(folder: Path) -> list[str]:
    """Nests 200,000 JSON arrays in the notebook's metadata, so that parsing it raises RecursionError and, with it,
    stops the whole run before any gradebook is written."""
    text = json.dumps(blank())
    depth = 200_000
    text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    return [write(folder, "deep_json.ipynb", text.encode())]


@attack()
def moderately_deep_json(folder: Path) -> list[str]:
    """Nests 500 JSON objects (under Python's recursion limit, so it parses) to trip code that walks it later."""
    nb = blank()
    deep: dict = {}
    for _ in range(500):
        deep = {"x": deep}
    nb["metadata"]["deep"] = deep
    return [write(folder, "moderately_deep_json.ipynb", nb)]


@attack()
def unhashable_lesson(folder: Path) -> list[str]:
    """Writes the lesson id in the metadata as a list and as an object, which the grader used as a dict key."""
    return [write(folder, "unhashable_list.ipynb", blank(lesson=["00_welcome"])),
            write(folder, "unhashable_dict.ipynb", blank(lesson={"00_welcome": 1}))]


@attack()
def wrong_types(folder: Path) -> list[str]:
    """Gives a cell a number as its source, a cell that is a string, and metadata that is a list."""
    numbers = blank()
    numbers["cells"][EXERCISE]["source"] = 12345
    strings = blank()
    strings["cells"].append("a cell that is a string")
    listed = blank()
    listed["cells"][EXERCISE]["metadata"] = ["role", "exercise"]
    return [write(folder, "number_source.ipynb", numbers), write(folder, "string_cell.ipynb", strings),
            write(folder, "list_metadata.ipynb", listed)]


@attack()
def latin1_file_name(folder: Path) -> list[str]:
    """Names the file in Latin-1 (``caf\\xe9.ipynb``, not UTF-8), which the CSV writer could not encode."""
    return [write(folder, b"caf\xe9.ipynb", blank())]


@attack()
def control_characters_in_the_name(folder: Path) -> list[str]:
    """Puts a newline and an escape sequence in the file name, to break the gradebook's and the log's lines."""
    return [write(folder, "a\nfake,row\x1b[31m.ipynb", blank())]


@attack()
def symlink_to_a_classmate(folder: Path) -> list[str]:
    """Submits a symbolic link to a classmate's notebook (here, the honest solution), which the grader followed and
    graded as the attacker's own work; also a link to a file outside the class folder."""
    os.symlink("honest_solution.ipynb", folder / "link_to_classmate.ipynb")
    os.symlink(ROOT / "solutions" / "00_welcome.ipynb", folder / "link_outside.ipynb")
    return ["link_to_classmate.ipynb", "link_outside.ipynb"]


@attack()
def fifo_named_like_a_notebook(folder: Path) -> list[str]:
    """Submits a named pipe called ``.ipynb``: opening it for reading blocks the grader forever."""
    os.mkfifo(folder / "pipe.ipynb")
    return ["pipe.ipynb"]


@attack(slow=True)
def oversized_file(folder: Path) -> list[str]:
    """Submits a 60 MB notebook (a valid one, padded with an output), to exhaust the grader's memory or time."""
    nb = blank()
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * (60 << 20)}]
    return [write(folder, "oversized.ipynb", nb)]


# ============================================================================================ floods and limits
@attack()
def stdout_flood(folder: Path) -> list[str]:
    """Prints without end from an added cell: the grader's message loop never got back to its clock, so the cell
    time limit never fired."""
    return [write(folder, "stdout_flood.ipynb",
                  blank(("import sys\nwhile True:\n    sys.stdout.write('y' * 10000 + '\\n')",)))]


@attack()
def display_flood(folder: Path) -> list[str]:
    """Publishes display messages without end: many small messages instead of a few big ones."""
    return [write(folder, "display_flood.ipynb",
                  blank(("from IPython.display import display\nwhile True:\n    display({'a': 1}, raw=True)",)))]


@attack(slow=True)
def huge_print(folder: Path) -> list[str]:
    """Prints 400 MB in one call: one message the grader used to read whole (2-2.8 GB of grader memory)."""
    return [write(folder, "huge_print.ipynb", blank(("print('x' * 400_000_000)",)))]


# ============================================================================================ the class
HONEST = {
    "honest_solution.ipynb": lambda: lesson_json("solutions", "00_welcome"),
    "honest_blank.ipynb": blank,
    "honest_wrong.ipynb": lambda: welcome("def discounted_return(rewards, gamma):\n    return sum(rewards)"),
}
HONEST_FULL = {**HONEST, "honest_01.ipynb": lambda: lesson_json("solutions", "01_mdp")}
BLANK = "honest_blank.ipynb"


def write_honest(folder: Path, honest: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in honest.items():
        write(folder, name, make())


def grade_class(base: Path, slow: bool) -> dict:
    honest = HONEST_FULL if slow else HONEST
    alone = base / "alone"
    write_honest(alone, honest)
    grade_folder(alone, base / "alone.csv", course=ROOT / "course", limits=LIMITS, jobs=2, progress=False)
    folder = base / "class"
    write_honest(folder, honest)
    files: dict[str, list[str]] = {}
    for name, (fn, is_slow) in ATTACKS.items():
        if slow or not is_slow:
            files[name] = fn(folder)
    summary = grade_folder(folder, base / "class.csv", course=ROOT / "course", limits=LIMITS, jobs=2,
                           progress=False)
    return {"folder": folder, "files": files, "summary": summary, "honest": honest,
            "alone": {r["submission"]: r for r in read_gradebook(base / "alone.csv")},
            "rows": {r["submission"]: r for r in read_gradebook(base / "class.csv")}}


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    return grade_class(tmp_path_factory.mktemp("attacks"), slow=False)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return grade_class(tmp_path_factory.mktemp("attacks_full"), slow=True)


def shown(name: str) -> str:
    """A file name as the gradebook shows it."""
    from metarl_edu.classroom.grade import display_name

    return display_name(name)


def check_contained(graded: dict, name: str) -> None:
    blank_total = graded["rows"][BLANK]["total"]
    for file in graded["files"][name]:
        row = graded["rows"][shown(file)]
        assert row["total"] <= blank_total or row["review"], (name, row)


def check_run(graded: dict) -> None:
    expected = sorted([*graded["honest"], *(shown(f) for files in graded["files"].values() for f in files)])
    assert sorted(graded["rows"]) == expected  # one row per file, whatever the file did
    for name in graded["honest"]:
        row, alone = graded["rows"][name], graded["alone"][name]
        assert (row["total"], row["status"], row["reason"]) == (alone["total"], alone["status"], alone["reason"])
    assert graded["alone"]["honest_solution.ipynb"]["total"] == 1 and graded["alone"][BLANK]["total"] == 0


REDUCED = [name for name, (_, slow) in ATTACKS.items() if not slow]


@pytest.mark.parametrize("name", REDUCED)
def test_attack_gets_no_more_than_the_blank_lesson(reduced, name):
    check_contained(reduced, name)


def test_every_file_has_a_row_and_honest_grades_are_unchanged(reduced):
    check_run(reduced)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_gets_no_more_than_the_blank_lesson_full(full, name):
    check_contained(full, name)


@pytest.mark.slow
def test_every_file_has_a_row_and_honest_grades_are_unchanged_full(full):
    check_run(full)


# ============================================================================================ what the rows say
def reason(graded: dict, file: str | bytes) -> str:
    return graded["rows"][shown(os.fsdecode(file) if isinstance(file, bytes) else file)]["reason"]


def test_broken_files_get_rows_that_say_why(reduced):
    assert "nested more than 64 levels" in reason(reduced, "deep_json.ipynb")
    assert "nested more than 64 levels" in reason(reduced, "moderately_deep_json.ipynb")
    assert "names the lesson as a JSON array" in reason(reduced, "unhashable_list.ipynb")
    assert "names the lesson as a JSON object" in reason(reduced, "unhashable_dict.ipynb")
    assert f"the source of cell {EXERCISE + 1} is not text" in reason(reduced, "number_source.ipynb")
    assert "is not a JSON object" in reason(reduced, "string_cell.ipynb")
    assert "symbolic link" in reason(reduced, "link_to_classmate.ipynb")
    assert "symbolic link" in reason(reduced, "link_outside.ipynb")
    assert "not a regular file" in reason(reduced, "pipe.ipynb")
    for name in ("deep_json.ipynb", "unhashable_list.ipynb", "link_to_classmate.ipynb", "pipe.ipynb"):
        assert reduced["rows"][name]["status"] == "error"


def test_odd_file_names_are_escaped_and_still_graded(reduced):
    row = reduced["rows"]["caf\\xe9.ipynb"]
    assert (row["status"], row["reason"]) == ("ok", "discounted_return: not attempted")  # graded as usual
    assert reduced["rows"]["a\\nfake,row\\x1b[31m.ipynb"]["total"] == 0
    feedback = reduced["summary"].feedback
    assert (feedback / "caf\\xe9.txt").is_file()


def test_a_list_metadata_cell_is_treated_as_an_added_cell(reduced):
    assert reduced["rows"]["list_metadata.ipynb"]["status"] == "ok"


@pytest.mark.parametrize(("file", "what"), [("stdout_flood.ipynb", "sent a message larger than 8 MiB"),
                                            ("display_flood.ipynb", "ran past the time limit (4 s)")])
def test_floods_are_cut_and_reported(reduced, file, what):
    """A flood is cut by the grader's own clock or by its caps on output, and the row says so."""
    row = reduced["rows"][file]
    assert row["status"] == "ok" and f"your cell 5 {what}" in row["reason"], row


@pytest.mark.slow
def test_an_oversized_file_is_refused(full):
    assert "too large" in reason(full, "oversized.ipynb")


@pytest.mark.slow
def test_a_huge_print_leaves_the_graders_memory_bounded(tmp_path):
    """The grader's own peak memory (not the kernel's) while a kernel prints 400 MB in one call."""
    folder = tmp_path / "subs"
    folder.mkdir()
    huge_print(folder)
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from metarl_edu.classroom.grade import Limits, grade_folder\n"
        "grade_folder(Path(sys.argv[1]), Path(sys.argv[2]), course=Path(sys.argv[3]), progress=False,\n"
        "             limits=Limits(cell_timeout=60, notebook_timeout=300, memory_mb=4096, user=None))\n"
        "print(open(sys.argv[2]).read())\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / "b.csv"), str(ROOT / "course")],
                          capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert int(done.stdout.split()[-1]) < 400, done.stdout  # MiB; the print alone is 400 MB
    assert "your cell 5 sent a message larger than 8 MiB" in done.stdout  # cut, and the row says so
