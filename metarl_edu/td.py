"""Temporal-difference learning on a table: TD(0) for state values, the Q-learning, Double Q-learning, Sarsa and
Expected Sarsa updates and epsilon-greedy acting, each once, as small pure functions.
:class:`~metarl_edu.agents.QLearningAgent` runs them on Gymnasium environments;
:class:`~metarl_edu.fast.qlearning.BatchedQLearning` is their batched twin, and
:mod:`metarl_edu.studies.maximization_bias` runs Double Q-learning on many runs at once.

Notation (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., 2018, chapter 6):

==============  ===========  ====================================================================
symbol          shape        meaning
==============  ===========  ====================================================================
``v``           (S,)         state-value table, ``v[s]`` estimates v_pi(s) of the policy that acts
``q``           (S, A)       action-value table, ``q[s, a]`` estimates Q(s, a)
``q_s``         (A,)         one row ``q[s]``: the action values of one state
``q_next``      (A,)         the row of the next state, ``q[s_next]``
``s, a, r``     scalars      state, action, reward of one transition ``s, a -> r, s_next``
``alpha``       scalar       step size in (0, 1]
``gamma``       scalar       discount in [0, 1]
``epsilon``     scalar       exploration rate in [0, 1]: the probability of a uniformly random action
``terminated``  bool         ``s_next`` ends the episode (a goal, a pit, the pole fell): nothing follows it
==============  ===========  ====================================================================

An episode can also be *truncated* (a time limit): the task goes on beyond the cut, so the value of ``s_next``
still counts. Only ``terminated`` stops bootstrapping; truncation merely ends the loop.

Randomness comes from a passed-in ``rng: np.random.Generator``. The agent and its batched twin choose each
action from two uniform numbers by the rule of :func:`action_from_uniforms`, so that the batched version can be
checked against a plain loop that reads the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


# =============================================================================================== the updates
def td_target(r: float, q_next: np.ndarray, gamma: float, terminated: bool) -> float:
    """The Q-learning target (Sutton & Barto, 2018, eq. 6.8):

        target = r + gamma * max_a' q_next[a']      if the episode goes on,
        target = r                                  if s_next is terminal (``terminated``).

    Args:
        r: reward of the transition.
        q_next: (A,) action values of the next state, ``q[s_next]``.
        gamma: discount in [0, 1].
        terminated: True if ``s_next`` ends the episode; a truncated episode passes False here.

    >>> td_target(1.0, np.array([0.0, 2.0]), gamma=0.5, terminated=False)
    2.0
    >>> td_target(1.0, np.array([0.0, 2.0]), gamma=0.5, terminated=True)
    1.0
    """
    if terminated:
        return float(r)  # a terminal state has value 0: the episode is over, there is nothing to bootstrap from
    v_next = max(np.asarray(q_next, dtype=float).tolist())  # max_a' q_next[a'], on Python floats: a short row
    return float(r + gamma * v_next)


def td0_update(v: np.ndarray, s: int, r: float, s_next: int, terminated: bool, alpha: float, gamma: float
               ) -> np.ndarray:
    """One TD(0) step for the state values of the policy that acts (Sutton & Barto, 2018, eq. 6.2), returning a
    NEW array (``v`` is left unchanged):

        delta = r + gamma * v[s_next] - v[s]        the TD error (eq. 6.5); r - v[s] if ``terminated``
        v[s] <- v[s] + alpha * delta

    The target bootstraps from the current estimate of the next state, as dynamic programming does, but from one
    sampled transition instead of an expectation over ``P``: no model is needed.

    >>> td0_update(np.array([0.0, 2.0]), s=0, r=1.0, s_next=1, terminated=False, alpha=0.5, gamma=0.5)
    array([1., 2.])
    """
    delta = td_target(r, [v[s_next]], gamma, terminated) - v[s]  # the target of the one next state
    v_new = np.array(v, dtype=float)
    v_new[s] = v[s] + alpha * delta
    return v_new


def sarsa_target(r: float, q_next: np.ndarray, a_next: int, gamma: float, terminated: bool) -> float:
    """The Sarsa target (Sutton & Barto, 2018, eq. 6.7): the value of the action actually taken next,

        target = r + gamma * q_next[a_next]         (r alone if ``terminated``),

    that is :func:`td_target` with the next state valued by the one action ``a_next`` instead of the best one.
    """
    return td_target(r, [q_next[a_next]], gamma, terminated)  # the max over the single action taken


def epsilon_greedy_probs(q_s: np.ndarray, epsilon: float) -> np.ndarray:
    """pi(a | s) of the epsilon-greedy policy, shape (A,):

        pi(a | s) = epsilon / A + (1 - epsilon) * [a is maximal] / (number of maximal actions).

    Ties among maximal actions share the greedy probability, as :func:`epsilon_greedy` breaks them at random.
    """
    q_s = np.asarray(q_s, dtype=float)
    best = q_s == np.max(q_s)
    return epsilon / q_s.size + (1.0 - epsilon) * best / best.sum()


def expected_sarsa_target(r: float, q_next: np.ndarray, gamma: float, terminated: bool, epsilon: float) -> float:
    """The Expected Sarsa target (Sutton & Barto, 2018, eq. 6.9), the expectation over the epsilon-greedy policy:

        target = r + gamma * sum_a' pi(a' | s_next) * q_next[a']      (r alone if ``terminated``),

    that is :func:`td_target` with the next state valued by its expected action value under ``pi``.
    """
    return td_target(r, [np.dot(epsilon_greedy_probs(q_next, epsilon), q_next)], gamma, terminated)


def q_learning_update(
    q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float, gamma: float
) -> np.ndarray:
    """One Q-learning step (Sutton & Barto, 2018, eq. 6.8), returning a NEW table (``q`` is left unchanged):

        q[s, a] <- q[s, a] + alpha * (r + gamma * max_a' q[s_next, a'] - q[s, a])

    with the bracket's bootstrap term dropped when ``s_next`` is terminal. Off-policy: the target uses the
    greedy action in ``s_next`` whatever the behaviour policy does next.

    Args:
        q: (S, A) action values.
        s, a, r, s_next: the transition.
        terminated: True if ``s_next`` ends the episode. Pass False for a truncated episode (time limit): the
            task did not end, so its future value still counts.
        alpha: step size in (0, 1]. gamma: discount in [0, 1].

    >>> q = np.zeros((2, 2)); q[1] = [0.0, 2.0]
    >>> q_learning_update(q, s=0, a=1, r=1.0, s_next=1, terminated=False, alpha=0.5, gamma=0.5)[0]
    array([0., 1.])
    """
    target = td_target(r, q[s_next], gamma, terminated)
    q_new = np.array(q, dtype=float)
    q_new[s, a] = q[s, a] + alpha * (target - q[s, a])
    return q_new


def double_q_learning_update(
    q1: np.ndarray, q2: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float,
    gamma: float, update_first: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One Double Q-learning step (van Hasselt 2010; Sutton & Barto, 2018, section 6.7, eq. 6.10), returning NEW
    tables ``(q1, q2)``:

        update_first:  q1[s, a] <- q1[s, a] + alpha * (r + gamma * q2[s_next, argmax_a' q1[s_next, a']] - q1[s, a])
        otherwise:     the same with q1 and q2 swapped

    (the bootstrap term dropped when ``terminated``). One table picks the best next action and the other values
    it, so the noise that makes an action look best in one table does not also inflate its value: the
    maximisation bias of :func:`q_learning_update` goes away. The caller flips the fair coin ``update_first``
    (for example ``rng.random() < 0.5``) and acts on ``q1 + q2``. Ties in the argmax go to the lowest action.
    """
    if not update_first:
        q2_new, q1_new = double_q_learning_update(q2, q1, s, a, r, s_next, terminated, alpha, gamma, True)
        return q1_new, q2_new
    a_best = int(np.argmax(q1[s_next]))  # q1 chooses ...
    target = td_target(r, [q2[s_next][a_best]], gamma, terminated)  # ... q2 values the choice
    q1_new = np.array(q1, dtype=float)
    q1_new[s, a] = q1[s, a] + alpha * (target - q1[s, a])
    return q1_new, np.array(q2, dtype=float)


def sarsa_update(
    q: np.ndarray, s: int, a: int, r: float, s_next: int, a_next: int, terminated: bool, alpha: float, gamma: float
) -> np.ndarray:
    """One Sarsa step (Sutton & Barto, 2018, eq. 6.7), returning a NEW table:

        q[s, a] <- q[s, a] + alpha * (r + gamma * q[s_next, a_next] - q[s, a])

    On-policy: ``a_next`` is the action the agent will actually take in ``s_next`` (exploration included).
    """
    target = sarsa_target(r, q[s_next], a_next, gamma, terminated)
    q_new = np.array(q, dtype=float)
    q_new[s, a] = q[s, a] + alpha * (target - q[s, a])
    return q_new


def expected_sarsa_update(
    q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float, gamma: float,
    epsilon: float,
) -> np.ndarray:
    """One Expected Sarsa step (Sutton & Barto, 2018, eq. 6.9), returning a NEW table:

        q[s, a] <- q[s, a] + alpha * (r + gamma * sum_a' pi(a' | s_next) q[s_next, a'] - q[s, a])

    with ``pi`` the epsilon-greedy policy of ``q`` (:func:`epsilon_greedy_probs`). With ``epsilon = 0`` it is
    Q-learning.
    """
    target = expected_sarsa_target(r, q[s_next], gamma, terminated, epsilon)
    q_new = np.array(q, dtype=float)
    q_new[s, a] = q[s, a] + alpha * (target - q[s, a])
    return q_new


# =============================================================================================== acting
def epsilon_greedy(q_s: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """Pick an action: with probability ``epsilon`` a uniformly random one, otherwise a maximal one of ``q_s``
    (ties broken at random, so that unexplored actions with equal values all get tried).

    Args:
        q_s: (A,) action values of the current state.
        epsilon: exploration rate in [0, 1]; 0 is greedy, 1 uniformly random.
        rng: the random generator to draw from.
    """
    if rng.random() < epsilon:
        return int(rng.integers(len(q_s)))  # explore: every action with probability 1/A
    best = np.flatnonzero(q_s == np.max(q_s))
    return int(rng.choice(best))  # exploit: a maximal action, ties at random


def action_from_uniforms(q_s: Sequence[float], epsilon: float, u_explore: float, u_action: float) -> int:
    """Epsilon-greedy from two uniform numbers in [0, 1): the rule :class:`QLearningAgent` and
    :class:`BatchedQLearning` follow, written out plainly so that tests can replay it.

    Explore if ``u_explore < epsilon`` and take action ``floor(u_action * A)``; otherwise take the
    ``floor(u_action * k)``-th of the ``k`` maximal actions (in index order). Same distribution as
    :func:`epsilon_greedy`.
    """
    A = len(q_s)
    if u_explore < epsilon:
        return min(int(u_action * A), A - 1)  # explore: any action
    q_max = max(q_s)
    best = [a for a in range(A) if q_s[a] == q_max]  # exploit: a maximal action
    return best[min(int(u_action * len(best)), len(best) - 1)]

