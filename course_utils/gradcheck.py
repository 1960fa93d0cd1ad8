r"""Numerical gradient checking, as in cs231n.

A hand-derived backward pass is checked by comparing it with central finite differences

.. math::
    \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

using the relative error ``max |a - n| / max(1e-8, |a| + |n|)`` (elementwise, then the worst element).
Rules of thumb from the cs231n notes, for float64 inputs and h around 1e-5:

* rel error > 1e-2: the gradient is almost certainly wrong (a missing or wrong term);
* 1e-2 > rel error > 1e-4: suspicious;
* 1e-4 > rel error > 1e-7: acceptable only for functions with kinks (ReLU, max);
* rel error < 1e-7: great, the analytic gradient is right.

Always check in float64: float32 rounding (about 1e-7 relative) divided by 2h = 2e-5 already gives
errors around 1e-2, which would hide real bugs and flag correct code.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .validation import check_float_array, check_number

__all__ = ["GradientCheckError", "rel_error", "numeric_gradient", "check_gradient"]


class GradientCheckError(AssertionError):
    """Raised by :func:`check_gradient` when the analytic and numeric gradients disagree."""


def rel_error(x: Any, y: Any) -> float:
    """Worst-case relative error between two arrays (or numbers): max |x - y| / max(1e-8, |x| + |y|).

    The relative (not absolute) error makes the check independent of the gradient's scale; the 1e-8
    floor stops elements that are both (almost) zero from producing a huge ratio.
    """
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, np.ndarray | float | int | np.number) or isinstance(value, bool):
            raise TypeError(f"{name} must be a numpy array or a number, got {type(value).__name__}.")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got x {x.shape} and y {y.shape}.")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numeric_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, dout: np.ndarray | None = None, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of ``f`` at ``x``, one element of ``x`` at a time.

    Args:
        f: function of ``x`` returning a number or an array. It is called 2 * x.size times.
        x: the point (float array, preferably float64). It is perturbed **in place** and restored after
            every evaluation (also if ``f`` raises), so ``f`` may close over the same array.
        dout: upstream gradient with the shape of ``f(x)``. Given, the result is the gradient of
            ``sum(f(x) * dout)``, i.e. what a backward pass receiving ``dout`` must return. Omitted, it is
            the gradient of ``f(x)`` for a scalar ``f`` (of ``sum(f(x))`` for an array-valued ``f``).
        h: step size; 1e-5 balances truncation error (large h) against rounding error (small h).

    Returns:
        array shaped like ``x`` (float64).
    """
    x, dout, h = _check_arguments(f, x, dout, h)
    weighted_output = _reduced(f, x, dout)  # sum(f(x) * dout) as a float, naming f's mistakes
    grad = np.zeros(x.shape, dtype=np.float64)
    with _restored_on_error(x):
        for index in np.ndindex(*x.shape):
            old = x[index]
            x[index] = old + h
            plus = weighted_output()
            x[index] = old - h
            minus = weighted_output()
            x[index] = old
            _check_finite(plus, minus, index)
            grad[index] = (plus - minus) / (2 * h)
    return grad


# ------------------------------------------------------------- numeric_gradient's checks, out of its way


def _check_arguments(f, x, dout, h) -> tuple[np.ndarray, np.ndarray | None, float]:
    if not callable(f):
        raise TypeError(f"f must be a callable taking x, got {type(f).__name__}.")
    x = check_float_array("x", x)
    if x.dtype != np.float64:
        warnings.warn(
            f"x has dtype {x.dtype}: numerical gradients are only reliable in float64. "
            "Use x.astype(np.float64) (and float64 parameters).",
            stacklevel=3,
        )
    if dout is not None:
        dout = check_float_array("dout", dout)
    h = check_number("h", h)
    if h <= 0:
        raise ValueError(f"h must be > 0, got {h!r}. Typical values are 1e-4 to 1e-6.")
    return x, dout, h


def _reduced(f, x: np.ndarray, dout: np.ndarray | None) -> Callable[[], float]:
    """``f(x)`` reduced to one number (``sum(f(x) * dout)``, or ``sum(f(x))``), refusing what would make the
    numerical gradient wrong: an f that changes x, returns nothing or returns something not numeric."""

    def weighted_output() -> float:
        # Reduced to a number right away, before x is perturbed again: f may return x itself or a view.
        expected = x.copy()
        result = f(x)
        if not np.array_equal(x, expected, equal_nan=True):
            raise ValueError(
                "f changed x in place, which corrupts the numerical gradient (and your x): f must leave its "
                "input unchanged. Work on a copy inside f, e.g. x = x.copy(), or use out = x * 2 instead of x *= 2."
            )
        if result is None:
            raise TypeError(
                "f returned None: f must return the output of the function (a number or an array). "
                "Did you forget a `return` (e.g. lambda x: layer_forward(x, ...)[0])?"
            )
        try:
            out = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"f must return a number or a numeric array, got {type(result).__name__}. If f returns "
                "(out, cache), pick the output: lambda x: forward(x, ...)[0]."
            ) from err
        if dout is None:
            return float(out.sum())
        if out.shape != dout.shape:
            raise ValueError(f"dout must have the shape of f(x), {out.shape}, got {dout.shape}.")
        return float((out * dout).sum())

    return weighted_output


@contextlib.contextmanager
def _restored_on_error(x: np.ndarray) -> Iterator[None]:
    # Whatever f did to x (an in-place change included), the caller gets x back unchanged.
    original = x.copy()
    try:
        yield
    except BaseException:
        x[...] = original
        raise


def _check_finite(plus: float, minus: float, index: tuple) -> None:
    if not (np.isfinite(plus) and np.isfinite(minus)):
        raise ValueError(
            f"f returned NaN or inf near x{tuple(int(i) for i in index)} (x +- h): the numerical gradient is "
            "undefined there. Check f at this x, or use a smaller h or a less extreme x."
        )


def check_gradient(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    analytic: np.ndarray,
    dout: np.ndarray | None = None,
    *,
    h: float = 1e-5,
    tol: float = 1e-7,
    name: str = "x",
) -> float:
    """Compare an analytic gradient with :func:`numeric_gradient`; return the relative error.

    Raises :class:`GradientCheckError` (an ``AssertionError``, so it reads well in tests) if the
    relative error exceeds ``tol``, with a message showing the worst element. The default ``tol=1e-7``
    is the cs231n "great" threshold for float64; smooth layers like BatchNorm usually reach 1e-9 or less.

    Example::

        out, cache = batchnorm_forward(x, gamma, beta, rm, rv)
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        check_gradient(lambda x: batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy())[0], x, dx, dout)
    """
    x = check_float_array("x", x)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (used in the message), got {type(name).__name__}.")
    tol = check_number("tol", tol)
    if tol <= 0:
        raise ValueError(f"tol must be > 0, got {tol!r}. cs231n: < 1e-7 is great, > 1e-2 is a bug.")
    analytic = check_float_array("analytic", analytic)
    if analytic.shape != x.shape:
        raise ValueError(f"analytic must have the shape of x, {x.shape}, got {analytic.shape}.")
    numeric = numeric_gradient(f, x, dout, h)
    error = rel_error(analytic, numeric)
    if not error <= tol:  # "not <=" so that a NaN error fails too
        ratios = np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
        worst = np.unravel_index(np.nanargmax(np.where(np.isnan(ratios), np.inf, ratios)), x.shape)
        # "not <=" so that a NaN error (a NaN in the analytic gradient) is called wrong too.
        verdict = "the backward pass is almost certainly wrong" if not error <= 1e-2 else "suspicious"
        raise GradientCheckError(
            f"gradient check for {name} failed: relative error {error:.3g} > tol {tol:.1g} ({verdict}). "
            f"Worst element {tuple(int(i) for i in worst)}: analytic {analytic[worst]:.6g}, "
            f"numeric {numeric[worst]:.6g}."
        )
    return error
