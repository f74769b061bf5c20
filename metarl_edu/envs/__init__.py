"""Gymnasium environments and task families, registered under the ``metarl_edu/`` namespace.

>>> import gymnasium as gym, metarl_edu
>>> env = gym.make("metarl_edu/GridWorld-v0")
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from metarl_edu.envs.bandit import BernoulliBanditEnv
from metarl_edu.envs.cartpole import CartPoleTask, CartPoleTaskEnv
from metarl_edu.envs.gridworld import LAYOUTS, GridWorld, GridWorldEnv
from metarl_edu.envs.random_mdp import RandomMDPEnv
from metarl_edu.envs.tabular import TabularMDPEnv
from metarl_edu.envs.tasks import (
    BanditFamily,
    BanditTask,
    CartPoleFamily,
    FrozenLakeFamily,
    FrozenLakeTask,
    GridTask,
    GridWorldFamily,
    RandomMDPFamily,
    RandomMDPTask,
    TaskFamily,
    task_key,
)
from metarl_edu.mdp import finite_horizon_q, finite_horizon_value  # exact optima of the finite-horizon tasks

__all__ = ["LAYOUTS", "GridWorld", "GridWorldEnv", "TabularMDPEnv"]
__all__ += [  # task distributions
    "BanditFamily",
    "BanditTask",
    "BernoulliBanditEnv",
    "CartPoleFamily",
    "CartPoleTask",
    "CartPoleTaskEnv",
    "FrozenLakeFamily",
    "FrozenLakeTask",
    "GridTask",
    "GridWorldFamily",
    "RandomMDPEnv",
    "RandomMDPFamily",
    "RandomMDPTask",
    "TaskFamily",
    "finite_horizon_q",
    "finite_horizon_value",
    "task_key",
]

if "metarl_edu/GridWorld-v0" not in registry:
    register(
        id="metarl_edu/GridWorld-v0",
        entry_point="metarl_edu.envs.gridworld:GridWorldEnv",
        max_episode_steps=100,
    )

if "metarl_edu/CartPoleTasks-v0" not in registry:
    register(
        id="metarl_edu/CartPoleTasks-v0",
        entry_point="metarl_edu.envs.cartpole:CartPoleTaskEnv",
        max_episode_steps=500,
        reward_threshold=475.0,
    )

# Registered by name only: the navigation module also holds the torch-batched env, and `import metarl_edu`
# must not import torch. `from metarl_edu.envs.navigation import Navigation2DEnv` for the class.
if "metarl_edu/Navigation2D-v0" not in registry:
    register(id="metarl_edu/Navigation2D-v0", entry_point="metarl_edu.envs.navigation:Navigation2DEnv")
