"""Dropout, BatchNorm and LayerNorm as forward/backward function pairs in plain numpy (cs231n style).

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the upstream gradient
``dout`` (the gradient of the loss with respect to ``out``) and that cache, and returns the gradients
with respect to the inputs. The backward passes are derived by hand; ``course_utils.gradcheck``
checks them against numerical derivatives, and the tests check them against torch's autograd.

Convention: ``p`` is always the probability of *dropping* a unit, as in torch. The cs231n assignments
use the *keep* probability instead (their ``p`` is our ``1 - p``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .validation import check_bool, check_float_array, check_int, check_number, check_probability, check_shape

__all__ = [
    "DropoutCache",
    "BatchNormCache",
    "LayerNormCache",
    "dropout_forward",
    "dropout_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_naive",
    "layernorm_forward",
    "layernorm_backward",
    "GroupNormCache",
    "RMSNormCache",
    "groupnorm_forward",
    "groupnorm_backward",
    "rmsnorm_forward",
    "rmsnorm_backward",
]


class DropoutCache(NamedTuple):
    """What dropout_backward needs: the scaled mask (None when dropout was the identity)."""

    mask: np.ndarray | None
    p: float
    training: bool
    shape: tuple[int, ...]


class BatchNormCache(NamedTuple):
    """Intermediate values of batchnorm_forward that its backward passes reuse."""

    x_hat: np.ndarray
    centered: np.ndarray
    var: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    eps: float
    training: bool


class LayerNormCache(NamedTuple):
    """Intermediate values of layernorm_forward that layernorm_backward reuses."""

    x_hat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray


def _check_eps(eps: Any) -> float:
    eps = check_number("eps", eps)
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}. It is added to the variance before the sqrt.")
    return eps


def _check_cache(cache: Any, kind: type, producer: str) -> None:
    if not isinstance(cache, kind):
        raise TypeError(
            f"cache must be the second value returned by {producer}, got {type(cache).__name__}. "
            f"Call out, cache = {producer}(...) and pass that cache."
        )


def _as_generator(rng: Any) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a np.random.Generator, an int seed or None, got {type(rng).__name__}. "
        "Create one with np.random.default_rng(seed)."
    )


# --------------------------------------------------------------------------------------------- dropout


def dropout_forward(
    x: np.ndarray, p: float, training: bool = True, rng: np.random.Generator | int | None = None
) -> tuple[np.ndarray, DropoutCache]:
    r"""Inverted dropout: zero each element with probability ``p`` and scale the survivors by 1/(1-p).

    .. math::
        \text{out} = \frac{m \odot x}{1 - p}, \qquad m_i \sim \mathrm{Bernoulli}(1 - p)

    The scaling keeps :math:`\mathbb{E}[\text{out}] = x`, so at test time (``training=False``) the layer
    is simply the identity.

    Args:
        x: input array of any shape, floating dtype.
        p: probability of *dropping* a unit, in [0, 1) (torch's convention; cs231n's ``p`` is the keep
            probability 1 - p). p = 1 is refused here because 1 / (1 - p) is undefined.
        training: apply dropout (True) or the identity (False).
        rng: a ``np.random.Generator``, an int seed, or None for a fresh unseeded generator.

    Returns:
        ``(out, cache)``; pass the cache to :func:`dropout_backward`.
    """
    x = check_float_array("x", x)
    p = check_probability("p", p)
    training = check_bool("training", training)
    rng = _as_generator(rng)
    if not training or p == 0:
        return x.copy(), DropoutCache(None, p, training, x.shape)
    keep = rng.random(x.shape) >= p  # True with probability 1 - p
    # Store the already-scaled mask: the backward pass then is a single multiplication.
    mask = (keep / (1 - p)).astype(x.dtype)
    return x * mask, DropoutCache(mask, p, training, x.shape)


def dropout_backward(dout: np.ndarray, cache: DropoutCache) -> np.ndarray:
    """Gradient of dropout: out = x * mask is linear in x, so dx = dout * mask (dout itself in eval)."""
    _check_cache(cache, DropoutCache, "dropout_forward")
    dout = check_float_array("dout", dout)
    check_shape("dout", dout, cache.shape)
    if cache.mask is None:
        return dout.copy()
    # Dropped units had no influence on the output, so they receive no gradient.
    return dout * cache.mask


# ------------------------------------------------------------------------------------------ batchnorm


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    training: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, BatchNormCache]:
    r"""Batch normalization of x with shape (N, D): normalize every feature over the batch.

    Training mode uses the mini-batch mean and biased variance:

    .. math::
        \mu = \frac{1}{N}\sum_i x_i, \quad \sigma^2 = \frac{1}{N}\sum_i (x_i - \mu)^2, \quad
        \hat{x} = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad \text{out} = \gamma \hat{x} + \beta

    and updates ``running_mean`` and ``running_var`` **in place**, exactly like
    ``torch.nn.functional.batch_norm``::

        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var  = (1 - momentum) * running_var  + momentum * sigma2 * N / (N - 1)

    The running variance gets the unbiased estimate (Bessel's correction N / (N - 1)) because it
    estimates the variance of the whole data set, not of this batch. Eval mode (``training=False``)
    normalizes with the running arrays instead and leaves them unchanged.

    The variance is computed from centered values (mean of (x - mu)^2), which is numerically stable,
    unlike E[x^2] - E[x]^2.

    Returns:
        ``(out, cache)``; pass the cache to :func:`batchnorm_backward`.
    """
    x, training, momentum, eps = _check_batchnorm_arguments(
        x, gamma, beta, running_mean, running_var, training, momentum, eps
    )
    n, d = x.shape
    if training and n == 0:
        return _empty_batch(x, gamma, eps)
    if training:
        mean = x.mean(axis=0)
        centered = x - mean
        var = (centered**2).mean(axis=0)
        # In place ([...] =) so the caller's arrays change, as torch's buffers do.
        running_mean[...] = momentum * mean + (1 - momentum) * running_mean
        running_var[...] = momentum * var * (n / (n - 1)) + (1 - momentum) * running_var
    else:
        centered = x - running_mean
        var = running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centered * inv_std
    out = gamma * x_hat + beta
    return out, BatchNormCache(x_hat, centered, var, inv_std, gamma, eps, training)


def _check_batchnorm_arguments(x, gamma, beta, running_mean, running_var, training, momentum, eps) -> tuple:
    """Every check of batchnorm_forward's arguments; returns ``(x, training, momentum, eps)`` checked."""
    x = check_float_array("x", x, ndim=2)
    n, d = x.shape
    for name, array in (
        ("gamma", gamma),
        ("beta", beta),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ):
        check_shape(name, check_float_array(name, array), (d,))
    for name, array in (("running_mean", running_mean), ("running_var", running_var)):
        if not array.flags.writeable:
            raise ValueError(f"{name} must be writeable: it is updated in place. Pass {name}.copy().")
    training = check_bool("training", training)
    momentum = check_number("momentum", momentum)
    if not 0 <= momentum <= 1:
        raise ValueError(
            f"momentum must be in [0, 1], got {momentum!r}. It is the weight of the newest batch in the "
            "running averages (torch's convention, not an optimizer's momentum)."
        )
    eps = _check_eps(eps)
    if training and eps <= 0:
        # torch's rule and wording: a constant feature has variance 0, and 0 / sqrt(0 + 0) is NaN.
        raise ValueError(
            f"batch_norm eps must be positive during training, but got {eps}. Use eps > 0 (default 1e-5)."
        )
    if training and n == 1:
        raise ValueError(
            f"Expected more than 1 value per feature when training, got x of shape {x.shape}. "
            "A single sample has variance 0 and would normalize to all zeros: "
            "use N > 1, or training=False."
        )
    return x, training, momentum, eps


def _empty_batch(x: np.ndarray, gamma: np.ndarray, eps: float) -> tuple[np.ndarray, BatchNormCache]:
    # An empty batch has no statistics (0/0): leave the running arrays alone, as torch does, and return an
    # empty output. The cache still works for the (empty) backward pass.
    empty = np.zeros_like(x)
    zeros = np.zeros(x.shape[1], dtype=x.dtype)
    return empty, BatchNormCache(empty, empty, zeros, 1.0 / np.sqrt(zeros + eps), gamma, eps, True)


def _check_backward_inputs(dout: Any, cache: Any, kind: type, producer: str) -> np.ndarray:
    _check_cache(cache, kind, producer)
    dout = check_float_array("dout", dout)
    return check_shape("dout", dout, cache.x_hat.shape)


def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward pass of batchnorm_forward in closed form: returns ``(dx, dgamma, dbeta)``.

    .. math::
        d\beta = \sum_i \text{dout}_i, \qquad d\gamma = \sum_i \text{dout}_i \hat{x}_i, \qquad
        dx = \frac{\gamma}{N\sqrt{\sigma^2+\epsilon}}
             \Big(N\,\text{dout} - \sum_i \text{dout}_i - \hat{x} \sum_i \text{dout}_i \hat{x}_i\Big)

    The two sums subtracted from ``N * dout`` are the gradient paths through the batch mean and the batch
    variance: every x_i influences every output through them. In eval mode the mean and variance are
    constants, so only the direct path remains: dx = dout * gamma / sqrt(var + eps).
    """
    dout = _check_backward_inputs(dout, cache, BatchNormCache, "batchnorm_forward")
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.x_hat).sum(axis=0)
    if not cache.training:
        return dout * cache.gamma * cache.inv_std, dgamma, dbeta
    n = dout.shape[0]
    if n == 0:
        return np.zeros_like(dout), dgamma, dbeta  # an empty batch: nothing to differentiate
    dx = (1.0 / n) * cache.gamma * cache.inv_std * (n * dout - dbeta - cache.x_hat * dgamma)
    return dx, dgamma, dbeta


def batchnorm_backward_naive(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batchnorm_forward, one node of the computational graph at a time.

    Same result as :func:`batchnorm_backward`, but walks back through the forward computation
    ``mu -> centered -> var -> inv_std -> x_hat -> out`` applying the chain rule at each step. Slower
    and longer, but each line is easy to check; the compact formula is what you get after simplifying.
    """
    dout = _check_backward_inputs(dout, cache, BatchNormCache, "batchnorm_forward")
    n = dout.shape[0]
    x_hat, centered, var, inv_std, gamma, eps, training = cache

    # out = gamma * x_hat + beta
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # x_hat = centered * inv_std: centered gets a gradient directly ...
    dcentered = dx_hat * inv_std
    if not training or n == 0:
        # ... and in eval mode that is all: mean and variance are fixed arrays, not functions of x.
        # (An empty batch has nothing to differentiate either.)
        return dcentered, dgamma, dbeta
    # ... and inv_std, which is shared by the whole column, collects the sum over the batch.
    dinv_std = (dx_hat * centered).sum(axis=0)
    # inv_std = (var + eps) ** -1/2
    dvar = -0.5 * (var + eps) ** -1.5 * dinv_std
    # var = mean(centered ** 2): a second path into centered.
    dcentered += (2.0 / n) * centered * dvar
    # centered = x - mu: x gets the gradient directly, and mu collects minus its sum.
    dmu = -dcentered.sum(axis=0)
    # mu = mean(x): every x_i gets 1/N of it.
    dx = dcentered + dmu / n
    return dx, dgamma, dbeta


# ------------------------------------------------------------------------------------------ layernorm


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, LayerNormCache]:
    r"""Layer normalization: normalize every sample over its last axis (features).

    .. math::
        \hat{x} = \frac{x - \mathrm{mean}(x)}{\sqrt{\mathrm{var}(x) + \epsilon}}, \qquad
        \text{out} = \gamma \hat{x} + \beta

    with mean and biased variance taken over the last axis of each sample. It is BatchNorm with the
    roles of the axes swapped, which is why there are no running statistics: no sample depends on
    another, and training and test behave the same.

    Args:
        x: array of shape (..., D), usually (N, D).
        gamma, beta: arrays of shape (D,).
        eps: added to the variance before the square root.

    Returns:
        ``(out, cache)``; pass the cache to :func:`layernorm_backward`.
    """
    x, eps = _check_layernorm_arguments(x, gamma, beta, eps)
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = (centered**2).mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centered * inv_std
    return gamma * x_hat + beta, LayerNormCache(x_hat, inv_std, gamma)


def _check_layernorm_arguments(x, gamma, beta, eps) -> tuple[np.ndarray, float]:
    x = check_float_array("x", x)
    if x.ndim == 0:
        raise ValueError(
            "x must have at least 1 dimension (the features), got a 0-d array. Use x.reshape(1, -1)."
        )
    for name, array in (("gamma", gamma), ("beta", beta)):
        check_shape(name, check_float_array(name, array), (x.shape[-1],))
    return x, _check_eps(eps)


def layernorm_backward(dout: np.ndarray, cache: LayerNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward pass of layernorm_forward: returns ``(dx, dgamma, dbeta)``.

    The batchnorm formula with sums over the feature axis instead of the batch axis, applied to
    :math:`d\hat{x} = \text{dout} \cdot \gamma`:

    .. math::
        dx = \frac{1}{D\sqrt{\sigma^2+\epsilon}}
             \Big(D\,d\hat{x} - \sum_j d\hat{x}_j - \hat{x} \sum_j d\hat{x}_j \hat{x}_j\Big)

    gamma and beta are shared by all samples, so their gradients sum over every axis but the last.
    """
    dout = _check_backward_inputs(dout, cache, LayerNormCache, "layernorm_forward")
    d = dout.shape[-1]
    dbeta = dout.reshape(-1, d).sum(axis=0)
    dgamma = (dout * cache.x_hat).reshape(-1, d).sum(axis=0)
    dx_hat = dout * cache.gamma
    dx = (
        (1.0 / d)
        * cache.inv_std
        * (
            d * dx_hat
            - dx_hat.sum(axis=-1, keepdims=True)
            - cache.x_hat * (dx_hat * cache.x_hat).sum(axis=-1, keepdims=True)
        )
    )
    return dx, dgamma, dbeta


# ------------------------------------------------------------------------------------ groupnorm, rmsnorm


class GroupNormCache(NamedTuple):
    """Intermediate values of groupnorm_forward that groupnorm_backward reuses."""

    x_hat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    groups: int


class RMSNormCache(NamedTuple):
    """Intermediate values of rmsnorm_forward that rmsnorm_backward reuses."""

    x: np.ndarray
    inv_rms: np.ndarray
    gamma: np.ndarray


def _check_positive_eps(eps: Any) -> float:
    eps = check_number("eps", eps)
    if eps <= 0:
        raise ValueError(
            f"eps must be > 0, got {eps!r}. It is added under the sqrt so that a constant input does not "
            "divide by zero; the usual value is 1e-5."
        )
    return eps


def groupnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, groups: int, eps: float = 1e-5
) -> tuple[np.ndarray, GroupNormCache]:
    r"""Group normalization of an (N, C, ...) array: per sample, per group of ``C // groups`` channels.

    .. math::
        \hat{x} = \frac{x - \mu_{n,g}}{\sqrt{\sigma^2_{n,g} + \epsilon}}, \qquad \text{out} = \gamma_c \hat{x} + \beta_c

    Mean and biased variance of each group are taken over its channels and all positions. ``groups=1``
    is LayerNorm over (C, ...) and ``groups=C`` is InstanceNorm.

    Args:
        x: array of shape (N, C) or (N, C, ...).
        gamma, beta: arrays of shape (C,): one scale and shift per channel.
        groups: number of groups; must divide C.
        eps: added to the variance before the square root, > 0.

    Returns:
        ``(out, cache)``; pass the cache to :func:`groupnorm_backward`.
    """
    x, groups, eps = _check_groupnorm_arguments(x, gamma, beta, groups, eps)
    n, c = x.shape[:2]
    per_group = (c // groups) * int(np.prod(x.shape[2:]))
    grouped = x.reshape(n, groups, per_group)
    mean = grouped.mean(axis=-1, keepdims=True)
    centered = grouped - mean
    var = (centered**2).mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (centered * inv_std).reshape(x.shape)
    channel = (1, c) + (1,) * (x.ndim - 2)
    return gamma.reshape(channel) * x_hat + beta.reshape(channel), GroupNormCache(x_hat, inv_std, gamma, groups)


def _check_groupnorm_arguments(x, gamma, beta, groups, eps) -> tuple[np.ndarray, int, float]:
    x = check_float_array("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C, ...), got shape {x.shape}. Add the batch axis: x[None].")
    c = x.shape[1]
    for name, array in (("gamma", gamma), ("beta", beta)):
        check_shape(name, check_float_array(name, array), (c,))
    groups = check_int("groups", groups, minimum=1)
    if c % groups:
        divisors = [g for g in range(1, c + 1) if c % g == 0]
        raise ValueError(f"groups ({groups}) must divide the number of channels C={c}; choose one of {divisors}.")
    return x, groups, _check_positive_eps(eps)


def groupnorm_backward(dout: np.ndarray, cache: GroupNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward pass of groupnorm_forward: returns ``(dx, dgamma, dbeta)``.

    Within each group it is the LayerNorm backward with M = values per group:

    .. math::
        dx = \frac{1}{M\sqrt{\sigma^2+\epsilon}}
             \Big(M\,d\hat{x} - \sum_{j \in g} d\hat{x}_j - \hat{x} \sum_{j \in g} d\hat{x}_j \hat{x}_j\Big),
        \qquad d\hat{x} = \text{dout} \cdot \gamma_c

    gamma and beta are per channel, so their gradients sum over the batch and all positions.
    """
    dout = _check_backward_inputs(dout, cache, GroupNormCache, "groupnorm_forward")
    n, c = dout.shape[:2]
    other_axes = (0, *range(2, dout.ndim))
    dbeta = dout.sum(axis=other_axes)
    dgamma = (dout * cache.x_hat).sum(axis=other_axes)
    channel = (1, c) + (1,) * (dout.ndim - 2)
    m = (c // cache.groups) * int(np.prod(dout.shape[2:]))  # values per group
    dx_hat = (dout * cache.gamma.reshape(channel)).reshape(n, cache.groups, m)
    x_hat = cache.x_hat.reshape(n, cache.groups, m)
    dx = (1.0 / m) * cache.inv_std * (
        m * dx_hat - dx_hat.sum(axis=-1, keepdims=True) - x_hat * (dx_hat * x_hat).sum(axis=-1, keepdims=True)
    )
    return dx.reshape(dout.shape), dgamma, dbeta


def rmsnorm_forward(x: np.ndarray, gamma: np.ndarray, eps: float = 1e-5) -> tuple[np.ndarray, RMSNormCache]:
    r"""RMS normalization over the last axis (Zhang & Sennrich 2019): LayerNorm without re-centering.

    .. math::
        r = \sqrt{\mathrm{mean}(x^2) + \epsilon}, \qquad \text{out} = \gamma \frac{x}{r}

    Args:
        x: array of shape (..., D).
        gamma: array of shape (D,). (No beta: RMSNorm has no shift.)
        eps: added to the mean square before the square root, > 0.

    Returns:
        ``(out, cache)``; pass the cache to :func:`rmsnorm_backward`.
    """
    x = check_float_array("x", x)
    if x.ndim == 0:
        raise ValueError("x must have at least 1 dimension (the features), got a 0-d array. Use x.reshape(1, -1).")
    check_shape("gamma", check_float_array("gamma", gamma), (x.shape[-1],))
    eps = _check_positive_eps(eps)
    inv_rms = 1.0 / np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps)
    return gamma * x * inv_rms, RMSNormCache(x, inv_rms, gamma)


def rmsnorm_backward(dout: np.ndarray, cache: RMSNormCache) -> tuple[np.ndarray, np.ndarray]:
    r"""Backward pass of rmsnorm_forward: returns ``(dx, dgamma)``.

    With :math:`\hat{x} = x / r` and :math:`d\hat{x} = \text{dout} \cdot \gamma`, only one path runs
    through the shared statistic r (there is no mean to subtract):

    .. math::
        dx = \frac{1}{r}\Big(d\hat{x} - \hat{x}\,\frac{1}{D}\sum_j d\hat{x}_j \hat{x}_j\Big)
    """
    if not isinstance(cache, RMSNormCache):
        _check_cache(cache, RMSNormCache, "rmsnorm_forward")
    dout = check_shape("dout", check_float_array("dout", dout), cache.x.shape)
    d = dout.shape[-1]
    x_hat = cache.x * cache.inv_rms
    dgamma = (dout * x_hat).reshape(-1, d).sum(axis=0)
    dx_hat = dout * cache.gamma
    dx = cache.inv_rms * (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))
    return dx, dgamma
