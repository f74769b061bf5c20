"""The jail a graded kernel runs in (metarl_edu.classroom.jail): what learner code can see, use and leave behind.

Each test runs a small program in a jail made exactly as for a kernel. They need Linux, root and bubblewrap
(``make test`` installs it); elsewhere they are skipped, and the grader refuses untrusted classes (tested here too).
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from metarl_edu.classroom import jail
from metarl_edu.classroom.grade import GradeError, Limits, grade_folder

ROOT = Path(__file__).resolve().parents[1]
jailed = pytest.mark.skipif(jail.unavailable() is not None, reason=f"no jail here: {jail.unavailable()}")


def run(code: str, memory_mb: int = 512) -> str:
    done = jail.run_jailed([sys.executable, "-c", textwrap.dedent(code)], memory_mb=memory_mb)
    assert done.returncode == 0, done.stderr
    return done.stdout


@jailed
def test_the_jail_hides_the_course_the_grader_and_other_processes():
    out = run("""
        import os, pathlib, socket
        import metarl_edu
        checkout = pathlib.Path(metarl_edu.__file__).resolve().parents[1]
        print("course", (checkout / "course").exists(), (checkout / "solutions").exists())
        print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
        print("uid", os.getuid(), os.getgid(), os.getgroups())
        print("tmp", sorted(os.listdir("/tmp")))
        for path in (pathlib.Path(metarl_edu.__file__), pathlib.Path("/etc/passwd"), pathlib.Path("/usr/x")):
            try:
                path.open("a").close()
                print("wrote", path)
            except OSError:
                pass
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=2)
            print("network")
        except OSError:
            pass
        print("nnp", [l for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0].split()[1])
    """)
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert lines["course"] == "False False"  # the checkout's course/ and solutions/ are not there
    assert max(eval(lines["pids"])) < 10  # its own few processes: not the grader's, not another kernel's
    uid = int(lines["uid"].split()[0])
    assert uid in jail.UIDS and lines["uid"] == f"{uid} {uid} []"
    # an empty /tmp but for its own folder, and the way to the Python environment where that lives under /tmp
    under_tmp = {p.relative_to("/tmp").parts[0] for p in jail.exposed_paths() if p.is_relative_to("/tmp")}
    listed = eval(lines["tmp"])
    assert [n for n in listed if n not in under_tmp] and all(
        n.startswith("metarl-edu-jail-") for n in listed if n not in under_tmp), listed
    assert "wrote" not in out and "network" not in out
    assert lines["nnp"] == "1"


@jailed
def test_memory_and_processes_are_capped_for_children_too():
    out = run("""
        import subprocess, sys
        started = []
        for _ in range(200):
            try:
                started.append(subprocess.Popen(["sleep", "30"]))
            except OSError:
                break
        print("started", len(started))
        for p in started:
            p.kill()
            p.wait()
        hog = "x = bytearray(150 << 20); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(2)"
        hogs = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(3)]
        print("hogs", sorted(p.wait() for p in hogs))
    """, memory_mb=256)
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert int(lines["started"]) < jail.MAX_TASKS  # 200 processes asked for
    assert -9 in eval(lines["hogs"])  # three children of 150 MiB under 256 MiB: the cgroup kills one


@jailed
def test_nothing_outlives_the_jail():
    marker = f"metarl-edu-daemon-{os.getpid()}-{time.time_ns()}"
    run(f"""
        import subprocess
        subprocess.Popen(["sh", "-c", "exec -a {marker} sleep 300"], start_new_session=True)
        print("started")
    """)
    time.sleep(0.5)
    left = [p for p in os.listdir("/proc") if p.isdigit() and marker.encode() in _cmdline(p)]
    assert left == []


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_untrusted_grading_without_a_jail_is_refused(tmp_path, monkeypatch):
    from metarl_edu.classroom import cli

    monkeypatch.setattr(jail, "unavailable", lambda: "bubblewrap is not installed (apt-get install bubblewrap)")
    (tmp_path / "subs").mkdir()
    with pytest.raises(GradeError, match="--trusted-class"):
        grade_folder(tmp_path / "subs", tmp_path / "book.csv", course=ROOT / "course", limits=Limits())
    assert not (tmp_path / "book.csv").exists()
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "book.csv")]) == 2
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "book.csv"), "--trusted-class",
                     "--user", ""]) == 0
