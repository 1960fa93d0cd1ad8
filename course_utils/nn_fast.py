"""The fast path of course_utils.nn's BatchNorm and LayerNorm: same numbers, hand-written backward.

The layers of :mod:`course_utils.nn` are written for reading: one line per formula, and autograd records
every step. That makes them several times slower than torch.nn (each step allocates a full-size tensor
that autograd keeps), which hurts when a notebook trains dozens of models. So BatchNorm1d/2d (and
SyncBatchNorm outside a distributed job) and LayerNorm also have a *fast path*, kept here so that the
readable forwards say nothing about it: a ``torch.autograd.Function`` whose backward is the compact
formula derived in the BatchNorm notebook,

    dx = (1/N) * gamma * rstd * (N * dy - sum(dy) - x_hat * sum(dy * x_hat)),

computed with in-place operations and reused scratch buffers. Both paths give the same values,
gradients and running statistics (tests/test_nn_fast.py checks them against each other and torch).

Choose it with ``with course_utils.nn.fast_path(): ...``, ``course_utils.nn.set_fast_path(True)``, per
layer with ``layer.fast = True`` (``False`` pins the readable path), or
``make_mlp(..., reference_layers=True, fast=True)``. The switch is not a constructor argument, so the
signature, ``repr`` and ``state_dict`` stay exactly torch's. The fast path cannot be differentiated twice
(``create_graph=True`` then a second backward); it says so and the readable path can.

The one place that switches: :func:`install` replaces a class's ``forward`` by a descriptor that picks,
per call, the fast function or the readable ``forward``. Only the classes named in :data:`FAST_CLASSES`
(exactly those, not their subclasses) take the fast path: a subclass that computes other statistics
must not silently run the hand-written function of its parent.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import torch
from torch import Tensor, nn

from . import nn as cnn
from .validation import check_bool

__all__ = ["fast_path", "set_fast_path", "fast_path_enabled", "has_fast_path", "FAST_CLASSES"]


class _FastSetting:
    """The per-layer ``fast`` switch: True/False pin the fast/readable path, None follows fast_path().

    Checked when set, because any non-empty string (even ``"False"``) is true and would silently turn
    the fast path on."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = "_" + name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__.get(self.key)

    def __set__(self, obj, value) -> None:
        if value is not None and not isinstance(value, bool):
            raise TypeError(
                f"fast must be True (fast path), False (readable path) or None (follow "
                f"course_utils.nn.fast_path()), got {type(value).__name__} {value!r}."
            )
        if value and not has_fast_path(obj):
            # A subclass inherits the attribute, not the fast path (it may compute other statistics).
            raise TypeError(
                f"{type(obj).__name__} has no fast path (only {', '.join(c.__name__ for c in FAST_CLASSES)} "
                "have one; a subclass does not inherit it). Leave fast at None or False."
            )
        obj.__dict__[self.key] = value




_FAST_PATH = False


class fast_path:  # noqa: N801 - used like a function: ``with fast_path():``
    """Switch the norm layers of this module to their fast path inside a ``with`` block.

        with course_utils.nn.fast_path():      # every BatchNorm/LayerNorm of course_utils.nn inside
            train(model, ...)
        course_utils.nn.set_fast_path(True)    # or from now on

    A layer's own ``fast`` attribute wins over the switch: ``layer.fast = True`` / ``False`` pins it,
    ``None`` (the default) follows the switch. Values, gradients and running statistics are the same
    either way (up to float rounding); double backward (differentiating a gradient again, after
    ``create_graph=True``) needs the readable path and raises a clear error on the fast one.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = check_bool("enabled", enabled)
        self._previous: list[bool] = []

    def __enter__(self) -> fast_path:
        self._previous.append(_FAST_PATH)
        set_fast_path(self.enabled)
        return self

    def __exit__(self, *exc_info) -> None:
        set_fast_path(self._previous.pop())


def set_fast_path(enabled: bool) -> None:
    """Turn the module-level fast-path switch on or off for good (see :class:`fast_path`)."""
    global _FAST_PATH
    _FAST_PATH = check_bool("enabled", enabled)


def fast_path_enabled(module: nn.Module | None = None) -> bool:
    """Whether ``module`` (or, without one, the module-level switch) uses the fast path now."""
    pinned = getattr(module, "fast", None)
    return _FAST_PATH if pinned is None else bool(pinned)


_NO_DOUBLE_BACKWARD = (
    "the fast path of course_utils.nn's {name} has a hand-written backward that cannot be differentiated "
    "again (double backward / create_graph=True). Use the readable path: layer.fast = False (or leave the "
    "course_utils.nn.fast_path() block)."
)


def _guard_double_backward(name: str, grads: tuple) -> tuple:
    # Backward runs with grad mode on only under create_graph=True. The gradients are still returned
    # (plain first derivatives are correct); differentiating *them* raises the error with the fix.
    if not torch.is_grad_enabled():
        return grads
    real = [g for g in grads if g is not None]
    if not real:
        return grads
    # Same trick as torch.autograd.function.once_differentiable: a node that raises when reached.
    error = torch._C._functions.DelayedError(_NO_DOUBLE_BACKWARD.format(name=name), len(real))
    wrapped = iter(error(*[g.detach().requires_grad_(True) for g in real]))
    return tuple(None if g is None else next(wrapped) for g in grads)


_WORKSPACES: dict[tuple, Tensor] = {}


def _workspace(like: Tensor, slot: int = 0) -> Tensor:
    """A scratch tensor shaped like ``like``, reused from call to call (``slot`` tells apart several
    needed at once).

    Only for temporaries that die inside one forward or one backward (never for anything returned or
    saved for backward): a fresh full-size tensor costs more than the arithmetic done in it (the
    memory is handed back to the system when freed and faulted in again page by page next time).
    """
    key = (slot, like.shape, like.stride(), like.dtype, like.device)
    buffer = _WORKSPACES.get(key)
    if buffer is None:
        if len(_WORKSPACES) >= 8:  # a handful of shapes is what a course model uses; forget the oldest
            _WORKSPACES.pop(next(iter(_WORKSPACES)))
        buffer = _WORKSPACES[key] = torch.empty_like(like)
    return buffer


def _sum_per_channel(t: Tensor, dims: list[int]) -> Tensor:
    """``t.sum(dims, keepdim=True)``; for a large (N, C) matrix as ``t^T @ 1``, a matrix-vector product
    that reads the rows in memory order (summing down the columns with ``sum(0)`` is about 30% slower
    at 512 x 1024; on small matrices the two extra calls cost more than they save)."""
    if t.dim() == 2 and t.numel() >= 1 << 16:
        return torch.mv(t.t(), t.new_ones(t.shape[0])).view(1, -1)
    return t.sum(dims, keepdim=True)


class _BatchNormFunction(torch.autograd.Function):
    r"""BatchNorm (1d and 2d) with the compact backward, per channel over its ``n`` values:

    .. math::
        \frac{\partial L}{\partial x} = \frac{\gamma \cdot \mathrm{rstd}}{n}
        \Big(n\,dy - \textstyle\sum dy - \hat{x} \sum (dy \cdot \hat{x})\Big),
        \qquad \hat{x} = (x - \mu)\,\mathrm{rstd}

    With ``running_mean``/``running_var`` given (eval mode) they replace the batch statistics and the
    backward is just ``dy * gamma * rstd``. Returns ``(out, mean, biased_var)``; the statistics are
    not differentiable (they feed the running averages).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps: float):
        dims = [0, *range(2, x.dim())]
        shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
        batch_stats = running_mean is None
        n = x.numel() // x.shape[1]
        if batch_stats:
            mean = _sum_per_channel(x, dims).div_(n)  # much faster than var_mean here
            squares = torch.sub(x, mean, out=_workspace(x))
            var = _sum_per_channel(squares.mul_(squares), dims).div_(n)
        else:
            mean, var = running_mean.reshape(shape), running_var.reshape(shape)
        rstd = (var + eps).rsqrt_()
        # out = gamma * (x - mean) * rstd + beta = x * scale + shift: one pass over x.
        scale = rstd if weight is None else rstd * weight.reshape(shape)
        shift = -mean * scale
        if bias is not None:
            shift += bias.reshape(shape)
        out = torch.addcmul(shift, x, scale)
        # x itself is saved (no copy); backward recomputes x - mean in a scratch buffer.
        ctx.save_for_backward(x, mean, rstd, scale)
        ctx.batch_stats, ctx.n = batch_stats, n
        ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
        stats = (mean.reshape(-1), var.reshape(-1))
        ctx.mark_non_differentiable(*stats)
        return out, *stats

    @staticmethod
    def backward(ctx, dy, _dmean, _dvar):
        x, mean, rstd, scale = ctx.saved_tensors
        dims = [0, *range(2, dy.dim())]
        with torch.no_grad():
            centered = torch.sub(x, mean, out=_workspace(x))
            sum_dy = _sum_per_channel(dy, dims)
            sum_dy_xhat = _sum_per_channel(torch.mul(dy, centered, out=_workspace(x, 1)), dims).mul_(rstd)
            dx = None
            if ctx.needs_input_grad[0]:
                if ctx.batch_stats:
                    # dx = scale * (dy - mean(dy) - x_hat * mean(dy * x_hat)) in two passes:
                    # dy * scale + (-scale * mean(dy)), then + centered * (-scale * rstd * mean(dy * x_hat)).
                    n = ctx.n
                    dx = torch.addcmul(sum_dy * (-1.0 / n) * scale, dy, scale)
                    dx.addcmul_(centered, sum_dy_xhat * (-1.0 / n) * scale * rstd)
                else:
                    dx = torch.mul(dy, scale)
            dweight = sum_dy_xhat.reshape(-1) if ctx.has_weight and ctx.needs_input_grad[1] else None
            dbias = sum_dy.reshape(-1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        grads = _guard_double_backward("BatchNorm", (dx, dweight, dbias))
        return *grads, None, None, None


def _as_rows(t: Tensor, d: int) -> Tensor:
    """``t`` as a matrix with rows of ``d`` values (no call when it already is one: calls cost here)."""
    return t if t.dim() == 2 and t.shape[1] == d else t.reshape(-1, d)


def _as_vector(t: Tensor) -> Tensor:
    """``t`` flattened to 1-D, without a call when it already is."""
    return t if t.dim() == 1 else t.reshape(-1)


class _LayerNormFunction(torch.autograd.Function):
    r"""LayerNorm over the last ``k`` dimensions with the compact backward, per sample over ``D`` values:

    .. math::
        \frac{\partial L}{\partial x} = \mathrm{rstd}
        \Big(g - \mathrm{mean}(g) - \hat{x}\,\mathrm{mean}(g \cdot \hat{x})\Big), \qquad g = \gamma \cdot dy

    Passes over the data are what costs here. The forward keeps ``x_hat`` for the backward (one
    full-size tensor, as the readable path keeps several), so the backward never recomputes it;
    ``dy * x_hat`` is built once in a scratch buffer, every sum is a matrix-vector product
    (``dy @ gamma`` is the row sum of ``g``, ``(dy * x_hat)^T @ 1`` the column sum that is
    ``dgamma``; faster here than ``sum``), and ``dx`` takes three passes.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k: int, eps: float):
        d = 1
        for size in x.shape[x.dim() - k:]:
            d *= size
        x2 = _as_rows(x, d)
        mean = x2.mean(1, keepdim=True)
        x_hat = x2 - mean
        # sqrt(D) / sqrt(||x - mean||^2 + D * eps) = 1 / sqrt(var + eps), from a norm along contiguous rows:
        # one pass, no temporary (var_mean is very slow here), centered first so a large mean costs no digits.
        norm = torch.linalg.vector_norm(x_hat, 2, dim=1, keepdim=True)
        rstd = norm.mul_(norm).add_(d * eps).rsqrt_().mul_(d ** 0.5)
        x_hat.mul_(rstd)
        # LayerNorm has both gamma and beta, gamma alone (bias=False) or neither (elementwise_affine=False).
        if weight is None:
            out = x_hat.clone()
        elif bias is None:
            out = x_hat * _as_vector(weight)
        else:
            out = torch.addcmul(_as_vector(bias), x_hat, _as_vector(weight))
        ctx.save_for_backward(x_hat, rstd, weight)
        ctx.bias_shape = None if bias is None else bias.shape
        return out if out.shape == x.shape else out.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy):
        x_hat, rstd, weight = ctx.saved_tensors
        n, d = x_hat.shape
        needs = ctx.needs_input_grad
        with torch.no_grad():
            dy2 = _as_rows(dy, d)
            dy_xhat = torch.mul(dy2, x_hat, out=_workspace(x_hat))
            ones = dy2.new_ones(n)
            dweight = dbias = dx = None
            if weight is not None and needs[1]:
                dweight = torch.mv(dy_xhat.t(), ones).view(weight.shape)
            if ctx.bias_shape is not None and needs[2]:
                dbias = torch.mv(dy2.t(), ones).view(ctx.bias_shape)
            if needs[0]:
                # -mean(g) and -mean(g * x_hat) per row, as (n, 1) columns.
                if weight is None:
                    minus_mean_g = dy2.mean(1, keepdim=True).neg_()
                    minus_mean_gx = dy_xhat.mean(1, keepdim=True).neg_()
                    dx = torch.add(dy2, minus_mean_g)
                else:
                    w = _as_vector(weight)
                    w_over_d = w * (-1.0 / d)
                    minus_mean_g = torch.mv(dy2, w_over_d).view(n, 1)
                    minus_mean_gx = torch.mv(dy_xhat, w_over_d).view(n, 1)
                    dx = torch.addcmul(minus_mean_g, dy2, w)
                dx.addcmul_(x_hat, minus_mean_gx).mul_(rstd)
                dx = dx if dx.shape == dy.shape else dx.reshape(dy.shape)
        grads = _guard_double_backward("LayerNorm", (dx, dweight, dbias))
        return *grads, None, None




# ------------------------------------------------------------------------------ the layers' fast forwards
# Each checks its input exactly as the readable forward does (the layer's ``_check_forward``), then runs the
# autograd.Function above; inputs too small to gain anything go to the readable forward.


def _batchnorm_forward(layer: cnn._BatchNorm, input: Tensor) -> Tensor:
    use_batch_stats = layer._check_forward(input)
    if input.numel() <= layer.num_features:  # one or no value per channel: the readable path says what is wrong
        return _READABLE[type(layer)](layer, input)
    dtype = cnn._compute_dtype(input)  # float32 for half/bfloat16; a no-op otherwise
    running = (None, None) if use_batch_stats else (layer.running_mean, layer.running_var)
    args = (cnn._as_dtype(t, dtype) for t in (input, layer.weight, layer.bias, *running))
    out, mean, var = _BatchNormFunction.apply(*args, layer.eps)
    if use_batch_stats and layer._updates_running_stats():
        layer._update_running_stats(mean, var, input.numel() // layer.num_features)
    return out.to(input.dtype)


def _layernorm_forward(layer: cnn.LayerNorm, input: Tensor) -> Tensor:
    k = layer._check_forward(input)
    if input.numel() == 0:
        return _READABLE[type(layer)](layer, input)
    dtype = cnn._compute_dtype(input)  # float32 for half/bfloat16; a no-op otherwise
    x, weight, bias = (cnn._as_dtype(t, dtype) for t in (input, layer.weight, layer.bias))
    return _LayerNormFunction.apply(x, weight, bias, k, layer.eps).to(input.dtype)


class _SwitchedForward:
    """A class's ``forward``: the readable one, or the fast one when the switch says so for this layer.

    Read from the class (``BatchNorm1d.forward``, ``inspect.getsource``) it is the readable forward."""

    def __init__(self, readable: Callable, fast: Callable) -> None:
        self.readable, self.fast = readable, fast

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self.readable
        chosen = self.fast if has_fast_path(obj) and fast_path_enabled(obj) else self.readable
        return types.MethodType(chosen, obj)


FAST_CLASSES: dict[type, Callable[[nn.Module, Tensor], Tensor]] = {
    cnn.BatchNorm1d: _batchnorm_forward,
    cnn.BatchNorm2d: _batchnorm_forward,
    cnn.SyncBatchNorm: _batchnorm_forward,  # reached only outside a distributed job (super().forward)
    cnn.LayerNorm: _layernorm_forward,
}
"""Exactly the classes with a fast path, and their fast forward. A subclass is not one of them."""

_READABLE: dict[type, Callable] = {}


def has_fast_path(layer: nn.Module | type) -> bool:
    """Whether ``layer`` (or a class) has a fast path: exactly one of :data:`FAST_CLASSES`, not a subclass."""
    return (layer if isinstance(layer, type) else type(layer)) in FAST_CLASSES


def install() -> None:
    """Give every class of :data:`FAST_CLASSES` the ``fast`` switch and the switched ``forward``.

    The descriptor goes on the class that defines the readable forward (``_BatchNorm`` for BatchNorm1d/2d,
    so that SyncBatchNorm's ``super().forward`` meets it too); which layers take the fast path is decided
    per call by :func:`has_fast_path`, so a subclass keeps its readable (and possibly overridden) code."""
    for cls in FAST_CLASSES:
        owner = next(c for c in cls.__mro__ if "forward" in c.__dict__ and c is not cnn.SyncBatchNorm)
        readable = owner.__dict__["forward"]
        if isinstance(readable, _SwitchedForward):
            readable = readable.readable
        else:
            owner.forward = _SwitchedForward(readable, _fast_dispatch)
        _READABLE[cls] = readable
        if "fast" not in owner.__dict__:
            owner.fast = _FastSetting()
            owner.fast.__set_name__(owner, "fast")


def _fast_dispatch(layer: nn.Module, input: Tensor) -> Tensor:
    return FAST_CLASSES[type(layer)](layer, input)
