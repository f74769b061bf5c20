"""Lesson 09: UCB1's index, the input vector of the RL^2 agent, and its memory over a trial.

UCB1: ``U_a = Q_a + c * sqrt(2 ln t / n_a)``, ``+inf`` for an arm never pulled (Auer et al. 2002, Figure 1, with the
exploration constant c). RL^2: ``x_t = [o_t, onehot(a_{t-1}), r_{t-1}, d_{t-1}]``, with an all-zero one-hot where
there is no previous action (the first step of a trial). The hand-worked cases are small enough to do on paper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from metarl_edu.classroom.cases import Exercise, Failure, as_numbers, expect_close, fmt, register
from metarl_edu.classroom.references import (
    rl2_input_reference,
    trial_hidden_states_reference,
    ucb1_index_reference,
)


# --------------------------------------------------------------------------------------------- UCB1's index
def _index(fn: Callable[..., Any], q: np.ndarray, n: np.ndarray, t: int, c: float) -> np.ndarray:
    """The learner's index as a float array of the shape of ``q``, with the unpulled arms checked first."""
    got = as_numbers(fn(q, n, t, c), "the index")
    if got.shape != q.shape:
        raise Failure(f"the index must have the shape of q, (B, k) = {q.shape}; got {got.shape}")
    unpulled = n == 0
    if np.isnan(got[unpulled]).any():
        raise Failure("an arm never pulled (n_a = 0) got nan (0 / 0): give it the index +inf with np.where, so "
                      "that every arm is tried once before any is pulled twice")
    if not np.all(np.isposinf(got[unpulled])):
        raise Failure(f"an arm never pulled (n_a = 0) must have the index +inf, so that it is tried first; got "
                      f"{fmt(got[unpulled])} there")
    if np.isinf(got[~unpulled]).any() or np.isnan(got[~unpulled]).any():
        raise Failure(f"an arm pulled at least once has a finite index; got {fmt(got)} for n = {fmt(n)}")
    return got


def _ucb1_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def three_arms() -> None:
        # q = (0.5, 1, -), n = (2, 1, 0), t = 3, c = 1; 2 ln 3 = 2.1972246:
        #   arm 0: 0.5 + sqrt(2.1972246 / 2) = 0.5 + 1.0481470 = 1.5481470
        #   arm 1: 1.0 + sqrt(2.1972246 / 1) = 1.0 + 1.4823038 = 2.4823038;   arm 2: never pulled, +inf
        # Mistakes: sqrt(ln t / n_a) -> 0.5 + 0.7411519, 1 + 1.0481470; ln n_a for ln t -> 0.5 + sqrt(ln 2) =
        # 1.3325546 and 1 + 0; n_a -> t in the denominator -> 0.5 + 0.8558085, 1 + 0.8558085;
        # sqrt(2 ln t) / n_a -> 0.5 + 1.4823038 / 2 = 1.2411519, 2.4823038.
        q, n = np.array([[0.5, 1.0, 0.0]]), np.array([[2, 1, 0]])
        got = _index(fn, q, n, 3, 1.0)
        expect_close(got[0, :2], [1.5481470, 2.4823038], what="the indices of arms 0 and 1", mistakes=(
            ([1.2411519, 2.0481471], "Auer's UCB1 has 2 ln t under the square root: c * sqrt(2 ln t / n_a)"),
            ([1.3325546, 1.0], "the logarithm is of t, the pulls of ALL arms so far, not of the arm's own n_a"),
            ([1.3558085, 1.8558085], "divide by n_a, the pulls of that arm, not by t: rarely pulled arms get a "
                                     "larger bonus"),
            ([1.2411519, 2.4823038], "the whole fraction 2 ln t / n_a goes under the square root"),
        ))

    def two_bandits() -> None:
        # c = 0.5, t = 8, 2 ln 8 = 4.1588831; bonus c * sqrt(4.1588831 / n_a):
        #   n = 4: 0.5 * 1.0196670 = 0.5098335;  n = 5: 0.5 * 0.9120179 = 0.4560089;  n = 3: 0.5 * 1.1774100 = 0.5887050
        # Mistakes: sqrt(c * 2 ln t / n_a) -> bonuses 0.7210134, 0.6448940, 0.8325546; c left out -> 1.0196670, ...
        q, n = np.array([[0.25, 0.75], [1.0, 0.0]]), np.array([[4, 4], [5, 3]])
        got = _index(fn, q, n, 8, 0.5)
        expect_close(got, [[0.7598335, 1.2598335], [1.4560089, 0.5887050]], what="the indices", mistakes=(
            ([[0.9710134, 1.4710134], [1.6448940, 0.8325546]], "c multiplies the square root: "
                                                                 "Q_a + c * sqrt(2 ln t / n_a), not sqrt(c * ...)"),
            ([[1.2696670, 1.7696670], [1.9120179, 1.1774100]], "multiply the bonus by the exploration constant c"),
        ))

    def nothing_pulled() -> None:
        # t = 0: no arm pulled, all indices +inf (and no error for ln 0)
        _index(fn, np.zeros((2, 3)), np.zeros((2, 3), dtype=np.int64), 0, 1.0)

    def c_zero_is_greedy() -> None:
        q, n = np.array([[0.2, 0.9, 0.4]]), np.array([[3, 4, 1]])
        expect_close(_index(fn, q, n, 8, 0.0), q, what="the index with c = 0 (the empirical means)")

    def against_reference() -> None:
        rng = np.random.default_rng(0)
        n = rng.integers(0, 4, size=(50, 5))
        n[:, 0] = 20 - n[:, 1:].sum(axis=1)  # t = 20 pulls in every bandit
        q = np.where(n > 0, rng.random((50, 5)), 0.0)
        q_before, n_before = q.copy(), n.copy()
        got = _index(fn, q, n, 20, 0.3)
        expected = ucb1_index_reference(q, n, 20, 0.3)
        pulled = n > 0
        expect_close(got[pulled], expected[pulled], atol=1e-9, what="the indices of the pulled arms")
        if not (np.array_equal(q, q_before) and np.array_equal(n, n_before)):
            raise Failure("the arrays q or n passed in were changed: compute the index in a new array")

    yield "q = (0.5, 1, -), n = (2, 1, 0), t = 3, c = 1", three_arms
    yield "two bandits, t = 8, c = 0.5", two_bandits
    yield "t = 0, nothing pulled yet", nothing_pulled
    yield "c = 0 gives the empirical means", c_zero_is_greedy
    yield "50 random bandits with 5 arms", against_reference


# --------------------------------------------------------------------------------------------- RL^2's input
def _input(fn: Callable[..., Any], obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
           done: torch.Tensor, n_actions: int) -> np.ndarray:
    """The learner's ``x_t`` as an array, with the shape checked (and explained) first."""
    try:
        x = fn(obs, prev_action, prev_reward, done, n_actions)
    except RuntimeError:
        if bool((prev_action < 0).any()):  # decided on the case's inputs: the grader sees no exception text
            raise Failure("one_hot cannot encode a = -1 (no previous action): one-hot prev_action.clamp(min=0), "
                          "then zero the rows where prev_action < 0") from None
        raise
    if not isinstance(x, torch.Tensor):
        raise Failure(f"return a torch tensor (the GRU's input); got {type(x).__name__}: {fmt(x)}")
    if x.dtype != torch.float32:
        raise Failure(f"return a float32 tensor (.float()), as the GRU's weights are; got {x.dtype}")
    B, d_obs = obs.shape
    if n_actions == 2 and x.ndim == 2 and x.shape[0] == B and x.shape[1] == d_obs + 3:  # both mistakes fit
        raise Failure("x_t has one column too few: it holds the one-hot previous action (n_actions columns), the "
                      "previous reward and the done flag")
    if x.ndim == 2 and x.shape[0] == B and x.shape[1] == d_obs + 3:
        raise Failure(f"encode the previous action as a one-hot vector of length n_actions = {n_actions}, not as "
                      f"one number")
    if x.ndim == 2 and x.shape[0] == B and x.shape[1] == d_obs + n_actions + 1:
        raise Failure("one entry is missing: x_t holds both the previous reward r_{t-1} and the done flag d_{t-1}")
    if tuple(x.shape) != (B, d_obs + n_actions + 2):
        raise Failure(f"x_t must have shape (B, d_obs + n_actions + 2) = {(B, d_obs + n_actions + 2)}; got "
                      f"{tuple(x.shape)}")
    return x.detach().double().numpy()


_ORDER_HINT = "concatenate in the order [o_t, onehot(a_{t-1}), r_{t-1}, d_{t-1}] along dim=1"


def _rl2_input_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def one_step() -> None:
        # a bandit (o = 1), A = 3, previous arm 2 paid 0.5, and it ended an episode:
        #   x = [1 | 0, 0, 1 | 0.5 | 1]
        x = _input(fn, torch.tensor([[1.0]]), torch.tensor([2]), torch.tensor([0.5]), torch.tensor([1.0]), 3)
        expect_close(x, [[1.0, 0.0, 0.0, 1.0, 0.5, 1.0]], what="x_t", mistakes=(
            ([[1.0, 0.5, 1.0, 0.0, 0.0, 1.0]], _ORDER_HINT),
            ([[1.0, 0.0, 0.0, 1.0, 1.0, 0.5]], _ORDER_HINT),
            ([[0.0, 0.0, 1.0, 1.0, 0.5, 1.0]], _ORDER_HINT),
        ))

    def first_step() -> None:
        # the first step of a trial: no previous action (-1), reward 0, done 0 -> x = [1 | 0, 0, 0 | 0 | 0]
        x = _input(fn, torch.tensor([[1.0]]), torch.tensor([-1]), torch.tensor([0.0]), torch.tensor([0.0]), 3)
        expect_close(x, [[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]], what="x_0", mistakes=(
            ([[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]], "no previous action (a = -1) encodes as all zeros, not as arm 0: "
                                               "zero the one-hot where prev_action < 0"),
            ([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]], "in Python -1 indexes the LAST arm; no previous action (a = -1) "
                                               "encodes as all zeros"),
        ))

    def mdp_batch() -> None:
        # B = 3 trials of an MDP with S = 4 states (one-hot) and A = 3 actions, worked row by row:
        #   state 0, previous action 1, reward -0.5, not done  -> [1, 0, 0, 0 | 0, 1, 0 | -0.5 | 0]
        #   state 3, no previous action (first step)           -> [0, 0, 0, 1 | 0, 0, 0 |  0   | 0]
        #   state 1, previous action 0, reward 2.25, done      -> [0, 1, 0, 0 | 1, 0, 0 | 2.25 | 1]
        obs = torch.eye(4)[[0, 3, 1]]
        x = _input(fn, obs, torch.tensor([1, -1, 0]), torch.tensor([-0.5, 0.0, 2.25]), torch.tensor([0.0, 0.0, 1.0]),
                   3)
        expect_close(x, [[1, 0, 0, 0, 0, 1, 0, -0.5, 0], [0, 0, 0, 1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 1, 0, 0, 2.25, 1]],
                     what="x_t for three trials")

    def against_reference() -> None:
        g = torch.Generator().manual_seed(0)
        B, S, A = 16, 10, 5
        obs = torch.eye(S)[torch.randint(S, (B,), generator=g)]
        prev_action = torch.randint(-1, A, (B,), generator=g)
        prev_reward = torch.randn(B, generator=g)
        done = (torch.rand(B, generator=g) < 0.3).float()
        before = [t.clone() for t in (obs, prev_action, prev_reward, done)]
        x = _input(fn, obs, prev_action, prev_reward, done, A)
        expect_close(x, rl2_input_reference(obs, prev_action, prev_reward, done, A).double().numpy(), atol=1e-6,
                     what="x_t for 16 random steps")
        if not all(torch.equal(a, b) for a, b in zip(before, (obs, prev_action, prev_reward, done), strict=True)):
            raise Failure("the tensors passed in were changed: build x_t as a new tensor")

    yield "a bandit step: arm 2 paid 0.5 and ended an episode", one_step
    yield "the first step of a trial", first_step
    yield "three MDP trials at once (S = 4, A = 3)", mdp_batch
    yield "16 random MDP steps (S = 10, A = 5)", against_reference


# ---------------------------------------------------------------------------------- the memory over a trial
def _policy(n_inputs: int, seed: int) -> Any:
    from metarl_edu.rl2 import RL2Policy

    return RL2Policy(n_inputs, 3, 5, torch.Generator().manual_seed(seed))


def _trials(n_trials: int, n_episodes: int, H: int, d_x: int, seed: int) -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(H, d_x, generator=g) for _ in range(n_episodes)] for _ in range(n_trials)]


def _states(fn: Callable[..., Any], policy: Any, trials: list[list[torch.Tensor]]) -> list[np.ndarray]:
    """The learner's hidden states, one (T, n_h) array per trial, with the container and shapes checked first."""
    copies = [[x.clone() for x in trial] for trial in trials]
    with torch.no_grad():
        got = fn(policy, copies)
    if got is None:
        raise Failure("trial_hidden_states returned None; did you forget to `return` the list of tensors?")
    if isinstance(got, torch.Tensor) and got.ndim == 3:
        got = list(got)  # a stacked (n_trials, T, n_h) tensor is fine too
    if not isinstance(got, (list, tuple)) or len(got) != len(trials):
        raise Failure(f"return a list with one tensor per trial ({len(trials)} trials); got "
                      f"{type(got).__name__}{'' if not hasattr(got, '__len__') else f' of length {len(got)}'}")
    n_h = policy.gru.hidden_size
    out = []
    for i, (states, trial) in enumerate(zip(got, trials, strict=True)):
        T = sum(len(x) for x in trial)
        arr = as_numbers(states, f"trial {i}'s hidden states")
        if arr.shape == (T, 1, n_h):
            raise Failure(f"trial {i}'s hidden states have shape {arr.shape}, with the GRU's batch dimension of 1 "
                          f"still in: return shape (T, n_h) = {(T, n_h)}, one row per step (take hs[:, 0])")
        if arr.shape != (T, n_h):
            raise Failure(f"trial {i} has {len(trial)} episodes, {T} steps in all: its hidden states must have shape "
                          f"(T, n_h) = {(T, n_h)}, one row per step; got {arr.shape}")
        out.append(arr)
    if not all(torch.equal(a, b) for ta, tb in zip(copies, trials, strict=True) for a, b in zip(ta, tb, strict=True)):
        raise Failure("the input tensors passed in were changed: read them, do not write into them")
    return out


def _variant(policy: Any, trials: list[list[torch.Tensor]], per_episode: bool, carry_over: bool) -> list[np.ndarray]:
    """Hidden states with the memory emptied at every episode (``per_episode``) or never emptied between trials
    (``carry_over``): the two mistakes the check names."""
    out, h = [], torch.zeros(1, policy.gru.hidden_size)
    with torch.no_grad():
        for trial in trials:
            if not carry_over:
                h = torch.zeros(1, policy.gru.hidden_size)
            steps = []
            for episode in trial:
                if per_episode:
                    h = torch.zeros(1, policy.gru.hidden_size)
                _, _, hs = policy(episode.unsqueeze(1), h)
                steps.append(hs[:, 0])
                h = hs[-1]
            out.append(torch.cat(steps).double().numpy())
    return out


_PER_EPISODE_HINT = ("the memory was emptied at an episode boundary: keep h from the last step of one episode into "
                     "the first step of the next episode of the SAME trial (the task has not changed); only a new "
                     "trial starts from zeros")
_CARRY_OVER_HINT = ("the second trial started from the first trial's last hidden state: a trial is a new task, so "
                    "start each trial from h = zeros(1, n_h)")


def _compare(got: list[np.ndarray], policy: Any, trials: list[list[torch.Tensor]], what: str) -> None:
    want = [s.double().numpy() for s in trial_hidden_states_reference(policy, trials)]
    mistakes = ((_variant(policy, trials, True, False), _PER_EPISODE_HINT),
                (_variant(policy, trials, False, True), _CARRY_OVER_HINT),
                (_variant(policy, trials, True, True), _PER_EPISODE_HINT))
    for wrong, hint in mistakes:
        if all(np.allclose(g, w, atol=1e-5) for g, w in zip(got, wrong, strict=True)) and not all(
                np.allclose(g, w, atol=1e-5) for g, w in zip(got, want, strict=True)):
            raise Failure(f"{what}: {hint}")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        expect_close(g, w, atol=1e-5, what=f"{what}, trial {i}'s hidden states")


def _trial_states_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def first_step() -> None:
        # one trial of one episode of one step: h_1 = GRU(x_1, h_0 = 0), the same as one call of the policy
        policy, trials = _policy(4, 0), _trials(1, 1, 1, 4, 1)
        _compare(_states(fn, policy, trials), policy, trials, "one step from an empty memory")

    def two_episodes() -> None:
        policy, trials = _policy(4, 2), _trials(1, 2, 3, 4, 3)
        _compare(_states(fn, policy, trials), policy, trials, "one trial of 2 episodes of 3 steps")

    def two_trials() -> None:
        policy, trials = _policy(4, 4), _trials(2, 1, 4, 4, 5)
        _compare(_states(fn, policy, trials), policy, trials, "two trials of one episode each")

    def bandit_pulls() -> None:
        # a bandit: every pull is an episode of one step (H = 1), and the memory runs across all of them
        policy, trials = _policy(6, 6), _trials(3, 5, 1, 6, 7)
        _compare(_states(fn, policy, trials), policy, trials, "three bandit trials of 5 pulls")

    def ragged() -> None:
        policy = _policy(4, 8)
        g = torch.Generator().manual_seed(9)
        trials = [[torch.randn(2, 4, generator=g), torch.randn(5, 4, generator=g)],
                  [torch.randn(3, 4, generator=g)],
                  [torch.randn(1, 4, generator=g), torch.randn(1, 4, generator=g), torch.randn(4, 4, generator=g)]]
        _compare(_states(fn, policy, trials), policy, trials, "three trials with episodes of different lengths")

    yield "one step from an empty memory", first_step
    yield "one trial of 2 episodes", two_episodes
    yield "two trials", two_trials
    yield "bandit trials: one pull per episode", bandit_pulls
    yield "episodes of different lengths", ragged


UCB1_INDEX = register(
    Exercise(
        id="ucb1_index",
        title="UCB1's index",
        reference=ucb1_index_reference,
        reference_name="metarl_edu.classroom.references.ucb1_index_reference",
        cases=_ucb1_cases,
        equivalents=("metarl_edu.bandits.ucb1_index",),
    )
)

RL2_INPUT = register(
    Exercise(
        id="rl2_input",
        title="The RL^2 input vector",
        reference=rl2_input_reference,
        reference_name="metarl_edu.classroom.references.rl2_input_reference",
        cases=_rl2_input_cases,
        equivalents=("metarl_edu.rl2.rl2_input",),
    )
)

TRIAL_HIDDEN_STATES = register(
    Exercise(
        id="trial_hidden_states",
        title="The memory over a trial",
        reference=trial_hidden_states_reference,
        reference_name="metarl_edu.classroom.references.trial_hidden_states_reference",
        cases=_trial_states_cases,
    )
)
