"""Speed benchmarks (not tests): ``metarl-edu bench NAME``, each reported as ratios against a simple reference
run in the same process (a textbook loop, a plain autograd loop, the single Gymnasium env), medians over repeats.

Each benchmark is one function returning a dict of figures, so a lesson or a script can call it too. Torch timings
use ``torch.set_num_threads(2)``, the course's 2-core target machine (``--threads N`` to change it). Other busy
processes distort them badly: with fewer free cores than threads, every small matrix product that torch splits
over two threads waits for a core, so the load average is printed next to each result. Measured figures live in
docs/RESULTS.md (``make full``), never here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------- Q-learning, sweeps
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

    from metarl_edu.agents import QLearningAgent
    from metarl_edu.fast.qlearning import BatchedQLearning

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
    (b) :func:`~metarl_edu.studies.hyperparams.sweep`: ``n_tasks`` tasks x 30 settings (a 3 x 3 x 2 x 2 grid, less the
        duplicates of epsilon 1), batched.

    Medians over ``repeats`` interleaved runs, and the ratio (b)/(a).
    """
    from metarl_edu.agents import QLearningAgent
    from metarl_edu.envs.tasks import GridWorldFamily
    from metarl_edu.studies.hyperparams import policy_returns, setting_grid, sweep, task_objective

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


N_THREADS = 2


# --------------------------------------------------------------------------------------------- MAML, sinusoids
# The course's target for the plain loop over tasks with torch.autograd.grad(create_graph=True), 1,000
# meta-iterations of meta-batch 25 on a 2-core machine: the benchmark reports the measured loop against it.
SINUSOID_LOOP_REFERENCE_S = 19.5


def bench_sinusoid(n_iterations: int = 1000, repeats: int = 3, warmup: int = 20, threads: int = N_THREADS) -> dict:
    """Seconds for ``n_iterations`` MAML meta-updates on sinusoids (meta-batch 25, K = 10, one inner step,
    second order): the vmapped meta-step (:func:`~metarl_edu.maml.maml_loss`) against the plain autograd loop
    over tasks (:func:`~metarl_edu.studies.sinusoid.maml_loss_loop`), same network, interleaved repeats, medians.
    """
    import torch

    from metarl_edu.studies.sinusoid import MAMLRegression

    torch.set_num_threads(threads)
    times: dict[str, list[float]] = {"vmap_s": [], "loop_s": []}
    for repeat in range(repeats):
        for name, vectorized in (("vmap_s", True), ("loop_s", False)):
            learner = MAMLRegression(seed=repeat)
            for _ in range(warmup):
                learner.step(vectorized=vectorized)
            start = time.perf_counter()
            for _ in range(n_iterations):
                learner.step(vectorized=vectorized)
            times[name].append(time.perf_counter() - start)
    vmap_s, loop_s = statistics.median(times["vmap_s"]), statistics.median(times["loop_s"])
    return {
        "n_iterations": n_iterations,
        "threads": threads,
        "vmap_s": vmap_s,
        "loop_s": loop_s,
        "speedup": loop_s / vmap_s,
        "loop_vs_reference": loop_s / (SINUSOID_LOOP_REFERENCE_S * n_iterations / 1000),
    }


# --------------------------------------------------------------------------------------------- 2D navigation env
def bench_navigation(
    n_tasks: int = 20, n_traj: int = 20, n_single_steps: int = 20_000, repeats: int = 5, threads: int = N_THREADS
) -> dict:
    """Environment steps per second: the batched torch env (``n_tasks x n_traj`` rows, 100-step episodes) against
    the single Gymnasium env made by ``gym.make`` (and its unwrapped class), random actions drawn beforehand.

    Also the same comparison for whole rollouts with a Gaussian MLP policy (:func:`~metarl_edu.pg.sample_episodes`
    against :func:`~metarl_edu.pg.sample_batched_episodes`). A batched step counts only rows still running.
    """
    import gymnasium as gym
    import torch

    import metarl_edu  # noqa: F401  (registers the env)
    from metarl_edu.envs.navigation import sample_goals
    from metarl_edu.fast.envs import BatchedNavigation2D
    from metarl_edu.nets import GaussianMLPPolicy
    from metarl_edu.pg import sample_batched_episodes, sample_episodes

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    goals = sample_goals(n_tasks, rng)

    def single_steps_per_s(env: gym.Env) -> float:
        actions = rng.uniform(-0.15, 0.15, size=(n_single_steps, 2)).astype(np.float32)
        env.reset(seed=0)
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return n_single_steps / (time.perf_counter() - start)

    def batched_steps_per_s(env: BatchedNavigation2D) -> float:
        actions = torch.as_tensor(rng.uniform(-0.15, 0.15, size=(100, n_tasks, n_traj, 2)), dtype=torch.float32)
        env.reset()
        done_before = []
        start = time.perf_counter()
        for a in actions:
            done_before.append(env.done)  # the env replaces env.done at each step, never changes it in place
            env.step(a)
        seconds = time.perf_counter() - start
        return int((~torch.stack(done_before)).sum()) / seconds

    policy = GaussianMLPPolicy(2, 2, seed=0)
    n_episodes = max(1, n_single_steps // 1000)

    def rollout_steps_per_s(batched: bool) -> float:
        generator = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        if batched:
            episodes = sample_batched_episodes(BatchedNavigation2D(goals, n_traj), policy, generator=generator)
        else:
            episodes = sample_episodes(gym.make("metarl_edu/Navigation2D-v0", goal=goals[0]), policy, n_episodes,
                                       generator=generator, seed=0)
        return float(episodes.mask.sum()) / (time.perf_counter() - start)

    figures: dict[str, list[float]] = {k: [] for k in ("single", "single_unwrapped", "batched", "rollout_single",
                                                        "rollout_batched")}
    for _ in range(repeats):
        figures["single"].append(single_steps_per_s(gym.make("metarl_edu/Navigation2D-v0", goal=goals[0])))
        figures["single_unwrapped"].append(single_steps_per_s(gym.make("metarl_edu/Navigation2D-v0").unwrapped))
        figures["batched"].append(batched_steps_per_s(BatchedNavigation2D(goals, n_traj)))
        figures["rollout_single"].append(rollout_steps_per_s(batched=False))
        figures["rollout_batched"].append(rollout_steps_per_s(batched=True))
    medians = {f"{k}_steps_per_s": statistics.median(v) for k, v in figures.items()}
    medians["speedup"] = medians["batched_steps_per_s"] / medians["single_steps_per_s"]
    medians["speedup_vs_unwrapped"] = medians["batched_steps_per_s"] / medians["single_unwrapped_steps_per_s"]
    medians["rollout_speedup"] = medians["rollout_batched_steps_per_s"] / medians["rollout_single_steps_per_s"]
    return {"batch_shape": (n_tasks, n_traj), "threads": threads, **medians}


# --------------------------------------------------------------------------------------------- MAML-RL, 2D navigation
def _rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_maml_rl(seeds: tuple[int, ...] = (0, 1, 2), n_iterations: int | None = None, eval_every: int = 50,
                  threads: int = 1, eval_tasks: int | None = None) -> dict:
    """Whole default MAML training runs on 2D navigation (the paper's 20 tasks x 20 trajectories, horizon 100),
    each to the end of its budget, evaluated every ``eval_every`` meta-iterations on ``eval_tasks`` (default
    ``EVAL_TASKS``) held-out goals after 0-3 inner steps on the paper's test batch (evaluation time not counted).
    Reports each seed's curve, the final returns next to Finn et al.'s Table 4, and the stability measure the course
    asks of it: the largest drop of the one-step return below its best so far, in percent.

    Memory: the process's peak resident set (``ru_maxrss``) minus its resident memory after the imports (those
    that torch imports lazily included: the first Adam step loads ``torch._dynamo``).
    """
    import resource

    import torch
    import torch._dynamo  # noqa: F401  torch.optim imports it on first use: about 70 MB of modules, not data

    from metarl_edu.envs.navigation import Navigation2DEnv
    from metarl_edu.maml_rl import MAMLAgent
    from metarl_edu.studies.maml_rl import EVAL_SEED, EVAL_STEPS, EVAL_TASKS, PAPER_NAV2D_MAML

    torch.set_num_threads(threads)
    rss_after_imports = _rss_mb()
    figures: dict = {"threads": threads, "paper_table4": PAPER_NAV2D_MAML}
    seconds, per_iteration = [], []
    for seed in seeds:
        agent = MAMLAgent(Navigation2DEnv(), seed=seed, verbose=False)
        budget = n_iterations or agent.config.n_iterations
        train_s, curve = 0.0, {}
        for start in range(0, budget, eval_every):
            clock = time.perf_counter()
            agent.train(min(eval_every, budget - start), progress=False)
            train_s += time.perf_counter() - clock
            returns = agent.evaluate(n_tasks=eval_tasks or EVAL_TASKS, steps=EVAL_STEPS, seed=EVAL_SEED).returns
            returns = returns.mean(axis=0)
            curve[len(agent.history)] = [round(float(x), 2) for x in returns]
        one_step = np.array([r[1] for r in curve.values()])
        best_so_far = np.maximum.accumulate(one_step)
        figures[f"seed {seed} curve (iteration: after 0-3 steps)"] = curve
        figures[f"seed {seed} largest drop below best, %"] = round(
            float(np.max((best_so_far - one_step) / np.abs(best_so_far)) * 100), 1)
        seconds.append(train_s)
        per_iteration.append(train_s / budget)
    figures["train_s_per_seed"] = [round(x, 1) for x in seconds]
    figures["s_per_iteration_median"] = statistics.median(per_iteration)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
    figures["peak_memory_above_imports_mb"] = peak_mb - rss_after_imports
    return figures


# --------------------------------------------------------------------------------------------- bandits, RL^2
def bench_bandits(
    n_pulls: int = 500, k: int = 5, n_bandits: int = 1000, strategies: Sequence[Any] | None = None,
    seed: int = 0, verbose: bool = True,
) -> dict[str, float]:
    """Pulls per second (``n_pulls * n_bandits / seconds``) of each strategy; prints a table when ``verbose``.

    ``strategy.prepare()`` runs before the clock starts; the Gittins table's build time is printed on its own line.
    """
    from metarl_edu.studies.bandit_baselines import Gittins, classic_strategies, evaluate_strategy

    strategies = classic_strategies(n_pulls) if strategies is None else list(strategies)
    speeds: dict[str, float] = {}
    width = max(len(s.name) for s in strategies) + 2
    lines = [f"bandit strategies: {n_bandits} bandits x {n_pulls} pulls, k={k}",
             f"{'strategy':<{width}}{'seconds':>9}{'pulls/s':>14}{'mean total':>13}"]
    for strategy in strategies:
        start = time.perf_counter()
        strategy.prepare()
        if isinstance(strategy, Gittins):
            lines.append(f"  (Gittins index table for gamma={strategy.gamma}, horizon={strategy.horizon}: "
                         f"{time.perf_counter() - start:.2f} s, once)")
        result = evaluate_strategy(strategy, n_pulls, k, n_bandits, rng=seed)
        speeds[strategy.name] = n_pulls * n_bandits / result.seconds
        lines.append(f"{strategy.name:<{width}}{result.seconds:>9.3f}{speeds[strategy.name]:>14,.0f}"
                     f"{result.mean_total:>13.1f}")
    if verbose:
        print("\n".join(lines))
    return speeds


def bench_rl2(configs: Sequence[Any] | None = None, n_iterations: int = 5, verbose: bool = True,
              threads: int | None = 1) -> dict[str, float]:
    """RL^2 training speed: environment steps per second, ``n_tasks * T * n_iterations / seconds``.

    Every step of every trial in a batch counts once (rollout and gradient steps included), so the figure is
    comparable with the bandit strategies' pulls per second. One warm-up iteration runs before the clock starts.
    Defaults to the settings of :func:`preset` for bandits with n = 10 and n = 100 (k = 5) and MDPs with n = 10.
    ``threads`` as in :meth:`RL2Agent.train`.
    """
    import torch

    from metarl_edu.rl2 import RL2Agent
    from metarl_edu.studies.rl2 import preset, torch_threads

    if configs is None:
        configs = [preset("bandit", 10), preset("bandit", 100), preset("mdp", 10)]
    speeds: dict[str, float] = {}
    with torch_threads(threads):
        lines = [f"RL^2 training, {n_iterations} iterations each, {torch.get_num_threads()} torch thread(s)",
                 f"{'config':<42}{'batch':>7}{'T':>5}{'s/iter':>9}{'steps/s':>12}"]
        times = [_time_iterations(RL2Agent(config), n_iterations) for config in configs]
    for config, seconds in zip(configs, times, strict=True):
        speeds[config.name] = config.n_tasks * config.steps_per_trial * n_iterations / seconds
        lines.append(f"{config.name:<42}{config.n_tasks:>7}{config.steps_per_trial:>5}"
                     f"{seconds / n_iterations:>9.3f}{speeds[config.name]:>12,.0f}")
    if verbose:
        print("\n".join(lines))
    return speeds


# --------------------------------------------------------------------------------------------- grading
def bench_grading(n_submissions: int = 30, jobs: int = 2, root: str | None = None, trusted: bool = False
                  ) -> dict[str, Any]:
    """Throughput of ``metarl-edu grade`` on lesson 00: ``n_submissions`` notebooks, alternately the solution and
    the untouched lesson (each made distinct, so none is resumed from another's result), graded afresh with
    ``jobs`` kernels under the default limits; in a jail where one can be made, unless ``trusted``.

    Returns submissions per minute, the wall time, how kernels were isolated, the grader's own peak memory (RSS),
    the largest peak of any kernel with everything it started (its cgroup's, in a jail) and the largest peak RSS
    of any process the grader started."""
    import copy
    import json
    import resource
    import tempfile
    from pathlib import Path

    from metarl_edu.classroom.grade import Limits, find_course, grade_folder

    course = find_course(Path(root) if root else None)
    stem = "00_welcome"
    sources = [json.loads((course.parent / folder / f"{stem}.ipynb").read_text(encoding="utf-8"))
               for folder in ("solutions", "lessons")]
    limits = Limits(isolation="none" if trusted else "auto")
    with tempfile.TemporaryDirectory(prefix="metarl-edu-bench-") as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for i in range(n_submissions):
            nb = copy.deepcopy(sources[i % 2])
            nb["metadata"]["bench"] = i
            (folder / f"learner{i:03d}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        start = time.perf_counter()
        summary = grade_folder(folder, Path(tmp) / "gradebook.csv", course=course, limits=limits, jobs=jobs,
                               progress=False)
        seconds = time.perf_counter() - start
    if sorted(r["total"] for r in summary.records) != sorted(1.0 - (i % 2) for i in range(n_submissions)):
        raise RuntimeError("the benchmark's submissions were not graded as expected: "
                           + "; ".join(f"{r['submission']}: {r['reason']}" for r in summary.records[:3]))
    return {
        "submissions": n_submissions, "jobs": jobs, "seconds": round(seconds, 1),
        "submissions per minute": n_submissions / seconds * 60,
        "isolation": ", ".join(sorted({r.get("isolation", "") or "?" for r in summary.records})),
        "grader peak RSS (MiB)": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest kernel peak, cgroup (MiB)": max((r.get("memory_peak_mb") or 0.0 for r in summary.records),
                                                 default=0.0),
        "largest child process peak RSS (MiB)": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _time_iterations(agent: Any, n_iterations: int) -> float:
    """Seconds for ``n_iterations`` training iterations, after one warm-up iteration."""
    agent.train_step()
    start = time.perf_counter()
    for _ in range(n_iterations):
        agent.train_step()
    return time.perf_counter() - start


def _print_figures(figures: dict) -> None:
    for key, value in figures.items():
        print(f"  {key}: {value:,.3f}" if isinstance(value, float) else f"  {key}: {value}")


def _run_qlearning(repeats: int, threads: int) -> None:
    print(format_qlearning(bench_qlearning(repeats=repeats)))


def _run_hyperparams(repeats: int, threads: int) -> None:
    print(format_hyperparams(bench_hyperparams(repeats=repeats)))


def _run_bandits(repeats: int, threads: int) -> None:
    bench_bandits()


def _run_rl2(repeats: int, threads: int) -> None:
    bench_rl2()


def _run_sinusoid(repeats: int, threads: int) -> None:
    _print_figures(bench_sinusoid(repeats=repeats, threads=threads))


def _run_navigation(repeats: int, threads: int) -> None:
    _print_figures(bench_navigation(repeats=repeats, threads=threads))


def _run_grading(repeats: int, threads: int) -> None:
    _print_figures(bench_grading(n_submissions=6 * repeats))


def _run_maml_rl(repeats: int, threads: int) -> None:
    _print_figures(bench_maml_rl(threads=threads))


# name -> (what it measures, how to run and print it)
BENCHMARKS: dict[str, tuple[str, Callable[[int, int], None]]] = {
    "qlearning": ("plain Q-learning loop vs QLearningAgent vs batched Q-learning (transitions per second)",
                  _run_qlearning),
    "bandits": ("bandit strategies on 1,000 Bernoulli bandits (pulls per second)", _run_bandits),
    "sinusoid": ("MAML meta-step: torch.func vmap vs a plain autograd loop over tasks", _run_sinusoid),
    "navigation": ("2D navigation: the torch-batched env vs the Gymnasium env (steps per second)", _run_navigation),
    "hyperparams": ("hyperparameter sweeps: task x setting evaluations per second, batched vs one at a time",
                    _run_hyperparams),
    "maml_rl": ("MAML on 2D navigation: seconds and memory of whole training runs", _run_maml_rl),
    "rl2": ("RL^2 training: environment steps per second across the batch of trials", _run_rl2),
    "grading": ("metarl-edu grade on lesson 00 with --jobs 2: submissions per minute and peak memory "
                "(6 x --repeats submissions)", _run_grading),
}


def run(name: str, repeats: int = 3, threads: int = N_THREADS) -> None:
    """Run benchmark ``name`` and print its figures with the load average before and after."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {list(BENCHMARKS)}")
    # other processes on the machine distort timings (two torch threads then wait on each other): say how busy
    print(f"{name}: (load average over the last minute before the run: {os.getloadavg()[0]:.2f})", flush=True)
    BENCHMARKS[name][1](repeats, threads)
    print(f"  (load average after: {os.getloadavg()[0]:.2f})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metarl_edu.studies.bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run, among {list(BENCHMARKS)} (default: all)")
    parser.add_argument("--threads", type=int, default=N_THREADS, help="torch threads (default: 2)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs; medians are reported")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    for name in args.names or list(BENCHMARKS):
        run(name, args.repeats, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
