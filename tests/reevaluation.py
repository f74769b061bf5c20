"""One rule for the tests that re-evaluate a shipped, trained agent against the numbers recorded when it was made."""

from __future__ import annotations

import numpy as np


def assert_reevaluated(got, recorded, atol: float = 1e-3, share: float = 0.9) -> None:
    """``got`` matches ``recorded`` (per-task numbers from the same weights, tasks and seeds) as far as another CPU
    allows: its vector instructions can round the last bits differently, and where that flips a sampled action or a
    step at the goal's edge, one task's trajectory changes. So at least ``share`` of the entries agree within
    ``atol``, and the mean agrees within three standard errors of the recorded entries (or ``atol``). A change in
    the code that plays or scores the agent moves far more entries than that."""
    got, recorded = np.asarray(got, dtype=float), np.asarray(recorded, dtype=float)
    assert got.shape == recorded.shape, (got.shape, recorded.shape)
    same = np.isclose(got, recorded, rtol=0, atol=atol)
    assert same.mean() >= share, f"only {same.mean():.0%} of the entries agree within {atol}"
    noise = max(3 * recorded.std() / np.sqrt(recorded.size), atol)
    assert abs(got.mean() - recorded.mean()) <= noise, (got.mean(), recorded.mean(), noise)
