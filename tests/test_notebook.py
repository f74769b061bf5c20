"""Tests of the lesson plots and of the value explorer widget, driven without a browser."""

from __future__ import annotations

import base64

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrow

from metarl_edu.envs import GridWorld
from metarl_edu.mdp import (
    MDPError,
    iterative_policy_evaluation,
    policy_evaluation,
    uniform_policy,
    value_iteration,
)
from metarl_edu.notebook import plot_value_history, plot_values, value_explorer

matplotlib.use("Agg")  # no display in tests (switches pyplot's backend even after it was imported)

TINY = "S.G\n.#P"  # states (0,0) (0,1) (0,2)=G (1,0) (1,2)=P


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def arrows(ax) -> list[FancyArrow]:
    return [p for p in ax.patches if isinstance(p, FancyArrow)]


def arrow_tail_cells(ax) -> set[tuple[int, int]]:
    """(row, col) of the cell each arrow starts in."""
    return {(round(p.get_xy()[:, 1].mean()), round(p.get_xy()[:, 0].mean())) for p in arrows(ax)}


# ----------------------------------------------------------------------------------------- plot_values
def test_plot_values_draws_labelled_heatmap_with_values():
    grid = GridWorld.from_layout(TINY)
    v = np.array([0.9, 1.0, 0.0, 0.81, 0.0])
    ax = plot_values(grid, v)
    assert ax.get_title() == "State values"
    assert ax.images[0].colorbar.ax.get_ylabel() == "state value v(s)"
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    texts = [t.get_text() for t in ax.texts]
    assert {"0.90", "1.00", "0.81", "G", "P", "S"} <= set(texts)
    assert texts.count("0.00") == 2
    image = ax.images[0].get_array()
    assert image.mask[1, 1] and not image.mask[0, 0]  # the wall is masked
    assert image[1, 0] == pytest.approx(0.81)
    assert arrows(ax) == []


def test_plot_values_one_arrow_per_state_for_a_greedy_policy():
    grid = GridWorld.from_layout(TINY)
    v, pi = value_iteration(grid.mdp)
    ax = plot_values(grid, v, pi, title="optimal")
    assert ax.get_title() == "optimal"
    assert len(arrows(ax)) == 3  # three non-terminal states, none on G or P
    assert arrow_tail_cells(ax) == {(0, 0), (0, 1), (1, 0)}


def test_plot_values_arrow_length_follows_probability():
    grid = GridWorld.from_layout(TINY)
    pi = uniform_policy(grid.mdp)
    pi[0] = [0.0, 0.75, 0.25, 0.0]  # from S: right 3 times as often as down
    fig, ax = plt.subplots()
    assert plot_values(grid, policy_evaluation(grid.mdp, pi), pi, ax=ax) is ax
    assert len(arrows(ax)) == 2 + 4 + 4

    from_start = [p.get_xy() for p in arrows(ax) if np.all(np.abs(p.get_xy()) < 0.5)]  # S is the cell (0, 0)
    assert len(from_start) == 2
    (right,) = [np.ptp(xy[:, 0]) for xy in from_start if xy[:, 0].mean() > 0.01]  # points to +x
    (down,) = [np.ptp(xy[:, 1]) for xy in from_start if xy[:, 1].mean() > 0.13]  # points to +row
    assert right == pytest.approx(3 * down, rel=0.01)


def test_plot_values_rejects_bad_shapes():
    grid = GridWorld.from_layout(TINY)
    with pytest.raises(MDPError, match=r"v must have shape \(S,\) = \(5,\)"):
        plot_values(grid, np.zeros(4))
    with pytest.raises(MDPError, match=r"pi must have shape"):
        plot_values(grid, np.zeros(5), np.ones((5, 2)) / 2)


# ----------------------------------------------------------------------------------------- history
def test_plot_value_history_log_error_per_sweep():
    grid = GridWorld.from_layout("simple")
    pi = uniform_policy(grid.mdp)
    v_exact = policy_evaluation(grid.mdp, pi)
    v, history = iterative_policy_evaluation(grid.mdp, pi, theta=1e-6, return_history=True)
    ax = plot_value_history(history, v_ref=v_exact)
    assert ax.get_xlabel() == "sweep k" and ax.get_ylabel() == "max |v_k - v_pi|"
    assert ax.get_yscale() == "log" and ax.get_title()
    k, errors = ax.lines[0].get_data()
    assert k[0] == 0 and errors[0] == pytest.approx(np.abs(v_exact).max())  # v_0 = 0
    assert np.all(np.diff(errors) <= 1e-12)  # a contraction: the error never grows
    ax = plot_value_history(history)  # against the last sweep, whose zero error is left out
    assert len(ax.lines[0].get_xdata()) == len(history) - 1


def test_plot_value_history_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty list of value arrays"):
        plot_value_history([])
    with pytest.raises(ValueError, match=r"v_ref must have shape \(3,\)"):
        plot_value_history([np.zeros(3)], v_ref=np.zeros(2))


# ----------------------------------------------------------------------------------------- widget
def shown_png(w) -> bytes:
    (output,) = w.output.outputs
    return base64.b64decode(output["data"]["image/png"])


def test_value_explorer_draws_at_once():
    w = value_explorer()
    assert shown_png(w).startswith(b"\x89PNG")
    assert w.values.shape == (w.grid.n_states,) and w.pi.shape == (w.grid.n_states, 4)
    assert w.gamma.value == 0.9 and w.policy.value == "optimal" and w.slip.value == 0.0
    assert w.values[w.grid.starts[0]] == pytest.approx(0.9**6)  # 7 steps to the goal
    assert plt.get_fignums() == []  # nothing left open behind the widget


def test_value_explorer_follows_its_controls():
    w = value_explorer(gamma=0.9)
    before, png_before = w.values.copy(), shown_png(w)
    w.gamma.value = 0.5
    assert w.grid.mdp.gamma == 0.5
    assert not np.allclose(w.values, before)
    assert shown_png(w) != png_before

    w.policy.value = "uniform random"
    np.testing.assert_allclose(w.values, policy_evaluation(w.grid.mdp, uniform_policy(w.grid.mdp)))
    np.testing.assert_allclose(w.pi, 0.25)

    w.slip.value = 0.4
    assert w.grid.slip == 0.4
    np.testing.assert_allclose(w.values, policy_evaluation(w.grid.mdp, uniform_policy(w.grid.mdp)))

    w.policy.value = "always right"
    assert np.all(w.pi[:, 1] == 1.0)


def test_value_explorer_on_a_given_grid_and_bad_arguments():
    grid = GridWorld.from_layout(TINY, slip=0.1)
    w = value_explorer(grid, gamma=0.0)
    assert w.slip.value == 0.1  # the grid's own slip by default
    # with gamma = 0 only the next reward counts: from (0,1) "right" enters G with probability 1 - slip
    assert w.values[1] == pytest.approx(0.9)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 0.99\]"):
        value_explorer(gamma=1.0)
    with pytest.raises(ValueError, match=r"slip must be in \[0, 0.8\]"):
        value_explorer(slip=0.9)
    with pytest.raises(ValueError, match="policy must be one of"):
        value_explorer(policy="greedy")
    with pytest.raises(TypeError, match="grid must be a GridWorld"):
        value_explorer(grid=42)
