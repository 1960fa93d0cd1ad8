"""Checks for notebook 01's exercises (input scales, depth and initialization)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..data import Standardizer, load_wine
from ..experiments.depth import depth_statistics
from ..experiments.scales import LR_GRID, lr_sweep
from . import ExerciseError, ok, require

__all__ = ["check_standardize", "check_saturating_init", "check_largest_stable_lr", "SWEEP_HIDDEN"]

SWEEP_HIDDEN = [32]
"""The small MLP of the learning-rate exercise: ``make_mlp(13, [32], 3)``."""


def check_standardize(standardize: Callable) -> None:
    """Exercise: ``standardize(X_train, X_other) -> (X_train_std, X_other_std)`` using the *training*
    mean and std for both."""
    require(callable(standardize), "Pass the function itself: check_standardize(standardize), without ().")
    rng = np.random.default_rng(1)
    X_train = rng.normal(loc=[1000.0, 1.0, -5.0], scale=[300.0, 0.2, 3.0], size=(50, 3))
    X_other = rng.normal(loc=[1100.0, 1.5, -4.0], scale=[200.0, 0.4, 1.0], size=(20, 3))
    try:
        result = standardize(X_train.copy(), X_other.copy())
    except Exception as err:  # the learner's code failed: say so as a hint, keep the cause
        raise ExerciseError(f"standardize(X_train, X_other) raised {type(err).__name__}: {err}") from err
    require(isinstance(result, tuple) and len(result) == 2,
            "Return a pair: (X_train_standardized, X_other_standardized).")
    train_std, other_std = (np.asarray(r, dtype=float) for r in result)
    require(train_std.shape == X_train.shape and other_std.shape == X_other.shape,
            "Keep the shapes: one row per example, one column per feature.")
    scaler = Standardizer().fit(X_train)
    expected_train, expected_other = scaler.transform(X_train), scaler.transform(X_other)
    require(np.allclose(train_std.mean(0), 0, atol=1e-6),
            "Each training column should have mean 0: subtract X_train.mean(axis=0) (per feature, axis=0).")
    require(np.allclose(train_std.std(0), 1, atol=1e-3),
            "Each training column should have std 1: divide by X_train.std(axis=0) (per feature, axis=0).")
    leaked = np.allclose(other_std.mean(0), 0, atol=1e-6)
    require(not leaked,
            "X_other was standardized with its own mean/std: use the *training* statistics for it too "
            "(computing them on validation/test data leaks information about those rows into training).")
    require(np.allclose(train_std, expected_train, atol=1e-4) and np.allclose(other_std, expected_other, atol=1e-4),
            "Close, but the numbers differ from (X - mean_train) / std_train.")
    ok("training statistics only, applied to both parts.")


def check_saturating_init(prediction: str, depth: int = 10) -> None:
    """Exercise: which init scheme ('small', 'large', 'xavier', 'kaiming') saturates a deep tanh net most?"""
    options = ("small", "large", "xavier", "kaiming")
    require(prediction in options, f"Answer with one of {', '.join(map(repr, options))}; got {prediction!r}.")
    measured = {name: float(np.mean(depth_statistics(depth, "tanh", name).saturated)) for name in options}
    answer = max(measured, key=measured.get)
    table = ", ".join(f"{name} {100 * value:.0f}%" for name, value in measured.items())
    require(prediction == answer,
            f"Measured mean saturation per init: {table}. Hint: a unit saturates when |z| is large, i.e. when "
            "the weights are too big for the fan-in.")
    ok(f"'{answer}' saturates most ({table}): its pre-activations are far larger than 1, so |tanh| sits near 1.")


@functools.lru_cache(maxsize=2)
def _raw_sweep(hidden: tuple[int, ...]):
    return lr_sweep(load_wine(), list(hidden), LR_GRID)


def check_largest_stable_lr(lr: float, hidden: list[int] | tuple[int, ...] = tuple(SWEEP_HIDDEN)) -> None:
    """Exercise: the largest learning rate in ``LR_GRID`` at which ``make_mlp(13, hidden, 3)`` trains
    stably on *raw* wine features (see ``lr_sweep``)."""
    require(isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0,
            f"Answer with a positive learning rate (a number from LR_GRID), got {lr!r}.")
    sweep = _raw_sweep(tuple(hidden))
    best = sweep.largest_stable_lr
    require(best is not None, "No learning rate in the grid trains this model on raw features stably.")
    require(not lr > best * 1.01,
            f"At lr={lr:g} the run on raw features diverges or stalls (final loss "
            f"{_loss_text(sweep, lr)}). Try smaller learning rates.")
    require(not lr < best * 0.99,
            f"lr={lr:g} is stable, but a larger learning rate from the grid is stable too. Try larger ones.")
    ok(f"lr={best:g} is the largest stable learning rate on raw features (final loss "
       f"{sweep.final_loss_at(best):.3f}, baseline {sweep.baseline:.3f}).")


def _loss_text(sweep, lr: float) -> str:
    try:
        return f"{sweep.final_loss_at(lr):.3g}"
    except ValueError:
        return "not in the sweep's grid"
