"""The package: light import, one config module, the public API, and the CLI."""

from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
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
    copied = cli.copy_missing_lessons(ROOT / "lessons", work)
    assert mine.read_text() == "my own work"
    assert mine not in copied and (work / "00_welcome.ipynb") in copied
    assert cli.copy_missing_lessons(ROOT / "lessons", work) == []
    assert cli.shipped_lessons() == ROOT / "lessons"  # run from the checkout: its own lessons/


def test_copy_lessons_works_from_an_installed_wheel_without_a_checkout(tmp_path):
    """The sdist carries lessons/, the wheel built from it ships them as package data, and `copy-lessons` run from
    that install, far from any checkout, copies exactly the committed lessons (which a test in test_build.py keeps
    in sync with course/)."""
    import tarfile
    import zipfile

    src = tmp_path / "src"
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes((ROOT / name).read_bytes())
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    shutil.copytree(ROOT / "metarl_edu", src / "metarl_edu", ignore=ignore)
    shutil.copytree(ROOT / "lessons", src / "lessons", ignore=ignore)
    dist = tmp_path / "dist"
    build = "import sys; from setuptools import build_meta as b; print(getattr(b, sys.argv[1])(sys.argv[2]))"
    sdist = subprocess.run([sys.executable, "-c", build, "build_sdist", str(dist)], cwd=src, capture_output=True,
                           text=True, check=True).stdout.split()[-1]
    with tarfile.open(dist / sdist) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / sdist.removesuffix(".tar.gz")
    wheel = subprocess.run([sys.executable, "-c", build, "build_wheel", str(dist)], cwd=unpacked,
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    lessons = sorted((ROOT / "lessons").glob("*.ipynb"))
    site = tmp_path / "site"
    with zipfile.ZipFile(dist / wheel) as zf:
        shipped = sorted(n for n in zf.namelist() if n.startswith("metarl_edu/data/lessons/"))
        assert shipped == [f"metarl_edu/data/lessons/{p.name}" for p in lessons]
        zf.extractall(site)

    dest = tmp_path / "home" / "lessons"
    dest.mkdir(parents=True)
    (dest / "01_mdp.ipynb").write_text("my own work")
    env = {**os.environ, "PYTHONPATH": str(site)}
    command = [sys.executable, "-m", "metarl_edu.classroom.cli", "copy-lessons", str(dest)]
    out = subprocess.run(command, cwd=tmp_path / "home", env=env, capture_output=True, text=True, check=True).stdout
    assert f"{len(lessons) - 1} lesson(s) copied" in out
    assert (dest / "01_mdp.ipynb").read_text() == "my own work"
    for path in lessons:
        if path.name != "01_mdp.ipynb":
            assert (dest / path.name).read_bytes() == path.read_bytes()
    where = subprocess.run([sys.executable, "-c", "import metarl_edu; print(metarl_edu.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site))  # the installed copy ran, not the checkout
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert again.startswith("0 lesson(s) copied")


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
    assert cli.main(["check", str(tmp_path / "work")]) == 0  # a folder stands for its notebooks
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


# ============================================================================================ import graph
PACKAGE = ROOT / "metarl_edu"
UPPER_ROOMS = ("metarl_edu.studies", "metarl_edu.notebook", "metarl_edu.classroom")


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module is imported: at module level, also inside a module-level
    ``if``/``try``/``with``, but not inside a function or class body, nor under ``if TYPE_CHECKING``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                    visit(block)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports at import time, read from the source with ``ast``.

    ``import a.b`` and ``from a.b import name`` import ``a.b``; ``from a import b`` imports the module ``a.b`` when
    there is one (else ``a`` itself, for a name defined there). The parent packages that Python initialises on the
    way are not counted: every module would otherwise depend on ``metarl_edu/__init__.py``.
    """
    names = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names}
                continue
            base = node.module or ""
            if node.level:  # a relative import: from its package, one level up per extra dot
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                edges.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in names else base)
        graph[name] = {m for m in edges if m in names and m != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm): each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def room(module: str) -> str:
    """``core`` (top level and envs/), ``fast``, ``studies``, ``notebook`` or ``classroom``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("fast", "studies", "notebook", "classroom") else "core"


# What each room must not import at import time: nothing reaches upward.
FORBIDDEN = {
    "core": UPPER_ROOMS,
    "fast": UPPER_ROOMS,
    "studies": ("metarl_edu.notebook", "metarl_edu.classroom"),
    "notebook": ("metarl_edu.classroom",),
    "classroom": (),
}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} -> {b}" for a in sorted(graph) for b in sorted(graph[a])
            if any(b == top or b.startswith(top + ".") for top in FORBIDDEN[room(a)])]


def test_import_graph_sees_what_it_should():
    graph = import_graph()
    assert "metarl_edu.classroom.cases" in graph["metarl_edu.classroom.checks"]  # from a.b import name
    assert "metarl_edu.envs" in graph["metarl_edu"]  # from metarl_edu import envs (a module)
    assert "metarl_edu.classroom.exercises" not in graph["metarl_edu.classroom.checks"]  # lazy: inside a function
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert upward_imports({"metarl_edu.mdp": {"metarl_edu.studies.evaluation"}, "metarl_edu.notebook": {
        "metarl_edu.notebook.plots"}}) == ["metarl_edu.mdp -> metarl_edu.studies.evaluation"]


@pytest.mark.parametrize("name", sorted(module_names()))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_no_import_cycles_and_nothing_reaches_upward():
    graph = import_graph()
    problems = [" <-> ".join(cycle) for cycle in import_cycles(graph)] + upward_imports(graph)
    assert problems == [], "import cycles or upward imports:\n" + "\n".join(problems)


def test_lab_opens_without_news_prompt_or_update_check(tmp_path):
    settings = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}')
    assert cli.quiet_lab_settings(tmp_path) == settings
    overrides = json.loads(settings.read_text())
    assert overrides[cli.LAB_NOTIFICATIONS] == {"fetchNews": "false", "checkForUpdates": False}
    assert overrides["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}  # kept
    settings.write_text("not json")
    cli.quiet_lab_settings(tmp_path)
    assert json.loads(settings.read_text())[cli.LAB_NOTIFICATIONS]["fetchNews"] == "false"


def test_grading_without_course_says_the_hidden_tests_are_left_out(tmp_path, capsys):
    (tmp_path / "lessons").mkdir()
    shutil.copy(ROOT / "lessons" / "00_welcome.ipynb", tmp_path / "lessons")
    (tmp_path / "submissions").mkdir()
    status = cli.main(["--root", str(tmp_path), "grade", str(tmp_path / "submissions"), "--out",
                       str(tmp_path / "gradebook.csv")])
    assert status == 0
    assert "WITHOUT the hidden tests" in capsys.readouterr().err
