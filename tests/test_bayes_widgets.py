"""Lesson 11's widget, policy tree and signpost players, driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from metarl_edu.bayes import bayes_optimal_bandit, information_value, solve_signpost  # noqa: E402
from metarl_edu.envs.signpost import SignpostWorld  # noqa: E402
from metarl_edu.notebook.bayes import bayes_bandit_explorer, format_table, policy_tree  # noqa: E402
from metarl_edu.studies.meta_exploration import rollout, signpost_policy, signpost_table  # noqa: E402


def png(widget) -> str:
    return widget.output.outputs[0]["data"]["image/png"]


def test_the_explorer_resolves_when_the_sliders_move():
    w = bayes_bandit_explorer(horizon=6)
    first, tree = png(w), w.tree.value
    assert w.solution.horizon == 6 and "start" in tree and f"{w.solution.value:.4f}" in tree
    w.horizon.value = 12
    assert w.solution.horizon == 12 and png(w) != first and w.tree.value != tree
    w.b.value = 3.0
    assert w.solution.prior == (1.0, 3.0)
    before = png(w)
    w.s2.value, w.f2.value = 8, 8  # arm 2 pulled more often than the trial allows: a message, no error
    assert png(w) != before
    with pytest.raises(ValueError, match="horizon"):
        bayes_bandit_explorer(horizon=31)
    with pytest.raises(ValueError, match="prior"):
        bayes_bandit_explorer(prior=(0.1, 1.0))


def test_policy_tree_follows_the_table():
    text = policy_tree(bayes_optimal_bandit(3), depth=2)
    assert "start" in text and "pull arm either" in text
    assert "1+" in text and "1-" in text
    assert text.count("\n") == 3  # title, start, and the two beliefs after one pull


def test_signpost_world_distances_and_errors():
    world = SignpostWorld.from_layout("comb")
    assert world.n_goals == 5 and world.distance[world.start, world.sign] == 2
    assert sorted(int(world.distance[world.start, g]) for g in world.goals) == [3, 5, 5, 7, 7]
    assert world.without_sign().sign is None
    with pytest.raises(ValueError, match="unknown character"):
        SignpostWorld.from_layout("#S.GX#")
    with pytest.raises(ValueError, match="at least two"):
        SignpostWorld.from_layout("#S.G#")


def test_signpost_values_worked_by_hand():
    world = SignpostWorld.from_layout("comb")
    # one episode of 7 steps: the nearest goal is 3 steps away and any other candidate 6 more, so one candidate can
    # be checked: 1/5, with or without the sign (from the sign, 5 steps reach only the middle goal)
    table = signpost_table(world, 1, 7)
    assert table["Bayes-optimal"] == pytest.approx(0.2) and table["greedy"] == pytest.approx(0.2)
    assert table["oracle (told the goal)"] == pytest.approx(1.0)
    # two episodes: read the sign (2 steps), reach the middle goal from it (5 steps) if it is the goal, then score
    # in episode 2 for sure: 1/5 + 1
    assert signpost_table(world, 2, 7)["Bayes-optimal"] == pytest.approx(1.2)
    assert signpost_table(world, 2, 7)["sign first"] == pytest.approx(1.2)


def test_the_exact_value_is_the_mean_of_its_rollouts_and_beats_every_player():
    world = SignpostWorld.from_layout("corners")
    for E, H in ((1, 9), (2, 12), (3, 6)):
        solution = solve_signpost(world, E, H)
        totals = []
        for g in range(world.n_goals):
            paths = rollout(solution, g)
            totals.append(sum(path[-1] == world.goals[g] for path in paths))
        assert solution.value == pytest.approx(np.mean(totals))
        table = signpost_table(world, E, H)
        assert all(table["Bayes-optimal"] >= v - 1e-12 for k, v in table.items() if not k.startswith("oracle"))
        assert table["oracle (told the goal)"] >= table["Bayes-optimal"] - 1e-12


def test_policies_and_information_value():
    world = SignpostWorld.from_layout("comb")
    for kind in ("greedy", "sign first", "random"):
        policy = signpost_policy(world, kind)
        assert np.allclose(policy[:, 1:].sum(-1), 1.0)
    with pytest.raises(ValueError, match="kind"):
        signpost_policy(world, "clever")
    with pytest.raises(ValueError, match="no sign"):
        signpost_policy(world.without_sign(), "sign first")
    with pytest.raises(ValueError, match="policy must hold"):
        solve_signpost(world, 1, 3, policy=np.ones((2, 2, 2)))
    assert information_value(np.array([0.25, 0.75]), np.array([2.0, 4.0]), 3.0) == pytest.approx(0.5)
    assert "E = 1" in format_table({"a": {"E = 1": 0.5}})
