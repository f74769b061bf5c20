"""Lesson 10's library: the exercise references, the case studies, the cost table and the case-study widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from metarl_edu.bandits import BanditState  # noqa: E402
from metarl_edu.classroom.references import percentile_interval, shuffle_split  # noqa: E402
from metarl_edu.envs.cartpole import CartPoleTask  # noqa: E402
from metarl_edu.envs.tasks import GridTask  # noqa: E402
from metarl_edu.studies.applications import (  # noqa: E402
    CaseStudy,
    DosingPopulation,
    PriorThompsonSampling,
    cartpole_case_study,
    dosing_case_study,
    fit_beta_prior,
    maze_case_study,
    maze_family,
    seed_spread,
)
from metarl_edu.studies.costs import Cost, cost_table, format_cost_table, measure_cost  # noqa: E402
from metarl_edu.studies.evaluation import bootstrap_ci  # noqa: E402


# --------------------------------------------------------------------------------------------- exercise references
def test_percentile_interval_by_hand_and_against_the_library():
    # [0, 1]: resample means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 -> the 95 % interval is (0, 1) and
    # the 40 % interval (quantiles 0.3 and 0.7) is (0.5, 0.5).
    assert percentile_interval([0.0, 1.0], 4000, np.random.default_rng(0), 0.95) == (0.0, 1.0)
    assert percentile_interval([0.0, 1.0], 4000, np.random.default_rng(0), 0.4) == (0.5, 0.5)
    # the same index draws as bootstrap_ci with the same generator, so the same interval
    values = np.random.default_rng(1).normal(size=25)
    ci = bootstrap_ci(values, rng=np.random.default_rng(7), n_boot=3000)
    np.testing.assert_allclose(percentile_interval(values, 3000, np.random.default_rng(7)), (ci.low, ci.high))


def test_shuffle_split_is_a_seeded_partition():
    tasks = list(range(10))
    train, test = shuffle_split(tasks, 3, np.random.default_rng(0))
    assert len(test) == 3 and sorted(train + test) == tasks
    assert (train, test) == shuffle_split(tasks, 3, np.random.default_rng(0))


# --------------------------------------------------------------------------------------------- empirical Bayes
def test_fit_beta_prior_recovers_a_known_population():
    # Beta(2, 6): mean 0.25, kappa 8. With 20,000 patients the moment estimates are within a few percent.
    rng = np.random.default_rng(0)
    p = rng.beta(2.0, 6.0, size=(20_000, 1))
    alpha, beta = fit_beta_prior(rng.binomial(5, p), 5)
    assert alpha[0] / (alpha[0] + beta[0]) == pytest.approx(0.25, abs=0.01)
    assert alpha[0] + beta[0] == pytest.approx(8.0, rel=0.15)


def test_fit_beta_prior_alike_patients_hit_the_upper_kappa():
    # every patient has p = 0.5 exactly: the spread of phat is binomial noise only, so Var(p) <= 0 (up to noise)
    rng = np.random.default_rng(1)
    alpha, beta = fit_beta_prior(rng.binomial(20, np.full((5000, 1), 0.5)), 20, kappa_range=(0.5, 50.0))
    assert alpha[0] + beta[0] > 25
    with pytest.raises(ValueError, match="n_patients >= 2"):
        fit_beta_prior(np.ones((1, 3)), 4)


def test_prior_thompson_reads_its_own_prior_per_arm():
    # With a prior Beta(1000, 1) on arm 1 and Beta(1, 1000) on arm 0 and no data, arm 1 is pulled every time.
    state = BanditState.empty(500, 2)
    a = PriorThompsonSampling((1.0, 1000.0), (1000.0, 1.0)).select(state, np.random.default_rng(0))
    assert np.all(a == 1)


# --------------------------------------------------------------------------------------------- case studies
def test_dosing_case_study_learned_prior_has_less_regret():
    population = DosingPopulation()
    patients = population.sample(100, np.random.default_rng(0))
    study = dosing_case_study(population, patients[:60], patients[60:], n_treatments=20, n_seeds=2)
    learned, flat = study.scores.values()
    assert learned.shape == (40, 2, 21) and not study.higher_is_better
    assert np.all(learned[:, :, 0] == 0) and np.all(learned[:, :, 1] >= 0)  # no regret before the first treatment
    assert np.all(np.diff(learned, axis=2) >= -1e-12)  # cumulative regret never decreases
    assert flat[:, :, -1].mean() > learned[:, :, -1].mean() + 0.5


def test_maze_case_study_picks_a_better_setting_than_the_defaults():
    family = maze_family()
    tasks = [GridTask(goal, 0.0) for goal in family.goal_cells]
    train, test = shuffle_split(tasks, 5, np.random.default_rng(0))
    study = maze_case_study(family, train[:6], test, n_episodes=20, n_seeds=2, alphas=(0.1, 0.9),
                            epsilons=(0.05,))
    assert study.info["alpha"] == 0.9 and study.info["grid_scores"].shape == (2, 1)
    assert study.info["goal_scores"].shape == (6, 2, 1) and len(study.info["one_goal"]) == 6
    learned, one_goal, default = study.scores.values()
    assert learned.shape == (5, 2, 4) and learned.mean() > default.mean()
    # The tuned baseline is the mean, over the training goals, of the test scores of the setting each one picks
    # alone; every setting runs on the test tasks with the same seeds.
    settings = study.info["setting_scores"]
    assert np.allclose(one_goal, np.mean([settings[pair] for pair in study.info["one_goal"]], axis=0))
    assert np.array_equal(learned, settings[0.9, 0.05])
    assert list(study.scores)[1] == "tuned on 1 goal (mean over the 6 goals as that goal)"
    with pytest.raises(ValueError, match="at least one training task"):
        maze_case_study(family, [], test, n_episodes=5, n_seeds=1)


def test_the_tuned_baseline_lets_each_goal_search_alone():
    # A goal next to the start is reached in a step or two whatever the setting, so a small step scores as well
    # there; a goal far away needs the large step. Each picks from its own grid, the meta-learner from the mean.
    family = maze_family()
    near, far = GridTask((1, 2), 0.0), GridTask((5, 7), 0.0)
    test = [GridTask((3, 3), 0.0)]
    study = maze_case_study(family, [near, far], test, n_episodes=10, n_seeds=2, alphas=(0.1, 0.5, 0.9),
                            epsilons=(0.01, 0.3))
    goal_scores = study.info["goal_scores"]
    for scores, pick in zip(goal_scores, study.info["one_goal"], strict=True):
        i, j = np.unravel_index(np.argmax(scores), scores.shape)
        assert pick == ((0.1, 0.5, 0.9)[i], (0.01, 0.3)[j])
    assert study.info["one_goal"] == [(0.1, 0.01), (0.9, 0.01)]
    assert (study.info["alpha"], study.info["epsilon"]) == (0.9, 0.01)
    assert np.allclose(study.info["grid_scores"], goal_scores.mean(axis=0))
    learned, one_goal, _ = study.scores.values()
    slow = study.info["setting_scores"][0.1, 0.01]
    assert np.allclose(one_goal, (learned + slow) / 2) and learned.mean() > slow.mean()


def test_cartpole_case_study_warm_start_helps_quickly():
    tasks = [CartPoleTask(length=x) for x in (0.6, 0.4, 0.5)]
    study = cartpole_case_study(tasks[:2], tasks[2:], n_meta_episodes=300, n_episodes=20, n_seeds=2, block=10)
    assert list(study.scores) == ["meta-learned initial table", "one pole (0.60 m), same episodes", "zero table"]
    warm, one_pole, cold = study.scores.values()
    assert warm.shape == one_pole.shape == (1, 2, 2) and study.info["meta_env_steps"] > 600
    assert study.info["one_pole"] == tasks[0] and study.info["one_pole_env_steps"] > 600  # the longer of two
    assert warm.mean() > cold.mean() and one_pole.mean() > cold.mean()
    with pytest.raises(ValueError, match="at least one training task"):
        cartpole_case_study([], tasks, n_meta_episodes=1, n_episodes=1, n_seeds=1)


def test_seed_spread_differs_only_by_seed():
    family = maze_family()
    v = seed_spread(family, GridTask((1, 7), 0.2), n_seeds=12, n_episodes=20, alpha=0.5)
    assert v.shape == (12,) and v.max() > v.min()
    np.testing.assert_array_equal(v, seed_spread(family, GridTask((1, 7), 0.2), 12, 20, alpha=0.5))


def test_case_study_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        CaseStudy("x", {"a": np.zeros((2, 2, 3)), "b": np.zeros((2, 3, 3))}, "step", "score")


# --------------------------------------------------------------------------------------------- costs
def test_measure_cost_times_and_counts():
    cost = measure_cost(lambda: ("done", 7))
    assert isinstance(cost, Cost) and cost.env_steps == 7 and cost.result == "done" and cost.seconds >= 0
    seconds, steps, result = cost  # unpacks as (seconds, env_steps, result)
    with pytest.raises(TypeError, match="must return"):
        measure_cost(lambda: 3)
    with pytest.raises(ValueError, match="env_steps must be an integer >= 0"):
        measure_cost(lambda: (None, -1))


def test_cost_table_and_format():
    def q_row():
        from metarl_edu.agents import QLearningAgent
        from metarl_edu.envs.tasks import GridWorldFamily

        agent = QLearningAgent(GridWorldFamily().make_env(GridTask((5, 5), 0.0)), seed=0, progress=False)
        agent.train(5)
        return agent, agent.n_transitions

    costs = cost_table({"q": q_row, "nothing": lambda: (None, 0)})
    assert list(costs) == ["q", "nothing"] and costs["q"].env_steps > 5
    text = format_cost_table(costs)
    assert "wall time (s)" in text and "steps / s" in text and text.count("\n") == 2


def test_course_methods_rows_run(monkeypatch):
    from metarl_edu.studies.costs import course_methods

    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    rows = course_methods(torch_methods=False)
    assert "UCB1, 1000 bandits (09)" in rows and not any("MAML" in name for name in rows)
    cost = measure_cost(rows["UCB1, 1000 bandits (09)"])
    assert cost.env_steps == 50 * 1000 and cost.result.n_bandits == 1000  # quick mode: 50 pulls x 1000 bandits


def test_maml_cost_row_counts_data_points(monkeypatch):
    from metarl_edu.studies.costs import maml_sinusoid_cost

    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    cost = measure_cost(maml_sinusoid_cost())
    # quick mode: 5 meta-steps x meta-batch 25 tasks x (10 support + 10 query points)
    assert cost.env_steps == 5 * 25 * 20 and len(cost.result) == 5


def test_maml_rl_cost_row_counts_every_sampled_step(monkeypatch):
    from metarl_edu.studies.costs import course_methods, maml_rl_cost

    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    cost = measure_cost(maml_rl_cost())
    # quick mode: 1 meta-iteration; 3 batches (two inner steps, then D') of 20 tasks x 20 trajectories, each
    # trajectory 1 to 100 steps (it ends early only at the goal)
    assert len(cost.result) == 1 and 3 * 400 <= cost.env_steps <= 3 * 400 * 100
    assert "MAML-RL, 2D navigation (08)" in course_methods(torch_methods=True)


def test_rl2_cost_row_counts_pulls(monkeypatch):
    from metarl_edu.studies.costs import rl2_bandit_cost

    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    cost = measure_cost(rl2_bandit_cost())
    # quick mode: 2 iterations x 128 trials x 10 pulls (the quick preset for n = 10)
    assert cost.env_steps == 2 * 128 * 10 and len(cost.result) == 2


# --------------------------------------------------------------------------------------------- widget
def test_case_study_explorer_follows_its_controls():
    from metarl_edu.notebook.evaluation import case_study_explorer, plot_seed_spread

    rng = np.random.default_rng(0)
    a = CaseStudy("A", {"m1": rng.normal(1.0, 1.0, (6, 4, 3)), "m2": rng.normal(0.0, 1.0, (6, 4, 3))}, "s", "y")
    b = CaseStudy("B", {"m1": np.ones((5, 2, 4)), "m2": np.zeros((5, 2, 4))}, "s", "y")
    w = case_study_explorer({"a": a, "b": b}, n_seeds=1)
    assert "image/png" in w.output.outputs[0]["data"] and set(w.curves) == {"m1", "m2"}
    width_one = w.curves["m1"].high - w.curves["m1"].low
    before = w.output.outputs[0]["data"]["image/png"]
    w.seeds.value = 4
    assert np.all(w.curves["m1"].high - w.curves["m1"].low < width_one)  # more seeds per task: narrower here
    assert w.output.outputs[0]["data"]["image/png"] != before
    w.study.value = "b"
    assert w.seeds.max == 2 and w.seeds.value == 2
    assert [ci.estimate for ci in w.differences.values()] == pytest.approx([1.0, 1.0])
    assert "how much better <b>m1</b> does than <b>m2</b>, paired" in w.summary.value
    default = case_study_explorer()
    assert default.seeds.value == default.seeds.max > 1  # starts with every seed, so the slider can move left
    # a cost: the learned prior's regret is lower, so the gain of the first method (learned) is positive
    assert all(ci.estimate > 0 for ci in default.differences.values()) and "a cost" in default.summary.value
    learned, flat = (s[:, :, -1].mean() for s in default.studies["healthcare (toy)"].scores.values())
    assert default.differences["after the last step"].estimate == pytest.approx(flat - learned)
    ax = plot_seed_spread({"x": np.arange(5.0)}, title="t")
    assert ax.get_title() == "t"
