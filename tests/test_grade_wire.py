"""The trust split: a learner's function runs in one process, its answers cross as plain data, and the comparisons
run in the other (metarl_edu.classroom.wire, checks.record_check / judge_check, the hidden tests' three parts).

These run in one process, like the self-study check; the grading tests run the same code across a kernel.
"""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest

from metarl_edu.classroom import build, wire
from metarl_edu.classroom.checks import exercises, judge_check, record_check, run_check
from metarl_edu.classroom.grade import probe_names

ROOT = Path(__file__).resolve().parents[1]


def good_return(rewards, gamma):
    g = 0.0
    for r in reversed(rewards):
        g = r + gamma * g
    return g


def crossed(record: dict) -> dict:
    return wire.loads(wire.dumps(record))


# --------------------------------------------------------------------------------------------- observing
@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, float("inf"), "text", [1, 2.0], (1, (2, 3)), {"a": 1, 2: [3]},
    np.arange(6.0).reshape(2, 3), np.array([1, 2], dtype=np.int32), np.float32(1.5), np.int64(7),
])
def test_values_cross_unchanged(value):
    back = wire.restore(crossed({"v": wire.observe(value)})["v"])
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert type(back) is type(value) and back == value


def test_torch_values_cross_with_their_gradients():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)

    def square_sum(t):
        return (t ** 2).sum()

    recorder = wire.Recorder(square_sum)
    recorder(x)
    calls = crossed({"c": recorder.calls})["c"]
    y = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)  # the grader's own argument
    loss = wire.Replayer(calls)(y)
    assert float(loss.detach()) == 5.0 and loss.requires_grad
    assert torch.allclose(torch.autograd.grad(loss, y)[0], torch.tensor([2.0, 4.0], dtype=torch.float64))


class EqualToEverything(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class Anything:
    def __eq__(self, other):
        return True

    def __float__(self):
        return 1.75


def test_objects_that_equal_everything_come_back_as_plain_values():
    assert type(wire.restore(wire.observe(EqualToEverything(0.0)))) is float
    back = wire.restore(wire.observe(Anything()))
    assert isinstance(back, wire.Opaque) and back != 1.75
    assert run_check("discounted_return", lambda r, g: EqualToEverything(0.0)).n_passed == 1  # only [] -> 0
    assert run_check("discounted_return", lambda r, g: Anything()).n_passed == 0


def test_restore_never_runs_code_and_never_raises():
    for junk in ({"object": "os.system", "fields": {"command": "true"}}, {"ndarray": [1, 2], "shape": [3],
                 "dtype": "<f8"}, {"ndarray": ["x"], "shape": [1], "dtype": "|O"}, {"np": "|O", "value": 1},
                 {"tensor": [1.0], "shape": [1], "dtype": "complex64"}, {"ref": ["a", 0]}, {"dict": [[[1], 2]]},
                 {"unknown": 1}, {}):
        assert isinstance(wire.restore(junk), wire.Opaque), junk


# --------------------------------------------------------------------------------------------- record and replay
def test_the_replay_decides_not_the_kernels_outcomes():
    record = crossed(record_check("discounted_return", good_return))
    assert judge_check("discounted_return", record).passed
    first = record["cases"][0]["calls"][0]
    first["value"] = 0.0  # a kernel that reports a wrong answer under an outcome of "passed"
    result = judge_check("discounted_return", record)
    assert result.status == "failed" and result.n_passed == 5


def test_answers_recorded_for_other_inputs_are_refused():
    record = crossed(record_check("discounted_return", good_return))
    record["cases"][0]["calls"][0]["args"] = "0123456789abcdef"
    result = judge_check("discounted_return", record)
    assert result.mismatch and result.n_passed == 5
    assert "other inputs" in result.hints[0]


def test_a_record_cut_short_fails_the_remaining_cases():
    record = crossed(record_check("discounted_return", good_return))
    record["cases"] = record["cases"][:2]
    result = judge_check("discounted_return", record)
    assert (result.n_passed, result.n_cases) == (2, 6)
    assert all("no answer of your function came back" in hint for hint in result.hints)


def test_exception_messages_are_quoted_only_in_self_study():
    def raises(rewards, gamma):
        raise ValueError("✅ all checks passed")

    record = crossed(record_check("discounted_return", raises))
    assert "✅" in judge_check("discounted_return", record).hints[0]
    assert "✅" not in judge_check("discounted_return", record, messages=False).hints[0]


def test_a_changed_argument_is_seen_on_replay():
    def mutates(mdp, v, pi):
        v[:] = 0.0
        return np.zeros_like(v)

    assert any("changed the v passed in" in hint for hint in run_check("bellman_expectation_backup", mutates).hints)


# --------------------------------------------------------------------------------------------- hidden tests
def hidden_blocks():
    for master in sorted((ROOT / "course").glob("[0-9][0-9]_*.py")):
        for test in build.load_lesson(master).hidden_tests:
            yield pytest.param(test, id=test.exercise)


def judge_hidden(test: build.HiddenTest, function) -> None:
    """The hidden test as the grader runs it: inputs and probe with ``function``, its values as plain data, then
    inputs and judge in a fresh namespace."""
    inputs, probe, judge = test.parts
    kernel = {"__builtins__": builtins, test.exercise: function}
    exec(compile(inputs + "\n" + probe, "<probe>", "exec"), kernel)
    grader = {"__builtins__": builtins}
    exec(compile(inputs, "<inputs>", "exec"), grader)
    names = probe_names(inputs, probe, judge)
    assert names, "the judge reads what the probe bound"
    values = crossed({n: wire.observe(kernel[n]) for n in names})
    grader.update({n: wire.restore(v) for n, v in values.items()})
    exec(compile(judge, "<judge>", "exec"), grader)


@pytest.mark.parametrize("test", list(hidden_blocks()))
def test_each_hidden_test_passes_the_reference_across_the_split(test):
    judge_hidden(test, exercises()[test.exercise].reference)


@pytest.mark.parametrize("test", list(hidden_blocks()))
def test_each_hidden_test_keeps_its_answers_out_of_the_probe(test):
    inputs, probe, judge = test.parts
    assert "assert" not in inputs + probe and "assert" in judge


def test_a_hidden_test_fails_a_wrong_answer():
    test = next(t for t in build.load_lesson(ROOT / "course" / "00_welcome.py").hidden_tests)
    with pytest.raises(AssertionError):
        judge_hidden(test, lambda rewards, gamma: float(sum(rewards)))


def test_hidden_tests_must_be_split():
    with pytest.raises(build.BuildError, match="PROBE"):
        build.split_hidden("assert f(1) == 2")
    assert build.split_hidden("x = 1\n### PROBE\ny = f(x)\n### JUDGE\nassert y") == ("x = 1", "y = f(x)", "assert y")
