"""What crosses from the process that runs a learner's code to the process that judges it: plain data only.

A check case is ordinary code that calls the learner's function and compares what comes back with the expected
answer (:mod:`metarl_edu.classroom.cases`). To keep every comparison out of the learner's reach, the grader runs
each case twice:

1. where the learner's code lives (the kernel), with the function wrapped in a :class:`Recorder`, which notes for
   every call what the function returned or raised, which arguments it changed, and, for a torch result, its
   derivatives with respect to the argument tensors that require gradients;
2. in the grader, with a :class:`Replayer` in place of the function, which gives the case the recorded answers
   (and applies the recorded changes to the grader's own arguments). The case's comparisons, and the expected
   answers it computes, run only here.

The records are plain JSON (numbers, strings, lists, and a few tagged forms: tuples, dicts, numpy arrays, torch
tensors, whitelisted dataclasses such as ``GridTask``), built by :func:`observe` and read back by :func:`restore`,
which never runs code from the record: anything else comes back as an :class:`Opaque` placeholder, equal to
nothing. A call's arguments are summarised by a digest, so a record made for other inputs is refused. A torch
result comes back as a tensor whose value and first derivatives (with respect to the arguments that require
gradients) are the recorded ones, so ``torch.autograd.grad`` on it gives the learner's gradients.

The self-study check in a notebook runs the same two steps in one process
(:func:`metarl_edu.classroom.checks.run_check`), so a learner sees exactly the verdict the grader would give.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import linecache
import math
import re
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

MAX_DEPTH = 24  # nesting of an observed value
MAX_ELEMENTS = 2_000_000  # numbers in one record
MAX_JACOBIAN = 250_000  # derivative entries recorded per call
MAX_TEXT = 8 << 20  # characters of one record on the wire
TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")
NUMERIC_KINDS = "biuf"
TORCH_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
# Dataclasses that may be rebuilt from a record: plain values with no code of their own that matters.
OBJECTS = {
    "metarl_edu.envs.tasks.GridTask": ("metarl_edu.envs.tasks", "GridTask"),
    "metarl_edu.studies.hyperparams.Setting": ("metarl_edu.studies.hyperparams", "Setting"),
    "metarl_edu.studies.evaluation.TaskSplit": ("metarl_edu.studies.evaluation", "TaskSplit"),
    "types.SimpleNamespace": ("types", "SimpleNamespace"),
}
# Exceptions a replayed call may raise, by name; any other comes back as LearnerError.
EXCEPTIONS = {
    "TaskLeakError": ("metarl_edu.studies.evaluation", "TaskLeakError"),
    "ReferenceImplementationUsed": ("metarl_edu.classroom.sandbox", "ReferenceImplementationUsed"),
    "CaseTimeout": ("metarl_edu.classroom.checks", "CaseTimeout"),
}


class Opaque:
    """A value the record could not (or may not) carry: shown by its type's name, equal to nothing but itself."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name if TYPE_NAME.fullmatch(type_name) else "object"

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


class LearnerError(Exception):
    """Stands in, on replay, for an exception of a type the grader does not rebuild (a learner's own class)."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


class NoAnswer(BaseException):  # noqa: N818  (not an error of the learner's code: the record ran out)
    """Raised on replay when the case asks for a call the record does not hold (the run was cut short), or for a
    call with other arguments than were recorded."""


# --------------------------------------------------------------------------------------------- observing
def _type_name(x: Any) -> str:
    cls = type(x)
    name = f"{getattr(cls, '__module__', '')}.{getattr(cls, '__qualname__', 'object')}"
    return name if TYPE_NAME.fullmatch(name) else "object"


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "requires_grad")


def _is_module(x: Any) -> bool:
    """A torch module (a policy, a model): the learner's code may train it, so its parameters count as state."""
    nn = sys.modules.get("torch.nn")
    return nn is not None and isinstance(x, nn.Module)


def _module_state(x: Any) -> dict[str, Any]:
    return {str(k): v for k, v in x.state_dict().items()}


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ELEMENTS

    def take(self, n: int) -> bool:
        self.left -= n
        return self.left >= 0


def observe(x: Any, refs: dict[int, list[Any]] | None = None, _depth: int = 0, _budget: _Budget | None = None) -> Any:
    """``x`` as plain JSON data (see the module docstring); ``refs`` maps ``id(obj)`` to the path of an argument,
    so that an answer that *is* an argument comes back as that argument. Never raises."""
    budget = _budget or _Budget()
    try:
        if refs and id(x) in refs:
            return {"ref": refs[id(x)]}
        if x is None or isinstance(x, bool | np.bool_):
            return None if x is None else bool(x)
        if isinstance(x, int) and not isinstance(x, bool):
            value = int(x)
            return value if abs(value) < 1 << 63 else {"opaque": "int"}
        if isinstance(x, float):
            return float(x)
        if isinstance(x, str):
            return str(x)[:10_000]
        if isinstance(x, np.generic) and x.dtype.kind in NUMERIC_KINDS:
            return {"np": x.dtype.str, "value": x.item()}
        if _depth >= MAX_DEPTH:
            return {"opaque": "too deep"}
        if isinstance(x, np.ndarray) and x.dtype.kind in NUMERIC_KINDS:
            if not budget.take(x.size):
                return {"opaque": "too large"}
            return {"ndarray": x.ravel().tolist(), "shape": list(x.shape), "dtype": x.dtype.str}
        if _is_tensor(x):
            dtype = str(x.dtype).removeprefix("torch.")
            if dtype not in TORCH_DTYPES or str(x.layout) != "torch.strided" or not budget.take(x.numel()):
                return {"opaque": "tensor"}
            flat = x.detach().cpu().reshape(-1)
            values = flat.double().tolist() if x.is_floating_point() else flat.tolist()
            return {"tensor": values, "shape": list(x.shape), "dtype": dtype, "requires_grad": bool(x.requires_grad)}
        if isinstance(x, tuple | list):
            if not budget.take(len(x)):
                return {"opaque": "too large"}
            items = [observe(e, refs, _depth + 1, budget) for e in x]
            if isinstance(x, tuple) and not hasattr(x, "_fields"):
                return {"tuple": items}
            return items if isinstance(x, list) else {"opaque": _type_name(x)}
        if isinstance(x, dict):
            if not budget.take(len(x)):
                return {"opaque": "too large"}
            return {"dict": [[observe(k, refs, _depth + 1, budget), observe(v, refs, _depth + 1, budget)]
                             for k, v in list(x.items())]}
        name = _type_name(x)
        if name in OBJECTS:
            fields = vars(x) if isinstance(x, types.SimpleNamespace) else {
                f.name: getattr(x, f.name) for f in dataclasses.fields(x)}
            return {"object": name, "fields": {str(k): observe(v, refs, _depth + 1, budget) for k, v in fields.items()}}
        return {"opaque": name}
    except Exception:  # noqa: BLE001  (a learner's object that misbehaves is simply unreadable)
        return {"opaque": "unreadable"}


# --------------------------------------------------------------------------------------------- restoring
def _import(module: str, name: str) -> Any:
    return getattr(__import__(module, fromlist=[name]), name)


def _number(v: Any) -> bool:
    return type(v) in (int, float, bool)


def restore(data: Any, refs: Any = None, _depth: int = 0) -> Any:
    """The value :func:`observe` described, rebuilt from plain data only; anything malformed becomes an
    :class:`Opaque`. ``refs`` maps an argument's path (as JSON text) to the grader's own argument (a dict, or
    anything with ``in`` and ``[]``). Never raises."""
    try:
        if data is None or type(data) in (bool, int, float, str):
            return data
        if _depth >= MAX_DEPTH + 2:
            return Opaque("too deep")
        if type(data) is list:
            return [restore(e, refs, _depth + 1) for e in data]
        if type(data) is not dict or len(data) == 0:
            return Opaque("invalid")
        if "ref" in data:
            key = json.dumps(data["ref"])
            return refs[key] if refs and key in refs else Opaque("invalid")
        if "tuple" in data and type(data["tuple"]) is list:
            return tuple(restore(e, refs, _depth + 1) for e in data["tuple"])
        if "dict" in data and type(data["dict"]) is list:
            out = {}
            for pair in data["dict"]:
                if type(pair) is not list or len(pair) != 2:
                    return Opaque("invalid")
                key = restore(pair[0], refs, _depth + 1)
                if not isinstance(key, str | int | float | bool | tuple | type(None)):
                    return Opaque("invalid")
                out[key] = restore(pair[1], refs, _depth + 1)
            return out
        if "np" in data:
            dtype = np.dtype(str(data["np"]))
            if dtype.kind not in NUMERIC_KINDS or not _number(data.get("value")):
                return Opaque("invalid")
            return dtype.type(data["value"])
        if "ndarray" in data:
            return _restore_array(data)
        if "tensor" in data:
            return _restore_tensor(data)
        if "object" in data and data["object"] in OBJECTS and type(data.get("fields")) is dict:
            cls = _import(*OBJECTS[data["object"]])
            fields = {str(k): restore(v, refs, _depth + 1) for k, v in data["fields"].items()}
            return cls(**fields)
        if "opaque" in data:
            return Opaque(str(data["opaque"]))
        return Opaque("invalid")
    except Exception:  # noqa: BLE001
        return Opaque("invalid")


def _shape(data: dict[str, Any]) -> tuple[list[Any], tuple[int, ...]] | None:
    values, shape = data.get("ndarray", data.get("tensor")), data.get("shape")
    if type(values) is not list or type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        return None
    if math.prod(shape) != len(values) or not all(_number(v) for v in values):
        return None
    return values, tuple(shape)


def _restore_array(data: dict[str, Any]) -> Any:
    parsed = _shape(data)
    dtype = np.dtype(str(data.get("dtype")))
    if parsed is None or dtype.kind not in NUMERIC_KINDS:
        return Opaque("invalid")
    values, shape = parsed
    return np.array(values, dtype=dtype).reshape(shape)


def _restore_tensor(data: dict[str, Any]) -> Any:
    import torch

    parsed = _shape(data)
    if parsed is None or data.get("dtype") not in TORCH_DTYPES:
        return Opaque("invalid")
    values, shape = parsed
    dtype = getattr(torch, data["dtype"])
    tensor = torch.tensor(values, dtype=torch.float64).to(dtype).reshape(shape)
    if data.get("requires_grad") is True and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


# --------------------------------------------------------------------------------------------- the wire
def dumps(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"), allow_nan=True)


def loads(text: str) -> Any:
    """Parse one record: at most :data:`MAX_TEXT` characters, nested at most ``2 * MAX_DEPTH + 8`` deep; raises
    ValueError otherwise."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"a record of {len(text)} characters (at most {MAX_TEXT})")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("a record nested too deeply") from None
    stack, limit = [(data, 0)], 2 * MAX_DEPTH + 8
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ValueError("a record nested too deeply")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return data


# --------------------------------------------------------------------------------------------- calls
def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[tuple[list[Any], Any]]:
    """``(path, value)`` of every argument, and of the items of dict, list and tuple arguments (one level down)."""
    for path, value in [(["a", i], v) for i, v in enumerate(args)] + [(["k", k], v) for k, v in kwargs.items()]:
        yield path, value
        if isinstance(value, dict):
            for key, item in list(value.items())[:1000]:
                if isinstance(key, str | int):
                    yield [*path, key], item
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value[:1000]):
                yield [*path, i], item


def _mutable(x: Any) -> bool:
    return isinstance(x, np.ndarray | list | dict | types.SimpleNamespace) or _is_tensor(x) or _is_module(x)


_PLAIN = {type(None), bool, int, str}


def _fingerprint(x: Any, h: Any, depth: int = 0, modules: bool = False) -> None:
    """Feed a summary of ``x`` to the hash ``h``: numbers and arrays by value (floats rounded to float32, so that
    the last bits of a computation do not count), containers item by item, whitelisted dataclasses by their
    ``repr``, a torch module by its parameters when ``modules`` (else by type: its initial weights may be random
    and unused), anything else by its type's name."""
    kind = type(x)
    if kind in _PLAIN:
        h.update(f"{kind.__name__}:{x!r};".encode()[:2000])
    elif kind is float:
        h.update(b"f" + np.float32(x).tobytes())
    elif kind is list or kind is tuple:
        if depth >= 4:
            h.update(b"deep")
            return
        h.update(f"{kind.__name__}{len(x)}[".encode())
        for item in x[:1000]:
            _fingerprint(item, h, depth + 1, modules)
        h.update(b"]")
    elif kind is dict:
        if depth >= 4:
            h.update(b"deep")
            return
        h.update(f"dict{len(x)}{{".encode())
        for key, item in list(x.items())[:1000]:
            _fingerprint(key, h, depth + 1)
            _fingerprint(item, h, depth + 1, modules)
        h.update(b"}")
    elif isinstance(x, np.ndarray) and x.dtype.kind in NUMERIC_KINDS:
        h.update(f"nd{x.dtype.str}{x.shape}".encode())
        h.update(np.ascontiguousarray(x.astype(np.float32) if x.dtype.kind == "f" else x).tobytes())
    elif isinstance(x, np.generic):
        h.update(f"{x.dtype.str}:{np.float32(x) if x.dtype.kind == 'f' else x!r};".encode())
    elif _is_tensor(x):
        try:
            _fingerprint(x.detach().cpu().numpy(), h, depth)
            h.update(f"t{x.dtype}{bool(x.requires_grad)}".encode())
        except Exception:  # noqa: BLE001
            h.update(b"tensor?")
    elif _type_name(x) in OBJECTS:
        h.update(repr(x).encode()[:2000])
    elif modules and _is_module(x) and depth < 4:
        h.update(f"<{_type_name(x)}>".encode())
        _fingerprint(_module_state(x), h, depth + 1)
    else:
        h.update(f"<{_type_name(x)}>".encode())


def _digest(x: Any, modules: bool = False) -> str:
    h = hashlib.sha256()
    try:
        _fingerprint(x, h, 0, modules)
    except Exception:  # noqa: BLE001  (a learner's object that misbehaves)
        h.update(b"unreadable")
    return h.hexdigest()[:16]


class Spy:
    """Base class of a check's helper that the learner's function is given and calls (an environment, a fit, a
    run): each call of a method marked :func:`spied` is logged where the learner's code runs, with its arguments,
    and made again, in order, on the grader's own spy when the answer is replayed. So the grader's spy sees what the
    kernel's saw, computed by the grader's own code."""

    _log: list[dict[str, Any]] | None = None
    _refs: dict[int, list[Any]] | None = None
    _keep: list[Any] | None = None
    _key: str = ""


def spied(method: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a :class:`Spy` method whose calls are logged and replayed (see :class:`Spy`)."""
    import functools

    @functools.wraps(method)
    def logged(self: Spy, *args: Any, **kwargs: Any) -> Any:
        log, refs, keep = self._log, self._refs, self._keep
        if log is None or refs is None or keep is None:
            return method(self, *args, **kwargs)
        entry = {"spy": self._key, "name": method.__name__, "args": observe(list(args), refs),
                 "kwargs": observe(kwargs, refs)}
        log.append(entry)
        result = method(self, *args, **kwargs)
        if type(result) not in _SCALARS:  # a later argument that is this result travels as a reference to it
            refs[id(result)] = ["spy", len(log) - 1]
            keep.append(result)
        return result

    return logged


def _spies(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Spy]:
    """The spies among the arguments (a spy, or a bound method of one), by argument key."""
    found: dict[str, Spy] = {}
    for key, value in _top(args, kwargs):
        owner = getattr(value, "__self__", value) if type(value) not in _SCALARS else None
        if isinstance(owner, Spy) and owner not in found.values():
            found.setdefault(key, owner)
    return found


class _Refs:
    """References a record may make on replay: the grader's arguments by path, and the results of the spies' calls
    made again so far, by ``["spy", k]``."""

    def __init__(self, paths: _Paths) -> None:
        self.paths, self.results = paths, {}

    def __contains__(self, key: str) -> bool:
        return key in self.results or key in self.paths

    def __getitem__(self, key: str) -> Any:
        return self.results[key] if key in self.results else self.paths[key]


def _top(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(key, value)`` of each argument: ``a0``, ``a1``, ... by position, ``k:name`` by keyword."""
    return [(f"a{i}", v) for i, v in enumerate(args)] + [(f"k:{k}", v) for k, v in kwargs.items()]


def _digests(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A digest of all the arguments (spies, functions and other unknown values by type only), and one of each
    argument that a call could change in place, by key."""
    each = [(key, value, _digest(value)) for key, value in _top(args, kwargs)]
    whole = hashlib.sha256(" ".join(f"{k}={d}" for k, _, d in each).encode()).hexdigest()[:16]
    return whole, {k: _digest(v, modules=True) if _is_module(v) else d for k, v, d in each if _mutable(v)}


class _Paths:
    """The grader's arguments by path (as JSON text), worked out only when a record refers to one."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args, self.kwargs, self._table = args, kwargs, None

    def table(self) -> dict[str, Any]:
        if self._table is None:
            self._table = {json.dumps(path): value for path, value in _arguments(self.args, self.kwargs)}
        return self._table

    def __contains__(self, key: str) -> bool:
        return key in self.table()

    def __getitem__(self, key: str) -> Any:
        return self.table()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.table().get(key, default)


_SCALARS = (type(None), bool, int, float, str)


class Recorder:
    """Wraps the learner's function where it runs: each call is recorded in ``calls`` (see the module docstring)
    and behaves exactly as the function itself."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.calls: list[dict[str, Any]] = []
        self.jacobian_left = MAX_JACOBIAN

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        signature, before = _digests(args, kwargs)
        entry: dict[str, Any] = {"args": signature}
        self.calls.append(entry)
        spies = _spies(args, kwargs)
        refs: dict[int, list[Any]] | None = None
        if spies:
            refs = {id(value): path for path, value in _arguments(args, kwargs)}
            log: list[dict[str, Any]] = []
            keep: list[Any] = []
            for key, spy in spies.items():
                spy._log, spy._refs, spy._keep, spy._key = log, refs, keep, key
            entry["spies"] = log
        try:
            result = self.fn(*args, **kwargs)
        except BaseException as exc:
            entry["raised"] = type(exc).__name__ if TYPE_NAME.fullmatch(type(exc).__name__) else "Exception"
            entry["message"] = str(exc)[:300] if type(exc).__module__ == "builtins" else ""
            entry["where"] = learner_line(exc, self.fn)
            if isinstance(exc, NotImplementedError):  # a stub: the learner's function, or one it calls?
                from metarl_edu.classroom.cases import unfinished_dependency

                exc.dependency = entry["dependency"] = unfinished_dependency(self.fn, exc)
            self._after(entry, before, args, kwargs, spies)
            raise
        if type(result) not in _SCALARS and refs is None:
            refs = {id(value): path for path, value in _arguments(args, kwargs)}
        entry["value"] = observe(result, refs)
        entry["grads"] = self._jacobians(result, args, kwargs)
        self._after(entry, before, args, kwargs, spies)
        return result

    def _after(self, entry: dict[str, Any], before: dict[str, str], args: tuple[Any, ...],
               kwargs: dict[str, Any], spies: dict[str, Spy]) -> None:
        changed = {key: observe(_module_state(value) if _is_module(value) else value)
                   for key, value in _top(args, kwargs) if key in before and _digest(value, True) != before[key]}
        if changed:
            entry["changed"] = changed
        for spy in spies.values():
            spy._log = spy._refs = spy._keep = None

    def _jacobians(self, result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """For each float tensor in the result that requires grad: its derivatives with respect to each float
        argument tensor that requires grad, as ``[result path, [[argument path, flat jacobian or None], ...]]``."""
        outputs = [(path, t) for path, t in _tensors(result) if t.requires_grad and t.is_floating_point()]
        inputs = [(path, t) for path, t in _arguments(args, kwargs)
                  if _is_tensor(t) and t.requires_grad and t.is_floating_point()]
        if not outputs or not inputs:
            return []
        import torch

        recorded = []
        for out_path, out in outputs:
            size = out.numel() * sum(t.numel() for _, t in inputs)
            if size > self.jacobian_left:
                continue
            self.jacobian_left -= size
            rows: list[list[Any] | None] = [[] for _ in inputs]
            try:
                for element in out.reshape(-1):
                    grads = torch.autograd.grad(element, [t for _, t in inputs], retain_graph=True, allow_unused=True)
                    for k, g in enumerate(grads):
                        if rows[k] is not None:
                            rows[k] = None if g is None else rows[k] + g.detach().double().reshape(-1).tolist()
            except Exception:  # noqa: BLE001  (no derivatives recorded: the replayed tensor has none)
                continue
            recorded.append([out_path, [[path, row] for (path, _), row in zip(inputs, rows, strict=True)]])
        return recorded


def _tensors(x: Any, path: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[list[Any], Any]]:
    if _is_tensor(x):
        yield list(path), x
    elif depth < 3 and isinstance(x, dict):
        for k, v in list(x.items())[:1000]:
            if isinstance(k, str | int):
                yield from _tensors(v, (*path, k), depth + 1)
    elif depth < 3 and isinstance(x, list | tuple):
        for i, v in enumerate(x[:1000]):
            yield from _tensors(v, (*path, i), depth + 1)


def deepest_line(tb: types.TracebackType | None, filename: str) -> int:
    """The line of the deepest frame of traceback ``tb`` whose code is in ``filename`` (a notebook cell's file);
    0 when none is."""
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def learner_line(exc: BaseException, fn: Callable[..., Any]) -> list[Any]:
    """Where in the learner's code ``exc`` arose, for the learner to find it: ``[7, "q[s_next].max()"]``, the
    deepest line of the traceback in the file (the notebook cell) that defines ``fn`` and its text, shortened;
    ``[]`` when the traceback never reaches that file. Never raises."""
    try:
        filename = fn.__code__.co_filename
        line = deepest_line(exc.__traceback__, filename)
        text = " ".join(linecache.getline(filename, line).split()) if line else ""
        return [line, text if len(text) <= 60 else text[:57] + "..."] if line else []
    except Exception:  # noqa: BLE001  (a callable without code, or a traceback it rewrote: no line then)
        return []


class Replayer:
    """Stands in for the learner's function in the grader: the ``i``-th call returns (or raises) what the ``i``-th
    recorded call did, after checking that its arguments are the recorded ones and applying the recorded changes
    to the grader's own arguments. ``messages``: a replayed exception carries the message the kernel recorded (the
    self-study check); without, only its type, so that no case can quote the kernel's text in the grader's hints."""

    def __init__(self, calls: Any, *, messages: bool = True) -> None:
        self.calls = calls if isinstance(calls, list) else []
        self.position = 0
        self.mismatch = False
        self.messages = messages

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.position >= len(self.calls) or not isinstance(self.calls[self.position], dict):
            raise NoAnswer("no recorded answer for this call")
        entry = self.calls[self.position]
        self.position += 1
        if entry.get("args") != _digests(args, kwargs)[0]:
            self.mismatch = True
            raise NoAnswer("the recorded call had other arguments")
        paths = _Paths(args, kwargs)
        top = dict(_top(args, kwargs))
        for key, state in (entry.get("changed") or {}).items() if isinstance(entry.get("changed"), dict) else ():
            if key in top:
                _set_state(top[key], restore(state))
        refs = _Refs(paths)
        if isinstance(entry.get("spies"), list):
            _call_spies(entry["spies"], _spies(args, kwargs), refs)
        if "raised" in entry:
            exc = _exception(str(entry["raised"]), str(entry.get("message", ""))[:300] if self.messages else "")
            if isinstance(exc, NotImplementedError) and isinstance(entry.get("dependency"), str):
                exc.dependency = entry["dependency"]  # type: ignore[attr-defined]
            where = entry.get("where")
            if isinstance(where, list) and len(where) == 2 and type(where[0]) is int and isinstance(where[1], str):
                exc.where = (where[0], where[1][:60])  # type: ignore[attr-defined]
            raise exc
        value = restore(entry.get("value"), refs)
        grads = entry.get("grads")
        return _with_gradients(value, grads, paths) if isinstance(grads, list) and grads else value


def _call_spies(log: list[Any], spies: dict[str, Spy], refs: _Refs) -> None:
    """Make again, on the grader's spies, the calls the learner's code made of the kernel's: in order, with the
    logged arguments. A spy's own Failure (a misuse it diagnoses) is raised; the learner's code saw the same one."""
    from metarl_edu.classroom.cases import Failure

    for k, call in enumerate(log):
        if not isinstance(call, dict) or call.get("spy") not in spies or not isinstance(call.get("name"), str):
            continue
        method = getattr(type(spies[call["spy"]]), call["name"], None)
        if method is None or not hasattr(method, "__wrapped__"):  # only the methods marked spied
            continue
        args = restore(call.get("args"), refs)
        kwargs = restore(call.get("kwargs"), refs)
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            continue
        try:
            result = method(spies[call["spy"]], *args, **{str(key): v for key, v in kwargs.items()})
        except Failure:
            raise
        except Exception:  # noqa: BLE001  (it raised where the learner's code ran too, which may have caught it)
            result = None
        refs.results[json.dumps(["spy", k])] = result


def _exception(name: str, message: str) -> BaseException:
    """The exception ``name`` rebuilt with ``message``; with none when ``message`` is empty, so that its text is
    empty too (a ``KeyError('')`` would read ``''``)."""
    args = (message,) if message else ()
    if name in EXCEPTIONS:
        return _import(*EXCEPTIONS[name])(*args)
    cls = getattr(builtins, name, None) if TYPE_NAME.fullmatch(name) else None
    if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins":
        try:
            return cls(*args)
        except Exception:  # noqa: BLE001  (an exception class with other arguments)
            return LearnerError(name)
    if name == "NotImplementedError":
        return NotImplementedError(*args)
    return LearnerError(name if TYPE_NAME.fullmatch(name) else "Exception")


def _set_state(target: Any, new: Any) -> None:
    """Change ``target`` in place to the state ``new`` a learner's call left it in (when the kinds agree)."""
    try:
        if isinstance(target, np.ndarray) and isinstance(new, np.ndarray) and new.shape == target.shape:
            np.copyto(target, new, casting="unsafe")
        elif isinstance(target, list) and isinstance(new, list):
            target[:] = new
        elif isinstance(target, dict) and isinstance(new, dict):
            target.clear()
            target.update(new)
        elif isinstance(target, types.SimpleNamespace) and isinstance(new, types.SimpleNamespace):
            vars(target).clear()
            vars(target).update(vars(new))
        elif _is_module(target) and isinstance(new, dict):
            import torch

            state = target.state_dict()
            with torch.no_grad():
                for name, value in new.items():
                    if name in state and _is_tensor(value) and tuple(value.shape) == tuple(state[name].shape):
                        state[name].copy_(value)
        elif _is_tensor(target) and _is_tensor(new) and tuple(new.shape) == tuple(target.shape):
            import torch

            with torch.no_grad():
                target.copy_(new.detach())
    except Exception:  # noqa: BLE001  (the grader's argument keeps its state; the check sees no change)
        pass


def _with_gradients(value: Any, grads: list[Any], paths: _Paths) -> Any:
    """``value`` with each recorded tensor replaced by one whose first derivatives with respect to the grader's
    argument tensors are the recorded ones: ``v + sum_i J_i (x_i - x_i.detach())``."""
    import torch

    for item in grads:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list)):
            continue
        out_path, per_input = item
        holder, key, tensor = _locate(value, out_path)
        if tensor is None or not tensor.is_floating_point():
            continue
        surrogate = tensor.detach().clone()
        used = False
        for pair in per_input if isinstance(per_input, list) else []:
            if not (isinstance(pair, list) and len(pair) == 2):
                continue
            x = paths.get(json.dumps(pair[0]))
            row = pair[1]
            if not (_is_tensor(x) and x.requires_grad and isinstance(row, list)):
                continue
            if len(row) != tensor.numel() * x.numel() or not all(_number(v) for v in row):
                continue
            jac = torch.tensor(row, dtype=torch.float64).reshape(tensor.numel(), x.numel())
            delta = (x - x.detach()).reshape(-1).to(torch.float64)
            surrogate = surrogate + (jac @ delta).reshape(tensor.shape).to(tensor.dtype)
            used = True
        if not used:
            surrogate.requires_grad_(True)
        if holder is None:
            value = surrogate
        else:
            holder[key] = surrogate
    return value


def _locate(value: Any, path: list[Any]) -> tuple[Any, Any, Any]:
    """(container, key, tensor) at ``path`` in ``value``; a tuple on the way is turned into a list in place only
    through its parent, so the caller receives a structure it may update."""
    if not path:
        return None, None, value if _is_tensor(value) else None
    holder = value
    for key in path[:-1]:
        try:
            holder = holder[key]
        except (KeyError, IndexError, TypeError):
            return None, None, None
    try:
        tensor = holder[path[-1]]
    except (KeyError, IndexError, TypeError):
        return None, None, None
    if isinstance(holder, tuple) or not _is_tensor(tensor):
        return None, None, None
    return holder, path[-1], tensor
