"""Start a command under resource limits: the grader launches each kernel through this script.

    python limits.py --memory-mb 4096 --fsize-mb 256 -- python -m ipykernel_launcher -f conn.json

It sets the limits on itself, then replaces itself with the command (``os.execv``), so the command runs in the
same process under the same limits:

- ``--cgroup DIR`` (repeatable): it first moves itself into each cgroup, so the command and everything it starts
  run inside them (the grader starts a jailed kernel this way, see :mod:`metarl_edu.classroom.jail`);
- ``--uid N``: it drops to user and group ``N`` with no supplementary groups (inside a jail, where it starts as
  root with only the capabilities to do that), which clears every capability;

- ``RLIMIT_AS`` (address space, ``--memory-mb``): an allocation beyond it raises ``MemoryError`` in Python
  instead of exhausting the machine;
- ``RLIMIT_FSIZE`` (largest file the process may write, ``--fsize-mb``);
- ``RLIMIT_CORE`` = 0: no core dumps.

Dropping to an unprivileged user is done by the grader when it starts this script (``subprocess.Popen``'s
``user=``/``group=``, which switch before anything runs). This file is run by path and imports nothing from the
package, so it starts in milliseconds and works for a user that cannot import the course. It also holds the
grader's default memory limits, which depend on the build of torch installed (:func:`default_memory_mb`).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import resource
import sys

MIB = 1 << 20
# The grader's default --memory-mb, by the build of torch installed (measured on every lesson's solution in quick
# mode, the README's "Grading a class"). In a jail the limit is what the kernel and its children hold (its cgroup):
# the solutions peak at 200-355 MiB with the CPU build and 330-670 MiB with a GPU build (its libraries' pages count),
# lesson 08 the most; 1024 and 1536 leave room for a learner's less frugal code. Without a jail it is the kernel's
# address space, which the imports alone mostly fill: 1.3-1.6 GiB with the CPU build, 3.8-4.1 GiB with the CUDA
# build (it maps its GPU libraries, a few GB, even on a machine without a GPU): 4096 and 8192.
DEFAULT_MEMORY_MB = {"cpu": {"jail": 1024, "none": 4096}, "gpu": {"jail": 1536, "none": 8192}}
GPU_FIELDS = ("cuda", "hip", "rocm", "xpu")  # torch/version.py names each a version string in a build for them


@functools.lru_cache(maxsize=1)
def torch_build() -> str:
    """``gpu`` when the torch this Python imports is a CUDA (or ROCm, XPU) build, else ``cpu`` (also when torch is
    missing). Read from ``torch/version.py`` (its ``cuda = '13.0'`` or ``None``) without importing torch, which
    takes seconds and hundreds of MiB."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return "cpu"
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "version.py"), encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return "cpu"
    fields = "|".join(GPU_FIELDS)
    return "gpu" if re.search(rf"^(?:{fields})\b[^=\n]*=\s*['\"]", text, re.MULTILINE) else "cpu"


def default_memory_mb(isolation: str) -> int:
    """The default --memory-mb for kernels in a jail (``jail``) or without one (``none``), for the torch installed."""
    return DEFAULT_MEMORY_MB[torch_build()][isolation]


def set_limit(which: int, value: int) -> None:
    """Lower the soft and hard limit ``which`` to ``value`` (never raise an existing lower hard limit)."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, default=0, help="address-space limit in MiB (0: none)")
    parser.add_argument("--fsize-mb", type=int, default=0, help="largest file written, in MiB (0: none)")
    parser.add_argument("--cgroup", action="append", default=[], help="a cgroup folder to join first (repeatable)")
    parser.add_argument("--uid", type=int, help="drop to this user and group id before running the command")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    for folder in args.cgroup:
        with open(os.path.join(folder, "cgroup.procs"), "w") as handle:
            handle.write(str(os.getpid()))
    if args.memory_mb > 0:
        set_limit(resource.RLIMIT_AS, args.memory_mb * MIB)
    if args.fsize_mb > 0:
        set_limit(resource.RLIMIT_FSIZE, args.fsize_mb * MIB)
    set_limit(resource.RLIMIT_CORE, 0)
    if args.uid is not None:
        os.setgroups([])
        os.setgid(args.uid)
        os.setuid(args.uid)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
