"""Named wrong answers to the exercises of lessons 05, 06, 07 and 10, each fed to its check: every one must fail,
with the hint that names its mistake and never a traceback. Right answers written another way must pass, and the
reasons behind two checks are shown directly (a detached inner update leaves MAML no meta-gradient; a split drawn
with replacement is caught whatever its seed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.func import functional_call, grad
from wrong_answers import assert_rejected_with_hint, case_ids, wrong_answer_cases

from metarl_edu.classroom.checks import run_check
from metarl_edu.studies.evaluation import check_disjoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ============================================================================================ 05: ridge_fit
def _centred(X, Y):
    return X - X.mean(axis=0), Y - Y.mean(axis=0)


def ridge_without_intercept(X, Y, lam):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y), np.zeros(Y.shape[1])


def ridge_penalising_the_intercept(X, Y, lam):
    A = np.hstack([X, np.ones((len(X), 1))])
    theta = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ Y)
    return theta[:-1], theta[-1]


def ridge_without_penalty(X, Y, lam):
    Xc, Yc = _centred(X, Y)
    W = np.linalg.solve(Xc.T @ Xc, Xc.T @ Yc)
    return W, Y.mean(axis=0) - X.mean(axis=0) @ W


def ridge_returning_b_first(X, Y, lam):
    Xc, Yc = _centred(X, Y)
    W = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ Yc)
    return Y.mean(axis=0) - X.mean(axis=0) @ W, W


def ridge_centring_in_place(X, Y, lam):
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    X -= x_mean
    Y -= y_mean
    W = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y)
    return W, y_mean - x_mean @ W


def ridge_one_mean_for_all_of_x(X, Y, lam):
    Xc, Yc = X - X.mean(), Y - Y.mean()
    W = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ Yc)
    return W, Y.mean(axis=0) - X.mean(axis=0) @ W


def ridge_lam_on_every_entry(X, Y, lam):
    Xc, Yc = _centred(X, Y)
    W = np.linalg.solve(Xc.T @ Xc + lam, Xc.T @ Yc)
    return W, Y.mean(axis=0) - X.mean(axis=0) @ W


def ridge_returning_w_only(X, Y, lam):
    Xc, Yc = _centred(X, Y)
    return np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ Yc)


def ridge_by_lstsq_on_the_augmented_system(X, Y, lam):  # right, another way
    n, F = X.shape
    A = np.vstack([np.hstack([X, np.ones((n, 1))]), np.hstack([np.sqrt(lam) * np.eye(F), np.zeros((F, 1))])])
    solution = np.linalg.lstsq(A, np.vstack([Y, np.zeros((F, Y.shape[1]))]), rcond=None)[0]
    return solution[:F], solution[F]


# ============================================================================================ 05: held_out_scores
def held_out_fitting_on_everything(fit, split, run):
    check_disjoint(split.train, split.test)
    choose = fit(list(split.train) + list(split.test))
    return run(list(split.test), [choose(t) for t in split.test])


def held_out_without_the_leak_check(fit, split, run):
    choose = fit(list(split.train))
    return run(list(split.test), [choose(t) for t in split.test])


def held_out_checking_after_fitting(fit, split, run):
    choose = fit(list(split.train))
    check_disjoint(split.train, split.test)
    return run(list(split.test), [choose(t) for t in split.test])


def held_out_scoring_the_training_tasks(fit, split, run):
    check_disjoint(split.train, split.test)
    choose = fit(list(split.train))
    return run(list(split.train), [choose(t) for t in split.train])


def held_out_averaging_the_seeds(fit, split, run):
    check_disjoint(split.train, split.test)
    choose = fit(list(split.train))
    return run(list(split.test), [choose(t) for t in split.test]).mean(axis=1)


def held_out_forgetting_return(fit, split, run):
    check_disjoint(split.train, split.test)
    choose = fit(list(split.train))
    run(list(split.test), [choose(t) for t in split.test])


def held_out_loop_over_tasks(fit, split, run):  # right, one run per task
    check_disjoint(split.train, split.test)
    choose = fit(split.train)
    return np.vstack([run([task], [choose(task)]) for task in split.test])


def held_out_rows_one_by_one(fit, split, run):  # right, another loop
    check_disjoint(split.train, split.test)
    choose = fit(split.train)
    return np.array([run([task], [choose(task)])[0] for task in split.test])


# ============================================================================================ 06: reinforce_loss
def _weight(returns, baseline):
    return (returns if baseline is None else returns - baseline).detach()


def _m(mask):
    return 1.0 if mask is None else mask


def loss_weight_not_detached(log_probs, returns, baseline=None, mask=None):
    weight = returns if baseline is None else returns - baseline
    return -(log_probs * weight * _m(mask)).sum() / log_probs[0].numel()


def loss_without_minus(log_probs, returns, baseline=None, mask=None):
    return (log_probs * _weight(returns, baseline) * _m(mask)).sum() / log_probs[0].numel()


def loss_mean_over_every_entry(log_probs, returns, baseline=None, mask=None):
    return -(log_probs * _weight(returns, baseline) * _m(mask)).mean()


def loss_ignoring_the_mask(log_probs, returns, baseline=None, mask=None):
    return -(log_probs * _weight(returns, baseline)).sum() / log_probs[0].numel()


def loss_over_the_first_batch_dimension(log_probs, returns, baseline=None, mask=None):
    return -(log_probs * _weight(returns, baseline) * _m(mask)).sum() / log_probs.shape[1]


def loss_subtracting_in_place(log_probs, returns, baseline=None, mask=None):
    weight = returns.detach()
    if baseline is not None:
        weight -= baseline.detach()  # a detached tensor shares the caller's memory
    return -(log_probs * weight * _m(mask)).sum() / log_probs[0].numel()


def loss_crashing_on_none(log_probs, returns, baseline=None, mask=None):
    return -(log_probs * (returns - baseline).detach() * mask).sum() / log_probs[0].numel()


def loss_as_a_float(log_probs, returns, baseline=None, mask=None):
    return float(-(log_probs * _weight(returns, baseline) * _m(mask)).sum().detach() / log_probs[0].numel())


def loss_divided_by_n_written_as_a_product(log_probs, returns, baseline=None, mask=None):  # right, another way
    n = 1
    for size in log_probs.shape[1:]:
        n *= size
    weighted = torch.where(torch.as_tensor(_m(mask)) > 0, log_probs * _weight(returns, baseline), 0.0)
    return -weighted.sum() / n


# ============================================================================================ 07: inner_update
def update_ascending(params, grads, alpha):
    return {k: params[k] + alpha * grads[k] for k in params}


def update_in_place(params, grads, alpha):
    for k in params:
        params[k] -= alpha * grads[k]
    return params


def update_detached(params, grads, alpha):
    return {k: (params[k] - alpha * grads[k]).detach() for k in params}


def update_under_no_grad(params, grads, alpha):
    with torch.no_grad():
        return {k: params[k] - alpha * grads[k] for k in params}


def update_on_data(params, grads, alpha):
    return {k: params[k].data - alpha * grads[k] for k in params}


def update_detaching_the_gradients(params, grads, alpha):
    return {k: params[k] - alpha * grads[k].detach() for k in params}


def update_without_alpha(params, grads, alpha):
    return {k: params[k] - grads[k] for k in params}


def update_as_a_list(params, grads, alpha):
    return [params[k] - alpha * grads[k] for k in params]


def update_with_torch_sub(params, grads, alpha):  # right, another way
    return dict(zip(params, (torch.sub(p, g, alpha=alpha) for p, g in zip(params.values(), grads.values(),
                                                                            strict=True)), strict=True))


# ============================================================================================ 07: meta_loss
def _mse(model, p, x, y):
    return ((functional_call(model, p, (x,)) - y) ** 2).mean()


def _meta(model, params, task, alpha, first_order, *, sign=1.0, inner_on_query=False, detach=None, step=True,
          total=False):
    (x_s, y_s), (x_q, y_q) = task
    loss = (lambda p, x, y: ((functional_call(model, p, (x,)) - y) ** 2).sum()) if total else \
        (lambda p, x, y: _mse(model, p, x, y))
    x_in, y_in = (x_q, y_q) if inner_on_query else (x_s, y_s)
    grads = grad(loss)(params, x_in, y_in)
    if first_order if detach is None else detach:
        grads = {k: g.detach() for k, g in grads.items()}
    theta = {k: params[k] - sign * alpha * grads[k] for k in params} if step else params
    return loss(theta, x_q, y_q)


def meta_always_first_order(model, params, task, alpha, first_order=False):
    return _meta(model, params, task, alpha, first_order, detach=True)


def meta_never_first_order(model, params, task, alpha, first_order=False):
    return _meta(model, params, task, alpha, first_order, detach=False)


def meta_ascending(model, params, task, alpha, first_order=False):
    return _meta(model, params, task, alpha, first_order, sign=-1.0)


def meta_inner_step_on_the_query(model, params, task, alpha, first_order=False):
    return _meta(model, params, task, alpha, first_order, inner_on_query=True)


def meta_without_inner_step(model, params, task, alpha, first_order=False):
    return _meta(model, params, task, alpha, first_order, step=False)


def meta_summing_squares(model, params, task, alpha, first_order=False):
    return _meta(model, params, task, alpha, first_order, total=True)


def meta_detaching_theta_prime(model, params, task, alpha, first_order=False):
    (x_s, y_s), (x_q, y_q) = task
    grads = grad(lambda p: _mse(model, p, x_s, y_s))(params)
    return _mse(model, {k: (params[k] - alpha * grads[k]).detach() for k in params}, x_q, y_q)


def meta_autograd_without_create_graph(model, params, task, alpha, first_order=False):
    (x_s, y_s), (x_q, y_q) = task
    grads = torch.autograd.grad(_mse(model, params, x_s, y_s), list(params.values()))
    return _mse(model, {k: params[k] - alpha * g for k, g in zip(params, grads, strict=True)}, x_q, y_q)


def meta_as_a_float(model, params, task, alpha, first_order=False):
    return float(_meta(model, params, task, alpha, first_order).detach())


def meta_autograd_with_create_graph(model, params, task, alpha, first_order=False):  # right, another way
    (x_s, y_s), (x_q, y_q) = task
    grads = torch.autograd.grad(_mse(model, params, x_s, y_s), list(params.values()), create_graph=not first_order)
    return _mse(model, {k: params[k] - alpha * g for k, g in zip(params, grads, strict=True)}, x_q, y_q)


# ============================================================================================ 10: bootstrap_ci
def _quantiles(means, level):
    return tuple(np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))


def _means(values, n_boot, rng):
    values = np.asarray(values, dtype=float)
    return values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)


def boot_without_replacement(values, n_boot, rng, level=0.95):
    values = np.asarray(values, dtype=float)
    return _quantiles(np.array([rng.permutation(values).mean() for _ in range(n_boot)]), level)


def boot_spread_of_the_data(values, n_boot, rng, level=0.95):
    values = np.asarray(values, dtype=float)
    return values.mean() - 1.96 * values.std(), values.mean() + 1.96 * values.std()


def boot_cutting_one_side_only(values, n_boot, rng, level=0.95):
    return tuple(np.quantile(_means(values, n_boot, rng), [1 - level, level]))


def boot_percentile_given_fractions(values, n_boot, rng, level=0.95):
    return tuple(np.percentile(_means(values, n_boot, rng), [(1 - level) / 2, (1 + level) / 2]))


def boot_with_np_random(values, n_boot, rng, level=0.95):
    values = np.asarray(values, dtype=float)
    return _quantiles(values[np.random.randint(0, len(values), size=(n_boot, len(values)))].mean(axis=1), level)


def boot_ignoring_the_level(values, n_boot, rng, level=0.95):
    return _quantiles(_means(values, n_boot, rng), 0.95)


def boot_returning_the_means(values, n_boot, rng, level=0.95):
    return _means(values, n_boot, rng)


def boot_high_before_low(values, n_boot, rng, level=0.95):
    return _quantiles(_means(values, n_boot, rng), level)[::-1]


def boot_sorting_the_data(values, n_boot, rng, level=0.95):
    values.sort()
    return _quantiles(_means(values, n_boot, rng), level)


def boot_replicate_by_replicate(values, n_boot, rng, level=0.95):  # right, one replicate at a time
    values = np.asarray(values, dtype=float)
    means = [values[rng.integers(0, len(values), size=len(values))].mean() for _ in range(n_boot)]
    return _quantiles(means, level)


# ============================================================================================ 10: meta_test_split
def split_leaking(tasks, n_test, rng):
    return list(tasks), [tasks[i] for i in rng.permutation(len(tasks))[:n_test]]


def split_last_ones(tasks, n_test, rng):
    return list(tasks[:-n_test]), list(tasks[-n_test:])


def split_dropping_a_task(tasks, n_test, rng):
    order = rng.permutation(len(tasks))
    return [tasks[i] for i in order[n_test + 1:]], [tasks[i] for i in order[:n_test]]


def split_with_np_random(tasks, n_test, rng):
    order = np.random.permutation(len(tasks))
    return [tasks[i] for i in order[n_test:]], [tasks[i] for i in order[:n_test]]


def split_shuffling_the_input(tasks, n_test, rng):
    rng.shuffle(tasks)
    return tasks[n_test:], tasks[:n_test]


def split_with_replacement(tasks, n_test, rng):
    test = [tasks[i] for i in rng.choice(len(tasks), size=n_test)]  # replace=True is rng.choice's default
    return [t for t in tasks if t not in test], test


def split_returning_indices(tasks, n_test, rng):
    order = rng.permutation(len(tasks))
    return list(order[n_test:]), list(order[:n_test])


def split_test_first(tasks, n_test, rng):
    order = rng.permutation(len(tasks))
    return [tasks[i] for i in order[:n_test]], [tasks[i] for i in order[n_test:]]


def split_by_choice_without_replacement(tasks, n_test, rng):  # right, another way
    chosen = set(rng.choice(len(tasks), size=n_test, replace=False).tolist())
    return [t for i, t in enumerate(tasks) if i not in chosen], [tasks[i] for i in sorted(chosen)]


# ============================================================================================ 06: reward_to_go
def _ends(terminated, truncated):
    return torch.as_tensor(terminated) | torch.as_tensor(truncated)


def rtg_sum_so_far(rewards, terminated, truncated, gamma):
    G, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0]):
        running = rewards[t] + gamma * running
        G[t] = running
        running = torch.where(_ends(terminated, truncated)[t], 0.0, running)
    return G


def _backwards(rewards, ended, gamma):
    G, G_next = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        G[t] = rewards[t] + gamma * torch.where(ended[t], 0.0, G_next)
        G_next = G[t]
    return G


def rtg_list_not_reversed(rewards, terminated, truncated, gamma):
    return _backwards(rewards, _ends(terminated, truncated), gamma).flip(0)


def rtg_whole_return_everywhere(rewards, terminated, truncated, gamma):
    G = _backwards(rewards, _ends(terminated, truncated), gamma)
    return G[:1].expand_as(G).clone()


def rtg_undiscounted(rewards, terminated, truncated, gamma):
    return _backwards(rewards, _ends(terminated, truncated), 1.0)


def rtg_discounted_from_the_start(rewards, terminated, truncated, gamma):
    steps = torch.arange(rewards.shape[0], dtype=rewards.dtype).reshape(-1, *[1] * (rewards.ndim - 1))
    return _backwards(rewards * gamma**steps, _ends(terminated, truncated), 1.0)


def rtg_never_restarting(rewards, terminated, truncated, gamma):
    return _backwards(rewards, torch.zeros_like(torch.as_tensor(terminated)), gamma)


def rtg_restarting_at_termination_only(rewards, terminated, truncated, gamma):
    return _backwards(rewards, torch.as_tensor(terminated), gamma)


def rtg_accumulating_into_the_rewards(rewards, terminated, truncated, gamma):
    ended = _ends(terminated, truncated)
    for t in reversed(range(rewards.shape[0] - 1)):
        rewards[t] += gamma * torch.where(ended[t], 0.0, rewards[t + 1])
    return rewards


def rtg_by_discount_matrix(rewards, terminated, truncated, gamma):  # right, another way: one episode at a time
    ended = _ends(terminated, truncated).reshape(rewards.shape[0], -1)
    flat, G = rewards.reshape(rewards.shape[0], -1), torch.zeros(rewards.shape[0], rewards[0].numel(),
                                                                   dtype=rewards.dtype)
    for j in range(flat.shape[1]):
        start = 0
        for t in range(flat.shape[0]):
            if ended[t, j] or t == flat.shape[0] - 1:
                r = flat[start:t + 1, j]
                k = torch.arange(len(r), dtype=rewards.dtype)
                G[start:t + 1, j] = (torch.triu(gamma ** (k[None, :] - k[:, None])) * r[None, :]).sum(1)
                start = t + 1
    return G.reshape(rewards.shape)


# ============================================================================================ 06: reinforce
def _reinforce(env, policy, n_iterations, batch_size, lr, gamma, seed, *, baseline=True, sign=1.0, zero_grad=True,
               whole=False, gamma_used=None, fresh_optimizer=False, step=True, returns=True):
    from metarl_edu.classroom.references import reinforce_loss_reference, reward_to_go_reference
    from metarl_edu.pg import linear_baseline, sample_episodes

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    means = []
    for i in range(n_iterations):
        if fresh_optimizer:
            optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        e = sample_episodes(env, policy, batch_size, generator=generator, seed=seed if i == 0 else None)
        G = reward_to_go_reference(e.rewards, e.terminated, e.truncated, gamma if gamma_used is None else gamma_used)
        if whole:
            G = e.total_rewards().expand_as(G) * e.mask
        b = linear_baseline(e.obs, G, e.mask) if baseline else None
        loss = sign * reinforce_loss_reference(policy.log_prob(e.obs, e.actions), G, b, e.mask)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        if step:
            optimizer.step()
        means.append(float(e.total_rewards().mean()))
    return np.array(means) if returns else None


def _variant(**mistake):
    def reinforce(env, policy, n_iterations, batch_size=10, lr=0.01, gamma=0.99, seed=0):
        return _reinforce(env, policy, n_iterations, batch_size, lr, gamma, seed, **mistake)
    return reinforce


reinforce_without_baseline = _variant(baseline=False)
reinforce_ascending_the_loss = _variant(sign=-1.0)
reinforce_without_zero_grad = _variant(zero_grad=False)
reinforce_with_whole_returns = _variant(whole=True)
reinforce_undiscounted = _variant(gamma_used=1.0)
reinforce_ignoring_gamma = _variant(gamma_used=0.99)
reinforce_with_a_new_optimizer_each_time = _variant(fresh_optimizer=True)
reinforce_without_step = _variant(step=False)
reinforce_without_return = _variant(returns=False)


def reinforce_with_a_new_generator_each_time(env, policy, n_iterations, batch_size=10, lr=0.01, gamma=0.99, seed=0):
    from metarl_edu.pg import sample_episodes

    means = []
    for _ in range(n_iterations):  # every batch reseeds the env and the generator: the same first batch, always
        e = sample_episodes(env, policy, batch_size, generator=torch.Generator().manual_seed(seed + 1), seed=seed)
        means.append(float(e.total_rewards().mean()))
    return np.array(means)


def reinforce_recording_a_list(env, policy, n_iterations, batch_size=10, lr=0.01, gamma=0.99, seed=0):  # right
    return list(_reinforce(env, policy, n_iterations, batch_size, lr, gamma, seed))


# ============================================================================================ 06: gae
def _gae_loop(rewards, values, gamma, lam, mask=None, *, decay=None, delta_gamma=None, use_mask=True,
              bootstrap_padding=False, forwards=False):
    mask = torch.ones_like(rewards) if mask is None else mask
    decay = gamma * lam if decay is None else decay
    delta_gamma = gamma if delta_gamma is None else delta_gamma
    A, next_v, next_a = torch.zeros_like(rewards), torch.zeros_like(rewards[0]), torch.zeros_like(rewards[0])
    T = rewards.shape[0]
    if forwards:
        previous = torch.zeros_like(rewards[0])
        for t in range(T):
            v_next = values[t + 1] if t + 1 < T else torch.zeros_like(rewards[0])
            A[t] = (rewards[t] + gamma * v_next * mask[min(t + 1, T - 1)] * (t + 1 < T) - values[t]
                    + decay * previous) * mask[t]
            previous = A[t]
        return A
    for t in reversed(range(T)):
        m = mask[t] if use_mask else 1.0
        A[t] = m * (rewards[t] + delta_gamma * next_v - values[t] + decay * next_a)
        next_v = values[t] if (bootstrap_padding or not use_mask) else mask[t] * values[t]
        next_a = A[t]
    return A


def _gae_variant(**mistake):
    def gae(rewards, values, gamma, lam, mask=None):
        return _gae_loop(rewards, values, gamma, lam, mask, **mistake)
    return gae


gae_forwards = _gae_variant(forwards=True)
gae_ignoring_the_mask = _gae_variant(use_mask=False)
gae_bootstrapping_from_padding = _gae_variant(bootstrap_padding=True)
gae_undiscounted_delta = _gae_variant(delta_gamma=1.0)


def gae_with_gamma_alone(rewards, values, gamma, lam, mask=None):
    return _gae_loop(rewards, values, gamma, lam, mask, decay=gamma)


def gae_with_lam_alone(rewards, values, gamma, lam, mask=None):
    return _gae_loop(rewards, values, gamma, lam, mask, decay=lam)


def gae_crashing_on_no_mask(rewards, values, gamma, lam, mask=None):
    A, next_v, next_a = torch.zeros_like(rewards), torch.zeros_like(rewards[0]), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        A[t] = mask[t] * (rewards[t] + gamma * next_v - values[t] + gamma * lam * next_a)
        next_v, next_a = mask[t] * values[t], A[t]
    return A


def gae_in_the_rewards_tensor(rewards, values, gamma, lam, mask=None):
    mask = torch.ones_like(rewards) if mask is None else mask
    next_v, next_a = torch.zeros_like(rewards[0]), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_v - values[t]
        rewards[t] = mask[t] * (delta + gamma * lam * next_a)
        next_v, next_a = mask[t] * values[t], rewards[t].clone()
    return rewards


def gae_from_td_errors_by_discounting(rewards, values, gamma, lam, mask=None):  # right, via the sum of deltas
    mask = torch.ones_like(rewards) if mask is None else mask
    next_values = torch.cat([values[1:] * mask[1:], torch.zeros_like(values[:1])])
    deltas = (rewards + gamma * next_values - values) * mask
    ends = torch.zeros_like(mask, dtype=torch.bool)
    ends[:-1] = mask[1:] == 0
    ends[-1] = True
    from metarl_edu.pg import discounted_returns

    return discounted_returns(deltas, ends, torch.zeros_like(ends), gamma * lam) * mask


# ============================================================================================ the table
WRONG = {
    "ridge_fit": [
        (ridge_without_intercept, "fit an intercept b too"),
        (ridge_penalising_the_intercept, "do not penalise the intercept"),
        (ridge_without_penalty, "the penalty is missing"),
        (ridge_returning_b_first, "Return (W, b) in that order"),
        (ridge_centring_in_place, "X or Y was changed"),
        (ridge_one_mean_for_all_of_x, "X.mean(axis=0), not one mean over all of X"),
        (ridge_lam_on_every_entry, "add lam to the DIAGONAL only"),
        (ridge_returning_w_only, "return a pair (W, b)"),
    ],
    "held_out_scores": [
        (held_out_fitting_on_everything, "the model was fitted on held-out task"),
        (held_out_without_the_leak_check, "call check_disjoint(split.train, split.test) first"),
        (held_out_checking_after_fitting, "refused only after the model was fitted"),
        (held_out_scoring_the_training_tasks, "run the held-out tasks split.test, in order"),
        (held_out_averaging_the_seeds, "not its mean over seeds"),
        (held_out_forgetting_return, "return what run(...) returns"),
    ],
    "reward_to_go": [
        (rtg_sum_so_far, "G_t sums the rewards from t ON"),
        (rtg_list_not_reversed, "G_t sums the rewards from t ON"),
        (rtg_whole_return_everywhere, "reward-TO-GO from step t"),
        (rtg_undiscounted, "discount: G_t = r_t + gamma G_(t+1)"),
        (rtg_discounted_from_the_start, "not from the start of the episode"),
        (rtg_never_restarting, "restart at each episode end"),
        (rtg_restarting_at_termination_only, "a truncated episode ends too"),
        (rtg_accumulating_into_the_rewards, "rewards was changed in place"),
    ],
    "reinforce": [
        (reinforce_without_baseline, "subtract the linear baseline"),
        (reinforce_ascending_the_loss, "minimise the loss"),
        (reinforce_without_zero_grad, "call optimizer.zero_grad() before loss.backward()"),
        (reinforce_with_whole_returns, "by its reward-to-go G_t"),
        (reinforce_undiscounted, "discount the reward-to-go with gamma"),
        (reinforce_ignoring_gamma, "use the gamma passed in"),
        (reinforce_with_a_new_optimizer_each_time, "make the optimizer once, before the loop"),
        (reinforce_without_step, "the policy's parameters never changed"),
        (reinforce_with_a_new_generator_each_time, "the first batch, played before any update, already differs"),
        (reinforce_without_return, "did you forget to `return` it"),
    ],
    "gae": [
        (gae_forwards, "compute backwards from the last step"),
        (gae_with_gamma_alone, "not gamma alone"),
        (gae_with_lam_alone, "not lam alone"),
        (gae_undiscounted_delta, "the next value is discounted by gamma"),
        (gae_ignoring_the_mask, "use the mask"),
        (gae_bootstrapping_from_padding, "bootstrapped from V on the padding step"),
        (gae_crashing_on_no_mask, "mask=None means every step is real"),
        (gae_in_the_rewards_tensor, "rewards was changed in place"),
    ],
    "reinforce_loss": [
        (loss_weight_not_detached, "detach the weight"),
        (loss_without_minus, "minimise MINUS the weighted log-probabilities"),
        (loss_mean_over_every_entry, "not by every step"),
        (loss_ignoring_the_mask, "multiply by the mask"),
        (loss_over_the_first_batch_dimension, "not only the first batch dimension"),
        (loss_subtracting_in_place, "returns was changed in place"),
        (loss_crashing_on_none, "baseline=None means b = 0"),
        (loss_as_a_float, "return the loss as a one-element tensor"),
    ],
    "inner_update": [
        (update_ascending, "against the gradient"),
        (update_in_place, "NEW dict"),
        (update_detached, "theta' carries no gradient: no torch.no_grad(), .data or .detach()"),
        (update_under_no_grad, "theta' carries no gradient"),
        (update_on_data, "theta' does not depend on params"),
        (update_detaching_the_gradients, "do not detach the gradients here"),
        (update_without_alpha, "scale the gradient by the step size alpha"),
        (update_as_a_list, "return a dict name -> tensor"),
    ],
    "meta_loss": [
        (meta_always_first_order, "with first_order=False do not detach the inner gradient"),
        (meta_never_first_order, "with first_order=True detach the inner gradients"),
        (meta_ascending, "the inner step goes against the gradient: theta' = theta - alpha * grad"),
        (meta_inner_step_on_the_query, "SUPPORT set"),
        (meta_without_inner_step, "score theta' (after the inner step)"),
        (meta_summing_squares, "MEAN squared error"),
        (meta_detaching_theta_prime, "the meta-loss carries no gradient"),
        (meta_autograd_without_create_graph, "create_graph=True"),
        (meta_as_a_float, "return the meta-loss as a one-element tensor"),
    ],
    "bootstrap_ci": [
        (boot_without_replacement, "resample WITH replacement"),
        (boot_spread_of_the_data, "spread of the DATA"),
        (boot_cutting_one_side_only, "2.5 % from EACH end"),
        (boot_percentile_given_fractions, "np.quantile takes fractions"),
        (boot_with_np_random, "from `rng`, not np.random"),
        (boot_ignoring_the_level, "use `level` to choose the quantiles"),
        (boot_returning_the_means, "return only the interval (low, high)"),
        (boot_high_before_low, "return the LOWER quantile"),
        (boot_sorting_the_data, "the values passed in were changed"),
    ],
    "meta_test_split": [
        (split_leaking, "must not be trained on"),
        (split_last_ones, "equally likely"),
        (split_dropping_a_task, "in neither train nor test"),
        (split_with_np_random, "not np.random"),
        (split_shuffling_the_input, "was changed"),
        (split_with_replacement, "WITHOUT replacement"),
        (split_returning_indices, "use tasks[i], not the index i"),
        (split_test_first, "return (train, test) in that order"),
    ],
}

RIGHT = {
    "ridge_fit": [ridge_by_lstsq_on_the_augmented_system],
    "held_out_scores": [held_out_loop_over_tasks, held_out_rows_one_by_one],
    "reward_to_go": [rtg_by_discount_matrix],
    "reinforce": [reinforce_recording_a_list],
    "gae": [gae_from_td_errors_by_discounting],
    "reinforce_loss": [loss_divided_by_n_written_as_a_product],
    "inner_update": [update_with_torch_sub],
    "meta_loss": [meta_autograd_with_create_graph],
    "bootstrap_ci": [boot_replicate_by_replicate],
    "meta_test_split": [split_by_choice_without_replacement],
}


def test_every_exercise_has_at_least_three_named_wrong_answers():
    assert all(len(wrongs) >= 3 for wrongs in WRONG.values())
    assert set(RIGHT) <= set(WRONG)


@pytest.mark.parametrize(("exercise_id", "wrong", "hint"), wrong_answer_cases(WRONG), ids=case_ids(WRONG))
def test_a_wrong_answer_fails_with_the_hint_that_names_it(exercise_id, wrong, hint):
    # an in-place update of a leaf that requires grad raises in the gradient case; the case before names the mistake
    assert_rejected_with_hint(exercise_id, wrong, hint, bare_exception_allowed=wrong is update_in_place)


@pytest.mark.parametrize(
    ("exercise_id", "right"),
    [(exercise_id, right) for exercise_id, rights in RIGHT.items() for right in rights],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_a_right_answer_written_another_way_passes(exercise_id, right):
    result = run_check(exercise_id, right)
    assert result.status == "passed", repr(result)


# ============================================================================================ why two checks exist
def test_a_detached_inner_update_leaves_maml_no_meta_gradient():
    # Second-order MAML on f(x) = w x (the check's hand case): with a differentiable inner update the
    # meta-gradient is -3; with a detached one, or one run under torch.no_grad(), nothing reaches w at all.
    from metarl_edu.classroom.references import inner_update_reference

    model = torch.nn.Linear(1, 1, bias=False).double()
    x = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    for update, expected in ((inner_update_reference, -3.0), (update_detached, None), (update_under_no_grad, None)):
        params = {"weight": torch.tensor([[1.0]], dtype=torch.float64, requires_grad=True)}
        grads = grad(lambda p: _mse(model, p, x, 3 * x))(params)
        loss = _mse(model, update(params, grads, 0.25), x, 5 * x)
        if expected is None:
            assert not loss.requires_grad  # the outer update would have nothing to differentiate
        else:
            (meta_gradient,) = torch.autograd.grad(loss, [params["weight"]])
            assert float(meta_gradient) == pytest.approx(expected)


@pytest.mark.parametrize("offset", range(8))
def test_a_split_with_replacement_fails_whatever_its_seed(offset):
    def with_replacement(tasks, n_test, rng):
        rng = np.random.default_rng(int(rng.integers(2**31)) + offset)  # another stream for each variant
        test = [tasks[i] for i in rng.integers(0, len(tasks), size=n_test)]
        return [t for t in tasks if t not in test], test

    result = run_check("meta_test_split", with_replacement)
    assert result.status == "failed" and "WITHOUT replacement" in repr(result)


def test_meta_loss_names_the_unwritten_exercise_it_depends_on():
    def inner_update(params, grads, alpha):
        raise NotImplementedError("write the inner update")

    def meta_loss(model, params, task, alpha, first_order=False):
        (x_s, y_s), (x_q, y_q) = task
        grads = grad(lambda p: _mse(model, p, x_s, y_s))(params)
        return _mse(model, inner_update(params, grads, alpha), x_q, y_q)

    def meta_loss_stub(model, params, task, alpha, first_order=False):
        raise NotImplementedError("write the meta-loss")

    result = run_check("meta_loss", meta_loss)
    assert result.status == "failed" and result.n_cases == 1
    assert "calls inner_update, which still raises NotImplementedError" in repr(result)
    assert run_check("meta_loss", meta_loss_stub).status == "not_attempted"


def test_the_held_out_spy_sees_every_call_of_run():
    # A correct loop that runs the held-out tasks one by one is graded like one call with all of them.
    calls = []

    def loop(fit, split, run):
        check_disjoint(split.train, split.test)
        choose = fit(split.train)
        rows = []
        for task in split.test:
            calls.append(task)
            rows.append(run([task], [choose(task)])[0])
        return rows  # a list of rows is numbers too

    assert run_check("held_out_scores", loop).status == "passed"
    assert calls and run_check("held_out_scores", lambda fit, split, run: SimpleNamespace()).status == "failed"


@pytest.mark.parametrize("exercise_id", sorted(WRONG))
@pytest.mark.parametrize("junk", [None, "x", 3.0, np.zeros((7, 7)), (1, 2, 3), {"a": 1}],
                         ids=lambda x: type(x).__name__)
def test_an_answer_of_the_wrong_type_or_shape_gets_a_sentence_not_a_crash(exercise_id, junk):
    result = run_check(exercise_id, lambda *args, **kwargs: junk)
    text = repr(result)
    assert result.status == "failed" and "Traceback" not in text
    assert not any("your function raised" in hint for hint in result.hints), text  # the check's own words


