"""Checks for notebook 03's exercises: BatchNorm forward with running statistics (torch), its backward
pass (numpy, gradient-checked), and a BatchNorm model that was evaluated in train mode.

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
from . import call_learner, ok, require

__all__ = [
    "reference_batchnorm",
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_bn_predict",
    "check_fold_batchnorm",
    "check_masked_stats",
]


def reference_batchnorm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """What the exercise asks for (same numbers as ``torch.nn.functional.batch_norm``)."""
    return torch.nn.functional.batch_norm(x, running_mean, running_var, gamma, beta, training, momentum, eps)


def _problem(seed: int = 0, n: int = 16, d: int = 5):
    gen = torch.Generator().manual_seed(seed)
    # Features with different means and scales, so a per-example (wrong axis) normalization differs.
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.arange(1, d + 1) + torch.arange(d) * 3.0
    gamma = 1 + 0.5 * torch.randn(d, generator=gen, dtype=torch.float64)
    beta = torch.randn(d, generator=gen, dtype=torch.float64)
    rm = torch.randn(d, generator=gen, dtype=torch.float64)
    rv = 0.5 + torch.rand(d, generator=gen, dtype=torch.float64)
    return x, gamma, beta, rm, rv


def _close(a, b, tol=1e-6) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and bool(torch.allclose(a, b, atol=tol, rtol=tol))


def _run(fn, x, gamma, beta, rm, rv, training, momentum, eps):
    rm, rv = rm.clone(), rv.clone()
    out = call_learner(fn, x.clone(), gamma.clone(), beta.clone(), rm, rv, training, momentum, eps, name="my_batchnorm",
                       copy_inputs=False)  # fmt: skip
    require(isinstance(out, torch.Tensor), f"my_batchnorm must return the output tensor, got {type(out).__name__}.")
    require(out.shape == x.shape, f"The output must have the input's shape {tuple(x.shape)}, got {tuple(out.shape)}.")
    return out, rm, rv


def _diagnose_eps(fn, x, gamma, beta, rm0, rv0, momentum) -> None:
    # A large eps makes a missing or misplaced eps visible.
    big_eps = 0.5
    out_eps, _, _ = _run(fn, x, gamma, beta, rm0, rv0, True, momentum, big_eps)
    if _close(out_eps, reference_batchnorm(x, gamma, beta, rm0.clone(), rv0.clone(), True, momentum, big_eps)):
        return
    mean, var = x.mean(0), x.var(0, unbiased=False)
    no_eps = (x - mean) / torch.sqrt(var) * gamma + beta
    require(not _close(out_eps, no_eps), "Missing eps: divide by sqrt(var + eps), not sqrt(var).")
    outside = (x - mean) / (torch.sqrt(var) + big_eps) * gamma + beta
    require(not _close(out_eps, outside), "eps goes inside the square root: sqrt(var + eps), not sqrt(var) + eps.")
    require(False, "With eps=0.5 the output is wrong: use the eps argument, inside the square root.")


def check_batchnorm_forward(fn) -> None:
    """``fn(x, gamma, beta, running_mean, running_var, training, momentum, eps) -> out`` for x (N, D):
    BatchNorm's forward pass, updating ``running_mean``/``running_var`` in place in training (torch's
    convention: momentum = weight of the newest batch; unbiased variance in the running average)."""
    require(callable(fn), "Pass the function itself: check_batchnorm_forward(my_batchnorm).")
    x, gamma, beta, rm0, rv0 = _problem()
    momentum, eps = 0.1, 1e-5
    n = x.shape[0]

    # --- training-mode output
    out, rm, rv = _run(fn, x, gamma, beta, rm0, rv0, True, momentum, eps)
    expected = reference_batchnorm(x, gamma, beta, rm0.clone(), rv0.clone(), True, momentum, eps)
    if not _close(out, expected):
        per_example = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + eps)
        require(
            not _close(out, per_example * gamma + beta),
            "Wrong axis: you normalized each example over its features (axis 1, that is LayerNorm). "
            "BatchNorm normalizes each feature over the batch: x.mean(dim=0), x.var(dim=0, unbiased=False).",
        )
        unbiased = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=True) + eps) * gamma + beta
        require(
            not _close(out, unbiased),
            "Training normalizes with the *biased* batch variance (divide by N: unbiased=False); the "
            "unbiased one (N - 1) belongs only in the running average.",
        )
        eval_like = (x - rm0) / torch.sqrt(rv0 + eps) * gamma + beta
        require(not _close(out, eval_like), "In training mode use the batch statistics, not the running ones.")
        _diagnose_eps(fn, x, gamma, beta, rm0, rv0, momentum)
        require(False, "The training-mode output is not (x - mean) / sqrt(var + eps) * gamma + beta per feature.")
    _diagnose_eps(fn, x, gamma, beta, rm0, rv0, momentum)

    # --- running statistics after one training step
    mean, var = x.mean(0), x.var(0, unbiased=False)
    exp_rm = (1 - momentum) * rm0 + momentum * mean
    exp_rv = (1 - momentum) * rv0 + momentum * var * n / (n - 1)
    require(
        not (torch.equal(rm, rm0) and torch.equal(rv, rv0)),
        "Running statistics not updated: in training, update running_mean and running_var in place "
        "(running_mean.mul_(1 - momentum).add_(momentum * mean)).",
    )
    require(
        not _close(rm, momentum * rm0 + (1 - momentum) * mean),
        "Momentum convention: in torch, momentum is the weight of the NEWEST batch: "
        "running = (1 - momentum) * running + momentum * batch_mean (Keras's 0.99 is the weight of the old value).",
    )
    require(_close(rm, exp_rm), "running_mean should be (1 - momentum) * running_mean + momentum * batch mean.")
    require(
        not _close(rv, (1 - momentum) * rv0 + momentum * var),
        "Biased running variance: the running average takes the *unbiased* batch variance "
        "(times N / (N - 1)), as torch and Ioffe & Szegedy do.",
    )
    require(_close(rv, exp_rv), "running_var should be (1 - momentum) * running_var + momentum * unbiased batch var.")

    # --- no graph through the running statistics
    xg = x.clone().requires_grad_()
    _, rm_g, rv_g = _run(fn, xg, gamma, beta, rm0, rv0, True, momentum, eps)
    require(
        not (rm_g.requires_grad or rv_g.requires_grad),
        "Not detached: the running statistics now carry an autograd graph that grows every step. Update "
        "them under torch.no_grad() (or with mean.detach()).",
    )

    # --- eval mode
    out_eval, rm_e, rv_e = _run(fn, x, gamma, beta, rm0, rv0, False, momentum, eps)
    require(
        torch.equal(rm_e, rm0) and torch.equal(rv_e, rv0),
        "Running statistics updated in eval mode: only training steps may change them.",
    )
    expected_eval = (x - rm0) / torch.sqrt(rv0 + eps) * gamma + beta
    require(
        _close(out_eval, expected_eval),
        "In eval mode normalize with running_mean and running_var (not the batch's statistics).",
    )
    one, _, _ = _run(fn, x[:1], gamma, beta, rm0, rv0, False, momentum, eps)
    require(_close(one, expected_eval[:1]), "In eval mode a single example must work (and give the same answer).")
    ok("batch statistics per feature in training, unbiased running averages with torch's momentum, "
       "running statistics in eval.")  # fmt: skip


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
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(8, 4))
    gamma = rng.normal(size=4)
    dout = rng.normal(size=(8, 4))
    eps = 1e-5
    result = call_learner(fn, dout, x, gamma, eps, name="my_batchnorm_backward")
    require(isinstance(result, tuple | list) and len(result) == 3, "Return three arrays: (dx, dgamma, dbeta).")
    dx, dgamma, dbeta = (np.asarray(r, dtype=np.float64) for r in result)
    ref_dx, ref_dgamma, ref_dbeta = _bn_backward_reference(dout, x, gamma, eps)
    require(
        dgamma.shape == (4,) and dbeta.shape == (4,),
        f"dgamma and dbeta have one entry per feature, shape (4,); got {dgamma.shape} and {dbeta.shape}. "
        "Sum over the batch axis (axis=0).",
    )
    require(rel_error(dbeta, ref_dbeta) < 1e-7, "dbeta is the sum of dout over the batch (axis 0).")
    require(rel_error(dgamma, ref_dgamma) < 1e-7, "dgamma is the sum over the batch of dout * x_hat.")
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
    ok(f"dx, dgamma and dbeta agree with the numerical gradient (relative error {err:.1e}).")


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
    model = _bn_model()
    model.train()
    X = torch.from_numpy(np.random.default_rng(0).random((64, 64)).astype(np.float32))
    before = (model[1].running_mean.clone(), model[1].running_var.clone())
    full = torch.as_tensor(call_learner(predict, model, X, name="predict", copy_inputs=False))
    changed = not (torch.equal(model[1].running_mean, before[0]) and torch.equal(model[1].running_var, before[1]))
    require(
        not changed,
        "predict changed the running statistics: a forward pass in train mode updates them, even under "
        "torch.no_grad(). Switch to model.eval() before the forward pass.",
    )
    require(full.shape == (64,), f"Return one class per example, shape (64,), got {tuple(full.shape)}.")
    part = torch.as_tensor(call_learner(predict, model, X[:8], name="predict", copy_inputs=False))
    require(
        torch.equal(part, full[:8]),
        "The same examples got different predictions in a smaller batch: the model is still using batch "
        "statistics (train mode). Call model.eval() so the running statistics are used.",
    )
    single = torch.as_tensor(call_learner(predict, model, X[:1], name="predict", copy_inputs=False))
    require(torch.equal(single.reshape(-1), full[:1]), "Predicting one example alone must give the same class.")
    reference = _bn_model().eval()
    with torch.no_grad():
        expected = reference(X).argmax(1)
    require(torch.equal(full, expected), "Predictions must be model(X).argmax(dim=1) in eval mode.")
    ok("predictions use the running statistics: independent of the batch, and the model is left unchanged.")


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
        g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        if not torch.allclose(got, expected, atol=1e-8):
            no_eps = bn.weight / torch.sqrt(bn.running_var)
            require(
                not torch.allclose(folded.weight, linear.weight * no_eps[:, None], atol=1e-8),
                "Missing eps: g = gamma / sqrt(running_var + eps).",
            )
            require(
                torch.allclose(folded.weight, linear.weight * g[:, None], atol=1e-8),
                "The weight: scale row j of W (output unit j) by g_j = gamma_j / sqrt(running_var_j + eps), "
                "i.e. W * g[:, None].",
            )
            require(
                not torch.allclose(folded.bias, (linear.bias - bn.running_mean) * g, atol=1e-8),
                "The bias forgets beta: b' = (b - running_mean) * g + beta.",
            )
            require(
                not torch.allclose(folded.bias, linear.bias * g + bn.bias, atol=1e-8),
                "The bias forgets the running mean: b' = (b - running_mean) * g + beta.",
            )
            require(False, "The folded bias is wrong: b' = (b - running_mean) * g + beta.")
    ok("one Linear computes BatchNorm(Linear(x)) in eval mode: W' = g W, b' = g (b - running_mean) + beta.")


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
    ok("statistics over the real positions only: padding no longer pulls the mean toward 0.")
