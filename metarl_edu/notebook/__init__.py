"""Plots and widgets for the lesson notebooks (matplotlib and ipywidgets are imported here, never by the
algorithms)."""

from __future__ import annotations

from metarl_edu.notebook.plots import plot_value_history, plot_values
from metarl_edu.notebook.widgets import ValueExplorer, value_explorer

__all__ = ["ValueExplorer", "plot_value_history", "plot_values", "value_explorer"]
