"""``make full``'s runner on tiny fake notebooks: printed lines, the results document, and ``--lessons``."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from metarl_edu.classroom import full


def fake_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a fake lesson")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    notebooks = tmp_path / "solutions"
    notebooks.mkdir()
    fake_notebook(notebooks / "01_first.ipynb",
                  "import os\nprint('quick mode:', os.environ.get('METARL_EDU_QUICK'))",
                  "print('mean return 12.5')\nprint()\nprint('95% CI [11.0, 14.0]')",
                  "x = 3  # prints nothing")
    fake_notebook(notebooks / "02_second.ipynb", "print('second: 0.75')")
    return notebooks


def test_sections_round_trip_and_keep_unknown_lessons(tmp_path):
    path = tmp_path / "RESULTS.md"
    full.update_results(path, ["01_a", "02_b"], {})
    text = path.read_text()
    assert text.startswith(full.HEADER) and "make full" in text
    assert list(full.read_sections(text)) == ["01_a", "02_b"] and text.count(full.NOT_RUN) == 2
    full.update_results(path, ["02_b"], {"02_b": full.section("02_b", "new numbers")})
    sections = full.read_sections(path.read_text())
    assert list(sections) == ["01_a", "02_b"]
    assert full.NOT_RUN in sections["01_a"] and "new numbers" in sections["02_b"]


def test_select_lessons(folder):
    paths = sorted(folder.glob("*.ipynb"))
    assert [p.stem for p in full.select(paths, "02")] == ["02_second"]
    assert [p.stem for p in full.select(paths, "01_first, 02")] == ["01_first", "02_second"]
    assert full.select(paths, None) == paths
    with pytest.raises(SystemExit, match="no notebook for lesson"):
        full.select(paths, "07")


def test_full_runs_the_notebooks_and_updates_only_their_sections(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    results = tmp_path / "docs" / "RESULTS.md"
    full.update_results(results, ["01_first", "02_second"], {"02_second": full.section("02_second", "kept as is")})

    assert full.main([str(folder), "--lessons", "01", "--results", str(results)]) == 0

    assert os.environ["METARL_EDU_QUICK"] == "1"  # full mode was only for the kernels
    assert "mean return 12.5" in capsys.readouterr().out
    sections = full.read_sections(results.read_text())
    assert list(sections) == ["01_first", "02_second"] and "kept as is" in sections["02_second"]
    first = sections["01_first"]
    assert f"`python -m metarl_edu.classroom.full {folder} --lessons 01 --results {results}`" in first
    assert "- date: 20" in first and " UTC" in first
    assert f"{os.cpu_count()} CPUs" in first and "Python 3." in first and "torch " in first
    # every line the cells printed, in order, one block per cell; the kernel ran in full mode
    assert "```text\nquick mode: None\n\nmean return 12.5\n95% CI [11.0, 14.0]\n```" in first


def test_the_committed_results_document_has_a_section_per_solution_notebook():
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert text.startswith(full.HEADER)
    assert list(full.read_sections(text)) == sorted(p.stem for p in (root / "solutions").glob("*.ipynb"))


def test_the_header_names_the_cpu():
    # a network trained in a notebook can print other numbers on another CPU: the machine line says which one
    assert full.cpu_model() and f"CPUs ({full.cpu_model()})" in full.machine()
