"""Lesson 06's training loop, plot and widget, driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import gymnasium as gym  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from metarl_edu.fast.envs import BatchedNavigation2D
from metarl_edu.nets import CategoricalMLPPolicy, GaussianMLPPolicy
from metarl_edu.notebook.pg import (  # noqa: E402
    CARTPOLE_RETURNS,
    plot_reinforce_curves,
    reinforce_explorer,
    reinforce_figure,
    reinforce_seeds,
)
from metarl_edu.pg import sample_batched_episodes, train_reinforce
from metarl_edu.studies.policy_gradients import mean_shift, policy_gradient_samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_reinforce_curves_are_plotted_against_episodes():
    ax = plot_reinforce_curves({"a": (np.array([1.0, 2.0, 3.0]), 10), "b": (np.array([1.0]), 5)}, title="T")
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [10, 20, 30])  # batch size x updates
    assert ax.get_title() == "T" and ax.get_xlabel() == "episodes played" and ax.get_legend() is not None
    plt.close("all")


def test_train_reinforce_walks_towards_one_goal():
    env = BatchedNavigation2D(goals=[[0.3, -0.4]], n_traj=10)
    policy = GaussianMLPPolicy(2, 2, hidden_sizes=(16,), init_std=0.1, seed=0)
    before = sample_batched_episodes(env, policy, generator=torch.Generator().manual_seed(1)).total_rewards().mean()
    returns = train_reinforce(env, policy, 15, batch_size=None, lr=0.02, progress=False)
    after = sample_batched_episodes(env, policy, generator=torch.Generator().manual_seed(1)).total_rewards().mean()
    assert returns.shape == (15,) and after > before + 5.0  # a return is minus the summed distance, about -40 at first
    with pytest.raises(ValueError, match="rows are the batch"):
        train_reinforce(env, policy, 1, batch_size=10, progress=False)
    with pytest.raises(ValueError, match="lr must be positive"):
        train_reinforce(env, policy, 1, batch_size=None, lr=0.0, progress=False)


def test_gae_with_lambda_one_is_reinforce_with_the_baseline_and_smaller_lambdas_learn():
    def run(**kwargs):
        env = BatchedNavigation2D(goals=[[0.3, -0.4]], n_traj=10)
        policy = GaussianMLPPolicy(2, 2, hidden_sizes=(16,), init_std=0.1, seed=0)
        return train_reinforce(env, policy, 12, batch_size=None, lr=0.02, progress=False, **kwargs), policy

    baseline_curve, baseline_policy = run()
    gae_curve, gae_policy = run(lam=1.0)
    np.testing.assert_allclose(gae_curve, baseline_curve, atol=1e-4)  # the deltas telescope to G - V
    for lam in (0.95, 0.0):
        curve, _ = run(lam=lam)
        assert curve[-3:].mean() > curve[:2].mean() + 5.0  # a learning test: the returns go up
        assert not np.allclose(curve, baseline_curve)
    with pytest.raises(ValueError, match="lam must be in"):
        run(lam=1.5)


def test_the_reference_answers_of_lesson_06_learn_on_a_fixed_seed():
    from metarl_edu.classroom.references import gae_reference, reinforce_reference

    policy = CategoricalMLPPolicy(4, 2, hidden_sizes=(32,), seed=0)
    curve = reinforce_reference(gym.make("CartPole-v1"), policy, 6, batch_size=10, lr=0.02, seed=0)
    assert curve.shape == (6,) and curve[-3:].mean() > 1.3 * curve[:2].mean()
    env = BatchedNavigation2D(goals=[[0.3, -0.4]], n_traj=10)
    nav_policy = GaussianMLPPolicy(2, 2, hidden_sizes=(16,), init_std=0.1, seed=0)
    nav = train_reinforce(env, nav_policy, 12, batch_size=None, lr=0.02, lam=0.95, gae_fn=gae_reference,
                          progress=False)
    assert nav[-3:].mean() > nav[:2].mean() + 5.0


def test_the_baseline_reduces_gradient_variance_on_cartpole():
    policy = CategoricalMLPPolicy(4, 2, hidden_sizes=(8,), seed=0)
    samples = policy_gradient_samples(gym.make("CartPole-v1"), policy, 6, batch_size=5, seed=0)
    n_params = sum(p.numel() for p in policy.parameters())
    assert list(samples) == ["no baseline", "baseline", "baseline, penalised", "baseline from another batch"]
    assert all(g.shape == (6, n_params) for g in samples.values())
    assert samples["baseline"].var(0).sum() < samples["no baseline"].var(0).sum()
    assert samples["baseline from another batch"].var(0).sum() < samples["no baseline"].var(0).sum()
    assert not torch.allclose(samples["baseline from another batch"], samples["baseline"])  # another fit
    assert not torch.allclose(samples["baseline, penalised"], samples["baseline"])  # another penalty
    assert samples["baseline, penalised"].var(0).sum() < samples["no baseline"].var(0).sum()


def test_mean_shift_measures_a_shrunk_gradient_and_not_noise():
    g = torch.Generator().manual_seed(0)
    direction = torch.tensor([3.0, 4.0, 0.0])
    reference = direction + torch.randn(400, 3, generator=g)
    noisy = reference + torch.randn(400, 3, generator=g)  # unbiased: the same mean
    shift = mean_shift({"no baseline": reference, "shrunk": 0.8 * reference, "noisy": noisy})
    assert set(shift) == {"shrunk", "noisy"}
    assert shift["shrunk"][0] == pytest.approx(-0.2, abs=1e-6) and shift["shrunk"][1] < 0.01
    assert abs(shift["noisy"][0]) < 3 * shift["noisy"][1] < 0.05
    with pytest.raises(ValueError, match="at least 2 batches"):
        mean_shift({"no baseline": reference[:1], "x": reference[:1]})


def test_reinforce_seeds_are_independent_seeded_runs():
    make_env = lambda: gym.make("CartPole-v1")  # noqa: E731
    runs = reinforce_seeds(make_env, 0.02, 5, 15, (8,), seeds=[0, 1])
    assert runs.shape == (2, 3) and not np.allclose(runs[0], runs[1])
    np.testing.assert_allclose(runs[1], reinforce_seeds(make_env, 0.02, 5, 15, (8,), seeds=[1])[0])  # seeded


def test_the_explorers_plot_averages_the_seeds_and_keeps_its_axes():
    runs = {5: np.array([[10.0, 20.0, 30.0, 40.0], [20.0, 40.0, 50.0, 60.0]]), 10: np.array([[300.0, 9.0]] * 2)}
    axes = {b: reinforce_figure(r, 0.02, b, 20, "CartPole-v1", CARTPOLE_RETURNS).axes[0] for b, r in runs.items()}
    (line,) = axes[5].get_lines()
    np.testing.assert_allclose(line.get_ydata(), [15, 30, 40, 50])  # the mean over seeds
    np.testing.assert_array_equal(line.get_xdata(), [5, 10, 15, 20])
    assert len(axes[5].collections) == 1  # the band of one standard error
    assert "2 seeds" in axes[5].get_legend().get_texts()[0].get_text() and axes[5].get_ylabel()
    assert axes[5].get_ylim() == axes[10].get_ylim() == CARTPOLE_RETURNS  # the scale never follows the data
    assert axes[5].get_xlim() == axes[10].get_xlim() == (0, 20)


def test_reinforce_explorer_draws_and_follows_its_sliders():
    w = reinforce_explorer(lr=0.02, batch_size=5, n_episodes=20, n_seeds=2)
    assert len(w.output.outputs) == 1 and "image/png" in w.output.outputs[0]["data"]
    assert w.n_updates == 4 and w.runs.shape == (2, 4) and np.all(w.runs >= 8)  # CartPole: >= 8 steps
    np.testing.assert_allclose(w.mean_returns, w.runs.mean(axis=0))
    png = w.output.outputs[0]["data"]["image/png"]
    w.batch_size.value = 10
    assert w.n_updates == 2 and w.runs.shape == (2, 2) and w.output.outputs[0]["data"]["image/png"] != png
    w.lr.value = 0.001
    assert w.runs.shape == (2, 2)
    with pytest.raises(ValueError, match="batch_size in"):
        reinforce_explorer(batch_size=0)
    with pytest.raises(ValueError, match="n_seeds >= 1"):
        reinforce_explorer(n_seeds=0)
