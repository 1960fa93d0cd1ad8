"""A small, deterministic training loop that returns a :class:`History`.

Same seed + same model + same data = the same numbers, to the last digit (with the one-thread,
deterministic setup of :func:`course_utils.setup_notebook`).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import nn as course_nn
from .data import Split
from .env import torch_generator
from .validation import check_bool, check_choice, check_int, check_number, check_positive

__all__ = [
    "History", "train", "train_steps", "evaluate", "progress_enabled", "is_batchnorm", "batchnorm_layers",
    "recalibrate_batchnorm", "minibatch_indices",
]

LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("sgd", "adam")
TRAIN_METRICS = ("every evaluation", "last evaluation")


@dataclass
class History:
    """What happened during training.

    ``step_loss`` has the minibatch loss of every step; the other lists have one entry per
    evaluation (every ``eval_every`` steps and at the end), at the step numbers in ``steps``.
    ``diverged`` is True if the loss became inf/nan (training then stopped early).
    """

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    diverged: bool = False
    extra: dict[str, list] = field(default_factory=dict)

    def final(self) -> dict[str, float]:
        """The last evaluation: train/val loss and accuracy."""
        if not self.steps:
            return {"train_loss": math.inf, "train_acc": 0.0, "val_loss": math.inf, "val_acc": 0.0}
        return {k: getattr(self, k)[-1] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}

    def best(self, metric: str = "val_acc") -> float:
        """The best value of ``metric`` over all evaluations (max for accuracy, min for loss)."""
        values = self._metric(metric)
        if not values:
            raise ValueError("History is empty: nothing was evaluated.")
        return max(values) if metric.endswith("acc") else min(values)

    def steps_to(self, metric: str, threshold: float) -> int | None:
        """First step at which ``metric`` reached ``threshold`` (>= for accuracy, <= for loss), else None."""
        threshold = check_number("threshold", threshold)
        reached = (lambda v: v >= threshold) if metric.endswith("acc") else (lambda v: v <= threshold)
        for step, value in zip(self.steps, self._metric(metric), strict=True):
            if reached(value):
                return step
        return None

    def _metric(self, metric: str) -> list[float]:
        check_choice("metric", metric, ("train_loss", "train_acc", "val_loss", "val_acc"))
        return getattr(self, metric)


def progress_enabled(progress: bool | None = None) -> bool:
    """Progress bars show in interactive use, never in CI or when outputs are regenerated."""
    if progress is not None:
        return check_bool("progress", progress)
    return not (os.environ.get("CI") or os.environ.get("NORMCOURSE_NO_PROGRESS"))


def _loss_fn(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if loss == "mse":
        return lambda out, y: nn.functional.mse_loss(out.squeeze(-1), y)
    return nn.functional.cross_entropy


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str = "cross_entropy") -> tuple[float, float]:
    """Loss and accuracy of ``model`` on (X, y) in eval mode; the model's mode is restored after.

    For ``loss='mse'`` the second number is the R^2-free placeholder ``nan`` (no accuracy).
    """
    _check_model(model)
    check_choice("loss", loss, LOSSES)
    X, y = _check_xy(X, y, loss)
    was_training = model.training
    model.eval()
    try:
        out = _forward_checked(model, X)
        _check_outputs(out, y, loss)
        value = float(_loss_fn(loss)(out, y))
        acc = float((out.argmax(dim=1) == y).float().mean()) if loss == "cross_entropy" else float("nan")
    finally:
        model.train(was_training)
    return value, acc


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module (e.g. course_utils.models.make_mlp(...)), got {type(model).__name__}."
        )


def _check_xy(X, y, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    for name, value in (("X", X), ("y", y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}. Use torch.from_numpy({name}).")
    if not X.is_floating_point():
        raise TypeError(f"X must have a floating dtype, got {X.dtype}. Convert it first: X.float().")
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X must have shape (examples, features) with at least one example, got {tuple(X.shape)}.")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must hold one target per row of X ({len(X)}), got shape {tuple(y.shape)}.")
    if loss == "cross_entropy" and y.dtype != torch.long:
        raise TypeError(
            f"y must hold class indices (torch.long) for loss='cross_entropy', got {y.dtype}. Use y.long()."
        )
    if loss == "cross_entropy" and len(y) and int(y.min()) < 0:
        raise ValueError(
            f"y must hold class indices 0, 1, ..., got {int(y.min())}. Map the labels to 0..classes-1 first "
            "(e.g. with numpy.unique(y, return_inverse=True))."
        )
    if loss == "mse" and not y.is_floating_point():
        y = y.float()
    return X, y


def _forward_checked(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    # A model built for another number of features fails deep inside torch ("mat1 and mat2 shapes cannot
    # be multiplied"); say which argument is wrong instead.
    param = next(iter(model.parameters()), None)
    if param is not None and param.is_floating_point() and param.dtype != X.dtype:
        raise TypeError(
            f"X has dtype {X.dtype} but the model's parameters are {param.dtype}: convert one of them, "
            f"e.g. X.to({param.dtype}) or model.to({X.dtype})."
        )
    try:
        return model(X)
    except RuntimeError as err:
        expected = next((m.in_features for m in model.modules() if isinstance(m, nn.Linear)), None)
        hint = (
            f"the model's first Linear layer expects {expected} features; build it with in_features={X.shape[1]}"
            if expected is not None and expected != X.shape[1]
            else "check that the model's input size matches the data"
        )
        raise ValueError(
            f"model cannot take inputs of shape {tuple(X.shape)} ({X.shape[1]} features): {hint}. "
            f"(torch said: {str(err).splitlines()[0]})"
        ) from err


def _check_outputs(out: torch.Tensor, y: torch.Tensor, loss: str, n_classes: int | None = None) -> None:
    if loss == "cross_entropy":
        if out.ndim != 2:
            raise ValueError(
                f"model must return (examples, classes) scores for loss='cross_entropy', got {tuple(out.shape)}."
            )
        classes = n_classes if n_classes is not None else int(y.max()) + 1 if len(y) else 0
        if out.shape[1] < classes or (n_classes is not None and out.shape[1] != n_classes):
            raise ValueError(
                f"model has {out.shape[1]} outputs but the data has {classes} classes: build the model with "
                f"out_features={classes} (one score per class)."
            )
    elif out.ndim == 2 and out.shape[1] != 1 or out.ndim > 2:
        raise ValueError(
            f"loss='mse' needs a model with 1 output (a regression), but the model has {out.shape[1]} outputs. "
            "For classification use loss='cross_entropy'; for regression build the model with out_features=1."
        )


def _make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


StepCallback = Callable[[int, float], bool | None]
"""``after_step(step, loss)`` of :func:`train_steps`; returning True stops training after this step."""


def train_steps(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    next_loss: Callable[[int], torch.Tensor],
    steps: int,
    *,
    lr_schedule: Callable[[int], float] | None = None,
    before_update: Callable[[], None] | None = None,
    after_step: Sequence[StepCallback] = (),
    progress: bool | None = None,
) -> list[float]:
    """The course's one training loop; returns the loss of every step.

    For step = 1, ..., ``steps``: the learning rate of every parameter group is set to its initial value
    times ``lr_schedule(step)`` (a warm-up, say; no change without one), ``next_loss(step)`` draws a batch
    and returns its loss, the gradients are zeroed and back-propagated, ``before_update()`` may change them
    (e.g. sum them over the processes of a data-parallel job), the optimizer steps, and each of
    ``after_step(step, loss)`` runs; one that returns True ends training after that step.
    :func:`train` is this loop with minibatches of a :class:`Split`, evaluations and a :class:`History`.
    """
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    losses: list[float] = []
    from tqdm.auto import tqdm

    model.train()
    for step in tqdm(range(1, steps + 1), disable=not progress_enabled(progress), leave=False):
        if lr_schedule is not None:
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * lr_schedule(step)
        loss = next_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if before_update is not None:
            before_update()
        optimizer.step()
        value = loss.item()
        losses.append(value)
        stop = [callback(step, value) for callback in after_step]
        if any(stop):
            break
    return losses


def train(
    model: nn.Module,
    split: Split,
    *,
    steps: int = 1000,
    lr: float = 0.1,
    batch_size: int = 64,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    loss: str = "cross_entropy",
    eval_every: int = 50,
    seed: int = 0,
    progress: bool | None = None,
    callback: Callable[[int, nn.Module, History], None] | None = None,
    callbacks: Sequence[Callable[[int, nn.Module, History], None]] = (),
    lr_schedule: Callable[[int], float] | None = None,
    train_metrics: str = "every evaluation",
) -> History:
    """Train ``model`` on ``split`` with minibatch SGD (or Adam) and return its :class:`History`.

    Minibatches are drawn by reshuffling the training set every epoch with a generator seeded by
    ``seed``, so runs are reproducible and two models trained with the same seed see the same batches.
    ``callback(step, model, history)`` and each of ``callbacks`` run after every evaluation (e.g. to record
    layer statistics). ``lr_schedule(step)`` multiplies ``lr`` at each step (e.g. a warm-up); see
    :func:`train_steps`, the loop this runs. ``train_metrics="last evaluation"`` evaluates the training set only
    at the last step (NaN before; validation metrics at every evaluation, as always): a sweep that reads the
    training metrics only at the end saves most of its evaluation time.
    """
    check_choice("train_metrics", train_metrics, TRAIN_METRICS)
    steps, lr, batch_size, eval_every, momentum, weight_decay = _check_hyperparameters(
        steps, lr, batch_size, eval_every, optimizer, loss, momentum, weight_decay, progress
    )
    _check_model(model)
    if not isinstance(split, Split):
        raise TypeError(f"split must be a course_utils.data.Split, got {type(split).__name__}.")
    callbacks = _check_hooks(callback, callbacks, lr_schedule)
    seed = check_int("seed", seed, minimum=0)
    X, y, Xv, yv = _training_data(model, split, loss)
    loss_fn = _loss_fn(loss)
    opt = _make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    batches = minibatch_indices(len(X), batch_size, torch_generator(seed))
    history = History()

    def next_loss(step: int) -> torch.Tensor:
        idx = next(batches)
        return loss_fn(model(X[idx]), y[idx])

    def evaluate_now(step: int, value: float) -> bool:
        history.step_loss.append(value)
        if not np.isfinite(value):
            history.diverged = True
        last = step == steps or history.diverged
        if step % eval_every == 0 or last:
            every = last or train_metrics == "every evaluation"
            _record(history, step, model, (X, y) if every else None, (Xv, yv), loss)
            for after_evaluation in callbacks:
                after_evaluation(step, model, history)
        return history.diverged

    train_steps(model, opt, next_loss, steps, lr_schedule=lr_schedule, after_step=[evaluate_now], progress=progress)
    model.train()
    return history


def _check_hyperparameters(steps, lr, batch_size, eval_every, optimizer, loss, momentum, weight_decay, progress):
    steps = check_int("steps", steps, minimum=1)
    lr = check_positive("lr", lr)
    if lr > 1e6:
        # torch's float32 optimizers overflow for huge values ("value cannot be converted to type float").
        raise ValueError(f"lr must be <= 1e6, got {lr!r}. Typical learning rates are 1e-4 to 1.")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    eval_every = check_int("eval_every", eval_every, minimum=1)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("loss", loss, LOSSES)
    momentum = check_number("momentum", momentum)
    if not 0 <= momentum < 1:
        raise ValueError(
            f"momentum must be in [0, 1), got {momentum!r}. It is SGD's momentum: the fraction of the previous "
            "update kept (0.9 is typical); 1 or more never forgets and diverges."
        )
    if optimizer == "adam" and momentum != 0:
        raise ValueError(
            f"momentum={momentum!r} is only used by optimizer='sgd'; Adam has its own (betas). "
            "Drop momentum=... or use optimizer='sgd'."
        )
    weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
    if weight_decay > 1e6:
        raise ValueError(f"weight_decay must be <= 1e6, got {weight_decay!r}. Typical values are 0 to 1e-2.")
    if progress is not None:
        check_bool("progress", progress)
    return steps, lr, batch_size, eval_every, momentum, weight_decay


def _check_hooks(callback, callbacks, lr_schedule) -> list:
    """The after-evaluation callbacks (``callbacks``, then ``callback``), checked; and ``lr_schedule`` checked."""
    if callback is not None and not callable(callback):
        raise TypeError(
            f"callback must be a function callback(step, model, history) or None, got {type(callback).__name__}. "
            "Pass the function itself, without calling it."
        )
    callbacks = _check_callbacks(callbacks) + ([callback] if callback is not None else [])
    if lr_schedule is not None and not callable(lr_schedule):
        raise TypeError(
            f"lr_schedule must be a function of the step (1, 2, ...) returning a multiplier of lr, or None, "
            f"got {type(lr_schedule).__name__}."
        )
    return callbacks


def _training_data(model: nn.Module, split: Split, loss: str):
    """The training and validation tensors of ``split``, checked against each other, the loss and the model."""
    X, y = split.tensors("train")
    Xv, yv = split.tensors("val")
    if len(Xv) == 0:
        raise ValueError(
            "split has no validation examples, so validation metrics would be NaN: use a split with val_fraction > 0."
        )
    X, y = _check_xy(X, y, loss)
    Xv, yv = _check_xy(Xv, yv, loss)
    _check_model_fits(model, X, y, loss, split)
    if len(X) < 2 and batchnorm_layers(model):
        raise ValueError(
            f"split has {len(X)} training example, but the model has BatchNorm layers, which need at least 2 "
            "examples per batch in training: use a split with more training examples (or a model without BatchNorm)."
        )
    return X, y, Xv, yv


def _check_callbacks(callbacks) -> list:
    if callable(callbacks) or not isinstance(callbacks, list | tuple):
        raise TypeError(
            f"callbacks must be a list of functions callback(step, model, history), got {type(callbacks).__name__}."
        )
    for i, function in enumerate(callbacks):
        if not callable(function):
            raise TypeError(f"callbacks[{i}] must be a function callback(step, model, history), got {function!r}.")
    return list(callbacks)


@torch.no_grad()
def _check_model_fits(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str, split: Split) -> None:
    """One forward pass on two examples in eval mode (no running statistics change, no randomness is drawn),
    so a model that does not fit the data is refused before the first step, with a message saying why."""
    was_training = model.training
    model.eval()
    try:
        out = _forward_checked(model, X[:2])
        n_classes = split.n_classes if loss == "cross_entropy" else None
        _check_outputs(out, y, loss, n_classes)
    finally:
        model.train(was_training)


def _record(history: History, step: int, model: nn.Module, train_xy, val_xy, loss: str) -> None:
    tr_loss, tr_acc = evaluate(model, *train_xy, loss=loss) if train_xy is not None else (math.nan, math.nan)
    va_loss, va_acc = evaluate(model, *val_xy, loss=loss)
    history.steps.append(step)
    history.train_loss.append(tr_loss)
    history.train_acc.append(tr_acc)
    history.val_loss.append(va_loss)
    history.val_acc.append(va_acc)


def minibatch_indices(n: int, batch_size: int, gen: torch.Generator):
    """Endless minibatch indices: a fresh permutation every epoch; the last short batch is dropped
    (a batch of one would break BatchNorm in training)."""
    batch_size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


def is_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` is a BatchNorm layer, torch.nn's or course_utils.nn's (1d, 2d, sync).

    InstanceNorm is not one (as in torch.nn): its statistics are per example."""
    return isinstance(module, nn.modules.batchnorm._BatchNorm | course_nn._BatchNorm)


def batchnorm_layers(model: nn.Module) -> list[nn.Module]:
    """Every BatchNorm layer of ``model`` in order (see :func:`is_batchnorm`): the one helper that lists them."""
    return [m for m in model.modules() if is_batchnorm(m)]


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module,
    X: torch.Tensor,
    batch_size: int = 64,
    *,
    passes: int = 1,
    seed: int | None = None,
    drop_last: bool = True,
    verbose: bool = False,
) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics on ``X`` with the weights frozen (in place).

    The fix for "my model is worse in eval()" (notebook 03) and for the dropout-before-BatchNorm variance
    shift (notebook 05): reset the statistics, set ``momentum=None`` (a cumulative average, so every batch
    counts equally) and run ``X`` through the model with the BatchNorm layers in train mode and every other
    module in eval mode (dropout off). Minibatches of ``batch_size`` go in order, or reshuffled each pass by
    a generator seeded with ``seed``; a last batch shorter than ``batch_size`` is skipped with
    ``drop_last``, otherwise used if it holds at least 2 examples. Every module's mode and every layer's
    momentum are restored afterwards.

    It never leaves a model worse than it was: the arguments are checked before anything changes (an ``X``
    too short for one batch would otherwise reset every statistic to 0/1 and use no batch), and if a
    forward pass fails the old statistics are put back. BatchNorm layers without running statistics
    (``track_running_stats=False``) have nothing to recalibrate: they are named in a warning, and a model
    with only such layers is an error. ``verbose=True`` prints which layers were recalibrated on how many
    batches.
    """
    _check_model(model)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    passes = check_int("passes", passes, minimum=1)
    drop_last = check_bool("drop_last", drop_last)
    verbose = check_bool("verbose", verbose)
    gen = None if seed is None else torch_generator(check_int("seed", seed, minimum=0))
    layers = _layers_to_recalibrate(model)
    starts = _batch_starts(X, batch_size, drop_last)
    _check_x_fits(model, X)
    saved = [{k: v.clone() for k, v in layer.state_dict().items()} for layer in layers]
    modes = {module: module.training for module in model.modules()}
    momenta = [layer.momentum for layer in layers]
    try:
        model.eval()
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None
            layer.train()
        for _ in range(passes):
            order = torch.arange(len(X)) if gen is None else torch.randperm(len(X), generator=gen)
            for start in starts:
                model(X[order[start : start + batch_size]])
    except BaseException:
        for layer, state in zip(layers, saved, strict=True):
            layer.load_state_dict(state)  # the statistics the model had before the call
        raise
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        for module, training in modes.items():
            module.training = training
    if verbose:
        names = {layer: name for name, layer in model.named_modules()}
        print(
            f"recalibrated {len(layers)} BatchNorm layer(s) ({', '.join(names[layer] or 'model' for layer in layers)}) "
            f"on {len(starts) * passes} batch(es) from {len(X)} rows of X"
        )
    return model


def _layers_to_recalibrate(model: nn.Module) -> list[nn.Module]:
    layers = batchnorm_layers(model)
    if not layers:
        raise ValueError("model has no BatchNorm layer to recalibrate.")
    tracked = [layer for layer in layers if layer.track_running_stats and layer.running_mean is not None]
    names = {layer: name or "model" for name, layer in model.named_modules()}
    untracked = [names[layer] for layer in layers if layer not in tracked]
    if not tracked:
        raise ValueError(
            f"model's BatchNorm layers ({', '.join(untracked)}) have no running statistics "
            "(track_running_stats=False): they always use the batch's, so there is nothing to recalibrate."
        )
    if untracked:
        warnings.warn(
            f"BatchNorm layer(s) {', '.join(untracked)} of model have no running statistics "
            "(track_running_stats=False) and were left as they are.",
            stacklevel=3,
        )
    return tracked


def _batch_starts(X, batch_size: int, drop_last: bool) -> list[int]:
    """Where the minibatches of X start; at least one batch of >= 2 rows, or a ValueError naming the fix."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor of inputs, got {type(X).__name__}.")
    n = len(X) if X.dim() else 0
    if n < 2:
        raise ValueError(f"X has {n} rows: BatchNorm statistics need at least 2. Pass the training inputs as X.")
    if drop_last and n < batch_size:
        raise ValueError(
            f"X has {n} rows, fewer than batch_size={batch_size}, so with drop_last=True no batch would be used "
            f"and every running statistic would be reset to 0/1. Pass batch_size <= {n} or drop_last=False."
        )
    last = n - batch_size + 1 if drop_last else n
    # A last batch of one row is skipped (BatchNorm refuses a batch of one in training).
    return [start for start in range(0, last, batch_size) if min(batch_size, n - start) > 1]


def _check_x_fits(model: nn.Module, X: torch.Tensor) -> None:
    if not X.is_floating_point():
        raise TypeError(f"X must have a floating dtype, got {X.dtype}. Convert it first: X.float().")
    was_training = {module: module.training for module in model.modules()}
    model.eval()
    try:
        _forward_checked(model, X[:2])  # eval mode: changes no statistic, draws no dropout mask
    finally:
        for module, training in was_training.items():
            module.training = training
