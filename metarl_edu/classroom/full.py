"""``make full``: run the solution notebooks in full mode, print what their cells print, and keep it in
``docs/RESULTS.md``.

The numbers a lesson's prose quotes are printed by its cells, so this is the way to see them at full size on
your own machine. Strict mode is on: a solution whose check fails stops the run with an error.

    python -m metarl_edu.classroom.full solutions [NOTEBOOK ...] [--lessons 07,09] [--results docs/RESULTS.md]

The results document has one section per lesson, between ``<!-- lesson: STEM -->`` and ``<!-- end lesson: STEM
-->`` lines, with the command, the date, the machine and the lines the notebook printed. A run rewrites only the
sections of the lessons it ran (after each lesson, so an interrupted run keeps what finished) and keeps the others.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from metarl_edu import config

RESULTS = Path("docs") / "RESULTS.md"
NOT_RUN = "Not yet run."
HEADER = """# Results

What the solution notebooks print when they run in full mode, the sizes a learner runs. Every number that a
lesson's prose quotes is printed by a cell of its notebook and recorded here, with the command, the date and the
machine that produced it; no number is typed in by hand, and none belongs in a docstring.

This file is written by `make full`, which runs `python -m metarl_edu.classroom.full solutions` (every lesson;
`make full LESSONS=07,09` runs only lessons 07 and 09 and keeps the other sections as they are). Do not edit it by
hand: rerun the command. Seeds are those fixed in the notebooks' cells, so a rerun on the same machine and versions
prints the same numbers; times differ, and so can the numbers of a network trained in the notebook on another CPU
(torch's arithmetic follows the vector instructions a CPU has, and a long training run amplifies the last bits):
the header names the CPU.
"""


@dataclass(frozen=True)
class LessonRun:
    """One notebook run in full mode: its printed lines (``cells``: one list per cell that printed) and time."""

    stem: str
    cells: list[list[str]]
    seconds: float


def printed_lines(nb: nbformat.NotebookNode) -> list[list[str]]:
    """The non-blank lines each code cell printed to stdout, one list per cell that printed anything."""
    cells = []
    for cell in nb.cells:
        lines = [line.rstrip() for output in cell.get("outputs", [])
                 if output.get("output_type") == "stream" and output.get("name") == "stdout"
                 for line in output["text"].splitlines() if line.strip()]
        if lines:
            cells.append(lines)
    return cells


@contextlib.contextmanager
def full_mode() -> Iterator[None]:
    """Full and strict mode for the kernels started inside the block; the environment is restored after it."""
    saved = {name: os.environ.get(name) for name in (config.QUICK_VAR, config.STRICT_VAR, "MPLBACKEND")}
    os.environ.pop(config.QUICK_VAR, None)
    os.environ[config.STRICT_VAR] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_full(notebook: Path, cell_timeout: int = 1800) -> LessonRun:
    """Execute one notebook in full mode (call it inside :func:`full_mode`)."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return LessonRun(notebook.stem, printed_lines(nb), time.perf_counter() - started)


def cpu_model() -> str:
    """The CPU's model name and its widest vector instructions (AVX-512 or AVX2), from /proc/cpuinfo where there
    is one, else what :func:`platform.processor` says."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or "unknown CPU"
    names = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")]
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{names[0] if names else platform.processor() or 'unknown CPU'}, {vector}"


def machine() -> str:
    """CPU count and model, operating system, and the versions of Python, torch and numpy of this process."""

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"{os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, "
            f"torch {version('torch')}, numpy {version('numpy')}")


def section(stem: str, body: str) -> str:
    """The Markdown section of lesson ``stem``, between the markers that :func:`read_sections` finds."""
    return f"<!-- lesson: {stem} -->\n## {stem}\n\n{body.strip()}\n<!-- end lesson: {stem} -->\n"


def run_section(run: LessonRun, command: str, date: datetime, machine_text: str) -> str:
    printed = "\n\n".join("\n".join(lines) for lines in run.cells) or "(the notebook printed nothing)"
    return section(run.stem, f"- command: `{command}`\n- date: {date:%Y-%m-%d %H:%M} UTC\n"
                             f"- machine: {machine_text}\n- wall time: {run.seconds:.0f} s\n\n```text\n{printed}\n```")


_SECTION = re.compile(r"<!-- lesson: (?P<stem>[^ ]+) -->\n.*?<!-- end lesson: (?P=stem) -->\n", re.DOTALL)


def read_sections(text: str) -> dict[str, str]:
    """Lesson stem -> its whole section (markers included), in the order of ``text``."""
    return {m.group("stem"): m.group(0) for m in _SECTION.finditer(text)}


def update_results(path: Path, stems: Sequence[str], new: dict[str, str]) -> None:
    """Write the results document: the header, then one section per lesson of ``stems`` and any other lesson the
    file already had, sorted by stem; a section of ``new`` replaces the old one, a lesson with neither says
    :data:`NOT_RUN`."""
    old = read_sections(path.read_text(encoding="utf-8")) if path.exists() else {}
    sections = {stem: section(stem, NOT_RUN) for stem in stems} | old | new
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(HEADER + "".join("\n" + sections[stem] for stem in sorted(sections)), encoding="utf-8")
    os.replace(tmp, path)  # whole or absent, even if the run is interrupted while writing


def select(paths: Sequence[Path], lessons: str | None) -> list[Path]:
    """The notebooks of ``paths`` whose stem is, or starts with, one of the comma-separated ``lessons``
    (``"07,09"``); all of them when ``lessons`` is None."""
    if lessons is None:
        return list(paths)
    wanted = [w.strip() for w in lessons.split(",") if w.strip()]
    missing = [w for w in wanted if not any(p.stem == w or p.stem.startswith(w + "_") for p in paths)]
    if not wanted or missing:
        raise SystemExit(f"error: no notebook for lesson(s) {', '.join(missing) or repr(lessons)} among "
                         f"{', '.join(p.stem for p in paths) or 'none'}")
    return [p for p in paths if any(p.stem == w or p.stem.startswith(w + "_") for w in wanted)]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m metarl_edu.classroom.full", description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", type=Path, default=[Path("solutions")],
                   help="folders of notebooks or notebooks (default: solutions)")
    p.add_argument("--lessons", help="run only these lessons, for example 07,09 (default: all)")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help=f"the results document to update (default: {RESULTS})")
    p.add_argument("--cell-timeout", type=int, default=1800, help="seconds one cell may run (default 1800)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    found: list[Path] = []
    for path in args.paths:
        found += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    chosen = select(found, args.lessons)
    command = shlex.join(["python", "-m", "metarl_edu.classroom.full", *argv])
    machine_text = machine()
    with full_mode():
        for path in tqdm(chosen, desc="solution notebooks (full mode)", unit="nb", disable=None):
            run = run_full(path, args.cell_timeout)
            tqdm.write(f"\n== {path} ({run.seconds:.1f} s)")
            for line in (line for lines in run.cells for line in lines):
                tqdm.write(f"   {line}")
            date = datetime.now(UTC)
            update_results(args.results, [p.stem for p in found],
                           {run.stem: run_section(run, command, date, machine_text)})
    print(f"\nresults: {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
