"""The reference answers of the graded exercises that are not library functions of their own.

An exercise re-implements a function; where the library's own code is that function (``mdp.value_iteration``,
``td.q_learning_update``, ...) the exercise's reference is the library function itself. The functions here are
plain versions of protocols the library runs in another form (a bootstrap over tasks, a split drawn from a task
family, ridge regression by least squares), written as the lessons teach them. The exercises in
:mod:`metarl_edu.classroom.exercises` check a learner's answer against them, ``pick`` falls back on them, and the
grader refuses an answer that calls them (each is named in its exercise's ``replaces=`` marker).

=======================================  ========  ==========================================================
function                                 lesson    exercise id
=======================================  ========  ==========================================================
:func:`run_q_learning`                   02        ``run_q_learning``
:func:`held_out_split`                   04        ``held_out_split``
:func:`ridge_fit`                        05        ``ridge_fit``
:func:`held_out_scores`                  05        ``held_out_scores``
:func:`shuffle_split`                    10        ``meta_test_split``
:func:`percentile_interval`              10        ``bootstrap_ci``
:func:`reward_to_go_reference`           06        ``reward_to_go``
:func:`reinforce_loss_reference`         06        ``reinforce_loss``
:func:`reinforce_reference`              06        ``reinforce``
:func:`gae_reference`                    06        ``gae``
:func:`inner_update_reference`           07        ``inner_update``
:func:`meta_loss_reference`              07        ``meta_loss``
:func:`ucb1_index_reference`             09        ``ucb1_index``
:func:`rl2_input_reference`              09        ``rl2_input``
:func:`rl_meta_loss_reference`           08        ``rl_meta_loss``
:func:`trial_hidden_states_reference`    09        ``trial_hidden_states``
:func:`beta_update_reference`            11        ``beta_update``
:func:`bayes_backup_reference`           11        ``bayes_backup``
:func:`information_value_reference`      11        ``information_value``
:func:`goal_update_reference`            11        ``goal_update``
=======================================  ========  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from metarl_edu.envs.tasks import task_key
from metarl_edu.studies.evaluation import check_disjoint
from metarl_edu.studies.hyperparams import Setting

__all__ = ["gae_reference", "held_out_scores", "held_out_split", "inner_update_reference", "meta_loss_reference",
           "percentile_interval", "reinforce_loss_reference", "reinforce_reference", "reward_to_go_reference",
           "ridge_fit", "rl2_input_reference", "rl_meta_loss_reference", "run_q_learning", "shuffle_split",
           "trial_hidden_states_reference", "ucb1_index_reference"]


# ============================================================================================ lesson 02
def run_q_learning(env: Any, n_episodes: int, alpha: float, epsilon: float, gamma: float, rng: np.random.Generator,
                   choose: Callable[..., int], update: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Tabular Q-learning as Sutton & Barto's box (2018, section 6.5), one call of ``choose`` and one of ``update``
    per step:

        q = 0, shape (S, A)
        for each of n_episodes episodes:
            s = env.reset()                                           (no seed: the caller seeds the env once)
            repeat until terminated or truncated:
                a = choose(q[s], epsilon, rng)                        (epsilon-greedy)
                s_next, r, terminated, truncated = env.step(a)
                q = update(q, s, a, r, s_next, terminated, alpha, gamma)   (truncation still bootstraps)
                s = s_next

    Returns ``(q, returns)``: the final table and each episode's undiscounted return, shape (n_episodes,).
    :class:`~metarl_edu.agents.QLearningAgent` runs the same loop, with its own faster action choice.
    """
    q = np.zeros((env.observation_space.n, env.action_space.n))
    returns = np.zeros(n_episodes)
    for episode in range(n_episodes):
        s, _ = env.reset()
        done = False
        while not done:
            a = choose(q[s], epsilon, rng)
            s_next, r, terminated, truncated, _ = env.step(a)
            q = update(q, s, a, r, s_next, terminated, alpha, gamma)
            returns[episode] += r
            s, done = s_next, terminated or truncated
    return q, returns


# ============================================================================================ lesson 04
def held_out_split(tasks: Sequence[Any], n_test: int, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
    """Split a list of tasks into meta-training and meta-test tasks that share no task.

    ``n_test`` *distinct* tasks (equal by :func:`~metarl_edu.envs.tasks.task_key`) are drawn uniformly at random
    without replacement with ``rng``; every copy of them is left out of the training list, which keeps all the
    other tasks, copies included, in their original order. Returns ``(train, test)``.
    """
    distinct = list({task_key(t): t for t in tasks}.items())  # first copy of each distinct task, in order
    if not 0 <= n_test <= len(distinct):
        raise ValueError(f"n_test must be between 0 and the number of distinct tasks ({len(distinct)}); got {n_test}")
    chosen = rng.choice(len(distinct), size=n_test, replace=False)
    test_keys = {distinct[i][0] for i in chosen}
    test = [distinct[i][1] for i in chosen]
    train = [t for t in tasks if task_key(t) not in test_keys]
    return train, test


# ============================================================================================ lesson 05
def ridge_fit(X: np.ndarray, Y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression in closed form (Hoerl & Kennard 1970; Hastie et al. 2009, eq. 3.44): the ``W`` (F, K)
    and unpenalised intercept ``b`` (K,) that minimise

        ||Y - X W - b||^2 + lam ||W||^2,

    found by centring: with Xc = X - mean(X), Yc = Y - mean(Y),

        W = (Xc^T Xc + lam I)^(-1) Xc^T Yc,     b = mean(Y) - mean(X) W.

    Args:
        X: (n, F) inputs. Y: (n, K) targets, one column per output. lam: penalty >= 0.
    """
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    W = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ Yc)
    return W, y_mean - x_mean @ W


def held_out_scores(fit: Callable[[list[Any]], Callable[[Any], Setting]], split: Any,
                    run: Callable[[list[Any], list[Setting]], np.ndarray]) -> np.ndarray:
    """Scores of a hyperparameter model on held-out tasks, shape (n_test, n_seeds).

    1. Refuse a split whose test tasks also appear among its training tasks (``check_disjoint``).
    2. ``choose = fit(train_tasks)``: the model learns from the training tasks only.
    3. ``choose(task)`` gives a setting for each test task, in order; ``run(test_tasks, settings)`` scores them.
    """
    check_disjoint(split.train, split.test)  # a leaking split measures memory, not generalisation
    choose = fit(list(split.train))
    return run(list(split.test), [choose(task) for task in split.test])


# ============================================================================================ lesson 10
def percentile_interval(values: Any, n_boot: int, rng: np.random.Generator, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values`` (n,), written out plainly:

        for b in 1..n_boot: draw n indices uniformly WITH replacement, mean_b = mean(values[indices])
        interval = (quantile (1 - level) / 2, quantile (1 + level) / 2) of mean_1 .. mean_n_boot

    (Efron & Tibshirani 1993, ch. 13). Draws ``rng.integers(0, n, size=(n_boot, n))``, the same numbers as
    :func:`~metarl_edu.studies.evaluation.bootstrap_ci` with the same generator. The library itself uses
    ``bootstrap_ci``, which resamples whole tasks with their seeds.
    """
    values = np.asarray(values, dtype=float)
    idx = rng.integers(0, values.size, size=(n_boot, values.size))  # idx[b]: the resample of replicate b
    means = values[idx].mean(axis=1)
    low, high = np.quantile(means, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)


def shuffle_split(tasks: Sequence[Any], n_test: int, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
    """Split ``tasks`` at random into ``(train, test)`` lists with ``len(test) == n_test``: every task lands in
    exactly one of them, each possible test set equally likely (one ``rng.permutation``).

    :func:`~metarl_edu.studies.evaluation.split_tasks` draws fresh tasks from a family instead.
    """
    order = rng.permutation(len(tasks))
    return [tasks[i] for i in order[n_test:]], [tasks[i] for i in order[:n_test]]


# ============================================================================================ lessons 06, 07, 09
# The library's own function under a name of its own: grading forbids learner code to call an exercise's reference,
# and the library function stays free for the code built on it (train_reinforce, adapt, UCB1, collect_trials).
def reward_to_go_reference(rewards: Any, terminated: Any, truncated: Any, gamma: float) -> Any:
    """The ``reward_to_go`` exercise (lesson 06): :func:`metarl_edu.pg.discounted_returns` without value estimates."""
    from metarl_edu.pg import discounted_returns

    return discounted_returns(rewards, terminated, truncated, gamma)


def reinforce_loss_reference(log_probs: Any, returns: Any, baseline: Any = None, mask: Any = None) -> Any:
    """The ``reinforce_loss`` exercise (lesson 06): :func:`metarl_edu.pg.reinforce_loss`."""
    from metarl_edu.pg import reinforce_loss

    return reinforce_loss(log_probs, returns, baseline, mask)


def reinforce_reference(env: Any, policy: Any, n_iterations: int, batch_size: int = 10, lr: float = 0.01,
                        gamma: float = 0.99, seed: int = 0) -> np.ndarray:
    """The ``reinforce`` exercise (lesson 06): :func:`metarl_edu.pg.train_reinforce` with the linear baseline and
    no progress bar; the mean return of each iteration's batch."""
    from metarl_edu.pg import train_reinforce

    return train_reinforce(env, policy, n_iterations, batch_size=batch_size, lr=lr, gamma=gamma, seed=seed,
                           progress=False)


def gae_reference(rewards: Any, values: Any, gamma: float, lam: float, mask: Any = None) -> Any:
    """The ``gae`` exercise (lesson 06): :func:`metarl_edu.pg.gae_advantages`."""
    from metarl_edu.pg import gae_advantages

    return gae_advantages(rewards, values, gamma, lam, mask)


def inner_update_reference(params: dict, grads: dict, alpha: float) -> dict:
    """The ``inner_update`` exercise (lesson 07): :func:`metarl_edu.maml.inner_update`."""
    from metarl_edu.maml import inner_update

    return inner_update(params, grads, alpha)


def meta_loss_reference(model: Any, params: dict, task: Any, alpha: float, first_order: bool = False) -> Any:
    """The ``meta_loss`` exercise (lesson 07): :func:`metarl_edu.maml.task_meta_loss` with one inner step."""
    from metarl_edu.maml import task_meta_loss

    return task_meta_loss(model, params, task, alpha, first_order)


def ucb1_index_reference(q: np.ndarray, n: np.ndarray, t: int, c: float = 1.0) -> np.ndarray:
    """The ``ucb1_index`` exercise (lesson 09): :func:`metarl_edu.bandits.ucb1_index`."""
    from metarl_edu.bandits import ucb1_index

    return ucb1_index(q, n, t, c)


def rl2_input_reference(obs: Any, prev_action: Any, prev_reward: Any, done: Any, n_actions: int) -> Any:
    """The ``rl2_input`` exercise (lesson 09): :func:`metarl_edu.rl2.rl2_input`."""
    from metarl_edu.rl2 import rl2_input

    return rl2_input(obs, prev_action, prev_reward, done, n_actions)


def trial_hidden_states_reference(policy: Any, trials: Sequence[Sequence[Any]]) -> list[Any]:
    """The ``trial_hidden_states`` exercise (lesson 09): the GRU's hidden state after every step of each trial,
    (T, n_h) per trial. A trial's episodes joined end to end are one sequence for the GRU, read from ``h = 0``:
    the memory runs across the episode boundaries and starts empty with each trial (as in
    :func:`metarl_edu.rl2.collect_trials`)."""
    import torch

    with torch.no_grad():
        return [policy(torch.cat(list(trial)).unsqueeze(1))[2][:, 0] for trial in trials]


def rl_meta_loss_reference(policy: Any, params: dict, D: Any, D_prime: Any, alpha: float, gamma: float = 0.99,
                           adapt: Any = None, first_order: bool = False) -> Any:
    """The ``rl_meta_loss`` exercise (lesson 08): :func:`metarl_edu.maml_rl.meta_loss` with one inner step on ``D``.
    ``adapt`` is accepted for the exercise's signature; the library's own inner step is used."""
    from metarl_edu.maml_rl import meta_loss

    return meta_loss(policy, params, [D], D_prime, alpha, gamma, first_order)


# ============================================================================================ lesson 11
def beta_update_reference(alpha: np.ndarray, beta: np.ndarray, arm: np.ndarray, reward: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """The ``beta_update`` exercise (lesson 11): :func:`metarl_edu.bayes.beta_update`."""
    from metarl_edu.bayes import beta_update

    return beta_update(alpha, beta, arm, reward)


def bayes_backup_reference(alpha: np.ndarray, beta: np.ndarray, v_success: np.ndarray, v_failure: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """The ``bayes_backup`` exercise (lesson 11): :func:`metarl_edu.bayes.bayes_backup`."""
    from metarl_edu.bayes import bayes_backup

    return bayes_backup(alpha, beta, v_success, v_failure)


def information_value_reference(belief: np.ndarray, v_informed: np.ndarray, v_uninformed: float) -> float:
    """The ``information_value`` exercise (lesson 11): :func:`metarl_edu.bayes.information_value`."""
    from metarl_edu.bayes import information_value

    return information_value(belief, v_informed, v_uninformed)


def goal_update_reference(mean: np.ndarray, precision: np.ndarray, p: np.ndarray, p_next: np.ndarray, d: float,
                          d_next: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``goal_update`` exercise (lesson 11): :func:`metarl_edu.belief.gaussian_goal_update`."""
    from metarl_edu.belief import gaussian_goal_update

    return gaussian_goal_update(mean, precision, p, p_next, d, d_next, noise)


__all__ += ["bayes_backup_reference", "beta_update_reference", "goal_update_reference", "information_value_reference"]
