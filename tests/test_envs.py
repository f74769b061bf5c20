"""Tests of the tabular and gridworld environments: hand-worked layouts and transition tables, sampling
against the exact MDP, seeding, Gymnasium's env checker, and every validation message."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import metarl_edu  # noqa: F401  (registers metarl_edu/GridWorld-v0)
from metarl_edu.envs import LAYOUTS, GridWorld, GridWorldEnv, TabularMDPEnv
from metarl_edu.mdp import TabularMDP, value_iteration

UP, RIGHT, DOWN, LEFT = range(4)

TINY = """
    #####
    #S.G#
    #.#P#
    #####
"""


def two_state_mdp() -> TabularMDP:
    """s0 --a0--> s1 (terminal) with reward 1; a1 stays in s0 with reward 0."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 1] = P[0, 1, 0] = 1.0
    P[1, :, 1] = 1.0
    return TabularMDP(P=P, R=[[1.0, 0.0], [0.0, 0.0]], gamma=1.0, terminal=[False, True])


# ----------------------------------------------------------------------------------------- Gymnasium API
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_gridworld_env_passes_gymnasium_checker(render_mode):
    # made through gym.make so that the checker can also re-make it in the other render modes
    env = gym.make("metarl_edu/GridWorld-v0", slip=0.2, render_mode=render_mode).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure too
        check_env(env, skip_render_check=render_mode is None)


def test_tabular_env_passes_gymnasium_checker():
    env = TabularMDPEnv(two_state_mdp(), render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # not registered, so the checker cannot re-make it in other render modes; "ansi" is its only one
        warnings.filterwarnings("ignore", message=".*not having a spec")
        check_env(env, skip_render_check=False)


def test_gym_make_registered_env_truncates_after_100_steps():
    env = gym.make("metarl_edu/GridWorld-v0", render_mode="ansi")
    s, info = env.reset(seed=0)
    assert env.unwrapped.grid.char_at(*env.unwrapped.grid.cells[s]) == "S"
    for t in range(100):
        # from the start of the default layout, "left" walks into the wall and stays
        s_next, r, terminated, truncated, _ = env.step(LEFT)
        assert (s_next, r, terminated) == (s, 0.0, False)
        assert truncated == (t == 99)
    assert "A" in env.render()


def test_tabular_env_steps_and_renders():
    env = TabularMDPEnv(two_state_mdp(), render_mode="ansi")
    assert env.reset(seed=0) == (0, {})
    assert env.render() == "state 0\n"
    assert env.step(1) == (0, 0.0, False, False, {})
    assert env.step(0) == (1, 1.0, True, False, {})
    assert env.render() == "state 1 (after action 0, reward 1) [terminated]\n"
    assert env.mdp.n_states == 2


# ----------------------------------------------------------------------------------------- layouts
def test_tiny_layout_states_walls_start_and_terminals():
    grid = GridWorld.from_layout(TINY)
    assert grid.layout == ("#####", "#S.G#", "#.#P#", "#####")
    assert grid.shape == (4, 5)
    assert grid.cells == ((1, 1), (1, 2), (1, 3), (2, 1), (2, 3))
    assert grid.walls.sum() == 4 * 5 - 5 and grid.walls[2, 2] and not grid.walls[1, 1]
    assert grid.state_of(2, 3) == 4
    assert (grid.starts, grid.goals, grid.pits) == ((0,), (2,), (4,))
    np.testing.assert_array_equal(grid.mdp.start, [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(grid.mdp.terminal, [False, False, True, False, True])
    assert grid.mdp.state_names == ("(1,1)", "(1,2)", "(1,3)", "(2,1)", "(2,3)")
    assert grid.mdp.action_names == ("up", "right", "down", "left")


def test_several_starts_give_a_uniform_start_distribution():
    grid = GridWorld.from_layout("S.S\n..G")
    np.testing.assert_allclose(grid.mdp.start, [0.5, 0, 0.5, 0, 0, 0])


def test_indentation_and_blank_lines_are_ignored():
    assert GridWorld.from_layout("\n\n   S.G  \n\t\n").layout == ("S.G",)


def test_named_layouts():
    for name in LAYOUTS:
        assert GridWorld.from_layout(name).n_states > 0
    assert GridWorldEnv().grid.layout == GridWorld.from_layout("small").layout
    assert GridWorld.from_layout("cliff").shape == (4, 12)


# ----------------------------------------------------------------------------------------- dynamics
def test_corridor_transitions_without_slip():
    P = GridWorld.from_layout("S.G").mdp.P  # states 0 (S), 1, 2 (G)
    expected = {
        (0, UP): [1, 0, 0],  # off the grid: stay
        (0, RIGHT): [0, 1, 0],
        (0, DOWN): [1, 0, 0],
        (0, LEFT): [1, 0, 0],
        (1, UP): [0, 1, 0],
        (1, RIGHT): [0, 0, 1],
        (1, DOWN): [0, 1, 0],
        (1, LEFT): [1, 0, 0],
    }
    for (s, a), row in expected.items():
        np.testing.assert_allclose(P[s, a], row, err_msg=f"s={s}, a={a}")
    np.testing.assert_allclose(P[2], [[0, 0, 1]] * 4)  # terminal: absorbing


def test_corridor_transitions_with_slip():
    # intended move 0.8, each perpendicular move 0.1; up and down leave a 1-row corridor unchanged
    grid = GridWorld.from_layout("S.G", slip=0.2, step_reward=-0.1)
    expected = {
        (0, UP): [0.9, 0.1, 0],  # 0.8 up (stay) + 0.1 left (stay); 0.1 right
        (0, RIGHT): [0.2, 0.8, 0],
        (0, DOWN): [0.9, 0.1, 0],
        (0, LEFT): [1, 0, 0],
        (1, UP): [0.1, 0.8, 0.1],
        (1, RIGHT): [0, 0.2, 0.8],
        (1, DOWN): [0.1, 0.8, 0.1],
        (1, LEFT): [0.8, 0.2, 0],
    }
    for (s, a), row in expected.items():
        np.testing.assert_allclose(grid.mdp.P[s, a], row, err_msg=f"s={s}, a={a}")
    assert grid.mdp.R[1, RIGHT, 2] == pytest.approx(-0.1 + 1.0)
    assert grid.mdp.R[0, RIGHT, 1] == pytest.approx(-0.1)
    assert np.all(grid.mdp.R[2] == 0)


def test_rewards_of_goal_and_pit():
    # R[s, a, s_next] = step_reward + goal_reward [s_next is G] + pit_reward [s_next is P] from non-terminal s
    R = GridWorld.from_layout(TINY, step_reward=-0.5, goal_reward=2.0, pit_reward=-3.0).mdp.R
    entering = [-0.5, -0.5, -0.5 + 2.0, -0.5, -0.5 - 3.0]  # states (1,1) (1,2) (1,3)=G (2,1) (2,3)=P
    for s in (0, 1, 3):
        np.testing.assert_allclose(R[s], [entering] * 4)
    assert np.all(R[2] == 0) and np.all(R[4] == 0)  # nothing is paid after the episode ends


def test_sampled_slips_match_the_transition_table():
    env = GridWorldEnv("...\n.S.\n..G", slip=0.3)
    s0 = env.reset(seed=123)[0]
    counts = np.zeros(env.grid.n_states)
    n = 4000
    for _ in range(n):
        env.reset()
        s_next = env.step(UP)[0]
        counts[s_next] += 1
    expected = env.grid.mdp.P[s0, UP]
    np.testing.assert_allclose(expected[[1, 3, 5]], [0.7, 0.15, 0.15])  # up, left, right of the centre
    np.testing.assert_allclose(counts / n, expected, atol=0.03)  # ~4 standard errors


def rollout(seed: int, n_steps: int = 30) -> list[tuple]:
    env = GridWorldEnv("four_rooms_small", slip=0.4)
    steps = [env.reset(seed=seed)]
    for t in range(n_steps):
        s, r, terminated, truncated, _ = env.step(t % 4)
        steps.append((s, r, terminated))
        if terminated:
            break
    return steps


def test_same_seed_same_trajectory_different_seed_differs():
    assert rollout(0) == rollout(0)
    assert rollout(0) != rollout(1)


# ----------------------------------------------------------------------------------------- exact values
def test_cliff_optimal_value_of_start():
    # Cliff cells are pits: stepping in pays -1 - 100 and ends the episode. The best path goes up, 11 steps
    # right along the cliff edge and down into G: 13 steps at -1 each (G adds 0), so v*(S) = -13 (gamma = 1).
    grid = GridWorld.from_layout("cliff", step_reward=-1.0, goal_reward=0.0, pit_reward=-100.0, gamma=1.0)
    v, pi = value_iteration(grid.mdp)
    start = grid.state_of(3, 0)
    assert v[start] == pytest.approx(-13.0)
    assert pi[start, UP] == 1.0
    assert v[grid.state_of(2, 11)] == pytest.approx(-1.0)


def test_small_layout_optimal_value_of_start():
    # From S at (4,1) the goal (1,5) is 3 up + 4 right = 7 steps; only the last pays +1, so v*(S) = 0.9**6.
    grid = GridWorld.from_layout("small", gamma=0.9)
    v, _ = value_iteration(grid.mdp)
    assert v[grid.starts[0]] == pytest.approx(0.9**6)


# ----------------------------------------------------------------------------------------- rendering
def test_ansi_render_draws_the_agent():
    env = GridWorldEnv(TINY, render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "#####\n#A.G#\n#.#P#\n#####\n"
    env.step(RIGHT)
    assert env.render() == "#####\n#SAG#\n#.#P#\n#####\n"


def test_rgb_render_colours():
    env = GridWorldEnv(TINY, render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.shape == (4 * 32, 5 * 32, 3) and image.dtype == np.uint8

    def centre(row, col):
        return tuple(int(x) for x in image[row * 32 + 16, col * 32 + 16])

    r, g, b = centre(1, 1)  # the agent
    assert b > 200 and r < 100
    r, g, b = centre(1, 3)  # goal
    assert g > r and g > b
    r, g, b = centre(2, 3)  # pit
    assert r > g and r > b
    assert max(centre(0, 0)) < 100  # wall


# ----------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("S.G\n..", r"ragged: row 1 has 2 cells but row 0 has 3"),
        ("S.X", r"unknown character 'X' at row 0, column 2"),
        ("S G", r"unknown character ' ' at row 0, column 1"),
        ("..G", r"no start cell 'S'"),
        ("S..", r"no terminal cell"),
        ("  \n ", r"layout is empty"),
        ("tiny_maze", r"named layouts \['bridge'"),
    ],
)
def test_bad_layouts_are_explained(layout, message):
    with pytest.raises(ValueError, match=message):
        GridWorld.from_layout(layout)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slip": 1.5}, r"slip must be in \[0, 1\]; got 1.5"),
        ({"slip": float("nan")}, r"slip must be in \[0, 1\]"),
        ({"slip": "a lot"}, r"slip must be a number in \[0, 1\]"),
        ({"gamma": -0.1}, r"gamma must be in \[0, 1\]"),
        ({"goal_reward": float("inf")}, r"goal_reward must be in \[-inf, inf\]; got inf"),
        ({"step_reward": None}, r"step_reward must be a number"),
    ],
)
def test_bad_parameters_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GridWorld.from_layout(TINY, **kwargs)


def test_bad_cells_and_constructor_arguments_are_explained():
    grid = GridWorld.from_layout(TINY)
    with pytest.raises(ValueError, match=r"cell \(2, 2\) is a wall"):
        grid.state_of(2, 2)
    with pytest.raises(ValueError, match=r"outside the 4 x 5 grid"):
        grid.state_of(4, 0)
    with pytest.raises(TypeError, match="tuple of row strings"):
        GridWorld("S.G")
    with pytest.raises(TypeError, match="must be a metarl_edu.TabularMDP"):
        TabularMDPEnv(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        GridWorldEnv(render_mode="human")


def test_misuse_of_step_is_explained():
    env = GridWorldEnv("S.G")
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(RIGHT)
    env.reset(seed=0)
    for bad in (4, -1, 1.5, "right"):
        with pytest.raises(ValueError, match=r"invalid action .*integers in \[0, 4\).*'up', 'right'"):
            env.step(bad)
    env.step(RIGHT)
    assert env.step(RIGHT)[2]  # terminated in G
    with pytest.raises(RuntimeError, match=r"terminated; call reset\(\)"):
        env.step(LEFT)
    assert env.reset(seed=1)[0] == 0  # a reset starts over
