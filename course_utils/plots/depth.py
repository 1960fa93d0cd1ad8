"""Figures for notebook 01, part 2: signals through depth (per-layer histograms and statistics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..experiments.depth import DepthStats
from . import OKABE_ITO, Panel, new_figure, sequential_colors
from .ticks import LiveTicks

__all__ = [
    "INIT_COLORS", "plot_layer_histograms", "plot_layer_stats", "plot_drift", "DepthPanel", "draw_depth_panel",
]

# The course's colour-blind-safe palette (course_utils.plots.OKABE_ITO), one colour per init scheme.
INIT_COLORS = {"small": OKABE_ITO["sky_blue"], "large": OKABE_ITO["vermillion"],
               "xavier": OKABE_ITO["reddish_purple"], "kaiming": OKABE_ITO["bluish_green"]}
_FALLBACK = [OKABE_ITO[k] for k in ("blue", "orange", "black", "grey", "yellow")]


def _colors(labels: Sequence[str]) -> list[str]:
    out = []
    for i, label in enumerate(labels):
        low = label.lower()
        match = next((c for key, c in INIT_COLORS.items() if key in low), None)
        out.append(match or _FALLBACK[i % len(_FALLBACK)])
    return out


def _check_stats(stats_by_label: Mapping[str, DepthStats]) -> None:
    if not stats_by_label:
        raise ValueError("stats_by_label must map a label to a DepthStats (from depth_statistics).")
    for label, stats in stats_by_label.items():
        if not isinstance(stats, DepthStats):
            raise TypeError(f"stats_by_label[{label!r}] must be a DepthStats, got {type(stats).__name__}.")


def plot_layer_histograms(stats_by_label: Mapping[str, DepthStats], layers: Sequence[int] | None = None) -> Figure:
    """Small multiples: one row per configuration, one column per hidden layer (1-based numbers in
    ``layers``; default: 1, 3, 5, ... up to the last), each the histogram of that layer's activations
    with its std in the corner. Bars are on the configuration's shared bins; for ReLU the spike of exact
    zeros (about half the outputs) is clipped at the top so the rest of the distribution stays visible."""
    _check_stats(stats_by_label)
    depth = min(len(s.layers) for s in stats_by_label.values())
    layers = list(layers) if layers is not None else sorted({*range(1, depth + 1, 2), depth})
    bad = [n for n in layers if not isinstance(n, int) or not 1 <= n <= depth]
    if bad:
        raise ValueError(f"layers must be layer numbers between 1 and {depth}, got {bad}.")
    rows, cols = len(stats_by_label), len(layers)
    fig, axes = new_figure(ncols=cols, nrows=rows, width=1.35 * cols + 1.2, height=1.05 * rows + 0.6)
    axes = np.asarray(axes).reshape(rows, cols)
    for r, ((label, stats), color) in enumerate(zip(stats_by_label.items(), _colors(list(stats_by_label)),
                                                  strict=True)):
        edges = stats.bin_edges
        for c, n in enumerate(layers):
            ax = axes[r, c]
            counts = stats.hist[n - 1]
            ax.stairs(counts, edges, fill=True, color=color, alpha=0.8)
            if stats.config[2] == "relu" and counts[1:].max() > 0:
                # Half of a ReLU layer's outputs are exactly 0: clip that spike so the rest stays visible.
                ax.set_ylim(0, 1.3 * counts[1:].max())
            ax.set_yticks([])
            ax.grid(False)
            ax.tick_params(labelsize=7)
            ax.text(0.97, 0.95, f"std {stats.layers[n - 1].std:.2g}", transform=ax.transAxes, ha="right",
                    va="top", fontsize=7, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
            if r == 0:
                ax.set_title(f"layer {n}", fontsize=9)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    for ax in axes[-1]:
        ax.set_xlabel("activation value", fontsize=7)
    return fig


_STAT_LABELS = {
    "std": "activation std",
    "mean": "activation mean",
    "grad_norm": "||dL/d activation||",
    "weight_grad_norm": "||dL/dW||",
    "saturated": "saturated fraction",
    "dead": "dead-unit fraction",
}


def plot_layer_stats(
    stats_by_label: Mapping[str, DepthStats], what: Sequence[str] = ("std", "grad_norm"), title: str | None = None
) -> Figure:
    """Per-layer statistics against depth, one panel per entry of ``what`` (std, mean, grad_norm,
    weight_grad_norm on log axes; saturated, dead as fractions), one line per configuration."""
    _check_stats(stats_by_label)
    for item in what:
        if item not in _STAT_LABELS:
            raise ValueError(f"what must contain only {', '.join(map(repr, _STAT_LABELS))}; got {item!r}.")
    fig, axes = new_figure(ncols=len(what), width=3.4 * len(what) + 1.5, height=3.3)
    axes = np.atleast_1d(axes)
    for ax, item in zip(axes, what, strict=True):
        for (label, stats), color in zip(stats_by_label.items(), _colors(list(stats_by_label)), strict=True):
            values = np.asarray(stats.weight_grad_norm if item == "weight_grad_norm" else getattr(stats, item), float)
            x = np.arange(1, len(values) + 1)
            ax.plot(x, values, "-o", ms=3, color=color, label=label)
        if item in ("std", "grad_norm", "weight_grad_norm"):
            ax.set_yscale("log")
        elif item in ("saturated", "dead"):
            ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("layer" if item != "weight_grad_norm" else "Linear layer (last = output)")
        ax.set_ylabel(_STAT_LABELS[item])
    axes[-1].legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_drift(steps: np.ndarray, stds: np.ndarray, title: str | None = None) -> Figure:
    """Activation std of every layer against the training step (one line per layer, ordered colours from
    layer 1, light, to the last, dark), and the ratio final / initial std per layer."""
    steps = np.asarray(steps)
    stds = np.asarray(stds, dtype=float)
    if stds.ndim != 2 or len(steps) != len(stds):
        raise ValueError(f"stds must have shape (len(steps), layers), got {stds.shape} for {len(steps)} steps.")
    fig, axes = new_figure(ncols=2, width=9.0, height=3.3, width_ratios=[2, 1])
    layers = stds.shape[1]
    for i, color in enumerate(sequential_colors(layers)):
        axes[0].plot(steps, stds[:, i], color=color, lw=1.4, label=f"layer {i + 1}" if i in (0, layers - 1) else None)
    axes[0].set_xlabel("training step")
    axes[0].set_ylabel("activation std (fixed batch)")
    axes[0].legend(frameon=False, fontsize=8)
    ratio = stds[-1] / stds[0]
    axes[1].bar(np.arange(1, layers + 1), ratio, color=sequential_colors(layers))
    axes[1].axhline(1, color="black", lw=0.8)
    axes[1].set_xlabel("layer")
    axes[1].set_ylabel(f"std at step {steps[-1]} / at step {steps[0]}")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


class DepthPanel(Panel):
    """The depth explorer's figure, built once and updated in place so a redraw stays well under 100 ms:
    a heat map of every layer's activation histogram (rows = layers), log10 of the activation std and of
    the gradient norm per layer, and the saturated (tanh/sigmoid) or dead (ReLU) percentage per layer.

    For speed: the axes and artists are created once (creating axes is ~40% of a fresh draw), fixed
    layout, no grid, few ticks, titles as plain text, and plain axes showing log10 values (log-axis tick
    labels go through mathtext). The axes whose limits follow the setting draw their ticks as
    :class:`~course_utils.plots.ticks.LiveTicks`, so the cached background (see
    :class:`course_utils.plots.Panel`) serves every setting and a move redraws only data, ticks and titles.
    """

    def __init__(self, max_depth: int = 20) -> None:
        self.max_depth = max_depth
        super().__init__(Figure(figsize=(8.6, 2.6)))
        self.axes = self.figure.subplots(1, 3)
        self.figure.subplots_adjust(left=0.06, right=0.99, bottom=0.17, top=0.8, wspace=0.3)
        ax_h, ax_s, ax_f = self.axes
        self.image = ax_h.imshow(np.zeros((2, 2)), aspect="auto", origin="upper", cmap="Greys",
                                 interpolation="nearest", vmin=0.0, vmax=1.0)
        ax_h.set_xlabel("activation value")
        ax_h.set_ylabel("layer")
        self.zero_line = ax_s.axhline(0, color="black", lw=0.6)
        (self.std_line,) = ax_s.plot([], [], "-o", ms=3, color=OKABE_ITO["blue"], label="activation std")
        (self.grad_line,) = ax_s.plot([], [], "-s", ms=3, color=OKABE_ITO["vermillion"], label="||dL/d activation||")
        ax_s.set_xlabel("layer")
        # One PolyCollection of bars (width 0.8, like ax.bar): one draw call instead of a patch per layer.
        self.bars = PolyCollection([], facecolors=OKABE_ITO["grey"], edgecolors="none", linewidths=0)
        ax_f.add_collection(self.bars, autolim=False)
        ax_f.set_ylim(0, 100)
        ax_f.set_xlabel("layer")
        self.titles = []
        titles = ("histogram per layer (row-normalised)", "log10: std (blue), ||grad|| (orange-red)", "")
        for ax, title in zip(self.axes, titles, strict=True):
            ax.grid(False)
            self.titles.append(ax.text(0.5, 1.03, title, transform=ax.transAxes, ha="center", va="bottom",
                                       fontsize=9))
        # The limits follow the setting (depth, bins, decades), so these axes draw their ticks as LiveTicks
        # and the background never changes. min_n_ticks=1 on x: at depth 1 (limits 0.5..1.5) there is one
        # whole layer; with the default of 2 the locator fell back to 0.5 steps ("1.50" stuck out on the right).
        self.ticks = [
            LiveTicks(ax_h, "x", 4, min_n_ticks=1, steps=None, grid=False),
            LiveTicks(ax_h, "y", 3, integer=True, steps=None, grid=False, label_chars=2),
            LiveTicks(ax_s, "x", 4, integer=True, min_n_ticks=1, steps=None, grid=False),
            LiveTicks(ax_s, "y", 3, steps=None, grid=False),
            LiveTicks(ax_f, "x", 4, integer=True, min_n_ticks=1, steps=None, grid=False),
        ]
        ax_f.yaxis.set_major_locator(MaxNLocator(3))  # fixed limits (0-100 %): static ticks
        self.suptitle = self.figure.text(0.5, 0.98, "", ha="center", va="top", fontsize=10)
        for artist in (self.image, self.zero_line, self.std_line, self.grad_line, self.bars, self.titles[2],
                       self.suptitle, *(a for ticks in self.ticks for a in ticks.artists)):
            self.dynamic(artist)

    def static_key(self) -> tuple:
        # Only the fraction axes' y axis (0-100 %, fixed) draws its own ticks: one background for every setting.
        return (self.axes[2].get_ylim(),)

    def update(self, stats: DepthStats) -> Figure:
        if not isinstance(stats, DepthStats):
            raise TypeError(f"stats must be a DepthStats (from depth_statistics), got {type(stats).__name__}.")
        depth, _width, activation, init, gain, scale = stats.config
        if depth > self.max_depth:
            raise ValueError(f"depth must be <= {self.max_depth} for this panel, got {depth}.")
        ax_h, ax_s, ax_f = self.axes
        edges = stats.bin_edges
        hist = np.sqrt(stats.hist)
        # Each row scaled to its own peak; for ReLU the exact-zero bin is left out of the peak (half of
        # the values are exactly 0, which would wash out the rest).
        peak = hist[:, 1:].max(axis=1) if activation == "relu" else hist.max(axis=1)
        self.image.set_data(np.clip(hist / np.maximum(peak, 1e-12)[:, None], 0.0, 1.0))
        self.image.set_extent((edges[0], edges[-1], depth + 0.5, 0.5))
        ax_h.set_xlim(edges[0], edges[-1])
        ax_h.set_ylim(depth + 0.5, 0.5)
        layers = np.arange(1, depth + 1)
        with np.errstate(divide="ignore"):
            log_std = np.log10(np.maximum(stats.std, 1e-30))
            log_grad = np.log10(np.maximum(stats.grad_norm, 1e-30))
        self.std_line.set_data(layers, log_std)
        self.grad_line.set_data(layers, log_grad)
        both = np.concatenate([log_std, log_grad])
        lo, hi = float(min(both.min(), 0.0)), float(max(both.max(), 0.0))
        pad = 0.08 * (hi - lo) + 0.1
        ax_s.set_xlim(0.5, depth + 0.5)
        # Whole decades: nearby settings share limits and ticks, so the curves move on a steady scale.
        ax_s.set_ylim(np.floor(lo - pad), np.ceil(hi + pad))
        if activation == "relu":
            frac, name = stats.dead, "dead ReLU units (%)"
        else:
            frac, name = stats.saturated, f"saturated {activation} units (%)"
        self.bars.set_verts([[(i + 0.6, 0.0), (i + 0.6, h), (i + 1.4, h), (i + 1.4, 0.0)]
                             for i, h in enumerate(100 * np.nan_to_num(np.asarray(frac[:depth], float)))])
        ax_f.set_xlim(0.5, depth + 0.5)
        self.titles[2].set_text(name)
        self.suptitle.set_text(f"{depth} layers, {activation}, init {init} x gain {gain:g}, input scale {scale:g}")
        for ticks in self.ticks:
            ticks.update()
        return self.figure


def draw_depth_panel(stats: DepthStats) -> Figure:
    """The depth explorer's figure for ``stats`` on a fresh :class:`DepthPanel` (see there)."""
    if not isinstance(stats, DepthStats):
        raise TypeError(f"stats must be a DepthStats (from depth_statistics), got {type(stats).__name__}.")
    return DepthPanel(max_depth=max(20, len(stats.layers))).update(stats)
