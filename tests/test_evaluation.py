"""Tests of the evaluation protocol: splits that cannot leak, tasks x seeds, bootstrap intervals whose coverage
matches their level (and why tasks, not seeds, are resampled), paired differences and adaptation curves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from metarl_edu.envs import BanditFamily, CartPoleFamily, GridTask, GridWorldFamily, RandomMDPFamily, RandomMDPTask
from metarl_edu.envs.tasks import FrozenLakeFamily, FrozenLakeTask, task_key
from metarl_edu.studies.evaluation import (
    AdaptationCurve,
    TaskLeakError,
    TaskSplit,
    adaptation_curve,
    bootstrap_ci,
    check_disjoint,
    paired_bootstrap_ci,
    run_tasks_x_seeds,
    spawn_seeds,
    split_tasks,
)

# Only three distinct tasks: three goal cells and one slip. Collisions between train and test draws are likely.
TINY_FAMILY = GridWorldFamily(layout="#####\n#S..#\n#.###\n#####", slip_range=(0.1, 0.1))


# ============================================================================================ splits
@pytest.mark.parametrize("family", [GridWorldFamily(), RandomMDPFamily(), BanditFamily(), CartPoleFamily()])
def test_split_is_disjoint_and_reproducible(family):
    split = split_tasks(family, n_train=8, n_test=4, seed=7)
    assert len(split.train) == 8 and len(split.test) == 4 and split.seed == 7
    check_disjoint(split.train, split.test)
    again = split_tasks(family, n_train=8, n_test=4, seed=7)
    assert again.train == split.train and again.test == split.test
    assert split_tasks(family, n_train=8, n_test=4, seed=8).train != split.train


def test_split_never_mixes_even_when_the_family_has_few_tasks():
    assert len(TINY_FAMILY.goal_cells) == 3
    for seed in range(30):
        split = split_tasks(TINY_FAMILY, n_train=1, n_test=5, seed=seed)
        assert split.train[0] not in split.test  # 5 test draws from 3 tasks: without the guard, 1 in 3 would leak
    with pytest.raises(ValueError, match="too few distinct tasks"):
        split_tasks(TINY_FAMILY, n_train=30, n_test=1, seed=0)  # 30 draws cover all three tasks
    with pytest.raises(ValueError, match="n_test must be an integer >= 0"):
        split_tasks(TINY_FAMILY, n_train=1, n_test=-1, seed=0)


def test_check_disjoint_catches_overlapping_lists_and_copies():
    train = [GridTask((1, 2), 0.1), GridTask((2, 3), 0.2)]
    check_disjoint(train, [GridTask((1, 2), 0.3)])  # same goal, other slip: a different task
    with pytest.raises(TaskLeakError, match="test task 1 equals train task 0"):
        check_disjoint(train, [GridTask((4, 4), 0.0), GridTask((1, 2), 0.1)])  # an equal copy, not the object
    task = RandomMDPFamily().sample(1, np.random.default_rng(0))[0]
    twin = RandomMDPTask(P=task.P.copy(), reward_mean=task.reward_mean.copy(), horizon=task.horizon)
    with pytest.raises(TaskLeakError, match="1 meta-test task"):
        check_disjoint([task], [twin])  # arrays compare by value


def test_a_lake_is_its_map_whatever_drew_it():
    # Small lakes often come out the same from different draws (every sparse 4 x 4 draw is the lake without
    # holes): the held-out maps must differ from every training map, not only the draws that made them.
    lake = FrozenLakeTask(desc=("SF", "FG"), hole_prob=0.1, map_seed=3)
    same_map = FrozenLakeTask(desc=("SF", "FG"), hole_prob=0.3, map_seed=8)
    assert lake == same_map and task_key(lake) == task_key(same_map) and hash(lake) == hash(same_map)
    with pytest.raises(TaskLeakError):
        check_disjoint([lake], [same_map])
    family = FrozenLakeFamily(size=4, hole_prob_range=(0.0, 0.4))
    split = split_tasks(family, n_train=200, n_test=100, seed=0)

    def mdp_bytes(task):
        mdp = family.to_mdp(task)
        return mdp.P.tobytes(), mdp.r_sa.tobytes(), mdp.terminal.tobytes()

    train_mdps = {mdp_bytes(task) for task in split.train}
    assert len(train_mdps) < 180  # the family repeats maps, so the guard has work to do
    assert not any(mdp_bytes(task) in train_mdps for task in split.test)


def test_a_split_cannot_be_built_or_changed_into_a_leak():
    train = (GridTask((1, 2), 0.1),)
    with pytest.raises(TaskLeakError):
        TaskSplit(train=train, test=[GridTask((1, 2), 0.1)])
    split = TaskSplit(train=list(train), test=[GridTask((2, 2), 0.1)])
    assert isinstance(split.train, tuple) and isinstance(split.test, tuple)  # no .append
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.test = train


# ============================================================================================ tasks x seeds
def test_run_tasks_x_seeds_runs_every_task_with_every_seed_in_order():
    tasks = [GridTask((1, c), 0.0) for c in (1, 2, 3)]
    out = run_tasks_x_seeds(lambda task, seed: 10 * task.goal[1] + seed, tasks, seeds=[0, 5])
    assert out.tolist() == [[10, 15], [20, 25], [30, 35]]
    curves = run_tasks_x_seeds(lambda task, seed: np.arange(4) + seed, tasks, seeds=[0, 1, 2], progress=True)
    assert curves.shape == (3, 3, 4) and curves[1, 2].tolist() == [2, 3, 4, 5]


def test_run_tasks_x_seeds_explains_failures():
    tasks = [GridTask((1, 1), 0.0), GridTask((1, 2), 0.0)]
    with pytest.raises(ValueError, match="one shape throughout"):
        run_tasks_x_seeds(lambda task, seed: np.zeros(task.goal[1]), tasks, seeds=[0])
    with pytest.raises(ZeroDivisionError) as info:
        run_tasks_x_seeds(lambda task, seed: 1 / (task.goal[1] - 2), tasks, seeds=[3])
    assert "task 1, seed 3" in "".join(info.value.__notes__)
    with pytest.raises(ValueError, match="at least one task"):
        run_tasks_x_seeds(lambda task, seed: 0.0, [], seeds=[0])


def test_spawn_seeds_are_reproducible_and_distinct():
    assert spawn_seeds(0, 5) == spawn_seeds(0, 5)
    assert len(set(spawn_seeds(0, 100))) == 100 and spawn_seeds(1, 5) != spawn_seeds(0, 5)


# ============================================================================================ bootstrap
def test_bootstrap_hand_cases():
    ci = bootstrap_ci([2.0, 2.0, 2.0], rng=0)
    assert (ci.estimate, ci.low, ci.high, ci.level) == (2.0, 2.0, 2.0, 0.95)
    # two values: every replicate mean is 0, 0.5 or 1 (with probabilities 1/4, 1/2, 1/4)
    ci = bootstrap_ci([0.0, 1.0], rng=0, ci=0.5)
    assert ci.estimate == 0.5 and {ci.low, ci.high} <= {0.0, 0.5, 1.0}
    assert str(bootstrap_ci([1.0, 3.0], rng=0)).startswith("2 [")


def test_bootstrap_is_deterministic_given_its_rng():
    x = np.random.default_rng(0).normal(size=50)
    assert bootstrap_ci(x, rng=1) == bootstrap_ci(x, rng=np.random.default_rng(1))
    assert bootstrap_ci(x, rng=1) != bootstrap_ci(x, rng=2)


def test_bootstrap_resamples_in_chunks_with_the_numbers_of_one_draw(monkeypatch):
    import metarl_edu.studies.evaluation as evaluation
    from metarl_edu.classroom.references import percentile_interval

    x = np.random.default_rng(0).exponential(size=37)
    whole = bootstrap_ci(x, rng=3, n_boot=1000)
    # The plain form draws rng.integers(0, n, size=(n_boot, n)) at once; the library must agree with it.
    low, high = percentile_interval(x, 1000, np.random.default_rng(3), 0.95)
    assert (whole.low, whole.high) == pytest.approx((low, high), abs=1e-12)
    monkeypatch.setattr(evaluation, "BOOTSTRAP_CHUNK", 100)  # 2 replicates of 37 tasks per chunk
    chunked = bootstrap_ci(x, rng=3, n_boot=1000)
    assert (chunked.low, chunked.high) == pytest.approx((whole.low, whole.high), abs=1e-12)



def test_bootstrap_memory_stays_bounded_for_many_replicates():
    import tracemalloc

    x = np.random.default_rng(0).normal(size=2000)
    tracemalloc.start()
    bootstrap_ci(x, rng=0, n_boot=20_000)  # 40 million resampled indices: 320 MB if drawn at once
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 60e6


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time():
    data = np.random.default_rng(0).normal(loc=3.0, scale=2.0, size=(400, 40))  # 400 samples of n = 40
    gen = np.random.default_rng(1)
    covered = [bootstrap_ci(sample, rng=gen, n_boot=1000).contains(3.0) for sample in data]
    # the percentile bootstrap of a mean at n = 40 covers a little under 95% (about 93%: it ignores the t
    # correction); 400 repetitions have sd 0.012
    assert 0.89 <= np.mean(covered) <= 0.98


def test_bootstrap_ci_shrinks_like_one_over_root_n():
    x = np.random.default_rng(0).normal(size=1600)
    widths = [bootstrap_ci(x[:n], rng=0).high - bootstrap_ci(x[:n], rng=0).low for n in (25, 400)]
    assert 2.5 < widths[0] / widths[1] < 6.5  # 16 x the data: 4 x narrower


def test_clustered_bootstrap_covers_where_the_naive_one_does_not():
    # Each task has its own mean (sd 1) and each seed adds noise (sd 1): 30 tasks x 10 seeds. Treating the 300
    # numbers as independent ignores the task-to-task variation, so its intervals are about 2.3 x too narrow.
    gen = np.random.default_rng(0)
    values = gen.normal(size=(300, 30, 1)) + gen.normal(size=(300, 30, 10))  # 300 repetitions, true mean 0
    clustered = [bootstrap_ci(v, rng=gen, n_boot=500).contains(0.0) for v in values]
    naive = [bootstrap_ci(v.ravel(), rng=gen, n_boot=500).contains(0.0) for v in values]
    # about 93% (30 clusters) against about 55%; 300 repetitions have sd 0.015 and 0.029
    assert np.mean(clustered) >= 0.87 and np.mean(naive) < 0.7


def test_paired_ci_finds_a_clear_difference_that_separate_intervals_miss():
    gen = np.random.default_rng(0)
    difficulty = gen.normal(scale=3.0, size=(20, 1))  # the same tasks for both methods, with very different scores
    b = difficulty + gen.normal(scale=0.5, size=(20, 5))
    a = b + 0.5 + gen.normal(scale=0.5, size=(20, 5))
    paired = paired_bootstrap_ci(a, b, rng=0)
    assert not paired.contains(0.0) and paired.contains(0.5)
    ci_a, ci_b = bootstrap_ci(a, rng=0), bootstrap_ci(b, rng=0)
    assert ci_a.low < ci_b.high  # side by side, the two intervals overlap: task difficulty swamps the gap


def test_paired_ci_includes_zero_when_there_is_no_difference():
    gen = np.random.default_rng(0)
    difficulty = gen.normal(size=(200, 15, 1))
    a = difficulty + gen.normal(size=(200, 15, 4))
    b = difficulty + gen.normal(size=(200, 15, 4))
    includes_zero = [paired_bootstrap_ci(x, y, rng=gen, n_boot=500).contains(0.0) for x, y in zip(a, b, strict=True)]
    assert np.mean(includes_zero) >= 0.86  # about 92% with 15 tasks; 200 repetitions have sd 0.019


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 tasks"):
        bootstrap_ci([1.0], rng=0)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([1.0, np.nan], rng=0)
    with pytest.raises(ValueError, match="confidence level"):
        bootstrap_ci([1.0, 2.0], rng=0, ci=95)
    with pytest.raises(ValueError, match="same tasks x seeds"):
        paired_bootstrap_ci(np.zeros((3, 2)), np.zeros((3, 3)), rng=0)
    with pytest.raises(TypeError, match="rng"):
        bootstrap_ci([1.0, 2.0], rng="seed")


# ============================================================================================ adaptation curves
def test_adaptation_curve_of_improving_returns():
    gen = np.random.default_rng(0)
    steps = np.arange(4)
    returns = 10.0 * steps + gen.normal(size=(12, 3, 1)) + 0.1 * gen.normal(size=(12, 3, 4))  # (tasks, seeds, steps)
    curve = adaptation_curve(returns, rng=0)
    assert isinstance(curve, AdaptationCurve) and curve.steps.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(curve.mean, returns.mean(axis=(0, 1)))
    assert np.all(curve.low < curve.mean) and np.all(curve.mean < curve.high)
    assert np.all(curve.high[:-1] < curve.low[1:])  # every update helps by far more than the band's width
    # each step's band is the task bootstrap of that step's returns, with the same resampled tasks throughout
    step_2 = bootstrap_ci(returns[:, :, 2], rng=0)
    assert (curve.low[2], curve.high[2]) == pytest.approx((step_2.low, step_2.high))
    with pytest.raises(ValueError, match="n_tasks, n_seeds, n_steps"):
        adaptation_curve(returns[:, :, 0], rng=0)
