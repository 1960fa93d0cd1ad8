"""The registry of the course's normalization layers: one :class:`NormSpec` per layer.

Everything that lists normalization layers reads this table: ``make_mlp(norm=...)``
(:mod:`course_utils.models`), the plots' colours, line styles and markers (:mod:`course_utils.plots`), the
experiments' method lists, ``tools/bench.py`` and the parametrized tests (``tests/test_norm_registry.py``
gives every registered layer every generic test: parity with its reference, errors, style, numpy twin).

Adding a layer is one entry here, its class in :mod:`course_utils.nn` and its lesson text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from . import nn as cnn
from . import numpy_layers as nl

__all__ = ["NormSpec", "PlotStyle", "Case", "REGISTRY", "spec", "find", "mlp_norms", "axes_methods", "styles"]


@dataclass(frozen=True)
class PlotStyle:
    """How a method looks in every figure of the course (colour-blind-safe Okabe-Ito colours)."""

    color: str
    linestyle: str | tuple
    marker: str


@dataclass(frozen=True)
class Case:
    """Constructor arguments and an input shape that the layer and its reference both accept."""

    args: tuple
    shape: tuple[int, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self, cls: Callable[..., nn.Module], **extra) -> nn.Module:
        return cls(*self.args, **{**self.kwargs, **extra})


@dataclass(frozen=True)
class NormSpec:
    """One normalization layer of the course.

    Attributes:
        name: the class name in :mod:`course_utils.nn` (``"BatchNorm1d"``).
        key: the method's key in plots and tables (``"batchnorm"``); several layers may share one.
        label: the method's name in legends (``"BatchNorm"``).
        aliases: other spellings that mean the method (``"bn"``, ``"batch"``).
        reference: what the layer must match: a torch.nn class with the same constructor (or a function
            taking the same arguments); the parity tests compare against it.
        stat_axes: the axes its statistics run over, in words (Wu & He 2018, Fig. 2).
        case: a small case for the generic tests; ``bench``: the size ``tools/bench.py`` times.
        style: plot style of the method.
        mlp_norm: the value of ``make_mlp(norm=...)`` that builds this layer, or None.
        mlp_args: ``(width, groups) -> constructor args`` for ``make_mlp``.
        axes_method: the method's key in the axes-of-statistics experiment (notebook 04), or None.
        image_layer: ``(C, H, W, groups) -> layer`` normalizing an (N, C, H, W) float64 image batch without
            affine parameters, for that experiment.
        numpy_forward: ``(x, layer) -> out``: the numpy twin (:mod:`course_utils.numpy_layers`) run with the
            layer's parameters in training mode; ``numpy_backward`` names its backward.
    """

    name: str
    key: str
    label: str
    aliases: tuple[str, ...]
    reference: Callable[..., nn.Module] | None
    stat_axes: str
    case: Case
    bench: Case
    style: PlotStyle
    mlp_norm: str | None = None
    mlp_args: Callable[[int, int], tuple] | None = None
    axes_method: str | None = None
    image_layer: Callable[[int, int, int, int], nn.Module] | None = None
    numpy_forward: Callable[[np.ndarray, nn.Module], np.ndarray] | None = None
    numpy_backward: Callable | None = None

    @property
    def course_class(self) -> type[nn.Module]:
        return getattr(cnn, self.name)


def _params(layer: nn.Module, name: str, size: int) -> np.ndarray:
    value = getattr(layer, name, None)
    return np.ones(size) if value is None and name == "weight" else (
        np.zeros(size) if value is None else value.detach().double().numpy()
    )


def _numpy_batchnorm(x: np.ndarray, layer: nn.Module) -> np.ndarray:
    d = x.shape[1]
    gamma, beta = _params(layer, "weight", d), _params(layer, "bias", d)
    return nl.batchnorm_forward(x, gamma, beta, np.zeros(d), np.ones(d), training=True, eps=layer.eps)[0]


def _numpy_layernorm(x: np.ndarray, layer: nn.Module) -> np.ndarray:
    d = x.shape[-1]
    return nl.layernorm_forward(x, _params(layer, "weight", d), _params(layer, "bias", d), eps=layer.eps)[0]


def _numpy_groupnorm(x: np.ndarray, layer: nn.Module) -> np.ndarray:
    c = x.shape[1]
    gamma, beta = _params(layer, "weight", c), _params(layer, "bias", c)
    return nl.groupnorm_forward(x, gamma, beta, layer.num_groups, eps=layer.eps)[0]


def _numpy_rmsnorm(x: np.ndarray, layer: nn.Module) -> np.ndarray:
    eps = np.finfo(x.dtype).eps if layer.eps is None else layer.eps  # None: the dtype's eps, as in torch
    return nl.rmsnorm_forward(x, _params(layer, "weight", x.shape[-1]), eps=eps)[0]


_BN = PlotStyle("#E69F00", "-.", "^")  # orange
_IN = PlotStyle("#F0E442", "--", "X")  # yellow
_BN_AXES = "each channel over the batch (N) and its positions"
_IN_AXES = "each channel of each sample over its positions"
_F64 = {"affine": False, "dtype": torch.float64}

REGISTRY: tuple[NormSpec, ...] = (
    NormSpec(
        "BatchNorm1d", "batchnorm", "BatchNorm", ("bn", "batch"), nn.BatchNorm1d, _BN_AXES,
        case=Case((6,), (8, 6)), bench=Case((1024,), (512, 1024)), style=_BN,
        mlp_norm="batch", mlp_args=lambda width, groups: (width,),
        numpy_forward=_numpy_batchnorm, numpy_backward=nl.batchnorm_backward,
    ),
    NormSpec(
        "BatchNorm2d", "batchnorm", "BatchNorm", ("bn", "batch"), nn.BatchNorm2d, _BN_AXES,
        case=Case((3,), (4, 3, 5, 5)), bench=Case((64,), (64, 64, 16, 16)), style=_BN,
        axes_method="batch", image_layer=lambda c, h, w, groups: cnn.BatchNorm2d(c, **_F64),
    ),
    # Outside a distributed job (and in eval mode) SyncBatchNorm is an ordinary BatchNorm: torch's
    # BatchNorm1d is its reference on one process (torch's SyncBatchNorm refuses CPU tensors).
    NormSpec(
        "SyncBatchNorm", "batchnorm", "BatchNorm", ("bn", "batch"), nn.BatchNorm1d, _BN_AXES,
        case=Case((3,), (4, 3, 5)), bench=Case((1024,), (512, 1024)), style=_BN,
    ),
    NormSpec(
        "LayerNorm", "layernorm", "LayerNorm", ("ln", "layer"), nn.LayerNorm, "each sample over its features",
        case=Case((6,), (4, 6)), bench=Case((1024,), (512, 1024)), style=PlotStyle("#CC79A7", ":", "D"),
        mlp_norm="layer", mlp_args=lambda width, groups: (width,),
        axes_method="layer", image_layer=lambda c, h, w, groups: cnn.LayerNorm(
            (c, h, w), elementwise_affine=False, dtype=torch.float64
        ),
        numpy_forward=_numpy_layernorm, numpy_backward=nl.layernorm_backward,
    ),
    NormSpec(
        "InstanceNorm1d", "instancenorm", "InstanceNorm", ("in", "instance"), nn.InstanceNorm1d, _IN_AXES,
        case=Case((3,), (4, 3, 7), {"affine": True, "track_running_stats": True}),
        bench=Case((64,), (64, 64, 256)), style=_IN,
    ),
    NormSpec(
        "InstanceNorm2d", "instancenorm", "InstanceNorm", ("in", "instance"), nn.InstanceNorm2d, _IN_AXES,
        case=Case((3,), (2, 3, 5, 5)), bench=Case((64,), (64, 64, 16, 16)), style=_IN,
        axes_method="instance", image_layer=lambda c, h, w, groups: cnn.InstanceNorm2d(c, dtype=torch.float64),
    ),
    NormSpec(
        "GroupNorm", "groupnorm", "GroupNorm", ("gn", "group"), nn.GroupNorm,
        "each group of channels of each sample over the group's channels and positions",
        case=Case((2, 6), (4, 6, 3)), bench=Case((8, 64), (64, 64, 16, 16)),
        style=PlotStyle("#56B4E9", (0, (5, 1, 1, 1)), "v"),  # sky blue
        mlp_norm="group", mlp_args=lambda width, groups: (groups, width),
        axes_method="group", image_layer=lambda c, h, w, groups: cnn.GroupNorm(groups, c, **_F64),
        numpy_forward=_numpy_groupnorm, numpy_backward=nl.groupnorm_backward,
    ),
    NormSpec(
        "RMSNorm", "rmsnorm", "RMSNorm", ("rms",), nn.RMSNorm, "each sample over its features (no mean)",
        case=Case((6,), (4, 6)), bench=Case((1024,), (512, 1024)),
        style=PlotStyle("#009E73", (0, (3, 1, 1, 1, 1, 1)), "P"),  # bluish green
        mlp_norm="rms", mlp_args=lambda width, groups: (width,),
        numpy_forward=_numpy_rmsnorm, numpy_backward=nl.rmsnorm_backward,
    ),
)  # fmt: skip
"""Every normalization layer of :mod:`course_utils.nn`, in the order tables and legends list them."""


def spec(name: str) -> NormSpec:
    """The spec of a course class name (``"BatchNorm1d"``)."""
    for entry in REGISTRY:
        if entry.name == name:
            return entry
    raise KeyError(f"{name!r} is not a registered normalization layer; registered: {[s.name for s in REGISTRY]}.")


def find(name: str) -> NormSpec | None:
    """The first spec whose key, label or alias is ``name`` (any case, ignoring spaces, '-' and '_'), else None."""
    wanted = _key(name)
    for entry in REGISTRY:
        if wanted in {_key(entry.key), _key(entry.label), _key(entry.name), *map(_key, entry.aliases)}:
            return entry
    return None


def _key(name: str) -> str:
    return name.lower().replace(" ", "").replace("-", "").replace("_", "")


def mlp_norms() -> dict[str, NormSpec]:
    """``make_mlp``'s ``norm=`` values and their specs, in registry order."""
    return {entry.mlp_norm: entry for entry in REGISTRY if entry.mlp_norm is not None}


def axes_methods() -> dict[str, NormSpec]:
    """The methods of the axes-of-statistics experiment (Wu & He's Fig. 2) and their specs, in registry order."""
    return {entry.axes_method: entry for entry in REGISTRY if entry.axes_method is not None}


def styles() -> dict[str, tuple[PlotStyle, tuple[str, ...]]]:
    """Each method key's plot style and its aliases, in registry order (one entry per key)."""
    out: dict[str, tuple[PlotStyle, tuple[str, ...]]] = {}
    for entry in REGISTRY:
        out.setdefault(entry.key, (entry.style, entry.aliases))
    return out
