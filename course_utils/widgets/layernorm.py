"""The explorers of notebook 04: which entries share one mean/variance (the axes explorer), and the
Post-LN vs Pre-LN gradient norms at initialization for a chosen depth (precomputed)."""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from ..experiments import layernorm as exp
from ..plots.layernorm import METHOD_NAMES, GradNormPanel, StatGroupsPanel
from ..validation import check_choice, check_int
from . import BENCHMARKS, Explorer, ExplorerBenchmark, figure_to_png

__all__ = ["AXES_SHAPE", "example_tensor", "make_axes_draw", "build_axes_explorer", "make_depth_draw",
           "build_depth_explorer"]

AXES_SHAPE = (2, 4, 1, 3)
"""N=2 samples, C=4 channels, 3 positions: small enough to print every number."""


def example_tensor(seed: int = 0) -> np.ndarray:
    """The small (2, 4, 1, 3) tensor the axes explorer shows, rounded to one decimal so the printed
    values are exactly the ones normalized."""
    return np.round(np.random.default_rng(check_int("seed", seed, minimum=0)).normal(1.0, 2.0, AXES_SHAPE), 1)


def make_axes_draw(x: np.ndarray | None = None, *, prewarm: bool = False):
    """The draw function of the axes explorer: ``draw(method, groups) -> Figure``; ``groups`` only
    matters for GroupNorm. Every call updates the same :class:`StatGroupsPanel` in place (fast) and
    returns its figure; what it shows depends only on the arguments.

    ``prewarm=True`` renders every setting once (about 0.2 s), so that every text the explorer can show
    is already in the panel's pixel cache and no move has to render glyphs."""
    x = example_tensor() if x is None else np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must be an (N, C, H, W) array, got shape {x.shape}.")
    panel = StatGroupsPanel(x)

    def draw(method: str, groups: int):
        check_choice("method", method, exp.METHODS)
        labels = exp.stat_groups(method, x.shape, groups)
        _, stats = exp.normalize_by_groups(x, labels)
        n, c = x.shape[:2]
        extra = f" with {groups} groups of {c // groups} channels" if method == "group" else ""
        # The groups control always shows something: GroupNorm's count beside the chosen method's.
        note = (f"GroupNorm with {groups} group{'s' if groups > 1 else ''}: {n * groups} means/variances\n"
                f"(1 group = LayerNorm, {c} groups = InstanceNorm)")
        return panel.update(labels, stats, title=f"{METHOD_NAMES[method]}{extra}: same colour = same mean/var",
                            note=note)

    if prewarm:
        for method in exp.METHODS:
            for groups in _group_options(x.shape[1]):
                figure_to_png(draw(method, groups))
    return draw


def _group_options(channels: int) -> list[int]:
    return [g for g in range(1, channels + 1) if channels % g == 0]


def _default_groups(channels: int) -> int:
    """2 groups where 2 divides C; otherwise the smallest number that does (C itself for a prime C)."""
    return next((g for g in _group_options(channels) if g > 1), 1)


def build_axes_explorer(x: np.ndarray | None = None) -> Explorer:
    """Controls: the method (BN / LN / IN / GN) and the number of groups (divisors of C)."""
    draw = make_axes_draw(x, prewarm=True)
    c = (example_tensor() if x is None else np.asarray(x)).shape[1]
    controls = {
        "method": w.Dropdown(options=[(name, key) for key, name in METHOD_NAMES.items()], value="layer",
                             description="method"),
        "groups": w.SelectionSlider(options=_group_options(c), value=_default_groups(c),
                                    description="groups (GN)"),
    }
    return Explorer(controls=controls, draw=draw)


def make_depth_draw(grad_norms: exp.DepthGradNorms):
    """The draw function of the depth explorer: ``draw(depth) -> Figure``, updating one
    :class:`GradNormPanel` in place."""
    if not isinstance(grad_norms, exp.DepthGradNorms):
        raise TypeError(
            f"grad_norms must be a DepthGradNorms from depth_grad_norms(), got {type(grad_norms).__name__}."
        )
    return GradNormPanel(grad_norms).update


def build_depth_explorer(grad_norms: exp.DepthGradNorms | None = None) -> Explorer:
    """Control: the number of layers; the gradient norms are precomputed by :func:`depth_grad_norms`."""
    grad_norms = exp.depth_grad_norms() if grad_norms is None else grad_norms
    depths = list(grad_norms.depths)
    controls = {"depth": w.SelectionSlider(options=depths, value=depths[len(depths) // 2], description="layers")}
    return Explorer(controls=controls, draw=make_depth_draw(grad_norms))


if not any(b.name == "layernorm-axes" for b in BENCHMARKS):
    BENCHMARKS.append(ExplorerBenchmark(name="layernorm-axes", build=build_axes_explorer,
                                        changes=(("method", "group"), ("groups", 4), ("method", "batch"))))
    BENCHMARKS.append(ExplorerBenchmark(name="layernorm-depth", build=build_depth_explorer,
                                        changes=(("depth", 24), ("depth", 2))))
