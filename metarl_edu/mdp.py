"""Finite Markov decision processes as arrays, and exact dynamic programming on them.

Notation (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., 2018, chapters 3-4):

=========  ===========  ==========================================================
symbol     shape        meaning
=========  ===========  ==========================================================
``P``      (S, A, S)    ``P[s, a, s_next]`` = Pr(s_next | s, a); rows sum to 1
``R``      (S, A) or    expected reward of (s, a), or reward of the transition
           (S, A, S)    (s, a, s_next)
``gamma``  scalar       discount in [0, 1]
``v``      (S,)         state values
``q``      (S, A)       action values
``pi``     (S, A)       ``pi[s, a]`` = Pr(a | s); rows sum to 1
=========  ===========  ==========================================================

A *terminal* state ends the episode: its value is 0 by definition and nothing bootstraps from it. Rewards
earned on the transition *into* a terminal state still count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from metarl_edu import _checks
from metarl_edu._checks import PROB_ATOL, check_array, check_distribution_rows  # noqa: F401  (PROB_ATOL re-exported)


class MDPError(ValueError):
    """An MDP, policy or value array that does not make sense; the message says what is wrong and where."""


def _as_float_array(name: str, x: Any) -> np.ndarray:
    return check_array(name, x, finite=False, error=MDPError)


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP given by arrays.

    Attributes:
        P: transitions, shape (S, A, S); ``P[s, a]`` is a distribution over next states.
        R: rewards, shape (S, A) (expected reward of taking ``a`` in ``s``) or (S, A, S) (reward of the
            transition ``s, a -> s_next``).
        gamma: discount factor in [0, 1]. ``gamma == 1`` suits episodic tasks whose policies reach a terminal
            state (Sutton & Barto's gridworlds).
        terminal: boolean mask, shape (S,): states where the episode ends. Their value is 0. Default: none.
        start: start-state distribution, shape (S,). Default: uniform over the non-terminal states.
        state_names / action_names: optional labels used in messages and plots.

    Every array is validated on construction; an error names the offending state and action.

    >>> P = np.zeros((2, 1, 2)); P[0, 0, 1] = 1; P[1, 0, 1] = 1
    >>> mdp = TabularMDP(P=P, R=[[1.0], [0.0]], gamma=1.0, terminal=[False, True])
    >>> policy_evaluation(mdp, np.ones((2, 1)))
    array([1., 0.])
    """

    P: np.ndarray
    R: np.ndarray
    gamma: float
    terminal: np.ndarray | None = None
    start: np.ndarray | None = None
    state_names: tuple[str, ...] | None = None
    action_names: tuple[str, ...] | None = None
    r_sa: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        P = _as_float_array("P", self.P)
        if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] == 0 or P.shape[1] == 0:
            raise MDPError(f"P must have shape (S, A, S) with S, A >= 1; got shape {P.shape}")
        S, A, _ = P.shape
        check_distribution_rows("P", P, ("s", "a"), error=MDPError)

        R = _as_float_array("R", self.R)
        if R.shape not in ((S, A), (S, A, S)):
            raise MDPError(f"R must have shape (S, A) = {(S, A)} or (S, A, S) = {(S, A, S)}; got {R.shape}")
        if not np.all(np.isfinite(R)):
            idx = _checks.first_bad(~np.isfinite(R))
            raise MDPError(f"R must be finite; R{list(idx)} = {R[idx]} (state s={idx[0]}, action a={idx[1]})")

        if isinstance(self.gamma, (bool, str, bytes)):
            raise MDPError(f"gamma must be a number in [0, 1]; got {self.gamma!r}")
        try:
            gamma = float(self.gamma)
        except (TypeError, ValueError):
            raise MDPError(f"gamma must be a number in [0, 1]; got {self.gamma!r}") from None
        if not 0.0 <= gamma <= 1.0:
            raise MDPError(f"gamma must be in [0, 1]; got {gamma}")

        if self.terminal is None:
            terminal = np.zeros(S, dtype=bool)
        else:
            terminal = np.asarray(self.terminal)
            if terminal.shape != (S,):
                raise MDPError(f"terminal must be a boolean mask of shape (S,) = ({S},); got {terminal.shape}")
            if terminal.dtype != bool:
                if not np.all(np.isin(terminal, (0, 1))):
                    raise MDPError("terminal must contain only True/False (or 1/0)")
                terminal = terminal.astype(bool)

        if self.start is None:
            if terminal.all():
                raise MDPError("every state is terminal; give at least one non-terminal state")
            start = (~terminal).astype(float) / (~terminal).sum()
        else:
            start = _as_float_array("start", self.start)
            if start.shape != (S,):
                raise MDPError(f"start must have shape (S,) = ({S},); got {start.shape}")
            check_distribution_rows("start", start[None, :], (), error=MDPError)
            if np.any(start[terminal] > 0):
                bad = int(np.flatnonzero(terminal & (start > 0))[0])
                raise MDPError(f"start puts probability {start[bad]:.3g} on terminal state {bad}; an episode cannot "
                               "begin where it ends")

        for name, labels, n in (("state_names", self.state_names, S), ("action_names", self.action_names, A)):
            if labels is not None and len(labels) != n:
                raise MDPError(f"{name} must have {n} entries; got {len(labels)}")

        r_sa = R if R.ndim == 2 else expected_reward(P, R)
        for name, value in (("P", P), ("R", R), ("terminal", terminal), ("start", start), ("r_sa", r_sa)):
            value = np.array(value, copy=True)
            value.setflags(write=False)  # an MDP is a value: nobody edits it behind our back
            object.__setattr__(self, name, value)
        object.__setattr__(self, "gamma", gamma)
        for name in ("state_names", "action_names"):
            labels = getattr(self, name)
            if labels is not None:
                object.__setattr__(self, name, tuple(str(x) for x in labels))

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return self.P.shape[1]

    def with_gamma(self, gamma: float) -> TabularMDP:
        """The same MDP with another discount."""
        return TabularMDP(self.P, self.R, gamma, self.terminal, self.start, self.state_names, self.action_names)

    def __repr__(self) -> str:
        return (
            f"TabularMDP(S={self.n_states}, A={self.n_actions}, gamma={self.gamma}, "
            f"terminal states={np.flatnonzero(self.terminal).tolist()})"
        )

    # ----------------------------------------------------------------------------------------- sampling
    def sample_start(self, rng: np.random.Generator) -> int:
        """Draw a start state from ``start`` with the given generator."""
        return int(rng.choice(self.n_states, p=self.start))

    def sample_transition(self, s: int, a: int, rng: np.random.Generator) -> tuple[int, float, bool]:
        """Draw ``(s_next, r, terminated)`` for taking action ``a`` in state ``s``.

        With R of shape (S, A) the reward is the expected reward ``R[s, a]``; with (S, A, S) it is
        ``R[s, a, s_next]``.
        """
        s, a = self._check_state_action(s, a)
        s_next = int(rng.choice(self.n_states, p=self.P[s, a]))
        r = float(self.R[s, a] if self.R.ndim == 2 else self.R[s, a, s_next])
        return s_next, r, bool(self.terminal[s_next])

    def _check_state_action(self, s: Any, a: Any) -> tuple[int, int]:
        for name, x in (("state", s), ("action", a)):
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
                raise MDPError(f"{name} must be an integer; got {x!r}")
        if not (0 <= int(s) < self.n_states):
            raise MDPError(f"state {s} is out of range [0, {self.n_states})")
        if not (0 <= int(a) < self.n_actions):
            raise MDPError(f"action {a} is out of range [0, {self.n_actions})")
        return int(s), int(a)

    # ----------------------------------------------------------------------------------------- gymnasium
    @classmethod
    def from_gymnasium(cls, env: Any, gamma: float = 0.99) -> TabularMDP:
        """Read the transition table ``env.unwrapped.P`` of a Gymnasium toy-text env (FrozenLake, CliffWalking,
        Taxi) into a :class:`TabularMDP`.

        Gymnasium stores ``P[s][a] = [(prob, s_next, reward, terminated), ...]``. Entries with the same next state
        are merged (probabilities add, rewards average by probability, which is exact for dynamic programming).
        A state entered by a terminated transition becomes terminal here (value 0, absorbing: its rows are
        replaced by a self-loop with reward 0).
        The start distribution is ``env.unwrapped.initial_state_distrib`` where the env has one, else uniform.
        """
        base = getattr(env, "unwrapped", env)
        table = getattr(base, "P", None)
        if table is None:
            raise MDPError(
                f"{type(base).__name__} exposes no transition table `unwrapped.P`; from_gymnasium works with "
                "Gymnasium's toy-text envs such as FrozenLake-v1, CliffWalking-v1 and Taxi-v3"
            )
        S = int(base.observation_space.n)
        A = int(base.action_space.n)
        P = np.zeros((S, A, S))
        PR = np.zeros((S, A, S))  # sum of prob * reward, so duplicate entries average by probability
        terminal = np.zeros(S, dtype=bool)
        for s in range(S):
            for a in range(A):
                for prob, s_next, reward, terminated in table[s][a]:
                    P[s, a, s_next] += prob
                    PR[s, a, s_next] += prob * reward
                    # Termination is a property of the state entered. (Taxi also lists non-terminated moves into
                    # such states, but only from states that cannot occur, so marking the state terminal is exact.)
                    terminal[s_next] |= bool(terminated) and prob > 0
        R = np.divide(PR, P, out=np.zeros_like(PR), where=P > 0)
        for s in np.flatnonzero(terminal):
            P[s] = 0.0
            P[s, :, s] = 1.0
            R[s] = 0.0
        start = getattr(base, "initial_state_distrib", None)
        start = None if start is None else np.asarray(start, dtype=float)
        if start is not None and start.sum() > 0:
            start = start / start.sum()
        return cls(P=P, R=R, gamma=gamma, terminal=terminal, start=start)


# --------------------------------------------------------------------------------------------- validation
def check_policy(mdp: TabularMDP, pi: Any) -> np.ndarray:
    """Return ``pi`` as a float array of shape (S, A) after checking that each row is a distribution."""
    pi = _as_float_array("pi", pi)
    if pi.shape != (mdp.n_states, mdp.n_actions):
        raise MDPError(f"pi must have shape (S, A) = {(mdp.n_states, mdp.n_actions)}; got {pi.shape}")
    check_distribution_rows("pi", pi, ("s",), error=MDPError)
    return pi


def check_values(mdp: TabularMDP, v: Any, name: str = "v") -> np.ndarray:
    """Return ``v`` as a float array of shape (S,) after checking shape and finiteness."""
    v = _as_float_array(name, v)
    if v.shape != (mdp.n_states,):
        raise MDPError(f"{name} must have shape (S,) = ({mdp.n_states},); got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise MDPError(f"{name} must be finite; {name}[{_checks.first_bad(~np.isfinite(v))[0]}] is not")
    return v


# --------------------------------------------------------------------------------------------- returns
def discounted_return(rewards: Sequence[float] | np.ndarray, gamma: float) -> float:
    """G_0 = r_1 + gamma r_2 + gamma^2 r_3 + ... for one episode's rewards.

    >>> discounted_return([1.0, 1.0, 1.0], gamma=0.5)
    1.75
    """
    rewards = _as_float_array("rewards", rewards)
    if rewards.ndim != 1:
        raise MDPError(f"rewards must be a 1-D sequence; got shape {rewards.shape}")
    if isinstance(gamma, (bool, str, bytes)) or not isinstance(gamma, (int, float, np.floating, np.integer)):
        raise MDPError(f"gamma must be a number in [0, 1]; got {gamma!r}")
    if not 0.0 <= gamma <= 1.0:
        raise MDPError(f"gamma must be in [0, 1]; got {gamma}")
    g = 0.0
    for r in rewards[::-1]:  # G_t = r_{t+1} + gamma G_{t+1}, from the end
        g = float(r) + gamma * g
    return g


# --------------------------------------------------------------------------------------------- backups
def expected_reward(P: np.ndarray, R: np.ndarray) -> np.ndarray:
    """r(s, a) = sum_s' P[s, a, s'] * R[s, a, s'], the expected reward of each pair: shape (..., S, A) from
    transitions and transition rewards of shape (..., S, A, S)."""
    return np.einsum("...sat,...sat->...sa", P, R)


def lookahead(P: np.ndarray, R: np.ndarray, gamma: Any, v: np.ndarray, terminal: np.ndarray | None = None
              ) -> np.ndarray:
    """One-step lookahead on arrays with any leading batch dimensions:

        q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] * v[s'],     v[s'] = 0 and q[s] = 0 for terminal s, s'.

    Args:
        P: (..., S, A, S) transitions. R: (..., S, A) expected rewards. gamma: discount in [0, 1], a number or
            one per MDP (...,). v: (..., S) values of the next states. terminal: (..., S) bool mask or None.

    Returns q, shape (..., S, A). :func:`q_from_v` is this for one :class:`TabularMDP`.
    """
    gamma = np.asarray(gamma, dtype=float)[..., None, None, None]
    if terminal is not None:
        v = np.where(terminal, 0.0, v)  # never bootstrap from a terminal state
    q = R + ((gamma * P) @ v[..., None, :, None])[..., 0]  # (gamma P) v, as (..., S, A, S) @ (..., 1, S, 1)
    if terminal is not None:
        q[terminal] = 0.0  # the episode is over there
    return q


def q_from_v(mdp: TabularMDP, v: np.ndarray) -> np.ndarray:
    """One-step lookahead: q[s, a] = r(s, a) + gamma * sum_s' P[s, a, s'] * (1 - terminal[s']) * v[s'].

    Terminal states get q = 0: the episode is over there. Returns shape (S, A).
    """
    v = check_values(mdp, v)
    return lookahead(mdp.P, mdp.r_sa, mdp.gamma, v, mdp.terminal)


def bellman_expectation_backup(mdp: TabularMDP, v: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """One synchronous sweep of the Bellman expectation backup for policy ``pi``:

        v_new[s] = sum_a pi[s, a] * (r(s, a) + gamma * sum_s' P[s, a, s'] * v[s']),   v_new[terminal] = 0.
    """
    pi = check_policy(mdp, pi)
    return np.sum(pi * q_from_v(mdp, v), axis=1)


def bellman_optimality_backup(mdp: TabularMDP, v: np.ndarray) -> np.ndarray:
    """One synchronous sweep of the Bellman optimality backup: v_new[s] = max_a q[s, a]."""
    return q_from_v(mdp, v).max(axis=1)


def greedy_policy(q: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """One-hot greedy policy of shape (S, A) from ``q`` (S, A); ties (within ``tol``) go to the lowest action."""
    q = _as_float_array("q", q)
    if q.ndim != 2:
        raise MDPError(f"q must have shape (S, A); got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise MDPError(f"q must be finite; q{list(_checks.first_bad(~np.isfinite(q)))} is not")
    best = q >= q.max(axis=1, keepdims=True) - tol
    pi = np.zeros_like(q)
    pi[np.arange(q.shape[0]), np.argmax(best, axis=1)] = 1.0  # argmax of booleans = first True
    return pi


# --------------------------------------------------------------------------------------------- evaluation
def _states_that_cannot_terminate(mdp: TabularMDP, P_pi: np.ndarray) -> np.ndarray:
    """Non-terminal states from which no terminal state is reachable under the Markov chain P_pi."""
    reaches = mdp.terminal.copy()
    edges = P_pi > 0
    while True:
        new = reaches | (edges @ reaches)
        if np.array_equal(new, reaches):
            return np.flatnonzero(~reaches)
        reaches = new


def evaluate_policies(P: np.ndarray, R: np.ndarray, terminal: np.ndarray, gamma: Any, pi: np.ndarray,
                      horizon: int | None = None) -> np.ndarray:
    """Exact values v_pi of policies on MDPs given as arrays with any leading batch dimensions. Shape (..., S).

    Terminal states are worth 0: their rows and columns of P_pi and their entries of r_pi are zeroed (the episode
    has ended there), so that each system reads v = r_pi + gamma P_pi v on the non-terminal states.

    Args:
        P: (..., S, A, S) transitions. R: (..., S, A) expected rewards (see :func:`expected_reward`).
        terminal: (..., S) bool mask. gamma: discount in [0, 1], a number or one per MDP (...,).
        pi: (..., S, A) policies, rows sum to 1.
        horizon: None: the discounted value, the solution of (I - gamma P_pi) v = r_pi (it exists if gamma < 1,
            or with gamma = 1 if the policy ends every episode). H: the expected sum of the first H rewards, by H
            backups v_t = r_pi + gamma P_pi v_{t+1} from v_H = 0.
    """
    P, R, pi = (np.asarray(x, dtype=float) for x in (P, R, pi))
    live = ~np.asarray(terminal, dtype=bool)
    gamma = np.asarray(gamma, dtype=float)[..., None, None]
    P_pi = np.einsum("...sa,...sat->...st", pi, P)
    P_pi = np.where(live[..., :, None] & live[..., None, :], P_pi, 0.0)  # nothing follows a terminal state
    r_pi = np.where(live, np.sum(pi * R, axis=-1), 0.0)  # ... and nothing is earned there
    if horizon is None:
        S = P.shape[-1]
        return np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi[..., None])[..., 0]
    v = np.zeros_like(r_pi)
    for _ in range(_checks.check_int("horizon", horizon, low=0, error=MDPError)):
        v = r_pi + (gamma * P_pi @ v[..., None])[..., 0]
    return v


def policy_evaluation(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """Exact v_pi by solving the linear Bellman equations (I - gamma P_pi) v = r_pi on the non-terminal states
    (:func:`evaluate_policies` for one MDP).

    With ``gamma == 1`` the solution exists only if the policy ends every episode; otherwise this raises an
    :class:`MDPError` naming a state from which the policy never reaches a terminal state.
    """
    pi = check_policy(mdp, pi)
    if mdp.gamma == 1.0:
        stuck = _states_that_cannot_terminate(mdp, np.einsum("sa,sat->st", pi, mdp.P))
        if stuck.size:
            raise MDPError(
                f"with gamma = 1 this policy never reaches a terminal state from state {stuck[0]} "
                f"({stuck.size} such state(s)), so its return is not defined; use gamma < 1 or a policy that "
                "ends the episode"
            )
    return evaluate_policies(mdp.P, mdp.r_sa, mdp.terminal, mdp.gamma, pi)


def iterative_policy_evaluation(
    mdp: TabularMDP,
    pi: np.ndarray,
    theta: float = 1e-10,
    max_sweeps: int = 100_000,
    v0: np.ndarray | None = None,
    return_history: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """v_pi by repeated synchronous Bellman expectation backups (Sutton & Barto, 2018, section 4.1).

    Stops when no value changes by more than ``theta``. With ``return_history=True`` also returns the list of
    value arrays after every sweep (starting with ``v0``), for plotting convergence.
    Raises :class:`MDPError` if it has not converged after ``max_sweeps`` sweeps.
    """
    _check_loop_args(theta, max_sweeps)
    pi = check_policy(mdp, pi)
    v = np.zeros(mdp.n_states) if v0 is None else check_values(mdp, v0, "v0").copy()
    history = [v.copy()]
    for _ in range(max_sweeps):
        v_new = bellman_expectation_backup(mdp, v, pi)
        delta = np.max(np.abs(v_new - v))
        v = v_new
        if return_history:
            history.append(v.copy())
        if delta < theta:
            return (v, history) if return_history else v
    raise MDPError(
        f"policy evaluation did not converge in {max_sweeps} sweeps (last change {delta:.3g}); with gamma = 1 "
        "the policy may never end the episode"
    )


def _check_loop_args(theta: float, max_sweeps: int) -> None:
    if not theta > 0:
        raise MDPError(f"theta must be > 0; got {theta}")
    if int(max_sweeps) < 1:
        raise MDPError(f"max_sweeps must be >= 1; got {max_sweeps}")


def value_iteration(
    mdp: TabularMDP, theta: float = 1e-10, max_sweeps: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal values and a greedy optimal policy by value iteration (Sutton & Barto, 2018, section 4.4).

    Repeats ``v <- max_a q(v)`` until no value changes by more than ``theta``. Returns ``(v, pi_star)`` with
    ``pi_star`` one-hot of shape (S, A), ties to the lowest action.
    """
    _check_loop_args(theta, max_sweeps)
    v = np.zeros(mdp.n_states)
    for _ in range(max_sweeps):
        v_new = bellman_optimality_backup(mdp, v)
        delta = np.max(np.abs(v_new - v))
        v = v_new
        if delta < theta:
            return v, greedy_policy(q_from_v(mdp, v))
    raise MDPError(
        f"value iteration did not converge in {max_sweeps} sweeps (last change {delta:.3g}); with gamma = 1 "
        "some policy may collect reward forever without terminating"
    )


def policy_iteration(
    mdp: TabularMDP, pi: np.ndarray | None = None, max_iterations: int = 1000
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Optimal values and policy by policy iteration (Howard 1960; Sutton & Barto, 2018, section 4.3):

        repeat: v = v_pi (exact :func:`policy_evaluation`);  pi <- greedy(q_from_v(v))   until pi stops changing.

    Each improvement makes no state worse (the policy improvement theorem, section 4.2), and there are finitely
    many deterministic policies, so it stops, usually after a handful of iterations.

    Args:
        pi: the starting policy (S, A); default the uniformly random one. With ``gamma == 1`` it must end every
            episode, as every policy along the way then does.
        max_iterations: raise :class:`MDPError` if the policy still changes after this many improvements.

    Returns ``(v, pi_star, policies)``: ``pi_star`` one-hot, ties to the lowest action, and ``policies`` every
    policy evaluated, the start first and ``pi_star`` last.
    """
    pi = uniform_policy(mdp) if pi is None else check_policy(mdp, pi)
    policies = [pi]
    for _ in range(_checks.check_int("max_iterations", max_iterations, low=1, error=MDPError)):
        v = policy_evaluation(mdp, pi)
        new = greedy_policy(q_from_v(mdp, v))  # ties to the lowest action, so a stable v gives a stable policy
        if np.array_equal(new, pi):
            return v, pi, policies
        pi = new
        policies.append(pi)
    raise MDPError(f"policy iteration did not settle in {max_iterations} improvements")


def uniform_policy(mdp: TabularMDP) -> np.ndarray:
    """The uniformly random policy, shape (S, A)."""
    return np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)


# --------------------------------------------------------------------------------------------- finite horizon
def backward_induction(P: np.ndarray, R: np.ndarray, horizon: int, gamma: Any = 1.0,
                       terminal: np.ndarray | None = None) -> np.ndarray:
    """Optimal action values with a time index, by backward induction (Puterman 1994, section 4.5), on arrays
    with any leading batch dimensions.

    ``q[t, ..., s, a]`` is the best expected return of the steps ``t, t+1, ..., H-1`` when action ``a`` is taken
    in state ``s`` at step ``t`` (so ``H - t`` rewards remain):

        q[H-1] = R,    q[t] = R + gamma * P @ max_a' q[t+1]     (terminal next states contribute 0).

    Args:
        P: (..., S, A, S) transitions. R: (..., S, A) expected rewards.
        horizon: H >= 0, the number of steps. gamma: discount in [0, 1], a number or one per MDP (...,).
        terminal: (..., S) bool mask of terminal states, or None.

    Returns q, shape (H, ..., S, A). The optimal policy is non-stationary: ``argmax(q[t, ..., s, :])`` at step t.
    """
    horizon = _checks.check_int("horizon", horizon, low=0, error=MDPError)
    P, R = np.asarray(P, dtype=float), np.asarray(R, dtype=float)
    q = np.zeros((horizon, *R.shape))
    v_next = np.zeros(R.shape[:-1])  # nothing is earned after the last step
    for t in reversed(range(horizon)):
        q[t] = lookahead(P, R, gamma, v_next, terminal)
        v_next = q[t].max(axis=-1)
    return q


def finite_horizon_q(mdp: TabularMDP, horizon: int) -> np.ndarray:
    """:func:`backward_induction` on one MDP: ``q[t, s, a]``, shape (H, S, A)."""
    return backward_induction(mdp.P, mdp.r_sa, horizon, mdp.gamma, mdp.terminal)


def finite_horizon_value(mdp: TabularMDP, horizon: int) -> np.ndarray:
    """v[s]: the optimal expected return of an episode of ``horizon`` steps that starts in ``s``. Shape (S,).

    The optimal expected return of the task is ``mdp.start @ v``.

    >>> P = np.ones((1, 2, 1)); mdp = TabularMDP(P=P, R=[[1.0, 2.0]], gamma=1.0)
    >>> finite_horizon_value(mdp, 3)   # best arm (reward 2) three times
    array([6.])
    """
    q = finite_horizon_q(mdp, horizon)
    return q[0].max(axis=1) if len(q) else np.zeros(mdp.n_states)
