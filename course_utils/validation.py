"""Argument checks shared by every public function of the course.

Each check raises a ``TypeError`` or ``ValueError`` that names the argument and says how to fix it,
so a learner never meets a bare traceback from deep inside numpy, torch or matplotlib.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def _is_real_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``TypeError`` if it is not a real number."""
    if not _is_real_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return value


def check_probability(name: str, value: Any, *, allow_one: bool = False) -> float:
    """Check a drop probability: a number in [0, 1) (or [0, 1] with ``allow_one``)."""
    value = check_number(name, value)
    upper_ok = value <= 1 if allow_one else value < 1
    if value < 0 or not upper_ok:
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(
            f"{name} must be in {interval}, got {value!r}. It is the probability of *dropping* a unit "
            "(torch's convention); a keep probability q corresponds to p = 1 - q."
        )
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Check a number that must be > 0 (or >= 0 with ``allow_zero``)."""
    value = check_number(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}.")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check an integer (bool and float are refused) within optional inclusive bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Check a flag: True or False (numpy bools too); 0, 1 and strings are refused."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}.")
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}.")
    return value


def check_float_array(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Check a numpy array of floating dtype (integer arrays are refused: they would round silently)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}. Wrap it: np.asarray(...).")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(
            f"{name} must have a floating dtype, got {value.dtype}. Convert it first: {name}.astype(np.float64)."
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if value.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {value.shape}.")
    return value


def check_shape(name: str, value: np.ndarray, expected: tuple[int, ...]) -> np.ndarray:
    """Check that an array has exactly the ``expected`` shape."""
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(value.shape)}.")
    return value
