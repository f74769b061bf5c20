"""RL^2: a recurrent policy that learns to explore, trained across a task distribution with an actor-critic.

The agent of Duan et al. (2016) and Wang et al. (2016). A GRU reads, at every step, the observation together with
the previous action, the previous reward and a flag saying that the previous step ended an episode. Its hidden
state is kept across all the episodes of one task (a *trial*) and reset to zero when a new task starts. The
weights are trained by an ordinary policy-gradient method, A2C with GAE or its PPO variant (several clipped
passes over each batch), across many tasks ("slow" RL); what the GRU does with its hidden state inside one trial
is a learned RL algorithm ("fast" RL) that explores a new task and exploits what it found. The objective is the
total reward of the whole trial, so paying to explore in the first episodes is worth it when it pays back later.

=============  ===========  ===================================================================================
symbol         shape        meaning
=============  ===========  ===================================================================================
``B``                       trials run together, one task each
``T``                       steps per trial: ``n_episodes * H``
``H``                       steps per episode (the task's horizon; 1 for a bandit, where every pull is an episode)
``A``                       actions (arms of a bandit)
``d_obs``                   size of the encoded observation: S (one-hot state) for MDPs, 1 (a constant) for bandits
``x``          (T, B, d_x)  GRU inputs ``x_t = [o_t, onehot(a_{t-1}), r_{t-1}, d_{t-1}]``, ``d_x = d_obs + A + 2``
``h``          (B, n_h)     GRU hidden state; zero at the start of every trial
``a, r``       (T, B)       actions taken and rewards received
``v``          (T, B)       value estimates ``V(h_t)``: expected reward still to come in the trial
``mask``       (T, B)       1 for real steps, 0 for padding (left out of the loss)
=============  ===========  ===================================================================================

>>> config = RL2Config(task="bandit", n_episodes=10, k=5)
>>> agent = RL2Agent(config).train(progress=False)
>>> rng = np.random.default_rng(0)
>>> batch = collect_trials(agent.policy, config.sample_tasks(100, rng), config.n_episodes, rng)

The course's settings (``preset``), the checkpointed training command (``train_rl2``) and the held-out evaluation
next to the bandit and MDP baselines (``evaluate_rl2``) are in :mod:`metarl_edu.studies.rl2`.

References:
    Duan, Schulman, Chen, Bartlett, Sutskever & Abbeel (2016), RL^2: Fast reinforcement learning via slow
    reinforcement learning. arXiv:1611.02779.
    Wang, Kurth-Nelson, Tirumala, Soyer, Leibo, Munos, Blundell, Kumaran & Botvinick (2016), Learning to
    reinforcement learn. arXiv:1611.05763.
    Mnih et al. (2016), Asynchronous methods for deep reinforcement learning (A2C/A3C). ICML.
    Schulman, Moritz, Levine, Jordan & Abbeel (2016), High-dimensional continuous control using generalized
    advantage estimation. ICLR.
    Cho et al. (2014), Learning phrase representations using RNN encoder-decoder (the GRU). EMNLP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from metarl_edu._checks import check_int, check_number
from metarl_edu.fast.tasks import BernoulliBandits, RandomTabularMDPs
from metarl_edu.pg import gae_advantages, normalise_advantages


class RL2Error(ValueError):
    """A setting, input or checkpoint that does not make sense for RL^2; the message says what is wrong."""


# ============================================================================================== config
@dataclass(frozen=True)
class RL2Config:
    """Everything that defines one RL^2 training run. Two runs with equal configs give equal agents.

    Attributes:
        task: ``"bandit"`` (Bernoulli bandits, arm means ``U[0, 1]``) or ``"mdp"`` (Duan et al.'s random
            tabular MDPs: Dirichlet(1) transitions, ``N(1, 1)`` mean rewards, unit reward noise, start in state 0).
        n_episodes: episodes per trial, >= 1; for a bandit, the number of pulls n.
        k: arms of a bandit, >= 1 (ignored for MDPs).
        n_states, n_actions, horizon: the MDPs' size and episode length; Duan et al. use 10, 5 and 10. For a
            bandit, ``n_states`` and ``horizon`` are ignored and ``n_actions`` is set to ``k``: A, the actions
            the policy chooses among, is ``n_actions`` for either task.
        hidden_size: GRU units, >= 1; 32-128 is plenty here.
        n_tasks: trials per batch (B), each on a freshly sampled task; >= 2. More tasks per batch give steadier
            gradients at almost the same cost per step on a CPU, until the batch no longer fits in cache.
        n_iterations: training batches, >= 0; each is played once and then gives ``n_epochs * n_minibatches``
            gradient steps.
        lr: Adam learning rate, > 0; decays linearly to ``lr * lr_final_fraction`` over training.
        lr_final_fraction: in [0, 1].
        gamma: discount per step across the whole trial, in [0, 1]. Not per episode: RL^2 maximises the trial's
            total, so the reward of a later episode counts for an earlier one's exploration. 0.9 suits bandits
            (Gittins' index with that discount is close to the best strategy even for 100 pulls, and values stay
            small); MDPs need a longer view, such as 0.99.
        gae_lambda: GAE's lambda in [0, 1]: 0 is the one-step TD advantage, 1 the Monte Carlo return minus V.
        value_coef: weight of the value loss, >= 0.
        reward_scale: the loss sees rewards times this, > 0 (the GRU's input sees them unchanged). Values are
            then in these units; keep them of order 1, e.g. about ``1 - gamma`` when rewards are about 1 a step.
        entropy_coef: weight of the entropy bonus at the start, >= 0; it decays linearly to
            ``entropy_coef * entropy_final_fraction``, so the agent explores early in training and commits late.
        entropy_final_fraction: in [0, 1].
        max_grad_norm: gradients are clipped to this global norm, > 0.
        input_scale: the GRU's input weights start uniform in ``[-input_scale, input_scale]``, > 0; torch's
            default, ``1/sqrt(hidden_size)``, is about ten times smaller. To explore well the agent must combine
            *which arm it pulled* with *whether that paid* (an AND of two inputs), which needs the GRU's gates to
            be in their nonlinear range; with small input weights the network starts nearly linear and training
            idles on a long plateau first. For MDPs, though, 0.5 learns faster than 2 (see
            :func:`metarl_edu.studies.rl2.preset`).
        n_epochs: passes over each batch, >= 1 (PPO); 1 with ``n_minibatches = 1`` is plain A2C.
        n_minibatches: each pass splits the B trials into this many minibatches of whole trials, >= 1, one
            gradient step each.
        clip_eps: PPO's clipping range for the probability ratio, > 0 (no effect on a single pass, where the
            ratio is 1).
        seed: seeds everything: parameter initialisation, tasks, actions.
    """

    task: Literal["bandit", "mdp"] = "bandit"
    n_episodes: int = 10
    k: int = 5
    n_states: int = 10
    n_actions: int = 5
    horizon: int = 10
    hidden_size: int = 64
    n_tasks: int = 256
    n_iterations: int = 300
    lr: float = 1e-2
    lr_final_fraction: float = 0.1
    gamma: float = 0.9
    gae_lambda: float = 0.9
    value_coef: float = 0.5
    reward_scale: float = 1.0
    entropy_coef: float = 0.01
    entropy_final_fraction: float = 0.0
    max_grad_norm: float = 1.0
    input_scale: float = 2.0
    n_epochs: int = 4
    n_minibatches: int = 4
    clip_eps: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in ("bandit", "mdp"):
            raise RL2Error(f"task must be 'bandit' or 'mdp'; got {self.task!r}")
        for name in ("n_episodes", "k", "n_states", "n_actions", "horizon", "hidden_size"):
            check_int(name, getattr(self, name), 1, error=RL2Error)
        check_int("n_tasks", self.n_tasks, 2, error=RL2Error)
        check_int("n_iterations", self.n_iterations, 0, error=RL2Error)
        check_int("n_epochs", self.n_epochs, 1, error=RL2Error)
        check_int("n_minibatches", self.n_minibatches, 1, error=RL2Error)
        if self.n_minibatches > self.n_tasks:
            raise RL2Error(f"n_minibatches ({self.n_minibatches}) cannot exceed n_tasks ({self.n_tasks})")
        for name in ("gamma", "gae_lambda", "lr_final_fraction", "entropy_final_fraction"):
            check_number(name, getattr(self, name), 0.0, 1.0, error=RL2Error)
        for name in ("lr", "max_grad_norm", "input_scale", "clip_eps", "reward_scale"):
            check_number(name, getattr(self, name), 0.0, low_open=True, error=RL2Error)
        for name in ("value_coef", "entropy_coef"):
            check_number(name, getattr(self, name), 0.0, error=RL2Error)
        if self.task == "bandit":
            object.__setattr__(self, "n_actions", self.k)  # a bandit's actions are its arms

    @property
    def n_obs(self) -> int:
        """``d_obs``: S for MDPs (one-hot state), 1 for bandits (a constant observation)."""
        return self.n_states if self.task == "mdp" else 1

    @property
    def steps_per_trial(self) -> int:
        """T = n_episodes * H (H = 1 for a bandit)."""
        return self.n_episodes * (self.horizon if self.task == "mdp" else 1)

    @property
    def name(self) -> str:
        """A short label, e.g. ``RL2(bandit, n=10, k=5)``."""
        detail = f"k={self.k}" if self.task == "bandit" else f"S={self.n_states}, A={self.n_actions}, H={self.horizon}"
        return f"RL2({self.task}, n={self.n_episodes}, {detail})"

    def sample_tasks(self, n_tasks: int, rng: np.random.Generator) -> BernoulliBandits | RandomTabularMDPs:
        """``n_tasks`` fresh tasks from this config's distribution (see :mod:`metarl_edu.fast.tasks`)."""
        if self.task == "bandit":
            return BernoulliBandits.sample(n_tasks, self.k, rng)
        return RandomTabularMDPs.sample(n_tasks, rng, self.n_states, self.n_actions, self.horizon)


# ========================================================================================= the input
def rl2_input(obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor, done: torch.Tensor,
              n_actions: int) -> torch.Tensor:
    """The GRU's input at one step: ``x_t = [o_t, onehot(a_{t-1}), r_{t-1}, d_{t-1}]``, shape (B, d_obs + A + 2).

    Args:
        obs: ``o_t``, the encoded observation, float (B, d_obs): a one-hot state, or a constant 1 for a bandit.
        prev_action: ``a_{t-1}``, integer (B,); -1 at the first step of a trial, where there is no previous
            action, encodes as all zeros.
        prev_reward: ``r_{t-1}``, float (B,); 0 at the first step of a trial.
        done: ``d_{t-1}``, (B,): 1 where the previous step ended an episode (so ``o_t`` starts a new episode of
            the same task), else 0; 0 at the first step of a trial.
        n_actions: A, the length of the one-hot action.

    >>> rl2_input(torch.tensor([[1.0]]), torch.tensor([2]), torch.tensor([0.5]), torch.tensor([1.0]), 3)
    tensor([[1.0000, 0.0000, 0.0000, 1.0000, 0.5000, 1.0000]])
    """
    B = obs.shape[0]
    if obs.ndim != 2 or prev_action.shape != (B,) or prev_reward.shape != (B,) or done.shape != (B,):
        raise RL2Error(f"need obs (B, d_obs) and prev_action, prev_reward, done of shape (B,); got {tuple(obs.shape)}"
                       f", {tuple(prev_action.shape)}, {tuple(prev_reward.shape)}, {tuple(done.shape)}")
    a_onehot = nn.functional.one_hot(prev_action.clamp(min=0), n_actions).float()
    a_onehot = a_onehot * (prev_action >= 0).unsqueeze(1)  # no previous action: all zeros
    return torch.cat([obs.float(), a_onehot, prev_reward.float().unsqueeze(1), done.float().unsqueeze(1)], dim=1)


def encode_obs(s: np.ndarray, n_obs: int) -> torch.Tensor:
    """``o_t`` from the states ``s`` (B,): one-hot of length S when ``n_obs = S`` > 1; the constant 1 when 1."""
    s = torch.as_tensor(s)
    if n_obs == 1:
        return torch.ones(s.shape[0], 1)
    return nn.functional.one_hot(s, n_obs).float()


# ========================================================================================= the policy
class RL2Policy(nn.Module):
    """A GRU with two linear heads: ``h_t = GRU(x_t, h_{t-1})``, ``pi(.|h_t) = softmax(W_pi h_t)``,
    ``V(h_t) = w_v . h_t``. With ``continuous=True`` the policy head is the mean of a Gaussian over A real
    actions, ``pi(.|h_t) = N(W_pi h_t, diag(sigma^2))``, with a learned log-std ``log_std`` that does not depend on
    ``h`` (as lesson 06's :class:`~metarl_edu.nets.GaussianMLPPolicy`); lesson 11 uses it on 2D navigation.

    Args:
        n_inputs: d_x = d_obs + A + 2.
        n_actions: A.
        hidden_size: n_h.
        generator: draws the initial weights: the GRU's input weights ``U(-input_scale, input_scale)``, its
            other weights ``U(-1/sqrt(n_h), 1/sqrt(n_h))`` as in torch; the heads orthogonal, the policy head
            scaled by 0.01 so that the first policy is close to uniform.
        input_scale: see :class:`RL2Config`.
        continuous: a Gaussian head (see above) instead of a categorical one.
        init_std: the Gaussian's initial std, > 0 (``continuous`` only).
    """

    def __init__(self, n_inputs: int, n_actions: int, hidden_size: int, generator: torch.Generator,
                 input_scale: float = 2.0, *, continuous: bool = False, init_std: float = 0.5) -> None:
        super().__init__()
        self.continuous = continuous
        if continuous:
            self.log_std = nn.Parameter(torch.full((n_actions,), math.log(check_number(
                "init_std", init_std, 0.0, low_open=True, error=RL2Error))))
        self.gru = nn.GRU(n_inputs, hidden_size)
        self.pi = nn.Linear(hidden_size, n_actions)
        self.v = nn.Linear(hidden_size, 1)
        bound = 1.0 / math.sqrt(hidden_size)
        with torch.no_grad():
            for name, p in self.gru.named_parameters():
                # input weights larger than torch's default bound: see RL2Config.input_scale
                scale = input_scale if name == "weight_ih_l0" else bound
                p.uniform_(-scale, scale, generator=generator)
            nn.init.orthogonal_(self.pi.weight, gain=0.01, generator=generator)
            nn.init.orthogonal_(self.v.weight, gain=1.0, generator=generator)
            self.pi.bias.zero_()
            self.v.bias.zero_()

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the GRU over ``x`` (T, B, d_x) from ``h0`` (B, n_h) (zeros when None: a new trial).

        Returns ``(logits, v, h)``: (T, B, A), (T, B) and the hidden states after each step (T, B, n_h).
        """
        h, _ = self.gru(x, None if h0 is None else h0.unsqueeze(0))
        return self.pi(h), self.v(h).squeeze(-1), h

    def log_prob_and_entropy(self, out: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log pi(a_t|h_t)`` and the entropy of ``pi(.|h_t)``, each (T, B), from the head's output ``out``
        (logits (T, B, A), or the Gaussian's mean) and the actions ``a`` ((T, B) integers, or (T, B, A) reals)."""
        if self.continuous:
            log_std = self.log_std.expand_as(out)
            z = (a - out) / log_std.exp()
            logp = (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
            return logp, (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)
        log_pi = torch.log_softmax(out, dim=-1)
        return log_pi.gather(-1, a.unsqueeze(-1)).squeeze(-1), -(log_pi.exp() * log_pi).sum(-1)


# ============================================================================================ rollouts
@dataclass(eq=False)
class TrialBatch:
    """B trials, one task each, recorded step by step. Shapes in the module docstring.

    Attributes:
        x: GRU inputs (T, B, d_x). ``x[0]`` carries no previous action or reward: the trial starts there.
        a, r: actions (T, B) and rewards (T, B).
        logp: ``log pi(a_t | h_t)`` when the actions were drawn (T, B).
        v: ``V(h_t)`` when the actions were drawn (T, B).
        h: hidden states after each step (T, B, n_h).
        mask: 1 for real steps, 0 for padding (T, B). The simulators here step every trial in lockstep with
            explicit episode boundaries, so their batches have no padding; the loss honours the mask all the same.
        s: the states in which the actions were taken (T, B).
    """

    x: torch.Tensor
    a: torch.Tensor
    r: torch.Tensor
    logp: torch.Tensor
    v: torch.Tensor
    h: torch.Tensor
    mask: torch.Tensor
    s: torch.Tensor


def sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw from each row of ``probs`` (B, A), by inversion: the first a with ``u < sum_{a' <= a} pi(a')``."""
    u = rng.random(probs.shape[0])
    return np.minimum((u[:, None] >= np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1)


@torch.no_grad()
def collect_trials(policy: RL2Policy, tasks: BernoulliBandits | RandomTabularMDPs, n_episodes: int,
                   rng: np.random.Generator, *, greedy: bool = False, reset_each_episode: bool = False
                   ) -> TrialBatch:
    """Play one trial of ``n_episodes`` episodes in each of the B tasks, all in lockstep.

    The hidden state starts at zero (a new task: the agent knows nothing yet) and is carried from step to step
    through every episode of the trial; only the next trial, on new tasks, starts from zero again. When an
    episode ends, the next step starts the next episode in the same call: its observation is the task's start
    state and its input says ``done = 1``, so no step is spent on a reset and there is nothing to mask.

    Args:
        greedy: take ``argmax pi`` instead of sampling.
        reset_each_episode: the ablation of lesson 09: empty the memory at every episode start as if a new trial
            began (``h = 0``, no previous action or reward), so that nothing learned in one episode reaches the
            next. The trained agent is meant to run with False.
    """
    B, A, H = tasks.n_tasks, tasks.n_actions, tasks.horizon
    n_obs = tasks.n_states if isinstance(tasks, RandomTabularMDPs) else 1
    T = n_episodes * H
    xs, actions, rewards, logps, values, hs, states = [], [], [], [], [], [], []
    s = tasks.start(rng)
    h = torch.zeros(B, policy.gru.hidden_size)  # a new trial: the memory starts empty
    prev_a = torch.full((B,), -1, dtype=torch.long)
    prev_r = torch.zeros(B)
    done = torch.zeros(B)
    for t in range(T):
        x = rl2_input(encode_obs(s, n_obs), prev_a, prev_r, done, A)
        logits, v, h_seq = policy(x.unsqueeze(0), h)
        h = h_seq[0]
        log_pi = torch.log_softmax(logits[0], dim=-1)
        a = log_pi.argmax(dim=-1).numpy() if greedy else sample_categorical(log_pi.exp().numpy(), rng)
        s_next, r = tasks.step(s, a, rng)
        episode_over = (t + 1) % H == 0  # a time limit: the task goes on in the next episode, so h is kept
        states.append(s)
        s = tasks.start(rng) if episode_over else s_next
        a_t = torch.from_numpy(a)
        xs.append(x)
        actions.append(a_t)
        rewards.append(torch.from_numpy(r).float())
        logps.append(log_pi.gather(1, a_t.unsqueeze(1)).squeeze(1))
        values.append(v[0])
        hs.append(h)
        prev_a, prev_r, done = a_t, rewards[-1], torch.full((B,), float(episode_over))
        if episode_over and reset_each_episode:
            h, prev_a, prev_r, done = torch.zeros_like(h), torch.full((B,), -1, dtype=torch.long), torch.zeros(B), \
                torch.zeros(B)
    return TrialBatch(x=torch.stack(xs), a=torch.stack(actions), r=torch.stack(rewards), logp=torch.stack(logps),
                      v=torch.stack(values), h=torch.stack(hs), mask=torch.ones(T, B),
                      s=torch.from_numpy(np.stack(states)))


# ============================================================================================ the loss
def rl2_loss(logits: torch.Tensor, v: torch.Tensor, a: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor,
             returns: torch.Tensor, mask: torch.Tensor, value_coef: float, entropy_coef: float, clip_eps: float
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Actor-critic loss over the real steps (``mask = 1``), with PPO's clipped ratio, for a categorical policy:
    :func:`ppo_loss` on ``log pi(a_t|h_t) = log_softmax(logits)[a_t]`` and the entropy of ``softmax(logits)``.

    Args:
        logits: (T, B, A); v: (T, B); a, logp_old, adv, returns, mask: (T, B). See :func:`ppo_loss`.
    """
    log_pi = torch.log_softmax(logits, dim=-1)
    logp = log_pi.gather(-1, a.unsqueeze(-1)).squeeze(-1)
    entropy = -(log_pi.exp() * log_pi).sum(-1)
    return ppo_loss(logp, entropy, v, logp_old, adv, returns, mask, value_coef, entropy_coef, clip_eps)


def ppo_loss(logp: torch.Tensor, entropy: torch.Tensor, v: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor,
             returns: torch.Tensor, mask: torch.Tensor, value_coef: float, entropy_coef: float, clip_eps: float
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Actor-critic loss over the real steps (``mask = 1``), with PPO's clipped ratio, for any policy whose
    log-probabilities and entropies are given (categorical: :func:`rl2_loss`; Gaussian:
    :meth:`RL2Policy.log_prob_and_entropy`).

    ``L = -mean(min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t)) + c_v mean((V_t - G_t)^2) - c_H mean(H_t)``,
    where ``rho_t = pi(a_t|h_t) / pi_old(a_t|h_t)``. On the first pass over a fresh batch ``rho_t = 1`` and the
    gradient of the first term is A2C's, ``-A_t grad log pi(a_t|h_t)``; further passes (PPO) stop moving a
    probability once its ratio leaves ``[1 - eps, 1 + eps]`` in the direction the advantage pushes.

    Args:
        logp: ``log pi(a_t|h_t)`` under the current weights, (T, B); entropy: ``H(pi(.|h_t))``, (T, B);
            v: (T, B); logp_old, adv, returns, mask: (T, B). ``adv`` should be normalised already; ``logp_old``,
            ``adv`` and ``returns`` are constants here.
    Returns:
        ``(loss, stats)``: a scalar to minimise, and floats for logging (``kl``: how far this pass has moved the
        policy from the one that played the batch). Every mean divides by the number of real steps, so padding
        changes neither the loss nor its gradient.
    """
    n = mask.sum()
    # rho = 1 on padding: what a padded step's replay gives can be anything, and exp of it may overflow
    rho = torch.exp(torch.where(mask > 0, logp - logp_old, 0.0))
    surrogate = torch.minimum(rho * adv, rho.clamp(1.0 - clip_eps, 1.0 + clip_eps) * adv)
    policy_loss = -(surrogate * mask).sum() / n
    value_loss = ((v - returns) ** 2 * mask).sum() / n
    entropy = (entropy * mask).sum() / n
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    with torch.no_grad():  # KL(pi_old || pi) estimated from the batch's own actions: E[(rho - 1) - log rho] >= 0
        kl = (((rho - 1.0) - torch.log(rho)) * mask).sum() / n
    return loss, {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item(),
                  "kl": kl.item()}


def ppo_update(policy: RL2Policy, optimizer: torch.optim.Optimizer, batch: TrialBatch, rng: np.random.Generator, *,
               gamma: float, gae_lambda: float, reward_scale: float, value_coef: float, entropy_coef: float,
               clip_eps: float, n_epochs: int, n_minibatches: int, max_grad_norm: float) -> dict[str, float]:
    """``n_epochs`` passes over the B trials of ``batch``, each made of ``n_minibatches`` gradient steps on
    :func:`ppo_loss` (whole trials per minibatch, shuffled with ``rng``); GAE advantages over whole trials,
    normalised, and lambda-returns as value targets. Returns the last step's stats and its gradient norm before
    clipping to ``max_grad_norm``."""
    adv = gae_advantages(reward_scale * batch.r, batch.v, gamma, gae_lambda, batch.mask)
    returns = adv + batch.v  # the lambda-return, the value target
    adv = normalise_advantages(adv, batch.mask)
    n_trials = batch.r.shape[1]
    for _ in range(n_epochs):
        for idx in np.array_split(rng.permutation(n_trials), n_minibatches):
            idx = torch.from_numpy(idx)
            # the same trials again, from h = 0, now with gradients
            out, v, _ = policy(batch.x[:, idx])
            logp, entropy = policy.log_prob_and_entropy(out, batch.a[:, idx])
            loss, stats = ppo_loss(logp, entropy, v, batch.logp[:, idx], adv[:, idx], returns[:, idx],
                                   batch.mask[:, idx], value_coef, entropy_coef, clip_eps)
            optimizer.zero_grad()
            loss.backward()
            stats["grad_norm"] = nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm).item()
            optimizer.step()
    return stats


# =========================================================================================== the agent
class RL2Agent:
    """An RL^2 policy with its optimiser, config and training history. Checkpoints (save, load, the shipped
    agents) are in :mod:`metarl_edu.studies.rl2`.

    Attributes:
        config: the :class:`RL2Config`.
        policy: the :class:`RL2Policy`.
        iteration: training batches done so far.
        history: one dict per iteration: ``mean_total`` (mean trial reward of the batch), losses, entropy.
    """

    def __init__(self, config: RL2Config) -> None:
        self.config = config
        seeds = np.random.SeedSequence(config.seed).spawn(2)
        init_gen = torch.Generator().manual_seed(int(seeds[0].generate_state(1)[0]))
        self.policy = RL2Policy(config.n_obs + config.n_actions + 2, config.n_actions, config.hidden_size, init_gen,
                                config.input_scale)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr)
        self.rng = np.random.default_rng(seeds[1])  # tasks and actions during training
        self.iteration = 0
        self.history: list[dict[str, float]] = []

    def _schedule(self, start: float, final_fraction: float) -> float:
        """Linear decay from ``start`` to ``start * final_fraction`` over ``config.n_iterations``."""
        frac = min(self.iteration / max(self.config.n_iterations, 1), 1.0)
        return start * (1.0 - frac * (1.0 - final_fraction))

    def train_step(self) -> dict[str, float]:
        """One iteration: play B trials on fresh tasks, then ``n_epochs`` passes over them, each made of
        ``n_minibatches`` gradient steps (a single A2C step when both are 1).

        Returns the losses of the last gradient step, its gradient norm before clipping, and ``mean_total``, the
        batch's mean trial reward; the same dict is appended to ``history``.
        """
        c = self.config
        tasks = c.sample_tasks(c.n_tasks, self.rng)
        batch = collect_trials(self.policy, tasks, c.n_episodes, self.rng)
        for group in self.optimizer.param_groups:
            group["lr"] = self._schedule(c.lr, c.lr_final_fraction)
        stats = ppo_update(self.policy, self.optimizer, batch, self.rng, gamma=c.gamma, gae_lambda=c.gae_lambda,
                           reward_scale=c.reward_scale, value_coef=c.value_coef,
                           entropy_coef=self._schedule(c.entropy_coef, c.entropy_final_fraction),
                           clip_eps=c.clip_eps, n_epochs=c.n_epochs, n_minibatches=c.n_minibatches,
                           max_grad_norm=c.max_grad_norm)
        self.iteration += 1
        stats["mean_total"] = batch.r.sum(0).mean().item()
        self.history.append(stats)
        return stats

    def train(self, n_iterations: int | None = None, *, progress: bool = True) -> RL2Agent:
        """Train for ``n_iterations`` more batches (default: until ``config.n_iterations`` in all); ``progress``
        shows a tqdm bar. The GRU's matrices are small: one torch thread (``torch.set_num_threads(1)``) is
        usually fastest, as a second thread gains little and waits on the first when the other core is busy."""
        if n_iterations is None:
            n_iterations = max(self.config.n_iterations - self.iteration, 0)
        bar = tqdm(range(n_iterations), desc=self.config.name, unit="batch", disable=not progress)
        for _ in bar:
            stats = self.train_step()
            bar.set_postfix(total=f"{stats['mean_total']:.2f}", entropy=f"{stats['entropy']:.2f}")
        return self


def __getattr__(name: str) -> Any:
    """``metarl_edu.rl2.pretrained(task, n_episodes, k, seed)`` loads a shipped agent; the loaders live in
    :mod:`metarl_edu.studies.rl2` (checkpoints are not part of the algorithm) and are found there on first use."""
    if name in ("pretrained", "pretrained_name"):
        from metarl_edu.studies import rl2 as shipped

        return getattr(shipped, name)
    raise AttributeError(f"module 'metarl_edu.rl2' has no attribute {name!r}")


__all__ = ["RL2Agent", "RL2Config", "RL2Error", "RL2Policy", "TrialBatch", "collect_trials", "encode_obs",
           "ppo_loss", "ppo_update", "rl2_input", "rl2_loss", "sample_categorical"]
