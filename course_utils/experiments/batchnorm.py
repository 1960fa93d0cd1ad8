"""Experiments behind notebook 03 (Batch Normalization): mechanics and parity, train vs eval pitfalls,
the paper's Figure 1 at CPU scale, unstandardized inputs, noise injection (Santurkar et al.), small
batches, padded sequences, folding BN into the Linear before it.

Every function returns plain numbers/arrays so the notebook can print them rounded and assert them.
The independent training runs (Figure 1, the sweeps, wine, noise, landscape, small batches) are each a
module-level function of a plain key, trained on every core and kept per kernel by
:func:`course_utils.experiments.runner.cached_runs`: the same numbers as one after the other. The distributed
part lives in :mod:`course_utils.distributed`.
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import nn as cnn
from ..data import Split, load_wine
from ..env import experiment_seeds, manual_seed, numpy_rng, torch_generator
from ..models import make_mlp
from ..numpy_layers import batchnorm_backward, batchnorm_backward_naive, batchnorm_forward
from ..run_cache import persistent
from ..train import History, batchnorm_layers, evaluate, is_batchnorm, recalibrate_batchnorm, train, train_steps
from ..validation import check_choice, check_int, check_number, check_positive
from .runner import cached_runs, digits

__all__ = [
    "PAPER_IMAGENET",
    "WU_HE_BN",
    "MOMENTUM_CONVENTIONS",
    "torch_to_keras_momentum",
    "parity_with_torch",
    "bias_before_bn",
    "backward_agreement",
    "time_backwards",
    "running_var_bias",
    "trained_bn_model",
    "companion_dependence",
    "accuracy_vs_eval_batch",
    "eval_gap_and_recalibration",
    "recalibrate",
    "no_grad_forward_changes_stats",
    "fig1_runs",
    "steps_to_target",
    "sweep",
    "wine_input_bn",
    "NoiseAfterNorm",
    "noise_injection",
    "landscape",
    "small_batch_errors",
    "two_example_batch",
    "PerProcessBatchNorm1d",
    "per_process_errors",
    "wine_folds",
    "percentile_drift",
    "padding_pollution",
    "MaskedBatchNorm1d",
    "padded_running_stats",
    "fold_batchnorm",
    "fold_model",
    "time_folded",
]

# Ioffe & Szegedy 2015, ImageNet (Inception): steps to reach Inception's 72.2% and best accuracy.
PAPER_IMAGENET = {
    "Inception": {"steps_to_72.2%": 31.0e6, "max_acc": 72.2},
    "BN-Baseline": {"steps_to_72.2%": 13.3e6, "max_acc": 72.7},
    "BN-x5": {"steps_to_72.2%": 2.1e6, "max_acc": 73.0},
    "BN-x30": {"steps_to_72.2%": 2.7e6, "max_acc": 74.8},
}
# Wu & He 2018, Figure 1: ResNet-50 ImageNet validation error (%) vs images per GPU.
WU_HE_BN = {32: 23.6, 16: 23.7, 8: 24.8, 4: 27.3, 2: 34.7}
WU_HE_GN = {32: 24.1, 16: 24.2, 8: 24.0, 4: 24.2, 2: 24.1}

# What the "momentum" argument means: the weight of the NEWEST batch (torch) or of the OLD average.
MOMENTUM_CONVENTIONS = [
    ("torch.nn.BatchNorm1d(momentum=0.1)", "newest batch", 0.1),
    ("keras.layers.BatchNormalization(momentum=0.99)", "old running average", 0.99),
    ("tf.compat.v1.layers.batch_normalization(momentum=0.99)", "old running average", 0.99),
    ("flax.linen.BatchNorm(momentum=0.99)", "old running average", 0.99),
]


# Paired seeds of this lesson's comparisons: the course's one seed source (shifted by NORMCOURSE_SEED_OFFSET).
# Five paired seeds: the fewest with which the course's rule (a one-sided sign-flip test at 0.05) can support a claim.
SEEDS = experiment_seeds(5)
SWEEP_SEEDS = experiment_seeds(2)  # the sweeps assert thresholds on every seed, not a paired "better"

def torch_to_keras_momentum(momentum: float) -> float:
    """torch's ``momentum`` (weight of the newest batch) as Keras's (weight of the old average): 1 - m."""
    momentum = check_number("momentum", momentum)
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}.")
    return 1.0 - momentum


# ------------------------------------------------------------------------------------------ mechanics


def parity_with_torch(n: int = 32, features: int = 8, steps: int = 5, seed: int = 0) -> dict[str, float]:
    """Largest differences between ``course_utils.nn.BatchNorm1d`` and ``torch.nn.BatchNorm1d``.

    Both get the same inputs for ``steps`` training steps (outputs, input gradients, gamma/beta
    gradients, running statistics), then one eval-mode forward. float64, so differences are rounding.
    """
    n = check_int("n", n, minimum=2)
    features = check_int("features", features, minimum=1)
    gen = torch_generator(check_int("seed", seed, minimum=0))
    ours = cnn.BatchNorm1d(features).double()
    ref = nn.BatchNorm1d(features).double()
    worst = {"output": 0.0, "input_grad": 0.0, "param_grad": 0.0, "running": 0.0, "eval_output": 0.0}

    def upd(key, a, b):
        worst[key] = max(worst[key], float((a - b).detach().abs().max()))

    for _ in range(check_int("steps", steps, minimum=1)):
        x = (3 + 2 * torch.randn(n, features, generator=gen, dtype=torch.float64)).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        g = torch.randn(n, features, generator=gen, dtype=torch.float64)
        y1, y2 = ours(x), ref(x2)
        (y1 * g).sum().backward()
        (y2 * g).sum().backward()
        upd("output", y1, y2)
        upd("input_grad", x.grad, x2.grad)
        upd("param_grad", ours.weight.grad, ref.weight.grad)
        upd("param_grad", ours.bias.grad, ref.bias.grad)
    upd("running", ours.running_mean, ref.running_mean)
    upd("running", ours.running_var, ref.running_var)
    ours.eval()
    ref.eval()
    x = torch.randn(n, features, generator=gen, dtype=torch.float64)
    upd("eval_output", ours(x), ref(x))
    worst["same_state_dict_keys"] = float(list(ours.state_dict()) == list(ref.state_dict()))
    worst["same_repr"] = float(repr(ours) == repr(ref))
    return worst


def bias_before_bn(n: int = 64, seed: int = 0, shift: float = 5.0) -> dict[str, float]:
    """Linear(with bias) -> BatchNorm1d in training mode: the bias changes nothing.

    Returns the largest |gradient| of the Linear bias, the largest |gradient| of its weight (for scale),
    and the largest output change when every bias entry is shifted by ``shift``. float64.
    """
    manual_seed(check_int("seed", seed, minimum=0))
    lin = nn.Linear(10, 6).double()
    bn = nn.BatchNorm1d(6).double()
    x = torch.randn(check_int("n", n, minimum=2), 10, dtype=torch.float64)
    target = torch.randn(n, 6, dtype=torch.float64)
    out = bn(lin(x))
    ((out - target) ** 2).mean().backward()
    with torch.no_grad():
        lin.bias += check_number("shift", shift)
        out2 = bn(lin(x))
    return {
        "bias_grad": float(lin.bias.grad.abs().max()),
        "weight_grad": float(lin.weight.grad.abs().max()),
        "output_change": float((out2 - out.detach()).abs().max()),
    }


def backward_agreement(n: int = 16, d: int = 5, seed: int = 0) -> dict[str, float]:
    """Relative errors: compact backward vs staged backward vs torch autograd (float64, training mode)."""
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    n, d = check_int("n", n, minimum=2), check_int("d", d, minimum=1)
    x = rng.normal(2.0, 3.0, size=(n, d))
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    dout = rng.normal(size=(n, d))
    out, cache = batchnorm_forward(x, gamma, beta, np.zeros(d), np.ones(d), training=True)
    compact = batchnorm_backward(dout, cache)
    staged = batchnorm_backward_naive(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    gt, bt = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    yt = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    (yt * torch.tensor(dout)).sum().backward()

    def rel(a, b):
        return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))

    return {
        "compact_vs_staged": max(rel(a, b) for a, b in zip(compact, staged, strict=True)),
        "compact_vs_torch": max(
            rel(compact[0], xt.grad.numpy()), rel(compact[1], gt.grad.numpy()), rel(compact[2], bt.grad.numpy())
        ),
        "forward_vs_torch": rel(out, yt.detach().numpy()),
    }


def time_backwards(n: int = 512, d: int = 256, repeats: int = 20, seed: int = 0) -> dict[str, float]:
    """Best-of-``repeats`` time (ms) of the compact and the staged numpy backward on an (n, d) batch."""
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    n, d = check_int("n", n, minimum=2), check_int("d", d, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    x = rng.normal(size=(n, d))
    _, cache = batchnorm_forward(x, np.ones(d), np.zeros(d), np.zeros(d), np.ones(d))
    dout = rng.normal(size=(n, d))
    out = {}
    for name, fn in (("compact", batchnorm_backward), ("staged", batchnorm_backward_naive)):
        best = np.inf
        for _ in range(check_int("repeats", repeats, minimum=1)):
            start = time.perf_counter()
            fn(dout, cache)
            best = min(best, time.perf_counter() - start)
        out[name] = 1000 * best
    out["speedup"] = out["staged"] / out["compact"]
    return out


def running_var_bias(batch_size: int = 4, batches: int = 4000, sigma: float = 2.0, seed: int = 0) -> dict[str, float]:
    """Feed batches of N(0, sigma^2) to BatchNorm1d: the mean *biased* batch variance (what training
    normalizes with) is sigma^2 (m-1)/m, while ``running_var`` (momentum=None: an exact average of the
    unbiased estimates) is sigma^2."""
    m = check_int("batch_size", batch_size, minimum=2)
    sigma = check_positive("sigma", sigma)
    gen = torch_generator(check_int("seed", seed, minimum=0))
    bn = nn.BatchNorm1d(1, momentum=None).double()
    biased = []
    with torch.no_grad():
        for _ in range(check_int("batches", batches, minimum=1)):
            x = sigma * torch.randn(m, 1, generator=gen, dtype=torch.float64)
            biased.append(float(x.var(unbiased=False)))
            bn(x)
    return {
        "true": sigma**2,
        "mean_biased_batch_var": float(np.mean(biased)),
        "expected_biased": sigma**2 * (m - 1) / m,
        "running_var": float(bn.running_var[0]),
    }


# ------------------------------------------------------------------------------------ train vs eval


_digits = digits  # the shared digits split (cached)


@functools.lru_cache(maxsize=16)
@persistent
def _trained(seed: int, steps: int, momentum: float | None, batch_size: int) -> nn.Module:
    split = _digits()
    model = make_mlp(64, [100, 100], 10, norm="batch", linear_bias=False, seed=seed,
                     norm_kwargs={"momentum": momentum})  # fmt: skip
    train(model, split, steps=steps, lr=0.1, momentum=0.9, batch_size=batch_size, eval_every=steps, seed=seed,
          progress=False)  # fmt: skip
    model.eval()
    return model


def trained_bn_model(
    seed: int = 0, steps: int = 300, momentum: float | None = 0.1, batch_size: int = 64
) -> nn.Module:
    """A ReLU MLP 64-100-100-10 with BatchNorm1d (no Linear bias) trained on digits (cached).

    A fresh deep copy is returned each time, in eval mode, so callers may change it freely.
    """
    if momentum is not None:
        momentum = check_number("momentum", momentum)
    model = _trained(check_int("seed", seed, minimum=0), check_int("steps", steps, minimum=1), momentum,
                     check_int("batch_size", batch_size, minimum=2))  # fmt: skip
    return copy.deepcopy(model)


@torch.no_grad()
def companion_dependence(model: nn.Module, X: torch.Tensor, index: int = 0, n_batches: int = 20,
                         batch_size: int = 8, seed: int = 0) -> dict[str, float]:  # fmt: skip
    """Predict example ``index`` inside ``n_batches`` random batches of other examples.

    In train mode (on a copy, so the running statistics of ``model`` are untouched) its logits change
    with its companions; in eval mode they do not. Returns the spread of its logits and how many
    different classes it was given in each mode.
    """
    gen = torch_generator(check_int("seed", seed, minimum=0))
    batch_size = check_int("batch_size", batch_size, minimum=2)
    _check_inputs(X)
    # A negative index would pick another row from the end, and one past the end an empty slice.
    index = check_int("index", index, minimum=0, maximum=len(X) - 1)
    probe = copy.deepcopy(model)
    out = {}
    for mode in ("train", "eval"):
        probe.train(mode == "train")
        logits = []
        for _ in range(check_int("n_batches", n_batches, minimum=1)):
            others = torch.randperm(len(X), generator=gen)[: batch_size - 1]
            batch = torch.cat([X[index : index + 1], X[others]])
            logits.append(probe(batch)[0])
        logits = torch.stack(logits)
        out[f"{mode}_logit_spread"] = float((logits.max(0).values - logits.min(0).values).max())
        out[f"{mode}_classes"] = int(len(set(logits.argmax(1).tolist())))
    return out


@torch.no_grad()
def accuracy_vs_eval_batch(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                           batch_sizes=(2, 4, 16, 64, 359), seed: int = 0) -> dict[str, list[float]]:  # fmt: skip
    """Accuracy on (X, y) when predicted in batches of each size, in train mode (the bug) and eval mode.

    Every setting runs on a fresh copy of ``model``: a train-mode pass updates the running statistics,
    so a shared copy would carry one setting's "look" at the data into the next (pitfall 3). Batches are
    consecutive slices of a fixed random order (a last batch of one example is merged into the previous
    one: train mode refuses a batch of one).
    """
    gen = torch_generator(check_int("seed", seed, minimum=0))
    _check_inputs(X, minimum=2)
    if not isinstance(y, torch.Tensor) or y.shape != (len(X),):
        raise ValueError(
            f"y must be a tensor with one label per row of X ({len(X)}), got "
            f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}."
        )
    order = torch.randperm(len(X), generator=gen)
    X, y = X[order], y[order]
    out: dict[str, list[float]] = {"batch_size": [], "train": [], "eval": []}
    for b in batch_sizes:
        b = check_int("batch_sizes", b, minimum=2)
        starts = list(range(0, len(X), b))
        if len(X) - starts[-1] == 1:
            starts.pop()
        bounds = [*starts, len(X)]
        out["batch_size"].append(b)
        for mode in ("train", "eval"):
            probe = copy.deepcopy(model).train(mode == "train")
            pred = torch.cat([probe(X[s:e]).argmax(1) for s, e in zip(bounds[:-1], bounds[1:], strict=True)])
            out[mode].append(float((pred == y).float().mean()))
    return out


def _check_inputs(X, minimum: int = 1) -> None:
    if not isinstance(X, torch.Tensor) or not X.is_floating_point() or X.dim() < 2:
        raise TypeError(f"X must be a floating tensor of shape (examples, features), got {type(X).__name__}.")
    if len(X) < minimum:
        raise ValueError(f"X must hold at least {minimum} example(s), got {len(X)}.")


_is_bn, _bn_layers = is_batchnorm, batchnorm_layers


def recalibrate(model: nn.Module, X: torch.Tensor, batch_size: int = 64, passes: int = 1, seed: int = 0) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics on ``X`` with the weights frozen (in place):
    :func:`course_utils.train.recalibrate_batchnorm` with shuffled minibatches (reset, ``momentum=None``,
    forward passes under ``no_grad``; modes and momentum restored after)."""
    return recalibrate_batchnorm(model, X, batch_size, passes=passes, seed=seed, drop_last=True)


def eval_gap_and_recalibration(seed: int = 0, steps: int = 100, momentum: float = 0.003) -> dict[str, float]:
    """"Worse in eval than in train": a BN model trained for few ``steps`` with a small ``momentum``.

    Returns validation accuracy in train mode (batch statistics, batches of 64), in eval mode (running
    statistics that have not settled), after :func:`recalibrate` on the training data, and the
    fraction of the way the running mean has travelled (1 - (1 - momentum)^steps).
    """
    model = trained_bn_model(seed, steps, momentum)
    Xv, yv = _digits().tensors("val")
    X, _ = _digits().tensors("train")
    acc_train_mode = accuracy_vs_eval_batch(model, Xv, yv, batch_sizes=(64,))["train"][0]
    acc_eval = evaluate(model, Xv, yv)[1]
    recalibrate(model, X, batch_size=64)
    return {
        "train_mode": acc_train_mode,
        "eval": acc_eval,
        "recalibrated": evaluate(model, Xv, yv)[1],
        "travelled": 1 - (1 - momentum) ** steps,
    }


def no_grad_forward_changes_stats(seed: int = 0, shift: float = 1.0, steps: int = 300) -> dict[str, float]:
    """A train-mode forward under ``torch.no_grad()`` on shifted data ("just looking") updates the
    running statistics; eval-mode predictions on the validation set change. Freezing the BN layers
    with ``.eval()`` prevents it."""
    Xv, yv = _digits().tensors("val")
    out = {}
    for label, freeze in (("train_mode", False), ("bn_frozen", True)):
        model = trained_bn_model(seed, steps)
        before_pred = _predict(model, Xv)
        before = model[1].running_mean.clone()
        model.train()
        if freeze:
            for layer in _bn_layers(model):
                layer.eval()
        with torch.no_grad():
            for _ in range(5):
                model(Xv + check_number("shift", shift))
        model.eval()
        out[f"{label}_mean_change"] = float((model[1].running_mean - before).abs().max())
        out[f"{label}_changed_predictions"] = float((_predict(model, Xv) != before_pred).float().mean())
        out[f"{label}_acc"] = evaluate(model, Xv, yv)[1]
    out["acc_before"] = evaluate(trained_bn_model(seed, steps), Xv, yv)[1]
    return out


@torch.no_grad()
def _predict(model, X):
    was = model.training
    model.eval()
    p = model(X).argmax(1)
    model.train(was)
    return p


# ------------------------------------------------------------------------------- why it helps: Fig. 1

FIG1_HIDDEN = (100, 100, 100)
FIG1_BATCH = 60
# Our choices (the paper says "small random Gaussian values" and names no optimizer): plain SGD, and an init
# std of 1.0, at which the network without BN trains too (std 0.1 leaves it on a long plateau, see the sweep),
# so the comparison is like for like, as the paper's BN-Baseline vs Inception.
FIG1_STD = 1.0
FIG1_LR = 1.0
FIG1_STEPS = 300
FIG1_EVAL = 10  # fine enough that BN's first evaluations are not all tied at "first evaluation"
FIG1_TARGET = 0.9


@dataclass(frozen=True)
class Fig1Run:
    """One Figure-1 run: its History and the 15/50/85th percentiles of one last-hidden-layer sigmoid
    input over the validation digits at every evaluation (shape (evaluations, 3))."""

    history: History
    percentiles: np.ndarray
    norm: str | None
    seed: int


def _fig1_model(norm, seed, std=FIG1_STD):
    return make_mlp(64, list(FIG1_HIDDEN), 10, activation="sigmoid", norm=norm, init="normal", std=std,
                    seed=seed, linear_bias=norm is None)  # fmt: skip


Fig1Key = tuple  # (norm, seed, steps, lr, unit, std)
_FIG1_RUNS: dict[Fig1Key, Fig1Run] = {}
"""Every Figure-1 run trained in this kernel, by its key: Figure 1 and the sweeps share them."""


def _fig1_runs(keys) -> list[Fig1Run]:
    """The Figure-1 runs ``keys`` name, in order; those not trained yet are trained on every core."""
    return cached_runs(_FIG1_RUNS, _fig1_run, [tuple(k) for k in keys], desc="Figure 1 runs")


def _fig1_run(key: Fig1Key) -> Fig1Run:
    """One Figure-1 run ``(norm, seed, steps, lr, unit, std)``. It draws only from generators its seed sets (the
    model is built inside ``fork_rng``), so it is the same run in a worker process and in any order."""
    norm, seed, steps, lr, unit, std = key
    split = _digits()
    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        model = _fig1_model(norm, seed, std)
    Xv = split.tensors("val")[0]
    rows = []
    # The sigmoid input of the last hidden layer: the output of the module right before the last Sigmoid.
    last_sigmoid = [i for i, m in enumerate(model) if isinstance(m, nn.Sigmoid)][-1]

    def record(step, m, history):
        with torch.no_grad():
            m.eval()
            h = Xv
            for module in list(m)[:last_sigmoid]:
                h = module(h)
            m.train()
        rows.append(np.percentile(h[:, unit].numpy(), [15, 50, 85]))

    history = train(model, split, steps=steps, lr=lr, batch_size=FIG1_BATCH, eval_every=FIG1_EVAL, seed=seed,
                    progress=False, callback=record)  # fmt: skip
    return Fig1Run(history, np.array(rows), norm, seed)


def fig1_runs(seeds=SEEDS, steps: int = FIG1_STEPS, lr: float = FIG1_LR, unit: int = 0, std: float = FIG1_STD) -> dict:
    """Ioffe & Szegedy's Figure 1 at CPU scale: digits, 3 x 100 sigmoid units, batch 60, weights
    N(0, std^2), plain SGD with ``lr``; without and with BatchNorm (same seeds), evaluated every
    ``FIG1_EVAL`` steps. Cached.

    Returns ``{"none": [Fig1Run per seed], "batch": [...]}``.
    """
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    steps = check_int("steps", steps, minimum=FIG1_EVAL)
    lr = check_positive("lr", lr)
    std = check_positive("std", std)
    unit = check_int("unit", unit, minimum=0, maximum=FIG1_HIDDEN[-1] - 1)
    runs = iter(_fig1_runs([(norm, s, steps, lr, unit, std) for norm in (None, "batch") for s in seeds]))
    return {norm or "none": [next(runs) for _ in seeds] for norm in (None, "batch")}


def steps_to_target(runs: list[Fig1Run], target: float = FIG1_TARGET) -> list[int]:
    """Steps each run needed to reach validation accuracy ``target`` (the run's length + one
    evaluation interval if it never did, so a paired comparison stays finite and conservative)."""
    target = check_number("target", target)
    out = []
    for run in runs:
        s = run.history.steps_to("val_acc", target)
        out.append(s if s is not None else run.history.steps[-1] + FIG1_EVAL)
    return out


def percentile_drift(run: Fig1Run) -> float:
    """How far the sigmoid input's distribution wanders during training: the largest, over its 15th, 50th
    and 85th percentiles, of (max - min) over the evaluations."""
    return float(np.ptp(run.percentiles, axis=0).max())


SweepKey = tuple  # (norm, seed, lr, std, steps)
_SWEEP_RUNS: dict[SweepKey, float] = {}
"""Every sweep run trained in this kernel, by its key."""


def _fig1_key(key: SweepKey) -> Fig1Key | None:
    """The Figure-1 run the sweep run ``key`` can be read off (same init, batches and step count), or None."""
    norm, seed, lr, std, steps = key
    if lr == FIG1_LR and std == FIG1_STD and steps <= FIG1_STEPS and steps % FIG1_EVAL == 0:
        return (norm, seed, FIG1_STEPS, lr, 0, std)
    return None


def _sweep_run(key: SweepKey) -> float:
    """Final validation accuracy of the sweep run ``(norm, seed, lr, std, steps)`` (0.1 if it diverged). It draws
    only from generators its seed sets, so it is the same run in a worker process and in any order."""
    norm, seed, lr, std, steps = key
    fig1 = _fig1_key(key)
    if fig1 is not None:
        # The same run as Figure 1's: read it off instead of training again.
        h = _fig1_runs([fig1])[0].history
        if steps in h.steps:
            return 0.1 if h.diverged else h.val_acc[h.steps.index(steps)]
    split = _digits()
    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        model = _fig1_model(norm, seed, std=std)
    h = train(model, split, steps=steps, lr=lr, batch_size=FIG1_BATCH, eval_every=steps, seed=seed, progress=False)
    return h.final()["val_acc"] if not h.diverged else 0.1


def sweep(kind: str, values, seeds=SWEEP_SEEDS, steps: int = 300, lr: float = FIG1_LR, std: float = FIG1_STD) -> dict:
    """Final validation accuracy of the Figure-1 network over a sweep of the learning rate
    (``kind='lr'``, at init ``std``) or the init std (``kind='std'``, at learning rate ``lr``), without and
    with BN; a diverged run counts as chance (0.1). Returns ``{"values": [...], "none": array (values,
    seeds), "batch": ...}``."""
    check_choice("kind", kind, ("lr", "std"))
    values = [check_positive("values", v) for v in values]
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    steps = check_int("steps", steps, minimum=1)
    lr, std = check_positive("lr", lr), check_positive("std", std)
    keys = [(norm, s, v if kind == "lr" else lr, v if kind == "std" else std, steps)
            for norm in (None, "batch") for v in values for s in seeds]  # fmt: skip
    # The Figure-1 runs some of them are read off come first (on every core), so that no worker trains one.
    _fig1_runs(dict.fromkeys(k for k in map(_fig1_key, keys) if k is not None))
    accs = iter(cached_runs(_SWEEP_RUNS, _sweep_run, keys, desc=f"{kind} sweep"))
    out: dict = {"values": values}
    for norm in (None, "batch"):
        out[norm or "none"] = np.array([[next(accs) for _ in seeds] for _ in values])
    return out


# ---------------------------------------------------------------------------- no need to standardize?


WINE_CONFIGS = ("raw", "standardized", "raw + BN input", "raw + hidden BN")


def _wine_model(config: str, seed: int, momentum=0.1) -> nn.Module:
    with torch.random.fork_rng(devices=[]):  # make_mlp seeds torch's global generator: keep the caller's
        return _build_wine_model(config, seed, momentum)


def _build_wine_model(config: str, seed: int, momentum) -> nn.Module:
    if config == "raw + hidden BN":  # Linear -> BN -> ReLU: BN normalizes the hidden units, not the inputs
        return make_mlp(13, [32], 3, norm="batch", linear_bias=False, seed=seed, norm_kwargs={"momentum": momentum})
    body = make_mlp(13, [32], 3, seed=seed)
    return nn.Sequential(nn.BatchNorm1d(13, momentum=momentum), *body) if config == "raw + BN input" else body


def wine_folds(folds: int = 5, seed: int = 0) -> list[tuple[Split, Split]]:
    """All 178 wines in ``folds`` stratified cross-validation folds: per fold ``(raw, standardized)`` splits
    whose validation part is the held-out fold (standardized with the other folds' statistics only)."""
    folds = check_int("folds", folds, minimum=2, maximum=10)
    full = load_wine(val_fraction=0.2, test_fraction=0.2)
    X = np.concatenate([full.X_train, full.X_val, full.X_test])
    y = np.concatenate([full.y_train, full.y_val, full.y_test])
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    fold_of = np.empty(len(y), dtype=int)
    for c in np.unique(y):  # stratified: deal each class's shuffled examples round-robin over the folds
        idx = rng.permutation(np.flatnonzero(y == c))
        fold_of[idx] = np.arange(len(idx)) % folds
    out = []
    for k in range(folds):
        tr, va = fold_of != k, fold_of == k
        raw = Split(X[tr], y[tr], X[va], y[va], X[va], y[va], feature_names=full.feature_names,
                    target_names=full.target_names, name=f"wine fold {k}")  # fmt: skip
        out.append((raw, raw.standardized()))
    return out


@functools.lru_cache(maxsize=2)
def _wine_folds(folds: int) -> tuple[tuple[Split, Split], ...]:
    """:func:`wine_folds` made once per process (worker processes inherit it)."""
    return tuple(wine_folds(folds))


WineKey = tuple  # (folds, fold, config, steps, lr, batch_size); config: one of WINE_CONFIGS or WINE_EARLY
WINE_EARLY = "raw + BN input, early"
_WINE_RUNS: dict[WineKey, float | tuple[float, float]] = {}
"""Every wine run trained in this kernel, by its key."""


def _wine_run(key: WineKey) -> float | tuple[float, float]:
    """One wine model, trained on all folds but ``fold`` and seeded by the fold index: its accuracy on the held-out
    fold (0.0 if it diverged); for ``WINE_EARLY`` (the BN-input model after ``steps`` steps) the held-out accuracy
    in eval mode and in train mode (batch statistics). Only generators its key seeds: the same run anywhere."""
    folds, k, config, steps, lr, batch_size = key
    raw, std = _wine_folds(folds)[k]
    model = _wine_model("raw + BN input" if config == WINE_EARLY else config, k)
    h = train(model, std if config == "standardized" else raw, steps=steps, lr=lr, momentum=0.9,
              batch_size=batch_size, eval_every=steps, seed=k, progress=False)  # fmt: skip
    if config != WINE_EARLY:
        return 0.0 if h.diverged else h.final()["val_acc"]
    Xv, yv = raw.tensors("val")
    return evaluate(model, Xv, yv)[1], accuracy_vs_eval_batch(model, Xv, yv, batch_sizes=(len(Xv),))["train"][0]


def wine_input_bn(folds: int = 5, steps: int = 300, lr: float = 0.05, batch_size: int = 16,
                  early_step: int = 5) -> dict[str, np.ndarray]:  # fmt: skip
    """Wine, MLP 13-32-3 (SGD momentum 0.9), ``folds``-fold cross-validation (one model per fold, seeded
    by the fold index): raw inputs, standardized inputs, raw inputs with a BatchNorm1d as the first layer,
    raw inputs with BatchNorm after the hidden Linear. Per fold: accuracy on the held-out fold; for the
    BN-input model also after ``early_step`` steps in eval mode (running statistics not yet settled on
    features of size ~1000) and in train mode (batch statistics)."""
    folds = len(_wine_folds(folds))  # the folds are made here, before the workers start (they inherit them)
    runs = [*((config, steps) for config in WINE_CONFIGS), (WINE_EARLY, early_step)]
    keys = [(folds, k, config, n, lr, batch_size) for k in range(folds) for config, n in runs]
    results = dict(zip(keys, cached_runs(_WINE_RUNS, _wine_run, keys, desc="wine runs"), strict=True))
    out: dict[str, np.ndarray] = {
        config: np.array([results[(folds, k, config, steps, lr, batch_size)] for k in range(folds)])
        for config in WINE_CONFIGS
    }
    early = [results[(folds, k, WINE_EARLY, early_step, lr, batch_size)] for k in range(folds)]
    out["early_eval"], out["early_train"] = np.array([e[0] for e in early]), np.array([e[1] for e in early])
    return out


# --------------------------------------------------------------------------- what BN does not do


class NoiseAfterNorm(nn.Module):
    """"Noisy BN" in the spirit of Santurkar et al.: in training, a noise distribution that changes at every
    step, with non-zero mean and non-unit variance, perturbs every activation of every sample. Per step and
    unit: a scale ``s ~ U(1, scale)`` and a mean ``mu ~ U(-shift, shift)``; per sample and unit, i.i.d.:
    ``y = s * x + n`` with ``n ~ N(mu, 1)``. The next layer's input distribution keeps moving (deliberately
    *more* internal covariate shift). The identity in eval mode."""

    def __init__(self, shift: float = 1.0, scale: float = 1.5) -> None:
        super().__init__()
        self.shift = check_positive("shift", shift, allow_zero=True)
        self.scale = check_number("scale", scale)
        if self.scale < 1:
            raise ValueError(f"scale must be >= 1 (the largest scaling factor), got {scale!r}.")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        width = x.shape[1]
        s = 1 + (self.scale - 1) * torch.rand(width, dtype=x.dtype)  # this step's distribution, per unit
        mu = self.shift * (2 * torch.rand(width, dtype=x.dtype) - 1)
        return x * s + mu + torch.randn_like(x)  # i.i.d. per sample and unit around it

    def extra_repr(self) -> str:
        return f"shift={self.shift}, scale={self.scale}"


def _noisy_model(norm: bool, noise: bool, seed: int, shift: float, scale: float) -> nn.Module:
    manual_seed(seed)
    layers: list[nn.Module] = []
    width = 64
    for h in (100, 100, 100):
        layers.append(nn.Linear(width, h, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm1d(h))
        if noise:
            layers.append(NoiseAfterNorm(shift, scale))
        layers.append(nn.ReLU())
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


NoiseKey = tuple  # (norm, noise, seed, steps, lr, shift, scale)
_NOISE_RUNS: dict[NoiseKey, float] = {}
"""Every noise-injection run trained in this kernel, by its key."""


def _noise_run(key: NoiseKey) -> float:
    """Final validation accuracy of one noise-injection run (0.1 if it diverged). The init and the noise come from
    the global generator, seeded inside ``fork_rng`` by the key: the same run anywhere, the caller's state kept."""
    norm, noise, seed, steps, lr, shift, scale = key
    split = _digits()
    with torch.random.fork_rng(devices=[]):
        model = _noisy_model(norm, noise, seed, shift, scale)
        manual_seed(seed + 1000)  # the noise draws
        h = train(model, split, steps=steps, lr=lr, momentum=0.9, batch_size=64, eval_every=steps, seed=seed,
                  progress=False)  # fmt: skip
    return 0.1 if h.diverged else h.final()["val_acc"]


def noise_injection(seeds=SEEDS, steps: int = 200, lr: float = 0.1, shift: float = 1.0,
                    scale: float = 1.5) -> dict[str, tuple[float, ...]]:  # fmt: skip
    """Final validation accuracy (ReLU MLP 64-3x100-10 on digits) of: BN, BN + noise after each BN (Santurkar
    et al.'s "noisy BN"), no normalization (their "standard" network). A diverged run counts as chance (0.1)."""
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    configs = {"BN": (True, False), "BN + noise": (True, True), "none": (False, False)}
    keys = [(norm, noise, s, steps, lr, shift, scale) for norm, noise in configs.values() for s in seeds]
    accs = iter(cached_runs(_NOISE_RUNS, _noise_run, keys, desc="noise-injection runs"))
    return {label: tuple(next(accs) for _ in seeds) for label in configs}


LandscapeKey = tuple  # (norm, seed, steps, lr, etas, every)
_LANDSCAPE_RUNS: dict[LandscapeKey, dict] = {}
"""Every landscape-probe run trained in this kernel, by its key."""


def _landscape(key: LandscapeKey) -> dict:
    """One probed training run ``(norm, seed, steps, lr, etas, every)``: per eta, the largest loss change and the
    mean gradient changes. Only generators its seed sets: the same run in a worker process and in any order."""
    norm, seed, steps, lr, etas, every = key
    split = _digits()
    X, y = split.tensors("train")
    with torch.random.fork_rng(devices=[]):
        model = _noisy_model(norm, False, seed, 1.0, 1.5)
    params = list(model.parameters())
    gen = torch_generator(seed)
    out = {eta: {"loss_change": [], "grad_change": [], "grad_change_rel": []} for eta in etas}
    now: dict = {}  # the step's batch and loss, for the probe

    def next_loss(step: int) -> torch.Tensor:
        idx = torch.randint(0, len(X), (64,), generator=gen)
        now.update(step=step, batch=(X[idx], y[idx]))
        now["loss"] = nn.functional.cross_entropy(model(X[idx]), y[idx])
        return now["loss"]

    def probe() -> None:  # the gradient is computed, the step not yet taken
        if (now["step"] - 1) % every == 0:
            _probe_steps(model, params, now["batch"], now["loss"].detach(), etas, out)

    train_steps(model, torch.optim.SGD(params, lr=lr), next_loss, steps, before_update=probe, progress=False)
    return {eta: {"max_loss_change": max(v["loss_change"]), "grad_change": float(np.mean(v["grad_change"])),
                  "grad_change_rel": float(np.mean(v["grad_change_rel"]))} for eta, v in out.items()}  # fmt: skip


def _probe_steps(model: nn.Module, params: list, batch: tuple, loss: torch.Tensor, etas, out: dict) -> None:
    """Step along the gradient by each eta, look at the loss and the gradient there (same batch), step back."""
    X, y = batch
    grads = [p.grad.detach().clone() for p in params]
    saved = [p.detach().clone() for p in params]
    buffers = [b.clone() for b in model.buffers()]
    norm_g = float(torch.sqrt(sum((g**2).sum() for g in grads)))
    for eta in etas:
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= eta * g
        loss2 = nn.functional.cross_entropy(model(X), y)
        grads2 = torch.autograd.grad(loss2, params)
        change = float(torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(grads, grads2, strict=True))))
        out[eta]["loss_change"].append(float(loss2.detach() - loss))
        out[eta]["grad_change"].append(change)
        out[eta]["grad_change_rel"].append(change / norm_g)
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
            for b, s in zip(model.buffers(), buffers, strict=True):
                b.copy_(s)


def landscape(seeds=SEEDS, steps: int = 200, lr: float = 0.1, etas=(0.1, 0.4), every: int = 20) -> dict:
    """Santurkar et al.'s loss-landscape probes during plain-SGD training (ReLU MLP 64-3x100-10, digits,
    with and without BN): every ``every`` steps, take a trial step of size ``eta`` along the gradient
    and record the loss change (largest over training) and the gradient change ||g(w) - g(w - eta g)||
    (mean over training; also divided by ||g||). Returns ``{"BN"|"none": {eta: {metric: [per seed]}}}``."""
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    etas = tuple(check_positive("etas", e) for e in etas)
    steps = check_int("steps", steps, minimum=1)
    every = check_int("every", every, minimum=1)
    lr = check_positive("lr", lr)
    norms = (("BN", True), ("none", False))
    done = iter(cached_runs(_LANDSCAPE_RUNS, _landscape,
                            [(norm, s, steps, lr, etas, every) for _, norm in norms for s in seeds],
                            desc="landscape runs"))  # fmt: skip
    out: dict = {}
    for label, _ in norms:
        runs = [next(done) for _ in seeds]
        out[label] = {eta: {m: [r[eta][m] for r in runs] for m in runs[0][eta]} for eta in etas}
    return out


# ------------------------------------------------------------------------------- where it breaks


class PerProcessBatchNorm1d(nn.BatchNorm1d):
    """What unsynchronized BatchNorm computes under data parallelism, in one process: the batch is cut into
    shards of ``per_process`` examples (one per process) and each shard is normalized with its own mean and
    variance. With the usual averaging of gradients over processes, training follows exactly this model's
    gradient of the mean loss. Running statistics: the average over shards (each real process keeps its own).
    """

    def __init__(self, num_features: int, per_process: int, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.per_process = check_int("per_process", per_process, minimum=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or len(x) == self.per_process:
            return super().forward(x)
        if len(x) % self.per_process:
            raise ValueError(f"the batch ({len(x)}) must split into shards of per_process={self.per_process}.")
        shards = x.reshape(-1, self.per_process, x.shape[1])  # (processes, per_process, features)
        mean, var = shards.mean(1, keepdim=True), shards.var(1, unbiased=False, keepdim=True)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                f = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - f).add_(f * mean.mean((0, 1)))
                self.running_var.mul_(1 - f).add_(f * var.mean((0, 1)) * self.per_process / (self.per_process - 1))
        x_hat = ((shards - mean) / torch.sqrt(var + self.eps)).reshape(x.shape)
        return x_hat * self.weight + self.bias


SmallBatchKey = tuple  # (norm, batch_size, seed, epochs, base_lr, per_process)
_SMALL_BATCH_RUNS: dict[SmallBatchKey, nn.Module] = {}
"""Every small-batch model trained in this kernel (eval mode), by its key: the batch-size table, its control,
recalibration and the per-process simulation share them. Callers copy a model before changing it."""


def _small_batch_models(keys) -> list[nn.Module]:
    """The models ``keys`` name, in order; those not trained yet are trained on every core (the longest first)."""
    keys = [tuple(k) for k in keys]
    longest_first = sorted(dict.fromkeys(keys), key=lambda k: -k[3] / k[1])  # steps = epochs * 1079 // batch_size
    models = dict(zip(longest_first, cached_runs(_SMALL_BATCH_RUNS, _small_batch_model, longest_first,
                                                 desc="small-batch runs"), strict=True))  # fmt: skip
    return [models[k] for k in keys]


def _small_batch_model(key: SmallBatchKey) -> nn.Module:
    """One small-batch model ``(norm, batch_size, seed, epochs, base_lr, per_process)``, trained, in eval mode.
    Only generators its seed sets: the same model in a worker process and in any order."""
    norm, batch_size, seed, epochs, base_lr, per_process = key
    split = _digits()
    with torch.random.fork_rng(devices=[]):  # make_mlp seeds torch's global generator: keep the caller's
        model = make_mlp(64, [64, 64], 10, norm=norm, linear_bias=norm is None, seed=seed)
    if per_process is not None:  # the same init (BN starts at gamma 1, beta 0), per-process statistics
        model = nn.Sequential(*[PerProcessBatchNorm1d(m.num_features, per_process) if _is_bn(m) else m
                                for m in model])  # fmt: skip
    steps = max(1, epochs * len(split.X_train) // batch_size)
    # Linear scaling of the learning rate with the batch size, as Wu & He (and Goyal et al.) do.
    train(model, split, steps=steps, lr=base_lr * batch_size / 32, momentum=0.9, batch_size=batch_size,
          eval_every=steps, seed=seed, progress=False)  # fmt: skip
    return model.eval()


def _test_error(model: nn.Module) -> float:
    X, y = _digits().tensors("test")
    return 100 * (1 - evaluate(model, X, y)[1])


def small_batch_errors(batch_sizes=(32, 8, 2), seeds=SEEDS, epochs: int = 2, base_lr: float = 0.1,
                       norm: str | None = "batch", recalibrated: bool = False) -> dict:  # fmt: skip
    """Test error (%) of a ReLU MLP 64-64-64-10 (BN after each hidden Linear, or no normalization with
    ``norm=None``) on digits, trained for ``epochs`` epochs at each batch size (lr = base_lr * B / 32).
    ``recalibrated=True``: after training, re-estimate the running statistics with batches of 64 of the
    training data (weights frozen). Returns ``{B: array per seed}``."""
    check_choice("norm", norm, (None, "batch"))
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    batch_sizes = [check_int("batch_sizes", b, minimum=2) for b in batch_sizes]
    epochs = check_int("epochs", epochs, minimum=1)
    models = iter(_small_batch_models([(norm, b, s, epochs, base_lr, None) for b in batch_sizes for s in seeds]))
    out = {}
    for b in batch_sizes:
        errors = []
        for s in seeds:
            model = next(models)
            if recalibrated and norm is not None:
                model = recalibrate(copy.deepcopy(model), _digits().tensors("train")[0], batch_size=64, seed=s)
            errors.append(_test_error(model))
        out[b] = np.array(errors)
    return out


def two_example_batch(seed: int = 0) -> torch.Tensor:
    """BatchNorm1d (train mode) on a batch of two random examples: every normalized value is +-1 whatever the
    inputs, since each feature's two values sit one standard deviation either side of their mean. A tiny eps
    (float64) so that the statement is exact to ~1e-9; with torch's 1e-5 two close values would give less than 1."""
    gen = torch_generator(check_int("seed", seed, minimum=0))
    x = 10 * torch.randn(2, 6, generator=gen, dtype=torch.float64)
    return nn.BatchNorm1d(6, affine=False, eps=1e-12).double()(x)


def per_process_errors(per_process=(32, 8, 2), batch_size: int = 32, seeds=SEEDS, epochs: int = 2,
                       base_lr: float = 0.1) -> dict:  # fmt: skip
    """Data-parallel training with unsynchronized BN, simulated in one process (:class:`PerProcessBatchNorm1d`):
    the same global batch of ``batch_size`` and learning rate, BN statistics over ``per_process`` examples.
    ``per_process == batch_size`` is one process (= synchronized BN). Test error (%), ``{k: array per seed}``."""
    batch_size = check_int("batch_size", batch_size, minimum=2)
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    per_process = [check_int("per_process", k, minimum=2, maximum=batch_size) for k in per_process]
    for k in per_process:
        if batch_size % k:
            raise ValueError(f"per_process={k} must divide batch_size={batch_size} (equal shards per process).")
    models = iter(_small_batch_models([("batch", batch_size, s, epochs, base_lr, None if k == batch_size else k)
                                       for k in per_process for s in seeds]))  # fmt: skip
    return {k: np.array([_test_error(next(models)) for _ in seeds]) for k in per_process}


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d for padded sequences (N, C, L): statistics over the valid positions only.

    ``forward(x, mask)`` takes a boolean ``mask`` of shape (N, L), True at real (non-padding) steps.
    Training mode normalizes with the mean and biased variance of the valid positions and updates the
    running statistics with them; eval mode uses the running statistics (like BatchNorm1d).
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        if mask is None or not self.training:
            return super().forward(x)
        if x.dim() != 3 or mask.shape != (x.shape[0], x.shape[2]):
            raise ValueError(f"x must be (N, C, L) and mask (N, L); got {tuple(x.shape)} and {tuple(mask.shape)}.")
        m = mask[:, None, :].to(x.dtype)
        count = m.sum()
        if count < 2:
            raise ValueError("mask must mark at least 2 valid positions to estimate a variance in training.")
        mean = (x * m).sum(dim=(0, 2)) / count
        var = (((x - mean[None, :, None]) ** 2) * m).sum(dim=(0, 2)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                f = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - f).add_(f * mean)
                self.running_var.mul_(1 - f).add_(f * var * count / (count - 1))
        x_hat = (x - mean[None, :, None]) * torch.rsqrt(var[None, :, None] + self.eps)
        return x_hat * self.weight[None, :, None] + self.bias[None, :, None]


def padded_batch(lengths, channels: int = 4, max_len: int | None = None, seed: int = 0):
    """Random sequences N(1, 1) of the given ``lengths`` zero-padded to ``max_len``: (x (N, C, L), mask (N, L))."""
    gen = torch_generator(check_int("seed", seed, minimum=0))
    lengths = [check_int("lengths", n, minimum=1) for n in lengths]
    max_len = max(lengths) if max_len is None else check_int("max_len", max_len, minimum=max(lengths))
    x = torch.zeros(len(lengths), channels, max_len, dtype=torch.float64)
    mask = torch.zeros(len(lengths), max_len, dtype=torch.bool)
    for i, n in enumerate(lengths):
        x[i, :, :n] = 1 + torch.randn(channels, n, generator=gen, dtype=torch.float64)
        mask[i, :n] = True
    return x, mask


@torch.no_grad()
def padding_pollution(short: int = 5, long_lengths=(5, 10, 20, 40), n: int = 8, seed: int = 0) -> dict:
    """Batches of ``n`` sequences of length ``short`` plus one companion sequence whose length grows:
    everything is padded to the companion's length. For each companion length: the padding fraction,
    the per-channel batch mean BatchNorm1d computes (true mean of valid values is ~1), and how much the
    normalized values of the *first* sequence change compared with the no-extra-padding batch, with
    plain BatchNorm1d and with :class:`MaskedBatchNorm1d`."""
    x0, _ = padded_batch([short] * n, seed=seed)
    rows: dict[str, list] = {"companion_length": [], "padding_fraction": [], "bn_mean": [], "valid_mean": [],
                             "plain_change": [], "masked_change": []}  # fmt: skip
    ref = {}
    for L in long_lengths:
        L = check_int("long_lengths", L, minimum=short)
        comp, _ = padded_batch([L], seed=seed + 1)
        x = torch.zeros(n + 1, 4, L, dtype=torch.float64)
        x[:n, :, :short] = x0
        x[n] = comp[0]
        mask = torch.zeros(n + 1, L, dtype=torch.bool)
        mask[:n, :short] = True
        mask[n] = True
        plain = nn.BatchNorm1d(4).double()
        masked = MaskedBatchNorm1d(4).double()
        y_plain = plain(x)[0, :, :short]
        y_masked = masked(x, mask)[0, :, :short]
        if not ref:
            ref = {"plain": y_plain, "masked": y_masked}
        rows["companion_length"].append(L)
        rows["padding_fraction"].append(float(1 - mask.double().mean()))
        rows["bn_mean"].append(float(x.mean(dim=(0, 2)).mean()))
        rows["valid_mean"].append(float((x * mask[:, None]).sum() / (4 * mask.sum())))
        rows["plain_change"].append(float((y_plain - ref["plain"]).abs().max()))
        rows["masked_change"].append(float((y_masked - ref["masked"]).abs().max()))
    return rows


@torch.no_grad()
def padded_running_stats(n_batches: int = 200, batch_size: int = 16, max_len: int = 40, seed: int = 0) -> dict:
    """Run plain BatchNorm1d and :class:`MaskedBatchNorm1d` (``momentum=None``: exact averages) in train
    mode over ``n_batches`` batches of sequences with random lengths 2..``max_len`` (real values
    N(1, 1), zero padding to the longest in each batch). Then normalize real values in eval mode with
    each layer's running statistics: ideally mean 0 and std 1. Returns the running means/variances,
    the average padding fraction, and the eval-mode mean/std of normalized real values."""
    gen = torch_generator(check_int("seed", seed, minimum=0))
    n_batches = check_int("n_batches", n_batches, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    max_len = check_int("max_len", max_len, minimum=2)
    plain = nn.BatchNorm1d(4, momentum=None).double()
    masked = MaskedBatchNorm1d(4, momentum=None).double()
    padding = []
    for i in range(n_batches):
        lengths = torch.randint(2, max_len + 1, (batch_size,), generator=gen).tolist()
        x, mask = padded_batch(lengths, seed=int(seed * 100_003 + i))
        plain(x)
        masked(x, mask)
        padding.append(float(1 - mask.double().mean()))
    plain.eval()
    masked.eval()
    real = 1 + torch.randn(2000, 4, 1, generator=gen, dtype=torch.float64)
    out = {"padding_fraction": float(np.mean(padding))}
    for label, layer in (("plain", plain), ("masked", masked)):
        y = layer(real)
        out[f"{label}_running_mean"] = float(layer.running_mean.mean())
        out[f"{label}_running_var"] = float(layer.running_var.mean())
        out[f"{label}_eval_mean"] = float(y.mean())
        out[f"{label}_eval_std"] = float(y.std())
    return out


# ------------------------------------------------------------------------------------- inference


@torch.no_grad()
def fold_batchnorm(linear: nn.Linear, bn: nn.Module) -> nn.Linear:
    """A new Linear equal to ``bn(linear(x))`` in eval mode: W' = W * g, b' = (b - mu) * g + beta with
    g = gamma / sqrt(running_var + eps), one per output unit."""
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}.")
    if not _is_bn(bn) or bn.running_mean is None:
        raise TypeError("bn must be a BatchNorm1d with running statistics (track_running_stats=True).")
    if bn.num_features != linear.out_features:
        raise ValueError(f"bn has {bn.num_features} features but linear has {linear.out_features} outputs.")
    g = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        g = g * bn.weight
    b = linear.bias if linear.bias is not None else torch.zeros_like(bn.running_mean)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    folded = nn.Linear(linear.in_features, linear.out_features, dtype=linear.weight.dtype)
    folded.weight.copy_(linear.weight * g[:, None])
    folded.bias.copy_((b - bn.running_mean) * g + beta)
    return folded


def fold_model(model: nn.Sequential) -> nn.Sequential:
    """A copy of ``model`` (eval mode) with every Linear -> BatchNorm1d pair replaced by one Linear."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be a torch.nn.Sequential, got {type(model).__name__}.")
    layers, mods, i = [], list(model), 0
    while i < len(mods):
        if i + 1 < len(mods) and isinstance(mods[i], nn.Linear) and _is_bn(mods[i + 1]):
            layers.append(fold_batchnorm(mods[i], mods[i + 1]))
            i += 2
        else:
            layers.append(copy.deepcopy(mods[i]))
            i += 1
    return nn.Sequential(*layers).eval()


@torch.no_grad()
def time_folded(model: nn.Module, X: torch.Tensor, repeats: int = 50) -> dict[str, float]:
    """Best-of-``repeats`` eval-mode forward time (ms) of ``model`` and of :func:`fold_model` (model)."""
    model.eval()
    folded = fold_model(model)
    out = {}
    for name, m in (("unfolded", model), ("folded", folded)):
        best = np.inf
        for _ in range(check_int("repeats", repeats, minimum=1)):
            start = time.perf_counter()
            m(X)
            best = min(best, time.perf_counter() - start)
        out[name] = 1000 * best
    out["speedup"] = out["unfolded"] / out["folded"]
    return out


# ------------------------------------------------------------------------------------------ explorer

EXPLORER_MEAN = 3.0
EXPLORER_STD = 2.0


def stat_stream(max_batch: int = 256, steps: int = 150, seed: int = 0) -> np.ndarray:
    """Values of one feature, N(3, 2^2), for ``steps`` training steps of up to ``max_batch`` examples."""
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    shape = (check_int("steps", steps, minimum=1), check_int("max_batch", max_batch, minimum=2))
    return EXPLORER_MEAN + EXPLORER_STD * rng.standard_normal(shape)


def running_traces(stream: np.ndarray, batch_size: int, momentum: float) -> dict[str, np.ndarray]:
    """Batch mean/biased variance of the first ``batch_size`` values of every step, and torch's
    running mean/variance (momentum = weight of the newest batch; unbiased variance) after each step."""
    stream = np.asarray(stream, dtype=np.float64)
    if stream.ndim != 2:
        raise ValueError(f"stream must be 2-D (steps, examples), got shape {stream.shape}.")
    b = check_int("batch_size", batch_size, minimum=2, maximum=stream.shape[1])
    momentum = check_number("momentum", momentum)
    if not 0 <= momentum <= 1:
        raise ValueError(
            f"momentum must be in [0, 1], got {momentum!r} (torch's convention: weight of the newest batch)."
        )
    batch = stream[:, :b]
    mean, var = batch.mean(axis=1), batch.var(axis=1)
    run_mean, run_var = np.empty_like(mean), np.empty_like(var)
    m, v = 0.0, 1.0
    for i in range(len(mean)):
        m = (1 - momentum) * m + momentum * mean[i]
        v = (1 - momentum) * v + momentum * var[i] * b / (b - 1)
        run_mean[i], run_var[i] = m, v
    return {"batch_mean": mean, "batch_var": var, "running_mean": run_mean, "running_var": run_var}


def outlier_effect(batch: np.ndarray, outlier: float, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Normalize ``batch`` (1-D) with its own mean/variance after moving example 0 to
    ``mean + outlier * std`` of the data (outlier in data standard deviations); also without moving it.
    Every *other* example's normalized value shifts when example 0 moves."""
    batch = np.asarray(batch, dtype=np.float64)
    if batch.ndim != 1 or len(batch) < 3:
        raise ValueError(f"batch must be 1-D with at least 3 values, got shape {batch.shape}.")
    outlier = check_number("outlier", outlier)

    def norm(x):
        return (x - x.mean()) / np.sqrt(x.var() + eps)

    moved = batch.copy()
    moved[0] = EXPLORER_MEAN + outlier * EXPLORER_STD
    return {"before": norm(batch), "after": norm(moved), "moved_value": moved[0]}
