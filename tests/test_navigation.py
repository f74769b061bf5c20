"""Tests of 2D point navigation: hand-worked steps, the episode's two ways to end, the task distribution, the
Gymnasium checker, and the batched torch env against the single env step by step."""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import metarl_edu  # noqa: F401  (registers metarl_edu/Navigation2D-v0)
from metarl_edu.envs.navigation import Navigation2DEnv, sample_goals
from metarl_edu.fast.envs import BatchedNavigation2D


def test_registered_env_passes_gymnasium_checker():
    env = gym.make("metarl_edu/Navigation2D-v0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure too
        check_env(env.unwrapped)


def test_step_clips_the_action_and_pays_minus_the_distance():
    env = Navigation2DEnv(goal=(0.3, 0.0))
    obs, info = env.reset(seed=0)
    assert obs.tolist() == [0.0, 0.0] and info == {}
    obs, r, terminated, truncated, _ = env.step(np.array([0.5, -0.5]))  # clipped to (0.1, -0.1)
    assert obs == pytest.approx([0.1, -0.1])
    assert r == pytest.approx(-math.sqrt(0.2**2 + 0.1**2), abs=1e-6)  # from (0.1, -0.1) to (0.3, 0)
    assert not terminated and not truncated


@pytest.mark.parametrize(("goal_x", "ends"), [(0.305, True), (0.315, False)])
def test_terminates_within_0_01_of_the_goal(goal_x, ends):
    env = Navigation2DEnv(goal=(goal_x, 0.0))
    env.reset(seed=0)
    for _ in range(3):  # three steps of 0.1 reach (0.3, 0): 0.005 from the first goal, 0.015 from the second
        obs, r, terminated, truncated, _ = env.step(np.array([0.1, 0.0]))
    assert terminated is ends and truncated is False
    assert r == pytest.approx(-abs(goal_x - 0.3), abs=1e-6)


def test_truncates_after_100_steps_and_then_refuses_to_step():
    env = gym.make("metarl_edu/Navigation2D-v0", goal=(0.4, 0.4))
    env.reset(seed=0)
    for t in range(100):
        _, r, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
        assert r == pytest.approx(-math.sqrt(0.32)) and not terminated
        assert truncated == (t == 99)
    with pytest.raises(RuntimeError, match="call reset"):
        env.unwrapped.step(np.zeros(2))


def test_tasks_are_uniform_goals_and_seeded():
    env = Navigation2DEnv()
    goals = env.sample_tasks(2000, np.random.default_rng(0))
    assert goals.shape == (2000, 2) and goals.min() >= -0.5 and goals.max() <= 0.5
    assert np.allclose(goals.mean(0), 0.0, atol=0.03) and np.allclose(goals.var(0), 1 / 12, atol=0.01)  # U[-.5,.5]
    assert np.array_equal(goals, sample_goals(2000, np.random.default_rng(0)))
    env.set_task(goals[0])
    assert np.array_equal(env.goal, goals[0].astype(np.float32))
    env.reset(seed=0, options={"goal": (0.1, -0.2)})
    assert env.goal.tolist() == pytest.approx([0.1, -0.2])
    # with no task set, the first reset draws one from the env's seeded generator
    assert Navigation2DEnv().goal is None
    a, b = Navigation2DEnv(), Navigation2DEnv()
    a.reset(seed=3)
    b.reset(seed=3)
    assert a.goal is not None and np.array_equal(a.goal, b.goal)


def test_bad_goals_actions_and_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="a goal must be two finite numbers"):
        Navigation2DEnv(goal=(0.1, 0.2, 0.3))
    env = Navigation2DEnv(goal=(0.1, 0.1))
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros(2))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="an action must be two finite numbers"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="goals must be finite and of shape"):
        BatchedNavigation2D(np.zeros(2), n_traj=3)
    with pytest.raises(ValueError, match="n_traj must be a positive integer"):
        BatchedNavigation2D(np.zeros((2, 2)), n_traj=0)
    batched = BatchedNavigation2D(np.zeros((2, 2)), n_traj=3)
    batched.reset()
    with pytest.raises(ValueError, match=r"actions must have shape \(n_tasks, n_traj, 2\)"):
        batched.step(torch.zeros(3, 2, 2))


def test_batched_env_matches_the_single_env_step_by_step():
    rng = np.random.default_rng(0)
    goals = np.array([[0.3, -0.2], [-0.45, 0.1], [0.05, 0.5]])
    n_tasks, n_traj, T = len(goals), 4, 100
    # per row an action sequence: trajectory 0 walks straight to the goal (and terminates there), the others act
    # at random, beyond the 0.1 bounds so that clipping matters, and are truncated at step 100
    actions = rng.uniform(-0.2, 0.2, size=(T, n_tasks, n_traj, 2)).astype(np.float32)
    for i, goal in enumerate(goals):
        n_walk = int(np.ceil(np.abs(goal).max() / 0.1))
        actions[:n_walk, i, 0] = goal / n_walk
        actions[n_walk:, i, 0] = 0.0

    batched = BatchedNavigation2D(goals, n_traj)
    p = batched.reset()
    batched_steps = []
    for a in actions:
        p, r, terminated, truncated = batched.step(torch.as_tensor(a))
        batched_steps.append((p.numpy(), r.numpy(), terminated.numpy(), truncated.numpy()))

    n_terminated = 0
    for i in range(n_tasks):
        for j in range(n_traj):
            env = Navigation2DEnv(goal=goals[i])
            env.reset(seed=0)
            for t in range(T):
                p, r, terminated, truncated = (x[i, j] for x in batched_steps[t])
                if env.done:  # the row has ended: it stays put, earns 0 and reports nothing more
                    assert np.array_equal(p, env.position) and r == 0.0 and not terminated and not truncated
                    continue
                obs, r_single, term_single, trunc_single, _ = env.step(actions[t, i, j])
                assert np.array_equal(p, obs), (i, j, t)  # identical float32 arithmetic
                assert r == np.float32(r_single) and terminated == term_single and truncated == trunc_single
            n_terminated += int(term_single)
            assert batched.done[i, j]
    assert n_terminated == n_tasks  # both endings were exercised: one per task terminated, the rest truncated
