"""Run-time settings read from the environment, in one place.

``METARL_EDU_QUICK=1``
    Quick mode: notebooks and library defaults use small budgets (fewer episodes, fewer iterations) so that the
    whole course executes in minutes. The same code paths run; only sizes shrink. ``make test``, the grader and
    the self-check set it.
``METARL_EDU_STRICT=1``
    Strict mode: check results become errors (see :mod:`metarl_edu.classroom.checks`). ``make test`` sets it;
    the grader and the self-check never do.

``XDG_CACHE_HOME``
    Where :func:`checkpoint_dir` keeps checkpoints in full mode (default ``~/.cache``), as other tools do.

Every size that differs between the two modes goes through :func:`size`, never through ``os.environ``.
"""

from __future__ import annotations

import os
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

QUICK_VAR = "METARL_EDU_QUICK"
STRICT_VAR = "METARL_EDU_STRICT"
_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def quick() -> bool:
    """True in quick mode (``METARL_EDU_QUICK=1``)."""
    return _flag(QUICK_VAR)


def strict() -> bool:
    """True in strict mode (``METARL_EDU_STRICT=1``)."""
    return _flag(STRICT_VAR)


def size(*, quick: T, full: T) -> T:
    """Pick a budget: ``quick`` in quick mode, ``full`` otherwise.

    >>> n_episodes = size(quick=50, full=500)
    """
    return quick if _flag(QUICK_VAR) else full


def checkpoint_dir(name: str) -> Path:
    """The folder where a training run called ``name`` keeps its checkpoints; created if missing.

    Full mode: ``$XDG_CACHE_HOME/metarl-edu/checkpoints/<name>`` (``~/.cache/...`` by default), so that a learner
    can stop a long training run and resume it later, in the same or a new kernel. Quick mode: a temporary folder,
    the same for a given name within one process and fresh in every new process, so that tests and the grader
    always train from scratch and never leave files behind in the user's cache. Never inside ``lessons/`` or
    ``solutions/``.

    Args:
        name: a short identifier such as ``"rl2-bandit-n10-k5"``: letters, digits, ``-``, ``_`` and ``.``.

    >>> checkpoint_dir("rl2-bandit-n10-k5").name
    'rl2-bandit-n10-k5'
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
        raise ValueError(f"checkpoint name must be letters, digits, '-', '_' or '.' (no slashes); got {name!r}")
    if quick():
        root = _quick_checkpoint_root()
    else:
        cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache_home) / "metarl-edu" / "checkpoints"
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def _quick_checkpoint_root() -> Path:
    """One temporary folder per process for quick-mode checkpoints."""
    return Path(tempfile.mkdtemp(prefix="metarl-edu-quick-"))
