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
import math
import os
import signal
import threading
import time
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


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MAX_MESSAGE = 300


def _is_library_frame(filename: str) -> bool:
    # The learner's line is the last frame that is neither course_utils itself nor an installed library
    # (torch, numpy, ...): "at line 3: return x @ w" is useful, a line deep inside torch is not.
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) or f"{os.sep}site-packages{os.sep}" in path


def _where(err: BaseException) -> str:
    """The last line of the learner's own code in the traceback, e.g. 'line 7: out = x @ w'."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not _is_library_frame(f.filename)]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at line {frame.lineno}: {(frame.line or '').strip()})"


def _one_line(err: BaseException) -> str:
    """The exception's message on one line, shortened: torch's messages can span many lines."""
    text = " ".join(str(err).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


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
    # The checker author's arguments are checked with TypeError/ValueError (a bug in the checker, not the
    # learner's); everything about the learner's function becomes an ExerciseError.
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string naming the learner's function, got {type(name).__name__}.")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, int | float):
            raise TypeError(f"time_limit must be a number of seconds or None, got {type(time_limit).__name__}.")
        if not time_limit > 0 or math.isinf(time_limit):
            raise ValueError(
                f"time_limit must be a finite number of seconds > 0 (or None for no limit), got {time_limit!r}."
            )
    if not isinstance(copy_inputs, bool):
        raise TypeError(f"copy_inputs must be True or False, got {copy_inputs!r}.")
    label = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise ExerciseError(
            f"Pass the function itself, not its result: check_...({label}) without (). Got {type(fn).__name__}."
        )
    if copy_inputs:
        try:
            args = copy.deepcopy(args)
            kwargs = copy.deepcopy(kwargs)
        except Exception as err:  # noqa: BLE001 - an uncopyable input is the checker's problem
            raise TypeError(
                f"call_learner could not copy the inputs for {label} ({type(err).__name__}: {_one_line(err)}); "
                "pass copy_inputs=False and protect the originals yourself."
            ) from err
    try:
        with _time_limit(time_limit or 0):
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
    except SystemExit:
        # exit() / sys.exit() inside the function would otherwise end the check (or the kernel) silently.
        raise ExerciseError(f"{label} called exit(): return a value instead of exiting.") from None
    except Exception as err:  # noqa: BLE001 - any failure of the learner's code becomes a hint
        raise ExerciseError(f"{label} raised {type(err).__name__}: {_one_line(err)}{_where(err)}") from None


class _time_limit:
    """SIGALRM-based time limit in the main thread (the kernel's); no limit elsewhere.

    Ctrl-C / "interrupt kernel" still raises KeyboardInterrupt as usual: only SIGALRM is borrowed,
    and the previous handler and timer are restored on exit. An outer timer that was already running
    (a nested check, a test runner's timeout) keeps its deadline: if it is due first it fires through its
    own handler, and on exit it is re-armed with the time it had left.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = (
            seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )

    def __enter__(self) -> None:
        if self.active:
            self.start = time.monotonic()
            self.deadline = self.start + self.seconds
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            self.outer_delay, self.outer_interval = signal.setitimer(signal.ITIMER_REAL, 0)
            delay = self.seconds if self.outer_delay <= 0 else min(self.seconds, self.outer_delay)
            signal.setitimer(signal.ITIMER_REAL, delay)

    def __exit__(self, *exc: object) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
            if self.outer_delay > 0:
                left = self.outer_delay - (time.monotonic() - self.start)
                # Overdue outer timers fire right away (1 us) rather than being lost.
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), self.outer_interval)

    def _expire(self, signum, frame) -> None:
        if time.monotonic() >= self.deadline - 1e-3:
            raise _TimeLimit()
        # The outer timer was due first: let its own handler run, then wait for ours.
        self.outer_delay = 0.0
        previous = self.previous
        signal.setitimer(signal.ITIMER_REAL, max(self.deadline - time.monotonic(), 1e-6))
        if callable(previous):
            previous(signum, frame)


def show_hints_briefly() -> None:
    """In IPython/Jupyter, show an :class:`ExerciseError` as feedback (a hint in a box), not a traceback.

    :func:`course_utils.setup_notebook` calls this. The cell still fails (its execute reply says error, so
    "Run All" stops there and nbclient raises), but nothing red is shown: the hint is displayed as HTML,
    with the exception's name and message in the output's metadata (``normcourse.exercise``) for tools.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def _handler(shell, etype, value, _tb, tb_offset=None):
        from html import escape

        from IPython.display import display

        text = str(value)
        label = "" if isinstance(value, NotDoneYet) else "Not yet. Hint: "
        html = ('<div style="border-left: 4px solid #E69F00; background: #FFF6E0; color: #222; '
                f'padding: 6px 10px; margin: 2px 0">{escape(label)}{escape(text)}</div>')
        display({"text/plain": label + text, "text/html": html}, raw=True,
                metadata={"normcourse": {"exercise": {"ename": etype.__name__, "evalue": text}}})

    shell.set_custom_exc((ExerciseError,), _handler)
