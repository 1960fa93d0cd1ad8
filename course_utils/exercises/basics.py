"""Checks for notebook 00's exercises: standardize a feature, the parameters of a small MLP, reproducible runs.

Nothing here needs material from later notebooks (no BatchNorm buffers before 03).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data import load_digits
from ..models import make_mlp
from ..train import train
from . import ExerciseError, call_learner, ok, require, run_check

__all__ = ["check_standardize_feature", "check_mlp_parameters", "check_seeded_run", "RUN_STEPS"]


def _reference_standardize(x: np.ndarray, eps: float) -> np.ndarray:
    return (x - x.mean()) / np.sqrt(x.var() + eps)


def check_standardize_feature(standardize: Callable) -> None:
    """Exercise 0.1: ``standardize(x, eps) -> (x - mean) / sqrt(var + eps)`` for a 1-D array ``x``
    (population variance, ``eps`` inside the square root), tried with several eps, a single value and
    float32."""
    ok(run_check(_check_standardize_feature_body, standardize, name="standardize"))


def _check_standardize_feature_body(standardize: Callable) -> str:
    rng = np.random.default_rng(3)
    cases = [
        (rng.normal(50.0, 10.0, size=200), 1e-5, "a feature with mean 50 and std 10"),
        (rng.normal(-3.0, 0.004, size=200), 1e-5, "a feature with a tiny spread (std 0.004)"),
        (rng.normal(2.0, 1.0, size=5), 1e-5, "a feature with only 5 values"),
        (np.full(10, 7.0), 1e-5, "a constant feature"),
        (rng.normal(1.0, 0.5, size=50), 0.5, "eps=0.5 (use the eps you are given)"),
        (rng.normal(0.0, 0.01, size=30), 1e-3, "eps=0.001 and a small spread (use the eps you are given)"),
        (np.array([4.0]), 1e-5, "a single value"),
        (rng.normal(5.0, 2.0, size=100).astype(np.float32), 1e-5, "a float32 feature"),
    ]
    for x, eps, what in cases:
        out = call_learner(standardize, x, eps, name="standardize")
        require(out is not None, "standardize returned None: return the standardized array.")
        require(isinstance(out, np.ndarray), f"standardize must return a numpy array, got {type(out).__name__}.")
        require(np.issubdtype(out.dtype, np.floating), f"standardize must return floats, got {out.dtype}.")
        x = x.astype(np.float64)
        out = out.astype(np.float64)
        require(out.shape == x.shape, f"Keep the shape: {x.shape} in, got {out.shape} out ({what}).")
        expected = _reference_standardize(x, eps)
        if np.allclose(out, expected, rtol=1e-5, atol=1e-6):
            continue
        if eps != 1e-5 and np.allclose(out, _reference_standardize(x, 1e-5), rtol=1e-5, atol=1e-6):
            raise ExerciseError(f"For {what} the result is off: use the eps argument, not a fixed number.")
        if not np.all(np.isfinite(out)):
            raise ExerciseError(f"NaN or inf for {what}: add eps to the variance inside the square root, so the "
                                "division stays finite when the variance is 0.")
        n = len(x)
        if np.allclose(out, (x - x.mean()) / np.sqrt(x.var(ddof=1) + eps), rtol=1e-6):
            raise ExerciseError(f"For {what} you divided by the sample variance (ddof=1). Normalization layers "
                                "use the population variance: divide by n, not n - 1.")
        if np.allclose(out, (x - x.mean()) / (x.std() + 1e-300), rtol=1e-6) or np.allclose(
            out, (x - x.mean()) / (np.sqrt(x.var()) + eps), rtol=1e-6
        ):
            raise ExerciseError(f"For {what} the result is off: eps goes *inside* the square root, "
                                "sqrt(var + eps), not outside or nowhere.")
        if abs(float(np.mean(out))) > 1e-6 * max(1.0, float(np.abs(out).max())):
            raise ExerciseError(f"For {what} the result does not have mean 0: subtract the mean first.")
        if n > 1 and np.allclose(out, (x - x.mean()) / (x.var() + eps), rtol=1e-6):
            raise ExerciseError(f"For {what} you divided by the variance: divide by its square root.")
        raise ExerciseError(f"For {what} the result is not (x - mean) / sqrt(var + eps) yet.")
    return "mean 0 and standard deviation (almost) 1, also for a tiny spread and a constant feature."


def _parameter_models():
    """The exercise's model first, then others, so an answer that ignores its argument is seen."""
    from torch import nn

    return [
        ("make_mlp(4, [3], 2)", make_mlp(4, [3], 2, seed=0)),
        ("make_mlp(5, [7, 6], 3)", make_mlp(5, [7, 6], 3, seed=0)),
        ("a model with a BatchNorm layer (its running statistics are buffers, not parameters)",
         make_mlp(6, [4], 2, norm="batch", seed=0)),
        ("nn.Linear(3, 1, bias=False)", nn.Linear(3, 1, bias=False)),
    ]


def _expected(model) -> tuple[list[str], int]:
    return sorted(name for name, _ in model.named_parameters()), sum(p.numel() for p in model.parameters())


def _judge_parameters(names, count, model, what: str) -> None:
    require(isinstance(names, list | tuple) and all(isinstance(n, str) for n in names),
            "names should be a list of parameter names (strings), as the model itself names them.")
    require(isinstance(count, int | np.integer) and not isinstance(count, bool),
            f"count should be a whole number, got {type(count).__name__}.")
    expected_names, expected_count = _expected(model)
    require(len(set(names)) == len(names), "Each parameter name should appear once.")
    require(
        sorted(names) == expected_names,
        f"For {what} these are not the names of its learnable parameters: each Linear layer has a 'weight' and "
        "(unless bias=False) a 'bias', named by the layer's position in the Sequential; ReLU has none. Ask the "
        "model for its named parameters instead of writing them down.",
    )
    weights_only = sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))
    if count == weights_only and count != expected_count:
        raise ExerciseError(f"For {what} that counts the weight matrices only: the biases are learnable "
                            "parameters too.")
    require(count == expected_count,
            f"For {what} that is not the right total: add up how many numbers every parameter tensor holds "
            "(a Linear(n_in, n_out) holds an n_out x n_in weight matrix and n_out biases).")


def _check_mlp_parameters_body(names, count) -> str:
    if callable(names):
        for what, model in _parameter_models():
            result = call_learner(names, model, name="parameter_summary")
            require(isinstance(result, tuple | list) and len(result) == 2,
                    f"Return a pair (names, count), got {type(result).__name__}.")
            _judge_parameters(result[0], result[1], model, what)
    else:
        _judge_parameters(names, count, make_mlp(4, [3], 2, seed=0), "make_mlp(4, [3], 2)")
    return "two Linear layers, each with a weight matrix and a bias vector; ReLU learns nothing."


def check_mlp_parameters(names: list[str] | Callable, count: int | None = None) -> None:
    """Exercise 0.2: the names of the learnable parameters of ``make_mlp(4, [3], 2)`` and how many numbers
    they hold in total.

    Pass the learner's function ``parameter_summary(model) -> (names, count)`` (it is called on a fresh
    ``make_mlp(4, [3], 2, seed=0)`` and on other models, so it must read the model it is given), or the
    two answers themselves.
    """
    ok(run_check(_check_mlp_parameters_body, names, count, name="parameter_summary"))


RUN_STEPS = 40
"""Training steps of exercise 0.3's run (short: it is called three times)."""


def _reference_run(seed: int) -> float:
    model = make_mlp(64, [32], 10, seed=seed)
    return train(model, load_digits(), steps=RUN_STEPS, lr=0.1, seed=seed, eval_every=RUN_STEPS,
                 progress=False).final()["val_loss"]


def check_seeded_run(run: Callable) -> None:
    """Exercise 0.3: ``run(seed) -> final validation loss`` of ``make_mlp(64, [32], 10)`` trained for
    ``RUN_STEPS`` steps (lr 0.1) on ``load_digits()``, with everything random fixed by ``seed``."""
    expected = {seed: _reference_run(seed) for seed in (0, 1)}
    ok(run_check(_check_seeded_run_body, run, expected, name="run"))


def _check_seeded_run_body(run: Callable, expected: dict[int, float]) -> str:
    values = {}
    for seed in (0, 0, 1):
        value = call_learner(run, seed, name="run")
        require(isinstance(value, float | int | np.floating) and not isinstance(value, bool),
                f"run must return a number (the final validation loss), got {type(value).__name__}.")
        require(np.isfinite(value), "run returned NaN or inf: train with lr=0.1 as the exercise says.")
        values.setdefault(seed, []).append(float(value))
    require(values[0][0] == values[0][1],
            "Two calls with the same seed gave different losses: the seed must fix both the initial weights and "
            "the order of the minibatches.")
    for seed in (0, 1):
        if abs(values[seed][0] - expected[seed]) > 1e-6:
            if values[0][0] == values[1][0]:
                raise ExerciseError("Seeds 0 and 1 gave the same loss: the seed must reach both the model's "
                                    "initial weights and the training run, otherwise a different seed changes "
                                    "nothing.")
            raise ExerciseError(
                f"With seed={seed} the loss differs from the exercise's run: does the seed reach both the model and "
                "the training, and are the model, data, steps and learning rate the ones the exercise names?"
            )
    return "the same seed gives the same run, to the last digit; a different seed gives a different one."
