"""A signpost gridworld: the goal is one of several cells, and a sign elsewhere says which.

A task of the family is the index ``g`` of the true goal among the candidate cells ``G``, drawn uniformly. The agent
does not see ``g``. It learns about it in two ways: stepping on a candidate tells whether that one is the goal
(the goal pays ``goal_reward`` and ends the episode), and stepping on the sign ``I`` tells ``g`` outright. The sign
pays nothing: information and reward are in different places, as in the signpost tasks of DREAM (Liu et al. 2021).
A trial is ``n_episodes`` episodes of at most ``horizon`` steps on one task; each episode starts at ``S``, and what
the agent learned is kept across the episodes of a trial.

Legend: ``#`` wall, ``.`` floor, ``S`` start, ``G`` a candidate goal, ``I`` the sign. Actions: 0 up, 1 right,
2 down, 3 left (as in :mod:`metarl_edu.envs.gridworld`); a move into a wall leaves the agent where it is.

>>> world = SignpostWorld.from_layout("comb")
>>> len(world.goals), int(world.distance[world.start, world.sign])
(5, 2)

The exact Bayes-optimal policy of this family is computed by :func:`metarl_edu.bayes.solve_signpost`.

Reference:
    Liu, Raghunathan, Liang & Finn (2021), Decoupling exploration and exploitation for meta-reinforcement learning
        without sacrifices. ICML.
"""

from __future__ import annotations

import textwrap
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from metarl_edu._checks import check_number
from metarl_edu.envs.gridworld import ACTION_NAMES, MOVES

SIGNPOST_LEGEND = {"#": "wall", ".": "floor", "S": "start", "G": "candidate goal", "I": "sign"}
SIGNPOST_LAYOUTS = {
    # Lesson 11's world: five goals at the ends of five teeth, 3 to 7 steps from the start, 6 or more steps apart;
    # the sign 2 steps behind the start, in a dead end.
    "comb": """
        ###########
        #G#G#G#G#G#
        #.#.#.#.#.#
        #.........#
        #####S#####
        #####.#####
        #####I#####
        ###########
    """,
    # Four candidate goals in the corners, 5 steps from the start; the sign 4 steps away, down a dead end.
    "corners": """
        #########
        #G.....G#
        #.......#
        #...S...#
        #.......#
        #G.....G#
        ####.####
        ####I####
        #########
    """,
}


@dataclass(frozen=True)
class SignpostWorld:
    """The layout of a signpost task family, with its moves and shortest-path distances.

    Attributes:
        layout: the rows, e.g. from :meth:`from_layout`.
        goal_reward: paid on entering the true goal, which ends the episode.
        step_reward: paid on every step (0 or negative).
        cells: ``(row, col)`` of each non-wall cell; cells are numbered row by row.
        start, sign: the cell index of ``S`` and of ``I`` (None without a sign).
        goals: cell indices of the candidates ``G``, in reading order; task ``g`` means ``goals[g]``.
        next_cell: ``next_cell[c, a]``, the cell reached from c by action a, shape (C, 4).
        distance: shortest-path length between every two cells, shape (C, C).
    """

    layout: tuple[str, ...]
    goal_reward: float = 1.0
    step_reward: float = 0.0
    cells: tuple[tuple[int, int], ...] = field(init=False, repr=False)
    start: int = field(init=False, repr=False)
    sign: int | None = field(init=False, repr=False)
    goals: tuple[int, ...] = field(init=False, repr=False)
    next_cell: np.ndarray = field(init=False, repr=False)
    distance: np.ndarray = field(init=False, repr=False)

    @classmethod
    def from_layout(cls, layout: str = "comb", **kwargs: float) -> SignpostWorld:
        """From ASCII art or a key of :data:`SIGNPOST_LAYOUTS`."""
        if not isinstance(layout, str):
            raise TypeError(f"layout must be a string; got {type(layout).__name__}")
        text = textwrap.dedent(SIGNPOST_LAYOUTS.get(layout, layout)).strip("\n")
        return cls(tuple(line.rstrip() for line in text.split("\n")), **kwargs)

    def __post_init__(self) -> None:
        rows = self.layout
        legend = ", ".join(f"{c!r} {name}" for c, name in SIGNPOST_LEGEND.items())
        for r, line in enumerate(rows):
            if len(line) != len(rows[0]):
                raise ValueError(f"the layout is ragged: row {r} has {len(line)} cells, row 0 has {len(rows[0])}")
            for c, char in enumerate(line):
                if char not in SIGNPOST_LEGEND:
                    raise ValueError(f"unknown character {char!r} at row {r}, column {c}; use {legend}")
        cells = tuple((r, c) for r, line in enumerate(rows) for c, char in enumerate(line) if char != "#")
        marked = {char: [i for i, (r, c) in enumerate(cells) if rows[r][c] == char] for char in "SGI"}
        if len(marked["S"]) != 1 or len(marked["I"]) > 1 or len(marked["G"]) < 2:
            raise ValueError(f"a signpost layout needs one start 'S', at most one sign 'I' and at least two "
                             f"candidate goals 'G'; got {len(marked['S'])}, {len(marked['I'])} and {len(marked['G'])}")
        if len(marked["G"]) > 8:
            raise ValueError(f"at most 8 candidate goals (the belief is a subset of them); got {len(marked['G'])}")
        check_number("goal_reward", self.goal_reward)
        check_number("step_reward", self.step_reward, high=0.0)
        index = {cell: i for i, cell in enumerate(cells)}
        next_cell = np.array([[index.get((r + dr, c + dc), i) for dr, dc in MOVES] for i, (r, c) in enumerate(cells)])
        distance = np.full((len(cells), len(cells)), -1)
        for source in range(len(cells)):  # breadth-first search from every cell
            distance[source, source], queue = 0, deque([source])
            while queue:
                here = queue.popleft()
                for there in next_cell[here]:
                    if distance[source, there] < 0:
                        distance[source, there] = distance[source, here] + 1
                        queue.append(there)
        if (distance < 0).any():
            raise ValueError("every floor cell must be reachable from every other one")
        for name, value in (("cells", cells), ("start", marked["S"][0]), ("goals", tuple(marked["G"])),
                            ("sign", marked["I"][0] if marked["I"] else None), ("next_cell", next_cell),
                            ("distance", distance)):
            object.__setattr__(self, name, value)
        next_cell.setflags(write=False)
        distance.setflags(write=False)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def n_goals(self) -> int:
        return len(self.goals)

    def without_sign(self) -> SignpostWorld:
        """The same world with the sign cell turned into floor: nothing tells the goal but visiting it."""
        rows = tuple(line.replace("I", ".") for line in self.layout)
        return SignpostWorld(rows, self.goal_reward, self.step_reward)

    def toward(self, cell: int, target: int) -> int:
        """The first action of a shortest path from ``cell`` to ``target`` (the lowest-numbered of ties)."""
        return int(np.argmin(self.distance[self.next_cell[cell], target]))

    def render_text(self, cell: int | None = None, goal: int | None = None) -> str:
        """The layout, with the agent as ``A`` and the true goal ``goals[goal]`` as ``*`` when given."""
        rows = [list(line) for line in self.layout]
        for mark, c in (("*", None if goal is None else self.goals[goal]), ("A", cell)):
            if c is not None:
                r, col = self.cells[c]
                rows[r][col] = mark
        return "\n".join("".join(row) for row in rows)


__all__ = ["ACTION_NAMES", "SIGNPOST_LAYOUTS", "SignpostWorld"]
