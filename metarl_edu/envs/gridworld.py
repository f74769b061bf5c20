"""Gridworlds drawn as ASCII art, turned into a :class:`~metarl_edu.mdp.TabularMDP` and a Gymnasium env.

Legend of a layout:

====  ==========================================================================
char  cell
====  ==========================================================================
``#``  wall: not a state; moving into it leaves the agent where it is
``.``  floor
``S``  start (several ``S``: the start is drawn uniformly among them)
``G``  goal: terminal, pays ``goal_reward`` on entering
``P``  pit: terminal, pays ``pit_reward`` on entering
====  ==========================================================================

>>> grid = GridWorld.from_layout('''
...     S.G
... ''')
>>> grid.mdp.P[0, 1]            # from S, "right" leads to the middle cell
array([0., 1., 0.])
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from metarl_edu._checks import check_number, check_probability
from metarl_edu.envs.tabular import TabularMDPEnv
from metarl_edu.mdp import TabularMDP

ACTION_NAMES = ("up", "right", "down", "left")
# (d_row, d_col) of each action; rows grow downwards, as in the printed layout.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
LEGEND = {"#": "wall", ".": "floor", "S": "start", "G": "goal", "P": "pit"}
DEFAULT_LAYOUT = "small"

LAYOUTS: dict[str, str] = {
    # Lesson 01's world: the last cell before the goal is next to the pit; with enough slip a detour pays.
    "small": """
        #######
        #....G#
        #.#..P#
        #.....#
        #S.#..#
        #######
    """,
    "simple": """
        ######
        #S...#
        #.P..#
        #....#
        #...G#
        ######
    """,
    # A narrow bridge between two rows of pits: with slip, crossing is a gamble.
    "bridge": """
        #######
        #PPPPP#
        #S...G#
        #PPPPP#
        #######
    """,
    "four_rooms_small": """
        #########
        #...#...#
        #.S.....#
        #...#...#
        ##.###.##
        #...#...#
        #.......#
        #...#..G#
        #########
    """,
    # Sutton & Barto (2018), example 6.6: 4 x 12, start bottom-left, goal bottom-right, the cliff between.
    # Here the cliff cells are pits that end the episode.
    "cliff": """
        ............
        ............
        ............
        SPPPPPPPPPPG
    """,
}


def parse_layout(layout: str) -> tuple[str, ...]:
    """The rows of a layout, given as ASCII art or as a key of :data:`LAYOUTS`, checked against the legend.

    Blank lines at the top and bottom, common indentation and trailing spaces are removed. Raises
    ``ValueError`` naming the row, column and character of the first problem.

    >>> parse_layout('''
    ...     #####
    ...     #S.G#
    ...     #####
    ... ''')
    ('#####', '#S.G#', '#####')
    """
    if not isinstance(layout, str):
        raise TypeError(
            f"layout must be a string (ASCII art or one of {sorted(LAYOUTS)}); got {type(layout)}"
        )
    text = LAYOUTS.get(layout, layout)
    lines = [line.rstrip() for line in textwrap.dedent(text.expandtabs()).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return _check_rows(tuple(lines))


def _check_rows(rows: tuple[str, ...]) -> tuple[str, ...]:
    if not rows:
        raise ValueError("the layout is empty; draw the grid with " + _legend_text())
    for row, line in enumerate(rows):
        for col, char in enumerate(line):
            if char not in LEGEND:
                raise ValueError(
                    f"unknown character {char!r} at row {row}, column {col} of the layout; use "
                    f"{_legend_text()}, or give one of the named layouts {sorted(LAYOUTS)}"
                )
        if len(line) != len(rows[0]):
            raise ValueError(
                f"the layout is ragged: row {row} has {len(line)} cells but row 0 has {len(rows[0])}; "
                "every row must have the same length"
            )
    return rows


def _legend_text() -> str:
    return ", ".join(f"{c!r} {name}" for c, name in LEGEND.items())


@dataclass(frozen=True, eq=False)
class GridWorld:
    """A gridworld task: a layout plus its dynamics and rewards, with the exact MDP in ``mdp``.

    Build it with :meth:`from_layout`. States are the non-wall cells numbered row by row; actions are
    0 up, 1 right, 2 down, 3 left (as in Gymnasium's CliffWalking).

    Attributes:
        layout: the rows of the layout, for example ``("S.G",)``.
        slip: probability in [0, 1] that the move goes sideways: the intended move happens with probability
            ``1 - slip``, each of the two perpendicular moves with ``slip / 2``.
        step_reward: reward paid on every step (for example -1 to ask for short paths).
        goal_reward: extra reward on entering a goal cell ``G``.
        pit_reward: extra reward on entering a pit cell ``P``.
        gamma: discount in [0, 1] of ``mdp``.
        shape: ``(rows, cols)`` of the layout.
        walls: bool array of shape (rows, cols), True on walls.
        cells: ``cells[s] = (row, col)`` of state ``s``; length S.
        starts, goals, pits: state indices of the ``S``, ``G`` and ``P`` cells.
        mdp: the :class:`TabularMDP` with P (S, 4, S), R (S, 4, S), terminal = goals and pits, start uniform
            over ``starts``, and state names ``"(row,col)"``.

    A move into a wall or off the grid leaves the agent where it is. The reward of a step is
    ``R[s, a, s_next] = step_reward + goal_reward [s_next is G] + pit_reward [s_next is P]``.
    """

    layout: tuple[str, ...]
    slip: float = 0.0
    step_reward: float = 0.0
    goal_reward: float = 1.0
    pit_reward: float = -1.0
    gamma: float = 0.9
    shape: tuple[int, int] = field(init=False)
    walls: np.ndarray = field(init=False, repr=False)
    cells: tuple[tuple[int, int], ...] = field(init=False, repr=False)
    starts: tuple[int, ...] = field(init=False, repr=False)
    goals: tuple[int, ...] = field(init=False, repr=False)
    pits: tuple[int, ...] = field(init=False, repr=False)
    mdp: TabularMDP = field(init=False, repr=False)

    @classmethod
    def from_layout(
        cls,
        layout: str = DEFAULT_LAYOUT,
        *,
        slip: float = 0.0,
        step_reward: float = 0.0,
        goal_reward: float = 1.0,
        pit_reward: float = -1.0,
        gamma: float = 0.9,
    ) -> GridWorld:
        """Build a gridworld from ASCII art or from the name of one of :data:`LAYOUTS`.

        >>> GridWorld.from_layout("bridge", slip=0.1).shape
        (5, 7)
        """
        return cls(parse_layout(layout), slip, step_reward, goal_reward, pit_reward, gamma)

    def __post_init__(self) -> None:
        if isinstance(self.layout, str):
            raise TypeError("layout must be a tuple of row strings; use GridWorld.from_layout(text) for text")
        rows = _check_rows(tuple(str(line) for line in self.layout))
        self._set("layout", rows)
        self._set("slip", check_probability("slip", self.slip))
        for name in ("step_reward", "goal_reward", "pit_reward"):
            self._set(name, check_number(name, getattr(self, name)))
        self._set("gamma", check_probability("gamma", self.gamma))

        walls = np.array([[char == "#" for char in line] for line in rows])
        walls.setflags(write=False)
        cells = tuple((r, c) for r, line in enumerate(rows) for c, char in enumerate(line) if char != "#")
        self._set("shape", walls.shape)
        self._set("walls", walls)
        self._set("cells", cells)
        for name, char in (("starts", "S"), ("goals", "G"), ("pits", "P")):
            self._set(name, tuple(s for s, (r, c) in enumerate(cells) if rows[r][c] == char))
        if not self.starts:
            raise ValueError("the layout has no start cell 'S'; mark at least one")
        if not self.goals and not self.pits:
            raise ValueError("the layout has no terminal cell; mark at least one goal 'G' or pit 'P'")
        self._set("mdp", self._build_mdp())

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # the dataclass is frozen; fields are set once, here

    @property
    def n_states(self) -> int:
        """S, the number of non-wall cells."""
        return len(self.cells)

    def char_at(self, row: int, col: int) -> str:
        """The layout character of a cell."""
        return self.layout[row][col]

    def state_of(self, row: int, col: int) -> int:
        """The state index of cell ``(row, col)``; ``ValueError`` for walls and cells outside the grid."""
        if not (0 <= row < self.shape[0] and 0 <= col < self.shape[1]):
            raise ValueError(f"cell ({row}, {col}) is outside the {self.shape[0]} x {self.shape[1]} grid")
        if self.walls[row, col]:
            raise ValueError(f"cell ({row}, {col}) is a wall, not a state")
        return self.cells.index((row, col))

    def move(self, s: int, a: int) -> int:
        """The state reached from ``s`` by action ``a`` without slipping (a wall or the edge: stay)."""
        row, col = self.cells[s]
        d_row, d_col = MOVES[a]
        r, c = row + d_row, col + d_col
        if 0 <= r < self.shape[0] and 0 <= c < self.shape[1] and not self.walls[r, c]:
            return self.state_of(r, c)
        return s

    def _build_mdp(self) -> TabularMDP:
        S, A = self.n_states, len(ACTION_NAMES)
        terminal = np.zeros(S, dtype=bool)
        terminal[list(self.goals + self.pits)] = True
        P = np.zeros((S, A, S))
        for s in range(S):
            if terminal[s]:
                P[s, :, s] = 1.0  # absorbing; the episode has ended, so these rows are never used
                continue
            for a in range(A):
                perpendicular = ((a + 1) % 4, (a + 3) % 4)
                P[s, a, self.move(s, a)] += 1.0 - self.slip
                for b in perpendicular:
                    P[s, a, self.move(s, b)] += self.slip / 2
        entry_reward = np.full(S, self.step_reward)  # reward for entering each next state s'
        entry_reward[list(self.goals)] += self.goal_reward
        entry_reward[list(self.pits)] += self.pit_reward
        R = np.broadcast_to(entry_reward, (S, A, S)).copy()
        R[terminal] = 0.0
        start = np.zeros(S)
        start[list(self.starts)] = 1.0 / len(self.starts)
        return TabularMDP(
            P=P,
            R=R,
            gamma=self.gamma,
            terminal=terminal,
            start=start,
            state_names=tuple(f"({r},{c})" for r, c in self.cells),
            action_names=ACTION_NAMES,
        )

    def render_text(self, s: int | None = None) -> str:
        """The layout as text, with the agent drawn as ``A`` in state ``s`` when given."""
        rows = [list(line) for line in self.layout]
        if s is not None:
            r, c = self.cells[s]
            rows[r][c] = "A"
        return "\n".join("".join(row) for row in rows) + "\n"

    def render_rgb(self, s: int | None = None, cell_px: int = 32) -> np.ndarray:
        """The grid as an RGB image of shape (rows * cell_px, cols * cell_px, 3), dtype uint8.

        Walls dark grey, floor light grey, start pale blue, goal green, pit red, the agent a blue square.
        """
        colors = {
            "#": (60, 60, 60),
            ".": (235, 235, 235),
            "S": (200, 220, 245),
            "G": (60, 170, 80),
            "P": (200, 50, 50),
        }
        n_rows, n_cols = self.shape
        image = np.zeros((n_rows * cell_px, n_cols * cell_px, 3), dtype=np.uint8)
        for r, line in enumerate(self.layout):
            for c, char in enumerate(line):
                image[r * cell_px : (r + 1) * cell_px, c * cell_px : (c + 1) * cell_px] = colors[char]
        image[::cell_px, :] = (150, 150, 150)  # grid lines
        image[:, ::cell_px] = (150, 150, 150)
        if s is not None:
            r, c = self.cells[s]
            inset = cell_px // 4
            y, x = r * cell_px + inset, c * cell_px + inset
            image[y : y + cell_px - 2 * inset, x : x + cell_px - 2 * inset] = (30, 80, 220)
        return image


class GridWorldEnv(TabularMDPEnv):
    """Walk a gridworld drawn as ASCII art to a goal, avoiding pits.

    ## Description
    The agent moves between the non-wall cells of a layout (default: :data:`LAYOUTS` ``["small"]``). With
    probability ``slip`` a move goes to one of the two perpendicular directions instead (``slip / 2`` each);
    a move into a wall or off the grid leaves the agent in place. The exact MDP is ``env.grid.mdp``.

    ## Action Space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left.

    ## Observation Space
    ``Discrete(S)``: the index of the agent's cell, counting non-wall cells row by row
    (``env.grid.cells[s]`` is its ``(row, col)``).

    ## Starting State
    A start cell ``S``, uniformly at random if there are several.

    ## Reward
    ``step_reward`` every step, plus ``goal_reward`` on entering a goal ``G`` and ``pit_reward`` on entering
    a pit ``P``. Defaults: 0, +1, -1.

    ## Episode End
    Terminated on entering a goal or a pit. ``gym.make("metarl_edu/GridWorld-v0")`` truncates after 100 steps.

    ## Rendering
    ``"ansi"``: the layout as text with the agent as ``A``. ``"rgb_array"``: a (rows*32, cols*32, 3) uint8
    image: walls dark, goal green, pit red, agent a blue square.

    ## References
    Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., 2018, examples 3.5 and 6.6.
    Russell & Norvig, *Artificial Intelligence: A Modern Approach*, the 4 x 3 world with a slippery agent.

    Args:
        layout: ASCII art (legend ``#`` wall, ``.`` floor, ``S`` start, ``G`` goal, ``P`` pit) or a key of
            :data:`LAYOUTS`.
        slip: probability in [0, 1] of moving sideways.
        step_reward, goal_reward, pit_reward: finite rewards, as above.
        render_mode: ``None``, ``"ansi"`` or ``"rgb_array"``.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        layout: str = DEFAULT_LAYOUT,
        slip: float = 0.0,
        step_reward: float = 0.0,
        goal_reward: float = 1.0,
        pit_reward: float = -1.0,
        render_mode: str | None = None,
    ) -> None:
        self.grid = GridWorld.from_layout(
            layout, slip=slip, step_reward=step_reward, goal_reward=goal_reward, pit_reward=pit_reward
        )
        super().__init__(self.grid.mdp, render_mode=render_mode)

    def render(self) -> str | np.ndarray | None:
        """The grid as text (``"ansi"``) or as an RGB array (``"rgb_array"``), with the agent drawn."""
        if self.render_mode == "ansi":
            return self.grid.render_text(self.s)
        if self.render_mode == "rgb_array":
            return self.grid.render_rgb(self.s)
        return super().render()
