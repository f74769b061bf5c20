"""Q-learning on many tabular tasks at once: :class:`BatchedQLearning`, the batched twin of
:class:`~metarl_edu.agents.QLearningAgent`.

Every step is a few numpy operations over all tasks. Each row learns exactly as a plain loop of
:func:`metarl_edu.td.q_learning_update` with epsilon-greedy by :func:`metarl_edu.td.action_from_uniforms` would,
given the same random numbers; the tests hold the two equal.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from metarl_edu._checks import check_int, check_number
from metarl_edu.agents import LinearSchedule, _bar
from metarl_edu.mdp import TabularMDP


class UniformSource(Protocol):
    """Where :class:`BatchedQLearning` gets its random numbers: ``np.random.Generator`` or anything with
    ``random(size) -> np.ndarray`` of uniform numbers in [0, 1) (tests pass a fixed sequence)."""

    def random(self, size: Any) -> np.ndarray: ...


def _per_row(name: str, value: Any, n_rows: int, low: float, high: float, low_open: bool = False) -> np.ndarray:
    """A scalar or an (N,) array as an (N,) float array, each entry checked to lie in the range."""
    x = np.asarray(value)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number) or x.shape not in ((), (n_rows,)):
        raise ValueError(f"{name} must be a number or an array of shape (N,) = ({n_rows},) with one value per "
                         f"task; got {value!r}")
    x = np.broadcast_to(x.astype(float), (n_rows,))
    bad = ~(np.isfinite(x) & ((x > low) if low_open else (x >= low)) & (x <= high))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low:g}, {high:g}]; got {x[i]} for task {i}")
    return x


def _schedule_table(name: str, schedule: Any, n_rows: int, n_episodes: int, low: float, high: float,
                    low_open: bool = False) -> np.ndarray:
    """Values of a constant, an (N,) array or a schedule ``episode -> value or (N,) array``, shape (N, n_episodes)."""
    if not callable(schedule):
        return np.repeat(_per_row(name, schedule, n_rows, low, high, low_open)[:, None], n_episodes, axis=1)
    if hasattr(schedule, "for_episodes"):
        schedule = schedule.for_episodes(n_episodes)
    columns = []
    for episode in range(n_episodes):
        try:
            columns.append(_per_row(name, schedule(episode), n_rows, low, high, low_open))
        except ValueError as exc:
            raise ValueError(f"{exc} (the {name} schedule {schedule!r} at episode {episode})") from None
    return np.stack(columns, axis=1)


class _Categorical:
    """Draw from many categorical distributions at once with one uniform number each; ``probs`` (M, X) holds
    one distribution over X outcomes per row.

    Row ``i`` with number ``u`` draws the first outcome ``x`` with ``u < cumsum(probs[i])[x]``. Only outcomes of
    probability > 0 are compared (at most K per row; K = 3 in slippery FrozenLake), one column per numpy
    operation, which is much faster than a reduction along a short axis. The last outcome of each row takes
    whatever the rounding of the cumulative sum leaves, so an outcome of probability 0 is never drawn.
    ``sample`` returns draw positions ``k * M + i`` (the k-th possible outcome of row i); :meth:`at` lays out any
    per-outcome table in the same positions, so that one lookup gives the outcome's state, reward or flag.
    """

    def __init__(self, probs: np.ndarray) -> None:
        self.M = probs.shape[0]
        n_possible = (probs > 0).sum(axis=1)
        K = int(n_possible.max())
        # outcomes of probability > 0 first, in increasing order, then padding that is never drawn
        self.order = np.argsort(probs <= 0, axis=1, kind="stable")[:, :K]
        cdf = np.cumsum(np.take_along_axis(probs, self.order, axis=1), axis=1)
        cdf[np.arange(K)[None, :] >= n_possible[:, None] - 1] = np.inf
        self.cdf = [np.ascontiguousarray(cdf[:, k]) for k in range(K - 1)]  # the last outcome needs no test

    def at(self, values: np.ndarray) -> np.ndarray:
        """``values`` (M, X) per outcome, as a flat array indexed by draw position."""
        return np.take_along_axis(values, self.order, axis=1).T.reshape(-1)

    def sample(self, i: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Draw positions ``k * M + i`` for rows ``i`` (int array) with numbers ``u`` in [0, 1)."""
        position = i.copy()
        for cdf_k in self.cdf:
            position += (cdf_k[i] <= u) * self.M  # past the k-th possible outcome: on to the next
        return position


class BatchedQLearning:
    """Q-learning on N tabular tasks at once, every step a few numpy operations over all N rows.

    Each row is an independent learner: its own MDP, its own ``alpha``, ``epsilon`` and ``gamma`` (so a row
    can be a task, a hyperparameter setting or a seed), its own episodes. Rows learn exactly as a plain loop of
    :func:`~metarl_edu.td.q_learning_update` with epsilon-greedy by :func:`~metarl_edu.td.action_from_uniforms`
    does, given the same random numbers (the tests replay it). A row whose episode ends starts the next at once;
    a row that has finished its ``n_episodes`` drops out, so that only real transitions cost time.

    Args:
        mdps: N :class:`TabularMDP` sharing S and A (for example ``TabularMDP.from_gymnasium`` of 1000
            FrozenLake maps). Stacked into ``P`` (N, S, A, S), ``R`` (N, S, A, S), ``terminal`` (N, S),
            ``start`` (N, S).
        alpha: step size in (0, 1]: a number, an array (N,), or a schedule ``episode -> number or (N,)``.
        gamma: discount in [0, 1], a number or (N,). Default: each MDP's own ``gamma``.
        epsilon: exploration rate in [0, 1], as ``alpha``. Default ``LinearSchedule(1.0, 0.01)`` (as
            :class:`QLearningAgent`: decays over the first half of each ``train`` call).
        max_steps: an episode is truncated after this many steps (its last update still bootstraps). Default
            100, as ``gym.make("FrozenLake-v1")``.
        seed: seeds the default generator. rng: the source of random numbers (see below); default
            ``np.random.Generator(np.random.SFC64(seed))``, one of numpy's generators and about twice as fast as
            ``default_rng`` at the thousands of numbers each step takes.
        progress: show a progress bar (episodes completed by the slowest row).
        q_init: the initial value of every entry of ``q``.

    Random numbers: ``train`` first draws ``rng.random(N)``, the first state of each row. Then every step draws
    ``rng.random((3, n))`` for the ``n`` rows still learning, in row order: ``u_explore`` and ``u_action`` (the
    action, by :func:`~metarl_edu.td.action_from_uniforms`) and ``u_next`` (the next state: the first ``s'`` with
    ``u_next < cumsum(P[s, a])[s']``); then, if ``m`` of these rows ended an episode, ``rng.random(m)`` for the
    first states of their next episodes (drawn the same way from ``start``), in row order.

    Attributes:
        q: (N, S, A) action values (a view of a table stored action by action, so that one numpy operation
            reads one action's values for all rows). n_transitions: real transitions of the latest ``train``.

    >>> import gymnasium as gym
    >>> mdp = TabularMDP.from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.99)
    >>> batch = BatchedQLearning([mdp] * 3, alpha=[0.05, 0.1, 0.2], seed=0, progress=False)
    >>> batch.train(50).shape, batch.q.shape
    ((3, 50), (3, 16, 4))
    """

    def __init__(
        self,
        mdps: Sequence[TabularMDP],
        alpha: Any = 0.1,
        gamma: Any = None,
        epsilon: Any = LinearSchedule(1.0, 0.01),  # noqa: B008  (frozen, so sharing the default is safe)
        max_steps: int = 100,
        seed: int | None = None,
        rng: UniformSource | None = None,
        progress: bool = True,
        q_init: float = 0.0,
    ) -> None:
        mdps = list(mdps)
        if not mdps or not all(isinstance(m, TabularMDP) for m in mdps):
            raise TypeError("mdps must be a non-empty sequence of metarl_edu.TabularMDP")
        shapes = {(m.n_states, m.n_actions) for m in mdps}
        if len(shapes) > 1:
            raise ValueError(f"all MDPs must share S and A to be stacked; got (S, A) in {sorted(shapes)}")
        self.N, (self.S, self.A) = len(mdps), shapes.pop()
        N, S, A = self.N, self.S, self.A
        self.P = np.stack([m.P for m in mdps])
        self.R = np.stack([m.R if m.R.ndim == 3 else np.repeat(m.R[:, :, None], S, axis=2) for m in mdps])
        self.terminal = np.stack([m.terminal for m in mdps])
        self.start = np.stack([m.start for m in mdps])
        self.gamma = _per_row("gamma", [m.gamma for m in mdps] if gamma is None else gamma, N, 0.0, 1.0)
        _schedule_table("alpha", alpha, N, 1, 0.0, 1.0, low_open=True)  # fail early on a bad value
        _schedule_table("epsilon", epsilon, N, 1, 0.0, 1.0)
        self.alpha, self.epsilon = alpha, epsilon
        self.max_steps = check_int("max_steps", max_steps, low=1)
        if rng is not None and not callable(getattr(rng, "random", None)):
            raise TypeError(f"rng must have a random(size) method, like np.random.Generator; got {rng!r}")
        self.rng = np.random.Generator(np.random.SFC64(seed)) if rng is None else rng
        self.progress = bool(progress)
        self.n_transitions = 0

        # A state is numbered globally, x = n * S + s. q is stored action by action: q_by_action[a, x].
        self._q_by_action = np.full((A, N * S), check_number("q_init", q_init))
        self.q = self._q_by_action.reshape(A, N, S).transpose(1, 2, 0)  # a view, (N, S, A)
        # Transitions: row a * N * S + x of the sampler is P[n, s, a]; per draw position: x' and the reward.
        self._next = _Categorical(self.P.transpose(2, 0, 1, 3).reshape(A * N * S, S))
        x_of = np.broadcast_to((np.arange(N) * S)[None, :, None, None] + np.arange(S), (A, N, S, S))
        self._next_x = self._next.at(x_of.reshape(A * N * S, S))
        self._next_r = self._next.at(self.R.transpose(2, 0, 1, 3).reshape(A * N * S, S))
        self._first = _Categorical(self.start)
        self._first_x = self._first.at(np.arange(N)[:, None] * S + np.arange(S)[None, :])

    def _draw(self, size: Any) -> np.ndarray:
        u = self.rng.random(size)
        if not isinstance(self.rng, np.random.Generator):  # an injected source: check what it gives
            u = np.asarray(u, dtype=float)
            if u.shape != np.empty(size).shape or not np.all((u >= 0) & (u < 1)):
                raise ValueError(f"rng.random({size}) must return uniform numbers in [0, 1) of that shape")
        return u

    def train(self, n_episodes: int, progress: bool | None = None) -> np.ndarray:
        """Run ``n_episodes`` episodes on every row; returns the undiscounted returns, shape (N, n_episodes)."""
        n = check_int("n_episodes", n_episodes, low=1)
        N, S = self.N, self.S
        alpha_table = _schedule_table("alpha", self.alpha, N, n, 0.0, 1.0, low_open=True)
        epsilon_table = _schedule_table("epsilon", self.epsilon, N, n, 0.0, 1.0)
        schedules = not (np.all(alpha_table == alpha_table[:, :1]) and np.all(epsilon_table == epsilon_table[:, :1]))
        q_a = list(self._q_by_action)  # q_a[a][x], one array per action
        q_flat = self._q_by_action.reshape(-1)  # q_flat[a * N * S + x]
        next_x, next_r, terminal = self._next_x, self._next_r, self.terminal.reshape(-1)
        draw, sample_next, max_steps = self._draw, self._next.sample, self.max_steps
        returns = np.zeros((N, n))
        n_transitions = 0
        # One entry per live row (rows with episodes left, in row order); finished rows are dropped.
        live = np.arange(N)
        x = self._first_x[self._first.sample(live, self._draw(N))]  # global state of each live row
        G, t, episode = np.zeros(N), np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)
        alpha, epsilon, gamma = alpha_table[:, 0].copy(), epsilon_table[:, 0].copy(), self.gamma.copy()
        with _bar(n, "train (slowest task)", self.progress if progress is None else progress) as bar:
            step = 0
            while live.size:
                if step % 1024 == 0:
                    bar.update(int(episode.min()) - bar.n)
                step += 1
                u_explore, u_action, u_next = draw((3, live.size))
                # --- epsilon-greedy by td.action_from_uniforms: take the j-th of the k candidate actions, where the
                # candidates are the maximal actions, or all A actions for a row that explores
                q_s = [q[x] for q in q_a]
                threshold = functools.reduce(np.maximum, q_s)  # a new array: the greedy value of each row
                threshold[u_explore < epsilon] = -np.inf  # a row that explores: every action is a candidate
                counts = [(q_s[0] >= threshold).view(np.int8)]  # counts[a]: candidates among actions 0..a
                for q in q_s[1:]:
                    counts.append(counts[-1] + (q >= threshold))
                # the j-th candidate, j = floor(u_action * k), comes after each action a with counts[a] <= j,
                # that is counts[a] <= u_action * k (counts are whole numbers)
                uk = u_action * counts[-1]
                a = functools.reduce(np.add, [count <= uk for count in counts[:-1]], np.zeros(live.size, np.int8))
                # --- the environment: x' ~ P[s, a], its reward R[s, a, s'] and whether s' is terminal
                xa = np.multiply(a, N * S, dtype=np.intp) + x
                drawn = sample_next(xa, u_next)
                x_next, r = next_x[drawn], next_r[drawn]
                terminated = terminal[x_next]
                # --- td.q_learning_update on every row. Termination stops bootstrapping; truncation does not (the
                # time limit is not part of the task: s_next keeps its value in the target).
                v_next = functools.reduce(np.maximum, [q[x_next] for q in q_a])
                target = np.where(terminated, r, r + gamma * v_next)  # td.td_target, one per row
                q_sa = q_flat[xa]
                q_flat[xa] = q_sa + alpha * (target - q_sa)
                # --- bookkeeping: returns, episode ends, the next episode's first state
                n_transitions += live.size
                G += r
                t += 1
                ended = terminated | (t >= max_steps)
                if np.count_nonzero(ended):
                    e = np.flatnonzero(ended)
                    returns[live[e], episode[e]] = G[e]
                    G[e], t[e] = 0.0, 0
                    episode[e] += 1
                    x_next[e] = self._first_x[self._first.sample(live[e], draw(len(e)))]
                    if schedules:
                        e_more = e[episode[e] < n]
                        alpha[e_more] = alpha_table[live[e_more], episode[e_more]]
                        epsilon[e_more] = epsilon_table[live[e_more], episode[e_more]]
                    if episode[e].max() >= n:
                        keep = episode < n
                        live, x_next, G, t, episode = live[keep], x_next[keep], G[keep], t[keep], episode[keep]
                        alpha, epsilon, gamma = alpha[keep], epsilon[keep], gamma[keep]
                x = x_next
            bar.update(n - bar.n)
        self.n_transitions = n_transitions
        return returns

    def greedy_policies(self) -> np.ndarray:
        """The greedy policy of every row, one-hot (N, S, A), ties to the lowest action."""
        pi = np.zeros((self.N, self.S, self.A))
        np.put_along_axis(pi, self.q.argmax(axis=2)[:, :, None], 1.0, axis=2)
        return pi
