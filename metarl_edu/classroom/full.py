"""``make full``: run the solution notebooks in full mode and print what their cells print.

The numbers a lesson's prose quotes are printed by its cells, so this is the way to see them at full size on
your own machine. Strict mode is on: a solution whose check fails stops the run with an error.

    python -m metarl_edu.classroom.full solutions [NOTEBOOK ...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from metarl_edu import config


def run_full(notebook: Path, cell_timeout: int = 1800) -> tuple[list[str], float]:
    """Execute one notebook in full mode; return its printed lines and the seconds it took."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                lines += [line for line in output["text"].splitlines() if line.strip()]
    return lines, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths: list[Path] = []
    for arg in args or ["solutions"]:
        path = Path(arg)
        paths += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    os.environ.pop(config.QUICK_VAR, None)
    os.environ[config.STRICT_VAR] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    for path in tqdm(paths, desc="solution notebooks (full mode)", unit="nb", disable=None):
        lines, seconds = run_full(path)
        tqdm.write(f"\n== {path} ({seconds:.1f} s)")
        for line in lines:
            tqdm.write(f"   {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
