"""Experiments behind notebook 05 (Putting it all together): the block, the ablation grid, placement
(BN before/after the activation; dropout before BN and Li et al. 2019's variance shift with its two
fixes), and the numbers behind the summary table and the conventions table.

Every training run is kept per configuration (a dict in this module; the runs not trained yet are trained
on every core, ``course_utils.parallel``): the grid is trained once per kernel and every later section
(placement, summary table, decision guide, exercises) reuses the very same runs. Paired seeds throughout:
run ``seed`` of every configuration uses ``make_mlp(seed=seed)`` for the initial weights,
``torch.manual_seed(seed)`` for the dropout masks and ``train(seed=seed)`` for the minibatch order, so two
configurations with the same seed differ only in the method.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..env import experiment_seeds, manual_seed, torch_generator
from ..models import DEFAULT_BLOCK, make_mlp
from ..paired import Paired, paired
from ..parallel import map_in_processes
from ..run_cache import persistent
from ..train import History, batchnorm_layers, minibatch_indices, recalibrate_batchnorm, train_steps
from ..validation import check_bool, check_choice, check_int, check_number, check_positive, check_probability
from .runner import cached_runs, seeded_run
from .runner import digits as _digits

__all__ = [
    "Config",
    "CONFIGS",
    "PLACEMENTS",
    "P_DROP",
    "HIDDEN",
    "STEPS",
    "SEEDS",
    "SMALL_N",
    "FULL_N",
    "TARGET_ACC",
    "METRICS",
    "LI2019_DENSENET",
    "build_model",
    "conv_block_net",
    "train_conv",
    "train_config",
    "AblationGrid",
    "ablation_grid",
    "time_per_step",
    "bn_layers",
    "bn_variance_ratios",
    "recalibrate_bn",
    "shift_ratio_theory",
    "simulate_shift_ratio",
    "shift_vs_width",
    "fixes_table",
    "FIXES",
    "N_SEEDS",
    "batch_stats",
    "sample_stats",
    "batch_dependence",
    "conventions_checks",
    "CONVENTIONS",
    "SUMMARY",
    "SWEEP_ARMS",
    "SWEEP_LRS",
    "SWEEP_STEPS",
    "SWEEP_SEEDS",
    "fine_steps_to_target",
    "LrSweep",
    "lr_sweep",
    "li_figure1_measure",
]

P_DROP = 0.5
HIDDEN = (128, 128)
STEPS = 300
LR = 0.05
MOMENTUM = 0.9
BATCH_SIZE = 64
EVAL_EVERY = 10
N_SEEDS = 6  # the paired rule needs >= 5 seeds; with 6, one small loss or tie can be outweighed (p < 0.05)
SEEDS = experiment_seeds(N_SEEDS)
SMALL_N = 200  # the small-training-subset setting (as in notebook 02), where overfitting shows
FULL_N = 1079  # the whole digits training split
TARGET_ACC = 0.9
METRICS = ("val_acc", "gap", "steps_to_target")

# Li et al. 2019, CVPR: DenseNet on CIFAR-100, test accuracy (%), without dropout and with dropout 0.5 in
# each bottleneck (dropout before the next BatchNorm): the paper's numbers, quoted (not reproduced here).
LI2019_DENSENET = {"DenseNet, no dropout": 77.42, "DenseNet, dropout 0.5 in each bottleneck": 68.55}


# ------------------------------------------------------------------------------------------- the block


@dataclass(frozen=True)
class Config:
    """One architecture of the grid: ``make_mlp``'s ``norm``, ``dropout`` and ``block`` order, plus
    ``final_dropout``: a Dropout only right before the output layer (after the last BatchNorm)."""

    norm: str | None = None
    dropout: float = 0.0
    block: tuple[str, ...] = DEFAULT_BLOCK
    final_dropout: float = 0.0

    @property
    def linear_bias(self) -> bool:
        # A bias right before BatchNorm is removed by the mean subtraction: drop it, as one does in practice.
        return not (self.norm == "batch" and self.block[0] == "norm")


CONFIGS: dict[str, Config] = {
    "none": Config(),
    "dropout": Config(dropout=P_DROP),
    "BN": Config(norm="batch"),
    "LN": Config(norm="layer"),
    "BN+dropout": Config(norm="batch", dropout=P_DROP),
    "LN+dropout": Config(norm="layer", dropout=P_DROP),
}
"""The ablation grid: the course block ``Linear -> norm -> ReLU -> Dropout`` with parts switched off."""

PLACEMENTS: dict[str, Config] = {
    "BN before ReLU": CONFIGS["BN"],
    "BN after ReLU": Config(norm="batch", block=("activation", "norm", "dropout")),
    "dropout before BN": CONFIGS["BN+dropout"],  # block 1's Dropout feeds block 2's BatchNorm
    "dropout after the last BN": Config(norm="batch", final_dropout=P_DROP),
}
"""Placement variants; ``dropout before BN`` is the grid's ``BN+dropout`` (the same cached runs)."""


def _config(config: Config | str) -> Config:
    if isinstance(config, str):
        check_choice("config", config, list(CONFIGS) + list(PLACEMENTS))
        return CONFIGS.get(config) or PLACEMENTS[config]
    if not isinstance(config, Config):
        raise TypeError(f"config must be a Config or one of the names {list(CONFIGS)}, got {type(config).__name__}.")
    return config


def build_model(config: Config | str, hidden: Sequence[int] = HIDDEN, seed: int = 0) -> nn.Sequential:
    """The digits MLP ``64 -> hidden -> 10`` for ``config`` (a :class:`Config` or a name of CONFIGS/PLACEMENTS).

    Built by :func:`course_utils.models.make_mlp`; ``final_dropout`` inserts one Dropout before the
    output layer (Dropout has no weights, so the initial weights are those of the same seed without it).
    """
    config = _config(config)
    model = make_mlp(
        64, list(hidden), 10, norm=config.norm, dropout=config.dropout, block=config.block,
        linear_bias=config.linear_bias, seed=check_int("seed", seed, minimum=0),
    )  # fmt: skip
    if config.final_dropout > 0:
        layers = list(model)
        model = nn.Sequential(*layers[:-1], nn.Dropout(check_probability("final_dropout", config.final_dropout)),
                              layers[-1])  # fmt: skip
    return model


class _ToImage(nn.Module):
    """Reshape flat 64-pixel digits to 1x8x8 images (a module, so the conv net is one Sequential)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, 1, 8, 8)


def conv_block_net(channels: int = 16, p: float = 0.1, seed: int = 0) -> nn.Sequential:
    """The block for images: ``Conv2d -> BatchNorm2d -> ReLU -> Dropout`` on 8x8 digits, then pool and classify.

    The conv has no bias (BatchNorm2d's beta replaces it). BatchNorm2d normalizes each channel over the
    batch *and* the 8x8 positions.
    """
    channels = check_int("channels", channels, minimum=1)
    p = check_probability("p", p)
    manual_seed(check_int("seed", seed, minimum=0))
    return nn.Sequential(
        _ToImage(),
        nn.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.Dropout(p),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 16, 10),
    )


@functools.lru_cache(maxsize=4)
@persistent
def train_conv(channels: int = 16, p: float = 0.1, seed: int = 0, steps: int = 150) -> tuple[nn.Sequential, History]:
    """Train :func:`conv_block_net` on all training digits (cached); the model is returned in eval mode."""
    steps = check_int("steps", steps, minimum=1)
    model = conv_block_net(channels, p, seed)
    return seeded_run(model, _digits(), seed=seed, steps=steps, lr=LR, momentum=MOMENTUM, batch_size=BATCH_SIZE,
                      eval_every=steps)  # fmt: skip


# ------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Run:
    """One trained model (left in eval mode) and its History."""

    config: Config
    n_train: int
    seed: int
    model: nn.Module
    history: History


RunKey = tuple  # (Config, n_train, seed, steps, hidden)
_RUNS: dict[RunKey, Run] = {}
"""Every run trained in this kernel, by its key: the grid, placement, fixes and exercises share them."""


def _train(key: RunKey) -> Run:
    """Train the run ``key`` names, with the grid's settings. Its random numbers (initial weights, subset,
    batches, dropout masks) come only from generators seeded by the key, so it is the same run in any process
    and in any order. The training metrics are evaluated only at the last step (NaN before): the grid reads
    them only there (the gap), and evaluating all 1,079 training digits every 10 steps cost about 8 s of CPU
    per notebook run."""
    config, n_train, seed, steps, hidden = key
    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        model = build_model(config, hidden, seed)
    model, history = seeded_run(
        model, _digits(), seed=seed, n_train=n_train, steps=steps, lr=LR, momentum=MOMENTUM,
        batch_size=BATCH_SIZE, eval_every=EVAL_EVERY, train_metrics="last evaluation",
    )  # fmt: skip
    return Run(config, n_train, seed, model, history)


def _train_all(keys, desc: str | None = None) -> list[Run]:
    """The runs ``keys`` name, in order; those not trained yet are trained on every core and kept in :data:`_RUNS`.
    Keyed by the Config, not the name: "dropout before BN" and "BN+dropout" are the same runs."""
    return cached_runs(_RUNS, _train, [tuple(k) for k in keys], desc)


def _key(name: str | Config, n_train: int, seed: int, steps: int, hidden) -> RunKey:
    return (_config(name), n_train, seed, steps, tuple(hidden))


def train_config(
    name: str, n_train: int = FULL_N, seed: int = 0, steps: int = STEPS, hidden: Sequence[int] = HIDDEN
) -> Run:
    """Train the named configuration (CONFIGS or PLACEMENTS) on ``n_train`` digits with ``seed`` (cached).

    SGD with momentum 0.9, lr 0.05, batch 64, evaluated every 10 steps. The training subset is drawn
    with ``seed`` too (stratified), so one seed = one subset, one init, one batch order for every config.
    """
    config = _config(name)
    n_train = check_int("n_train", n_train, minimum=10, maximum=FULL_N)
    seed = check_int("seed", seed, minimum=0)
    steps = check_int("steps", steps, minimum=1)
    hidden = tuple(check_int("hidden", h, minimum=1) for h in hidden)
    return _train_all([(config, n_train, seed, steps, hidden)])[0]


def _steps_to_target(history: History, target: float, steps: int) -> float:
    reached = history.steps_to("val_acc", target)
    return float(reached) if reached is not None else float(steps)  # never reached: censored at the budget


@dataclass(frozen=True)
class AblationGrid:
    """Runs for every (config, training-set size, seed). Metrics per run:

    - ``val_acc``: final validation accuracy;
    - ``gap``: final training accuracy minus validation accuracy (the generalization gap);
    - ``steps_to_target``: first evaluated step with validation accuracy >= ``target``
      (``steps`` if never reached: read ">= steps").
    """

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int
    hidden: tuple[int, ...]
    target: float
    runs: dict

    def run(self, name: str, n_train: int, seed: int) -> Run:
        check_choice("name", name, self.names)
        check_choice("n_train", n_train, self.sizes)
        check_choice("seed", seed, self.seeds)
        return self.runs[(name, n_train, seed)]

    def values(self, name: str, n_train: int, metric: str = "val_acc") -> tuple[float, ...]:
        """One value of ``metric`` per seed (in ``seeds`` order)."""
        check_choice("metric", metric, METRICS)
        out = []
        for seed in self.seeds:
            history = self.run(name, n_train, seed).history
            final = history.final()
            if metric == "val_acc":
                out.append(final["val_acc"])
            elif metric == "gap":
                out.append(final["train_acc"] - final["val_acc"])
            else:
                out.append(_steps_to_target(history, self.target, self.steps))
        return tuple(out)

    def mean(self, name: str, n_train: int, metric: str = "val_acc") -> float:
        return float(np.mean(self.values(name, n_train, metric)))

    def compare(self, a: str, b: str, n_train: int, metric: str = "val_acc") -> Paired:
        """Paired comparison "a is better than b" on ``metric`` (lower is better for gap and steps)."""
        return paired(a, self.values(a, n_train, metric), b, self.values(b, n_train, metric), self.seeds,
                      metric=metric, higher_is_better=(metric == "val_acc"))  # fmt: skip

    def curves(self, name: str, n_train: int, metric: str = "val_acc") -> tuple[np.ndarray, np.ndarray]:
        """(steps, array of shape (n_seeds, n_evals)) for one cell of the grid."""
        check_choice("metric", metric, ("train_loss", "val_loss", "train_acc", "val_acc"))
        hists = [self.run(name, n_train, s).history for s in self.seeds]
        return np.array(hists[0].steps), np.array([getattr(h, metric) for h in hists])

    def table(self) -> list[dict]:
        """One row per (size, config): seed means and min..max of every metric."""
        rows = []
        for n in self.sizes:
            for name in self.names:
                row = {"n_train": n, "name": name}
                for metric in METRICS:
                    values = self.values(name, n, metric)
                    row[metric] = float(np.mean(values))
                    row[f"{metric}_min"], row[f"{metric}_max"] = float(min(values)), float(max(values))
                rows.append(row)
        return rows


@functools.lru_cache(maxsize=8)
def _cached_grid(names, sizes, seeds, steps, hidden, target) -> AblationGrid:
    cells = [(name, n, s) for n in sizes for name in names for s in seeds]
    trained = _train_all([_key(name, n, s, steps, hidden) for name, n, s in cells], desc="ablation grid")
    runs = dict(zip(cells, trained, strict=True))
    return AblationGrid(names, sizes, seeds, steps, hidden, target, runs)


def ablation_grid(
    names: Sequence[str] = tuple(CONFIGS),
    sizes: Sequence[int] = (SMALL_N, FULL_N),
    seeds: Sequence[int] = SEEDS,
    steps: int = STEPS,
    hidden: Sequence[int] = HIDDEN,
    target: float = TARGET_ACC,
) -> AblationGrid:
    """Train every (config, size, seed) once, in memory, and cache the grid (tests pass a small one)."""
    names = tuple(check_choice("names", n, list(CONFIGS) + list(PLACEMENTS)) for n in names)
    sizes = tuple(sorted({check_int("sizes", n, minimum=10, maximum=FULL_N) for n in sizes}))
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    if len(names) < 2 or not sizes or len(seeds) < 2:
        raise ValueError("names needs >= 2 configs, sizes >= 1 size and seeds >= 2 seeds (paired comparisons).")
    if len(set(seeds)) != len(seeds) or len(set(names)) != len(names):
        raise ValueError(f"names and seeds must not repeat, got names={names}, seeds={seeds}.")
    target = check_number("target", target)
    if not 0 < target <= 1:
        raise ValueError(f"target must be an accuracy in (0, 1], got {target}.")
    return _cached_grid(names, sizes, seeds, check_int("steps", steps, minimum=1),
                        tuple(check_int("hidden", h, minimum=1) for h in hidden), target)  # fmt: skip


def time_per_step(name: str, hidden: Sequence[int] = HIDDEN, steps: int = 60, batch_size: int = BATCH_SIZE) -> float:
    """CPU milliseconds per training step (forward, backward, SGD update) of the named config.

    Measured with ``time.process_time`` (this process's CPU time), so a busy machine inflates it less
    than wall time; still a measurement, not a constant: print it, don't assert it.
    """
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    model = build_model(name, hidden, seed=0)
    X, y = _digits().tensors("train")
    xb, yb = X[:batch_size], y[:batch_size]
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def loss(step: int) -> torch.Tensor:
        return nn.functional.cross_entropy(model(xb), yb)

    with torch.random.fork_rng(devices=[]):
        train_steps(model, opt, loss, 5, progress=False)  # warm-up: first calls allocate
        start = time.process_time()
        train_steps(model, opt, loss, steps, progress=False)
        elapsed = time.process_time() - start
    return 1000 * elapsed / steps


# ------------------------------------------------------------------------------------ variance shift


bn_layers = batchnorm_layers  # every BatchNorm layer of a model, in order (the name notebook 05 uses)


@torch.no_grad()
def bn_variance_ratios(model: nn.Module, X: torch.Tensor) -> list[float]:
    """For every BatchNorm of ``model``: the variance of its input at inference (eval mode, on ``X``)
    divided by its ``running_var``, averaged over features. 1 = what training prepared it for;
    < 1 = Li et al.'s variance shift (the layer divides by a variance larger than the one it now sees).

    The model's mode is restored afterwards.
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2:
        raise TypeError("X must be a 2-D torch.Tensor of inputs (N, features), e.g. split.tensors('train')[0].")
    bns = bn_layers(model)
    if not bns:
        raise ValueError("model has no BatchNorm layer: there is no running_var to compare with.")
    seen: dict[int, torch.Tensor] = {}
    hooks = [bn.register_forward_hook(lambda mod, inp, out, k=k: seen.__setitem__(k, inp[0]))
             for k, bn in enumerate(bns)]  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        model(X)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    ratios = []
    for k, bn in enumerate(bns):
        dims = [0] + list(range(2, seen[k].ndim))
        var = seen[k].var(dim=dims, unbiased=True)
        ratios.append(float((var / bn.running_var).mean()))
    return ratios


@torch.no_grad()
def recalibrate_bn(model: nn.Module, X: torch.Tensor, batch_size: int = BATCH_SIZE) -> nn.Module:
    """Li et al.'s second fix: a copy of ``model`` whose BatchNorm running statistics are re-estimated
    on ``X`` with dropout OFF, as a cumulative average over all of ``X`` in order
    (:func:`course_utils.train.recalibrate_batchnorm`). Weights are untouched; the copy is returned in
    eval mode."""
    fixed = recalibrate_batchnorm(copy.deepcopy(model), X, batch_size, drop_last=False)
    return fixed.eval()


def shift_ratio_theory(d: int, p: float, c: float = 1.0, v: float = 1.0, rho: float = 0.3, cos2: float = 0.2) -> float:
    """Inference-time over training-time variance of ``a = w . dropout(x)`` for ``d`` equicorrelated
    inputs (mean ``c``, variance ``v``, correlation ``rho``) and a unit-norm weight vector whose squared
    cosine with (1, ..., 1) is ``cos2``.

    Inverted dropout adds, for each input, the variance x^2 p/(1-p) (a kept/dropped x is x/(1-p) or 0):
    Var_train = Var_test + p/(1-p) * sum_i w_i^2 E[x_i^2] = Var_test + p/(1-p) (c^2 + v), while
    Var_test = v ((1 - rho) + rho d cos2). The ratio Var_test / Var_train < 1 and grows towards 1 with d:
    wider layers shift less (Li et al. 2019, Sec. 3).
    """
    d = check_int("d", d, minimum=1)
    p = check_probability("p", p)
    c, v = check_number("c", c), check_positive("v", v)
    rho, cos2 = check_number("rho", rho), check_number("cos2", cos2)
    if not (0 <= rho <= 1 and 0 <= cos2 <= 1):
        raise ValueError(f"rho and cos2 must be in [0, 1], got rho={rho}, cos2={cos2}.")
    var_test = v * ((1 - rho) + rho * d * cos2)
    return var_test / (var_test + p / (1 - p) * (c * c + v))


@torch.no_grad()
def simulate_shift_ratio(
    d: int, p: float, c: float = 1.0, v: float = 1.0, rho: float = 0.3, cos2: float = 0.2,
    n_batches: int = 400, batch_size: int = 64, seed: int = 0,
) -> float:  # fmt: skip
    """The same setup as :func:`shift_ratio_theory`, run with torch layers: ``Dropout(p) -> Linear(d, 1)
    -> BatchNorm1d(1)`` trained-mode passes to fill ``running_var`` (cumulative average), then the variance of
    the BN input in eval mode divided by ``running_var``."""
    d = check_int("d", d, minimum=2)  # with one input the weight cannot have a chosen angle to (1, ..., 1)
    p = check_probability("p", p)
    n_batches = check_int("n_batches", n_batches, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    gen = torch_generator(check_int("seed", seed, minimum=0))
    c, v = check_number("c", c), check_positive("v", v)
    shift_ratio_theory(d, p, c, v, rho, cos2)  # same argument checks
    ones = torch.ones(d) / math.sqrt(d)
    other = torch.randn(d, generator=gen)
    other -= (other @ ones) * ones
    other /= other.norm().clamp_min(1e-12)
    w = math.sqrt(cos2) * ones + math.sqrt(1 - cos2) * other

    def inputs(n: int) -> torch.Tensor:
        common = torch.randn(n, 1, generator=gen)
        own = torch.randn(n, d, generator=gen)
        return c + math.sqrt(v) * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own)

    linear = nn.Linear(d, 1, bias=False)
    linear.weight.copy_(w[None])
    drop, bn = nn.Dropout(p), nn.BatchNorm1d(1, momentum=None)
    net = nn.Sequential(drop, linear, bn).train()
    with torch.random.fork_rng(devices=[]):
        manual_seed(seed)
        for _ in range(n_batches):
            net(inputs(batch_size))
    net.eval()
    a = linear(drop(inputs(n_batches * batch_size)))
    return float(a.var() / bn.running_var[0])


FIXES = ("dropout before BN", "fix 1: dropout after the last BN", "fix 2: BN statistics recomputed",
         "BN, no dropout")
"""The rows of :func:`fixes_table`."""


def shift_vs_width(
    widths: Sequence[int] = (16, 64, 256), seeds: Sequence[int] = SEEDS, p: float = P_DROP, steps: int = STEPS
) -> dict:
    """Train the block ``Linear -> BN -> ReLU -> Dropout(p)`` x 2 at each width (same seeds) and measure, at the
    second BatchNorm (the one after a Dropout), inference variance / running_var on the validation digits.

    Returns ``{"widths", "seeds", "ratios": array (n_widths, n_seeds)}``.
    """
    widths = tuple(check_int("widths", wd, minimum=1) for wd in widths)
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    p = check_probability("p", p)
    steps = check_int("steps", steps, minimum=1)
    config = Config(norm="batch", dropout=p)  # with p = P_DROP: the grid's "BN+dropout" runs (same cache)
    X = _digits().tensors("val")[0]
    runs = _train_all([(config, FULL_N, seed, steps, (wd, wd)) for wd in widths for seed in seeds], desc="widths")
    ratios = np.array([bn_variance_ratios(run.model, X)[1] for run in runs]).reshape(len(widths), len(seeds))
    return {"widths": widths, "seeds": seeds, "ratios": ratios}


def fixes_table(seeds: Sequence[int] = SEEDS, hidden: Sequence[int] = HIDDEN, steps: int = STEPS) -> dict:
    """Variance ratio at the second BatchNorm and final validation accuracy, per seed, for: dropout before BN
    (the course block with dropout in every block), fix 1 (dropout only after the last BN), fix 2 (the same
    trained dropout-before-BN model with its BN statistics recomputed on the training digits, dropout off) and
    BN without any dropout (the control: the accuracy when there is nothing to shift).

    The ratio is measured on the *validation* digits: fix 2 recomputes the statistics on the training digits,
    so measuring there would give 1 by construction.
    Returns ``{name: {"ratio": tuple, "val_acc": tuple}}`` (names: :data:`FIXES`) with one entry per seed.
    """
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    hidden = tuple(check_int("hidden", h, minimum=1) for h in hidden)
    split = _digits()
    X, _ = split.tensors("train")
    Xv, yv = split.tensors("val")
    out: dict[str, dict[str, list]] = {k: {"ratio": [], "val_acc": []} for k in FIXES}

    def acc(model) -> float:
        with torch.no_grad():
            return float((model(Xv).argmax(1) == yv).float().mean())

    trained = ("dropout before BN", "dropout after the last BN", "BN")
    _train_all([_key(name, FULL_N, seed, steps, hidden) for seed in seeds for name in trained], desc="fixes")
    for seed in seeds:
        shifted, fix1, plain = (train_config(name, FULL_N, seed, steps, hidden).model for name in trained)
        fix2 = recalibrate_bn(shifted, X)
        for key, model in zip(out, (shifted, fix1, fix2, plain), strict=True):
            out[key]["ratio"].append(bn_variance_ratios(model, Xv)[1])
            out[key]["val_acc"].append(acc(model))
    return {k: {m: tuple(v) for m, v in d.items()} for k, d in out.items()}


# ------------------------------------------------------------------- what each layer normalizes over


@torch.no_grad()
def batch_stats(layer: nn.Module, X: torch.Tensor) -> dict[str, float]:
    """Largest |mean| and |var - 1| of ``layer(X)`` per feature over the batch (axis 0) and per sample over
    the features (axis 1), in train mode. BatchNorm zeroes the first pair, LayerNorm the second."""
    was_training = layer.training
    layer.train()
    try:
        out = layer(X)
    finally:
        layer.train(was_training)
    return {
        "per_feature_mean": float(out.mean(0).abs().max()),
        "per_feature_var": float((out.var(0, unbiased=False) - 1).abs().max()),
        "per_sample_mean": float(out.mean(1).abs().max()),
        "per_sample_var": float((out.var(1, unbiased=False) - 1).abs().max()),
    }


sample_stats = batch_stats  # the same four numbers; the name reads better for LayerNorm


@torch.no_grad()
def batch_dependence(
    model: nn.Module, X: torch.Tensor, n_keep: int = 8, seed: int = 0, train_mode: bool = True
) -> float:
    """Largest change of the first ``n_keep`` outputs when the rest of the batch is replaced by other
    examples, with dropout off. In TRAIN mode (``train_mode=True``, the default) BatchNorm uses the batch's
    statistics, so its outputs depend on the batch-mates (> 0) while LayerNorm's do not (0). In EVAL mode
    (``train_mode=False``) BatchNorm uses its running statistics and is batch-independent too."""
    n_keep = check_int("n_keep", n_keep, minimum=1)
    train_mode = check_bool("train_mode", train_mode)
    if len(X) < 2 * n_keep + 2:
        raise ValueError(f"X needs at least {2 * n_keep + 2} rows for n_keep={n_keep}, got {len(X)}.")
    gen = torch_generator(check_int("seed", seed, minimum=0))
    perm = torch.randperm(len(X) - n_keep, generator=gen) + n_keep
    half = (len(X) - n_keep) // 2
    batch_a = torch.cat([X[:n_keep], X[perm[:half]]])
    batch_b = torch.cat([X[:n_keep], X[perm[half : 2 * half]]])
    model = copy.deepcopy(model)  # train mode updates running statistics: never touch the caller's model
    model.train(train_mode)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    return float((model(batch_a)[:n_keep] - model(batch_b)[:n_keep]).abs().max())


# -------------------------------------------------------------------------------------- conventions

CONVENTIONS = [
    ("dropout p", "`nn.Dropout(p)`: p = probability to **drop**", "Keras `rate` drops too; the paper, cs231n and "
     "TF1 `keep_prob` give the probability to **keep**", "keep 0.8 -> torch p = 0.2"),
    ("BN momentum", "`momentum=0.1`: running = 0.9 running + **0.1** batch", "Keras/TF `momentum=0.99` (0.9 common):"
     " running = **0.9** running + 0.1 batch", "torch m = 1 - Keras m; `momentum=None` = cumulative average"),
    ("BN variance", "normalizes with the **biased** batch variance (divide by m)", "`running_var` stores the "
     "**unbiased** one (m/(m-1)), as Ioffe & Szegedy do", "not a bug: the two differ by m/(m-1)"),
    ("eval vs no_grad", "`model.eval()` switches Dropout off and BN to running statistics", "`torch.no_grad()` only "
     "stops gradient tracking: BN still updates its running statistics in train mode", "predict with both"),
    ("where eps goes", "`(x - mean) / sqrt(var + eps)`, eps = 1e-5", "not `/ (std + eps)`; Keras BN eps = 1e-3",
     "eps inside the square root"),
]
"""The conventions table: (topic, PyTorch, elsewhere / the catch, what to remember)."""


@torch.no_grad()
def conventions_checks(seed: int = 0) -> dict[str, float]:
    """The numbers behind the conventions table, measured on ``torch.nn`` layers:

    - ``momentum_gap``: |torch running_mean after one step with momentum 0.1 - Keras' formula with 0.9|;
    - ``running_var_ratio``: running_var / biased batch variance after one step from (0, 1) with
      momentum 1 -> m/(m-1);
    - ``batch_size``: the m used there;
    - ``no_grad_changed_running_mean``: how far a forward pass under ``torch.no_grad()`` in train mode moved
      running_mean (> 0: no_grad does not freeze BN);
    - ``no_grad_dropout_differs``: 1.0 if two no_grad passes in train mode differ (dropout still on);
    - ``eval_dropout_differs``: the same in eval mode (0.0);
    - ``eps_inside_sqrt_error``: max |BN(x) - (x - mean)/sqrt(var + eps)|, ``eps_outside_error``: the same
      for (x - mean)/(std + eps) (with a large eps so the difference shows).
    """
    gen = torch_generator(check_int("seed", seed, minimum=0))
    m = 16
    x = 3 + 2 * torch.randn(m, 5, generator=gen)
    bn = nn.BatchNorm1d(5, momentum=0.1).train()
    bn(x)
    keras = 0.9 * torch.zeros(5) + (1 - 0.9) * x.mean(0)
    bn1 = nn.BatchNorm1d(5, momentum=1.0).train()
    bn1(x)
    ratio = float((bn1.running_var / x.var(0, unbiased=False)).mean())
    bn2 = nn.BatchNorm1d(5).train()
    before = bn2.running_mean.clone()
    with torch.no_grad():
        bn2(x)
    moved = float((bn2.running_mean - before).abs().max())
    drop_net = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.5))
    with torch.random.fork_rng(devices=[]):
        manual_seed(seed)
        drop_net.train()
        with torch.no_grad():
            differs_train = float(not torch.equal(drop_net(x), drop_net(x)))
        drop_net.eval()
        differs_eval = float(not torch.equal(drop_net(x), drop_net(x)))
    eps = 0.5
    bn3 = nn.BatchNorm1d(5, eps=eps, affine=False).train()
    out = bn3(x)
    mean, var = x.mean(0), x.var(0, unbiased=False)
    inside = (x - mean) / torch.sqrt(var + eps)
    outside = (x - mean) / (var.sqrt() + eps)
    return {
        "momentum_gap": float((bn.running_mean - keras).abs().max()),
        "running_var_ratio": ratio,
        "batch_size": float(m),
        "no_grad_changed_running_mean": moved,
        "no_grad_dropout_differs": differs_train,
        "eval_dropout_differs": differs_eval,
        "eps_inside_sqrt_error": float((out - inside).abs().max()),
        "eps_outside_error": float((out - outside).abs().max()),
    }


SUMMARY = {
    "Dropout": {
        "normalizes over": "nothing (not a normalization): each unit is zeroed with probability p, survivors x 1/(1-p)",
        "training vs inference": "a fresh random mask in training; the identity in eval mode",
        "weak spots": "does not speed training up; before a BatchNorm it shifts the variance (section 3); no gain on "
        "top of BatchNorm in our grid",
        "placement": "after the activation; after the last BatchNorm",
    },
    "BatchNorm": {
        "normalizes over": "the batch, per feature (and per channel over H x W in conv nets)",
        "training vs inference": "batch statistics in training (each output depends on its batch-mates); running "
        "averages in eval mode",
        "weak spots": "tiny batches (notebook 03, Wu & He); padded sequences (notebook 04); statistics learned with "
        "dropout on (section 3)",
        "placement": "after Linear/Conv, before the activation",
    },
    "LayerNorm": {
        "normalizes over": "the features, per sample",
        "training vs inference": "the same computation in both modes, whatever the batch",
        "weak spots": "Wu & He (quoted): 25.3% vs BN's 23.6% error on ResNet-50 at 32 images per GPU; on our MLP "
        "within about a point of BatchNorm",
        "placement": "inside the residual branch, before the sublayer (Pre-LN, notebook 04)",
    },
}
"""The course's summary table (its columns as rows of a dict per method)."""


# ------------------------------------------- learning-rate sweep on a fine grid, standardized-input control

SWEEP_ARMS: dict[str, tuple[str, bool]] = {
    "none": ("none", False),
    "none, standardized inputs": ("none", True),
    "BN": ("BN", False),
    "BN, standardized inputs": ("BN", True),
}
"""Arms of the learning-rate sweep: (configuration of CONFIGS, inputs standardized?). "none" on the raw pixels
(in [0, 1]) is the grid's "none"; "none, standardized inputs" is the fair control for BN, whose first BatchNorm
normalizes the first layer's output whatever the input scale."""

SWEEP_LRS = (0.03, 0.1, 0.3, 1.0)
"""Learning rates of the sweep (SGD, momentum 0.9), a factor ~3 apart."""

SWEEP_STEPS = 80
"""Step budget of a sweep run: a run that has not reached the target by then counts as SWEEP_STEPS (censored)."""

SWEEP_SEEDS = SEEDS[:5]
"""The sweep's paired seeds (the first 5 of the grid's): its effects are several times their seed spread, and 5
seeds keep the sweep inside the notebook's time budget (with 5, only 5 wins of 5 support a claim)."""


@functools.lru_cache(maxsize=1024)
@persistent
def _fine_steps(name: str, standardize: bool, seed: int, lr: float, steps: int, target: float) -> float:
    split = _digits().standardized() if standardize else _digits()
    X, y = split.tensors("train")
    Xv, yv = split.tensors("val")
    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        model = build_model(name, HIDDEN, seed)
    batches = minibatch_indices(len(X), BATCH_SIZE, torch_generator(seed))  # the grid's minibatch order (train's)
    reached = [float(steps)]  # never reached, or diverged: censored at the budget

    def next_loss(step: int) -> torch.Tensor:
        idx = next(batches)
        return nn.functional.cross_entropy(model(X[idx]), y[idx])

    @torch.no_grad()
    def reached_target(step: int, loss: float) -> bool:  # validation accuracy after EVERY step: the fine grid
        if not math.isfinite(loss):
            return True
        model.eval()
        accuracy = float((model(Xv).argmax(1) == yv).float().mean())
        model.train()
        if accuracy >= target:
            reached[0] = float(step)
        return accuracy >= target

    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    with torch.random.fork_rng(devices=[]):  # dropout masks, as in the grid's runs
        manual_seed(seed)
        train_steps(model, opt, next_loss, steps, after_step=[reached_target], progress=False)
    return reached[0]


def fine_steps_to_target(
    name: str, seed: int, lr: float = LR, standardize: bool = False, steps: int = SWEEP_STEPS,
    target: float = TARGET_ACC,
) -> float:  # fmt: skip
    """Steps until the validation accuracy first reaches ``target``, evaluated after every step (the grid
    evaluates every 10), on all training digits; ``steps`` if never reached within ``steps`` (or diverged).

    Same initialization, minibatch order and dropout masks as the grid's run of ``name`` with this ``seed``;
    training stops at the target (cached per argument set). ``standardize`` feeds inputs standardized with the
    training digits' mean and std per pixel.
    """
    name = check_choice("name", name, list(CONFIGS) + list(PLACEMENTS))
    seed = check_int("seed", seed, minimum=0)
    lr = check_positive("lr", lr)
    standardize = check_bool("standardize", standardize)
    steps = check_int("steps", steps, minimum=1)
    target = check_number("target", target)
    if not 0 < target <= 1:
        raise ValueError(f"target must be an accuracy in (0, 1], got {target}.")
    return _fine_steps(name, standardize, seed, float(lr), steps, float(target))


@dataclass(frozen=True)
class LrSweep:
    """Steps to the target for every (arm, lr, seed) of the sweep, evaluated after every step.

    ``steps[arm]`` is an array of shape (n_lrs, n_seeds). Each arm's lr is tuned without the seed it is judged
    on: for seed s, the lr with the fewest mean steps over the *other* seeds (leave-one-seed-out), so no arm
    gets an lr picked on the very runs it is compared with.
    """

    arms: tuple[str, ...]
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    max_steps: int
    steps: dict

    def tuned_lrs(self, arm: str) -> tuple[float, ...]:
        """Per seed: the lr with the fewest mean steps over the other seeds (ties: the smaller lr)."""
        table = self.steps[check_choice("arm", arm, self.arms)]
        out = []
        for j in range(len(self.seeds)):
            others = np.delete(table, j, axis=1).mean(axis=1)
            out.append(self.lrs[int(np.argmin(others))])
        return tuple(out)

    def tuned(self, arm: str) -> tuple[float, ...]:
        """Per seed: the steps at that seed's tuned lr."""
        table = self.steps[check_choice("arm", arm, self.arms)]
        return tuple(float(table[self.lrs.index(lr), j]) for j, lr in enumerate(self.tuned_lrs(arm)))

    def largest_working_lr(self, arm: str) -> tuple[float, ...]:
        """Per seed: the largest lr of the sweep that reached the target within the budget (0 if none did)."""
        table = self.steps[check_choice("arm", arm, self.arms)]
        out = []
        for j in range(len(self.seeds)):
            ok = [lr for i, lr in enumerate(self.lrs) if table[i, j] < self.max_steps]
            out.append(max(ok) if ok else 0.0)
        return tuple(out)

    def compare_tuned(self, a: str, b: str) -> Paired:
        """"a reaches the target in fewer steps than b", each at its own tuned lr (paired seeds)."""
        return paired(a, self.tuned(a), b, self.tuned(b), self.seeds, metric="steps to 90%, tuned lr",
                      higher_is_better=False)  # fmt: skip

    def compare_largest_lr(self, a: str, b: str) -> Paired:
        """"a still reaches the target at a larger lr than b" (log10 of the largest working lr, paired seeds)."""
        log_lr = {arm: [math.log10(v) if v > 0 else math.log10(min(self.lrs)) - 1 for v in self.largest_working_lr(arm)]
                  for arm in (a, b)}  # fmt: skip
        return paired(a, log_lr[a], b, log_lr[b], self.seeds, metric="log10 largest lr reaching 90%")


def lr_sweep(
    arms: Sequence[str] = tuple(SWEEP_ARMS), lrs: Sequence[float] = SWEEP_LRS, seeds: Sequence[int] = SWEEP_SEEDS,
    steps: int = SWEEP_STEPS,
) -> LrSweep:  # fmt: skip
    """Run :func:`fine_steps_to_target` for every arm of :data:`SWEEP_ARMS`, lr and seed (cached runs).

    For each arm and seed the lrs are tried in increasing order; once a run fails after a smaller lr worked,
    the larger lrs are counted as failed (``steps``) without being run."""
    arms = tuple(check_choice("arms", a, list(SWEEP_ARMS)) for a in arms)
    lrs = tuple(float(check_positive("lrs", lr)) for lr in lrs)
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    if len(seeds) < 3 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds needs >= 3 distinct seeds (one is left out to tune the lr), got {seeds}.")
    if not lrs or list(lrs) != sorted(set(lrs)):
        raise ValueError(f"lrs must be increasing and distinct, got {lrs}.")
    steps = check_int("steps", steps, minimum=1)
    cells = [(*SWEEP_ARMS[arm], seed, lrs, steps) for arm in arms for seed in seeds]
    rows = iter(map_in_processes(_ascending_lrs, cells, desc="lr sweep"))  # (arm, seed) runs are independent
    table = {arm: np.array([next(rows) for _ in seeds]).T for arm in arms}
    return LrSweep(arms, lrs, seeds, steps, table)


def _ascending_lrs(cell: tuple[str, bool, int, tuple[float, ...], int]) -> list[float]:
    # Up the lr grid until a run fails AFTER a smaller lr has worked: every larger lr is then counted as failed
    # too, without running it (above the stable range a larger step does not bring training back; measured
    # while building the sweep, it saves the most expensive runs: failures run the whole budget).
    name, standardize, seed, lrs, steps = cell
    out: list[float] = []
    worked = False
    for lr in lrs:
        if worked and out[-1] >= steps:
            out.append(float(steps))
            continue
        out.append(fine_steps_to_target(name, seed, lr, standardize, steps))
        worked = worked or out[-1] < steps
    return out


def li_figure1_measure(seeds: Sequence[int] = SEEDS) -> dict:
    """Li et al. 2019's Figure 1 measure, max(real_var / moving_var, moving_var / real_var) per BatchNorm layer,
    on our width-128 MLPs: "real_var" = the variance of the BN's input in eval mode on the *training* digits (their
    figure computes both curves on training data), "moving_var" = its ``running_var`` (averaged over features).
    1 = no shift. For the grid's ``BN+dropout`` (dropout before the second BN) and ``BN`` (no dropout) runs.

    Returns ``{"seeds", "dropout before BN": array (n_seeds, 2), "BN, no dropout": array (n_seeds, 2)}``; column
    k is BatchNorm k+1 (the first BN of both models has no dropout before it).
    """
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    X = _digits().tensors("train")[0]
    out: dict = {"seeds": seeds}
    for key, name in (("dropout before BN", "BN+dropout"), ("BN, no dropout", "BN")):
        ratios = np.array([bn_variance_ratios(train_config(name, FULL_N, s).model, X) for s in seeds])
        out[key] = np.maximum(ratios, 1 / ratios)
    return out
