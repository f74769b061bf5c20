"""RL^2 on 2D navigation: lesson 11's recurrent agent with a Gaussian action head, next to the belief agent.

The agent is :class:`~metarl_edu.rl2.RL2Policy` with ``continuous=True``: a GRU reads at every step
``x_t = [p_t, a_{t-1} / 0.1, r_{t-1}, d_{t-1}]`` (position, the previous displacement in normalised units, the
previous reward ``-||p - g||``, and 1 where the previous step ended an episode), and a Gaussian head with a learned,
state-independent std proposes the next displacement (in normalised units; the env moves by 0.1 times it, clipped).
The hidden state is carried across the episodes of a trial and reset to zero at the next trial, on a new goal. It
is trained with lesson 09's PPO update (:func:`~metarl_edu.rl2.ppo_update`: GAE over the whole trial, so that what
episode 1 finds pays in episode 2).

The episodes of a trial are played in lockstep on :class:`~metarl_edu.fast.envs.BatchedNavigation2D`. A row that
reaches the goal early waits, its hidden state frozen, until every row's episode is over; then all rows start the
next episode together. The recorded steps are then packed, each row's real steps first, so that the GRU replayed
over them in training meets exactly the inputs it met while playing, and the waiting steps are trailing padding
(``mask = 0``).

A training run (``metarl-edu train rl2-nav --seed S --out DIR``) writes ``checkpoint.pt``, ``log.csv`` (one row per
iteration) and ``eval.json`` (the command, and the mean return of each episode of a trial on
:func:`~metarl_edu.studies.belief.held_out_goals`, 20 trials per goal). Shipped runs live in
``metarl_edu/data/rl2nav/nav2d-seed<S>/``.

References:
    Duan et al. (2016), RL^2: Fast reinforcement learning via slow reinforcement learning. arXiv:1611.02779.
    Schulman et al. (2017), Proximal policy optimization algorithms. arXiv:1707.06347.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metarl_edu._checks import check_int, check_number
from metarl_edu.envs.navigation import MAX_ACTION, sample_goals
from metarl_edu.fast.envs import BatchedNavigation2D
from metarl_edu.rl2 import RL2Error, RL2Policy, TrialBatch, ppo_update
from metarl_edu.studies.belief import held_out_goals, run_setup, train_logged, write_record
from metarl_edu.studies.maml_rl import EVAL_SEED
from metarl_edu.studies.rl2 import torch_threads

CHECKPOINT, LOG, EVAL = "checkpoint.pt", "log.csv", "eval.json"
EVAL_EPISODES, EVAL_TRAJ = 3, 20  # as the belief agent's evaluation (metarl_edu.studies.belief)
N_INPUTS = 6  # position (2), previous action (2), previous reward, done
LOG_COLUMNS = ("iteration", "return_ep1", "return_ep2", "entropy", "kl", "value_loss", "action_std", "seconds")


@dataclass(frozen=True)
class RL2NavConfig:
    """Training settings of RL^2 on 2D navigation; the PPO fields mean what they mean in
    :class:`~metarl_edu.rl2.RL2Config`.

    Attributes:
        n_iterations: batches; each is played once and gives ``n_epochs * n_minibatches`` Adam steps.
        n_tasks: goals per batch, one trial each. n_episodes: episodes per trial (100 steps at most each).
        hidden_size: GRU units. input_scale: bound of the GRU's initial input weights.
        lr: Adam's step size, decaying linearly to ``lr * lr_final_fraction``.
        gamma, gae_lambda: discount per step across the trial, and GAE's lambda.
        reward_scale: the loss sees rewards times this (values stay of order 1).
        init_std: the Gaussian's initial std, in normalised action units.
    """

    n_iterations: int = 600
    n_tasks: int = 64
    n_episodes: int = 2
    hidden_size: int = 64
    input_scale: float = 1.0
    lr: float = 3e-3
    lr_final_fraction: float = 0.1
    gamma: float = 0.99
    gae_lambda: float = 0.95
    value_coef: float = 0.5
    reward_scale: float = 0.1
    entropy_coef: float = 0.0
    max_grad_norm: float = 1.0
    n_epochs: int = 4
    n_minibatches: int = 4
    clip_eps: float = 0.2
    init_std: float = 0.5

    def __post_init__(self) -> None:
        for name in ("n_iterations", "n_tasks", "n_episodes", "hidden_size", "n_epochs", "n_minibatches"):
            check_int(name, getattr(self, name), low=1, error=RL2Error)
        if self.n_minibatches > self.n_tasks:
            raise RL2Error(f"n_minibatches ({self.n_minibatches}) cannot exceed n_tasks ({self.n_tasks})")
        for name in ("gamma", "gae_lambda", "lr_final_fraction"):
            check_number(name, getattr(self, name), 0.0, 1.0, error=RL2Error)
        for name in ("lr", "input_scale", "reward_scale", "max_grad_norm", "clip_eps", "init_std"):
            check_number(name, getattr(self, name), 0.0, low_open=True, error=RL2Error)
        for name in ("value_coef", "entropy_coef"):
            check_number(name, getattr(self, name), 0.0, error=RL2Error)


# ============================================================================================ rollouts
@dataclass(frozen=True, eq=False)
class NavTrials:
    """What :func:`collect` returns: the packed steps for training (``batch``, B = n_tasks * n_traj trials, row
    ``i * n_traj + j`` is trial ``j`` on goal ``i``), each episode's return, (n_episodes, n_tasks, n_traj), and the
    hidden state at the start of each episode, (n_episodes, B, n_h): zero at the first, carried after that."""

    batch: TrialBatch
    returns: torch.Tensor
    h_start: torch.Tensor


def pack(mask: torch.Tensor, *steps: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each column's real steps (``mask = 1``, (T, B)) moved to the front in their order, the others after them,
    and the time axis cut to the longest column. Returns the packed mask, then each of ``steps`` ((T, B, ...)).

    >>> pack(torch.tensor([[1.0], [0.0], [1.0]]), torch.tensor([[1], [2], [3]]))
    (tensor([[1.],
            [1.]]), tensor([[1],
            [3]]))
    """
    order = torch.argsort(1 - mask, dim=0, stable=True)
    T = int(mask.sum(0).max())
    out = [mask.gather(0, order)[:T]]
    for s in steps:
        idx = order.reshape(*order.shape, *([1] * (s.ndim - 2))).expand_as(s)
        out.append(s.gather(0, idx)[:T])
    return tuple(out)


@torch.no_grad()
def collect(policy: RL2Policy, goals: np.ndarray, n_episodes: int, n_traj: int, generator: torch.Generator, *,
            greedy: bool = False) -> NavTrials:
    """Play one trial of ``n_episodes`` episodes on each goal, ``n_traj`` trials per goal, all in lockstep; actions
    drawn with ``generator`` (the Gaussian's mean when ``greedy``). The hidden state starts at zero and is carried
    through the trial's episodes; a row whose episode has ended waits with it frozen (see the module docstring)."""
    if not getattr(policy, "continuous", False):
        raise RL2Error("RL^2 on 2D navigation needs RL2Policy(..., continuous=True)")
    check_int("n_episodes", n_episodes, low=1, error=RL2Error)
    env = BatchedNavigation2D(goals, check_int("n_traj", n_traj, low=1, error=RL2Error))
    B = env.n_tasks * env.n_traj
    h = torch.zeros(B, policy.gru.hidden_size)  # a new trial: the memory starts empty
    prev_a, prev_r, done = torch.zeros(B, 2), torch.zeros(B), torch.zeros(B)
    xs, actions, rewards, logps, values, hs, masks, starts = [], [], [], [], [], [], [], []
    returns = torch.zeros(n_episodes, B)
    for k in range(n_episodes):
        p = env.reset().reshape(B, 2)
        starts.append(h)
        for _ in range(env.max_episode_steps):
            active = (~env.done).reshape(B)
            x = torch.cat([p, prev_a, prev_r.unsqueeze(1), done.unsqueeze(1)], 1)
            mean, v, h_seq = policy(x.unsqueeze(0), h)
            mean = mean[0]
            a = mean if greedy else mean + policy.log_std.exp() * torch.randn(mean.shape, generator=generator)
            p_next, r, _, _ = env.step(MAX_ACTION * a.reshape(*env.batch_shape, 2))
            r, keep = r.reshape(B), active.unsqueeze(1)
            h = torch.where(keep, h_seq[0], h)  # a waiting row keeps its memory as it was
            xs.append(x)
            actions.append(a)
            rewards.append(r)
            logps.append(policy.log_prob_and_entropy(mean, a)[0])
            values.append(v[0])
            hs.append(h)
            masks.append(active.float())
            returns[k] += r
            prev_a = torch.where(keep, a.clamp(-1.0, 1.0), prev_a)  # the displacement made, in normalised units
            prev_r = torch.where(active, r, prev_r)
            done = torch.where(active, 0.0, done)
            p = p_next.reshape(B, 2)
            if bool(env.done.all()):
                break
        done = torch.ones(B)  # the next real step of every row starts a new episode of the same task
    mask, x, a, r, logp, v, hs_packed = pack(torch.stack(masks), torch.stack(xs), torch.stack(actions),
                                             torch.stack(rewards), torch.stack(logps), torch.stack(values),
                                             torch.stack(hs))
    batch = TrialBatch(x=x, a=a, r=r * mask, logp=logp, v=v * mask, h=hs_packed, mask=mask, s=x[..., :2])
    return NavTrials(batch, returns.reshape(n_episodes, env.n_tasks, env.n_traj), torch.stack(starts))


# ============================================================================================ the agent
class RL2NavAgent:
    """The Gaussian :class:`~metarl_edu.rl2.RL2Policy`, its optimiser and the seeded streams of goals, minibatches
    (``rng``) and actions (``generator``); :meth:`train_step` is one iteration."""

    def __init__(self, config: RL2NavConfig | None = None, seed: int = 0) -> None:
        self.config, self.seed = config or RL2NavConfig(), check_int("seed", seed, low=0, error=RL2Error)
        c = self.config
        self.policy = RL2Policy(N_INPUTS, 2, c.hidden_size, torch.Generator().manual_seed(seed), c.input_scale,
                                continuous=True, init_std=c.init_std)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=c.lr)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
        self.generator = torch.Generator().manual_seed(seed + 1)
        self.iteration = 0

    def train_step(self) -> dict[str, float]:
        """Play one trial on each of ``n_tasks`` fresh goals, then one PPO update; returns the stats."""
        c = self.config
        trials = collect(self.policy, sample_goals(c.n_tasks, self.rng), c.n_episodes, 1, self.generator)
        frac = min(self.iteration / c.n_iterations, 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr * (1.0 - frac * (1.0 - c.lr_final_fraction))
        stats = ppo_update(self.policy, self.optimizer, trials.batch, self.rng, gamma=c.gamma,
                           gae_lambda=c.gae_lambda, reward_scale=c.reward_scale, value_coef=c.value_coef,
                           entropy_coef=c.entropy_coef, clip_eps=c.clip_eps, n_epochs=c.n_epochs,
                           n_minibatches=c.n_minibatches, max_grad_norm=c.max_grad_norm)
        self.iteration += 1
        returns = trials.returns.mean(dim=(1, 2))
        return {"return_ep1": float(returns[0]), "return_ep2": float(returns[min(1, len(returns) - 1)]),
                "entropy": stats["entropy"], "kl": stats["kl"], "value_loss": stats["value_loss"],
                "action_std": float(self.policy.log_std.detach().exp().mean())}


def evaluate(agent: RL2NavAgent, goals: np.ndarray, n_episodes: int = EVAL_EPISODES, n_traj: int = EVAL_TRAJ,
             seed: int = EVAL_SEED) -> np.ndarray:
    """Mean return of each episode of a trial on each goal, (n_tasks, n_episodes), over ``n_traj`` trials, actions
    sampled with a generator seeded by ``seed`` (as :func:`metarl_edu.studies.belief.evaluate`)."""
    with torch_threads(1):
        trials = collect(agent.policy, goals, n_episodes, n_traj, torch.Generator().manual_seed(seed))
    return trials.returns.double().mean(dim=2).T.numpy()


# ============================================================================================ runs
def train_run(seed: int, out: str | Path, n_iterations: int | None = None, progress: bool = True,
              **overrides: Any) -> dict[str, Any]:
    """Train RL^2 on 2D navigation with ``seed`` (one thread), write the run to ``out`` and return the eval record.
    ``overrides``: :class:`RL2NavConfig` fields."""
    config, command = run_setup("rl2-nav", RL2NavConfig(), seed, out, n_iterations, overrides)
    agent = RL2NavAgent(config, seed)
    out, _, seconds = train_logged(agent, config, seed, out, LOG_COLUMNS, progress, f"RL^2 nav seed {seed}")
    torch.save({"seed": seed, "config": dataclasses.asdict(config), "policy": agent.policy.state_dict()},
               out / CHECKPOINT)
    return write_record(out, command, config, seconds, returns=evaluate(agent, held_out_goals()))


def load_run(path: str | Path) -> RL2NavAgent:
    """The agent saved by :func:`train_run` in ``path``, ready to :func:`evaluate`."""
    file = Path(path) / CHECKPOINT
    if not file.is_file():
        raise RL2Error(f"no RL^2 navigation checkpoint at {file}")
    saved = torch.load(file, map_location="cpu", weights_only=True)
    agent = RL2NavAgent(RL2NavConfig(**saved["config"]), int(saved["seed"]))
    agent.policy.load_state_dict(saved["policy"])
    return agent


def shipped_rl2_nav_runs() -> list[Path]:
    """The run folders shipped with the package (``metarl_edu/data/rl2nav``)."""
    root = Path(str(resources.files("metarl_edu") / "data" / "rl2nav"))
    return sorted(p for p in root.iterdir() if (p / EVAL).is_file()) if root.is_dir() else []
