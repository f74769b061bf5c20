"""Speed benchmarks of the tabular Q-learning code: ``metarl-edu bench qlearning``.

Environment transitions per second of

(a) the plain per-step Python loop a lesson shows (:func:`textbook_q_learning`) on Gymnasium's ``FrozenLake-v1``,
(b) :class:`~metarl_edu.qlearning.QLearningAgent` on the same env,
(c) :class:`~metarl_edu.qlearning.BatchedQLearning` on 1,000 random 4 x 4 FrozenLake maps at once, counting only
    real transitions (rows still learning),

and the ratios (b)/(a) and (c)/(a). Times are CPU seconds of this process (``time.process_time``), so that other
work on a shared machine does not count; on an idle machine they equal wall-clock seconds (all three run on one
core). Runs are interleaved and repeated, and the figures are medians.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np

ALPHA, GAMMA, EPSILON = 0.1, 0.99, 0.1


def textbook_q_learning(env: Any, n_episodes: int, alpha: float, gamma: float, epsilon: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Tabular Q-learning as in Sutton & Barto (2018), section 6.5, one step at a time. Returns ``(q, n)``, the
    learned table (S, A) and the number of transitions taken."""
    q = np.zeros((env.observation_space.n, env.action_space.n))
    n_transitions = 0
    for _ in range(n_episodes):
        s, _ = env.reset()
        done = False
        while not done:
            if rng.random() < epsilon:
                a = int(rng.integers(env.action_space.n))  # explore
            else:
                a = int(np.argmax(q[s]))  # exploit
            s_next, r, terminated, truncated, _ = env.step(a)
            target = r if terminated else r + gamma * np.max(q[s_next])  # no bootstrap from a terminal state
            q[s, a] += alpha * (target - q[s, a])
            s = s_next
            done = terminated or truncated
            n_transitions += 1
    return q, n_transitions


def frozen_lake_tasks(n_tasks: int, size: int = 4, gamma: float = GAMMA) -> list:
    """``n_tasks`` random slippery FrozenLake maps (``generate_random_map(size, seed=i)``) as TabularMDPs."""
    from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv, generate_random_map

    from metarl_edu.mdp import TabularMDP

    return [TabularMDP.from_gymnasium(FrozenLakeEnv(desc=generate_random_map(size, seed=i)), gamma=gamma)
            for i in range(n_tasks)]


def bench_qlearning(n_episodes: int = 3000, n_tasks: int = 1000, n_batched_episodes: int = 300,
                    repeats: int = 5, seed: int = 0) -> dict[str, float]:
    """Transitions per second of (a) :func:`textbook_q_learning`, (b) ``QLearningAgent`` (both ``n_episodes``
    episodes of ``FrozenLake-v1``) and (c) ``BatchedQLearning`` (``n_tasks`` maps x ``n_batched_episodes``
    episodes); alpha 0.1, gamma 0.99, epsilon 0.1. Medians over ``repeats`` interleaved runs; the ratios are
    medians of the ratios within each repeat."""
    import gymnasium as gym

    from metarl_edu.qlearning import BatchedQLearning, QLearningAgent

    tasks = frozen_lake_tasks(n_tasks)
    rates: dict[str, list[float]] = {"loop": [], "agent": [], "batched": []}
    for repeat in range(repeats):
        env = gym.make("FrozenLake-v1")
        env.reset(seed=seed + repeat)
        rng = np.random.default_rng(seed + repeat)
        start = time.process_time()
        _, n = textbook_q_learning(env, n_episodes, ALPHA, GAMMA, EPSILON, rng)
        rates["loop"].append(n / (time.process_time() - start))

        agent = QLearningAgent(gym.make("FrozenLake-v1"), alpha=ALPHA, gamma=GAMMA, epsilon=EPSILON,
                               seed=seed + repeat, progress=False)
        start = time.process_time()
        agent.train(n_episodes)
        rates["agent"].append(agent.n_transitions / (time.process_time() - start))

        batch = BatchedQLearning(tasks, alpha=ALPHA, gamma=GAMMA, epsilon=EPSILON, seed=seed + repeat,
                                 progress=False)
        start = time.process_time()
        batch.train(n_batched_episodes)
        rates["batched"].append(batch.n_transitions / (time.process_time() - start))
    loop = np.array(rates["loop"])
    # ratios within each repeat (the three runs of a repeat share the machine's conditions), then medians
    return {
        "loop_per_s": statistics.median(rates["loop"]),
        "agent_per_s": statistics.median(rates["agent"]),
        "batched_per_s": statistics.median(rates["batched"]),
        "agent_vs_loop": float(np.median(np.array(rates["agent"]) / loop)),
        "batched_vs_loop": float(np.median(np.array(rates["batched"]) / loop)),
        "load_average": os.getloadavg()[0],
    }


def format_qlearning(figures: dict[str, float]) -> str:
    """The figures of :func:`bench_qlearning` as a small table."""
    return "\n".join([
        "Q-learning, environment transitions per CPU second (medians):",
        f"  (a) textbook loop, FrozenLake-v1         {figures['loop_per_s']:>12,.0f}",
        f"  (b) QLearningAgent, FrozenLake-v1        {figures['agent_per_s']:>12,.0f}   (b)/(a) = "
        f"{figures['agent_vs_loop']:.2f}",
        f"  (c) BatchedQLearning, 1,000 maps         {figures['batched_per_s']:>12,.0f}   (c)/(a) = "
        f"{figures['batched_vs_loop']:.0f}x",
        f"  load average during the run: {figures['load_average']:.2f} (with more than one process per core, the "
        "figures drop for all three)",
    ])



def bench_hyperparams(n_tasks: int = 50, n_episodes: int = 100, n_naive: int = 20, repeats: int = 3,
                      seed: int = 0) -> dict[str, float]:
    """Task x setting evaluations per second on ``GridWorldFamily()``. One evaluation = Q-learning for
    ``n_episodes`` episodes on one task with one setting, then the exact score of its greedy policy:

    (a) one at a time: ``QLearningAgent`` on the task's env, then its greedy policy scored exactly (``n_naive``
        evaluations);
    (b) :func:`~metarl_edu.hyperparams.sweep`: ``n_tasks`` tasks x 36 settings, batched.

    Medians over ``repeats`` interleaved runs, and the ratio (b)/(a).
    """
    from metarl_edu.envs.tasks import GridWorldFamily
    from metarl_edu.hyperparams import policy_returns, setting_grid, sweep, task_objective
    from metarl_edu.qlearning import QLearningAgent

    family = GridWorldFamily()
    tasks = family.sample(n_tasks, np.random.default_rng(seed))
    settings = setting_grid([0.1, 0.3, 1.0], [0.1, 0.3, 1.0], [0.9, 0.95], ["constant", "linear"])
    rates: dict[str, list[float]] = {"naive": [], "sweep": []}
    for repeat in range(repeats):
        start = time.perf_counter()
        objectives = {}  # one exact optimum per task, as the sweep computes it
        for i in range(n_naive):
            task, setting = tasks[i % n_tasks], settings[(7 * i) % len(settings)]
            epsilon = setting.epsilons(n_episodes)
            agent = QLearningAgent(family.make_env(task), alpha=setting.alpha, gamma=setting.gamma,
                                   epsilon=lambda e, table=epsilon: float(table[e]), seed=seed + repeat * n_naive + i,
                                   progress=False, max_steps=family.max_episode_steps)
            agent.train(n_episodes)
            if i % n_tasks not in objectives:
                objectives[i % n_tasks] = task_objective(family, task)
            objective = objectives[i % n_tasks]
            mdp = objective.mdp
            j = policy_returns(mdp.P[None], mdp.R[None], mdp.terminal[None], mdp.start[None], np.array([mdp.gamma]),
                               agent.greedy_policy()[None])
            objective.normalise(j)
        rates["naive"].append(n_naive / (time.perf_counter() - start))

        start = time.perf_counter()
        sweep(family, tasks, settings, n_episodes=n_episodes, n_seeds=1, seed=seed + repeat, progress=False)
        rates["sweep"].append(n_tasks * len(settings) / (time.perf_counter() - start))
    naive, batched = statistics.median(rates["naive"]), statistics.median(rates["sweep"])
    return {"naive_per_s": naive, "sweep_per_s": batched, "sweep_vs_naive": batched / naive,
            "n_runs": float(n_tasks * len(settings)), "n_episodes": float(n_episodes),
            "load_average": os.getloadavg()[0]}


def format_hyperparams(figures: dict[str, float]) -> str:
    """The figures of :func:`bench_hyperparams` as a small table."""
    return "\n".join([
        f"Hyperparameter sweeps, task x setting evaluations per second (medians; gridworlds, "
        f"{figures['n_episodes']:.0f} episodes each):",
        f"  (a) one at a time: QLearningAgent + exact score  {figures['naive_per_s']:>10,.1f}",
        f"  (b) sweep(), {figures['n_runs']:,.0f} runs batched          {figures['sweep_per_s']:>10,.1f}   (b)/(a) = "
        f"{figures['sweep_vs_naive']:.0f}x",
        f"  load average during the run: {figures['load_average']:.2f} (other work on the machine slows both)",
    ])
