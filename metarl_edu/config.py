"""Run-time settings read from the environment, in one place.

``METARL_EDU_QUICK=1``
    Quick mode: notebooks and library defaults use small budgets (fewer episodes, fewer iterations) so that the
    whole course executes in minutes. The same code paths run; only sizes shrink. ``make test``, the grader and
    the self-check set it.
``METARL_EDU_STRICT=1``
    Strict mode: check results become errors (see :mod:`metarl_edu.classroom.checks`). ``make test`` sets it;
    the grader and the self-check never do.

Every size that differs between the two modes goes through :func:`size`, never through ``os.environ``.
"""

from __future__ import annotations

import os
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


def mode_name() -> str:
    """``"quick"`` or ``"full"``, for messages."""
    return "quick" if quick() else "full"
