"""Widgets used by the lessons. Each is built by a function that a test can drive without a browser."""

from __future__ import annotations

import base64
import dataclasses
import io

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from metarl_edu.envs.gridworld import GridWorld
from metarl_edu.mdp import policy_evaluation, uniform_policy, value_iteration
from metarl_edu.notebook.plots import plot_values

POLICIES = ("optimal", "uniform random", "always right")
GAMMA_MAX = 0.99  # below 1, so that every policy (even one that never ends the episode) has finite values
SLIP_MAX = 0.8


def policy_and_values(grid: GridWorld, policy: str) -> tuple[np.ndarray, np.ndarray]:
    """``(pi, v)`` for one of :data:`POLICIES`: pi (S, A) and its exact values v (S,).

    ``"optimal"`` runs value iteration; the others are evaluated exactly with ``policy_evaluation``.
    """
    mdp = grid.mdp
    if policy == "optimal":
        v, pi = value_iteration(mdp)
        return pi, v
    if policy == "uniform random":
        pi = uniform_policy(mdp)
    elif policy == "always right":
        pi = np.zeros((mdp.n_states, mdp.n_actions))
        pi[:, 1] = 1.0
    else:
        raise ValueError(f"policy must be one of {list(POLICIES)}; got {policy!r}")
    return pi, policy_evaluation(mdp, pi)


class ValueExplorer(widgets.VBox):
    """Sliders for gamma and slip and a policy menu above a live plot of the exact state values.

    Attributes:
        gamma, slip: the FloatSliders; policy: the Dropdown; output: the Output with the plot.
        grid: the GridWorld shown now (the base grid with the chosen gamma and slip).
        pi: the policy drawn, shape (S, A); values: its exact values v, shape (S,).
    """

    def __init__(self, grid: GridWorld, gamma: float, policy: str, slip: float) -> None:
        self.base_grid = grid
        self.gamma = widgets.FloatSlider(
            value=gamma, min=0.0, max=GAMMA_MAX, step=0.01, description="gamma", continuous_update=False
        )
        self.policy = widgets.Dropdown(options=list(POLICIES), value=policy, description="policy")
        self.slip = widgets.FloatSlider(
            value=slip, min=0.0, max=SLIP_MAX, step=0.05, description="slip", continuous_update=False
        )
        self.output = widgets.Output()
        self.grid: GridWorld = grid
        self.pi = np.empty((0, 0))
        self.values = np.empty(0)
        super().__init__(children=[widgets.HBox([self.gamma, self.slip, self.policy]), self.output])
        for control in (self.gamma, self.slip, self.policy):
            control.observe(self._on_change, names="value")
        self.redraw()

    def _on_change(self, change: dict) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Recompute ``pi`` and ``values`` from the controls and replace the plot."""
        self.grid = dataclasses.replace(self.base_grid, gamma=self.gamma.value, slip=self.slip.value)
        self.pi, self.values = policy_and_values(self.grid, self.policy.value)
        title = f"{self.policy.value} policy: gamma = {self.gamma.value:.2f}, slip = {self.slip.value:.2f}"
        self.output.outputs = (_png_output(_values_figure(self.grid, self.values, self.pi, title)),)


def _values_figure(grid: GridWorld, v: np.ndarray, pi: np.ndarray, title: str) -> Figure:
    # A bare Figure, not pyplot: nothing is registered globally, so redrawing never leaks figures.
    n_rows, n_cols = grid.shape
    fig = Figure(figsize=(1.0 + 0.8 * n_cols, 0.3 + 0.8 * n_rows))
    plot_values(grid, v, pi, ax=fig.add_subplot(), title=title)
    return fig


def _png_output(fig: Figure) -> dict:
    """An Output-widget entry (nbformat display_data) holding the figure as a PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {
        "output_type": "display_data",
        "data": {"image/png": png, "text/plain": "<value plot>"},
        "metadata": {},
    }


def value_explorer(
    grid: GridWorld | str | None = None,
    gamma: float = 0.9,
    policy: str = "optimal",
    slip: float | None = None,
) -> ValueExplorer:
    """Explore how the discount, the slip and the policy shape the state values of a gridworld.

    Args:
        grid: a GridWorld, a layout (ASCII art or a key of ``LAYOUTS``), or None for the default layout.
        gamma: starting discount in [0, 0.99].
        policy: one of ``"optimal"`` (value iteration), ``"uniform random"``, ``"always right"``.
        slip: starting slip probability in [0, 0.8]; default: the grid's own.

    The plot appears at once and is redrawn whenever a control changes.

    >>> w = value_explorer(gamma=0.5)
    >>> w.gamma.value = 0.8   # w.values and the plot follow
    """
    if grid is None or isinstance(grid, str):
        grid = GridWorld.from_layout(*([] if grid is None else [grid]))
    if not isinstance(grid, GridWorld):
        raise TypeError(f"grid must be a GridWorld, a layout string or None; got {type(grid).__name__}")
    slip = grid.slip if slip is None else slip
    if not 0.0 <= gamma <= GAMMA_MAX:
        raise ValueError(f"gamma must be in [0, {GAMMA_MAX}] for the explorer; got {gamma}")
    if not 0.0 <= slip <= SLIP_MAX:
        raise ValueError(f"slip must be in [0, {SLIP_MAX}] for the explorer; got {slip}")
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}; got {policy!r}")
    return ValueExplorer(grid, gamma, policy, slip)
