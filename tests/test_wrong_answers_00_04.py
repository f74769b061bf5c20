"""The checks of lessons 00-04 against answers learners write: each correct variant passes, and each named wrong
answer fails with the hint that names its mistake (never a traceback)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np

from metarl_edu.classroom.checks import run_check

ROOT = Path(__file__).resolve().parents[1]


def stub_hint(lesson: str, exercise_id: str) -> str:
    """The hint in the stub of an exercise, as the lesson notebook shows it."""
    nb = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("metarl_edu", {}).get("exercise") == exercise_id
               and c.metadata["metarl_edu"]["role"] == "exercise"]
    return cell.source.split("NotImplementedError(", 1)[1]


# ============================================================================================ lesson 01
def backup_with_einsum(mdp, v, pi):
    """Correct: the expected reward taken from R (S, A, S) by the learner, as the lesson's table indexes it."""
    r = np.einsum("sat,sat->sa", mdp.P, mdp.R)
    q = r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, np.where(mdp.terminal, 0.0, v))
    return np.where(mdp.terminal, 0.0, np.einsum("sa,sa->s", pi, q))


def vi_with_einsum(mdp, theta=1e-10):
    r = np.einsum("sat,sat->sa", mdp.P, mdp.R)
    v = np.zeros(mdp.n_states)
    while True:
        q = r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, np.where(mdp.terminal, 0.0, v))
        v_new = np.where(mdp.terminal, 0.0, q.max(axis=1))
        if np.abs(v_new - v).max() < theta:
            return v_new, np.eye(mdp.n_actions)[q.argmax(axis=1)]
        v = v_new


def test_answers_that_index_R_as_the_lesson_says_pass():
    assert run_check("bellman_expectation_backup", backup_with_einsum).passed
    assert run_check("value_iteration", vi_with_einsum).passed


def test_the_value_iteration_stub_says_terminal_states_keep_value_0():
    assert "0 on terminal states (they keep value 0)" in stub_hint("01_mdp", "value_iteration")
