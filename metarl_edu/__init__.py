"""metarl_edu: the library behind the metarl-edu course on meta-reinforcement learning.

Tabular names (MDPs, dynamic programming, environments) import at once; names built on torch are imported
lazily on first use, so the tabular lessons start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from metarl_edu import envs  # noqa: F401  (registers the metarl_edu/ Gymnasium environments)
from metarl_edu.agents import Discretizer, ExponentialSchedule, LinearSchedule, QLearningAgent
from metarl_edu.config import quick, size, strict
from metarl_edu.fast.qlearning import BatchedQLearning
from metarl_edu.mdp import (
    TabularMDP,
    bellman_expectation_backup,
    bellman_optimality_backup,
    discounted_return,
    greedy_policy,
    iterative_policy_evaluation,
    policy_evaluation,
    q_from_v,
    value_iteration,
)
from metarl_edu.td import epsilon_greedy, expected_sarsa_update, q_learning_update, sarsa_update, td_target

__version__ = "0.1.0"

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    # RL^2 (lesson 09)
    "RL2Agent": "metarl_edu.rl2",
    "RL2Config": "metarl_edu.rl2",
    "evaluate_rl2": "metarl_edu.studies.rl2",
    "train_rl2": "metarl_edu.studies.rl2",
    "collect_gym_trials": "metarl_edu.rl2_gym",
    # policy gradients (lesson 06)
    "CategoricalMLPPolicy": "metarl_edu.nets",
    "GaussianMLPPolicy": "metarl_edu.nets",
    "make_policy": "metarl_edu.nets",
    "sample_episodes": "metarl_edu.pg",
    "sample_batched_episodes": "metarl_edu.pg",
    "discounted_returns": "metarl_edu.pg",
    "linear_baseline": "metarl_edu.pg",
    "reinforce_loss": "metarl_edu.pg",
    # MAML (lesson 07)
    "inner_update": "metarl_edu.maml",
    "adapt": "metarl_edu.maml",
    "maml_loss": "metarl_edu.maml",
    "SinusoidTasks": "metarl_edu.studies.sinusoid",
    "SinusoidConfig": "metarl_edu.studies.sinusoid",
    "MAMLRegression": "metarl_edu.studies.sinusoid",
    "PretrainedRegression": "metarl_edu.studies.sinusoid",
    # MAML for RL (lesson 08)
    "MAMLAgent": "metarl_edu.maml_rl",
    "PretrainedAgent": "metarl_edu.studies.maml_rl",
    "MAMLRLConfig": "metarl_edu.maml_rl",
    # 2D navigation, a Gymnasium env and its torch-batched twin
    "Navigation2DEnv": "metarl_edu.envs.navigation",
    "BatchedNavigation2D": "metarl_edu.fast.envs",
}

__all__ = [
    "BatchedQLearning",
    "Discretizer",
    "ExponentialSchedule",
    "LinearSchedule",
    "QLearningAgent",
    "TabularMDP",
    "bellman_expectation_backup",
    "bellman_optimality_backup",
    "discounted_return",
    "epsilon_greedy",
    "expected_sarsa_update",
    "greedy_policy",
    "iterative_policy_evaluation",
    "policy_evaluation",
    "q_from_v",
    "q_learning_update",
    "quick",
    "sarsa_update",
    "size",
    "strict",
    "td_target",
    "value_iteration",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metarl_edu' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
