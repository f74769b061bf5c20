"""Tests of metarl_edu.studies.hyperparams and metarl_edu.studies.meta_gradient: settings and schedules by hand,
exact scores against the library's dynamic programming, sweeps against a plain per-run loop, models on hand-made
sweeps, leak-proof held-out evaluation, the oracle's independence, determinism, and meta-gradients against finite
differences."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from metarl_edu.agents import QLearningAgent, schedule_values
from metarl_edu.classroom.references import held_out_scores, held_out_split, ridge_fit
from metarl_edu.envs import GridTask, GridWorldFamily, RandomMDPFamily
from metarl_edu.mdp import TabularMDP, finite_horizon_value, policy_evaluation, uniform_policy, value_iteration
from metarl_edu.studies.evaluation import TaskLeakError, TaskSplit
from metarl_edu.studies.hyperparams import (
    BestConstant,
    FixedSetting,
    HyperparameterModel,
    MLPScores,
    NearestNeighbours,
    RidgePerHyperparameter,
    Setting,
    SweepResult,
    compare_on_held_out,
    default_setting,
    policy_returns,
    random_settings,
    score_curves,
    score_runs,
    setting_grid,
    sweep,
    task_objective,
)
from metarl_edu.studies.two_goals import TwoGoalsFamily, TwoGoalsTask
from metarl_edu.td import action_from_uniforms


class Constant:
    """A uniform source that always returns the same number: every run then depends only on its own task and
    setting, never on the other runs of its batch, so that batched and one-at-a-time runs can be compared."""

    def __init__(self, c: float) -> None:
        self.c = c

    def random(self, size):
        return np.full(size, self.c)


def stacked(mdp: TabularMDP):
    R = mdp.R if mdp.R.ndim == 3 else np.repeat(mdp.R[:, :, None], mdp.n_states, axis=2)
    return mdp.P[None], R[None], mdp.terminal[None], mdp.start[None], np.array([mdp.gamma])


def test_sweeps_import_without_torch():
    # torch is imported only inside MLPScores and by metarl_edu.studies.meta_gradient, so lesson 04 never loads it
    code = ("import sys, json, metarl_edu.studies.hyperparams; "
            "print(json.dumps([m for m in sys.modules if m.split('.')[0] == 'torch']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# ============================================================================================ settings
def test_linear_schedule_of_a_setting_by_hand():
    # LinearSchedule(1.0, 0.01) over 4 episodes decays during the first ceil(0.5 * 4) = 2:
    # episode 0: 1.0, episode 1: 1 - 0.99 / 2 = 0.505, episodes 2 and 3: 0.01.
    np.testing.assert_allclose(Setting(0.1, 0.01, 0.9, "linear").epsilons(4), [1.0, 0.505, 0.01, 0.01])
    np.testing.assert_allclose(Setting(0.1, 0.2, 0.9).epsilons(3), [0.2, 0.2, 0.2])


def test_defaults_are_the_agents():
    # QLearningAgent(env) documents alpha 0.1, gamma 0.99 and epsilon LinearSchedule(1.0, 0.01).
    assert default_setting() == Setting(0.1, 0.01, 0.99, "linear")
    agent = QLearningAgent(GridWorldFamily().make_env(GridTask((1, 3), 0.0)), progress=False)
    assert (agent.alpha, agent.gamma) == (0.1, 0.99)
    np.testing.assert_allclose(schedule_values("epsilon", agent.epsilon, 50, 0.0, 1.0),
                               default_setting().epsilons(50))


def test_setting_validation_names_the_problem():
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\]"):
        Setting(0.0, 0.1, 0.9)
    with pytest.raises(ValueError, match="gamma must be in"):
        Setting(0.1, 0.1, 1.5)
    with pytest.raises(ValueError, match="schedule must be one of"):
        Setting(0.1, 0.1, 0.9, "cosine")
    with pytest.raises(TypeError, match="epsilon must be a number"):
        Setting(0.1, "0.1", 0.9)


def test_grid_and_random_settings():
    grid = setting_grid([0.1, 1.0], [0.1], [0.5, 0.9], ["constant"])
    assert grid == (Setting(0.1, 0.1, 0.5), Setting(0.1, 0.1, 0.9), Setting(1.0, 0.1, 0.5), Setting(1.0, 0.1, 0.9))
    # A linear schedule ending at epsilon 1 is the constant epsilon 1: with both schedules it is swept once.
    both = setting_grid([0.5], [0.3, 1.0], [0.9], ["constant", "linear"])
    assert both == (Setting(0.5, 0.3, 0.9), Setting(0.5, 0.3, 0.9, "linear"), Setting(0.5, 1.0, 0.9))
    assert np.array_equal(Setting(0.5, 1.0, 0.9, "linear").epsilons(10), Setting(0.5, 1.0, 0.9).epsilons(10))
    assert setting_grid([0.5], [1.0], [0.9], ["linear"]) == (Setting(0.5, 1.0, 0.9, "linear"),)
    settings = random_settings(200, np.random.default_rng(0), alpha=(0.01, 0.5), gamma=(0.5, 0.99))
    assert settings == random_settings(200, np.random.default_rng(0), alpha=(0.01, 0.5), gamma=(0.5, 0.99))
    alphas = np.array([s.alpha for s in settings])
    gammas = np.array([s.gamma for s in settings])
    assert alphas.min() >= 0.01 and alphas.max() <= 0.5 and gammas.min() >= 0.5 and gammas.max() <= 0.99
    # log-uniform: about half the alphas lie below the geometric midpoint sqrt(0.01 * 0.5) = 0.0707
    assert 0.4 < np.mean(alphas < np.sqrt(0.01 * 0.5)) < 0.6
    assert {s.schedule for s in settings} == {"constant", "linear"}


# ============================================================================================ exact scores
def test_policy_returns_match_policy_evaluation():
    family = GridWorldFamily()
    mdp = family.to_mdp(GridTask((5, 5), 0.2))
    rng = np.random.default_rng(0)
    for _ in range(3):
        pi = rng.dirichlet(np.ones(4), size=mdp.n_states)
        J = policy_returns(*stacked(mdp), pi[None])[0]
        assert J == pytest.approx(mdp.start @ policy_evaluation(mdp, pi), abs=1e-10)


def test_finite_horizon_return_by_hand_and_by_forward_simulation():
    # Two states; action 0 pays 1 and stays, action 1 pays 0 and moves to a terminal state paying 5 on entry.
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    R = np.zeros((2, 2, 2))
    R[0, 0, 0], R[0, 1, 1] = 1.0, 5.0
    mdp = TabularMDP(P=P, R=R, gamma=1.0, terminal=[False, True], start=[1.0, 0.0])
    stay, leave = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    assert policy_returns(*stacked(mdp), stay[None], horizon=3)[0] == pytest.approx(3.0)  # 1 + 1 + 1
    assert policy_returns(*stacked(mdp), leave[None], horizon=3)[0] == pytest.approx(5.0)  # 5, then over
    # A random MDP and policy: the backward recursion equals the forward sum of E[r_t] over the state distribution.
    task = RandomMDPFamily(n_states=4, n_actions=3).sample(1, np.random.default_rng(1))[0]
    mdp = RandomMDPFamily(n_states=4, n_actions=3).to_mdp(task)
    pi = np.random.default_rng(2).dirichlet(np.ones(3), size=4)
    d, expected = mdp.start.copy(), 0.0
    for _ in range(7):
        expected += d @ (pi * mdp.r_sa).sum(axis=1)
        d = d @ np.einsum("sa,sat->st", pi, mdp.P)
    assert policy_returns(*stacked(mdp), pi[None], horizon=7)[0] == pytest.approx(expected)


def test_task_objective_scales_random_to_zero_and_optimal_to_one():
    family = GridWorldFamily()
    objective = task_objective(family, GridTask((4, 2), 0.1))
    mdp = family.to_mdp(GridTask((4, 2), 0.1))
    assert objective.j_optimal == pytest.approx(mdp.start @ value_iteration(mdp)[0])
    assert objective.j_uniform == pytest.approx(mdp.start @ policy_evaluation(mdp, uniform_policy(mdp)))
    assert objective.normalise(objective.j_optimal) == pytest.approx(1.0)
    assert objective.normalise(objective.j_uniform) == pytest.approx(0.0)
    two = TwoGoalsFamily()
    task = TwoGoalsTask(horizon=6, near_reward=0.4, slip=0.0)
    objective = task_objective(two, task)
    # 6 steps cannot reach the far goal (8 moves): the best is the near goal, 0.4.
    assert objective.horizon == objective.max_steps == 6 and objective.j_optimal == pytest.approx(0.4)
    assert objective.j_optimal == pytest.approx(two.to_mdp(task).start @ finite_horizon_value(two.to_mdp(task), 6))


# ============================================================================================ sweeps
def naive_score(family, task, setting, n_episodes, c):
    """One run as a plain loop (lesson 02's algorithm, reading the constant c for every random number), then its
    greedy policy scored with the library's dynamic programming."""
    mdp = family.to_mdp(task)
    horizon = getattr(task, "horizon", None)
    max_steps = horizon or family.max_episode_steps
    R = mdp.R if mdp.R.ndim == 3 else np.repeat(mdp.R[:, :, None], mdp.n_states, axis=2)
    q = np.zeros((mdp.n_states, mdp.n_actions))
    draw = lambda p: int(np.flatnonzero(c < np.cumsum(p))[0])  # noqa: E731  (first outcome whose cdf exceeds c)
    for epsilon in setting.epsilons(n_episodes):
        s = draw(mdp.start)
        for _ in range(max_steps):
            a = action_from_uniforms(q[s].tolist(), epsilon, c, c)
            s_next = draw(mdp.P[s, a])
            r = R[s, a, s_next]
            target = r if mdp.terminal[s_next] else r + setting.gamma * q[s_next].max()
            q[s, a] += setting.alpha * (target - q[s, a])
            s = s_next
            if mdp.terminal[s]:
                break
    pi = np.eye(mdp.n_actions)[q.argmax(axis=1)]
    if horizon is None:
        j, j_opt = mdp.start @ policy_evaluation(mdp, pi), mdp.start @ value_iteration(mdp)[0]
        j_uni = mdp.start @ policy_evaluation(mdp, uniform_policy(mdp))
    else:
        j = policy_returns(*stacked(mdp), pi[None], horizon=horizon)[0]
        j_uni = policy_returns(*stacked(mdp), uniform_policy(mdp)[None], horizon=horizon)[0]
        j_opt = mdp.start @ finite_horizon_value(mdp, horizon)
    return (j - j_uni) / (j_opt - j_uni), np.any(q != 0)


@pytest.mark.parametrize("c", [0.3, 0.7])
def test_sweep_equals_a_plain_loop_per_run(c):
    settings = setting_grid([0.5, 1.0], [0.2, 0.9], [0.9], ["constant", "linear"])
    cases = [
        (GridWorldFamily(), [GridTask((1, 4), 0.2), GridTask((2, 1), 0.0)]),
        (TwoGoalsFamily(), [TwoGoalsTask(12, 0.3, 0.1), TwoGoalsTask(5, 0.5, 0.0)]),  # two horizons: two batches
        (RandomMDPFamily(n_states=4, n_actions=3, horizon_range=(3, 5)), None),
    ]
    learned = 0
    for family, tasks in cases:
        tasks = tasks or family.sample(2, np.random.default_rng(3))
        result = sweep(family, tasks, settings, n_episodes=8, n_seeds=2, rng=Constant(c), chunk_size=5,
                       progress=False)
        assert result.scores.shape == (2, len(settings), 2)
        for (i, task), (k, setting) in itertools.product(enumerate(tasks), enumerate(settings)):
            expected, changed = naive_score(family, task, setting, 8, c)
            learned += changed
            np.testing.assert_allclose(result.scores[i, k], [expected, expected], atol=1e-9,
                                       err_msg=f"{type(family).__name__} task {i}, {setting}")
    assert learned > 20  # the runs did learn something, so the comparison is not of empty tables


def test_curves_continue_the_same_runs():
    family, tasks = TwoGoalsFamily(), [TwoGoalsTask(12, 0.3, 0.1)] * 2
    settings = [Setting(0.5, 0.3, 0.9), Setting(1.0, 0.1, 0.8)]
    curves = score_curves(family, tasks, settings, 10, 2, rng=Constant(0.3))
    np.testing.assert_allclose(curves[:, 0], score_runs(family, tasks, settings, 5, rng=Constant(0.3)))
    np.testing.assert_allclose(curves[:, 1], score_runs(family, tasks, settings, 10, rng=Constant(0.3)))


def test_sweep_is_deterministic_and_learns():
    family = GridWorldFamily()
    tasks = family.sample(3, np.random.default_rng(0))
    settings = (Setting(0.5, 0.2, 0.95), Setting(0.5, 0.2, 0.0))
    a = sweep(family, tasks, settings, n_episodes=40, n_seeds=2, seed=5, progress=False)
    b = sweep(family, tasks, settings, n_episodes=40, n_seeds=2, seed=5, progress=False)
    c = sweep(family, tasks, settings, n_episodes=40, n_seeds=2, seed=6, progress=False)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.array_equal(a.scores, c.scores)
    # 40 episodes with a sensible setting nearly solve these rooms (score 0 is the random policy's); a myopic
    # learner (gamma 0) learns only the move into the goal, and its greedy policy elsewhere is a constant move.
    assert a.scores[:, 0].mean() > 0.9 > a.scores[:, 1].mean() + 0.3


def test_sweep_result_bookkeeping():
    family = GridWorldFamily()
    tasks = [GridTask((1, 2), 0.0), GridTask((3, 1), 0.1), GridTask((5, 5), 0.2)]
    settings = (Setting(0.1, 0.1, 0.9), Setting(1.0, 0.1, 0.9))
    scores = np.array([[[0.2, 0.4], [0.9, 0.7]], [[0.5, 0.5], [0.1, 0.3]], [[0.6, 0.6], [0.5, 0.5]]])
    result = SweepResult(tuple(tasks), settings, scores, family.feature_matrix(tasks), family.feature_names, 10)
    np.testing.assert_allclose(result.mean_scores, [[0.3, 0.8], [0.5, 0.2], [0.6, 0.5]])
    assert result.best_constant() == 1  # mean over tasks: 1.4 / 3 = 0.467 for setting 0, 1.5 / 3 = 0.5 for 1
    assert list(result.best_per_task()) == [1, 0, 0]
    sub = result.subset([tasks[2], tasks[0]])
    np.testing.assert_array_equal(sub.scores, scores[[2, 0]])
    with pytest.raises(KeyError, match="were not swept"):
        result.subset([GridTask((1, 4), 0.0)])


# ============================================================================================ models
def hand_sweep(x, best, settings, n_seeds=2):
    """A SweepResult over tasks with one feature x, where task i scores 1 with settings[best[i]] and 0 otherwise."""
    tasks = tuple(GridTask((1, 1 + i % 4), float(i) / 100) for i in range(len(x)))
    scores = np.zeros((len(x), len(settings), n_seeds))
    scores[np.arange(len(x)), best] = 1.0
    return SweepResult(tasks, tuple(settings), scores, np.asarray(x, dtype=float)[:, None], ("x",), 10)


def test_ridge_closed_form_by_hand_and_against_least_squares():
    # lam = 0 through (0, 1), (1, 3), (2, 5): the line y = 2 x + 1.
    W, b = ridge_fit(np.array([[0.0], [1.0], [2.0]]), np.array([[1.0], [3.0], [5.0]]), 0.0)
    np.testing.assert_allclose(W, [[2.0]])
    np.testing.assert_allclose(b, [1.0])
    # x = -1, 1 and y = -1, 1 (already centred), lam = 2: w = sum(x y) / (sum(x^2) + lam) = 2 / 4 = 0.5, b = 0.
    W, b = ridge_fit(np.array([[-1.0], [1.0]]), np.array([[-1.0], [1.0]]), 2.0)
    np.testing.assert_allclose(W, [[0.5]])
    np.testing.assert_allclose(b, [0.0], atol=1e-12)
    # Random data: the same minimiser as least squares on [X 1; sqrt(lam) I 0] against [Y; 0].
    rng = np.random.default_rng(0)
    X, Y, lam = rng.normal(size=(30, 4)) + 3.0, rng.normal(size=(30, 2)), 1.7
    A = np.vstack([np.hstack([X, np.ones((30, 1))]), np.hstack([np.sqrt(lam) * np.eye(4), np.zeros((4, 1))])])
    solution = np.linalg.lstsq(A, np.vstack([Y, np.zeros((4, 2))]), rcond=None)[0]
    W, b = ridge_fit(X, Y, lam)
    np.testing.assert_allclose(W, solution[:4], atol=1e-10)
    np.testing.assert_allclose(b, solution[4], atol=1e-10)


def test_best_constant_and_nearest_neighbours_on_a_hand_sweep():
    a, b = Setting(0.1, 0.1, 0.5), Setting(1.0, 0.1, 0.99)
    # tasks at x = 0, 1, 2 prefer a; x = 10, 11 prefer b: a wins on average (3 of 5 tasks).
    result = hand_sweep([0, 1, 2, 10, 11], [0, 0, 0, 1, 1], [a, b])
    assert BestConstant().fit(result).predict(np.array([[10.5]])) == [a]
    # the 2 nearest training tasks of x = 10.4 are 10 and 11 (both prefer b); of x = 0.6, 0 and 1
    assert NearestNeighbours(k=2).fit(result).predict(np.array([[10.4], [0.6]])) == [b, a]
    with pytest.raises(ValueError, match="shape"):
        NearestNeighbours(k=2).fit(result).predict(np.array([1.0, 2.0]))


def test_ridge_per_hyperparameter_follows_a_linear_trend():
    # The best gamma of task i is 1.001 - exp(-i), so log(1.001 - gamma) = -x is linear in x = i: with lam = 0
    # the regression is exact, and x = 2.5 (between two training tasks) gets 1.001 - exp(-2.5).
    settings = [Setting(0.3, 0.1, 1.001 - np.exp(-i)) for i in range(5)]
    model = RidgePerHyperparameter(lam=0.0).fit(hand_sweep(range(5), range(5), settings))
    (predicted,) = model.predict(np.array([[2.5]]))
    assert predicted.gamma == pytest.approx(1.001 - np.exp(-2.5))
    assert predicted.alpha == pytest.approx(0.3) and predicted.schedule == "constant"
    (far,) = model.predict(np.array([[100.0]]))  # clipped to the range the sweep covered
    assert far.gamma == pytest.approx(max(s.gamma for s in settings))


def test_mlp_learns_a_threshold():
    a, b = Setting(0.1, 0.1, 0.5), Setting(1.0, 0.1, 0.99)
    x = np.linspace(-1, 1, 20)
    model = MLPScores(hidden=8, epochs=200, lr=0.05).fit(hand_sweep(x, (x > 0).astype(int), [a, b]))
    assert model.predict(np.array([[-0.8], [0.8]])) == [a, b]
    assert model.final_loss < 0.05


# ============================================================================================ held-out evaluation
def test_held_out_split_keeps_copies_together():
    a, b, c, d = (GridTask((1, k), 0.0) for k in range(1, 5))
    tasks = [a, b, a, c, d, b, a]
    for seed in range(20):
        train, test = held_out_split(tasks, 2, np.random.default_rng(seed))
        assert len(test) == 2 and len(set(test)) == 2
        assert not set(train) & set(test)  # no copy of a test task is left in training
        assert sorted(map(str, train + [t for t in tasks if t in test])) == sorted(map(str, tasks))
    draws = [held_out_split(tasks, 1, np.random.default_rng(s))[1][0] for s in range(400)]
    assert all(abs(draws.count(t) / 400 - 0.25) < 0.07 for t in (a, b, c, d))  # distinct tasks equally likely
    with pytest.raises(ValueError, match="distinct tasks"):
        held_out_split(tasks, 5, np.random.default_rng(0))


def test_held_out_scores_refuses_a_leaking_split_and_fits_on_training_tasks_only():
    a, b, c = (GridTask((1, k), 0.0) for k in range(1, 4))
    seen = []

    def fit(train):
        seen.extend(train)
        return lambda task: Setting(0.1 * task.goal[1], 0.1, 0.9)

    def run(tasks, settings):
        return np.array([[s.alpha, s.alpha + 1.0] for s in settings])

    np.testing.assert_allclose(held_out_scores(fit, TaskSplit((a,), (b, c)), run), [[0.2, 1.2], [0.3, 1.3]])
    assert seen == [a]
    with pytest.raises(TaskLeakError):
        held_out_scores(fit, SimpleNamespace(train=[a, b], test=[b, c]), run)


class Spy(HyperparameterModel):
    """Records what it was fitted on and predicts the first setting of the sweep."""

    name = "spy"

    def fit(self, result):
        self.fitted_on = result.tasks
        self.settings = result.settings
        return self

    def predict(self, X):
        return [self.settings[0]] * len(X)


def test_compare_on_held_out_never_shows_test_tasks_to_a_model():
    family = TwoGoalsFamily(horizon_range=(4, 6))
    train, test = family.sample(6, np.random.default_rng(0)), family.sample(3, np.random.default_rng(1))
    split = TaskSplit(tuple(train), tuple(test))
    settings = setting_grid([0.5, 1.0], [0.3], [0.5, 0.95], ["constant"])
    result = sweep(family, split.train, settings, n_episodes=6, n_seeds=1, progress=False)
    spy = Spy()
    out = compare_on_held_out(family, split, result, [BestConstant(), spy], n_seeds=2, oracle_seeds=1,
                              progress=False)
    assert spy.fitted_on == split.train
    assert out.methods == ("defaults", "best constant", "spy", "oracle")
    assert all(out.scores[m].shape == (3, 2) for m in out.methods)
    assert out.chosen["defaults"] == (default_setting(),) * 3
    rows = out.summary()
    assert rows[0].gap_closed == pytest.approx(0.0) and rows[-1].gap_closed == pytest.approx(1.0)
    # a sweep that saw a test task is refused, even when the split itself is clean
    leaky = sweep(family, split.train + split.test[:1], settings, n_episodes=6, n_seeds=1, progress=False)
    with pytest.raises(TaskLeakError):
        compare_on_held_out(family, split, leaky, [FixedSetting(settings[0], "x")], progress=False)


def test_the_oracle_of_a_task_depends_on_that_task_only():
    family = TwoGoalsFamily(horizon_range=(4, 12))
    train = tuple(family.sample(4, np.random.default_rng(0)))
    test = tuple(family.sample(3, np.random.default_rng(1)))
    settings = setting_grid([0.3, 1.0], [0.2, 0.8], [0.5, 0.9], ["constant"])
    result = sweep(family, train, settings, n_episodes=10, n_seeds=1, progress=False)
    together = compare_on_held_out(family, TaskSplit(train, test), result, [], n_seeds=1, progress=False,
                                   rng=Constant(0.3))
    for i, task in enumerate(test):
        alone = compare_on_held_out(family, TaskSplit(train, (task,)), result, [], n_seeds=1, progress=False,
                                    rng=Constant(0.3))
        assert alone.chosen["oracle"][0] == together.chosen["oracle"][i]
        own = sweep(family, [task], settings, n_episodes=10, n_seeds=1, rng=Constant(0.3), progress=False)
        assert together.chosen["oracle"][i] == settings[int(own.best_per_task()[0])]


# ============================================================================================ meta-gradients
def small_task():
    return TwoGoalsFamily().to_mdp(TwoGoalsTask(horizon=20, near_reward=0.3, slip=0.1))


def test_expected_updates_and_policy_value_match_numpy():
    import torch

    from metarl_edu.studies.meta_gradient import expected_q_learning, mdp_tensors, policy_value, softmax_policy

    mdp = small_task()
    m = mdp_tensors(mdp)
    q = expected_q_learning(m, torch.tensor(0.5, dtype=torch.float64), torch.tensor(0.9, dtype=torch.float64), 3)
    expected = np.zeros((mdp.n_states, mdp.n_actions))
    for _ in range(3):  # the same updates, one (s, a) at a time
        new = expected.copy()
        for s, a in itertools.product(range(mdp.n_states), range(mdp.n_actions)):
            v_next = np.where(mdp.terminal, 0.0, expected.max(axis=1))
            new[s, a] = expected[s, a] + 0.5 * (mdp.r_sa[s, a] + 0.9 * mdp.P[s, a] @ v_next - expected[s, a])
        expected = new
    np.testing.assert_allclose(q.numpy(), expected, atol=1e-12)
    pi = softmax_policy(q, 0.1)
    np.testing.assert_allclose(pi.sum(dim=1).numpy(), 1.0)
    J = policy_value(m, pi, 0.8).item()
    assert J == pytest.approx(mdp.start @ policy_evaluation(mdp.with_gamma(0.8), pi.numpy()), abs=1e-10)


def test_meta_gradient_matches_finite_differences():
    import torch

    from metarl_edu.studies.meta_gradient import mdp_tensors, meta_objective

    m = mdp_tensors(small_task())
    for point in ([0.3, 0.6], [-1.0, 2.0]):
        theta = torch.tensor(point, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(meta_objective(theta, m, 8, 0.05, 0.9), theta)
        h = 1e-6
        for i in range(2):
            step = torch.zeros(2, dtype=torch.float64)
            step[i] = h
            with torch.no_grad():
                numeric = (meta_objective(theta + step, m, 8, 0.05, 0.9)
                           - meta_objective(theta - step, m, 8, 0.05, 0.9)) / (2 * h)
            assert grad[i].item() == pytest.approx(numeric.item(), rel=1e-5, abs=1e-9)


def test_meta_gradient_ascent_climbs_and_reaches_the_grid_optimum_of_its_basin():
    from metarl_edu.studies.meta_gradient import meta_gradient_ascent, objective_grid

    mdp = small_task()
    result = meta_gradient_ascent(mdp, K=10, meta_gamma=0.9, tau=0.05, n_steps=60, lr=2.0, alpha0=0.5, gamma0=0.9)
    assert result.objective > result.objectives[0] + 0.05
    assert np.all(np.diff(result.objectives) > -1e-3)  # small steps: J never drops by more than noise
    alphas, gammas = np.linspace(0.05, 0.99, 8), np.linspace(0.3, 0.99, 8)
    grid = objective_grid(mdp, alphas, gammas, K=10, meta_gamma=0.9, tau=0.05)
    assert result.objective > grid.max() - 0.01  # as good as the best grid cell, or better


def test_bench_runs_small_and_formats_its_table():
    from metarl_edu.studies.bench import bench_hyperparams, format_hyperparams

    figures = bench_hyperparams(n_tasks=2, n_episodes=5, n_naive=2, repeats=1)
    assert figures["naive_per_s"] > 0 and figures["sweep_per_s"] > 0 and figures["n_runs"] == 2 * 30
    text = format_hyperparams(figures)
    assert "task x setting evaluations per second" in text and "(b)/(a)" in text
