"""RL^2 studies: the course's presets, the checkpointed training command, held-out evaluation and trial replays.

The algorithm (config, policy, rollouts, loss, agent) is :mod:`metarl_edu.rl2`; this module runs it the way
lesson 09 does, and scores it on the same tasks as the baselines of :mod:`metarl_edu.studies.bandit_baselines`
and :mod:`metarl_edu.studies.mdp_baselines`.

>>> config = preset("bandit", 10, k=5)
>>> agent = train_rl2(config, progress=False, checkpoint_dir="checkpoints/rl2-bandit", resume=True)
>>> result = evaluate_rl2(agent, n_tasks=1000, rng=0)   # a BanditResult, comparable with evaluate_strategy's
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from metarl_edu.config import quick, size
from metarl_edu.fast.tasks import BernoulliBandits, RandomTabularMDPs
from metarl_edu.rl2 import RL2Agent, RL2Config, RL2Error, collect_trials
from metarl_edu.studies.bandit_baselines import BanditResult
from metarl_edu.studies.mdp_baselines import TrialResult

# ============================================================================================ checkpoints
CHECKPOINT_FILE = "rl2.pt"


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads, then restore the previous number; None changes nothing."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def save_agent(agent: RL2Agent, directory: str | Path) -> Path:
    """Write the agent (config, policy, optimiser, generator, history) to ``rl2.pt`` in ``directory`` (created if
    needed); returns its path."""
    path = Path(directory) / CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"config": dataclasses.asdict(agent.config), "iteration": agent.iteration,
             "policy": agent.policy.state_dict(), "optimizer": agent.optimizer.state_dict(),
             "rng": agent.rng.bit_generator.state, "history": agent.history}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: an interrupted save never leaves a half-written checkpoint
    return path


def load_agent(directory: str | Path, config: RL2Config | None = None) -> RL2Agent:
    """The agent saved in ``directory``. With ``config``, check that it matches the saved one (all fields but
    ``n_iterations``, which may grow to train further)."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise RL2Error(f"no RL^2 checkpoint at {path}")
    state = torch.load(path, weights_only=True)
    saved = RL2Config(**state["config"])
    if config is not None:
        diff = [f.name for f in dataclasses.fields(RL2Config)
                if f.name != "n_iterations" and getattr(saved, f.name) != getattr(config, f.name)]
        if diff:
            raise RL2Error(f"the checkpoint at {path} was trained with a different config ({', '.join(diff)} "
                           f"differ); pick another checkpoint_dir or resume=False to start afresh")
        saved = config
    agent = RL2Agent(saved)
    agent.policy.load_state_dict(state["policy"])
    agent.optimizer.load_state_dict(state["optimizer"])
    agent.rng.bit_generator.state = state["rng"]
    agent.iteration = state["iteration"]
    agent.history = list(state["history"])
    return agent


def pretrained(task: Literal["bandit", "mdp"], n_episodes: int, k: int | None = None, seed: int = 0) -> RL2Agent:
    """A trained agent shipped with the package (``metarl_edu/data/rl2/<name>``, each folder with the command
    that made it, its training log and its evaluation), e.g. ``pretrained("mdp", 10, seed=2)`` or
    ``pretrained("bandit", 100, k=5)``. :func:`shipped_rl2_runs` lists them."""
    name = pretrained_name(task, n_episodes, k, seed)
    folder = Path(str(resources.files("metarl_edu") / "data" / "rl2" / name))
    if not (folder / CHECKPOINT_FILE).is_file():
        root = folder.parent
        shipped = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
        raise RL2Error(f"no shipped RL^2 agent {name!r}; shipped: {shipped}")
    return load_agent(folder)


def pretrained_name(task: str, n_episodes: int, k: int | None = None, seed: int = 0) -> str:
    """The folder name of a shipped agent: ``bandit-n10-k5-seed0``, ``mdp-n25-seed1``."""
    if task == "bandit":
        return f"bandit-n{n_episodes}-k{5 if k is None else k}-seed{seed}"
    if task == "mdp":
        return f"mdp-n{n_episodes}-seed{seed}"
    raise RL2Error(f"task must be 'bandit' or 'mdp'; got {task!r}")


# ============================================================================================ training
def train_rl2(config: RL2Config, *, progress: bool = True, checkpoint_dir: str | Path | None = None,
              resume: bool = False, threads: int | None = 1, checkpoint_every: int = 50) -> RL2Agent:
    """Train an RL^2 agent for ``config.n_iterations`` batches and return it.

    Args:
        progress: show a tqdm progress bar.
        checkpoint_dir: save the agent there (see :func:`metarl_edu.config.checkpoint_dir`) every
            ``checkpoint_every`` iterations, at the end, and when training is interrupted (Ctrl-C, or the
            notebook's stop button); None saves nothing.
        resume: continue from the checkpoint in ``checkpoint_dir`` when there is one (its config must match,
            ``n_iterations`` aside); a finished run is returned at once. False starts afresh.
        threads: torch threads while training, restored afterwards (None keeps torch's setting); see
            :meth:`RL2Agent.train`.
    """
    if resume and checkpoint_dir is not None and (Path(checkpoint_dir) / CHECKPOINT_FILE).is_file():
        agent = load_agent(checkpoint_dir, config)
    else:
        agent = RL2Agent(config)
    every = checkpoint_every if checkpoint_dir is not None else max(config.n_iterations, 1)
    try:
        with torch_threads(threads):
            while agent.iteration < config.n_iterations:
                agent.train(min(every, config.n_iterations - agent.iteration), progress=progress)
                if checkpoint_dir is not None:
                    save_agent(agent, checkpoint_dir)
    finally:
        if checkpoint_dir is not None:
            save_agent(agent, checkpoint_dir)
    return agent


# ============================================================================= reproducible training runs
RUN_EVAL_TASKS, RUN_EVAL_SEED = 1000, 12345  # held-out tasks of a run's eval.json (never drawn in training)
LOG_FILE, EVAL_FILE = "log.csv", "eval.json"
LOG_COLUMNS = ("iteration", "mean_total", "entropy", "kl", "policy_loss", "value_loss", "grad_norm", "seconds")


def train_run(task: Literal["bandit", "mdp"], n_episodes: int, seed: int, out: str | Path, *, k: int = 5,
              n_iterations: int | None = None, progress: bool = True, **overrides) -> dict:
    """Train the course's RL^2 preset (:func:`preset`; full mode's sizes unless in quick mode) with ``seed`` and
    write the run to ``out``: ``rl2.pt`` (the agent), ``log.csv`` (one row per iteration: the batch's mean trial
    total, entropy, KL between the policy before and after the last update, losses, gradient norm, wall time) and
    ``eval.json`` (the command, the config, and the totals on ``RUN_EVAL_TASKS`` held-out tasks drawn with
    ``RUN_EVAL_SEED``). ``overrides``: :class:`~metarl_edu.rl2.RL2Config` fields. Returns the evaluation record."""
    settings = {"n_iterations": n_iterations} if n_iterations is not None else {}
    config = preset(task, n_episodes, k=k, seed=seed, **settings, **overrides)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    agent, rows, start = RL2Agent(config), [], time.perf_counter()
    for iteration in tqdm(range(1, config.n_iterations + 1), disable=not progress, desc=config.name):
        with torch_threads(1):
            stats = agent.train_step()
        rows.append({"iteration": iteration, **{c: round(stats[c], 6) for c in LOG_COLUMNS[1:-1]},
                     "seconds": round(time.perf_counter() - start, 2)})
    train_seconds = time.perf_counter() - start
    save_agent(agent, out)
    with open(out / LOG_FILE, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    result = evaluate_rl2(agent, n_tasks=RUN_EVAL_TASKS, rng=RUN_EVAL_SEED)
    words = ["metarl-edu", "train", "rl2", "--task", task, "--episodes", str(n_episodes), "--seed", str(seed)]
    words += (["--k", str(k)] if task == "bandit" else []) + (["--iterations", str(n_iterations)] if settings else [])
    for key, value in overrides.items():
        words += ["--set", f"{key}={json.dumps(value)}"]
    record = {"command": " ".join(words + ["--out", str(out)]), "config": dataclasses.asdict(config),
              "eval_tasks": RUN_EVAL_TASKS, "eval_seed": RUN_EVAL_SEED, "train_seconds": round(train_seconds, 1),
              "mean_total": round(result.mean_total, 4), "totals": np.round(result.totals, 4).tolist()}
    (out / EVAL_FILE).write_text(json.dumps(record, indent=1))
    return record


def shipped_rl2_runs() -> list[Path]:
    """The run folders shipped with the package (``metarl_edu/data/rl2``), each loadable with
    :func:`pretrained`."""
    root = Path(str(resources.files("metarl_edu") / "data" / "rl2"))
    return sorted(p for p in root.iterdir() if (p / EVAL_FILE).is_file()) if root.is_dir() else []


def read_rl2_run(path: str | Path) -> dict:
    """A run's ``eval.json`` and its ``log.csv`` (``record["log"]``: a dict of columns of floats)."""
    path = Path(path)
    record = json.loads((path / EVAL_FILE).read_text())
    with open(path / LOG_FILE) as f:
        rows = list(csv.DictReader(f))
    record["log"] = {c: np.array([float(r[c]) for r in rows]) for c in LOG_COLUMNS}
    return record


# ========================================================================================= evaluation
def evaluate_rl2(agent: RL2Agent, n_tasks: int = 1000, *, rng: np.random.Generator | int = 0,
                 greedy: bool = False, threads: int | None = 1, reset_each_episode: bool = False
                 ) -> BanditResult | TrialResult:
    """Play one trial on each of ``n_tasks`` fresh tasks; the mean total reward per trial with a 95% CI.

    For bandits the tasks are drawn exactly as :func:`~metarl_edu.studies.bandit_baselines.evaluate_strategy`
    draws them (``p = rng.random((n_tasks, k))`` first), so the same integer seed gives RL^2 and the strategies the
    same bandits, and the result is a :class:`~metarl_edu.studies.bandit_baselines.BanditResult`. For MDPs it is a
    :class:`~metarl_edu.studies.mdp_baselines.TrialResult`, comparable with
    :func:`~metarl_edu.studies.mdp_baselines.evaluate_mdp_baseline` on the same seed. Held out: the training
    generator is never used here. ``threads``: torch threads, as in :func:`train_rl2`. ``reset_each_episode``: the
    ablation of :func:`~metarl_edu.rl2.collect_trials` (the memory emptied at every episode, not only at the
    trial's start).
    """
    if n_tasks < 2:
        raise RL2Error(f"n_tasks must be >= 2 (for a confidence interval); got {n_tasks}")
    rng = np.random.default_rng(rng)  # a Generator passes through unchanged
    c = agent.config
    tasks = c.sample_tasks(n_tasks, rng)
    start = time.perf_counter()
    with torch_threads(threads):
        batch = collect_trials(agent.policy, tasks, c.n_episodes, rng, greedy=greedy,
                               reset_each_episode=reset_each_episode)
    seconds = time.perf_counter() - start
    totals = batch.r.double().sum(0).numpy()
    if c.task == "bandit":
        return BanditResult(c.name, c.n_episodes, c.k, totals=totals, best_means=tasks.best_means, seconds=seconds)
    return TrialResult(c.name, c.n_episodes, totals, seconds)


def course_agents(task: Literal["bandit", "mdp"], n_episodes: int, k: int = 5, seeds: range = range(5)
                  ) -> list[RL2Agent]:
    """The agents lessons 09 and 11 score: the shipped agents of ``seeds`` (:func:`pretrained`, each made by
    ``metarl-edu train rl2`` with the command in its ``eval.json``). Quick mode takes the first of them only, so
    that it runs the lesson's own code path on one trained agent."""
    shipped = {p.name for p in shipped_rl2_runs()}
    found = [s for s in seeds if pretrained_name(task, n_episodes, k, s) in shipped]
    if not found:
        raise RL2Error(f"no shipped agents for {task}, n = {n_episodes}; train some with 'metarl-edu train rl2'")
    return [pretrained(task, n_episodes, k if task == "bandit" else None, s) for s in found[: 1 if quick() else None]]


def evaluate_seeds(agents: list[RL2Agent], n_tasks: int = 1000, *, rng: int = 0, reset_each_episode: bool = False
                   ) -> tuple[BanditResult | TrialResult, np.ndarray]:
    """Every agent (one per training seed) on the same ``n_tasks`` held-out tasks (the integer seed ``rng``).

    Returns ``(result, per_seed)``: ``result`` is an :func:`evaluate_rl2` result whose ``totals`` are each task's
    total averaged over the seeds, so that it pairs with the baselines task by task; ``per_seed`` holds each
    seed's mean total, shape (n_seeds,), whose spread is the variation between training runs."""
    results = [evaluate_rl2(a, n_tasks=n_tasks, rng=rng, reset_each_episode=reset_each_episode) for a in agents]
    totals = np.mean([r.totals for r in results], axis=0)
    seconds = sum(r.seconds for r in results)
    return (dataclasses.replace(results[0], totals=totals, seconds=seconds),
            np.array([r.mean_total for r in results]))


@dataclass(frozen=True, eq=False)
class TrialRecord:
    """One trial played step by step, for a replay widget. T = n_episodes * H steps.

    Attributes:
        states, actions, rewards: (T,) each.
        probs: ``pi(.|h_t)`` at each step, (T, A).
        values: ``V(h_t)``, (T,).
        hidden_norms: ``||h_t||``, (T,): how far the memory has moved from its empty start.
        episode: the episode index of each step, (T,).
        task: the task played (a one-task :class:`BernoulliBandits` or :class:`RandomTabularMDPs`).
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    probs: np.ndarray
    values: np.ndarray
    hidden_norms: np.ndarray
    episode: np.ndarray
    task: BernoulliBandits | RandomTabularMDPs


@torch.no_grad()
def record_trial(agent: RL2Agent, task: BernoulliBandits | RandomTabularMDPs | None = None, *,
                 rng: np.random.Generator | int = 0, greedy: bool = False, threads: int | None = 1) -> TrialRecord:
    """Play one trial on ``task`` (a fresh one from ``rng`` when None) and record every step.
    ``threads``: torch threads, as in :func:`train_rl2`."""
    rng = np.random.default_rng(rng)  # a Generator passes through unchanged
    c = agent.config
    task = c.sample_tasks(1, rng) if task is None else task
    if task.n_tasks != 1:
        raise RL2Error(f"record_trial plays one task; got a batch of {task.n_tasks}")
    with torch_threads(threads):
        batch = collect_trials(agent.policy, task, c.n_episodes, rng, greedy=greedy)
        logits, _, _ = agent.policy(batch.x)
    T = batch.a.shape[0]
    return TrialRecord(states=batch.s[:, 0].numpy(), actions=batch.a[:, 0].numpy(), rewards=batch.r[:, 0].numpy(),
                       probs=torch.softmax(logits[:, 0], -1).numpy(), values=batch.v[:, 0].numpy(),
                       hidden_norms=batch.h[:, 0].norm(dim=-1).numpy(), episode=np.arange(T) // task.horizon,
                       task=task)


# ============================================================================================ presets
def preset(task: Literal["bandit", "mdp"], n_episodes: int, k: int = 5, **overrides) -> RL2Config:
    """The settings this course trains with: :class:`~metarl_edu.rl2.RL2Config`'s defaults, which suit bandits,
    and for MDPs:

    * ``gamma = 0.99``: exploring in one episode pays in the next ones, 10 steps later; rewards scaled by 0.1
      (``reward_scale``) to keep the values of order 1.
    * ``gae_lambda = 0.3``: advantages that lean on the critic rather than on the noisy rewards of the rest of
      the trial.
    * ``input_scale = 0.5``: on MDPs, smaller input weights than the bandits' 2 learn faster.
    * ``entropy_coef = 0.05`` and ``lr = 0.02``, decaying only to half (``lr_final_fraction = 0.5``): with the
      bandits' 0.01 and 0.01 the policy is nearly deterministic early in training and learns less.
    * ``n_epochs = 2``: two PPO passes per batch instead of four take half the time; in a fixed time, more
      batches of two passes learn at least as much as fewer batches of four.

    The shipped agents that lesson 09 scores next to the MDP baselines were trained with these settings and the
    overrides in each run's command: ``n_tasks=2048`` and 2,000 iterations for n = 10, ``hidden_size=128`` and
    ``n_tasks=512`` for n = 25.

    ``n_iterations`` and ``n_tasks`` shrink in quick mode (:func:`metarl_edu.config.size`), most for trials of
    more than 20 steps, so that a training run there takes seconds. Any field can be overridden by keyword.

    >>> preset("bandit", 100, k=5).n_episodes
    100
    """
    long = task == "mdp" or n_episodes > 20  # long trials: quick mode plays fewer and smaller batches
    settings: dict = dict(task=task, n_episodes=n_episodes, k=k, n_tasks=size(quick=64 if long else 128, full=256))
    if task == "bandit":
        settings["n_iterations"] = size(quick=8 if long else 30, full=300 if n_episodes <= 20 else 200)
    else:
        settings.update(gamma=0.99, gae_lambda=0.3, reward_scale=0.1, input_scale=0.5, entropy_coef=0.05, lr=0.02,
                        lr_final_fraction=0.5, n_epochs=2, n_iterations=size(quick=8, full=1000))
    return RL2Config(**{**settings, **overrides})


__all__ = ["TrialRecord", "course_agents", "evaluate_rl2", "evaluate_seeds", "preset", "read_rl2_run", "record_trial",
           "shipped_rl2_runs", "train_rl2", "train_run"]
