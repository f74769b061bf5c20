"""The jail a kernel runs in when ``metarl-edu grade`` grades a class of strangers (Linux, as root).

Each kernel runs under bubblewrap (``bwrap``, ``apt-get install bubblewrap``) in new PID, mount, network, IPC and
UTS namespaces, with ``no_new_privs``, as its own unprivileged uid (one per kernel running at the same time, not
root, not the grader's), and inside its own cgroup:

- **what it sees:** a read-only view of the system's ``/usr`` (and the few files of ``/etc`` a program needs),
  of the Python environment that runs the grader, and of the installed package's own folder only, so the
  checkout's ``course/`` and ``solutions/``, the other submissions, the gradebook and the state folder are absent;
  a private, empty ``/tmp`` and ``/dev/shm`` (memory, counted in its cgroup); its own ``/proc`` (no other
  process, not the grader's command line); a fresh IPython folder in ``/tmp`` (no startup files); no network
  (loopback only); and one folder it may write, where its connection file and sockets live;
- **what it may use:** the cgroup caps memory (everything the kernel and its children hold, ``/tmp`` and
  ``/dev/shm`` included: ``--memory-mb``), the number of processes and threads, and CPU time (one core);
- **when its work ends**, everything in it is killed: its PID namespace dies with bubblewrap, and every process
  left in its cgroup is killed before the cgroup is removed.

:func:`unavailable` says why a jail cannot be made here (not root, no bubblewrap, no writable cgroups); the grader
then refuses to grade unless told the class is trusted (``--trusted-class``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UIDS = range(61000, 61256)  # one per kernel running at once; no user on the system owns them
MAX_TASKS = 128  # processes and threads of one kernel, children included
CPU_CORES = 1.0
TMP_MB = 512  # size of the private /tmp and /dev/shm (their pages count against --memory-mb too)
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "hosts", "mime.types")

_uids_in_use: set[int] = set()
_uid_lock = threading.Lock()


class JailError(RuntimeError):
    """A jail could not be made for a kernel."""


# --------------------------------------------------------------------------------------------- uids
def take_uid() -> int:
    """A uid no other running kernel holds."""
    with _uid_lock:
        for uid in UIDS:
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid
    raise JailError(f"more than {len(UIDS)} kernels at once")


def give_back_uid(uid: int) -> None:
    with _uid_lock:
        _uids_in_use.discard(uid)


# --------------------------------------------------------------------------------------------- cgroups
def _own_cgroups() -> dict[str, str]:
    """Controller -> this process's cgroup path (cgroup v1 lines ``id:controllers:path``; v2 as ``""``)."""
    found: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


class Cgroup:
    """The cgroup of one kernel: made beside nothing the machine runs, under this process's own cgroup of each
    controller (so the machine's limits on the grader still hold), removed by :meth:`close`."""

    def __init__(self, memory_mb: int) -> None:
        self.dirs: list[Path] = []
        name = f"metarl-edu-{secrets.token_hex(6)}"
        own = _own_cgroups()
        try:
            if (CGROUP_ROOT / "cgroup.controllers").exists():  # cgroup v2, one tree
                folder = self._make(CGROUP_ROOT / own.get("", "/").lstrip("/") / name)
                self._write(folder / "memory.max", str(memory_mb << 20) if memory_mb else "max")
                self._write(folder / "memory.swap.max", "0", missing_ok=True)
                self._write(folder / "pids.max", str(MAX_TASKS))
                self._write(folder / "cpu.max", f"{int(CPU_CORES * 100000)} 100000")
            else:  # cgroup v1: one tree per controller
                memory = self._make(CGROUP_ROOT / "memory" / own.get("memory", "/").lstrip("/") / name)
                if memory_mb:
                    self._write(memory / "memory.limit_in_bytes", str(memory_mb << 20))
                    self._write(memory / "memory.memsw.limit_in_bytes", str(memory_mb << 20), missing_ok=True)
                pids = self._make(CGROUP_ROOT / "pids" / own.get("pids", "/").lstrip("/") / name)
                self._write(pids / "pids.max", str(MAX_TASKS))
                cpu = self._make(CGROUP_ROOT / "cpu" / own.get("cpu", "/").lstrip("/") / name)
                self._write(cpu / "cpu.cfs_period_us", "100000")
                self._write(cpu / "cpu.cfs_quota_us", str(int(CPU_CORES * 100000)))
        except OSError as exc:
            self.close()
            raise JailError(f"cannot make a cgroup ({exc})") from None

    def _make(self, folder: Path) -> Path:
        folder.mkdir()
        self.dirs.append(folder)
        return folder

    @staticmethod
    def _write(path: Path, value: str, missing_ok: bool = False) -> None:
        if missing_ok and not path.exists():
            return
        path.write_text(value)

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
        return found

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup until none is left (a process may fork while it is killed)."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this cgroup (its memory limit was reached)."""
        for folder in self.dirs:
            for name in ("memory.events", "memory.oom_control"):
                with contextlib.suppress(OSError, ValueError):
                    for line in (folder / name).read_text().splitlines():
                        if line.startswith("oom_kill "):
                            return int(line.split()[1])
        return 0

    def peak_mb(self) -> float | None:
        """The most memory the kernel held, in MiB (cgroup v1 ``max_usage``, v2 ``memory.peak``)."""
        for folder in self.dirs:
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                with contextlib.suppress(OSError, ValueError):
                    return int((folder / name).read_text()) / (1 << 20)
        return None

    def close(self) -> None:
        self.kill_all()
        for folder in reversed(self.dirs):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.02)
        self.dirs = []


# --------------------------------------------------------------------------------------------- bubblewrap
def exposed_paths() -> list[Path]:
    """What a kernel needs to read: the Python environment that runs the grader, and the package's own folder."""
    import metarl_edu

    package = Path(metarl_edu.__file__).resolve().parent
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.exec_prefix).resolve(), package}
    return sorted(p for p in paths if p.exists())


def command(inner: list[str], *, work: Path, env: dict[str, str]) -> list[str]:
    """The bubblewrap command that runs ``inner`` in a jail whose one writable host folder is ``work``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise JailError("bubblewrap is not installed (apt-get install bubblewrap)")
    args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "metarl-edu-jail",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # for limits.py to drop to the kernel's uid
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    size = str(TMP_MB << 20)
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
             "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    for path in exposed_paths():  # after the private /tmp, which would hide an environment that lives under /tmp
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(work), str(work), "--chdir", "/tmp", "--clearenv"]
    # bubblewrap makes the folders on the way to a mount readable by root only: open them for the kernel's user
    ancestors = {a for path in (*exposed_paths(), work) for a in path.parents if a != Path("/")}
    for folder in sorted(ancestors, key=lambda a: len(a.parts)):
        if not any(folder == p or folder.is_relative_to(p) for p in exposed_paths()) and folder != Path("/tmp"):
            args += ["--chmod", "0755", str(folder)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *inner]


def run_jailed(argv: list[str], *, memory_mb: int = 2048, timeout: float = 120,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a fresh jail (its own cgroup with ``memory_mb``, uid and folder), as the grader runs a kernel;
    afterwards kill whatever it left and clean up. ``env`` is all the environment it gets (default: a ``PATH``,
    ``HOME=/tmp`` and the grader's ``PYTHONPATH``)."""
    import tempfile

    if env is None:
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp",
               **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}
    limits = str(Path(__file__).with_name("limits.py"))
    work = Path(tempfile.mkdtemp(prefix="metarl-edu-jail-"))
    cgroup = Cgroup(memory_mb)
    uid = take_uid()
    try:
        os.chown(work, uid, uid)
        inner = [sys.executable, limits, "--uid", str(uid), "--", *argv]
        outer = [sys.executable, "-I", "-S", limits, *[a for d in cgroup.dirs for a in ("--cgroup", str(d))], "--",
                 *command(inner, work=work, env=env)]
        return subprocess.run(outer, capture_output=True, text=True, timeout=timeout, start_new_session=True)
    finally:
        cgroup.close()
        give_back_uid(uid)
        shutil.rmtree(work, ignore_errors=True)


@lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why a jail cannot be made here, or None when it can (checked once: a jailed Python imports the package)."""
    if sys.platform != "linux":
        return "kernels can be jailed on Linux only"
    if os.geteuid() != 0:
        return "the grader is not root, so it cannot make cgroups or give each kernel its own user"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    try:
        done = run_jailed([sys.executable, "-c", "import metarl_edu.classroom.sandbox, os; print(os.getuid())"])
    except (OSError, subprocess.SubprocessError, JailError) as exc:
        return f"a jailed kernel could not start ({exc})"
    if done.returncode != 0 or not done.stdout.strip().isdigit() or int(done.stdout) not in UIDS:
        return f"a jailed kernel could not start ({(done.stderr.strip().splitlines() or ['?'])[-1][:300]})"
    return None
