"""The grader: full marks for the solutions, zero with "not attempted" for the untouched lessons, and a clear row
for each broken or hostile submission; no submission is modified; gradebooks round-trip; runs resume.

One class of hostile submissions is graded once (in parallel, quick mode, small time limits) and the tests read
its rows. Every hostile notebook is written under pytest's tmp_path, never where nbval collects notebooks.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from grading_helpers import GOOD, LIMITS, RAISES, RAISES_AT, ROOT, lesson_json, welcome

from metarl_edu.classroom import checks, cli, jail, wire
from metarl_edu.classroom.grade import (
    LIMITS_SCRIPT,
    Kernel,
    Limits,
    Outcome,
    _defining_cell,
    _exercise_result,
    _fatal_reason,
    assemble,
    code_fingerprint,
    grade_folder,
    judge_check_cell,
    kernel_user,
    load_plans,
    load_state,
    read_gradebook,
    read_submission,
    save_state,
    state_key,
    write_gradebook,
)
from metarl_edu.classroom.limits import default_memory_mb, torch_build
from metarl_edu.classroom.review import review_cells
from metarl_edu.classroom.runner import format_report, report_from_record
from metarl_edu.classroom.sandbox import TAG, read_report_line, report_line

PLANS = load_plans(ROOT / "course")
STUB = next(c["source"] for c in lesson_json("lessons", "00_welcome")["cells"]
            if c["id"] == "exercise-discounted_return")
STUB = "".join(STUB) if isinstance(STUB, list) else STUB
SAYS = (  # right for three rewards, else an exception whose message (not in the source) the kernel records
    "def discounted_return(rewards, gamma):\n    if len(rewards) != 3:\n"
    "        raise IndexError('DENWP'[::-1] + ' <script>')\n" + GOOD.split(":\n", 1)[1])


def without_ids_or_metadata(nb: dict) -> dict:
    """The notebook as a tool that keeps neither cell ids nor cell metadata writes it."""
    for cell in nb["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {}
    return nb


def hostile_class(folder: Path, fake_gradebook: Path) -> dict[str, str | dict]:
    """name -> notebook (dict) or raw file text."""
    fake = "submission,total\\nfiles.ipynb,100\\n"
    return {
        "solution_00": lesson_json("solutions", "00_welcome"),
        "solution_01": lesson_json("solutions", "01_mdp"),
        "untouched_00": lesson_json("lessons", "00_welcome"),
        "untouched_01": lesson_json("lessons", "01_mdp"),
        "empty": "",
        "broken": '{"cells": [',
        "unknown_lesson": welcome(lesson="99_nope"),
        "calls_reference": welcome("import metarl_edu\n\ndef discounted_return(rewards, gamma):\n"
                                   "    return metarl_edu.mdp.discounted_return(rewards, gamma)"),
        "aliases_reference": welcome("from metarl_edu import discounted_return"),
        "picks_reference": welcome("discounted_return = pick('discounted_return', None)"),
        "mentions_reference": welcome(GOOD, added=("import metarl_edu.mdp\nhelp(metarl_edu.mdp.discounted_return)",)),
        "private_reference": welcome(
            "from metarl_edu.classroom.exercises.l00_welcome import _reference\n\n"
            "def discounted_return(rewards, gamma):\n    return _reference(rewards, gamma)"),
        "redefines_check": welcome(
            check="print('✅ discounted_return: all 6 checks passed.')",
            added=("def check(*args, **kwargs):\n    print('✅ passed')\n    return True\n\n"
                   "import metarl_edu.classroom.checks as c\nc.check = check\nc.run_check = lambda *a, **k: None\n"
                   "c.get_exercise('discounted_return').cases = lambda fn: iter([])",)),
        "patches_library": welcome(
            "def discounted_return(rewards, gamma):\n    return 0.0",
            added=("import numpy, metarl_edu, metarl_edu.classroom.checks as c\n"
                   "c.expect_close = lambda *a, **k: None\nc.Failure = KeyError\n"
                   "numpy.allclose = lambda *a, **k: True\nmetarl_edu.mdp.discounted_return = lambda r, g: 0.0",)),
        "writes_files": welcome(added=(
            f"for path in ['gradebook.csv', '../gradebook.csv', {str(fake_gradebook)!r}]:\n"
            f"    try:\n        open(path, 'w').write({fake!r})\n    except OSError:\n        pass\n"
            f"print('{TAG} 00 ' + '{{\"kind\": \"check\", \"exercise\": \"discounted_return\", \"status\": "
            "\"passed\"}')",)),
        "infinite_loop": welcome("def discounted_return(rewards, gamma):\n    while True:\n        pass"),
        "raises": welcome("def discounted_return(rewards, gamma):\n    return 1 / 0"),
        "raises_with_a_message": welcome(SAYS),
        "prints_megabytes": welcome(GOOD + "\nprint('x' * 3_000_000)"),
        "huge_allocation": welcome("x = bytearray(1 << 45)  # 32 TiB\n" + GOOD),
        "sys_exit": welcome("import sys\nsys.exit('by' + 'e')\n" + GOOD, added=("exit()",)),
        "kills_kernel": welcome("import os\nos.kill(os.getpid(), 9)\n" + GOOD),
        "writes_below_the_raise": welcome(STUB + "\n" + GOOD.split(":\n", 1)[1]),
        "syntax_error": welcome("def discounted_return(rewards, gamma):\n    g = 0.0\n"
                                "    for r in reversed(rewards)\n        g = r + gamma * g\n    return g"),
        "error_in_a_helper": welcome("\n\ndef helper(x):\n    return x[5]\n\nhelper([1])\n" + GOOD),
        "error_in_an_added_cell": welcome("", added=("# mine\nimport numpy as np\nfirst = np.zeros(3)[5]\n" + GOOD,)),
        "asks_for_help": welcome(GOOD, added=("discounted_return?", "import numpy as np\nnp.sum??\n?np.mean")),
        "raises_in_a_check": welcome(RAISES + "\n\ndiscounted_return([1.0], 0.5)"),  # the cell raises too
        "raises_in_an_added_cell": welcome(added=("import numpy as np\n\n" + RAISES,)),  # below the stub's cell
        "without_ids_or_metadata": without_ids_or_metadata(welcome(GOOD)),
    }


def write_class(folder: Path, fake_gradebook: Path) -> None:
    folder.mkdir(parents=True)
    for name, content in hostile_class(folder, fake_gradebook).items():
        text = content if isinstance(content, str) else json.dumps(content)
        (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    folder, out = base / "submissions", base / "gradebook.csv"
    write_class(folder, out)
    before = hashes(folder)
    summary = grade_folder(folder, out, course=ROOT / "course", limits=LIMITS, jobs=3, progress=False)
    rows = {row["submission"].removesuffix(".ipynb"): row for row in read_gradebook(out)}
    records = {r["submission"].removesuffix(".ipynb"): r for r in summary.records}
    return {"folder": folder, "out": out, "summary": summary, "rows": rows, "records": records, "before": before}


def reason(graded, name: str) -> str:
    return graded["rows"][name]["reason"]


# --------------------------------------------------------------------------------------------- the class
def test_solutions_get_full_marks(graded):
    for name, lesson, points in (("solution_00", "00_welcome", 1.0), ("solution_01", "01_mdp", 5.0)):
        row = graded["rows"][name]
        assert (row["lesson"], row["total"], row["max_total"], row["status"], row["reason"]) == (
            lesson, points, points, "ok", ""), row
    assert graded["rows"]["solution_01"]["bellman_expectation_backup"] == 2.0
    assert graded["rows"]["solution_01"]["value_iteration"] == 3.0


def test_untouched_lessons_get_zero_not_attempted(graded):
    for name, ids in (("untouched_00", ["discounted_return"]),
                      ("untouched_01", ["bellman_expectation_backup", "value_iteration"])):
        row = graded["rows"][name]
        assert row["total"] == 0 and row["status"] == "ok", row
        assert row["reason"] == "; ".join(f"{i}: not attempted" for i in ids)


def test_a_lesson_01_row_is_graded_against_lesson_01(graded):
    row = graded["rows"]["solution_01"]
    assert row["discounted_return"] is None  # not this lesson's exercise: blank, not zero
    assert graded["rows"]["solution_00"]["value_iteration"] is None


@pytest.mark.parametrize(("name", "expected"), [
    ("empty", "invalid notebook: the file is empty"),
    ("broken", "invalid notebook: not valid JSON"),
    ("unknown_lesson", "unknown lesson '99_nope'"),
])
def test_unreadable_submissions_get_an_error_row(graded, name, expected):
    row = graded["rows"][name]
    assert row["status"] == "error" and row["total"] == 0 and row["reason"].startswith(expected)


@pytest.mark.parametrize("name", ["calls_reference", "aliases_reference", "picks_reference", "private_reference"])
def test_answers_that_use_the_reference_score_zero(graded, name):
    assert graded["rows"][name]["total"] == 0
    assert reason(graded, name).startswith("discounted_return: uses the reference implementation")


def test_redefined_or_edited_checks_change_nothing(graded):
    row = graded["rows"]["redefines_check"]
    assert row["total"] == 0 and row["reason"].startswith("discounted_return: 0 of 6 checks passed")  # no answers
    assert "the lesson's `check`" in row["review"] and "metarl_edu.classroom" in row["review"]


def test_patching_the_library_changes_nothing(graded):
    assert graded["rows"]["patches_library"]["total"] == 0
    assert reason(graded, "patches_library").startswith("discounted_return: 1 of 6 checks passed")  # [] -> 0


def test_written_files_and_fake_result_lines_change_nothing(graded):
    assert graded["rows"]["writes_files"]["total"] == 0
    assert reason(graded, "writes_files") == "discounted_return: not attempted"
    assert "files.ipynb,100" not in graded["out"].read_text()  # the grader's gradebook replaced the fake one


def test_an_infinite_loop_times_out(graded):
    assert graded["rows"]["infinite_loop"]["total"] == 0
    assert reason(graded, "infinite_loop").startswith("discounted_return: timed out")


def test_an_exception_reads_as_a_failed_check_with_hints(graded):
    assert reason(graded, "raises").startswith("discounted_return: 0 of 6 checks passed")
    assert any("ZeroDivisionError" in h for h in graded["records"]["raises"]["exercises"]["discounted_return"]["hints"])


def test_an_exceptions_message_from_the_kernel_reaches_no_feedback_and_changes_no_score(graded):
    row, record = graded["rows"]["raises_with_a_message"], graded["records"]["raises_with_a_message"]
    hints = record["exercises"]["discounted_return"]["hints"]
    feedback = (graded["summary"].feedback / "raises_with_a_message.txt").read_text()
    assert "PWNED" not in json.dumps([row, record], default=str) + feedback
    assert row["total"] == 0 and row["reason"].startswith("discounted_return: 3 of 6 checks passed"), row
    assert ("rewards=[], gamma=0.9: an episode without rewards has G_0 = 0, but your function raised IndexError. "
            "Start from g = 0 and let the loop add nothing") in hints and hints[0] in feedback
    assert sum(": your function raised IndexError at line 3 (`raise IndexError(" in h for h in hints) == 2, hints
    namespace: dict = {}
    exec(SAYS, namespace)
    self_study = checks.run_check("discounted_return", namespace["discounted_return"])
    assert self_study.n_passed == 3 and repr(self_study).count("IndexError: PWNED <script>") == 3, self_study

    row = graded["rows"]["mentions_reference"]  # lesson 00's own advice: help(metarl_edu.mdp.discounted_return)
    assert row["total"] == 1 and row["status"] == "ok", row
    assert "mentioned outside the code of exercise 'discounted_return'" in row["review"], row


def test_code_below_the_stubs_raise_is_named_as_the_reason_it_does_not_run(graded):
    row = graded["rows"]["writes_below_the_raise"]
    assert row["total"] == 0 and row["reason"] == (
        "discounted_return: `discounted_return` still raises NotImplementedError before your code runs: delete the "
        "stub's `raise NotImplementedError(...)` line"), row
    record = graded["records"]["writes_below_the_raise"]  # the self-check says it too
    assert "delete the stub's `raise" in format_report(report_from_record(Path("x.ipynb"), record, PLANS["00_welcome"]))


@pytest.mark.parametrize(("name", "expected"), [
    ("syntax_error", "your exercise cell raised SyntaxError at line 3 (`for r in reversed(rewards)`)"),
    ("error_in_a_helper", "your exercise cell raised IndexError at line 4 (`return x[5]`)"),  # blank lines count
    ("error_in_an_added_cell",  # the place of the cell counts every cell, markdown included, as JupyterLab shows
     "your cell 10 (`import numpy as np`) raised IndexError at line 3 (`first = np.zeros(3)[5]`)"),
])
def test_an_error_names_the_cell_and_the_line(graded, name, expected):
    row = graded["rows"][name]
    assert row["total"] == 0 and row["reason"] == f"discounted_return: no working `discounted_return`: {expected}"


@pytest.mark.parametrize(("name", "place"), [
    ("raises_in_a_check", RAISES_AT),
    ("raises_in_an_added_cell",
     " at line 6 (`total += gamma ** t * rewards[t]`) of your cell 10 (`import numpy as np`)"),
])
def test_an_exception_in_a_check_names_the_line_of_the_cell_that_defines_the_function(graded, name, place):
    row, result = graded["rows"][name], graded["records"][name]["exercises"]["discounted_return"]
    assert row["total"] == 0 and row["reason"].startswith("discounted_return: 0 of 6 checks passed"), row
    raised = [h for h in result["hints"] if h.endswith(": your function raised IndexError" + place)]
    assert len(raised) == 5, result["hints"]  # the sixth case (no rewards) words its own hint
    assert f"your function raised IndexError{place}" in (graded["summary"].feedback / f"{name}.txt").read_text()


def graded_with_places(tmp_path: Path, places: list) -> list[dict]:
    """The grader's verdicts on lesson 00's check of RAISES, from a record made by running it, with each call's
    place replaced by each of ``places`` (``...``: the place as recorded)."""
    plan = PLANS["00_welcome"]
    cells = assemble(plan, [c for c in welcome(RAISES)["cells"] if c["cell_type"] == "code"])
    index = next(i for i, c in enumerate(cells) if c.kind == "check")
    defined_in = _defining_cell(cells, {i: Outcome("ok") for i in range(index)}, index, "discounted_return")
    file = tmp_path / "cell.py"  # the kernel compiles each cell under a file name of its own
    file.write_text(defined_in.source)
    namespace: dict = {}
    exec(compile(defined_in.source, str(file), "exec"), namespace)
    recorded = checks.record_check("discounted_return", namespace["discounted_return"])
    verdicts = []
    for place in places:
        record = wire.loads(wire.dumps(recorded))
        for call in [call for case in record["cases"] for call in case["calls"]] if place is not ... else []:
            call["where"] = place
        report = {"kind": "check", "exercise": "discounted_return", "nonce": cells[index].nonce, **record}
        outcome = Outcome("ok", records=[wire.loads(wire.dumps(report))])
        verdicts.append(judge_check_cell(cells[index], outcome, (), defined_in))
    return verdicts


def test_a_forged_place_is_quoted_only_from_the_graders_copy_and_changes_no_score(tmp_path):
    line_2 = " at line 2 (`total = 0.0`) of your exercise cell"
    forged = [  # the place a forged record names, and what the grader says of it
        ([10**40, "x"], ""), ([-3, "x"], ""), ([0, "x"], ""), ([6, "x"], ""),  # line 6 is the grader's mark
        (["4", "x"], ""), ("line 4", ""), ([4, "x", 5, 6, 7], ""), ([True, "x"], ""), ([4.0, "x"], ""),
        ([4, "`forged text`"], RAISES_AT), ([2, "import os"], line_2),
    ]
    honest, *verdicts = graded_with_places(tmp_path, [..., *(place for place, _ in forged)])
    assert sum(h.endswith(RAISES_AT) for h in honest["hints"]) == 5, honest["hints"]
    for (place, said), verdict in zip(forged, verdicts, strict=True):
        assert verdict["hints"] == [h.replace(RAISES_AT, said) for h in honest["hints"]], place
        assert {**verdict, "hints": []} == {**honest, "hints": []}, place


@pytest.mark.parametrize(("added", "outcomes", "defines"), [
    ((), {}, "exercise-discounted_return"),
    (("x = 1", "print(discounted_return([1.0], 0.5))"), {}, "exercise-discounted_return"),
    ((RAISES,), {}, "your cell"),  # the last cell that defines it
    ((RAISES,), {"your cell": Outcome("error", records=[{"kind": "error", "line": 4}])}, "your cell"),
    (("x = 1 / 0\n" + RAISES,), {"your cell": Outcome("error", records=[{"kind": "error", "line": 1}])}, None),
    (("def discounted_return(rewards, gamma=1 / 0):\n    return 0.0",),  # the def itself raised
     {"your cell": Outcome("error", records=[{"kind": "error", "line": 1}])}, None),
    ((RAISES,), {"your cell": None}, "exercise-discounted_return"),  # skipped: it never ran
    ((RAISES + "\n)",), {}, "exercise-discounted_return"),  # it does not compile
    (("discounted_return = lambda rewards, gamma: 0.0",), {}, None),
    (("from numpy import *",), {}, None),
    (("import functools\n\n@functools.cache\n" + RAISES,), {}, None),
    (("if True:\n    " + RAISES.replace("\n", "\n    "),), {}, None),
    (("exec('discounted_return = len')",), {}, None),
    (("%timeit discounted_return([1.0], 0.5)",), {}, None),
])
def test_the_cell_that_defines_the_checked_function_is_the_last_that_binds_it_only_by_def(added, outcomes, defines):
    cells = assemble(PLANS["00_welcome"], [c for c in welcome(GOOD, added=added)["cells"] if c["cell_type"] == "code"])
    index = next(i for i, c in enumerate(cells) if c.kind == "check")
    ran = {i: Outcome("ok") for i in range(index)}
    for label, outcome in outcomes.items():
        i = next(i for i, c in enumerate(cells) if c.label.startswith(label))
        if outcome is None:
            del ran[i]
        else:
            ran[i] = outcome
    found = _defining_cell(cells, ran, index, "discounted_return")
    assert found is None if defines is None else found is not None and found.label.startswith(defines), found


def test_help_syntax_is_not_a_use_of_ipython(graded):
    row = graded["rows"]["asks_for_help"]
    assert (row["total"], row["status"], row["review"]) == (1, "ok", ""), row
    review = review_cells(["import metarl_edu\nmetarl_edu.mdp.discounted_return??\nx = 1\n!ls"], functions={},
                          references={"discounted_return": ["metarl_edu.mdp.discounted_return"]})
    assert review.flags == ["`get_ipython`", "`metarl_edu.mdp.discounted_return` mentioned outside the code of "
                            "exercise 'discounted_return' (not scored; check it is not how that exercise is answered)"]


def test_only_the_learners_own_cells_are_reviewed(graded):
    """Cells that kept neither their ids nor their metadata are known by their source: the lesson's own cells are
    not the learner's, however they were saved."""
    row = graded["rows"]["without_ids_or_metadata"]
    assert (row["total"], row["status"], row["reason"], row["review"]) == (1, "ok", "", ""), row
    lesson = without_ids_or_metadata(lesson_json("lessons", "01_mdp"))
    cells = assemble(PLANS["01_mdp"], [c for c in lesson["cells"] if c["cell_type"] == "code"])
    assert [c.kind for c in cells].count("learner") == 2  # its two exercise cells, in their places
    assert [c.label for c in cells if c.kind == "learner"] == ["exercise-bellman_expectation_backup",
                                                               "exercise-value_iteration"]


def test_only_what_the_learners_cells_print_is_counted(graded):
    for name in ("solution_00", "solution_01", "untouched_01"):  # figures and the lesson's own output do not count
        assert "million characters" not in graded["rows"][name]["reason"], graded["rows"][name]


def test_megabytes_of_output_are_cut_not_fatal(graded):
    row = graded["rows"]["prints_megabytes"]
    assert row["total"] == 1 and row["status"] == "ok" and "million characters" in row["reason"]


def test_asking_for_more_memory_than_the_machine_has(graded):
    assert graded["rows"]["huge_allocation"]["total"] == 0
    assert "your exercise cell raised MemoryError" in reason(graded, "huge_allocation")


def test_sys_exit_and_exit_do_not_stop_grading(graded):
    assert graded["rows"]["sys_exit"]["status"] == "ok"
    assert "your exercise cell raised SystemExit at line 2 (`sys.exit('by' + 'e')`)" in reason(graded, "sys_exit")
    assert "bye" not in reason(graded, "sys_exit")  # the grader's words and the learner's source, never the kernel's


def test_a_killed_kernel_is_rerun_without_the_cell(graded):
    row = graded["rows"]["kills_kernel"]
    assert row["status"] == "ok" and row["total"] == 0
    assert "your exercise cell stopped the kernel" in row["reason"] and "it was skipped" in row["reason"]


def test_submissions_are_never_modified(graded):
    assert hashes(graded["folder"]) == graded["before"]


def test_exit_code_says_some_could_not_be_graded(graded, tmp_path, capsys):
    out = str(graded["out"])
    flags = ["--out", out, "--timeout-cell", "4", "--timeout-notebook", "60", "--memory-mb", str(LIMITS.memory_mb),
             "--user", "", *([] if LIMITS.jailed else ["--trusted-class"])]  # as the class was graded
    assert cli.main(["grade", str(graded["folder"]), *flags]) == 1  # resumed from the saved results: no kernels
    assert "error: empty.ipynb: invalid notebook" in capsys.readouterr().err
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(graded["folder"] / "solution_00.ipynb", clean / "solution_00.ipynb")
    assert cli.main(["grade", str(clean), *flags]) == 0


def test_feedback_has_each_failed_checks_hint(graded):
    folder = graded["summary"].feedback
    text = (folder / "raises.txt").read_text()
    assert "0/1 points" in text and "ZeroDivisionError" in text and "Loop over the rewards" in text
    broken = (folder / "broken.txt").read_text()
    assert "could not be graded" in broken and "lesson  " not in broken and "lesson could not be told" in broken
    assert "1 of 1 points" in (folder / "solution_00.txt").read_text()


def test_incomplete_feedback_says_the_next_run_grades_the_rest():
    from metarl_edu.classroom.grade import feedback_text

    record = {"submission": "s.ipynb", "lesson": "00_welcome", "status": "incomplete", "reason": "", "total": 0.0,
              "max_total": 1.0, "exercises": {}, "notes": []}
    assert "the next grading run grades them again" in feedback_text(record, PLANS)


def test_a_rerun_resumes_from_the_saved_results(graded):
    summary = grade_folder(graded["folder"], graded["out"], course=ROOT / "course", limits=LIMITS, jobs=2,
                           progress=False)
    readable = [row for row in graded["rows"].values() if row["status"] != "error"]
    assert (summary.graded, summary.resumed) == (0, len(readable))  # unreadable files are simply read again
    assert {r["submission"]: r["total"] for r in summary.records} == {
        r["submission"]: r["total"] for r in graded["summary"].records}


# --------------------------------------------------------------------------------------------- interrupted runs
def test_an_interrupted_run_keeps_its_results_and_resumes(tmp_path):
    folder, out = tmp_path / "subs", tmp_path / "book.csv"
    folder.mkdir()
    (folder / "a_broken.ipynb").write_text("{")
    (folder / "b_unknown.ipynb").write_text(json.dumps(welcome(lesson="42_nope")))
    shutil.copy(ROOT / "solutions" / "00_welcome.ipynb", folder / "c_solution.ipynb")
    seen = []

    def interrupt(record):
        seen.append(record["submission"])
        raise KeyboardInterrupt

    (folder / "d_solution.ipynb").write_bytes((folder / "c_solution.ipynb").read_bytes() + b"\n")
    with pytest.raises(KeyboardInterrupt):
        grade_folder(folder, out, course=ROOT / "course", limits=LIMITS, jobs=2, progress=False, on_result=interrupt)
    rows = {row["submission"]: row for row in read_gradebook(out)}
    assert sorted(rows) == ["a_broken.ipynb", "b_unknown.ipynb", "c_solution.ipynb", "d_solution.ipynb"]  # every file
    [done] = seen
    (waiting,) = {"c_solution.ipynb", "d_solution.ipynb"} - {done}
    assert rows[done]["total"] == 1 and rows[done]["status"] == "ok"  # kept, in the gradebook already
    assert rows[waiting]["status"] == "incomplete" and "interrupted" in rows[waiting]["reason"]
    summary = grade_folder(folder, out, course=ROOT / "course", limits=LIMITS, jobs=3, progress=False)
    assert summary.resumed == 1 and summary.graded == 1
    rows = {row["submission"]: row for row in read_gradebook(out)}
    assert rows[waiting]["total"] == 1 and rows["a_broken.ipynb"]["status"] == "error"


# --------------------------------------------------------------------------------------------- pieces
def test_gradebook_round_trip(tmp_path):
    records = [
        {"submission": "ana/00.ipynb", "lesson": "00_welcome", "status": "ok", "total": 1.0, "max_total": 1.0,
         "reason": "", "exercises": {"discounted_return": {"points": 1.0}}},
        {"submission": 'bo "b", 01.ipynb', "lesson": "01_mdp", "status": "ok", "total": 2.0, "max_total": 5.0,
         "reason": "value_iteration: 1 of 3 checks passed; note: ünïcode, commas\nand a newline",
         "exercises": {"bellman_expectation_backup": {"points": 2.0}, "value_iteration": {"points": 0.0}}},
        {"submission": "x.ipynb", "lesson": "", "status": "error", "total": 0.0, "max_total": 0.0,
         "reason": "invalid notebook: the file is empty", "exercises": {}},
    ]
    path = write_gradebook(records, PLANS, tmp_path / "book.csv")
    rows = read_gradebook(path)
    assert list(rows[0]) == ["submission", "lesson", "discounted_return", "bellman_expectation_backup",
                             "value_iteration", "total", "max_total", "status", "reason", "review", "isolation"]
    for record, row in zip(records, rows, strict=True):
        assert row["submission"] == record["submission"] and row["status"] == record["status"]
        assert row["total"] == record["total"] and row["max_total"] == record["max_total"]
        assert row["reason"] == " ".join(record["reason"].split())
        for exercise_id in ("discounted_return", "bellman_expectation_backup", "value_iteration"):
            expected = record["exercises"].get(exercise_id, {}).get("points")
            assert row[exercise_id] == expected


def test_a_name_a_spreadsheet_would_run_is_stored_as_text_and_read_back_exactly(tmp_path):
    names = ["=HYPERLINK(\"http://x\",\"y\").ipynb", "+1.ipynb", "-2.ipynb", "@sum.ipynb", "'quoted.ipynb",
             "''.ipynb", "plain=name.ipynb"]
    records = [{"submission": name, "lesson": "00_welcome", "status": "ok", "total": 0.0, "max_total": 1.0,
                "reason": "=1+1" if name == "+1.ipynb" else "", "exercises": {}} for name in names]
    path = write_gradebook(records, PLANS, tmp_path / "book.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    assert all(not row["submission"].startswith(("=", "+", "-", "@")) for row in raw)
    assert raw[0]["submission"].startswith("'=") and raw[-1]["submission"] == "plain=name.ipynb"
    assert raw[1]["reason"] == "'=1+1"
    rows = read_gradebook(path)
    assert [row["submission"] for row in rows] == names and rows[1]["reason"] == "=1+1"


def test_reports_are_plain_data_and_capped():
    line = report_line("n0", {"kind": "check", "cases": [{"outcome": "passed", "calls": []}]})
    assert read_report_line(line) == ("n0", {"kind": "check", "cases": [{"outcome": "passed", "calls": []}]})
    assert read_report_line(line.replace(TAG, "@@other@@")) is None
    assert read_report_line(f"{TAG} n0 {{not json") is None
    assert read_report_line(f"{TAG} n0 " + "[" * 500 + "]" * 500) is None  # nested too deeply to be a report
    assert read_report_line(f"{TAG} n0 [1, 2]") is None  # not a record


def test_cells_come_from_the_master_and_learner_cells_keep_their_place():
    nb = welcome(GOOD, added=("helper = 1",), check="print('all good')")
    cells = assemble(PLANS["00_welcome"], [c for c in nb["cells"] if c["cell_type"] == "code"])
    kinds = [c.kind for c in cells]
    assert kinds[:2] == ["grader", "setup"]  # the grader's first cell, then the lesson's setup
    learner = [c for c in cells if c.kind == "learner"]
    assert [c.exercise for c in learner] == ["discounted_return", "discounted_return"]
    assert learner[0].source.startswith(GOOD) and learner[1].source.startswith("helper = 1")
    check = next(c for c in cells if c.kind == "check")
    assert check.source == f"__metarl_edu_grader__.check('discounted_return', 'discounted_return', {check.nonce!r})"
    assert kinds.index("check") > kinds.index("learner") and kinds.index("hidden") == kinds.index("check") + 1
    hidden = next(c for c in cells if c.kind == "hidden")
    expected = "2.0 * (1 - 0.9**50) / (1 - 0.9)"  # the hidden tests' expected answer stays in the grader
    assert expected in hidden.judge and expected not in hidden.source and "discounted_return([2.0]" in hidden.source
    assert hidden.names == ("_fifty", "_one")


def test_reading_never_raises(tmp_path):
    assert read_submission(tmp_path / "missing.ipynb", "missing.ipynb", PLANS).error.startswith("cannot read")
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    assert "JSON object" in read_submission(tmp_path / "list.ipynb", "list.ipynb", PLANS).error


def test_limits_script_sets_the_address_space_limit():
    command = [sys.executable, str(LIMITS_SCRIPT), "--memory-mb", "300", "--", sys.executable, "-c"]
    shown = subprocess.run([*command, "import resource; print(resource.getrlimit(resource.RLIMIT_AS))"],
                           capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == str((300 << 20, 300 << 20))
    blocked = subprocess.run([*command, "bytearray(1 << 30)"], capture_output=True, text=True)  # 1 GiB > 300 MiB
    assert blocked.returncode != 0 and "MemoryError" in blocked.stderr
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY  # the grader itself is untouched


def test_the_torch_build_is_read_without_importing_torch():
    import torch

    assert torch_build() == ("gpu" if torch.version.cuda or torch.version.hip else "cpu")


@pytest.mark.parametrize("isolation", ["jail", "none"])
def test_the_default_memory_limit_fits_the_torch_installed(tmp_path, isolation):
    """Lesson 08's solution, the lesson that needs the most memory, gets full marks with none of its cells out of
    memory under three quarters of the default limit for the torch installed (the CUDA build maps gigabytes of
    libraries that the CPU build does not): the default leaves a quarter for a learner's less frugal code.
    (Graded one isolation at a time: the grader parses notebooks with ``ast``, which CPython 3.11 does not allow
    from two threads at once.)"""
    if isolation == "jail" and jail.unavailable():
        pytest.skip(f"no jail here: {jail.unavailable()}")
    folder, budget = tmp_path / "class", default_memory_mb(isolation) * 3 // 4
    folder.mkdir()
    shutil.copy(ROOT / "solutions" / "08_maml_rl.ipynb", folder / "08_maml_rl.ipynb")
    limits = Limits(cell_timeout=120, notebook_timeout=300, memory_mb=budget, user=None, isolation=isolation)
    [record] = grade_folder(folder, tmp_path / "book.csv", course=ROOT / "course", limits=limits,
                            progress=False).records
    assert (record["status"], record["total"], record["notes"]) == ("ok", record["max_total"], []), record["reason"]
    if isolation == "jail":
        assert record["memory_peak_mb"] < budget


@pytest.mark.skipif(jail.unavailable() is not None, reason=f"no jail here: {jail.unavailable()}")
def test_a_lesson_that_cannot_run_in_the_memory_limit_says_what_to_do(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(ROOT / "solutions" / "00_welcome.ipynb", folder / "00_welcome.ipynb")
    limits = Limits(cell_timeout=60, notebook_timeout=120, memory_mb=100, isolation="jail")
    [record] = grade_folder(folder, tmp_path / "book.csv", course=ROOT / "course", limits=limits,
                            progress=False).records
    assert record["status"] == "error" and "ran out of memory" in record["reason"]
    assert f"raise --memory-mb (the default here is {default_memory_mb('jail')})" in record["reason"]


def test_kernel_user_is_chosen_safely():
    assert kernel_user("")[0] is None
    user, note = kernel_user("no-such-user-metarl")
    assert user is None and ("no user" in note or "not root" in note)
    user, note = kernel_user("nobody")
    if os.geteuid() != 0:
        assert user is None and "not root" in note
        return
    # As root: nobody is used exactly when it can run this interpreter (checked here independently).
    try:
        usable = subprocess.run([sys.executable, "-c", "import metarl_edu.classroom.sandbox"], user="nobody",
                                cwd="/", capture_output=True).returncode == 0
    except PermissionError:
        usable = False
    assert (user == "nobody") == usable, note


def test_a_check_that_cannot_report_scores_zero_and_says_why():
    plan = PLANS["00_welcome"]
    cells = assemble(plan, [c for c in welcome(GOOD)["cells"] if c["cell_type"] == "code"])
    check = next(i for i, c in enumerate(cells) if c.kind == "check")
    ran = {i: Outcome("ok") for i in range(check)}
    ran[check] = Outcome("error", "NameError", "name '__metarl_edu_grader__' is not defined")  # deleted by learner
    run = {"outcomes": ran, "fatal": {}, "verdicts": {check: judge_check_cell(cells[check], ran[check], ())}}
    result = _exercise_result(plan.exercises[0], cells, run, LIMITS)
    assert (result["points"], result["status"]) == (0.0, "error")
    assert result["reason"] == "the grader's check could not report (NameError)"
    del ran[check]
    assert _exercise_result(plan.exercises[0], cells, {"outcomes": ran, "fatal": {}, "verdicts": {}},
                            LIMITS)["status"] == "not_run"


def test_a_forged_report_is_judged_by_the_grader():
    plan = PLANS["00_welcome"]
    cells = assemble(plan, [c for c in welcome(GOOD)["cells"] if c["cell_type"] == "code"])
    check = next(c for c in cells if c.kind == "check")

    def judged(record: dict, nonce: str = check.nonce) -> dict | None:
        report = {"kind": "check", "exercise": "discounted_return", "nonce": nonce, **record}
        return judge_check_cell(check, Outcome("ok", records=[report]), ("metarl_edu.mdp.discounted_return",))

    assert judged({"status": "passed"}, nonce="another cell's") is None  # not this cell's report
    claimed = judged({"status": "passed", "callable": True, "cases": [{"outcome": "passed"}] * 6})
    assert (claimed["status"], claimed["n_passed"]) == ("failed", 0)  # a claim without answers earns nothing
    wrong_inputs = {"args": "0" * 16, "value": 1.75}  # the right answer, but recorded for other inputs
    forged = judged({"callable": True, "cases": [{"outcome": "passed", "calls": [wrong_inputs]}]})
    assert forged["status"] == "failed" and forged["mismatch"]
    confessed = judged({"callable": True, "cases": [], "hits": ["metarl_edu.mdp.discounted_return"]})
    assert confessed["status"] == "reference"


def test_without_course_the_lessons_give_the_same_plan_minus_hidden_tests():
    from_lessons = load_plans(ROOT / "lessons")  # what a class release has: no course/
    assert sorted(from_lessons) == sorted(PLANS)
    for stem, plan in PLANS.items():
        assert from_lessons[stem].exercises == plan.exercises  # ids, points, hints, replaces, function names
        assert plan.has_hidden and not from_lessons[stem].has_hidden
        roles = [c.role for c in from_lessons[stem].cells]
        assert roles == [c.role for c in plan.cells if c.source.strip() or c.role != "code"]


def test_the_state_key_follows_the_graders_code_and_the_master(tmp_path):
    package = tmp_path / "metarl_edu"
    shutil.copytree(ROOT / "metarl_edu", package, ignore=shutil.ignore_patterns("__pycache__", "data"))
    before = code_fingerprint(package)
    assert code_fingerprint(package) == before
    exercises = package / "classroom" / "exercises" / "l00_welcome.py"
    exercises.write_text(exercises.read_text() + "\n# a changed check\n")
    assert code_fingerprint(package) != before
    sub = read_submission(ROOT / "solutions" / "00_welcome.ipynb", "a.ipynb", PLANS)
    key = state_key(sub, PLANS, LIMITS)
    other_master = {**PLANS, "00_welcome": dataclasses.replace(PLANS["00_welcome"], fingerprint="changed")}
    assert state_key(sub, other_master, LIMITS) != key
    assert state_key(sub, PLANS, dataclasses.replace(LIMITS, cell_timeout=5)) != key


def test_state_is_private_and_written_whole(tmp_path):
    state = tmp_path / "book.csv.state"
    save_state(state, "k" * 32, {"total": 1.0})
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert [p.name for p in state.iterdir()] == ["k" * 32 + ".json"]  # no temporary file left behind
    assert load_state(state, "k" * 32) == {"total": 1.0}
    os.symlink(tmp_path / "elsewhere.json", state / ("j" * 32 + ".json"))  # a planted link is replaced, not followed
    save_state(state, "j" * 32, {"total": 0.0})
    assert not (tmp_path / "elsewhere.json").exists() and load_state(state, "j" * 32) == {"total": 0.0}


@pytest.mark.parametrize(("source", "status", "clock"), [
    # large messages: the caps cut them in 1-3 s on an idle machine; the clock leaves a loaded one room to show it
    ("import sys\nwhile True:\n    sys.stdout.write('y' * 100000 + '\\n')", "flood", 8),
    ("from IPython.display import display\nwhile True:\n    display({'a': 1}, raw=True)", ("flood", "timeout"), 3),
])
def test_a_flooding_cell_is_cut_by_the_graders_clock_and_caps(source, status, clock):
    # room for the output to pile up in the kernel until the grader's caps cut it (at 1 GiB the jail may kill first)
    kernel = Kernel(dataclasses.replace(LIMITS, cell_timeout=clock, memory_mb=max(LIMITS.memory_mb, 2048)))
    try:
        kernel.start()
        outcome = kernel.run(source, clock)
        assert outcome.status in (status if isinstance(status, tuple) else (status,)), outcome
        assert outcome.seconds < clock + 3 + 5  # the limit, the interrupt's grace, and a little slack
    finally:
        kernel.close()


def test_a_cell_that_ran_out_of_memory_is_reported_as_such_even_when_it_then_hung():
    hung = _fatal_reason(Outcome("hung"), LIMITS)
    assert "ignored the interrupt" in hung and "memory" not in hung
    starved = _fatal_reason(Outcome("hung", oom=True), LIMITS)
    assert starved.startswith("ran out of memory") and "--memory-mb" in starved and "time limit" in starved
    assert _fatal_reason(Outcome("dead", oom=True), LIMITS).startswith("ran out of memory and stopped the kernel")
