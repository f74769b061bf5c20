"""Lesson 02: epsilon-greedy action selection, the Q-learning update, and the whole Q-learning loop.

Each case is worked by hand in a comment. The epsilon-greedy cases are statistical: with a seeded generator and a
few thousand draws, each frequency must sit within a tolerance far wider than its sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from metarl_edu.classroom.cases import (
    Exercise,
    Failure,
    as_numbers,
    call_unchanged,
    changed_input,
    expect_close,
    fmt,
    register,
)
from metarl_edu.classroom.references import run_q_learning as _run_q_learning_reference
from metarl_edu.classroom.wire import Spy, spied
from metarl_edu.td import epsilon_greedy as _epsilon_greedy_reference
from metarl_edu.td import q_learning_update as _q_update_reference

N_DRAWS = 4000


# --------------------------------------------------------------------------------------------- epsilon-greedy
def _draw(fn: Callable[..., Any], q_s: np.ndarray, epsilon: float, seed: int, n: int = N_DRAWS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    actions, q_in = [], q_s.copy()
    for _ in range(n):
        a = fn(q_in, epsilon, rng)
        if not np.array_equal(q_in, q_s):
            raise changed_input("q_s", "q_s is a row of the agent's table: adding noise to it, or sorting it, changes "
                                       "what the agent learned. Read it only")
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise Failure(f"return an int action; got {type(a).__name__}: {fmt(a)}")
        if not 0 <= int(a) < len(q_s):
            raise Failure(f"action {a} is out of range for {len(q_s)} actions")
        actions.append(int(a))
    return np.bincount(actions, minlength=len(q_s)) / n


def _expect_frequencies(freq: np.ndarray, expected: np.ndarray, hints: tuple[tuple[np.ndarray, str], ...]) -> None:
    if np.all(np.abs(freq - expected) < 0.04):
        return
    message = f"action frequencies {fmt(freq)}, expected about {fmt(expected)}"
    for wrong, hint in hints:
        if np.all(np.abs(freq - wrong) < 0.04):
            message += f". Hint: {hint}"
            break
    raise Failure(message)


def _epsilon_greedy_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def greedy_unique() -> None:
        # epsilon = 0 and a unique maximum: always action 2.
        _expect_frequencies(_draw(fn, np.array([0.0, 1.0, 5.0, 2.0]), 0.0, 1, n=200), np.eye(4)[2], ())

    def greedy_ties() -> None:
        # epsilon = 0, actions 1 and 3 tie for the maximum: each about half the time, never 0 or 2.
        freq = _draw(fn, np.array([0.0, 3.0, 1.0, 3.0]), 0.0, 2)
        _expect_frequencies(freq, np.array([0.0, 0.5, 0.0, 0.5]), (
            (np.array([0.0, 1.0, 0.0, 0.0]), "break ties at random among the best actions (np.argmax always "
                                             "picks the first one, which biases learning)"),
        ))

    def explore_all() -> None:
        # epsilon = 1: uniformly random, 1/4 each.
        freq = _draw(fn, np.array([0.0, 1.0, 5.0, 2.0]), 1.0, 3)
        _expect_frequencies(freq, np.full(4, 0.25), (
            (np.eye(4)[2], "with probability epsilon pick a uniformly random action"),
        ))

    def explore_some() -> None:
        # epsilon = 0.2, 4 actions, best action 2: Pr(2) = 0.8 + 0.2 / 4 = 0.85, the others 0.05 each.
        freq = _draw(fn, np.array([0.0, 1.0, 5.0, 2.0]), 0.2, 4)
        _expect_frequencies(freq, np.array([0.05, 0.05, 0.85, 0.05]), (
            (np.array([0.2 / 3, 0.2 / 3, 0.8, 0.2 / 3]),
             "the random action is drawn from ALL actions, the greedy one included"),
            (np.array([0.8 / 4, 0.8 / 4, 0.2 + 0.8 / 4, 0.8 / 4]),
             "epsilon is the probability of exploring, not of acting greedily"),
        ))

    def uses_rng() -> None:
        # The same seed must give the same actions: all randomness comes from the generator passed in.
        q_s = np.array([1.0, 1.0, 1.0])
        first, second = (_draw(fn, q_s, 0.5, 5, n=300) for _ in range(2))
        if not np.array_equal(first, second):
            raise Failure("two runs with the same seed differ: draw random numbers from `rng`, not np.random")

    def random_rows() -> None:
        # Random rows of 3-6 actions with a tie among the best (seeds 6-8): Pr(a) = epsilon / A for every action,
        # plus (1 - epsilon) / k for each of the k best ones.
        for seed in (6, 7, 8):
            rng = np.random.default_rng(seed)
            q_s = rng.normal(size=int(rng.integers(3, 7))).round(2)
            q_s[rng.choice(q_s.size, size=2, replace=False)] = q_s.max() + 1.0  # two actions tie for the best
            epsilon = float(rng.uniform(0.1, 0.6))
            best = q_s == q_s.max()
            expected = epsilon / q_s.size + (1 - epsilon) * best / best.sum()
            _expect_frequencies(_draw(fn, q_s, epsilon, seed), expected, (
                (epsilon / q_s.size + (1 - epsilon) * np.eye(q_s.size)[np.argmax(q_s)],
                 "break ties at random among the best actions (np.argmax always picks the first one)"),
            ))

    yield "epsilon=0, unique best action", greedy_unique
    yield "epsilon=0, two best actions tie", greedy_ties
    yield "epsilon=1", explore_all
    yield "epsilon=0.2", explore_some
    yield "same seed, same actions", uses_rng
    yield "random rows with ties, random epsilon (seeds 6-8)", random_rows


# --------------------------------------------------------------------------------------------- Q-learning update
ALPHA_TIMES_TARGET = ("move q[s, a] a step alpha from where it is towards the target, q[s, a] + alpha * (target - "
                      "q[s, a]); `q[s, a] += alpha * target` forgets to subtract q[s, a] (it only works when q[s, a] "
                      "is 0)")


def _q_update_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def q_before() -> np.ndarray:
        # Non-zero entries where the updates happen, so that a step that forgets q[s, a] shows.
        return np.array([[-0.2, 0.4], [2.0, 3.0], [-1.0, 0.5]])

    def call(q: np.ndarray, *args: Any) -> np.ndarray:
        new = call_unchanged(fn, (q, *args), ("q", "s", "a", "r", "s_next", "terminated", "alpha", "gamma"),
                             advice={"q": "start with `q = q.copy()` and return the copy"})
        if new is None:
            raise Failure("the function returned None; return the updated table")
        return new

    def with_entry(value: float, s: int = 0, a: int = 1) -> np.ndarray:
        q = q_before()
        q[s, a] = value
        return q

    def bootstraps() -> None:
        # s=0, a=1, r=1, s'=1 with q[1] = [2, 3]: target = 1 + 0.9 * max(2, 3) = 3.7,
        # q[0, 1] = 0.4 + 0.5 * (3.7 - 0.4) = 2.05; every other entry unchanged.
        got = call(q_before(), 0, 1, 1.0, 1, False, 0.5, 0.9)
        expect_close(got, with_entry(2.05), what="q", mistakes=(
            (with_entry(0.4 + 0.5 * (1 + 0.9 * 2.5 - 0.4)), "the target uses the MAX over next actions, not the mean"),
            (with_entry(3.7), "move q[s, a] only a step alpha towards the target: q + alpha * (target - q)"),
            (with_entry(0.4 + 0.5 * 3.7), ALPHA_TIMES_TARGET),
            (with_entry(0.5 * (3.7 - 0.4)), "the new q[s, a] is the old one plus the step: q[s, a] + alpha * "
                                            "(target - q[s, a]), not the step alone"),
        ))

    def max_not_taken_action() -> None:
        # s=0, a=0, r=0, s'=1: target = 0 + 0.9 * max(2, 3) = 2.7 -> q[0, 0] = -0.2 + 0.5 * (2.7 + 0.2) = 1.25.
        # A Sarsa-like target would use q[1, a=0] = 2 instead: -0.2 + 0.5 * (1.8 + 0.2) = 0.8.
        got = call(q_before(), 0, 0, 0.0, 1, False, 0.5, 0.9)
        expect_close(got, with_entry(1.25, 0, 0), what="q", mistakes=(
            (with_entry(0.8, 0, 0), "Q-learning bootstraps from max_a' q[s', a'], not from q[s', a]"),
            (with_entry(-0.2 + 0.5 * 2.7, 0, 0), ALPHA_TIMES_TARGET),
            (with_entry(-0.2 + 0.5 * (0.9 * 0.4 + 0.2), 0, 0), "bootstrap from the NEXT state's row q[s_next], "
                                                               "not from the row of s"),
        ))

    def terminal() -> None:
        # terminated: the target is just r = 1, so q[0, 1] = 0.4 + 0.5 * (1 - 0.4) = 0.7.
        got = call(q_before(), 0, 1, 1.0, 1, True, 0.5, 0.9)
        expect_close(got, with_entry(0.7), what="q", mistakes=(
            (with_entry(2.05), "after a terminal transition there is no next state to bootstrap from: target = r"),
            (with_entry(0.4 + 0.5 * 1.0), ALPHA_TIMES_TARGET),
        ))

    def against_reference() -> None:
        # Random tables and transitions, three seeds: each update from the previous result.
        for seed in range(3):
            rng = np.random.default_rng(seed)
            q = rng.normal(size=(5, 3))
            alpha, gamma = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.5, 1.0))
            for _ in range(4):
                s, a, s_next = int(rng.integers(5)), int(rng.integers(3)), int(rng.integers(5))
                r, terminated = float(rng.normal()), bool(rng.random() < 0.3)
                expected = _q_update_reference(q, s, a, r, s_next, terminated, alpha, gamma)
                wrong = q.copy()
                wrong[s, a] += alpha * (r if terminated else r + gamma * q[s_next].max())
                got = call(q, s, a, r, s_next, terminated, alpha, gamma)
                expect_close(got, expected, what=f"q after the update (s={s}, a={a}, s_next={s_next}, "
                                                 f"terminated={terminated})", mistakes=((wrong, ALPHA_TIMES_TARGET),))
                q = expected

    yield "non-terminal transition, alpha=0.5, gamma=0.9", bootstraps
    yield "the target's max is not the action taken", max_not_taken_action
    yield "terminal transition", terminal
    yield "four updates each on three random tables (seeds 0-2)", against_reference


EPSILON_GREEDY = register(
    Exercise(
        id="epsilon_greedy",
        title="Epsilon-greedy action selection",
        reference=_epsilon_greedy_reference,
        reference_name="metarl_edu.td.epsilon_greedy",
        cases=_epsilon_greedy_cases,
        equivalents=("metarl_edu.td.epsilon_greedy_probs", "metarl_edu.td.action_from_uniforms"),
    )
)

Q_LEARNING_UPDATE = register(
    Exercise(
        id="q_learning_update",
        title="The Q-learning update",
        reference=_q_update_reference,
        reference_name="metarl_edu.td.q_learning_update",
        cases=_q_update_cases,
        equivalents=("metarl_edu.td.td_target",),
    )
)


# --------------------------------------------------------------------------------------------- the whole loop
def _gridworld(max_episode_steps: int | None = None) -> Any:
    """Lesson 02's gridworld (slip 0.2, step cost 0.04), optionally with a shorter time limit (truncations)."""
    import gymnasium as gym

    import metarl_edu.envs  # noqa: F401  (registers metarl_edu/GridWorld-v0)

    extra = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    return gym.make("metarl_edu/GridWorld-v0", layout="small", slip=0.2, step_reward=-0.04, **extra)


class _Recorder(Spy):
    """What a loop did: the env's resets and steps, and the calls of ``choose`` and ``update``, which run the
    library's functions and remember their arguments and results. (A :class:`~metarl_edu.classroom.wire.Spy`: the
    learner's calls of it are made again, on the grader's own env, where the grader judges.)"""

    def __init__(self, env: Any) -> None:
        self.env, self.resets, self.steps, self.chosen, self.updates = env, [], [], [], []
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self.ended = True  # no episode has begun

    @spied
    def reset(self, *, seed: Any = None, options: Any = None) -> Any:
        self.resets.append(seed)
        self.ended = False
        self.state, info = self.env.reset(seed=seed, options=options)
        return self.state, info

    @spied
    def step(self, action: Any) -> Any:
        if self.ended:
            raise Failure("the loop stepped the env after its episode had ended (or before the first reset): after "
                          "`terminated or truncated`, leave the inner loop and reset for the next episode")
        out = self.env.step(action)
        self.steps.append((self.state, int(action), *out[:4]))
        self.state, self.ended = out[0], bool(out[2] or out[3])
        return out

    @spied
    def choose(self, q_s: Any, epsilon: float, rng: np.random.Generator) -> int:
        self.chosen.append(np.array(q_s, dtype=float))
        return _epsilon_greedy_reference(q_s, epsilon, rng)

    @spied
    def update(self, q: Any, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float,
               gamma: float) -> np.ndarray:
        new = _q_update_reference(np.asarray(q, dtype=float), s, a, r, s_next, terminated, alpha, gamma)
        self.updates.append((np.array(q, dtype=float), s, a, r, s_next, bool(terminated), new))
        return new


def _run_loop(fn: Callable[..., Any], env: Any, n_episodes: int, seed: int, alpha: float = 0.2,
              epsilon: float = 0.1, gamma: float = 0.9) -> tuple[np.ndarray, np.ndarray, _Recorder]:
    """Run the learner's loop on ``env`` seeded with ``seed`` (one reset before the loop), with recording
    ``choose``/``update``, and diagnose the typical mistakes from the record."""
    env.reset(seed=seed)
    rec = _Recorder(env)
    rec.ended = True
    out = fn(rec, n_episodes, alpha, epsilon, gamma, np.random.default_rng(seed), rec.choose, rec.update)
    if not isinstance(out, tuple) or len(out) != 2:
        raise Failure(f"return the pair (q, returns); got {type(out).__name__}: {fmt(out)}")
    q, returns = as_numbers(out[0], "q"), as_numbers(out[1], "returns")
    if any(seed is not None for seed in rec.resets):
        raise Failure("the loop seeded the env (env.reset(seed=...)): the caller seeds it once, before the loop; "
                      "reset each episode with env.reset() alone")
    if len(rec.resets) != n_episodes:
        raise Failure(f"{n_episodes} episodes need {n_episodes} calls of env.reset(), one at the start of each "
                      f"episode; the loop made {len(rec.resets)}")
    if not rec.chosen:
        raise Failure("the loop never called the `choose` passed in: pick each action with choose(q[s], epsilon, "
                      "rng), not with a function of your own (the check passes its own)")
    if not rec.updates:
        raise Failure("the loop never called the `update` passed in: learn with q = update(q, s, a, r, s_next, "
                      "terminated, alpha, gamma)")
    if len(rec.chosen) != len(rec.steps) or len(rec.updates) != len(rec.steps):
        raise Failure(f"one action choice and one update per env step: the env took {len(rec.steps)} steps, "
                      f"choose was called {len(rec.chosen)} times and update {len(rec.updates)} times")
    q_now = np.zeros_like(rec.updates[0][0])
    for k, ((s, a, s_next, r, terminated, truncated), (q_in, s_u, a_u, r_u, s_next_u, term_u, q_out)) in \
            enumerate(zip(rec.steps, rec.updates, strict=True)):
        if not np.array_equal(q_in, q_now):
            raise Failure("update was not given the latest table: keep the one it returns, q = update(q, ...), "
                          "and pass that to the next call")
        if (s_u, a_u, s_next_u) != (s, a, s_next) or r_u != r:
            raise Failure(f"update got the transition (s={s_u}, a={a_u}, r={r_u:g}, s_next={s_next_u}), but the env "
                          f"had just done (s={s}, a={a}, r={r:g}, s_next={s_next}): pass the step's own values, and "
                          "move on with s = s_next")
        if not np.array_equal(rec.chosen[k], q_now[s]):
            raise Failure("choose was not given the row of the current state: call choose(q[s], epsilon, rng) with "
                          "the latest q and the state the agent is in")
        if term_u != terminated:
            hint = ("pass `terminated`, not `terminated or truncated`: a time limit cuts the episode but not the "
                    "task, so the update must still bootstrap from s_next" if truncated and term_u else
                    "pass the env's `terminated` flag to update")
            raise Failure(hint)
        q_now = q_out
    episode_returns, episode = np.zeros(n_episodes), 0
    for *_, r, terminated, truncated in rec.steps:  # a reset per episode and no step after an end: they align
        episode_returns[min(episode, n_episodes - 1)] += r
        episode += bool(terminated or truncated)
    expect_close(q, q_now, what="the returned q", mistakes=(
        (np.zeros_like(q_now), "return the final table, the one the last update returned"),
    ))
    expect_close(returns, episode_returns, what="returns", mistakes=(
        (np.cumsum(episode_returns), "returns[i] is the sum of episode i's rewards alone; start each at 0"),
    ))
    return q, returns, rec


def _run_q_learning_cases(fn: Callable[..., Any]) -> Iterator[tuple[str, Callable[[], None]]]:
    def against_reference(max_episode_steps: int | None, n_episodes: int, seeds: tuple[int, ...]) -> None:
        for seed in seeds:
            q, returns, _ = _run_loop(fn, _gridworld(max_episode_steps), n_episodes, seed)
            env = _gridworld(max_episode_steps)
            env.reset(seed=seed)
            q_ref, returns_ref = _run_q_learning_reference(env, n_episodes, 0.2, 0.1, 0.9, np.random.default_rng(seed),
                                           _epsilon_greedy_reference, _q_update_reference)
            expect_close(q, q_ref, what=f"q after {n_episodes} episodes (seed {seed})", atol=1e-9)
            expect_close(returns, returns_ref, what=f"returns (seed {seed})", atol=1e-9)

    def learns() -> None:
        # The loop must learn: on seed 0, 200 episodes, the last 100 episodes' mean return beats the first 20's by
        # 0.3, and the greedy policy of the final table is worth more than the random policy (exactly, on the MDP).
        from metarl_edu.mdp import greedy_policy, policy_evaluation, uniform_policy

        env = _gridworld()
        q, returns, _ = _run_loop(fn, env, 200, 0)
        early, late = returns[:20].mean(), returns[-100:].mean()
        mdp = env.unwrapped.grid.mdp
        start = int(np.argmax(mdp.start))
        v_greedy = policy_evaluation(mdp, greedy_policy(q))[start]
        v_random = policy_evaluation(mdp, uniform_policy(mdp))[start]
        if not (late > early + 0.3 and v_greedy > v_random):
            raise Failure(f"no learning: mean return {early:.3f} over episodes 1-20 and {late:.3f} over 101-200; the "
                          f"greedy policy is worth {v_greedy:.3f} from the start, the random one {v_random:.3f} "
                          "(seed 0, alpha 0.2, epsilon 0.1, gamma 0.9)")

    yield "gridworld, 20 episodes, against the library's loop (seeds 0-2)", lambda: against_reference(None, 20,
                                                                                                        (0, 1, 2))
    yield "gridworld cut after 4 steps: truncations (seeds 3-4)", lambda: against_reference(4, 30, (3, 4))
    yield "returns go up over 200 episodes (seed 0)", learns


RUN_Q_LEARNING = register(
    Exercise(
        id="run_q_learning",
        title="The Q-learning loop",
        reference=_run_q_learning_reference,
        reference_name="metarl_edu.classroom.references.run_q_learning",
        cases=_run_q_learning_cases,
    )
)
