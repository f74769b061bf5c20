"""Start a command under resource limits: the grader launches each kernel through this script.

    python limits.py --memory-mb 4096 --fsize-mb 256 -- python -m ipykernel_launcher -f conn.json

It sets the limits on itself, then replaces itself with the command (``os.execv``), so the command runs in the
same process under the same limits:

- ``RLIMIT_AS`` (address space, ``--memory-mb``): an allocation beyond it raises ``MemoryError`` in Python
  instead of exhausting the machine;
- ``RLIMIT_FSIZE`` (largest file the process may write, ``--fsize-mb``);
- ``RLIMIT_CORE`` = 0: no core dumps.

Dropping to an unprivileged user is done by the grader when it starts this script (``subprocess.Popen``'s
``user=``/``group=``, which switch before anything runs). This file is run by path and imports nothing from the
package, so it starts in milliseconds and works for a user that cannot import the course.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

MIB = 1 << 20


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
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if args.memory_mb > 0:
        set_limit(resource.RLIMIT_AS, args.memory_mb * MIB)
    if args.fsize_mb > 0:
        set_limit(resource.RLIMIT_FSIZE, args.fsize_mb * MIB)
    set_limit(resource.RLIMIT_CORE, 0)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
