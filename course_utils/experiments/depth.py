"""Signals through depth: how initialization and activation decide whether activations and
gradients keep their size, vanish, explode or saturate in a deep MLP (notebook 01).

``depth_statistics`` is the core: one forward + backward pass of a freshly initialized deep MLP on a
fixed Gaussian batch, summarised per layer. It is cached (``functools.lru_cache``), so the depth
explorer can redraw instantly when a control returns to a setting it has seen.

``train_deep`` trains a deep MLP on digits; ``train_deep_runs`` trains several at once on every core (the runs do
not depend on each other: :func:`course_utils.experiments.runner.cached_runs`), with the same results, bit for
bit, as one after the other.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from ..diagnostics import ActivationRecorder, LayerStats, weight_grad_norms
from ..env import torch_generator
from ..models import ACTIVATIONS, make_mlp
from ..train import History, train
from ..validation import check_choice, check_int, check_positive
from .runner import cached_runs
from .runner import standardized_digits as _digits

__all__ = [
    "INIT_SCHEMES", "DepthStats", "init_scheme", "depth_statistics", "std_decay_per_layer", "train_deep",
    "train_deep_runs", "activation_stats_callback", "drift_table",
]

# Named initialisations for the notebook and the explorer: (models.make_mlp init, gain, std).
# "too small"/"too large" are plain N(0, std^2) draws ignoring the fan-in: fine for 1 layer, wrong for 10.
INIT_SCHEMES: dict[str, tuple[str, float, float]] = {
    "too small (N(0, 0.01²))": ("normal", 1.0, 0.01),
    "too large (N(0, 0.2²))": ("normal", 1.0, 0.2),
    "xavier": ("xavier", 1.0, 0.01),
    "kaiming": ("kaiming", 1.0, 0.01),
}
SHORT_NAMES = {"small": "too small (N(0, 0.01²))", "large": "too large (N(0, 0.2²))"}


def init_scheme(name: str) -> tuple[str, float, float]:
    """``(init, gain, std)`` for ``make_mlp`` from a scheme name ('small', 'large', 'xavier', 'kaiming')."""
    name = SHORT_NAMES.get(name, name)
    check_choice("init", name, [*SHORT_NAMES, *INIT_SCHEMES])
    return INIT_SCHEMES[name]


@dataclass(frozen=True)
class DepthStats:
    """Per-layer statistics of one deep MLP at initialization (index 0 = first hidden layer).

    ``hist`` holds one normalised histogram per layer over the shared ``bin_edges`` (for drawing);
    ``weight_grad_norm`` has one entry per Linear layer, including the output layer.
    """

    config: tuple
    layers: tuple[LayerStats, ...]
    bin_edges: np.ndarray
    hist: np.ndarray
    weight_grad_norm: tuple[float, ...]

    @property
    def std(self) -> np.ndarray:
        return np.array([s.std for s in self.layers])

    @property
    def mean(self) -> np.ndarray:
        return np.array([s.mean for s in self.layers])

    @property
    def saturated(self) -> np.ndarray:
        """Saturated fraction per layer (NaN for ReLU)."""
        return np.array([np.nan if s.saturated is None else s.saturated for s in self.layers])

    @property
    def dead(self) -> np.ndarray:
        """Dead-unit fraction per layer (NaN for tanh/sigmoid)."""
        return np.array([np.nan if s.dead is None else s.dead for s in self.layers])

    @property
    def grad_norm(self) -> np.ndarray:
        """``||dL/d activation||`` per hidden layer."""
        return np.array([np.nan if s.grad_norm is None else s.grad_norm for s in self.layers])


def _check_config(depth, width, activation, init, gain, input_scale, n_samples, seed, bins):
    depth = check_int("depth", depth, minimum=1, maximum=50)
    width = check_int("width", width, minimum=1, maximum=4096)
    check_choice("activation", activation, [a for a in ACTIVATIONS if a != "identity"])
    init_scheme(init)
    gain = check_positive("gain", gain)
    input_scale = check_positive("input_scale", input_scale)
    n_samples = check_int("n_samples", n_samples, minimum=2)
    seed = check_int("seed", seed, minimum=0)
    bins = check_int("bins", bins, minimum=2, maximum=500)
    return depth, width, activation, init, gain, input_scale, n_samples, seed, bins


def depth_statistics(
    depth: int = 10,
    activation: str = "relu",
    init: str = "kaiming",
    gain: float = 1.0,
    input_scale: float = 1.0,
    *,
    width: int = 256,
    n_samples: int = 500,
    seed: int = 0,
    bins: int = 40,
) -> DepthStats:
    """Forward + backward pass of ``make_mlp(width, [width]*depth, 10)`` at initialization.

    Inputs are ``input_scale * N(0, 1)``; the loss is cross-entropy against random labels (at
    initialization any labels do: we only look at how big the gradients are). ``gain`` multiplies the
    weight std of the chosen ``init`` scheme (see :data:`INIT_SCHEMES`). Cached: same arguments, same
    object, no recomputation.
    """
    args = _check_config(depth, width, activation, init, gain, input_scale, n_samples, seed, bins)
    return _depth_statistics(*args)


@functools.lru_cache(maxsize=256)
def _depth_statistics(depth, width, activation, init, gain, input_scale, n_samples, seed, bins) -> DepthStats:
    scheme, base_gain, std = init_scheme(init)
    gen = torch_generator(seed)
    X = input_scale * torch.randn(n_samples, width, generator=gen)
    y = torch.randint(0, 10, (n_samples,), generator=gen)
    with torch.random.fork_rng(devices=[]):
        model = make_mlp(width, [width] * depth, 10, activation=activation, init=scheme,
                         gain=base_gain * gain, std=std, seed=seed)
        with ActivationRecorder(model, kinds=(activation,), keep=True) as rec:
            loss = torch.nn.functional.cross_entropy(model(X), y)
            loss.backward()
    layers = tuple(rec.stats())
    outs = [rec.outputs[name].numpy().ravel() for name, _k, _m in rec.layers]
    edges = _bin_edges(activation, outs, bins)
    hist = np.stack([_histogram(o, edges) for o in outs])
    config = (depth, width, activation, init, gain, input_scale)
    return DepthStats(config, layers, edges, hist, tuple(weight_grad_norms(model)))


def _histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fraction of ``values`` in each of the uniform bins ``edges`` (out-of-range values go to the end
    bins). Uses bincount: ~10x faster than np.histogram with explicit edges."""
    bins = len(edges) - 1
    idx = np.floor((values - edges[0]) * (bins / (edges[-1] - edges[0])))
    idx = np.clip(np.nan_to_num(idx, nan=0.0), 0, bins - 1).astype(np.intp)
    return np.bincount(idx, minlength=bins) / max(values.size, 1)


def _bin_edges(activation: str, outs: list[np.ndarray], bins: int) -> np.ndarray:
    """Shared bins for every layer: the activation's range for tanh/sigmoid; for ReLU, 0 to the
    largest 99.5th percentile over layers (so a shrinking signal visibly piles up at 0)."""
    if activation == "tanh":
        return np.linspace(-1.0, 1.0, bins + 1)
    if activation == "sigmoid":
        return np.linspace(0.0, 1.0, bins + 1)
    top = max(float(np.quantile(o[::7], 0.995)) for o in outs)  # a subsample is plenty for a bin range
    if not np.isfinite(top) or top <= 0:
        top = 1.0
    return np.linspace(0.0, top, bins + 1)


def std_decay_per_layer(stats: DepthStats) -> float:
    """Geometric-mean factor by which the activation std changes from one layer to the next
    (1 = preserved, 0.5 = halves every layer)."""
    if not hasattr(stats, "std"):
        raise TypeError(f"stats must be the DepthStats of a depth experiment, got {type(stats).__name__}.")
    std = np.asarray(stats.std, dtype=np.float64)
    if len(std) < 2:
        raise ValueError("need at least 2 layers to measure a per-layer factor (depth >= 2).")
    if np.any(std <= 0):
        return 0.0
    return float(np.exp(np.mean(np.diff(np.log(std)))))


def train_deep(
    init: str,
    activation: str = "relu",
    *,
    depth: int = 10,
    width: int = 64,
    steps: int = 300,
    lr: float = 0.05,
    gain: float = 1.0,
    seed: int = 0,
    callback=None,
) -> History:
    """Train a deep MLP on standardized digits with a named ``init`` scheme (short training comparison).

    ``callback`` goes to :func:`course_utils.train.train` (e.g. :func:`activation_stats_callback`). A run is kept
    per kernel (asked again, the same History); :func:`train_deep_runs` trains several at once on every core."""
    kwargs = dict(depth=depth, width=width, steps=steps, lr=lr, gain=gain)
    if callback is not None and getattr(callback, "spec", None) is None:  # any other callback: run it here
        with torch.random.fork_rng(devices=[]):
            return _train_deep(_deep_key(init, activation, seed=seed, record=None, **kwargs), callback)
    return train_deep_runs([init], activation, seeds=[seed], callbacks=None if callback is None else {init: callback},
                           **kwargs)[init, seed]


def train_deep_runs(
    inits: Iterable[str],
    activation: str = "relu",
    *,
    seeds: Iterable[int] = (0,),
    callbacks: Mapping[str, object] | None = None,
    depth: int = 10,
    width: int = 64,
    steps: int = 300,
    lr: float = 0.05,
    gain: float = 1.0,
) -> dict[tuple[str, int], History]:
    """``{(init, seed): train_deep(init, activation, seed=seed, ...)}`` for every init and seed, the runs not
    trained yet in this kernel trained on every core (they do not depend on each other).

    ``callbacks`` maps an init to an :func:`activation_stats_callback`: its runs fill that callback's records (in
    the order of ``seeds``), as if it had been passed to :func:`train_deep`."""
    inits, seeds, callbacks = list(inits), list(seeds), dict(callbacks or {})
    for init, callback in callbacks.items():
        if callback is not None and getattr(callback, "spec", None) is None:
            raise TypeError(f"callbacks[{init!r}] must be an activation_stats_callback (its records come back from the "
                            "worker processes); pass any other callback to train_deep, which runs it here.")
    keys = [
        _deep_key(init, activation, depth=depth, width=width, steps=steps, lr=lr, gain=gain, seed=seed,
                  record=getattr(callbacks.get(init), "spec", None))
        for init in inits for seed in seeds
    ]  # fmt: skip
    histories = {}
    for key, (history, records) in zip(keys, cached_runs(_DEEP_RUNS, _deep_run, keys, desc="deep MLP runs"),
                                       strict=True):
        init, seed = key[0], key[7]
        histories[init, seed] = history
        if records is not None:
            callbacks[init].records.extend(records)
    return histories


DeepKey = tuple  # (init, activation, depth, width, steps, lr, gain, seed, record): record = a callback's spec
_DEEP_RUNS: dict[DeepKey, tuple[History, list | None]] = {}
"""Every train_deep run of this kernel by its key: its History and the records of its activation-stats callback."""


def _deep_key(init, activation, *, depth, width, steps, lr, gain, seed, record) -> DeepKey:
    init_scheme(init)
    check_choice("activation", activation, [a for a in ACTIVATIONS if a != "identity"])
    return (init, activation, check_int("depth", depth, minimum=1, maximum=50), check_int("width", width, minimum=1),
            check_int("steps", steps, minimum=1), check_positive("lr", lr), check_positive("gain", gain),
            check_int("seed", seed, minimum=0), record)


def _deep_run(key: DeepKey) -> tuple[History, list | None]:
    """The History of the run ``key`` names, and its activation-stats records (None without). Its random numbers
    come only from generators seeded by the key (``make_mlp(seed=)`` seeds torch's global generator: inside
    ``fork_rng``, so the caller's generator is neither read nor moved): the same run in any process."""
    record = key[-1]
    callback = None if record is None else activation_stats_callback(*record)
    with torch.random.fork_rng(devices=[]):
        history = _train_deep(key, callback)
    return history, None if callback is None else callback.records


def _train_deep(key: DeepKey, callback) -> History:
    init, activation, depth, width, steps, lr, gain, seed, _record = key
    scheme, base_gain, std = init_scheme(init)
    split = _digits()
    model = make_mlp(split.n_features, [width] * depth, split.n_classes, activation=activation, init=scheme,
                     gain=base_gain * gain, std=std, seed=seed)
    if callback is not None:
        callback(0, model, None)  # the statistics at initialization, before the first step
    return train(model, split, steps=steps, lr=lr, batch_size=64, eval_every=25, seed=seed, callback=callback,
                 progress=False)


def activation_stats_callback(activation: str = "relu", n_examples: int = 256):
    """A ``callback`` for :func:`train_deep` recording, at initialization and after every evaluation, the
    mean and std of every ``activation`` layer's output on a fixed batch of ``n_examples`` validation digits.

    The records are in ``callback.records``: a list of ``(step, means, stds)``; :func:`drift_table` turns
    them into arrays. ``callback.spec`` is ``(activation, n_examples)``: a worker process builds the same
    callback from it (:func:`train_deep_runs`).
    """
    check_choice("activation", activation, [a for a in ACTIVATIONS if a != "identity"])
    n_examples = check_int("n_examples", n_examples, minimum=2)
    X = torch.from_numpy(_digits().X_val[:n_examples])

    @torch.no_grad()
    def callback(step, model, _history) -> None:
        with ActivationRecorder(model, kinds=(activation,)) as rec:
            model(X)
        stats = rec.stats()
        callback.records.append((int(step), [s.mean for s in stats], [s.std for s in stats]))

    callback.records = []
    callback.spec = (activation, n_examples)
    return callback


def drift_table(callback) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, means, stds)`` from an :func:`activation_stats_callback`: arrays of shape (checkpoints,)
    and (checkpoints, layers)."""
    records = getattr(callback, "records", None)
    if not records:
        raise ValueError("callback has no records: pass it to train_deep(..., callback=callback) first.")
    steps = np.array([r[0] for r in records])
    return steps, np.array([r[1] for r in records]), np.array([r[2] for r in records])
