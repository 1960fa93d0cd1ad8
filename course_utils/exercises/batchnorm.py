"""Checks for notebook 03's exercises: the backward pass through the computational graph, stage by stage
(numpy, every node against torch's autograd), BatchNorm forward with running statistics (torch), the compact
backward pass (numpy, gradient-checked), a BatchNorm model that was evaluated in train mode, folding
BatchNorm into the Linear before it, and masked statistics for padded sequences.

Every check calls the learner's function through :func:`call_learner` and names the usual mistake it
recognizes (wrong axis, biased running variance, missing eps, running statistics not updated or
updated in eval, not detached, momentum convention, forgotten gradient paths).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..gradcheck import numeric_gradient, rel_error
from ..models import make_mlp
from . import ExerciseError, call_learner, forbidden, gradients, ok, require, run_check

__all__ = [
    "reference_batchnorm",
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_bn_predict",
    "check_fold_batchnorm",
    "check_masked_stats",
    "check_staged_backward",
    "autograd_stage_gradients",
    "STAGES",
]


def reference_batchnorm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """What the exercise asks for (same numbers as ``torch.nn.functional.batch_norm``)."""
    return torch.nn.functional.batch_norm(x, running_mean, running_var, gamma, beta, training, momentum, eps)


_FORBIDDEN_HINT = (
    "Build it yourself from tensor operations (mean, var, sqrt, ...): torch's batch_norm (F.batch_norm, "
    "nn.BatchNorm1d, torch.batch_norm) and the course's layers are not allowed in this exercise."
)
_BN_OPS = ("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
           "_native_batch_norm_legit_functional", "_batch_norm_with_update", "_batch_norm_no_update",
           "cudnn_batch_norm", "batch_norm")


def _problem(seed: int = 0, n: int = 16, d: int = 5, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    # Features with different means and scales, so a per-example (wrong axis) normalization differs.
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.arange(1, d + 1) + torch.arange(d) * 3.0
    gamma = 1 + 0.5 * torch.randn(d, generator=gen, dtype=torch.float64)
    beta = torch.randn(d, generator=gen, dtype=torch.float64)
    rm = torch.randn(d, generator=gen, dtype=torch.float64)
    rv = 0.5 + torch.rand(d, generator=gen, dtype=torch.float64)
    return tuple(t.to(dtype) for t in (x, gamma, beta, rm, rv))


# (seed, batch, features, dtype, momentum, eps): torch's defaults, then other momenta, a large eps, float32,
# a batch of 2 and many features.
_CASES = (
    (0, 16, 5, torch.float64, 0.1, 1e-5),
    (1, 9, 3, torch.float64, 0.3, 0.5),
    (2, 2, 7, torch.float64, 0.05, 1e-3),
    (3, 32, 4, torch.float32, 0.2, 1e-5),
)


def _close(a, b, tol=None) -> bool:
    if not (isinstance(a, torch.Tensor) and a.shape == b.shape):
        return False
    tol = tol if tol is not None else (2e-4 if torch.float32 in (a.dtype, b.dtype) else 1e-6)
    return bool(torch.allclose(a.detach().double(), b.detach().double(), atol=tol, rtol=tol))


def _run(fn, x, gamma, beta, rm, rv, training, momentum, eps):
    """Call the learner on fresh copies (x, gamma, beta may require grad); return (out, rm, rv) after the call."""
    rm, rv = rm.clone(), rv.clone()
    with forbidden(_FORBIDDEN_HINT, aten=_BN_OPS):
        # Clones: the learner may change its inputs in place; autograd still reaches the originals.
        out = call_learner(fn, x.clone(), gamma.clone(), beta.clone(), rm, rv, training, momentum, eps,
                           name="my_batchnorm", copy_inputs=False)
    require(out is not None, "my_batchnorm returned None: return the output tensor.")
    require(isinstance(out, torch.Tensor), f"my_batchnorm must return the output tensor, got {type(out).__name__}.")
    require(out.shape == x.shape, f"The output must have the input's shape {tuple(x.shape)}, got {tuple(out.shape)}.")
    require(out.dtype == x.dtype, f"Keep the input's dtype: {x.dtype} in, {out.dtype} out (no .float(), .half() "
                                  "or numpy round trip).")
    return out, rm, rv


def _diagnose_training(out, x, gamma, beta, rm0, rv0, momentum, eps) -> None:
    """Name the mistake behind a wrong training-mode output, or say in general what it should be."""
    mean, var = x.mean(0), x.var(0, unbiased=False)
    x_hat = (x - mean) / torch.sqrt(var + eps)
    rm1 = (1 - momentum) * rm0 + momentum * mean
    rv1 = (1 - momentum) * rv0 + momentum * x.var(0, unbiased=True)
    per_example = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + eps)
    mistakes = (
        (per_example * gamma + beta,
         "Wrong axis: you normalized each example over its features (that is LayerNorm). BatchNorm normalizes "
         "each feature over the batch (dimension 0)."),
        ((x - mean) / torch.sqrt(x.var(0, unbiased=True) + eps) * gamma + beta,
         "Training normalizes with the *biased* batch variance (divide by N); the unbiased one (N - 1) belongs "
         "only in the running average."),
        ((x - rm0) / torch.sqrt(rv0 + eps) * gamma + beta,
         "In training mode use the batch statistics, not the running ones."),
        ((x - rm1) / torch.sqrt(rv1 + eps) * gamma + beta,
         "You normalized with the running statistics you had just updated: in training, normalize with the "
         "batch's own mean and variance; the running averages are only for eval mode."),
        ((x - mean) / torch.sqrt(var) * gamma + beta, "Missing eps: it goes into the square root with the variance."),
        ((x - mean) / (torch.sqrt(var) + eps) * gamma + beta,
         "eps goes inside the square root, added to the variance, not to the standard deviation."),
        ((x - mean) / torch.sqrt(var + (1e-5 if eps != 1e-5 else 0.5)) * gamma + beta,
         "Use the eps argument you are given, not a fixed number."),
        (x_hat, "The output is not scaled by gamma and shifted by beta."),
        (x_hat * gamma, "beta is missing: the normalized values are scaled by gamma, then shifted by beta."),
        (x_hat + beta, "gamma is missing: the normalized values are scaled by gamma, then shifted by beta."),
        (x_hat * beta + gamma, "gamma and beta are swapped: gamma scales, beta shifts."),
    )
    for wrong, hint in mistakes:
        require(not _close(out, wrong.to(out.dtype)), hint)
    require(False, "The training-mode output is not each feature normalized over the batch (batch mean, biased "
                   "batch variance, eps inside the square root), then scaled by gamma and shifted by beta.")


def _check_running_stats(rm, rv, x, rm0, rv0, momentum) -> None:
    n = x.shape[0]
    mean, var = x.mean(0), x.var(0, unbiased=False)
    exp_rm = (1 - momentum) * rm0 + momentum * mean
    exp_rv = (1 - momentum) * rv0 + momentum * var * n / (n - 1)
    require(
        not (torch.equal(rm, rm0) and torch.equal(rv, rv0)),
        "Running statistics not updated: in training, change the running_mean and running_var tensors you were "
        "given, in place (assigning a new tensor to the name does not reach the caller).",
    )
    require(
        not _close(rm, momentum * rm0 + (1 - momentum) * mean),
        "Momentum convention: in torch, momentum is the weight of the NEWEST batch in the running average "
        "(Keras's 0.99 is the weight of the old value).",
    )
    require(_close(rm, exp_rm), f"running_mean is not the running average with momentum={momentum}: keep "
                                "(1 - momentum) of the old value and add momentum times the batch mean.")
    require(
        not _close(rv, (1 - momentum) * rv0 + momentum * var),
        "Biased running variance: the running average takes the *unbiased* batch variance (divide by N - 1), "
        "as torch and Ioffe & Szegedy do.",
    )
    require(_close(rv, exp_rv), f"running_var is not the running average with momentum={momentum} of the unbiased "
                                "batch variance.")


def _gradient_hint(fn, x, gamma, beta, rm0, rv0, training, momentum, eps) -> str | None:
    """Compare the gradients of the learner's output with torch's for x, gamma and beta; a hint if they differ."""
    weights = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=x.dtype)

    def learner(x_, g_, b_):
        return _run(fn, x_, g_, b_, rm0, rv0, training, momentum, eps)[0]

    def reference(x_, g_, b_):
        return reference_batchnorm(x_, g_, b_, rm0.clone(), rv0.clone(), training, momentum, eps)

    got = gradients(learner, [x, gamma, beta], weights)
    expected = gradients(reference, [x, gamma, beta], weights)
    mode = "training" if training else "eval"
    if all(g is None for g in got):
        return (f"No gradient flows through your {mode}-mode output: the layer could not train. Keep the "
                "normalization in autograd (no torch.no_grad() or .detach() around it, no numpy); only the "
                "running-statistics update is done without gradients.")
    for label, g, e in zip(("x", "gamma", "beta"), got, expected, strict=True):
        if g is None or not _close(g, e):
            if label == "x" and training:
                return ("The gradient with respect to x is wrong: the batch mean and variance depend on x, so the "
                        "gradient must also flow through them (do not detach them).")
            return f"The gradient with respect to {label} is wrong in {mode} mode: keep {label} in autograd."
    return None


def _check_forward_body(fn) -> str:
    for seed, n, d, dtype, momentum, eps in _CASES:
        x, gamma, beta, rm0, rv0 = _problem(seed, n, d, dtype)
        # --- training: output, running statistics, gradients, no graph in the running statistics
        out, rm, rv = _run(fn, x, gamma, beta, rm0, rv0, True, momentum, eps)
        expected = reference_batchnorm(x, gamma, beta, rm0.clone(), rv0.clone(), True, momentum, eps)
        if not _close(out, expected):
            _diagnose_training(out, x, gamma, beta, rm0, rv0, momentum, eps)
        _check_running_stats(rm, rv, x, rm0, rv0, momentum)
        xg = x.clone().requires_grad_()
        _, rm_g, rv_g = _run(fn, xg, gamma, beta, rm0, rv0, True, momentum, eps)
        require(
            not (rm_g.requires_grad or rv_g.requires_grad),
            "Not detached: the running statistics now carry an autograd graph that grows every step. Update "
            "them without recording gradients (only that update; the output must keep its gradient).",
        )
        hint = _gradient_hint(fn, x, gamma, beta, rm0, rv0, True, momentum, eps)
        require(hint is None, hint or "")
        # --- eval: running statistics, untouched, any batch size, gradients
        out_eval, rm_e, rv_e = _run(fn, x, gamma, beta, rm0, rv0, False, momentum, eps)
        require(
            torch.equal(rm_e, rm0) and torch.equal(rv_e, rv0),
            "Running statistics updated in eval mode: only training steps may change them.",
        )
        expected_eval = (x - rm0) / torch.sqrt(rv0 + eps) * gamma + beta
        if not _close(out_eval, expected_eval):
            require(not _close(out_eval, expected),
                    "In eval mode normalize with running_mean and running_var (not the batch's statistics).")
            require(False, "The eval-mode output is not x normalized with the running statistics (and the eps you "
                           "are given), scaled by gamma and shifted by beta.")
        one, _, _ = _run(fn, x[:1], gamma, beta, rm0, rv0, False, momentum, eps)
        require(_close(one, expected_eval[:1]), "In eval mode a single example must work (and give the same answer).")
        hint = _gradient_hint(fn, x, gamma, beta, rm0, rv0, False, momentum, eps)
        require(hint is None, hint or "")
    return ("batch statistics per feature in training, unbiased running averages with torch's momentum, "
            "running statistics in eval.")


def check_batchnorm_forward(fn) -> None:
    """``fn(x, gamma, beta, running_mean, running_var, training, momentum, eps) -> out`` for x (N, D):
    BatchNorm's forward pass, updating ``running_mean``/``running_var`` in place in training (torch's
    convention: momentum = weight of the newest batch; unbiased variance in the running average).

    Tried on several batches (float32 and float64, momentum and eps other than the defaults, one example
    in eval), with gradients through x, gamma and beta compared to torch's; torch's batch_norm is refused.
    """
    require(callable(fn), "Pass the function itself: check_batchnorm_forward(my_batchnorm).")
    ok(run_check(_check_forward_body, fn, name="my_batchnorm"))


def _bn_backward_reference(dout, x, gamma, eps):
    mean = x.mean(0)
    var = x.var(0)
    inv = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv
    dbeta = dout.sum(0)
    dgamma = (dout * x_hat).sum(0)
    n = x.shape[0]
    dx = gamma * inv / n * (n * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def check_batchnorm_backward(fn) -> None:
    """``fn(dout, x, gamma, eps) -> (dx, dgamma, dbeta)``: the training-mode backward pass of
    ``out = gamma * (x - mean) / sqrt(var + eps) + beta`` (numpy, x of shape (N, D))."""
    require(callable(fn), "Pass the function itself: check_batchnorm_backward(my_batchnorm_backward).")
    ok(run_check(_check_backward_body, fn, name="my_batchnorm_backward"))


def _check_backward_body(fn) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(8, 4))
    gamma = rng.normal(size=4)
    dout = rng.normal(size=(8, 4))
    eps = 1e-5
    result = call_learner(fn, dout, x, gamma, eps, name="my_batchnorm_backward")
    require(isinstance(result, tuple | list) and len(result) == 3, "Return three arrays: (dx, dgamma, dbeta).")
    require(all(r is not None for r in result), "Return three numpy arrays (dx, dgamma, dbeta): one of them is None.")
    try:
        dx, dgamma, dbeta = (np.asarray(r, dtype=np.float64) for r in result)
    except (TypeError, ValueError):
        raise ExerciseError("Return three numpy arrays (dx, dgamma, dbeta), got "
                            + ", ".join(type(r).__name__ for r in result) + ".") from None
    ref_dx, ref_dgamma, ref_dbeta = _bn_backward_reference(dout, x, gamma, eps)
    require(
        dgamma.shape == (4,) and dbeta.shape == (4,),
        f"dgamma and dbeta have one entry per feature, shape (4,); got {dgamma.shape} and {dbeta.shape}. "
        "Sum over the batch axis (axis=0).",
    )
    require(not (rel_error(dbeta, ref_dgamma) < 1e-7 and rel_error(dgamma, ref_dbeta) < 1e-7),
            "dgamma and dbeta are right but swapped: return them in the order (dx, dgamma, dbeta).")
    require(rel_error(dbeta, ref_dbeta) < 1e-7, "dbeta is the sum of dout over the batch (axis 0).")
    require(rel_error(dgamma, ref_dgamma) < 1e-7, "dgamma is wrong: gamma multiplies the normalized x, so its "
                                                  "gradient sums dout times the normalized x over the batch.")
    require(dx.shape == x.shape, f"dx must have the shape of x {x.shape}, got {dx.shape}.")
    direct = dout * gamma / np.sqrt(x.var(0) + eps)
    require(
        rel_error(dx, direct) > 1e-6,
        "dx has only the direct path dout * gamma / sqrt(var + eps): in training the batch mean and "
        "variance depend on x too, so subtract their paths (the two sums over the batch).",
    )

    def forward(z):
        return gamma * (z - z.mean(0)) / np.sqrt(z.var(0) + eps)

    numeric = numeric_gradient(forward, x.copy(), dout)
    err = rel_error(dx, numeric)
    require(err < 1e-6, f"dx disagrees with the numerical gradient (relative error {err:.1e}).")
    return f"dx, dgamma and dbeta agree with the numerical gradient (relative error {err:.1e})."


def _bn_model() -> nn.Module:
    model = make_mlp(64, [32], 10, norm="batch", linear_bias=False, seed=0)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        bn = model[1]
        bn.running_mean.copy_(0.5 * torch.randn(32, generator=gen))
        bn.running_var.copy_(0.5 + torch.rand(32, generator=gen))
    return model


def check_bn_predict(predict) -> None:
    """``predict(model, X) -> classes`` for a BatchNorm model: independent of the other examples in X,
    works for one example, leaves the running statistics alone."""
    require(callable(predict), "Pass the function itself: check_bn_predict(predict).")
    ok(run_check(_check_bn_predict_body, predict, name="predict"))


def _classes(result, n: int) -> torch.Tensor:
    require(result is not None, "predict returned None: return the predicted classes.")
    require(isinstance(result, torch.Tensor | np.ndarray),
            f"predict must return the predicted classes as a tensor, got {type(result).__name__}.")
    result = torch.as_tensor(result)
    require(result.reshape(-1).shape == (n,), f"Return one class per example, shape ({n},), got {tuple(result.shape)}.")
    return result.reshape(-1)


def _check_bn_predict_body(predict) -> str:
    model = _bn_model()
    model.train()
    X = torch.from_numpy(np.random.default_rng(0).random((64, 64)).astype(np.float32))
    before = (model[1].running_mean.clone(), model[1].running_var.clone())
    full = _classes(call_learner(predict, model, X, name="predict", copy_inputs=False), 64)
    changed = not (torch.equal(model[1].running_mean, before[0]) and torch.equal(model[1].running_var, before[1]))
    require(
        not changed,
        "predict changed the running statistics: a forward pass in train mode updates them, even under "
        "torch.no_grad(). Switch the model to evaluation mode before the forward pass.",
    )
    require(full.shape == (64,), f"Return one class per example, shape (64,), got {tuple(full.shape)}.")
    require(
        all(m.training for m in model.modules()),
        "predict left the model in evaluation mode: put it back in the mode it was in (here training mode), "
        "so that a training loop which calls predict goes on training with batch statistics.",
    )
    part = _classes(call_learner(predict, model, X[:8], name="predict", copy_inputs=False), 8)
    require(
        torch.equal(part, full[:8]),
        "The same examples got different predictions in a smaller batch: the model is still using batch "
        "statistics (train mode). In evaluation mode the running statistics are used.",
    )
    single = _classes(call_learner(predict, model, X[:1], name="predict", copy_inputs=False), 1)
    require(torch.equal(single.reshape(-1), full[:1]), "Predicting one example alone must give the same class.")
    model.eval()
    call_learner(predict, model, X[:8], name="predict", copy_inputs=False)
    require(
        not any(m.training for m in model.modules()),
        "predict switched a model that was in evaluation mode to training mode: put it back in the mode it was "
        "in, whichever that was.",
    )
    reference = _bn_model().eval()
    with torch.no_grad():
        expected = reference(X).argmax(1)
    require(torch.equal(full, expected),
            "Predictions must be the model's most likely class per example, computed in evaluation mode.")
    return "predictions use the running statistics: independent of the batch, and the model is left unchanged."


# ------------------------------------------------------------------ exercises that build (sections 6b and 7)


def _fold_problem():
    gen = torch.Generator().manual_seed(3)
    linear = nn.Linear(6, 4).double()
    bn = nn.BatchNorm1d(4).double()
    with torch.no_grad():
        linear.weight.copy_(torch.randn(4, 6, generator=gen, dtype=torch.float64))
        linear.bias.copy_(torch.randn(4, generator=gen, dtype=torch.float64))
        bn.weight.copy_(0.5 + torch.rand(4, generator=gen, dtype=torch.float64))
        bn.bias.copy_(torch.randn(4, generator=gen, dtype=torch.float64))
        bn.running_mean.copy_(torch.randn(4, generator=gen, dtype=torch.float64))
        bn.running_var.copy_(0.01 + torch.rand(4, generator=gen, dtype=torch.float64))  # small: eps matters
    bn.eps = 0.05  # large enough that a forgotten eps shows
    x = torch.randn(10, 6, generator=gen, dtype=torch.float64)
    return linear, bn.eval(), x


def check_fold_batchnorm(fold) -> None:
    """``fold(linear, bn) -> nn.Linear`` equal to ``bn(linear(x))`` with ``bn`` in eval mode, leaving both alone."""
    require(callable(fold), "Pass the function itself: check_fold_batchnorm(my_fold).")
    ok(run_check(_check_fold_body, fold, name="my_fold"))


def _check_fold_body(fold) -> str:
    linear, bn, x = _fold_problem()
    saved = [t.clone() for t in (linear.weight, linear.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var)]
    folded = call_learner(fold, linear, bn, name="my_fold", copy_inputs=False)
    require(isinstance(folded, nn.Linear), f"Return a torch.nn.Linear, got {type(folded).__name__}.")
    now = (linear.weight, linear.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var)
    require(
        all(torch.equal(a, b) for a, b in zip(saved, now, strict=True)),
        "my_fold changed linear or bn: build a new Linear and leave the originals alone.",
    )
    require(
        folded.weight.shape == linear.weight.shape, f"The folded weight must have shape {tuple(linear.weight.shape)}."
    )
    with torch.no_grad():
        expected = bn(linear(x))
        got = folded.double()(x)
        g = bn.weight / (bn.running_var + bn.eps).sqrt()
        if not torch.allclose(got, expected, atol=1e-8):
            no_eps = bn.weight / bn.running_var.sqrt()
            require(
                not torch.allclose(folded.weight, linear.weight * no_eps[:, None], atol=1e-8),
                "Missing eps: it goes into the square root with the running variance.",
            )
            require(
                torch.allclose(folded.weight, linear.weight * g[:, None], atol=1e-8),
                "The weight: row j of W belongs to output unit j, so the whole row is scaled by unit j's factor "
                "(its gamma over its running standard deviation, eps included).",
            )
            require(
                not torch.allclose(folded.bias, (linear.bias - bn.running_mean) * g, atol=1e-8),
                "The bias forgets beta, which BatchNorm adds after scaling.",
            )
            require(
                not torch.allclose(folded.bias, linear.bias * g + bn.bias, atol=1e-8),
                "The bias forgets the running mean, which BatchNorm subtracts before scaling.",
            )
            require(False, "The folded bias is wrong: follow the Linear's bias through BatchNorm's eval-mode "
                           "steps (subtract, scale, shift).")
    return "one Linear computes BatchNorm(Linear(x)) in eval mode: W' = g W, b' = g (b - running_mean) + beta."


def _masked_problem():
    gen = torch.Generator().manual_seed(5)
    lengths = [5, 2, 7, 3]
    x = torch.zeros(4, 3, 7, dtype=torch.float64)
    mask = torch.zeros(4, 7, dtype=torch.bool)
    for i, n in enumerate(lengths):
        x[i, :, :n] = 2 + torch.randn(3, n, generator=gen, dtype=torch.float64)
        mask[i, :n] = True
    return x, mask


def check_masked_stats(fn) -> None:
    """``fn(x, mask) -> (mean, var)`` for padded sequences x (N, C, L) and a boolean mask (N, L) (True at real
    steps): per-channel mean and biased variance over the real positions only, each of shape (C,)."""
    require(callable(fn), "Pass the function itself: check_masked_stats(masked_stats).")
    ok(run_check(_check_masked_stats_body, fn, name="masked_stats"))


def _check_masked_stats_body(fn) -> str:
    x, mask = _masked_problem()
    result = call_learner(fn, x, mask, name="masked_stats")
    require(isinstance(result, tuple | list) and len(result) == 2, "Return two tensors: (mean, var).")
    mean, var = (torch.as_tensor(r, dtype=torch.float64) for r in result)
    require(
        mean.shape == (3,) and var.shape == (3,),
        f"mean and var have one entry per channel, shape (3,); got {tuple(mean.shape)} and {tuple(var.shape)}.",
    )
    real = x.permute(1, 0, 2)[:, mask]  # (C, number of real positions)
    require(
        not torch.allclose(mean, x.mean(dim=(0, 2))),
        "That is the plain mean over N and L: the padding zeros count. Average over the real positions only.",
    )
    require(torch.allclose(mean, real.mean(1)), "mean: the sum of x over the real positions divided by their count.")
    require(
        not torch.allclose(var, real.var(1, unbiased=True)),
        "Use the biased variance (divide by the count, not count - 1), as BatchNorm does in training.",
    )
    require(
        torch.allclose(var, real.var(1, unbiased=False)),
        "var: the mean of (x - mean)^2 over the real positions only (padding excluded from sum and count).",
    )
    return "statistics over the real positions only: padding no longer pulls the mean toward 0."


# ------------------------------------------------------ the backward pass through the graph, stage by stage

STAGES = ("beta", "gamma", "x_hat", "inv_std", "var", "centered", "mu", "x")
"""The nodes of BatchNorm's forward graph, from the output back to the input: the order the gradients flow.

Forward (training mode, x of shape (N, D))::

    mu = mean of x over the batch          (D,)
    centered = x - mu                      (N, D)
    var = mean of centered**2 over batch   (D,)
    inv_std = 1 / sqrt(var + eps)          (D,)
    x_hat = centered * inv_std             (N, D)
    out = gamma * x_hat + beta             (N, D)
"""
_PER_FEATURE = {"beta", "gamma", "inv_std", "var", "mu"}

# (seed, batch, features, eps): a typical batch, few examples with a large eps, the smallest batch, many features.
_STAGED_CASES = ((0, 8, 4, 1e-5), (1, 3, 5, 0.5), (2, 2, 3, 1e-3), (3, 32, 6, 1e-5))


def _staged_problem(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gen = torch.Generator().manual_seed(100 + seed)
    # Features with different means and scales, so that a gradient summed over the wrong axis shows.
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.arange(1, d + 1) + 2.0 * torch.arange(d)
    gamma = 0.5 + torch.rand(d, generator=gen, dtype=torch.float64)
    dout = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return x.numpy(), gamma.numpy(), dout.numpy()


def autograd_stage_gradients(dout: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float) -> dict:
    """The gradient of ``sum(dout * out)`` with respect to every node of :data:`STAGES`, by torch's autograd
    (float64): the reference the staged backward is checked against."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    gt = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
    bt = torch.zeros_like(gt, requires_grad=True)
    mu = xt.mean(0)
    centered = xt - mu
    var = (centered * centered).mean(0)
    inv_std = (var + eps).rsqrt()
    x_hat = centered * inv_std
    nodes = {"mu": mu, "centered": centered, "var": var, "inv_std": inv_std, "x_hat": x_hat}
    for node in nodes.values():
        node.retain_grad()
    (torch.tensor(dout) * (gt * x_hat + bt)).sum().backward()
    nodes.update(x=xt, gamma=gt, beta=bt)
    return {name: nodes[name].grad.numpy().copy() for name in STAGES}


def _stage_mistakes(stage: str, got: dict, x: np.ndarray, gamma: np.ndarray, eps: float, dout: np.ndarray):
    """Named wrong variants of one stage's gradient, computed from the learner's own (already right) upstream
    gradients, so that a mistake is named where it is made."""
    n = x.shape[0]
    mu = x.mean(0)
    centered = x - mu
    var = (centered**2).mean(0)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = centered * inv_std
    up = {k: np.asarray(v, dtype=np.float64) for k, v in got.items() if k in STAGES}
    if stage == "beta":
        return ((dout.mean(0), "beta is added to every example's output: its gradient sums dout over the batch "
                               "(not the mean)."),)
    if stage == "gamma":
        return ((dout.sum(0), "That is beta's gradient: gamma multiplies x_hat, so each example's dout is "
                              "weighted by its x_hat before summing over the batch."),
                ((dout * centered).sum(0), "gamma multiplies x_hat (the normalized value), not centered."))
    if stage == "x_hat":
        return ((dout, "x_hat reaches the output multiplied by gamma: its gradient is dout scaled by gamma."),
                (dout * x_hat, "x_hat is multiplied by gamma in the output, so gamma (not x_hat) scales dout."))
    if stage == "inv_std":
        dx_hat = up["x_hat"]
        return (((dx_hat * x_hat).sum(0), "In x_hat = centered * inv_std the factor next to inv_std is centered "
                                          "(not x_hat)."),
                ((dx_hat * centered).mean(0), "inv_std is shared by all N examples of its feature: add up (not "
                                              "average) the contributions of the examples."))
    if stage == "var":
        dinv = up["inv_std"]
        return ((0.5 * (var + eps) ** -1.5 * dinv, "Sign: inv_std shrinks as var grows, so the derivative of "
                                                   "inv_std with respect to var is negative."),
                (-0.5 * var**-1.5 * dinv, "eps is part of the function: keep it in the derivative."),
                (-0.5 * (var + eps) ** -0.5 * dinv, "The power rule: differentiating (var + eps) to the power -1/2 "
                                                    "lowers the power by one, to -3/2."),
                (-(var + eps) ** -1.5 * dinv, "The power rule brings down the exponent -1/2 as a factor."),
                (dinv / (2 * np.sqrt(var + eps)), "You differentiated the square root, but inv_std is one over the "
                                                  "square root: use the power -1/2."))
    if stage == "centered":
        direct = up["x_hat"] * inv_std
        dvar = up["var"]
        return ((direct, "centered feeds two nodes, x_hat and var: add the gradient that comes back through var."),
                (direct + 2 * centered * dvar, "var is the mean of centered squared over the N examples: the path "
                                              "through var carries a factor 1/N."),
                (direct + centered * dvar / n, "The derivative of a square brings a factor 2."),
                (up["x_hat"] * inv_std + 2.0 / n * x_hat * dvar, "var is computed from centered (not from x_hat): "
                                                                  "the path through var uses centered's values."))
    if stage == "mu":
        dc = up["centered"]
        return ((dc.sum(0), "Sign: centered = x - mu, so mu enters with a minus sign."),
                (-dc.mean(0), "mu is shared by all N examples of its feature: add up (not average) the "
                              "contributions of the examples."),
                (-(up["x_hat"] * inv_std).sum(0), "Use centered's whole gradient (both of its paths) when you go on "
                                                  "to mu."))
    if stage == "x":
        dc, dmu = up["centered"], up["mu"]
        return ((dc, "x feeds two nodes, centered and mu: add the gradient that comes back through the mean."),
                (dc + dmu, "mu is the mean of N examples: each example receives 1/N of mu's gradient."),
                (dc - dmu / n, "Sign: mu is x's mean, so x receives mu's gradient with a plus sign (the minus was "
                               "already used on the way from centered to mu)."))
    return ()


def _as_stage_array(value, stage: str, shape: tuple[int, ...]) -> np.ndarray:
    require(value is not None, f"grads['{stage}'] is None: store the gradient of {stage} there (a numpy array).")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"grads['{stage}'] must be a numpy array, got {type(value).__name__}.") from None
    if arr.shape != shape:
        if stage in _PER_FEATURE and arr.ndim == 2 and arr.shape[1:] == shape:
            raise ExerciseError(
                f"grads['{stage}'] has shape {arr.shape}, but {stage} is one number per feature, shared by the whole "
                f"column: add up the contributions of all N examples (its gradient has shape {shape})."
            )
        raise ExerciseError(f"grads['{stage}'] must have the shape of {stage}, {shape}; got {arr.shape}.")
    return arr


def _check_staged_body(fn) -> str:
    worst = 0.0
    for seed, n, d, eps in _STAGED_CASES:
        x, gamma, dout = _staged_problem(seed, n, d)
        expected = autograd_stage_gradients(dout, x, gamma, eps)
        got = call_learner(fn, dout, x, gamma, eps, name="staged_backward")
        require(isinstance(got, dict), f"Return the dict of gradients (grads), got {type(got).__name__}.")
        missing = [s for s in STAGES if s not in got]
        require(not missing, f"grads has no entry for {', '.join(missing)}: store the gradient of every node "
                             f"({', '.join(STAGES)}).")
        for stage in STAGES:
            shape = (d,) if stage in _PER_FEATURE else (n, d)
            arr = _as_stage_array(got[stage], stage, shape)
            err = rel_error(arr, expected[stage])
            if err > 1e-7:
                for wrong, hint in _stage_mistakes(stage, got, x, gamma, eps, dout):
                    require(rel_error(arr, np.broadcast_to(wrong, shape)) > 1e-7, f"grads['{stage}']: {hint}")
                require(False, f"grads['{stage}'] disagrees with autograd (relative error {err:.1e}) with batch {n}, "
                               f"{d} features, eps {eps:g}; the stages before it are right. Write down what "
                               f"{stage} feeds in the forward pass and add up the gradient of each path.")
            worst = max(worst, err)
    return (f"every stage agrees with autograd on {len(_STAGED_CASES)} batches (N = 2 to 32; largest relative "
            f"error {worst:.0e}).")


def check_staged_backward(fn) -> None:
    """``fn(dout, x, gamma, eps) -> grads``: the gradient of every node of BatchNorm's training-mode forward
    graph (:data:`STAGES`), each compared with torch's autograd on several batches; the first wrong stage
    is named, with the mistake when it is a usual one."""
    require(callable(fn), "Pass the function itself: check_staged_backward(staged_backward).")
    ok(run_check(_check_staged_body, fn, name="staged_backward"))
