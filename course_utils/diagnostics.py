"""Look inside a network: per-layer activation and gradient statistics, recorded with hooks.

The hooks live in context managers that *always* remove themselves, also when the code inside the
``with`` block raises, so a notebook cell that fails never leaves a model with stale hooks.

    with ActivationRecorder(model) as rec:
        loss = loss_fn(model(X), y)
        loss.backward()
    for s in rec.stats():
        print(s.name, f"{s.std:.3f}", s.saturated, s.dead, s.grad_norm)

Thresholds (the conventions used throughout the course):

- **saturation**: a tanh unit is saturated when ``|tanh(z)| > 0.97`` (``SATURATION_TANH``), a sigmoid
  unit when its output is outside ``[0.03, 0.97]`` (``SATURATION_SIGMOID``). There the local slope is
  below ~0.06 (tanh) or ~0.03 (sigmoid), so almost no gradient flows back through the unit.
- **dead ReLU**: a unit whose output is exactly zero for *every* example of the batch: it passes no
  gradient for that batch, and if that holds for all data it never recovers.
- **update:data ratio**: ``||lr * grad|| / ||w||`` per weight matrix (for plain SGD, the relative size
  of one step). Karpathy's rule of thumb: around ``1e-3`` is healthy; much lower learns slowly, much
  higher is erratic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from .validation import check_bool, check_choice, check_positive

__all__ = [
    "SATURATION_TANH",
    "SATURATION_SIGMOID",
    "UPDATE_RATIO_RULE_OF_THUMB",
    "LayerStats",
    "ActivationRecorder",
    "activation_kind",
    "saturation_fraction",
    "dead_fraction",
    "tensor_stats",
    "layer_statistics",
    "weight_grad_norms",
    "update_ratios",
    "update_ratio_callback",
]

SATURATION_TANH = 0.97
"""A tanh output with ``|a| > 0.97`` counts as saturated (slope 1 - a^2 < 0.06)."""
SATURATION_SIGMOID = (0.03, 0.97)
"""A sigmoid output outside ``[0.03, 0.97]`` counts as saturated (slope a(1-a) < 0.03)."""
UPDATE_RATIO_RULE_OF_THUMB = 1e-3
"""Karpathy's rule of thumb for ``||lr * grad|| / ||w||``: roughly 1e-3 per step."""

_KINDS: dict[type, str] = {
    nn.ReLU: "relu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.Linear: "linear",
    nn.Identity: "identity",
}
ACTIVATION_KINDS = ("relu", "tanh", "sigmoid")


def activation_kind(module: nn.Module) -> str:
    """'relu', 'tanh', 'sigmoid', 'linear', 'identity' or the lower-cased class name."""
    for cls, kind in _KINDS.items():
        if isinstance(module, cls):
            return kind
    return type(module).__name__.lower()


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. from make_mlp), got {type(model).__name__}.")


def _as_2d(a: torch.Tensor) -> torch.Tensor:
    a = a.detach()
    return a.reshape(len(a), -1) if a.ndim != 2 else a


def saturation_fraction(a: torch.Tensor, activation: str) -> float:
    """Fraction of entries of ``a`` (outputs of a tanh or sigmoid) in the saturated zone.

    tanh: ``|a| > SATURATION_TANH`` (0.97); sigmoid: ``a`` outside ``SATURATION_SIGMOID`` ([0.03, 0.97]).
    """
    check_choice("activation", activation, ("tanh", "sigmoid"))
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"a must be a torch.Tensor of activations, got {type(a).__name__}.")
    a = a.detach()
    if a.numel() == 0:
        raise ValueError("a is empty: record at least one example.")
    if activation == "tanh":
        return float((a.abs() > SATURATION_TANH).float().mean())
    lo, hi = SATURATION_SIGMOID
    return float(((a < lo) | (a > hi)).float().mean())


def dead_fraction(a: torch.Tensor) -> float:
    """Fraction of units (columns) that are exactly zero for every example (row) of ``a``."""
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"a must be a torch.Tensor of activations, got {type(a).__name__}.")
    if a.ndim < 2 or len(a) == 0:
        raise ValueError(f"a must have shape (batch, units, ...) with batch >= 1, got {tuple(a.shape)}.")
    a = _as_2d(a)
    return float((a == 0).all(dim=0).float().mean())


@dataclass(frozen=True)
class LayerStats:
    """Statistics of one layer's output on one batch.

    ``saturated`` is set for tanh/sigmoid layers, ``dead`` for ReLU layers (None otherwise);
    ``grad_norm`` is the norm of the loss gradient w.r.t. this output (None if no backward pass ran).
    """

    index: int
    name: str
    kind: str
    mean: float
    std: float
    saturated: float | None = None
    dead: float | None = None
    grad_norm: float | None = None


def tensor_stats(a: torch.Tensor, kind: str) -> dict[str, float | None]:
    """mean, std, saturation (tanh/sigmoid) and dead fraction (relu) of one activation tensor."""
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"a must be a torch.Tensor of activations, got {type(a).__name__}.")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a layer kind such as 'relu' or 'tanh', got {type(kind).__name__}.")
    if a.numel() == 0:
        raise ValueError(f"a is empty (shape {tuple(a.shape)}): record at least one example.")
    a = a.detach().float()
    out: dict[str, float | None] = {
        "mean": float(a.mean()),
        "std": float(a.std()) if a.numel() > 1 else 0.0,
        "saturated": saturation_fraction(a, kind) if kind in ("tanh", "sigmoid") else None,
        "dead": dead_fraction(a) if kind == "relu" and a.ndim >= 2 else None,
    }
    return out


class ActivationRecorder:
    """Context manager recording the output (forward hook) and output gradient (backward hook) of
    chosen layers; all hooks are removed on exit, whatever happens inside the block.

    Args:
        model: any ``nn.Module``.
        kinds: which layers to watch, by :func:`activation_kind` ('relu', 'tanh', 'sigmoid', 'linear',
            'batchnorm1d', ...). Default: the activation functions.
        keep: keep the recorded tensors in ``outputs``/``grads`` (detached, not copied: a later in-place
            op would change them); False keeps only statistics.

    Only the *last* forward/backward pass is kept (one entry per layer).
    """

    def __init__(self, model: nn.Module, kinds: Iterable[str] = ACTIVATION_KINDS, keep: bool = True) -> None:
        _check_model(model)
        if isinstance(kinds, str) or not isinstance(kinds, Iterable):
            raise TypeError(f"kinds must be a list of layer kinds such as ['relu', 'tanh'], got {kinds!r}.")
        self.model = model
        self.kinds = tuple(kinds)
        self.keep = check_bool("keep", keep)
        self.layers: list[tuple[str, str, nn.Module]] = [
            (name, activation_kind(m), m)
            for name, m in model.named_modules()
            if m is not model and activation_kind(m) in self.kinds
        ]
        if not self.layers:
            raise ValueError(f"model has no layers of kinds {self.kinds}; nothing to record.")
        self.outputs: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}
        self._stats: dict[str, dict[str, float | None]] = {}
        self._grad_norms: dict[str, float] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self) -> ActivationRecorder:
        try:
            for name, kind, module in self.layers:
                self._handles.append(module.register_forward_hook(self._forward_hook(name, kind)))
                self._handles.append(module.register_full_backward_hook(self._backward_hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this recorder registered (safe to call twice)."""
        while self._handles:
            self._handles.pop().remove()

    @property
    def active(self) -> bool:
        return bool(self._handles)

    # -- hooks -----------------------------------------------------------------------------------
    def _forward_hook(self, name: str, kind: str) -> Callable:
        def hook(_module, _inputs, output):
            if isinstance(output, torch.Tensor):
                self._stats[name] = tensor_stats(output, kind)
                if self.keep:
                    self.outputs[name] = output.detach()

        return hook

    def _backward_hook(self, name: str) -> Callable:
        def hook(_module, _grad_input, grad_output):
            g = grad_output[0]
            if g is not None:
                self._grad_norms[name] = float(g.detach().norm())
                if self.keep:
                    self.grads[name] = g.detach()

        return hook

    # -- results ---------------------------------------------------------------------------------
    def stats(self) -> list[LayerStats]:
        """One :class:`LayerStats` per watched layer that ran, in model order."""
        rows = []
        for index, (name, kind, _m) in enumerate(self.layers):
            if name not in self._stats:
                continue
            rows.append(LayerStats(index, name, kind, **self._stats[name], grad_norm=self._grad_norms.get(name)))
        if not rows:
            raise RuntimeError("Nothing recorded: run a forward pass of the model inside the `with` block.")
        return rows


def weight_grad_norms(model: nn.Module) -> list[float]:
    """``||dL/dW||`` of every Linear layer's weight, in model order (after ``loss.backward()``)."""
    _check_model(model)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if any(m.weight.grad is None for m in linears):
        raise RuntimeError("Some Linear weights have no .grad: call loss.backward() first.")
    return [float(m.weight.grad.norm()) for m in linears]


def layer_statistics(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None, *, kinds: Iterable[str] = ACTIVATION_KINDS,
    keep: bool = False,
) -> tuple[list[LayerStats], ActivationRecorder]:
    """One forward (and, if labels ``y`` are given, backward with cross-entropy) pass with recording.

    The model's gradients are zeroed before and left in ``.grad`` after (see :func:`weight_grad_norms`).
    Returns the per-layer statistics and the (closed) recorder holding the tensors if ``keep``.
    """
    _check_model(model)
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}. Use torch.from_numpy(X).")
    if not X.is_floating_point():
        raise TypeError(f"X must have a floating dtype, got {X.dtype}. Convert it first: X.float().")
    if y is not None and (not isinstance(y, torch.Tensor) or y.dtype != torch.long or y.shape != X.shape[:1]):
        raise TypeError(
            "y must be None or a torch.long tensor of class indices, one per row of X "
            f"({len(X)}), got {type(y).__name__} {getattr(y, 'dtype', '')} {tuple(getattr(y, 'shape', ()))}."
        )
    model.zero_grad(set_to_none=True)
    with ActivationRecorder(model, kinds=kinds, keep=keep) as rec:
        if y is None:
            with torch.no_grad():
                model(X)
        else:
            nn.functional.cross_entropy(model(X), y).backward()
    return rec.stats(), rec


def update_ratios(model: nn.Module, lr: float) -> list[float]:
    """``||lr * grad|| / ||w||`` for every Linear weight, in model order (plain-SGD step size).

    Karpathy's rule of thumb: around ``1e-3`` (``UPDATE_RATIO_RULE_OF_THUMB``).
    """
    lr = check_positive("lr", lr)
    _check_model(model)
    ratios = []
    for norm_g, m in zip(weight_grad_norms(model), [m for m in model.modules() if isinstance(m, nn.Linear)],
                         strict=True):
        norm_w = float(m.weight.detach().norm())
        ratios.append(lr * norm_g / norm_w if norm_w > 0 else math.inf)
    return ratios


def update_ratio_callback(lr: float) -> Callable:
    """A ``callback`` for :func:`course_utils.train.train` that appends the per-layer update ratios of
    the last step to ``history.extra['update_ratio']`` at every evaluation."""
    lr = check_positive("lr", lr)

    def callback(_step, model, history) -> None:
        history.extra.setdefault("update_ratio", []).append(update_ratios(model, lr))

    return callback
