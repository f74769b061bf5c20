"""Speed benchmarks (not tests): ``python -m metarl_edu.bench [NAME ...]``, medians over repeats.

Each benchmark is one function returning a dict of figures, so a lesson or a script can call it too. Timings use
``torch.set_num_threads(2)``, the course's 2-core target machine (``--threads N`` to change it). Other busy
processes distort them badly: with fewer free cores than threads, every small matrix product that torch splits
over two threads waits for a core, so the load average is printed next to each result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

N_THREADS = 2


# --------------------------------------------------------------------------------------------- MAML, sinusoids
# Reference (issue 5, same 2-core machine kind): a plain loop over tasks with torch.autograd.grad(create_graph=True)
# takes about 19.5 s per 1,000 meta-iterations of meta-batch 25; a torch.func vmap meta-step about 3.2 s.
SINUSOID_LOOP_REFERENCE_S = 19.5


def bench_sinusoid(n_iterations: int = 1000, repeats: int = 3, warmup: int = 20, threads: int = N_THREADS) -> dict:
    """Seconds for ``n_iterations`` MAML meta-updates on sinusoids (meta-batch 25, K = 10, one inner step,
    second order): the vmapped meta-step (:func:`~metarl_edu.maml.maml_loss`) against the plain autograd loop
    over tasks (:func:`~metarl_edu.maml.maml_loss_loop`), same network, interleaved repeats, medians.
    """
    import torch

    from metarl_edu.maml import MAMLRegression

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
    from metarl_edu.envs.navigation import BatchedNavigation2D, sample_goals
    from metarl_edu.pg import GaussianMLPPolicy, sample_batched_episodes, sample_episodes

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
# Reference (issue 5, same 2-core machine kind): pytorch-maml-rl's 2D-navigation config (20 tasks x 20 trajectories,
# one inner step, TRPO) takes about 5.6 s per meta-batch and 1.2 GB, and reaches about -18 after one adaptation step
# after 20 meta-batches, about 112 s.
def _rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_maml_rl(seeds: tuple[int, ...] = (0, 1, 2), target: float = -18.0, max_iterations: int = 80,
                  eval_every: int = 5, threads: int = N_THREADS) -> dict:
    """Whole MAML training runs on 2D navigation from scratch (the paper's 20 tasks x 20 trajectories, horizon 100,
    one inner step, alpha 0.1) until the mean return after one inner step on 40 held-out goals is ``target`` or
    better, checked every ``eval_every`` meta-iterations (evaluation time not counted). Medians over ``seeds``.

    Memory: the process's peak resident set (``ru_maxrss``) minus its resident memory after the imports (those
    that torch imports lazily included: the first Adam step loads ``torch._dynamo``).
    """
    import resource

    import torch
    import torch._dynamo  # noqa: F401  torch.optim imports it on first use: about 70 MB of modules, not data

    from metarl_edu.envs.navigation import Navigation2DEnv
    from metarl_edu.maml_rl import MAMLAgent

    torch.set_num_threads(threads)
    rss_after_imports = _rss_mb()
    rows = []
    for seed in seeds:
        agent = MAMLAgent(Navigation2DEnv(), seed=seed)
        train_s, steps, reached, post = 0.0, 0, None, float("nan")
        for iteration in range(1, max_iterations + 1):
            tasks = agent.family.sample(agent.config.meta_batch, agent.rng)
            start = time.perf_counter()
            agent.step(tasks)
            train_s += time.perf_counter() - start
            steps += 2 * 100 * agent.config.meta_batch * agent.config.n_traj  # at most; goals are rarely reached
            if iteration % eval_every == 0:
                post = float(agent.evaluate(n_tasks=40, steps=1, seed=seed + 100).returns[:, 1].mean())
                if post >= target:
                    reached = iteration
                    break
        rows.append((train_s, iteration, post, reached is not None, steps / train_s))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
    median = statistics.median
    return {
        "seeds": len(seeds), "threads": threads, "target": target,
        "seeds_reaching_target": sum(r[3] for r in rows),
        "train_s_median": median(r[0] for r in rows),
        "train_s_per_seed": [round(r[0], 2) for r in rows],
        "iterations_median": median(r[1] for r in rows),
        "post_adaptation_return_per_seed": [round(r[2], 2) for r in rows],
        "s_per_iteration_median": median(r[0] / r[1] for r in rows),
        "env_steps_per_s_median": median(r[4] for r in rows),
        "peak_memory_above_imports_mb": peak_mb - rss_after_imports,
    }


BENCHMARKS: dict[str, Callable[..., dict]] = {
    "sinusoid": bench_sinusoid,
    "navigation": bench_navigation,
    "maml_rl": bench_maml_rl,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metarl_edu.bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run, among {list(BENCHMARKS)} (default: all)")
    parser.add_argument("--threads", type=int, default=N_THREADS, help="torch threads (default: 2)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    for name in args.names or list(BENCHMARKS):
        # other processes on the machine distort timings (two torch threads then wait on each other): say how busy
        print(f"{name}: (load average over the last minute before the run: {os.getloadavg()[0]:.2f})", flush=True)
        for key, value in BENCHMARKS[name](threads=args.threads).items():
            print(f"  {key}: {value:,.3f}" if isinstance(value, float) else f"  {key}: {value}")
        print(f"  (load average after: {os.getloadavg()[0]:.2f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
