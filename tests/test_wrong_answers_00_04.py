"""The checks of lessons 00-04 against answers learners write: each correct variant passes, and each named wrong
answer fails with the hint that names its mistake (never a traceback)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from wrong_answers import assert_rejected_with_hint, case_ids, wrong_answer_cases

from metarl_edu.classroom.checks import run_check

ROOT = Path(__file__).resolve().parents[1]


def stub_hint(lesson: str, exercise_id: str) -> str:
    """The hint in the stub of an exercise, as the lesson notebook shows it."""
    nb = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("metarl_edu", {}).get("exercise") == exercise_id
               and c.metadata["metarl_edu"]["role"] == "exercise"]
    return cell.source.split("NotImplementedError(", 1)[1]


# ============================================================================================ lesson 01
def backup_with_einsum(mdp, v, pi):
    """Correct: the expected reward taken from R (S, A, S) by the learner, as the lesson's table indexes it."""
    r = np.einsum("sat,sat->sa", mdp.P, mdp.R)
    q = r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, np.where(mdp.terminal, 0.0, v))
    return np.where(mdp.terminal, 0.0, np.einsum("sa,sa->s", pi, q))


def vi_with_einsum(mdp, theta=1e-10):
    r = np.einsum("sat,sat->sa", mdp.P, mdp.R)
    v = np.zeros(mdp.n_states)
    while True:
        q = r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, np.where(mdp.terminal, 0.0, v))
        v_new = np.where(mdp.terminal, 0.0, q.max(axis=1))
        if np.abs(v_new - v).max() < theta:
            return v_new, np.eye(mdp.n_actions)[q.argmax(axis=1)]
        v = v_new


def test_answers_that_index_R_as_the_lesson_says_pass():
    assert run_check("bellman_expectation_backup", backup_with_einsum).passed
    assert run_check("value_iteration", vi_with_einsum).passed


def test_the_value_iteration_stub_says_terminal_states_keep_value_0():
    assert "0 on terminal states (they keep value 0)" in stub_hint("01_mdp", "value_iteration")


# ============================================================================================ lesson 00
def return_plain_sum(rewards, gamma):
    return float(sum(rewards))


def return_discounts_first_reward(rewards, gamma):
    return sum(gamma ** (t + 1) * r for t, r in enumerate(rewards))


def return_discounts_backwards(rewards, gamma):
    n = len(rewards)
    return sum(gamma ** (n - 1 - t) * r for t, r in enumerate(rewards))


def return_reverses_the_callers_list(rewards, gamma):
    rewards.reverse()  # right value, but the caller's list is now backwards
    g = 0.0
    for r in rewards:
        g = r + gamma * g
    return g


def return_crashes_on_empty(rewards, gamma):
    g = rewards[-1]
    for r in reversed(rewards[:-1]):
        g = r + gamma * g
    return g


def return_every_g_t(rewards, gamma):
    out, g = [], 0.0
    for r in reversed(rewards):
        g = r + gamma * g
        out.append(g)
    return out[::-1]


# ============================================================================================ lesson 01 (wrong)
def backup_forgets_gamma(mdp, v, pi):
    v_next = np.where(mdp.terminal, 0.0, v)
    return np.where(mdp.terminal, 0.0, np.sum(pi * (mdp.r_sa + mdp.P @ v_next), axis=1))


def backup_bootstraps_from_terminal(mdp, v, pi):
    return np.sum(pi * (mdp.r_sa + mdp.gamma * mdp.P @ v), axis=1)


def backup_in_place(mdp, v, pi):
    for s in range(mdp.n_states):  # Gauss-Seidel: later states see the new values of earlier ones
        q_s = mdp.r_sa[s] + mdp.gamma * mdp.P[s] @ np.where(mdp.terminal, 0.0, v)
        v[s] = 0.0 if mdp.terminal[s] else pi[s] @ q_s
    return v


def backup_sweeps_a_copy_in_place(mdp, v, pi):
    v = v.copy()
    for s in range(mdp.n_states):
        q_s = mdp.r_sa[s] + mdp.gamma * mdp.P[s] @ np.where(mdp.terminal, 0.0, v)
        v[s] = 0.0 if mdp.terminal[s] else pi[s] @ q_s
    return v


def backup_returns_q(mdp, v, pi):
    return np.where(mdp.terminal[:, None], 0.0, mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v))


def backup_returns_unmasked_q(mdp, v, pi):  # q, with values even for the terminal states
    return mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)


def backup_uses_one_reward_entry(mdp, v, pi):
    q = mdp.R[:, :, 0] + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)
    return np.where(mdp.terminal, 0.0, np.sum(pi * q, axis=1))


def vi_ties_to_highest_action(mdp, theta=1e-10):
    v, _ = vi_with_einsum(mdp, theta)
    q = mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)
    pi = np.zeros_like(q)
    pi[np.arange(len(v)), q.shape[1] - 1 - np.argmax(q[:, ::-1], axis=1)] = 1.0
    return v, pi


def vi_one_sweep_only(mdp, theta=1e-10):
    q = mdp.r_sa.copy()
    q[mdp.terminal] = 0.0
    return q.max(axis=1), np.eye(mdp.n_actions)[q.argmax(axis=1)]


def vi_fixed_sweeps(mdp, theta=1e-10):
    v = np.zeros(mdp.n_states)
    for _ in range(120):  # enough for gamma = 0.9 (0.9^120 < 1e-5), not for 0.99
        q = mdp.r_sa + mdp.gamma * np.einsum("sat,t->sa", mdp.P, v)
        q[mdp.terminal] = 0.0
        v = q.max(axis=1)
    return v, np.eye(mdp.n_actions)[q.argmax(axis=1)]


def vi_returns_values_only(mdp, theta=1e-10):
    return vi_with_einsum(mdp, theta)[0]


def vi_backs_up_terminal_states(mdp, theta=1e-10):
    v = np.zeros(mdp.n_states)
    for _ in range(2000):
        q = mdp.r_sa + mdp.gamma * mdp.P @ v
        v = q.max(axis=1)
    return v, np.eye(mdp.n_actions)[q.argmax(axis=1)]


def vi_does_not_zero_terminal_values(mdp, theta=1e-10):
    v = np.zeros(mdp.n_states)
    for _ in range(2000):
        q = mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)
        v = q.max(axis=1)
    return v, np.eye(mdp.n_actions)[q.argmax(axis=1)]


def vi_returns_strings(mdp, theta=1e-10):
    return "v", "pi"


# ============================================================================================ lesson 02
def eg_ties_to_first(q_s, epsilon, rng):
    return int(rng.integers(len(q_s))) if rng.random() < epsilon else int(np.argmax(q_s))


def eg_explores_only_others(q_s, epsilon, rng):
    best = int(np.argmax(q_s))
    if rng.random() < epsilon:
        return int(rng.choice([a for a in range(len(q_s)) if a != best]))
    return int(rng.choice(np.flatnonzero(q_s == q_s.max())))


def eg_global_random(q_s, epsilon, rng):
    if np.random.random() < epsilon:
        return int(np.random.randint(len(q_s)))
    return int(np.random.choice(np.flatnonzero(q_s == q_s.max())))


def eg_epsilon_is_greedy_probability(q_s, epsilon, rng):
    if rng.random() < 1 - epsilon:
        return int(rng.integers(len(q_s)))
    return int(rng.choice(np.flatnonzero(q_s == q_s.max())))


def eg_noise_added_to_the_table(q_s, epsilon, rng):
    if rng.random() < epsilon:
        return int(rng.integers(len(q_s)))
    q_s += 1e-9 * rng.random(len(q_s))  # tie-breaking noise, written into the caller's table
    return int(np.argmax(q_s))


def eg_returns_a_float(q_s, epsilon, rng):
    if rng.random() < epsilon:
        return float(rng.integers(len(q_s)))
    return float(rng.choice(np.flatnonzero(q_s == q_s.max())))


def qu_alpha_times_target(q, s, a, r, s_next, terminated, alpha, gamma):
    q = q.copy()
    q[s, a] += alpha * (r if terminated else r + gamma * q[s_next].max())
    return q


def qu_sarsa_like(q, s, a, r, s_next, terminated, alpha, gamma):
    q = q.copy()
    q[s, a] += alpha * ((r if terminated else r + gamma * q[s_next, a]) - q[s, a])
    return q


def qu_bootstraps_through_terminal(q, s, a, r, s_next, terminated, alpha, gamma):
    q = q.copy()
    q[s, a] += alpha * (r + gamma * q[s_next].max() - q[s, a])
    return q


def qu_in_place(q, s, a, r, s_next, terminated, alpha, gamma):
    q[s, a] += alpha * ((r if terminated else r + gamma * q[s_next].max()) - q[s, a])
    return q


def qu_no_alpha(q, s, a, r, s_next, terminated, alpha, gamma):
    q = q.copy()
    q[s, a] = r if terminated else r + gamma * q[s_next].max()
    return q


def qu_mean_target(q, s, a, r, s_next, terminated, alpha, gamma):
    q = q.copy()
    q[s, a] += alpha * ((r if terminated else r + gamma * q[s_next].mean()) - q[s, a])
    return q


def qu_forgets_to_return(q, s, a, r, s_next, terminated, alpha, gamma):
    q = q.copy()
    q[s, a] += alpha * ((r if terminated else r + gamma * q[s_next].max()) - q[s, a])


def _loop(env, n_episodes, alpha, epsilon, gamma, rng, choose, update, *, done_on=("terminated", "truncated"),
          bootstrap_after_truncation=True, keep_q=True, seed_each_reset=False, s_moves=True, reset_returns=True):
    """The loop with one switch per mistake (the defaults make it right)."""
    q = np.zeros((env.observation_space.n, env.action_space.n))
    returns, total = np.zeros(n_episodes), 0.0
    for episode in range(n_episodes):
        s, _ = env.reset(seed=0) if seed_each_reset else env.reset()
        total = total if not reset_returns else 0.0
        done = False
        while not done:
            a = choose(q[s], epsilon, rng)
            s_next, r, terminated, truncated, _ = env.step(a)
            flag = terminated if bootstrap_after_truncation else terminated or truncated
            new = update(q, s, a, r, s_next, flag, alpha, gamma)
            q = new if keep_q else q
            total += r
            s = s_next if s_moves else s
            done = terminated or (truncated and "truncated" in done_on)
        returns[episode] = total
    return q, returns


def loop_passes_terminated_or_truncated(*args):
    return _loop(*args, bootstrap_after_truncation=False)


def loop_discards_what_update_returns(*args):
    return _loop(*args, keep_q=False)


def loop_reseeds_the_env(*args):
    return _loop(*args, seed_each_reset=True)


def loop_forgets_s_equals_s_next(*args):
    return _loop(*args, s_moves=False)


def loop_runs_past_truncation(*args):
    return _loop(*args, done_on=("terminated",))


def loop_accumulates_returns_across_episodes(*args):
    return _loop(*args, reset_returns=False)


def loop_uses_its_own_epsilon_greedy(env, n_episodes, alpha, epsilon, gamma, rng, choose, update):
    from metarl_edu.td import epsilon_greedy

    return _loop(env, n_episodes, alpha, epsilon, gamma, rng, epsilon_greedy, update)


def loop_with_the_right_switches(*args):
    return _loop(*args)


def test_the_loop_written_with_the_switches_at_their_defaults_passes():
    assert run_check("run_q_learning", loop_with_the_right_switches).passed


# ============================================================================================ lesson 03
def disc_no_clip(obs, low, high, bins):
    b = np.floor((obs - low) / (high - low) * bins).astype(int)
    return int(np.sum(b * np.append(np.cumprod(bins[::-1])[::-1][1:], 1)))


def disc_column_major(obs, low, high, bins):
    b = np.clip(np.floor((obs - low) / (high - low) * bins).astype(int), 0, bins - 1)
    return int(np.ravel_multi_index(tuple(b), tuple(bins), order="F"))


def disc_rounds(obs, low, high, bins):
    b = np.clip(np.round((obs - low) / (high - low) * bins).astype(int), 0, bins - 1)
    return int(np.ravel_multi_index(tuple(b), tuple(bins)))


def disc_returns_bins(obs, low, high, bins):
    return tuple(np.clip(np.floor((obs - low) / (high - low) * bins).astype(int), 0, bins - 1))


def disc_forgets_low(obs, low, high, bins):
    b = np.clip(np.floor(obs / (high - low) * bins).astype(int), 0, bins - 1)
    return int(np.ravel_multi_index(tuple(b), tuple(bins)))


def disc_shifts_obs_in_place(obs, low, high, bins):
    obs -= low
    b = np.clip(np.floor(obs / (high - low) * bins).astype(int), 0, bins - 1)
    return int(np.ravel_multi_index(tuple(b), tuple(bins)))


# ============================================================================================ lesson 04
def hs_shuffle_and_cut(tasks, n_test, rng):
    order = rng.permutation(len(tasks))
    return [tasks[i] for i in order[n_test:]], [tasks[i] for i in order[:n_test]]


def hs_global_random(tasks, n_test, rng):
    from metarl_edu.envs import task_key

    distinct = list({task_key(t): t for t in tasks}.values())
    test = [distinct[i] for i in np.random.choice(len(distinct), size=n_test, replace=False)]
    return [t for t in tasks if t not in test], test


def hs_first_distinct(tasks, n_test, rng):
    from metarl_edu.envs import task_key

    distinct = list({task_key(t): t for t in tasks}.values())
    return [t for t in tasks if t not in distinct[:n_test]], distinct[:n_test]


def hs_removes_one_copy(tasks, n_test, rng):
    from metarl_edu.envs import task_key

    distinct = list({task_key(t): t for t in tasks}.values())
    test = [distinct[i] for i in rng.choice(len(distinct), size=n_test, replace=False)]
    train = list(tasks)
    for t in test:
        train.remove(t)  # only the first copy
    return train, test


def hs_shuffles_the_callers_list(tasks, n_test, rng):
    from metarl_edu.classroom.references import held_out_split

    rng.shuffle(tasks)  # the caller's list, reordered
    return held_out_split(list(tasks), n_test, rng)


def hs_distinct_through_a_set(tasks, n_test, rng):
    from metarl_edu.envs import task_key

    first = {}
    for t in tasks:
        first.setdefault(task_key(t), t)
    # a set's order of strings depends on the process's hash seed: fixed here to one that differs from list order
    keys = sorted({task_key(t) for t in tasks}, key=lambda k: k[::-1])
    distinct = [first[k] for k in keys]
    test = [distinct[i] for i in rng.choice(len(distinct), size=n_test, replace=False)]
    return [t for t in tasks if t not in test], test


def hs_groups_train(tasks, n_test, rng):
    from metarl_edu.classroom.references import held_out_split

    train, test = held_out_split(tasks, n_test, rng)
    return sorted(train, key=repr), test


def hs_returns_keys(tasks, n_test, rng):
    from metarl_edu.envs import task_key

    keys = list({task_key(t) for t in tasks})
    return keys[n_test:], keys[:n_test]


# ============================================================================================ the table
# exercise id -> [(wrong answer, words its hint must contain)]
WRONG = {
    "discounted_return": [
        (return_plain_sum, "this is the plain sum"),
        (return_discounts_first_reward, "the first reward is not discounted"),
        (return_discounts_backwards, "the discounts run backwards"),
        (return_reverses_the_callers_list, "changed the rewards passed in"),
        (return_crashes_on_empty, "an episode without rewards has G_0 = 0"),
        (return_every_g_t, "return one number, G_0"),
    ],
    "bellman_expectation_backup": [
        (backup_forgets_gamma, "must be multiplied by gamma"),
        (backup_bootstraps_from_terminal, "a terminal state has value 0"),
        (backup_in_place, "changed the v passed in"),
        (backup_sweeps_a_copy_in_place, "from the OLD v (a synchronous sweep)"),
        (backup_returns_q, "return v_new (S,), not q (S, A)"),
        (backup_returns_unmasked_q, "return v_new (S,), not q (S, A)"),
        (backup_uses_one_reward_entry, "not one entry of mdp.R"),
    ],
    "value_iteration": [
        (vi_ties_to_highest_action, "pick the lowest action"),
        (vi_one_sweep_only, "this is one sweep from v = 0"),
        (vi_fixed_sweeps, "as after a fixed number of sweeps"),
        (vi_returns_values_only, "return a pair (v, pi)"),
        (vi_backs_up_terminal_states, "the terminal state's value must stay 0"),
        (vi_does_not_zero_terminal_values, "set v to 0 on terminal states after every sweep"),
        (vi_returns_strings, "expected numbers for v"),
    ],
    "epsilon_greedy": [
        (eg_ties_to_first, "break ties at random"),
        (eg_explores_only_others, "drawn from ALL actions"),
        (eg_global_random, "draw random numbers from `rng`, not np.random"),
        (eg_epsilon_is_greedy_probability, "epsilon is the probability of exploring"),
        (eg_noise_added_to_the_table, "changed the q_s passed in"),
        (eg_returns_a_float, "return an int action"),
    ],
    "q_learning_update": [
        (qu_alpha_times_target, "forgets to subtract q[s, a]"),
        (qu_sarsa_like, "not from q[s', a]"),
        (qu_bootstraps_through_terminal, "no next state to bootstrap from"),
        (qu_in_place, "changed the q passed in"),
        (qu_no_alpha, "only a step alpha towards the target"),
        (qu_mean_target, "MAX over next actions, not the mean"),
        (qu_forgets_to_return, "returned None"),
    ],
    "run_q_learning": [
        (loop_passes_terminated_or_truncated, "pass `terminated`, not `terminated or truncated`"),
        (loop_discards_what_update_returns, "keep the one it returns, q = update(q, ...)"),
        (loop_reseeds_the_env, "the loop seeded the env"),
        (loop_forgets_s_equals_s_next, "move on with s = s_next"),
        (loop_runs_past_truncation, "stepped the env after its episode had ended"),
        (loop_accumulates_returns_across_episodes, "start each at 0"),
        (loop_uses_its_own_epsilon_greedy, "never called the `choose` passed in"),
    ],
    "discretize": [
        (disc_no_clip, "clip each bin number"),
        (disc_column_major, "row-major"),
        (disc_rounds, "(floor), not the nearest edge (round)"),
        (disc_returns_bins, "return ONE int, the flattened index"),
        (disc_forgets_low, "from the bottom of its range"),
        (disc_shifts_obs_in_place, "changed the obs passed in"),
    ],
    "held_out_split": [
        (hs_shuffle_and_cut, "three times as likely"),
        (hs_global_random, "`rng`, not np.random"),
        (hs_first_distinct, "keep giving the same test tasks"),
        (hs_removes_one_copy, "DISTINCT tasks"),
        (hs_shuffles_the_callers_list, "changed the tasks passed in"),
        (hs_returns_keys, "must be lists of tasks"),
        (hs_distinct_through_a_set, "order of first appearance"),
        (hs_groups_train, "in the list's own order"),
    ],
}


@pytest.mark.parametrize(("exercise_id", "wrong", "words"), wrong_answer_cases(WRONG), ids=case_ids(WRONG))
def test_a_wrong_answer_fails_with_the_hint_that_names_its_mistake(exercise_id, wrong, words):
    assert_rejected_with_hint(exercise_id, wrong, words)


def test_a_hint_shows_the_expected_answer_and_what_came_back():
    text = repr(run_check("bellman_expectation_backup", backup_forgets_gamma))
    assert "expected [1.85 2.9 ], got [2. 3.]" in text, text


def test_every_exercise_of_lessons_00_to_04_has_at_least_three_named_wrong_answers():
    from metarl_edu.classroom.checks import exercises

    ours = {e for e, ex in exercises().items() if ex.cases.__module__.split(".")[-1][:3] in
            ("l00", "l01", "l02", "l03", "l04")}
    assert ours == set(WRONG)
    assert all(len(entries) >= 3 for entries in WRONG.values())


@pytest.mark.parametrize("exercise_id", sorted(WRONG))
@pytest.mark.parametrize("answer", [None, "abc", {"a": 1}, np.zeros((7, 7)), (1, 2, 3), float("nan"), [[1], [2, 3]]],
                         ids=["None", "str", "dict", "7x7", "triple", "nan", "ragged"])
def test_an_answer_of_the_wrong_type_or_shape_gets_a_hint_not_a_traceback(exercise_id, answer):
    result = run_check(exercise_id, lambda *args, **kwargs: answer)
    text = repr(result)
    assert result.status == "failed", text
    # the check explains what is wrong with the answer; it never reports its own crash as the learner's
    assert "your function raised" not in text and "Traceback" not in text, text
