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
>>> actions, rewards = run_strategy(ThompsonSampling(), p=rng.random((1000, 5)), n_pulls=100, rng=rng)

The Gittins index strategy and the evaluation protocol (many random bandits, confidence intervals, grid search)
are in :mod:`metarl_edu.studies.bandit_baselines`.

References:
    Auer, Cesa-Bianchi & Fischer (2002), Finite-time analysis of the multiarmed bandit problem. Machine Learning 47.
    Duan, Schulman, Chen, Bartlett, Sutskever & Abbeel (2016), RL^2: Fast reinforcement learning via slow
        reinforcement learning. arXiv:1611.02779.
    Thompson (1933), On the likelihood that one unknown probability exceeds another... Biometrika 25.
    Chapelle & Li (2011), An empirical evaluation of Thompson sampling. NeurIPS.
    Sutton & Barto (2018), Reinforcement Learning: An Introduction, 2nd ed., chapter 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from tqdm.auto import tqdm

from metarl_edu._checks import check_number, check_probability


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
QUIET = {"quiet": True}  # field metadata: leave the setting out of ``Strategy.name`` while it has its default


class Strategy:
    """The interface every strategy shares: ``select(state, rng) -> a``, shape (B,). ``state`` is left as is.

    Each strategy is a frozen dataclass whose fields are its settings, checked when it is made.
    """

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def prepare(self) -> None:
        """One-off work before the first pull (such as an index table); a no-op for most strategies."""

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
        check_probability("initial", self.initial, error=BanditError)

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
        check_probability("epsilon", self.epsilon, error=BanditError)
        check_probability("initial", self.initial, error=BanditError)

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

    With ``prior=(a, b)`` every arm starts with ``a`` pseudo-successes and ``b`` pseudo-failures, the statistics of
    a ``Beta(a, b)`` posterior: ``Q_a = (S_a + a) / (n_a + a + b)``, the bonus uses ``n_a + a + b`` in place of
    ``n_a``, and ``t`` counts the pseudo-pulls too, ``t = sum_a (n_a + a + b)``. No arm is then unpulled, so there
    is no forced first round: an arm that paid at once can be pulled again before the others are tried. Duan et
    al. (2016, RL^2, Table 1) run UCB1 this way with ``Beta(1, 1)``.

    Attributes:
        c: exploration constant, >= 0. ``c = 1`` is UCB1 exactly as Auer, Cesa-Bianchi & Fischer (2002, Figure 1)
            state it, ``x_j + sqrt(2 ln n / n_j)``, with its logarithmic regret bound for rewards in [0, 1].
            Smaller c explores less and often earns more over short horizons; ``c = 0`` is greedy after the first
            round. Sutton & Barto (2018, eq. 2.10) write ``c' * sqrt(ln t / n_a)``, so their ``c' = sqrt(2) * c``.
        prior: ``None`` (the textbook algorithm), or ``(a, b)``: pseudo-successes and pseudo-failures added to
            every arm, two finite numbers >= 0 with ``a + b > 0``. ``(1, 1)`` is the uniform prior's posterior.
    """

    c: float = 1.0
    prior: tuple[float, float] | None = field(default=None, metadata=QUIET)

    def __post_init__(self) -> None:
        check_number("c", self.c, 0.0, error=BanditError)
        if self.prior is not None:
            object.__setattr__(self, "prior", _check_prior(self.prior))

    def index(self, state: BanditState) -> np.ndarray:
        """``Q_a + c * sqrt(2 ln t / n_a)``, shape (B, k), on the counts with the prior's pseudo-pulls added if
        there is a prior; without one, +inf where ``n_a = 0`` (see :func:`ucb1_index`)."""
        if self.prior is None:
            return ucb1_index(state.means(), state.counts, state.t, self.c)
        a, b = self.prior
        n = state.counts + (a + b)
        return ucb1_index((state.sums + a) / n, n, state.t + state.k * (a + b), self.c)

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        return argmax_random_ties(self.index(state), rng)


def _check_prior(prior: object) -> tuple[float, float]:
    """``prior`` as a pair ``(a, b)`` of floats: pseudo-successes and pseudo-failures, each >= 0, ``a + b > 0``."""
    try:
        a, b = prior  # type: ignore[misc]
    except (TypeError, ValueError):
        raise BanditError(f"prior must be a pair (a, b) of pseudo-successes and pseudo-failures; "
                          f"got {prior!r}") from None
    a = check_number("prior a (pseudo-successes)", a, 0.0, error=BanditError)
    b = check_number("prior b (pseudo-failures)", b, 0.0, error=BanditError)
    if a + b <= 0.0:
        raise BanditError(f"prior a + b must be > 0 (at least one pseudo-pull per arm); got {prior!r}")
    return a, b


def ucb1_index(q: np.ndarray, n: np.ndarray, t: float, c: float = 1.0) -> np.ndarray:
    """UCB1's index ``U_a = Q_a + c * sqrt(2 ln t / n_a)``, shape (B, k); ``U_a = +inf`` where ``n_a = 0``.

    Args:
        q: ``Q_a``, empirical means (B, k); any value where ``n_a = 0``.
        n: ``n_a``, pull counts (B, k), >= 0.
        t: pulls so far in each bandit, ``t = sum_a n_a`` (the same in all B). ``ln t`` is read as 0 for
            ``t < 1``: at t = 0 every arm is unpulled anyway.
        c: exploration constant, >= 0 (see :class:`UCB1`).

    An unpulled arm has no mean yet and an infinite bonus: it is tried before any arm is pulled twice.

    >>> ucb1_index(np.array([[0.5, 1.0, 0.0]]), np.array([[2, 1, 0]]), t=3, c=1.0).round(4)
    array([[1.5481, 2.4823,    inf]])
    """
    n = np.asarray(n)
    with np.errstate(divide="ignore", invalid="ignore"):  # n_a = 0 gives inf or nan; replaced just below
        bonus = c * np.sqrt(2.0 * math.log(max(t, 1)) / n)
    return np.where(n > 0, q + bonus, np.inf)


@dataclass(frozen=True)
class ThompsonSampling(Strategy):
    """Sample a mean for every arm from its Beta posterior and pull the best sample (Thompson 1933).

    With a ``Beta(alpha_0, beta_0)`` prior on ``p_a`` and Bernoulli rewards, the posterior of arm a is
    ``Beta(alpha_0 + S_a, beta_0 + n_a - S_a)``: successes add to alpha, failures to beta. Each step draws
    ``theta_a ~ posterior_a`` and pulls ``argmax_a theta_a``, so an arm is pulled with the posterior probability
    that it is the best (Chapelle & Li 2011 use this form with ``Beta(1, 1)``, the uniform prior).

    Attributes:
        alpha_0, beta_0: prior parameters, > 0. The default ``Beta(1, 1)`` is uniform on [0, 1], the distribution
            the arm means of :func:`~metarl_edu.studies.bandit_baselines.evaluate_strategy` are drawn from, so the
            prior is exactly right there.
    """

    alpha_0: float = field(default=1.0, metadata=QUIET)
    beta_0: float = field(default=1.0, metadata=QUIET)

    def __post_init__(self) -> None:
        check_number("alpha_0", self.alpha_0, 0.0, low_open=True, error=BanditError)
        check_number("beta_0", self.beta_0, 0.0, low_open=True, error=BanditError)

    def posterior(self, state: BanditState) -> tuple[np.ndarray, np.ndarray]:
        """``(alpha, beta)``, each of shape (B, k): ``alpha = alpha_0 + successes``, ``beta = beta_0 + failures``."""
        return self.alpha_0 + state.sums, self.beta_0 + (state.counts - state.sums)

    def select(self, state: BanditState, rng: np.random.Generator) -> np.ndarray:
        alpha, beta = self.posterior(state)
        theta = rng.beta(alpha, beta)
        return np.argmax(theta, axis=1)  # continuous samples: ties have probability 0


# ========================================================================================== playing
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
