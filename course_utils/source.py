"""Show the real code of a course function in a notebook, so the lesson's mechanism is in view.

``show_code(fn)`` displays ``fn``'s source as highlighted code. nbval compares the displayed text with the
committed output, so the notebook proves that the code the learner reads is the code that runs.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any


def source_of(obj: Any, *, start: str | None = None, end: str | None = None) -> str:
    """The source of a function, class or method, optionally only the lines from ``start`` to ``end``
    (the first lines containing these strings, both included), dedented."""
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        raise TypeError(f"obj must be a function, method or class (to show its source), got {type(obj).__name__}.")
    lines = inspect.getsource(obj).splitlines()
    first = _index(lines, start, "start", 0) if start else 0
    last = _index(lines, end, "end", first) if end else len(lines) - 1
    return textwrap.dedent("\n".join(lines[first : last + 1]))


def _index(lines: list[str], needle: str, name: str, after: int) -> int:
    for i in range(after, len(lines)):
        if needle in lines[i]:
            return i
    raise ValueError(f"{name}={needle!r} does not occur in the source; pass a string from one of its lines.")


def show_code(obj: Any, *, start: str | None = None, end: str | None = None) -> None:
    """Display the (partial) source of ``obj`` with syntax highlighting (see :func:`source_of`)."""
    from IPython.display import Code, display

    display(Code(source_of(obj, start=start, end=end), language="python"))
