"""The instant checks can tell right from wrong: each passes the solution notebook's function and fails the stub
and plausible wrong answers; strict mode turns results into errors according to the notebook's kind."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_wrong_answers_00_04 import WRONG as WRONG_00_04
from test_wrong_answers_00_04 import return_plain_sum
from test_wrong_answers_05_10 import WRONG as WRONG_05_10
from wrong_answers import assert_rejected_with_hint, case_ids, wrong_answer_cases

from metarl_edu.classroom import cases, checks, wire
from metarl_edu.classroom.checks import CheckFailed, check, pick, run_check, start_lesson

ROOT = Path(__file__).resolve().parents[1]


def lesson_imports(lesson: str) -> dict:
    """Names a lesson's setup cell imports and its exercises use, beyond numpy."""
    if lesson == "09_rl2":
        import torch

        return {"torch": torch}
    if lesson == "08_maml_rl":
        import torch
        from torch.func import grad

        from metarl_edu.maml import inner_update
        from metarl_edu.maml_rl import adapt_step, advantages, inner_loss
        from metarl_edu.pg import discounted_returns, linear_baseline

        return {"torch": torch, "grad": grad, "inner_update": inner_update, "inner_loss": inner_loss,
                "discounted_returns": discounted_returns, "linear_baseline": linear_baseline,
                "advantages": advantages, "adapt_step": adapt_step}
    return {}


def exercise_function(folder: str, lesson: str, exercise_id: str):
    """The function defined by an exercise cell of a generated notebook (solution or stub)."""
    nb = nbformat.read(ROOT / folder / f"{lesson}.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("metarl_edu", {}).get("exercise") == exercise_id
               and c.metadata["metarl_edu"]["role"] == "exercise"]
    namespace: dict = {"np": np, **lesson_imports(lesson), **lesson_namespace(lesson)}
    exec(compile(cell.source, f"{folder}/{lesson}:{exercise_id}", "exec"), namespace)
    return namespace[exercise_id]


def lesson_namespace(lesson: str) -> dict:
    """The names a lesson's setup cell (and earlier exercises) give its exercise cells, beyond numpy."""
    if lesson in ("06_policy_gradients", "07_maml_sinusoid"):
        import torch
        from torch.func import functional_call, grad

        from metarl_edu.classroom.references import (
            inner_update_reference,
            reinforce_loss_reference,
            reward_to_go_reference,
        )
        from metarl_edu.pg import linear_baseline, sample_episodes

        return {"torch": torch, "functional_call": functional_call, "grad": grad,
                "inner_update": inner_update_reference, "returns_fn": reward_to_go_reference,
                "loss_fn": reinforce_loss_reference, "linear_baseline": linear_baseline,
                "sample_episodes": sample_episodes}
    return {}


# --------------------------------------------------------------------------------------------- wrong answers
def _normalised_advantages(e, gamma, baseline=True, normalise=True):
    import torch

    from metarl_edu.pg import discounted_returns, linear_baseline

    G = discounted_returns(e.rewards, e.terminated, e.truncated, gamma)
    A = (G - linear_baseline(e.obs, G, e.mask) if baseline else G) * e.mask
    if normalise:
        n = e.mask.sum()
        centred = (A - A.sum() / n) * e.mask
        A = centred / torch.sqrt((centred**2).sum() / n)
    return A


def _step(policy, params, e, alpha, A, sign=1.0):
    from torch.func import grad

    from metarl_edu.maml_rl import inner_loss

    grads = grad(lambda th: inner_loss(policy.log_prob(e.obs, e.actions, params=th), A, e.mask))(params)
    return {k: params[k] - sign * alpha * grads[k] for k in params}


def step_forgets_baseline(policy, params, episodes, alpha, gamma=0.99):
    return _step(policy, params, episodes, alpha, _normalised_advantages(episodes, gamma, baseline=False))


def step_gradient_ascent(policy, params, episodes, alpha, gamma=0.99):
    return _step(policy, params, episodes, alpha, _normalised_advantages(episodes, gamma), sign=-1.0)


def step_mutates_params(policy, params, episodes, alpha, gamma=0.99):
    new = _step(policy, params, episodes, alpha, _normalised_advantages(episodes, gamma))
    for k in params:
        params[k].copy_(new[k].detach())
    return params


def step_under_no_grad(policy, params, episodes, alpha, gamma=0.99):
    import torch

    with torch.no_grad():
        new = _step(policy, params, episodes, alpha, _normalised_advantages(episodes, gamma))
    return {k: v.detach() for k, v in new.items()}


def step_unbiased_std(policy, params, episodes, alpha, gamma=0.99):
    A = _normalised_advantages(episodes, gamma, normalise=False)
    real = A[episodes.mask.bool()]
    A = (A - real.mean()) / real.std() * episodes.mask  # torch's std divides by n - 1
    return _step(policy, params, episodes, alpha, A)


def step_normalises_over_padding(policy, params, episodes, alpha, gamma=0.99):
    A = _normalised_advantages(episodes, gamma, normalise=False)
    A = ((A - A.mean()) / (A.std(unbiased=False) + 1e-8)).detach()  # padding counted in the mean and the std
    return _step(policy, params, episodes, alpha, A)


def step_not_normalised(policy, params, episodes, alpha, gamma=0.99):
    return _step(policy, params, episodes, alpha, _normalised_advantages(episodes, gamma, normalise=False))


def ucb_sutton_barto(q, n, t, c):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, q + c * np.sqrt(np.log(max(t, 1)) / n), np.inf)


def ucb_no_where(q, n, t, c):
    with np.errstate(divide="ignore", invalid="ignore"):
        return q + c * np.sqrt(2 * np.log(t) / n)


def ucb_unpulled_zero(q, n, t, c):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, q + c * np.sqrt(2 * np.log(max(t, 1)) / n), 0.0)


def ucb_log_of_n(q, n, t, c):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, q + c * np.sqrt(2 * np.log(n) / n), np.inf)


def ucb_c_under_root(q, n, t, c):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, q + np.sqrt(c * 2 * np.log(max(t, 1)) / n), np.inf)


def _torch():
    import torch

    return torch


def ths_resets_each_episode(policy, trials):
    torch = _torch()
    return [torch.cat([policy(ep.unsqueeze(1))[2][:, 0] for ep in trial]) for trial in trials]


def ths_never_resets(policy, trials):
    torch = _torch()
    out, h = [], torch.zeros(1, policy.gru.hidden_size)
    for trial in trials:
        hs = policy(torch.cat(trial).unsqueeze(1), h)[2][:, 0]
        out.append(hs)
        h = hs[-1:]
    return out


def ths_keeps_the_batch_dimension(policy, trials):
    torch = _torch()
    return [policy(torch.cat(trial).unsqueeze(1))[2] for trial in trials]  # (T, 1, n_h)


def ths_last_state_only(policy, trials):
    torch = _torch()
    return [policy(torch.cat(trial).unsqueeze(1))[2][-1, 0] for trial in trials]


def ths_scales_inputs_in_place(policy, trials):
    torch = _torch()
    for trial in trials:
        for ep in trial:
            ep.mul_(0.5)  # "normalises" the inputs the caller still holds
    return [policy(torch.cat(trial).unsqueeze(1))[2][:, 0] for trial in trials]


def ri_clamp_only(obs, prev_action, prev_reward, done, n_actions):
    torch = _torch()
    a = torch.nn.functional.one_hot(prev_action.clamp(min=0), n_actions).float()
    return torch.cat([obs.float(), a, prev_reward.float().unsqueeze(1), done.float().unsqueeze(1)], dim=1)


def ri_one_hot_of_minus_one(obs, prev_action, prev_reward, done, n_actions):
    torch = _torch()
    a = torch.nn.functional.one_hot(prev_action, n_actions).float()
    return torch.cat([obs.float(), a, prev_reward.float().unsqueeze(1), done.float().unsqueeze(1)], dim=1)


def ri_reward_first(obs, prev_action, prev_reward, done, n_actions):
    torch = _torch()
    a = torch.nn.functional.one_hot(prev_action.clamp(min=0), n_actions).float() * (prev_action >= 0).unsqueeze(1)
    return torch.cat([obs.float(), prev_reward.float().unsqueeze(1), done.float().unsqueeze(1), a], dim=1)


def ri_action_as_number(obs, prev_action, prev_reward, done, n_actions):
    torch = _torch()
    columns = [prev_action.float(), prev_reward.float(), done.float()]
    return torch.cat([obs.float(), torch.stack(columns, dim=1)], dim=1)


def ri_forgets_done(obs, prev_action, prev_reward, done, n_actions):
    torch = _torch()
    a = torch.nn.functional.one_hot(prev_action.clamp(min=0), n_actions).float() * (prev_action >= 0).unsqueeze(1)
    return torch.cat([obs.float(), a, prev_reward.float().unsqueeze(1)], dim=1)


def mlr_detached_inner_step(policy, params, D, D_prime, alpha, gamma=0.99, adapt=None):
    from metarl_edu.maml_rl import advantages, inner_loss

    theta_prime = {k: v.detach() + (v - v.detach()) for k, v in adapt(policy, params, D, alpha, gamma).items()}
    theta_prime = {k: params[k] + (theta_prime[k] - params[k]).detach() for k in params}  # first order only
    return inner_loss(policy.log_prob(D_prime.obs, D_prime.actions, params=theta_prime), advantages(D_prime, gamma),
                      D_prime.mask)


def mlr_no_grad_inner_step(policy, params, D, D_prime, alpha, gamma=0.99, adapt=None):
    import torch

    from metarl_edu.maml_rl import advantages, inner_loss

    with torch.no_grad():
        theta_prime = {k: v.clone() for k, v in adapt(policy, params, D, alpha, gamma).items()}
    return inner_loss(policy.log_prob(D_prime.obs, D_prime.actions, params=theta_prime), advantages(D_prime, gamma),
                      D_prime.mask)


def mlr_pre_update(policy, params, D, D_prime, alpha, gamma=0.99, adapt=None):
    from metarl_edu.maml_rl import advantages, inner_loss

    return inner_loss(policy.log_prob(D_prime.obs, D_prime.actions, params=params), advantages(D_prime, gamma),
                      D_prime.mask)


def mlr_same_data(policy, params, D, D_prime, alpha, gamma=0.99, adapt=None):
    from metarl_edu.maml_rl import advantages, inner_loss

    theta_prime = adapt(policy, params, D, alpha, gamma)
    return inner_loss(policy.log_prob(D.obs, D.actions, params=theta_prime), advantages(D, gamma), D.mask)


def bu_swapped(alpha, beta, arm, reward):  # a success counted as a failure
    alpha, beta = alpha.copy(), beta.copy()
    rows = np.arange(len(arm))
    alpha[rows, arm] += 1 - reward
    beta[rows, arm] += reward
    return alpha, beta


def bu_every_arm(alpha, beta, arm, reward):  # every arm learns from one pull
    return alpha + reward[:, None], beta + (1 - reward)[:, None]


def bu_in_place(alpha, beta, arm, reward):
    rows = np.arange(len(arm))
    alpha[rows, arm] += reward
    beta[rows, arm] += 1 - reward
    return alpha, beta


def bu_column(alpha, beta, arm, reward):  # alpha[:, arm]: each bandit's pull lands in every row
    alpha, beta = alpha.copy(), beta.copy()
    for a, r in zip(arm, reward, strict=True):
        alpha[:, a] += r
        beta[:, a] += 1 - r
    return alpha, beta


def bb_no_reward(alpha, beta, v_success, v_failure):
    mu = alpha / (alpha + beta)
    q = mu * v_success + (1 - mu) * v_failure
    return q, q.max(axis=-1)


def bb_alpha_over_beta(alpha, beta, v_success, v_failure):
    mu = alpha / beta
    q = mu * (1 + v_success) + (1 - mu) * v_failure
    return q, q.max(axis=-1)


def bb_swapped_successors(alpha, beta, v_success, v_failure):
    mu = alpha / (alpha + beta)
    q = mu * (1 + v_failure) + (1 - mu) * v_success
    return q, q.max(axis=-1)


def bb_mean_value(alpha, beta, v_success, v_failure):
    mu = alpha / (alpha + beta)
    q = mu * (1 + v_success) + (1 - mu) * v_failure
    return q, q.mean(axis=-1)


def voi_plain_mean(belief, v_informed, v_uninformed):
    return float(np.mean(v_informed) - v_uninformed)


def voi_best_case(belief, v_informed, v_uninformed):
    return float(np.max(v_informed) - v_uninformed)


def voi_no_subtraction(belief, v_informed, v_uninformed):
    return float(np.dot(belief, v_informed))


def voi_reversed(belief, v_informed, v_uninformed):
    return float(v_uninformed - np.dot(belief, v_informed))


def _goal_update(mean, precision, p, p_next, d, d_next, noise, sign=1.0, half=0.5, power=2, prior_mean=True,
                 solve=True, stale=False):
    u = p_next - p
    y = sign * half * (d**2 - d_next**2 + p_next @ p_next - p @ p)
    new = precision + np.outer(u, u) / noise**power
    rhs = (precision @ mean if prior_mean else 0) + u * y / noise**power
    return (np.linalg.solve(new, rhs) if solve else mean + u * y / noise**power), (precision if stale else new)


def gu_sign(*args):
    return _goal_update(*args, sign=-1.0)


def gu_no_half(*args):
    return _goal_update(*args, half=1.0)


def gu_noise_not_squared(*args):
    return _goal_update(*args, power=1)


def gu_forgets_prior_mean(*args):
    return _goal_update(*args, prior_mean=False)


def gu_adds_to_mean(*args):
    return _goal_update(*args, solve=False)


def gu_stale_precision(*args):
    return _goal_update(*args, stale=True)


EXERCISES = [  # (lesson, exercise id): every exercise of the course
    ("00_welcome", "discounted_return"),
    ("01_mdp", "bellman_expectation_backup"), ("01_mdp", "value_iteration"),
    ("02_q_learning", "epsilon_greedy"), ("02_q_learning", "q_learning_update"), ("02_q_learning", "run_q_learning"),
    ("03_cartpole", "discretize"),
    ("04_many_tasks", "held_out_split"),
    ("05_learning_hyperparameters", "ridge_fit"), ("05_learning_hyperparameters", "held_out_scores"),
    ("06_policy_gradients", "reward_to_go"), ("06_policy_gradients", "reinforce_loss"),
    ("06_policy_gradients", "reinforce"), ("06_policy_gradients", "gae"),
    ("07_maml_sinusoid", "inner_update"), ("07_maml_sinusoid", "meta_loss"),
    ("08_maml_rl", "adapt_step"), ("08_maml_rl", "rl_meta_loss"),
    ("09_rl2", "ucb1_index"), ("09_rl2", "trial_hidden_states"), ("09_rl2", "rl2_input"),
    ("10_evaluation", "bootstrap_ci"), ("10_evaluation", "meta_test_split"),
    ("11_inferring_the_task", "beta_update"), ("11_inferring_the_task", "bayes_backup"),
    ("11_inferring_the_task", "information_value"), ("11_inferring_the_task", "goal_update"),
]

# The named wrong answers of lessons 08, 09 and 11 with the words of the hint each must get. Those of lessons 00-04
# are in test_wrong_answers_00_04.py, those of 05, 06, 07 and 10 in test_wrong_answers_05_10.py.
WRONG = {
    "adapt_step": [
        (step_forgets_baseline, "linear baseline"),
        (step_gradient_ascent, "DOWN the loss"),
        (step_mutates_params, "in place"),
        (step_not_normalised, "normalise the advantages to mean 0 and standard deviation 1"),
        (step_under_no_grad, "lost its link to params"),
        (step_unbiased_std, "divides by n - 1"),
        (step_normalises_over_padding, "count the padding"),
    ],
    "rl_meta_loss": [
        (mlr_detached_inner_step, "flow through the inner step"),
        (mlr_no_grad_inner_step, "flow through the inner step"),
        (mlr_pre_update, "ADAPTED parameters"),
        (mlr_same_data, "NEW trajectories"),
    ],
    "ucb1_index": [
        (ucb_sutton_barto, "2 ln t under the square root"),
        (ucb_no_where, "got nan (0 / 0)"),
        (ucb_unpulled_zero, "must have the index +inf"),
        (ucb_log_of_n, "not of the arm's own n_a"),
        (ucb_c_under_root, "c multiplies the square root"),
    ],
    "trial_hidden_states": [
        (ths_resets_each_episode, "emptied at an episode boundary"),
        (ths_never_resets, "start each trial from h = zeros"),
        (ths_last_state_only, "one row per step"),
        (ths_keeps_the_batch_dimension, "batch dimension of 1"),
        (ths_scales_inputs_in_place, "were changed"),
    ],
    "rl2_input": [
        (ri_clamp_only, "not as arm 0"),
        (ri_one_hot_of_minus_one, "one_hot cannot encode a = -1"),
        (ri_reward_first, "concatenate in the order"),
        (ri_action_as_number, "one-hot vector of length n_actions"),
        (ri_forgets_done, "done flag"),
    ],
    "beta_update": [
        (bu_swapped, "a success (reward 1) adds to alpha"),
        (bu_every_arm, "only the arm that was pulled"),
        (bu_in_place, "were changed"),
        (bu_column, "alpha[np.arange(B), arm]"),
    ],
    "bayes_backup": [
        (bb_no_reward, "pays 1 with probability mu right now"),
        (bb_alpha_over_beta, "alpha / (alpha + beta), not alpha / beta"),
        (bb_swapped_successors, "after a success the belief is the one worth v_success"),
        (bb_mean_value, "the max over q, not the mean"),
    ],
    "information_value": [
        (voi_plain_mean, "weigh each goal by the belief"),
        (voi_best_case, "do not take the best case"),
        (voi_no_subtraction, "subtract the value without it"),
        (voi_reversed, "informed minus uninformed"),
    ],
    "goal_update": [
        (gu_sign, "the distance that shrank"),
        (gu_no_half, "y is half of the difference"),
        (gu_noise_not_squared, "divide u u^T and u y by noise**2"),
        (gu_forgets_prior_mean, "the prior's information stays"),
        (gu_adds_to_mean, "the mean itself does not"),
        (gu_stale_precision, "return the NEW precision"),
    ],
}


def test_every_exercise_is_listed_and_has_at_least_three_named_wrong_answers():
    ids = [exercise_id for _, exercise_id in EXERCISES]
    assert sorted(ids) == sorted(checks.exercises())
    owners = [WRONG_00_04, WRONG_05_10, WRONG]
    assert sorted(e for table in owners for e in table) == sorted(ids)  # each exercise's wrong answers: one owner
    assert all(len(entries) >= 3 for table in owners for entries in table.values())


@pytest.mark.parametrize(("lesson", "exercise_id"), EXERCISES)
def test_solution_passes(lesson, exercise_id):
    result = run_check(exercise_id, exercise_function("solutions", lesson, exercise_id))
    assert result.status == "passed", repr(result)
    assert result.n_cases >= 3


@pytest.mark.parametrize(("lesson", "exercise_id"), EXERCISES)
def test_stub_reads_as_not_attempted(lesson, exercise_id):
    result = run_check(exercise_id, exercise_function("lessons", lesson, exercise_id))
    assert result.status == "not_attempted"
    assert "not attempted" in repr(result)


@pytest.mark.parametrize(("exercise_id", "wrong", "words"), wrong_answer_cases(WRONG), ids=case_ids(WRONG))
def test_a_wrong_answer_fails_with_the_hint_that_names_its_mistake(exercise_id, wrong, words):
    # an in-place update of a leaf that requires grad raises in the gradient case; the other cases name the mistake
    assert_rejected_with_hint(exercise_id, wrong, words, bare_exception_allowed=wrong is step_mutates_params)


def test_a_check_never_raises_outside_strict_mode(monkeypatch):
    monkeypatch.delenv("METARL_EDU_STRICT", raising=False)

    def explodes(*args):
        raise ZeroDivisionError("boom")

    start_lesson("00_welcome", kind="solution")
    result = check("discounted_return", explodes)
    assert result.status == "failed" and "ZeroDivisionError: boom" in repr(result)
    assert check("discounted_return", "not a function").status == "failed"


def test_an_exception_names_the_line_of_the_learners_cell_and_the_grader_quotes_none(tmp_path):
    cell = tmp_path / "cell.py"  # a notebook cell: the kernel compiles each one under a file name of its own
    cell.write_text("def discounted_return(rewards, gamma):\n    total = 0.0\n    for t in range(len(rewards) + 1):\n"
                    "        total += gamma ** t * rewards[t]\n    return total\n")
    namespace: dict = {}
    exec(compile(cell.read_text(), str(cell), "exec"), namespace)
    fn = namespace["discounted_return"]
    assert "(line 4 of the cell that defines it: `total += gamma ** t * rewards[t]`)" in repr(run_check(
        "discounted_return", fn))
    record = checks.record_check("discounted_return", fn)
    graded = checks.judge_check("discounted_return", wire.loads(wire.dumps(record)), messages=False)
    assert graded.hints and not any("line 4" in h or "rewards[t]" in h for h in graded.hints)
    for case in record["cases"]:  # a forged place is read only in its one shape, and shortened
        for call in case["calls"]:
            call["where"] = ["line", 4] if case is record["cases"][0] else [4, "x" * 500]
    hints = checks.judge_check("discounted_return", record).hints
    assert "cell that defines it" not in hints[0] and "x" * 60 in hints[1] and "x" * 61 not in hints[1]



@pytest.mark.parametrize(("exercise_id", "exception", "worded"), [  # a case that words its own hint on the exception
    ("discounted_return", IndexError, "but your function raised IndexError. Start from g = 0"),
    ("held_out_scores", ValueError, "the leaking split raised ValueError; refuse it"),
    ("reinforce_loss", TypeError, "your function raised TypeError"),
    ("gae", TypeError, "your function raised TypeError"),
])
def test_the_graders_replay_gives_a_learners_exception_no_message_and_the_self_check_quotes_it(
        exercise_id, exception, worded):
    def raises(*args):
        raise exception("PWNED <script> NoneType")  # 'NoneType': lesson 06's cases quote it with a hint of their own

    record = wire.loads(wire.dumps(checks.record_check(exercise_id, raises)))
    self_study = checks.judge_check(exercise_id, record)
    graded = checks.judge_check(exercise_id, record, messages=False)
    assert sum("PWNED <script> NoneType" in h for h in self_study.hints) == len(self_study.hints) > 0, self_study
    assert not any("PWNED" in h for h in graded.hints) and any(worded in h for h in graded.hints), graded
    assert all(exception.__name__ in h for h in graded.hints), graded
    assert (graded.status, graded.n_cases, graded.n_passed) == (self_study.status, self_study.n_cases,
                                                                self_study.n_passed)


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


def test_answers_become_numbers_or_a_failure_that_says_why():
    import torch

    answer = torch.tensor([1.0, 2.0], requires_grad=True) * 1  # an answer still attached to its graph
    np.testing.assert_array_equal(cases.as_numbers(answer, "x"), [1.0, 2.0])
    cases.expect_close(answer, [1.0, 2.0], what="x")
    with pytest.raises(cases.Failure, match="x is None; did you forget to `return` it"):
        cases.as_numbers(None, "x")
    with pytest.raises(cases.Failure, match="expected numbers for x, got dict"):
        cases.as_numbers({"a": 1}, "x")
    with pytest.raises(cases.Failure, match=r"x: expected \[1\. 2\.\], got \[1\. 3\.\]"):
        cases.expect_close(torch.tensor([1.0, 3.0]), [1.0, 2.0], what="x")


def vi_with_the_librarys_backup(mdp, theta=1e-10):
    from metarl_edu.mdp import bellman_optimality_backup

    v = np.zeros(mdp.n_states)
    while True:
        v_new = bellman_optimality_backup(mdp, v)
        if np.max(np.abs(v_new - v)) < theta:
            return v_new, None
        v = v_new


def dr_through_the_module(rewards, gamma):
    import metarl_edu.mdp

    return metarl_edu.mdp.discounted_return(rewards, gamma)


def dr_own(rewards, gamma):
    return sum(r * gamma**t for t, r in enumerate(rewards))


def test_the_check_warns_when_the_grader_would_score_a_reference_use_zero(capsys, monkeypatch):
    from metarl_edu.classroom.checks import check, reference_warning

    monkeypatch.delenv("METARL_EDU_STRICT", raising=False)  # no lesson session here

    assert "metarl_edu.mdp.bellman_optimality_backup" in reference_warning("value_iteration",
                                                                           vi_with_the_librarys_backup)
    assert "metarl_edu.mdp.discounted_return" in reference_warning("discounted_return", dr_through_the_module)
    assert reference_warning("discounted_return", dr_own) is None
    assert reference_warning("discounted_return", lambda r, g: 0.0) is None  # no source to read: no warning
    check("discounted_return", dr_through_the_module)  # it passes its cases, and says what the grader will do
    assert "The grader scores discounted_return 0" in capsys.readouterr().out


def test_the_grader_scores_only_what_the_exercise_reaches():
    from metarl_edu.classroom.review import review_cells

    refs = {"discounted_return": ["metarl_edu.mdp.discounted_return", "metarl_edu.pg.discounted_returns"]}
    fn = {"discounted_return": "discounted_return"}
    own = "def discounted_return(rewards, gamma):\n    return sum(r * gamma**t for t, r in enumerate(rewards))\n"
    scored = [  # each answers the exercise with the library's version: 0 points
        ["from metarl_edu.mdp import discounted_return as ref\n"
         "def discounted_return(rewards, gamma):\n    return ref(rewards, gamma)\n"],
        ["import metarl_edu.mdp as m\n", "def helper(r, g):\n    return m.discounted_return(r, g)\n"
         "def discounted_return(rewards, gamma):\n    return helper(rewards, gamma)\n"],  # through a helper
        ["import metarl_edu\ndiscounted_return = metarl_edu.mdp.discounted_return\n"],
        ["from metarl_edu.mdp import discounted_return\n"],
        ["import metarl_edu.pg\nTABLE = metarl_edu.pg.discounted_returns\n"
         "def discounted_return(rewards, gamma):\n    return TABLE(rewards, gamma)\n"],  # through a global
        ["fs = []\n", "from metarl_edu import mdp\nfs.append(mdp.discounted_return)\n",  # put into a list elsewhere
         "def discounted_return(rewards, gamma):\n    return fs[0](rewards, gamma)\n"],
    ]
    for cells in scored:
        assert "discounted_return" in review_cells(cells, functions=fn, references=refs).uses, cells
    for extra in ("import metarl_edu.mdp\nhelp(metarl_edu.mdp.discounted_return)",  # lesson 00's own advice
                  "from metarl_edu.mdp import discounted_return as ref\n"  # a comparison
                  "print(ref([1.0], 0.9) == discounted_return([1.0], 0.9))"):
        review = review_cells([own, extra], functions=fn, references=refs)
        assert review.uses == {} and any("mentioned outside the code of exercise" in f for f in review.flags)


@pytest.mark.parametrize(("exercise_id", "fails", "hint"), [
    ("reinforce_loss", lambda log_probs, returns, baseline, mask: (returns - baseline).sum(),
     "baseline=None means b = 0"),
    ("gae", lambda rewards, values, gamma, lam, mask: (rewards * mask).sum(), "mask=None means every step is real"),
])
def test_a_hint_for_a_missing_none_case_reaches_the_grader_too(exercise_id, fails, hint):
    # the hint is chosen from the case's own inputs, so the grader, which replays no exception text, gives it too
    record = wire.loads(wire.dumps(checks.record_check(exercise_id, fails)))
    for messages in (True, False):
        assert any(hint in h for h in checks.judge_check(exercise_id, record, messages=messages).hints)
