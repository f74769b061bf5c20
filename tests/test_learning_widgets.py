"""Plots and the Q-learning widget of lesson 02, driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from metarl_edu.notebook.learning import (  # noqa: E402
    moving_average,
    plot_learning_curves,
    plot_paths_on_grid,
    q_learning_explorer,
)


def test_moving_average_by_hand():
    np.testing.assert_allclose(moving_average(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 2), [1.0, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(moving_average(np.array([3.0, 1.0]), 10), [3.0, 2.0])
    with pytest.raises(ValueError, match="window must be >= 1"):
        moving_average(np.ones(3), 0)


def test_learning_curve_plot_is_labelled():
    ax = plot_learning_curves({"a": np.arange(30.0), "b": np.ones((3, 30))}, window=5, title="T")
    assert ax.get_title() == "T" and "episode" in ax.get_xlabel() and "moving average of 5" in ax.get_ylabel()
    assert len(ax.get_lines()) == 2 and [t.get_text() for t in ax.get_legend().get_texts()] == ["a (1 seed)",
                                                                                                 "b (3 seeds)"]
    plt.close("all")


def test_paths_plot():
    ax = plot_paths_on_grid({"p": [(3, 0), (2, 0), (2, 1)]}, (4, 12), {"cliff": [(3, 1)]}, title="paths")
    assert ax.get_title() == "paths" and ax.get_xlabel() == "column" and ax.get_ylabel() == "row"
    plt.close("all")


def test_q_learning_explorer_learns_and_follows_its_sliders():
    w = q_learning_explorer(alpha=0.2, epsilon=0.1, gamma=0.9, n_episodes=300, n_seeds=3)
    assert len(w.output.outputs) == 1 and "image/png" in w.output.outputs[0]["data"]
    assert w.returns.shape == (3, 300) and w.v_greedy_start.shape == (3,)
    assert np.all(w.v_greedy_start > 0.0) and np.mean(w.returns[:, :10]) < 0.0  # learned: early episodes lose
    before = w.output.outputs[0]["data"]["image/png"]
    w.episodes.value = 20
    assert w.returns.shape == (3, 20) and w.output.outputs[0]["data"]["image/png"] != before
    w.alpha.value = 1.0
    assert w.alpha.value == 1.0 and w.returns.shape == (3, 20)


def test_the_explorer_scores_with_the_tasks_gamma_not_the_learners():
    from metarl_edu.envs import GridWorld
    from metarl_edu.mdp import policy_evaluation, value_iteration

    w = q_learning_explorer(alpha=0.2, epsilon=0.1, gamma=0.5, n_episodes=100, n_seeds=2)
    grid = GridWorld.from_layout("small", slip=0.2, step_reward=-0.04)  # the task: gamma 0.9
    for pi, v in zip(w.runs.policies, w.runs.values, strict=True):
        np.testing.assert_allclose(v, policy_evaluation(grid.mdp, pi))
    assert w.v_star_start == pytest.approx(value_iteration(grid.mdp)[0][w.runs.start])
    vmax = w.vmax
    w.gamma.value = 0.0
    assert w.vmax == vmax  # one colour scale for every setting
    assert w.v_greedy_start.mean() < 0.0  # a learner that ignores the future does not find the goal


def test_q_learning_seeds_are_reproducible_and_differ_between_seeds():
    from metarl_edu.envs import GridWorld
    from metarl_edu.notebook.learning import q_learning_seeds

    grid = GridWorld.from_layout("small", slip=0.2, step_reward=-0.04)
    a, b = (q_learning_seeds(grid, 0.2, 0.1, 0.9, 30, n_seeds=3, seed=4) for _ in range(2))
    np.testing.assert_array_equal(a.returns, b.returns)
    assert not np.array_equal(a.returns[0], a.returns[1])


def test_cartpole_rollout_frames_and_bins_explorer():
    import gymnasium as gym

    from metarl_edu.notebook.cartpole import cartpole_bins_explorer, plot_frames, rollout_frames

    env = gym.make("CartPole-v1", render_mode="rgb_array")
    frames, steps, G = rollout_frames(env, lambda obs: 0, n_frames=4, seed=0)
    assert len(frames) == len(steps) == 4 and steps[0] == 0 and steps[-1] == int(G)  # always-left falls fast
    assert frames[0].shape == (400, 600, 3) and 5 < G < 30
    fig = plot_frames(frames, steps, title="t")
    assert fig._suptitle.get_text() == "t"
    plt.close(fig)
    with pytest.raises(ValueError, match="render_mode"):
        rollout_frames(gym.make("CartPole-v1"), lambda obs: 0)

    w = cartpole_bins_explorer(lambda: gym.make("CartPole-v1"), n_episodes=50, n_eval=2, n_seeds=2)
    assert w.n_states == 1 * 4 * 6 * 12 and w.returns.shape == (2, 50) and w.greedy.shape == (2,)
    assert not np.array_equal(w.returns[0], w.returns[1])  # two seeds, two runs
    assert w.greedy_mean == pytest.approx(w.greedy.mean())
    w.angle_bins.value = 1
    assert w.n_states == 1 * 4 * 1 * 12 and w.returns.shape == (2, 50)


def test_discount_explorer_draws_and_follows_gamma():
    from metarl_edu.notebook.discount import discount_explorer, discount_weights

    np.testing.assert_allclose(discount_weights(0.5, 4), [1.0, 0.5, 0.25, 0.125])
    w = discount_explorer(gamma=0.5, horizon=4)
    before = w.output.outputs[0]["data"]["image/png"]
    w.gamma.value = 0.9
    np.testing.assert_allclose(w.weights, 0.9 ** np.arange(4))
    assert w.output.outputs[0]["data"]["image/png"] != before
    with pytest.raises(ValueError, match="gamma must be in"):
        discount_explorer(gamma=1.5)
