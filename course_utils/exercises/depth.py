"""Checks for notebook 01's exercises (input scales, depth and initialization)."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable

import numpy as np

from ..data import Standardizer, load_wine
from ..experiments.depth import depth_statistics
from ..experiments.scales import LR_GRID, lr_sweep, train_full_batch
from . import ExerciseError, call_learner, deliver_check, ok, require, run_check, run_checks_at_once

__all__ = [
    "check_standardize", "check_saturating_init", "check_largest_stable_lr", "check_activation_hook", "SWEEP_HIDDEN",
]

SWEEP_HIDDEN = [32]
"""The small MLP of the learning-rate exercise: ``make_mlp(13, [32], 3)``."""


def check_standardize(standardize: Callable) -> None:
    """Exercise: ``standardize(X_train, X_other) -> (X_train_std, X_other_std)`` using the *training*
    mean and std (population std, ``ddof=0``) for both."""
    ok(run_check(_check_standardize_body, standardize, name="standardize"))


def _check_standardize_body(standardize: Callable) -> str:
    message = _check_standardize_once(standardize, 1, 50, 20, 3)
    _check_standardize_once(standardize, 2, 30, 1, 5)  # other sizes: one row to transform, five features
    return message


def _check_standardize_once(standardize: Callable, seed: int, n_train: int, n_other: int, d: int) -> str:
    rng = np.random.default_rng(seed)
    loc, scale = rng.normal(0, 500, size=d), rng.uniform(0.1, 300, size=d)
    if seed == 1:
        loc, scale = [1000.0, 1.0, -5.0], [300.0, 0.2, 3.0]
    X_train = rng.normal(loc=loc, scale=scale, size=(n_train, d))
    X_other = rng.normal(loc=np.asarray(loc) * 1.1 + 0.5, scale=np.asarray(scale) * 0.7, size=(n_other, d))
    result = call_learner(standardize, X_train, X_other, name="standardize")
    require(isinstance(result, tuple) and len(result) == 2,
            "Return a pair: (X_train_standardized, X_other_standardized).")
    try:
        train_std, other_std = (np.asarray(r, dtype=float) for r in result)
    except (TypeError, ValueError):
        raise ExerciseError("Return two numeric arrays: (X_train_standardized, X_other_standardized).") from None
    require(train_std.shape == X_train.shape and other_std.shape == X_other.shape,
            "Keep the shapes: one row per example, one column per feature.")
    require(bool(np.all(np.isfinite(train_std)) and np.all(np.isfinite(other_std))),
            "The result contains NaN or inf: divide by the training std (per feature, axis=0).")
    scaler = Standardizer().fit(X_train)
    expected_train, expected_other = scaler.transform(X_train), scaler.transform(X_other)
    if np.allclose(train_std, expected_train, atol=1e-4) and np.allclose(other_std, expected_other, atol=1e-4):
        return "training statistics only, applied to both parts."
    pooled = np.vstack([X_train, X_other])
    mean_p, std_p = pooled.mean(0), pooled.std(0)
    if np.allclose(train_std, (X_train - mean_p) / std_p, atol=1e-4):
        raise ExerciseError("The statistics come from X_train and X_other pooled together: that leaks the "
                            "validation/test rows into training. Compute mean and std on X_train only.")
    if len(X_other) > 1 and np.allclose(other_std, (X_other - X_other.mean(0)) / X_other.std(0), atol=1e-4):
        raise ExerciseError("X_other was standardized with its own mean/std: use the *training* statistics for it "
                            "too (statistics of validation/test data leak information about those rows).")
    mean_t = X_train.mean(0)
    if np.allclose(train_std, (X_train - mean_t) / X_train.std(0, ddof=1), atol=1e-4):
        raise ExerciseError("You divided by the sample std (ddof=1). That is not wrong statistics, but the course "
                            "(and sklearn's StandardScaler, and the normalization layers) use the population std, "
                            "ddof=0 (numpy's default).")
    require(np.allclose(train_std.mean(0), 0, atol=1e-6),
            "Each training column should have mean 0: subtract the training mean of each feature (column).")
    require(np.allclose(train_std.std(0), 1, atol=1e-3),
            "Each training column should have std 1: divide by the training std of each feature (column).")
    raise ExerciseError("Close, but the numbers differ from (X - mean_train) / std_train.")


def check_saturating_init(prediction: str | Callable, depth: int = 10) -> None:
    """Exercise: which init scheme ('small', 'large', 'xavier', 'kaiming') saturates a deep tanh net most?

    ``prediction`` is the answer, or the learner's function ``predict_most_saturating()`` returning it.
    """
    options = ("small", "large", "xavier", "kaiming")
    if callable(prediction):
        prediction = run_check(call_learner, prediction, name="predict_most_saturating")
    require(isinstance(prediction, str) and prediction in options,
            f"Answer with one of {', '.join(map(repr, options))}; got {prediction!r}.")
    measured = {name: float(np.mean(depth_statistics(depth, "tanh", name).saturated)) for name in options}
    answer = max(measured, key=measured.get)
    table = ", ".join(f"{name} {100 * value:.0f}%" for name, value in measured.items())
    require(prediction == answer,
            f"Not the one that saturates most. Hint: a unit saturates when |z| is large; the std of z is about "
            "sqrt(fan-in) x the weight std x the std of the layer's input. Compute it for each scheme (fan-in "
            f"{256}).")
    ok(f"'{answer}' saturates most ({table}): its pre-activations are far larger than 1, so |tanh| sits near 1.")


@functools.lru_cache(maxsize=2)
def _raw_sweep(hidden: tuple[int, ...]):
    return lr_sweep(load_wine(), list(hidden), LR_GRID)


def check_largest_stable_lr(lr: float | Callable, hidden: list[int] | tuple[int, ...] = tuple(SWEEP_HIDDEN)) -> None:
    """Exercise: the largest learning rate in ``LR_GRID`` at which ``make_mlp(13, hidden, 3)`` trains
    stably on *raw* wine features (see ``lr_sweep``).

    ``lr`` is the answer, or the learner's function ``largest_stable_lr(raw) -> lr`` (called on the raw
    wine split, with a time limit of a minute: it trains up to one model per grid value).
    """
    sweep = _raw_sweep(tuple(hidden))
    if callable(lr):
        # The learner's loop on the raw split (watched) and on the scrambled-validation twin, at once (two
        # processes); the twin's answer, and what that call printed, only count if the first answer is right.
        name = "largest_stable_lr"
        answer, twin = run_checks_at_once([(_run_largest_stable_lr, (lr, tuple(hidden))), (_run_on_twin, (lr,))],
                                          name=name, time_limit=120)
        lr = deliver_check(answer, name)
        if lr == sweep.largest_stable_lr:
            require(deliver_check(twin, name) == lr,
                    "Your answer depends on the validation data: the exercise judges a run by its final "
                    "*training* loss against baseline_loss(raw).")
    require(isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0,
            f"Answer with a positive learning rate (a number from LR_GRID), got {lr!r}.")
    best = sweep.largest_stable_lr
    require(best is not None, "No learning rate in the grid trains this model on raw features stably.")
    require(not lr > best * 1.01,
            f"At lr={lr:g} the run on raw features diverges or stalls (final loss "
            f"{_loss_text(sweep, lr)}). Try smaller learning rates.")
    require(not lr < best * 0.99,
            f"lr={lr:g} is stable, but a larger learning rate from the grid is stable too. Try larger ones.")
    ok(f"lr={best:g} is the largest stable learning rate on raw features (final loss "
       f"{sweep.final_loss_at(best):.3f}, baseline {sweep.baseline:.3f}).")


def _scrambled_validation(split):
    """The same training data with a validation part that carries no signal: an answer read from the
    validation loss changes on it, one read from the training loss (as the exercise asks) does not."""
    rng = np.random.default_rng(0)
    return dataclasses.replace(split, X_val=rng.permutation(split.X_val, axis=0), y_val=rng.permutation(split.y_val))


def _run_largest_stable_lr(fn: Callable, hidden: tuple[int, ...]):
    """Run the learner's loop on the raw split, watching its calls of train_full_batch (however it was
    imported): all runs must be the exercise's (hidden, 200 steps)."""
    runs: list[dict] = []
    code = train_full_batch.__code__

    def watch(frame, event, _arg):
        if event == "call" and frame.f_code is code:
            runs.append(dict(frame.f_locals))

    raw = load_wine()
    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        answer = call_learner(fn, raw, name="largest_stable_lr")
    finally:
        sys.setprofile(previous)
    require(runs, "Train with train_full_batch(raw, hidden, lr=...) for each learning rate of LR_GRID.")
    for run in runs:
        require(list(run.get("hidden", ())) == list(hidden),
                f"Train the exercise's model: hidden layers {list(hidden)}, got {list(run.get('hidden', ()))}.")
        require(run.get("steps") == 200 and run.get("seed", 0) == 0,
                "Keep train_full_batch's 200 steps (and its default seed): the exercise's runs are 200 steps long.")
    return answer


def _run_on_twin(fn: Callable):
    """The learner's answer on a twin of the raw split whose validation part carries no signal: an answer read
    from the training loss (as the exercise asks) is the same there."""
    return call_learner(fn, _scrambled_validation(load_wine()), name="largest_stable_lr")


def _loss_text(sweep, lr: float) -> str:
    try:
        return f"{sweep.final_loss_at(lr):.3g}"
    except ValueError:
        return "not in the sweep's grid"


def _watch_hook_returns(model) -> list[bool]:
    """Wrap ``register_forward_hook`` of every module so the check learns whether a hook returned a value
    (which replaces the module's output); returns the list it fills."""
    returned: list[bool] = []
    for module in model.modules():
        original = module.register_forward_hook

        def register(hook, *args, _original=original, **kwargs):
            def watched(*hook_args, **hook_kwargs):
                result = hook(*hook_args, **hook_kwargs)
                returned.append(result is not None)
                return result

            return _original(watched, *args, **kwargs)

        module.register_forward_hook = register
    return returned


def _expected_stats(model, X):
    import torch
    from torch import nn

    with torch.no_grad():
        expected, linear_outputs, h = [], [], X
        for module in model:
            inp, h = h, module(h)
            if isinstance(module, nn.ReLU):
                expected.append((float(h.mean()), float(h.std())))
                linear_outputs.append((float(inp.mean()), float(inp.std())))
        return model(X), expected, linear_outputs


def _check_hook_once(record_activation_stats: Callable, hidden: list[int], activation: str, seed: int) -> None:
    import torch

    from ..models import make_mlp

    model = make_mlp(16, hidden, 4, seed=seed, activation=activation)
    X = torch.randn(64, 16, generator=torch.Generator().manual_seed(seed))
    expected_out, expected, linear_outputs = _expected_stats(make_mlp(16, hidden, 4, seed=seed, activation=activation),
                                                             X)
    returned = _watch_hook_returns(model)
    result = call_learner(record_activation_stats, model, X, name="record_activation_stats", copy_inputs=False)
    leftover = sum(len(m._forward_hooks) for m in model.modules())
    require(leftover == 0, f"{leftover} forward hook(s) are still attached after your function returned: keep the "
                           "handle that registering returns and remove it when done (also if an error happens).")
    with torch.no_grad():
        require(torch.equal(model(X), expected_out),
                "The model computes something else after your function ran: a hook must only look, not change "
                "the output or the weights.")
    require(isinstance(result, list | tuple), f"Return a list of (mean, std) pairs, got {type(result).__name__}.")
    try:
        pairs = [(float(m), float(s)) for m, s in result]
    except (TypeError, ValueError):
        raise ExerciseError("Return a list with one (mean, std) pair of numbers per ReLU layer.") from None
    require(len(pairs) == len(expected),
            f"Expected one (mean, std) pair per ReLU layer ({len(expected)} of them in a model with {len(hidden)} "
            f"hidden layers), got {len(pairs)}. Hook every nn.ReLU module, and only those.")
    if expected and np.allclose(pairs, linear_outputs, rtol=1e-4, atol=1e-6):
        raise ExerciseError("These are the statistics of the ReLU's input (the Linear layer's output): record the "
                            "hook's output argument, not its inputs.")
    if any(returned) and not np.allclose(pairs, expected, rtol=1e-3, atol=1e-6):
        raise ExerciseError("Your hook returns a value, and a hook's return value replaces the layer's output for "
                            "the layers after it. Return nothing from the hook, so that it only looks.")
    if not np.allclose(pairs, expected, rtol=1e-3, atol=1e-6):
        raise ExerciseError("The numbers differ from the mean and std of each ReLU's output for this batch: "
                            "compute them inside the hook, over the whole output tensor, once per layer.")


def _check_activation_hook_body(record_activation_stats: Callable) -> str:
    _check_hook_once(record_activation_stats, [32, 32, 32], "relu", 0)
    _check_hook_once(record_activation_stats, [8, 12], "relu", 1)
    _check_hook_once(record_activation_stats, [10], "relu", 2)
    return "one (mean, std) per ReLU, recorded by forward hooks that are gone afterwards."


def check_activation_hook(record_activation_stats: Callable) -> None:
    """Exercise: ``record_activation_stats(model, X) -> list of (mean, std)``, one pair per ``nn.ReLU``
    of ``model`` in order, recorded by forward hooks that are removed afterwards. Tried on MLPs of 1 to 3
    hidden layers."""
    ok(run_check(_check_activation_hook_body, record_activation_stats, name="record_activation_stats"))
