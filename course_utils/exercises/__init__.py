"""Checks for the notebooks' exercises, and the tools to write more of them.

In a notebook, the solution sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` inside the
function body and is followed by a check from a topic module here (``exercises.depth``,
``exercises.dropout``, ...). A check prints a short confirmation when the answer is right and raises
:class:`ExerciseError` with a hint when it is not.

How to write a check (the recipe every topic module follows)
------------------------------------------------------------
1. **Run the whole check in a child process**: ``message = run_check(_body, fn, name="fn")`` forks the
   kernel (``os.fork``: the learner's function lives in the kernel and is not picklable), runs
   ``_body(fn)`` there and returns its result (a plain string or numbers: it is pickled back). The
   parent waits at most ``time_limit`` seconds and then kills the child, so a bare ``except:`` around
   the learner's loop and a long C call (``sum(range(10**10))``) are stopped too. Anything the
   learner's code changes (inputs, models, random generators, ``print`` output) stays in the child;
   the child's ``print`` output is shown in the parent. Compute expensive references in the parent
   before ``run_check`` (the child sees them through the fork). Measured overhead: 50-90 ms per check on
   the shared 2-core machine (README, "course_utils"). Do not use a ``TorchDispatchMode`` in a body:
   its first use in a process imports sympy and dynamo (about 9 s, paid again in every child).
2. **Inside the body, call the learner through** :func:`call_learner` (copies of the inputs, one-line
   hints for exceptions, ``NotImplementedError`` -> "Not done yet").
3. **Judge behaviour, not structure**: draw several inputs yourself from seeded generators (a table of
   cases like ``batchnorm._CASES``: batch 1, 3-D/4-D where the layer takes them, float32 and float64,
   non-default hyper-parameters, train and eval) and compare with a reference (:func:`require_close`
   turns a wrong type, ``None``, a wrong shape or NaN into the same one-line hint). Where the learner
   builds something differentiable, compare **gradients** through the learner's code with the reference's
   (:func:`gradients`).
4. **Hints name the mistake in words.** Recognize a mistake by comparing with a named wrong variant
   and say what is wrong; never print solution code, the expected values, or which items of an answer
   are wrong. :func:`require` raises the hint. Leaks are tested (``tests/test_exercise_table.py``
   greps every hint for code of the solution).
5. **Forbid shortcuts** the exercise says not to use with :func:`forbidden`, which watches calls
   (``sys.setprofile``) and refuses the named functions by identity, however the learner imported them
   (``torch.nn.functional.dropout``, ``torch.native_dropout``, ``torch.ops.aten.*``, the course's own
   layers). Say in the exercise's text what is refused.
6. **Test it** by adding rows to ``tests/test_exercise_table.py`` (each named mistake with the hint it
   must get, and correct variants written unlike the solution) and the check to its list of checks that
   must run the learner's code in a child process.

Without ``os.fork`` (Windows) or with ``NORMCOURSE_CHECK_IN_PROCESS=1`` the body runs in the kernel under
a single SIGALRM: a bare ``except:`` loop or a long C call can then outlast the limit.

Every failure of the learner's code becomes one :class:`ExerciseError` line: an exception (even one
whose ``__str__`` fails), a wrong type, ``None``, a wrong dtype or shape, or an exception raised by
the check itself while reading an odd result ("the check could not use what ... returned: ...").
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "ExerciseError", "NotDoneYet", "ok", "require", "call_learner", "run_check", "run_checks_at_once",
    "deliver_check", "forbidden", "require_close", "gradients", "DEFAULT_TIME_LIMIT",
]

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
    try:
        text = " ".join(str(err).split())
    except Exception:  # noqa: BLE001 - a learner's exception class whose __str__ itself fails
        text = "(its message could not be shown)"
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
        # In run_check's child the parent enforces the limit (and can also stop a long C call).
        with _time_limit(0 if _IN_CHILD else time_limit or 0):
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
        message = f"{label} raised {type(err).__name__}: {_one_line(err)}{_where(err)}{_advice(err)}"
        raise ExerciseError(message) from None


def _advice(err: BaseException) -> str:
    """A word on errors whose message alone misleads beginners."""
    if isinstance(err, TypeError) and "'module' object is not callable" in str(err):
        return (". A module is not a function: call the function inside it (module.function(...)), e.g. "
                "train.train(...) in the course's notebooks.")
    return ""


# ------------------------------------------------------------------------------------- run_check (fork)

_IN_CHILD = False


def _can_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("NORMCOURSE_CHECK_IN_PROCESS", "") not in ("1", "true")


def _body_outcome(body: Callable, args: tuple, name: str) -> tuple:
    """Run ``body(*args)`` and describe how it ended: ("ok", value) or ("hint", not_done_yet, message)."""
    try:
        return ("ok", body(*args))
    except NotDoneYet as err:
        return ("hint", True, str(err))
    except ExerciseError as err:
        return ("hint", False, str(err))
    except _TimeLimit:
        return ("hint", False, f"{name} did not return in time: look for a loop that never ends.")
    except RecursionError:
        return ("hint", False, f"{name} calls itself without end (RecursionError).")
    except Exception as err:  # noqa: BLE001 - the check could not read what the learner's code returned
        return ("hint", False, f"The check could not use what {name} returned ({type(err).__name__}: "
                               f"{_one_line(err)}): return the type and shape the exercise asks for.")


def run_check(body: Callable, *args: Any, name: str = "your function",
              time_limit: float = DEFAULT_TIME_LIMIT) -> Any:
    """Run ``body(*args)`` (a check's body that calls the learner's code) in a forked child process.

    Returns what ``body`` returns (it must be picklable: return plain data, e.g. the success message);
    raises :class:`ExerciseError` / :class:`NotDoneYet` with the body's hint. After ``time_limit``
    seconds the child is killed, whatever it is doing (a bare ``except:`` loop, a long C call).
    Without ``os.fork`` (Windows) or with ``NORMCOURSE_CHECK_IN_PROCESS=1`` the body runs in this
    process under :func:`call_learner`'s SIGALRM limit instead.
    """
    if _IN_CHILD or not _can_fork():
        with _time_limit(0 if _IN_CHILD else time_limit):
            outcome = _body_outcome(body, args, name)
        return _finish(outcome, name)
    return deliver_check(_run_in_children([(body, args)], name, time_limit)[0], name)


def run_checks_at_once(calls: list[tuple[Callable, tuple]], *, name: str = "your function",
                       time_limit: float = DEFAULT_TIME_LIMIT) -> list[tuple]:
    """Run several check bodies that do not depend on each other (``calls``: pairs ``(body, args)``) at once, each
    in its own forked child as :func:`run_check` runs one, all within the one ``time_limit``.

    Returns one result per body, in order; :func:`deliver_check` shows a result's printed output and returns the
    body's value or raises its hint. The check decides which results it delivers, in what order: a result it
    does not need (say, a second call whose answer only matters if the first was right) is dropped unseen,
    output included. Without ``os.fork`` (or inside a child) the bodies run here, one after the other, their
    output captured likewise.
    """
    if _IN_CHILD or not _can_fork():
        results = []
        for body, args in calls:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    _time_limit(0 if _IN_CHILD else time_limit):
                outcome = _body_outcome(body, args, name)
            results.append((outcome, out.getvalue(), err.getvalue()))
        return results
    return _run_in_children(calls, name, time_limit)


def deliver_check(result: tuple, name: str = "your function") -> Any:
    """Show what a body of :func:`run_checks_at_once` printed, then return its value or raise its hint."""
    outcome, out, err = result
    if out:
        sys.stdout.write(out)
    if err:
        sys.stderr.write(err)
    return _finish(outcome, name)


def _run_in_children(calls: list[tuple[Callable, tuple]], name: str, time_limit: float,
                     deadline: float | None = None) -> list[tuple]:
    """``(outcome, stdout, stderr)`` of each ``body(*args)``, each run in a forked child, all started at once (one
    after the other with ``NORMCOURSE_WORKERS=1``: :func:`course_utils.parallel.worker_count`); a child still
    running at the deadline is killed (its outcome: the time-limit hint)."""
    from ..parallel import worker_count

    deadline = time.monotonic() + time_limit if deadline is None else deadline
    if len(calls) > 1 and worker_count() == 1:
        return [_run_in_children([call], name, time_limit, deadline)[0] for call in calls]
    children = []
    try:
        for body, args in calls:
            read_end, write_end = os.pipe()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # Python >= 3.12 warns about fork with threads
                pid = os.fork()
            if pid == 0:  # pragma: no cover - the child; coverage cannot see it
                for _pid, other in children:
                    os.close(other)
                _child(read_end, write_end, body, args, name)
            os.close(write_end)
            children.append((pid, read_end))
        return [_collect(read_end, deadline, name, time_limit) for _pid, read_end in children]
    finally:
        for pid, read_end in children:
            os.close(read_end)
            _reap(pid)  # killed if it still runs (the deadline passed, or Ctrl-C)


def _collect(read_end: int, deadline: float, name: str, time_limit: float) -> tuple:
    """What the child at the other end of ``read_end`` sent: ``(outcome, stdout, stderr)``."""
    payload = _read_until(read_end, deadline)
    if payload is None:
        return (("hint", False, f"{name} did not return within {time_limit:g} s: look for a loop that never ends "
                                "(or a computation far too large)."), "", "")
    try:
        return pickle.loads(payload)
    except Exception:  # noqa: BLE001 - the child died while writing (killed, out of memory)
        return (("hint", False, f"The check of {name} stopped unexpectedly (out of memory?)."), "", "")


def _finish(outcome: tuple, name: str) -> Any:
    if outcome[0] == "ok":
        return outcome[1]
    _, not_done, message = outcome
    raise (NotDoneYet if not_done else ExerciseError)(message)


def _child(read_end: int, write_end: int, body: Callable, args: tuple, name: str) -> None:  # pragma: no cover
    global _IN_CHILD
    try:
        os.close(read_end)
        _IN_CHILD = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills this child
        signal.setitimer(signal.ITIMER_REAL, 0)  # an outer timer of the parent is not ours
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)  # a thread pool inherited through fork can deadlock
        # No progress bars: a widget made here would be sent to the front end from a forked kernel, which
        # ipykernel refuses with a full-message warning per update in the Jupyter server's log.
        os.environ["NORMCOURSE_NO_PROGRESS"] = "1"
        out, err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr = out, err
        outcome = _body_outcome(body, args, name)
        try:
            payload = pickle.dumps((outcome, out.getvalue(), err.getvalue()))
        except Exception as error:  # noqa: BLE001 - an unpicklable result is a checker bug, said in one line
            payload = pickle.dumps((("hint", False, f"The check of {name} returned something it cannot send "
                                                    f"({type(error).__name__})."), out.getvalue(), ""))
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view):]
    finally:
        os._exit(0)  # no atexit handlers, no kernel cleanup: the parent owns those


def _read_until(fd: int, deadline: float) -> bytes | None:
    """Everything the child writes, or None if it does not finish before ``deadline``."""
    chunks = []
    poller = select.poll()  # not select.select(): it refuses descriptors numbered 1024 or more
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if not poller.poll(left * 1000):
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid: int) -> None:
    """Kill the child if it still runs (time limit, Ctrl-C) and collect it, so no zombie is left."""
    done, _ = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# ------------------------------------------------------------------------ behaviour, gradients, shortcuts


def _aten_targets(names: tuple[str, ...]) -> tuple[set[int], set[int]]:
    """ids of the builtins ``torch.<name>`` and of the packets ``torch.ops.aten.<name>`` for ``names``."""
    import torch

    builtins, packets = set(), set()
    for name in names:
        for owner in (torch, torch._C._VariableFunctions):
            if hasattr(owner, name):
                builtins.add(id(getattr(owner, name)))
        try:
            packets.add(id(getattr(torch.ops.aten, name)))
        except (AttributeError, RuntimeError):
            pass
    return builtins, packets


@contextlib.contextmanager
def forbidden(hint: str, functions: tuple = (), aten: tuple[str, ...] = ()) -> Iterator[None]:
    """Refuse, while the block runs, calls of ``functions`` (Python functions or builtins, found by
    identity however the learner imported them: ``from torch.nn.functional import dropout`` too) and of
    the ATen operators named in ``aten`` (``torch.<name>`` and ``torch.ops.aten.<name>``). A refused call
    raises ``ExerciseError(hint)``; if the learner's code swallows it (a bare ``except``), the block still
    ends with that error. Use it inside a :func:`run_check` body around the learner's calls only (the
    references may use torch's layers).

    It watches calls with ``sys.setprofile`` (cheap), not a ``TorchDispatchMode``: the first dispatch mode
    of a process imports sympy and dynamo, about 9 s on this machine, paid again in every check's child.
    """
    from torch._ops import OpOverload, OpOverloadPacket

    used: list[str] = []
    codes = {getattr(f, "__code__", None) for f in functions} - {None}
    builtins = {id(f) for f in functions if not hasattr(f, "__code__")}
    aten_builtins, packets = _aten_targets(aten)
    builtins |= aten_builtins
    op_calls = {OpOverloadPacket.__call__.__code__, OpOverload.__call__.__code__}

    def refuse(label: str) -> None:
        used.append(label)
        raise ExerciseError(hint)

    def profile(frame, event, arg):
        if event == "c_call" and id(arg) in builtins:
            refuse(getattr(arg, "__name__", "a refused function"))
        elif event == "call":
            if frame.f_code in codes:
                refuse(frame.f_code.co_name)
            elif frame.f_code in op_calls:
                op = frame.f_locals.get("self")
                if id(op) in packets or id(getattr(op, "overloadpacket", None)) in packets:
                    refuse(str(op))

    previous = sys.getprofile()
    try:
        sys.setprofile(profile)
        yield
    finally:
        sys.setprofile(previous)
    if used:
        raise ExerciseError(hint)


def require_close(actual: Any, expected: Any, hint: str, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Raise ``ExerciseError(hint)`` unless ``actual`` has ``expected``'s shape and values (tensors or arrays).

    A wrong type, ``None``, a wrong shape or NaN all fail with the same hint, never a traceback.
    """
    import numpy as np

    try:
        a = np.asarray(actual.detach().cpu().double() if hasattr(actual, "detach") else actual, dtype=np.float64)
        e = np.asarray(expected.detach().cpu().double() if hasattr(expected, "detach") else expected,
                       dtype=np.float64)
    except Exception:  # noqa: BLE001 - not numbers at all
        raise ExerciseError(hint) from None
    if a.shape != e.shape or not np.allclose(a, e, rtol=rtol, atol=atol):
        raise ExerciseError(hint)


def gradients(fn: Callable, inputs: list, weights: Any) -> list:
    """Gradients of ``(fn(*inputs) * weights).sum()`` with respect to every tensor in ``inputs``.

    ``inputs`` are fresh leaf tensors (``requires_grad=True`` is set here). A tensor that the output
    does not depend on through autograd (``no_grad``, ``detach``, a numpy round trip) gets ``None``;
    an output without any graph returns ``None`` for all of them.
    """
    import torch

    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return [None] * len(leaves)
    grads = torch.autograd.grad((out * weights.to(out.dtype)).sum(), leaves, allow_unused=True)
    return [None if g is None else g.detach() for g in grads]


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
