"""Experiments behind notebook 02 (Dropout): the mask, the rescaling, overfitting, sweeps, features,
inference (weight scaling vs Monte-Carlo averaging) and placement.

Every function returns plain numbers/arrays so the notebook can print them rounded and assert them.
Training runs are cached per configuration (``functools.lru_cache``): the sweep grid is computed once
and the notebook's other sections and the explorer reuse the very same runs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data import Split, load_digits
from ..models import make_mlp
from ..train import History, evaluate, train
from ..validation import check_choice, check_float_array, check_int, check_number, check_probability

__all__ = [
    "PAPER_TABLE2",
    "P_CONVENTIONS",
    "DEFAULT_P_VALUES",
    "DEFAULT_SIZES",
    "DEFAULT_SEEDS",
    "DEFAULT_HIDDEN",
    "DEFAULT_STEPS",
    "SMALL_N",
    "DropoutGrid",
    "bernoulli_mask",
    "dropout_np",
    "kept_counts",
    "binomial_pmf",
    "mean_output",
    "keep_to_drop",
    "repeated_predictions",
    "prediction_flip_rate",
    "train_run",
    "sweep_grid",
    "compare_runs",
    "input_vs_hidden",
    "test_error",
    "activation_stats",
    "compare_features",
    "hidden_activations",
    "mc_probabilities",
    "mc_vs_weight_scaling",
    "predictive_entropy",
    "unlike_digits",
    "uncertainty_summary",
    "placement_outputs",
]

# Srivastava et al. 2014 (JMLR), Table 2: MNIST test classification error (%).
PAPER_TABLE2 = {
    "standard neural net (no dropout)": 1.60,
    "dropout NN, logistic units": 1.35,
    "dropout NN, ReLU units": 1.25,
    "dropout NN + max-norm, ReLU units": 1.06,
}

# What the number you pass means, per library (a keep probability q is a drop probability 1 - q).
P_CONVENTIONS = [
    ("torch.nn.Dropout(p)", "p", "drop"),
    ("keras.layers.Dropout(rate)", "rate", "drop"),
    ("tf.nn.dropout (TF2, rate=)", "rate", "drop"),
    ("tf.nn.dropout (TF1, keep_prob=)", "keep_prob", "keep"),
    ("cs231n assignments (p)", "p", "keep"),
    ("Srivastava et al. 2014 (p)", "p", "keep"),
]

DEFAULT_P_VALUES = (0.0, 0.2, 0.5, 0.8)
SMALL_N = 200
DEFAULT_SIZES = (100, SMALL_N, 1079)  # 1079 = the whole digits training split
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_HIDDEN = (256, 256)
DEFAULT_STEPS = 300
LR = 0.05
MOMENTUM = 0.9
BATCH_SIZE = 64
EVAL_EVERY = 25


# ------------------------------------------------------------------------------------------ mechanism


def _rng(seed) -> np.random.Generator:
    return np.random.default_rng(check_int("seed", seed, minimum=0))


def bernoulli_mask(shape: tuple[int, ...], p: float, seed: int = 0) -> np.ndarray:
    """A float mask of 0s and 1s: each entry is 1 (kept) with probability ``1 - p``."""
    p = check_probability("p", p)
    shape = tuple(check_int("shape", s, minimum=1) for s in shape)
    return (_rng(seed).random(shape) >= p).astype(np.float64)


def dropout_np(x: np.ndarray, p: float, seed: int = 0, rescale: bool = True) -> np.ndarray:
    """Dropout in training mode: ``x * mask / (1 - p)`` (inverted) or ``x * mask`` (``rescale=False``)."""
    x = check_float_array("x", x)
    p = check_probability("p", p)
    mask = bernoulli_mask(x.shape, p, seed)
    return x * mask / (1 - p) if rescale else x * mask


def kept_counts(n_units: int, p: float, n_masks: int = 10_000, seed: int = 0) -> np.ndarray:
    """How many of ``n_units`` survive in each of ``n_masks`` independent masks (Binomial(n, 1-p))."""
    n_units = check_int("n_units", n_units, minimum=1)
    n_masks = check_int("n_masks", n_masks, minimum=1)
    p = check_probability("p", p)
    return (_rng(seed).random((n_masks, n_units)) >= p).sum(axis=1)


def binomial_pmf(n_units: int, p: float) -> np.ndarray:
    """P(exactly k of ``n_units`` kept), k = 0..n_units, when each is dropped with probability ``p``."""
    n_units = check_int("n_units", n_units, minimum=1)
    p = check_probability("p", p)
    q = 1 - p
    return np.array([math.comb(n_units, k) * q**k * p ** (n_units - k) for k in range(n_units + 1)])


def mean_output(x: np.ndarray, p: float, n_masks: int = 2000, seed: int = 0, rescale: bool = True) -> np.ndarray:
    """The average of dropout(x) over ``n_masks`` masks: ~x with rescaling, ~(1 - p) x without."""
    x = check_float_array("x", x)
    p = check_probability("p", p)
    n_masks = check_int("n_masks", n_masks, minimum=1)
    keep = _rng(seed).random((n_masks, *x.shape)) >= p
    out = x * keep / (1 - p) if rescale else x * keep
    return out.mean(axis=0)


def keep_to_drop(keep_prob: float) -> float:
    """Convert a *keep* probability (cs231n, the paper, TF1 ``keep_prob``) to torch's drop probability."""
    keep_prob = check_number("keep_prob", keep_prob)
    if not 0 < keep_prob <= 1:
        raise ValueError(
            f"keep_prob must be in (0, 1], got {keep_prob!r}: it is the probability of *keeping* a unit "
            "(keep_prob = 1 means no dropout)."
        )
    return 1.0 - keep_prob


# ----------------------------------------------------------------------------------- classic mistakes


@torch.no_grad()
def repeated_predictions(model: nn.Module, X: torch.Tensor, n_repeats: int = 5, seed: int = 0) -> np.ndarray:
    """Predicted classes of ``n_repeats`` forward passes in the model's *current* mode, shape (n_repeats, N).

    In train mode every pass draws new dropout masks, so the same input can get different predictions.
    """
    n_repeats = check_int("n_repeats", n_repeats, minimum=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_int("seed", seed, minimum=0))
        return np.stack([model(X).argmax(dim=1).numpy() for _ in range(n_repeats)])


def prediction_flip_rate(predictions: np.ndarray) -> float:
    """Fraction of inputs whose predicted class is not the same in every repeat."""
    predictions = np.asarray(predictions)
    return float(np.mean(np.any(predictions != predictions[:1], axis=0)))


# ----------------------------------------------------------------------------------------- training


@functools.lru_cache(maxsize=1)
def _digits() -> Split:
    return load_digits()


@dataclass(frozen=True)
class Run:
    """One trained model and its History (``model`` is left in eval mode)."""

    model: nn.Module
    history: History
    n_train: int
    p: float
    input_p: float
    seed: int


@functools.lru_cache(maxsize=256)
def _cached_run(n_train: int, p: float, input_p: float, seed: int, steps: int, hidden: tuple[int, ...]) -> Run:
    split = _digits()
    if n_train < len(split.X_train):
        split = split.subset_train(n_train, seed=seed)
    with torch.random.fork_rng(devices=[]):  # dropout masks come from torch's global generator
        torch.manual_seed(seed)
        model = make_mlp(64, list(hidden), 10, dropout=p, input_dropout=input_p, seed=seed)
        history = train(
            model, split, steps=steps, lr=LR, momentum=MOMENTUM, batch_size=BATCH_SIZE,
            eval_every=EVAL_EVERY, seed=seed, progress=False,
        )  # fmt: skip
    model.eval()
    return Run(model, history, n_train, p, input_p, seed)


def train_run(
    n_train: int = SMALL_N,
    p: float = 0.5,
    input_p: float = 0.0,
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    hidden: tuple[int, ...] = DEFAULT_HIDDEN,
) -> Run:
    """Train a ReLU MLP ``64 -> hidden -> 10`` on ``n_train`` digits (cached: same arguments, same Run).

    ``p`` is the hidden-layer drop probability, ``input_p`` the input drop probability. SGD with
    momentum 0.9, lr 0.05, batch 64; evaluated every 25 steps.
    """
    n_train = check_int("n_train", n_train, minimum=10, maximum=len(_digits().X_train))
    p = check_probability("p", p)
    input_p = check_probability("input_p", input_p)
    seed = check_int("seed", seed, minimum=0)
    steps = check_int("steps", steps, minimum=1)
    hidden = tuple(check_int("hidden", h, minimum=1) for h in hidden)
    return _cached_run(n_train, p, input_p, seed, steps, hidden)


@dataclass(frozen=True)
class DropoutGrid:
    """Runs for every (p, n_train, seed) of a sweep; means over seeds by :meth:`mean`."""

    p_values: tuple[float, ...]
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int
    hidden: tuple[int, ...]
    runs: dict

    def histories(self, p: float, n_train: int) -> list[History]:
        return [self.runs[(p, n_train, s)].history for s in self.seeds]

    def curve(self, p: float, n_train: int, metric: str = "val_loss") -> tuple[np.ndarray, np.ndarray]:
        """(steps, seed-averaged metric) for one cell of the grid."""
        check_choice("metric", metric, ("train_loss", "val_loss", "train_acc", "val_acc"))
        hists = self.histories(self._p(p), self._n(n_train))
        return np.array(hists[0].steps), np.mean([getattr(h, metric) for h in hists], axis=0)

    def mean(self, p: float, n_train: int, metric: str = "val_acc") -> float:
        """Seed-averaged final value of ``metric``."""
        return float(self.curve(p, n_train, metric)[1][-1])

    def table(self, metric: str = "val_acc") -> np.ndarray:
        """Seed-averaged final ``metric``, shape (len(p_values), len(sizes))."""
        return np.array([[self.mean(p, n, metric) for n in self.sizes] for p in self.p_values])

    def best_p(self, n_train: int, metric: str = "val_acc") -> float:
        values = [self.mean(p, n_train, metric) for p in self.p_values]
        return self.p_values[int(np.argmax(values) if metric.endswith("acc") else np.argmin(values))]

    def _p(self, p):
        check_choice("p", p, self.p_values)
        return p

    def _n(self, n):
        check_choice("n_train", n, self.sizes)
        return n


@functools.lru_cache(maxsize=8)
def _cached_grid(p_values, sizes, seeds, steps, hidden) -> DropoutGrid:
    runs = {(p, n, s): _cached_run(n, p, 0.0, s, steps, hidden) for n in sizes for p in p_values for s in seeds}
    return DropoutGrid(p_values, sizes, seeds, steps, hidden, runs)


def sweep_grid(
    p_values=DEFAULT_P_VALUES,
    sizes=DEFAULT_SIZES,
    seeds=DEFAULT_SEEDS,
    steps: int = DEFAULT_STEPS,
    hidden=DEFAULT_HIDDEN,
) -> DropoutGrid:
    """Train every (p, training-set size, seed) once and cache the result (``functools.lru_cache``).

    The notebook's overfitting, sweep and feature sections and the dropout explorer all call this with
    the same arguments, so the grid is trained once per kernel. Tests pass a small grid.
    """
    p_values = tuple(sorted({check_probability("p_values", p) for p in p_values}))
    n_max = len(_digits().X_train)
    sizes = tuple(sorted({check_int("sizes", n, minimum=10, maximum=n_max) for n in sizes}))
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    if not p_values or not sizes or not seeds:
        raise ValueError("p_values, sizes and seeds must each hold at least one value.")
    steps = check_int("steps", steps, minimum=1)
    hidden = tuple(check_int("hidden", h, minimum=1) for h in hidden)
    return _cached_grid(p_values, sizes, seeds, steps, hidden)


def compare_runs(grid: DropoutGrid, n_train: int, p: float = 0.5) -> dict[str, dict[str, float]]:
    """Seed-averaged final train/val loss and accuracy and the generalization gap, without and with dropout."""
    out = {}
    for label, q in (("no dropout", 0.0), (f"dropout p={p}", p)):
        row = {m: grid.mean(q, n_train, m) for m in ("train_loss", "val_loss", "train_acc", "val_acc")}
        row["gap_acc"] = row["train_acc"] - row["val_acc"]
        row["gap_loss"] = row["val_loss"] - row["train_loss"]
        out[label] = row
    return out


INPUT_HIDDEN_CONFIGS = {
    "none": (0.0, 0.0),
    "input 0.2": (0.0, 0.2),
    "hidden 0.5": (0.5, 0.0),
    "input 0.2 + hidden 0.5": (0.5, 0.2),
}


def input_vs_hidden(
    n_train: int = SMALL_N, seeds=DEFAULT_SEEDS, steps: int = DEFAULT_STEPS, hidden=DEFAULT_HIDDEN
) -> dict[str, dict[str, float]]:
    """Seed-averaged final val loss/accuracy for no dropout, input-only, hidden-only and both."""
    out = {}
    for label, (p, ip) in INPUT_HIDDEN_CONFIGS.items():
        runs = [train_run(n_train, p, ip, s, steps, tuple(hidden)) for s in seeds]
        out[label] = {
            "val_loss": float(np.mean([r.history.final()["val_loss"] for r in runs])),
            "val_acc": float(np.mean([r.history.final()["val_acc"] for r in runs])),
        }
    return out


def test_error(grid: DropoutGrid, p: float, n_train: int) -> float:
    """Seed-averaged test classification error (%) of the grid's models (weight scaling = eval mode)."""
    X, y = _digits().tensors("test")
    errors = [100 * (1 - evaluate(grid.runs[(p, n_train, s)].model, X, y)[1]) for s in grid.seeds]
    return float(np.mean(errors))


test_error.__test__ = False  # not a pytest test despite its name


# ------------------------------------------------------------------------------------------ features


@torch.no_grad()
def activation_stats(model: nn.Module, X: torch.Tensor, threshold: float = 0.01) -> list[dict[str, float]]:
    """Per hidden layer (eval mode): mean post-ReLU activation and fraction of activations below ``threshold``."""
    threshold = check_number("threshold", threshold)
    return [
        {"mean": float(h.mean()), "near_zero": float((h.abs() < threshold).float().mean())}
        for h in _hidden_outputs(model, X)
    ]


@torch.no_grad()
def _hidden_outputs(model: nn.Module, X: torch.Tensor) -> list[torch.Tensor]:
    """The output of every activation layer of a Sequential ``model`` (eval mode; the mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        outputs, h = [], X
        for module in model:
            h = module(h)
            if isinstance(module, nn.ReLU | nn.Sigmoid | nn.Tanh):
                outputs.append(h)
    finally:
        model.train(was_training)
    return outputs


def compare_features(grid: DropoutGrid, n_train: int, p: float = 0.5, threshold: float = 0.01) -> dict[str, dict]:
    """Validation-set :func:`activation_stats` of the grid's models without and with dropout, averaged over
    seeds and hidden layers (``'mean'``, ``'near_zero'``) and per layer (``'per_layer'``)."""
    X = _digits().tensors("val")[0]
    out = {}
    for label, q in (("no dropout", 0.0), (f"dropout p={p}", p)):
        stats = [activation_stats(grid.runs[(q, n_train, s)].model, X, threshold) for s in grid.seeds]
        per_layer = [
            {key: float(np.mean([st[i][key] for st in stats])) for key in ("mean", "near_zero")}
            for i in range(len(stats[0]))
        ]
        out[label] = {
            "mean": float(np.mean([row["mean"] for row in per_layer])),
            "near_zero": float(np.mean([row["near_zero"] for row in per_layer])),
            "per_layer": per_layer,
        }
    return out


@torch.no_grad()
def hidden_activations(model: nn.Module, X: torch.Tensor, layer: int = -1) -> np.ndarray:
    """Post-activation values of hidden layer ``layer`` (eval mode), flattened."""
    return _hidden_outputs(model, X)[layer].flatten().numpy()


# ----------------------------------------------------------------------------------------- inference


def _set_dropout_train(model: nn.Module, active: bool) -> None:
    model.eval()
    for module in model.modules():
        if "Dropout" in type(module).__name__:
            module.train(active)


@torch.no_grad()
def mc_probabilities(model: nn.Module, X: torch.Tensor, k: int = 50, seed: int = 0) -> np.ndarray:
    """Softmax outputs of ``k`` forward passes with dropout ON (everything else in eval mode): (k, N, C)."""
    k = check_int("k", k, minimum=1)
    was_training = model.training
    _set_dropout_train(model, True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_int("seed", seed, minimum=0))
            probs = np.stack([torch.softmax(model(X), dim=1).numpy() for _ in range(k)])
    finally:
        model.train(was_training)
    return probs


@torch.no_grad()
def mc_vs_weight_scaling(model: nn.Module, X: torch.Tensor, y: torch.Tensor, ks=(1, 2, 5, 10, 20, 50, 100), seed=0):
    """For each k: agreement of MC-averaged predictions with weight scaling, and both accuracies."""
    ks = [check_int("ks", k, minimum=1) for k in ks]
    was_training = model.training
    model.eval()
    ws = torch.softmax(model(X), dim=1).numpy()
    model.train(was_training)
    probs = mc_probabilities(model, X, max(ks), seed)
    cum = np.cumsum(probs, axis=0)
    y = y.numpy()
    ws_pred = ws.argmax(1)
    rows = {"k": ks, "agreement": [], "mc_acc": [], "prob_gap": []}
    for k in ks:
        mean = cum[k - 1] / k
        rows["agreement"].append(float(np.mean(mean.argmax(1) == ws_pred)))
        rows["mc_acc"].append(float(np.mean(mean.argmax(1) == y)))
        rows["prob_gap"].append(float(np.mean(np.abs(mean - ws).sum(axis=1))))
    rows["ws_acc"] = float(np.mean(ws_pred == y))
    return rows


def predictive_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the MC-averaged prediction per input; ``probs`` has shape (k, N, C)."""
    mean = np.asarray(probs).mean(axis=0)
    return -(mean * np.log(np.clip(mean, 1e-12, None))).sum(axis=1)


def unlike_digits(kind: str, n: int = 359, seed: int = 0) -> torch.Tensor:
    """Inputs unlike the training digits: 'noise' (uniform pixels in [0, 1]) or 'inverted' (1 - digit)."""
    check_choice("kind", kind, ("noise", "inverted"))
    n = check_int("n", n, minimum=1)
    X_test = _digits().X_test
    if kind == "noise":
        return torch.from_numpy(_rng(seed).random((n, X_test.shape[1])).astype(np.float32))
    return torch.from_numpy(1.0 - X_test[:n])


def uncertainty_summary(model: nn.Module, k: int = 50, seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean predictive entropy and mean MC variance (of the predicted class) on test digits and unlike inputs."""
    inputs = {
        "test digits": _digits().tensors("test")[0],
        "inverted digits": unlike_digits("inverted"),
        "uniform noise": unlike_digits("noise", seed=seed),
    }
    out = {}
    for name, X in inputs.items():
        probs = mc_probabilities(model, X, k, seed)
        pred = probs.mean(0).argmax(1)
        var = probs.var(axis=0)[np.arange(len(pred)), pred]
        out[name] = {"entropy": float(predictive_entropy(probs).mean()), "variance": float(var.mean())}
    return out


# ----------------------------------------------------------------------------------------- placement

_ACTS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def placement_outputs(x: torch.Tensor, p: float = 0.5, activation: str = "relu", seed: int = 0):
    """``(act(dropout(x)), dropout(act(x)))`` with the *same* mask: identical for ReLU, not for sigmoid."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point torch.Tensor, e.g. torch.randn(4, 8).")
    p = check_probability("p", p)
    check_choice("activation", activation, _ACTS)
    act = _ACTS[activation]
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    mask = (torch.rand(x.shape, generator=gen) >= p).to(x.dtype) / (1 - p)
    return act(x * mask), act(x) * mask
