"""Plots used by the lessons: gridworld values with policy arrows, and convergence of dynamic programming."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.patheffects as path_effects
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from metarl_edu.envs.gridworld import MOVES, GridWorld
from metarl_edu.mdp import check_policy, check_values

VALUE_LABEL = "state value v(s)"
ARROW_MAX_LENGTH = 0.34  # in cells, for an action taken with probability 1
ARROW_OFFSET = 0.06  # arrows start this far from the centre, so that short ones do not overlap
_OUTLINE = [path_effects.withStroke(linewidth=2.5, foreground="white")]


def plot_values(
    grid: GridWorld,
    v: np.ndarray,
    pi: np.ndarray | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    vmax: float | None = None,
) -> Axes:
    """Draw the state values ``v`` (S,) of a gridworld as a heatmap, with the policy ``pi`` (S, A) as arrows.

    Each cell shows its value to 2 decimals; walls are grey; goal and pit cells are marked ``G`` and ``P``.
    For every non-terminal state there is one arrow per action with ``pi[s, a] > 0``, its length proportional
    to the probability, so a greedy policy shows one full-length arrow and the uniform policy four short ones.

    ``vmax`` fixes the colour scale to [-vmax, vmax] (give two plots the same ``vmax`` to compare them); by
    default it is max |v|. Returns the Axes; a new figure is made when ``ax`` is None.
    """
    v = check_values(grid.mdp, v)
    if pi is not None:
        pi = check_policy(grid.mdp, pi)
    if ax is None:
        n_rows, n_cols = grid.shape
        _, ax = plt.subplots(figsize=(1.0 + 0.8 * n_cols, 0.3 + 0.8 * n_rows))

    image = np.full(grid.shape, np.nan)
    for s, (r, c) in enumerate(grid.cells):
        image[r, c] = v[s]
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="dimgray")  # walls are masked, so drawn "bad"
    vmax = max(float(np.abs(v).max()), 1e-9) if vmax is None else float(vmax)  # colours run from -vmax to vmax
    im = ax.imshow(np.ma.masked_invalid(image), cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, label=VALUE_LABEL)

    _annotate_cells(ax, grid, v)
    if pi is not None:
        _draw_policy_arrows(ax, grid, pi)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or "State values")
    return ax


def _annotate_cells(ax: Axes, grid: GridWorld, v: np.ndarray) -> None:
    """Each cell's value near its top; the letters G and P (large) and S (small, in the corner)."""
    style = {"path_effects": _OUTLINE, "clip_on": True}
    for s, (r, c) in enumerate(grid.cells):
        ax.text(c, r - 0.3, f"{v[s]:.2f}", ha="center", va="center", fontsize=8, **style)
        char = grid.char_at(r, c)
        if char in "GP":
            ax.text(c, r + 0.1, char, ha="center", va="center", fontsize=14, weight="bold", **style)
        elif char == "S":
            ax.text(c - 0.38, r + 0.38, "S", ha="left", va="bottom", fontsize=7, **style)


def _draw_policy_arrows(ax: Axes, grid: GridWorld, pi: np.ndarray) -> None:
    """One arrow per (s, a) with pi[s, a] > 0, starting just below the cell centre (the value sits above)."""
    for s, (r, c) in enumerate(grid.cells):
        if grid.mdp.terminal[s]:
            continue  # the episode is over there: no action to show
        for a, (d_row, d_col) in enumerate(MOVES):
            if pi[s, a] > 0:
                length = ARROW_MAX_LENGTH * pi[s, a]
                # image rows grow downwards, like d_row, so "up" points up on screen
                ax.arrow(
                    c + d_col * ARROW_OFFSET,
                    r + 0.12 + d_row * ARROW_OFFSET,
                    d_col * length,
                    d_row * length,
                    width=0.03,
                    head_width=0.13,
                    head_length=min(0.1, length),
                    length_includes_head=True,
                    color="black",
                )


def plot_value_history(
    history: Sequence[np.ndarray],
    ax: Axes | None = None,
    title: str = "Convergence of iterative policy evaluation",
    *,
    v_ref: np.ndarray | None = None,
) -> Axes:
    """Plot the error max_s |v_k(s) - v_pi(s)| after each sweep k, on a log scale.

    Args:
        history: the value arrays v_0, v_1, ..., each of shape (S,), for example from
            ``iterative_policy_evaluation(mdp, pi, return_history=True)``.
        v_ref: the exact v_pi (S,); default: the last entry of ``history``, whose own zero error is not drawn.
    """
    history = np.asarray(history, dtype=float)
    if history.ndim != 2 or history.shape[0] == 0:
        raise ValueError(
            f"history must be a non-empty list of value arrays of shape (S,); got {history.shape}"
        )
    v_ref = history[-1] if v_ref is None else np.asarray(v_ref, dtype=float)
    if v_ref.shape != history.shape[1:]:
        raise ValueError(f"v_ref must have shape {history.shape[1:]}, like each v_k; got {v_ref.shape}")
    errors = np.abs(history - v_ref).max(axis=1)
    sweeps = np.arange(len(errors))
    shown = errors > 0  # log scale: an exact zero cannot be drawn
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(sweeps[shown], errors[shown], marker=".")
    ax.set_xlabel("sweep k")
    ax.set_ylabel("max |v_k - v_pi|")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    return ax
