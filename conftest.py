"""Collection for the whole suite: each solution notebook runs under nbval with its master's hidden tests.

``solutions/NN_name.ipynb`` is ``course/NN_name.py`` without the hidden-test cells (``### BEGIN HIDDEN TESTS``). Put
back where the master has them, one nbval run proves both that the solution notebook runs and that it passes its
hidden tests, so no lesson is executed twice for it.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parent


def with_hidden_tests(nb, master_path: Path):
    """``nb`` (a solution notebook) with the hidden-test cells of its master inserted after the cell before them."""
    import jupytext
    import nbformat

    master = jupytext.read(master_path, fmt="py:percent")
    hidden = {i: c.source for i, c in enumerate(master.cells) if "### BEGIN HIDDEN TESTS" in c.source}
    cells = []
    for cell in nb.cells:
        index = cell.metadata.get("metarl_edu", {}).get("master_cell")
        later = sorted(i for i in hidden if index is not None and i < index)
        cells += [nbformat.v4.new_code_cell(hidden.pop(i)) for i in later]
        cells.append(cell)
    cells += [nbformat.v4.new_code_cell(hidden.pop(i)) for i in sorted(hidden)]
    nb.cells = cells
    return nb


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    collected = yield
    master = ROOT / "course" / f"{file_path.stem}.py"
    if file_path.suffix != ".ipynb" or file_path.parent != ROOT / "solutions" or not master.exists():
        return collected
    from nbval.plugin import IPyNbFile

    class SolutionWithHiddenTests(IPyNbFile):
        def collect(self):
            import nbval.plugin

            read = nbval.plugin.nbformat.read
            with mock.patch.object(nbval.plugin.nbformat, "read",
                                   lambda path, **kw: with_hidden_tests(read(path, **kw), master)):
                yield from super().collect()

    return [SolutionWithHiddenTests.from_parent(parent, path=file_path) if isinstance(item, IPyNbFile) else item
            for item in collected]
