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
from grading_helpers import LIMITS, RAISES, RAISES_AT, ROOT, lesson_json, welcome

from metarl_edu.classroom.grade import grade_folder, read_gradebook

Attack = Callable[[Path], list[str]]
ATTACKS: dict[str, tuple[Attack, bool]] = {}  # name -> (attack, slow)
JAIL_ONLY: set[str] = set()  # attacks graded only in a jail: without one they would harm this machine or the tests
JAILED = LIMITS.jailed


def attack(slow: bool = False, jail_only: bool = False) -> Callable[[Attack], Attack]:
    def register(fn: Attack) -> Attack:
        assert fn.__doc__, f"attack {fn.__name__} says what it tries in its docstring"
        ATTACKS[fn.__name__] = (fn, slow)
        if jail_only:
            JAIL_ONLY.add(fn.__name__)
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


@attack(slow=True)
def display_flood(folder: Path) -> list[str]:
    """Publishes display messages without end: many small messages instead of a few big ones."""
    return [write(folder, "display_flood.ipynb",
                  blank(("from IPython.display import display\nwhile True:\n    display({'a': 1}, raw=True)",)))]


@attack(slow=True)
def huge_print(folder: Path) -> list[str]:
    """Prints 400 MB in one call: one message the grader used to read whole (2-2.8 GB of grader memory)."""
    return [write(folder, "huge_print.ipynb", blank(("print('x' * 400_000_000)",)))]


# ============================================================================================ marks without the work
def blank_with(exercise: str, added: tuple[str, ...] = ()) -> dict:
    """Lesson 00 with the exercise cell replaced (and cells added after it)."""
    return welcome(exercise, added=added)


def visible_answers() -> str:
    """A dict literal of every visible check's input and answer for ``discounted_return``: the checks are public,
    so a learner can write this table without computing anything."""
    from metarl_edu.classroom.checks import get_exercise

    table = {}

    def note(rewards, gamma):
        table[(tuple(rewards), gamma)] = sum(gamma**t * r for t, r in enumerate(rewards))
        return table[(tuple(rewards), gamma)]

    for _description, run in get_exercise("discounted_return").cases(note):
        run()
    return f"_ANSWERS = {table!r}\n"


@attack()
def forged_report(folder: Path) -> list[str]:
    """Prints, from an IPython hook that runs after each grader cell, a report made with the checks' own
    recorder for a function that looks up the visible checks' answers: the old signed results could be forged
    with the key; now a report only carries answers, which the grader replays through its own cases."""
    source = visible_answers() + (
        "from IPython import get_ipython\n"
        "from metarl_edu.classroom import checks, sandbox\n\n"
        "def _lookup(rewards, gamma):\n"
        "    return _ANSWERS[(tuple(rewards), gamma)]\n\n"
        "def _forge(result):\n"
        "    cell = result.info.raw_cell or ''\n"
        "    if cell.startswith('__metarl_edu_grader__.check('):\n"
        "        nonce = cell.rsplit(\"'\", 2)[-2]\n"
        "        record = checks.record_check('discounted_return', _lookup)\n"
        "        print(sandbox.report_line(nonce, {'kind': 'check', 'exercise': 'discounted_return', **record}))\n\n"
        "get_ipython().events.register('post_run_cell', _forge)\n"
    )
    return [write(folder, "forged_report.ipynb", blank(added=(source,)))]


@attack()
def forges_the_place_of_an_error(folder: Path) -> list[str]:
    """Has the kernel's record of each exception in its function name a place of its own making (a line far past
    the cell, a negative one, a string, a list of five things, a line with text of its own), so that the grader's
    feedback shows the learner's words, or a line the cell does not have, or the grader fails."""
    source = (
        "import itertools\n"
        "import metarl_edu.classroom.wire as w\n\n"
        "_places = itertools.cycle([[4, 'PWNED: see example.com'], [10**40, 'x'], [-3, 'x'], [2, 'PWNED'],\n"
        "                           ['4', 'x'], [4, 'x', 5, 6, 7], 'line 4'])\n"
        "w.learner_line = lambda exc, fn: next(_places)\n"
    )
    return [write(folder, "forges_the_place_of_an_error.ipynb", blank_with(RAISES, added=(source,)))]


@attack()
def lookup_table(folder: Path) -> list[str]:
    """Answers the visible checks from a table of their answers (public in the library), without computing."""
    source = visible_answers() + "\ndef discounted_return(rewards, gamma):\n" \
                                 "    return _ANSWERS[(tuple(rewards), gamma)]\n"
    return [write(folder, "lookup_table.ipynb", blank_with(source))]


@attack()
def expected_from_the_callers_frame(folder: Path) -> list[str]:
    """Reads ``expected`` from the check's frame up the stack and returns it."""
    source = (
        "import sys\n\n"
        "def discounted_return(rewards, gamma):\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        if 'expected' in frame.f_locals:\n"
        "            return frame.f_locals['expected']\n"
        "        frame = frame.f_back\n"
        "    return 0.0\n"
    )
    return [write(folder, "frame_reading.ipynb", blank_with(source))]


@attack()
def equal_to_everything(folder: Path) -> list[str]:
    """Returns a float whose comparisons always succeed (``==``, ``<``, ``isclose`` by way of ``__eq__``)."""
    source = (
        "class _Always(float):\n"
        "    def __eq__(self, other):\n        return True\n\n"
        "    def __ne__(self, other):\n        return False\n\n"
        "    def __lt__(self, other):\n        return True\n\n"
        "    def __hash__(self):\n        return 0\n\n"
        "def discounted_return(rewards, gamma):\n    return _Always(0.0)\n"
    )
    return [write(folder, "equal_to_everything.ipynb", blank_with(source))]


@attack()
def runs_the_solution_notebook(folder: Path) -> list[str]:
    """Finds ``solutions/`` beside the installed package (an editable install) and runs the solution's cell."""
    source = (
        "import json, pathlib\nimport metarl_edu\n\n"
        "_root = pathlib.Path(metarl_edu.__file__).resolve().parents[1]\n"
        "_nb = json.loads((_root / 'solutions' / '00_welcome.ipynb').read_text())\n"
        "for _cell in _nb['cells']:\n"
        "    if _cell.get('id') == 'exercise-discounted_return':\n"
        "        exec(''.join(_cell['source']))\n"
    )
    return [write(folder, "runs_the_solution.ipynb", blank_with(source))]


@attack()
def execs_the_library_source(folder: Path) -> list[str]:
    """Runs the library module's source through ``exec`` and takes its function: a copy the guards cannot see."""
    source = (
        "import inspect\nimport metarl_edu.mdp as _m\n\n_ns = {}\n"
        "exec(inspect.getsource(_m), _ns)\ndiscounted_return = _ns['discounted_return']\n"
    )
    return [write(folder, "execs_library_source.ipynb", blank_with(source))]


@attack()
def copies_the_reference_code(folder: Path) -> list[str]:
    """Builds a new function from the reference's code object, so no guard stands in the way."""
    source = (
        "import types\nimport metarl_edu.mdp\n\n"
        "discounted_return = types.FunctionType(metarl_edu.mdp.discounted_return.__code__,\n"
        "                                       metarl_edu.mdp.discounted_return.__globals__)\n"
    )
    return [write(folder, "copies_reference_code.ipynb", blank_with(source))]


@attack()
def hunts_for_hidden_answers(folder: Path) -> list[str]:
    """A correct function that, each time it is called (the hidden tests too), searches the kernel's memory (every
    object, its callers' frames and their code's constants) for the hidden tests' expected answers, and writes what
    it finds to a file outside the kernel's folder."""
    exfil = folder.parent / "exfil.jsonl"
    source = (
        f"import gc, json, sys\n_EXFIL = {str(exfil)!r}\n\n"
        "_VISIBLE = {(1.0, 1.0, 1.0), (0.0, 0.0, 1.0), (1.0, 2.0, 3.0), (), (-1.0, 10.0)}\n\n"
        "def discounted_return(rewards, gamma):\n"
        "    found = []\n"
        "    if tuple(rewards) not in _VISIBLE:  # not a visible check's input: the hidden tests are running\n"
        "        for obj in gc.get_objects():\n"
        "            if isinstance(obj, dict):\n"
        "                found += [v[:3000] for v in list(obj.values())[:100] if isinstance(v, str) and '0.9' in v]\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        found += [repr(c) for c in frame.f_code.co_consts]\n"
        "        found += [repr(v)[:3000] for v in frame.f_locals.values()]\n"
        "        frame = frame.f_back\n"
        "    with open(_EXFIL, 'a') as handle:\n"
        "        handle.write(json.dumps(found) + '\\n')\n"
        "    g = 0.0\n"
        "    for r in reversed(rewards):\n"
        "        g = r + gamma * g\n"
        "    return g\n"
    )
    return [write(folder, "hunts_hidden_answers.ipynb", blank_with(source))]


@attack(slow=True)
def asks_a_subprocess(folder: Path) -> list[str]:
    """Calls the library's function in a subprocess, out of reach of the kernel's guards."""
    source = (
        "import json, subprocess, sys\n\n"
        "def discounted_return(rewards, gamma):\n"
        "    code = ('import sys, json; from metarl_edu.mdp import discounted_return as d; '\n"
        "            'print(d(json.loads(sys.argv[1]), float(sys.argv[2])))')\n"
        "    out = subprocess.run([sys.executable, '-c', code, json.dumps(list(rewards)), repr(gamma)],\n"
        "                         capture_output=True, text=True)\n"
        "    return float(out.stdout)\n"
    )
    return [write(folder, "asks_a_subprocess.ipynb", blank_with(source))]


@attack(slow=True)
def patches_numpy_and_json(folder: Path) -> list[str]:
    """Makes numpy's comparisons always succeed and JSON encode every result as a pass."""
    source = (
        "import json\nimport numpy\n\n"
        "numpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True\n"
        "json.JSONEncoder.encode = lambda self, o: '{\"status\": \"passed\"}'\n\n"
        "def discounted_return(rewards, gamma):\n    return 0.0\n"
    )
    return [write(folder, "patches_numpy_and_json.ipynb", blank_with(source))]


@attack(slow=True)
def reads_cases_from_closures(folder: Path) -> list[str]:
    """Takes the check cases' inputs and expected answers out of the registry's closures and answers from them."""
    source = (
        "from metarl_edu.classroom.checks import get_exercise\n\n"
        "_table = {}\n"
        "for _description, _run in get_exercise('discounted_return').cases(lambda r, g: 0.0):\n"
        "    _d = _run.__defaults__\n"
        "    _table[(tuple(_d[0]), _d[1])] = _d[2]\n\n"
        "def discounted_return(rewards, gamma):\n    return _table[(tuple(rewards), gamma)]\n"
    )
    return [write(folder, "reads_cases_from_closures.ipynb", blank_with(source))]


@attack(slow=True)
def plants_a_startup_file(folder: Path) -> list[str]:
    """Plants an IPython startup file, then kills its kernel, so that the rerun's kernel runs the file before the
    grader's first cell."""
    source = (
        "import os, pathlib\n"
        "_startup = pathlib.Path(os.environ.get('IPYTHONDIR', '.ipython')) / 'profile_default' / 'startup'\n"
        "_startup.mkdir(parents=True, exist_ok=True)\n"
        "(_startup / '00-forge.py').write_text('def discounted_return(rewards, gamma):\\n    return 1.75\\n')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    return [write(folder, "plants_startup_file.ipynb", blank(added=(source,)))]


# ============================================================================================ escaping the kernel
DAEMON = "metarl-edu-attack-daemon"


@attack(jail_only=True)
def kills_the_grader(folder: Path) -> list[str]:
    """Kills its parent (the grader, outside a jail) and every other process it can see."""
    source = (
        "import os, signal\n"
        "for pid in [os.getppid()] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    if pid > 1 and pid != os.getpid():\n"
        "        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n"
    )
    return [write(folder, "kills_the_grader.ipynb", blank(added=(source,)))]


@attack(jail_only=True)
def daemon_outlives_its_kernel(folder: Path) -> list[str]:
    """Starts a daemon in a session of its own (``setsid``) that would outlive its kernel, to reach later kernels
    through their connection files and rewrite the gradebook after the grader exits."""
    source = (
        "import subprocess\n"
        f"subprocess.Popen(['sh', '-c', 'exec -a {DAEMON} sleep 600'], start_new_session=True)\n"
    )
    return [write(folder, "daemon.ipynb", blank(added=(source,)))]


@attack(jail_only=True)
def reads_the_hidden_tests_from_course(folder: Path) -> list[str]:
    """Answers the visible checks from their table and the hidden tests from ``course/`` found next to the
    package (an editable install): the lesson's master holds the hidden tests' inputs and expected answers."""
    source = visible_answers() + (
        "import pathlib, metarl_edu\n"
        "_master = pathlib.Path(metarl_edu.__file__).resolve().parents[1] / 'course' / '00_welcome.py'\n"
        "_ANSWERS[((2.0,) * 50, 0.9)] = 2.0 * (1 - 0.9**50) / (1 - 0.9) if _master.exists() else 0.0\n"
        "_ANSWERS[((3.0,), 0.0)] = 3.0 if _master.exists() else 0.0\n\n"
        "def discounted_return(rewards, gamma):\n    return _ANSWERS[(tuple(rewards), gamma)]\n"
    )
    return [write(folder, "reads_course.ipynb", blank_with(source))]


@attack(jail_only=True)
def rewrites_the_checks_on_disk(folder: Path) -> list[str]:
    """Rewrites the installed checks of lesson 00 (an editable install: the package's own file), then kills its
    kernel, so that the rerun, and every later run, imports checks that pass anything."""
    source = (
        "import os, pathlib\nimport metarl_edu.classroom.exercises.l00_welcome as _m\n"
        "try:\n"
        "    pathlib.Path(_m.__file__).open('a').write('\\n_CASES.clear()\\n')\n"
        "except OSError:\n    pass\n"
        "os.kill(os.getpid(), 9)\n"
    )
    return [write(folder, "rewrites_checks.ipynb", blank(added=(source,)))]


@attack(jail_only=True)
def hogs_memory(folder: Path) -> list[str]:
    """Holds 3 GiB across three child processes (a limit per process let children hold 4.5 GB in all)."""
    source = (
        "import subprocess, sys\n"
        "hog = 'x = bytearray(1 << 30); x[::4096] = bytes(len(x[::4096])); import time; time.sleep(30)'\n"
        "children = [subprocess.Popen([sys.executable, '-S', '-c', hog]) for _ in range(3)]\n"
        "[c.wait() for c in children]\n"
    )
    return [write(folder, "hogs_memory.ipynb", blank(added=(source,)))]


@attack(slow=True, jail_only=True)
def fills_the_disk_and_shared_memory(folder: Path) -> list[str]:
    """Writes a gigabyte to /dev/shm and /tmp, and 200 processes (the limits were per process)."""
    source = (
        "import subprocess\n"
        "for path in ('/dev/shm/fill', '/tmp/fill'):\n"
        "    try:\n"
        "        with open(path, 'wb') as f:\n"
        "            for _ in range(1024):\n                f.write(b'x' * (1 << 20))\n"
        "    except OSError:\n        pass\n"
        "procs = []\n"
        "for _ in range(200):\n"
        "    try:\n        procs.append(subprocess.Popen(['sleep', '60']))\n"
        "    except OSError:\n        break\n"
    )
    return [write(folder, "fills_disk.ipynb", blank(added=(source,)))]


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
    """Grade the class: the honest submissions and every attack (the slow ones too when ``slow``); in the full form
    the honest submissions are also graded alone, for comparison."""
    honest = HONEST_FULL if slow else HONEST
    alone = None
    if slow:
        write_honest(base / "alone", honest)
        grade_folder(base / "alone", base / "alone.csv", course=ROOT / "course", limits=LIMITS, jobs=2,
                     progress=False)
        alone = {r["submission"]: r for r in read_gradebook(base / "alone.csv")}
    folder = base / "class"
    write_honest(folder, honest)
    files: dict[str, list[str]] = {}
    for name, (fn, is_slow) in ATTACKS.items():
        if (slow or not is_slow) and (JAILED or name not in JAIL_ONLY):
            files[name] = fn(folder)
    summary = grade_folder(folder, base / "class.csv", course=ROOT / "course", limits=LIMITS, jobs=2,
                           progress=False)
    return {"folder": folder, "files": files, "summary": summary, "honest": honest, "alone": alone,
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


def honest_rows() -> dict[str, tuple]:
    """What each honest submission gets when graded alone (the full form also grades them alone to compare): the
    wrong answer's count of passed checks is the self-study check's, which gives the grader's verdict."""
    from metarl_edu.classroom.checks import run_check

    wrong = run_check("discounted_return", lambda rewards, gamma: sum(rewards))
    return {
        "honest_solution.ipynb": (1.0, "ok", "", ""),
        "honest_blank.ipynb": (0.0, "ok", "discounted_return: not attempted", ""),
        "honest_wrong.ipynb": (0.0, "ok", f"discounted_return: {wrong.n_passed} of {wrong.n_cases} checks passed", ""),
    }


def check_run(graded: dict) -> None:
    expected = sorted([*graded["honest"], *(shown(f) for files in graded["files"].values() for f in files)])
    assert sorted(graded["rows"]) == expected  # one row per file, whatever the file did
    for name in graded["honest"]:
        row = graded["rows"][name]
        got = (row["total"], row["status"], row["reason"], row["review"])
        if graded["alone"] is not None:
            alone = graded["alone"][name]
            assert got == (alone["total"], alone["status"], alone["reason"], alone["review"]), name
        expected_row = honest_rows().get(name)
        if expected_row:
            assert got == expected_row, name


REDUCED = [name for name, (_, slow) in ATTACKS.items() if not slow and (JAILED or name not in JAIL_ONLY)]
FULL = [name for name in ATTACKS if JAILED or name not in JAIL_ONLY]


@pytest.mark.parametrize("name", REDUCED)
def test_attack_gets_no_more_than_the_blank_lesson(reduced, name):
    check_contained(reduced, name)


def test_every_file_has_a_row_and_honest_grades_are_unchanged(reduced):
    check_run(reduced)


@pytest.mark.slow
@pytest.mark.parametrize("name", FULL)
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


@pytest.mark.slow
def test_a_flood_of_small_messages_is_cut_by_the_graders_clock(full):
    row = full["rows"]["display_flood.ipynb"]
    cut = "your cell 10 (`from IPython.display import display`) ran past the time limit (4 s)"
    assert row["status"] == "ok" and cut in row["reason"], row


@pytest.mark.slow
def test_an_oversized_file_is_refused(full):
    assert "too large" in reason(full, "oversized.ipynb")


@pytest.mark.slow
def test_a_huge_print_leaves_the_graders_memory_bounded(tmp_path):
    """The grader's own peak memory (not the kernel's) while a kernel prints 400 MB in one call, against the same
    run with the blank lesson."""
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from metarl_edu.classroom.grade import Limits, grade_folder\n"
        "grade_folder(Path(sys.argv[1]), Path(sys.argv[2]), course=Path(sys.argv[3]), progress=False,\n"
        "             limits=Limits(cell_timeout=60, notebook_timeout=300, isolation='auto'))\n"
        "print(open(sys.argv[2]).read())\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    peaks, outputs = {}, {}
    for name, make in (("blank", lambda folder: [write(folder, "blank.ipynb", blank())]), ("huge", huge_print)):
        folder = tmp_path / name
        folder.mkdir()
        make(folder)
        done = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / f"{name}.csv"),
                               str(ROOT / "course")], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        peaks[name], outputs[name] = int(done.stdout.split()[-1]), done.stdout
    assert peaks["huge"] - peaks["blank"] < 100, peaks  # MiB; the print alone is 400 MB
    cut = ("your cell 10 (`print('x' * 400_000_000)`) sent a message larger than 8 MiB",  # by the grader's cap,
           "your cell 10 (`print('x' * 400_000_000)`) ran out of memory")
    assert any(reason in outputs["huge"] for reason in cut), outputs["huge"]  # or the jail's: the row says which


# ============================================================================================ what they got
def test_a_forged_report_earns_nothing_and_is_flagged(reduced):
    row = reduced["rows"]["forged_report.ipynb"]
    assert row["total"] == 0 and "failed the hidden tests" in row["reason"]  # its stub cannot answer them
    assert "several reports" in row["review"] and "metarl_edu.classroom" in row["review"]


def test_a_forged_place_of_an_error_is_quoted_only_from_the_graders_copy(reduced):
    file = "forges_the_place_of_an_error.ipynb"
    row = reduced["rows"][file]  # as for the same function without the forgery: every check raises
    assert row["total"] == 0 and row["reason"].startswith("discounted_return: 0 of 6 checks passed"), row
    hints = next(r for r in reduced["summary"].records if r["submission"] == file)["exercises"]["discounted_return"][
        "hints"]
    own = (RAISES_AT, " at line 2 (`total = 0.0`) of your exercise cell")  # its lines, from the grader's copy
    raised = [h for h in hints if ": your function raised IndexError" in h]  # not the no-rewards case's own hint
    assert all(h.endswith(("raised IndexError", *own)) for h in raised) and not any("PWNED" in h for h in hints)
    assert all(any(h.endswith(place) for h in raised) for place in own), hints
    assert any(h.endswith("raised IndexError") for h in raised), hints


@pytest.mark.parametrize("file", ["lookup_table.ipynb", "frame_reading.ipynb"])
def test_answers_from_the_visible_checks_fail_the_hidden_tests(reduced, file):
    row = reduced["rows"][file]
    assert row["total"] == 0 and "passed the checks but failed the hidden tests" in row["reason"], row


def test_an_object_equal_to_everything_is_compared_as_a_number(reduced):
    row = reduced["rows"]["equal_to_everything.ipynb"]
    assert row["total"] == 0 and " of " in row["reason"] and "checks passed" in row["reason"]  # a plain 0.0


@pytest.mark.parametrize(("file", "flag"), [("runs_the_solution.ipynb", "`exec`"),
                                            ("execs_library_source.ipynb", "the module `inspect`")])
def test_running_other_code_is_flagged_for_review(reduced, file, flag):
    assert flag in reduced["rows"][file]["review"]


def test_a_copy_of_the_reference_scores_zero(reduced):
    row = reduced["rows"]["copies_reference_code.ipynb"]
    assert row["total"] == 0 and "uses the reference implementation (metarl_edu.mdp.discounted_return)" in row["reason"]
    assert "`__code__`" in row["review"]


# ============================================================================================ read, not run
LESSON_06 = {"function": "reinforce_loss", "exercise": "reinforce_loss"}


@pytest.mark.parametrize(("source", "used"), [
    ("from metarl_edu.pg import reinforce_loss as rl\ndef reinforce_loss(*a):\n    return rl(*a)", True),
    ("import metarl_edu.pg as p\ndef reinforce_loss(*a):\n    return p.reinforce_loss(*a)", True),
    ("import metarl_edu\ndef reinforce_loss(*a):\n    return metarl_edu.reinforce_loss(*a)", True),  # lazy name
    ("from metarl_edu import pg\ndef reinforce_loss(*a):\n    return pg.policy_gradient_loss(*a)", True),
    ("from metarl_edu.classroom import references as r\nreinforce_loss = r.reinforce_loss_reference", True),
    ("import torch\ndef reinforce_loss(lp, g, b=None, m=None):\n    return -(lp * g).sum()", False),
])
def test_the_library_version_is_seen_under_any_name(source, used):
    """Read by the grader from the source: no kernel involved, so nothing the kernel does changes it."""
    from metarl_edu.classroom.grade import load_plans, references
    from metarl_edu.classroom.review import review_cells

    plan = load_plans(ROOT / "course")["06_policy_gradients"]
    review = review_cells([source], functions={e.id: e.function for e in plan.exercises},
                          references={e.id: references(e) for e in plan.exercises},
                          lesson_sources=[c.source for c in plan.cells if c.role in ("setup", "code")])
    assert ("reinforce_loss" in review.uses) == used, review


@pytest.mark.parametrize(("source", "flag"), [
    ("f = getattr(__import__('metarl_edu.pg'), 'pg')", "`getattr`"),
    ("import importlib\nm = importlib.import_module('metarl_edu.pg')", "the module `importlib`"),
    ("x = ().__class__.__base__.__subclasses__()", "the attribute `__class__`"),
    ("!cat /etc/passwd", "`get_ipython`"),
    ("%run other.py", "`get_ipython`"),
    ("import numpy as np\nq = np.load('answers.npy')", "`numpy.load`"),
    ("print(In[-1])", "`In`"),
    ("import torch\nx = torch._C", "the private name `torch._C`"),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "changes to the library (`numpy.allclose`)"),
])
def test_what_static_reading_cannot_follow_is_flagged(source, flag):
    from metarl_edu.classroom.review import review_cells

    assert flag in review_cells([source], functions={}, references={}).flags


# ============================================================================================ the jail
jail_only = pytest.mark.skipif(not JAILED, reason="the grader cannot jail kernels here")


@jail_only
def test_every_row_says_the_kernel_was_jailed(reduced):
    graded = [row for row in reduced["rows"].values() if row["status"] != "error"]
    assert graded and all(row["isolation"] == "jail" for row in graded)


@jail_only
def test_no_process_of_a_kernel_outlives_the_run(reduced):
    left = [p for p in os.listdir("/proc") if p.isdigit() and DAEMON.encode() in _cmdline(p)]
    assert left == []


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@jail_only
def test_the_course_and_the_checks_are_out_of_reach(reduced):
    row = reduced["rows"]["reads_course.ipynb"]
    assert row["total"] == 0 and "failed the hidden tests" in row["reason"]  # course/ is not in the jail
    source = (ROOT / "metarl_edu" / "classroom" / "exercises" / "l00_welcome.py").read_text()
    assert "_CASES.clear()" not in source  # the package is read-only in the jail


@jail_only
def test_memory_held_by_children_is_capped_and_reported(reduced):
    row = reduced["rows"]["hogs_memory.ipynb"]
    assert row["status"] == "ok" and "ran out of memory" in row["reason"] and "--memory-mb" in row["reason"], row


def test_hidden_answers_never_enter_even_an_unjailed_kernel(tmp_path):
    """The memory hunt, graded without a jail (so that it can write down what it found)."""
    import dataclasses

    folder = tmp_path / "subs"
    folder.mkdir()
    hunts_for_hidden_answers(folder)
    grade_folder(folder, tmp_path / "book.csv", course=ROOT / "course", progress=False,
                 limits=dataclasses.replace(LIMITS, isolation="none", memory_mb=None))
    found = (tmp_path / "exfil.jsonl").read_text()
    assert "discounted_return([2.0] * 50, 0.9)" in found  # the hunt ran during the hidden tests
    for judged in ("0.9**50", "### JUDGE", "abs(_fifty", "_one == 3.0"):  # the judge's text, kept by the grader
        assert judged not in found, judged
