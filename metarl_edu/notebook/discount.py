"""Lesson 00's widget: how the discount gamma weighs future rewards."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from metarl_edu.notebook.widgets import _png_output


def discount_weights(gamma: float, horizon: int) -> np.ndarray:
    """gamma**t for t = 0, ..., horizon - 1: the weight of reward r_{t+1} in the return G_0. Shape (horizon,)."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1]; got {gamma}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1; got {horizon}")
    return gamma ** np.arange(horizon)


class DiscountExplorer(widgets.VBox):
    """A gamma slider above a bar chart of the weights gamma**t. ``weights`` holds what is drawn."""

    def __init__(self, gamma: float, horizon: int) -> None:
        self.horizon = horizon
        self.gamma = widgets.FloatSlider(
            value=gamma, min=0.0, max=1.0, step=0.01, description="gamma", continuous_update=False
        )
        self.output = widgets.Output()
        self.weights = discount_weights(gamma, horizon)
        super().__init__([self.gamma, self.output])
        self.gamma.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        gamma = float(self.gamma.value)
        self.weights = discount_weights(gamma, self.horizon)
        fig = Figure(figsize=(7, 2.8))
        ax = fig.subplots()
        ax.bar(np.arange(self.horizon), self.weights, color="tab:blue")
        ax.set_xlabel("time step t")
        ax.set_ylabel("weight gamma^t of reward r_{t+1}")
        horizon = "infinite" if gamma == 1.0 else f"{1.0 / (1.0 - gamma):.1f} steps"
        ax.set_title(f"gamma = {gamma:.2f}: effective horizon 1/(1 - gamma) = {horizon}")
        ax.set_ylim(0, 1.05)
        fig.tight_layout()
        self.output.outputs = (_png_output(fig),)


def discount_explorer(gamma: float = 0.9, horizon: int = 30) -> DiscountExplorer:
    """A widget with a gamma slider that redraws the discount weights gamma**t (drawn at once)."""
    discount_weights(gamma, horizon)  # validates the arguments with a clear message
    return DiscountExplorer(gamma, horizon)
