"""Lesson 09's table, plots and replay widget, driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from metarl_edu.notebook.rl2 import (  # noqa: E402
    format_results,
    format_seeds,
    plot_results,
    plot_training_curve,
    rl2_replay,
    trial_inputs_table,
)
from metarl_edu.rl2 import RL2Agent, RL2Config  # noqa: E402
from metarl_edu.studies.bandit_baselines import BanditResult  # noqa: E402
from metarl_edu.studies.mdp_baselines import TrialResult  # noqa: E402
from metarl_edu.studies.rl2 import record_trial  # noqa: E402

BANDIT = RL2Config(task="bandit", n_episodes=12, k=3, hidden_size=8, n_tasks=4, n_iterations=2, seed=0)
MDP = RL2Config(task="mdp", n_episodes=2, n_states=4, n_actions=3, horizon=3, hidden_size=8, n_tasks=4, seed=0)


def bandit_result(name: str, totals: list[float]) -> BanditResult:
    return BanditResult(name, n_pulls=2, k=2, totals=np.array(totals), best_means=np.full(len(totals), 0.75),
                        seconds=0.0)


def test_results_table_sorts_best_first_with_intervals_and_regret():
    # totals (2, 0) and (1, 1): means 1 and 1; (2, 2): mean 2, std 0 -> CI [2, 2]; regret 2 * 0.75 - 2 = -0.5
    text = format_results({"a": bandit_result("a", [2.0, 0.0]), "b": bandit_result("b", [2.0, 2.0])}, "title")
    lines = text.splitlines()
    assert lines[0] == "title" and "regret" in lines[1]
    assert lines[2].split()[:2] == ["b", "2.00"] and "[2.00, 2.00]" in lines[2] and lines[2].endswith("-0.50")
    # a: mean 1, std sqrt(2), CI 1 -+ 1.96 * sqrt(2) / sqrt(2) = [-0.96, 2.96]
    assert lines[3].split()[:2] == ["a", "1.00"] and "[-0.96, 2.96]" in lines[3]
    mdp = format_results({"x": TrialResult("x", 3, np.array([1.0, 3.0]), 0.0)})
    assert "regret" not in mdp and "2.00" in mdp
    quoted = format_results({"x": TrialResult("x", 3, np.array([1.0, 3.0]), 0.0),
                             "y": TrialResult("y", 3, np.array([0.0, 0.0]), 0.0)}, paper={"x": 2.5}, paper_name="T2")
    lines = quoted.splitlines()
    assert lines[0].split()[-1] == "T2" and lines[1].endswith("2.5") and lines[2].split()[-1] == "-"


def test_results_plot_is_labelled_and_draws_the_intervals():
    ax = plot_results({"a": bandit_result("a", [2.0, 0.0]), "b": bandit_result("b", [2.0, 2.0])}, title="T")
    assert ax.get_title() == "T" and "reward" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]  # best at the top
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mean, 95% confidence interval"]
    plt.close("all")


def test_training_curve_plots_the_history_and_the_baselines():
    agent = RL2Agent(BANDIT)
    agent.train(progress=False)
    ax = plot_training_curve(agent, {"UCB1": 6.0, "random": 5.0})
    (curve, ucb, random) = ax.get_lines()
    np.testing.assert_allclose(curve.get_ydata(), [h["mean_total"] for h in agent.history])
    assert list(curve.get_xdata()) == [1, 2] and ucb.get_ydata()[0] == 6.0 and random.get_ydata()[0] == 5.0
    assert "iteration" in ax.get_xlabel() and "reward" in ax.get_ylabel() and ax.get_title()
    assert len(ax.get_legend().get_texts()) == 3
    plt.close("all")


def test_training_curve_averages_the_seeds_and_shows_their_spread():
    agents = [RL2Agent(BANDIT) for _ in range(2)]
    for agent, totals in zip(agents, ([1.0, 2.0, 3.0], [3.0, 4.0]), strict=True):
        agent.history = [{"mean_total": t} for t in totals]
    ax = plot_training_curve(agents)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [2.0, 3.0])  # mean over the common iterations
    assert len(ax.collections) == 1 and "2 seeds" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="training history"):
        plot_training_curve([RL2Agent(BANDIT)])
    plt.close("all")


def test_replay_shows_the_recorded_trial_and_follows_its_sliders():
    agent = RL2Agent(BANDIT)
    w = rl2_replay(agent, task=4, step=5)
    assert len(w.output.outputs) == 1 and "image/png" in w.output.outputs[0]["data"]
    rec = record_trial(agent, rng=4)  # the same seed replays the same trial
    np.testing.assert_array_equal(w.record.actions, rec.actions)
    np.testing.assert_array_equal(w.arm_means, rec.task.p[0])
    # step 5 shows pulls 1..5 and the policy that drew pull 5
    assert w.t == 5 and w.counts.sum() == 5
    np.testing.assert_array_equal(w.counts, np.bincount(rec.actions[:5], minlength=3))
    assert w.total == pytest.approx(rec.rewards[:5].sum())
    np.testing.assert_allclose(w.probs, rec.probs[4])
    png = w.output.outputs[0]["data"]["image/png"]
    w.step.value = 12
    assert w.counts.sum() == 12 and w.output.outputs[0]["data"]["image/png"] != png
    w.task.value = 5
    other = record_trial(agent, rng=5)
    np.testing.assert_array_equal(w.arm_means, other.task.p[0])
    assert w.total == pytest.approx(other.rewards.sum())  # still at step 12 of 12
    assert rl2_replay(agent).t == 12  # by default the whole trial
    with pytest.raises(ValueError, match="step in"):
        rl2_replay(agent, step=13)


def test_replay_of_an_mdp_trial_has_no_arm_means_and_shows_the_states():
    w = rl2_replay(RL2Agent(MDP), task=0)
    assert w.arm_means is None and w.t == 6 and w.probs.shape == (3,)
    assert "image/png" in w.output.outputs[0]["data"]
    w.step.value = 5  # step 5 is in episode 2 (steps 4-6): its states are labelled, episode 1's are not
    assert w.state == w.record.states[4]
    left, right = w._figure().axes[:2]
    assert left.get_title().endswith(f"episode 2, states so far: {w.record.states[3]} > {w.record.states[4]}")
    assert right.get_title().endswith(f"in state {w.state}")


def test_trial_inputs_table_splits_each_row_into_its_parts():
    # a bandit (o = 1) with A = 2: step 0 has no previous action; step 1 follows arm 1 paying 1, which ended an episode
    text = trial_inputs_table(np.array([[1.0, 0, 0, 0, 0], [1.0, 0, 1, 1.0, 1]]), n_obs=1, n_actions=2)
    header, first, second = text.splitlines()
    assert "o_t" in header and "r_t-1" in header and "d_t-1" in header
    assert first.split() == ["0", "1", "0", "0", "0.00", "0"]
    assert second.split() == ["1", "1", "0", "1", "1.00", "1"]


def test_format_seeds_gives_every_seed_with_mean_and_spread():
    assert format_seeds([141.98, 145.46, 138.85]) == ("RL^2 by training seed: [141.98, 145.46, 138.85]; mean 142.10, "
                                                       "sd across seeds 3.31")
    assert format_seeds([6.5], digits=3).endswith("mean 6.500, sd across seeds - (one seed)")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        format_seeds([])
