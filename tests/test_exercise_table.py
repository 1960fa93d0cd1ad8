"""Every exercise check, fed realistic learner code: each named mistake must fail with its hint, each correct
variant (written differently from the notebook's solution) must pass, and no hint may contain the solution.

One row per implementation: (check, implementation, expected). ``expected`` is ``None`` for a correct variant,
else a regex the hint must match. Rows are grouped by exercise; grow the table with every new kind of mistake.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.functional import dropout as imported_dropout

from course_utils import numpy_layers as nl
from course_utils import setup_notebook
from course_utils.exercises import ExerciseError
from course_utils.exercises import basics as ex0
from course_utils.exercises import batchnorm as ex3
from course_utils.exercises import depth as ex1
from course_utils.exercises import dropout as ex2
from course_utils.exercises import layernorm as ex4
from course_utils.exercises import together as ex5
from course_utils.experiments.scales import LR_GRID, baseline_loss, train_full_batch
from course_utils.models import make_mlp

setup_notebook(quiet=True)

ROWS: list[tuple[str, object, object, str | None]] = []  # (row id, check, implementation, expected hint)


def row(check, expected: str | None = None):
    """Decorator: add the decorated implementation to the table."""

    def add(fn):
        ROWS.append((f"{check.__name__}-{fn.__name__}", check, fn, expected))
        return fn

    return add


# ------------------------------------------------------------------------------------------- 0.1 standardize

@row(ex0.check_standardize_feature)
def std_via_mean_of_squares(x, eps=1e-5):
    centered = x - np.mean(x)
    return centered / np.sqrt(np.mean(centered**2) + eps)


@row(ex0.check_standardize_feature, "eps argument")
def std_hardcoded_eps(x, eps=1e-5):
    return (x - x.mean()) / np.sqrt(x.var() + 1e-5)


@row(ex0.check_standardize_feature, "sample variance")
def std_ddof1(x, eps=1e-5):
    return (x - x.mean()) / np.sqrt(x.var(ddof=1) + eps)


# ------------------------------------------------------------------------------------- 0.2 parameter_summary

@row(ex0.check_mlp_parameters)
def params_by_dict(model):
    params = dict(model.named_parameters())
    return list(params), sum(math.prod(p.shape) for p in params.values())


@row(ex0.check_mlp_parameters, "names of its learnable parameters")
def params_constant(model):
    return ["0.weight", "0.bias", "2.weight", "2.bias"], 23


_GLOBAL_MLP = make_mlp(4, [3], 2, seed=0)


@row(ex0.check_mlp_parameters, "names of its learnable parameters")
def params_ignore_argument(model):
    return [n for n, _ in _GLOBAL_MLP.named_parameters()], sum(p.numel() for p in _GLOBAL_MLP.parameters())


@row(ex0.check_mlp_parameters, "names of its learnable parameters")
def params_counts_buffers(model):
    state = model.state_dict()
    return list(state), sum(v.numel() for v in state.values())


# --------------------------------------------------------------------------------------------- 0.3 run(seed)

from course_utils import train as train_module  # noqa: E402 - the notebook's name for the module
from course_utils.data import load_digits  # noqa: E402

_DIGITS = load_digits()


@row(ex0.check_seeded_run)
def run_right(seed):
    model = make_mlp(64, [32], 10, seed=seed)
    history = train_module.train(model, _DIGITS, steps=ex0.RUN_STEPS, lr=0.1, seed=seed, eval_every=ex0.RUN_STEPS)
    return history.final()["val_loss"]


@row(ex0.check_seeded_run, "seed")
def run_seed_only_in_model(seed):
    model = make_mlp(64, [32], 10, seed=seed)
    return train_module.train(model, _DIGITS, steps=ex0.RUN_STEPS, lr=0.1, eval_every=ex0.RUN_STEPS).final()["val_loss"]


@row(ex0.check_seeded_run, "steps and learning rate")
def run_50_steps(seed):
    model = make_mlp(64, [32], 10, seed=seed)
    return train_module.train(model, _DIGITS, steps=50, lr=0.1, seed=seed, eval_every=50).final()["val_loss"]


# ----------------------------------------------------------------------------------------- 1.1 standardize

@row(ex1.check_standardize)
def split_std_sklearn_style(X_train, X_other):
    mu = X_train.sum(0) / len(X_train)
    sd = np.sqrt(((X_train - mu) ** 2).mean(0))
    return (X_train - mu) / sd, (X_other - mu) / sd


@row(ex1.check_standardize, "pooled")
def split_std_pooled(X_train, X_other):
    both = np.vstack([X_train, X_other])
    return (X_train - both.mean(0)) / both.std(0), (X_other - both.mean(0)) / both.std(0)


# ------------------------------------------------------------------------------- 1.3 largest stable lr

def _largest(raw, steps=200, part="train_loss"):
    largest = None
    for candidate in LR_GRID:
        _model, h = train_full_batch(raw, [32], lr=candidate, steps=steps)
        if not h.diverged and h.final()[part] < 0.9 * baseline_loss(raw):
            largest = candidate
    return largest


@row(ex1.check_largest_stable_lr)
def lr_right(raw):
    return _largest(raw)


@row(ex1.check_largest_stable_lr, "200 steps")
def lr_50_steps(raw):
    return _largest(raw, steps=50)


@row(ex1.check_largest_stable_lr, "validation data")
def lr_validation_loss(raw):
    return _largest(raw, part="val_loss")


@row(ex1.check_largest_stable_lr, "train_full_batch")
def lr_hardcoded(raw):
    return 1e-3


# ------------------------------------------------------------------------------------------------ 1.4 hooks

def _hooked(model, X, *, returns=False, use_inputs=False, remove=True):
    stats, handles = [], []

    def hook(_m, inputs, output):
        t = inputs[0] if use_inputs else output
        stats.append((t.mean().item(), t.std().item()))
        return output * 1.0 + 1.0 if returns else None

    for module in model.modules():
        if isinstance(module, nn.ReLU):
            handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(X)
    if remove:
        for h in handles:
            h.remove()
    return stats


@row(ex1.check_activation_hook)
def hook_right(model, X):
    return _hooked(model, X)


@row(ex1.check_activation_hook, "returns a value")
def hook_returns_value(model, X):
    return _hooked(model, X, returns=True)


@row(ex1.check_activation_hook, "ReLU's input")
def hook_on_inputs(model, X):
    return _hooked(model, X, use_inputs=True)


@row(ex1.check_activation_hook, "still attached")
def hook_not_removed(model, X):
    return _hooked(model, X, remove=False)


@row(ex1.check_activation_hook, "one \\(mean, std\\) pair per ReLU|IndexError")
def hook_hardcoded_positions(model, X):
    stats = []
    with torch.no_grad():
        h = X
        for i in range(7):
            h = model[i](h)
            if i in (1, 3, 5):
                stats.append((h.mean().item(), h.std().item()))
    return stats


# ---------------------------------------------------------------------------------------- 2.1 dropout forward

@row(ex2.check_dropout_forward)
def drop_where(x, p, training, rng):
    if not training:
        return x, None
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0.0), keep


@row(ex2.check_dropout_forward, "shape")
def drop_2d_only(x, p, training, rng):
    if not training:
        return x, None
    N, D = x.shape
    keep = rng.random((N, D)) >= p
    return x * keep / (1 - p), keep


@row(ex2.check_dropout_forward, "ready-made dropout")
def drop_imported_torch(x, p, training, rng):
    return imported_dropout(torch.from_numpy(x), p, training).numpy(), None


@row(ex2.check_dropout_forward, "ready-made dropout")
def drop_native(x, p, training, rng):
    return torch.native_dropout(torch.from_numpy(x), p, training)[0].numpy(), None


@row(ex2.check_dropout_forward, "ready-made dropout")
def drop_course_layers(x, p, training, rng):
    return nl.dropout_forward(x, p, training, rng)


# --------------------------------------------------------------------------------------- 2.3 dropout module

class DropBernoulli(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        return x * torch.bernoulli(torch.full_like(x, 1 - self.p)) / (1 - self.p)


class DropViaF(DropBernoulli):
    def forward(self, x):
        return F.dropout(x, self.p, self.training)


class DropFlat(DropBernoulli):
    def forward(self, x):  # a mask of the first dimension's length only
        if not self.training:
            return x
        mask = (torch.rand(x.shape[0], 1) >= self.p).to(x.dtype)
        return x * mask.expand_as(x.reshape(x.shape[0], -1)).reshape(x.shape) / (1 - self.p)


ROWS += [
    ("check_dropout_module-DropBernoulli", ex2.check_dropout_module, DropBernoulli, None),
    ("check_dropout_module-DropViaF", ex2.check_dropout_module, DropViaF, "ready-made dropout"),
    ("check_dropout_module-DropFlat", ex2.check_dropout_module, DropFlat, "whole examples|per element|survived"),
]


# ---------------------------------------------------------------------------------------------- 2.4 predict

@row(ex2.check_predict_fix)
def predict_train_false(model, X):
    model.train(False)
    with torch.inference_mode():
        return model(X).argmax(1)


@row(ex2.check_predict_fix, "for good")
def predict_identity(model, X):
    for i, m in enumerate(model):
        if isinstance(m, nn.Dropout):
            model[i] = nn.Identity()
    with torch.no_grad():
        return model(X).argmax(1)


@row(ex2.check_predict_fix, "no longer brings dropout back")
def predict_p_zero(model, X):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    with torch.no_grad():
        return model(X).argmax(1) if False else _p_zero_keep(model, X)


def _p_zero_keep(model, X):
    # p = 0 for good, yet the Dropout layers still report p = 0.5 (so only behaviour can tell)
    out = model(X).argmax(1)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.forward = lambda x: x
            m.p = 0.5
    return out


# --------------------------------------------------------------------------------------------- 2.5 supports

@row(ex2.check_supports)
def supports_by_enumeration(a_values, b_values, higher_is_better=True):
    # Right, written differently from the solution: every sign pattern spelled out with itertools.
    import itertools

    sign = 1 if higher_is_better else -1
    gains = [sign * (a - b) for a, b in zip(a_values, b_values, strict=True)]
    observed = sum(gains)
    patterns = list(itertools.product((1, -1), repeat=len(gains)))
    reach = sum(sum(s * g for s, g in zip(signs, gains, strict=True)) >= observed - 1e-12 for signs in patterns)
    return len(gains) >= 5 and observed > 0 and reach / len(patterns) < 0.05


@row(ex2.check_supports, "look again at")
def supports_every_seed_only(a_values, b_values, higher_is_better=True):
    g = (np.asarray(a_values) - np.asarray(b_values)) * (1 if higher_is_better else -1)
    return bool(len(g) >= 5 and np.all(g > 0))  # counting wins is not the rule


@row(ex2.check_supports, "look again at")
def supports_mean_over_std_only(a_values, b_values, higher_is_better=True):
    g = (np.asarray(a_values) - np.asarray(b_values)) * (1 if higher_is_better else -1)
    return bool(g.mean() > 0 and g.mean() > g.std(ddof=1))  # the course's former rule


# ---------------------------------------------------------------------------------------- 3.1 BatchNorm fwd

def _bn(x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5, *, mode="right"):
    if training:
        n = x.shape[0]
        var, mean = torch.var_mean(x, dim=0, correction=0)
        if mode == "detach_mean":
            mean = mean.detach()
        with torch.no_grad():
            m = 0.1 if mode == "momentum_fixed" else momentum
            rm.copy_((1 - m) * rm + m * mean)
            rv.copy_((1 - m) * rv + m * var * n / (n - 1))
        if mode == "updated_stats":
            mean, var = rm, rv
    else:
        mean, var = rm, rv
    e = 1e-5 if mode == "eps_fixed" else eps
    x_hat = (x - mean) / torch.sqrt(var + e)
    if mode == "no_gamma":
        return x_hat + beta
    if mode == "swapped":
        return x_hat * beta + gamma
    return x_hat * gamma + beta


def _bn_mode(mode):
    def fn(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, mode=mode)

    fn.__name__ = f"bn_{mode}"
    return fn


for _mode, _hint in (("right", None), ("detach_mean", "mean and variance depend on x"),
                     ("momentum_fixed", "momentum=0.3"), ("eps_fixed", "eps argument"),
                     ("no_gamma", "gamma is missing"), ("swapped", "swapped"), ("updated_stats", "just updated")):
    ROWS.append((f"check_batchnorm_forward-{_mode}", ex3.check_batchnorm_forward, _bn_mode(_mode), _hint))


@row(ex3.check_batchnorm_forward, "No gradient flows")
def bn_all_no_grad(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    with torch.no_grad():
        return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps)


@row(ex3.check_batchnorm_forward, "No gradient flows")
def bn_detached_input(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x.detach(), gamma.detach(), beta.detach(), running_mean, running_var, training, momentum, eps)


@row(ex3.check_batchnorm_forward, "dtype")
def bn_float32(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps).float()


@row(ex3.check_batchnorm_forward, "dtype")
def bn_half(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps).half()


@row(ex3.check_batchnorm_forward, "dtype")
def bn_numpy_round_trip(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    out = _bn(x.detach(), gamma.detach(), beta.detach(), running_mean, running_var, training, momentum, eps)
    return torch.from_numpy(out.numpy().astype(np.float32))


@row(ex3.check_batchnorm_forward, "updated in eval mode")
def bn_update_in_eval(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    out = _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    if not training:
        _bn(x, gamma, beta, running_mean, running_var, True, momentum, eps)
    return out


@row(ex3.check_batchnorm_forward, "returned None")
def bn_none(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps)


@row(ex3.check_batchnorm_forward, "not allowed")
def bn_functional(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return F.batch_norm(x, running_mean, running_var, gamma, beta, training, momentum, eps)


# ---------------------------------------------------------------------------------------- 3.2 BN backward

def _bn_backward(dout, x, gamma, eps):
    n = x.shape[0]
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + eps)
    dgamma, dbeta = (dout * x_hat).sum(0), dout.sum(0)
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0)) / np.sqrt(x.var(0) + eps)
    del n
    return dx, dgamma, dbeta


@row(ex3.check_batchnorm_backward)
def bn_backward_means(dout, x, gamma, eps):
    return _bn_backward(dout, x, gamma, eps)


@row(ex3.check_batchnorm_backward, "swapped")
def bn_backward_swapped(dout, x, gamma, eps):
    dx, dgamma, dbeta = _bn_backward(dout, x, gamma, eps)
    return dx, dbeta, dgamma


@row(ex3.check_batchnorm_backward)
def bn_backward_lists(dout, x, gamma, eps):
    return tuple(a.tolist() for a in _bn_backward(dout, x, gamma, eps))


@row(ex3.check_batchnorm_backward, "three numpy arrays")
def bn_backward_none(dout, x, gamma, eps):
    dx, dgamma, _ = _bn_backward(dout, x, gamma, eps)
    return dx, dgamma, None


# ----------------------------------------------------------------------------------------- 3.3 BN predict

@row(ex3.check_bn_predict, "returned None")
def bn_predict_none(model, X):
    model.eval()


@row(ex3.check_bn_predict, "left the model in evaluation mode")
def bn_predict_eval_for_good(model, X):
    model.eval()
    with torch.no_grad():
        return model(X).argmax(1)


@row(ex3.check_bn_predict)
def bn_predict_restores_each_module(model, X):
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        classes = torch.argmax(model(X), dim=-1)
    for m, mode in modes.items():
        m.training = mode
    return classes


# ------------------------------------------------------------------------------ 3.0 staged backward (graph)

def _staged(dout, x, gamma, eps, *, skip_var_path=False):
    n = x.shape[0]
    mu = np.mean(x, axis=0)
    centered = x - mu
    var = np.mean(centered * centered, axis=0)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = centered * inv_std
    d = dict(beta=np.einsum("nd->d", dout), gamma=np.einsum("nd,nd->d", dout, x_hat))
    d["x_hat"] = dout * gamma[None, :]
    d["inv_std"] = np.einsum("nd,nd->d", d["x_hat"], centered)
    d["var"] = -d["inv_std"] / (2 * (var + eps) * np.sqrt(var + eps))
    d["centered"] = d["x_hat"] * inv_std + (0 if skip_var_path else 2 * centered * d["var"] / n)
    d["mu"] = -np.einsum("nd->d", d["centered"])
    d["x"] = d["centered"] + np.broadcast_to(d["mu"] / n, x.shape)
    return d


@row(ex3.check_staged_backward)
def staged_einsum(dout, x, gamma, eps):
    return _staged(dout, x, gamma, eps)


@row(ex3.check_staged_backward, "two nodes, x_hat and var")
def staged_forgets_var_path(dout, x, gamma, eps):
    return _staged(dout, x, gamma, eps, skip_var_path=True)


@row(ex3.check_staged_backward, "Return the dict")
def staged_tuple(dout, x, gamma, eps):
    d = _staged(dout, x, gamma, eps)
    return d["x"], d["gamma"], d["beta"]


@row(ex3.check_staged_backward, "is None")
def staged_none_entry(dout, x, gamma, eps):
    return {**_staged(dout, x, gamma, eps), "mu": None}


# -------------------------------------------------------------------------------------------- 4.1 LayerNorm

def _ln(x, normalized_shape, gamma, beta, eps=1e-5, *, detach=False, last_only=False):
    dims = [-1] if last_only else [-(i + 1) for i in range(len(normalized_shape))]
    var, mean = torch.var_mean(x, dim=dims, keepdim=True, correction=0)
    if detach:
        mean, var = mean.detach(), var.detach()
    return (x - mean) * torch.rsqrt(var + eps) * gamma + beta


@row(ex4.check_layernorm)
def ln_var_mean(x, normalized_shape, gamma, beta, eps=1e-5):
    return _ln(x, normalized_shape, gamma, beta, eps)


@row(ex4.check_layernorm, "mean and the variance depend on x")
def ln_detached_stats(x, normalized_shape, gamma, beta, eps=1e-5):
    return _ln(x, normalized_shape, gamma, beta, eps, detach=True)


@row(ex4.check_layernorm, "last dimension only")
def ln_last_dim_only(x, normalized_shape, gamma, beta, eps=1e-5):
    return _ln(x, normalized_shape, gamma, beta, eps, last_only=True)


@row(ex4.check_layernorm, "not allowed")
def ln_functional(x, normalized_shape, gamma, beta, eps=1e-5):
    return F.layer_norm(x, normalized_shape, gamma, beta, eps)


@row(ex4.check_layernorm, "no gradient flows")
def ln_numpy(x, normalized_shape, gamma, beta, eps=1e-5):
    out = _ln(x.detach(), normalized_shape, gamma.detach(), beta.detach(), eps)
    return torch.from_numpy(out.numpy().copy())


# ---------------------------------------------------------------------------------------------- 4.2 RMSNorm

def _rms_fwd(x, gamma, eps=1e-5, axis=-1):
    r = np.sqrt(np.mean(np.square(x), axis=axis, keepdims=True) + eps)
    return gamma * x / r, (x, r, gamma)


@row(ex4.check_rmsnorm)
def rms_right(x, gamma, eps=1e-5):
    return _rms_fwd(x, gamma, eps)


@row(ex4.check_rmsnorm, "wrong axis")
def rms_axis1(x, gamma, eps=1e-5):
    return _rms_fwd(x, gamma, eps, axis=1)


@row(ex4.check_rmsnorm, "not allowed")
def rms_course(x, gamma, eps=1e-5):
    return nl.rmsnorm_forward(x, gamma, eps)


# ------------------------------------------------------------------------------------------- 4.3 invariances

_TABLE = {
    "weight matrix re-scaling": {"BatchNorm": True, "LayerNorm": True},
    "weight matrix re-centering": {"BatchNorm": False, "LayerNorm": True},
    "weight vector re-scaling": {"BatchNorm": True, "LayerNorm": False},
    "dataset re-scaling": {"BatchNorm": True, "LayerNorm": True},
    "dataset re-centering": {"BatchNorm": True, "LayerNorm": False},
    "single training case re-scaling": {"BatchNorm": False, "LayerNorm": True},
}


@row(ex4.check_invariance_predictions)
def inv_right():
    return {k: dict(v) for k, v in _TABLE.items()}


@row(ex4.check_invariance_predictions, "Not all 12")
def inv_all_true():
    return {k: {"BatchNorm": True, "LayerNorm": True} for k in _TABLE}


# ------------------------------------------------------------------------------------------ 5.1 build_block

class OrderedButWrong(nn.Module):
    """Registers Linear, BN, ReLU, Dropout in order but runs dropout before BatchNorm."""

    def __init__(self, n_in, n_out, p):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out, bias=False)
        self.bn = nn.BatchNorm1d(n_out)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.act(self.bn(self.drop(self.linear(x))))


@row(ex5.check_block)
def block_right(in_features, out_features, p):
    layers = [nn.Linear(in_features, out_features, bias=False), nn.BatchNorm1d(out_features), nn.ReLU(), nn.Dropout(p)]
    return nn.Sequential(*layers)


@row(ex5.check_block, "in that order")
def block_forward_order(in_features, out_features, p):
    return OrderedButWrong(in_features, out_features, p)


@row(ex5.check_block, "in that order|plain nn.Dropout")
def block_dropout1d(in_features, out_features, p):
    return nn.Sequential(nn.Linear(in_features, out_features, bias=False), nn.BatchNorm1d(out_features), nn.ReLU(),
                         nn.Dropout1d(p))


@row(ex5.check_block, "BatchNorm1d's defaults")
def block_keras_momentum(in_features, out_features, p):
    return nn.Sequential(nn.Linear(in_features, out_features, bias=False),
                         nn.BatchNorm1d(out_features, momentum=0.99), nn.ReLU(), nn.Dropout(p))


@row(ex5.check_block, "BatchNorm1d's defaults")
def block_no_running_stats(in_features, out_features, p):
    return nn.Sequential(nn.Linear(in_features, out_features, bias=False),
                         nn.BatchNorm1d(out_features, track_running_stats=False), nn.ReLU(), nn.Dropout(p))


@row(ex5.check_block, "Bias before BatchNorm")
def block_with_bias(in_features, out_features, p):
    return nn.Sequential(nn.Linear(in_features, out_features), nn.BatchNorm1d(out_features), nn.ReLU(), nn.Dropout(p))


@row(ex5.check_block, "Missing normalization")
def block_without_bn(in_features, out_features, p):
    return nn.Sequential(nn.Linear(in_features, out_features, bias=False), nn.ReLU(), nn.Dropout(p))


# ----------------------------------------------------------------------------------------- 5.2 recalibrate

def _recalibrate(model, X, batch_size=64, destroy=False):
    model.eval()
    if destroy:
        for i, m in enumerate(model):
            if isinstance(m, nn.Dropout):
                model[i] = nn.Identity()
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    with torch.no_grad():
        for start in range(0, len(X) - 1, batch_size):
            model(X[start:start + batch_size])
    return model.eval()


@row(ex5.check_recalibration)
def recal_right(model, X, batch_size=64):
    return _recalibrate(model, X, batch_size)


@row(ex5.check_recalibration, "for good")
def recal_identity(model, X, batch_size=64):
    return _recalibrate(model, X, batch_size, destroy=True)


# --------------------------------------------------------------------------------------------- 5.3 choose

@row(ex5.check_choices, "two strings")
def choose_nested_list(situation):
    return [["layer"], "batch_independent"]


# ------------------------------------------------------------------------------------------------- the test

def _solution_lines() -> set[str]:
    """Code lines of the notebooks' solutions (at least 12 characters, comments removed): no hint may hold one."""
    lines = set()
    for path in sorted(Path(__file__).parents[1].glob("notebooks/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S):
                for line in block.splitlines():
                    code = line.split("#")[0].strip().rstrip(",:;")
                    if len(code) >= 12:
                        lines.add(code)
    return lines


SOLUTION_LINES = _solution_lines()
# Fragments the issue found in hints (solution code or the right option), beside the notebooks' own lines.
LEAKED_FRAGMENTS = ("sum(p.numel()", "rng.random(x.shape)", "x * mask / (1 - p)", "running_mean.mul_(",
                    "tuple(range(-k, 0))", "reset_running_stats()", "momentum = None", "x.var(0, unbiased",
                    "np.sqrt(", "torch.sqrt(")


def assert_no_leak(hint: str) -> None:
    for fragment in LEAKED_FRAGMENTS + tuple(SOLUTION_LINES):
        assert fragment not in hint, f"the hint shows solution code {fragment!r}: {hint}"


@pytest.mark.parametrize("check,implementation,expected", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_each_implementation_gets_its_verdict(check, implementation, expected, capsys):
    if expected is None:
        check(implementation)
        assert capsys.readouterr().out.startswith("Correct:")
        return
    with pytest.raises(ExerciseError) as info:
        check(implementation)
    hint = str(info.value)
    assert re.search(expected, hint), f"expected a hint matching {expected!r}, got: {hint}"
    assert "\n" not in hint and "Traceback" not in hint
    assert_no_leak(hint)


def test_the_solution_lines_were_found():
    # The leak test is only as good as its list: the notebooks hold dozens of solution lines.
    assert len(SOLUTION_LINES) > 30
    assert any("running_mean.mul_" in line for line in SOLUTION_LINES)


ALL_CHECKS = [ex0.check_standardize_feature, ex0.check_mlp_parameters, ex0.check_seeded_run, ex1.check_standardize,
              ex1.check_saturating_init, ex1.check_largest_stable_lr, ex1.check_activation_hook,
              ex2.check_dropout_forward, ex2.check_dropout_module,
              ex2.check_predict_fix, ex2.check_supports, ex3.check_batchnorm_forward, ex3.check_batchnorm_backward,
              ex3.check_bn_predict, ex3.check_fold_batchnorm, ex3.check_masked_stats, ex3.check_staged_backward,
              ex4.check_layernorm, ex4.check_invariance_predictions,
              ex4.check_pre_ln_block, ex5.check_block,
              ex5.check_recalibration, ex5.check_choices, ex5.check_paired_ablation]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_every_check_runs_the_learners_code_in_a_child_process(check, tmp_path, monkeypatch):
    # Only a child process can be killed at the time limit whatever the learner's code does (a bare except
    # around a loop, a long C call); this learner writes down where it runs, then is "not done yet".
    from course_utils.exercises import NotDoneYet

    if check is ex5.check_paired_ablation:
        # Its reference steps come from notebook 05's grid runs, trained before the check: a tiny grid here.
        from course_utils.experiments import together as E

        real = E.train_config
        monkeypatch.setattr(E, "train_config",
                            lambda name, n_train=E.FULL_N, seed=0: real(name, n_train, seed, 5, (8,)))

    where = tmp_path / "pid"

    def stub(*_args, **_kwargs):
        where.write_text(str(os.getpid()))
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        check(stub)
    assert int(where.read_text()) != os.getpid()


@pytest.mark.parametrize("check", [ex2.check_dropout_backward, ex4.check_rmsnorm], ids=lambda c: c.__name__)
def test_two_function_checks_run_in_a_child_process_too(check, tmp_path):
    from course_utils.exercises import NotDoneYet

    where = tmp_path / "pid"

    def stub(*_args, **_kwargs):
        where.write_text(str(os.getpid()))
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        check(stub, stub)
    assert int(where.read_text()) != os.getpid()
