"""Lesson 01: the Bellman expectation backup and value iteration.

Each case is a tiny MDP whose answer is worked by hand in a comment, plus cases on the lesson's gridworld and on
random MDPs compared with the library's reference. Every MDP here gives ``R`` the shape (S, A, S), as the lesson's
table says, so an answer that takes the expectation ``sum_s2 P[s, a, s2] R[s, a, s2]`` itself passes as well as one
that reads ``mdp.r_sa``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import Exercise, Failure, as_numbers, call_unchanged, expect_close, fmt, register
from metarl_edu.mdp import TabularMDP
from metarl_edu.mdp import bellman_expectation_backup as _backup_reference
from metarl_edu.mdp import q_from_v as _q_from_v
from metarl_edu.mdp import value_iteration as _vi_reference


def transition_rewards(r_sa: Any, n_states: int) -> np.ndarray:
    """R of shape (S, A, S) that pays ``r_sa[s, a]`` on every transition out of (s, a): the lesson's indexing."""
    r_sa = np.asarray(r_sa, dtype=float)
    return np.repeat(r_sa[:, :, None], n_states, axis=2)


def two_state_mdp(gamma: float = 0.9) -> TabularMDP:
    """Two states, two actions: action 0 moves to state 0, action 1 moves to state 1.

    Rewards r(s, a): from state 0, action 0 pays 0 and action 1 pays 1; from state 1, action 0 pays 2 and
    action 1 pays 0. No terminal state.
    """
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    return TabularMDP(P=P, R=transition_rewards([[0.0, 1.0], [2.0, 0.0]], 2), gamma=gamma)


def corridor_mdp(gamma: float, terminal_reward: float = 0.0) -> TabularMDP:
    """States 0 -> 1 -> 2, with 2 terminal. Both actions in state 0 step right paying -1 (a tie).
    In state 1, action 0 steps into the terminal state paying +10; action 1 steps back to 0 paying 0.
    The terminal state's own row loops with reward ``terminal_reward``, which must never count.
    """
    P = np.zeros((3, 2, 3))
    P[0, :, 1] = 1.0
    P[1, 0, 2] = 1.0
    P[1, 1, 0] = 1.0
    P[2, :, 2] = 1.0
    R = transition_rewards([[-1.0, -1.0], [10.0, 0.0], [terminal_reward, terminal_reward]], 3)
    return TabularMDP(P=P, R=R, gamma=gamma, terminal=[False, False, True])


def coin_mdp() -> TabularMDP:
    """One action. From state 0 a fair coin sends you to state 0 (reward 0) or state 1 (reward 4), so the
    expected reward is r(0) = 2; state 1 loops on itself with reward 0. R has shape (S, A, S). gamma = 0.5.
    """
    P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    R = np.array([[[0.0, 4.0]], [[0.0, 0.0]]])
    return TabularMDP(P=P, R=R, gamma=0.5)


def random_mdp(rng: np.random.Generator, n_states: int = 5, n_actions: int = 3, gamma: float = 0.8) -> TabularMDP:
    """A random MDP with R of shape (S, A, S) and about a third of its states terminal (never all of them)."""
    terminal = rng.random(n_states) < 0.3
    terminal[0] = False
    return TabularMDP(P=rng.dirichlet(np.ones(n_states), size=(n_states, n_actions)),
                      R=rng.normal(size=(n_states, n_actions, n_states)), gamma=gamma, terminal=terminal)


def lesson_grid_mdp() -> TabularMDP:
    from metarl_edu.envs.gridworld import GridWorld

    return GridWorld.from_layout("small", slip=0.2, step_reward=-0.04, gamma=0.9).mdp


# --------------------------------------------------------------------------------------------- backup
def _backup_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def call(mdp: TabularMDP, v: np.ndarray, pi: np.ndarray) -> Any:
        return call_unchanged(fn, (mdp, v, pi), ("mdp", "v", "pi"), advice={
            "v": "compute v_new as a new array from the old v (a synchronous sweep)",
            "pi": "read pi, never write to it"})

    def two_state() -> None:
        # q[0,0] = 0 + .9*1 = 0.9, q[0,1] = 1 + .9*2 = 2.8, v_new[0] = .5*.9 + .5*2.8 = 1.85
        # q[1,0] = 2 + .9*1 = 2.9 and pi(1) = action 0, so v_new[1] = 2.9
        mdp, v, pi = two_state_mdp(0.9), np.array([1.0, 2.0]), np.array([[0.5, 0.5], [1.0, 0.0]])
        no_gamma = np.array([0.5 * 1 + 0.5 * 3, 3.0])
        # An in-place sweep updates v[0] first (1.85) and then uses it for state 1: 2 + 0.9 * 1.85 = 3.665.
        in_place = np.array([1.85, 3.665])
        expect_close(call(mdp, v, pi), [1.85, 2.9], what="v_new", mistakes=(
            (no_gamma, "the next state's value must be multiplied by gamma"),
            (in_place, "compute every v_new[s] from the OLD v (a synchronous sweep); updating in place mixes new "
                       "and old values"),
        ))

    def terminal() -> None:
        # gamma = 1, v = [0, 0, 5]: v_new[0] = -1 + v[1] = -1; v_new[1] = 10 + v(terminal) = 10 + 0;
        # v_new[2] = 0 because state 2 is terminal, whatever v[2] says.
        mdp, v, pi = corridor_mdp(1.0, terminal_reward=1.0), np.array([0.0, 0.0, 5.0]), np.array([[1.0, 0]] * 3)
        bootstraps = np.array([-1.0, 15.0, 6.0])
        expect_close(call(mdp, v, pi), [-1.0, 10.0, 0.0], what="v_new", mistakes=(
            (bootstraps, "a terminal state has value 0: multiply v[s_next] by (1 - mdp.terminal[s_next]), and set "
                         "v_new to 0 on terminal states"),
            (np.array([-1.0, 10.0, 6.0]), "set v_new to 0 on terminal states: the episode is over there"),
            (np.array([-1.0, 15.0, 0.0]), "never bootstrap from a terminal state: its value is 0"),
        ))

    def expected_reward() -> None:
        # r(0) = .5*0 + .5*4 = 2, so v_new[0] = 2 + .5*(.5*2 + .5*4) = 3.5; v_new[1] = 0 + .5*4 = 2.
        # Using the single entry R[0, 0, 0] = 0 in place of r(0) would give 0 + 1.5 = 1.5.
        mdp, v, pi = coin_mdp(), np.array([2.0, 4.0]), np.ones((2, 1))
        expect_close(call(mdp, v, pi), [3.5, 2.0], what="v_new", mistakes=(
            (np.array([1.5, 2.0]), "use the expected reward mdp.r_sa[s, a], not one entry of mdp.R"),
        ))

    def against_reference(mdp: TabularMDP, rng: np.random.Generator) -> None:
        v = rng.normal(size=mdp.n_states)
        pi = rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
        v_next = np.where(mdp.terminal, 0.0, v)
        in_place = v.copy()  # a Gauss-Seidel sweep: state s already sees the new values of states < s
        for s in range(mdp.n_states):
            q_s = mdp.r_sa[s] + mdp.gamma * mdp.P[s] @ np.where(mdp.terminal, 0.0, in_place)
            in_place[s] = 0.0 if mdp.terminal[s] else pi[s] @ q_s
        expect_close(call(mdp, v, pi), _backup_reference(mdp, v, pi), what="v_new", mistakes=(
            (np.where(mdp.terminal, 0.0, np.sum(pi * (mdp.r_sa + mdp.P @ v_next), axis=1)),
             "the next state's value must be multiplied by gamma"),
            (np.sum(pi * (mdp.r_sa + mdp.gamma * mdp.P @ v), axis=1),
             "a terminal state has value 0: never bootstrap from it, and set v_new to 0 there"),
            (in_place, "compute every v_new[s] from the OLD v (a synchronous sweep); updating in place mixes new "
                       "and old values"),
            (np.where(mdp.terminal[:, None], 0.0, mdp.r_sa + mdp.gamma * mdp.P @ v_next),
             "return v_new (S,), not q (S, A): average q over the policy, sum over a of pi[s, a] * q[s, a]"),
        ))

    def gridworld() -> None:
        against_reference(lesson_grid_mdp(), np.random.default_rng(0))

    def random_mdps() -> None:
        for seed in range(3):
            rng = np.random.default_rng(100 + seed)
            against_reference(random_mdp(rng), rng)

    yield "two states, stochastic policy, gamma=0.9", two_state
    yield "corridor with a terminal state, gamma=1", terminal
    yield "R of shape (S, A, S), a fair coin", expected_reward
    yield "lesson gridworld, random v and pi", gridworld
    yield "three random MDPs with terminal states (seeds 100-102)", random_mdps


# --------------------------------------------------------------------------------------------- value iteration
def _unpack(result: Any, mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise Failure(f"return a pair (v, pi); got {type(result).__name__}")
    v, pi = as_numbers(result[0], "v"), as_numbers(result[1], "pi")
    S, A = mdp.n_states, mdp.n_actions
    if v.shape != (S,):
        raise Failure(f"v should have shape (S,) = ({S},); got {v.shape}")
    if pi.shape != (S, A):
        raise Failure(f"pi should have shape (S, A) = {(S, A)}; got {pi.shape}")
    bad = ~(np.all((pi == 0) | (pi == 1), axis=1) & (pi.sum(axis=1) == 1))
    if np.any(bad):
        s = int(np.flatnonzero(bad)[0])
        where = " (a terminal state: any one action will do there)" if mdp.terminal[s] else ""
        raise Failure(f"pi should be one-hot in every row (a single 1); row {s}{where} is {fmt(pi[s])}")
    return v, pi


def _expect_policy(pi: np.ndarray, expected: np.ndarray, mdp: TabularMDP) -> None:
    live = ~mdp.terminal
    if not np.array_equal(pi[live], expected[live]):
        s = int(np.flatnonzero(np.any(pi != expected, axis=1) & live)[0])
        q = _q_from_v(mdp, _vi_reference(mdp)[0])[s]
        hint = f"in state {s} expected action {int(expected[s].argmax())}, got {int(pi[s].argmax())} (q* = {fmt(q)})"
        if np.isclose(q[int(pi[s].argmax())], q.max()):
            hint += "; on ties pick the lowest action, as np.argmax does"
        raise Failure(hint)


ONE_SWEEP = ("this is one sweep from v = 0 (the best immediate reward in each state): repeat the backup until the "
             "largest change max |v_new - v| is below theta")


def _vi_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def two_state() -> None:
        # Cycling 0 -> 1 -> 0 earns 1, 2, 1, 2, ...: v0 = 1 + .9 v1 and v1 = 2 + .9 v0,
        # so v0 = 2.8 / 0.19 = 14.7368... and v1 = 2 + .9 v0 = 15.2631...
        mdp = two_state_mdp(0.9)
        v, pi = _unpack(fn(mdp), mdp)
        v0 = 2.8 / 0.19
        expect_close(v, [v0, 2 + 0.9 * v0], what="v*", atol=1e-4, mistakes=(
            (np.zeros(2), "did the loop run? start from zeros and repeat the backup until the change is tiny"),
            (np.array([1.0, 2.0]), ONE_SWEEP),
        ))
        _expect_policy(pi, np.array([[0.0, 1.0], [1.0, 0.0]]), mdp)

    def slow_discount() -> None:
        # The same cycle with gamma = .99: v0 = (1 + .99 * 2) / (1 - .99^2) = 149.749..., v1 = 2 + .99 v0. The
        # error shrinks by .99 a sweep, so a fixed number of sweeps (a hundred or a thousand) falls short here.
        mdp = two_state_mdp(0.99)
        v, _ = _unpack(fn(mdp), mdp)
        v0 = 2.98 / (1 - 0.99**2)
        expected = np.array([v0, 2 + 0.99 * v0])
        got = as_numbers(v, "v*")
        if got.shape == expected.shape and np.all(got < expected - 1e-4):
            raise Failure(f"v*: expected {fmt(expected)}, got {fmt(got)}: every value is still too low, as after a "
                          "fixed number of sweeps; repeat the backup until the largest change is below theta")
        expect_close(v, expected, what="v*", atol=1e-4)

    def corridor() -> None:
        # gamma = .9: v*(1) = 10 (step into the terminal state), v*(0) = -1 + .9 * 10 = 8, v*(2) = 0.
        # In state 0 both actions are equal: the tie goes to action 0.
        mdp = corridor_mdp(0.9, terminal_reward=1.0)
        v, pi = _unpack(fn(mdp), mdp)
        expect_close(v, [8.0, 10.0, 0.0], what="v*", atol=1e-4, mistakes=(
            (np.array([-1 + 0.9 * 19.0, 10 + 0.9 * 10.0, 10.0]),
             "the terminal state's value must stay 0: do not bootstrap from it or back it up"),
            (np.array([8.0, 10.0, 1.0]), "set v to 0 on terminal states after every sweep: the episode is over "
                                          "there, whatever its own row of R says"),
            (np.array([-1.0, 10.0, 0.0]), ONE_SWEEP),
        ))
        _expect_policy(pi, np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]), mdp)

    def against_reference(mdp: TabularMDP) -> None:
        v, pi = _unpack(fn(mdp), mdp)
        v_ref, pi_ref = _vi_reference(mdp)
        expect_close(v, v_ref, what="v*", atol=1e-4)
        _expect_policy(pi, pi_ref, mdp)

    def gridworld() -> None:
        against_reference(lesson_grid_mdp())

    def random_mdps() -> None:
        for seed in range(3):
            against_reference(random_mdp(np.random.default_rng(200 + seed), gamma=0.9))

    yield "two-state cycle, gamma=0.9", two_state
    yield "two-state cycle, gamma=0.99 (slow to converge)", slow_discount
    yield "corridor with a terminal state and a tie", corridor
    yield "lesson gridworld, slip=0.2", gridworld
    yield "three random MDPs with terminal states (seeds 200-202)", random_mdps


BELLMAN_EXPECTATION_BACKUP = register(
    Exercise(
        id="bellman_expectation_backup",
        title="One sweep of the Bellman expectation backup",
        reference=_backup_reference,
        reference_name="metarl_edu.mdp.bellman_expectation_backup",
        cases=_backup_cases,
        equivalents=("metarl_edu.mdp.iterative_policy_evaluation",),
    )
)

VALUE_ITERATION = register(
    Exercise(
        id="value_iteration",
        title="Value iteration",
        reference=_vi_reference,
        reference_name="metarl_edu.mdp.value_iteration",
        cases=_vi_cases,
        equivalents=("metarl_edu.mdp.bellman_optimality_backup",),
    )
)
