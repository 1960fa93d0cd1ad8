"""Dropout, BatchNorm and LayerNorm written out in plain tensor arithmetic.

These classes are drop-in replacements for ``torch.nn.Dropout``, ``torch.nn.BatchNorm1d``,
``torch.nn.BatchNorm2d`` and ``torch.nn.LayerNorm``: same constructor arguments, same parameter and
buffer names (so ``state_dict``s load both ways), same train/eval behaviour and the same ``repr``.
The difference is that every step is visible: no call into ``torch.nn.functional``'s fused kernels,
so you can read the forward pass line by line and autograd derives the backward pass for you.

The error messages are deliberately more helpful than torch's: they name the offending argument and
say how to fix it.

Two paths: readable and fast
----------------------------
The ``forward`` you read is written for people: one line per formula, and autograd records every
step. That makes it several times slower than torch.nn (each step allocates a full-size tensor that
autograd keeps), which hurts when a notebook trains dozens of models. So BatchNorm1d/2d and LayerNorm
also have a *fast path*: a ``torch.autograd.Function`` whose backward is the compact formula derived in
the BatchNorm notebook,

    dx = (1/N) * gamma * rstd * (N * dy - sum(dy) - x_hat * sum(dy * x_hat)),

computed with in-place operations and reused scratch buffers (GroupNorm, RMSNorm and InstanceNorm
have the readable path only). Both paths give the same values,
gradients and running statistics (tests/test_nn_fast.py checks them against each other and torch).
Choose it with ``with course_utils.nn.fast_path(): ...``, ``course_utils.nn.set_fast_path(True)``,
per layer with ``layer.fast = True`` (``False`` pins the readable path), or
``make_mlp(..., reference_layers=True, fast=True)``. The switch is not a constructor argument, so the
signature, ``repr`` and ``state_dict`` stay exactly torch's. The fast path cannot be differentiated
twice (``create_graph=True`` then a second backward); it says so and the readable path can.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .validation import check_bool, check_int, check_number

__all__ = [
    "Dropout",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "fast_path",
    "set_fast_path",
    "fast_path_enabled",
]


def _check_bool(name: str, value: object) -> bool:
    # True/False only: torch tolerates 0/1 (and any truthy string would silently mean True), but a
    # learner who writes affine="no" must hear about it rather than get an affine layer.
    return check_bool(name, value)


def _check_float_tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}. Wrap it: torch.as_tensor(...)."
        )
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype, got {value.dtype}. "
            f"Convert it first: {name}.float() (or .double())."
        )
    return value


def _register_affine(module: nn.Module, shape, affine: bool, bias: bool, factory: dict) -> None:
    """Learnable gamma (``weight``, starts at 1) and beta (``bias``, starts at 0) of ``shape``; registered as
    None where switched off, like torch, so the attribute exists but is absent from ``state_dict()``.
    gamma = 1, beta = 0 makes the layer start out as "just normalize"."""
    if affine:
        module.weight = nn.Parameter(torch.ones(shape, **factory))
        if bias:
            module.bias = nn.Parameter(torch.zeros(shape, **factory))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module: nn.Module) -> None:
    if module.weight is not None:
        nn.init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)


def _check_trailing_shape(input: Tensor, normalized_shape: tuple[int, ...], layer: str) -> int:
    """LayerNorm-style layers normalize over the *last* ``len(normalized_shape)`` dimensions; returns that count."""
    k = len(normalized_shape)
    if input.dim() < k or tuple(input.shape[-k:]) != normalized_shape:
        raise ValueError(
            f"input of shape {tuple(input.shape)} does not end with normalized_shape="
            f"{normalized_shape}. {layer} normalizes over the *last* dimensions: permute the "
            f"input or build {layer}({tuple(input.shape[-k:]) if input.dim() >= k else '...'})."
        )
    return k


_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _check_same_dtype(name: str, value: Tensor, module: nn.Module) -> None:
    # torch refuses mixed dtypes too (with a RuntimeError deep in the kernel); silently promoting would
    # hand back float64 outputs from a float32 model, so we refuse with a clear message instead. The one
    # mix torch's CPU kernels accept is a half/bfloat16 input into float32 parameters and buffers (what
    # torch.autocast produces): computed in float32, returned in the input's dtype, and so here.
    for tensor in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
        if tensor.is_floating_point() and tensor.dtype != value.dtype:
            if value.dtype in _LOW_PRECISION and tensor.dtype == torch.float32:
                continue
            raise TypeError(
                f"{name} has dtype {value.dtype} but the layer's parameters and buffers are {tensor.dtype}. "
                f"Convert one of them: {name}.to({tensor.dtype}) or layer.to({value.dtype})."
            )


def _compute_dtype(t: Tensor) -> torch.dtype:
    """The dtype statistics are computed in: float32 for half/bfloat16, as torch's kernels do.

    Squares of half-precision values overflow at |x| > 256 (65504 is float16's largest number) and their
    sums lose every digit long before that; float32 has room for both."""
    return torch.float32 if t.dtype in _LOW_PRECISION else t.dtype


def _as_dtype(t: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    """``t`` in ``dtype`` (the same tensor when it already is; differentiable; None stays None)."""
    return None if t is None else t.to(dtype)


def _check_eps(eps: object) -> float:
    # Same rule as torch's constructors: eps >= 0. A zero eps is only a problem where a variance (or
    # mean square) is 0 too; _refuse_zero_spread says so in the forward pass, where it happens.
    if check_number("eps", eps) < 0:
        raise ValueError(
            f"eps must be >= 0, got {eps!r}. It is added to the variance (or mean square) before the sqrt "
            "so that a constant input does not divide by zero; the usual value is 1e-5."
        )
    return eps  # type: ignore[return-value]  (stored as given, so repr() matches torch)


def _refuse_zero_spread(spread: Tensor, eps: float, layer: str, what: str = "variance (a constant group)") -> None:
    """With ``eps == 0`` a constant group (``spread`` 0) would be divided by sqrt(0): NaN or inf far from the
    cause. Checked only when eps is 0 (one extra comparison there, none otherwise)."""
    if eps == 0 and bool((spread == 0).any()):
        raise ValueError(
            f"{layer} was built with eps=0 and got an input whose {what} is 0 somewhere, "
            f"so it would divide by sqrt(0) = 0. Build the layer with eps > 0 (the usual value is 1e-5)."
        )


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
        obj.__dict__[self.key] = value


# ------------------------------------------------------------------------------------------ fast path
# The classes below are written for reading: autograd records every step and derives the backward
# pass. The fast path computes the same thing with a hand-derived backward (the compact formula of
# notebook 03) in a torch.autograd.Function that reuses its buffers. See the module docstring.

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


class Dropout(nn.Module):
    r"""Randomly zero elements during training (inverted dropout); identity in eval mode.

    In training mode every element is kept with probability ``1 - p`` and zeroed with probability ``p``,
    independently. Kept elements are scaled up:

    .. math::
        y = \frac{m \odot x}{1 - p}, \qquad m_i \sim \mathrm{Bernoulli}(1 - p)

    Why scale by ``1 / (1 - p)``? Then :math:`\mathbb{E}[y] = x`, so the next layer sees inputs of the same
    size in training and in evaluation, and evaluation can simply skip dropout (``y = x``) without any
    rescaling of the weights. This "inverted" form is what torch uses.

    Args:
        p: probability of *dropping* (zeroing) an element, in [0, 1]. Default 0.5. (cs231n and the
            original paper use the *keep* probability instead; keep = 1 - p.)
        inplace: overwrite the input tensor instead of allocating a new one. Default False.

    With the same ``torch.manual_seed`` this layer draws exactly the same mask as ``torch.nn.Dropout``
    on CPU, because both draw it with ``bernoulli_(1 - p)`` on a tensor shaped like the input.
    """

    p: float
    inplace: bool

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        """Create the layer; see the class docstring for the arguments."""
        super().__init__()
        value = check_number("p", p)
        if not 0 <= value <= 1:
            # Same wording as torch, so a learner's search for the message finds the same answers.
            raise ValueError(
                f"dropout probability has to be between 0 and 1, but got {p} "
                "(argument p is the probability of *dropping* a unit; a keep probability q is p = 1 - q)."
            )
        # Keep the value exactly as given so that repr() matches torch.nn.Dropout.
        self.p = p
        self.inplace = _check_bool("inplace", inplace)

    def forward(self, input: Tensor) -> Tensor:
        _check_float_tensor("input", input)
        if not self.training or self.p == 0:
            # Expected value is already x: nothing to do (torch also returns the very same tensor).
            return input
        if self.p == 1:
            # Everything is dropped; 1 / (1 - p) would be a division by zero.
            mask = input.new_zeros(())
        else:
            keep = torch.empty_like(input).bernoulli_(1 - self.p)
            mask = keep.div_(1 - self.p)
        return input.mul_(mask) if self.inplace else input * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _BatchNorm(nn.Module):
    r"""Shared code of BatchNorm1d and BatchNorm2d (they differ only in the accepted input ranks)."""

    _version = 2  # same as torch's _NormBase, so older-format state_dicts are treated identically
    _allowed_dims: tuple[int, ...] = ()
    _shape_hint: str = ""

    fast = _FastSetting()  # True/False pins the fast/readable path; None (the default) follows fast_path()
    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        """Create the layer; see the class docstring for the arguments."""
        super().__init__()
        self.num_features = check_int("num_features", num_features, minimum=1)
        if check_number("eps", eps) < 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}. It is added to the variance before the sqrt.")
        if momentum is not None and not 0 <= check_number("momentum", momentum) <= 1:
            raise ValueError(
                f"momentum must be in [0, 1] or None, got {momentum!r}. It is the weight of the newest batch "
                "in the running averages; None means a plain (cumulative) average over all batches."
            )
        # Values are stored as given so that repr() is identical to torch's.
        self.eps = eps
        self.momentum = momentum
        self.affine = _check_bool("affine", affine)
        self.track_running_stats = _check_bool("track_running_stats", track_running_stats)
        _check_bool("bias", bias)
        factory = {"device": device, "dtype": dtype}

        _register_affine(self, num_features, self.affine, bias, factory)

        if self.track_running_stats:
            # Buffers, not parameters: they are saved in the state_dict and moved by .to(), but the
            # optimizer never touches them; they are updated by the forward pass itself.
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            # Registered as None (like torch) so the attribute exists but is absent from state_dict().
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Forget all batches seen so far: running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset running statistics and set weight (gamma) to 1 and bias (beta) to 0."""
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input: Tensor) -> None:
        _check_float_tensor("input", input)
        name = type(self).__name__
        if input.dim() not in self._allowed_dims:
            raise ValueError(
                f"{name} expects input of shape {self._shape_hint}, got a {input.dim()}D input of shape "
                f"{tuple(input.shape)}. Reshape the input (e.g. add the batch dimension with "
                "input.unsqueeze(0)) or use the BatchNorm class for your input's rank."
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"input has {input.shape[1]} channels in dimension 1 (shape {tuple(input.shape)}) but "
                f"{name} was built with num_features={self.num_features}. Channels must be dimension 1; "
                f"either permute the input or create {name}({input.shape[1]})."
            )
        _check_same_dtype("input", input, self)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        # Mini-batch statistics in training; also in eval when no running statistics exist.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        if use_batch_stats and self.eps <= 0:
            # Same rule (and wording) as torch: a constant channel has variance 0, and 0 / sqrt(0 + eps)
            # is NaN unless eps > 0. In eval mode the running variance is used instead, so eps = 0 is allowed.
            raise ValueError(
                f"batch_norm eps must be positive during training, but got {self.eps}. "
                "Create the layer with eps > 0 (default 1e-5), e.g. "
                f"{type(self).__name__}({self.num_features}, eps=1e-5)."
            )
        if not use_batch_stats:
            what = "running variance (a constant channel)"
            _refuse_zero_spread(self.running_var, self.eps, type(self).__name__, what)
        if fast_path_enabled(self) and input.numel() > self.num_features:
            return self._forward_fast(input)  # same numbers, hand-written backward (see fast_path)
        # Half/bfloat16 inputs are computed in float32 (see _compute_dtype); a no-op otherwise.
        dtype = _compute_dtype(input)
        x = input.to(dtype)
        # Statistics are per channel: average over every dimension except dimension 1 (channels).
        reduce_dims = [0, *range(2, x.dim())]
        # Shape (1, C, 1, ...) so that per-channel vectors broadcast against the input.
        channel_shape = [1, self.num_features] + [1] * (x.dim() - 2)
        update_running = self.training and self.track_running_stats and self.running_mean is not None

        if use_batch_stats:
            n = x.numel() // self.num_features  # values per channel
            if n == 1:
                raise ValueError(
                    f"Expected more than 1 value per channel when training, got input size {input.size()}. "
                    "The variance of a single value is 0, so the input would be normalized to all zeros: "
                    "use a batch with more than one sample, or call .eval() to use the running statistics."
                )
            mean = x.mean(dim=reduce_dims, keepdim=True)
            centered = x - mean
            # Centered two-pass formula: E[(x - mean)^2] does not suffer the catastrophic cancellation
            # of E[x^2] - E[x]^2 when the mean is large compared with the spread.
            var = (centered * centered).mean(dim=reduce_dims, keepdim=True)
            if update_running:
                self._update_running_stats(mean, var, n)
        else:
            mean = self.running_mean.to(dtype).reshape(channel_shape)
            var = self.running_var.to(dtype).reshape(channel_shape)
            centered = x - mean

        x_hat = centered * torch.rsqrt(var + self.eps)
        out = x_hat
        if self.weight is not None:
            out = out * self.weight.to(dtype).reshape(channel_shape)
        if self.bias is not None:
            out = out + self.bias.to(dtype).reshape(channel_shape)
        return out.to(input.dtype)

    def _forward_fast(self, input: Tensor) -> Tensor:
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        dtype = _compute_dtype(input)  # float32 for half/bfloat16; a no-op otherwise
        running = (None, None) if use_batch_stats else (self.running_mean, self.running_var)
        args = (_as_dtype(t, dtype) for t in (input, self.weight, self.bias, *running))
        out, mean, var = _BatchNormFunction.apply(*args, self.eps)
        if use_batch_stats and self.training and self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean, var, input.numel() // self.num_features)
        return out.to(input.dtype)

    def _update_running_stats(self, mean: Tensor, var: Tensor, n: int) -> None:
        # The running statistics are estimates of the whole data set's statistics, not part of the
        # computation graph: no gradient flows into them.
        with torch.no_grad():
            # Counted even for an empty batch, exactly like torch (its module counts before the kernel runs).
            self.num_batches_tracked.add_(1)
            if n == 0:
                # An empty batch has no statistics (its mean is 0/0 = NaN): torch leaves the running
                # averages unchanged, and so do we. One empty batch must never poison them for good.
                return
            if self.momentum is None:
                # Cumulative moving average: after k batches each batch has weight 1/k.
                factor = 1.0 / float(self.num_batches_tracked)
            else:
                factor = float(self.momentum)
            # Normalizing uses the biased variance (divide by n) of *this* batch, but the running
            # variance estimates the *population* variance, for which dividing by n - 1 is unbiased
            # (Bessel's correction): with small batches the biased version would systematically
            # under-estimate the variance used at evaluation time.
            unbiased_var = var * (n / (n - 1))
            _blend_into(self.running_mean, mean.reshape(-1), factor)
            _blend_into(self.running_var, unbiased_var.reshape(-1), factor)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        # Same compatibility rule as torch: state_dicts saved before num_batches_tracked existed
        # (version < 2) keep the layer's current counter instead of failing with a "missing key" error.
        version = local_metadata.get("version", None)
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            current = self.num_batches_tracked
            state_dict[key] = current if current is not None else torch.tensor(0, dtype=torch.long)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


def _blend_into(running: Tensor, new: Tensor, factor: float) -> None:
    """``running = (1 - factor) * running + factor * new`` in place, computed in float32 at least: a
    float16 buffer would otherwise overflow on a batch variance above 65504 that the average never reaches."""
    dtype = _compute_dtype(running)
    if dtype == running.dtype and new.dtype == dtype:
        running.mul_(1 - factor).add_(new, alpha=factor)
    else:
        running.copy_(running.to(dtype).mul(1 - factor).add(new.to(dtype), alpha=factor))


class BatchNorm1d(_BatchNorm):
    r"""Batch normalization over a (N, C) or (N, C, L) input, per channel C.

    In training mode each channel is normalized with the mean and the *biased* variance of the current
    mini-batch (over N, and over L for 3D inputs), then scaled and shifted by learnable
    ``weight`` (gamma) and ``bias`` (beta):

    .. math::
        \hat{x} = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}, \qquad y = \gamma \hat{x} + \beta

    Why? Keeping every layer's inputs at mean 0 and variance 1 makes optimization much less sensitive to
    the scale of the weights and allows larger learning rates; gamma and beta let the network undo the
    normalization where that helps.

    The layer also keeps running averages (``running_mean``, ``running_var``) updated as
    ``running = (1 - momentum) * running + momentum * batch_statistic``. The batch variance stored
    there is the *unbiased* one (times n / (n - 1)) because it estimates the population variance.
    In eval mode those running averages replace the batch statistics, so a prediction does not depend
    on the other samples in the batch. ``momentum=None`` gives a plain average over all batches seen
    (using ``num_batches_tracked``). With ``track_running_stats=False`` batch statistics are always used.

    Args:
        num_features: number of channels C (dimension 1 of the input).
        eps: added to the variance before the square root, to avoid dividing by zero. Default 1e-5.
        momentum: weight of the newest batch in the running averages, or None. Default 0.1.
        affine: learn gamma (``weight``) and beta (``bias``). Default True.
        track_running_stats: keep running averages for eval mode. Default True.
        device, dtype: where and in which precision to create parameters and buffers.
        bias: (keyword only, as in torch 2.13) learn beta when ``affine``. Default True.

    Speed: ``layer.fast = True`` (or ``with course_utils.nn.fast_path():``) switches to the same
    computation with a hand-written backward, close to torch's speed; see the module docstring.
    """

    _allowed_dims = (2, 3)
    _shape_hint = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    r"""Batch normalization over a (N, C, H, W) input, per channel C.

    Same as :class:`BatchNorm1d` (see there for the formulas and the meaning of every argument), but
    the statistics of each channel are taken over the batch *and* all spatial positions (N, H, W):
    every pixel of a feature map is treated as another sample of that channel. Works for both
    contiguous and ``channels_last`` inputs.
    """

    _allowed_dims = (4,)
    _shape_hint = "(N, C, H, W)"


class LayerNorm(nn.Module):
    r"""Layer normalization: normalize each sample over its last ``len(normalized_shape)`` dimensions.

    .. math::
        \hat{x} = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}}, \qquad
        y = \gamma \odot \hat{x} + \beta

    Mean and (biased) variance are computed per sample over the trailing dimensions given by
    ``normalized_shape``, e.g. over the features of each token in a transformer. Unlike BatchNorm
    nothing depends on the other samples in the batch, so there are no running statistics and training
    and eval mode behave identically, even with a batch of one. ``weight`` (gamma) and ``bias`` (beta)
    have shape ``normalized_shape``: one scale and shift per element, not per channel.

    Args:
        normalized_shape: size of the last dimension (int) or of the last few dimensions (tuple).
        eps: added to the variance before the square root. Default 1e-5.
        elementwise_affine: learn gamma and beta. Default True.
        bias: learn beta (only when ``elementwise_affine``). Default True.
        device, dtype: where and in which precision to create the parameters.

    Speed: ``layer.fast = True`` (or ``with course_utils.nn.fast_path():``) switches to the same
    computation with a hand-written backward, close to torch's speed; see the module docstring.
    """

    fast = _FastSetting()  # True/False pins the fast/readable path; None (the default) follows fast_path()
    normalized_shape: tuple[int, ...]
    eps: float
    elementwise_affine: bool

    def __init__(
        self,
        normalized_shape: int | Sequence[int] | torch.Size,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        """Create the layer; see the class docstring for the arguments."""
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, Sequence) or len(normalized_shape) == 0:
            raise TypeError(
                f"normalized_shape must be an int or a non-empty tuple of ints (the trailing dimensions to "
                f"normalize over), got {normalized_shape!r}."
            )
        self.normalized_shape = tuple(
            check_int(f"normalized_shape[{i}]", size, minimum=1) for i, size in enumerate(normalized_shape)
        )
        self.eps = _check_eps(eps)
        self.elementwise_affine = _check_bool("elementwise_affine", elementwise_affine)
        _check_bool("bias", bias)
        factory = {"device": device, "dtype": dtype}
        _register_affine(self, self.normalized_shape, self.elementwise_affine, bias, factory)

    def reset_parameters(self) -> None:
        """Set weight (gamma) to 1 and bias (beta) to 0."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        _check_float_tensor("input", input)
        k = _check_trailing_shape(input, self.normalized_shape, "LayerNorm")
        _check_same_dtype("input", input, self)
        dtype = _compute_dtype(input)  # float32 for half/bfloat16 (see _compute_dtype); a no-op otherwise
        x, weight, bias = (_as_dtype(t, dtype) for t in (input, self.weight, self.bias))
        dims = tuple(range(-k, 0))
        if self.eps == 0:
            _refuse_zero_spread(x.var(dim=dims, unbiased=False), self.eps, "LayerNorm")
        if fast_path_enabled(self) and input.numel() > 0:
            return _LayerNormFunction.apply(x, weight, bias, k, self.eps).to(input.dtype)  # see fast_path
        mean = x.mean(dim=dims, keepdim=True)
        centered = x - mean
        # Centered variance: numerically stable even when the mean is large (see BatchNorm1d).
        var = (centered * centered).mean(dim=dims, keepdim=True)
        out = centered * torch.rsqrt(var + self.eps)
        if weight is not None:
            out = out * weight
        if bias is not None:
            out = out + bias
        return out.to(input.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


# ------------------------------------------------------------------------------ the normalization family
# GroupNorm, RMSNorm, InstanceNorm1d/2d: the same "subtract a mean, divide by a spread" as the layers above,
# with the statistics taken over different axes (Wu & He 2018, Fig. 2). Notebook 04 compares them.


def _normalized_shape_tuple(normalized_shape: object) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, Sequence) or len(normalized_shape) == 0:
        raise TypeError(
            f"normalized_shape must be an int or a non-empty tuple of ints (the trailing dimensions to "
            f"normalize over), got {normalized_shape!r}."
        )
    return tuple(
        check_int(f"normalized_shape[{i}]", size, minimum=1) for i, size in enumerate(normalized_shape)
    )


class GroupNorm(nn.Module):
    r"""Group normalization: split the C channels of each sample into groups and normalize each group.

    For an input of shape (N, C, \*) the channels are split into ``num_groups`` groups of
    ``C // num_groups`` consecutive channels; mean and biased variance are taken per sample and per group,
    over the group's channels and all spatial positions:

    .. math::
        \hat{x} = \frac{x - \mu_{n,g}}{\sqrt{\sigma^2_{n,g} + \epsilon}}, \qquad y = \gamma_c \hat{x} + \beta_c

    The two ends of the family are special cases: ``num_groups=1`` is LayerNorm over (C, \*) with one
    gamma/beta per channel, ``num_groups=C`` is InstanceNorm. Like LayerNorm nothing depends on the other
    samples in the batch (Wu & He 2018), so the layer behaves the same in train and eval mode and with any
    batch size.

    Args:
        num_groups: number of groups G; must divide ``num_channels``.
        num_channels: number of channels C (dimension 1 of the input).
        eps: added to the variance before the square root, >= 0 (0 refuses a constant group). Default 1e-5.
        affine: learn a per-channel gamma (``weight``) and beta (``bias``). Default True.
        device, dtype: where and in which precision to create the parameters.
        bias: (keyword only) learn beta when ``affine``. Default True.
    """

    num_groups: int
    num_channels: int
    eps: float
    affine: bool

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        """Create the layer; see the class docstring for the arguments."""
        super().__init__()
        self.num_groups = check_int("num_groups", num_groups, minimum=1)
        self.num_channels = check_int("num_channels", num_channels, minimum=1)
        if num_channels % num_groups != 0:
            divisors = [g for g in range(1, num_channels + 1) if num_channels % g == 0]
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups}): every group "
                f"holds the same number of channels. Choose num_groups from {divisors}."
            )
        self.eps = _check_eps(eps)
        self.affine = _check_bool("affine", affine)
        _check_bool("bias", bias)
        factory = {"device": device, "dtype": dtype}
        _register_affine(self, num_channels, self.affine, bias, factory)

    def reset_parameters(self) -> None:
        """Set weight (gamma) to 1 and bias (beta) to 0."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        _check_float_tensor("input", input)
        if input.dim() < 2:
            raise ValueError(
                f"GroupNorm expects input of shape (N, C, *), got a {input.dim()}D input of shape "
                f"{tuple(input.shape)}. Add the batch dimension: input.unsqueeze(0)."
            )
        n, c = input.shape[0], input.shape[1]
        if c != self.num_channels:
            raise ValueError(
                f"input has {c} channels in dimension 1 (shape {tuple(input.shape)}) but GroupNorm was built "
                f"with num_channels={self.num_channels}. Channels must be dimension 1; either permute the "
                f"input or create GroupNorm(num_groups, {c})."
            )
        _check_same_dtype("input", input, self)
        per_group = (c // self.num_groups) * math.prod(input.shape[2:])
        if n * per_group == 1:
            # Same condition and wording as torch: one sample whose group holds a single value.
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {list(input.shape)}. "
                "Each group holds a single value, whose variance is 0: use fewer groups or more channels."
            )
        # (N, G, values of one group): the group's channels and all spatial positions are contiguous
        # in memory order, so a reshape (not a permute) gathers them.
        dtype = _compute_dtype(input)  # float32 for half/bfloat16 (see _compute_dtype); a no-op otherwise
        x = input.to(dtype).reshape(n, self.num_groups, per_group)
        mean = x.mean(dim=-1, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(dim=-1, keepdim=True)
        _refuse_zero_spread(var, self.eps, "GroupNorm")
        out = (centered * torch.rsqrt(var + self.eps)).reshape(input.shape)
        channel_shape = [1, c] + [1] * (input.dim() - 2)
        if self.weight is not None:
            out = out * self.weight.to(dtype).reshape(channel_shape)
        if self.bias is not None:
            out = out + self.bias.to(dtype).reshape(channel_shape)
        return out.to(input.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(nn.Module):
    r"""Root-mean-square normalization (Zhang & Sennrich 2019): LayerNorm without the re-centering.

    .. math::
        y = \frac{x}{\sqrt{\mathrm{mean}(x^2) + \epsilon}} \odot \gamma

    The mean square is taken per sample over the last ``len(normalized_shape)`` dimensions. There is no
    mean subtraction and no beta: cheaper than LayerNorm, and in practice about as good, which is why
    current large language models (LLaMA, Mistral, ...) use it.

    Args:
        normalized_shape: size of the last dimension (int) or of the last few dimensions (tuple).
        eps: added to the mean square before the square root, >= 0; ``None`` (the default, as in torch)
            means ``torch.finfo(input.dtype).eps``, float32's for half/bfloat16 inputs (computed in float32).
        elementwise_affine: learn gamma (``weight``). Default True.
        device, dtype: where and in which precision to create the parameters.
    """

    normalized_shape: tuple[int, ...]
    eps: float | None
    elementwise_affine: bool

    def __init__(
        self,
        normalized_shape: int | Sequence[int] | torch.Size,
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        """Create the layer; see the class docstring for the arguments."""
        super().__init__()
        self.normalized_shape = _normalized_shape_tuple(normalized_shape)
        self.eps = None if eps is None else _check_eps(eps)
        self.elementwise_affine = _check_bool("elementwise_affine", elementwise_affine)
        if self.elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """Set weight (gamma) to 1."""
        if self.weight is not None:
            nn.init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        _check_float_tensor("input", input)
        k = _check_trailing_shape(input, self.normalized_shape, "RMSNorm")
        _check_same_dtype("input", input, self)
        # Computed in float32 for half/bfloat16, and the default eps is then float32's, as in torch 2.13
        # (bfloat16's own eps, 0.0078, would swamp the mean square of inputs of size 0.1 or less).
        dtype = _compute_dtype(input)
        x = input.to(dtype)
        eps = torch.finfo(dtype).eps if self.eps is None else self.eps
        dims = tuple(range(-k, 0))
        mean_square = (x * x).mean(dim=dims, keepdim=True)
        _refuse_zero_spread(mean_square, eps, "RMSNorm", "mean square (an all-zero row)")
        out = x * torch.rsqrt(mean_square + eps)
        if self.weight is not None:
            out = out * self.weight.to(dtype)
        return out.to(input.dtype)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _InstanceNorm(_BatchNorm):
    r"""Shared code of InstanceNorm1d/2d: BatchNorm's parameters and buffers, statistics per sample."""

    _spatial_dims: int = 1  # dimensions after C: 1 for (N, C, L), 2 for (N, C, H, W)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        """Create the layer; see the class docstring for the arguments."""
        _check_eps(eps)
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input: Tensor) -> Tensor:
        _check_float_tensor("input", input)
        name = type(self).__name__
        batched = self._spatial_dims + 2
        if input.dim() not in (batched - 1, batched):
            raise ValueError(
                f"{name} expects input of shape {self._shape_hint} (or the same without N), got a "
                f"{input.dim()}D input of shape {tuple(input.shape)}. Reshape the input or use the "
                "InstanceNorm class for your input's rank."
            )
        if input.dim() == batched - 1:
            # Unbatched input: torch treats it as a batch of one.
            return self.forward(input.unsqueeze(0)).squeeze(0)
        if input.shape[1] != self.num_features:
            if self.affine or self.track_running_stats:
                # torch raises too (a ValueError for affine, a RuntimeError deep in the kernel for the stats).
                uses = (
                    "affine=True (one gamma and beta" if self.affine else "track_running_stats=True (one running mean"
                )
                raise ValueError(
                    f"input has {input.shape[1]} channels in dimension 1 (shape {tuple(input.shape)}) but "
                    f"{name} was built with num_features={self.num_features} and {uses} per channel). "
                    f"Permute the input or create {name}({input.shape[1]}, ...)."
                )
            # Without affine parameters num_features is unused; torch only warns, and so do we.
            warnings.warn(
                f"input's size at dim=1 does not match num_features ({self.num_features}) of {name}; "
                "it is not used because affine=False.",
                stacklevel=2,
            )
        _check_same_dtype("input", input, self)
        n, c = input.shape[0], input.shape[1]
        dtype = _compute_dtype(input)  # float32 for half/bfloat16 (see _compute_dtype); a no-op otherwise
        x = input.to(dtype)
        use_input_stats = self.training or not self.track_running_stats
        spatial = [2 + i for i in range(self._spatial_dims)]
        channel_shape = [1, c] + [1] * self._spatial_dims
        if use_input_stats:
            count = math.prod(input.shape[2:])
            if count == 1:
                raise ValueError(
                    f"Expected more than 1 spatial element when training, got input size {input.size()}. "
                    "InstanceNorm normalizes each channel of each sample over its positions; a single "
                    "position has variance 0. Use BatchNorm or LayerNorm for inputs without positions."
                )
            # Statistics per sample AND per channel, over the positions only.
            mean = x.mean(dim=spatial, keepdim=True)
            centered = x - mean
            var = (centered * centered).mean(dim=spatial, keepdim=True)
            if self.training and self.track_running_stats and n > 0:
                with torch.no_grad():
                    # torch averages the per-instance statistics over the batch, stores the unbiased
                    # variance, and passes momentum=None as 0 (so the running stats then never move)
                    # without counting batches.
                    factor = 0.0 if self.momentum is None else float(self.momentum)
                    unbiased = var * (count / (count - 1))
                    _blend_into(self.running_mean, mean.reshape(n, c).mean(0), factor)
                    _blend_into(self.running_var, unbiased.reshape(n, c).mean(0), factor)
        else:
            mean = self.running_mean.to(dtype).reshape(channel_shape)
            var = self.running_var.to(dtype).reshape(channel_shape)
            centered = x - mean
        _refuse_zero_spread(var, self.eps, type(self).__name__)
        out = centered * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            out = out * self.weight.to(dtype).reshape(channel_shape)
        if self.bias is not None:
            out = out + self.bias.to(dtype).reshape(channel_shape)
        return out.to(input.dtype)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        # Same rule as torch: a checkpoint from before torch 0.4 (no version) may carry running stats
        # although InstanceNorm no longer tracks them by default; drop them with an explanation.
        version = local_metadata.get("version", None)
        if version is None and not self.track_running_stats:
            keys = [prefix + k for k in ("running_mean", "running_var") if prefix + k in state_dict]
            if keys:
                error_msgs.append(
                    f"Unexpected running stats buffer(s) {' and '.join(repr(k) for k in keys)} for "
                    f"{type(self).__name__} with track_running_stats=False. Remove these keys from the "
                    "state_dict, or build the layer with track_running_stats=True if you need them."
                )
                for key in keys:
                    state_dict.pop(key)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class InstanceNorm1d(_InstanceNorm):
    r"""Instance normalization over a (N, C, L) or unbatched (C, L) input: per sample and per channel.

    .. math::
        \hat{x}_{n,c,l} = \frac{x_{n,c,l} - \mu_{n,c}}{\sqrt{\sigma^2_{n,c} + \epsilon}}

    Mean and biased variance are taken over the positions L of one channel of one sample: GroupNorm
    with one channel per group. Made for style transfer (Ulyanov et al. 2016), where the contrast of
    each image should be removed. Note torch's defaults, which differ from BatchNorm's:
    ``affine=False`` and ``track_running_stats=False`` (so train and eval behave the same). With
    ``track_running_stats=True`` the batch-averaged instance statistics are tracked like BatchNorm's
    and eval mode uses them (``momentum=None`` then leaves them unchanged, as in torch).

    Args:
        num_features: number of channels C.
        eps: added to the variance before the square root, >= 0 (0 refuses a constant group). Default 1e-5.
        momentum: weight of the newest batch in the running averages. Default 0.1.
        affine: learn per-channel gamma and beta. Default False.
        track_running_stats: keep running averages for eval mode. Default False.
        device, dtype: where and in which precision to create parameters and buffers.
        bias: (keyword only) learn beta when ``affine``. Default True.
    """

    _spatial_dims = 1
    _shape_hint = "(N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    r"""Instance normalization over a (N, C, H, W) or unbatched (C, H, W) input: per sample and channel.

    Same as :class:`InstanceNorm1d` (see there for the formula and the arguments), with the statistics
    of each channel of each image taken over its H x W pixels.
    """

    _spatial_dims = 2
    _shape_hint = "(N, C, H, W)"


# ----------------------------------------------------------------------------- synchronized BatchNorm
# Appended by notebook 03 (data-parallel training). Self-contained apart from _BatchNorm above.

__all__ += ["SyncBatchNorm", "all_reduce_sum"]


class _AllReduceSum(torch.autograd.Function):
    """A differentiable all-reduce (sum): forward sums a tensor over all processes; backward sums the
    incoming gradients over all processes too, because every process's loss depends on the sum and
    so on every process's contribution to it."""

    @staticmethod
    def forward(ctx, tensor: Tensor, group) -> Tensor:
        import torch.distributed as dist

        ctx.group = group
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        import torch.distributed as dist

        grad = grad_output.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def all_reduce_sum(tensor: Tensor, group=None) -> Tensor:
    """Sum ``tensor`` over every process of ``group`` (default: all), differentiably."""
    return _AllReduceSum.apply(tensor, group)


class _AllGather(torch.autograd.Function):
    """Stack ``tensor`` from every process of ``group`` into a ``(world_size, ...)`` tensor, in rank order.

    Backward: every process's loss depends on every row, so the gradient of this process's row is the sum
    over all processes of their gradients for that row: an all-reduce of the gradients, then our row."""

    @staticmethod
    def forward(ctx, tensor: Tensor, group) -> Tensor:
        import torch.distributed as dist

        ctx.group, ctx.rank = group, dist.get_rank(group)
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, tensor.contiguous(), group=group)
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        import torch.distributed as dist

        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.rank], None


def all_gather_stack(tensor: Tensor, group=None) -> Tensor:
    """``tensor`` of every process of ``group`` (default: all), stacked in rank order, differentiably."""
    return _AllGather.apply(tensor, group)


__all__ += ["all_gather_stack"]


class SyncBatchNorm(_BatchNorm):
    r"""BatchNorm whose batch statistics are taken over the whole *global* batch of a data-parallel job.

    Same constructor as ``torch.nn.SyncBatchNorm`` (which refuses CPU tensors). In training, each
    process computes, per channel, the count :math:`n_p`, mean :math:`\mu_p` and sum of squared
    deviations :math:`M_p = \sum (x - \mu_p)^2` of its own values; **one** all-gather hands every process
    all of them, and each merges them in the same order into the global

    .. math::
        n = \sum_p n_p, \qquad \mu = \frac{\sum_p n_p \mu_p}{n}, \qquad
        \sigma^2 = \frac{\sum_p \big(M_p + n_p (\mu_p - \mu)^2\big)}{n}

    (Chan et al.'s pairwise combination, what torch's ``batch_norm_gather_stats_with_counts`` does), then
    normalizes its own examples with them, exactly as one process holding the full batch would. Every
    term is a sum of squares of *deviations*, so a mean of 1e4 or 1e20 costs no digits; the shortcut
    :math:`\sum x^2 / n - \mu^2` would lose them all. The all-gather is differentiable (its backward is
    an all-reduce of the gradients), so gradients also match the full batch.

    Outside a distributed job, and in eval mode (with or without running statistics, as torch), it is an
    ordinary BatchNorm on the process's own batch, so a process that predicts alone never waits for the
    others. :meth:`convert_sync_batchnorm` swaps a model's BatchNorm layers for this one.
    """

    _allowed_dims = (2, 3, 4, 5)
    _shape_hint = "(N, C, ...)"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group=None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        """Create the layer; see the class docstring for the arguments."""
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def _world_size(self) -> int:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.process_group)

    def forward(self, input: Tensor) -> Tensor:
        # Synchronize in training only, as torch.nn.SyncBatchNorm does. (Synchronizing in eval mode too
        # would make a process that evaluates alone wait for the others until the job's timeout.)
        if not self.training or self._world_size() == 1:
            return super().forward(input)
        self._check_input(input)
        if self.eps <= 0:
            raise ValueError(
                f"batch_norm eps must be positive during training, but got {self.eps}. "
                f"Create the layer with eps > 0 (default 1e-5), e.g. SyncBatchNorm({self.num_features}, eps=1e-5)."
            )
        mean, var, n_total = self._global_statistics(input.to(_compute_dtype(input)))
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean.detach(), var.detach(), n_total)
        shape = [1, self.num_features] + [1] * (input.dim() - 2)
        dtype = mean.dtype
        out = (input.to(dtype) - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.weight is not None:
            out = out * self.weight.to(dtype).reshape(shape)
        if self.bias is not None:
            out = out + self.bias.to(dtype).reshape(shape)
        return out.to(input.dtype)

    def _global_statistics(self, x: Tensor) -> tuple[Tensor, Tensor, int]:
        """Per-channel mean and biased variance of the global batch, and its size per channel."""
        c = self.num_features
        reduce_dims = [0, *range(2, x.dim())]
        local_n = x.numel() // c
        shape = [1, c] + [1] * (x.dim() - 2)
        # Shifted by each channel's first value (a constant, so no gradient is lost): the sum of x - shift
        # stays small, so a constant channel at 1e20 has exactly its value as mean instead of one rounded
        # by a sum of 1e21. An empty shard contributes count 0, mean 0 and M 0 (not 0/0 = NaN).
        shift = x.detach()[0].reshape(c, -1)[:, 0] if local_n else x.new_zeros(c)
        local_mean = shift + (x - shift.reshape(shape)).sum(dim=reduce_dims) / max(local_n, 1)
        centered = x - local_mean.reshape(shape)
        local_m2 = (centered * centered).sum(dim=reduce_dims)
        # One message per process: [count | mean (C) | M (C)]; row p of `gathered` is process p's.
        message = torch.cat([x.new_full((1,), float(local_n)), local_mean, local_m2])
        gathered = all_gather_stack(message, self.process_group)
        counts, means, m2s = gathered[:, :1], gathered[:, 1 : c + 1], gathered[:, c + 1 :]
        n = counts.sum()
        n_total = int(round(float(n.detach())))
        if n_total <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel over all processes when training, got {n_total}. "
                "Give the processes more examples per step, or call .eval() to use the running statistics."
            )
        mean = (counts * means).sum(0) / n
        deviation = means - mean
        var = (m2s + counts * deviation * deviation).sum(0) / n
        _refuse_zero_spread(var, self.eps, "SyncBatchNorm")
        return mean, var, n_total

    @classmethod
    def convert_sync_batchnorm(cls, module: nn.Module, process_group=None) -> nn.Module:
        """Replace every BatchNorm layer in ``module`` (torch.nn's and the course's, at any depth) by a
        :class:`SyncBatchNorm` with the same arguments, parameters, running statistics and mode, as
        ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` does. Returns the converted module (a new object
        when ``module`` itself is a BatchNorm; otherwise ``module``, changed in place)."""
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}.")
        converted = module
        is_course_bn = isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm)
        if is_course_bn or isinstance(module, nn.modules.batchnorm._BatchNorm):
            like = module.running_mean if module.running_mean is not None else module.weight
            factory = {} if like is None else {"device": like.device, "dtype": like.dtype}
            converted = cls(
                module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                process_group, bias=module.bias is not None, **factory,
            )  # fmt: skip
            with torch.no_grad():
                for name in ("weight", "bias"):
                    source = getattr(module, name)
                    if source is not None:
                        getattr(converted, name).copy_(source)
                        getattr(converted, name).requires_grad_(source.requires_grad)
                if module.track_running_stats:
                    for name in ("running_mean", "running_var", "num_batches_tracked"):
                        getattr(converted, name).copy_(getattr(module, name))
            converted.train(module.training)
            converted.fast = getattr(module, "fast", None)  # a pinned path stays pinned
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
