"""Tests for metarl_edu.bandits and metarl_edu.studies.bandit_baselines, in layers.

1. Hand-made bandits and states whose answer is worked out by hand (in a comment next to each).
2. The vectorised run against a naive per-bandit loop fed the same random stream; the Gittins table against a
   per-state bisection, against the restart-in-state formulation, and against published values.
3. Smoke runs on 1,000 random bandits: the known expectations of uniform arm means, and the ranking of strategies.
4. Validation: bad settings and histories raise a BanditError that says what is wrong.
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numpy as np
import pytest

from metarl_edu.bandits import (
    UCB1,
    BanditError,
    BanditState,
    EpsilonGreedy,
    Greedy,
    Random,
    ThompsonSampling,
    argmax_random_ties,
    run_strategy,
    ucb1_index,
)
from metarl_edu.bayes import bayes_optimal_bandit
from metarl_edu.classroom.references import ucb1_index_reference
from metarl_edu.studies.bandit_baselines import (
    DUAN_2016_TABLE1,
    DUAN_2016_UCB1,
    Gittins,
    bayes_optimal_total,
    evaluate_strategy,
    gittins_index_table,
    grid_search,
    normal_ci,
    reproduce_duan_ucb1,
)


def state_from(counts, sums) -> BanditState:
    counts = np.atleast_2d(np.asarray(counts, dtype=np.int64))
    return BanditState(counts=counts, sums=np.atleast_2d(np.asarray(sums, dtype=float)), t=int(counts[0].sum()))


def tiled(state: BanditState, B: int) -> BanditState:
    """B copies of a one-bandit state."""
    return BanditState(np.repeat(state.counts, B, axis=0), np.repeat(state.sums, B, axis=0), state.t)


# ============================================================================ 1. hand-made cases
def test_state_update_counts_sums_and_t():
    state = BanditState.empty(n_bandits=2, k=3)
    state.update(np.array([0, 2]), np.array([1.0, 0.0]))
    state.update(np.array([0, 1]), np.array([0.0, 1.0]))
    np.testing.assert_array_equal(state.counts, [[2, 0, 0], [0, 1, 1]])
    np.testing.assert_array_equal(state.sums, [[1, 0, 0], [0, 1, 0]])
    assert state.t == 2
    np.testing.assert_allclose(state.means(initial=0.25), [[0.5, 0.25, 0.25], [0.25, 1.0, 0.0]])


def test_argmax_random_ties_picks_only_maxima_and_each_equally_often():
    rng = np.random.default_rng(0)
    values = np.tile([0.2, 0.9, 0.9, 0.1, 0.9], (30_000, 1))
    a = argmax_random_ties(values, rng)
    assert set(np.unique(a)) == {1, 2, 4}
    # three tied arms: each 1/3, standard error sqrt(2/9 / 30000) = 0.0027
    np.testing.assert_allclose(np.bincount(a, minlength=5)[[1, 2, 4]] / a.size, 1 / 3, atol=0.012)


def test_ucb1_pulls_every_arm_exactly_once_in_the_first_k_pulls():
    rng = np.random.default_rng(1)
    k = 6
    p = rng.random((200, k))
    actions, _ = run_strategy(UCB1(c=1.0), p, n_pulls=k + 5, rng=rng)
    np.testing.assert_array_equal(np.sort(actions[:k], axis=0), np.tile(np.arange(k)[:, None], (1, 200)))
    # ...in random order: the first pull is not always the same arm
    assert len(np.unique(actions[0])) == k


def test_ucb1_index_worked_by_hand():
    # counts (2, 1, 0), sums (1, 1, 0), t = 3:
    #   arm 0: 1/2 + sqrt(2 ln 3 / 2) = 0.5 + sqrt(1.0986123) = 0.5 + 1.0481470 = 1.5481470
    #   arm 1: 1/1 + sqrt(2 ln 3 / 1) = 1.0 + sqrt(2.1972246) = 1.0 + 1.4823038 = 2.4823038
    #   arm 2: never pulled -> +inf
    state = state_from([2, 1, 0], [1, 1, 0])
    np.testing.assert_allclose(UCB1(c=1.0).index(state), [[1.5481470, 2.4823038, np.inf]], rtol=1e-7)
    # c scales the bonus only: c = 0.5 gives 0.5 + 0.5240735 and 1 + 0.7411519
    np.testing.assert_allclose(UCB1(c=0.5).index(state)[0, :2], [1.0240735, 1.7411519], rtol=1e-7)
    # once every arm is pulled, c = 0 is plain greedy
    state = state_from([3, 2, 4], [1, 2, 3])
    np.testing.assert_allclose(UCB1(c=0.0).index(state), Greedy().index(state))


def test_ucb1_index_function_by_hand_and_at_t_zero():
    # the case worked above, as arrays: Q = (0.5, 1, -), n = (2, 1, 0), t = 3, c = 1
    expected = [[1.5481470, 2.4823038, np.inf]]
    np.testing.assert_allclose(ucb1_index(np.array([[0.5, 1.0, 0.0]]), np.array([[2, 1, 0]]), 3, 1.0), expected,
                               rtol=1e-7)
    np.testing.assert_allclose(ucb1_index_reference(np.array([[0.5, 1.0, 0.0]]), np.array([[2, 1, 0]]), 3, 1.0),
                               expected, rtol=1e-7)  # lesson 09's reference gives the same
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing pulled yet (t = 0): every index +inf, without a warning
        assert np.isposinf(ucb1_index(np.zeros((2, 3)), np.zeros((2, 3), dtype=np.int64), 0)).all()


def test_ucb1_prior_index_worked_by_hand():
    # k = 2, arm 0 pulled once and paid 1, arm 1 never pulled; prior (1, 1) adds one pseudo-success and one
    # pseudo-failure to each arm: n = (3, 2), Q = (2/3, 1/2), t = 1 + 2 * (1 + 1) = 5, 2 ln 5 = 3.2188758
    #   arm 0: 2/3 + sqrt(3.2188758 / 3) = 0.6666667 + 1.0358372 = 1.7025038
    #   arm 1: 1/2 + sqrt(3.2188758 / 2) = 0.5       + 1.2686362 = 1.7686362  (finite: no forced first round)
    state = state_from([1, 0], [1, 0])
    np.testing.assert_allclose(UCB1(c=1.0, prior=(1, 1)).index(state), [[1.7025038, 1.7686362]], rtol=1e-7)
    # c = 0.5 halves the bonus: 0.6666667 + 0.5179186 and 0.5 + 0.6343181
    np.testing.assert_allclose(UCB1(c=0.5, prior=(1, 1)).index(state), [[1.1845852, 1.1343181]], rtol=1e-7)
    # prior (0.5, 2): n = (3.5, 2.5), Q = (1.5 / 3.5, 0.5 / 2.5) = (0.4285714, 0.2), t = 1 + 2 * 2.5 = 6
    #   arm 0: 0.4285714 + sqrt(2 ln 6 / 3.5) = 1.4404324; arm 1: 0.2 + sqrt(2 ln 6 / 2.5) = 1.3972500
    np.testing.assert_allclose(UCB1(c=1.0, prior=(0.5, 2)).index(state), [[1.4404324, 1.3972500]], rtol=1e-7)
    # before any pull every arm has the same index, so the first pull is uniform over the arms
    a = UCB1(prior=(1, 1)).select(BanditState.empty(30_000, 3), np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(a, minlength=3) / a.size, 1 / 3, atol=0.012)


def test_ucb1_with_a_prior_has_no_forced_first_round():
    # Arm 0 always pays. Textbook UCB1 must try all 4 arms in its first 4 pulls; with Beta(1, 1) statistics and a
    # small c, a bandit whose first pull was arm 0 pulls it again at once: its index 2/3 + bonus beats 1/2 + bonus'
    # (pull 2: t = 9, n = (3, 2, 2, 2): 0.667 + 0.1 * 1.211 = 0.788 > 0.5 + 0.1 * 1.482 = 0.648).
    p = np.tile([1.0, 0.0, 0.0, 0.0], (400, 1))
    textbook, _ = run_strategy(UCB1(c=0.1), p, 4, np.random.default_rng(8))
    assert np.all(np.sort(textbook, axis=0) == np.arange(4)[:, None])
    with_prior, _ = run_strategy(UCB1(c=0.1, prior=(1, 1)), p, 4, np.random.default_rng(8))
    started_on_0 = with_prior[0] == 0
    assert started_on_0.any() and np.all(with_prior[1:, started_on_0] == 0)


def test_ucb1_without_a_prior_is_unchanged():
    # prior=None is the textbook algorithm: the same arms and rewards as before for the same seed
    p = np.random.default_rng(9).random((50, 4))
    default, _ = run_strategy(UCB1(c=0.3), p, 30, np.random.default_rng(10))
    explicit, _ = run_strategy(UCB1(c=0.3, prior=None), p, 30, np.random.default_rng(10))
    np.testing.assert_array_equal(default, explicit)
    state = state_from([3, 2, 4], [1, 2, 3])
    np.testing.assert_array_equal(UCB1(c=0.3, prior=None).index(state),
                                  ucb1_index(state.means(), state.counts, state.t, 0.3))
    # the total that UCB1(c=0.3) earned on these 50 bandits before the prior existed (n = 20, k = 3, seed 11)
    assert evaluate_strategy(UCB1(c=0.3), 20, 3, 50, rng=11).totals.sum() == 636.0


def test_ucb1_names_say_which_variant():
    assert UCB1(c=0.2).name == "UCB1(c=0.2)"
    assert UCB1(c=0.2, prior=(1, 1)).name == "UCB1(c=0.2, prior=(1.0, 1.0))"


@pytest.mark.parametrize(
    ("prior", "match"),
    [
        ((1, -1), "prior b \\(pseudo-failures\\) must be in \\[0, inf\\]"),
        ((float("nan"), 1), "prior a \\(pseudo-successes\\) must be in"),
        ((1, float("inf")), "prior b"),
        ((0, 0), "a \\+ b must be > 0"),
        ((1, 1, 1), "prior must be a pair"),
        (1.0, "prior must be a pair"),
        (("1", 1), "prior a \\(pseudo-successes\\) must be a number"),
    ],
)
def test_ucb1_prior_is_validated(prior, match):
    with pytest.raises(BanditError, match=match):
        UCB1(c=1.0, prior=prior)


def test_ucb1_with_beta_1_1_statistics_reproduces_duan_table_1():
    # Duan et al. (2016), Table 1, UCB1 column: c tuned on 1,000 bandits of another seed, then 4,000 bandits each.
    for (n, k), (c, result) in reproduce_duan_ucb1(list(DUAN_2016_UCB1)).items():
        table = DUAN_2016_UCB1[n, k]
        assert result.n_bandits == 4000 and result.strategy == f"UCB1(c={c}, prior=(1.0, 1.0))"
        assert abs(result.mean_total / table - 1) < 0.025, (n, k, c, result.mean_total, table)
    with pytest.raises(BanditError, match="tune on other bandits"):
        reproduce_duan_ucb1([(10, 5)], tune_seed=0, eval_seed=0)


def test_the_papers_other_strategies_reproduce_duan_table_1():
    # Duan et al. (2016), Table 1, k = 5: the strategies we run as the paper describes them, on 4,000 bandits.
    for (n, k), row in DUAN_2016_TABLE1.items():
        assert row["ucb1"] == DUAN_2016_UCB1[n, k]
        for name, strategy in [("random", Random()), ("greedy", Greedy(initial=0.5)),
                               ("gittins", Gittins(gamma=0.9, horizon=n)), ("thompson", ThompsonSampling())]:
            ours = evaluate_strategy(strategy, n_pulls=n, k=k, n_bandits=4000, rng=7).mean_total
            assert abs(ours / row[name] - 1) < 0.03, (n, k, name, ours, row[name])


def test_grid_search_compares_settings_on_the_same_bandits():
    best, results = grid_search(lambda c: UCB1(c=c), [0.0, 0.3, 3.0], n_pulls=100, k=5, n_bandits=300, rng=1)
    assert list(results) == [0.0, 0.3, 3.0]
    assert all(np.array_equal(r.best_means, results[0.0].best_means) for r in results.values())  # common bandits
    # a bonus three times Auer's explores far too much for 100 pulls (c = 1 already loses about 10%)
    assert results[3.0].mean_total < results[0.3].mean_total - 10 and best != 3.0
    assert results[best].mean_total == max(r.mean_total for r in results.values())
    with pytest.raises(BanditError, match="grid"):
        grid_search(lambda c: UCB1(c=c), [], n_pulls=10, k=5)


def test_greedy_keeps_pulling_an_arm_that_paid():
    # Arm 0 always pays 1, the others never. Greedy values untried arms at 0, so it picks among all arms at random
    # until one pays (only arm 0 can), and from then on arm 0 has mean 1 > 0 and is pulled every time.
    B, n = 300, 40
    p = np.tile([1.0, 0.0, 0.0, 0.0], (B, 1))
    actions, rewards = run_strategy(Greedy(), p, n, np.random.default_rng(2))
    first = np.argmax(actions == 0, axis=0)
    assert np.all(actions[first, np.arange(B)] == 0)  # every bandit found arm 0...
    assert np.any(first == 0) and np.any(first > 0)  # ...some at once, some after failures
    after = np.arange(n)[:, None] > first[None, :]
    assert np.all(actions[after] == 0)  # ...and never left it
    assert np.all(rewards[~after & (actions != 0)] == 0)


def test_greedy_never_explores_once_ties_are_broken():
    # One pull of arm 0 paid 1; arms 1 and 2 were never tried. Their value is the initial 0 < 1, so greedy picks
    # arm 0 for every random draw, although arms 1 and 2 might be better.
    state = tiled(state_from([1, 0, 0], [1, 0, 0]), 5_000)
    assert np.all(Greedy().select(state, np.random.default_rng(3)) == 0)
    # with optimistic initial values (1), the untried arms tie with arm 0: each of the three is picked
    a = Greedy(initial=1.0).select(state, np.random.default_rng(3))
    assert set(np.unique(a)) == {0, 1, 2}


@pytest.mark.parametrize("epsilon", [0.0, 0.2, 1.0])
def test_epsilon_greedy_explores_with_probability_epsilon(epsilon):
    # Arm 0 is the unique greedy arm. A random arm is drawn with probability epsilon and is uniform over the k arms,
    # so a non-greedy arm is pulled with probability epsilon * (k - 1) / k, and each other arm with epsilon / k.
    B, k = 40_000, 5
    state = tiled(state_from([1] * k, [1, 0, 0, 0, 0]), B)
    a = EpsilonGreedy(epsilon=epsilon).select(state, np.random.default_rng(4))
    freq = np.bincount(a, minlength=k) / B
    # standard errors are below sqrt(0.25 / 40000) = 0.0025
    np.testing.assert_allclose(1 - freq[0], epsilon * (k - 1) / k, atol=0.01)
    np.testing.assert_allclose(freq[1:], epsilon / k, atol=0.01)


def test_thompson_posterior_counts_after_a_known_reward_sequence():
    # pulls (arm, reward): (0, 1) (0, 0) (1, 1) (0, 1) (2, 0) (2, 0)
    # arm 0: 2 successes, 1 failure -> Beta(3, 2); arm 1: 1, 0 -> Beta(2, 1); arm 2: 0, 2 -> Beta(1, 3)
    state = BanditState.empty(1, 3)
    for arm, reward in [(0, 1), (0, 0), (1, 1), (0, 1), (2, 0), (2, 0)]:
        state.update(np.array([arm]), np.array([float(reward)]))
    alpha, beta = ThompsonSampling().posterior(state)
    np.testing.assert_array_equal(alpha, [[3, 2, 1]])
    np.testing.assert_array_equal(beta, [[2, 1, 3]])
    alpha, beta = ThompsonSampling(alpha_0=0.5, beta_0=2.0).posterior(state)
    np.testing.assert_array_equal(alpha, [[2.5, 1.5, 0.5]])
    np.testing.assert_array_equal(beta, [[3, 2, 4]])


def test_thompson_pulls_each_arm_with_the_probability_that_it_is_best():
    # Arm 0 paid once: posterior Beta(2, 1), density 2x. Arm 1 untried: Beta(1, 1) = U[0, 1].
    # P(theta_0 > theta_1) = E[P(U < X)] = E[X] = 2/3 for X ~ Beta(2, 1).
    B = 40_000
    state = tiled(state_from([1, 0], [1, 0]), B)
    a = ThompsonSampling().select(state, np.random.default_rng(5))
    assert abs(np.mean(a == 0) - 2 / 3) < 0.01  # standard error 0.0024


def test_names_show_settings_and_leave_quiet_defaults_out():
    assert UCB1().name == "UCB1(c=1.0)" and EpsilonGreedy(0.2).name == "EpsilonGreedy(epsilon=0.2, initial=0.0)"
    assert ThompsonSampling().name == "ThompsonSampling()"
    assert ThompsonSampling(alpha_0=2.0).name == "ThompsonSampling(alpha_0=2.0)"
    assert Gittins(gamma=0.95, horizon=100, n_grid=201).name == "Gittins(gamma=0.95, horizon=100, n_grid=201)"


def test_normal_ci_worked_by_hand():
    # x = (1, 2, 3, 4): mean 2.5, sample std sqrt(5/3) = 1.2909944, half width 1.9599640 * 1.2909944 / 2 = 1.2651513
    lo, hi = normal_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    assert lo == pytest.approx(2.5 - 1.2651513, abs=1e-6) and hi == pytest.approx(2.5 + 1.2651513, abs=1e-6)


# ============================================================ 2. vectorised against naive references
def naive_run(kind: str, params: dict, p: np.ndarray, n: int, rng: np.random.Generator,
              table: np.ndarray | None = None) -> tuple[list, list]:
    """One bandit at a time in plain Python, drawing the same random numbers, in the same order, as the strategies
    and run_strategy: the strategy's draws for all B bandits, then u ~ U[0, 1]^B for the rewards."""
    B, k = p.shape
    counts = [[0] * k for _ in range(B)]
    sums = [[0.0] * k for _ in range(B)]

    def pick(values, noise_row):  # argmax, ties to the largest uniform among the tied arms
        best = max(values)
        return max((a for a in range(k) if values[a] == best), key=lambda a: noise_row[a])

    def mean(b, a, initial=0.0):
        return sums[b][a] / counts[b][a] if counts[b][a] else initial

    actions, rewards = [], []
    for t in range(n):
        if kind == "random":
            a = list(rng.integers(k, size=B))
        elif kind == "greedy":
            noise = rng.random((B, k))
            a = [pick([mean(b, i, params["initial"]) for i in range(k)], noise[b]) for b in range(B)]
        elif kind == "epsilon":
            explore, random_arm, noise = rng.random(B), rng.integers(k, size=B), rng.random((B, k))
            a = [int(random_arm[b]) if explore[b] < params["epsilon"]
                 else pick([mean(b, i, params["initial"]) for i in range(k)], noise[b]) for b in range(B)]
        elif kind == "ucb1":
            noise = rng.random((B, k))
            a = [pick([mean(b, i) + params["c"] * math.sqrt(2 * math.log(max(t, 1)) / counts[b][i])
                       if counts[b][i] else math.inf for i in range(k)], noise[b]) for b in range(B)]
        elif kind == "ucb1_prior":  # Beta(a, b) statistics: a pseudo-successes, b pseudo-failures on every arm
            noise, (pa, pb) = rng.random((B, k)), params["prior"]
            a = [pick([(sums[b][i] + pa) / (counts[b][i] + pa + pb) + params["c"] * math.sqrt(
                2 * math.log(t + k * (pa + pb)) / (counts[b][i] + pa + pb)) for i in range(k)], noise[b])
                 for b in range(B)]
        elif kind == "thompson":
            alpha = np.array([[1 + sums[b][i] for i in range(k)] for b in range(B)])
            beta = np.array([[1 + counts[b][i] - sums[b][i] for i in range(k)] for b in range(B)])
            theta = rng.beta(alpha, beta)
            a = [max(range(k), key=lambda i, b=b: theta[b][i]) for b in range(B)]
        elif kind == "gittins":
            noise = rng.random((B, k))
            a = [pick([table[int(sums[b][i]), counts[b][i] - int(sums[b][i])] for i in range(k)], noise[b])
                 for b in range(B)]
        u = rng.random(B)
        r = [1.0 if u[b] < p[b][a[b]] else 0.0 for b in range(B)]
        for b in range(B):
            counts[b][a[b]] += 1
            sums[b][a[b]] += r[b]
        actions.append([int(x) for x in a])
        rewards.append(r)
    return actions, rewards


@pytest.mark.parametrize(
    ("strategy", "kind", "params"),
    [
        (Random(), "random", {}),
        (Greedy(), "greedy", {"initial": 0.0}),
        (Greedy(initial=0.5), "greedy", {"initial": 0.5}),
        (EpsilonGreedy(epsilon=0.3), "epsilon", {"epsilon": 0.3, "initial": 0.0}),
        (UCB1(c=0.7), "ucb1", {"c": 0.7}),
        (UCB1(c=0.2, prior=(1, 1)), "ucb1_prior", {"c": 0.2, "prior": (1, 1)}),
        (UCB1(c=0.5, prior=(0.5, 2)), "ucb1_prior", {"c": 0.5, "prior": (0.5, 2)}),
        (ThompsonSampling(), "thompson", {}),
        (Gittins(gamma=0.8, horizon=15), "gittins", {}),
    ],
)
def test_vectorised_run_equals_a_naive_per_bandit_loop(strategy, kind, params):
    p = np.random.default_rng(6).random((4, 3))
    p[0] = [0.5, 0.5, 0.5]  # equal arms, so that ties happen after the first round
    table = strategy.table if isinstance(strategy, Gittins) else None
    actions, rewards = run_strategy(strategy, p, 15, np.random.default_rng(7))
    naive_actions, naive_rewards = naive_run(kind, params, p, 15, np.random.default_rng(7), table)
    np.testing.assert_array_equal(actions, naive_actions)
    np.testing.assert_array_equal(rewards, naive_rewards)


def naive_gittins_calibration(s0: int, f0: int, gamma: float, depth: int) -> float:
    """Bisection on lam for one state, values by memoised recursion on the truncated tree (prior Beta(1, 1))."""

    def q(lam):
        @cache
        def V(s, f):
            mu = (1 + s) / (2 + s + f)
            if s + f == depth:
                return max(lam, mu) / (1 - gamma)
            return max(lam / (1 - gamma), Q(s, f))

        def Q(s, f):
            mu = (1 + s) / (2 + s + f)
            return mu + gamma * (mu * V(s + 1, f) + (1 - mu) * V(s, f + 1))

        return Q(s0, f0) - lam / (1 - gamma)

    lo, hi = 0.0, 1.0
    for _ in range(45):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if q(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def naive_gittins_restart(s0: int, f0: int, gamma: float, depth: int) -> float:
    """Restart-in-state (Katehakis & Veinott 1987): in every state y reachable from x = (s0, f0), either continue
    from y or restart the arm from x. Then nu(x) = (1 - gamma) V(x). Solved by value iteration (prior Beta(1, 1))."""
    states = [(s, f) for s in range(s0, depth + 1) for f in range(f0, depth + 1) if s + f <= depth]
    V = dict.fromkeys(states, 0.0)

    def backup(s, f):
        mu = (1 + s) / (2 + s + f)
        if s + f == depth:  # the frozen posterior: the arm stays in (s, f) and pays mu per pull
            return mu + gamma * V[s, f]
        return mu + gamma * (mu * V[s + 1, f] + (1 - mu) * V[s, f + 1])

    while True:
        restart = backup(s0, f0)
        delta = 0.0
        for y in states:
            v = max(backup(*y), restart)
            delta, V[y] = max(delta, abs(v - V[y])), v
        if delta < 1e-12:
            return (1 - gamma) * V[s0, f0]


def test_gittins_table_matches_per_state_bisection_and_the_restart_formulation():
    gamma, depth = 0.8, 18
    nu = gittins_index_table(gamma, n_max=3, depth=depth)
    for s, f in [(0, 0), (1, 0), (0, 1), (2, 1), (0, 3), (1, 2)]:
        bisection = naive_gittins_calibration(s, f, gamma, depth)
        restart = naive_gittins_restart(s, f, gamma, depth)
        assert restart == pytest.approx(bisection, abs=1e-9)  # two formulations, one index
        assert nu[s, f] == pytest.approx(bisection, abs=2e-5)  # grid of 1001 points plus linear interpolation


def test_gittins_indices_match_published_values():
    # Gittins, Glazebrook & Weber (2011), Multi-armed Bandit Allocation Indices, 2nd ed., tables of Bernoulli/Beta
    # indices, gamma = 0.9, to 4 decimals (the same values are the reference of GittinsIndices.jl's tests).
    # nu(alpha, beta) with alpha = 1 + successes, beta = 1 + failures.
    published = {(1, 1): 0.7029, (2, 1): 0.8001, (3, 1): 0.8452, (1, 2): 0.5001, (2, 2): 0.6346, (1, 3): 0.3796}
    nu = gittins_index_table(0.9, n_max=2)
    for (alpha, beta), value in published.items():
        assert nu[alpha - 1, beta - 1] == pytest.approx(value, abs=6e-5)


def test_gittins_index_properties():
    # gamma = 0: retire at lam or pull once for mu, so nu = mu exactly
    nu0 = gittins_index_table(0.0, n_max=5)
    for s in range(6):
        for f in range(6 - s):
            assert nu0[s, f] == pytest.approx((1 + s) / (2 + s + f), abs=1e-12)
    nu = gittins_index_table(0.9, n_max=20)
    s, f = np.meshgrid(np.arange(21), np.arange(21), indexing="ij")
    inside = s + f <= 20
    mu = (1 + s) / (2 + s + f)
    assert np.all(nu[inside] > mu[inside])  # learning is worth something
    assert np.all(np.diff(nu, axis=0)[inside[1:, :]] > 0)  # a success raises the index
    assert np.all(np.diff(nu, axis=1)[inside[:, 1:]] < 0)  # a failure lowers it
    assert np.all(np.isnan(nu[~inside]))


# ========================================================================== 3. smoke runs
def test_same_seed_same_result_and_another_seed_another():
    one = evaluate_strategy(ThompsonSampling(), n_pulls=20, k=3, n_bandits=50, rng=11)
    two = evaluate_strategy(ThompsonSampling(), n_pulls=20, k=3, n_bandits=50, rng=11)
    three = evaluate_strategy(ThompsonSampling(), n_pulls=20, k=3, n_bandits=50, rng=12)
    np.testing.assert_array_equal(one.totals, two.totals)
    np.testing.assert_array_equal(one.best_means, two.best_means)
    assert not np.array_equal(one.totals, three.totals)
    gen = evaluate_strategy(ThompsonSampling(), n_pulls=20, k=3, n_bandits=50, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(gen.totals, one.totals)


def test_regret_bookkeeping_against_the_expected_best_arm():
    # The largest of k uniforms has mean k / (k + 1); random play earns 1/2 per pull. So random's expected regret
    # is n * (k / (k + 1) - 1/2): for n = 10, k = 5 that is 10 * (5/6 - 1/2) = 3.333.
    n, k = 10, 5
    result = evaluate_strategy(Random(), n_pulls=n, k=k, n_bandits=4000, rng=13)
    np.testing.assert_array_equal(result.regrets, n * result.best_means - result.totals)
    lo, hi = normal_ci(result.best_means, level=0.9999)
    assert lo < k / (k + 1) < hi
    lo, hi = result.regret_ci
    assert lo - 0.1 < n * (k / (k + 1) - 0.5) < hi + 0.1


def test_strategy_ranking_on_k5_n100():
    # 1,000 random bandits, k = 5, n = 100, the same bandits for every strategy (same seed).
    # Known: random earns 0.5 * n = 50 in expectation; always pulling the best arm would earn 100 * 5/6 = 83.3.
    # UCB1 with Auer et al.'s c = 1 explores too long for n = 100; a smaller c is the tuned form.
    n, k = 100, 5
    results = {s.name: evaluate_strategy(s, n, k, 1000, rng=14) for s in
               [Random(), Greedy(), UCB1(c=1.0), UCB1(c=0.3), ThompsonSampling(), Gittins(gamma=0.9, horizon=n)]}
    rand, greedy = results["Random()"], results["Greedy(initial=0.0)"]
    lo, hi = normal_ci(rand.totals, level=0.999)
    assert lo < 0.5 * n < hi
    for name in ["UCB1(c=0.3)", "ThompsonSampling()", "Gittins(gamma=0.9, horizon=100)"]:
        assert results[name].total_ci[0] > greedy.total_ci[1] + 5, results[name]
        assert results[name].mean_total > rand.mean_total + 20, results[name]
        assert results[name].mean_total < 100 * k / (k + 1)
    assert results["UCB1(c=1.0)"].total_ci[0] > rand.total_ci[1] + 10


def test_bench_reports_pulls_per_second(capsys):
    from metarl_edu.studies.bench import bench_bandits

    speeds = bench_bandits(n_pulls=5, k=3, n_bandits=10, strategies=[Random(), Gittins(horizon=5)])
    assert set(speeds) == {"Random()", "Gittins(gamma=0.9, horizon=5)"}
    assert all(v > 0 for v in speeds.values())
    out = capsys.readouterr().out
    assert "pulls/s" in out and "Gittins index table" in out


# ========================================================================== 4. validation
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: EpsilonGreedy(epsilon=1.5), "epsilon must be in \\[0, 1\\]"),
        (lambda: Greedy(initial=-1), "initial must be"),
        (lambda: UCB1(c=-0.1), "c must be in \\[0, inf\\]"),
        (lambda: ThompsonSampling(alpha_0=0), "alpha_0 must be in \\(0, inf\\]"),
        (lambda: Gittins(gamma=1.0), "gamma must be in \\[0, 1\\)"),
        (lambda: Gittins(horizon=0), "horizon must be an integer >= 1"),
        (lambda: gittins_index_table(0.9, 5, depth=5), "depth must be > n_max"),
        (lambda: evaluate_strategy(Random(), 10, 3, n_bandits=1), "n_bandits >= 2"),
        (lambda: run_strategy(Random(), np.array([[0.5, 1.5]]), 3, np.random.default_rng(0)), "p must be arm means"),
    ],
)
def test_bad_settings_raise_clear_errors(make, match):
    with pytest.raises(BanditError, match=match):
        make()


def test_bad_updates_raise_clear_errors():
    state = BanditState.empty(2, 3)
    with pytest.raises(BanditError, match="shape \\(B,\\) = \\(2,\\)"):
        state.update(np.array([0, 1, 2]), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(BanditError, match="integer arm indices in \\[0, 2\\]"):
        state.update(np.array([0, 3]), np.array([1.0, 0.0]))
    with pytest.raises(BanditError, match="rewards must lie in \\[0, 1\\]"):
        state.update(np.array([0, 1]), np.array([2.0, 0.0]))
    with pytest.raises(BanditError, match="rewards must lie in \\[0, 1\\]"):
        state.update(np.array([0, 1]), np.array([np.nan, 0.0]))
    assert state.t == 0 and state.counts.sum() == 0  # a refused update changes nothing


def test_gittins_refuses_states_beyond_its_table():
    state = state_from([3, 0], [1, 0])
    with pytest.raises(BanditError, match="covers at most horizon - 1 = 2 pulls per arm"):
        Gittins(horizon=3).select(state, np.random.default_rng(0))


# ======================================================================= the Bayes-optimal oracle, k arms
@pytest.mark.parametrize("prior", [(1.0, 1.0), (2.0, 0.5)])
def test_bayes_optimal_total_for_two_arms_is_the_belief_mdp_solution(prior):
    for n in (1, 2, 3, 7, 12):
        assert bayes_optimal_total(n, 2, prior) == pytest.approx(bayes_optimal_bandit(n, prior).value, abs=1e-12)


def test_bayes_optimal_total_worked_by_hand():
    assert bayes_optimal_total(1, 5) == pytest.approx(0.5)  # one pull: the prior mean of any arm
    assert bayes_optimal_total(4, 1, (2.0, 1.0)) == pytest.approx(4 * 2 / 3)  # one arm: nothing to choose
    # two pulls, k arms: pull one; if it paid (mean 2/3 now) pull it again, else try a fresh arm (mean 1/2)
    assert bayes_optimal_total(2, 3) == pytest.approx(0.5 + 0.5 * 2 / 3 + 0.5 * 0.5)


def test_bayes_optimal_total_bounds_every_strategy():
    exact = bayes_optimal_total(10, 5)
    assert bayes_optimal_total(10, 2) < bayes_optimal_total(10, 3) < exact  # more arms, a better best arm
    for strategy in (UCB1(c=0.1, prior=(1, 1)), Greedy(initial=0.5), Gittins(gamma=0.9, horizon=10)):
        result = evaluate_strategy(strategy, n_pulls=10, k=5, n_bandits=20_000, rng=3)
        assert result.total_ci[0] < exact  # no strategy is above the oracle
        assert result.mean_total > exact - 0.15  # and these come close to it at n = 10
    assert evaluate_strategy(Random(), n_pulls=10, k=5, n_bandits=20_000, rng=3).total_ci[1] < exact - 1.5


@pytest.mark.parametrize("args, match", [((0, 5), "n_pulls"), ((10, 0), "k"), ((10, 5, (0, 1)), "prior a"),
                                         ((10, 5, (1,)), "pair"), ((12, 5), "more than 1,000 beliefs")])
def test_bayes_optimal_total_refuses_bad_or_huge_problems(args, match):
    with pytest.raises(BanditError, match=match):
        bayes_optimal_total(*args, max_beliefs=1000)
