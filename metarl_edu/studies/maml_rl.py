"""Lesson 08's protocol for MAML for RL: task families by name, oracles, reproducible training runs and checkpoints.

A training run (``metarl-edu train maml-rl --family nav2d --seed 0 --out DIR``) writes three files to ``DIR``:

- ``checkpoint.pt``: the policy's weights, the config and the family's name (:func:`load_run` rebuilds the agent);
- ``log.csv``: one row per meta-iteration: returns before and after adaptation, the update's measurements (the
  clipped gradient's norm for Adam; KL and line-search backtracks for TRPO) and the training wall time so far
  (evaluations not counted);
- ``eval.json``: the returns after 0, 1, 2, 3 inner steps on held-out tasks every ``eval_every`` iterations, and at
  the end the per-task returns with the oracle's on the same tasks.

Shipped runs live in ``metarl_edu/data/maml_rl/<family>-seed<S>/``, made by the command their ``eval.json`` records.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import vmap
from tqdm.auto import tqdm

from metarl_edu.envs.navigation import MAX_ACTION, Navigation2DFamily
from metarl_edu.envs.tasks import CartPoleFamily, TaskFamily
from metarl_edu.fast.envs import BatchedCartPole, BatchedNavigation2D, batched_env
from metarl_edu.maml_rl import MAMLAgent, MAMLRLConfig, MetaRLAgent, _per_task, _tensors, advantages, inner_loss
from metarl_edu.pg import Episodes
from metarl_edu.studies.trpo import TRPOMAMLAgent


class PretrainedAgent(MetaRLAgent):
    """The baseline: one policy trained on all tasks jointly with REINFORCE, then fine-tuned like MAML.

    Each :meth:`step` samples ``n_traj`` trajectories per task with ``theta`` and takes one Adam step (the same
    clipping and schedule as MAML's) on the mean of the tasks' :func:`~metarl_edu.maml_rl.inner_loss` (each task's
    advantages with its own baseline); :meth:`adapt` and :meth:`evaluate` then take the same inner steps as MAML's.
    """

    def step(self, tasks: list[Any]) -> tuple[float, float]:
        c = self.config
        e = self._sample(self._env(tasks, c.n_traj), None, False, self.generator)
        per_task = vmap(_per_task(lambda _, episodes: advantages(episodes, c.gamma), 1),
                        in_dims=(None, *[1] * len(fields(Episodes))), out_dims=1)
        A = per_task(None, *_tensors(e))
        loss = inner_loss(self.policy.log_prob(e.obs, e.actions), A, e.mask)
        self.optimizer.zero_grad()
        loss.backward()
        self.adam_step()
        mean_return = float(e.total_rewards().mean())
        return mean_return, mean_return


FAMILIES = ("nav2d", "cartpole", "cartpole-physics")
AGENTS: dict[str, type[MetaRLAgent]] = {"maml": MAMLAgent, "pretrained": PretrainedAgent}
EVAL_TASKS, EVAL_STEPS, EVAL_SEED = 200, 3, 77  # the held-out tasks every run is measured on
CHECKPOINT, LOG, EVAL = "checkpoint.pt", "log.csv", "eval.json"

# Finn, Abbeel & Levine (2017), Table 4 (appendix): 2D navigation, MAML's return after 0, 1, 2, 3 gradient steps.
PAPER_NAV2D_MAML = (-40.41, -11.68, -3.33, -3.23)
# The same test's oracle, a Gaussian policy trained with the goal in its observation and sampled with its noise: the
# mean of icml/icml_point_results_oracle.pkl in the authors' repository (github.com/cbfinn/maml_rl).
PAPER_NAV2D_ORACLE = -2.29


def family_by_name(name: str) -> TaskFamily:
    """``"nav2d"``: 2D navigation (goals uniform in [-0.5, 0.5]^2); ``"cartpole"``: CartPole physics with the
    actions mirrored on half the tasks, the family ``MAMLAgent(gym.make("CartPole-v1"))`` builds;
    ``"cartpole-physics"``: the physics alone, where one policy suits every task."""
    if name == "nav2d":
        return Navigation2DFamily()
    if name == "cartpole":
        return CartPoleFamily(mirror_prob=0.5)
    if name == "cartpole-physics":
        return CartPoleFamily()
    raise ValueError(f"family must be one of {FAMILIES}; got {name!r}")


# ============================================================================================ oracles
def navigation_oracle_returns(family: Navigation2DFamily, tasks: list[Any]) -> np.ndarray:
    """The goal-aware policy's return on each task, shape (n_tasks,): it sees the goal and steps straight at it,
    ``a = clip(g - p, -0.1, 0.1)``, which reaches it in the fewest steps possible. Deterministic."""
    env = BatchedNavigation2D([task.goal for task in tasks], 1, family.max_episode_steps)
    p, total = env.reset(), torch.zeros(env.batch_shape)
    goals = env.goals.unsqueeze(1)
    while not bool(env.done.all()):
        p, r, _, _ = env.step(torch.clamp(goals - p, -MAX_ACTION, MAX_ACTION))
        total += r
    return total[:, 0].numpy().astype(float)


def cartpole_oracle_returns(oracle: MetaRLAgent, tasks: list[Any], n_traj: int = 20, seed: int = 0) -> np.ndarray:
    """A task-aware CartPole policy's mean return on each task, shape (n_tasks,): ``oracle``, a policy trained on
    the physics alone (``"cartpole-physics"``), told whether the task mirrors the actions (it plays the task with
    the mirror undone, which is the same as swapping its own actions)."""
    plain = [replace(task, mirrored=False) for task in tasks]
    env = batched_env(oracle.family, plain, n_traj, seed)
    episodes = oracle._sample(env, None, False, torch.Generator().manual_seed(seed))
    return episodes.total_rewards().mean(1).numpy().astype(float)


def cartpole_episodes_from(agent: MetaRLAgent, tasks: list[Any], cart_position: float, n_traj: int = 20,
                           seed: int = 0) -> Episodes:
    """``n_traj`` episodes of ``agent``'s policy (before any inner step) on each CartPole task, batch shape
    (n_tasks, n_traj), every one started with the cart shifted by ``cart_position`` metres (the rest of the start as
    Gymnasium draws it). Lesson 08 uses them to ask what a reactive policy reads from the cart's position. Fresh
    draws (``seed``): at ``cart_position=0`` the returns differ a little from :meth:`~MetaRLAgent.evaluate`'s."""
    env = BatchedCartPole(tasks, n_traj, agent.family.max_episode_steps, torch.Generator().manual_seed(seed),
                          cart_position=cart_position)
    return agent._sample(env, None, False, torch.Generator().manual_seed(seed))


# ============================================================================================ training runs
@dataclass(frozen=True)
class RunResult:
    """What :func:`train_run` wrote: the folder, the evaluations by iteration and the final per-task returns."""

    out: Path
    curve: dict[int, list[float]]
    final: dict[str, Any]


def _evaluate(agent: MetaRLAgent) -> np.ndarray:
    return agent.evaluate(n_tasks=EVAL_TASKS, steps=EVAL_STEPS, n_traj=_test_traj(agent.family),
                          seed=EVAL_SEED).returns


def _test_traj(family: TaskFamily) -> int:
    """Trajectories per inner step at test time for ``family``'s default config: every agent compared on a
    family adapts on the same number, whatever its own training config says."""
    return MAMLRLConfig.for_family(family).test_batch


def train_run(family: str, seed: int, out: str | Path, n_iterations: int | None = None, eval_every: int = 50,
              progress: bool = True, agent: str = "maml", **overrides: Any) -> RunResult:
    """Meta-train ``MAMLAgent`` on ``family`` (:func:`family_by_name`) with ``seed`` and write the run to ``out``.

    ``agent="pretrained"`` trains the pretrained baseline (:class:`PretrainedAgent`) instead,
    with the same config and budget.

    ``n_iterations``: default the family's config. ``overrides``: :class:`MAMLRLConfig` fields (``meta_optimizer=
    "trpo"``, ``lr_schedule="constant"``, ``max_grad_norm=None``, ...). Every ``eval_every`` iterations (and at the
    end) the agent is evaluated on the same ``EVAL_TASKS`` held-out tasks after 0-3 inner steps.
    """
    torch.set_num_threads(1)  # small networks: one thread is fastest, and two runs can share a 2-core machine
    task_family = family_by_name(family)
    config = replace(MAMLRLConfig.for_family(task_family), **overrides)
    if n_iterations is not None:
        config = replace(config, n_iterations=int(n_iterations))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kind = agent
    if kind not in AGENTS:
        raise ValueError(f"agent must be one of {sorted(AGENTS)}; got {kind!r}")
    agent = _agent(kind, task_family, config, seed)
    rows, curve, start, eval_seconds = [], {}, time.perf_counter(), 0.0
    columns = ("iteration", "return_before", "return_after", "grad_norm", "kl", "backtracks", "seconds")
    for iteration in tqdm(range(1, config.n_iterations + 1), disable=not progress, desc=f"{family} seed {seed}"):
        agent.train(1, progress=False)
        before, after = agent.history[-1]
        rows.append({"iteration": iteration, "return_before": before, "return_after": after,
                     **{k: agent.step_info.get(k, "") for k in ("grad_norm", "kl", "backtracks")},
                     "seconds": round(time.perf_counter() - start - eval_seconds, 2)})
        if iteration % eval_every == 0 or iteration == config.n_iterations:
            eval_start = time.perf_counter()
            curve[iteration] = [round(float(x), 3) for x in _evaluate(agent).mean(axis=0)]
            eval_seconds += time.perf_counter() - eval_start
    train_seconds = time.perf_counter() - start - eval_seconds  # the evaluations are not training
    with open(out / LOG, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    torch.save({"family": family, "seed": seed, "agent": kind, "config": asdict(config),
                "state_dict": agent.policy.state_dict()}, out / CHECKPOINT)
    final = {"returns": _evaluate(agent).round(4).tolist(), "train_seconds": round(train_seconds, 1)}
    record = {"family": family, "seed": seed, "agent": kind, "command": _command(family, seed, kind, out, config,
                                                                                   overrides),
              "config": asdict(config), "eval_tasks": EVAL_TASKS, "eval_steps": EVAL_STEPS, "eval_seed": EVAL_SEED,
              "eval_traj": _test_traj(task_family),
              "curve": {str(k): v for k, v in curve.items()}, "final": final}
    (out / EVAL).write_text(json.dumps(record, indent=1))
    return RunResult(out, curve, final)


def _agent(kind: str, family: TaskFamily, config: MAMLRLConfig, seed: int) -> MetaRLAgent:
    """``AGENTS[kind]``; MAML with ``meta_optimizer="trpo"`` is :class:`~metarl_edu.studies.trpo.TRPOMAMLAgent`."""
    cls = TRPOMAMLAgent if kind == "maml" and config.meta_optimizer == "trpo" else AGENTS[kind]
    return cls(family, config, seed=seed, verbose=False)


def _command(family: str, seed: int, kind: str, out: Path, config: MAMLRLConfig, overrides: dict[str, Any]) -> str:
    words = ["metarl-edu", "train", "maml-rl", "--family", family, "--seed", str(seed), "--agent", kind,
             "--iterations", str(config.n_iterations)]
    for key, value in overrides.items():
        words += ["--set", f"{key}={json.dumps(value)}"]
    return " ".join(words + ["--out", str(out)])


def load_run(path: str | Path) -> MetaRLAgent:
    """The agent saved by :func:`train_run` in ``path`` (a run folder), ready to ``adapt`` and ``evaluate``."""
    saved = torch.load(Path(path) / CHECKPOINT, map_location="cpu", weights_only=True)
    config = saved["config"]
    names = {f.name for f in fields(MAMLRLConfig)}
    config = MAMLRLConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in names})
    agent = _agent(saved.get("agent", "maml"), family_by_name(saved["family"]), config, int(saved["seed"]))
    agent.policy.load_state_dict(saved["state_dict"])
    return agent


def shipped_runs(family: str | None = None) -> list[Path]:
    """The run folders shipped with the package (``metarl_edu/data/maml_rl``), of one family or all."""
    root = Path(str(resources.files("metarl_edu") / "data" / "maml_rl"))
    if not root.is_dir():
        return []
    runs = sorted(p for p in root.iterdir() if (p / EVAL).is_file())
    return [p for p in runs if family is None or p.name.rsplit("-seed", 1)[0] == family]


def shipped_run(name: str) -> Path:
    """One shipped run folder by name, e.g. ``"nav2d-seed0"`` or ``"nav2d-trpo-seed0"``."""
    runs = {p.name: p for p in shipped_runs()}
    if name not in runs:
        raise FileNotFoundError(f"no shipped run {name!r}; shipped: {sorted(runs)}")
    return runs[name]


def read_run(path: str | Path) -> dict[str, Any]:
    """A run's ``eval.json`` and its ``log.csv`` (as a dict of columns of floats, empty cells as nan)."""
    path = Path(path)
    record = json.loads((path / EVAL).read_text())
    with open(path / LOG) as f:
        rows = list(csv.DictReader(f))
    record["log"] = {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in rows[0]}
    return record


def pretrained_baseline(family: str, seed: int, n_iterations: int | None = None) -> PretrainedAgent:
    """The pretrained baseline of lesson 08: one policy trained on all tasks of ``family`` jointly with REINFORCE,
    as many updates as MAML's default (or ``n_iterations``), the same seed."""
    task_family = family_by_name(family)
    config = MAMLRLConfig.for_family(task_family)
    agent = PretrainedAgent(task_family, config, seed=seed, verbose=False)
    agent.train(n_iterations or config.n_iterations, progress=False)
    return agent


# ============================================================================================ results across seeds
@dataclass(frozen=True)
class SeedComparison:
    """Returns on the same held-out tasks for several agents (e.g. meta-training seeds) after 0..steps inner steps.

    Attributes:
        names: one per agent.
        returns: (n_agents, n_tasks, steps + 1).
        oracle: (n_tasks,) the oracle's return on each task, or None.
    """

    names: list[str]
    returns: np.ndarray
    oracle: np.ndarray | None

    @property
    def per_agent(self) -> np.ndarray:
        """(n_agents, steps + 1): each agent's mean over tasks."""
        return self.returns.mean(axis=1)

    @property
    def per_task(self) -> np.ndarray:
        """(n_tasks, steps + 1): each task's mean over agents (the unit of the paired intervals)."""
        return self.returns.mean(axis=0)

    def table(self, title: str) -> str:
        """Per agent, the mean, and the spread (min to max over agents) after each number of steps."""
        steps = self.returns.shape[2]
        head = f"{title:<24}" + "".join(f"{f'{k} step' + ('s' if k != 1 else ''):>10}" for k in range(steps))
        lines = [head] + [f"{name:<24}" + "".join(f"{x:>10.2f}" for x in row)
                          for name, row in zip(self.names, self.per_agent, strict=True)]
        if len(self.names) > 1:
            lines.append(f"{'mean over seeds':<24}" + "".join(f"{x:>10.2f}" for x in self.per_agent.mean(axis=0)))
            lines.append(f"{'spread (max - min)':<24}" + "".join(
                f"{x:>10.2f}" for x in self.per_agent.max(axis=0) - self.per_agent.min(axis=0)))
        if self.oracle is not None:
            lines.append(f"{'oracle (knows the task)':<24}{self.oracle.mean():>10.2f}   (no adaptation needed)")
        return "\n".join(lines)


def compare_on_held_out(agents: dict[str, MetaRLAgent], n_tasks: int, steps: int = EVAL_STEPS,
                        seed: int = EVAL_SEED, oracle: bool = True, n_traj: int | None = None) -> SeedComparison:
    """Evaluate every agent on the same ``n_tasks`` held-out tasks (``evaluate`` with ``seed``), each adapting on
    ``n_traj`` trajectories per step (default: the family's test batch, :meth:`MAMLRLConfig.for_family`), and the
    oracle on them where the family has one (2D navigation: the goal-aware policy)."""
    family = next(iter(agents.values())).family
    n_traj = n_traj or _test_traj(family)
    results = {name: agent.evaluate(n_tasks=n_tasks, steps=steps, n_traj=n_traj, seed=seed)
               for name, agent in agents.items()}
    first = next(iter(results.values()))
    oracle_returns = navigation_oracle_returns(family, first.tasks) \
        if oracle and isinstance(family, Navigation2DFamily) else None
    return SeedComparison(list(results), np.stack([r.returns for r in results.values()]), oracle_returns)
