"""Lesson 11's protocol for the belief agent on 2D navigation: training runs, shipped checkpoints, and the comparison
with MAML and the goal-aware oracle on the same held-out goals.

A training run (``metarl-edu train belief --seed S --out DIR``) writes ``checkpoint.pt`` (the policy's and the
encoder's weights and the config), ``log.csv`` (one row per iteration: each episode's mean return, the belief's
median goal error after episode 1, the encoder's loss, the policy's action std, wall time) and ``eval.json`` (the
command, and the returns on :func:`held_out_goals` of every episode of a trial, and the oracle's). Shipped runs live
in ``metarl_edu/data/belief/nav2d-seed<S>/``.

Each iteration plays trials of ``n_episodes`` episodes on ``meta_batch`` fresh goals (``n_traj`` trials per goal),
then takes one Adam step on the sum of the encoder's loss (:func:`~metarl_edu.belief.encoder_loss`) and each episode's
REINFORCE loss with lesson 06's linear baseline and normalised advantages (:func:`~metarl_edu.pg.advantages`,
:func:`~metarl_edu.pg.reinforce_loss`). No gradient flows from the policy into the encoder: the belief is an input.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from metarl_edu._checks import check_int, check_number
from metarl_edu.belief import GoalEncoder, Trial, encoder_loss, make_policy, play
from metarl_edu.envs.navigation import Navigation2DFamily, NavigationTask, sample_goals
from metarl_edu.pg import advantages, reinforce_loss
from metarl_edu.studies.evaluation import paired_bootstrap_ci
from metarl_edu.studies.maml_rl import EVAL_SEED, navigation_oracle_returns
from metarl_edu.studies.rl2 import torch_threads

CHECKPOINT, LOG, EVAL = "checkpoint.pt", "log.csv", "eval.json"
# the first 40 of lesson 08's held-out goals, episodes of a trial, and trials per goal (MAML's training n_traj)
EVAL_TASKS, EVAL_EPISODES, EVAL_TRAJ = 40, 3, 20
LOG_COLUMNS = ("iteration", "return_ep1", "return_ep2", "goal_error", "encoder_loss", "action_std", "seconds")


@dataclass(frozen=True)
class BeliefConfig:
    """Training settings of the belief agent (all small enough for a few minutes on one CPU core).

    Attributes:
        n_iterations: Adam steps; the step size falls linearly from ``lr`` to 0 over them (without the decay,
            returns went up and down by a factor of two late in training).
        meta_batch: goals per iteration. n_traj: trials per goal. n_episodes: episodes per trial, the belief
            carried across them. lr: Adam's step size for both networks. gamma: discount of the reward-to-go.
        hidden_sizes, encoder_sizes: hidden widths of the policy and of the encoder's ``f``.
        init_std: the policy's initial action std, in normalised units.
    """

    n_iterations: int = 1000
    meta_batch: int = 20
    n_traj: int = 5
    n_episodes: int = 2
    lr: float = 3e-3
    gamma: float = 0.99
    hidden_sizes: tuple[int, ...] = (64, 64)
    encoder_sizes: tuple[int, ...] = (32, 32)
    init_std: float = 0.5

    def __post_init__(self) -> None:
        for name in ("n_iterations", "meta_batch", "n_traj", "n_episodes"):
            check_int(name, getattr(self, name), low=1)
        check_number("lr", self.lr, 0.0, low_open=True)
        check_number("gamma", self.gamma, 0.0, 1.0)
        check_number("init_std", self.init_std, 0.0, low_open=True)


class BeliefAgent:
    """The policy, the encoder, their optimiser and the seeded streams of training goals and actions;
    :meth:`train_step` is one iteration of training.

    Args:
        config: the settings (default :class:`BeliefConfig`). seed: seeds both networks, the goals and the actions.
    """

    def __init__(self, config: BeliefConfig | None = None, seed: int = 0) -> None:
        self.config, self.seed = config or BeliefConfig(), check_int("seed", seed, low=0)
        c = self.config
        self.policy = make_policy(c.hidden_sizes, c.init_std, seed)
        self.encoder = GoalEncoder(c.encoder_sizes, seed)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))  # the training goals
        self.generator = torch.Generator().manual_seed(seed)  # the actions
        self.optimizer = torch.optim.Adam([*self.policy.parameters(), *self.encoder.parameters()], lr=c.lr)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda i: max(0.0, 1 - i / c.n_iterations))

    def train_step(self) -> dict[str, float]:
        """Play trials on fresh goals and take one Adam step on encoder loss + REINFORCE loss; returns the stats."""
        c = self.config
        goals = sample_goals(c.meta_batch, self.rng)
        trial = play(self.policy, self.encoder, goals, c.n_episodes, c.n_traj, generator=self.generator)
        loss_encoder = encoder_loss(self.encoder, trial.episodes, torch.as_tensor(goals, dtype=torch.float32))
        loss_policy = sum(reinforce_loss(self.policy.log_prob(e.obs, e.actions), advantages(e, c.gamma), None,
                                         e.mask, per="step") for e in trial.episodes)
        self.optimizer.zero_grad()
        (loss_encoder + loss_policy).backward()
        self.optimizer.step()
        self.schedule.step()
        returns = trial.returns().mean(axis=(1, 2))
        last = min(1, len(returns) - 1)
        return {"return_ep1": float(returns[0]), "return_ep2": float(returns[last]),
                "goal_error": float(goal_errors(trial, goals)[0].median()),
                "encoder_loss": float(loss_encoder.detach()),
                "action_std": float(self.policy.log_std.detach().exp().mean())}


def goal_errors(trial: Trial, goals: np.ndarray) -> torch.Tensor:
    """Distance from the belief's mean to the goal at the end of each episode, shape (n_episodes, n_tasks, n_traj)."""
    g = torch.as_tensor(np.asarray(goals), dtype=torch.float32).unsqueeze(1)
    return torch.stack([(means[-1] - g).norm(dim=-1) for means in trial.means])


# ============================================================================================ runs
def train_logged(agent: Any, config: Any, seed: int, out: str | Path, log_columns: Sequence[str],
                 progress: bool = True, desc: str = "") -> tuple[Path, list[dict[str, float]], float]:
    """The training loop of a 2D-navigation run (one thread): ``config.n_iterations`` calls of
    ``agent.train_step()``, each one row of ``log.csv`` in ``out`` (columns ``log_columns``, the stats it returns
    and the seconds so far). Returns ``(out, rows, train_seconds)``; the caller saves and evaluates the agent, then
    writes ``eval.json`` with :func:`write_record`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, start = [], time.perf_counter()
    with torch_threads(1):
        for iteration in tqdm(range(1, config.n_iterations + 1), disable=not progress, desc=desc or f"seed {seed}"):
            stats = agent.train_step()
            rows.append({"iteration": iteration, **{k: round(v, 5) for k, v in stats.items()},
                         "seconds": round(time.perf_counter() - start, 2)})
    with open(out / LOG, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=log_columns)
        writer.writeheader()
        writer.writerows(rows)
    return out, rows, time.perf_counter() - start


def run_setup(name: str, defaults: Any, seed: int, out: str | Path, n_iterations: int | None,
              overrides: dict[str, Any]) -> tuple[Any, str]:
    """The config of a training run (``defaults`` with ``overrides`` and ``n_iterations``) and the command that
    makes it: ``metarl-edu train NAME --seed S --iterations N [--set FIELD=JSON ...] --out OUT``."""
    config = dataclasses.replace(defaults, **overrides,
                                 **({"n_iterations": int(n_iterations)} if n_iterations is not None else {}))
    words = ["metarl-edu", "train", name, "--seed", str(seed), "--iterations", str(config.n_iterations)]
    words += [w for k, v in overrides.items() for w in ("--set", f"{k}={json.dumps(v)}")]
    return config, " ".join(words + ["--out", str(out)])


def write_record(out: Path, command: str, config: Any, train_seconds: float, **results: np.ndarray) -> dict[str, Any]:
    """Write ``eval.json`` (the command, the config, the evaluation protocol and ``results``) and return it."""
    record = {"command": command, "config": dataclasses.asdict(config), "eval_tasks": EVAL_TASKS,
              "eval_seed": EVAL_SEED, "eval_traj": EVAL_TRAJ, "train_seconds": round(train_seconds, 1),
              **{k: np.round(v, 4).tolist() for k, v in results.items()}}
    (out / EVAL).write_text(json.dumps(record, indent=1))
    return record


def train_run(seed: int, out: str | Path, n_iterations: int | None = None, progress: bool = True,
              **overrides: Any) -> dict[str, Any]:
    """Train a belief agent with ``seed`` (one thread) and write the run to ``out``; returns the eval record.
    ``overrides``: :class:`BeliefConfig` fields."""
    config, command = run_setup("belief", BeliefConfig(), seed, out, n_iterations, overrides)
    agent = BeliefAgent(config, seed)
    out, _, seconds = train_logged(agent, config, seed, out, LOG_COLUMNS, progress, f"belief seed {seed}")
    with torch_threads(1):
        torch.save({"seed": seed, "config": dataclasses.asdict(config), "policy": agent.policy.state_dict(),
                    "encoder": agent.encoder.state_dict()}, out / CHECKPOINT)
        returns, oracle = evaluate(agent, held_out_goals())
    return write_record(out, command, config, seconds, returns=returns, oracle=oracle)


def load_run(path: str | Path) -> BeliefAgent:
    """The agent saved by :func:`train_run` in ``path``, ready to :func:`evaluate`."""
    saved = torch.load(Path(path) / CHECKPOINT, map_location="cpu", weights_only=True)
    config = BeliefConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["config"].items()})
    agent = BeliefAgent(config, int(saved["seed"]))
    agent.policy.load_state_dict(saved["policy"])
    agent.encoder.load_state_dict(saved["encoder"])
    return agent


def shipped_belief_runs() -> list[Path]:
    """The run folders shipped with the package (``metarl_edu/data/belief``)."""
    root = Path(str(resources.files("metarl_edu") / "data" / "belief"))
    return sorted(p for p in root.iterdir() if (p / EVAL).is_file()) if root.is_dir() else []


# ============================================================================================ evaluation
def held_out_goals(n_tasks: int = EVAL_TASKS, seed: int = EVAL_SEED) -> np.ndarray:
    """The goals :meth:`MAMLAgent.evaluate(n_tasks, seed=seed) <metarl_edu.maml_rl.MetaRLAgent.evaluate>` draws,
    shape (n_tasks, 2): the first ``n`` of any larger draw, never a training goal of a shipped MAML run."""
    tasks = Navigation2DFamily().sample(check_int("n_tasks", n_tasks, low=1),
                                        np.random.default_rng(np.random.SeedSequence([seed, 1])))
    return np.array([task.goal for task in tasks])


def evaluate(agent: BeliefAgent, goals: np.ndarray, n_episodes: int = EVAL_EPISODES, n_traj: int = EVAL_TRAJ,
             seed: int = EVAL_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Mean return of each episode of a trial on each goal, (n_tasks, n_episodes), over ``n_traj`` trials, and the
    oracle's (the same policy told the goal, ``(p, g, 0)``), (n_tasks,). Actions sampled, seeded by ``seed``."""
    with torch_threads(1):
        trial = play(agent.policy, agent.encoder, goals, n_episodes, n_traj, generator=torch.Generator().manual_seed(
            seed))
        oracle = play(agent.policy, agent.encoder, goals, 1, n_traj, oracle=True,
                      generator=torch.Generator().manual_seed(seed))
    return trial.returns().mean(axis=2).T, oracle.returns()[0].mean(axis=1)


def compare(belief: list[BeliefAgent], maml: list[Any], n_tasks: int, seed: int = EVAL_SEED,
            n_traj: int = EVAL_TRAJ, rl2: list[Any] = ()) -> dict[str, np.ndarray]:
    """Per-goal returns (n_tasks,) on :func:`held_out_goals`, each averaged over the agents given (training seeds):
    the belief agent's episodes 1..3, RL^2's episodes 1..3 (:mod:`metarl_edu.studies.rl2_nav`, when ``rl2``
    agents are given; ``n_traj`` trials per goal), MAML after 0, 1, 2 inner steps (``MetaRLAgent.evaluate``,
    ``n_traj`` trajectories per step), the oracle with the belief agent's network, and the straight-line oracle."""
    from metarl_edu.studies import rl2_nav

    goals = held_out_goals(n_tasks, seed)
    rows: dict[str, list[np.ndarray]] = {}
    for agent in belief:
        returns, oracle = evaluate(agent, goals, n_traj=n_traj, seed=seed)
        for k in range(returns.shape[1]):
            rows.setdefault(f"belief, episode {k + 1}", []).append(returns[:, k])
        rows.setdefault("oracle (belief net told g)", []).append(oracle)
    for agent in rl2:
        returns = rl2_nav.evaluate(agent, goals, n_traj=n_traj, seed=seed)
        for k in range(returns.shape[1]):
            rows.setdefault(f"RL^2, episode {k + 1}", []).append(returns[:, k])
    for agent in maml:
        with torch_threads(1):
            result = agent.evaluate(n_tasks=n_tasks, steps=2, n_traj=n_traj, seed=seed)
        if not np.allclose([t.goal for t in result.tasks], goals, atol=1e-6):
            raise ValueError("MAML was evaluated on other goals than the belief agent")
        for k in range(result.returns.shape[1]):
            rows.setdefault(f"MAML, {k} step{'s' if k != 1 else ''}", []).append(result.returns[:, k])
    table = {name: np.mean(values, axis=0) for name, values in rows.items()}
    table["oracle (straight line)"] = navigation_oracle_returns(Navigation2DFamily(),
                                                               [NavigationTask(tuple(g)) for g in goals])
    return table


def paired_table(table: dict[str, np.ndarray], against: str, rng: int = 0) -> str:
    """Each row's mean return, and its paired difference from row ``against`` with a 95% bootstrap interval."""
    lines = [f"{'':<30}{'mean return':>12}   minus {against} [95% CI]"]
    for name, values in table.items():
        diff = paired_bootstrap_ci(values, table[against], rng=rng)
        lines.append(f"{name:<30}{values.mean():>12.3f}   {diff.estimate:+8.3f} [{diff.low:+.3f}, {diff.high:+.3f}]")
    return "\n".join(lines)
