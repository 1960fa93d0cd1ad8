"""A small, deterministic training loop that returns a :class:`History`.

Same seed + same model + same data = the same numbers, to the last digit (with the one-thread,
deterministic setup of :func:`course_utils.setup_notebook`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .data import Split
from .validation import check_choice, check_int, check_number, check_positive

__all__ = ["History", "train", "evaluate", "progress_enabled"]

LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("sgd", "adam")


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
        return bool(progress)
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
    was_training = model.training
    model.eval()
    try:
        out = model(X)
        value = float(_loss_fn(loss)(out, y))
        acc = float((out.argmax(dim=1) == y).float().mean()) if loss == "cross_entropy" else float("nan")
    finally:
        model.train(was_training)
    return value, acc


def _make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


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
) -> History:
    """Train ``model`` on ``split`` with minibatch SGD (or Adam) and return its :class:`History`.

    Minibatches are drawn by reshuffling the training set every epoch with a generator seeded by
    ``seed``, so runs are reproducible and two models trained with the same seed see the same batches.
    ``callback(step, model, history)`` runs after every evaluation (e.g. to record layer statistics).
    """
    steps = check_int("steps", steps, minimum=1)
    lr = check_positive("lr", lr)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    eval_every = check_int("eval_every", eval_every, minimum=1)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("loss", loss, LOSSES)
    momentum = check_number("momentum", momentum)
    weight_decay = check_number("weight_decay", weight_decay)
    if not isinstance(split, Split):
        raise TypeError(f"split must be a course_utils.data.Split, got {type(split).__name__}.")

    X, y = split.tensors("train")
    Xv, yv = split.tensors("val")
    if loss == "mse":
        y, yv = y.float(), yv.float()
    loss_fn = _loss_fn(loss)
    opt = _make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    history = History()
    batches = _batches(len(X), batch_size, gen)

    from tqdm.auto import tqdm

    model.train()
    for step in tqdm(range(1, steps + 1), disable=not progress_enabled(progress), leave=False):
        idx = next(batches)
        batch_loss = loss_fn(model(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        batch_loss.backward()
        opt.step()
        value = batch_loss.item()
        history.step_loss.append(value)
        if not np.isfinite(value):
            history.diverged = True
        if step % eval_every == 0 or step == steps or history.diverged:
            _record(history, step, model, (X, y), (Xv, yv), loss)
            if callback is not None:
                callback(step, model, history)
        if history.diverged:
            break
    model.train()
    return history


def _record(history: History, step: int, model: nn.Module, train_xy, val_xy, loss: str) -> None:
    tr_loss, tr_acc = evaluate(model, *train_xy, loss=loss)
    va_loss, va_acc = evaluate(model, *val_xy, loss=loss)
    history.steps.append(step)
    history.train_loss.append(tr_loss)
    history.train_acc.append(tr_acc)
    history.val_loss.append(va_loss)
    history.val_acc.append(va_acc)


def _batches(n: int, batch_size: int, gen: torch.Generator):
    """Endless minibatch indices: a fresh permutation every epoch; the last short batch is dropped
    (a batch of one would break BatchNorm in training)."""
    batch_size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]
