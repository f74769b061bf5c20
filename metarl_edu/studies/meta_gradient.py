"""Learning alpha and gamma by gradient ascent through the learning process itself (meta-gradients).

In the spirit of Xu, van Hasselt & Silver (2018), *Meta-Gradient Reinforcement Learning*, which learns the
discount and bootstrapping parameters of the return by differentiating the agent's performance after an update
with respect to them. Here everything is small and exact, so that the gradient can be checked against finite
differences:

1. **inner loop**: K *expected* Q-learning updates, synchronous over every (s, a), from q_0 = 0:

       q_{k+1}(s, a) = q_k(s, a) + alpha * (r(s, a) + gamma * sum_s' P(s' | s, a) max_a' q_k(s', a') - q_k(s, a)),

   (the expectation of the sampled update of lesson 02 over next states; terminal states bootstrap nothing);
2. **policy**: the softmax of the final table, pi(a | s) = exp(q_K(s, a) / tau) / sum_b exp(q_K(s, b) / tau);
3. **meta-objective**: that policy's exact value under a FIXED meta-discount ``meta_gamma`` (the goal, not a
   knob): J = start @ v_pi with (I - meta_gamma P_pi) v_pi = r_pi, a linear solve torch differentiates;
4. **outer loop**: gradient ascent on J with respect to theta = (logit alpha, logit gamma), where
   alpha = sigmoid(theta_0) and gamma = sigmoid(theta_1) stay in (0, 1).

The max in step 1 is differentiable wherever the maximising action is unique, which is almost everywhere.

=============  ==========  ======================================================
name           shape       meaning
=============  ==========  ======================================================
``P``          (S, A, S)   transition probabilities
``r``          (S, A)      expected reward of each (s, a)
``terminal``   (S,)        1.0 for terminal states, else 0.0
``start``      (S,)        start distribution
``q``          (S, A)      action values; ``pi`` (S, A) a policy
=============  ==========  ======================================================

This module imports torch; :mod:`metarl_edu` reaches it only on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from metarl_edu._checks import check_number
from metarl_edu.mdp import TabularMDP
from metarl_edu.studies.hyperparams import single_thread

__all__ = [
    "MDPTensors",
    "MetaGradientResult",
    "expected_q_learning",
    "meta_gradient_ascent",
    "meta_objective",
    "mdp_tensors",
    "objective_grid",
    "policy_value",
    "softmax_policy",
]


class MDPTensors(NamedTuple):
    """A TabularMDP's arrays as float64 tensors: P (S, A, S), r (S, A), terminal (S,) in {0, 1}, start (S,)."""

    P: torch.Tensor
    r: torch.Tensor
    terminal: torch.Tensor
    start: torch.Tensor


def mdp_tensors(mdp: TabularMDP) -> MDPTensors:
    """The arrays of ``mdp`` as float64 tensors (double precision, so that finite differences can check
    gradients)."""
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a metarl_edu.TabularMDP; got {type(mdp).__name__}")
    as_tensor = lambda x: torch.tensor(np.array(x, dtype=float), dtype=torch.float64)  # noqa: E731  (a copy)
    return MDPTensors(as_tensor(mdp.P), as_tensor(mdp.r_sa), as_tensor(mdp.terminal), as_tensor(mdp.start))


def expected_q_learning(m: MDPTensors, alpha: torch.Tensor, gamma: torch.Tensor, K: int) -> torch.Tensor:
    """q_K after K synchronous expected Q-learning updates from q_0 = 0 (step 1 of the module docstring).

    The bootstrap term ``max_a' q(s', a')`` is multiplied by ``1 - terminal[s']``: nothing follows a terminal
    state. Returns (S, A).
    """
    q = torch.zeros_like(m.r)
    for _ in range(K):
        v_next = q.max(dim=1).values * (1.0 - m.terminal)  # (S,) best next value, 0 after termination
        target = m.r + gamma * m.P @ v_next  # (S, A) expected target
        q = q + alpha * (target - q)
    return q


def softmax_policy(q: torch.Tensor, tau: float) -> torch.Tensor:
    """pi(a | s) = exp(q(s, a) / tau) / sum_b exp(q(s, b) / tau), shape (S, A); tau > 0 is the temperature."""
    return torch.softmax(q / tau, dim=1)


def policy_value(m: MDPTensors, pi: torch.Tensor, meta_gamma: float) -> torch.Tensor:
    """J = start @ v_pi, where (I - meta_gamma P_pi) v_pi = r_pi, with terminal states worth 0.

    P_pi[s, s'] = sum_a pi(a | s) P(s' | s, a) and r_pi[s] = sum_a pi(a | s) r(s, a); the rows of terminal
    states are zeroed (the episode has ended there). meta_gamma in [0, 1).
    """
    live = (1.0 - m.terminal)[:, None]
    P_pi = torch.einsum("sa,sat->st", pi, m.P) * live
    r_pi = (pi * m.r).sum(dim=1) * live[:, 0]
    eye = torch.eye(len(r_pi), dtype=r_pi.dtype)
    v = torch.linalg.solve(eye - meta_gamma * P_pi, r_pi)
    return m.start @ v


def meta_objective(theta: torch.Tensor, m: MDPTensors, K: int, tau: float, meta_gamma: float) -> torch.Tensor:
    """J(theta): the value, under ``meta_gamma``, of the softmax policy after K expected updates with
    alpha = sigmoid(theta[0]) and gamma = sigmoid(theta[1]). Differentiable in theta."""
    alpha, gamma = torch.sigmoid(theta[0]), torch.sigmoid(theta[1])
    return policy_value(m, softmax_policy(expected_q_learning(m, alpha, gamma, K), tau), meta_gamma)


def _logit(name: str, x: float) -> float:
    x = check_number(name, x, 0.0, 1.0, low_open=True, high_open=True)
    return float(np.log(x / (1.0 - x)))


@dataclass(frozen=True)
class MetaGradientResult:
    """The path of meta-gradient ascent.

    Attributes:
        alphas, gammas: (n_steps + 1,) the hyperparameters before each step and after the last.
        objectives: (n_steps + 1,) J at those points.
        alpha, gamma, objective: the final values.
    """

    alphas: np.ndarray
    gammas: np.ndarray
    objectives: np.ndarray

    @property
    def alpha(self) -> float:
        return float(self.alphas[-1])

    @property
    def gamma(self) -> float:
        return float(self.gammas[-1])

    @property
    def objective(self) -> float:
        return float(self.objectives[-1])


def meta_gradient_ascent(mdp: TabularMDP, *, K: int = 10, meta_gamma: float = 0.9, tau: float = 0.05,
                         n_steps: int = 200, lr: float = 0.5, alpha0: float = 0.1,
                         gamma0: float = 0.5) -> MetaGradientResult:
    """Learn alpha and gamma by gradient ascent on :func:`meta_objective`: theta <- theta + lr * dJ/dtheta.

    Args:
        mdp: a small TabularMDP (its own gamma is not used: ``meta_gamma`` is the goal).
        K: inner updates. meta_gamma: the fixed meta-discount in [0, 1). tau: softmax temperature > 0.
        n_steps: outer steps. lr: step size on the logits. alpha0, gamma0: starting values in (0, 1).
    """
    check_number("meta_gamma", meta_gamma, 0.0, 1.0, high_open=True)  # < 1, so that the value is finite
    check_number("tau (the softmax temperature)", tau, 0.0, low_open=True)
    m = mdp_tensors(mdp)
    theta = torch.tensor([_logit("alpha0", alpha0), _logit("gamma0", gamma0)], dtype=torch.float64, requires_grad=True)
    history = []
    with single_thread():
        for step in range(n_steps + 1):
            J = meta_objective(theta, m, K, tau, meta_gamma)
            history.append((torch.sigmoid(theta[0]).item(), torch.sigmoid(theta[1]).item(), J.item()))
            if step == n_steps:
                break
            (grad,) = torch.autograd.grad(J, theta)
            with torch.no_grad():
                theta += lr * grad  # ascent: J is a value to maximise
    alphas, gammas, objectives = (np.array(column) for column in zip(*history, strict=True))
    return MetaGradientResult(alphas, gammas, objectives)


def objective_grid(mdp: TabularMDP, alphas: np.ndarray, gammas: np.ndarray, *, K: int = 10,
                   meta_gamma: float = 0.9, tau: float = 0.05) -> np.ndarray:
    """J at every (alpha, gamma) of a grid, shape (len(alphas), len(gammas)): the sweep that the gradient
    replaces."""
    m = mdp_tensors(mdp)
    grid = np.empty((len(alphas), len(gammas)))
    with torch.no_grad(), single_thread():
        for i, alpha in enumerate(alphas):
            for j, gamma in enumerate(gammas):
                pi = softmax_policy(expected_q_learning(m, torch.tensor(float(alpha), dtype=torch.float64),
                                                        torch.tensor(float(gamma), dtype=torch.float64), K), tau)
                grid[i, j] = policy_value(m, pi, meta_gamma).item()
    return grid
