"""Classic strategies for Bernoulli bandits, run on many bandit instances at once.

A k-armed Bernoulli bandit has arm means ``p`` in [0, 1]; pulling arm ``a`` pays ``r = 1`` with probability
``p[a]`` and ``r = 0`` otherwise. A strategy never sees ``p``: it sees only how often it pulled each arm and what
that paid. Every function here runs B independent bandits side by side with numpy, one pull in all of them per
step, so 1,000 bandits cost about as much Python as one.

=========  ========  ==============================================================================
symbol     shape     meaning
=========  ========  ==============================================================================
``B``                number of bandit instances run together
``k``                number of arms
``p``      (B, k)    arm means, unknown to the strategy
``n_a``    (B, k)    ``BanditState.counts``: how often arm a was pulled
``S_a``    (B, k)    ``BanditState.sums``: the total reward arm a paid (its successes, for Bernoulli arms)
``t``      scalar    pulls so far in each bandit (the same in all B)
``a``      (B,)      the arms chosen at one step, one per bandit
``r``      (B,)      their rewards
=========  ========  ==============================================================================

Every strategy has one method, ``select(state, rng) -> a``, and never changes ``state``; the caller pulls the arms
and calls ``state.update(a, r)``. Ties between equally good arms are broken uniformly at random with the ``rng``
that is passed in.

>>> rng = np.random.default_rng(0)
>>> state = BanditState.empty(n_bandits=2, k=3)
>>> a = UCB1().select(state, rng)
>>> state.update(a, rewards=np.array([1.0, 0.0]))
>>> result = evaluate_strategy(ThompsonSampling(), n_pulls=100, k=5, n_bandits=1000, rng=0)

References:
    Auer, Cesa-Bianchi & Fischer (2002), Finite-time analysis of the multiarmed bandit problem. Machine Learning 47.
    Thompson (1933), On the likelihood that one unknown probability exceeds another... Biometrika 25.
    Chapelle & Li (2011), An empirical evaluation of Thompson sampling. NeurIPS.
    Gittins (1979), Bandit processes and dynamic allocation indices. JRSS B 41.
    Gittins, Glazebrook & Weber (2011), Multi-armed Bandit Allocation Indices, 2nd ed. Wiley.
    Katehakis & Veinott (1987), The multi-armed bandit problem: decomposition and computation. Math. Oper. Res. 12.
    Sutton & Barto (2018), Reinforcement Learning: An Introduction, 2nd ed., chapter 2.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from statistics import NormalDist
from typing import Any

import numpy as np
from tqdm.auto import tqdm


class BanditError(ValueError):
    """A bandit, strategy setting or history that does not make sense; the message says what is wrong."""


# =============================================================================================== state
@dataclass(eq=False)
class BanditState:
    """What a strategy knows about B bandits: pull counts and reward sums per arm, and the number of pulls.

    Attributes:
        counts: ``n_a``, shape (B, k), integers >= 0.
        sums: ``S_a``, shape (B, k): total reward from each arm. With Bernoulli rewards it counts successes, and
            ``counts - sums`` counts failures.
        t: pulls so far in each bandit (all B bandits move in lockstep).

    Rewards must lie in [0, 1] (the setting of UCB1's guarantee); Thompson sampling and the Gittins index
    further read ``sums`` as success counts, so give them rewards in {0, 1}.
    """

    counts: np.ndarray
    sums: np.ndarray
    t: int = 0

    @classmethod
    def empty(cls, n_bandits: int, k: int) -> BanditState:
        """No pulls yet: ``counts`` and ``sums`` are zeros of shape (n_bandits, k)."""
        if n_bandits < 1 or k < 1:
            raise BanditError(f"need n_bandits >= 1 and k >= 1; got n_bandits={n_bandits}, k={k}")
        return cls(counts=np.zeros((n_bandits, k), dtype=np.int64), sums=np.zeros((n_bandits, k)), t=0)

    @property
    def n_bandits(self) -> int:
        """B, the number of bandits."""
        return self.counts.shape[0]

    @property
    def k(self) -> int:
        """k, the number of arms."""
        return self.counts.shape[1]

    def means(self, initial: float = 0.0) -> np.ndarray:
        """Empirical means ``Q_a = S_a / n_a``, shape (B, k); ``initial`` for an arm never pulled.

        Sutton & Barto (2018, eq. 2.1) define the sample average this way, with a default value such as 0 where
        the denominator is 0.
        """
        pulled = self.counts > 0
        return np.where(pulled, self.sums / np.maximum(self.counts, 1), initial)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Record that bandit ``b`` pulled arm ``actions[b]`` and received ``rewards[b]``, for every b.

        ``n_a += 1`` and ``S_a += r`` for the pulled arm of each bandit; ``t += 1``.
        """
        a = np.asarray(actions)
        r = np.asarray(rewards, dtype=float)
        B, k = self.counts.shape
        if a.shape != (B,) or r.shape != (B,):
            raise BanditError(f"actions and rewards must both have shape (B,) = ({B},); got {a.shape} and {r.shape}")
        if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= k:
            raise BanditError(f"actions must be integer arm indices in [0, {k - 1}]; got {a[:10]}")
        if not (r.min() >= 0.0 and r.max() <= 1.0):  # also catches NaN
            raise BanditError(f"rewards must lie in [0, 1]; got min {r.min()}, max {r.max()}")
        rows = np.arange(B)
        self.counts[rows, a] += 1
        self.sums[rows, a] += r
        self.t += 1


def argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The index of the largest value in each row, ties broken uniformly at random; shape (B, k) -> (B,).

    Draws one (B, k) block of uniforms per call, ties or not, so that the random stream a run consumes does not
    depend on the rewards it saw.
    """
    is_max = values == values.max(axis=1, keepdims=True)
    u = rng.random(values.shape)
    return np.argmax(np.where(is_max, u, -1.0), axis=1)


# ========================================================================================== strategies
_QUIET = {"quiet": True}  # field metadata: leave the setting out of ``Strategy.name`` while it has its default


class Strategy:
    """The interface every strategy shares: ``select(state, rng) -> a``, shape (B,). ``state`` is left as is.

    Each strategy is a frozen dataclass whose fields are its settings, checked when it is made.
    """

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def prepare(self) -> None:
        """One-off work before the first pull (the Gittins index table); a no-op for most strategies."""

    @property
    def name(self) -> str:
        """A short label for tables and plots, such as ``UCB1(c=1.0)``; rarely changed settings (the priors, the
        Gittins grid) appear only when they differ from their defaults."""
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if f.repr and not (f.metadata.get("quiet") and getattr(self, f.name) == f.default)]
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True)
class Random(Strategy):
    """Pull an arm uniformly at random every time. Its expected total is ``n * mean(p)``; the baseline."""

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(state.k, size=state.n_bandits)


@dataclass(frozen=True)
class Greedy(Strategy):
    """Pull the arm with the highest empirical mean: ``a = argmax_a Q_a``, ties at random.

    Attributes:
        initial: the value ``Q_a`` of an arm never pulled, in [0, 1]. 0 (Sutton & Barto's default) makes greedy
            pessimistic: it tries arms at random until one pays, then keeps it. 1 gives optimistic initial
            values (Sutton & Barto, section 2.6): every arm is tried once first. 0.5, the mean of the uniform
            prior, tries an untried arm in preference to one that has failed more often than it paid.

    Greedy never explores once ties are broken: as soon as one arm's ``Q_a`` is strictly above the rest, it is
    pulled until its mean falls below another arm's, which, with ``initial = 0``, a Bernoulli arm that has paid
    once never does.
    """

    initial: float = 0.0

    def __post_init__(self) -> None:
        _check_unit_interval("initial", self.initial)

    def index(self, state: BanditState) -> np.ndarray:
        """``Q_a``, shape (B, k)."""
        return state.means(self.initial)

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        return argmax_random_ties(self.index(state), rng)


@dataclass(frozen=True)
class EpsilonGreedy(Strategy):
    """With probability ``epsilon`` pull an arm uniformly at random, otherwise act greedily (Sutton & Barto 2.2).

    The random arm may be the greedy one, so a non-greedy arm is pulled with probability ``epsilon * (k - 1) / k``.

    Attributes:
        epsilon: exploration probability in [0, 1]; 0 is :class:`Greedy`, 1 is :class:`Random`.
        initial: value of an arm never pulled, as in :class:`Greedy`.
    """

    epsilon: float = 0.1
    initial: float = 0.0

    def __post_init__(self) -> None:
        _check_unit_interval("epsilon", self.epsilon)
        _check_unit_interval("initial", self.initial)

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        explore = rng.random(state.n_bandits) < self.epsilon
        random_arm = rng.integers(state.k, size=state.n_bandits)
        greedy_arm = argmax_random_ties(state.means(self.initial), rng)
        return np.where(explore, random_arm, greedy_arm)


@dataclass(frozen=True)
class UCB1(Strategy):
    """Upper confidence bound: pull every arm once, then ``a = argmax_a Q_a + c * sqrt(2 ln t / n_a)``.

    ``t`` is the number of pulls made so far in that bandit and ``n_a`` the pulls of arm a. An arm never pulled
    has index +inf, so the first k pulls try every arm exactly once (in random order).

    Attributes:
        c: exploration constant, >= 0. ``c = 1`` is UCB1 exactly as Auer, Cesa-Bianchi & Fischer (2002, Figure 1)
            state it, ``x_j + sqrt(2 ln n / n_j)``, with its logarithmic regret bound for rewards in [0, 1].
            Smaller c explores less and often earns more over short horizons; ``c = 0`` is greedy after the first
            round. Sutton & Barto (2018, eq. 2.10) write ``c' * sqrt(ln t / n_a)``, so their ``c' = sqrt(2) * c``.
    """

    c: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.c, (int, float)) and math.isfinite(self.c) and self.c >= 0):
            raise BanditError(f"c must be a finite number >= 0; got {self.c!r}")

    def index(self, state: BanditState) -> np.ndarray:
        """``Q_a + c * sqrt(2 ln t / n_a)``, shape (B, k); +inf where ``n_a = 0`` (see :func:`ucb1_index`)."""
        return ucb1_index(state.means(), state.counts, state.t, self.c)

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        return argmax_random_ties(self.index(state), rng)


def ucb1_index(q: np.ndarray, n: np.ndarray, t: int, c: float = 1.0) -> np.ndarray:
    """UCB1's index ``U_a = Q_a + c * sqrt(2 ln t / n_a)``, shape (B, k); ``U_a = +inf`` where ``n_a = 0``.

    Args:
        q: ``Q_a``, empirical means (B, k); any value where ``n_a = 0``.
        n: ``n_a``, pull counts (B, k), >= 0.
        t: pulls so far in each bandit, ``t = sum_a n_a`` (the same in all B). ``ln t`` is read as 0 at t = 0,
            where every arm is unpulled anyway.
        c: exploration constant, >= 0 (see :class:`UCB1`).

    An unpulled arm has no mean yet and an infinite bonus: it is tried before any arm is pulled twice.

    >>> ucb1_index(np.array([[0.5, 1.0, 0.0]]), np.array([[2, 1, 0]]), t=3, c=1.0).round(4)
    array([[1.5481, 2.4823,    inf]])
    """
    n = np.asarray(n)
    with np.errstate(divide="ignore", invalid="ignore"):  # n_a = 0 gives inf or nan; replaced just below
        bonus = c * np.sqrt(2.0 * math.log(max(t, 1)) / n)
    return np.where(n > 0, q + bonus, np.inf)


def ucb1_index_reference(q: np.ndarray, n: np.ndarray, t: int, c: float = 1.0) -> np.ndarray:
    """Lesson 09's reference for its ``ucb1_index`` exercise: the same index as :func:`ucb1_index`.

    A function of its own so that grading, which forbids learner code to call an exercise's reference, leaves
    :func:`ucb1_index` free for :class:`UCB1`.
    """
    return ucb1_index(q, n, t, c)


@dataclass(frozen=True)
class ThompsonSampling(Strategy):
    """Sample a mean for every arm from its Beta posterior and pull the best sample (Thompson 1933).

    With a ``Beta(alpha_0, beta_0)`` prior on ``p_a`` and Bernoulli rewards, the posterior of arm a is
    ``Beta(alpha_0 + S_a, beta_0 + n_a - S_a)``: successes add to alpha, failures to beta. Each step draws
    ``theta_a ~ posterior_a`` and pulls ``argmax_a theta_a``, so an arm is pulled with the posterior probability
    that it is the best (Chapelle & Li 2011 use this form with ``Beta(1, 1)``, the uniform prior).

    Attributes:
        alpha_0, beta_0: prior parameters, > 0. The default ``Beta(1, 1)`` is uniform on [0, 1], the distribution
            the arm means of :func:`evaluate_strategy` are drawn from, so the prior is exactly right there.
    """

    alpha_0: float = field(default=1.0, metadata=_QUIET)
    beta_0: float = field(default=1.0, metadata=_QUIET)

    def __post_init__(self) -> None:
        _check_positive("alpha_0", self.alpha_0)
        _check_positive("beta_0", self.beta_0)

    def posterior(self, state: BanditState) -> tuple[np.ndarray, np.ndarray]:
        """``(alpha, beta)``, each of shape (B, k): ``alpha = alpha_0 + successes``, ``beta = beta_0 + failures``."""
        return self.alpha_0 + state.sums, self.beta_0 + (state.counts - state.sums)

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        alpha, beta = self.posterior(state)
        theta = rng.beta(alpha, beta)
        return np.argmax(theta, axis=1)  # continuous samples: ties have probability 0


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
    alpha_0: float = field(default=1.0, metadata=_QUIET)
    beta_0: float = field(default=1.0, metadata=_QUIET)
    n_grid: int = field(default=1001, metadata=_QUIET)

    def __post_init__(self) -> None:
        _check_gamma(self.gamma)
        if not isinstance(self.horizon, (int, np.integer)) or self.horizon < 1:
            raise BanditError(f"horizon must be an integer >= 1; got {self.horizon!r}")
        _check_positive("alpha_0", self.alpha_0)
        _check_positive("beta_0", self.beta_0)

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
    _check_gamma(gamma)
    alpha_0, beta_0 = prior
    _check_positive("alpha_0", alpha_0)
    _check_positive("beta_0", beta_0)
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
def run_strategy(
    strategy: Strategy, p: np.ndarray, n_pulls: int, rng: np.random.Generator, *, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``strategy`` for ``n_pulls`` pulls on B Bernoulli bandits with arm means ``p`` (B, k) at once.

    Each step: ``a = strategy.select(state, rng)``, then ``r = 1`` where ``u < p[b, a_b]`` for
    ``u = rng.random(B)``, then ``state.update(a, r)``.

    Returns:
        ``(actions, rewards)``, each of shape (n_pulls, B): the arm each bandit pulled at each step, and its reward.
    """
    p = np.asarray(p, dtype=float)
    if p.ndim != 2 or not np.all((p >= 0) & (p <= 1)):
        raise BanditError(f"p must be arm means in [0, 1] of shape (B, k); got shape {p.shape}")
    if n_pulls < 1:
        raise BanditError(f"n_pulls must be >= 1; got {n_pulls}")
    B, k = p.shape
    state = BanditState.empty(B, k)
    rows = np.arange(B)
    actions = np.empty((n_pulls, B), dtype=np.int64)
    rewards = np.empty((n_pulls, B))
    for t in tqdm(range(n_pulls), desc=strategy.name, unit="pull", disable=not progress):
        a = strategy.select(state, rng)
        r = (rng.random(B) < p[rows, a]).astype(float)
        state.update(a, r)
        actions[t], rewards[t] = a, r
    return actions, rewards


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


@dataclass(frozen=True, eq=False)
class BanditResult:
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
    def mean_total(self) -> float:
        """Mean total reward over the bandits."""
        return float(self.totals.mean())

    @property
    def total_ci(self) -> tuple[float, float]:
        """95% confidence interval of the mean total reward (normal approximation over bandits)."""
        return normal_ci(self.totals)

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
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
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


def classic_strategies(horizon: int = 500) -> list[Strategy]:
    """One of each strategy with textbook settings; ``horizon`` sizes the Gittins table."""
    return [Random(), Greedy(), EpsilonGreedy(epsilon=0.1), UCB1(c=1.0), ThompsonSampling(),
            Gittins(gamma=0.9, horizon=horizon)]


# ========================================================================================== validation
def _check_unit_interval(name: str, x: float) -> None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0.0 <= x <= 1.0:
        raise BanditError(f"{name} must be a number in [0, 1]; got {x!r}")


def _check_positive(name: str, x: float) -> None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) and x > 0):
        raise BanditError(f"{name} must be a finite number > 0; got {x!r}")


def _check_gamma(gamma: float) -> None:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= gamma < 1.0:
        raise BanditError(f"gamma must be a number in [0, 1) (the Gittins index needs a discount below 1); "
                          f"got {gamma!r}")
