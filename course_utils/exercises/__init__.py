"""Checks for the notebooks' exercises.

In a notebook, the solution sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` and is
followed by a check from a topic module here (``exercises.depth``, ``exercises.dropout``, ...).
A check prints a short confirmation when the answer is right and raises :class:`ExerciseError`
with a hint when it is not.
"""

from __future__ import annotations

__all__ = ["ExerciseError", "ok", "require"]


class ExerciseError(AssertionError):
    """Raised by a check when an exercise's answer is not right yet; the message is a hint."""


def require(condition: bool, hint: str) -> None:
    """Raise :class:`ExerciseError` with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise ExerciseError(hint)


def ok(message: str) -> None:
    """Tell the learner the check passed."""
    print(f"Correct: {message}")
