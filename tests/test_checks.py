"""The instant checks can tell right from wrong: each passes the solution notebook's function and fails the stub
and plausible wrong answers; strict mode turns results into errors according to the notebook's kind."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from metarl_edu.classroom import checks
from metarl_edu.classroom.checks import CheckFailed, check, pick, run_check, start_lesson

ROOT = Path(__file__).resolve().parents[1]


def exercise_function(folder: str, lesson: str, exercise_id: str):
    """The function defined by an exercise cell of a generated notebook (solution or stub)."""
    nb = nbformat.read(ROOT / folder / f"{lesson}.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("metarl_edu", {}).get("exercise") == exercise_id
               and c.metadata["metarl_edu"]["role"] == "exercise"]
    namespace: dict = {"np": np, **lesson_namespace(lesson)}
    exec(compile(cell.source, f"{folder}/{lesson}:{exercise_id}", "exec"), namespace)
    return namespace[exercise_id]


def lesson_namespace(lesson: str) -> dict:
    """The names a lesson's setup cell (and earlier exercises) give its exercise cells, beyond numpy."""
    if lesson in ("06_policy_gradients", "07_maml_sinusoid"):
        import torch
        from torch.func import functional_call, grad

        from metarl_edu.maml import inner_update_reference

        return {"torch": torch, "functional_call": functional_call, "grad": grad,
                "inner_update": inner_update_reference}
    return {}


# --------------------------------------------------------------------------------------------- wrong answers
def return_plain_sum(rewards, gamma):
    return float(sum(rewards))


def return_discounts_first_reward(rewards, gamma):
    return sum(gamma ** (t + 1) * r for t, r in enumerate(rewards))


def return_crashes_on_empty(rewards, gamma):
    return float(np.polyval(rewards[::-1], gamma)) if rewards[0] is not None else 0.0


def backup_forgets_gamma(mdp, v, pi):
    v_next = np.where(mdp.terminal, 0.0, v)
    return np.where(mdp.terminal, 0.0, np.sum(pi * (mdp.r_sa + mdp.P @ v_next), axis=1))


def backup_bootstraps_from_terminal(mdp, v, pi):
    return np.sum(pi * (mdp.r_sa + mdp.gamma * mdp.P @ v), axis=1)


def backup_uses_one_reward_entry(mdp, v, pi):
    r = mdp.R if mdp.R.ndim == 2 else mdp.R[:, :, 0]
    q = r + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)
    return np.where(mdp.terminal, 0.0, np.sum(pi * q, axis=1))


def backup_returns_q(mdp, v, pi):
    return mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)


def vi_ties_to_highest_action(mdp, theta=1e-10):
    from metarl_edu.mdp import value_iteration

    v, _ = value_iteration(mdp)
    q = mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)
    pi = np.zeros_like(q)
    pi[np.arange(len(v)), q.shape[1] - 1 - np.argmax(q[:, ::-1], axis=1)] = 1.0
    return v, pi


def vi_ignores_terminal(mdp, theta=1e-10):
    v = np.zeros(mdp.n_states)
    for _ in range(2000):
        q = mdp.r_sa + mdp.gamma * mdp.P @ v
        v = q.max(axis=1)
    pi = np.eye(mdp.n_actions)[q.argmax(axis=1)]
    return v, pi


def vi_one_sweep_only(mdp, theta=1e-10):
    q = mdp.r_sa.copy()
    q[mdp.terminal] = 0.0
    return q.max(axis=1), np.eye(mdp.n_actions)[q.argmax(axis=1)]


def vi_returns_values_only(mdp, theta=1e-10):
    from metarl_edu.mdp import value_iteration

    return value_iteration(mdp)[0]


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


def disc_no_clip(obs, low, high, bins):
    b = np.floor((obs - low) / (high - low) * bins).astype(int)
    return int(np.sum(b * np.append(np.cumprod(bins[::-1])[::-1][1:], 1)))


def disc_column_major(obs, low, high, bins):
    b = np.clip(np.floor((obs - low) / (high - low) * bins).astype(int), 0, bins - 1)
    return int(np.ravel_multi_index(tuple(b), tuple(bins), order="F"))


def disc_rounds(obs, low, high, bins):
    b = np.clip(np.round((obs - low) / (high - low) * bins).astype(int), 0, bins - 1)
    return int(np.ravel_multi_index(tuple(b), tuple(bins)))


def disc_returns_tuple(obs, low, high, bins):
    return tuple(np.clip(np.floor((obs - low) / (high - low) * bins).astype(int), 0, bins - 1))


def rl_weight_not_detached(log_probs, returns, baseline=None, mask=None):
    weight = returns if baseline is None else returns - baseline
    weighted = log_probs * weight * (1.0 if mask is None else mask)
    return -weighted.sum() / log_probs[0].numel()


def rl_sign_error(log_probs, returns, baseline=None, mask=None):
    weight = (returns if baseline is None else returns - baseline).detach()
    return (log_probs * weight * (1.0 if mask is None else mask)).sum() / log_probs[0].numel()


def rl_mean_over_steps(log_probs, returns, baseline=None, mask=None):
    weight = (returns if baseline is None else returns - baseline).detach()
    return -(log_probs * weight * (1.0 if mask is None else mask)).mean()


def rl_ignores_mask(log_probs, returns, baseline=None, mask=None):
    weight = (returns if baseline is None else returns - baseline).detach()
    return -(log_probs * weight).sum() / log_probs[0].numel()


def iu_sign_error(params, grads, alpha):
    return {k: params[k] + alpha * grads[k] for k in params}


def iu_in_place(params, grads, alpha):
    for k in params:
        params[k] -= alpha * grads[k]
    return params


def iu_detached(params, grads, alpha):
    return {k: (params[k] - alpha * grads[k]).detach() for k in params}


def iu_no_alpha(params, grads, alpha):
    return {k: params[k] - grads[k] for k in params}


def _mse(model, p, x, y):
    from torch.func import functional_call

    return ((functional_call(model, p, (x,)) - y) ** 2).mean()


def ml_always_first_order(model, params, task, alpha, first_order=False):
    from torch.func import grad

    (x_s, y_s), (x_q, y_q) = task
    grads = grad(lambda p: _mse(model, p, x_s, y_s))(params)
    return _mse(model, {k: params[k] - alpha * grads[k].detach() for k in params}, x_q, y_q)


def ml_sign_error(model, params, task, alpha, first_order=False):
    from torch.func import grad

    (x_s, y_s), (x_q, y_q) = task
    grads = grad(lambda p: _mse(model, p, x_s, y_s))(params)
    if first_order:
        grads = {k: g.detach() for k, g in grads.items()}
    return _mse(model, {k: params[k] + alpha * grads[k] for k in params}, x_q, y_q)


def ml_query_for_inner_step(model, params, task, alpha, first_order=False):
    from torch.func import grad

    _, (x_q, y_q) = task
    grads = grad(lambda p: _mse(model, p, x_q, y_q))(params)
    if first_order:
        grads = {k: g.detach() for k, g in grads.items()}
    return _mse(model, {k: params[k] - alpha * grads[k] for k in params}, x_q, y_q)


def ml_sums_squares(model, params, task, alpha, first_order=False):
    from torch.func import functional_call, grad

    def sse(p, x, y):
        return ((functional_call(model, p, (x,)) - y) ** 2).sum()

    (x_s, y_s), (x_q, y_q) = task
    grads = grad(sse)(params, x_s, y_s)
    if first_order:
        grads = {k: g.detach() for k, g in grads.items()}
    return sse({k: params[k] - alpha * grads[k] for k in params}, x_q, y_q)


CASES = {
    ("00_welcome", "discounted_return"): [return_plain_sum, return_discounts_first_reward, return_crashes_on_empty],
    ("01_mdp", "bellman_expectation_backup"): [
        backup_forgets_gamma, backup_bootstraps_from_terminal, backup_uses_one_reward_entry, backup_returns_q,
    ],
    ("01_mdp", "value_iteration"): [
        vi_ties_to_highest_action, vi_ignores_terminal, vi_one_sweep_only, vi_returns_values_only,
    ],
    ("02_q_learning", "epsilon_greedy"): [
        eg_ties_to_first, eg_explores_only_others, eg_global_random, eg_epsilon_is_greedy_probability,
    ],
    ("02_q_learning", "q_learning_update"): [
        qu_sarsa_like, qu_bootstraps_through_terminal, qu_in_place, qu_no_alpha,
    ],
    ("03_cartpole", "discretize"): [disc_no_clip, disc_column_major, disc_rounds, disc_returns_tuple],
    ("06_policy_gradients", "reinforce_loss"): [rl_weight_not_detached, rl_sign_error, rl_mean_over_steps,
                                                rl_ignores_mask],
    ("07_maml_sinusoid", "inner_update"): [iu_sign_error, iu_in_place, iu_detached, iu_no_alpha],
    ("07_maml_sinusoid", "meta_loss"): [ml_always_first_order, ml_sign_error, ml_query_for_inner_step,
                                        ml_sums_squares],
}


def test_every_registered_exercise_is_tested_here():
    assert {exercise_id for _, exercise_id in CASES} == set(checks.exercises())


@pytest.mark.parametrize(("lesson", "exercise_id"), sorted(CASES))
def test_solution_passes(lesson, exercise_id):
    result = run_check(exercise_id, exercise_function("solutions", lesson, exercise_id))
    assert result.status == "passed", repr(result)
    assert result.n_cases >= 3


@pytest.mark.parametrize(("lesson", "exercise_id"), sorted(CASES))
def test_stub_reads_as_not_attempted(lesson, exercise_id):
    result = run_check(exercise_id, exercise_function("lessons", lesson, exercise_id))
    assert result.status == "not_attempted"
    assert "not attempted" in repr(result)


@pytest.mark.parametrize(
    ("exercise_id", "wrong"),
    [(exercise_id, wrong) for (_, exercise_id), wrongs in sorted(CASES.items()) for wrong in wrongs],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_wrong_answers_fail_with_a_hint(exercise_id, wrong):
    result = run_check(exercise_id, wrong)
    assert result.status == "failed"
    assert result.hints and all(len(h) > 20 for h in result.hints)
    text = repr(result)
    assert text.startswith("❌") and "Traceback" not in text


def test_hints_name_the_mistake():
    text = repr(run_check("bellman_expectation_backup", backup_forgets_gamma))
    assert "gamma" in text and "expected" in text and "got" in text
    text = repr(run_check("bellman_expectation_backup", backup_bootstraps_from_terminal))
    assert "terminal" in text
    text = repr(run_check("discounted_return", return_plain_sum))
    assert "plain sum" in text
    text = repr(run_check("value_iteration", vi_ties_to_highest_action))
    assert "lowest action" in text
    text = repr(run_check("value_iteration", vi_returns_values_only))
    assert "pair (v, pi)" in text
    assert "break ties at random" in repr(run_check("epsilon_greedy", eg_ties_to_first))
    assert "`rng`, not np.random" in repr(run_check("epsilon_greedy", eg_global_random))
    assert "ALL actions" in repr(run_check("epsilon_greedy", eg_explores_only_others))
    assert "not from q[s', a]" in repr(run_check("q_learning_update", qu_sarsa_like))
    assert "no next state to bootstrap" in repr(run_check("q_learning_update", qu_bootstraps_through_terminal))
    assert "was modified" in repr(run_check("q_learning_update", qu_in_place))
    assert "row-major" in repr(run_check("discretize", disc_column_major))
    assert "clip each bin number" in repr(run_check("discretize", disc_no_clip))
    assert "(floor)" in repr(run_check("discretize", disc_rounds))
    assert "detach the weight" in repr(run_check("reinforce_loss", rl_weight_not_detached))
    assert "MINUS the weighted log-probabilities" in repr(run_check("reinforce_loss", rl_sign_error))
    assert "not by every step" in repr(run_check("reinforce_loss", rl_mean_over_steps))
    assert "multiply by the mask" in repr(run_check("reinforce_loss", rl_ignores_mask))
    assert "against the gradient" in repr(run_check("inner_update", iu_sign_error))
    assert "NEW dict" in repr(run_check("inner_update", iu_in_place))
    assert "no torch.no_grad(), .data or .detach()" in repr(run_check("inner_update", iu_detached))
    assert "do not detach the inner gradient" in repr(run_check("meta_loss", ml_always_first_order))
    assert "SUPPORT set" in repr(run_check("meta_loss", ml_query_for_inner_step))
    assert "MEAN squared error" in repr(run_check("meta_loss", ml_sums_squares))
    assert "against the gradient" in repr(run_check("meta_loss", ml_sign_error))


def test_a_check_never_raises_outside_strict_mode(monkeypatch):
    monkeypatch.delenv("METARL_EDU_STRICT", raising=False)

    def explodes(*args):
        raise ZeroDivisionError("boom")

    start_lesson("00_welcome", kind="solution")
    result = check("discounted_return", explodes)
    assert result.status == "failed" and "ZeroDivisionError: boom" in repr(result)
    assert check("discounted_return", "not a function").status == "failed"


@pytest.mark.parametrize(
    ("kind", "fn", "raises"),
    [
        ("solution", return_plain_sum, True),
        ("solution", "solution", False),
        ("lesson", "solution", True),
        ("lesson", "stub", False),
        ("lesson", return_plain_sum, True),
    ],
)
def test_strict_mode_follows_the_notebook_kind(monkeypatch, kind, fn, raises):
    monkeypatch.setenv("METARL_EDU_STRICT", "1")
    if fn == "solution":
        fn = exercise_function("solutions", "00_welcome", "discounted_return")
    elif fn == "stub":
        fn = exercise_function("lessons", "00_welcome", "discounted_return")
    start_lesson("00_welcome", kind=kind)
    if raises:
        with pytest.raises(CheckFailed, match="strict mode"):
            check("discounted_return", fn)
    else:
        check("discounted_return", fn)


def test_pick_falls_back_to_the_reference_and_says_so(monkeypatch, capsys):
    monkeypatch.delenv("METARL_EDU_STRICT", raising=False)
    start_lesson("00_welcome", kind="lesson")
    stub = exercise_function("lessons", "00_welcome", "discounted_return")
    check("discounted_return", stub)
    chosen = pick("discounted_return", stub)
    assert chosen is not stub and chosen([1.0, 1.0], 0.5) == 1.5
    assert "library's metarl_edu.mdp.discounted_return" in capsys.readouterr().out
    solution = exercise_function("solutions", "00_welcome", "discounted_return")
    check("discounted_return", solution)
    assert pick("discounted_return", solution) is solution


def test_references_survive_a_patched_library(monkeypatch):
    import metarl_edu.mdp

    monkeypatch.setattr(metarl_edu.mdp, "discounted_return", lambda rewards, gamma: 42.0)
    assert run_check("discounted_return", return_plain_sum).status == "failed"
    assert checks.get_exercise("discounted_return").reference([1.0], 0.5) == 1.0


def test_unknown_exercise_and_kind_are_clear_errors():
    with pytest.raises(KeyError, match="no exercise 'nope'"):
        run_check("nope", len)
    with pytest.raises(ValueError, match="kind must be one of"):
        start_lesson("00_welcome", kind="student")


def test_a_loop_that_never_stops_gets_a_hint_not_a_hang(monkeypatch):
    monkeypatch.setattr(checks, "CASE_SECONDS", 0.3)

    def vi_never_stops(mdp, theta=1e-10):
        v = np.zeros(mdp.n_states)
        while True:
            try:
                v = v + 0.0
            except Exception:  # a learner's broad except must not swallow the time limit
                pass

    result = run_check("value_iteration", vi_never_stops)
    assert result.status == "failed" and result.n_passed == 0
    assert all("did not finish within 0.3 s" in hint for hint in result.hints)


def test_changing_the_input_values_is_reported():
    def backup_in_place(mdp, v, pi):
        v[:] = np.sum(pi * (mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)), axis=1)
        v[mdp.terminal] = 0.0
        return v

    text = repr(run_check("bellman_expectation_backup", backup_in_place))
    assert "changed the v passed in" in text
