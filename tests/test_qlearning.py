"""Tests for the tabular TD code (metarl_edu.td, metarl_edu.agents, metarl_edu.fast.qlearning), in layers.

1. The updates, targets and action choice on cases worked out by hand (the arithmetic sits next to each).
2. Fast against naive: the agent against a plain loop of the pure functions that reads the same random numbers
   (and the agent calls td's update once per transition); BatchedQLearning against a plain loop over tasks and
   transitions with a fixed random sequence (identical q tables); the Discretizer against np.digitize +
   np.ravel_multi_index.
3. Learning: exact solutions on a deterministic gridworld (q = q* from value iteration), near-optimal FrozenLake
   (the best success rate computed exactly from the transition table), Sutton & Barto's cliff-walking contrast
   of Q-learning and Sarsa, a short CartPole run that beats a random policy.
4. Validation: every bad input raises an error that names what is wrong.
"""

from __future__ import annotations

import copy
import doctest

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

import metarl_edu
from metarl_edu import agents, td
from metarl_edu.agents import Discretizer, ExponentialSchedule, LinearSchedule, QLearningAgent, schedule_values
from metarl_edu.envs import TabularMDPEnv
from metarl_edu.fast import qlearning as fast_qlearning
from metarl_edu.fast.qlearning import BatchedQLearning
from metarl_edu.mdp import TabularMDP, policy_evaluation, q_from_v, value_iteration
from metarl_edu.td import (
    action_from_uniforms,
    epsilon_greedy,
    epsilon_greedy_probs,
    expected_sarsa_update,
    q_learning_update,
    sarsa_update,
    td_target,
)


def q_with_next_row() -> np.ndarray:
    """q (2, 2) = 0 except q[1] = [0, 2]: the next state's values in the hand-worked updates below."""
    q = np.zeros((2, 2))
    q[1] = [0.0, 2.0]
    return q


# ============================================================================================ 1. by hand
def test_td_target_bootstraps_unless_terminated():
    # r + gamma * max(q_next) = 1 + 0.5 * 2 = 2; a terminal next state has value 0, so the target is r = 1
    assert td_target(1.0, np.array([0.0, 2.0]), gamma=0.5, terminated=False) == 2.0
    assert td_target(1.0, np.array([0.0, 2.0]), gamma=0.5, terminated=True) == 1.0
    # gamma = 0: only the reward counts
    assert td_target(1.0, np.array([5.0, 7.0]), gamma=0.0, terminated=False) == 1.0


def test_q_learning_update_by_hand_returns_a_new_table():
    q = q_with_next_row()
    # target 2 (above); q[0, 1] = 0 + 0.5 * (2 - 0) = 1
    q_new = q_learning_update(q, s=0, a=1, r=1.0, s_next=1, terminated=False, alpha=0.5, gamma=0.5)
    assert q_new[0, 1] == 1.0
    assert q[0, 1] == 0.0, "the input table must not change"
    np.testing.assert_array_equal(np.delete(q_new.ravel(), 1), np.delete(q.ravel(), 1))
    # terminated: target 1; q[0, 1] = 0.5 * 1 = 0.5
    q_end = q_learning_update(q, s=0, a=1, r=1.0, s_next=1, terminated=True, alpha=0.5, gamma=0.5)
    assert q_end[0, 1] == 0.5
    # a truncated step is passed as terminated=False, so it bootstraps exactly like a step that goes on
    q_cut = q_learning_update(q, s=0, a=1, r=1.0, s_next=1, terminated=False, alpha=0.5, gamma=0.5)
    assert q_cut[0, 1] == 1.0
    # alpha = 1 replaces the old value by the target
    q[0, 1] = 7.0
    assert q_learning_update(q, 0, 1, 1.0, 1, False, alpha=1.0, gamma=0.5)[0, 1] == 2.0


def test_sarsa_update_uses_the_next_action_taken():
    q = q_with_next_row()
    # a_next = 0: target = 1 + 0.5 * q[1, 0] = 1; q[0, 1] = 0.5 * 1 = 0.5 (Q-learning would use max = 2)
    assert sarsa_update(q, 0, 1, 1.0, 1, a_next=0, terminated=False, alpha=0.5, gamma=0.5)[0, 1] == 0.5
    # a_next = 1: target = 1 + 0.5 * 2 = 2; q[0, 1] = 1
    assert sarsa_update(q, 0, 1, 1.0, 1, a_next=1, terminated=False, alpha=0.5, gamma=0.5)[0, 1] == 1.0
    assert sarsa_update(q, 0, 1, 1.0, 1, a_next=1, terminated=True, alpha=0.5, gamma=0.5)[0, 1] == 0.5
    assert q[0, 1] == 0.0


def test_expected_sarsa_update_by_hand():
    q = q_with_next_row()
    # epsilon = 0.5, A = 2: pi(. | s') = [0.25, 0.25 + 0.5] = [0.25, 0.75]; E q = 0.75 * 2 = 1.5
    # target = 1 + 0.5 * 1.5 = 1.75; q[0, 1] = 0.5 * 1.75 = 0.875
    q_new = expected_sarsa_update(q, 0, 1, 1.0, 1, terminated=False, alpha=0.5, gamma=0.5, epsilon=0.5)
    assert q_new[0, 1] == pytest.approx(0.875, abs=1e-15)
    # epsilon = 0 is Q-learning; terminated ignores the next state
    np.testing.assert_array_equal(expected_sarsa_update(q, 0, 1, 1.0, 1, False, 0.5, 0.5, epsilon=0.0),
                                  q_learning_update(q, 0, 1, 1.0, 1, False, 0.5, 0.5))
    assert expected_sarsa_update(q, 0, 1, 1.0, 1, True, 0.5, 0.5, epsilon=0.5)[0, 1] == 0.5


def test_epsilon_greedy_probs_share_the_greedy_mass_among_ties():
    # A = 3, epsilon = 0.3: 0.1 each, plus 0.7 / 2 on each of the two maximal actions
    np.testing.assert_allclose(epsilon_greedy_probs(np.array([1.0, 1.0, 0.0]), 0.3), [0.45, 0.45, 0.1])
    np.testing.assert_allclose(epsilon_greedy_probs(np.array([0.0, 3.0, 1.0]), 0.0), [0.0, 1.0, 0.0])


def test_epsilon_zero_is_greedy_and_epsilon_one_is_uniform():
    rng = np.random.default_rng(0)
    q_s = np.array([0.0, 2.0, 1.0, -1.0])
    assert {epsilon_greedy(q_s, 0.0, rng) for _ in range(200)} == {1}
    counts = np.bincount([epsilon_greedy(q_s, 1.0, rng) for _ in range(8000)], minlength=4)
    # each action with probability 1/4: 2000 expected, standard deviation sqrt(8000 * 1/4 * 3/4) = 39
    np.testing.assert_allclose(counts, 2000, atol=4 * 39)


def test_epsilon_greedy_breaks_ties_at_random():
    rng = np.random.default_rng(1)
    q_s = np.array([1.0, 1.0, 0.0, 1.0])
    counts = np.bincount([epsilon_greedy(q_s, 0.0, rng) for _ in range(6000)], minlength=4)
    # the three maximal actions 1/3 each: 2000 expected, sd sqrt(6000 * 1/3 * 2/3) = 36.5; action 2 never
    assert counts[2] == 0
    np.testing.assert_allclose(counts[[0, 1, 3]], 2000, atol=4 * 36.5)
    # epsilon = 0.4: action 2 gets only the exploring share 0.4 / 4 = 0.1 (sd sqrt(6000 * 0.1 * 0.9) = 23)
    counts = np.bincount([epsilon_greedy(q_s, 0.4, rng) for _ in range(6000)], minlength=4)
    assert abs(counts[2] - 600) < 4 * 23


def test_action_from_uniforms_by_hand():
    q_s = [1.0, 1.0, 0.0, 1.0]
    # explore (u_explore < epsilon): floor(u_action * A) = floor(0.6 * 4) = 2, a non-maximal action
    assert action_from_uniforms(q_s, 0.5, u_explore=0.1, u_action=0.6) == 2
    # exploit: k = 3 maximal actions [0, 1, 3]; floor(0.5 * 3) = 1 -> action 1; floor(0.9 * 3) = 2 -> action 3
    assert action_from_uniforms(q_s, 0.5, u_explore=0.7, u_action=0.5) == 1
    assert action_from_uniforms(q_s, 0.5, u_explore=0.7, u_action=0.9) == 3
    assert action_from_uniforms(q_s, 0.0, u_explore=0.0, u_action=0.0) == 0  # u_explore < 0 never holds
    assert action_from_uniforms([0.0, 5.0], 1.0, u_explore=0.999, u_action=0.2) == 0  # epsilon 1: explore


def test_linear_and_exponential_schedules_by_hand():
    linear = LinearSchedule(1.0, 0.0, 4)
    assert [linear(e) for e in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert LinearSchedule(1.0, 0.01).for_episodes(2000).n_episodes == 1000  # the first half by default
    assert LinearSchedule(1.0, 0.01, fraction=0.25).for_episodes(10).n_episodes == 3  # ceil(2.5)
    assert linear.for_episodes(99) is linear
    np.testing.assert_allclose(linear(np.array([0, 2, 8])), [1.0, 0.5, 0.0])
    expo = ExponentialSchedule(1.0, 0.2, 0.5)
    np.testing.assert_allclose([expo(e) for e in range(3)], [1.0, 0.6, 0.4], rtol=0, atol=1e-15)  # 0.2 + 0.8 * 0.5**e
    np.testing.assert_array_equal(schedule_values("epsilon", lambda e: 1 / (e + 1), 4, 0.0, 1.0),
                                  [1.0, 0.5, 1 / 3, 0.25])
    np.testing.assert_array_equal(schedule_values("alpha", 0.3, 3, 0.0, 1.0, low_open=True), [0.3] * 3)


# ============================================================================================ 2. fast vs naive
def chain_env(terminal_end: bool, max_episode_steps: int | None = None) -> gym.Env:
    """s0 --(the only action, reward 1)--> s1, which is terminal or (if not) loops on itself with reward 0."""
    P = np.zeros((2, 1, 2))
    P[:, 0, 1] = 1.0
    mdp = TabularMDP(P=P, R=[[1.0], [0.0]], gamma=1.0, terminal=[False, terminal_end], start=[1.0, 0.0])
    env = TabularMDPEnv(mdp)
    return env if max_episode_steps is None else TimeLimit(env, max_episode_steps)


def test_agent_stops_bootstrapping_on_termination_but_not_on_truncation():
    # q starts at 2 everywhere, alpha = 1, gamma = 0.5, one episode of one step s0 -> s1 with r = 1.
    ended = QLearningAgent(chain_env(terminal_end=True), alpha=1.0, gamma=0.5, epsilon=0.0, q_init=2.0,
                           seed=0, progress=False)
    ended.train(1)
    assert ended.q[0, 0] == 1.0  # terminated: target = r = 1, q[s1] (= 2) is ignored
    cut = QLearningAgent(chain_env(terminal_end=False, max_episode_steps=1), alpha=1.0, gamma=0.5, epsilon=0.0,
                         q_init=2.0, seed=0, progress=False)
    returns = cut.train(1)
    assert cut.q[0, 0] == 2.0  # truncated by the time limit: target = 1 + 0.5 * q[s1] = 1 + 0.5 * 2
    assert returns.tolist() == [1.0] and cut.n_transitions == 1


def test_agent_max_steps_truncates_and_still_bootstraps():
    agent = QLearningAgent(chain_env(terminal_end=False), alpha=1.0, gamma=0.5, epsilon=0.0, q_init=2.0,
                           max_steps=3, seed=0, progress=False)
    returns = agent.train(2)
    assert agent.n_transitions == 6 and returns.tolist() == [1.0, 1.0]
    # q[s1] = 0 + 0.5 * q[s1], applied 2 times per episode from 2: 2 -> 1 -> 0.5, then 0.25 -> 0.125
    assert agent.q[1, 0] == 0.125


DETERMINISTIC = """
    #######
    #S..#G#
    #.#.#.#
    #.....#
    #######
"""


def plain_agent_loop(env, rng, n_episodes, method, alpha, gamma, epsilon, n_actions, n_states):
    """The agent's learning written with the pure functions, one step at a time, drawing u_explore, u_action
    from ``rng`` for every action choice (the rule of action_from_uniforms)."""
    q = np.zeros((n_states, n_actions))

    def choose(s):
        u_explore, u_action = rng.random(), rng.random()
        return action_from_uniforms(q[s].tolist(), epsilon, u_explore, u_action)

    returns = []
    for _ in range(n_episodes):
        s, _ = env.reset()
        a = choose(s)
        G, done = 0.0, False
        while not done:
            s_next, r, terminated, truncated, _ = env.step(a)
            G += r
            if method == "sarsa":
                a_next = choose(s_next) if not terminated else 0
                q = sarsa_update(q, s, a, r, s_next, a_next, terminated, alpha, gamma)
            elif method == "expected_sarsa":
                q = expected_sarsa_update(q, s, a, r, s_next, terminated, alpha, gamma, epsilon)
            else:
                q = q_learning_update(q, s, a, r, s_next, terminated, alpha, gamma)
            done = terminated or truncated
            if not done:
                s = s_next
                a = a_next if method == "sarsa" else choose(s)
        returns.append(G)
    return q, np.array(returns)


@pytest.mark.parametrize("method", ["q_learning", "sarsa", "expected_sarsa"])
def test_agent_learns_exactly_like_the_pure_functions(method):
    make = lambda: gym.make("metarl_edu/GridWorld-v0", layout=DETERMINISTIC, step_reward=-0.1)  # noqa: E731
    agent = QLearningAgent(make(), alpha=0.5, gamma=0.9, epsilon=0.3, seed=3, method=method, progress=False)
    rng = copy.deepcopy(agent.rng)  # the same stream of uniform numbers as the agent
    returns = agent.train(30)
    q_ref, returns_ref = plain_agent_loop(make(), rng, 30, method, 0.5, 0.9, 0.3, agent.n_actions, agent.n_states)
    np.testing.assert_array_equal(returns, returns_ref)
    np.testing.assert_array_equal(agent.q, q_ref)


@pytest.mark.parametrize(("method", "update"), [("q_learning", "q_learning_update"), ("sarsa", "sarsa_update"),
                                                ("expected_sarsa", "expected_sarsa_update")])
def test_agent_calls_the_taught_update_once_per_transition(monkeypatch, method, update):
    make = lambda: gym.make("metarl_edu/GridWorld-v0", layout=DETERMINISTIC, step_reward=-0.1)  # noqa: E731
    plain = QLearningAgent(make(), alpha=0.5, gamma=0.9, epsilon=0.3, seed=4, method=method, progress=False)
    returns_plain = plain.train(20)
    calls = []
    original = getattr(td, update)

    def counted(*args, **kwargs):
        calls.append(args[1:3])  # (s, a)
        return original(*args, **kwargs)

    monkeypatch.setattr(td, update, counted)  # the agent looks the function up in td at every step
    agent = QLearningAgent(make(), alpha=0.5, gamma=0.9, epsilon=0.3, seed=4, method=method, progress=False)
    returns = agent.train(20)
    assert len(calls) == agent.n_transitions == plain.n_transitions > 20
    np.testing.assert_array_equal(returns, returns_plain)
    np.testing.assert_array_equal(agent.q, plain.q)


class FixedUniforms:
    """An injectable random source: a fixed sequence of numbers in [0, 1), handed out in order."""

    def __init__(self, seed: int, n: int = 400_000) -> None:
        self.u = np.random.default_rng(seed).random(n)
        self.i = 0

    def random(self, size):
        k = int(np.prod(size))
        out = self.u[self.i:self.i + k].reshape(size)
        self.i += k
        return out


def first_index_below(p: np.ndarray, u: float) -> int:
    """The first x with u < p[0] + ... + p[x]: inverse-CDF sampling."""
    return next(x for x, c in enumerate(np.cumsum(p)) if u < c)


def plain_batched_reference(mdps, n_episodes, alpha, epsilon, gamma, max_steps, source):
    """BatchedQLearning's contract as a plain loop: each step, for each task still learning (in order), one
    transition with action_from_uniforms and q_learning_update reading 3 numbers, then one number for each task
    whose episode ended, for its next first state.
    ``alpha(e)`` and ``epsilon(e)`` give the (N,) values of episode e; task i reads entry i at its own episode."""
    N = len(mdps)
    q = [np.zeros((m.n_states, m.n_actions)) for m in mdps]
    returns, n_transitions = np.zeros((N, n_episodes)), 0
    u_first = source.random(N)
    s = [first_index_below(m.start, u) for m, u in zip(mdps, u_first, strict=True)]
    G, t, episode = [0.0] * N, [0] * N, [0] * N
    live = list(range(N))
    while live:
        u = source.random((3, len(live)))
        ended = []
        for col, i in enumerate(live):
            m, e = mdps[i], episode[i]
            a = action_from_uniforms(q[i][s[i]].tolist(), epsilon(e)[i], u[0, col], u[1, col])
            s_next = first_index_below(m.P[s[i], a], u[2, col])
            r = m.R[s[i], a, s_next] if m.R.ndim == 3 else m.R[s[i], a]
            terminated = bool(m.terminal[s_next])
            q[i] = q_learning_update(q[i], s[i], a, r, s_next, terminated, alpha(e)[i], gamma[i])
            G[i] += r
            t[i] += 1
            n_transitions += 1
            s[i] = s_next
            if terminated or t[i] >= max_steps:
                returns[i, e], G[i], t[i] = G[i], 0.0, 0
                episode[i] += 1
                ended.append(i)
        if ended:
            for i, u_reset in zip(ended, source.random(len(ended)), strict=True):
                s[i] = first_index_below(mdps[i].start, u_reset)
        live = [i for i in live if episode[i] < n_episodes]
    return np.stack(q), returns, n_transitions


def random_small_mdps(n: int, seed: int) -> list[TabularMDP]:
    """n MDPs with S = 4, A = 3: sparse random transitions (1 to 4 possible next states), rewards in {0, 1}
    (so that action values tie often), state 3 terminal, a random start distribution over states 0-2."""
    rng = np.random.default_rng(seed)
    mdps = []
    for _ in range(n):
        P = rng.random((4, 3, 4)) * (rng.random((4, 3, 4)) < 0.6)
        P[..., 0] += (P.sum(axis=-1) == 0)  # at least one possible next state
        P /= P.sum(axis=-1, keepdims=True)
        R = rng.integers(0, 2, size=(4, 3, 4)).astype(float)
        start = np.append(rng.dirichlet(np.ones(3)), 0.0)
        mdps.append(TabularMDP(P=P, R=R, gamma=0.9, terminal=[False, False, False, True], start=start))
    return mdps


def test_batched_learns_exactly_like_a_plain_loop():
    mdps = random_small_mdps(6, seed=0)
    mdps[2] = TabularMDP(P=mdps[2].P, R=mdps[2].R[:, :, 0], gamma=0.5, terminal=mdps[2].terminal,
                         start=mdps[2].start)  # one task with R of shape (S, A)
    alpha = np.array([0.1, 0.5, 1.0, 0.3, 0.2, 0.7])
    gamma = np.array([0.9, 1.0, 0.5, 0.0, 0.99, 0.8])
    epsilon = LinearSchedule(1.0, 0.0, 10)  # includes epsilon = 0 (greedy, ties at random)
    batch = BatchedQLearning(mdps, alpha=alpha, gamma=gamma, epsilon=epsilon, max_steps=5,
                             rng=FixedUniforms(42), progress=False)
    returns = batch.train(40)
    q_ref, returns_ref, n_ref = plain_batched_reference(mdps, 40, lambda e: alpha, lambda e: np.full(6, epsilon(e)),
                                                        gamma, 5, FixedUniforms(42))
    assert batch.n_transitions == n_ref
    np.testing.assert_array_equal(returns, returns_ref)
    np.testing.assert_array_equal(batch.q, q_ref)
    # training goes on from the learned table
    returns_more = batch.train(3)
    assert returns_more.shape == (6, 3)


def test_batched_schedules_per_row_and_default_gamma_from_the_mdps():
    mdps = random_small_mdps(3, seed=1)
    mdps[1] = mdps[1].with_gamma(0.5)
    alpha = lambda e: np.array([0.5, 0.4, 0.3]) / (1 + e)  # noqa: E731  (a schedule with one value per row)
    batch = BatchedQLearning(mdps, alpha=alpha, epsilon=0.2, max_steps=4, rng=FixedUniforms(7), progress=False)
    returns = batch.train(12)
    q_ref, returns_ref, _ = plain_batched_reference(mdps, 12, alpha, lambda e: np.full(3, 0.2), [0.9, 0.5, 0.9],
                                                    4, FixedUniforms(7))
    np.testing.assert_array_equal(batch.gamma, [0.9, 0.5, 0.9])
    np.testing.assert_array_equal(returns, returns_ref)
    np.testing.assert_array_equal(batch.q, q_ref)


def test_batched_is_reproducible_with_a_seed():
    mdps = random_small_mdps(4, seed=3)
    runs = [BatchedQLearning(mdps, seed=5, max_steps=10, progress=False) for _ in range(3)]
    returns = [run.train(30) for run in runs[:2]]
    np.testing.assert_array_equal(returns[0], returns[1])
    np.testing.assert_array_equal(runs[0].q, runs[1].q)
    runs[2].rng = np.random.default_rng(6)
    runs[2].train(30)
    assert not np.array_equal(runs[0].q, runs[2].q)


def test_batched_learns_frozen_lake():
    mdp = TabularMDP.from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.99)
    batch = BatchedQLearning([mdp] * 64, alpha=0.2, epsilon=LinearSchedule(1.0, 0.1), seed=0, progress=False)
    returns = batch.train(500)
    v_star, _ = value_iteration(mdp)
    v_start = np.array([policy_evaluation(mdp, pi)[0] for pi in batch.greedy_policies()])
    v_random = policy_evaluation(mdp, np.full((16, 4), 0.25))[0]
    # v*(start) = 0.542, the uniformly random policy 0.012 (both exact); 500 episodes get more than half way
    assert v_random < 0.02 and v_start.mean() > 0.5 * v_star[0]
    assert returns[:, -100:].mean() > 5 * returns[:, :100].mean()
    assert batch.greedy_policies().shape == (64, 16, 4)


def naive_discretize(d: Discretizer, obs: np.ndarray) -> int:
    inner_edges = [d.bin_edges(i)[1:-1] for i in range(len(d.bins))]
    bins = [int(np.digitize(x, edges)) for x, edges in zip(obs, inner_edges, strict=True)]
    return int(np.ravel_multi_index(bins, d.bins))


def test_discretizer_against_digitize_and_its_index_range():
    d = Discretizer(bins=(3, 1, 4, 5), low=(-1.0, 0.0, -2.0, 0.0), high=(1.0, 1.0, 2.0, 10.0))
    rng = np.random.default_rng(0)
    obs = rng.uniform([-2, -1, -3, -5], [2, 2, 3, 15], size=(3000, 4))  # also well outside the ranges
    index = [d(o) for o in obs]
    assert index == [naive_discretize(d, o) for o in obs]
    assert set(index) == set(range(d.n_states)) and d.n_states == 3 * 1 * 4 * 5


def test_discretizer_by_hand_and_clipping():
    d = Discretizer(bins=(2, 3), low=(0.0, 0.0), high=(1.0, 3.0))
    assert d(np.array([0.9, 1.5])) == 1 * 3 + 1  # bins (1, 1)
    assert d([0.0, 0.0]) == 0
    assert d([-5.0, 100.0]) == 0 * 3 + 2  # clipped to the first and the last bin
    assert d([1.0, -1.0]) == 1 * 3 + 0  # the upper edge belongs to the last bin
    np.testing.assert_allclose(d.bin_edges(1), [0, 1, 2, 3])


def test_cartpole_discretizer_defaults():
    d = Discretizer.for_cartpole()
    assert d.n_states == 1 * 4 * 6 * 12
    assert d.low == tuple(-h for h in d.high)
    # the velocities are unbounded in the observation space: far values are clipped to the last bins
    assert d([0.0, 50.0, 0.0, -50.0]) == d([0.0, 2.0, 0.0, -2.0])
    assert d([-2.0, 0.0, 0.0, 0.0]) == d([2.0, 0.0, 0.0, 0.0])  # one position bin: the position is ignored


def test_discretizer_for_a_bounded_box_env():
    d = Discretizer.for_env(gym.make("MountainCar-v0"), bins=8)
    assert d.bins == (8, 8) and d.n_states == 64
    assert d.low == pytest.approx((-1.2, -0.07)) and d.high == pytest.approx((0.6, 0.07))
    assert Discretizer.for_env(gym.make("CartPole-v1"), bins=(1, 2, 3, 4), low=[-1] * 4, high=[1] * 4).n_states == 24


# ============================================================================================ 3. learning
def test_agent_solves_a_deterministic_gridworld_exactly():
    env = gym.make("metarl_edu/GridWorld-v0", layout="small")
    mdp = env.unwrapped.grid.mdp
    # off-policy: a uniformly random behaviour policy, alpha = 1 (exact in a deterministic world)
    agent = QLearningAgent(env, alpha=1.0, gamma=mdp.gamma, epsilon=1.0, seed=0, progress=False)
    agent.train(200)
    v_star, _ = value_iteration(mdp)
    np.testing.assert_allclose(policy_evaluation(mdp, agent.greedy_policy()), v_star, rtol=0, atol=1e-6)
    np.testing.assert_allclose(agent.q, q_from_v(mdp, v_star), rtol=0, atol=1e-6)


def test_agent_comes_close_to_the_best_success_rate_on_frozen_lake():
    mdp = TabularMDP.from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.99)
    v_star, pi_star = value_iteration(mdp)
    # success probability = value with reward 1 only at the goal and no discount (4x4 slippery: 14/17 = 0.824)
    best_success = policy_evaluation(mdp.with_gamma(1.0), pi_star)[0]
    assert best_success == pytest.approx(14 / 17, abs=1e-9)
    agent = QLearningAgent(gym.make("FrozenLake-v1"), epsilon=LinearSchedule(1.0, 0.1), seed=0, progress=False)
    agent.train(3000)
    pi = agent.greedy_policy()
    assert policy_evaluation(mdp.with_gamma(1.0), pi)[0] > 0.9 * best_success
    assert policy_evaluation(mdp, pi)[0] > 0.95 * v_star[0]


def test_cliff_walking_q_learning_takes_the_edge_and_sarsa_earns_more_online():
    # Sutton & Barto (2018), example 6.6: with epsilon = 0.1, Q-learning learns the optimal path along the cliff
    # (13 steps, return -13) but falls off while exploring; Sarsa learns a safer path and earns more per episode.
    runs = {}
    for method in ("q_learning", "sarsa"):
        agent = QLearningAgent(gym.make("CliffWalking-v1"), alpha=0.5, gamma=1.0, epsilon=0.1, seed=1,
                               method=method, progress=False)
        runs[method] = (agent, agent.train(300))
    q_agent, q_returns = runs["q_learning"]
    _, sarsa_returns = runs["sarsa"]
    assert q_agent.evaluate(1, progress=False).tolist() == [-13.0]
    assert sarsa_returns[-100:].mean() > q_returns[-100:].mean() + 10


def random_policy_mean_return(env, n_episodes, seed):
    env.action_space.seed(seed)
    env.reset(seed=seed)
    total = 0.0
    for _ in range(n_episodes):
        env.reset()
        done = False
        while not done:
            _, r, terminated, truncated, _ = env.step(env.action_space.sample())
            total += r
            done = terminated or truncated
    return total / n_episodes


def test_cartpole_short_run_beats_a_random_policy_twice_over():
    random_mean = random_policy_mean_return(gym.make("CartPole-v1"), 50, seed=0)
    assert 15 < random_mean < 30  # about 22 steps
    # The defaults are set for 2000 episodes (greedy return ~500 for seeds 0-14); in a quick run a larger early
    # step size learns sooner. Same discretiser, same code path.
    agent = QLearningAgent(gym.make("CartPole-v1"), alpha=LinearSchedule(0.5, 0.1), seed=0, progress=False)
    assert isinstance(agent.discretizer, Discretizer) and agent.n_states == Discretizer.for_cartpole().n_states
    agent.train(300)
    assert agent.evaluate(10, progress=False).mean() > 2 * random_mean


def test_exact_call_with_defaults_works():
    env = gym.make("CartPole-v1")
    agent = QLearningAgent(env)
    assert agent.progress is True and agent.q.shape == (288, 2) and agent.alpha == 0.1 and agent.gamma == 0.99
    returns = agent.train(3, progress=False)
    assert returns.shape == (3,) and np.all(returns >= 1)


def test_same_seed_same_run_different_seed_differs():
    def run(seed):
        agent = QLearningAgent(gym.make("FrozenLake-v1"), seed=seed, progress=False)
        return agent.train(200), agent.q.copy(), agent.evaluate(20, progress=False)

    first, again, other = run(7), run(7), run(8)
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[1], other[1])


def test_act_greedy_policy_and_evaluate_do_not_learn():
    agent = QLearningAgent(gym.make("FrozenLake-v1"), seed=0, progress=False)
    agent.q[:] = 0.0
    agent.q[0] = [0.0, 1.0, 1.0, 0.0]
    assert agent.act(0, greedy=True) == 1  # ties to the lowest action, as greedy_policy
    assert agent.greedy_policy()[0].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert {agent.act(0, epsilon=0.0) for _ in range(100)} == {1, 2}  # ties at random when acting
    assert set(agent.act(5, epsilon=1.0) for _ in range(200)) == {0, 1, 2, 3}
    before = agent.q.copy()
    agent.evaluate(5, progress=False)
    np.testing.assert_array_equal(agent.q, before)
    with pytest.raises(ValueError, match=r"outside the table's \[0, 16\)"):
        agent.act(16)
    cartpole = QLearningAgent(gym.make("CartPole-v1"), progress=False)
    assert cartpole.state([0.0, 0.0, 0.0, 0.0]) == Discretizer.for_cartpole()([0.0, 0.0, 0.0, 0.0])
    assert cartpole.act([0.0, 0.0, 0.0, 0.0], greedy=True) == 0
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        cartpole.act([0.0, 0.0])


# ============================================================================================ 4. validation
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"alpha": 0.0}, ValueError, r"alpha must be in \(0, 1\]; got 0.0"),
        ({"alpha": 1.5}, ValueError, r"alpha must be in \(0, 1\]"),
        ({"alpha": "0.1"}, TypeError, "alpha must be a number"),
        ({"gamma": 1.01}, ValueError, r"gamma must be in \[0, 1\]"),
        ({"gamma": True}, TypeError, "gamma must be a number"),
        ({"epsilon": -0.1}, ValueError, r"epsilon must be in \[0, 1\]"),
        ({"epsilon": lambda e: 1.5}, ValueError, "epsilon schedule .* at episode 0"),
        ({"epsilon": LinearSchedule(2.0, 0.0)}, ValueError, r"epsilon must be in \[0, 1\]; got 2.0"),
        ({"method": "dqn"}, ValueError, "method must be one of"),
        ({"seed": "zero"}, TypeError, "seed must be an integer"),
        ({"q_init": float("nan")}, ValueError, "q_init"),
        ({"max_steps": 0}, ValueError, "max_steps must be an integer >= 1"),
    ],
)
def test_bad_agent_arguments_are_explained(kwargs, error, message):
    with pytest.raises(error, match=message):
        QLearningAgent(gym.make("FrozenLake-v1"), progress=False, **kwargs)


def test_schedule_going_out_of_range_later_is_caught_when_training_starts():
    agent = QLearningAgent(gym.make("FrozenLake-v1"), epsilon=lambda e: 1.0 - 0.1 * e, progress=False)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]; got -0.1.* at episode 11"):
        agent.train(20)
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 1"):
        agent.train(0)


def test_unsupported_spaces_are_explained():
    with pytest.raises(TypeError, match="continuous .*lesson 06"):
        QLearningAgent(gym.make("MountainCarContinuous-v0"))
    with pytest.raises(TypeError, match="Pass a discretizer"):
        QLearningAgent(gym.make("Blackjack-v1"))

    class Unbounded(gym.Env):
        observation_space = spaces.Box(-np.inf, np.inf, shape=(2,))
        action_space = spaces.Discrete(2)

    with pytest.raises(ValueError, match=r"unbounded in dimension\(s\) \[0, 1\].*pass finite low= and high="):
        QLearningAgent(Unbounded())
    agent = QLearningAgent(Unbounded(), discretizer=Discretizer.for_env(Unbounded(), 4, [-1, -1], [1, 1]))
    assert agent.n_states == 16
    with pytest.raises(ValueError, match="discretizer has 4 dimension"):
        QLearningAgent(Unbounded(), discretizer=Discretizer.for_cartpole())
    with pytest.raises(TypeError, match="discretizer must have n_states"):
        QLearningAgent(Unbounded(), discretizer=lambda obs: 0)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (((0, 2), (0, 0), (1, 1)), ValueError, r"bins\[0\] must be >= 1"),
        (((2,), (1.0,), (1.0,)), ValueError, r"low\[0\] must be below high\[0\]"),
        (((2,), (0.0,), (np.inf,)), ValueError, "must be finite"),
        (((2, 2), (0.0,), (1.0, 1.0)), ValueError, "one entry per dimension"),
        (((2,), ("a",), (1.0,)), TypeError, "sequences of numbers"),
    ],
)
def test_bad_discretizers_are_explained(args, error, message):
    with pytest.raises(error, match=message):
        Discretizer(*args)


def test_bad_observations_are_explained():
    d = Discretizer(bins=(2, 3), low=(0.0, 0.0), high=(1.0, 3.0))
    with pytest.raises(ValueError, match=r"shape \(2,\); got \(3,\)"):
        d([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"shape \(2,\); got \(2, 2\)"):
        d(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="must be finite"):
        d([np.nan, 0.0])
    with pytest.raises(TypeError, match="1-D Box"):
        Discretizer.for_env(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="4 entries"):
        Discretizer.for_env(gym.make("CartPole-v1"), low=[0, 0], high=[1, 1])


def test_bad_schedules_are_explained():
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 1 or None"):
        LinearSchedule(1.0, 0.0, 0)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        LinearSchedule(1.0, 0.0, fraction=0.0)
    with pytest.raises(ValueError, match="n_episodes=None"):
        LinearSchedule(1.0, 0.0)(3)
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\]"):
        ExponentialSchedule(1.0, 0.0, 0.0)


def test_bad_batches_are_explained():
    mdps = random_small_mdps(3, seed=2)
    with pytest.raises(TypeError, match="non-empty sequence of metarl_edu.TabularMDP"):
        BatchedQLearning([])
    other = TabularMDP.from_gymnasium(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="share S and A"):
        BatchedQLearning([mdps[0], other])
    with pytest.raises(ValueError, match=r"alpha must be a number or an array of shape \(N,\) = \(3,\)"):
        BatchedQLearning(mdps, alpha=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\]; got 0.0 for task 2"):
        BatchedQLearning(mdps, alpha=[0.1, 0.2, 0.0])
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]; got 2.0 for task 0"):
        BatchedQLearning(mdps, gamma=2.0)
    with pytest.raises(ValueError, match="epsilon schedule .* at episode 3"):
        BatchedQLearning(mdps, epsilon=lambda e: 1.0 - 0.4 * e).train(5)
    with pytest.raises(TypeError, match="random"):
        BatchedQLearning(mdps, rng=object())

    class Short:
        def random(self, size):
            return np.zeros(1)

    with pytest.raises(ValueError, match="uniform numbers in"):
        BatchedQLearning(mdps, rng=Short(), progress=False).train(1)


# ============================================================================================ package
def test_public_names_and_docstring_examples():
    for name in ("QLearningAgent", "BatchedQLearning", "Discretizer", "LinearSchedule", "ExponentialSchedule",
                 "epsilon_greedy", "q_learning_update", "sarsa_update", "expected_sarsa_update", "td_target"):
        module = next(m for m in (td, agents, fast_qlearning) if hasattr(m, name))
        assert getattr(metarl_edu, name) is getattr(module, name) and name not in metarl_edu._LAZY
    for module in (td, agents, fast_qlearning):
        failures, _ = doctest.testmod(module)
        assert failures == 0


def test_bench_runs_small_and_the_command_prints_its_table(monkeypatch, capsys):
    from metarl_edu.classroom import cli
    from metarl_edu.studies import bench

    figures = bench.bench_qlearning(n_episodes=20, n_tasks=5, n_batched_episodes=5, repeats=1)
    assert figures["loop_per_s"] > 0 and figures["agent_per_s"] > 0 and figures["batched_per_s"] > 0
    assert figures["agent_vs_loop"] == pytest.approx(figures["agent_per_s"] / figures["loop_per_s"])
    monkeypatch.setattr(bench, "bench_qlearning", lambda repeats: dict(figures, repeats=repeats))
    assert cli.main(["bench", "qlearning", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "(a) textbook loop" in out and "(c)/(a)" in out


def test_textbook_loop_learns_frozen_lake():
    env = gym.make("FrozenLake-v1")
    env.reset(seed=0)
    from metarl_edu.studies.bench import textbook_q_learning

    q, n = textbook_q_learning(env, 2000, alpha=0.1, gamma=0.99, epsilon=0.5, rng=np.random.default_rng(0))
    mdp = TabularMDP.from_gymnasium(env, gamma=0.99)
    assert n > 2000 and policy_evaluation(mdp, metarl_edu.greedy_policy(q))[0] > 0.5 * value_iteration(mdp)[0][0]
