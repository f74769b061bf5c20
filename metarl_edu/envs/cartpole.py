"""CartPole with task-dependent physics (pole length, pole mass and gravity), and optionally mirrored actions.

Gymnasium's :class:`~gymnasium.envs.classic_control.cartpole.CartPoleEnv` fixes its physics in the constructor and
derives two quantities from it there (``total_mass = masspole + masscart``, ``polemass_length = masspole *
length``). :meth:`CartPoleTaskEnv.set_task` sets new physics *and* recomputes those two, so one environment can play
many tasks.

>>> env = CartPoleTaskEnv(CartPoleTask(length=1.0, masspole=0.2, gravity=9.8))
>>> env.polemass_length
0.2
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

# Gymnasium's CartPole-v1 physics, the centre of every sampling range.
DEFAULT_LENGTH = 0.5  # HALF the pole length, in metres (the pole is 1 m long)
DEFAULT_MASSPOLE = 0.1  # kg
DEFAULT_GRAVITY = 9.8  # m / s^2


@dataclass(frozen=True)
class CartPoleTask:
    """The physics of one CartPole task. All values positive and finite.

    Attributes:
        length: HALF the pole length in metres, as in Gymnasium's ``CartPoleEnv.length`` (default 0.5: a 1 m pole).
        masspole: mass of the pole in kg (default 0.1).
        gravity: gravitational acceleration in m/s^2 (default 9.8).
        mirrored: the two actions are swapped (0 pushes right, 1 pushes left). The agent does not observe it: a
            policy that balances the ordinary pole drops a mirrored one at once, so it must find out by acting.

    The cart's mass (1 kg), the push force (10 N) and the time step (0.02 s) stay at Gymnasium's values.
    """

    length: float = DEFAULT_LENGTH
    masspole: float = DEFAULT_MASSPOLE
    gravity: float = DEFAULT_GRAVITY
    mirrored: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.mirrored, (bool, np.bool_)):
            raise ValueError(f"CartPoleTask.mirrored must be True or False; got {self.mirrored!r}")
        object.__setattr__(self, "mirrored", bool(self.mirrored))
        for name in ("length", "masspole", "gravity"):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"CartPoleTask.{name} must be a positive number; got {value!r}") from None
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"CartPoleTask.{name} must be a positive finite number; got {value!r}")
            object.__setattr__(self, name, value)  # frozen: normalise to float once, here


class CartPoleTaskEnv(CartPoleEnv):
    """Balance a pole on a cart whose physics is set by a :class:`CartPoleTask`.

    ## Description
    Gymnasium's CartPole (Barto, Sutton & Anderson 1983) with the pole's half-length, the pole's mass and gravity
    taken from ``task``. Longer poles fall more slowly and are easier to balance; stronger gravity makes it harder.
    ``set_task(task)`` switches physics between episodes.

    ## Action Space
    ``Discrete(2)``: 0 push the cart left, 1 push it right (10 N); the other way round if ``task.mirrored``.

    ## Observation Space
    ``Box(4,)``: cart position, cart velocity, pole angle (rad), pole angular velocity; as in CartPole-v1.

    ## Starting State
    Every observation uniform in [-0.05, 0.05].

    ## Reward
    +1 for every step, including the one that ends the episode (Gymnasium's default).

    ## Episode End
    Terminated when the pole leans more than 12 degrees or the cart leaves [-2.4, 2.4]. ``gym.make(
    "metarl_edu/CartPoleTasks-v0")`` truncates after 500 steps, like CartPole-v1.

    ## References
    Barto, Sutton & Anderson (1983), *Neuronlike adaptive elements that can solve difficult learning control
    problems*. Florian (2007), *Correct equations for the dynamics of the cart-pole system* (the equations
    ``step`` integrates).

    Args:
        task: the physics; default :class:`CartPoleTask` () = CartPole-v1's.
        render_mode: ``None``, ``"human"`` or ``"rgb_array"`` (drawn with the task's pole length).
        sutton_barto_reward: Gymnasium's alternative reward (0 per step, -1 on failure).
    """

    def __init__(
        self, task: CartPoleTask | None = None, render_mode: str | None = None, sutton_barto_reward: bool = False
    ) -> None:
        super().__init__(sutton_barto_reward=sutton_barto_reward, render_mode=render_mode)
        self.set_task(CartPoleTask() if task is None else task)

    def set_task(self, task: CartPoleTask) -> None:
        """Use ``task``'s physics from the next step on (call it between episodes)."""
        if not isinstance(task, CartPoleTask):
            raise TypeError(f"task must be a CartPoleTask; got {type(task).__name__}")
        self.task = task
        self.length = task.length  # HALF the pole length, as CartPoleEnv's own attribute
        self.masspole = task.masspole
        self.gravity = task.gravity
        # CartPoleEnv computes these two once in its constructor; without this the old physics would linger.
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length

    def step(self, action: Any) -> tuple:
        """Gymnasium's CartPole step, with the actions swapped on a mirrored task."""
        if self.task.mirrored and action in (0, 1):
            action = 1 - int(action)
        return super().step(action)
