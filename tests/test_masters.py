"""Each lesson master runs as written, hidden tests included: solutions pass their checks and their hidden tests.

(The generated notebooks run under nbval; hidden tests exist only in the masters, so they are run here.)
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
MASTERS = sorted((ROOT / "course").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_master_runs_with_hidden_tests(master, tmp_path, monkeypatch):
    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    monkeypatch.setenv("METARL_EDU_STRICT", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(master, fmt="py:percent")
    hidden = [c for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert hidden, f"{master.name} has no hidden tests"
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in hidden:
        assert not [o for o in cell.outputs if o.get("output_type") == "error"]
