"""Lesson 03: the discretiser that turns a continuous observation into a table row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.agents import Discretizer
from metarl_edu.agents import discretize as _reference
from metarl_edu.classroom.cases import Exercise, Failure, call_unchanged, fmt, register


def _expect_index(fn: Callable[..., Any], obs: Any, low: Any, high: Any, bins: Any, expected: int,
                  mistakes: tuple[tuple[int, str], ...] = ()) -> None:
    args = (np.array(obs, dtype=float), np.array(low, dtype=float), np.array(high, dtype=float),
            np.array(bins, dtype=int))
    got = call_unchanged(fn, args, ("obs", "low", "high", "bins"), advice={
        "obs": "compute with new arrays, such as `(obs - low) / (high - low)`, instead of `obs -= low`: the "
               "observation belongs to the caller"})
    if isinstance(got, (tuple, list)) or (isinstance(got, np.ndarray) and got.ndim == 1):
        raise Failure(f"return ONE int, the flattened index, not the bin of each dimension {fmt(got)}: combine "
                      "them row-major (np.ravel_multi_index)")
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
        raise Failure(f"return an int state index; got {type(got).__name__}: {fmt(got)}")
    if got == expected:
        return
    message = f"obs={fmt(np.array(obs, dtype=float))}: expected index {expected}, got {int(got)}"
    n_states = int(np.prod(bins))
    if not 0 <= got < n_states:
        message += f". The index must be in [0, {n_states}): clip each bin number to [0, bins[i] - 1]"
    else:
        hints = [hint for wrong, hint in mistakes if wrong == got]
        if len(hints) == 1:
            message += f". Hint: {hints[0]}"
    raise Failure(message)


def _mistakes(obs: np.ndarray, d: Discretizer) -> tuple[tuple[int, str], ...]:
    """The index that typical mistakes give for ``obs`` under ``d`` (each paired with its hint)."""
    low, high, bins = np.array(d.low), np.array(d.high), np.array(d.bins)
    b = np.clip(np.floor((obs - low) / (high - low) * bins).astype(int), 0, bins - 1)
    no_low = np.clip(np.floor(obs / (high - low) * bins).astype(int), 0, bins - 1)
    return (
        (int(np.ravel_multi_index(tuple(b), tuple(bins), order="F")),
         "flatten row-major: the last dimension varies fastest (np.ravel_multi_index)"),
        (int(np.ravel_multi_index(tuple(no_low), tuple(bins))),
         "measure each value from the bottom of its range: (x - low) / (high - low) * bins"),
    )


def _cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def one_dimension() -> None:
        # [0, 1] cut into 4 bins of width 0.25: 0.2 -> 0, 0.4 -> 1, 0.99 -> 3 (rounding would give 1, 2, 4).
        for x, expected in ((0.2, 0), (0.4, 1), (0.99, 3)):
            _expect_index(fn, [x], [0.0], [1.0], [4], expected, mistakes=(
                (int(round(x * 4)), "use the bin that contains x (floor), not the nearest edge (round)"),
            ))

    def clipping() -> None:
        # Outside the range: below -> first bin, above (or exactly at high) -> last bin.
        for x, expected in ((-5.0, 0), (7.0, 3), (1.0, 3)):
            _expect_index(fn, [x], [0.0], [1.0], [4], expected)

    def two_dimensions() -> None:
        # bins (2, 3) over [0, 1] x [0, 3]: (0.9, 1.5) is in bins (1, 1) -> 1 * 3 + 1 = 4;
        # (0.2, 2.9) is in bins (0, 2) -> 0 * 3 + 2 = 2 (row-major: the last dimension varies fastest).
        _expect_index(fn, [0.9, 1.5], [0, 0], [1, 3], [2, 3], 4, mistakes=(
            (1 + 1 * 2, "flatten row-major: index = b0 * bins[1] + b1 (as np.ravel_multi_index)"),
        ))
        _expect_index(fn, [0.2, 2.9], [0, 0], [1, 3], [2, 3], 2, mistakes=(
            (0 + 2 * 2, "flatten row-major: index = b0 * bins[1] + b1 (as np.ravel_multi_index)"),
        ))

    def cartpole() -> None:
        # The CartPole defaults, on random observations (some outside the ranges), against the library.
        d = Discretizer.for_cartpole(bins=(3, 4, 6, 12))
        rng = np.random.default_rng(0)
        for obs in rng.normal(scale=[1.5, 1.5, 0.15, 1.5], size=(200, 4)):
            _expect_index(fn, obs, d.low, d.high, d.bins, d(obs), mistakes=_mistakes(obs, d))

    def random_boxes() -> None:
        # Random ranges (not starting at 0) and bin counts in 1-3 dimensions, seeds 1-3, against the library.
        for seed in (1, 2, 3):
            rng = np.random.default_rng(seed)
            d_dim = int(rng.integers(1, 4))
            low = rng.uniform(-3, 1, size=d_dim)
            d = Discretizer(tuple(int(b) for b in rng.integers(1, 7, size=d_dim)), tuple(low),
                            tuple(low + rng.uniform(0.5, 4, size=d_dim)))
            for obs in rng.uniform(low - 1, np.array(d.high) + 1, size=(50, d_dim)):
                _expect_index(fn, obs, d.low, d.high, d.bins, d(obs), mistakes=_mistakes(obs, d))

    yield "one dimension, inside the range", one_dimension
    yield "one dimension, outside the range", clipping
    yield "two dimensions", two_dimensions
    yield "CartPole observations, 3 x 4 x 6 x 12 bins", cartpole
    yield "random ranges and bins in 1-3 dimensions (seeds 1-3)", random_boxes


DISCRETIZE = register(
    Exercise(
        id="discretize",
        title="A discretiser for continuous observations",
        reference=_reference,
        reference_name="metarl_edu.agents.discretize",
        cases=_cases,
        equivalents=("metarl_edu.agents.Discretizer",),
    )
)
