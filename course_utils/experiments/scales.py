"""Inputs on wildly different scales (notebook 01): the same model trained by gradient descent on raw
and on standardized features, learning-rate sweeps, first-layer weights, and the 2-feature loss
surface with the gradient-descent path across it.

A sweep's runs (one per learning rate) do not depend on each other: they are kept per run in this module and
the ones not trained yet are trained on every core (:func:`course_utils.experiments.runner.cached_runs`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data import Split, Standardizer
from ..models import make_mlp
from ..train import History, train
from ..validation import check_float_array, check_int, check_number, check_positive
from .runner import cached_runs

__all__ = [
    "LR_GRID",
    "SweepResult",
    "baseline_loss",
    "train_full_batch",
    "lr_sweep",
    "first_layer_weights",
    "feature_scales",
    "quadratic_loss",
    "loss_grid",
    "gradient_descent_path",
    "hessian_condition_number",
    "optimal_gd_lr",
    "standardize_two_features",
]

LR_GRID: tuple[float, ...] = tuple(float(f"{m}e{e}") for e in range(-7, 4) for m in (1, 3))
"""1e-7, 3e-7, 1e-6, ..., 1000, 3000: a log grid of learning rates, two per decade, reaching far past the
largest learning rate any of the course's models tolerates (so "largest stable" is never the grid's edge)."""


def _check_split(split) -> Split:
    if not isinstance(split, Split):
        raise TypeError(f"split must be a course_utils.data.Split (e.g. load_wine()), got {type(split).__name__}.")
    return split


def _check_hidden(hidden) -> list[int]:
    if isinstance(hidden, int) or not all(isinstance(h, int) and not isinstance(h, bool) for h in hidden):
        raise TypeError(f"hidden must be a list of layer widths such as [] or [32], got {hidden!r}.")
    return list(hidden)


def baseline_loss(split: Split) -> float:
    """Cross-entropy of the best *constant* prediction (the training class frequencies): the loss a
    model gets by ignoring its inputs. A run that ends above it has learned nothing from the features."""
    counts = np.bincount(_check_split(split).y_train, minlength=split.n_classes).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def train_full_batch(
    split: Split, hidden: list[int] | tuple[int, ...] = (), *, lr: float, steps: int = 200, seed: int = 0,
    eval_every: int | None = None,
) -> tuple[nn.Module, History]:
    """Plain gradient descent (the whole training set every step) on ``make_mlp(n_features, hidden, n_classes)``.

    ``hidden=[]`` is multinomial logistic regression. Same ``seed`` = same initial weights, so raw and
    standardized runs start from the same model.
    """
    split = _check_split(split)
    hidden = _check_hidden(hidden)
    steps = check_int("steps", steps, minimum=1)
    model = make_mlp(split.n_features, hidden, split.n_classes, seed=seed)
    history = train(model, split, steps=steps, lr=check_positive("lr", lr), batch_size=len(split.X_train),
                    eval_every=eval_every or max(1, steps // 20), seed=seed, progress=False)
    return model, history


@dataclass(frozen=True)
class SweepResult:
    """One full-batch run per learning rate.

    A run is *stable* when its loss stays finite and its final training loss is below
    ``stall_fraction * baseline`` (``baseline`` = loss of ignoring the inputs, see :func:`baseline_loss`;
    default 0.9, i.e. at least 10% better than that): above it the run has either blown up or stalled.
    (A run that collapses to predicting the class frequencies, e.g. all ReLUs dead, ends *at* the baseline.)
    """

    lrs: tuple[float, ...]
    final_loss: tuple[float, ...]
    baseline: float
    stall_fraction: float
    stable: tuple[bool, ...]

    @property
    def largest_stable_lr(self) -> float | None:
        """The largest learning rate of the sweep whose run was stable (None if none was)."""
        good = [lr for lr, ok in zip(self.lrs, self.stable, strict=True) if ok]
        return max(good) if good else None

    def final_loss_at(self, lr: float) -> float:
        lr = check_positive("lr", lr)
        for x, loss in zip(self.lrs, self.final_loss, strict=True):
            if math.isclose(x, lr, rel_tol=1e-9):
                return loss
        raise ValueError(f"lr={lr!r} was not part of the sweep; choose one of {list(self.lrs)}.")


def lr_sweep(
    split: Split,
    hidden: list[int] | tuple[int, ...] = (),
    lrs: tuple[float, ...] = LR_GRID,
    *,
    steps: int = 200,
    stall_fraction: float = 0.9,
    seed: int = 0,
) -> SweepResult:
    """Train with each learning rate in ``lrs`` (full batch, ``steps`` steps) and report which were stable.

    ``result.largest_stable_lr`` is the largest learning rate whose run neither diverged (inf/nan, or a
    final loss above where it started) nor stalled (final training loss above
    ``stall_fraction * baseline_loss(split)``). Runs are short (full batch, ~1 ms per step): no progress bar.
    The runs are independent, so those not trained yet in this kernel are trained on every core
    (:func:`_sweep_run`); the result is the same, bit for bit, as training them one after the other.
    """
    split = _check_split(split)
    hidden = tuple(_check_hidden(hidden))
    lrs = tuple(sorted(check_positive(f"lrs[{i}]", lr) for i, lr in enumerate(lrs)))
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate, e.g. (1e-3, 1e-2, 1e-1).")
    stall_fraction = check_positive("stall_fraction", stall_fraction)
    steps = check_int("steps", steps, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    baseline = baseline_loss(split)
    data = _split_digest(split)
    _SPLITS[data] = split  # where a worker process (forked from this one) finds the split its key names
    finals = tuple(cached_runs(_SWEEP_RUNS, _sweep_run, [(data, hidden, lr, steps, seed) for lr in lrs]))
    stable = tuple(bool(np.isfinite(final) and final < stall_fraction * baseline) for final in finals)
    return SweepResult(lrs, finals, baseline, stall_fraction, stable)


SweepKey = tuple  # (_split_digest(split), hidden, lr, steps, seed)
_SWEEP_RUNS: dict[SweepKey, float] = {}
"""The final training loss (inf if it diverged) of every sweep run trained in this kernel, by its key."""
_SPLITS: dict[str, Split] = {}
"""The splits the sweeps of this kernel trained on, by :func:`_split_digest` (a handful of small arrays)."""


def _split_digest(split: Split) -> str:
    """A name for ``split``'s contents (its name and a SHA-256 of every array, shape and dtype): two splits with
    the same digest hold the same numbers, so a sweep run's key can name its data with plain text."""
    digest = hashlib.sha256(repr((split.name, split.feature_names, split.target_names)).encode())
    for part in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        array = np.ascontiguousarray(getattr(split, part))
        digest.update(repr((part, array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return f"{split.name}-{digest.hexdigest()[:32]}"


def _sweep_run(key: SweepKey) -> float:
    """The final training loss (inf if it diverged) of the sweep run ``key`` names. Its random numbers come only
    from generators seeded by the key (``make_mlp(seed=)`` seeds torch's global generator: inside ``fork_rng``,
    so a run neither depends on nor disturbs what the caller drew), so it is the same run in any process."""
    data, hidden, lr, steps, seed = key
    with torch.random.fork_rng(devices=[]):
        _model, hist = train_full_batch(_SPLITS[data], list(hidden), lr=lr, steps=steps, seed=seed, eval_every=steps)
    return math.inf if hist.diverged else hist.final()["train_loss"]


def first_layer_weights(model: nn.Module) -> np.ndarray:
    """The first Linear layer's weight matrix as a numpy array, shape (out_features, in_features)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            return m.weight.detach().numpy().copy()
    raise ValueError("model has no nn.Linear layer.")


def feature_scales(split: Split) -> dict[str, np.ndarray]:
    """Per-feature typical magnitude of the *training* features: mean |x|, std, min and max."""
    X = _check_split(split).X_train.astype(np.float64)
    return {"mean_abs": np.abs(X).mean(0), "std": X.std(0), "min": X.min(0), "max": X.max(0)}


# --- the 2-feature linear regression: loss surface and gradient-descent path -------------------------


def quadratic_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean squared error / 2 of ``X @ w`` vs ``y``; ``w`` may be (2,) or a grid (..., 2)."""
    X = check_float_array("X", X, ndim=2)
    y = check_float_array("y", y, ndim=1)
    w = np.asarray(w, dtype=np.float64)
    residual = np.einsum("nd,...d->...n", X, w) - y
    return 0.5 * np.mean(residual**2, axis=-1)


def loss_grid(
    X: np.ndarray, y: np.ndarray, w1: np.ndarray, w2: np.ndarray
) -> np.ndarray:
    """The loss on the grid ``w1 x w2`` (shape (len(w2), len(w1)), ready for ``contour``).

    Uses the expansion L(w) = (w^T A w - 2 b^T w + c) / 2 with A = X^T X / n, so a 200x200 grid is instant.
    """
    X = check_float_array("X", X, ndim=2)
    y = check_float_array("y", y, ndim=1)
    n = len(X)
    A, b, c = X.T @ X / n, X.T @ y / n, float(y @ y / n)
    W1, W2 = np.meshgrid(np.asarray(w1, float), np.asarray(w2, float))
    quad = A[0, 0] * W1**2 + 2 * A[0, 1] * W1 * W2 + A[1, 1] * W2**2
    return 0.5 * (quad - 2 * (b[0] * W1 + b[1] * W2) + c)


def gradient_descent_path(
    X: np.ndarray, y: np.ndarray, *, lr: float, steps: int = 30, w0: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """Weights visited by gradient descent on :func:`quadratic_loss`: array (steps + 1, 2)."""
    X = check_float_array("X", X, ndim=2)
    y = check_float_array("y", y, ndim=1)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 features (columns) for a drawable loss surface, got {X.shape[1]}.")
    lr = check_positive("lr", lr)
    steps = check_int("steps", steps, minimum=1)
    w = np.array([check_number("w0[0]", w0[0]), check_number("w0[1]", w0[1])])
    path = [w.copy()]
    for _ in range(steps):
        w = w - lr * X.T @ (X @ w - y) / len(X)
        path.append(w.copy())
    return np.array(path)


def _check_design(name: str, X) -> np.ndarray:
    X = check_float_array(name, X, ndim=2)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one feature, got shape {X.shape}.")
    return X


def hessian_condition_number(X: np.ndarray) -> float:
    """Largest / smallest eigenvalue of X^T X / n: how elongated the squared-error valley is.

    Gradient descent is stable only for ``lr < 2 / largest``, and then needs ~``condition number`` steps
    to crawl along the flattest direction.
    """
    X = _check_design("X", X)
    eig = np.linalg.eigvalsh(X.T.astype(np.float64) @ X / len(X))
    return float(eig[-1] / eig[0]) if eig[0] > 0 else math.inf


def optimal_gd_lr(X: np.ndarray) -> float:
    """``2 / (lambda_max + lambda_min)``: the best single learning rate for gradient descent on the squared
    error. The error then shrinks by ``(kappa - 1) / (kappa + 1)`` per step (kappa = condition number):
    elongated valleys (large kappa) are slow even at the best learning rate."""
    X = _check_design("X", X)
    eig = np.linalg.eigvalsh(X.T.astype(np.float64) @ X / len(X))
    return float(2.0 / (eig[-1] + eig[0]))


def standardize_two_features(X: np.ndarray, train_rows: int | None = None) -> np.ndarray:
    """Standardize with the statistics of the first ``train_rows`` rows (all rows if None)."""
    X = check_float_array("X", X, ndim=2)
    rows = len(X) if train_rows is None else check_int("train_rows", train_rows, minimum=2, maximum=len(X))
    return Standardizer().fit(X[:rows]).transform(X)
