"""Checks for the notebooks' exercises.

In a notebook, the solution sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` inside the
function body and is followed by a check from a topic module here (``exercises.depth``,
``exercises.dropout``, ...). A check prints a short confirmation when the answer is right and raises
:class:`ExerciseError` with a hint when it is not. It never prints the answer.

Checks call the learner's function through :func:`call_learner`, which

- gives it *copies* of the inputs (so a function that changes its inputs cannot change what it is
  compared against),
- stops it after a time limit with a hint (a loop that never ends), without breaking Ctrl-C,
- turns ``NotImplementedError`` (the stub of the student build) into "not done yet",
- turns any other exception into an :class:`ExerciseError` that says what failed, in one line.
"""

from __future__ import annotations

import copy
import signal
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["ExerciseError", "NotDoneYet", "ok", "require", "call_learner", "DEFAULT_TIME_LIMIT"]

DEFAULT_TIME_LIMIT = 20.0
"""Seconds a learner's function may run inside a check before it is stopped."""


class ExerciseError(AssertionError):
    """Raised by a check when an exercise's answer is not right yet; the message is a hint."""


class NotDoneYet(ExerciseError):
    """Raised by a check when the learner's function is still the stub (``raise NotImplementedError``)."""


class _TimeLimit(BaseException):
    # BaseException, so a learner's `except Exception:` cannot swallow it and keep looping.
    pass


def require(condition: bool, hint: str) -> None:
    """Raise :class:`ExerciseError` with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise ExerciseError(hint)


def ok(message: str) -> None:
    """Tell the learner the check passed."""
    print(f"Correct: {message}")


def _where(err: BaseException) -> str:
    """The last line of the learner's own code in the traceback, e.g. 'line 7: out = x @ w'."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "course_utils" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at line {frame.lineno}: {(frame.line or '').strip()})"


def call_learner(
    fn: Callable,
    *args: Any,
    name: str | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    copy_inputs: bool = True,
    **kwargs: Any,
) -> Any:
    """Call the learner's ``fn(*args, **kwargs)`` safely and return its result.

    Raises :class:`NotDoneYet` if ``fn`` raises ``NotImplementedError``, and :class:`ExerciseError`
    (one line, naming the exception and the learner's line) if it raises anything else or runs longer
    than ``time_limit`` seconds.
    """
    label = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise ExerciseError(
            f"Pass the function itself, not its result: check_...({label}) without (). Got {type(fn).__name__}."
        )
    if copy_inputs:
        args = copy.deepcopy(args)
        kwargs = copy.deepcopy(kwargs)
    try:
        with _time_limit(time_limit):
            return fn(*args, **kwargs)
    except _TimeLimit:
        raise ExerciseError(
            f"{label} did not return within {time_limit:g} s: look for a loop that never ends."
        ) from None
    except NotImplementedError:
        raise NotDoneYet(
            f"Not done yet: {label} still raises NotImplementedError. Replace that line with your code, "
            "run the cell again, then run this check."
        ) from None
    except ExerciseError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure of the learner's code becomes a hint
        raise ExerciseError(f"{label} raised {type(err).__name__}: {err}{_where(err)}") from None


class _time_limit:
    """SIGALRM-based time limit in the main thread (the kernel's); no limit elsewhere.

    Ctrl-C / "interrupt kernel" still raises KeyboardInterrupt as usual: only SIGALRM is borrowed,
    and the previous handler and timer are restored on exit.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = (
            seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )

    def __enter__(self) -> None:
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)

    @staticmethod
    def _expire(_signum, _frame) -> None:
        raise _TimeLimit()


def show_hints_briefly() -> None:
    """In IPython/Jupyter, show an :class:`ExerciseError` as its hint alone, not a wall of traceback.

    :func:`course_utils.setup_notebook` calls this. The cell still fails (so "Run All" stops there and
    tests see the failure); only the display is shortened.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def _handler(shell, etype, value, _tb, tb_offset=None):
        shell.showtraceback((etype, value, None), tb_offset=tb_offset)

    shell.set_custom_exc((ExerciseError,), _handler)
