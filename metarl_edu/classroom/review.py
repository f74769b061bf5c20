"""The grader's reading of a learner's source: which library versions of an exercise it calls, and what a person
should look at.

Run in the grader, on the text of the learner's cells (never by executing them), so nothing learner code does at
run time changes it:

- **reference uses.** An exercise re-implements a library function (its ``replaces=`` marker) that the library
  may also hold in other forms (:attr:`~metarl_edu.classroom.cases.Exercise.equivalents`). An import or an
  attribute path in the learner's cells (``metarl_edu.pg.reinforce_loss``, ``from metarl_edu import
  value_iteration``, an alias of a module, a name the lesson's own cells imported) that leads to one of those
  functions, or to an object holding it, means the exercise scores 0 with "uses the reference implementation",
  when the exercise's function can reach it: in its own definition, in the learner's functions and names it uses
  (and theirs, and so on), or in what binds the exercise's name. A mention anywhere else (``help(...)``, a cell
  that compares with the library) is a review flag, not a 0. Paths are resolved in the grader by importing the
  library, so re-exports and lazy names count too.
- **review flags.** What static reading cannot follow, or what reaches past the exercise: dynamic code (``exec``,
  ``eval``, ``compile``, ``getattr``, ``__import__``, ``globals()``), the interpreter's internals (any
  ``__dunder__`` attribute but ``__init__``/``__name__``/``__doc__``, private names of a module, modules outside
  the course's numeric stack: ``os``, ``sys``, ``inspect``, ``gc``, ``ctypes``, ``subprocess``, ...), files
  (``open``, ``np.load``, ``torch.load``), IPython (magics, shell escapes, ``In``/``Out``; help, ``name?``, reads
  as a mention of the name), the lesson's check functions and the grader's or the checks' code
  (``metarl_edu.classroom``), and an exercise's function bound to something the learner did not write. A flagged
  notebook keeps its score; the gradebook's ``review`` column says why a person should read it.
"""

from __future__ import annotations

import ast
import importlib
import keyword
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Modules a lesson's exercises may import (their submodules too); metarl_edu minus its classroom.
ALLOWED_MODULES = {
    "numpy", "math", "cmath", "torch", "itertools", "functools", "collections", "typing", "dataclasses", "random",
    "statistics", "operator", "fractions", "decimal", "copy", "heapq", "bisect", "string", "re", "gymnasium",
    "scipy", "abc", "enum", "numbers", "warnings", "time", "metarl_edu",
}
DYNAMIC = {"exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "globals", "locals", "vars",
           "open", "breakpoint", "input", "memoryview", "get_ipython", "exit", "quit", "In", "Out", "_ih", "_oh",
           "_i", "_ii", "_iii", "_dh", "__builtins__", "__loader__", "__spec__"}
CHECKING = {"check", "pick", "start_lesson", "run_check", "record_check", "judge_check"}
DUNDERS_OK = {"__init__", "__name__", "__doc__"}
FILE_ATTRIBUTES = {"load", "loads", "loadtxt", "genfromtxt", "fromfile", "memmap", "save", "savez", "savetxt",
                   "tofile", "ctypeslib", "hub", "cpp_extension", "ops", "classes"}

# What IPython makes of help on a dotted name: `name?` and `?name` (pinfo), `name??` and `??name` (pinfo2).
HELP_CALL = re.compile(r"get_ipython\(\)\.run_line_magic\('pinfo2?', "
                       r"'(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)'\)")

_AST_LOCK = threading.Lock()


def parse_source(source: str) -> ast.Module:
    """``ast.parse``, one thread at a time. The grader reads submissions in several threads (``--jobs``), and on
    CPython 3.11 two ``ast.parse`` calls at once can fail with "AST constructor recursion depth mismatch", which
    would read as a grader error for a submission that is fine."""
    with _AST_LOCK:
        return ast.parse(source)


@dataclass
class Review:
    """What the learner's cells use: reference uses by exercise id (the dotted paths), and review flags."""

    uses: dict[str, set[str]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def flag(self, what: str) -> None:
        if what not in self.flags:
            self.flags.append(what)


def python_source(cell: str) -> str:
    """A cell's source as Python, with IPython's syntax (magics, ``!`` shell escapes) turned into the calls IPython
    makes of them, and help on a name (``name?``, ``name??``) into that name: looking it up is all help does, so it
    reads as a mention of the name, not as a use of IPython."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return HELP_CALL.sub(_help_target, TransformerManager().transform_cell(cell))
    except Exception:  # noqa: BLE001  (IPython cannot read it either: the cell fails when run)
        return cell


def _help_target(call: re.Match[str]) -> str:
    """The name help is asked on, where it reads as Python (not a keyword); else the call, unchanged."""
    name = call.group("name")
    return call.group(0) if any(keyword.iskeyword(part) for part in name.split(".")) else name


def resolve(dotted: str) -> Any:
    """The library object at ``dotted`` (``metarl_edu...``), importing the modules on the way; None if there is
    none. Only the course's own package is imported."""
    parts = dotted.split(".")
    if parts[0] != "metarl_edu":
        return None
    obj: Any = None
    for end in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:end]))
        except Exception:  # noqa: BLE001  (not a module: an attribute, looked up below)
            continue
        for name in parts[end:]:
            try:
                obj = getattr(obj, name)
            except Exception:  # noqa: BLE001
                return None
        return obj
    return None


def _attribute_path(node: ast.AST) -> list[str] | None:
    """``["a", "b", "c"]`` for the expression ``a.b.c``; None for anything else."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(names)]
    return None


def _top_level_module(name: str) -> str:
    return name.split(".")[0]


class _Reader(ast.NodeVisitor):
    def __init__(self, review: Review, aliases: dict[str, str], banned: dict[int, tuple[str, str]]) -> None:
        self.review, self.aliases, self.banned = review, aliases, banned

    # imports -----------------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(alias.name)
            self._path(alias.name)
            self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.review.flag("a relative import")
            return
        self._module(module)
        for alias in node.names:
            if alias.name == "*":
                self.review.flag(f"`from {module} import *`")
                continue
            self._path(f"{module}.{alias.name}")
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"

    def _module(self, name: str) -> None:
        top = _top_level_module(name)
        if top not in ALLOWED_MODULES:
            self.review.flag(f"the module `{top}`")
        elif name == "metarl_edu.classroom" or name.startswith("metarl_edu.classroom."):
            self.review.flag("the grader's or the checks' code (metarl_edu.classroom)")

    # names and attributes ---------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DYNAMIC or (node.id.startswith("__") and node.id.endswith("__")):
            self.review.flag(f"`{node.id}`")
        elif node.id in CHECKING:
            self.review.flag(f"the lesson's `{node.id}`")
        if isinstance(node.ctx, ast.Load) and node.id in self.aliases:
            self._path(self.aliases[node.id])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__") and attr not in DUNDERS_OK:
            self.review.flag(f"the attribute `{attr}`")
        path = _attribute_path(node)
        if path is not None and path[0] in self.aliases:
            full = ".".join([self.aliases[path[0]], *path[1:]])
            if isinstance(node.ctx, ast.Load):
                self._path(full)
            elif full.startswith("metarl_edu.") or _top_level_module(full) in ALLOWED_MODULES:
                self.review.flag(f"changes to the library (`{full}`)")
            for part in path[1:]:
                if part.startswith("__") and part.endswith("__") and part not in DUNDERS_OK:
                    self.review.flag(f"the attribute `{part}`")
                elif part.startswith("_"):
                    self.review.flag(f"the private name `{full}`")
                elif part in FILE_ATTRIBUTES:
                    self.review.flag(f"`{full}`")
            if full.startswith("metarl_edu.classroom"):
                self.review.flag("the grader's or the checks' code (metarl_edu.classroom)")
            self.visit(ast.Name(id=path[0], ctx=ast.Load()))
            return  # the chain's parts were looked at as one path
        self.generic_visit(node)

    def _path(self, dotted: str) -> None:
        """Note a use when ``dotted``, or a prefix of it, is a banned library object."""
        parts = dotted.split(".")
        if parts[0] != "metarl_edu":
            return
        for end in range(2, len(parts) + 1):
            obj = resolve(".".join(parts[:end]))
            if obj is not None and id(obj) in self.banned:
                exercise_id, name = self.banned[id(obj)]
                self.review.uses.setdefault(exercise_id, set()).add(name)
                return


def lesson_aliases(sources: Iterable[str]) -> dict[str, str]:
    """Names the lesson's own cells import (``name -> dotted path``): learner code may use them without importing."""
    aliases: dict[str, str] = {}
    for source in sources:
        try:
            tree = parse_source(python_source(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                        alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def banned_objects(exercises: dict[str, Iterable[str]]) -> dict[int, tuple[str, str]]:
    """``id(object) -> (exercise id, dotted name)`` for each exercise's reference and equivalents."""
    banned: dict[int, tuple[str, str]] = {}
    for exercise_id, names in exercises.items():
        for dotted in names:
            obj = resolve(dotted)
            if obj is not None:
                banned[id(obj)] = (exercise_id, dotted)
    return banned


def _defined(trees: list[ast.Module]) -> dict[str, list[ast.AST]]:
    """Top-level bindings of each name in the learner's cells: defs, classes, assignments, imports, and the
    statements that call a method of an object the learner made (they may put something into it)."""
    found: dict[str, list[ast.AST]] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            found.setdefault(name.id, []).append(node)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    found.setdefault(alias.asname or alias.name.split(".")[0], []).append(node)
    for tree in trees:  # a statement that calls a method of the learner's object may change it: `fs.append(...)`
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign
                          | ast.AugAssign | ast.Import | ast.ImportFrom):
                continue
            for call in ast.walk(node):
                owner = call.func.value if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                    else None
                if isinstance(owner, ast.Name) and any(not isinstance(b, ast.Import | ast.ImportFrom)
                                                       for b in found.get(owner.id, [])):
                    found[owner.id].append(node)
    return found


def _reached(defined: dict[str, list[ast.AST]], names: set[str]) -> list[ast.AST]:
    """The learner's top-level bindings that the exercise functions ``names`` can reach: their definitions, the
    definitions of the learner's names those use, and so on; for an assignment only its value counts."""
    todo, seen, nodes = sorted(names), set(names), []
    while todo:
        for node in defined.get(todo.pop(), []):
            part = node.value if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) else node
            if part is None:
                continue
            nodes.append(part)
            for sub in ast.walk(part):
                if isinstance(sub, ast.Name) and sub.id in defined and sub.id not in seen:
                    seen.add(sub.id)
                    todo.append(sub.id)
    return nodes


def review_cells(sources: Iterable[str], *, functions: dict[str, str], references: dict[str, Iterable[str]],
                 lesson_sources: Iterable[str] = ()) -> Review:
    """Read the learner's cells (see the module docstring).

    Args:
        sources: the learner's cells (exercise cells and cells they added), as written.
        functions: exercise id -> the name of the function its check is given.
        references: exercise id -> dotted names of its reference and equivalents.
        lesson_sources: the lesson's own code cells, whose imports the learner's cells may use.
    """
    review = Review()
    trees: list[ast.Module] = []
    for source in sources:
        try:
            trees.append(parse_source(python_source(source)))
        except (SyntaxError, ValueError):
            continue  # it fails when run, too
    defined = _defined(trees)
    aliases = {k: v for k, v in lesson_aliases(lesson_sources).items() if k not in defined}
    banned = banned_objects(references)
    reader = _Reader(review, aliases, banned)  # every cell: the flags, and reference mentions anywhere
    for tree in trees:
        reader.visit(tree)
    mentioned, review.uses = review.uses, {}
    scoring = _Reader(Review(), dict(reader.aliases), banned)  # what the exercises' functions reach: scored
    for node in _reached(defined, set(functions.values())):
        scoring.visit(node)
    review.uses = scoring.review.uses
    for exercise_id, names in sorted(mentioned.items()):
        for name in sorted(names - review.uses.get(exercise_id, set())):
            review.flag(f"`{name}` mentioned outside the code of exercise {exercise_id!r} (not scored; check it "
                        f"is not how that exercise is answered)")
    for name in functions.values():
        for node in defined.get(name, []):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and not isinstance(
                    getattr(node, "value", None), ast.Lambda):
                review.flag(f"`{name}` bound to something other than a function you wrote")
                break
    return review
