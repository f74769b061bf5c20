"""The package: light import, one config module, the public API, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import metarl_edu
from metarl_edu import config
from metarl_edu.classroom import cli
from metarl_edu.classroom.runner import NotebookError, format_report, run_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_import_leaves_torch_out():
    code = "import sys, metarl_edu; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))"
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_api_names():
    for name in ("TabularMDP", "policy_evaluation", "value_iteration", "q_from_v", "size"):
        assert callable(getattr(metarl_edu, name))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        metarl_edu.NoSuchThing  # noqa: B018


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_config_reads_the_flags(monkeypatch, value, expected):
    monkeypatch.setenv("METARL_EDU_QUICK", value)
    monkeypatch.setenv("METARL_EDU_STRICT", value)
    assert config.quick() is expected and config.strict() is expected
    assert config.size(quick="small", full="big") == ("small" if expected else "big")


def test_no_scattered_environment_reads():
    offenders = [
        str(p.relative_to(ROOT)) for p in (ROOT / "metarl_edu").rglob("*.py")
        if "METARL_EDU_QUICK" in p.read_text() and p.name != "config.py"
    ]
    assert offenders == []


def test_lab_copies_only_missing_lessons(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    mine = work / "01_mdp.ipynb"
    mine.write_text("my own work")
    copied = cli.copy_missing_lessons(ROOT, work)
    assert mine.read_text() == "my own work"
    assert mine not in copied and (work / "00_welcome.ipynb") in copied
    assert cli.copy_missing_lessons(ROOT, work) == []


def test_self_check_reports_points_and_never_modifies(tmp_path, capsys):
    (tmp_path / "work").mkdir()
    lesson = tmp_path / "work" / "00_welcome.ipynb"
    lesson.write_bytes((ROOT / "lessons" / "00_welcome.ipynb").read_bytes())
    before = lesson.read_bytes()
    report = run_notebook(lesson)
    assert lesson.read_bytes() == before
    assert report.results["discounted_return"]["status"] == "not_attempted" and report.total == 0

    nb = nbformat.read(lesson, as_version=4)
    solved = nbformat.read(ROOT / "solutions" / "00_welcome.ipynb", as_version=4)
    exercise = next(c for c in solved.cells if c.id == "exercise-discounted_return")
    next(c for c in nb.cells if c.id == exercise.id).source = exercise.source
    nbformat.write(nb, lesson)
    solved_bytes = lesson.read_bytes()
    assert cli.main(["check", str(lesson)]) == 0
    out = capsys.readouterr().out
    assert "discounted_return" in out and "passed" in out and "total: 1/1 points" in out
    progress = out[out.index("Progress in"):]
    assert "00_welcome" in progress and "1/1 points  complete" in progress and "01_mdp" in progress
    from metarl_edu.classroom.build import load_course

    lessons = load_course(ROOT / "course")
    total = sum(lesson.total_points for lesson in lessons)
    assert "no copy here yet" in progress and f"total: 1/{total:g} points over {len(lessons)} lessons" in progress

    # With no argument, the self-check covers work/; the unchanged notebook is reported from the last check.
    assert cli.main(["--root", str(tmp_path), "check"]) == 0
    assert "unchanged since the last check" in capsys.readouterr().out
    assert lesson.read_bytes() == solved_bytes


def test_self_check_explains_a_wrong_answer(tmp_path):
    lesson = tmp_path / "00_welcome.ipynb"
    nb = nbformat.read(ROOT / "lessons" / "00_welcome.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.id == "exercise-discounted_return")
    cell.source = "def discounted_return(rewards, gamma):\n    return sum(rewards)"
    nbformat.write(nb, lesson)
    text = format_report(run_notebook(lesson))
    assert "failed" in text and "plain sum" in text and "total: 0/1 points" in text


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"cells": []}), json.dumps({"nbformat": 4})])
def test_self_check_rejects_broken_files_clearly(tmp_path, content, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookError, match="broken.ipynb"):
        run_notebook(path)
    assert cli.main(["check", str(path)]) == 2
    assert "error:" in capsys.readouterr().err
    assert path.read_text() == content


@pytest.mark.parametrize("name", ["qlearning", "bandits", "sinusoid", "navigation", "hyperparams", "maml_rl", "rl2"])
def test_bench_names_parse(name):
    args = cli.parser().parse_args(["bench", name, "--threads", "1"])
    assert args.name == name and args.threads == 1 and args.func is cli.cmd_bench
