"""``make site``: the course website, a static HTML site of the executed solution notebooks and the syllabus.

    metarl-edu site [--out site/] [--lessons 00,01]

Each solution notebook runs in quick mode (strict mode on, so a broken solution stops the build); every widget is
replaced by a note and the figures it drew at its starting values (a static page cannot run Python). Sphinx with
myst-nb and sphinx-book-theme (the ``site`` extra) then renders the pages offline; ``site/index.html`` is the
entry. Nothing is downloaded while building; a browser loads MathJax from its CDN to typeset the formulas.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from metarl_edu import config
from metarl_edu.classroom.full import select

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = ("<p class=\"metarl-widget-note\"><em>An interactive widget: open this lesson in JupyterLab to move "
               "its controls. {what}</em></p>")

CONF = '''\
# Sphinx configuration of the course website, written by `metarl-edu site`.
project = "metarl-edu"
author = "metarl-edu"
extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"  # the notebooks were executed before the build, in quick mode
html_theme = "sphinx_book_theme"
html_title = "metarl-edu: learn meta-reinforcement learning by doing it"
html_theme_options = {"show_toc_level": 2, "use_download_button": True}
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type"]
'''

INDEX = """\
# metarl-edu: learn meta-reinforcement learning by doing it

An interactive course on meta-reinforcement learning: algorithms that use many tasks to learn how to learn, so
that a new task is solved quickly. These pages show each lesson's solution notebook, run in quick mode (small
training budgets, so numbers differ from the full-size runs the prose describes). To work through the lessons,
with exercises, checks and live widgets, clone the course and run `make lab`.

```{{toctree}}
:maxdepth: 1

syllabus
{lessons}
```
"""


def execute(path: Path, cell_timeout: int = 300) -> Any:
    """Run a solution notebook in quick and strict mode in a fresh kernel, in the notebook's folder."""
    import os

    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # The kernel's own inline backend draws the figures into the notebook (MPLBACKEND=Agg, as tests set it, would not).
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | {config.QUICK_VAR: "1", config.STRICT_VAR: "1"}
    NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    return nb


def _widget_outputs(model_id: str, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The outputs held by the Output widgets inside widget ``model_id`` (depth first, in display order)."""
    model = state.get(model_id)
    if model is None:
        return []
    found = [dict(o) for o in model["state"].get("outputs", [])] if model.get("model_name") == "OutputModel" else []
    for child in model["state"].get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            found += _widget_outputs(child.removeprefix("IPY_MODEL_"), state)
    return found


def static_widgets(nb: Any) -> int:
    """Replace each widget in ``nb``'s outputs by a note and the figures it drew (from the saved widget state), and
    drop the widget state, so the page needs no widget JavaScript. Returns the number of widgets replaced."""
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            replaced += 1
            figures = [o for o in _widget_outputs(view["model_id"], state) if "image/png" in o.get("data", {})]
            what = "Below, what it drew at its starting values." if figures else "It draws when you run it."
            outputs.append(nbformat.v4.new_output("display_data", data={"text/html": WIDGET_NOTE.format(what=what)}))
            outputs += [nbformat.v4.new_output("display_data", data={"image/png": o["data"]["image/png"]},
                                               metadata=o.get("metadata", {})) for o in figures]
        cell.outputs = outputs
    return replaced


def syllabus_page(text: str, built: set[str]) -> str:
    """``course/syllabus.md`` with its links to solution notebooks pointing at the lesson pages that are built
    (and plain titles for the others)."""
    def link(match: re.Match[str]) -> str:
        title, stem = match.group("title"), match.group("stem")
        return f"[{title}]({stem}.ipynb)" if stem in built else title

    return re.sub(r"\[(?P<title>[^\]]+)\]\(\.\./solutions/(?P<stem>\w+)\.ipynb\)", link, text)


def build_site(root: Path, out: Path, lessons: str | None = None) -> Path:
    """Execute the chosen solution notebooks (all by default; ``lessons`` like ``"00,01"``) and render them with
    the syllabus into ``out``; returns ``out/index.html``."""
    root, out = Path(root), Path(out)
    notebooks = select(sorted((root / "solutions").glob("*.ipynb")), lessons)
    with tempfile.TemporaryDirectory(prefix="metarl-edu-site-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        for path in notebooks:
            print(f"running {path.name} in quick mode", flush=True)
            nb = execute(path)
            static_widgets(nb)
            nbformat.write(nb, source / path.name)
        built = {p.stem for p in notebooks}
        (source / "syllabus.md").write_text(syllabus_page((root / "course" / "syllabus.md").read_text(), built))
        (source / "index.md").write_text(INDEX.format(lessons="\n".join(sorted(built))))
        (source / "conf.py").write_text(CONF)
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(Path(tmp) / "doctrees"),
                   str(source), str(out)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"sphinx failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        if done.stderr.strip():
            print(done.stderr.strip(), file=sys.stderr)
    return out / "index.html"
