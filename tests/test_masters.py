"""Each lesson master's hidden tests run against its solution notebook.

The hidden tests exist only in the masters (``course/``). The suite's root ``conftest.py`` puts them back into
``solutions/NN_name.ipynb`` where the master has them when nbval collects it, so the nbval run of a solution
notebook is also the run of its hidden tests. These tests check that splice; nbval runs the result.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MASTERS = sorted((ROOT / "course").glob("[0-9][0-9]_*.py"))
HIDDEN = "### BEGIN HIDDEN TESTS"


def _root_conftest():
    spec = importlib.util.spec_from_file_location("metarl_edu_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_the_solution_runs_with_every_hidden_test_of_its_master_in_place(master):
    nb = jupytext.read(master, fmt="py:percent")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert any(HIDDEN in source for source in code), f"{master.name} has no hidden tests"
    solution = nbformat.read(ROOT / "solutions" / f"{master.stem}.ipynb", as_version=4)
    assert not any(HIDDEN in c.source for c in solution.cells)  # the shipped solution keeps them out
    spliced = _root_conftest().with_hidden_tests(solution, master)
    # the code cells run in the master's order: the solution's cells with the hidden tests back between them
    ran = [c.source for c in spliced.cells if c.cell_type == "code"]
    assert [s for s in ran if HIDDEN in s] == [s for s in code if HIDDEN in s]
    assert len(ran) == len(code)
    for source, master_source in zip(ran, code, strict=True):
        assert (HIDDEN in source) == (HIDDEN in master_source)


def test_nbval_collects_the_hidden_tests_with_the_solution():
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "--nbval-lax", "--nbval-current-env", "solutions/00_welcome.ipynb"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    items = [line for line in out.stdout.splitlines() if line.startswith("solutions/00_welcome.ipynb::")]
    solution = nbformat.read(ROOT / "solutions" / "00_welcome.ipynb", as_version=4)
    master = jupytext.read(ROOT / "course" / "00_welcome.py", fmt="py:percent")
    n_hidden = sum(HIDDEN in c.source for c in master.cells)
    assert len(items) == sum(c.cell_type == "code" for c in solution.cells) + n_hidden, out.stdout + out.stderr
