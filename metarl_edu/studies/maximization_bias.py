"""Maximisation bias: Q-learning against Double Q-learning on the small MDP of Sutton & Barto (2018), Example 6.7,
the experiment of their Figure 6.5.

The MDP: every episode starts in state A. ``right`` ends the episode with reward 0; ``left`` moves to state B with
reward 0, and each of B's ``n_b_actions`` actions ends the episode with a reward drawn from N(-0.1, 1). So ``left``
is worth -0.1 and ``right`` 0: an epsilon-greedy agent that has learned this takes ``left`` only when it explores,
epsilon / 2 = 5% of the time with epsilon = 0.1. The book's settings: alpha = 0.1, epsilon = 0.1, gamma = 1, initial
values 0, ties broken at random, 10,000 runs of 300 episodes. The book says only that B has "many" actions; we use
10, as the widely used reproduction of the book's figures does (S. Zhang, reinforcement-learning-an-introduction,
``chapter06/maximization_bias.py``).

:func:`left_from_a` runs many independent runs in lockstep, one numpy operation over all runs per step. Each run
makes exactly the updates of :func:`metarl_edu.td.q_learning_update` or :func:`metarl_edu.td.double_q_learning_update`
and chooses actions by the rule of :func:`metarl_edu.td.action_from_uniforms`, given the same random numbers; the
tests replay it with those functions.
"""

from __future__ import annotations

import numpy as np

from metarl_edu._checks import check_int

A, B = 0, 1  # the two non-terminal states
LEFT, RIGHT = 0, 1  # the actions in A
METHODS = ("q_learning", "double_q_learning")


def _choose(q: np.ndarray, epsilon: float, u_explore: np.ndarray, u_action: np.ndarray) -> np.ndarray:
    """Epsilon-greedy by :func:`~metarl_edu.td.action_from_uniforms` for every row of ``q`` (n, A) at once: the
    ``floor(u_action * k)``-th of the ``k`` candidates, which are all actions for a row that explores and the
    maximal ones otherwise."""
    candidates = (q == q.max(axis=1, keepdims=True)) | (u_explore < epsilon)[:, None]
    k = candidates.sum(axis=1)
    j = np.minimum((u_action * k).astype(int), k - 1)
    return (np.cumsum(candidates, axis=1) > j[:, None]).argmax(axis=1)  # the position of the j-th candidate


def left_from_a(method: str, n_runs: int, n_episodes: int = 300, seed: int = 0, n_b_actions: int = 10,
                alpha: float = 0.1, epsilon: float = 0.1, reward_mean: float = -0.1,
                reward_std: float = 1.0) -> np.ndarray:
    """Whether each run took ``left`` in A, in each episode: a boolean array (n_runs, n_episodes). Its mean over
    runs is the curve of Sutton & Barto's Figure 6.5.

    Args:
        method: ``"q_learning"`` or ``"double_q_learning"`` (acting epsilon-greedily on q1 + q2, updating one table
            or the other on a fair coin per step). gamma is 1, as in the book.
        n_runs, n_episodes: independent runs, and episodes per run. seed: seeds ``np.random.default_rng``.
        n_b_actions: actions in state B. alpha, epsilon: step size and exploration rate.
        reward_mean, reward_std: the reward of every action in B is N(reward_mean, reward_std^2).

    Random numbers, per episode: ``u = rng.random((6, n_runs))`` (rows: explore and action in A, coin of the
    update in A, explore and action in B, coin of the update in B; the coins are drawn for Q-learning too) and
    ``z = rng.standard_normal(n_runs)`` (B's reward is ``reward_mean + reward_std * z``), drawn for every run.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    n_runs, n_episodes = check_int("n_runs", n_runs, low=1), check_int("n_episodes", n_episodes, low=1)
    n_b_actions = check_int("n_b_actions", n_b_actions, low=1)
    rng = np.random.default_rng(seed)
    double = method == "double_q_learning"
    # tables[i] = (q_A, q_B) of table i: q_A (n_runs, 2), q_B (n_runs, n_b_actions); Q-learning uses table 0 only
    tables = [(np.zeros((n_runs, 2)), np.zeros((n_runs, n_b_actions))) for _ in range(2 if double else 1)]
    runs = np.arange(n_runs)
    left = np.zeros((n_runs, n_episodes), dtype=bool)
    for episode in range(n_episodes):
        u, z = rng.random((6, n_runs)), rng.standard_normal(n_runs)
        q_a, q_b = (tables[0][0] + tables[1][0], tables[0][1] + tables[1][1]) if double else tables[0]
        a = _choose(q_a, epsilon, u[0], u[1])
        went_left = a == LEFT
        left[:, episode] = went_left
        # --- the update in A (reward 0): left bootstraps from B, right ends the episode
        first = u[2] < 0.5 if double else np.ones(n_runs, dtype=bool)  # which table learns (Q-learning: the one)
        for i, rows in ((0, first), (1, ~first)) if double else ((0, first),):
            chooser, valuer = tables[i], tables[1 - i] if double else tables[i]
            b_best = chooser[1].argmax(axis=1)  # the best next action by the updated table, ties to the lowest
            bootstrap = np.where(went_left, valuer[1][runs, b_best], 0.0)  # Q-learning: max_b q_B
            q_a_i = chooser[0]
            q_a_i[rows, a[rows]] += alpha * (bootstrap[rows] - q_a_i[rows, a[rows]])
        # --- the runs in B: one more action, a noisy reward, the end
        in_b = np.flatnonzero(went_left)
        q_b = (tables[0][1] + tables[1][1])[in_b] if double else tables[0][1][in_b]
        b = _choose(q_b, epsilon, u[3, in_b], u[4, in_b])
        r = reward_mean + reward_std * z[in_b]
        first_b = u[5, in_b] < 0.5 if double else np.ones(in_b.size, dtype=bool)
        for i, rows in ((0, first_b), (1, ~first_b)) if double else ((0, first_b),):
            q_b_i = tables[i][1]
            q_b_i[in_b[rows], b[rows]] += alpha * (r[rows] - q_b_i[in_b[rows], b[rows]])  # terminal: target r
    return left
