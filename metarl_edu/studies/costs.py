"""What each method of the course costs on this machine: wall time and environment steps.

A *cost row* is a name and a function of no arguments that runs a method once and returns ``(result,
env_steps)``: whatever the run produced, and how many environment steps (or, for supervised tasks, data points)
it consumed. :func:`measure_cost` times one row; :func:`cost_table` times many and :func:`format_cost_table` prints
them. :func:`course_methods` holds the rows of the methods built so far; a later method adds itself with one line,
for example ``methods["RL^2, bandits (lesson 09)"] = rl2_cost`` where ``rl2_cost() -> (result, env_steps)``.

Sizes follow :func:`metarl_edu.config.size`: quick mode measures small runs, full mode the lessons' own budgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from metarl_edu._checks import check_int
from metarl_edu.config import size

__all__ = ["Cost", "cost_table", "course_methods", "format_cost_table", "measure_cost"]

CostRow = Callable[[], tuple[Any, int]]


class Cost(NamedTuple):
    """One measured run: ``seconds`` of wall time, ``env_steps`` consumed, and the run's ``result``."""

    seconds: float
    env_steps: int
    result: Any

    @property
    def steps_per_second(self) -> float:
        return self.env_steps / self.seconds if self.seconds > 0 else float("inf")


def measure_cost(fn: CostRow) -> Cost:
    """Run ``fn()``, which returns ``(result, env_steps)``, and time it with ``time.perf_counter``.

    >>> cost = measure_cost(lambda: ("done", 10))
    >>> cost.env_steps, cost.result
    (10, 'done')
    """
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"a cost row must return (result, env_steps); got {type(out).__name__}: {out!r:.80}")
    result, env_steps = out
    return Cost(seconds, check_int("env_steps", env_steps, low=0), result)


def cost_table(methods: Mapping[str, CostRow], progress: bool = False) -> dict[str, Cost]:
    """:func:`measure_cost` of every row, in order: name -> :class:`Cost`."""
    return {name: measure_cost(fn) for name, fn in tqdm(methods.items(), desc="costs", disable=not progress)}


def format_cost_table(costs: Mapping[str, Cost]) -> str:
    """A plain-text table: method, wall time (s), environment steps and steps per second."""
    width = max(len(name) for name in costs) + 2
    lines = [f"{'method':<{width}}{'wall time (s)':>14}{'env steps':>12}{'steps / s':>12}"]
    for name, cost in costs.items():
        lines.append(f"{name:<{width}}{cost.seconds:>14.2f}{cost.env_steps:>12,}{cost.steps_per_second:>12,.0f}")
    return "\n".join(lines)


# ============================================================================================ the course's methods
def q_learning_gridworld_cost() -> tuple[Any, int]:
    """Tabular Q-learning on one gridworld task (lesson 02): returns of every training episode."""
    from metarl_edu.agents import QLearningAgent
    from metarl_edu.envs.tasks import GridTask, GridWorldFamily

    family = GridWorldFamily()
    agent = QLearningAgent(family.make_env(GridTask((5, 5), 0.1)), alpha=0.5, gamma=0.95, seed=0, progress=False)
    returns = agent.train(size(quick=100, full=500))
    return returns, agent.n_transitions


def q_learning_cartpole_cost() -> tuple[Any, int]:
    """Tabular Q-learning on CartPole-v1 (lesson 03)."""
    import gymnasium as gym

    from metarl_edu.agents import QLearningAgent

    agent = QLearningAgent(gym.make("CartPole-v1"), seed=0, progress=False)
    returns = agent.train(size(quick=100, full=1000))
    return returns, agent.n_transitions


def batched_q_learning_cost() -> tuple[Any, int]:
    """Batched Q-learning on many FrozenLake maps at once (lesson 04)."""
    from metarl_edu.envs.tasks import FrozenLakeFamily
    from metarl_edu.fast.qlearning import BatchedQLearning

    family = FrozenLakeFamily(size=4)
    tasks = family.sample(size(quick=50, full=200), np.random.default_rng(0))
    batch = BatchedQLearning([family.to_mdp(t) for t in tasks], alpha=0.1, seed=0, progress=False)
    returns = batch.train(size(quick=100, full=500))
    return returns, batch.n_transitions


def bandit_cost(strategy_name: str) -> CostRow:
    """A bandit strategy on 1000 Bernoulli bandits with 5 arms (lesson 09): one pull is one environment step."""

    def run() -> tuple[Any, int]:
        from metarl_edu.bandits import UCB1, ThompsonSampling
        from metarl_edu.studies.bandit_baselines import evaluate_strategy

        strategy = {"Thompson": ThompsonSampling(), "UCB1": UCB1()}[strategy_name]
        n_pulls, n_bandits = size(quick=50, full=100), 1000
        return evaluate_strategy(strategy, n_pulls, 5, n_bandits, rng=0), n_pulls * n_bandits

    return run


def maml_sinusoid_cost() -> CostRow:
    """MAML meta-steps on sinusoid regression (lesson 07); its "steps" are data points (x, y), support and query.

    Importing torch and building the network happen here, before the clock starts. The run uses one torch thread:
    a network this small gains nothing from more, and loses much when the machine's cores are busy.
    """
    import torch

    from metarl_edu.studies.sinusoid import MAMLRegression

    learner = MAMLRegression(seed=0)

    def run() -> tuple[Any, int]:
        n, c, threads = size(quick=5, full=200), learner.config, torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            losses = learner.train(n, progress=False)
        finally:
            torch.set_num_threads(threads)
        return losses, n * c.meta_batch * 2 * c.k_shot

    return run


def maml_rl_cost() -> CostRow:
    """MAML for RL on 2D navigation (lesson 08), with the paper's meta-batch of 20 tasks x 20 trajectories and the
    library's two inner steps: meta-iterations of :class:`~metarl_edu.maml_rl.MAMLAgent`. Every step the agent
    samples counts, inner batches and D' alike (the agent's own ``env_steps``).

    Importing torch and building the agent happen here, before the clock starts; the run uses one torch thread.
    """
    import torch

    from metarl_edu.envs.navigation import Navigation2DFamily
    from metarl_edu.maml_rl import MAMLAgent

    agent = MAMLAgent(Navigation2DFamily(), seed=0, verbose=False)

    def run() -> tuple[Any, int]:
        n, threads, before = size(quick=1, full=10), torch.get_num_threads(), agent.env_steps
        torch.set_num_threads(1)
        try:
            history = agent.train(n, progress=False)
        finally:
            torch.set_num_threads(threads)
        return history, agent.env_steps - before

    return run


def rl2_bandit_cost() -> CostRow:
    """RL^2 training iterations on bandits with n = 10 pulls and k = 5 arms (lesson 09's preset); one pull of one
    trial is one environment step, rollouts and gradient steps included.

    Importing torch and building the agent happen here, before the clock starts. Training runs on one torch thread
    (as :func:`metarl_edu.studies.rl2.train_rl2` does).
    """
    from metarl_edu.rl2 import RL2Agent
    from metarl_edu.studies.rl2 import preset, torch_threads

    agent = RL2Agent(preset("bandit", 10))

    def run() -> tuple[Any, int]:
        n, c = size(quick=2, full=30), agent.config
        with torch_threads(1):
            agent.train(n, progress=False)
        return agent.history[-n:], n * c.n_tasks * c.steps_per_trial

    return run


def course_methods(torch_methods: bool = True) -> dict[str, CostRow]:
    """The course's methods, one cost row each; add a method with one line (see the module docstring). A row that
    needs set-up (imports, building a network) is made by a function that does it and returns the row.

    ``torch_methods=False`` leaves out the rows built on torch, whose import and first optimiser alone take
    seconds (lesson 10's quick mode does so, to keep the test suite fast).
    """
    methods: dict[str, CostRow] = {
        "Q-learning, 1 gridworld task (02)": q_learning_gridworld_cost,
        "Q-learning, CartPole-v1 (03)": q_learning_cartpole_cost,
        "batched Q-learning, FrozenLake maps (04)": batched_q_learning_cost,
        "Thompson sampling, 1000 bandits (09)": bandit_cost("Thompson"),
        "UCB1, 1000 bandits (09)": bandit_cost("UCB1"),
    }
    if torch_methods:
        methods["MAML sinusoid meta-steps (07, data points)"] = maml_sinusoid_cost()
        methods["MAML-RL, 2D navigation (08)"] = maml_rl_cost()
        methods["RL^2 training, bandits n=10 (09)"] = rl2_bandit_cost()
    return methods
