"""Tests of the task families and their environments: sampling statistics against the stated distributions,
determinism, Gymnasium's env checker, hand-worked MDPs, finite-horizon values against brute force and Monte Carlo,
and CartPole's physics against the published equations."""

from __future__ import annotations

import itertools
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.toy_text.frozen_lake import generate_random_map
from gymnasium.utils.env_checker import check_env

import metarl_edu  # noqa: F401  (registers the metarl_edu/ environments)
from metarl_edu.envs import (
    BanditFamily,
    BanditTask,
    BernoulliBanditEnv,
    CartPoleFamily,
    CartPoleTask,
    CartPoleTaskEnv,
    FrozenLakeFamily,
    FrozenLakeTask,
    GridTask,
    GridWorldFamily,
    RandomMDPEnv,
    RandomMDPFamily,
    RandomMDPTask,
    finite_horizon_q,
    finite_horizon_value,
    task_key,
)
from metarl_edu.mdp import MDPError, TabularMDP, value_iteration
from metarl_edu.studies.two_goals import TwoGoalsFamily, TwoGoalsTask

FAMILIES = {
    "grid": GridWorldFamily(),
    "frozen_lake": FrozenLakeFamily(size=4),
    "random_mdp": RandomMDPFamily(),
    "bandit": BanditFamily(n_arms=3, horizon=20),
    "cartpole": CartPoleFamily(),
    "two_goals": TwoGoalsFamily(),
}
TABULAR = [name for name, family in FAMILIES.items() if family.tabular]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ============================================================================================ the interface
@pytest.mark.parametrize("name", FAMILIES)
def test_same_seed_same_tasks_different_seed_different_tasks(name):
    family = FAMILIES[name]
    keys = [task_key(t) for t in family.sample(5, rng(0))]
    assert keys == [task_key(t) for t in family.sample(5, rng(0))]
    assert keys[:3] == [task_key(t) for t in family.sample(3, rng(0))]  # task i uses the same draws whatever n is
    assert all(a != b for a, b in zip(keys, [task_key(t) for t in family.sample(5, rng(1))], strict=True))


@pytest.mark.parametrize("name", FAMILIES)
def test_features_match_their_names(name):
    family = FAMILIES[name]
    tasks = family.sample(4, rng())
    X = family.feature_matrix(tasks)
    assert X.shape == (4, len(family.feature_names))
    assert np.all(np.isfinite(X))
    np.testing.assert_array_equal(X[2], family.features(tasks[2]))


@pytest.mark.parametrize("name", FAMILIES)
def test_task_envs_pass_gymnasium_checker(name):
    family = FAMILIES[name]
    env = family.make_env(family.sample(1, rng())[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure too, except these two:
        warnings.filterwarnings("ignore", message=".*not having a spec")  # envs built directly, not by gym.make
        # CartPole's own Box has infinite velocity bounds; Gymnasium's CartPole-v1 warns the same
        warnings.filterwarnings("ignore", message=".*Box observation space (minimum|maximum) value is")
        check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("name", FAMILIES)
def test_episodes_end_within_the_time_limit(name):
    family = FAMILIES[name]
    env = family.make_env(family.sample(1, rng())[0])
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(600):  # longer than every family's limit (CartPole: 500)
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            return
    pytest.fail("the episode did not end within 600 steps")


@pytest.mark.parametrize("name", TABULAR)
def test_every_task_of_a_tabular_family_has_the_same_state_count(name):
    family = FAMILIES[name]
    for task in family.sample(20, rng()):
        mdp = family.to_mdp(task)
        assert (mdp.n_states, mdp.n_actions) == (family.n_states, family.n_actions)


def test_misuse_is_explained():
    grid = FAMILIES["grid"]
    with pytest.raises(TypeError, match="numpy Generator"):
        grid.sample(3, 0)
    with pytest.raises(ValueError, match="integer >= 0"):
        grid.sample(-1, rng())
    with pytest.raises(TypeError, match="GridWorldFamily plays GridTasks; got a BanditTask"):
        grid.features(BanditTask((0.5,)))
    with pytest.raises(TypeError, match="no exact TabularMDP"):
        FAMILIES["cartpole"].to_mdp(CartPoleTask())
    with pytest.raises(ValueError, match="slip_range must satisfy"):
        GridWorldFamily(slip_range=(0.5, 0.1))
    with pytest.raises(ValueError, match="hole_prob_range must satisfy"):
        FrozenLakeFamily(hole_prob_range=(0.1, 0.9))
    with pytest.raises(ValueError, match="horizon_range"):
        RandomMDPFamily(horizon_range=(5, 2))
    with pytest.raises(ValueError, match="lo > 0"):
        CartPoleFamily(gravity_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="probabilities in"):
        BanditTask((0.5, 1.5))


# ============================================================================================ gridworlds
def test_grid_goal_cells_and_distances_by_hand():
    family = GridWorldFamily()  # ROOM: 24 floor cells, start at (1, 1), a wall at (3, 3)
    assert family.n_states == 24 and len(family.goal_cells) == 23 and (1, 1) not in family.goal_cells
    # goal_distance counts moves from S = (1, 1): (1, 3) is 2 to the right; (4, 4) is 3 down and 3 right
    assert family.features(GridTask((1, 3), 0.2)).tolist() == [0.2, 1, 3, 2]
    assert family.features(GridTask((4, 4), 0.0))[3] == 6
    # behind a wall: from S = (1, 1) to (1, 3) around the wall at (1, 2) takes 4 moves
    walled = GridWorldFamily(layout="#####\n#S#.#\n#...#\n#####")
    assert walled.features(GridTask((1, 3), 0.0))[3] == 4
    # a pit ends the episode, so the shortest path goes around it too: 4 moves, not 2 across the pit
    pitted = GridWorldFamily(layout="#####\n#SP.#\n#...#\n#####")
    assert pitted.features(GridTask((1, 3), 0.0))[3] == 4


def test_grid_optimal_value_without_slip_is_gamma_to_the_distance():
    # With slip 0, the goal paying 1 on entry and no step cost, the best return from S is gamma^(d - 1) for the
    # d moves of the shortest path: an independent check of the BFS feature and of the task's MDP.
    family = GridWorldFamily(slip_range=(0.0, 0.0), gamma=0.9)
    for task in family.sample(5, rng()):
        mdp = family.to_mdp(task)
        v, _ = value_iteration(mdp)
        distance = family.features(task)[3]
        assert v[mdp.start.argmax()] == pytest.approx(0.9 ** (distance - 1))


def test_grid_sampling_statistics():
    family = GridWorldFamily(slip_range=(0.1, 0.3))
    tasks = family.sample(2000, rng())
    slips = np.array([t.slip for t in tasks])
    assert slips.min() >= 0.1 and slips.max() <= 0.3
    # U[0.1, 0.3]: mean 0.2, sd 0.2 / sqrt(12) = 0.058; the mean of 2000 has sd 0.0013
    assert slips.mean() == pytest.approx(0.2, abs=0.006) and slips.std() == pytest.approx(0.2 / math.sqrt(12), rel=0.05)
    counts = np.array([sum(t.goal == cell for t in tasks) for cell in family.goal_cells])
    assert counts.sum() == 2000  # every goal is a reachable floor cell
    # uniform over 23 cells: 87 expected each, sd about 9.1
    assert counts.min() > 50 and counts.max() < 125


def test_grid_env_plays_the_task_mdp():
    family = FAMILIES["grid"]
    task = family.sample(1, rng())[0]
    env = family.make_env(task)
    np.testing.assert_array_equal(env.unwrapped.mdp.P, family.to_mdp(task).P)
    np.testing.assert_array_equal(env.unwrapped.mdp.R, family.to_mdp(task).R)
    assert env.unwrapped.grid.char_at(*task.goal) == "G" and env.spec.max_episode_steps == 100


def test_grid_family_layout_errors():
    with pytest.raises(ValueError, match="no goal 'G'"):
        GridWorldFamily(layout="#####\n#S.G#\n#####")
    with pytest.raises(ValueError, match="no floor cell"):
        GridWorldFamily(layout="#####\n#S#.#\n#####")
    with pytest.raises(ValueError, match="not a reachable floor cell"):
        FAMILIES["grid"].to_mdp(GridTask((1, 1), 0.0))


# ============================================================================================ FrozenLake
def test_frozen_lake_hand_worked_mdp_without_slip():
    # S F     states 0 1      actions: 0 left, 1 down, 2 right, 3 up
    # H G            2 3
    family = FrozenLakeFamily(size=2, is_slippery=False, gamma=0.9)
    mdp = family.to_mdp(FrozenLakeTask(desc=("SF", "HG"), hole_prob=0.0, map_seed=0))
    assert mdp.terminal.tolist() == [False, False, True, True] and mdp.start.tolist() == [1, 0, 0, 0]
    assert mdp.P[0, 2].tolist() == [0, 1, 0, 0]  # right
    assert mdp.P[0, 1].tolist() == [0, 0, 1, 0]  # down into the hole
    assert mdp.P[0, 0].tolist() == [1, 0, 0, 0]  # left into the edge: stay
    assert mdp.P[1, 1].tolist() == [0, 0, 0, 1] and mdp.R[1, 1, 3] == 1.0  # down onto the goal pays 1
    assert mdp.r_sa[0].tolist() == [0, 0, 0, 0]
    v, _ = value_iteration(mdp)
    assert v[0] == pytest.approx(0.9)  # right, then down: the reward comes on the second step


def test_frozen_lake_slippery_moves_by_hand():
    # Gymnasium's slippery ice: the intended move and both perpendicular moves, 1/3 each.
    # From the corner 0, "right" goes right (1), up (edge: stay at 0) or down (2).
    family = FrozenLakeFamily(size=2, is_slippery=True)
    mdp = family.to_mdp(FrozenLakeTask(desc=("SF", "HG"), hole_prob=0.0, map_seed=0))
    np.testing.assert_allclose(mdp.P[0, 2], [1 / 3, 1 / 3, 1 / 3, 0])


def test_frozen_lake_maps_are_reproducible_and_valid():
    family = FrozenLakeFamily(size=5, hole_prob_range=(0.05, 0.5))
    for task in family.sample(20, rng()):
        assert list(task.desc) == generate_random_map(size=5, p=1 - task.hole_prob, seed=task.map_seed)
        assert task.desc[0][0] == "S" and task.desc[-1][-1] == "G"
        path_length = family.features(task)[2]
        assert 8 <= path_length < math.inf  # at least the Manhattan distance, and a path always exists


def test_frozen_lake_hole_statistics():
    family = FrozenLakeFamily(size=6, hole_prob_range=(0.0, 0.5))
    X = family.feature_matrix(family.sample(300, rng()))
    hole_prob, hole_fraction = X[:, 0], X[:, 1]
    assert hole_prob.min() >= 0 and hole_prob.max() <= 0.5 and hole_prob.mean() == pytest.approx(0.25, abs=0.03)
    assert np.corrcoef(hole_prob, hole_fraction)[0, 1] > 0.8  # the feature tracks the realised density
    # maps without a path are redrawn, so dense maps end up with fewer holes than hole_prob on average
    dense = hole_prob > 0.4
    assert np.mean(hole_fraction[dense]) < np.mean(hole_prob[dense])


def test_frozen_lake_env_is_the_task_map():
    family = FAMILIES["frozen_lake"]
    task = family.sample(1, rng(3))[0]
    env = family.make_env(task)
    assert ["".join(c.decode() for c in row) for row in env.unwrapped.desc] == list(task.desc)
    assert env.spec.max_episode_steps == 100
    expected = TabularMDP.from_gymnasium(env, gamma=family.gamma)
    mdp = family.to_mdp(task)
    np.testing.assert_array_equal(mdp.P, expected.P)
    np.testing.assert_array_equal(mdp.R, expected.R)


# ============================================================================================ random MDPs
def chain_mdp() -> TabularMDP:
    """State 0: action 0 stays with reward 1, action 1 moves to state 1 with reward 0.
    State 1 is absorbing: action 0 pays 2, action 1 pays 0."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    return TabularMDP(P=P, R=[[1.0, 0.0], [2.0, 0.0]], gamma=1.0)


def test_finite_horizon_value_by_hand():
    mdp = chain_mdp()
    # H = 1: take the 1 now (state 0) or the 2 (state 1).
    # H = 2: from 0, stay twice = 2 or move and collect 2 = 2.
    # H = 3: from 0, move first (0) then 2 + 2 = 4 beats staying (3); from 1, 2 + 2 + 2 = 6.
    assert finite_horizon_value(mdp, 1).tolist() == [1, 2]
    assert finite_horizon_value(mdp, 2).tolist() == [2, 4]
    assert finite_horizon_value(mdp, 3).tolist() == [4, 6]
    assert finite_horizon_value(mdp, 0).tolist() == [0, 0]
    q = finite_horizon_q(mdp, 3)
    assert q.shape == (3, 2, 2) and q[0, 0].tolist() == [3, 4] and q[2, 0].tolist() == [1, 0]
    with pytest.raises(MDPError, match="horizon"):
        finite_horizon_value(mdp, -1)


def brute_force_value(mdp: TabularMDP, horizon: int) -> np.ndarray:
    """The best expected H-step return from each state over every deterministic non-stationary policy, each
    evaluated forward by pushing the state distribution through the chain: no backward induction involved."""
    S, A = mdp.n_states, mdp.n_actions
    best = np.full(S, -np.inf)
    for choice in itertools.product(range(A), repeat=S * horizon):
        pi = np.array(choice).reshape(horizon, S)  # pi[t, s] = action at step t in state s
        d = np.eye(S)  # d[s0] = distribution at step t of the episode that started in s0
        total = np.zeros(S)
        for t in range(horizon):
            total += d @ mdp.r_sa[np.arange(S), pi[t]]
            d = d @ mdp.P[np.arange(S), pi[t]]
        best = np.maximum(best, total)
    return best


def test_finite_horizon_value_matches_brute_force():
    family = RandomMDPFamily(n_states=3, n_actions=2, horizon_range=(3, 3))
    for task in family.sample(2, rng()):
        mdp = family.to_mdp(task)
        np.testing.assert_allclose(finite_horizon_value(mdp, 3), brute_force_value(mdp, 3), atol=1e-12)


def test_random_mdp_env_returns_match_the_exact_optimum():
    # Follow the optimal non-stationary policy argmax q[t] in the env (Gaussian rewards) for 2000 episodes; the
    # mean return estimates start @ v within a few standard errors.
    family = RandomMDPFamily()
    task = family.sample(1, rng())[0]
    mdp = family.to_mdp(task)
    q = finite_horizon_q(mdp, task.horizon)
    env = family.make_env(task)
    returns, noise = [], []
    s, _ = env.reset(seed=0)
    for _ in range(2000):
        s, _ = env.reset()
        g, t, truncated = 0.0, 0, False
        while not truncated:
            a = int(q[t, s].argmax())
            s_next, r, terminated, truncated, _ = env.step(a)
            assert not terminated  # RL^2's MDPs have no terminal state
            noise.append(r - task.reward_mean[s, a])
            g, t, s = g + r, t + 1, s_next
        assert t == task.horizon == 10
        returns.append(g)
    returns = np.array(returns)
    exact = mdp.start @ finite_horizon_value(mdp, task.horizon)
    assert abs(returns.mean() - exact) < 4 * returns.std() / math.sqrt(len(returns))
    assert np.std(noise) == pytest.approx(1.0, abs=0.03) and abs(np.mean(noise)) < 0.02  # r ~ N(R[s, a], 1)


def test_random_mdp_sampling_statistics():
    family = RandomMDPFamily()
    tasks = family.sample(200, rng())
    means = np.array([t.reward_mean for t in tasks])  # (200, 10, 5)
    assert means.mean() == pytest.approx(1.0, abs=0.05) and means.std() == pytest.approx(1.0, abs=0.05)
    P = np.array([t.P for t in tasks])  # (200, 10, 5, 10)
    # a flat Dirichlet over 10 states has Beta(1, 9) marginals: mean 1/10, variance 9 / (10^2 * 11)
    assert P[..., 3].mean() == pytest.approx(0.1, abs=0.005)
    assert P.var() == pytest.approx(9 / 1100, rel=0.05)
    assert {t.horizon for t in tasks} == {10}
    mdp = family.to_mdp(tasks[0])
    assert mdp.gamma == 1.0 and mdp.start[0] == 1.0 and not mdp.terminal.any()
    horizons = {t.horizon for t in RandomMDPFamily(horizon_range=(5, 7)).sample(100, rng())}
    assert horizons == {5, 6, 7}


def test_random_mdp_features_reveal_nothing_hidden():
    # A model may see only what is known before acting: two tasks with the same horizon but different
    # transitions and reward means have the same features.
    family = RandomMDPFamily(horizon_range=(3, 8))
    a, b = family.sample(2, rng())
    b = RandomMDPTask(P=b.P, reward_mean=b.reward_mean, horizon=a.horizon)
    assert not np.array_equal(a.reward_mean, b.reward_mean)
    np.testing.assert_array_equal(family.features(a), family.features(b))
    np.testing.assert_array_equal(family.features(a), [a.horizon])


def test_random_mdp_env_truncates_at_the_horizon():
    family = RandomMDPFamily(horizon_range=(3, 3))
    env = family.make_env(family.sample(1, rng())[0])
    env.reset(seed=0)
    assert [env.step(0)[3] for _ in range(3)] == [False, False, True]
    env.reset()
    assert env.t == 0
    with pytest.raises(MDPError, match="reward means"):
        RandomMDPEnv(TabularMDP(P=chain_mdp().P, R=np.zeros((2, 2, 2)), gamma=1.0), horizon=3)


def test_random_mdp_tasks_compare_by_value():
    task = FAMILIES["random_mdp"].sample(1, rng())[0]
    copy = RandomMDPTask(P=task.P.copy(), reward_mean=task.reward_mean.copy(), horizon=task.horizon)
    assert copy == task and hash(copy) == hash(task) and copy is not task
    changed = task.reward_mean.copy()
    changed[0, 0] += 1e-9
    assert RandomMDPTask(P=task.P, reward_mean=changed, horizon=task.horizon) != task
    with pytest.raises(ValueError, match="read-only"):
        task.P[0, 0, 0] = 1.0


# ============================================================================================ bandits
def test_bandit_sampling_statistics():
    means = np.array([t.means for t in BanditFamily(n_arms=5).sample(2000, rng())])
    assert means.shape == (2000, 5) and means.min() >= 0 and means.max() <= 1
    # U[0, 1]: mean 1/2, variance 1/12
    assert means.mean() == pytest.approx(0.5, abs=0.01) and means.var() == pytest.approx(1 / 12, rel=0.05)


def test_bandit_rewards_are_bernoulli_with_the_arm_means():
    env = BernoulliBanditEnv([0.1, 0.8], horizon=None)
    obs, _ = env.reset(seed=0)
    pulls = np.array([[env.step(a)[1] for _ in range(4000)] for a in (0, 1)])
    assert obs == 0 and set(np.unique(pulls)) <= {0.0, 1.0}
    # sd of a mean of 4000 Bernoulli(0.8) pulls: sqrt(0.16 / 4000) = 0.0063
    np.testing.assert_allclose(pulls.mean(axis=1), [0.1, 0.8], atol=0.03)


def test_bandit_env_truncates_after_the_horizon_and_repeats_with_its_seed():
    family = BanditFamily(n_arms=3, horizon=4)
    env = family.make_env(family.sample(1, rng())[0])
    env.reset(seed=1)
    steps = [env.step(1) for _ in range(4)]
    assert [s[3] for s in steps] == [False, False, False, True] and not any(s[2] for s in steps)
    env.reset(seed=1)
    assert [env.step(1) for _ in range(4)] == steps
    with pytest.raises(ValueError, match="arms are integers"):
        env.step(3)


# ============================================================================================ CartPole
def florian_step(state, force, m_cart, m_pole, half_length, g, tau=0.02):
    """One Euler step of the frictionless cart-pole (Florian 2007, eqs. 23-24), from the primitive parameters."""
    x, x_dot, theta, theta_dot = state
    m = m_cart + m_pole
    sin, cos = math.sin(theta), math.cos(theta)
    theta_acc = (g * sin + cos * (-force - m_pole * half_length * theta_dot**2 * sin) / m) / (
        half_length * (4 / 3 - m_pole * cos**2 / m)
    )
    x_acc = (force + m_pole * half_length * (theta_dot**2 * sin - theta_acc * cos)) / m
    return np.array([x + tau * x_dot, x_dot + tau * x_acc, theta + tau * theta_dot, theta_dot + tau * theta_acc])


def test_cartpole_step_follows_the_equations_of_motion_for_the_task():
    task = CartPoleTask(length=0.9, masspole=0.17, gravity=12.0)
    env = CartPoleTaskEnv()
    env.set_task(task)  # set after construction: the derived quantities must follow
    assert env.total_mass == pytest.approx(1.17) and env.polemass_length == pytest.approx(0.17 * 0.9)
    env.reset(seed=0)
    for action in (1, 1, 0, 1, 0, 0):
        before = env.state.copy()
        env.step(action)
        expected = florian_step(before, 10.0 if action == 1 else -10.0, 1.0, 0.17, 0.9, 12.0)
        np.testing.assert_allclose(env.state, expected, rtol=1e-12)


def test_cartpole_default_task_is_gymnasium_cartpole():
    ours, theirs = CartPoleTaskEnv(), CartPoleEnv()
    for name in ("gravity", "masspole", "length", "total_mass", "polemass_length"):
        assert getattr(ours, name) == getattr(theirs, name)
    ours.set_task(CartPoleTask(length=2.0))
    ours.set_task(CartPoleTask())  # and back: nothing of the other task lingers
    obs_ours, obs_theirs = ours.reset(seed=3)[0], theirs.reset(seed=3)[0]
    for action in [0, 1, 1, 0, 1] * 4:
        np.testing.assert_array_equal(obs_ours, obs_theirs)
        obs_ours, obs_theirs = ours.step(action)[0], theirs.step(action)[0]


def test_cartpole_tasks_change_the_dynamics():
    def steps_until_fall(task):
        env = CartPoleTaskEnv(task)
        env.reset(seed=0)
        for t in range(1, 500):
            if env.step(t % 2)[2]:  # alternate pushes, which nearly cancel: the pole falls under gravity
                return t
        return 500

    # a falling pole's time scale is sqrt(length / gravity): a longer pole or weaker gravity falls more slowly
    assert steps_until_fall(CartPoleTask(length=1.0)) > steps_until_fall(CartPoleTask(length=0.25))
    assert steps_until_fall(CartPoleTask(gravity=4.9)) > steps_until_fall(CartPoleTask(gravity=14.7))


def test_cartpole_sampling_statistics_and_registration():
    tasks = CartPoleFamily().sample(2000, rng())
    X = CartPoleFamily().feature_matrix(tasks)
    lows, highs = np.array([0.25, 0.05, 4.9]), np.array([1.0, 0.2, 14.7])
    assert np.all(X.min(axis=0) >= lows) and np.all(X.max(axis=0) <= highs)
    # uniform: the mean is the midpoint, with sd (hi - lo) / sqrt(12 * 2000)
    assert np.all(np.abs(X.mean(axis=0) - (lows + highs) / 2) < 0.02 * (highs - lows))
    env = gym.make("metarl_edu/CartPoleTasks-v0", task=tasks[0])
    assert env.spec.max_episode_steps == 500 and env.unwrapped.task == tasks[0]
    assert env.unwrapped.gravity == tasks[0].gravity
    with pytest.raises(ValueError, match="positive"):
        CartPoleTask(length=-1.0)
    with pytest.raises(TypeError, match="CartPoleTask"):
        CartPoleTaskEnv().set_task({"length": 1.0})


# ============================================================================================ two goals
def test_two_goals_room_by_hand():
    family = TwoGoalsFamily()  # start (1, 1); near goal (1, 3): 2 moves right; far goal (5, 5): 4 down, 4 right
    assert (family.near_goal, family.far_goal, family.goal_distances) == ((1, 3), (5, 5), (2, 8))
    task = TwoGoalsTask(horizon=10, near_reward=0.25, slip=0.0)
    mdp = family.to_mdp(task)
    grid = family.grid(task)
    near, far = grid.state_of(1, 3), grid.state_of(5, 5)
    assert mdp.gamma == 1.0 and mdp.terminal[near] and mdp.terminal[far]
    assert mdp.R[grid.state_of(1, 2), 1, near] == 0.25 and mdp.R[grid.state_of(5, 4), 1, far] == 1.0
    assert np.all(mdp.R[mdp.terminal] == 0.0)
    # Without slip the best return within H steps is 1 (the far goal) when H >= 8, else 0.25 (the near one).
    for horizon, best in ((7, 0.25), (8, 1.0), (2, 0.25), (1, 0.0)):
        assert mdp.start @ finite_horizon_value(mdp, horizon) == pytest.approx(best)
    np.testing.assert_array_equal(family.features(task), [10.0, 0.25, 0.0])


def test_two_goals_sampling_and_errors():
    family = TwoGoalsFamily(horizon_range=(3, 5), near_reward_range=(0.2, 0.4), slip_range=(0.1, 0.1))
    tasks = family.sample(300, rng())
    assert {t.horizon for t in tasks} == {3, 4, 5}
    rewards = np.array([t.near_reward for t in tasks])
    assert rewards.min() >= 0.2 and rewards.max() <= 0.4 and abs(rewards.mean() - 0.3) < 0.01
    env = family.make_env(tasks[0])
    env.reset(seed=0)
    n_steps, done = 0, False
    while not done and n_steps < 10:
        *_, terminated, truncated, _ = env.step(3)  # always left: into the wall, the episode runs out of steps
        n_steps, done = n_steps + 1, terminated or truncated
    assert truncated and not terminated and n_steps == tasks[0].horizon
    with pytest.raises(ValueError, match="exactly two goals"):
        TwoGoalsFamily(layout="#####\n#S.G#\n#####")
    with pytest.raises(ValueError, match="both 2 moves"):
        TwoGoalsFamily(layout="#####\n#G.G#\n#.S.#\n#####")
    with pytest.raises(ValueError, match="near_reward must be in"):
        TwoGoalsTask(5, 1.5, 0.0)
