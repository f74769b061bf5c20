"""Small neural policies for policy gradients and MAML: an MLP, and categorical and Gaussian MLP policies.

A policy can be called with an explicit parameter dict (``policy(obs, params=theta_prime)``, through
``torch.func.functional_call``), which is what MAML's inner loop needs: the adapted policy ``pi_theta'`` is
evaluated without building a new module.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


class PolicyError(ValueError):
    """A policy that does not fit an environment, or inputs of the wrong shape; the message says which."""


# --------------------------------------------------------------------------------------------- policies
def mlp(sizes: tuple[int, ...], activation: str = "relu", seed: int = 0) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``, ``activation`` between layers.

    Weights are Glorot-uniform (Glorot & Bengio, 2010) drawn from ``torch.Generator`` seeded with ``seed``,
    biases 0, so the same seed gives the same network.

    >>> mlp((1, 40, 40, 1))
    Sequential(
      (0): Linear(in_features=1, out_features=40, bias=True)
      (1): ReLU()
      (2): Linear(in_features=40, out_features=40, bias=True)
      (3): ReLU()
      (4): Linear(in_features=40, out_features=1, bias=True)
    )
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
    if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"sizes must be at least two positive integers (input, ..., output); got {sizes!r}")
    generator = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(n_in, n_out)
        with torch.no_grad():
            nn.init.xavier_uniform_(linear.weight, generator=generator)
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class MLPPolicy(nn.Module):
    """Common part of the two policies: the call with an explicit parameter dict, sampling and log-probabilities.

    ``policy(obs)`` gives the distribution's parameters (logits, or mean and log-std); ``policy(obs,
    params=theta)`` gives the same with the parameters ``theta`` (a dict with the keys of
    ``dict(policy.named_parameters())``) in place of the module's own, which stay untouched. That call is what
    MAML's inner loop needs: it evaluates the adapted policy ``pi_theta'`` without building a new module.
    """

    obs_dim: int

    def forward(self, obs: torch.Tensor, params: Params | None = None) -> Any:
        if params is not None:
            return functional_call(self, params, (obs,))  # calls forward again with params=None
        if obs.shape[-1] != self.obs_dim:
            raise PolicyError(f"observations must end in obs_dim={self.obs_dim}; got shape {tuple(obs.shape)}")
        return self.distribution_parameters(obs)

    def distribution_parameters(self, obs: torch.Tensor) -> Any:
        raise NotImplementedError

    def params(self) -> Params:
        """``theta``: the module's parameters as a dict name -> tensor (the same tensors, not copies)."""
        return dict(self.named_parameters())

    def sample(self, obs: torch.Tensor, generator: torch.Generator, params: Params | None = None) -> torch.Tensor:
        """``a ~ pi_theta(. | obs)`` for every leading index of ``obs``, drawn with ``generator``; no gradient."""
        with torch.no_grad():
            return self.sample_from(self(obs, params), generator)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        """``log pi_theta(a | s)`` with shape ``obs.shape[:-1]``, differentiable in ``theta``."""
        return self.log_prob_from(self(obs, params), actions)

    def sample_from(self, outputs: Any, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def log_prob_from(self, outputs: Any, actions: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def check_action_space(self, action_space: spaces.Space) -> None:
        raise NotImplementedError


class CategoricalMLPPolicy(MLPPolicy):
    """``pi_theta(a | s) = softmax(f_theta(s))_a`` over ``n_actions`` discrete actions; ``f_theta`` an MLP.

    ``policy(obs)`` returns the logits ``f_theta(s)``, shape (*batch, n_actions).

    Args:
        obs_dim: length of an observation vector.
        n_actions: number of actions (``env.action_space.n``).
        hidden_sizes: widths of the hidden layers; ``()`` gives a linear softmax policy.
        activation: ``"relu"`` or ``"tanh"``.
        seed: seeds the initial weights.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden_sizes: tuple[int, ...] = (100, 100),
        activation: str = "relu",
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.logits = mlp((obs_dim, *hidden_sizes, n_actions), activation, seed)

    def distribution_parameters(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits(obs)

    def sample_from(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(logits, dim=-1).reshape(-1, self.n_actions)
        return torch.multinomial(probs, 1, generator=generator).reshape(logits.shape[:-1])

    def log_prob_from(self, logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a | s) = f(s)_a - log sum_b exp f(s)_b``."""
        log_pi = torch.log_softmax(logits, dim=-1)
        return torch.gather(log_pi, -1, actions.long().unsqueeze(-1)).squeeze(-1)

    def check_action_space(self, action_space: spaces.Space) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise PolicyError(
                f"a CategoricalMLPPolicy chooses among discrete actions, but this env's action space is "
                f"{action_space}; use GaussianMLPPolicy for continuous (Box) actions, or make_policy(env)"
            )
        if action_space.n != self.n_actions:
            raise PolicyError(f"the policy has {self.n_actions} actions but the env has {action_space.n}")


class GaussianMLPPolicy(MLPPolicy):
    """``pi_theta(a | s) = N(a; c * mu_theta(s), diag((c * sigma)^2))``: a state-dependent mean, a learned log-std.

    ``policy(obs)`` returns the mean and log-std in the env's units, each of shape (*batch, action_dim).
    ``log_sigma`` is a parameter of its own (not a function of ``s``), clamped below at ``log(min_std)`` as in
    pytorch-maml-rl. ``c`` is ``action_scale``: the network works in *normalised* action units and the env receives
    ``c`` times its output. The MAML paper's code did this for 2D navigation (rllab's ``normalize`` wrapper: the
    policy acts in [-1, 1], the env moves by 0.1 times that), which is what makes its step sizes (``alpha = 0.1``)
    and its initial ``sigma = 1`` sensible; with ``c = 1`` a unit ``sigma`` is ten times the whole action range.

    Args:
        obs_dim: length of an observation vector.
        action_dim: length of an action vector (``env.action_space.shape[0]``).
        hidden_sizes: widths of the hidden layers (the MAML paper: two of 100, ReLU).
        activation: ``"relu"`` or ``"tanh"``.
        init_std: positive initial standard deviation ``sigma``, in normalised units.
        min_std: positive lower bound on ``sigma``, in normalised units.
        action_scale: positive ``c``, a number or one per action dimension (see above); 1: the env's own units.
        seed: seeds the initial weights.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: tuple[int, ...] = (100, 100),
        activation: str = "relu",
        init_std: float = 1.0,
        min_std: float = 1e-6,
        action_scale: float | Any = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not (init_std > 0 and min_std > 0):
            raise ValueError(f"init_std and min_std must be positive; got {init_std!r} and {min_std!r}")
        scale = torch.as_tensor(np.broadcast_to(np.asarray(action_scale, dtype=np.float32), (action_dim,)).copy())
        if not bool(torch.all(torch.isfinite(scale) & (scale > 0))):
            raise ValueError(f"action_scale must be positive and finite; got {action_scale!r}")
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.min_log_std = math.log(min_std)
        self.mu = mlp((obs_dim, *hidden_sizes, action_dim), activation, seed)
        self.log_std = nn.Parameter(torch.full((action_dim,), math.log(init_std)))
        self.register_buffer("action_scale", scale)

    def distribution_parameters(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = self.mu(obs) * self.action_scale
        log_std = torch.clamp(self.log_std, min=self.min_log_std) + torch.log(self.action_scale)
        return mu, log_std.expand_as(mu)

    def sample_from(self, outputs: tuple[torch.Tensor, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        mu, log_std = outputs
        return mu + torch.exp(log_std) * torch.randn(mu.shape, generator=generator)

    def log_prob_from(self, outputs: tuple[torch.Tensor, torch.Tensor], actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a | s) = sum_i [ -(a_i - mu_i)^2 / (2 sigma_i^2) - log sigma_i - log(2 pi) / 2 ]``."""
        mu, log_std = outputs
        z = (actions - mu) / torch.exp(log_std)
        return torch.sum(-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi), dim=-1)

    def check_action_space(self, action_space: spaces.Space) -> None:
        if not isinstance(action_space, spaces.Box):
            raise PolicyError(
                f"a GaussianMLPPolicy outputs real-valued actions, but this env's action space is "
                f"{action_space}; use CategoricalMLPPolicy for Discrete actions, or make_policy(env)"
            )
        if action_space.shape != (self.action_dim,):
            raise PolicyError(f"the policy outputs actions of shape ({self.action_dim},); the env wants "
                              f"{action_space.shape}")


def obs_dim_of(space: spaces.Space) -> int:
    """Length of the observation vector a policy sees: a flat ``Box``, or a one-hot ``Discrete``."""
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return space.shape[0]
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    raise PolicyError(f"policies here read flat Box or Discrete observations; got {space}")


def obs_tensor(space: spaces.Space, obs: Any) -> torch.Tensor:
    """An observation as a float32 vector: a ``Box`` observation as is, a ``Discrete`` one one-hot."""
    if isinstance(space, spaces.Discrete):
        return torch.nn.functional.one_hot(torch.as_tensor(int(obs) - int(space.start)), int(space.n)).float()
    return torch.as_tensor(np.asarray(obs, dtype=np.float32))


def make_policy(env: gym.Env, hidden_sizes: tuple[int, ...] = (100, 100), seed: int = 0,
                normalise_actions: bool = False, **kwargs: Any) -> MLPPolicy:
    """The policy that fits ``env``: categorical for ``Discrete`` actions, Gaussian for ``Box`` actions.

    ``normalise_actions``: a Gaussian policy works in units of half the action range, ``action_scale = (high -
    low) / 2`` (bounds must be finite and centred on 0), as the MAML paper's code did (see
    :class:`GaussianMLPPolicy`).
    """
    obs_dim = obs_dim_of(env.observation_space)
    space = env.action_space
    if isinstance(space, spaces.Discrete):
        return CategoricalMLPPolicy(obs_dim, int(space.n), hidden_sizes, seed=seed, **kwargs)
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        if normalise_actions:
            if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
                    and np.allclose(space.low, -space.high)):
                raise PolicyError(f"normalised actions need finite bounds centred on 0; got {space}")
            kwargs["action_scale"] = (space.high - space.low) / 2
        return GaussianMLPPolicy(obs_dim, space.shape[0], hidden_sizes, seed=seed, **kwargs)
    raise PolicyError(f"no policy here fits the action space {space}; use Discrete or a flat Box")
