"""Dropout, BatchNorm and LayerNorm written out in plain tensor arithmetic.

These classes are drop-in replacements for ``torch.nn.Dropout``, ``torch.nn.BatchNorm1d``,
``torch.nn.BatchNorm2d`` and ``torch.nn.LayerNorm``: same constructor arguments, same parameter and
buffer names (so ``state_dict``s load both ways), same train/eval behaviour and the same ``repr``.
The difference is that every step is visible: no call into ``torch.nn.functional``'s fused kernels,
so you can read the forward pass line by line and autograd derives the backward pass for you.

The error messages are deliberately more helpful than torch's: they name the offending argument and
say how to fix it.

Speed
-----
BatchNorm1d/2d and LayerNorm also have a *fast path* (same numbers, hand-written backward) for notebooks
that train many models: ``with course_utils.nn.fast_path(): ...`` or ``layer.fast = True``. It lives in
:mod:`course_utils.nn_fast`, which also says how it is switched: the forwards below never mention it
and the last lines of this file install it.
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
    on the course's numeric path (``setup_notebook``), because both draw one float64 uniform number per
    element and keep it below ``1 - p``; that is also what torch's own ``bernoulli_(1 - p)`` does on AMD and
    ARM CPUs (on Intel CPUs it draws from MKL: :func:`course_utils.numeric.portable_dropout`).
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
            # Keep an element when its uniform number is below 1 - p. Drawn in float64 into a tensor laid out like
            # the input, this is exactly what torch's bernoulli_(1 - p) draws on AMD and ARM CPUs; on Intel torch
            # draws from MKL instead, so the course draws it this way everywhere (numeric.portable_dropout).
            uniform = torch.empty_like(input, dtype=torch.float64).uniform_()
            keep = (uniform < 1 - self.p).to(input.dtype)
            mask = keep.div_(1 - self.p)
        return input.mul_(mask) if self.inplace else input * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _NormBase(nn.Module):
    r"""What BatchNorm and InstanceNorm share, as in torch: per-channel gamma and beta, the running
    statistics buffers, their reset and the rule for old state_dicts. The forwards are the subclasses'."""

    _version = 2  # same as torch's _NormBase, so older-format state_dicts are treated identically
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

    # The train/eval rule, written once: statistics of the input in training, and in eval mode too when
    # there are no running statistics; the running statistics move in training only, and only if tracked.
    def _uses_input_stats(self) -> bool:
        return self.training or (self.running_mean is None and self.running_var is None)

    def _updates_running_stats(self) -> bool:
        return self.training and self.track_running_stats and self.running_mean is not None

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


class _BatchNorm(_NormBase):
    r"""Shared code of BatchNorm1d and BatchNorm2d (they differ only in the accepted input ranks)."""

    _allowed_dims: tuple[int, ...] = ()
    _shape_hint: str = ""

    def _check_forward(self, input: Tensor) -> bool:
        """Every check of the input and of eps, in one call; returns whether the batch's statistics are used."""
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
        use_batch_stats = self._uses_input_stats()
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
        return use_batch_stats

    def forward(self, input: Tensor) -> Tensor:
        use_batch_stats = self._check_forward(input)
        # Half/bfloat16 inputs are computed in float32 (see _compute_dtype); a no-op otherwise.
        x = input.to(_compute_dtype(input))
        # Shape (1, C, 1, ...) so that per-channel vectors broadcast against the input.
        channel_shape = [1, self.num_features] + [1] * (x.dim() - 2)
        if use_batch_stats:
            centered, var = self._batch_statistics(x)
        else:
            mean = self.running_mean.to(x.dtype).reshape(channel_shape)
            var = self.running_var.to(x.dtype).reshape(channel_shape)
            centered = x - mean
        x_hat = centered * torch.rsqrt(var + self.eps)
        out = x_hat
        if self.weight is not None:
            out = out * self.weight.to(x.dtype).reshape(channel_shape)
        if self.bias is not None:
            out = out + self.bias.to(x.dtype).reshape(channel_shape)
        return out.to(input.dtype)

    def _batch_statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x - mean`` and the biased variance of each channel over the batch (and positions), shaped to
        broadcast against ``x``; in training they also move the running statistics."""
        n = x.numel() // self.num_features  # values per channel
        if n == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.size()}. "
                "The variance of a single value is 0, so the input would be normalized to all zeros: "
                "use a batch with more than one sample, or call .eval() to use the running statistics."
            )
        # Statistics are per channel: average over every dimension except dimension 1 (channels).
        reduce_dims = [0, *range(2, x.dim())]
        mean = x.mean(dim=reduce_dims, keepdim=True)
        centered = x - mean
        # Centered two-pass formula: E[(x - mean)^2] does not suffer the catastrophic cancellation
        # of E[x^2] - E[x]^2 when the mean is large compared with the spread.
        var = (centered * centered).mean(dim=reduce_dims, keepdim=True)
        if self._updates_running_stats():
            self._update_running_stats(mean, var, n)
        return centered, var

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
    computation with a hand-written backward, close to torch's speed; see :mod:`course_utils.nn_fast`.
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
    computation with a hand-written backward, close to torch's speed; see :mod:`course_utils.nn_fast`.
    """

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
        self.normalized_shape = _normalized_shape_tuple(normalized_shape)
        self.eps = _check_eps(eps)
        self.elementwise_affine = _check_bool("elementwise_affine", elementwise_affine)
        _check_bool("bias", bias)
        factory = {"device": device, "dtype": dtype}
        _register_affine(self, self.normalized_shape, self.elementwise_affine, bias, factory)

    def reset_parameters(self) -> None:
        """Set weight (gamma) to 1 and bias (beta) to 0."""
        _reset_affine(self)

    def _check_forward(self, input: Tensor) -> int:
        """Every check of the input (and of eps = 0 against a constant row), in one call; returns the number
        of trailing dimensions normalized over."""
        _check_float_tensor("input", input)
        k = _check_trailing_shape(input, self.normalized_shape, "LayerNorm")
        _check_same_dtype("input", input, self)
        if self.eps == 0:
            x = input.to(_compute_dtype(input))
            _refuse_zero_spread(x.var(dim=tuple(range(-k, 0)), unbiased=False), self.eps, "LayerNorm")
        return k

    def forward(self, input: Tensor) -> Tensor:
        k = self._check_forward(input)
        dtype = _compute_dtype(input)  # float32 for half/bfloat16 (see _compute_dtype); a no-op otherwise
        x, weight, bias = (_as_dtype(t, dtype) for t in (input, self.weight, self.bias))
        dims = tuple(range(-k, 0))
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


class _InstanceNorm(_NormBase):
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

    def _check_forward(self, input: Tensor) -> bool:
        """Every check of the input, in one call; returns whether it is unbatched (no N dimension)."""
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
            return True  # checked again as a batch of one
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
                stacklevel=3,
            )
        _check_same_dtype("input", input, self)
        return False

    def forward(self, input: Tensor) -> Tensor:
        if self._check_forward(input):
            # Unbatched input: torch treats it as a batch of one.
            return self.forward(input.unsqueeze(0)).squeeze(0)
        n, c = input.shape[0], input.shape[1]
        dtype = _compute_dtype(input)  # float32 for half/bfloat16 (see _compute_dtype); a no-op otherwise
        x = input.to(dtype)
        use_input_stats = self._uses_input_stats()
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
            if self._updates_running_stats() and n > 0:
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
        self._check_forward(input)
        mean, var, n_total = self._global_statistics(input.to(_compute_dtype(input)))
        if self._updates_running_stats():
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
        is_course_bn = isinstance(module, _BatchNorm)
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


# The fast path (course_utils.nn_fast) switches the forwards of BatchNorm1d/2d, SyncBatchNorm and LayerNorm;
# imported last because it needs the classes above. Its switch is re-exported here, where learners look.
from . import nn_fast as _nn_fast  # noqa: E402

_nn_fast.install()
fast_path = _nn_fast.fast_path
set_fast_path = _nn_fast.set_fast_path
fast_path_enabled = _nn_fast.fast_path_enabled
