"""Figures of notebook 05 (Putting it all together). Each function returns a matplotlib Figure."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from . import COLORS, OKABE_ITO, new_figure, style_for

__all__ = ["plot_ablation", "plot_ablation_curves", "plot_variance_shift", "plot_lr_sweep"]

_METRIC_LABELS = {
    "val_acc": "final validation accuracy",
    "gap": "train - validation accuracy",
    "steps_to_target": "steps to the target accuracy",
}


# The grid's six configurations in six clearly different colour-blind-safe colours (the shared palette gives
# BatchNorm and BatchNorm+dropout two oranges that are hard to tell apart side by side).
_GRID_COLORS = {
    "none": OKABE_ITO["black"],
    "dropout": OKABE_ITO["blue"],
    "BN": OKABE_ITO["orange"],
    "LN": OKABE_ITO["reddish_purple"],
    "BN+dropout": OKABE_ITO["sky_blue"],
    "LN+dropout": OKABE_ITO["bluish_green"],
}


def _grid_style(name: str, index: int) -> dict:
    style = style_for(name, index)
    if name in _GRID_COLORS:
        style["color"] = _GRID_COLORS[name]
    return style


def _seed_points(ax, x: float, values: Sequence[float], color: str, marker: str, label: str | None) -> None:
    values = np.asarray(values, dtype=float)
    ax.plot([x, x], [values.min(), values.max()], color=color, lw=2, alpha=0.5)
    ax.scatter(np.full(len(values), x), values, s=14, color=color, alpha=0.6, zorder=3)
    ax.scatter([x], [values.mean()], s=60, color=color, marker=marker, edgecolor="black", lw=0.6, zorder=4, label=label)


def plot_ablation(grid, metrics: Sequence[str] = ("val_acc", "gap", "steps_to_target")) -> Figure:
    """One panel per metric: every configuration at every training-set size; small dots are seeds, the line
    spans min..max, the big marker is the mean. Sizes are side by side (open = small subset)."""
    for metric in metrics:
        if metric not in _METRIC_LABELS:
            raise ValueError(f"metrics must be among {list(_METRIC_LABELS)}, got {metric!r}.")
    fig, axes = new_figure(ncols=len(metrics), width=4.2 * len(metrics), height=3.8)
    axes = np.atleast_1d(axes)
    offsets = np.linspace(-0.18, 0.18, len(grid.sizes)) if len(grid.sizes) > 1 else [0.0]
    for ax, metric in zip(axes, metrics, strict=True):
        for i, name in enumerate(grid.names):
            style = _grid_style(name, i)
            for j, (n, dx) in enumerate(zip(grid.sizes, offsets, strict=True)):
                label = f"n = {n}" if (i == 0 and ax is axes[0]) else None
                values = grid.values(name, n, metric)
                _seed_points(ax, i + dx, values, style["color"], "o" if j == len(grid.sizes) - 1 else "s", None)
                if label:
                    ax.scatter([], [], color="0.4", marker="o" if j == len(grid.sizes) - 1 else "s", label=label)
        ax.set_xticks(range(len(grid.names)))
        ax.set_xticklabels(grid.names, rotation=35, ha="right", fontsize=8)
        ax.set_xlabel("configuration")
        ax.set_ylabel(_METRIC_LABELS[metric])
        if metric == "steps_to_target":
            ax.set_ylabel(f"steps to {grid.target:.0%} validation accuracy")
            ax.axhline(grid.steps, color="0.5", ls=":", lw=1)
            ax.text(len(grid.names) - 0.5, grid.steps, f"{grid.steps} = never reached", ha="right", va="bottom",
                    fontsize=7, color="0.35")
    axes[0].legend(frameon=False, fontsize=8, title="squares: small subset", title_fontsize=8)
    fig.suptitle(f"{len(grid.seeds)} paired seeds per configuration (dots), mean (large marker), min..max (line)")
    return fig


def plot_ablation_curves(grid, n_train: int, names: Sequence[str] | None = None, metric: str = "val_acc") -> Figure:
    """``metric`` over training steps at one training-set size: mean over seeds, band = min..max."""
    names = list(names or grid.names)
    fig, ax = new_figure(width=6.4, height=3.6)
    for i, name in enumerate(names):
        steps, values = grid.curves(name, n_train, metric)
        style = _grid_style(name, i)
        ax.plot(steps, values.mean(0), color=style["color"], linestyle=style["linestyle"], lw=1.6, label=name)
        ax.fill_between(steps, values.min(0), values.max(0), color=style["color"], alpha=0.15, lw=0)
    if metric == "val_acc":
        ax.axhline(grid.target, color="0.5", ls=":", lw=1, label=f"target {grid.target:.0%}")
        ax.set_ylim(max(0.0, ax.get_ylim()[0]), 1.0)
    ax.set_xlabel("step")
    ax.set_ylabel({"val_acc": "validation accuracy", "train_acc": "training accuracy"}.get(metric, metric))
    ax.set_title(f"{n_train} training digits: mean of {len(grid.seeds)} seeds, band = min..max", fontsize=10)
    ax.legend(frameon=False, fontsize=8, ncol=2, loc="lower right")
    return fig


def plot_variance_shift(
    width_result: Mapping, theory: Mapping[str, Sequence[float]], fixes: Mapping[str, Mapping[str, Sequence[float]]]
) -> Figure:
    """Left: inference variance / running_var at the BatchNorm after a Dropout vs layer width: trained digits
    MLPs (dots = seeds, line = mean), the formula and its torch simulation. Right: the ratio for dropout before
    BN and the two fixes (dots = seeds). The dashed line at 1 is "no shift"."""
    fig, axes = new_figure(ncols=2, width=10.0, height=3.8)
    widths = np.asarray(width_result["widths"], dtype=float)
    ratios = np.asarray(width_result["ratios"], dtype=float)
    color = COLORS["batchnorm+dropout"]
    for j in range(ratios.shape[1]):
        axes[0].scatter(widths, ratios[:, j], s=14, color=color, alpha=0.6, zorder=3)
    axes[0].plot(widths, ratios.mean(1), "o-", color=color, label=f"trained on digits ({ratios.shape[1]} seeds)")
    axes[0].plot(theory["d"], theory["formula"], "-", color="black", lw=1.2, label="formula (synthetic inputs)")
    axes[0].scatter(theory["d"], theory["simulated"], marker="x", color=COLORS["dropout"], zorder=4,
                    label="torch simulation of the formula")  # fmt: skip
    axes[0].axhline(1.0, color="0.4", ls="--", lw=1)
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("width of the layer feeding the BatchNorm")
    axes[0].set_ylabel("inference variance / running_var")
    axes[0].set_ylim(0, 1.1)
    axes[0].legend(frameon=False, fontsize=8, loc="lower right")
    names = list(fixes)
    palette = [COLORS["batchnorm+dropout"], COLORS["batchnorm"], COLORS["standardized"], OKABE_ITO["grey"]]
    for i, name in enumerate(names):
        values = np.asarray(fixes[name]["ratio"], dtype=float)
        axes[1].bar(i, values.mean(), color=palette[i % len(palette)], alpha=0.7)
        axes[1].scatter(np.full(len(values), i), values, s=14, color="black", zorder=3)
    axes[1].axhline(1.0, color="0.4", ls="--", lw=1)
    axes[1].set_xticks(range(len(names)))
    axes[1].set_xticklabels([textwrap.fill(n, 20) for n in names], fontsize=8)
    axes[1].set_ylabel("inference variance / running_var")
    axes[1].set_xlabel("placement (bars = mean, dots = seeds)")
    axes[1].set_ylim(0, 1.1)
    return fig


_SWEEP_COLORS = {
    "none": OKABE_ITO["black"],
    "none, standardized inputs": OKABE_ITO["blue"],
    "BN": OKABE_ITO["orange"],
    "BN, standardized inputs": OKABE_ITO["vermillion"],
}


def plot_lr_sweep(sweep) -> Figure:
    """Steps to the target vs learning rate, one line per arm (mean of the seeds; small dots = seeds); the dotted
    line is the step budget ("not reached"); dashed arms had standardized inputs."""
    fig, ax = new_figure(width=6.4, height=3.6)
    lrs = np.asarray(sweep.lrs, dtype=float)
    for i, arm in enumerate(sweep.arms):
        color = _SWEEP_COLORS.get(arm, style_for(arm, i)["color"])
        table = np.asarray(sweep.steps[arm], dtype=float)
        ls = "--" if "standardized" in arm else "-"
        ax.plot(lrs, table.mean(1), ls, marker="o", color=color, lw=1.6, label=arm)
        jitter = 1 + 0.04 * (i - (len(sweep.arms) - 1) / 2)
        for j in range(table.shape[1]):
            ax.scatter(lrs * jitter, table[:, j], s=8, color=color, alpha=0.5)
    ax.axhline(sweep.max_steps, color="0.5", ls=":", lw=1)
    ax.text(lrs[0], sweep.max_steps, f"{sweep.max_steps} = not reached (or diverged)", va="bottom", fontsize=7,
            color="0.35")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (SGD, momentum 0.9)")
    ax.set_ylabel("steps to 90% validation accuracy")
    ax.set_ylim(0, sweep.max_steps * 1.12)
    ax.set_title(f"evaluated after every step; mean of {len(sweep.seeds)} paired seeds (dots: seeds)", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return fig
