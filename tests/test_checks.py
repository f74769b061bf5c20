"""The instant checks can tell right from wrong: each passes the solution notebook's function and fails the stub
and plausible wrong answers; strict mode turns results into errors according to the notebook's kind."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_wrong_answers_00_04 import (
    backup_bootstraps_from_terminal,
    backup_forgets_gamma,
    disc_column_major,
    disc_no_clip,
    disc_rounds,
    eg_epsilon_is_greedy_probability,
    eg_explores_only_others,
    eg_global_random,
    eg_ties_to_first,
    hs_shuffle_and_cut,
    loop_discards_what_update_returns,
    loop_passes_terminated_or_truncated,
    loop_reseeds_the_env,
    qu_bootstraps_through_terminal,
    qu_in_place,
    qu_no_alpha,
    qu_sarsa_like,
    return_discounts_first_reward,
    return_plain_sum,
    vi_one_sweep_only,
)

from metarl_edu.classroom import cases, checks
from metarl_edu.classroom.checks import CheckFailed, check, pick, run_check, start_lesson
from metarl_edu.envs import task_key
from metarl_edu.studies.evaluation import check_disjoint

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
def return_crashes_on_empty(rewards, gamma):
    return float(np.polyval(rewards[::-1], gamma)) if rewards[0] is not None else 0.0


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


def vi_returns_values_only(mdp, theta=1e-10):
    from metarl_edu.mdp import value_iteration

    return value_iteration(mdp)[0]


def disc_returns_tuple(obs, low, high, bins):
    return tuple(np.clip(np.floor((obs - low) / (high - low) * bins).astype(int), 0, bins - 1))


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


def step_not_normalised(policy, params, episodes, alpha, gamma=0.99):
    return _step(policy, params, episodes, alpha, _normalised_advantages(episodes, gamma, normalise=False))
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
def boot_without_replacement(values, n_boot, rng, level=0.95):
    values = np.asarray(values, dtype=float)
    means = np.array([rng.permutation(values).mean() for _ in range(n_boot)])
    return tuple(np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))


def boot_data_std(values, n_boot, rng, level=0.95):
    values = np.asarray(values, dtype=float)
    return values.mean() - 1.96 * values.std(), values.mean() + 1.96 * values.std()


def boot_one_sided_cut(values, n_boot, rng, level=0.95):
    values = np.asarray(values, dtype=float)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return tuple(np.quantile(means, [1 - level, level]))


def boot_percentile_fractions(values, n_boot, rng, level=0.95):
    values = np.asarray(values, dtype=float)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return tuple(np.percentile(means, [(1 - level) / 2, (1 + level) / 2]))


def split_leaks(tasks, n_test, rng):
    return list(tasks), [tasks[i] for i in rng.permutation(len(tasks))[:n_test]]


def split_last_ones(tasks, n_test, rng):
    return list(tasks[:-n_test]), list(tasks[-n_test:])


def split_drops_tasks(tasks, n_test, rng):
    order = rng.permutation(len(tasks))
    return [tasks[i] for i in order[n_test + 1:]], [tasks[i] for i in order[:n_test]]


def split_global_random(tasks, n_test, rng):
    order = np.random.permutation(len(tasks))
    return [tasks[i] for i in order[n_test:]], [tasks[i] for i in order[:n_test]]


def split_shuffles_input(tasks, n_test, rng):
    rng.shuffle(tasks)
    return tasks[n_test:], tasks[:n_test]
def hs_global_random(tasks, n_test, rng):
    distinct = list({task_key(t): t for t in tasks}.values())
    test = [distinct[i] for i in np.random.choice(len(distinct), size=n_test, replace=False)]
    return [t for t in tasks if t not in test], test


def hs_first_distinct(tasks, n_test, rng):
    distinct = list({task_key(t): t for t in tasks}.values())
    return [t for t in tasks if t not in distinct[:n_test]], distinct[:n_test]


def hs_removes_one_copy(tasks, n_test, rng):
    distinct = list({task_key(t): t for t in tasks}.values())
    test = [distinct[i] for i in rng.choice(len(distinct), size=n_test, replace=False)]
    train = list(tasks)
    for t in test:
        train.remove(t)  # only the first copy
    return train, test


def rf_no_intercept(X, Y, lam):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y), np.zeros(Y.shape[1])


def rf_penalised_intercept(X, Y, lam):
    A = np.hstack([X, np.ones((len(X), 1))])
    theta = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ Y)
    return theta[:-1], theta[-1]


def rf_no_penalty(X, Y, lam):
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    W = np.linalg.solve(Xc.T @ Xc, Xc.T @ Yc)
    return W, Y.mean(axis=0) - X.mean(axis=0) @ W


def rf_swapped(X, Y, lam):
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    W = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ Yc)
    return Y.mean(axis=0) - X.mean(axis=0) @ W, W


def ho_fits_on_everything(fit, split, run):
    check_disjoint(split.train, split.test)
    choose = fit(list(split.train) + list(split.test))
    return run(list(split.test), [choose(t) for t in split.test])


def ho_no_leak_check(fit, split, run):
    choose = fit(list(split.train))
    return run(list(split.test), [choose(t) for t in split.test])


def ho_runs_training_tasks(fit, split, run):
    check_disjoint(split.train, split.test)
    choose = fit(list(split.train))
    return run(list(split.train), [choose(t) for t in split.train])


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
    ("02_q_learning", "run_q_learning"): [  # named wrong answers with their hints: tests/test_wrong_answers_00_04.py
        loop_passes_terminated_or_truncated, loop_discards_what_update_returns, loop_reseeds_the_env,
    ],
    ("03_cartpole", "discretize"): [disc_no_clip, disc_column_major, disc_rounds, disc_returns_tuple],
    ("08_maml_rl", "adapt_step"): [
        step_forgets_baseline, step_gradient_ascent, step_mutates_params, step_not_normalised, step_under_no_grad,
        step_unbiased_std,
    ],
    ("08_maml_rl", "rl_meta_loss"): [mlr_detached_inner_step, mlr_no_grad_inner_step, mlr_pre_update, mlr_same_data],
    ("06_policy_gradients", "reinforce_loss"): [rl_weight_not_detached, rl_sign_error, rl_mean_over_steps,
                                                rl_ignores_mask],
    # named wrong answers for these three: tests/test_wrong_answers_05_10.py
    ("06_policy_gradients", "reward_to_go"): [],
    ("06_policy_gradients", "reinforce"): [],
    ("06_policy_gradients", "gae"): [],
    ("07_maml_sinusoid", "inner_update"): [iu_sign_error, iu_in_place, iu_detached, iu_no_alpha],
    ("07_maml_sinusoid", "meta_loss"): [ml_always_first_order, ml_sign_error, ml_query_for_inner_step,
                                        ml_sums_squares],
    ("09_rl2", "ucb1_index"): [ucb_sutton_barto, ucb_no_where, ucb_unpulled_zero, ucb_log_of_n, ucb_c_under_root],
    ("09_rl2", "trial_hidden_states"): [ths_resets_each_episode, ths_never_resets, ths_last_state_only,
                                        ths_scales_inputs_in_place],
    ("09_rl2", "rl2_input"): [ri_clamp_only, ri_one_hot_of_minus_one, ri_reward_first, ri_action_as_number,
                              ri_forgets_done],
    ("10_evaluation", "bootstrap_ci"): [
        boot_without_replacement, boot_data_std, boot_one_sided_cut, boot_percentile_fractions,
    ],
    ("10_evaluation", "meta_test_split"): [
        split_leaks, split_last_ones, split_drops_tasks, split_global_random, split_shuffles_input,
    ],
    ("04_many_tasks", "held_out_split"): [hs_shuffle_and_cut, hs_global_random, hs_first_distinct, hs_removes_one_copy],
    ("05_learning_hyperparameters", "ridge_fit"): [rf_no_intercept, rf_penalised_intercept, rf_no_penalty, rf_swapped],
    ("05_learning_hyperparameters", "held_out_scores"): [
        ho_fits_on_everything, ho_no_leak_check, ho_runs_training_tasks,
    ],
    ("11_inferring_the_task", "beta_update"): [bu_swapped, bu_every_arm, bu_in_place, bu_column],
    ("11_inferring_the_task", "bayes_backup"): [bb_no_reward, bb_alpha_over_beta, bb_swapped_successors, bb_mean_value],
    ("11_inferring_the_task", "information_value"): [voi_plain_mean, voi_best_case, voi_no_subtraction, voi_reversed],
    ("11_inferring_the_task", "goal_update"): [gu_sign, gu_no_half, gu_noise_not_squared, gu_forgets_prior_mean,
                                               gu_adds_to_mean, gu_stale_precision],
}


def test_lesson_11_hints_name_the_mistake():
    assert "a success (reward 1) adds to alpha" in repr(run_check("beta_update", bu_swapped))
    assert "only the arm that was pulled" in repr(run_check("beta_update", bu_every_arm))
    assert "were changed" in repr(run_check("beta_update", bu_in_place))
    assert "alpha[np.arange(B), arm]" in repr(run_check("beta_update", bu_column))
    assert "pays 1 with probability mu right now" in repr(run_check("bayes_backup", bb_no_reward))
    assert "alpha / (alpha + beta), not alpha / beta" in repr(run_check("bayes_backup", bb_alpha_over_beta))
    assert "after a success the belief is the one worth v_success" in repr(
        run_check("bayes_backup", bb_swapped_successors))
    assert "the max over q, not the mean" in repr(run_check("bayes_backup", bb_mean_value))
    assert "weigh each goal by the belief" in repr(run_check("information_value", voi_plain_mean))
    assert "do not take the best case" in repr(run_check("information_value", voi_best_case))
    assert "subtract the value without it" in repr(run_check("information_value", voi_no_subtraction))
    assert "informed minus uninformed" in repr(run_check("information_value", voi_reversed))
    assert "the distance that shrank" in repr(run_check("goal_update", gu_sign))
    assert "y is half of the difference" in repr(run_check("goal_update", gu_no_half))
    assert "divide u u^T and u y by noise**2" in repr(run_check("goal_update", gu_noise_not_squared))
    assert "the prior's information stays" in repr(run_check("goal_update", gu_forgets_prior_mean))
    assert "the mean itself does not" in repr(run_check("goal_update", gu_adds_to_mean))
    assert "return the NEW precision" in repr(run_check("goal_update", gu_stale_precision))


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
    assert "lost its link to params" in repr(run_check("adapt_step", step_under_no_grad))
    assert "divides by n - 1" in repr(run_check("adapt_step", step_unbiased_std))
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
    assert "linear baseline" in repr(run_check("adapt_step", step_forgets_baseline))
    assert "DOWN the loss" in repr(run_check("adapt_step", step_gradient_ascent))
    assert "in place" in repr(run_check("adapt_step", step_mutates_params))
    assert "flow through the inner step" in repr(run_check("rl_meta_loss", mlr_detached_inner_step))
    assert "flow through the inner step" in repr(run_check("rl_meta_loss", mlr_no_grad_inner_step))
    assert "ADAPTED parameters" in repr(run_check("rl_meta_loss", mlr_pre_update))
    assert "NEW trajectories" in repr(run_check("rl_meta_loss", mlr_same_data))
    assert "`rng`, not np.random" in repr(run_check("epsilon_greedy", eg_global_random))
    assert "ALL actions" in repr(run_check("epsilon_greedy", eg_explores_only_others))
    assert "not from q[s', a]" in repr(run_check("q_learning_update", qu_sarsa_like))
    assert "no next state to bootstrap" in repr(run_check("q_learning_update", qu_bootstraps_through_terminal))
    assert "changed the q passed in" in repr(run_check("q_learning_update", qu_in_place))
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
    assert "WITH replacement" in repr(run_check("bootstrap_ci", boot_without_replacement))
    assert "spread of the DATA" in repr(run_check("bootstrap_ci", boot_data_std))
    assert "2.5 % from EACH end" in repr(run_check("bootstrap_ci", boot_one_sided_cut))
    assert "np.quantile takes fractions" in repr(run_check("bootstrap_ci", boot_percentile_fractions))
    assert "must not be trained on" in repr(run_check("meta_test_split", split_leaks))
    assert "equally likely" in repr(run_check("meta_test_split", split_last_ones))
    assert "in neither train nor test" in repr(run_check("meta_test_split", split_drops_tasks))
    assert "not np.random" in repr(run_check("meta_test_split", split_global_random))
    assert "was changed" in repr(run_check("meta_test_split", split_shuffles_input))
    assert "DISTINCT tasks" in repr(run_check("held_out_split", hs_removes_one_copy))
    assert "`rng`, not np.random" in repr(run_check("held_out_split", hs_global_random))
    assert "three times as likely" in repr(run_check("held_out_split", hs_shuffle_and_cut))
    assert "fit an intercept" in repr(run_check("ridge_fit", rf_no_intercept))
    assert "do not penalise the intercept" in repr(run_check("ridge_fit", rf_penalised_intercept))
    assert "penalty is missing" in repr(run_check("ridge_fit", rf_no_penalty))
    assert "fitted on held-out task" in repr(run_check("held_out_scores", ho_fits_on_everything))
    assert "check_disjoint(split.train, split.test) first" in repr(run_check("held_out_scores", ho_no_leak_check))
    assert "run the held-out tasks split.test" in repr(run_check("held_out_scores", ho_runs_training_tasks))
    assert "2 ln t under the square root" in repr(run_check("ucb1_index", ucb_sutton_barto))
    assert "got nan (0 / 0)" in repr(run_check("ucb1_index", ucb_no_where))
    assert "must have the index +inf" in repr(run_check("ucb1_index", ucb_unpulled_zero))
    assert "not of the arm's own n_a" in repr(run_check("ucb1_index", ucb_log_of_n))
    assert "c multiplies the square root" in repr(run_check("ucb1_index", ucb_c_under_root))
    assert "not as arm 0" in repr(run_check("rl2_input", ri_clamp_only))
    assert "one_hot cannot encode a = -1" in repr(run_check("rl2_input", ri_one_hot_of_minus_one))
    assert "concatenate in the order" in repr(run_check("rl2_input", ri_reward_first))
    assert "one-hot vector of length n_actions" in repr(run_check("rl2_input", ri_action_as_number))
    assert "done flag" in repr(run_check("rl2_input", ri_forgets_done))
    assert "emptied at an episode boundary" in repr(run_check("trial_hidden_states", ths_resets_each_episode))
    assert "start each trial from h = zeros" in repr(run_check("trial_hidden_states", ths_never_resets))
    assert "one row per step" in repr(run_check("trial_hidden_states", ths_last_state_only))
    assert "were changed" in repr(run_check("trial_hidden_states", ths_scales_inputs_in_place))


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
