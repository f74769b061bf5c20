"""Meta-exploration on a signpost gridworld: hand-made players against the exact Bayes-optimal one.

Every player here is a stationary policy over (cell, belief), and every number is exact: the belief MDP of
:func:`metarl_edu.bayes.solve_signpost` evaluates each policy over all tasks at once, with no sampling.

* **greedy**: exploit the current belief; walk to the nearest candidate goal not yet ruled out, never to the sign
  (it reads the sign only if it happens to step on it). What an agent that only learned to exploit does.
* **sign first** (explore, then exploit): while more than one candidate is left, walk to the sign; then to the
  goal. The decoupled explore-then-exploit plan of DREAM (Liu et al. 2021), written by hand.
* **random**: every action with probability 1/4.
* **Bayes-optimal**: the exact optimum; **oracle**: told the goal, an upper bound no player can reach.

>>> world = SignpostWorld.from_layout("comb")
>>> table = signpost_table(world, n_episodes=2, horizon=7)   # {player: expected total of a trial}
"""

from __future__ import annotations

import numpy as np

from metarl_edu.bayes import solve_signpost
from metarl_edu.envs.signpost import SignpostWorld


def _members(mask: int, n_goals: int) -> list[int]:
    return [g for g in range(n_goals) if mask >> g & 1]


def signpost_policy(world: SignpostWorld, kind: str) -> np.ndarray:
    """A hand-made player as action probabilities of shape (C, 2^G, 4): ``"greedy"``, ``"sign first"`` or
    ``"random"`` (see the module's docstring). Ties between shortest paths go to the lowest-numbered action, and
    between equally near candidates to the first in reading order."""
    if kind not in ("greedy", "sign first", "random"):
        raise ValueError(f"kind must be 'greedy', 'sign first' or 'random'; got {kind!r}")
    C, G = world.n_cells, world.n_goals
    policy = np.zeros((C, 2 ** G, 4))
    if kind == "random":
        policy[:] = 0.25
        return policy
    if kind == "sign first" and world.sign is None:
        raise ValueError("this world has no sign to read")
    for m in range(1, 2 ** G):
        members = _members(m, G)
        for c in range(C):
            if kind == "sign first" and len(members) > 1:
                target = world.sign
            else:
                target = world.goals[min(members, key=lambda g: world.distance[c, world.goals[g]])]
            policy[c, m, world.toward(c, target) if c != target else 0] = 1.0
    return policy


def signpost_table(world: SignpostWorld, n_episodes: int, horizon: int) -> dict[str, float]:
    """The exact expected total of a trial for every player: Bayes-optimal, Bayes-optimal in the same world with
    the sign removed, sign first, greedy, random, and the oracle (the mean over goals of a player told the goal)."""
    table = {"Bayes-optimal": solve_signpost(world, n_episodes, horizon).value,
             "Bayes-optimal without the sign": solve_signpost(world.without_sign(), n_episodes, horizon).value}
    for kind in ("sign first", "greedy", "random"):
        if kind == "sign first" and world.sign is None:
            continue
        table[kind] = solve_signpost(world, n_episodes, horizon, policy=signpost_policy(world, kind)).value
    table["oracle (told the goal)"] = float(np.mean(
        [solve_signpost(world, n_episodes, horizon, initial_mask=1 << g).value for g in range(world.n_goals)]))
    return table


def rollout(solution, goal: int) -> list[list[int]]:
    """The cells the Bayes-optimal player of ``solution`` (from :func:`~metarl_edu.bayes.solve_signpost`) visits on
    the task with true goal ``goals[goal]``: one list per episode, starting at the start cell."""
    world = solution.world
    if not solution.optimal:
        raise ValueError("rollout plays the Bayes-optimal policy; solve without a policy")
    G = world.n_goals
    mask, paths = 2 ** G - 1, []
    for e in range(solution.n_episodes):
        cell, path = world.start, [world.start]
        for h in range(solution.horizon, 0, -1):
            cell = int(world.next_cell[cell, solution.action(e, h, cell, mask)])
            path.append(cell)
            if cell == world.sign:
                mask = 1 << goal
            elif cell == world.goals[goal]:
                mask = 1 << goal
                break
            elif cell in world.goals:
                mask &= ~(1 << world.goals.index(cell))
        paths.append(path)
    return paths


__all__ = ["rollout", "signpost_policy", "signpost_table"]
