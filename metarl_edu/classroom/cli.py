"""The ``metarl-edu`` command.

    metarl-edu build [--force]          rebuild lessons/, solutions/ and course/syllabus.md from course/
    metarl-edu release DIR              write what a class receives (no solutions, no hidden tests) into DIR
    metarl-edu check NOTEBOOK...        run your notebook(s) like the grader and report each exercise
    metarl-edu lab [--port N]           copy missing lessons into work/ and start JupyterLab there
    metarl-edu bench qlearning          speed benchmark: environment transitions per second
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from metarl_edu.classroom.build import BuildError


def _root(value: str | None) -> Path:
    return Path(value).resolve() if value else Path.cwd()


def cmd_build(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.build import build

    written = build(_root(args.root), force=args.force)
    print(f"built {len(written)} files from {_root(args.root) / 'course'}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.release import release

    out = release(_root(args.root), Path(args.dir))
    print(f"release written to {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.runner import NotebookError, format_report, run_notebook

    status = 0
    for name in args.notebooks:
        try:
            report = run_notebook(Path(name), cell_timeout=args.timeout)
        except NotebookError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        print(format_report(report))
        if report.error:
            status = max(status, 1)
    return status


def copy_missing_lessons(root: Path, work: Path) -> list[Path]:
    """Copy each lesson notebook that ``work`` lacks; never overwrite a file that is already there."""
    lessons = sorted((root / "lessons").glob("*.ipynb"))
    if not lessons:
        raise FileNotFoundError(f"no lesson notebooks in {root / 'lessons'}")
    work.mkdir(parents=True, exist_ok=True)
    copied = []
    for src in lessons:
        dst = work / src.name
        if not dst.exists():
            shutil.copyfile(src, dst)
            copied.append(dst)
    return copied


def cmd_lab(args: argparse.Namespace) -> int:
    root = _root(args.root)
    work = root / "work"
    copied = copy_missing_lessons(root, work)
    print(f"{len(copied)} lesson(s) copied into {work}; your own edits there are kept.")
    command = [
        sys.executable, "-m", "jupyterlab", f"--notebook-dir={work}", f"--ServerApp.port={args.port}",
        "--ServerApp.port_retries=0", f"--ServerApp.ip={args.ip}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    if args.no_browser:
        command.append("--no-browser")
    print("Starting JupyterLab; if no browser opens, paste the URL with its token printed below.")
    os.execv(sys.executable, command)
    return 0  # not reached


def cmd_bench(args: argparse.Namespace) -> int:
    from metarl_edu.classroom import bench

    if args.name == "qlearning":
        print(bench.format_qlearning(bench.bench_qlearning(repeats=args.repeats)))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metarl-edu", description="The metarl-edu course tools.")
    p.add_argument("--root", help="the course checkout (default: the current folder)")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="rebuild lessons/, solutions/ and course/syllabus.md from course/")
    b.add_argument("--force", action="store_true", help="overwrite generated notebooks even if edited by hand")
    b.set_defaults(func=cmd_build)

    r = sub.add_parser("release", help="write the student release (lessons and package, no solutions) into DIR")
    r.add_argument("dir", help="an empty or new folder")
    r.set_defaults(func=cmd_release)

    c = sub.add_parser("check", help="run your notebook like the grader and report each exercise")
    c.add_argument("notebooks", nargs="+", help="your notebook(s), for example work/01_mdp.ipynb")
    c.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    c.set_defaults(func=cmd_check)

    lab = sub.add_parser("lab", help="copy missing lessons into work/ and start JupyterLab there")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(func=cmd_lab)

    bench = sub.add_parser("bench", help="speed benchmarks (environment transitions per second)")
    bench.add_argument("name", choices=["qlearning"], help="qlearning: plain loop vs QLearningAgent vs batched")
    bench.add_argument("--repeats", type=int, default=5, help="interleaved runs; medians are reported (default 5)")
    bench.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (BuildError, FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
