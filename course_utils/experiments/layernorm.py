"""Experiments behind notebook 04 (Layer Normalization and the family): per-sample statistics, the axes
of BN / LN / IN / GN, Ba et al.'s invariance table, batch-size independence, sequences with padding,
and Post-LN vs Pre-LN Transformers.

Every function returns plain numbers/arrays so the notebook can print them rounded and assert them.
Training runs are cached (``functools.lru_cache``), so the notebook and its explorers share them.
Comparisons run every method with the same seeds (same initialization of the shared layers, same data
order), the pairing :mod:`course_utils.paired` needs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import nn as cnn
from .. import norms
from .. import train as train_module
from ..env import experiment_seeds, manual_seed, numpy_rng, torch_generator
from ..models import make_mlp
from ..run_cache import persistent
from ..train import evaluate, train, train_steps
from ..validation import check_choice, check_int, check_number, check_positive
from .batchnorm import MaskedBatchNorm1d
from .runner import cached_runs, standardized_digits

__all__ = [
    "PAPER_TABLE1",
    "TRANSFORMS",
    "WU_HE",
    "METHODS",
    "BATCH_SIZES",
    "NORMS",
    "SEEDS",
    "FEW_SEEDS",
    "layernorm_parity",
    "batch_composition_effect",
    "stat_groups",
    "normalize_by_groups",
    "axes_parity",
    "channels_last_vs_paper_layernorm",
    "invariance_table",
    "BatchSizeSweep",
    "batch_size_sweep",
    "recalibrate_batchnorm",
    "two_sample_batchnorm",
    "make_sequences",
    "SequenceNet",
    "padding_effect",
    "SequenceResults",
    "sequence_comparison",
    "TransformerBlock",
    "TinyTransformer",
    "grad_norms_at_init",
    "DepthGradNorms",
    "depth_grad_norms",
    "DEPTHS",
    "WarmupResults",
    "warmup_comparison",
]

SEEDS = experiment_seeds(5)  # the paired rule supports nothing with fewer than 5 seeds
FEW_SEEDS = experiment_seeds(3)  # for descriptive numbers that carry no paired claim

# Ba, Kiros & Hinton 2016, Table 1: invariant ("I") or not ("no") under each transformation.
TRANSFORMS = (
    "weight matrix re-scaling",
    "weight matrix re-centering",
    "weight vector re-scaling",
    "dataset re-scaling",
    "dataset re-centering",
    "single training case re-scaling",
)
PAPER_TABLE1 = {
    "weight matrix re-scaling": {"BatchNorm": True, "LayerNorm": True},
    "weight matrix re-centering": {"BatchNorm": False, "LayerNorm": True},
    "weight vector re-scaling": {"BatchNorm": True, "LayerNorm": False},
    "dataset re-scaling": {"BatchNorm": True, "LayerNorm": True},
    "dataset re-centering": {"BatchNorm": True, "LayerNorm": False},
    "single training case re-scaling": {"BatchNorm": False, "LayerNorm": True},
}

# Wu & He 2018, Fig. 1 / Table 2: ResNet-50 ImageNet validation error (%) vs images per GPU.
WU_HE = {
    "BatchNorm": {32: 23.6, 16: 23.7, 8: 24.8, 4: 27.3, 2: 34.7},
    "GroupNorm": {32: 24.1, 16: 24.2, 8: 24.0, 4: 24.2, 2: 24.1},
    "LayerNorm": {32: 25.3},
    "InstanceNorm": {32: 28.4},
}

METHODS = tuple(norms.axes_methods())  # ("batch", "layer", "instance", "group"), from the registry
"""The four normalizations of Wu & He's Fig. 2, by the axes their statistics are taken over."""


# ------------------------------------------------------------------------------ 1. per-sample statistics


def layernorm_parity(shape: tuple[int, ...] = (4, 3, 8), normalized_shape=(3, 8), seed: int = 0) -> dict[str, float]:
    """Largest differences between ``course_utils.nn.LayerNorm`` and ``torch.nn.LayerNorm``: outputs,
    input gradients and gamma/beta gradients, float64, random gamma/beta, input far from mean 0 / std 1."""
    gen = torch_generator(check_int("seed", seed, minimum=0))
    ours = cnn.LayerNorm(normalized_shape, dtype=torch.float64)
    theirs = nn.LayerNorm(normalized_shape, dtype=torch.float64)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5 + 1)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 3 + 5
    g = torch.randn(shape, generator=gen, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), theirs(xb)
    ya.backward(g)
    yb.backward(g)
    return {
        "output": (ya - yb).abs().max().item(),
        "grad input": (xa.grad - xb.grad).abs().max().item(),
        "grad weight": (ours.weight.grad - theirs.weight.grad).abs().max().item(),
        "grad bias": (ours.bias.grad - theirs.bias.grad).abs().max().item(),
    }


def batch_composition_effect(layer: nn.Module, n: int = 16, width: int = 8, seed: int = 0) -> dict[str, float]:
    """How much the output for the same sample changes with what else is in the batch.

    Returns the largest change of sample 0's output between: the full batch and a batch of one
    (``alone``), the full batch and a batch with other companions (``companions``), and train vs eval
    mode on the full batch (``train_vs_eval``). The layer's running statistics (if any) are restored.
    """
    gen = torch_generator(check_int("seed", seed, minimum=0))
    x = torch.randn(n, width, generator=gen) * 2 + 1
    others = torch.randn(n - 1, width, generator=gen) * 5 - 3
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    was_training = layer.training
    with torch.no_grad():
        layer.train()
        full = layer(x)[0]
        try:
            alone = (layer(x[:1])[0] - full).abs().max().item()
        except ValueError:  # BatchNorm refuses a batch of one in training mode
            alone = math.nan
        companions = (layer(torch.cat([x[:1], others]))[0] - full).abs().max().item()
        layer.eval()
        train_vs_eval = (layer(x)[0] - full).abs().max().item()
    layer.load_state_dict(state)
    layer.train(was_training)
    return {"alone": alone, "companions": companions, "train_vs_eval": train_vs_eval}


# ------------------------------------------------------------------------------------------- 2. the axes


def stat_groups(method: str, shape: tuple[int, int, int, int] = (2, 4, 2, 2), groups: int = 2) -> np.ndarray:
    """Label every entry of an (N, C, H, W) tensor with the index of the mean/variance it is normalized by.

    ``batch``: one statistic per channel (over N, H, W); ``layer``: one per sample (over C, H, W);
    ``instance``: one per sample and channel (over H, W); ``group``: one per sample and group of
    ``C // groups`` consecutive channels. Entries with equal labels share one mean and one variance.
    """
    check_choice("method", method, METHODS)
    if len(shape) != 4:
        raise ValueError(f"shape must be (N, C, H, W), got {shape!r}.")
    n, c, h, w = (check_int(f"shape[{i}]", s, minimum=1) for i, s in enumerate(shape))
    groups = check_int("groups", groups, minimum=1)
    if method == "group" and c % groups:
        raise ValueError(f"groups ({groups}) must divide the number of channels C={c}.")
    ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    if method == "batch":
        labels = ci
    elif method == "layer":
        labels = ni
    elif method == "instance":
        labels = ni * c + ci
    else:
        labels = ni * groups + ci // (c // groups)
    return np.broadcast_to(labels[:, :, None, None], (n, c, h, w)).copy()


def normalize_by_groups(x: np.ndarray, labels: np.ndarray, eps: float = 1e-5) -> tuple[np.ndarray, dict[int, tuple]]:
    """Normalize ``x`` so that entries sharing a label share one mean and one (biased) variance.

    Returns ``(x_hat, stats)`` with ``stats[label] = (mean, var, count)``. One function for the whole
    family: the methods differ only in the labels.
    """
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    if x.shape != labels.shape:
        raise ValueError(f"labels must have the shape of x {x.shape}, got {labels.shape}.")
    x_hat = np.empty_like(x)
    stats = {}
    for label in np.unique(labels):
        where = labels == label
        values = x[where]
        mean, var = values.mean(), values.var()
        x_hat[where] = (values - mean) / np.sqrt(var + eps)
        stats[int(label)] = (float(mean), float(var), int(values.size))
    return x_hat, stats


def axes_parity(shape: tuple[int, int, int, int] = (3, 4, 2, 3), groups: int = 2, seed: int = 0) -> dict[str, float]:
    """Largest difference between :func:`normalize_by_groups` with each method's labels and the layer
    that implements it (training mode, no affine): BatchNorm2d, LayerNorm((C, H, W)), InstanceNorm2d,
    GroupNorm (all from :mod:`course_utils.nn`)."""
    x = numpy_rng(check_int("seed", seed, minimum=0)).normal(2.0, 3.0, size=shape)
    c, h, w = shape[1:]
    layers = {method: entry.image_layer(c, h, w, groups) for method, entry in norms.axes_methods().items()}
    out = {}
    with torch.no_grad():
        for method, layer in layers.items():
            ours, _ = normalize_by_groups(x, stat_groups(method, shape, groups))
            out[method] = float(np.abs(layer(torch.from_numpy(x)).numpy() - ours).max())
    return out


def channels_last_vs_paper_layernorm(shape: tuple[int, int, int, int] = (2, 4, 3, 3), seed: int = 0) -> dict:
    """LayerNorm on an image two ways: the paper's ``LayerNorm((C, H, W))`` (one mean per sample) and
    ConvNeXt's channels-last ``LayerNorm(C)`` on ``x.permute(0, 2, 3, 1)`` (one mean per pixel).

    Returns both outputs (N, C, H, W) and the number of statistics each uses, plus the largest
    per-pixel channel mean of each output and their largest difference.
    """
    n, c, h, w = shape
    x = torch.from_numpy(numpy_rng(check_int("seed", seed, minimum=0)).normal(1.0, 2.0, size=shape))
    with torch.no_grad():
        paper = nn.LayerNorm((c, h, w), elementwise_affine=False, dtype=torch.float64)(x)
        channels_last = x.permute(0, 2, 3, 1)  # (N, H, W, C): C is now the trailing dimension
        pixel = nn.LayerNorm(c, elementwise_affine=False, dtype=torch.float64)(channels_last).permute(0, 3, 1, 2)
    return {
        "paper": paper.numpy(),
        "channels_last": pixel.numpy(),
        "paper_stats": n,
        "channels_last_stats": n * h * w,
        "paper_pixel_mean": float(paper.mean(dim=1).abs().max()),
        "channels_last_pixel_mean": float(pixel.mean(dim=1).abs().max()),
        "difference": float((paper - pixel).abs().max()),
    }


# ---------------------------------------------------------------------------------------- 3. invariances


def _transform(name: str, W: np.ndarray, X: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Apply one of Ba et al.'s transformations to the weights W (H x D) or the data X (N x D)."""
    if name == "weight matrix re-scaling":
        return 3.7 * W, X
    if name == "weight matrix re-centering":
        # Add the same vector to every row: every unit's input moves by the same amount per sample.
        return W + rng.normal(size=(1, W.shape[1])), X
    if name == "weight vector re-scaling":
        W = W.copy()
        W[1] *= 5.0  # one unit's incoming weights only
        return W, X
    if name == "dataset re-scaling":
        return W, 0.2 * X
    if name == "dataset re-centering":
        return W, X + rng.normal(size=(1, X.shape[1]))  # the same shift for every sample
    if name == "single training case re-scaling":
        X = X.copy()
        X[2] *= 4.0  # one sample only
        return W, X
    raise ValueError(f"name must be one of {TRANSFORMS}, got {name!r}.")


def _normalize(kind: str, a: np.ndarray) -> np.ndarray:
    # Tiny eps so that the exact invariances are not blurred by eps / var.
    axis = 0 if kind == "BatchNorm" else 1
    return (a - a.mean(axis=axis, keepdims=True)) / np.sqrt(a.var(axis=axis, keepdims=True) + 1e-12)


def invariance_table(seed: int = 0, n: int = 16, d: int = 10, h: int = 6, tol: float = 1e-8) -> dict[str, dict]:
    """Ba, Kiros & Hinton's Table 1 computed: is the normalized summed input ``norm(X W^T)`` of BatchNorm
    (statistics over the batch) and LayerNorm (over the units) unchanged by each transformation?

    Returns ``{transform: {"BatchNorm": bool, "LayerNorm": bool, "BatchNorm change": float, ...}}``
    where the change is the largest difference of the normalized outputs (a scalar gamma/beta does not
    change the answer). Linear layer without bias, as in the paper's analysis.
    """
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    # At least 3 samples and 2 units: the transformations rescale sample 2 and unit 1, and a variance over
    # one value is 0.
    n = check_int("n", n, minimum=3)
    d = check_int("d", d, minimum=1)
    h = check_int("h", h, minimum=2)
    tol = check_positive("tol", tol)
    X = rng.normal(1.0, 1.0, size=(n, d))
    W = rng.normal(0.0, 1.0, size=(h, d))
    table = {}
    for name in TRANSFORMS:
        W2, X2 = _transform(name, W, X, rng)
        row = {}
        for kind in ("BatchNorm", "LayerNorm"):
            change = float(np.abs(_normalize(kind, X @ W.T) - _normalize(kind, X2 @ W2.T)).max())
            row[kind] = change < tol
            row[f"{kind} change"] = change
        table[name] = row
    return table


# ------------------------------------------------------------------------------- 4. batch-size independence

BATCH_SIZES = (32, 2)  # Wu & He's two ends; 8 in between cost a sixth of the notebook's budget
NORMS = {"none": None, **{entry.label: key for key, entry in norms.mlp_norms().items()}}
SWEEP_HIDDEN = (64, 64)
SWEEP_EPOCHS = 1
SWEEP_LR_AT_32 = 0.1  # scaled linearly with the batch size (Goyal et al. 2017; Wu & He do the same)
SWEEP_GROUPS = 8


_digits = standardized_digits  # the shared digits split, standardized (cached)


@dataclass(frozen=True)
class BatchSizeSweep:
    """Test error (%) of each norm at each batch size and seed: ``errors[(norm, batch_size)]`` is a
    tuple with one value per seed in ``seeds``. ``recalibrated[batch_size]``: BatchNorm's test error per
    seed after its running statistics were recomputed over the whole training set."""

    norms: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    errors: dict
    recalibrated: dict

    def mean(self, norm: str, batch_size: int) -> float:
        return float(np.mean(self.errors[(norm, batch_size)]))

    def table(self) -> np.ndarray:
        """Mean test error, one row per norm, one column per batch size."""
        return np.array([[self.mean(n, b) for b in self.batch_sizes] for n in self.norms])


def _test_error(model: nn.Module) -> float:
    X, y = _digits().tensors("test")
    return 100.0 * (1.0 - evaluate(model, X, y)[1])


def recalibrate_batchnorm(model: nn.Module, X: torch.Tensor) -> None:
    """Replace every BatchNorm layer's running statistics by the exact mean and (unbiased) variance of its
    input over all of ``X``: :func:`course_utils.train.recalibrate_batchnorm` with all of ``X`` as one batch."""
    train_module.recalibrate_batchnorm(model, X, batch_size=len(X), drop_last=False)


def _sweep_run(key: tuple[str | None, int, int, int]) -> tuple[float, float]:
    """(test error, test error after recalibrating BatchNorm's statistics; nan without BatchNorm) of the run
    ``(norm, batch_size, seed, epochs)``. It draws only from generators its seed sets, so it is the same run in a
    worker process (the sweep trains on every core)."""
    norm, batch_size, seed, epochs = key
    split = _digits()
    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        model = make_mlp(split.n_features, list(SWEEP_HIDDEN), split.n_classes, norm=norm, groups=SWEEP_GROUPS,
                         seed=seed)
    steps = max(1, epochs * len(split.X_train) // batch_size)
    train(model, split, steps=steps, lr=SWEEP_LR_AT_32 * batch_size / 32, batch_size=batch_size, momentum=0.9,
          eval_every=10**9, seed=seed, progress=False)
    error = _test_error(model)
    if norm != "batch":
        return error, math.nan
    recalibrate_batchnorm(model, split.tensors("train")[0])
    return error, _test_error(model)


_SWEEP_RUNS: dict[tuple, tuple[float, float]] = {}
"""Every batch-size-sweep run trained in this kernel, by its key (norm, batch size, seed, epochs)."""


@functools.lru_cache(maxsize=4)
def _cached_sweep(norms: tuple[str, ...], batch_sizes: tuple[int, ...], seeds: tuple[int, ...], epochs: int):
    cells = [(name, b) for name in norms for b in batch_sizes]
    done = iter(cached_runs(_SWEEP_RUNS, _sweep_run, [(NORMS[name], b, s, epochs) for name, b in cells for s in seeds],
                            desc="batch-size sweep"))
    runs = {cell: [next(done) for _ in seeds] for cell in cells}
    errors = {key: tuple(r[0] for r in values) for key, values in runs.items()}
    recalibrated = {b: tuple(r[1] for r in runs[("BatchNorm", b)]) for b in batch_sizes if "BatchNorm" in norms}
    return BatchSizeSweep(norms, batch_sizes, seeds, errors, recalibrated)


def batch_size_sweep(
    norms: tuple[str, ...] = tuple(NORMS),
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
    seeds: tuple[int, ...] = SEEDS,
    epochs: int = SWEEP_EPOCHS,
) -> BatchSizeSweep:
    """Train the same 64-64-64-10 MLP on digits with each norm at each batch size and seed; cached.

    Every run sees the same number of examples (``epochs`` passes over the 1,079 training digits) with
    the learning rate scaled linearly with the batch size (0.1 at 32, SGD momentum 0.9); runs with the
    same seed share the initialization of the Linear layers and the order of the examples (paired).
    """
    for name in norms:
        check_choice("norms", name, NORMS)
    batch_sizes = tuple(check_int("batch_sizes", b, minimum=2) for b in batch_sizes)
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    return _cached_sweep(tuple(norms), batch_sizes, seeds, check_int("epochs", epochs, minimum=1))


def two_sample_batchnorm(width: int = 5, seed: int = 0, eps: float = 1e-10) -> np.ndarray:
    """BatchNorm's normalized output (no affine) for a random batch of two samples: with two values per
    feature, mean and variance leave only (a - b) / |a - b| = ±1. ``eps`` is tiny here so that it cannot
    pull a value towards 0 when a and b happen to be close (with torch's 1e-5, |a - b| = 0.2 gives 0.9995)."""
    x = torch.randn(2, check_int("width", width, minimum=1), generator=torch_generator(seed)) * 3 + 1
    with torch.no_grad():
        return nn.BatchNorm1d(width, affine=False, eps=check_number("eps", eps))(x).numpy()


# ------------------------------------------------------------------------------------------- 5. sequences

SEQ_MAX_LEN = 32
SEQ_SCALES = (1e-3, 1e3)  # per-sequence scale: six orders of magnitude, as raw sensor signals can have


def make_sequences(n: int, seed: int, min_len: int = 6, max_len: int = SEQ_MAX_LEN,
                   scales: tuple[float, float] = SEQ_SCALES) -> tuple[torch.Tensor, ...]:
    """A synthetic variable-length task: ``(x, mask, y)``.

    Each sequence has a random length in [min_len, max_len] and a random overall scale (log-uniform
    between ``scales``, by default 0.001 to 1000; ``(1, 1)`` for none), zero-padded to ``max_len``; x has
    shape (n, 1, max_len). ``min_len = max_len`` gives sequences without padding. The label says whether
    neighbouring values tend to have the same sign: ``mean(x_t * x_{t+1}) > 0`` over the valid part,
    which does not depend on the scale. Values are AR(1) with a random sign of the correlation.
    """
    n = check_int("n", n, minimum=1)
    max_len = check_int("max_len", max_len, minimum=2)
    min_len = check_int("min_len", min_len, minimum=2)
    if min_len > max_len:
        raise ValueError(f"min_len ({min_len}) must be <= max_len ({max_len}).")
    low, high = (check_number(f"scales[{i}]", v) for i, v in enumerate(scales))
    if not 0 < low <= high:
        raise ValueError(f"scales must be (low, high) with 0 < low <= high, got {scales!r}.")
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    lengths = rng.integers(min_len, max_len + 1, size=n)
    rho = rng.choice([-0.6, 0.6], size=n) * rng.uniform(0.3, 1.0, size=n)
    noise = rng.normal(size=(n, max_len))
    x = np.zeros((n, max_len))
    x[:, 0] = noise[:, 0]
    for t in range(1, max_len):
        x[:, t] = rho * x[:, t - 1] + math.sqrt(1 - 0.36) * noise[:, t]
    mask = np.arange(max_len)[None, :] < lengths[:, None]
    x = x * mask * np.exp(rng.uniform(math.log(low), math.log(high), size=(n, 1)))
    prods = (x[:, 1:] * x[:, :-1] * mask[:, 1:]).sum(1) / (lengths - 1)
    y = (prods > 0).astype(np.int64)
    return (torch.from_numpy(x[:, None, :]).float(), torch.from_numpy(mask).float(), torch.from_numpy(y))


class _ChannelsLastLayerNorm(nn.Module):
    """LayerNorm over the channels of each position of an (N, C, L) input (one mean per token)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class SequenceNet(nn.Module):
    """Conv1d(1→C, 5) → norm → ReLU → Conv1d(C→C, 5) → norm → ReLU → mean over valid positions → Linear.

    ``norm``: None, ``"batch"`` (BatchNorm1d over N and L, padded positions included, as a plain
    ``nn.BatchNorm1d`` does), ``"masked"`` (BatchNorm1d with statistics over the valid positions only:
    :class:`course_utils.experiments.batchnorm.MaskedBatchNorm1d`) or ``"layer"`` (LayerNorm over the C
    channels of each position).
    """

    def __init__(self, norm: str | None = None, channels: int = 16, seed: int = 0) -> None:
        super().__init__()
        check_choice("norm", norm, (None, "batch", "masked", "layer"))
        manual_seed(check_int("seed", seed, minimum=0))
        self.conv1 = nn.Conv1d(1, channels, 5, padding=2)
        self.conv2 = nn.Conv1d(channels, channels, 5, padding=2)
        self.head = nn.Linear(channels, 2)

        def make_norm() -> nn.Module:
            if norm == "batch":
                return nn.BatchNorm1d(channels)
            if norm == "masked":
                return MaskedBatchNorm1d(channels)
            if norm == "layer":
                return _ChannelsLastLayerNorm(channels)
            return nn.Identity()

        self.norm1, self.norm2 = make_norm(), make_norm()

    @staticmethod
    def _normalize(layer: nn.Module, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Only the masked BatchNorm needs to know which positions are padding.
        return layer(h, mask.bool()) if isinstance(layer, MaskedBatchNorm1d) else layer(h)

    def features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[:, None, :]
        h = F.relu(self._normalize(self.norm1, self.conv1(x), mask)) * m  # padded positions back to 0 after each block
        return F.relu(self._normalize(self.norm2, self.conv2(h), mask)) * m

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.features(x, mask)
        return self.head(h.sum(-1) / mask.sum(-1, keepdim=True))


def padding_effect(norm: str, seed: int = 0) -> float:
    """Largest change of one sequence's first-block activations (valid positions, training mode) when
    the same batch is padded to twice the length: 0 for LayerNorm, not 0 for BatchNorm."""
    x, mask, _ = make_sequences(8, seed)
    net = SequenceNet(norm, seed=seed)
    longer_x = F.pad(x, (0, SEQ_MAX_LEN))
    longer_mask = F.pad(mask, (0, SEQ_MAX_LEN))
    with torch.no_grad():
        a = F.relu(net.norm1(net.conv1(x)))[0, :, : int(mask[0].sum())]
        b = F.relu(net.norm1(net.conv1(longer_x)))[0, :, : int(mask[0].sum())]
    del longer_mask
    return float((a - b).abs().max())


SEQ_NORMS = {"none": None, "BatchNorm": "batch", "masked BatchNorm": "masked", "LayerNorm": "layer"}
# The three factors of the sequence task, switched on one at a time from "full length" (every sequence 32 long,
# scale 1): (shortest length, range of scales). Padding is the third factor: with varying lengths, plain
# BatchNorm takes the padded positions into its statistics and the masked BatchNorm does not.
SEQ_CONDITIONS = {
    "full length": (SEQ_MAX_LEN, (1.0, 1.0)),
    "varying lengths": (6, (1.0, 1.0)),
    "scales": (SEQ_MAX_LEN, SEQ_SCALES),
}
SEQ_SCALE_BINS = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)  # decades of a sequence's RMS, for accuracy by scale


def _is_padded(condition: str) -> bool:
    return SEQ_CONDITIONS[condition][0] < SEQ_MAX_LEN


@dataclass(frozen=True)
class SequenceResults:
    """``accuracy[(condition, norm)]``: test accuracy per seed; ``by_scale[(condition, norm)]``: mean
    over seeds of the accuracy per decade of the test sequences' RMS (``SEQ_SCALE_BINS``; nan where a
    decade holds no sequence)."""

    seeds: tuple[int, ...]
    steps: int
    accuracy: dict
    by_scale: dict


def _rms_decade(x: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Index of the decade (in ``SEQ_SCALE_BINS``) of each sequence's RMS over its valid positions."""
    rms = ((x[:, 0] ** 2).sum(-1) / mask.sum(-1)).sqrt().numpy()
    return np.clip(np.digitize(rms, SEQ_SCALE_BINS) - 1, 0, len(SEQ_SCALE_BINS) - 2)


def _train_sequence_net(norm: str | None, seed: int, data: tuple, steps: int, batch_size: int) -> SequenceNet:
    x, mask, y = data
    net = SequenceNet(norm, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch_generator(seed)

    def next_loss(step: int) -> torch.Tensor:
        idx = torch.randint(0, len(x), (batch_size,), generator=gen)
        return F.cross_entropy(net(x[idx], mask[idx]), y[idx])

    train_steps(net, opt, next_loss, steps, progress=False)
    return net.eval()


SequenceKey = tuple  # (condition, norm kind, seed, steps, batch_size)
_SEQUENCE_RUNS: dict[SequenceKey, tuple] = {}
"""Every sequence-model run trained in this kernel: (test accuracy, accuracy per RMS decade)."""


@functools.cache
def _sequence_data(condition: str) -> tuple[tuple, tuple, np.ndarray]:
    """A condition's 2,000 training sequences, its 1,000 test sequences and each test sequence's RMS decade
    (made once per kernel; worker processes forked after that inherit them)."""
    min_len, scales = SEQ_CONDITIONS[condition]
    data = make_sequences(2000, seed=100, min_len=min_len, scales=scales)
    xt, mt, yt = make_sequences(1000, seed=101, min_len=min_len, scales=scales)
    return data, (xt, mt, yt), _rms_decade(xt, mt)


def _sequence_run(key: SequenceKey) -> tuple[float, list[float]]:
    """One run of :func:`sequence_comparison`: (test accuracy, accuracy per decade of the test sequences' RMS).
    The network is built inside ``fork_rng`` and trained from a generator its seed sets: the same run in a
    worker process and in any order."""
    condition, norm, seed, steps, batch_size = key
    data, (xt, mt, yt), decade = _sequence_data(condition)
    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        net = _train_sequence_net(norm, seed, data, steps, batch_size)
    with torch.no_grad():
        right = (net(xt, mt).argmax(1) == yt).numpy()
    per_decade = [float(right[decade == k].mean()) if np.any(decade == k) else np.nan
                  for k in range(len(SEQ_SCALE_BINS) - 1)]
    return float(right.mean()), per_decade


@functools.lru_cache(maxsize=2)
def sequence_comparison(
    seeds: tuple[int, ...] = SEEDS,
    steps: int = 80,
    batch_size: int = 32,
    conditions: tuple[str, ...] = tuple(SEQ_CONDITIONS),
    norms: tuple[str, ...] = ("BatchNorm", "masked BatchNorm", "LayerNorm"),
) -> SequenceResults:
    """Train :class:`SequenceNet` with each norm (Adam 3e-3, ``steps`` batches of 2,000 training
    sequences) under each condition of ``SEQ_CONDITIONS`` and test on 1,000 new ones; the runs are
    independent, so they are trained on every core (and each is kept: ``cached_runs``).

    The conditions switch the task's difficulties on one at a time: varying lengths (6 to 32, zero-padded)
    and per-sequence scales (0.001 to 1000); the masked BatchNorm takes the padding out of the statistics,
    so it runs only where there is padding (without padding it is plain BatchNorm). All conditions draw
    the same underlying signals (same seeds), and runs with the same seed share the initialization and the
    batches (paired).
    """
    for name in conditions:
        check_choice("conditions", name, SEQ_CONDITIONS)
    for name in norms:
        check_choice("norms", name, SEQ_NORMS)
    steps = check_int("steps", steps, minimum=1)
    cells = [(condition, name) for condition in conditions for name in norms
             if not (SEQ_NORMS[name] == "masked" and not _is_padded(condition))]
    for condition in conditions:
        _sequence_data(condition)  # made here, before the workers fork, so they share it
    keys = [(condition, SEQ_NORMS[name], seed, steps, batch_size) for condition, name in cells for seed in seeds]
    done = iter(cached_runs(_SEQUENCE_RUNS, _sequence_run, keys, desc="sequence runs"))
    accuracy, by_scale = {}, {}
    for cell in cells:
        runs = [next(done) for _ in seeds]
        accuracy[cell] = tuple(acc for acc, _ in runs)
        # Every seed sees the same test set, so an empty decade is nan for all seeds (no nanmean needed).
        by_scale[cell] = np.array([per_decade for _, per_decade in runs], dtype=float).mean(axis=0)
    return SequenceResults(tuple(seeds), steps, accuracy, by_scale)


# ----------------------------------------------------------------------------------------- 6. Transformers

PLACEMENTS = ("post", "pre")
TF_VOCAB, TF_LEN, TF_WIDTH, TF_HEADS, TF_FF = 10, 8, 32, 2, 64


class TransformerBlock(nn.Module):
    """One Transformer encoder layer: self-attention and a ReLU feed-forward, each with a residual.

    Post-LN (Vaswani et al. 2017): ``x = LN(x + F(x))``. Pre-LN (tensor2tensor, Wang et al. 2019, GPT-2;
    analysed by Xiong et al. 2020): ``x = x + F(LN(x))``, so the residual path from input to output carries
    no normalization.
    """

    def __init__(self, placement: str, qk_norm: bool = False) -> None:
        super().__init__()
        self.pre = placement == "pre"
        self.ln1, self.ln2 = nn.LayerNorm(TF_WIDTH), nn.LayerNorm(TF_WIDTH)
        self.qkv = nn.Linear(TF_WIDTH, 3 * TF_WIDTH)
        self.proj = nn.Linear(TF_WIDTH, TF_WIDTH)
        self.ff1 = nn.Linear(TF_WIDTH, TF_FF)
        self.ff2 = nn.Linear(TF_FF, TF_WIDTH)
        # QK-norm (Henry et al. 2020; Dehghani et al. 2023): a LayerNorm on each head's queries and keys, so the
        # attention logits q.k / sqrt(d) stay bounded however large the weights grow. Created last and
        # initialized without random numbers, so a seed gives the same other weights with and without it.
        self.qk_norm = bool(qk_norm)
        if self.qk_norm:
            self.q_norm, self.k_norm = nn.LayerNorm(TF_WIDTH // TF_HEADS), nn.LayerNorm(TF_WIDTH // TF_HEADS)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, TF_HEADS, d // TF_HEADS).permute(2, 0, 3, 1, 4)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, t, d))

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff2(F.relu(self.ff1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre:
            x = x + self.attention(self.ln1(x))
            return x + self.feed_forward(self.ln2(x))
        x = self.ln1(x + self.attention(x))
        return self.ln2(x + self.feed_forward(x))


class TinyTransformer(nn.Module):
    """A tiny encoder-only Transformer that sorts a sequence of 8 digits (predicts the sorted digit at
    every position): width 32, 2 heads, feed-forward 64, ``depth`` layers, ``placement`` 'post' or 'pre'.
    Pre-LN adds the final LayerNorm before the output layer, as in Xiong et al. 2020. ``embed_std`` scales
    the token (N(0, 1) by default, torch's) and position embeddings at initialization; ``qk_norm`` adds a
    LayerNorm on every head's queries and keys."""

    def __init__(self, depth: int = 4, placement: str = "pre", seed: int = 0, embed_std: float = 1.0,
                 qk_norm: bool = False) -> None:
        super().__init__()
        check_choice("placement", placement, PLACEMENTS)
        depth = check_int("depth", depth, minimum=1)
        embed_std = check_number("embed_std", embed_std)
        if embed_std <= 0:
            raise ValueError(f"embed_std must be > 0 (1.0 = torch's N(0, 1) embeddings), got {embed_std}.")
        manual_seed(check_int("seed", seed, minimum=0))
        self.embed = nn.Embedding(TF_VOCAB, TF_WIDTH)
        # Positions at a tenth of the embeddings' scale, as with the default N(0, 1) embeddings.
        self.position = nn.Parameter(0.1 * torch.randn(TF_LEN, TF_WIDTH))
        if embed_std != 1.0:
            with torch.no_grad():
                self.embed.weight.mul_(embed_std)
                self.position.mul_(embed_std)
        self.blocks = nn.ModuleList([TransformerBlock(placement, qk_norm) for _ in range(depth)])
        self.final = nn.LayerNorm(TF_WIDTH) if placement == "pre" else nn.Identity()
        self.head = nn.Linear(TF_WIDTH, TF_VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        z = self.embed(tokens) + self.position
        for block in self.blocks:
            z = block(z)
        return self.head(self.final(z))


def sorting_batch(batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random digit sequences and their sorted versions (the targets)."""
    x = torch.randint(0, TF_VOCAB, (batch_size, TF_LEN), generator=generator)
    return x, x.sort(dim=-1).values


def _sort_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten())


def grad_norms_at_init(depth: int, placement: str, seed: int = 0, batch_size: int = 64,
                       embed_std: float = 1.0) -> np.ndarray:
    """Gradient norm of each layer's second feed-forward weight matrix at initialization (Xiong et al.
    2020, Fig. 3), one value per layer from input (index 0) to output."""
    model = TinyTransformer(depth, placement, seed, embed_std=embed_std)
    x, y = sorting_batch(batch_size, torch_generator(1000 + seed))
    _sort_loss(model, x, y).backward()
    return np.array([block.ff2.weight.grad.norm().item() for block in model.blocks])


@dataclass(frozen=True)
class DepthGradNorms:
    """``norms[(placement, depth)]``: array (seeds x layers) of gradient norms at initialization."""

    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    norms: dict
    embed_std: float = 1.0

    def mean(self, placement: str, depth: int) -> np.ndarray:
        return self.norms[(placement, depth)].mean(axis=0)

    def last(self, placement: str, depth: int) -> np.ndarray:
        """The last layer's gradient norm, one value per seed."""
        return self.norms[(placement, depth)][:, -1]


DEPTHS = (2, 4, 8, 16, 24)


@functools.lru_cache(maxsize=4)
@persistent
def depth_grad_norms(depths: tuple[int, ...] = DEPTHS, seeds: tuple[int, ...] = SEEDS,
                     embed_std: float = 1.0, placements: tuple[str, ...] = PLACEMENTS) -> DepthGradNorms:
    """Precompute :func:`grad_norms_at_init` for each placement, every depth and seed (a few seconds, spread
    over every core: the models do not depend on each other)."""
    depths = tuple(check_int("depths", d, minimum=1) for d in depths)
    for p in placements:
        check_choice("placements", p, PLACEMENTS)
    cells = [(p, d) for p in placements for d in depths]
    keys = [(d, p, s, float(embed_std)) for p, d in cells for s in seeds]
    done = iter(cached_runs(_GRAD_NORMS, _grad_norms_run, keys, desc="gradient norms at initialization"))
    norms = {cell: np.stack([next(done) for _ in seeds]) for cell in cells}
    return DepthGradNorms(depths, tuple(seeds), norms, float(embed_std))


GradNormsKey = tuple  # (depth, placement, seed, embed_std)
_GRAD_NORMS: dict[GradNormsKey, np.ndarray] = {}
"""Every :func:`grad_norms_at_init` result computed in this kernel by :func:`depth_grad_norms`."""


def _grad_norms_run(key: GradNormsKey) -> np.ndarray:
    """:func:`grad_norms_at_init` for one key, inside ``fork_rng`` (building the model seeds torch's global
    generator): the same numbers in a worker process, and the caller's generator kept."""
    depth, placement, seed, embed_std = key
    with torch.random.fork_rng(devices=[]):
        return grad_norms_at_init(depth, placement, seed, embed_std=embed_std)


@dataclass(frozen=True)
class WarmupResults:
    """``accuracy[(placement, warmup, lr)]``: per-seed token accuracy on 1,000 fresh sequences after
    training; ``losses[(placement, warmup, lr)]``: (seeds x steps) training losses."""

    seeds: tuple[int, ...]
    lrs: tuple[float, ...]
    steps: int
    warmup_steps: int
    depth: int
    accuracy: dict
    losses: dict
    qk_norm: bool = False

    def mean(self, placement: str, warmup: int, lr: float) -> float:
        return float(np.mean(self.accuracy[(placement, warmup, lr)]))


SorterKey = tuple  # (placement, warmup, seed, lr, steps, depth, batch_size, qk_norm)
_SORTER_RUNS: dict[SorterKey, tuple] = {}
"""Every sorting-Transformer run trained in this kernel: the learning-rate window, the warm-up comparison and
QK-norm share them."""


def _train_sorters(keys: list[SorterKey]) -> list[tuple]:
    """The runs ``keys`` name, in order; those not trained yet are trained on every core."""
    return cached_runs(_SORTER_RUNS, _sorter_run, [tuple(k) for k in keys], desc="Transformer runs")


def _sorter_run(key: SorterKey):
    """One training run of the sorting Transformer: (token accuracy on 1,000 fresh sequences, training losses).
    It draws only from generators its seed sets, so it is the same run in a worker process."""
    placement, warmup, seed, lr, steps, depth, batch_size, qk_norm = key
    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        model = TinyTransformer(depth, placement, seed, qk_norm=qk_norm)
    # betas=(0.9, 0.98) as in Vaswani et al. and Xiong et al.; fused: one kernel per step, same algorithm.
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), fused=True)
    gen = torch_generator(seed)

    def next_loss(step: int) -> torch.Tensor:
        return _sort_loss(model, *sorting_batch(batch_size, gen))

    def warm_up(step: int) -> float:  # linear warm-up, then constant
        return min(1.0, step / warmup) if warmup else 1.0

    losses = train_steps(model, opt, next_loss, steps, lr_schedule=warm_up, progress=False)
    x, y = sorting_batch(1000, torch_generator(999))
    with torch.no_grad():
        accuracy = float((model(x).argmax(-1) == y).float().mean())
    return accuracy, tuple(losses)


def warmup_comparison(
    seeds: tuple[int, ...] = SEEDS,
    lrs: tuple[float, ...] = (3e-2,),
    warmups: tuple[int, ...] = (0, 30),
    placements: tuple[str, ...] = PLACEMENTS,
    steps: int = 100,
    depth: int = 4,
    batch_size: int = 32,
    qk_norm: bool = False,
) -> WarmupResults:
    """Train the sorting Transformer with each placement, learning rate and warm-up length (0 = none;
    linear warm-up then constant) for every seed (Adam); each run is cached. ``qk_norm``: with QK-norm in
    every layer.

    Runs with the same seed share the initialization of every layer and the training batches.
    """
    for p in placements:
        check_choice("placements", p, PLACEMENTS)
    lrs = tuple(check_number("lrs", lr) for lr in lrs)
    warmups = tuple(check_int("warmups", w, minimum=0) for w in warmups)
    steps, depth = check_int("steps", steps, minimum=1), check_int("depth", depth, minimum=1)
    cells = [(placement, warmup, lr) for placement in placements for warmup in warmups for lr in lrs]
    done = iter(_train_sorters([(placement, warmup, s, lr, steps, depth, batch_size, bool(qk_norm))
                                for placement, warmup, lr in cells for s in seeds]))  # fmt: skip
    accuracy, losses = {}, {}
    for cell in cells:
        runs = [next(done) for _ in seeds]
        accuracy[cell] = tuple(r[0] for r in runs)
        losses[cell] = np.array([r[1] for r in runs])
    return WarmupResults(tuple(seeds), lrs, steps, max(warmups), depth, accuracy, losses, bool(qk_norm))
