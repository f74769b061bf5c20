"""Tests for metarl_edu.mdp, in layers.

1. Tiny MDPs whose values are worked out by hand (the derivation sits in a comment next to each).
2. Implementations against each other and against brute force on seeded random MDPs.
3. Gymnasium's own transition tables (FrozenLake-v1, CliffWalking-v1, Taxi-v4) against ``from_gymnasium``,
   with a naive loop over ``env.unwrapped.P`` as the reference.
4. Validation: every bad input raises an MDPError whose message says what is wrong and where.
5. Sampling: reproducible with a seeded generator, and frequencies that match P.
"""

from __future__ import annotations

import dataclasses
import itertools

import gymnasium as gym
import numpy as np
import pytest

from metarl_edu.mdp import (
    MDPError,
    TabularMDP,
    backward_induction,
    bellman_expectation_backup,
    bellman_optimality_backup,
    check_policy,
    check_values,
    discounted_return,
    evaluate_policies,
    expected_reward,
    finite_horizon_q,
    greedy_policy,
    iterative_policy_evaluation,
    policy_evaluation,
    policy_iteration,
    q_from_v,
    uniform_policy,
    value_iteration,
)

LEFT, RIGHT = 0, 1  # actions of the hand-built corridor


# ============================================================================================ helpers
def corridor(gamma: float = 1.0) -> TabularMDP:
    """States 0 - 1 - 2, state 2 terminal; actions LEFT, RIGHT; every step costs -1.

    LEFT in state 0 bumps into the wall and stays in 0.
    """
    P = np.zeros((3, 2, 3))
    P[0, LEFT, 0] = 1.0
    P[0, RIGHT, 1] = 1.0
    P[1, LEFT, 0] = 1.0
    P[1, RIGHT, 2] = 1.0
    P[2, :, 2] = 1.0
    R = np.array([[-1.0, -1.0], [-1.0, -1.0], [0.0, 0.0]])
    return TabularMDP(P=P, R=R, gamma=gamma, terminal=[False, False, True])


def one_hot_policy(actions: list[int] | tuple[int, ...], n_actions: int) -> np.ndarray:
    return np.eye(n_actions)[list(actions)]


def random_mdp(
    seed: int, S: int = 6, A: int = 3, gamma: float = 0.9, n_terminal: int = 0, reward_3d: bool = False
) -> TabularMDP:
    """Dirichlet transitions, Gaussian rewards, seeded; the last n_terminal states end the episode.

    With gamma == 1 every (s, a) also moves to the first terminal state with probability >= 0.2, so that every
    policy ends the episode.
    """
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    terminal = np.zeros(S, dtype=bool)
    if n_terminal:
        terminal[S - n_terminal :] = True
    if gamma == 1.0:
        assert n_terminal > 0
        P = 0.8 * P
        P[:, :, S - n_terminal] += 0.2
    R = rng.normal(size=(S, A, S) if reward_3d else (S, A))
    return TabularMDP(P=P, R=R, gamma=gamma, terminal=terminal)


def random_policy(rng: np.random.Generator, S: int, A: int) -> np.ndarray:
    return rng.dirichlet(np.ones(A), size=S)


# ============================================================================================ 1. by hand
def test_two_state_chain_gamma_0_9():
    # One action. State 0 loops on itself with reward 1; state 1 moves to state 0 with reward 2.
    #   v(0) = 1 + 0.9 v(0)          =>  v(0) = 1 / (1 - 0.9) = 10
    #   v(1) = 2 + 0.9 v(0) = 2 + 9  =>  v(1) = 11
    P = np.zeros((2, 1, 2))
    P[0, 0, 0] = 1.0
    P[1, 0, 0] = 1.0
    mdp = TabularMDP(P=P, R=[[1.0], [2.0]], gamma=0.9)
    pi = np.ones((2, 1))
    np.testing.assert_allclose(policy_evaluation(mdp, pi), [10.0, 11.0], atol=1e-12)
    np.testing.assert_allclose(iterative_policy_evaluation(mdp, pi), [10.0, 11.0], atol=1e-8)


def test_two_state_choice_gamma_0_9():
    # State 0: action 0 stays with reward 1, action 1 moves to state 1 with reward 0.
    # State 1: both actions stay with reward 2, so v*(1) = 2 / (1 - 0.9) = 20.
    # In state 0, staying forever is worth 1 / 0.1 = 10; leaving is worth 0 + 0.9 * 20 = 18 > 10.
    #   v*(0) = 18, and the optimal action in state 0 is 1; in state 1 both tie, so the lowest (0) is chosen.
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0
    P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    mdp = TabularMDP(P=P, R=[[1.0, 0.0], [2.0, 2.0]], gamma=0.9)
    v, pi = value_iteration(mdp)
    np.testing.assert_allclose(v, [18.0, 20.0], atol=1e-8)
    np.testing.assert_array_equal(pi, [[0.0, 1.0], [1.0, 0.0]])


def test_corridor_gamma_1_uniform_policy():
    # Uniform random policy on the corridor, gamma = 1, v(2) = 0 (terminal):
    #   v(0) = -1 + 0.5 v(0) + 0.5 v(1)    =>  v(0) = -2 + v(1)
    #   v(1) = -1 + 0.5 v(0) + 0.5 * 0     =>  v(1) = -1 + 0.5 (-2 + v(1))  =>  v(1) = -4, v(0) = -6
    mdp = corridor()
    pi = uniform_policy(mdp)
    np.testing.assert_allclose(policy_evaluation(mdp, pi), [-6.0, -4.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(
        iterative_policy_evaluation(mdp, pi, theta=1e-12), [-6.0, -4.0, 0.0], atol=1e-9
    )


def test_corridor_gamma_1_optimal():
    # Always RIGHT: from 1 one step to the terminal state (-1), from 0 two steps (-2).
    mdp = corridor()
    v, pi = value_iteration(mdp)
    np.testing.assert_allclose(v, [-2.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(pi[:2], [[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(policy_evaluation(mdp, pi), v, atol=1e-12)


def test_corridor_one_backup_by_hand():
    # From v = 0, one expectation sweep of the uniform policy gives r_pi: -1 in the live states, 0 at the end.
    # One optimality sweep gives the same (every action costs -1). From v = [-2, -1, 0] the optimality sweep
    # is a fixed point.
    mdp = corridor()
    np.testing.assert_allclose(bellman_expectation_backup(mdp, np.zeros(3), uniform_policy(mdp)), [-1, -1, 0])
    np.testing.assert_allclose(bellman_optimality_backup(mdp, np.zeros(3)), [-1, -1, 0])
    np.testing.assert_allclose(bellman_optimality_backup(mdp, np.array([-2.0, -1.0, 0.0])), [-2, -1, 0])


def test_q_from_v_by_hand():
    # Corridor with v = v* = [-2, -1, 0]:
    #   q(0, LEFT) = -1 + v(0) = -3    q(0, RIGHT) = -1 + v(1) = -2
    #   q(1, LEFT) = -1 + v(0) = -3    q(1, RIGHT) = -1 + v(2) = -1   (v(2) = 0: terminal)
    #   q(2, .) = 0: the episode is over there.
    mdp = corridor()
    expected = [[-3.0, -2.0], [-3.0, -1.0], [0.0, 0.0]]
    np.testing.assert_allclose(q_from_v(mdp, np.array([-2.0, -1.0, 0.0])), expected)
    # A (wrong) nonzero value stored for the terminal state must not leak into q: nothing bootstraps from it.
    np.testing.assert_allclose(q_from_v(mdp, np.array([-2.0, -1.0, 100.0])), expected)


def test_q_from_v_discounted_stochastic_by_hand():
    # gamma = 0.5, one live state 0 and a terminal state 1.
    # Action 0: to 0 w.p. 0.25, to 1 w.p. 0.75, expected reward 2. Action 1: stays in 0, reward 1.
    # With v = [4, 7]:  q(0, 0) = 2 + 0.5 (0.25 * 4 + 0.75 * 0) = 2.5;   q(0, 1) = 1 + 0.5 * 4 = 3.
    P = np.zeros((2, 2, 2))
    P[0, 0] = [0.25, 0.75]
    P[0, 1, 0] = 1.0
    P[1, :, 1] = 1.0
    mdp = TabularMDP(P=P, R=[[2.0, 1.0], [0.0, 0.0]], gamma=0.5, terminal=[False, True])
    np.testing.assert_allclose(q_from_v(mdp, np.array([4.0, 7.0])), [[2.5, 3.0], [0.0, 0.0]])


@pytest.mark.parametrize(("gamma", "expected_v0"), [(1.0, 6.0), (0.5, 4.0), (0.0, 3.0)])
def test_reward_per_transition_equals_expected_reward(gamma, expected_v0):
    # State 0, one action: back to 0 w.p. 0.5 with reward 2, into terminal state 1 w.p. 0.5 with reward 4.
    # Expected reward r(0) = 0.5 * 2 + 0.5 * 4 = 3, so R of shape (S, A) = [[3], [0]] is the same MDP.
    #   v(0) = 3 + gamma * 0.5 * v(0)  =>  v(0) = 3 / (1 - gamma / 2):
    #   6 (gamma 1), 4 (gamma 0.5), 3 (gamma 0)
    P = np.zeros((2, 1, 2))
    P[0, 0] = [0.5, 0.5]
    P[1, 0, 1] = 1.0
    R3 = np.zeros((2, 1, 2))
    R3[0, 0] = [2.0, 4.0]
    mdp3 = TabularMDP(P=P, R=R3, gamma=gamma, terminal=[False, True])
    mdp2 = TabularMDP(P=P, R=[[3.0], [0.0]], gamma=gamma, terminal=[False, True])
    np.testing.assert_allclose(mdp3.r_sa, [[3.0], [0.0]])
    pi = np.ones((2, 1))
    for mdp in (mdp3, mdp2):
        np.testing.assert_allclose(policy_evaluation(mdp, pi), [expected_v0, 0.0], atol=1e-12)
        np.testing.assert_allclose(value_iteration(mdp)[0], [expected_v0, 0.0], atol=1e-8)


def test_reward_into_terminal_counts_but_terminal_value_is_zero():
    # 0 -> 1 (terminal) with reward 5. The caller wrote nonsense for the terminal state's own row: reward 100
    # and a transition back to 0. Both must be ignored: the episode has ended in state 1.
    #   v(0) = 5 + gamma * v(1) = 5 + 0.9 * 0 = 5,   v(1) = 0
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = 1.0
    P[1, 0, 0] = 1.0
    R = np.zeros((2, 1, 2))
    R[0, 0, 1] = 5.0
    R[1, 0, :] = 100.0
    mdp = TabularMDP(P=P, R=R, gamma=0.9, terminal=[False, True])
    pi = np.ones((2, 1))
    np.testing.assert_allclose(policy_evaluation(mdp, pi), [5.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(iterative_policy_evaluation(mdp, pi), [5.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(value_iteration(mdp)[0], [5.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(q_from_v(mdp, np.array([5.0, 0.0])), [[5.0], [0.0]])


@pytest.mark.parametrize(
    ("rewards", "gamma", "expected"),
    [
        ([1.0, 1.0, 1.0], 0.5, 1.75),  # 1 + 0.5 + 0.25
        ([0.0, 0.0, 10.0], 0.9, 8.1),  # 0.9^2 * 10
        ([1.0, 2.0, 3.0], 1.0, 6.0),  # plain sum
        ([1.0, 2.0, 3.0], 0.0, 1.0),  # only the first reward
        ([-1.0, 4.0], 0.5, 1.0),  # -1 + 0.5 * 4
        ([], 0.9, 0.0),  # an empty episode returns nothing
    ],
)
def test_discounted_return(rewards, gamma, expected):
    assert discounted_return(rewards, gamma) == pytest.approx(expected, abs=1e-12)
    assert discounted_return(np.array(rewards), gamma) == pytest.approx(expected, abs=1e-12)


def test_discounted_return_matches_sum_formula():
    # G_0 = sum_k gamma^k r_{k+1}, written out directly.
    rewards = np.random.default_rng(0).normal(size=50)
    expected = sum(0.97**k * r for k, r in enumerate(rewards))
    assert discounted_return(rewards, 0.97) == pytest.approx(expected, rel=1e-12)


def test_greedy_policy_ties_go_to_lowest_action():
    q = np.array(
        [
            [1.0, 3.0, 3.0],  # exact tie between 1 and 2 -> 1
            [2.0, 2.0, 1.0],  # exact tie between 0 and 1 -> 0
            [0.0, 0.0, 0.0],  # all tie -> 0
            [5.0 - 1e-12, 5.0, 4.0],  # near-tie within 1e-12: counts as a tie -> 0
            [4.0, 7.0, 7.0 + 1e-12],  # near-tie within 1e-12 -> 1
            [0.0, 1e-6, 0.0],  # a real difference (far above the tolerance) -> 1
            [-3.0, -2.0, -1.0],  # clear winner -> 2
        ]
    )
    expected = np.eye(3)[[1, 0, 0, 0, 1, 1, 2]]
    np.testing.assert_array_equal(greedy_policy(q), expected)


def test_greedy_policy_is_one_hot():
    q = np.random.default_rng(1).normal(size=(20, 5))
    pi = greedy_policy(q)
    np.testing.assert_array_equal(pi.sum(axis=1), np.ones(20))
    np.testing.assert_array_equal(np.argmax(pi, axis=1), np.argmax(q, axis=1))


# ============================================================================================ 2. cross-checks
SEEDS = [0, 1, 2, 3]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("reward_3d", [False, True])
def test_exact_and_iterative_policy_evaluation_agree(seed, gamma, reward_3d):
    mdp = random_mdp(seed, gamma=gamma, n_terminal=2, reward_3d=reward_3d)
    rng = np.random.default_rng(100 + seed)
    pi = random_policy(rng, mdp.n_states, mdp.n_actions)
    v_exact = policy_evaluation(mdp, pi)
    v_iter = iterative_policy_evaluation(mdp, pi, theta=1e-12)
    np.testing.assert_allclose(v_iter, v_exact, atol=1e-8, rtol=0)
    np.testing.assert_array_equal(v_exact[mdp.terminal], 0.0)
    # v_pi is the fixed point of the expectation backup.
    np.testing.assert_allclose(bellman_expectation_backup(mdp, v_exact, pi), v_exact, atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_q_from_v_matches_naive_loops(seed):
    # Reference: q(s, a) = sum_s' P(s'|s,a) [R(s,a,s') + gamma (1 - terminal(s')) v(s')], q(terminal, .) = 0.
    mdp = random_mdp(seed, S=5, A=3, gamma=0.8, n_terminal=1, reward_3d=True)
    v = np.random.default_rng(seed).normal(size=mdp.n_states)
    q_ref = np.zeros((mdp.n_states, mdp.n_actions))
    for s in range(mdp.n_states):
        if mdp.terminal[s]:
            continue
        for a in range(mdp.n_actions):
            for s_next in range(mdp.n_states):
                bootstrap = 0.0 if mdp.terminal[s_next] else mdp.gamma * v[s_next]
                q_ref[s, a] += mdp.P[s, a, s_next] * (mdp.R[s, a, s_next] + bootstrap)
    np.testing.assert_allclose(q_from_v(mdp, v), q_ref, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.5, 0.95])
def test_iterative_history_converges_monotonically(seed, gamma):
    mdp = random_mdp(seed, gamma=gamma, n_terminal=1)
    pi = random_policy(np.random.default_rng(seed), mdp.n_states, mdp.n_actions)
    v0 = np.full(mdp.n_states, 3.0)
    v, history = iterative_policy_evaluation(mdp, pi, v0=v0, return_history=True)
    assert isinstance(history, list)
    assert len(history) >= 2
    np.testing.assert_array_equal(history[0], v0)
    np.testing.assert_array_equal(history[-1], v)
    # The expectation backup is a gamma-contraction in the max norm, so the error never grows.
    v_exact = policy_evaluation(mdp, pi)
    errors = [np.max(np.abs(h - v_exact)) for h in history]
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(errors))
    assert errors[-1] < 1e-8 < errors[0]
    # The caller's v0 is not modified.
    np.testing.assert_array_equal(v0, 3.0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95, 1.0])
def test_value_iteration_policy_achieves_its_values(seed, gamma):
    mdp = random_mdp(seed, gamma=gamma, n_terminal=2)
    v_star, pi_star = value_iteration(mdp)
    np.testing.assert_array_equal(pi_star.sum(axis=1), 1.0)
    assert set(np.unique(pi_star)) <= {0.0, 1.0}
    np.testing.assert_allclose(policy_evaluation(mdp, pi_star), v_star, atol=1e-6)
    np.testing.assert_allclose(bellman_optimality_backup(mdp, v_star), v_star, atol=1e-9)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        v_pi = policy_evaluation(mdp, random_policy(rng, mdp.n_states, mdp.n_actions))
        assert np.all(v_star >= v_pi - 1e-8)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reward_3d", [False, True])
def test_value_iteration_equals_brute_force_over_deterministic_policies(seed, reward_3d):
    # S = 3, A = 2: 2^3 = 8 deterministic policies. v* is the elementwise max of their values, and one of them
    # attains it in every state at once.
    mdp = random_mdp(seed, S=3, A=2, gamma=0.9, reward_3d=reward_3d)
    values = np.array(
        [
            policy_evaluation(mdp, one_hot_policy(actions, 2))
            for actions in itertools.product(range(2), repeat=3)
        ]
    )
    v_best = values.max(axis=0)
    assert np.any(np.all(values >= v_best - 1e-12, axis=1))
    v_star, _ = value_iteration(mdp)
    np.testing.assert_allclose(v_star, v_best, atol=1e-8)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95, 1.0])
def test_policy_iteration_equals_value_iteration(seed, gamma):
    mdp = random_mdp(seed, gamma=gamma, n_terminal=2)
    v, pi, policies = policy_iteration(mdp)
    v_star, _ = value_iteration(mdp)
    np.testing.assert_allclose(v, v_star, atol=1e-8)
    np.testing.assert_allclose(policy_evaluation(mdp, pi), v_star, atol=1e-8)
    assert policies[0] is not pi and np.array_equal(policies[-1], pi) and set(np.unique(pi)) <= {0.0, 1.0}
    # each improvement makes no state worse (the policy improvement theorem)
    values = [policy_evaluation(mdp, p) for p in policies]
    assert all(np.all(later >= earlier - 1e-9) for earlier, later in itertools.pairwise(values))


def test_policy_iteration_on_sutton_barto_figure_4_1():
    # The 4x4 grid of Example 4.1 (reward -1 per step, gamma 1): the optimal value is minus the number of steps to
    # the nearest corner, and the random policy is improved to the optimum in a few steps (Figure 4.1).
    from metarl_edu.envs.gridworld import GridWorld

    sb = GridWorld.from_layout("G...\n.S..\n....\n...G", step_reward=-1.0, goal_reward=0.0, gamma=1.0)
    v, _, policies = policy_iteration(sb.mdp)
    steps = [min(r + c, 6 - r - c) for r, c in sb.cells]
    np.testing.assert_allclose(v, -np.array(steps, dtype=float))
    assert 2 <= len(policies) <= 4


def test_policy_iteration_bad_start_is_a_clear_error():
    with pytest.raises(MDPError, match="never reaches a terminal state"):
        policy_iteration(corridor(gamma=1.0), pi=one_hot_policy([LEFT, LEFT, LEFT], 2))
    with pytest.raises(MDPError, match="pi must have shape"):
        policy_iteration(corridor(), pi=np.ones((2, 2)) / 2)


def test_with_gamma_changes_only_gamma():
    mdp = random_mdp(0, gamma=0.9, n_terminal=1)
    other = mdp.with_gamma(0.5)
    assert other.gamma == 0.5 and mdp.gamma == 0.9
    np.testing.assert_array_equal(other.P, mdp.P)
    np.testing.assert_array_equal(other.R, mdp.R)
    np.testing.assert_array_equal(other.terminal, mdp.terminal)
    np.testing.assert_array_equal(other.start, mdp.start)


# ============================================================================================ 3. gymnasium
GYM_CASES = [
    pytest.param("FrozenLake-v1", {"map_name": "4x4", "is_slippery": True}, id="frozenlake-slippery"),
    pytest.param("FrozenLake-v1", {"map_name": "4x4", "is_slippery": False}, id="frozenlake-deterministic"),
    pytest.param("CliffWalking-v1", {}, id="cliffwalking"),
]


def naive_value_iteration(table, S: int, A: int, gamma: float, tol: float = 1e-12) -> np.ndarray:
    """Value iteration written straight over Gymnasium's P[s][a] = [(prob, s_next, reward, terminated), ...].

    A terminated transition does not bootstrap: the return after it is 0. A state entered by a terminated
    transition is where an episode ends, so its own value is 0 (Gymnasium never steps from it).
    """
    ends_episode = {
        s_next for s in range(S) for a in range(A) for p, s_next, _, term in table[s][a] if p > 0 and term
    }
    v = [0.0] * S
    for _ in range(100_000):
        v_new = []
        for s in range(S):
            if s in ends_episode:
                v_new.append(0.0)
                continue
            q = []
            for a in range(A):
                total = 0.0
                for prob, s_next, reward, terminated in table[s][a]:
                    total += prob * (reward + (0.0 if terminated else gamma * v[s_next]))
                q.append(total)
            v_new.append(max(q))
        delta = max(abs(x - y) for x, y in zip(v_new, v, strict=True))
        v = v_new
        if delta < tol:
            return np.array(v)
    raise AssertionError("naive value iteration did not converge")


@pytest.mark.parametrize(("env_id", "kwargs"), GYM_CASES)
def test_from_gymnasium_reproduces_transition_table(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    base = env.unwrapped
    table = base.P
    mdp = TabularMDP.from_gymnasium(env, gamma=0.9)
    S, A = base.observation_space.n, base.action_space.n
    assert (mdp.n_states, mdp.n_actions) == (S, A)
    assert mdp.gamma == 0.9

    entered_by_termination = {
        s_next for s in range(S) for a in range(A) for p, s_next, _, term in table[s][a] if p > 0 and term
    }
    np.testing.assert_array_equal(np.flatnonzero(mdp.terminal), sorted(entered_by_termination))

    for s in range(S):
        if mdp.terminal[s]:
            # Absorbing with reward 0, whatever the env lists for it.
            np.testing.assert_array_equal(mdp.P[s, :, s], 1.0)
            np.testing.assert_array_equal(mdp.R[s], 0.0)
            continue
        for a in range(A):
            expected = np.zeros(S)
            for prob, s_next, reward, _ in table[s][a]:
                expected[s_next] += prob
                if prob > 0:
                    assert mdp.R[s, a, s_next] == reward, (s, a, s_next)
            np.testing.assert_allclose(mdp.P[s, a], expected, atol=1e-12, err_msg=f"s={s}, a={a}")

    np.testing.assert_allclose(mdp.start, base.initial_state_distrib, atol=1e-12)


@pytest.mark.parametrize("is_slippery", [True, False])
def test_frozenlake_terminal_states_are_holes_and_goal(is_slippery):
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=is_slippery)
    desc = env.unwrapped.desc.ravel()
    mdp = TabularMDP.from_gymnasium(env)
    np.testing.assert_array_equal(mdp.terminal, np.isin(desc, [b"H", b"G"]))
    np.testing.assert_array_equal(np.flatnonzero(mdp.terminal), [5, 7, 11, 12, 15])
    np.testing.assert_array_equal(mdp.start, np.eye(16)[0])


def test_frozenlake_slippery_optimal_value():
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True)
    mdp = TabularMDP.from_gymnasium(env, gamma=0.99)
    v, pi = value_iteration(mdp, theta=1e-12)
    v_naive = naive_value_iteration(env.unwrapped.P, 16, 4, gamma=0.99)
    np.testing.assert_allclose(v, v_naive, atol=1e-8)
    np.testing.assert_allclose(policy_evaluation(mdp, pi), v, atol=1e-6)
    # The top row's optimal values, as the independent naive loop computes them; pinned so that a change in
    # Gymnasium's FrozenLake dynamics shows up here by name.
    assert v[0] == pytest.approx(0.542, abs=1e-3)
    np.testing.assert_allclose(v[:4], [0.5420, 0.4988, 0.4707, 0.4569], atol=1e-4)


def test_frozenlake_deterministic_optimal_value():
    # Without slipping the shortest path to the goal takes 6 steps and only the last one pays 1:
    #   v*(start) = gamma^5 = 0.9^5.
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=False)
    mdp = TabularMDP.from_gymnasium(env, gamma=0.9)
    v, _ = value_iteration(mdp)
    assert v[0] == pytest.approx(0.9**5, abs=1e-9)
    np.testing.assert_allclose(v, naive_value_iteration(env.unwrapped.P, 16, 4, gamma=0.9), atol=1e-9)


def test_cliffwalking_optimal_value_gamma_1():
    # Gymnasium 1.x CliffWalking-v1: every step costs -1; stepping into the cliff costs -100 and puts the
    # agent back on the start (36) *without* terminating; only the goal (47) is terminal.
    # The optimal path hugs the cliff edge: UP, 11 x RIGHT, DOWN = 13 steps, so v*(36) = -13.
    env = gym.make("CliffWalking-v1")
    mdp = TabularMDP.from_gymnasium(env, gamma=1.0)
    up, right = 0, 1
    assert mdp.P[36, right, 36] == 1.0 and mdp.R[36, right, 36] == -100.0 and not mdp.terminal[36]
    np.testing.assert_array_equal(np.flatnonzero(mdp.terminal), [47])
    v, pi = value_iteration(mdp)
    assert v[36] == pytest.approx(-13.0, abs=1e-9)
    assert v[35] == pytest.approx(-1.0, abs=1e-9)  # one step DOWN into the goal
    assert np.argmax(pi[36]) == up
    np.testing.assert_allclose(policy_evaluation(mdp, pi), v, atol=1e-9)
    np.testing.assert_allclose(v, naive_value_iteration(env.unwrapped.P, 48, 4, gamma=1.0), atol=1e-9)


def test_taxi_from_gymnasium_as_documented():
    # from_gymnasium's docstring names Taxi. Compare optimal values on Taxi's start states with the naive
    # loop (a fix that adds an extra absorbing state would still pass: only the start states are compared).
    env = gym.make("Taxi-v4")
    base = env.unwrapped
    mdp = TabularMDP.from_gymnasium(env, gamma=0.9)
    v, _ = value_iteration(mdp)
    v_naive = naive_value_iteration(
        base.P, base.observation_space.n, base.action_space.n, gamma=0.9, tol=1e-10
    )
    starts = np.flatnonzero(base.initial_state_distrib)
    np.testing.assert_allclose(v[starts], v_naive[starts], atol=1e-6)


def test_from_gymnasium_without_table_raises():
    env = gym.make("CartPole-v1")
    with pytest.raises(MDPError, match="exposes no transition table"):
        TabularMDP.from_gymnasium(env)


# ============================================================================================ 4. validation
def good_P() -> np.ndarray:
    P = np.zeros((2, 2, 2))
    P[:, :, 0] = 1.0
    return P


def with_P(P) -> dict:
    return {"P": P, "R": np.zeros((2, 2)), "gamma": 0.9}


def _P_where(s: int, a: int, row: list[float]) -> np.ndarray:
    P = good_P()
    P[s, a] = row
    return P


BAD_MDPS = [
    pytest.param(with_P(np.full((2, 2), 0.5)), r"P must have shape \(S, A, S\).*\(2, 2\)", id="P-ndim"),
    pytest.param(
        with_P(np.full((2, 2, 3), 1 / 3)), r"P must have shape \(S, A, S\).*\(2, 2, 3\)", id="P-shape"
    ),
    pytest.param(with_P(np.zeros((0, 1, 0))), r"P must have shape", id="P-empty"),
    pytest.param(with_P([[[1, 0]], [[1]]]), r"P must be an array of numbers", id="P-ragged"),
    pytest.param(
        with_P(_P_where(1, 0, [1.5, -0.5])), r"P must be non-negative; P\[1, 0, 1\]", id="P-negative"
    ),
    pytest.param(with_P(_P_where(0, 1, [np.nan, 1.0])), r"P must be finite; P\[0, 1, 0\]", id="P-nan"),
    pytest.param(with_P(_P_where(1, 0, [0.5, 0.4])), r"P rows must sum to 1.*s=1, a=0.*0\.9", id="P-rowsum"),
    pytest.param({**with_P(good_P()), "R": np.zeros(2)}, r"R must have shape .*got \(2,\)", id="R-shape"),
    pytest.param(
        {**with_P(good_P()), "R": np.zeros((2, 2, 3))},
        r"R must have shape .*got \(2, 2, 3\)",
        id="R-shape-3d",
    ),
    pytest.param(
        {**with_P(good_P()), "R": [[0.0, np.inf], [0.0, 0.0]]},
        r"R must be finite.*s=0, action a=1",
        id="R-inf",
    ),
    pytest.param(
        {**with_P(good_P()), "R": [[0.0, 0.0], [np.nan, 0.0]]}, r"R must be finite.*s=1", id="R-nan"
    ),
    pytest.param({**with_P(good_P()), "gamma": 1.5}, r"gamma must be in \[0, 1\]; got 1.5", id="gamma-big"),
    pytest.param({**with_P(good_P()), "gamma": -0.1}, r"gamma must be in \[0, 1\]", id="gamma-negative"),
    pytest.param({**with_P(good_P()), "gamma": float("nan")}, r"gamma must be in \[0, 1\]", id="gamma-nan"),
    pytest.param({**with_P(good_P()), "gamma": None}, r"gamma must be a number", id="gamma-none"),
    pytest.param({**with_P(good_P()), "gamma": "high"}, r"gamma must be a number", id="gamma-str"),
    pytest.param(
        {**with_P(good_P()), "terminal": [False]}, r"terminal must be a boolean mask .*\(2,\)", id="term"
    ),
    pytest.param(
        {**with_P(good_P()), "terminal": [0, 2]}, r"terminal must contain only True/False", id="term-2"
    ),
    pytest.param(
        {**with_P(good_P()), "terminal": [True, True]}, r"every state is terminal", id="all-terminal"
    ),
    pytest.param(
        {**with_P(good_P()), "start": [1.0]}, r"start must have shape \(S,\) = \(2,\)", id="start-shape"
    ),
    pytest.param(
        {**with_P(good_P()), "start": [1.5, -0.5]}, r"start must be non-negative", id="start-negative"
    ),
    pytest.param({**with_P(good_P()), "start": [np.nan, 1.0]}, r"start must be finite", id="start-nan"),
    pytest.param({**with_P(good_P()), "start": [0.5, 0.4]}, r"start .*sum to 1", id="start-sum"),
    pytest.param({**with_P(good_P()), "state_names": ("a",)}, r"state_names must have 2 entries", id="names"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_MDPS)
def test_bad_mdp_raises_readable_error(kwargs, match):
    with pytest.raises(MDPError, match=match):
        TabularMDP(**kwargs)


def test_mdp_error_is_a_value_error():
    assert issubclass(MDPError, ValueError)


@pytest.mark.parametrize(
    ("pi", "match"),
    [
        pytest.param(np.ones((2, 2)) / 2, r"pi must have shape .*got \(2, 2\)", id="too-few-states"),
        pytest.param([[1, 0], [0.5, 0.4], [0, 1]], r"pi rows must sum to 1.*s=1", id="rowsum"),
        pytest.param([[1, 0], [1, 0], [1.5, -0.5]], r"pi must be non-negative; pi\[2, 1\]", id="negative"),
        pytest.param([[1, 0], [np.nan, 1], [0, 1]], r"pi must be finite", id="nan"),
    ],
)
def test_bad_policy_raises(pi, match):
    mdp = corridor()
    pi = np.asarray(pi, dtype=float)
    for call in (
        lambda: check_policy(mdp, pi),
        lambda: policy_evaluation(mdp, pi),
        lambda: iterative_policy_evaluation(mdp, pi),
        lambda: bellman_expectation_backup(mdp, np.zeros(3), pi),
    ):
        with pytest.raises(MDPError, match=match):
            call()


def test_one_dimensional_policy_raises():
    with pytest.raises(MDPError, match=r"pi must have shape \(S, A\) = \(3, 2\); got \(3,\)"):
        policy_evaluation(corridor(), np.ones(3))


@pytest.mark.parametrize(
    ("v", "match"),
    [
        (np.zeros(2), r"{name} must have shape \(S,\) = \(3,\); got \(2,\)"),
        (np.zeros((3, 1)), r"{name} must have shape"),
        (np.array([0.0, np.inf, 0.0]), r"{name} must be finite; {name}\[1\]"),
    ],
)
def test_bad_values_raise(v, match):
    mdp = corridor()
    with pytest.raises(MDPError, match=match.format(name="v")):
        q_from_v(mdp, v)
    with pytest.raises(MDPError, match=match.format(name="v")):
        check_values(mdp, v)
    with pytest.raises(MDPError, match=match.format(name="v0")):
        iterative_policy_evaluation(mdp, uniform_policy(mdp), v0=v)


def test_gamma_1_policy_that_never_terminates_exact():
    # Always LEFT in the corridor: state 0 bumps into the wall forever and state 1 walks into state 0.
    mdp = corridor(gamma=1.0)
    always_left = one_hot_policy([LEFT, LEFT, LEFT], 2)
    with pytest.raises(MDPError, match=r"never reaches a terminal state from state 0 \(2 such state"):
        policy_evaluation(mdp, always_left)
    # Only state 0 is stuck when state 1 goes RIGHT; the error still fires and names state 0.
    with pytest.raises(MDPError, match=r"never reaches a terminal state from state 0 \(1 such state"):
        policy_evaluation(mdp, one_hot_policy([LEFT, RIGHT, LEFT], 2))
    # With gamma < 1 the same policy has a finite value:
    #   v(0) = -1 / (1 - 0.5) = -2,   v(1) = -1 + 0.5 * v(0) = -2.
    np.testing.assert_allclose(policy_evaluation(mdp.with_gamma(0.5), always_left), [-2.0, -2.0, 0.0])


def test_gamma_1_policy_that_never_terminates_iterative():
    # Values fall by 1 per sweep forever, so the iteration cannot converge.
    mdp = corridor(gamma=1.0)
    always_left = one_hot_policy([LEFT, LEFT, LEFT], 2)
    with pytest.raises(MDPError, match=r"did not converge in 50 sweeps"):
        iterative_policy_evaluation(mdp, always_left, max_sweeps=50)


def test_gamma_1_without_terminal_state_exact_raises():
    P = np.ones((1, 1, 1))
    with pytest.raises(MDPError, match="never reaches a terminal state"):
        policy_evaluation(TabularMDP(P=P, R=[[1.0]], gamma=1.0), np.ones((1, 1)))


def test_value_iteration_gamma_1_positive_loop_raises():
    # One state, no terminal, reward +1 for staying: v grows by 1 every sweep.
    P = np.ones((1, 2, 1))
    mdp = TabularMDP(P=P, R=[[1.0, 0.0]], gamma=1.0)
    with pytest.raises(MDPError, match=r"value iteration did not converge in 1000 sweeps"):
        value_iteration(mdp, max_sweeps=1000)


@pytest.mark.parametrize("theta", [0.0, -1e-3])
def test_non_positive_theta_raises(theta):
    mdp = corridor()
    with pytest.raises(MDPError, match="theta must be > 0"):
        iterative_policy_evaluation(mdp, uniform_policy(mdp), theta=theta)
    with pytest.raises(MDPError, match="theta must be > 0"):
        value_iteration(mdp, theta=theta)


def test_zero_sweeps_raises_mdp_error():
    # max_sweeps=0 cannot converge; it must say so, not crash with an internal error.
    mdp = corridor()
    with pytest.raises(MDPError):
        iterative_policy_evaluation(mdp, uniform_policy(mdp), max_sweeps=0)
    with pytest.raises(MDPError):
        value_iteration(mdp, max_sweeps=0)


@pytest.mark.parametrize(
    ("rewards", "gamma", "match"),
    [
        ([[1.0, 2.0]], 0.9, "rewards must be a 1-D sequence"),
        ([1.0], 1.5, r"gamma must be in \[0, 1\]"),
        ([1.0], -0.5, r"gamma must be in \[0, 1\]"),
    ],
)
def test_discounted_return_bad_input(rewards, gamma, match):
    with pytest.raises(MDPError, match=match):
        discounted_return(rewards, gamma)


def test_greedy_policy_needs_2d_q():
    with pytest.raises(MDPError, match=r"q must have shape \(S, A\)"):
        greedy_policy(np.zeros(3))


def test_mdp_arrays_are_read_only():
    mdp = random_mdp(0, reward_3d=True, n_terminal=1)
    for name in ("P", "R", "terminal", "start", "r_sa"):
        arr = getattr(mdp, name)
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = arr[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        mdp.gamma = 0.5  # type: ignore[misc]


def test_mdp_from_lists():
    mdp = TabularMDP(P=[[[0.0, 1.0]], [[0.0, 1.0]]], R=[[5.0], [0.0]], gamma=1, terminal=[0, 1])
    assert mdp.P.dtype == float and mdp.P.shape == (2, 1, 2)
    assert mdp.R.dtype == float and mdp.terminal.dtype == bool
    assert isinstance(mdp.gamma, float)
    np.testing.assert_array_equal(mdp.terminal, [False, True])
    np.testing.assert_array_equal(mdp.start, [1.0, 0.0])  # default: uniform over the non-terminal states
    np.testing.assert_allclose(policy_evaluation(mdp, [[1.0], [1.0]]), [5.0, 0.0])


def test_callers_arrays_are_copied():
    P = good_P()
    R = np.zeros((2, 2))
    terminal = np.array([False, False])
    start = np.array([0.5, 0.5])
    mdp = TabularMDP(P=P, R=R, gamma=0.9, terminal=terminal, start=start)
    P[0, 0] = [0.0, 1.0]
    R[0, 0] = 7.0
    terminal[1] = True
    start[:] = [1.0, 0.0]
    np.testing.assert_array_equal(mdp.P[0, 0], [1.0, 0.0])
    assert mdp.R[0, 0] == 0.0 and mdp.r_sa[0, 0] == 0.0
    np.testing.assert_array_equal(mdp.terminal, [False, False])
    np.testing.assert_array_equal(mdp.start, [0.5, 0.5])
    assert P.flags.writeable  # the caller's own array stays theirs


def test_default_start_is_uniform_over_non_terminal_states():
    mdp = random_mdp(0, S=5, n_terminal=2)
    np.testing.assert_allclose(mdp.start, [1 / 3, 1 / 3, 1 / 3, 0.0, 0.0])


# ============================================================================================ 5. sampling
@pytest.mark.parametrize("reward_3d", [False, True])
def test_sampling_is_reproducible(reward_3d):
    mdp = random_mdp(3, n_terminal=1, reward_3d=reward_3d)

    def rollout(seed: int) -> list:
        rng = np.random.default_rng(seed)
        out = [mdp.sample_start(rng)]
        for t in range(200):
            out.append(mdp.sample_transition(t % mdp.n_states, t % mdp.n_actions, rng))
        return out

    assert rollout(7) == rollout(7)
    assert rollout(7) != rollout(8)


@pytest.mark.parametrize("reward_3d", [False, True])
def test_sample_transition_frequencies_and_rewards(reward_3d):
    mdp = random_mdp(4, S=4, A=2, n_terminal=1, reward_3d=reward_3d)
    rng = np.random.default_rng(0)
    s, a, n = 1, 1, 20_000
    counts = np.zeros(mdp.n_states)
    for _ in range(n):
        s_next, r, terminated = mdp.sample_transition(s, a, rng)
        counts[s_next] += 1
        expected_r = mdp.R[s, a, s_next] if reward_3d else mdp.R[s, a]
        assert r == expected_r
        assert terminated == bool(mdp.terminal[s_next])
        assert isinstance(s_next, int) and isinstance(r, float) and isinstance(terminated, bool)
    np.testing.assert_allclose(counts / n, mdp.P[s, a], atol=0.02)


def test_sample_start_frequencies():
    P = np.full((3, 1, 3), 1 / 3)
    mdp = TabularMDP(P=P, R=np.zeros((3, 1)), gamma=0.9, start=[0.2, 0.0, 0.8])
    rng = np.random.default_rng(1)
    n = 20_000
    counts = np.bincount([mdp.sample_start(rng) for _ in range(n)], minlength=3)
    assert counts[1] == 0
    np.testing.assert_allclose(counts / n, [0.2, 0.0, 0.8], atol=0.02)


@pytest.mark.parametrize(
    ("s", "a", "match"), [(-1, 0, "state -1"), (3, 0, "state 3"), (0, -1, "action -1"), (0, 2, "action 2")]
)
def test_sample_transition_out_of_range(s, a, match):
    mdp = corridor()
    with pytest.raises(MDPError, match=f"{match} is out of range"):
        mdp.sample_transition(s, a, np.random.default_rng(0))


# --------------------------------------------------------------------------------------------- batched exact DP
def stack(mdps: list[TabularMDP]) -> tuple[np.ndarray, ...]:
    """P (N, S, A, S), r_sa (N, S, A), terminal (N, S), gamma (N,) of N MDPs."""
    return (np.stack([m.P for m in mdps]), np.stack([m.r_sa for m in mdps]), np.stack([m.terminal for m in mdps]),
            np.array([m.gamma for m in mdps]))


def test_backward_induction_batched_equals_one_mdp_at_a_time():
    mdps = [random_mdp(seed, n_terminal=seed % 3, gamma=0.8 + 0.05 * (seed % 3)) for seed in range(6)]
    P, R, terminal, gamma = stack(mdps)
    q = backward_induction(P, R, 5, gamma, terminal)
    assert q.shape == (5, 6, 6, 3)
    for n, mdp in enumerate(mdps):
        np.testing.assert_array_equal(q[:, n], finite_horizon_q(mdp, 5))
    # one step left: the reward alone; two batch dimensions work too
    np.testing.assert_array_equal(backward_induction(P, R, 1)[0], R)
    assert backward_induction(P.reshape(2, 3, 6, 3, 6), R.reshape(2, 3, 6, 3), 2).shape == (2, 2, 3, 6, 3)
    assert backward_induction(P, R, 0).shape == (0, 6, 6, 3)


def test_backward_induction_by_hand():
    # one state, two arms paying 1 and 2, no discount: the best of h steps is 2 h
    q = backward_induction(np.ones((1, 2, 1)), np.array([[1.0, 2.0]]), 3)
    assert q[:, 0].tolist() == [[5.0, 6.0], [3.0, 4.0], [1.0, 2.0]]
    with pytest.raises(MDPError, match="horizon must be an integer >= 0"):
        backward_induction(np.ones((1, 2, 1)), np.array([[1.0, 2.0]]), -1)


def test_evaluate_policies_batched_equals_policy_evaluation():
    mdps = [random_mdp(seed, n_terminal=seed % 3) for seed in range(6)]
    P, R, terminal, gamma = stack(mdps)
    rng = np.random.default_rng(0)
    pi = np.stack([random_policy(rng, 6, 3) for _ in mdps])
    v = evaluate_policies(P, R, terminal, gamma, pi)
    for n, mdp in enumerate(mdps):
        np.testing.assert_allclose(v[n], policy_evaluation(mdp, pi[n]), rtol=0, atol=1e-12)
        assert np.all(v[n][mdp.terminal] == 0.0)


def test_evaluate_policies_with_a_horizon_sums_the_first_rewards():
    mdp = random_mdp(3, n_terminal=1, reward_3d=True)
    pi = random_policy(np.random.default_rng(1), 6, 3)
    np.testing.assert_array_equal(expected_reward(mdp.P, mdp.R), mdp.r_sa)
    v = np.zeros(6)
    for _ in range(4):  # v_t = r_pi + gamma P_pi v_{t+1}, one Bellman expectation backup per step
        v = bellman_expectation_backup(mdp, v, pi)
    np.testing.assert_allclose(evaluate_policies(mdp.P, mdp.r_sa, mdp.terminal, mdp.gamma, pi, horizon=4), v,
                               rtol=0, atol=1e-12)
