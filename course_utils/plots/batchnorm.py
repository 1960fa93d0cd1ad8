"""Figures of notebook 03 (Batch Normalization). Each function returns a matplotlib Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..validation import check_int
from . import COLORS, Panel, color_for, new_figure, style_for

__all__ = [
    "plot_bn_diagram",
    "plot_eval_batch",
    "plot_fig1",
    "plot_sweeps",
    "plot_small_batches",
    "plot_padding",
    "BatchStatsPanel",
]

BN = COLORS["batchnorm"]
PLAIN = COLORS["none"]


def plot_bn_diagram(n: int = 6, c: int = 5, highlight: int = 1) -> Figure:
    """Which axis BatchNorm normalizes: a batch as an N x C grid (examples x features). BatchNorm takes
    the mean and variance of each *column* (one feature over the batch); LayerNorm, for contrast, of
    each *row* (one example over its features)."""
    fig, axes = new_figure(ncols=2, width=8.0, height=3.6)
    for ax, kind in zip(axes, ("batch", "layer"), strict=True):
        for i in range(n):
            for j in range(c):
                on = (j == highlight) if kind == "batch" else (i == highlight)
                face = color_for(kind + "norm") if on else "white"
                ax.add_patch(Rectangle((j, n - 1 - i), 0.92, 0.92, facecolor=face, edgecolor="0.3", lw=1))
        if kind == "batch":
            ax.annotate("", xy=(highlight + 0.46, -0.35), xytext=(highlight + 0.46, n + 0.2),
                        arrowprops={"arrowstyle": "->", "lw": 1.8})  # fmt: skip
            ax.set_title("BatchNorm: each feature (column)\nnormalized over the batch (axis 0)", fontsize=10)
            ax.text(highlight + 0.46, -0.75, r"$\mu_j, \sigma_j^2$ over N examples", ha="center", fontsize=9)
        else:
            ax.annotate("", xy=(c + 0.2, n - 1 - highlight + 0.46), xytext=(-0.3, n - 1 - highlight + 0.46),
                        arrowprops={"arrowstyle": "->", "lw": 1.8})  # fmt: skip
            ax.set_title("LayerNorm (notebook 04): each example (row)\nnormalized over its features (axis 1)",
                         fontsize=10)  # fmt: skip
            ax.text(c / 2, -0.75, r"$\mu_i, \sigma_i^2$ over C features", ha="center", fontsize=9)
        ax.set_xlim(-0.6, c + 0.4)
        ax.set_ylim(-1.1, n + 0.4)
        ax.set_xticks([j + 0.46 for j in range(c)], [f"f{j + 1}" for j in range(c)])
        ax.set_yticks([i + 0.46 for i in range(n)], [f"x{n - i}" for i in range(n)])
        ax.set_xlabel("features C (axis 1)")
        ax.set_ylabel("examples N (axis 0)")
        ax.grid(False)
        ax.set_aspect("equal")
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
    return fig


def plot_eval_batch(acc: dict) -> Figure:
    """Accuracy vs the batch size used at prediction time, in train mode (the bug) and eval mode."""
    fig, ax = new_figure(width=5.6, height=3.2)
    ax.plot(acc["batch_size"], acc["train"], color=color_for("raw"), marker="o", label="train mode (forgot eval())")
    ax.plot(acc["batch_size"], acc["eval"], color=BN, marker="^", ls="-.", label="eval mode")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("examples per prediction batch")
    ax.set_ylabel("validation accuracy")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_fig1(runs: dict, eval_every: int = 25) -> Figure:
    """Ioffe & Szegedy Fig. 1 at our scale: (a) validation accuracy vs step, mean of seeds with a
    min..max band; (b, c) 15/50/85th percentiles of one last-hidden-layer sigmoid input, first seed."""
    fig, axes = new_figure(ncols=3, width=12.0, height=3.4)
    for key, label in (("none", "without BN"), ("batch", "with BN")):
        style = style_for(key)
        steps = np.array(runs[key][0].history.steps)
        accs = np.array([r.history.val_acc for r in runs[key]])
        axes[0].plot(steps, accs.mean(0), color=style["color"], ls=style["linestyle"], lw=1.6,
                     label=f"{label} (mean of {len(accs)} seeds)")  # fmt: skip
        axes[0].fill_between(steps, accs.min(0), accs.max(0), color=style["color"], alpha=0.2, lw=0)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("training step (log)")
    axes[0].set_ylabel("validation accuracy")
    axes[0].set_title("(a) accuracy", fontsize=10)
    axes[0].legend(frameon=False, fontsize=8)
    for ax, key, title in ((axes[1], "none", "(b) without BN"), (axes[2], "batch", "(c) with BN")):
        run = runs[key][0]
        title = f"{title}, seed {run.seed}"
        steps = np.array(run.history.steps)
        for k, (q, ls) in enumerate(zip((15, 50, 85), (":", "-", "--"), strict=True)):
            ax.plot(steps, run.percentiles[:, k], color=color_for(key), ls=ls, lw=1.5, label=f"{q}th percentile")
        ax.set_xlabel("training step")
        ax.set_ylabel("input to a last-layer sigmoid")
        ax.set_title(title, fontsize=10)
        ax.legend(frameon=False, fontsize=8)
    lo = min(ax.get_ylim()[0] for ax in axes[1:])
    hi = max(ax.get_ylim()[1] for ax in axes[1:])
    for ax in axes[1:]:
        ax.set_ylim(lo, hi)
    return fig


def plot_sweeps(lr_sweep: dict, std_sweep: dict) -> Figure:
    """Final validation accuracy vs learning rate and vs init std, without and with BN (mean of seeds,
    min..max as error bars)."""
    fig, axes = new_figure(ncols=2, width=9.0, height=3.2)
    for ax, sw, xlabel in ((axes[0], lr_sweep, "learning rate"), (axes[1], std_sweep, "init std of the weights")):
        for key, label in (("none", "without BN"), ("batch", "with BN")):
            vals = sw[key]
            mean = vals.mean(1)
            err = np.vstack([mean - vals.min(1), vals.max(1) - mean])
            style = style_for(key)
            ax.errorbar(sw["values"], mean, yerr=err, color=style["color"], ls=style["linestyle"],
                        marker=style["marker"], capsize=3, label=label)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation accuracy")
        ax.set_ylim(0, 1.02)
    axes[0].legend(frameon=False, fontsize=8)
    return fig


def plot_small_batches(errors: dict, paper: dict, paper_gn: dict | None = None, control: dict | None = None) -> Figure:
    """Left: our test error vs examples per batch (one dot per seed, line = mean), BN and, if given, the
    same network without normalization (``control``). Right: Wu & He's, vs images per GPU."""
    fig, axes = new_figure(ncols=2, width=9.0, height=3.2)
    sizes = sorted(errors, reverse=True)
    means = [errors[b].mean() for b in sizes]
    for b in sizes:
        axes[0].scatter([b] * len(errors[b]), errors[b], color=BN, alpha=0.6, s=14)
    axes[0].plot(sizes, means, color=BN, marker="^", ls="-.", label="BN, mean of seeds (dots: seeds)")
    if control:
        style = style_for("none")
        for b in sizes:
            axes[0].scatter([b] * len(control[b]), control[b], color=style["color"], alpha=0.6, s=14)
        axes[0].plot(sizes, [control[b].mean() for b in sizes], color=style["color"], ls=style["linestyle"],
                     marker=style["marker"], label="no normalization")  # fmt: skip
    axes[0].set_title("ours: digits MLP, one process", fontsize=10)
    axes[1].plot(sorted(paper, reverse=True), [paper[b] for b in sorted(paper, reverse=True)], color=BN,
                 marker="^", ls="-.", label="BN")  # fmt: skip
    if paper_gn:
        keys = sorted(paper_gn, reverse=True)
        axes[1].plot(keys, [paper_gn[b] for b in keys], **style_for("groupnorm"), label="GN")
    axes[1].set_title("Wu & He 2018: ResNet-50, ImageNet", fontsize=10)
    axes[0].set_xlabel("examples per batch")
    axes[1].set_xlabel("images per GPU")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.minorticks_off()
        ax.invert_xaxis()
        ax.set_ylabel("error (%)")
        ax.legend(frameon=False, fontsize=8)
    return fig


def plot_padding(rows: dict) -> Figure:
    """Left: the mean BatchNorm1d computes vs the mean of the valid values, as padding grows. Right: how
    far one sequence's normalized values move, plain vs masked BatchNorm."""
    fig, axes = new_figure(ncols=2, width=9.0, height=3.2)
    pf = rows["padding_fraction"]
    axes[0].plot(pf, rows["valid_mean"], color=color_for("standardized"), marker="s", ls="--",
                 label="mean of the real values")  # fmt: skip
    axes[0].plot(pf, rows["bn_mean"], color=BN, marker="^", ls="-.", label="mean BatchNorm1d uses")
    axes[0].set_xlabel("fraction of padding in the batch")
    axes[0].set_ylabel("per-channel batch mean")
    axes[0].legend(frameon=False, fontsize=8)
    axes[1].plot(rows["companion_length"], rows["plain_change"], color=BN, marker="^", ls="-.",
                 label="BatchNorm1d (padding counted)")  # fmt: skip
    axes[1].plot(rows["companion_length"], rows["masked_change"], color=color_for("standardized"), marker="s",
                 ls="--", label="masked BatchNorm (real values only)")  # fmt: skip
    axes[1].set_xlabel("length of the longest sequence in the batch")
    axes[1].set_ylabel("largest change of a short\nsequence's normalized values")
    axes[1].legend(frameon=False, fontsize=8)
    return fig


class BatchStatsPanel(Panel):
    """The batch-statistics explorer's figure, built once and updated in place. Left: batch mean and
    variance per step (dots) against the running estimates (lines) and the true values (dotted). Right:
    one batch normalized before/after moving example 0.

    Every axis limit is fixed (the steps, the 15 other examples, and y ranges that hold what the controls
    reach), so after the first render only the six data lines and the two titles are redrawn over the
    cached background (see :class:`course_utils.plots.Panel`)."""

    def __init__(self, steps: int, true_mean: float, true_var: float, others: int = 15) -> None:
        self.steps = check_int("steps", steps, minimum=1)
        self.others = check_int("others", others, minimum=1)
        super().__init__(Figure(figsize=(9.6, 2.8)))
        fig = self.figure
        fig.subplots_adjust(left=0.06, right=0.99, bottom=0.16, top=0.9, wspace=0.22)
        self.axes = fig.subplots(1, 2, width_ratios=[3, 2])
        ax = self.axes[0]
        # Each batch statistic in the colour of the running estimate that follows it, lighter.
        (self.batch_mean,) = ax.plot([], [], ".", ms=3, color=BN, alpha=0.45, label="batch mean")
        (self.batch_var,) = ax.plot([], [], "x", ms=3, color=COLORS["dropout"], alpha=0.45, label="batch var")
        (self.running_mean,) = ax.plot([], [], color=BN, lw=1.8, label="running mean")
        (self.running_var,) = ax.plot([], [], color=COLORS["dropout"], lw=1.8, ls="--", label="running var")
        self.true_lines = (ax.axhline(true_mean, color=PLAIN, ls=":", lw=1),
                           ax.axhline(true_var, color=PLAIN, ls=":", lw=1, label="true mean, var"))
        # The limits autoscaling gave the fresh figure of every setting: steps 1..N plus 5% margins.
        ax.set_xlim(1 - 0.05 * (self.steps - 1), self.steps + 0.05 * (self.steps - 1))
        ax.set_ylim(-1, 3 * true_var)
        ax.set_xlabel("training step")
        ax.set_ylabel("estimate")
        legend = ax.legend(frameon=False, fontsize=7, loc="upper right", ncol=2)
        # One-line titles and a single legend: every text artist costs redraw time. y=1 fixes the title's
        # position (matplotlib would move a title that is hidden while the background is drawn).
        ax.set_title(" ", fontsize=9, y=1.0)
        ax = self.axes[1]
        (self.before,) = ax.plot([], [], "o", color=PLAIN, ms=4)
        (self.after,) = ax.plot([], [], "^", color=BN, ms=5)
        ax.set_xlim(1 - 0.05 * (self.others - 1), self.others + 0.05 * (self.others - 1))
        ax.set_ylim(-4, 4)
        ax.set_xlabel(f"the other {self.others} examples of a batch")
        ax.set_ylabel("normalized value")
        ax.set_title(" ", fontsize=9, y=1.0)
        for ax in self.axes:
            # Few ticks: every tick is a Text artist, and they dominate a full redraw.
            ax.locator_params(nbins=4)
        # The true-value lines and the legend are drawn over the data, as on a fresh figure, so they
        # are redrawn with it (in matplotlib's order: lines, then the legend).
        for artist in (self.batch_mean, self.batch_var, self.running_mean, self.running_var, *self.true_lines,
                       legend, self.before, self.after, self.axes[0].title, self.axes[1].title):
            self.dynamic(artist)
        self.true_mean, self.true_var = true_mean, true_var

    def update(self, traces: dict, effect: dict, batch_size: int, momentum: float, outlier: float) -> Figure:
        """Show ``traces`` (from ``running_traces``) and ``effect`` (from ``outlier_effect``)."""
        n = len(traces["batch_mean"])
        if n != self.steps:
            raise ValueError(f"traces must hold {self.steps} steps for this panel, got {n}.")
        before, after = effect["before"][1:], effect["after"][1:]
        if len(before) != self.others:
            raise ValueError(f"effect must hold 1 + {self.others} examples for this panel, got {len(before) + 1}.")
        steps = np.arange(1, n + 1)
        self.batch_mean.set_data(steps, traces["batch_mean"])
        self.batch_var.set_data(steps, traces["batch_var"])
        self.running_mean.set_data(steps, traces["running_mean"])
        self.running_var.set_data(steps, traces["running_var"])
        end_mean, end_var = traces["running_mean"][-1], traces["running_var"][-1]
        self.axes[0].title.set_text(
            f"batch {batch_size}, momentum {momentum:g} (Keras {1 - momentum:g}): running mean {end_mean:.2f} "
            f"(true {self.true_mean:g}), var {end_var:.2f} (true {self.true_var:g})"
        )
        idx = np.arange(1, self.others + 1)
        self.before.set_data(idx, before)
        self.after.set_data(idx, after)
        self.axes[1].title.set_text(
            f"example 0 at {outlier:+g} std (^, vs o): others move {np.abs(after - before).max():.2f}"
        )
        return self.figure


