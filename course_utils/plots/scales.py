"""Figures for notebook 01, part 1: inputs on different scales."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..data import Split, load_wine
from ..experiments.scales import SweepResult, feature_scales, loss_grid
from ..validation import check_float_array
from . import COLORS, OKABE_ITO, new_figure

__all__ = ["plot_feature_ranges", "plot_lr_sweeps", "plot_weight_changes", "plot_loss_surfaces"]


def _color(label: str) -> str | None:
    low = label.lower()
    for key in ("standardized", "raw"):
        if key in low:
            return COLORS[key]
    return None


def plot_feature_ranges(split: Split | None = None, standardized: Split | None = None) -> Figure:
    """Each wine feature's range (min to max, dot at the mean |x|) on a log axis: raw training features,
    and next to them the standardized ones if ``standardized`` is given. Default: ``load_wine()``."""
    split = load_wine() if split is None else split
    if not isinstance(split, Split):
        raise TypeError(f"split must be a course_utils.data.Split, got {type(split).__name__}.")
    panels = [("raw features", split)] + ([("standardized (train statistics)", standardized)] if standardized else [])
    fig, axes = new_figure(ncols=len(panels), width=4.6 * len(panels) + 1.2, height=4.0, sharey=True)
    axes = np.atleast_1d(axes)
    names = [n.replace("od280/od315_of_diluted_wines", "od280/od315") for n in split.feature_names]
    y = np.arange(len(names))
    for ax, (title, part) in zip(axes, panels, strict=True):
        s = feature_scales(part)
        raw = part is split
        color = COLORS["raw"] if raw else COLORS["standardized"]
        if raw:  # every wine feature is positive: a log axis shows the ranges directly
            ax.hlines(y, s["min"], s["max"], color=color, lw=4, alpha=0.5)
            ax.plot(s["mean_abs"], y, "o", color=color, ms=4)
            ax.set_xscale("log")
            ax.set_xlabel("feature value (log scale): min to max, dot = mean")
        else:
            ax.hlines(y, s["min"], s["max"], color=color, lw=4, alpha=0.5)
            ax.plot(np.zeros_like(y, dtype=float), y, "o", color=color, ms=4)
            ax.set_xlabel("standardized value: min to max, dot = 0 (mean)")
        ax.set_title(title)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    fig.suptitle("Wine features live on wildly different scales" if len(panels) == 1 else "Before and after")
    return fig


def plot_lr_sweeps(sweeps: Mapping[str, SweepResult], title: str | None = None) -> Figure:
    """Final training loss against learning rate for each sweep (log-log); filled markers are stable
    runs, the star is the largest stable learning rate, the dotted line the ignore-the-inputs baseline."""
    if not sweeps:
        raise ValueError("sweeps must map a label to a SweepResult (from lr_sweep).")
    fig, ax = new_figure(width=6.0, height=3.6)
    used: set = set()
    spare = iter([OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["reddish_purple"], OKABE_ITO["black"]])
    for label, sweep in sweeps.items():
        if not isinstance(sweep, SweepResult):
            raise TypeError(f"sweeps[{label!r}] must be a SweepResult, got {type(sweep).__name__}.")
        lrs = np.array(sweep.lrs)
        loss = np.array(sweep.final_loss, dtype=float)
        shown = np.where(np.isfinite(loss), loss, np.nan)
        # A loss of exactly 0 (float32 underflow of a separable problem) has no place on a log axis: draw it at a
        # floor below the smallest positive loss, as a downward triangle, so those runs (and their star) stay visible.
        zero = np.isfinite(loss) & (loss <= 0)
        if zero.any():
            positive = loss[np.isfinite(loss) & (loss > 0)]
            floor = (positive.min() if positive.size else 1.0) / 10
            shown = np.where(zero, floor, shown)
        color = _color(label)
        linestyle = "-"
        if color is None or color in used:  # two series never share a colour (and differ in line style too)
            color, linestyle = next(spare, "0.4"), "--"
        used.add(color)
        ax.plot(lrs, shown, linestyle, color=color, lw=1.2, label=label)
        ok = np.array(sweep.stable)
        ax.plot(lrs[ok], shown[ok], "o", color=color, ms=5)
        ax.plot(lrs[~ok], shown[~ok], "o", mfc="white", color=color, ms=5)
        if zero.any():
            ax.plot(lrs[zero], shown[zero], "v", color=color, ms=7,
                    label=f"{label}: loss exactly 0 (drawn at {floor:.0e})")
        if np.any(~np.isfinite(loss)):
            top = np.nanmax(shown) if np.any(np.isfinite(shown)) else 1.0
            ax.plot(lrs[~np.isfinite(loss)], np.full((~np.isfinite(loss)).sum(), top), "x", color=color, ms=7)
        best = sweep.largest_stable_lr
        if best is not None:
            ax.plot([best], [shown[list(lrs).index(best)]], "*", color=color, ms=14, mec="black")
    baseline = next(iter(sweeps.values())).baseline
    ax.axhline(baseline, color="black", ls=":", lw=1)
    ax.text(max(next(iter(sweeps.values())).lrs), baseline * 1.3, "ignore the inputs (baseline)", fontsize=8,
            ha="right", va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final training loss")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_title(title or "Learning-rate sweep (hollow = diverged or stalled, star = largest stable)", fontsize=9)
    return fig


def plot_weight_changes(
    changes: Mapping[str, np.ndarray], feature_names: Sequence[str], title: str | None = None
) -> Figure:
    """Per input feature, the mean |change| of its first-layer weights during training, one bar group
    per run (log axis): with raw inputs gradient descent moves the weights of large features fast and
    leaves those of small features almost where they started."""
    if not changes:
        raise ValueError("changes must map a label to an array with one value per feature.")
    names = [n.replace("od280/od315_of_diluted_wines", "od280/od315") for n in feature_names]
    fig, ax = new_figure(width=7.0, height=3.6)
    width = 0.8 / len(changes)
    x = np.arange(len(names))
    for i, (label, values) in enumerate(changes.items()):
        values = check_float_array(f"changes[{label!r}]", np.asarray(values, dtype=float), ndim=1)
        if len(values) != len(names):
            raise ValueError(f"changes[{label!r}] has {len(values)} values but there are {len(names)} features.")
        ax.bar(x + (i - (len(changes) - 1) / 2) * width, values, width, label=label, color=_color(label))
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("mean |weight change|")
    ax.set_xlabel("input feature")
    ax.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=len(changes))
    ax.set_title(title or "How far training moved each feature's first-layer weights", fontsize=10, pad=22)
    return fig


def plot_loss_surfaces(panels: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> Figure:
    """Contours of the squared-error loss over the two weights with a gradient-descent path on top.

    ``panels``: ``(title, X, y, path)`` tuples; ``path`` from ``gradient_descent_path``. Axes have equal
    aspect, so an elongated valley looks elongated.
    """
    if not panels:
        raise ValueError("panels must hold at least one (title, X, y, path) tuple.")
    fig, axes = new_figure(ncols=len(panels), width=4.2 * len(panels), height=4.0)
    axes = np.atleast_1d(axes)
    for ax, (title, X, y, path) in zip(axes, panels, strict=True):
        path = np.asarray(path, dtype=float)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"path must have shape (steps + 1, 2), got {path.shape}.")
        w_star = np.linalg.lstsq(X, y, rcond=None)[0]
        span = np.abs(path - w_star).max(axis=0).max() * 1.15
        w1 = np.linspace(w_star[0] - span, w_star[0] + span, 160)
        w2 = np.linspace(w_star[1] - span, w_star[1] + span, 160)
        Z = loss_grid(X, y, w1, w2)
        levels = np.quantile(Z, np.linspace(0.002, 0.9, 12) ** 2)
        ax.contour(w1, w2, Z, levels=np.unique(levels), colors="0.6", linewidths=0.8)
        color = _color(title) or "black"
        ax.plot(path[:, 0], path[:, 1], "-o", color=color, ms=2.5, lw=1.2)
        ax.plot(*w_star, "*", color="black", ms=10)
        ax.set_aspect("equal")
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_title(f"{title}: {len(path) - 1} steps", fontsize=10)
        ax.grid(False)
    return fig
