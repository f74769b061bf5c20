"""Input validation used by every module: one place that turns bad input into a clear message.

Each function returns the checked value in a plain type (``float``, ``int``, a ``np.ndarray``) or raises
``error`` (``ValueError`` by default; a module may pass its own subclass such as ``MDPError``) with a message that
names the argument, what it must be and what it got. A wrong type raises ``TypeError`` only where the caller asks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

PROB_ATOL = 1e-8  # how far a row of probabilities may sum from 1


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_number(name: str, x: Any, low: float = -math.inf, high: float = math.inf, *, low_open: bool = False,
                 high_open: bool = False, error: type[Exception] = ValueError,
                 type_error: type[Exception] | None = None) -> float:
    """``x`` as a float after checking it is a finite number in [low, high] (open ends on request). Raises
    ``type_error`` (default: ``error``) if ``x`` is not a number at all.

    >>> check_number("alpha", 0.5, 0.0, 1.0, low_open=True)
    0.5
    """
    if isinstance(x, (bool, str, bytes)) or not isinstance(x, (int, float, np.integer, np.floating)):
        interval = _interval(low, high, low_open, high_open)
        raise (type_error or error)(f"{name} must be a number in {interval}; got {x!r}")
    value = float(x)
    above = low < value if low_open else low <= value
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):  # also rejects nan and inf
        raise error(f"{name} must be in {_interval(low, high, low_open, high_open)}; got {x!r}")
    return value


def check_probability(name: str, x: Any, error: type[Exception] = ValueError) -> float:
    """``x`` as a float in [0, 1]."""
    return check_number(name, x, 0.0, 1.0, error=error)


def check_int(name: str, x: Any, low: int | None = None, high: int | None = None,
              error: type[Exception] = ValueError) -> int:
    """``x`` as an int after checking it is a whole number (not a bool) in [low, high].

    >>> check_int("n_episodes", 10, low=1)
    10
    """
    bounds = f">= {low}" if high is None and low is not None else f"in [{low}, {high}]"
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise error(f"{name} must be an integer {bounds}; got {x!r}")
    if (low is not None and x < low) or (high is not None and x > high):
        raise error(f"{name} must be an integer {bounds}; got {x!r}")
    return int(x)


def check_range(name: str, pair: Any, low: float = -math.inf, high: float = math.inf,
                error: type[Exception] = ValueError) -> tuple[float, float]:
    """``pair`` as a (lo, hi) tuple of floats with low <= lo <= hi <= high."""
    try:
        lo, hi = (float(x) for x in pair)
    except (TypeError, ValueError):
        raise error(f"{name} must be a pair (lo, hi) of numbers; got {pair!r}") from None
    if not (low <= lo <= hi <= high):  # also rejects nan
        raise error(f"{name} must satisfy {low:g} <= lo <= hi <= {high:g}; got {pair!r}")
    return lo, hi


def check_array(name: str, x: Any, shape: Sequence[int | None] | None = None, *, finite: bool = True,
                error: type[Exception] = ValueError) -> np.ndarray:
    """``x`` as a float array after checking its shape (``None`` in ``shape``: any length) and that it is finite."""
    try:
        array = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise error(f"{name} must be an array of numbers; got {type(x).__name__}") from None
    if shape is not None and (array.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(array.shape, shape, strict=True))):
        want_text = "(" + ", ".join("any" if n is None else str(n) for n in shape) + ")"
        raise error(f"{name} must have shape {want_text}; got {array.shape}")
    if finite and not np.all(np.isfinite(array)):
        raise error(f"{name} must contain only finite numbers")
    return array


def first_bad(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first True entry of ``mask``, as a tuple."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_distribution_rows(name: str, x: np.ndarray, index_names: Sequence[str],
                            error: type[Exception] = ValueError) -> None:
    """Raise ``error`` unless every row along the last axis of ``x`` is a probability distribution.

    ``index_names`` names the leading axes for the message, for example ``("s", "a")``.
    """
    if not np.all(np.isfinite(x)):
        idx = first_bad(~np.isfinite(x))
        raise error(f"{name} must be finite; {name}{list(idx)} = {x[idx]}")
    if np.any(x < 0):
        idx = first_bad(x < 0)
        raise error(f"{name} must be non-negative; {name}{list(idx)} = {x[idx]:.6g}")
    sums = x.sum(axis=-1)
    bad = np.abs(sums - 1.0) > PROB_ATOL
    if np.any(bad):
        idx = first_bad(bad)
        where = ", ".join(f"{n}={i}" for n, i in zip(index_names, idx, strict=False))
        at = f"; at {where}" if where else ""
        raise error(f"{name} rows must sum to 1 (within {PROB_ATOL:g}){at}, the sum is {sums[idx]:.10g}")
