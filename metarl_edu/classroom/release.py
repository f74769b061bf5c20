"""``metarl-edu release DIR``: what a class receives.

The release holds the lesson notebooks (exercises stubbed), a README for learners (the checkout README's
introduction, course map and section for learners: :func:`learner_readme`), the Makefile and the package, so
that a learner can run ``make lab``. It holds no ``course/`` (hidden tests live there) and no ``solutions/``. The
library's reference implementations ship on purpose: the lessons fall back to them, and the grader bans them
inside the exercises they answer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from metarl_edu.classroom.build import BEGIN_HIDDEN, BEGIN_SOLUTION, load_course
from metarl_edu.config import QUICK_VAR

FILES = ("Makefile", "pyproject.toml", "setup.py", "MANIFEST.in", "constraints.txt", "LICENSE")
LEARNER_START = f"""## Start

```bash
make lab                        # set up .venv on first use, copy the lessons into work/, start JupyterLab there
{QUICK_VAR}=1 make lab     # the same in quick mode: smaller runs, for a slow machine
```

You need Python 3.11, 3.12 or 3.13 and `make`. The first run creates `.venv/` and installs the pinned packages;
later runs start at once. Where pip installs the large CUDA build of torch, take the CPU one on the first run:
`make lab TORCH_INDEX=https://download.pytorch.org/whl/cpu`.
"""

IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


class ReleaseError(ValueError):
    """A release that would overwrite something or leak solutions."""


def release(root: Path, out: Path) -> Path:
    """Write the student release of the checkout ``root`` into the new or empty folder ``out``."""
    root, out = Path(root), Path(out)
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty; give a new folder so nothing is overwritten")
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (root / name).exists():
            shutil.copy2(root / name, out / name)
    (out / "README.md").write_text(learner_readme((root / "README.md").read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(root / "lessons", out / "lessons", ignore=IGNORE)
    shutil.copytree(root / "metarl_edu", out / "metarl_edu", ignore=IGNORE)
    leaks = find_leaks(root, out)
    if leaks:
        shutil.rmtree(out)
        raise ReleaseError("the release would leak solutions or hidden tests: " + "; ".join(leaks[:5]))
    return out


def learner_readme(readme: str) -> str:
    """The README a class receives: the checkout README's title and introduction, its course map and its
    section for learners (less what only the full checkout has), after the learner's start (no instructor,
    contributor or test commands: the release has no tests, no ``solutions/`` and no ``course/``)."""
    parts = readme.split("\n## ")
    intro, sections = parts[0], {p.split("\n", 1)[0].strip(): "## " + p for p in parts[1:]}
    course_map = sections.get("Course map", "").split("`course/syllabus.md`")[0].rstrip()
    head, *items = sections.get("For learners", "").split("\n- ")
    learners = "\n- ".join([head, *(i for i in items if "solutions/" not in i and "course/" not in i)])
    return "\n\n".join(s.strip() for s in (intro, LEARNER_START, course_map, learners) if s.strip()) + "\n"


def _substantive(code: str) -> list[str]:
    """The lines of a code block that identify it: stripped, not blank, not comments, not trivial."""
    lines = (line.strip() for line in code.splitlines())
    return [line for line in lines if len(line) > 12 and not line.startswith("#")]


def find_leaks(root: Path, out: Path) -> list[str]:
    """Places in ``out`` where a solution region, a hidden test or a region marker appears."""
    lessons = load_course(Path(root) / "course")
    solutions = [(e.id, _substantive(e.code)) for lesson in lessons for e in lesson.exercises]
    hidden = [(h.exercise, [line for line in _substantive(h.code) if not line.startswith(("import ", "from "))])
              for lesson in lessons for h in lesson.hidden_tests]  # imports reveal nothing, and lessons share them
    leaks = []
    for path in sorted(out.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        lines = {line.strip() for cell in nb.cells for line in cell.source.splitlines()}
        name = path.relative_to(out)
        if any(BEGIN_SOLUTION.match(line) or BEGIN_HIDDEN.match(line) for line in lines):
            leaks.append(f"{name} contains a region marker")
        for exercise_id, code in solutions:
            if code and all(line in lines for line in code):
                leaks.append(f"{name} contains the solution of {exercise_id}")
        for exercise_id, code in hidden:
            if any(line in lines for line in code):
                leaks.append(f"{name} contains hidden tests of {exercise_id}")
    for path in sorted(out.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = {line.strip() for line in text.splitlines()}
        for exercise_id, code in hidden:
            # Ordinary code shares single lines with tests ("for _ in range(5):"); a leaked test brings its
            # assertions, or most of its lines.
            found = [line for line in code if line in lines]
            if any(line.startswith("assert") for line in found) or (code and len(found) > len(code) / 2):
                leaks.append(f"{path.relative_to(out)} contains hidden tests of {exercise_id}")
    return leaks
