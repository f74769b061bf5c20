"""The ``metarl-edu`` command.

    metarl-edu build [--force]          rebuild lessons/, solutions/ and course/syllabus.md from course/
    metarl-edu release DIR              write what a class receives (no solutions, no hidden tests) into DIR
    metarl-edu export TOOL DIR          the lessons in nbgrader's or otter's source format (TOOL: nbgrader, otter)
    metarl-edu check [NOTEBOOK...]      run your notebook(s) like the grader, report each exercise and your progress
    metarl-edu grade DIR --out CSV      grade a folder of submissions into a gradebook and feedback files
    metarl-edu hub-config               write a commented jupyterhub_config.py (see --help)
    metarl-edu collect DEST HOME...     copy learners' lessons/ from their home folders into DEST/<learner>/
    metarl-edu site [--out site/]       the course website: executed solutions and the syllabus (the site extra)
    metarl-edu lab [--port N]           copy missing lessons into work/ and start JupyterLab there
    metarl-edu copy-lessons DEST        copy the lessons DEST lacks (from the checkout or the installed package)
    metarl-edu bench NAME               speed benchmarks (see metarl-edu bench --help)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from metarl_edu.classroom.limits import default_memory_mb, torch_build
from metarl_edu.studies.bench import BENCHMARKS


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


def cmd_export(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.export import export

    course = Path(args.course) if args.course else _root(args.root) / "course"
    written = export(course, Path(args.dir), args.tool)
    print(f"{len(written)} file(s) for {args.tool} written to {args.dir}")
    return 0


def cmd_hub_config(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.hub import hub_config

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to replace it")
    learners = [name.strip() for name in args.learners.split(",") if name.strip()] if args.learners else []
    text, passwords = hub_config(auth=args.auth, instructor=args.instructor, learners=learners,
                                 homes=str(Path(args.homes).resolve()), mode=args.mode, memory_mb=args.memory_mb,
                                 ip=args.ip, port=args.port, learner_password=args.learner_password,
                                 instructor_password=args.instructor_password)
    out.write_text(text)
    quiet_lab_settings()
    print(f"wrote {out}; start the hub with: jupyterhub -f {out}")
    for who, password in passwords.items():
        print(f"password for the {who}: {password}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.hub import collect

    lessons = [s.strip() for s in args.lessons.split(",") if s.strip()] if args.lessons else None
    copied, notes = collect(Path(args.dest), [Path(h) for h in args.homes], lessons)
    for note in notes:
        print(note, file=sys.stderr)
    learners = len({p.parent.name for p in copied})
    print(f"{len(copied)} notebook(s) from {learners} learner(s) collected into {args.dest}")
    return 0 if copied else 1


def cmd_site(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.site import build_site

    index = build_site(_root(args.root), Path(args.out), args.lessons)
    print(f"the course website is in {index.parent}/ (open {index})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.grade import GradeError, find_course
    from metarl_edu.classroom.runner import NotebookError, format_report, progress_summary, run_notebook

    named = [Path(n) for n in args.notebooks]
    notebooks = [p for n in named for p in (sorted(n.glob("*.ipynb")) if n.is_dir() else [n])] if named else \
        sorted((_root(args.root) / "work").glob("*.ipynb"))
    if not notebooks:
        print("error: no notebook given, and none in work/ (run `make lab` first)", file=sys.stderr)
        return 2
    try:
        course = find_course(_root(args.root))
    except GradeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    folders: list[Path] = []
    for path in notebooks:
        try:
            report = run_notebook(path, cell_timeout=args.timeout, cache=True, memory_mb=args.memory_mb,
                                  course=course)
        except NotebookError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        print(format_report(report), end="\n\n")
        if report.error:
            status = max(status, 1)
        if path.parent not in folders:
            folders.append(path.parent)
    for folder in folders:
        print(progress_summary(folder, course=course, cell_timeout=args.timeout))
    return status


def cmd_grade(args: argparse.Namespace) -> int:
    from metarl_edu.classroom.grade import Limits, find_course, grade_folder, kernel_user

    course = Path(args.course) if args.course else find_course(_root(args.root))
    if not args.course and course.name == "lessons":
        print(f"warning: no course/ found, so grading from {course} WITHOUT the hidden tests (the visible checks "
              "only); run from the course checkout or pass --course to include them", file=sys.stderr)
    if args.trusted_class:
        user, note = kernel_user(args.user)
        print(f"a trusted class: no jail; {note}", file=sys.stderr)
    else:
        user = None
        print("each kernel runs in a jail (see the README's 'What the grader guards against')", file=sys.stderr)
    limits = Limits(cell_timeout=args.timeout_cell, notebook_timeout=args.timeout_notebook,
                    memory_mb=args.memory_mb, user=user, isolation="none" if args.trusted_class else "jail")
    try:
        summary = grade_folder(Path(args.submissions), Path(args.out), course=course, limits=limits, jobs=args.jobs,
                               feedback=Path(args.feedback) if args.feedback else None)
    except KeyboardInterrupt:
        print("interrupted: the results so far are saved; run the same command again to resume", file=sys.stderr)
        return 130
    print(f"{len(summary.records)} submission(s): {summary.graded} graded now, {summary.resumed} from an earlier run")
    print(f"gradebook: {summary.gradebook}\nfeedback:  {summary.feedback}/")
    for record in summary.ungraded:
        print(f"  {record['status']}: {record['submission']}: {record['reason']}", file=sys.stderr)
    return 1 if summary.ungraded else 0


def shipped_lessons() -> Path:
    """The lesson notebooks that come with this installation of the package: the checkout's (or release's)
    ``lessons/`` when the package runs from one, else the copy a wheel ships as ``metarl_edu/data/lessons/``."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "lessons").is_dir():
        return checkout / "lessons"
    return package / "data" / "lessons"


def copy_missing_lessons(lessons: Path, work: Path) -> list[Path]:
    """Copy each lesson notebook in ``lessons`` that ``work`` lacks; never overwrite a file that is already there."""
    sources = sorted(Path(lessons).glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no lesson notebooks in {lessons}")
    work.mkdir(parents=True, exist_ok=True)
    copied = []
    for src in sources:
        dst = work / src.name
        if not dst.exists():
            shutil.copyfile(src, dst)
            copied.append(dst)
    return copied


def cmd_copy_lessons(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    copied = copy_missing_lessons(shipped_lessons(), dest)
    print(f"{len(copied)} lesson(s) copied into {dest}; notebooks already there are kept.")
    return 0


LAB_NOTIFICATIONS = "@jupyterlab/apputils-extension:notification"


def quiet_lab_settings(prefix: str | Path = sys.prefix) -> Path:
    """Make JupyterLab open without asking to fetch Jupyter news and without checking for updates (nothing to
    download while learning, and no pop-up over the first lesson): the two settings go into the environment's
    ``share/jupyter/lab/settings/overrides.json``, keeping any other overrides there. Returns that file."""
    import json

    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        overrides = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        overrides = {}
    if not isinstance(overrides, dict):
        overrides = {}
    overrides.setdefault(LAB_NOTIFICATIONS, {}).update({"fetchNews": "false", "checkForUpdates": False})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(overrides, indent=2) + "\n")
    return path


def cmd_lab(args: argparse.Namespace) -> int:
    root = _root(args.root)
    work = root / "work"
    copied = copy_missing_lessons(root / "lessons" if (root / "lessons").is_dir() else shipped_lessons(), work)
    print(f"{len(copied)} lesson(s) copied into {work}; your own edits there are kept.")
    command = [
        sys.executable, "-m", "jupyterlab", f"--notebook-dir={work}", f"--ServerApp.port={args.port}",
        "--ServerApp.port_retries=0", f"--ServerApp.ip={args.ip}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    quiet_lab_settings()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    if args.no_browser:
        command.append("--no-browser")
    print("Starting JupyterLab; if no browser opens, paste the URL with its token printed below.")
    os.execv(sys.executable, command)
    return 0  # not reached


def cmd_bench(args: argparse.Namespace) -> int:
    from metarl_edu.studies import bench

    bench.run(args.name, repeats=args.repeats, threads=args.threads)
    return 0


def cmd_train_maml_rl(args: argparse.Namespace) -> int:
    from metarl_edu.studies.maml_rl import train_run

    result = train_run(args.family, args.seed, args.out, args.iterations, args.eval_every, agent=args.agent,
                       **_overrides(args.set))
    for iteration, returns in result.curve.items():
        print(f"iteration {iteration:4d}: return after 0-3 inner steps {returns}")
    print(f"wrote {result.out} (training {result.final['train_seconds']} s)")
    return 0


def _overrides(items: list[str]) -> dict:
    import json

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set needs FIELD=VALUE (VALUE in JSON, e.g. max_grad_norm=null); got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value  # a bare word such as trpo
    return overrides


def cmd_train_rl2(args: argparse.Namespace) -> int:
    from metarl_edu.studies.rl2 import train_run

    record = train_run(args.task, args.episodes, args.seed, args.out, k=args.k, n_iterations=args.iterations,
                       **_overrides(args.set))
    print(f"mean total on {record['eval_tasks']} held-out tasks: {record['mean_total']:.3f}")
    print(f"wrote {args.out} (training {record['train_seconds']} s)")
    return 0


def cmd_train_belief(args: argparse.Namespace) -> int:
    return _train_on_goals("belief", args)


def cmd_train_rl2_nav(args: argparse.Namespace) -> int:
    return _train_on_goals("rl2_nav", args)


def _train_on_goals(study: str, args: argparse.Namespace) -> int:
    """``metarl-edu train belief`` and ``train rl2-nav``: the two lesson 11 agents on 2D navigation, each run by
    its study's ``train_run``, which writes the same three files."""
    import importlib

    import numpy as np

    train_run = importlib.import_module(f"metarl_edu.studies.{study}").train_run
    record = train_run(args.seed, args.out, n_iterations=args.iterations, **_overrides(args.set))
    returns = np.mean(record["returns"], axis=0)
    oracle = f"; oracle {np.mean(record['oracle']):.3f}" if "oracle" in record else ""
    print(f"mean return of episodes 1-{len(returns)} on {record['eval_tasks']} held-out goals: "
          f"{np.round(returns, 3).tolist()}{oracle}")
    print(f"wrote {args.out} (training {record['train_seconds']} s)")
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

    e = sub.add_parser("export", help="write the lessons in nbgrader's or Otter-Grader's source format into DIR")
    e.add_argument("tool", choices=("nbgrader", "otter"))
    e.add_argument("dir", help="an empty or new folder")
    e.add_argument("--course", help="the course/ folder with the lesson masters (default: course/ under --root)")
    e.set_defaults(func=cmd_export)

    c = sub.add_parser("check", help="run your notebook like the grader and report each exercise")
    c.add_argument("notebooks", nargs="*", help="your notebook(s), for example work/01_mdp.ipynb (default: work/)")
    c.add_argument("--timeout", type=float, default=120, help="seconds allowed per cell (default 120)")
    c.add_argument("--memory-mb", type=int, default=None,
                   help=f"the kernel's address space, MiB (default {default_memory_mb('none')})")
    c.set_defaults(func=cmd_check)

    g = sub.add_parser("grade", help="grade a folder of submissions into a CSV gradebook and feedback files")
    g.add_argument("submissions", help="folder of learners' notebooks (searched recursively for *.ipynb)")
    g.add_argument("--out", default="gradebook.csv", help="the gradebook to write (default gradebook.csv)")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    g.add_argument("--feedback", help="folder for one feedback file per submission (default: the gradebook's name "
                                      "without .csv, plus -feedback/: gradebook-feedback/)")
    g.add_argument("--timeout-cell", type=float, default=120, help="seconds one cell may run (default 120)")
    g.add_argument("--timeout-notebook", type=float, default=900, help="seconds one notebook may run (default 900)")
    g.add_argument("--memory-mb", type=int, default=None,
                   help=f"memory a kernel and what it starts may hold, MiB (default {default_memory_mb('jail')}; with "
                        f"--trusted-class: the kernel's address space, default {default_memory_mb('none')}; "
                        f"defaults for the {torch_build().upper()} build of torch installed here)")
    g.add_argument("--trusted-class", action="store_true",
                   help="grade without a jail (where none can be made): only for code you trust")
    g.add_argument("--user", default="nobody", help="with --trusted-class, when run as root, run kernels as this "
                   "user (default nobody; '' to keep root)")
    g.add_argument("--course", help="the course/ folder with the lesson masters (default: found from --root)")
    g.set_defaults(func=cmd_grade)

    cp = sub.add_parser("copy-lessons", help="copy the lesson notebooks that DEST lacks (works without a checkout)")
    cp.add_argument("dest", help="the folder to fill, for example ~/lessons (created; existing notebooks are kept)")
    cp.set_defaults(func=cmd_copy_lessons)

    h = sub.add_parser("hub-config", help="write a commented jupyterhub_config.py for a class on this machine")
    h.add_argument("--out", default="jupyterhub_config.py", help="the file to write (default jupyterhub_config.py)")
    h.add_argument("--force", action="store_true", help="replace --out if it exists")
    h.add_argument("--auth", choices=("shared", "pam"), default="shared",
                   help="shared: a learners' and an instructor's password, for a trial (default); pam: system users")
    h.add_argument("--instructor", default="instructor", help="the admin user (default instructor)")
    h.add_argument("--learners", help="comma-separated user names allowed to log in (default: anyone)")
    h.add_argument("--homes", default="/srv/metarl-edu/users", help="with --auth shared: the folder of learners' "
                   "home folders (default /srv/metarl-edu/users)")
    h.add_argument("--mode", choices=("quick", "full"), default="quick", help="lesson size (default quick)")
    h.add_argument("--memory-mb", type=int, default=None, help=f"address-space limit per process, MiB (default "
                   f"{default_memory_mb('none')}, for the {torch_build().upper()} build of torch installed here)")
    h.add_argument("--ip", default="127.0.0.1", help="the address the hub listens on (default 127.0.0.1)")
    h.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    h.add_argument("--learner-password", help="with --auth shared (default: a random one, printed)")
    h.add_argument("--instructor-password", help="with --auth shared, 32 characters or more (default: random)")
    h.set_defaults(func=cmd_hub_config)

    co = sub.add_parser("collect", help="copy learners' lessons from their home folders into DEST/<learner>/")
    co.add_argument("dest", help="the folder to collect into, for `metarl-edu grade`")
    co.add_argument("homes", nargs="+", help="learners' home folders (each with a lessons/ folder)")
    co.add_argument("--lessons", help="comma-separated lessons to take, e.g. 00_welcome,01_mdp (default: all)")
    co.set_defaults(func=cmd_collect)

    site = sub.add_parser("site", help="build the course website: executed solutions (quick mode) and the syllabus")
    site.add_argument("--out", default="site", help="the folder for the HTML (default site/)")
    site.add_argument("--lessons", help="only these lessons, for example 00,01 (default: all)")
    site.set_defaults(func=cmd_site)

    lab = sub.add_parser("lab", help="copy missing lessons into work/ and start JupyterLab there")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(func=cmd_lab)

    train = sub.add_parser("train", help="reproducible training runs: a checkpoint, a log and an evaluation JSON")
    algorithms = train.add_subparsers(dest="algorithm", required=True)
    maml = algorithms.add_parser("maml-rl", help="meta-train MAMLAgent on a task family")
    maml.add_argument("--family", choices=("nav2d", "cartpole", "cartpole-physics"), default="nav2d")
    maml.add_argument("--seed", type=int, default=0)
    maml.add_argument("--agent", choices=("maml", "pretrained"), default="maml",
                      help="MAMLAgent, or the pretrained baseline with the same config and budget")
    maml.add_argument("--out", required=True, help="the run folder (created)")
    maml.add_argument("--iterations", type=int, help="meta-iterations (default: the family's config)")
    maml.add_argument("--eval-every", type=int, default=50, help="evaluate on the held-out tasks this often")
    maml.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                      help="a MAMLRLConfig field, VALUE in JSON (e.g. --set meta_optimizer=trpo); repeatable")
    maml.set_defaults(func=cmd_train_maml_rl)

    rl2 = algorithms.add_parser("rl2", help="train the course's RL^2 preset on bandits or random MDPs")
    rl2.add_argument("--task", choices=("bandit", "mdp"), default="mdp")
    rl2.add_argument("--episodes", type=int, default=10, help="episodes per trial (pulls, for a bandit)")
    rl2.add_argument("--k", type=int, default=5, help="arms of a bandit")
    rl2.add_argument("--seed", type=int, default=0)
    rl2.add_argument("--out", required=True, help="the run folder (created)")
    rl2.add_argument("--iterations", type=int, help="training batches (default: the preset's)")
    rl2.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                     help="an RL2Config field, VALUE in JSON (e.g. --set hidden_size=128); repeatable")
    rl2.set_defaults(func=cmd_train_rl2)
    belief = algorithms.add_parser("belief", help="train lesson 11's belief agent on 2D navigation (one thread)")
    belief.add_argument("--seed", type=int, default=0)
    belief.add_argument("--out", required=True, help="the run folder (created)")
    belief.add_argument("--iterations", type=int, help="training iterations (default: BeliefConfig's)")
    belief.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a BeliefConfig field, VALUE in JSON (e.g. --set lr=0.001); repeatable")
    belief.set_defaults(func=cmd_train_belief)
    rl2_nav = algorithms.add_parser("rl2-nav", help="train lesson 11's RL^2 agent on 2D navigation (one thread)")
    rl2_nav.add_argument("--seed", type=int, default=0)
    rl2_nav.add_argument("--out", required=True, help="the run folder (created)")
    rl2_nav.add_argument("--iterations", type=int, help="training batches (default: RL2NavConfig's)")
    rl2_nav.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                         help="an RL2NavConfig field, VALUE in JSON (e.g. --set hidden_size=32); repeatable")
    rl2_nav.set_defaults(func=cmd_train_rl2_nav)

    bench = sub.add_parser("bench", help="speed benchmarks, reported as ratios against a reference run")
    bench.add_argument("name", choices=list(BENCHMARKS),
                       help="; ".join(f"{k}: {what}" for k, (what, _) in BENCHMARKS.items()))
    bench.add_argument("--repeats", type=int, default=5, help="interleaved runs; medians are reported (default 5)")
    bench.add_argument("--threads", type=int, default=2, help="torch threads for the torch benchmarks (default 2)")
    bench.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:  # BuildError and ReleaseError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
