"""RL^2 trials on Gymnasium vector environments, whose autoreset step must not reach the agent.

A ``gymnasium.vector.VectorEnv`` resets each of its environments by itself when an episode ends. In the default
autoreset mode, ``NEXT_STEP``, the reset happens on the call *after* the one that ended the episode: that call
ignores the action, pays reward 0, reports neither termination nor truncation and returns the first observation
of the next episode. It is not a step of the task. If an RL^2 agent read it, its memory would hold an action that
was never taken and a reward the task never paid, and the loss would credit that action with it.

:func:`collect_gym_trials` plays RL^2 trials on such an environment (one task per sub-environment) and keeps the
autoreset step away from the agent:

* on an autoreset step a row's hidden state stays as it was, and nothing of the step is recorded;
* the next real input carries ``done = 1`` and the last *real* action and reward;
* each row's real steps are packed at the front of the batch, padding (``mask = 0``) after them, so one pass of
  the GRU over the packed inputs gives the same hidden states as the rollout did, and the loss
  (:func:`metarl_edu.rl2.rl2_loss`) leaves the padding out.

In ``SAME_STEP`` mode the environment resets within the call that ends the episode, so there is no such step;
the same function plays those environments too. The batched simulators of :mod:`metarl_edu.fast.tasks` used for
training avoid the problem at the source (fixed-length episodes, no reset step).

>>> envs = gym.vector.SyncVectorEnv([lambda: BernoulliBanditEnv([0.2, 0.9], horizon=1)] * 4)
>>> batch = collect_gym_trials(agent.policy, envs, n_episodes=10, rng=np.random.default_rng(0), seed=0)
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from metarl_edu._checks import check_int
from metarl_edu.rl2 import RL2Error, RL2Policy, TrialBatch, encode_obs, rl2_input, sample_categorical

_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


def _check_env(envs: gym.vector.VectorEnv, policy: RL2Policy) -> tuple[int, int, AutoresetMode]:
    """(n_obs, n_actions, autoreset mode) of ``envs``, or an :class:`RL2Error` saying what does not fit."""
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    if not (isinstance(obs_space, spaces.Discrete) and isinstance(act_space, spaces.Discrete)):
        raise RL2Error(f"RL^2 here plays envs with Discrete observations and actions; got {obs_space} and {act_space}")
    mode = AutoresetMode(envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
    if mode not in _MODES:
        raise RL2Error(f"the vector env's autoreset mode is {mode.name}: a trial needs the envs to reset "
                       f"themselves between episodes ({' or '.join(m.name for m in _MODES)})")
    n_obs, n_actions = int(obs_space.n), int(act_space.n)
    n_inputs = policy.gru.input_size
    if n_inputs != n_obs + n_actions + 2:  # encode_obs gives n_obs columns (one-hot, or the constant 1)
        raise RL2Error(f"the policy reads {n_inputs} inputs, but these envs give d_obs + A + 2 = "
                       f"{n_obs} + {n_actions} + 2")
    return n_obs, n_actions, mode


@torch.no_grad()
def collect_gym_trials(policy: RL2Policy, envs: gym.vector.VectorEnv, n_episodes: int, rng: np.random.Generator,
                       *, seed: int | None = None, greedy: bool = False) -> TrialBatch:
    """Play one trial of ``n_episodes`` episodes in each sub-environment of ``envs`` (B of them, one task each).

    Episodes may have different lengths (an env may terminate early); rows that finish their trial first wait,
    with their memory frozen, until all have. Returns a :class:`~metarl_edu.rl2.TrialBatch` of shape (T, B) with
    T the longest trial's number of real steps; ``mask`` is 1 on real steps and 0 on the padding after them.

    Args:
        envs: a vector env with Discrete observations (one-hot encoded; a single state is the constant 1) and
            Discrete actions, in autoreset mode ``NEXT_STEP`` (the default) or ``SAME_STEP``.
        rng: draws the actions.
        seed: passed to ``envs.reset``.
        greedy: take ``argmax pi`` instead of sampling.
    """
    check_int("n_episodes", n_episodes, low=1, error=RL2Error)
    n_obs, A, mode = _check_env(envs, policy)
    B = envs.num_envs
    obs, _ = envs.reset(seed=seed)
    h = torch.zeros(B, policy.gru.hidden_size)  # a new trial: the memory starts empty
    prev_a, prev_r, done = torch.full((B,), -1, dtype=torch.long), torch.zeros(B), torch.zeros(B)
    episodes = np.zeros(B, dtype=int)
    autoreset = np.zeros(B, dtype=bool)  # True where this call only resets the env (NEXT_STEP mode)
    steps: list[list[tuple]] = [[] for _ in range(B)]
    while (episodes < n_episodes).any():
        x = rl2_input(encode_obs(np.asarray(obs), n_obs), prev_a, prev_r, done, A)
        logits, v, h_seq = policy(x.unsqueeze(0), h)
        log_pi = torch.log_softmax(logits[0], dim=-1)
        a = log_pi.argmax(dim=-1).numpy() if greedy else sample_categorical(log_pi.exp().numpy(), rng)
        next_obs, r, terminated, truncated, _ = envs.step(a)
        real = (episodes < n_episodes) & ~autoreset  # a step of the task, inside this row's trial
        for b in np.flatnonzero(real):
            steps[b].append((x[b], int(a[b]), float(r[b]), float(log_pi[b, a[b]]), float(v[0, b]), h_seq[0, b],
                             int(obs[b])))
        ended = real & (terminated | truncated)
        real_t = torch.from_numpy(real)
        # the autoreset step (and the wait after a trial) never reaches the memory: h, a, r and d stay as they were
        h = torch.where(real_t[:, None], h_seq[0], h)
        prev_a = torch.where(real_t, torch.from_numpy(np.asarray(a, dtype=np.int64)), prev_a)
        prev_r = torch.where(real_t, torch.as_tensor(r, dtype=torch.float32), prev_r)
        done = torch.where(real_t, torch.from_numpy(ended).float(), done)
        episodes += ended
        autoreset = ended if mode == AutoresetMode.NEXT_STEP else np.zeros(B, dtype=bool)
        obs = next_obs
    return _pack(steps, x.shape[1], policy.gru.hidden_size)


def _pack(steps: list[list[tuple]], d_x: int, n_h: int) -> TrialBatch:
    """Each row's real steps at the front of (T, B) tensors, zeros and ``mask = 0`` after them."""
    B, T = len(steps), max(len(row) for row in steps)
    x, hs = torch.zeros(T, B, d_x), torch.zeros(T, B, n_h)
    a, s = torch.zeros(T, B, dtype=torch.long), torch.zeros(T, B, dtype=torch.long)
    r, logp, v, mask = (torch.zeros(T, B) for _ in range(4))
    for b, row in enumerate(steps):
        n = len(row)
        x[:n, b] = torch.stack([step[0] for step in row])
        hs[:n, b] = torch.stack([step[5] for step in row])
        a[:n, b] = torch.tensor([step[1] for step in row])
        r[:n, b] = torch.tensor([step[2] for step in row])
        logp[:n, b] = torch.tensor([step[3] for step in row])
        v[:n, b] = torch.tensor([step[4] for step in row])
        s[:n, b] = torch.tensor([step[6] for step in row])
        mask[:n, b] = 1.0
    return TrialBatch(x=x, a=a, r=r, logp=logp, v=v, h=hs, mask=mask, s=s)


__all__ = ["collect_gym_trials"]
