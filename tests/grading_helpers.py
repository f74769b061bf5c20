"""Notebooks the grading tests build: lesson 00 with its exercise cell replaced and cells added, and the limits
they grade under (small, so that a hostile notebook costs seconds; memory: the default for the torch installed and
the isolation, since without a jail the cap is on address space, gigabytes of which the CUDA build of torch maps)."""

from __future__ import annotations

import json
from pathlib import Path

from metarl_edu.classroom.grade import Limits

ROOT = Path(__file__).resolve().parents[1]
LIMITS = Limits(cell_timeout=4, notebook_timeout=60, user=None, isolation="auto")
GOOD = (
    "def discounted_return(rewards, gamma):\n"
    "    g = 0.0\n"
    "    for r in reversed(rewards):\n"
    "        g = r + gamma * g\n"
    "    return g"
)
RAISES = (  # every call raises IndexError at line 4
    "def discounted_return(rewards, gamma):\n"
    "    total = 0.0\n"
    "    for t in range(len(rewards) + 1):\n"
    "        total += gamma ** t * rewards[t]\n"
    "    return total"
)
RAISES_AT = " at line 4 (`total += gamma ** t * rewards[t]`) of your exercise cell"  # as the grader names the place


def lesson_json(folder: str, stem: str) -> dict:
    return json.loads((ROOT / folder / f"{stem}.ipynb").read_text(encoding="utf-8"))


def welcome(exercise: str | None = None, added: tuple[str, ...] = (), check: str | None = None, **meta) -> dict:
    """Lesson 00 with its exercise cell (and optionally its check cell) replaced, and cells added after it."""
    nb = lesson_json("lessons", "00_welcome")
    cells = nb["cells"]
    position = next(i for i, c in enumerate(cells) if c["id"] == "exercise-discounted_return")
    if exercise is not None:
        cells[position]["source"] = exercise
    if check is not None:
        next(c for c in cells if c["id"] == "check-discounted_return")["source"] = check
    for k, source in enumerate(added):
        cells.insert(position + 1 + k, {"cell_type": "code", "id": f"mine-{k}", "metadata": {}, "source": source,
                                        "outputs": [], "execution_count": None})
    nb["metadata"]["metarl_edu"].update(meta)
    return nb
