"""Course tooling: instant checks for learners, the one-source build, release, and the self-check runner.

What a lesson notebook uses::

    from metarl_edu.classroom import start_lesson, check, pick
"""

from metarl_edu.classroom.checks import CheckFailed, CheckResult, check, pick, start_lesson

__all__ = ["CheckFailed", "CheckResult", "check", "pick", "start_lesson"]
