"""Figures for the course, as functions: each returns a matplotlib Figure (PNG in notebooks).

Topic modules (``plots.scales``, ``plots.depth``, ``plots.dropout``, ...) hold the figures of one
notebook; this module holds what they share.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure

from ..train import History
from ..validation import check_choice

__all__ = ["COLORS", "new_figure", "plot_histories", "save_png"]

# One colour per method, used everywhere so "BatchNorm" is the same colour in every notebook.
COLORS = {
    "plain": "#7f7f7f",
    "raw": "#d62728",
    "standardized": "#2ca02c",
    "dropout": "#1f77b4",
    "batchnorm": "#ff7f0e",
    "layernorm": "#9467bd",
}

METRIC_LABELS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
    "step_loss": "minibatch loss",
}


def new_figure(
    ncols: int = 1,
    nrows: int = 1,
    width: float = 6.4,
    height: float = 3.6,
    layout: str | None = "constrained",
    **kwargs,
):
    """A figure and its axes, not attached to pyplot's global state (so nothing leaks between cells).

    Explorers pass ``layout=None`` (and place axes with ``fig.subplots_adjust``): the constrained
    layout engine costs ~40 ms per draw, a large share of a widget's 100 ms budget.
    """
    fig = Figure(figsize=(width, height), layout=layout)
    axes = fig.subplots(nrows, ncols, squeeze=True, **kwargs)
    return fig, axes


def plot_histories(
    histories: Mapping[str, History],
    metrics: tuple[str, ...] = ("train_loss", "val_loss"),
    colors: Mapping[str, str] | None = None,
    logy: bool = False,
    title: str | None = None,
) -> Figure:
    """Curves of one or more metrics for several runs: one panel per metric, one line per run."""
    if not histories:
        raise ValueError("histories must hold at least one History (a dict of label -> History).")
    for metric in metrics:
        check_choice("metrics", metric, METRIC_LABELS)
    fig, axes = new_figure(ncols=len(metrics), width=4.2 * len(metrics))
    axes = [axes] if len(metrics) == 1 else list(axes)
    for ax, metric in zip(axes, metrics, strict=True):
        for label, hist in histories.items():
            if not isinstance(hist, History):
                raise TypeError(f"histories[{label!r}] must be a History, got {type(hist).__name__}.")
            x = range(1, len(hist.step_loss) + 1) if metric == "step_loss" else hist.steps
            color = (colors or {}).get(label, COLORS.get(label.lower()))
            ax.plot(x, getattr(hist, metric), label=label, color=color, lw=1.5)
        ax.set_xlabel("step")
        ax.set_ylabel(METRIC_LABELS[metric])
        if logy:
            ax.set_yscale("log")
    axes[0].legend(frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def save_png(fig: Figure, path) -> None:
    """Save ``fig`` as a PNG with fixed metadata (so the same figure gives the same bytes)."""
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
