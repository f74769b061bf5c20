"""The exact Bayes-optimal bandit player: values worked by hand, an independent recursion, and its own policy played."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from reevaluation import assert_reevaluated

from metarl_edu.bandits import BanditError, BanditState, ThompsonSampling
from metarl_edu.bayes import BayesOptimal, bayes_backup, bayes_optimal_bandit, belief_states, beta_update
from metarl_edu.studies.bandit_baselines import evaluate_strategy, normal_ci
from metarl_edu.studies.evaluation import paired_bootstrap_ci


def test_values_worked_by_hand():
    # n = 1: one pull at the prior mean 1/2.
    assert bayes_optimal_bandit(1).value == pytest.approx(0.5, abs=1e-12)
    # n = 2: pull arm 1 (1/2); if it paid (1/2) its mean is 2/3, pull it again; if not, arm 2 at 1/2.
    assert bayes_optimal_bandit(2).value == pytest.approx(0.5 + 0.5 * 2 / 3 + 0.5 * 0.5, abs=1e-12)
    # n = 3: after a success, arm 1 again is worth 2/3 (1 + 3/4) + 1/3 * 1/2 = 4/3 (arm 2: 7/6); after a failure,
    # arm 2 is worth 1/2 (1 + 2/3) + 1/2 * 1/3 = 1 (arm 1: 5/6). V = 1/2 + 1/2 * 4/3 + 1/2 * 1 = 5/3.
    solution = bayes_optimal_bandit(3)
    assert solution.value == pytest.approx(5 / 3, abs=1e-12)
    np.testing.assert_allclose(solution.q_values(1, 0, 0, 0), [4 / 3, 7 / 6], atol=1e-12)
    np.testing.assert_allclose(solution.q_values(0, 1, 0, 0), [5 / 6, 1.0], atol=1e-12)
    assert solution.arm(1, 0, 0, 0) == 0 and solution.arm(0, 1, 0, 0) == 1 and solution.arm(0, 0, 0, 0) == -1


def recursive_value(n: int, prior: tuple[float, float]) -> float:
    """The same belief MDP by plain memoised recursion over the counts, one belief at a time."""
    a, b = prior

    @cache
    def v(s1: int, f1: int, s2: int, f2: int) -> float:
        if s1 + f1 + s2 + f2 == n:
            return 0.0
        mu1, mu2 = (a + s1) / (a + b + s1 + f1), (a + s2) / (a + b + s2 + f2)
        q1 = mu1 * (1 + v(s1 + 1, f1, s2, f2)) + (1 - mu1) * v(s1, f1 + 1, s2, f2)
        q2 = mu2 * (1 + v(s1, f1, s2 + 1, f2)) + (1 - mu2) * v(s1, f1, s2, f2 + 1)
        return max(q1, q2)

    return v(0, 0, 0, 0)


@pytest.mark.parametrize("prior", [(1, 1), (2.0, 0.5), (0.3, 3.0)])
def test_the_vectorised_programme_matches_a_plain_recursion(prior):
    for n in (1, 4, 9):
        assert bayes_optimal_bandit(n, prior).value == pytest.approx(recursive_value(n, prior), abs=1e-10)


def test_layers_cover_exactly_the_beliefs_and_are_symmetric_in_the_arms():
    solution = bayes_optimal_bandit(7)
    assert solution.n_states == belief_states(7) == sum(int(np.isfinite(q[..., 0]).sum()) for q in solution.q)
    for t, q in enumerate(solution.q):
        for s1, f1, s2 in np.argwhere(np.isfinite(q[..., 0])):
            f2 = t - s1 - f1 - s2
            if s2 <= t and s1 + f1 <= t and f2 >= 0:  # swap the arms: (s2, f2, s1, f1)
                np.testing.assert_allclose(solution.q_values(s2, f2, s1, f1), q[s1, f1, s2][::-1], atol=1e-12)


def test_bounds_and_growth():
    values = [bayes_optimal_bandit(n).value for n in range(1, 16)]
    for n, v in enumerate(values, start=1):
        assert n / 2 <= v <= 2 * n / 3  # random play; always the better arm (E max of two uniforms = 2/3)
    assert np.all(np.diff(values) > 0.5)  # each extra pull is worth more than a random one


def test_monte_carlo_of_its_own_policy_lands_on_the_exact_value():
    n = 10
    strategy = BayesOptimal(horizon=n)
    result = evaluate_strategy(strategy, n_pulls=n, k=2, n_bandits=8000, rng=0)
    low, high = normal_ci(result.totals, level=0.999)  # a 95% interval would miss one seed in 20
    assert low <= strategy.solution.value <= high
    assert high - low < 0.25
    # and it beats Thompson sampling on the same bandits
    thompson = evaluate_strategy(ThompsonSampling(), n_pulls=n, k=2, n_bandits=8000, rng=0)
    assert paired_bootstrap_ci(result.totals, thompson.totals, rng=0).low > 0


def test_the_strategy_pulls_the_arm_of_the_table():
    strategy = BayesOptimal(horizon=4)
    state = BanditState.empty(3, 2)
    state.update(np.array([0, 0, 1]), np.array([1.0, 0.0, 0.0]))
    a = strategy.select(state, np.random.default_rng(0))
    assert a.tolist() == [strategy.solution.arm(1, 0, 0, 0), strategy.solution.arm(0, 1, 0, 0),
                          strategy.solution.arm(0, 0, 0, 1)] == [0, 1, 0]


def test_beta_update_and_backup():
    alpha, beta = np.ones((2, 3)), np.full((2, 3), 2.0)
    new_alpha, new_beta = beta_update(alpha, beta, np.array([2, 0]), np.array([1.0, 0.0]))
    np.testing.assert_array_equal(new_alpha, [[1, 1, 2], [1, 1, 1]])
    np.testing.assert_array_equal(new_beta, [[2, 2, 2], [3, 2, 2]])
    assert np.all(alpha == 1) and np.all(beta == 2)  # inputs untouched
    q, v = bayes_backup(np.array([[3.0, 1.0]]), np.array([[1.0, 1.0]]), np.array([[1.0, 2.0]]),
                        np.array([[0.5, 0.0]]))
    np.testing.assert_allclose(q, [[0.75 * 2 + 0.25 * 0.5, 0.5 * 3]])
    np.testing.assert_allclose(v, [1.625])


def test_bad_input_is_refused():
    with pytest.raises(BanditError, match="horizon must be an integer"):
        bayes_optimal_bandit(0)
    with pytest.raises(BanditError, match="prior a"):
        bayes_optimal_bandit(3, prior=(0, 1))
    with pytest.raises(BanditError, match="pair"):
        bayes_optimal_bandit(3, prior=1)
    with pytest.raises(BanditError, match="trial of 3 pulls is over"):
        bayes_optimal_bandit(3).q_values(1, 1, 1, 0)
    with pytest.raises(BanditError, match="two-armed"):
        BayesOptimal(3).select(BanditState.empty(2, 3), np.random.default_rng(0))
    state = BanditState.empty(2, 2)
    for _ in range(3):
        state.update(np.zeros(2, dtype=int), np.ones(2))
    with pytest.raises(BanditError, match="cannot choose pull 4"):
        BayesOptimal(3).select(state, np.random.default_rng(0))


def test_the_shipped_two_armed_rl2_agents_reproduce_their_evaluation():
    from metarl_edu.studies.rl2 import evaluate_rl2, load_agent, read_rl2_run, shipped_rl2_runs

    runs = [p for p in shipped_rl2_runs() if "-k2-" in p.name]
    assert {p.name for p in runs} >= {"bandit-n10-k2-seed0", "bandit-n20-k2-seed0"}  # lesson 11's full mode
    for path in runs:
        record = read_rl2_run(path)
        again = evaluate_rl2(load_agent(path), n_tasks=record["eval_tasks"], rng=record["eval_seed"])
        assert_reevaluated(again.totals, record["totals"])
        n = record["config"]["n_episodes"]
        assert n / 2 < again.mean_total < bayes_optimal_bandit(n).value + 0.2  # learned, and not above the ceiling
