"""Figures for notebook 00: what standardizing a feature does."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..validation import check_int, check_number, check_positive
from . import COLORS, Panel, new_figure


def sample_feature(mean: float, std: float, n: int = 500, seed: int = 0) -> np.ndarray:
    """``n`` draws of a feature with the given ``mean`` and ``std`` (fixed ``seed``)."""
    mean = check_number("mean", mean)
    std = check_positive("std", std)
    n = check_int("n", n, minimum=2)
    return np.random.default_rng(check_int("seed", seed, minimum=0)).normal(mean, std, size=n)


def standardize(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps)``: the core of every normalization layer in the course."""
    return (x - x.mean()) / np.sqrt(x.var() + eps)


def standardization_figure(mean: float = 50.0, std: float = 10.0, n: int = 500, seed: int = 0) -> Figure:
    """Histogram of a feature before and after standardization, with both means and stds."""
    x = sample_feature(mean, std, n, seed)
    z = standardize(x)
    fig, (ax_raw, ax_std) = new_figure(ncols=2, width=7.5, height=2.6, layout=None)
    fig.subplots_adjust(left=0.03, right=0.98, bottom=0.12, top=0.88, wspace=0.1)
    for ax, values, title, color in (
        (ax_raw, x, "raw feature", COLORS["raw"]),
        (ax_std, z, "standardized", COLORS["standardized"]),
    ):
        ax.hist(values, bins=30, color=color, alpha=0.8)
        mean_shown = round(float(values.mean()), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
        ax.set_title(f"{title}: mean {mean_shown:.2f}, std {values.std():.2f}", fontsize=9)
        ax.set_yticks([])
    ax_std.set_xlim(-4, 4)
    return fig


class StandardizationPanel(Panel):
    """:func:`standardization_figure` for the explorer: built once, updated in place (no new figure or
    axes per move; see :class:`course_utils.plots.Panel`). ``update(mean, std)`` returns the figure."""

    bins = 30

    def __init__(self, n: int = 500, seed: int = 0) -> None:
        self.n, self.seed = check_int("n", n, minimum=2), check_int("seed", seed, minimum=0)
        fig, self.axes = new_figure(ncols=2, width=7.5, height=2.6, layout=None)
        super().__init__(fig)
        fig.subplots_adjust(left=0.03, right=0.98, bottom=0.12, top=0.88, wspace=0.1)
        self.hists, self.titles = [], []
        for ax, color in zip(self.axes, (COLORS["raw"], COLORS["standardized"]), strict=True):
            edges = np.linspace(0.0, 1.0, self.bins + 1)
            self.hists.append(self.dynamic(ax.stairs(np.zeros(self.bins), edges, fill=True, color=color, alpha=0.8)))
            ax.set_yticks([])
            # A plain text, not ax.set_title: an axes title is re-positioned on every full draw.
            self.titles.append(self.dynamic(ax.text(0.5, 1.02, "", transform=ax.transAxes, ha="center",
                                                    va="bottom", fontsize=9)))
        self.axes[1].set_xlim(-4, 4)

    def update(self, mean: float = 50.0, std: float = 10.0) -> Figure:
        x = sample_feature(mean, std, self.n, self.seed)
        top = 0.0
        names = ("raw feature", "standardized")
        for ax, hist, text, values, title in zip(self.axes, self.hists, self.titles, (x, standardize(x)), names,
                                                 strict=True):
            counts, edges = np.histogram(values, bins=self.bins)
            hist.set_data(counts, edges)
            top = max(top, float(counts.max()))
            mean_shown = round(float(values.mean()), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
            text.set_text(f"{title}: mean {mean_shown:.2f}, std {values.std():.2f}")
            if ax is self.axes[0]:  # the raw axis follows the data (matplotlib's usual 5% margins)
                margin = 0.05 * (edges[-1] - edges[0])
                ax.set_xlim(edges[0] - margin, edges[-1] + margin)
        for ax in self.axes:
            ax.set_ylim(0, 1.05 * top)
        return self.figure
