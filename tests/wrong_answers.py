"""How a named wrong answer is tested against its check, shared by the modules that own each lesson's wrong
answers (test_wrong_answers_00_04: lessons 00-04; test_wrong_answers_05_10: 05, 06, 07 and 10; test_checks: 08,
09 and 11). A table maps an exercise id to ``(wrong answer, words its hint must contain)`` pairs."""

from __future__ import annotations

from metarl_edu.classroom.checks import run_check


def wrong_answer_cases(table: dict) -> list[tuple]:
    """``(exercise_id, wrong, words)`` for every entry of a table, for ``pytest.mark.parametrize``."""
    return [(exercise_id, wrong, words) for exercise_id, entries in table.items() for wrong, words in entries]


def case_ids(table: dict) -> list[str]:
    return [wrong.__name__ for _, wrong, _ in wrong_answer_cases(table)]


def assert_rejected_with_hint(exercise_id: str, wrong, words: str, *, bare_exception_allowed: bool = False) -> None:
    """The check fails ``wrong`` with hints (full sentences) and one of them contains ``words``; it reports the
    mistake, never a traceback, and an exception only with the hint that explains it (unless
    ``bare_exception_allowed``: another case of the same check names the mistake)."""
    result = run_check(exercise_id, wrong)
    text = repr(result)
    assert result.status == "failed" and text.startswith("❌"), text
    assert result.hints and all(len(h) > 20 for h in result.hints), text
    assert words in text, text
    assert "Traceback" not in text and 'File "' not in text, text
    bare = [h for h in result.hints if "your function raised" in h.replace("but your function raised", "")
            and "Hint:" not in h]
    assert bare_exception_allowed or not bare, text  # an exception is reported only with the hint that explains it
