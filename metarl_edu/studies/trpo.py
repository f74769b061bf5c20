"""Trust region policy optimisation (Schulman et al., 2015) as MAML for RL's meta-update, the paper's choice.

One step maximises a surrogate of the return while keeping the policies close to the old ones:

    maximise  L(theta) = E[ pi_theta(a|s) / pi_old(a|s) * A ]    subject to   KL(pi_old || pi_theta) <= delta

For MAML the policies are the *adapted* ones, ``pi_theta'_i`` with ``theta'_i = theta - alpha grad L_i(theta)``,
so both the surrogate and the KL are functions of ``theta`` through the inner step. The step:

1. ``g = grad L`` and the Hessian of the mean KL at the current ``theta``, used only through products ``H v``
   (:func:`hessian_vector_product`: the gradient of ``grad KL . v``, second order through the inner step);
2. ``x = H^{-1} g`` by :func:`conjugate_gradient` (a few iterations, never forming ``H``);
3. the largest step along ``x`` allowed by the quadratic model of the KL, ``beta = sqrt(2 delta / x^T H x)``;
4. :func:`line_search`: halve the step until the surrogate improves and the true KL is within ``delta``.

References:
    Schulman, Levine, Moritz, Jordan & Abbeel, *Trust Region Policy Optimization*, ICML 2015.
    Finn, Abbeel & Levine (2017), section 5.3 (TRPO as MAML's meta-optimiser); Deleu, *pytorch-maml-rl*.

:class:`TRPOMAMLAgent` is :class:`~metarl_edu.maml_rl.MAMLAgent` with this step as its meta-update
(``MAMLRLConfig(meta_optimizer="trpo")``, as ``metarl-edu train maml-rl --set meta_optimizer=trpo`` builds it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch.func import vmap

from metarl_edu import maml_rl
from metarl_edu.maml_rl import MAMLAgent, _per_task, _tensors, advantages
from metarl_edu.pg import Episodes

Params = dict[str, torch.Tensor]


def flatten(params: Params) -> torch.Tensor:
    """All tensors of ``params`` as one vector, in the dict's order."""
    return torch.cat([v.reshape(-1) for v in params.values()])


def unflatten(vector: torch.Tensor, like: Params) -> Params:
    """The inverse of :func:`flatten`: ``vector`` cut into tensors shaped as ``like``'s."""
    out, i = {}, 0
    for k, v in like.items():
        out[k] = vector[i:i + v.numel()].reshape(v.shape)
        i += v.numel()
    return out


def conjugate_gradient(Avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int = 10,
                       residual_tol: float = 1e-10) -> torch.Tensor:
    """Approximately solve ``A x = b`` for a symmetric positive definite ``A`` known only through ``Avp(v) = A v``
    (Hestenes & Stiefel 1952; Nocedal & Wright, algorithm 5.2). Exact after ``n`` iterations in exact arithmetic."""
    x = torch.zeros_like(b)
    r = b.clone()  # the residual b - A x
    p = r.clone()  # the search direction
    rr = r @ r
    for _ in range(iters):
        if rr < residual_tol:
            break
        Ap = Avp(p)
        step = rr / (p @ Ap)
        x = x + step * p
        r = r - step * Ap
        rr_next = r @ r
        p = r + (rr_next / rr) * p
        rr = rr_next
    return x


def hessian_vector_product(f: Callable[[Params], torch.Tensor], params: Params, damping: float = 0.0
                           ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function ``v -> (H + damping I) v`` with ``H`` the Hessian of the scalar ``f`` at ``params``: the gradient
    of ``grad f . v``. ``grad f`` is computed once, with its graph kept, and each product is one more backward pass.

    ``params`` must require grad; ``v`` is a flat vector (:func:`flatten`'s order)."""
    values = list(params.values())
    grad_f = flatten(dict(zip(params, torch.autograd.grad(f(params), values, create_graph=True), strict=True)))

    def product(v: torch.Tensor) -> torch.Tensor:
        hv = torch.autograd.grad(grad_f @ v, values, retain_graph=True)
        return flatten(dict(zip(params, hv, strict=True))) + damping * v

    return product


@dataclass(frozen=True)
class LineSearchResult:
    """What :func:`line_search` found: the accepted parameters (or the old ones), how many times it shrank the
    step, and the surrogate loss and KL at the accepted point."""

    params: Params
    accepted: bool
    backtracks: int
    loss: float
    kl: float


def line_search(loss_and_kl: Callable[[Params], tuple[torch.Tensor, torch.Tensor]], params: Params,
                step: torch.Tensor, loss_before: float, max_kl: float, max_backtracks: int = 15,
                backtrack: float = 0.5) -> LineSearchResult:
    """Try ``params + backtrack^k * step`` for ``k = 0, 1, ...``; accept the first with a lower loss and a KL at
    most ``max_kl``. If none qualifies, keep ``params`` (a rejected step changes nothing)."""
    theta = flatten(params)
    with torch.no_grad():
        for k in range(max_backtracks):
            candidate = unflatten(theta + backtrack**k * step, params)
            loss, kl = loss_and_kl(candidate)
            if float(loss) < loss_before and float(kl) <= max_kl:
                return LineSearchResult(candidate, True, k, float(loss), float(kl))
    return LineSearchResult(params, False, max_backtracks, loss_before, 0.0)


def trpo_step(loss_fn: Callable[[Params], torch.Tensor], kl_fn: Callable[[Params], torch.Tensor], params: Params,
              max_kl: float, cg_iters: int = 10, damping: float = 1e-5, max_backtracks: int = 15,
              backtrack: float = 0.5) -> LineSearchResult:
    """One TRPO step on ``params``: ``loss_fn`` is the surrogate loss to decrease (minus the surrogate return),
    ``kl_fn`` the mean KL from the current policies (0 at ``params``). Returns the line search's result."""
    params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    loss = loss_fn(params)
    g = flatten(dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True)))
    Hvp = hessian_vector_product(kl_fn, params, damping)
    x = conjugate_gradient(Hvp, -g, cg_iters)
    xHx = x @ Hvp(x)
    beta = torch.sqrt(2 * max_kl / torch.clamp(xHx, min=1e-12))
    detached = {k: v.detach() for k, v in params.items()}
    return line_search(lambda p: (loss_fn(p), kl_fn(p)), detached, (beta * x).detach(), float(loss.detach()), max_kl,
                       max_backtracks, backtrack)


class TRPOMAMLAgent(MAMLAgent):
    """MAML for RL with the paper's meta-update: one :func:`trpo_step` on the adapted policies per meta-batch."""

    def meta_update(self, episodes: list[Episodes]) -> None:
        result = self.trpo_update(episodes)
        self.step_info = {"kl": result.kl, "backtracks": result.backtracks, "accepted": result.accepted}

    def trpo_functions(self, episodes: list[Episodes]) -> tuple[Any, Any]:
        """The surrogate loss and the mean KL of the adapted policies, as functions of ``theta`` (dicts), for
        :func:`trpo_step`. ``episodes``: the inner batches, then ``D'``, as in :meth:`MAMLAgent.meta_gradient`.

        For each task, ``theta'_i(theta)`` re-adapts on the same inner batches; the surrogate is
        ``-mean_i [sum_t m ratio A' / sum_t m]`` with ``ratio = pi_theta'_i(a|s) / pi_old(a|s)`` on ``D'_i``, and the
        KL is ``KL(pi_old || pi_theta'_i)`` averaged the same way; ``pi_old`` is the adapted policy at the current
        ``theta``. All tasks are vmapped at once.
        """
        c, policy = self.config, self.policy
        valid = episodes[-1]

        def adapted_outputs(params: Params, *batches: Episodes) -> Any:
            theta = params
            for k, e in enumerate(batches[:-1], start=1):
                theta = maml_rl.adapt_step(policy, theta, e, c.step_size(k), c.gamma, c.first_order)
            return policy(batches[-1].obs, params=theta)

        n_in = len(episodes) * len(fields(Episodes))
        outputs = vmap(_per_task(adapted_outputs, len(episodes)), in_dims=(None, *[1] * n_in), out_dims=1)
        tensors = _tensors(*episodes)
        per_task = vmap(_per_task(lambda _, e: advantages(e, c.gamma), 1),
                        in_dims=(None, *[1] * len(fields(Episodes))), out_dims=1)
        A = per_task(None, *_tensors(valid))
        m = valid.mask
        steps = m.sum((0, 2))  # real steps of each task
        theta0 = {k: v.detach() for k, v in self.params.items()}
        with torch.no_grad():
            old = outputs(theta0, *tensors)
            logp_old = policy.log_prob_from(old, valid.actions)

        def loss_fn(params: Params) -> torch.Tensor:
            ratio = torch.exp(policy.log_prob_from(outputs(params, *tensors), valid.actions) - logp_old)
            return -((ratio * A * m).sum((0, 2)) / steps).mean()

        def kl_fn(params: Params) -> torch.Tensor:
            return ((policy.kl_from(old, outputs(params, *tensors)) * m).sum((0, 2)) / steps).mean()

        return loss_fn, kl_fn

    def trpo_update(self, episodes: list[Episodes]) -> LineSearchResult:
        """One TRPO meta-step (:func:`trpo_step`) on the policy's parameters, in place."""
        c = self.config
        loss_fn, kl_fn = self.trpo_functions(episodes)
        result = trpo_step(loss_fn, kl_fn, self.params, c.max_kl, c.cg_iters, c.cg_damping, c.ls_steps,
                           c.ls_backtrack)
        with torch.no_grad():
            for k, p in self.policy.named_parameters():
                p.copy_(result.params[k])
        return result
