"""The course website: widgets become a note and their figures, the syllabus links the built pages, and (slow, the
site extra) a real Sphinx build of two lessons has its pages and figures."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest

from metarl_edu.classroom import cli
from metarl_edu.classroom.site import WIDGET_STATE, WIDGET_VIEW, static_widgets, syllabus_page

ROOT = Path(__file__).resolve().parents[1]
PNG = base64.b64encode(b"\x89PNG fake").decode()


def _widget_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    drawn = nbformat.v4.new_code_cell("explorer()")
    drawn.outputs = [nbformat.v4.new_output("display_data", data={WIDGET_VIEW: view, "text/plain": "VBox(...)"})]
    empty = nbformat.v4.new_code_cell("slider()")
    empty.outputs = [nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {**view, "model_id": "slider"}})]
    text = nbformat.v4.new_code_cell("print(1)")
    text.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells = [drawn, empty, text]
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "FloatSliderModel", "state": {"value": 0.9}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "data": {"image/png": PNG}, "metadata": {}}]}},
    }
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return nb


def test_widgets_become_a_note_and_the_figures_they_drew():
    nb = _widget_notebook()
    assert static_widgets(nb) == 2
    assert "widgets" not in nb.metadata
    drawn, empty, text = (cell.outputs for cell in nb.cells)
    assert [list(o["data"]) for o in drawn] == [["text/html"], ["image/png"]]
    assert "Below, what it drew" in drawn[0]["data"]["text/html"] and drawn[1]["data"]["image/png"] == PNG
    assert len(empty) == 1 and "It draws when you run it" in empty[0]["data"]["text/html"]
    assert text[0]["text"] == "1\n"
    nbformat.validate(nb)


def test_syllabus_links_only_the_pages_that_are_built():
    text = (ROOT / "course" / "syllabus.md").read_text()
    page = syllabus_page(text, {"00_welcome"})
    assert "[Welcome](00_welcome.ipynb)" in page
    assert "../solutions/" not in page and "| [Markov" not in page and "| Markov decision processes |" in page


@pytest.mark.slow
def test_the_site_of_two_lessons_has_its_pages_and_figures(tmp_path):
    pytest.importorskip("myst_nb", reason="the site extra is not installed (make test-all installs it)")
    pytest.importorskip("sphinx_book_theme", reason="the site extra is not installed (make test-all installs it)")
    out = tmp_path / "site"
    assert cli.main(["--root", str(ROOT), "site", "--out", str(out), "--lessons", "00,01"]) == 0
    for page in ("index", "syllabus", "00_welcome", "01_mdp"):
        assert (out / f"{page}.html").is_file(), page
    assert not (out / "02_q_learning.html").exists()
    syllabus = (out / "syllabus.html").read_text()
    assert 'href="00_welcome.html"' in syllabus and 'href="01_mdp.html"' in syllabus
    for lesson in ("00_welcome", "01_mdp"):
        html = (out / f"{lesson}.html").read_text()
        images = re.findall(r'<img[^>]+src="(_images/[^"]+\.png)"', html)
        assert len(images) >= {"00_welcome": 1, "01_mdp": 2}[lesson], f"{lesson} lacks figures: {images}"
        assert all((out / src).stat().st_size > 1000 for src in images)
        assert "metarl-widget-note" in html  # each of these lessons has a widget, shown as its figure
        assert WIDGET_VIEW not in html and "unpkg.com" not in html  # no widget JavaScript to download
    assert "✅ discounted_return" in (out / "00_welcome.html").read_text()
