"""Results kept on disk across kernels, for a grader running thirty copies of one lesson.

A lesson's experiments are pure functions of their arguments (every random number comes from generators seeded
by them, ``course_utils.env``), so thirty learners' copies of notebook 03 train the very same runs thirty times.
When ``NORMCOURSE_RUN_CACHE`` names a folder, :func:`persistent` functions keep each result there, keyed by the
function, its arguments, the seed offset and the source of the function's module: the first kernel computes a
run, the others load it. ``tools/grade.py`` sets the variable for its kernels (a fresh folder per batch, deleted
afterwards); a learner's kernel never has it, so a learner always computes everything.

What is not cached, and runs as always: a call with an argument that is not plain data (a model, a tensor,
a function: its ``repr`` would not say what it holds), and a result that cannot be pickled. A file that cannot
be read (a half-written or damaged one) is recomputed and rewritten. Files are written whole (to a temporary
name, then renamed), so two kernels computing the same run at once both succeed.

Why not ``joblib.Memory``: it is not among the course's pinned packages, and hashing tensors or models it would
cache calls this module refuses on purpose.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

CACHE_VAR = "NORMCOURSE_RUN_CACHE"

F = TypeVar("F", bound=Callable[..., Any])

_PLAIN = (int, float, str, bool, type(None))


def cache_folder() -> Path | None:
    """The folder ``NORMCOURSE_RUN_CACHE`` names, or None (the default: nothing is kept on disk)."""
    raw = os.environ.get(CACHE_VAR, "").strip()
    return Path(raw) if raw else None


def is_plain(value: Any) -> bool:
    """Whether ``value`` is plain data whose ``repr`` says everything it holds (numbers, strings, None, and
    tuples, lists, dicts or frozen dataclasses of them): only such arguments key a cached result."""
    if isinstance(value, _PLAIN):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.__dataclass_params__.frozen and all(
            is_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple | list | frozenset):
        return all(is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(is_plain(k) and is_plain(v) for k, v in value.items())
    return False


@functools.cache
def _module_digest(module: str) -> str:
    import sys

    path = getattr(sys.modules.get(module), "__file__", None)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""


def cache_key(fn: Callable, args: tuple, kwargs: dict) -> str:
    """The file name of ``fn(*args, **kwargs)``'s result: its name and a hash of the function, the arguments,
    the seed offset and the source of its module."""
    from .env import seed_offset

    identity = (fn.__module__, fn.__qualname__, repr(args), repr(sorted(kwargs.items())), seed_offset(),
                _module_digest(fn.__module__))  # fmt: skip
    return f"{fn.__qualname__}-{hashlib.sha256(repr(identity).encode()).hexdigest()[:24]}.pkl"


def _cache_path(fn: Callable, args: tuple, kwargs: dict) -> Path | None:
    folder = cache_folder()
    if folder is None or not (is_plain(args) and is_plain(kwargs)):
        return None
    return folder / cache_key(fn, args, kwargs)


_MISSING = object()


def _read(path: Path | None) -> Any:
    """The result kept at ``path``, or ``_MISSING``; a damaged file is deleted (and so recomputed)."""
    if path is None:
        return _MISSING
    try:
        return pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return _MISSING
    except Exception:  # noqa: BLE001 - a damaged file is recomputed, whatever unpickling raised
        path.unlink(missing_ok=True)
        return _MISSING


def _write(path: Path | None, result: Any) -> None:
    if path is None:
        return
    try:
        data = pickle.dumps(result)
    except Exception:  # noqa: BLE001 - not picklable (a closure, say): returned, not kept
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    scratch.write_bytes(data)
    os.replace(scratch, path)


def load_or_compute(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)``, read from the cache folder when it is there (see the module docstring)."""
    path = _cache_path(fn, args, kwargs)
    result = _read(path)
    if result is _MISSING:
        result = fn(*args, **kwargs)
        _write(path, result)
    return result


def kept(fn: Callable, key: Any) -> tuple[bool, Any]:
    """``(True, fn(key))`` if the cache folder already holds it, else ``(False, None)`` (nothing computed)."""
    result = _read(_cache_path(fn, (key,), {}))
    return (False, None) if result is _MISSING else (True, result)


def compute_and_keep(fn: Callable, key: Any) -> Any:
    """``fn(key)``, computed and kept in the cache folder (when one is set): for worker processes."""
    result = fn(key)
    _write(_cache_path(fn, (key,), {}), result)
    return result


def persistent(fn: F) -> F:
    """Keep ``fn``'s results in ``NORMCOURSE_RUN_CACHE`` when it is set (otherwise ``fn`` runs as it is).
    Put it under ``functools.lru_cache``, so a kernel still gets the very same object on a second call."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return load_or_compute(fn, args, kwargs)

    return wrapper  # type: ignore[return-value]


__all__ = ["CACHE_VAR", "cache_folder", "cache_key", "is_plain", "load_or_compute", "kept", "compute_and_keep",
           "persistent"]
