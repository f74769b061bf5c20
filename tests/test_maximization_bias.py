"""Maximisation bias (Sutton & Barto 2018, Example 6.7, Figure 6.5): the batched experiment replays exactly as a
plain loop of the core updates, and reproduces the book's finding."""

from __future__ import annotations

import numpy as np
import pytest

from metarl_edu import td
from metarl_edu.studies.maximization_bias import LEFT, left_from_a

A, B, END = 0, 1, 2


def plain_loop(method, n_runs, n_episodes, seed, n_b=10, alpha=0.1, epsilon=0.1):
    """One run at a time with td.q_learning_update / td.double_q_learning_update and td.action_from_uniforms,
    reading the random numbers in the layout left_from_a documents. Row A of a (3, n_b) table uses columns 0-1."""
    rng = np.random.default_rng(seed)
    draws = [(rng.random((6, n_runs)), rng.standard_normal(n_runs)) for _ in range(n_episodes)]
    left = np.zeros((n_runs, n_episodes), dtype=bool)
    for run in range(n_runs):
        q1, q2 = np.zeros((3, n_b)), np.zeros((3, n_b))
        for episode, (u, z) in enumerate(draws):
            u = u[:, run]
            act_on = q1 + q2 if method == "double_q_learning" else q1
            a = td.action_from_uniforms(act_on[A, :2].tolist(), epsilon, u[0], u[1])
            left[run, episode] = a == LEFT
            s_next, terminated = (B, False) if a == LEFT else (END, True)
            if method == "double_q_learning":
                q1, q2 = td.double_q_learning_update(q1, q2, A, a, 0.0, s_next, terminated, alpha, 1.0, u[2] < 0.5)
            else:
                q1 = td.q_learning_update(q1, A, a, 0.0, s_next, terminated, alpha, 1.0)
            if a != LEFT:
                continue
            act_on = q1 + q2 if method == "double_q_learning" else q1
            b = td.action_from_uniforms(act_on[B].tolist(), epsilon, u[3], u[4])
            r = -0.1 + z[run]
            if method == "double_q_learning":
                q1, q2 = td.double_q_learning_update(q1, q2, B, b, r, END, True, alpha, 1.0, u[5] < 0.5)
            else:
                q1 = td.q_learning_update(q1, B, b, r, END, True, alpha, 1.0)
    return left


@pytest.mark.parametrize("method", ["q_learning", "double_q_learning"])
def test_the_batched_runs_replay_as_a_plain_loop_of_the_core_updates(method):
    np.testing.assert_array_equal(left_from_a(method, n_runs=7, n_episodes=60, seed=3),
                                  plain_loop(method, n_runs=7, n_episodes=60, seed=3))


def test_double_q_learning_update_by_hand():
    q1 = np.array([[0.0, 0.0], [1.0, 3.0]])
    q2 = np.array([[0.0, 0.0], [5.0, -2.0]])
    # q1 picks action 1 in state 1 (3 > 1); q2 values it at -2: target = 1 + 0.5 * -2 = 0 -> q1[0, 0] += 0.5 * 0
    new1, new2 = td.double_q_learning_update(q1, q2, 0, 0, 1.0, 1, False, 0.5, 0.5, update_first=True)
    np.testing.assert_array_equal(new1, q1)
    np.testing.assert_array_equal(new2, q2)
    # the other way round: q2 picks action 0 (5 > -2), q1 values it at 1: target = 1 + 0.5 = 1.5 -> q2[0, 1] = 0.75
    new1, new2 = td.double_q_learning_update(q1, q2, 0, 1, 1.0, 1, False, 0.5, 0.5, update_first=False)
    np.testing.assert_array_equal(new1, q1)
    assert new2[0, 1] == 0.75 and new2[0, 0] == 0.0 and new2 is not q2
    # terminal: the target is r alone; the inputs are never changed
    new1, _ = td.double_q_learning_update(q1, q2, 1, 1, 2.0, 0, True, 0.5, 0.9, update_first=True)
    assert new1[1, 1] == 3.0 + 0.5 * (2.0 - 3.0) and q1[1, 1] == 3.0


def test_td0_update_by_hand():
    v = np.array([1.0, 4.0, 0.0])
    # delta = 0.5 + 0.9 * 4 - 1 = 3.1; v[0] = 1 + 0.1 * 3.1
    np.testing.assert_allclose(td.td0_update(v, 0, 0.5, 1, False, 0.1, 0.9), [1.31, 4.0, 0.0])
    np.testing.assert_allclose(td.td0_update(v, 0, 0.5, 1, True, 0.1, 0.9), [1.0 + 0.1 * (0.5 - 1.0), 4.0, 0.0])
    assert v[0] == 1.0


def test_sutton_barto_figure_6_5():
    # Figure 6.5 and its caption: Q-learning takes `left` "much more often" than the 5% that epsilon-greedy
    # with epsilon = 0.1 enforces, and always "significantly more often"; Double Q-learning is "essentially
    # unaffected". 2,000 runs here (the book: 10,000).
    q = left_from_a("q_learning", n_runs=2000, seed=0).mean(axis=0)
    dq = left_from_a("double_q_learning", n_runs=2000, seed=0).mean(axis=0)
    assert q[:50].max() > 0.8 and q.min() > 0.09  # the bias: far above 5% early, and above it to the end
    assert dq.max() < 0.55 and 0.05 < dq[200:].mean() < 0.09  # never drawn to `left`; close to the 5% floor
    assert np.all(q[10:] > dq[10:]) and q[200:].mean() > 1.4 * dq[200:].mean()
