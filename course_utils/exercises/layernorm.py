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
from . import ExerciseError, call_learner, ok, require

__all__ = ["check_layernorm", "check_rmsnorm", "check_invariance_predictions", "check_invariance_count",
           "check_pre_ln_block", "LAYERNORM_MISTAKES",
           "RMSNORM_MISTAKES"]


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
        "mean and variance over ALL of the last len(normalized_shape) dimensions, e.g. dims = tuple(range(-k, 0)).",
    ),
    "eps outside the sqrt": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, eps_outside=True),
        "eps is added outside the square root: torch (and the paper) divide by sqrt(var + eps), not sqrt(var) + eps.",
    ),
    "unbiased variance": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, unbiased=True),
        "Your variance divides by n - 1 (torch's .var() default is unbiased). Normalization uses the biased "
        "variance: .var(..., unbiased=False) or ((x - mean) ** 2).mean(...).",
    ),
    "missing gamma": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, use_gamma=False),
        "Your output is not multiplied by gamma: out = gamma * x_hat + beta.",
    ),
    "missing beta": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, use_beta=False),
        "Your output has no beta added: out = gamma * x_hat + beta.",
    ),
    "missing gamma and beta": (
        lambda x, ns, g, b, eps: _ln(x, tuple(range(-len(ns), 0)), g, b, eps, use_gamma=False, use_beta=False),
        "You return the normalized x_hat only: scale by gamma and shift by beta (out = gamma * x_hat + beta).",
    ),
}


def _layernorm_cases():
    gen = torch.Generator().manual_seed(0)
    cases = []
    # A large eps (0.5) and a small spread make "eps outside the sqrt" and the unbiased variance visible.
    for shape, ns, eps, scale in (((4, 3, 5), (5,), 1e-5, 3.0), ((4, 3, 5), (3, 5), 1e-5, 3.0),
                                  ((6, 2, 4), (2, 4), 0.5, 0.5)):
        x = torch.randn(shape, generator=gen, dtype=torch.float64) * scale + 2.0
        gamma = torch.randn(ns, generator=gen, dtype=torch.float64) * 0.5 + 1.0
        beta = torch.randn(ns, generator=gen, dtype=torch.float64)
        cases.append((x, ns, gamma, beta, eps))
    return cases


def _diagnose(output, expected, inputs, mistakes, label) -> None:
    for _name, (mistake, hint) in mistakes.items():
        try:
            wrong = mistake(*inputs)
        except Exception:  # noqa: BLE001 - a mistake that cannot run on this input just cannot match
            continue
        if wrong.shape == expected.shape and not torch.allclose(wrong, expected, atol=1e-8) and torch.allclose(
            output, wrong, rtol=1e-6, atol=1e-8
        ):
            raise ExerciseError(hint)
    raise ExerciseError(
        f"{label} returns values that differ from LayerNorm-style normalization. Check: mean and biased variance "
        "per sample over the normalized dimensions, x_hat = (x - mean) / sqrt(var + eps), out = gamma * x_hat + beta."
    )


def _as_tensor(out, label: str, shape) -> torch.Tensor:
    require(isinstance(out, torch.Tensor | np.ndarray), f"{label} must return a tensor, got {type(out).__name__}.")
    out = torch.as_tensor(out, dtype=torch.float64)
    require(tuple(out.shape) == tuple(shape), f"{label} must return the input's shape {tuple(shape)}, got "
            f"{tuple(out.shape)}.")
    return out


def check_layernorm(my_layernorm) -> None:
    """``my_layernorm(x, normalized_shape, gamma, beta, eps) -> out`` (torch tensors) must normalize each
    sample over the trailing dimensions named by ``normalized_shape`` like ``torch.nn.LayerNorm``."""
    for x, ns, gamma, beta, eps in _layernorm_cases():
        out = call_learner(my_layernorm, x, ns, gamma, beta, eps, name="my_layernorm")
        out = _as_tensor(out, "my_layernorm", x.shape)
        expected = _reference_layernorm(x, ns, gamma, beta, eps)
        if not torch.allclose(out, expected, rtol=1e-6, atol=1e-8):
            _diagnose(out, expected, (x, ns, gamma, beta, eps), LAYERNORM_MISTAKES,
                      f"my_layernorm with normalized_shape={ns}")
    ok("matches torch.nn.LayerNorm for normalized_shape of one and of two dimensions, with gamma and beta.")


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
        "x itself by sqrt(mean(x**2) + eps), no centering.",
    ),
    "sum instead of mean": (
        lambda x, g, eps: _rms(x, g, eps, l2=True),
        "You divide by the length sqrt(sum(x**2)) (L2 normalization): RMSNorm uses the MEAN square, "
        "sqrt(mean(x**2) + eps), so the output has mean square 1 whatever the number of features.",
    ),
    "wrong axis": (
        lambda x, g, eps: _rms(x, g, eps, axis=0),
        "Your mean square is taken over the batch (axis 0). RMSNorm is per sample: use axis=-1, keepdims=True.",
    ),
    "eps outside the sqrt": (
        lambda x, g, eps: _rms(x, g, eps, eps_outside=True),
        "eps is added outside the square root: divide by sqrt(mean(x**2) + eps).",
    ),
    "missing gamma": (
        lambda x, g, eps: _rms(x, g, eps, use_gamma=False),
        "Your output is not multiplied by gamma: out = gamma * x / rms.",
    ),
}


def check_rmsnorm(my_rmsnorm_forward, my_rmsnorm_backward=None) -> None:
    """``my_rmsnorm_forward(x, gamma, eps) -> (out, cache)`` (numpy, last axis) and optionally
    ``my_rmsnorm_backward(dout, cache) -> (dx, dgamma)``, checked against the reference and a numerical
    gradient."""
    rng = np.random.default_rng(0)
    for shape, eps in (((5, 6), 1e-5), ((3, 4), 0.5)):
        x = rng.normal(1.0, 0.7 if eps > 0.1 else 2.0, size=shape)
        gamma = rng.normal(1.0, 0.5, size=shape[-1])
        result = call_learner(my_rmsnorm_forward, x, gamma, eps, name="my_rmsnorm_forward")
        require(isinstance(result, tuple) and len(result) == 2,
                "my_rmsnorm_forward must return a pair (out, cache), like the cs231n-style layers.")
        out = np.asarray(result[0], dtype=np.float64)
        require(out.shape == x.shape, f"out must have the input's shape {x.shape}, got {out.shape}.")
        expected = _rms(x, gamma, eps)
        if not np.allclose(out, expected, rtol=1e-6, atol=1e-9):
            for _name, (mistake, hint) in RMSNORM_MISTAKES.items():
                if np.allclose(out, mistake(x, gamma, eps), rtol=1e-6, atol=1e-9):
                    raise ExerciseError(hint)
            raise ExerciseError("my_rmsnorm_forward differs from gamma * x / sqrt(mean(x**2, last axis) + eps).")
        if my_rmsnorm_backward is None:
            continue
        dout = rng.normal(size=shape)
        grads = call_learner(my_rmsnorm_backward, dout, result[1], name="my_rmsnorm_backward")
        require(isinstance(grads, tuple) and len(grads) == 2, "my_rmsnorm_backward must return (dx, dgamma).")
        dx, dgamma = (np.asarray(g, dtype=np.float64) for g in grads)
        ref_dx, ref_dgamma = nl.rmsnorm_backward(dout, nl.rmsnorm_forward(x, gamma, eps)[1])
        require(dgamma.shape == gamma.shape, f"dgamma must have gamma's shape {gamma.shape}, got {dgamma.shape}.")
        require(np.allclose(dgamma, ref_dgamma, rtol=1e-6, atol=1e-9),
                "dgamma is wrong: gamma multiplies x_hat = x / rms, and is shared by all samples, so "
                "dgamma = sum over the samples of dout * x_hat.")
        require(dx.shape == x.shape, f"dx must have x's shape {x.shape}, got {dx.shape}.")
        if not np.allclose(dx, ref_dx, rtol=1e-6, atol=1e-9):
            direct = dout * gamma / np.sqrt((x**2).mean(-1, keepdims=True) + eps)
            require(not np.allclose(dx, direct, rtol=1e-6, atol=1e-9),
                    "dx has only the direct path dout * gamma / rms: x also changes rms, which every output of the "
                    "sample depends on. Add that path (chain rule through mean(x**2)).")
            numeric = numeric_gradient(lambda z, g=gamma, e=eps: _rms(z, g, e), x.copy(), dout)
            raise ExerciseError(
                f"dx differs from the numerical gradient (relative error {rel_error(dx, numeric):.1e})."
            )
    ok("RMSNorm forward" + (" and backward match" if my_rmsnorm_backward else " matches") + " the reference.")


# ------------------------------------------------------------------------------------------- invariances


def check_invariance_predictions(predictions) -> None:
    """``predictions`` is a dict ``{transform: {"BatchNorm": bool, "LayerNorm": bool}}`` with one row per
    transformation of Ba et al.'s Table 1 (``True`` = the normalized output does not change), or a function
    without arguments returning that dict. Checked against the table computed by
    :func:`course_utils.experiments.layernorm.invariance_table`."""
    if callable(predictions):
        predictions = call_learner(predictions, name=getattr(predictions, "__name__", "your function"))
    require(isinstance(predictions, dict), f"predictions must be a dict, got {type(predictions).__name__}.")
    missing = [t for t in TRANSFORMS if t not in predictions]
    require(not missing, f"predictions has no row for: {missing}. Fill in one row per transformation.")
    computed = invariance_table()
    wrong = []
    for transform in TRANSFORMS:
        row = predictions[transform]
        require(isinstance(row, dict) and set(row) >= {"BatchNorm", "LayerNorm"},
                f"predictions[{transform!r}] must be a dict with keys 'BatchNorm' and 'LayerNorm'.")
        for norm in ("BatchNorm", "LayerNorm"):
            require(row[norm] in (True, False), f"predictions[{transform!r}][{norm!r}] must be True or False.")
            if bool(row[norm]) != computed[transform][norm]:
                wrong.append(f"{transform} / {norm}")
    require(
        not wrong,
        f"{len(wrong)} of 12 predictions disagree with the computed table: {', '.join(wrong)}. For each, ask: does "
        "the change add or multiply the SAME number for all entries that share one mean/variance "
        "(a column of the batch for BatchNorm, a row = one sample for LayerNorm)? Then it cancels.",
    )
    ok("all 12 predictions agree with the computed table (and with Ba et al.'s Table 1).")


# ------------------------------------------------------------------------------ invariances, count only


def check_invariance_count(predictions) -> None:
    """Like :func:`check_invariance_predictions`, but the feedback only says HOW MANY of the 12
    predictions agree with the computed table, never which: the learner cannot find the answers by
    flipping one entry at a time and reading which line disappears."""
    if callable(predictions):
        predictions = call_learner(predictions, name=getattr(predictions, "__name__", "your function"))
    require(isinstance(predictions, dict), f"predictions must be a dict, got {type(predictions).__name__}.")
    missing = [t for t in TRANSFORMS if t not in predictions]
    require(not missing, f"predictions has no row for: {missing}. Fill in one row per transformation.")
    computed = invariance_table()
    right = 0
    for transform in TRANSFORMS:
        row = predictions[transform]
        require(isinstance(row, dict) and set(row) >= {"BatchNorm", "LayerNorm"},
                f"predictions[{transform!r}] must be a dict with keys 'BatchNorm' and 'LayerNorm'.")
        for norm in ("BatchNorm", "LayerNorm"):
            require(row[norm] in (True, False), f"predictions[{transform!r}][{norm!r}] must be True or False.")
            right += bool(row[norm]) == computed[transform][norm]
    require(
        right == 12,
        f"{right} of 12 predictions agree with the computed table. Re-check each with the rule: does the change "
        "add or multiply the SAME number for all entries that share one mean/variance (one feature across the "
        "batch for BatchNorm, one sample for LayerNorm)? Then it cancels. Then read the table below.",
    )
    ok("all 12 predictions agree with the computed table (and with Ba et al.'s Table 1).")


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
    with the same weights, on two random blocks and inputs; a recognized mistake is named."""
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
    ok("your Pre-LN forward matches the course's Pre-LN block on two random blocks.")
