"""Checks for notebook 04's exercises: LayerNorm with ``normalized_shape``, RMSNorm forward and backward,
and predicting Ba et al.'s invariance table.

Each check compares the learner's answer with the right one and, when it differs, with the usual
mistakes (normalizing over the wrong axis, ignoring ``normalized_shape``, eps outside the square root,
the unbiased variance, a missing gamma or beta, re-centering in RMSNorm, ...), and names the mistake
it recognizes. It never prints the expected values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .. import numpy_layers as nl
from ..experiments.layernorm import TRANSFORMS, invariance_table
from ..gradcheck import numeric_gradient, rel_error
from . import ExerciseError, call_learner, forbidden, gradients, ok, require, run_check

__all__ = ["check_layernorm", "check_rmsnorm", "check_invariance_predictions",
           "check_pre_ln_block", "LAYERNORM_MISTAKES", "RMSNORM_MISTAKES"]


# --------------------------------------------------------------------------------------------- layernorm


def _ln(x, dims, gamma, beta, eps, *, eps_outside=False, unbiased=False, use_gamma=True, use_beta=True):
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
    x_hat = (x - mean) / (var.sqrt() + eps) if eps_outside else (x - mean) / (var + eps).sqrt()
    out = x_hat * gamma if use_gamma else x_hat
    return out + beta if use_beta else out


def _reference_layernorm(x, normalized_shape, gamma, beta, eps):
    return _ln(x, tuple(range(-len(normalized_shape), 0)), gamma, beta, eps)


LAYERNORM_MISTAKES: dict[str, tuple[Callable, str]] = {
    "wrong axis": (
        lambda x, ns, g, b, eps: _ln(x, (0,), g, b, eps),
        "Your statistics are taken over the batch (dimension 0): that is BatchNorm. LayerNorm takes the mean and "
        "variance of each sample over its last len(normalized_shape) dimensions.",
    ),
    "normalized_shape ignored": (
        lambda x, ns, g, b, eps: _ln(x, (-1,), g, b, eps),
        "You normalize over the last dimension only, but normalized_shape has more than one dimension: take the "
        "mean and variance over ALL of the trailing dimensions it names (as many as it has entries).",
    ),
    "eps outside the sqrt": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, eps_outside=True),
        "eps is added outside the square root: torch (and the paper) divide by sqrt(var + eps), not sqrt(var) + eps.",
    ),
    "unbiased variance": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, unbiased=True),
        "Your variance divides by n - 1 (torch's .var() default is unbiased). Normalization uses the biased "
        "variance: divide by n, the number of values normalized together.",
    ),
    "missing gamma": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, use_gamma=False),
        "Your output is not scaled by gamma: the normalized values are scaled by gamma, then shifted by beta.",
    ),
    "missing beta": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, use_beta=False),
        "Your output is not shifted by beta: the normalized values are scaled by gamma, then shifted by beta.",
    ),
    "missing gamma and beta": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, use_gamma=False, use_beta=False),
        "You return the normalized values only: scale them by gamma and shift them by beta.",
    ),
}


LAYERNORM_MISTAKES["swapped gamma and beta"] = (
    lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), b, g, eps),
    "gamma and beta are swapped: gamma scales the normalized values, beta shifts them.",
)
LAYERNORM_MISTAKES["fixed eps"] = (
    lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, 1e-5 if eps != 1e-5 else 0.5),
    "Use the eps argument you are given, not a fixed number.",
)

_LN_FORBIDDEN_HINT = ("Build it yourself from tensor operations (mean, var, sqrt, ...): torch's layer_norm "
                      "(F.layer_norm, nn.LayerNorm) and the course's layers are not allowed in this exercise.")
_LN_OPS = ("native_layer_norm", "layer_norm", "group_norm", "native_group_norm", "rms_norm", "_fused_rms_norm")


def _layernorm_cases():
    gen = torch.Generator().manual_seed(0)
    cases = []
    # A large eps (0.5) and a small spread make "eps outside the sqrt" and the unbiased variance visible;
    # 2-D to 4-D inputs, one sample alone, float32 and float64.
    for shape, ns, eps, scale, dtype in (
        ((4, 3, 5), (5,), 1e-5, 3.0, torch.float64),
        ((4, 3, 5), (3, 5), 1e-5, 3.0, torch.float64),
        ((6, 2, 4), (2, 4), 0.5, 0.5, torch.float64),
        ((1, 6), (6,), 1e-3, 2.0, torch.float32),
        ((2, 3, 4, 5), (4, 5), 1e-5, 1.5, torch.float32),
        ((2, 3, 4, 5), (3, 4, 5), 0.1, 0.7, torch.float64),
    ):
        x = torch.randn(shape, generator=gen, dtype=torch.float64) * scale + 2.0
        gamma = torch.randn(ns, generator=gen, dtype=torch.float64) * 0.5 + 1.0
        beta = torch.randn(ns, generator=gen, dtype=torch.float64)
        cases.append(tuple(t.to(dtype) for t in (x,)) + (ns,) + tuple(t.to(dtype) for t in (gamma, beta)) + (eps,))
    return cases


def _tol(dtype) -> dict:
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-6, "atol": 1e-8}


def _diagnose(output, expected, inputs, mistakes, label) -> None:
    tol = _tol(output.dtype)
    for _name, (mistake, hint) in mistakes.items():
        try:
            wrong = mistake(*inputs)
        except Exception:  # noqa: BLE001 - a mistake that cannot run on this input just cannot match
            continue
        if wrong.shape == expected.shape and not torch.allclose(wrong, expected, **tol) and torch.allclose(
            output.to(wrong.dtype), wrong, **tol
        ):
            raise ExerciseError(hint)
    raise ExerciseError(
        f"{label} returns values that differ from LayerNorm. Each sample is normalized over the trailing "
        "dimensions that normalized_shape names (its mean, its biased variance, eps inside the square root), "
        "then scaled by gamma and shifted by beta."
    )


def _as_tensor(out, label: str, like: torch.Tensor) -> torch.Tensor:
    require(out is not None, f"{label} returned None: return the output tensor.")
    require(isinstance(out, torch.Tensor), f"{label} must return a torch tensor, got {type(out).__name__}.")
    require(tuple(out.shape) == tuple(like.shape), f"{label} must return the input's shape {tuple(like.shape)}, "
                                                   f"got {tuple(out.shape)}.")
    require(out.dtype == like.dtype, f"{label}: keep the input's dtype ({like.dtype} in, {out.dtype} out).")
    return out


def _forbidden_layers():
    from .. import nn as course_nn

    functions = (torch.nn.functional.layer_norm, torch.layer_norm, course_nn.LayerNorm.forward,
                 course_nn.RMSNorm.forward, course_nn.GroupNorm.forward, nl.layernorm_forward)
    return forbidden(_LN_FORBIDDEN_HINT, functions=functions, aten=_LN_OPS)


def _check_layernorm_body(my_layernorm) -> str:
    for x, ns, gamma, beta, eps in _layernorm_cases():
        label = f"my_layernorm with normalized_shape={ns}"

        def learner(x_, g_, b_, ns=ns, eps=eps):
            with _forbidden_layers():
                # Clones: the learner may change its inputs in place; autograd still reaches x_, g_, b_.
                out = call_learner(my_layernorm, x_.clone(), ns, g_.clone(), b_.clone(), eps, name="my_layernorm",
                                   copy_inputs=False)
            return _as_tensor(out, "my_layernorm", x_)

        out = learner(x, gamma, beta)
        expected = torch.nn.functional.layer_norm(x, ns, gamma, beta, eps)
        if not torch.allclose(out, expected, **_tol(x.dtype)):
            _diagnose(out.double(), expected.double(), (x.double(), ns, gamma.double(), beta.double(), eps),
                      LAYERNORM_MISTAKES, label)
        weights = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
        got = gradients(learner, [x, gamma, beta], weights)
        want = gradients(lambda x_, g_, b_, ns=ns, eps=eps: torch.nn.functional.layer_norm(x_, ns, g_, b_, eps),
                         [x, gamma, beta], weights)
        require(any(g is not None for g in got),
                f"{label}: no gradient flows through your output, so the layer could not train. Stay in torch "
                "autograd: no torch.no_grad(), no .detach(), no numpy.")
        for name, g, w in zip(("x", "gamma", "beta"), got, want, strict=True):
            if g is None or not torch.allclose(g, w, **_tol(x.dtype)):
                require(name != "x", f"{label}: the gradient with respect to x is wrong. The mean and the variance "
                                     "depend on x: the gradient must flow through them too (do not detach them).")
                require(False, f"{label}: the gradient with respect to {name} is wrong: keep {name} in autograd.")
    return "matches torch.nn.LayerNorm for normalized_shape of one and of two dimensions, with gamma and beta."


def check_layernorm(my_layernorm) -> None:
    """``my_layernorm(x, normalized_shape, gamma, beta, eps) -> out`` (torch tensors) must normalize each
    sample over the trailing dimensions named by ``normalized_shape`` like ``torch.nn.LayerNorm``: 2-D to 4-D
    inputs, one sample alone, float32 and float64, several eps; gradients through x, gamma and beta are
    compared with torch's. torch's layer_norm is refused."""
    require(callable(my_layernorm), "Pass the function itself: check_layernorm(my_layernorm).")
    ok(run_check(_check_layernorm_body, my_layernorm, name="my_layernorm"))


# ----------------------------------------------------------------------------------------------- rmsnorm


def _rms(x, gamma, eps, *, axis=-1, center=False, eps_outside=False, use_gamma=True, l2=False):
    x = np.asarray(x, dtype=np.float64)
    centered = x - x.mean(axis=axis, keepdims=True)
    source = centered if center else x
    if l2:
        spread = np.sqrt((source**2).sum(axis=axis, keepdims=True) + eps)
    elif eps_outside:
        spread = np.sqrt((source**2).mean(axis=axis, keepdims=True)) + eps
    else:
        spread = np.sqrt((source**2).mean(axis=axis, keepdims=True) + eps)
    out = source / spread
    return out * gamma if use_gamma else out


RMSNORM_MISTAKES: dict[str, tuple[Callable, str]] = {
    "re-centered (that is LayerNorm)": (
        lambda x, g, eps: _rms(x, g, eps, center=True),
        "You subtract the mean (or divide by the standard deviation, which does): that is LayerNorm. RMSNorm divides "
        "x itself by its root mean square, without centering.",
    ),
    "sum instead of mean": (
        lambda x, g, eps: _rms(x, g, eps, l2=True),
        "You divide by the length of x (its sum of squares, L2 normalization): RMSNorm uses the MEAN square, "
        "so the output has mean square 1 whatever the number of features.",
    ),
    "wrong axis": (
        lambda x, g, eps: _rms(x, g, eps, axis=0 if x.ndim == 2 else 1),
        "Your mean square is taken over the wrong axis. RMSNorm is per sample, over the LAST axis (the features), "
        "for inputs of any number of dimensions.",
    ),
    "eps outside the sqrt": (
        lambda x, g, eps: _rms(x, g, eps, eps_outside=True),
        "eps is added outside the square root: it goes inside, added to the mean square.",
    ),
    "missing gamma": (
        lambda x, g, eps: _rms(x, g, eps, use_gamma=False),
        "Your output is not scaled by gamma.",
    ),
}


RMSNORM_MISTAKES["fixed eps"] = (
    lambda x, g, eps: _rms(x, g, 1e-5 if eps != 1e-5 else 0.5),
    "Use the eps argument you are given, not a fixed number.",
)

# (shape, eps, dtype): 2-D, one sample, 3-D (a sequence: the last axis is not axis 1), a large eps, float32.
_RMS_CASES = (((5, 6), 1e-5, np.float64), ((3, 4), 0.5, np.float64), ((1, 7), 1e-3, np.float64),
              ((2, 3, 4), 1e-5, np.float64), ((4, 2, 5), 0.2, np.float32))


def _rms_backward_reference(dout, x, gamma, eps):
    r = np.sqrt((x**2).mean(-1, keepdims=True) + eps)
    x_hat = x / r
    dx_hat = dout * gamma
    dx = (dx_hat - x_hat * (dx_hat * x_hat).mean(-1, keepdims=True)) / r
    return dx, (dout * x_hat).reshape(-1, x.shape[-1]).sum(0)


def _array(value, label: str, shape) -> np.ndarray:
    require(value is not None, f"{label} is None: return a numpy array.")
    require(isinstance(value, np.ndarray), f"{label} must be a numpy array, got {type(value).__name__}.")
    require(value.shape == tuple(shape), f"{label} must have shape {tuple(shape)}, got {value.shape}.")
    require(np.issubdtype(value.dtype, np.floating), f"{label} must hold floats, got {value.dtype}.")
    return value.astype(np.float64)


def _check_rmsnorm_body(my_rmsnorm_forward, my_rmsnorm_backward) -> str:
    rng = np.random.default_rng(0)
    def forbid():
        return forbidden("Write RMSNorm yourself with numpy: the course's numpy_layers and torch's norms are "
                         "not allowed in this exercise.", functions=(nl.rmsnorm_forward, nl.rmsnorm_backward),
                         aten=_LN_OPS)

    for shape, eps, dtype in _RMS_CASES:
        x = rng.normal(1.0, 0.7 if eps > 0.1 else 2.0, size=shape).astype(dtype)
        gamma = rng.normal(1.0, 0.5, size=shape[-1]).astype(dtype)
        tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-6, "atol": 1e-9}
        with forbid():
            result = call_learner(my_rmsnorm_forward, x, gamma, eps, name="my_rmsnorm_forward")
        require(isinstance(result, tuple) and len(result) == 2,
                "my_rmsnorm_forward must return a pair (out, cache), like the cs231n-style layers.")
        out = _array(result[0], "out", shape)
        x64, g64 = x.astype(np.float64), gamma.astype(np.float64)
        expected = _rms(x64, g64, eps)
        if not np.allclose(out, expected, **tol):
            for _name, (mistake, hint) in RMSNORM_MISTAKES.items():
                wrong = mistake(x64, g64, eps)
                if not np.allclose(wrong, expected, **tol) and np.allclose(out, wrong, **tol):
                    raise ExerciseError(hint)
            raise ExerciseError(f"my_rmsnorm_forward on an input of shape {shape} differs from x divided by its "
                                "root mean square over the last axis (eps inside the square root), scaled by gamma.")
        if my_rmsnorm_backward is None:
            continue
        dout = rng.normal(size=shape).astype(dtype)
        with forbid():
            grads = call_learner(my_rmsnorm_backward, dout, result[1], name="my_rmsnorm_backward")
        require(isinstance(grads, tuple | list) and len(grads) == 2, "my_rmsnorm_backward must return (dx, dgamma).")
        dx, dgamma = _array(grads[0], "dx", shape), _array(grads[1], "dgamma", gamma.shape)
        ref_dx, ref_dgamma = _rms_backward_reference(dout.astype(np.float64), x64, g64, eps)
        require(np.allclose(dgamma, ref_dgamma, **tol),
                f"dgamma is wrong (input of shape {shape}): gamma multiplies the normalized x and is shared by all "
                "samples (and all positions of a sequence), so its gradient sums over all of them.")
        if not np.allclose(dx, ref_dx, **tol):
            direct = dout * gamma / np.sqrt((x64**2).mean(-1, keepdims=True) + eps)
            require(not np.allclose(dx, direct, **tol),
                    "dx has only the direct path through x itself: x also changes the root mean square, which "
                    "every output of the sample depends on. Add that path (chain rule through the mean square).")
            numeric = numeric_gradient(lambda z, g=g64, e=eps: _rms(z, g, e), x64.copy(), dout.astype(np.float64))
            raise ExerciseError(f"dx differs from the numerical gradient for an input of shape {shape} (relative "
                                f"error {rel_error(dx, numeric):.1e}).")
    return "RMSNorm forward" + (" and backward match" if my_rmsnorm_backward else " matches") + " the reference."


def check_rmsnorm(my_rmsnorm_forward, my_rmsnorm_backward=None) -> None:
    """``my_rmsnorm_forward(x, gamma, eps) -> (out, cache)`` (numpy, last axis) and optionally
    ``my_rmsnorm_backward(dout, cache) -> (dx, dgamma)``, checked against the reference and a numerical
    gradient on 2-D and 3-D inputs, one sample alone, float32 and float64, several eps."""
    ok(run_check(_check_rmsnorm_body, my_rmsnorm_forward, my_rmsnorm_backward, name="my_rmsnorm_forward"))


# ------------------------------------------------------------------------------------------- invariances


def _check_invariances_body(predictions, computed) -> str:
    if callable(predictions):
        predictions = call_learner(predictions, name=getattr(predictions, "__name__", "your function"))
    require(isinstance(predictions, dict), f"predictions must be a dict, got {type(predictions).__name__}.")
    missing = [t for t in TRANSFORMS if t not in predictions]
    require(not missing, f"predictions has no row for: {missing}. Fill in one row per transformation.")
    wrong = 0
    for transform in TRANSFORMS:
        row = predictions[transform]
        require(isinstance(row, dict) and set(row) >= {"BatchNorm", "LayerNorm"},
                f"predictions[{transform!r}] must be a dict with keys 'BatchNorm' and 'LayerNorm'.")
        for norm in ("BatchNorm", "LayerNorm"):
            value = row[norm]
            require(isinstance(value, bool | np.bool_),
                    f"predictions[{transform!r}][{norm!r}] must be True or False, got {type(value).__name__}.")
            wrong += bool(value) != computed[transform][norm]
    # Neither which cells nor how many: either would let the table be found by trial instead of reasoning.
    require(
        not wrong,
        "Not all 12 predictions agree with the computed table yet. Go through each row and ask: does the change "
        "add or multiply the SAME number for all entries that share one mean/variance (a column of the batch for "
        "BatchNorm, a row = one sample for LayerNorm)? Then it cancels.",
    )
    return "all 12 predictions agree with the computed table (and with Ba et al.'s Table 1)."


def check_invariance_predictions(predictions) -> None:
    """``predictions`` is a dict ``{transform: {"BatchNorm": bool, "LayerNorm": bool}}`` with one row per
    transformation of Ba et al.'s Table 1 (``True`` = the normalized output does not change), or a function
    without arguments returning that dict. Checked against the table computed by
    :func:`course_utils.experiments.layernorm.invariance_table`; a wrong answer is not told which cells
    are wrong."""
    computed = invariance_table()
    ok(run_check(_check_invariances_body, predictions, computed, name="predict_invariances"))


# ------------------------------------------------------------------------------------ Pre-LN from Post-LN


def _block_variants(block, x):
    """The right Pre-LN output and the usual wrong ones, for ``block`` (a TransformerBlock) on ``x``."""
    att, ff, ln1, ln2 = block.attention, block.feed_forward, block.ln1, block.ln2
    h = x + att(ln1(x))
    right = h + ff(ln2(h))
    post = ln1(x + att(x))
    hn = ln1(x)
    hn = hn + att(hn)
    return right, {
        "still Post-LN": (ln2(post + ff(post)),
                          "This is the Post-LN block: the LayerNorm is applied AFTER adding the residual. In Pre-LN "
                          "it normalizes only the sub-layer's INPUT: x = x + attention(ln1(x))."),
        "no residual": (ff(ln2(att(ln1(x)))),
                        "The residual connection is missing: add the sub-layer's output to x (x = x + ...), do not "
                        "replace x by it."),
        "normalized residual": (hn + ff(ln2(hn)),
                                "You normalize x itself before the addition (x = ln1(x), then x = x + attention(x)): "
                                "the residual stream must stay un-normalized; only the copy fed to the sub-layer "
                                "is normalized."),
        "LN at the end": (ln2(right),
                          "A LayerNorm is applied to the block's output. In Pre-LN the output is x + "
                          "feed_forward(ln2(x)), nothing after; the model adds ONE final LayerNorm before its "
                          "output layer, not one per block."),
        "attention only": (h,
                           "You return after the attention sub-layer: the feed-forward sub-layer follows the same "
                           "pattern, x = x + feed_forward(ln2(x))."),
    }


def check_pre_ln_block(pre_ln_forward) -> None:
    """``pre_ln_forward(block, x)`` computes the Pre-LN version of a Transformer layer from the parts of
    ``block`` (a :class:`course_utils.experiments.layernorm.TransformerBlock`): ``block.ln1``,
    ``block.attention``, ``block.ln2``, ``block.feed_forward``. Compared with the course's Pre-LN block
    with the same weights, on two random blocks and inputs; a recognized mistake is named. Runs in a
    child process like every check."""
    ok(run_check(_check_pre_ln_block_body, pre_ln_forward, name="pre_ln_forward"))


def _check_pre_ln_block_body(pre_ln_forward) -> str:
    from ..env import torch_generator
    from ..experiments.layernorm import TF_LEN, TF_WIDTH, TransformerBlock

    for seed in (0, 1):
        gen = torch_generator(100 + seed)
        block = TransformerBlock("post")
        with torch.no_grad():
            for p in block.parameters():  # non-trivial LN gains and biases, so every mistake shows
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + (1.0 if p.dim() == 1 else 0.0) * 0.5)
        x = torch.randn(3, TF_LEN, TF_WIDTH, generator=gen) * 2 + 1
        reference = TransformerBlock("pre")
        reference.load_state_dict(block.state_dict())
        with torch.no_grad():
            out = call_learner(pre_ln_forward, block, x.clone(), name="pre_ln_forward", copy_inputs=False)
            require(isinstance(out, torch.Tensor), f"pre_ln_forward must return a tensor, got {type(out).__name__}.")
            require(tuple(out.shape) == tuple(x.shape), f"the output must have x's shape {tuple(x.shape)}, "
                    f"got {tuple(out.shape)}.")
            expected, mistakes = _block_variants(block, x)
            assert torch.allclose(expected, reference(x), atol=1e-5)  # the variants' reference is the course's
            if not torch.allclose(out, expected, rtol=1e-4, atol=1e-5):
                for _name, (wrong, hint) in mistakes.items():
                    if torch.allclose(out, wrong, rtol=1e-4, atol=1e-5):
                        raise ExerciseError(hint)
                raise ExerciseError("pre_ln_forward differs from x = x + attention(ln1(x)); "
                                    "x = x + feed_forward(ln2(x)).")
    return "your Pre-LN forward matches the course's Pre-LN block on two random blocks."
