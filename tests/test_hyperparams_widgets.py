"""The plots and widgets of lessons 04 and 05, driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from metarl_edu.envs import FrozenLakeFamily, GridWorldFamily, RandomMDPFamily  # noqa: E402
from metarl_edu.notebook.hyperparams import (  # noqa: E402
    SCORE_RANGE,
    held_out_curves_figure,
    held_out_explorer,
    plot_best_settings,
    plot_feature_histograms,
    plot_held_out,
    plot_task_gallery,
    sweep_heatmap,
    task_rows,
)
from metarl_edu.studies.evaluation import split_tasks  # noqa: E402
from metarl_edu.studies.hyperparams import BestConstant, compare_on_held_out, setting_grid, sweep  # noqa: E402
from metarl_edu.studies.two_goals import TwoGoalsFamily  # noqa: E402


def test_task_galleries_draw_each_family():
    for family in (GridWorldFamily(), FrozenLakeFamily(size=4), TwoGoalsFamily()):
        tasks = family.sample(3, np.random.default_rng(0))
        fig = plot_task_gallery(family, tasks, n_cols=2, title="T")
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert len(titles) == 3 and fig._suptitle.get_text() == "T"
        plt.close(fig)
    rows, title = task_rows(TwoGoalsFamily(), TwoGoalsFamily().sample(1, np.random.default_rng(0))[0])
    assert rows[1][3] == "g" and "near reward" in title
    with pytest.raises(TypeError, match="no map to draw"):
        task_rows(RandomMDPFamily(), RandomMDPFamily().sample(1, np.random.default_rng(0))[0])
    fig = plot_feature_histograms(RandomMDPFamily(), RandomMDPFamily().sample(20, np.random.default_rng(0)))
    assert [ax.get_xlabel() for ax in fig.axes] == list(RandomMDPFamily.feature_names)
    plt.close(fig)


def test_sweep_heatmap_follows_its_menu():
    family = FrozenLakeFamily(size=4, hole_prob_range=(0.0, 0.4))
    tasks = family.sample(3, np.random.default_rng(0))
    result = sweep(family, tasks, setting_grid([0.1, 1.0], [0.1, 1.0], [0.99], ["constant"]), n_episodes=20,
                   progress=False)
    w = sweep_heatmap(result, task=1)
    assert w.values.shape == (2, 2) and len(w.output.outputs) == 1
    np.testing.assert_allclose(w.values, result.mean_scores[1].reshape(2, 2))  # alpha rows, epsilon columns
    before = w.output.outputs[0]["data"]["image/png"]
    w.task.value = -1
    np.testing.assert_allclose(w.values, result.mean_scores.mean(axis=0).reshape(2, 2))
    assert w.best == w.best_constant and w.output.outputs[0]["data"]["image/png"] != before
    np.testing.assert_allclose(w.spread, result.mean_scores.std(axis=0).reshape(2, 2))  # spread over tasks
    scales = []
    for t in (0, 1, 2, -1):  # one colour scale for every task
        w.task.value = t
        image = w._figure().axes[0].images[0]
        scales.append(image.get_clim())
    assert len(set(scales)) == 1 and scales[0][1] == 1.0 and scales[0][0] <= min(0.0, result.mean_scores.min())
    w.task.value = 2
    np.testing.assert_allclose(w.spread, result.scores[2].std(axis=1).reshape(2, 2))  # spread over seeds
    with pytest.raises(ValueError, match="alpha x epsilon grid"):
        sweep_heatmap(sweep(family, tasks, setting_grid([0.1], [0.1], [0.5, 0.9]), n_episodes=5, progress=False))
    ax = plot_best_settings(result, "hole_fraction", "epsilon")
    assert ax.get_xlabel() == "hole_fraction" and ax.get_ylabel() == "best epsilon"
    plt.close("all")


def test_held_out_plot_and_explorer():
    family = TwoGoalsFamily(horizon_range=(4, 10))
    split = split_tasks(family, 5, 3, seed=0)
    result = sweep(family, split.train, setting_grid([0.5, 1.0], [0.3], [0.5, 0.95], ["constant"]), n_episodes=10,
                   n_seeds=1, progress=False)
    comparison = compare_on_held_out(family, split, result, [BestConstant()], n_seeds=2, oracle_seeds=1,
                                     progress=False)
    ax = plot_held_out(comparison, title="T")
    assert ax.get_title() == "T" and len(ax.patches) == 3  # defaults, best constant, oracle
    plt.close("all")
    w = held_out_explorer(family, comparison, n_episodes=10, n_points=2, n_seeds=2)
    assert set(w.curves) == {"defaults", "best constant"} and w.curves["defaults"].shape == (2, 2)
    assert "best constant" in w.table.value and len(w.output.outputs) == 1
    before = w.curves["defaults"].copy()
    w.task.value = 2
    chosen = comparison.chosen["best constant"][2]
    assert f"<td>{chosen.alpha:.3g}</td><td>{chosen.epsilon:.3g} ({chosen.schedule})</td>" in w.table.value
    assert not np.array_equal(w.curves["defaults"], before)  # another task, other curves
    with pytest.raises(ValueError, match="unknown method"):
        held_out_explorer(family, comparison, methods=["nope"])


def test_held_out_curves_average_the_seeds_on_one_scale_for_every_task():
    episodes = np.array([5, 10])
    by_task = {0: {"a": np.array([[0.2, 0.4], [0.4, 0.8]]), "b": np.array([[0.9, 1.0], [0.9, 1.0]])},
               1: {"a": np.array([[-0.9, -0.8], [-0.7, -0.6]]), "b": np.array([[0.0, 0.1], [0.2, 0.3]])}}
    axes = {t: held_out_curves_figure(curves, episodes, t).axes[0] for t, curves in by_task.items()}
    np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(), [0.3, 0.6])  # the mean over seeds
    assert len(axes[0].collections) == 2 and "2 seeds" in axes[0].get_legend().get_texts()[0].get_text()
    assert axes[0].get_ylim() == axes[1].get_ylim() == SCORE_RANGE and axes[0].get_xlim() == axes[1].get_xlim()
    assert "off the chart" in axes[1].get_title() and "off the chart" not in axes[0].get_title()
    assert "score" in axes[0].get_ylabel() and "episodes" in axes[0].get_xlabel()
