"""Bandit baselines and their evaluation: the Gittins index strategy, many random bandits with confidence
intervals, a grid search over one setting, and one of each classic strategy.

The strategies themselves (random, greedy, epsilon-greedy, UCB1, Thompson sampling) are in
:mod:`metarl_edu.bandits`; this module measures them. :class:`TrialTotals` is the summary every evaluation of
trials shares (bandits here, MDPs in :mod:`metarl_edu.studies.mdp_baselines`, RL^2 in
:mod:`metarl_edu.studies.rl2`): the mean total reward over independent trials with its 95% confidence interval.

>>> result = evaluate_strategy(ThompsonSampling(), n_pulls=100, k=5, n_bandits=1000, rng=0)
>>> best_c, results = grid_search(lambda c: UCB1(c=c), [0.1, 0.3, 1.0], n_pulls=100, k=5, rng=1)
>>> tuned = reproduce_duan_ucb1([(10, 5)])  # {(10, 5): (c, BanditResult)}; compare with DUAN_2016_UCB1

References:
    Duan, Schulman, Chen, Bartlett, Sutskever & Abbeel (2016), RL^2: Fast reinforcement learning via slow
        reinforcement learning. arXiv:1611.02779.
    Gittins (1979), Bandit processes and dynamic allocation indices. JRSS B 41.
    Gittins, Glazebrook & Weber (2011), Multi-armed Bandit Allocation Indices, 2nd ed. Wiley.
    Katehakis & Veinott (1987), The multi-armed bandit problem: decomposition and computation. Math. Oper. Res. 12.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from statistics import NormalDist
from typing import Any

import numpy as np

from metarl_edu._checks import check_int, check_number
from metarl_edu.bandits import (
    QUIET,
    UCB1,
    BanditError,
    BanditState,
    EpsilonGreedy,
    Greedy,
    Random,
    Strategy,
    ThompsonSampling,
    argmax_random_ties,
    run_strategy,
)
from metarl_edu.bayes import bayes_backup, check_beta_prior


# ========================================================================================== Gittins
@dataclass(frozen=True)
class Gittins(Strategy):
    """Pull the arm with the highest Gittins index of its Beta posterior (Gittins 1979).

    For infinitely many pulls discounted by ``gamma``, with independent arms and a correct prior, this is the
    Bayes-optimal strategy (the Gittins index theorem). Here it is a heuristic for a fixed number of pulls: a
    larger ``gamma`` looks further ahead and explores more. The indices come from :func:`gittins_index_table`.

    Attributes:
        gamma: discount in [0, 1). ``gamma = 0`` is greedy on the posterior mean.
        horizon: the most pulls one bandit will see (>= 1); the table covers arms pulled up to ``horizon - 1``
            times. The table is computed on first use, once per strategy object; a large horizon with gamma near
            1 takes seconds.
        alpha_0, beta_0: the Beta prior, as in :class:`ThompsonSampling`.
        n_grid: grid points for the retirement reward, see :func:`gittins_index_table`.
    """

    gamma: float = 0.9
    horizon: int = 500
    alpha_0: float = field(default=1.0, metadata=QUIET)
    beta_0: float = field(default=1.0, metadata=QUIET)
    n_grid: int = field(default=1001, metadata=QUIET)

    def __post_init__(self) -> None:
        _check_gittins_settings(self.gamma, self.alpha_0, self.beta_0)
        check_int("horizon", self.horizon, 1, error=BanditError)

    @cached_property
    def table(self) -> np.ndarray:
        """``nu[s, f]``, shape (horizon, horizon): index of an arm with s successes and f failures (s + f < horizon)."""
        return gittins_index_table(self.gamma, self.horizon - 1, prior=(self.alpha_0, self.beta_0),
                                   n_grid=self.n_grid)

    def prepare(self) -> None:
        _ = self.table

    def index(self, state: BanditState) -> np.ndarray:
        """The Gittins index of every arm, shape (B, k)."""
        successes = np.rint(state.sums).astype(np.int64)
        failures = state.counts - successes
        if state.counts.max(initial=0) >= self.horizon:
            raise BanditError(f"an arm was pulled {state.counts.max()} times, but this Gittins table covers at most "
                              f"horizon - 1 = {self.horizon - 1} pulls per arm; build Gittins(horizon=...) larger")
        return self.table[successes, failures]

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        return argmax_random_ties(self.index(state), rng)


def gittins_index_table(
    gamma: float, n_max: int, *, depth: int | None = None, prior: tuple[float, float] = (1.0, 1.0),
    n_grid: int = 1001,
) -> np.ndarray:
    """Gittins indices ``nu[s, f]`` of a Bernoulli arm with posterior ``Beta(alpha_0 + s, beta_0 + f)``.

    Calibration by a retirement option (Gittins 1979; Gittins, Glazebrook & Weber 2011, chapter 8): next to the
    arm, offer to retire for a fixed reward ``lam`` per step forever, worth ``lam / (1 - gamma)``. With
    ``mu = (alpha_0 + s) / (alpha_0 + beta_0 + s + f)``, the posterior mean,

        V(s, f; lam) = max(lam / (1 - gamma), Q(s, f; lam))
        Q(s, f; lam) = mu + gamma * (mu * V(s + 1, f; lam) + (1 - mu) * V(s, f + 1; lam))

    and the index ``nu(s, f)`` is the ``lam`` at which pulling once more (then acting optimally) and retiring now
    are worth the same: ``Q(s, f; nu) = nu / (1 - gamma)``. It is a reward per step, with ``mu <= nu < 1``.

    Truncation: at ``s + f = depth`` the posterior is frozen, as if the arm's mean were then known to be ``mu``:
    ``V = max(lam, mu) / (1 - gamma)``. Its error at ``s + f = m`` shrinks like ``gamma ** (depth - m)``; the
    default depth is ``n_max`` plus the smallest lookahead L with ``gamma ** L <= 1e-4``.

    Computation: all states share one grid of ``n_grid`` values of ``lam`` in [0, 1], so one backward sweep over
    ``s + f = depth - 1, ..., 0`` gives Q for every state and every grid value. ``Q - lam / (1 - gamma)``
    decreases in ``lam``; each index is its zero, by linear interpolation between the two grid points around it.

    Args:
        gamma: discount in [0, 1).
        n_max: the table covers ``s + f <= n_max``.
        depth: truncation level, > n_max.
        prior: ``(alpha_0, beta_0)``, both > 0.
        n_grid: grid size (>= 3); 1001 gives indices to about 1e-5.

    Returns:
        ``nu``, shape (n_max + 1, n_max + 1); ``nu[s, f]`` for ``s + f <= n_max``, NaN elsewhere.
    """
    alpha_0, beta_0 = prior
    _check_gittins_settings(gamma, alpha_0, beta_0)
    if n_max < 0:
        raise BanditError(f"n_max must be >= 0; got {n_max}")
    if depth is None:
        lookahead = 1 if gamma == 0 else max(1, math.ceil(math.log(1e-4) / math.log(gamma)))
        depth = n_max + lookahead
    if depth <= n_max:
        raise BanditError(f"depth must be > n_max = {n_max}; got {depth}")
    if n_grid < 3:
        raise BanditError(f"n_grid must be >= 3; got {n_grid}")

    lam = np.linspace(0.0, 1.0, n_grid)[:, None]  # (G, 1)
    retire = lam / (1.0 - gamma)
    s = np.arange(depth + 1)
    V = np.maximum(lam, (alpha_0 + s) / (alpha_0 + beta_0 + depth)) / (1.0 - gamma)  # (G, depth + 1), frozen layer
    nu = np.full((n_max + 1, n_max + 1), np.nan)
    for m in range(depth - 1, -1, -1):  # m = s + f; V holds layer m + 1, indexed by s
        s = np.arange(m + 1)
        mu = (alpha_0 + s) / (alpha_0 + beta_0 + m)
        Q = mu + gamma * (mu * V[:, s + 1] + (1.0 - mu) * V[:, s])  # success -> (s+1, f), failure -> (s, f+1)
        if m <= n_max:
            nu[s, m - s] = _first_zero(lam[:, 0], Q - retire)
        V = np.maximum(retire, Q)
    return nu


def _first_zero(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Zero of each column of ``y`` (G, m), decreasing along the grid ``x`` (G,), by linear interpolation."""
    j = np.argmax(y <= 0.0, axis=0)  # first grid point at or past the zero; j >= 1 because y[0] > 0
    cols = np.arange(y.shape[1])
    y0, y1 = y[j - 1, cols], y[j, cols]
    return x[j - 1] + (x[j] - x[j - 1]) * y0 / (y0 - y1)


# ========================================================================================== evaluation
def normal_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval for the mean of the samples ``x`` (B,): ``mean -+ z * std(x, ddof=1) / sqrt(B)``.

    The normal approximation (central limit theorem), with ``z`` the ``(1 + level) / 2`` quantile of N(0, 1),
    1.96 for 95%. Good for the means of hundreds of independent bandits.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise BanditError(f"need a 1-D array of at least 2 samples; got shape {x.shape}")
    z = NormalDist().inv_cdf((1.0 + level) / 2.0)
    half = z * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


class TrialTotals:
    """The mean total reward over independent trials, ``totals`` of shape (B,), with its 95% confidence interval.

    Shared by :class:`BanditResult`, :class:`~metarl_edu.studies.mdp_baselines.TrialResult` and RL^2's
    evaluation; each is a dataclass with a ``totals`` field.
    """

    totals: np.ndarray

    @property
    def mean_total(self) -> float:
        """Mean total reward per trial."""
        return float(self.totals.mean())

    @property
    def total_ci(self) -> tuple[float, float]:
        """95% confidence interval of the mean total (normal approximation over trials, see :func:`normal_ci`)."""
        return normal_ci(self.totals)


@dataclass(frozen=True, eq=False)
class BanditResult(TrialTotals):
    """What :func:`evaluate_strategy` measured.

    Attributes:
        strategy: the strategy's name.
        n_pulls, k: pulls per bandit, and arms.
        totals: total reward of each bandit, shape (B,).
        best_means: ``max_a p_a`` of each bandit, shape (B,).
        seconds: wall time of the run.
        regrets: ``n_pulls * best_means - totals``, shape (B,): reward lost against always pulling the arm with
            the best expected reward.
    """

    strategy: str
    n_pulls: int
    k: int
    totals: np.ndarray
    best_means: np.ndarray
    seconds: float
    regrets: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regrets", self.n_pulls * self.best_means - self.totals)

    @property
    def n_bandits(self) -> int:
        return self.totals.size

    @property
    def mean_regret(self) -> float:
        return float(self.regrets.mean())

    @property
    def regret_ci(self) -> tuple[float, float]:
        """95% confidence interval of the mean regret (normal approximation over bandits)."""
        return normal_ci(self.regrets)

    def __str__(self) -> str:
        lo, hi = self.total_ci
        rlo, rhi = self.regret_ci
        return (f"{self.strategy}: total {self.mean_total:.1f} (95% CI {lo:.1f}-{hi:.1f}), regret "
                f"{self.mean_regret:.1f} ({rlo:.1f}-{rhi:.1f}); n={self.n_pulls}, k={self.k}, "
                f"{self.n_bandits} bandits, {self.seconds:.2f} s")


def evaluate_strategy(
    strategy: Strategy, n_pulls: int, k: int, n_bandits: int = 1000, *,
    rng: np.random.Generator | int = 0, progress: bool = False,
) -> BanditResult:
    """Run ``strategy`` for ``n_pulls`` pulls on ``n_bandits`` random Bernoulli bandits with ``k`` arms.

    Arm means are drawn first, ``p ~ U[0, 1]`` of shape (n_bandits, k), then :func:`run_strategy` uses the same
    generator; so the same integer seed gives every strategy the same bandits. ``seconds`` times the pulls only,
    after ``strategy.prepare()``. With uniform arm means, random play earns ``0.5 * n_pulls`` in expectation, and
    the best arm's mean is on average ``k / (k + 1)`` (the mean of the largest of k uniforms).

    Args:
        rng: a generator, or an integer seed for ``np.random.default_rng``.
        progress: show a progress bar over the pulls.
    """
    if k < 1 or n_bandits < 2:
        raise BanditError(f"need k >= 1 and n_bandits >= 2 (for a confidence interval); got k={k}, "
                          f"n_bandits={n_bandits}")
    rng = np.random.default_rng(rng)  # a Generator passes through unchanged
    p = rng.random((n_bandits, k))
    strategy.prepare()
    start = time.perf_counter()
    _, rewards = run_strategy(strategy, p, n_pulls, rng, progress=progress)
    seconds = time.perf_counter() - start
    return BanditResult(strategy.name, n_pulls, k, totals=rewards.sum(axis=0), best_means=p.max(axis=1),
                        seconds=seconds)


def grid_search(
    make: Callable[[Any], Strategy], grid: Sequence[Any], n_pulls: int, k: int, n_bandits: int = 1000, *,
    rng: int = 1,
) -> tuple[Any, dict[Any, BanditResult]]:
    """Tune one setting: run ``make(value)`` for every value of ``grid`` and keep the highest mean total.

    Every value meets the same ``n_bandits`` bandits (the integer seed ``rng`` is reused, see
    :func:`evaluate_strategy`), so the comparison is not blurred by drawing other bandits. Tune on a seed that the
    final evaluation does not use: a setting picked on the evaluation bandits is fitted to their luck, and its
    score there is biased upwards.

    Returns:
        ``(best, results)``: the best value, and the result of every value.

    >>> best_c, results = grid_search(lambda c: UCB1(c=c), [0.1, 0.3, 1.0], n_pulls=100, k=5, rng=1)
    """
    if len(grid) == 0:
        raise BanditError("grid must hold at least one value")
    results = {value: evaluate_strategy(make(value), n_pulls, k, n_bandits, rng=rng) for value in grid}
    best = max(results, key=lambda value: results[value].mean_total)
    return best, results


# Duan et al. (2016), RL^2, arXiv:1611.02779, Table 1 ("MAB Results"), UCB1 column: total reward over n pulls of
# k-armed Bernoulli bandits with arm means uniform in [0, 1], keyed (n, k): the five settings the tests check
# (the paper also has k = 10 and 50 at n = 10, and k = 5 and 50 at n = 500).
DUAN_2016_UCB1 = {(10, 5): 6.7, (100, 5): 78.0, (100, 10): 82.4, (100, 50): 84.3, (500, 10): 437.1}

# The same table's rows for k = 5 arms, every strategy, keyed (n, k), then player; the players are named as the
# lessons name their own runs of the same strategies ("ucb1" is the paper's UCB1, the Beta(1,1) variant here;
# "epsilon_greedy" has no run of ours in lesson 09). Its UCB1 entries are DUAN_2016_UCB1's.
DUAN_2016_TABLE1 = {
    (10, 5): {"random": 5.0, "gittins": 6.6, "thompson": 5.7, "ucb1": 6.7, "epsilon_greedy": 6.6, "greedy": 6.6,
              "RL^2": 6.7},
    (100, 5): {"random": 49.9, "gittins": 78.3, "thompson": 74.7, "ucb1": 78.0, "epsilon_greedy": 75.4,
               "greedy": 74.8, "RL^2": 78.7},
}
UCB1_PRIOR_C_GRID = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5)  # c values tried by reproduce_duan_ucb1


def reproduce_duan_ucb1(
    settings: Sequence[tuple[int, int]] = tuple(DUAN_2016_UCB1), grid: Sequence[float] = UCB1_PRIOR_C_GRID, *,
    prior: tuple[float, float] = (1.0, 1.0), n_bandits: int = 4000, n_tune: int = 1000, tune_seed: int = 1,
    eval_seed: int = 0,
) -> dict[tuple[int, int], tuple[float, BanditResult]]:
    """UCB1 with Beta-prior statistics, as Duan et al. (2016) run it, for each ``(n, k)`` of ``settings``.

    For each setting, :func:`grid_search` tunes ``c`` over ``grid`` on ``n_tune`` bandits drawn with
    ``tune_seed``; then ``UCB1(c, prior=prior)`` with the best ``c`` is evaluated on ``n_bandits`` other bandits
    drawn with ``eval_seed`` (a different seed, so the choice of c is not fitted to the evaluation bandits).
    Compare the results with :data:`DUAN_2016_UCB1`.

    Returns:
        ``{(n, k): (c, result)}``: the tuned ``c`` and the evaluation's :class:`BanditResult`.
    """
    if tune_seed == eval_seed:
        raise BanditError(f"tune on other bandits than the evaluation: tune_seed and eval_seed are both {tune_seed}")
    out = {}
    for n, k in settings:
        c, _ = grid_search(lambda c: UCB1(c=c, prior=prior), grid, n_pulls=n, k=k, n_bandits=n_tune, rng=tune_seed)
        out[n, k] = c, evaluate_strategy(UCB1(c=c, prior=prior), n, k, n_bandits, rng=eval_seed)
    return out


MAX_BELIEFS = 200_000  # bayes_optimal_total refuses problems whose belief MDP would be larger


def bayes_optimal_total(n_pulls: int, k: int, prior: tuple[float, float] = (1.0, 1.0), *,
                        max_beliefs: int = MAX_BELIEFS) -> float:
    """The Bayes-optimal expected total of ``n_pulls`` pulls of a ``k``-armed Bernoulli bandit whose arm means are
    independent ``Beta(a, b)`` (``prior = (a, b)``; ``(1, 1)`` is the uniform family of :func:`evaluate_strategy`).

    The oracle for a meta-learner on this family: no strategy can earn more in expectation. It is backward
    induction on the belief MDP, where a belief is every arm's ``(successes, failures)``; the arms are
    interchangeable, so a belief is kept as a sorted tuple. Pulling an arm with counts ``(s, f)`` pays 1 with
    probability ``(a + s) / (a + b + s + f)`` (Bayes' rule), and the belief moves to ``(s + 1, f)`` or
    ``(s, f + 1)``: each belief's value is :func:`metarl_edu.bayes.bayes_backup` of its successors' values. For
    two arms this is :func:`metarl_edu.bayes.bayes_optimal_bandit`'s value. The number of beliefs grows fast with
    ``n_pulls`` and ``k`` (about 3,500 for n = 10, k = 5); past ``max_beliefs`` it stops with an error.

    >>> round(bayes_optimal_total(1, 5), 3)  # one pull: any arm's prior mean
    0.5
    """
    n_pulls = check_int("n_pulls", n_pulls, 1, 200, error=BanditError)  # also bounds the recursion
    k = check_int("k", k, 1, 1000, error=BanditError)
    max_beliefs = check_int("max_beliefs", max_beliefs, 1, error=BanditError)
    a, b = check_beta_prior(prior)
    values: dict[tuple, float] = {}

    def after(belief: tuple[tuple[int, int], ...], i: int, reward: int) -> tuple[tuple[int, int], ...]:
        s, f = belief[i]
        return tuple(sorted(belief[:i] + ((s + reward, f + 1 - reward),) + belief[i + 1:]))

    def value(belief: tuple[tuple[int, int], ...], pulls_left: int) -> float:
        if pulls_left == 0:
            return 0.0
        key = (belief, pulls_left)
        if key not in values:
            if len(values) >= max_beliefs:
                raise BanditError(f"n_pulls={n_pulls}, k={k}: more than {max_beliefs:,} beliefs; too large to "
                                  "solve exactly")
            s, f = np.array(belief, dtype=float).T
            v_success, v_failure = (np.array([value(after(belief, i, r), pulls_left - 1) for i in range(k)])
                                    for r in (1, 0))
            values[key] = float(bayes_backup(a + s, b + f, v_success, v_failure)[1])
        return values[key]

    return value(((0, 0),) * k, n_pulls)


def classic_strategies(horizon: int = 500) -> list[Strategy]:
    """One of each strategy with textbook settings; ``horizon`` sizes the Gittins table."""
    return [Random(), Greedy(), EpsilonGreedy(epsilon=0.1), UCB1(c=1.0), ThompsonSampling(),
            Gittins(gamma=0.9, horizon=horizon)]


def _check_gittins_settings(gamma: float, alpha_0: float, beta_0: float) -> None:
    # gamma < 1: the retirement reward lam / (1 - gamma) and the index need a discount below 1
    check_number("gamma", gamma, 0.0, 1.0, high_open=True, error=BanditError)
    check_number("alpha_0", alpha_0, 0.0, low_open=True, error=BanditError)
    check_number("beta_0", beta_0, 0.0, low_open=True, error=BanditError)
