"""Figures of notebook 02 (Dropout). Each function returns a matplotlib Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..validation import check_float_array, check_int, check_probability
from . import COLORS, Panel, new_figure

__all__ = [
    "plot_dropout_diagram",
    "plot_kept_counts",
    "plot_mean_output",
    "plot_overfitting",
    "plot_sweeps",
    "plot_activation_hist",
    "plot_mc_vs_k",
    "plot_uncertainty",
    "draw_mask_on_digit",
    "plot_explorer",
    "ExplorerPanel",
]

PLAIN = COLORS["plain"]
DROP = COLORS["dropout"]


def plot_dropout_diagram(layer_sizes=(4, 6, 6, 3), p: float = 0.5, seed: int = 30) -> Figure:
    """Srivastava et al.'s Figure 1, redrawn: a standard net (left) and the same net with dropped units
    crossed out and their connections removed (right). Inputs and hidden units can be dropped; outputs never."""
    p = check_probability("p", p)
    sizes = [check_int("layer_sizes", n, minimum=1) for n in layer_sizes]
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    keep = [rng.random(n) >= (0.2 if i == 0 else p) for i, n in enumerate(sizes)]
    keep[-1][:] = True
    for k in keep:  # never drop a whole layer in the picture
        if not k.any():
            k[0] = True
    fig, axes = new_figure(ncols=2, width=8.0, height=3.4)
    top = max(sizes)
    pos = [[(i, (top - n) / 2 + j) for j in range(n)] for i, n in enumerate(sizes)]
    for ax, dropped, title in ((axes[0], False, "(a) standard network"), (axes[1], True, "(b) after applying dropout")):
        for i in range(len(sizes) - 1):
            for a, (x0, y0) in enumerate(pos[i]):
                for b, (x1, y1) in enumerate(pos[i + 1]):
                    if dropped and not (keep[i][a] and keep[i + 1][b]):
                        continue
                    ax.plot([x0, x1], [y0, y1], color="0.55", lw=0.7, zorder=1)
        for i, layer in enumerate(pos):
            for j, (x, y) in enumerate(layer):
                off = dropped and not keep[i][j]
                face = "white" if off else ("#c6dbef" if i in (0, len(sizes) - 1) else "#9ecae1")
                ax.scatter([x], [y], s=260, facecolor=face, edgecolor="0.6" if off else "0.1", lw=1.2, zorder=2)
                if off:
                    ax.plot([x - 0.12, x + 0.12], [y - 0.3, y + 0.3], color="#d62728", lw=2.2, zorder=3)
                    ax.plot([x - 0.12, x + 0.12], [y + 0.3, y - 0.3], color="#d62728", lw=2.2, zorder=3)
        ax.set_title(title)
        ax.set_xlim(-0.4, len(sizes) - 0.6)
        ax.set_ylim(-0.8, top - 0.2)
        ax.axis("off")
        labels = ["input"] + ["hidden"] * (len(sizes) - 2) + ["output"]
        for i, label in enumerate(labels):
            ax.text(i, -0.7, label, ha="center", va="bottom", fontsize=9)
    return fig


def plot_kept_counts(counts: np.ndarray, n_units: int, p: float, pmf: np.ndarray | None = None) -> Figure:
    """Histogram of how many of ``n_units`` survive each mask, with the Binomial(n, 1-p) pmf on top."""
    counts = np.asarray(counts)
    fig, ax = new_figure(width=6.0, height=3.2)
    bins = np.arange(n_units + 2) - 0.5
    ax.hist(counts, bins=bins, density=True, color=DROP, alpha=0.55, label=f"{len(counts)} random masks")
    if pmf is not None:
        ax.plot(np.arange(n_units + 1), pmf, "o-", color="black", ms=3, lw=1, label=f"Binomial({n_units}, {1 - p:g})")
    ax.axvline((1 - p) * n_units, color="#d62728", ls="--", lw=1.2, label=f"(1 - p) n = {(1 - p) * n_units:g}")
    ax.set_xlabel(f"units kept out of {n_units}")
    ax.set_ylabel("fraction of masks")
    ax.set_title(f"p = {p:g}: 'half the units' only on average")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_mean_output(x: np.ndarray, with_rescale: np.ndarray, without: np.ndarray, p: float) -> Figure:
    """Average dropout output vs the input, per unit: inverted dropout lies on y = x, no rescaling on (1-p) x."""
    x = check_float_array("x", x, ndim=1)
    fig, ax = new_figure(width=5.0, height=3.6)
    lim = [min(0.0, float(x.min())), float(x.max()) * 1.05]
    ax.plot(lim, lim, color="black", lw=1, label="y = x (what eval mode outputs)")
    ax.plot(lim, [(1 - p) * v for v in lim], color="0.5", lw=1, ls=":", label=f"y = (1 - p) x = {1 - p:g} x")
    ax.scatter(x, with_rescale, s=14, color=DROP, label="mean of x·m/(1-p) (inverted)", zorder=3)
    ax.scatter(x, without, s=14, color="#d62728", marker="s", label="mean of x·m (no rescaling)", zorder=3)
    ax.set_xlabel("input activation x")
    ax.set_ylabel("average output in training")
    ax.set_title(f"p = {p:g}, averaged over many masks")
    ax.legend(frameon=False, fontsize=8)
    return fig


def _band(ax, grid, p, n, metric, color, label, ls="-"):
    steps = np.array(grid.histories(p, n)[0].steps)
    values = np.array([getattr(h, metric) for h in grid.histories(p, n)])
    ax.plot(steps, values.mean(0), color=color, ls=ls, lw=1.6, label=label)
    if len(values) > 1:
        ax.fill_between(steps, values.min(0), values.max(0), color=color, alpha=0.15, lw=0)


def plot_overfitting(grid, n_train: int, p: float = 0.5) -> Figure:
    """Train (dashed) and validation (solid) loss and accuracy without (grey) and with dropout (blue);
    lines are means over seeds, bands span min..max."""
    fig, axes = new_figure(ncols=2, width=9.0, height=3.4)
    for q, color, name in ((0.0, PLAIN, "no dropout"), (p, DROP, f"dropout p={p:g}")):
        for metric, ls, part in (("train", "--", "train"), ("val", "-", "val")):
            _band(axes[0], grid, q, n_train, f"{metric}_loss", color, f"{name}, {part}", ls)
            _band(axes[1], grid, q, n_train, f"{metric}_acc", color, f"{name}, {part}", ls)
    axes[0].set_ylabel("cross-entropy loss")
    axes[0].set_yscale("log")
    axes[1].set_ylabel("accuracy")
    axes[1].set_ylim(0.6, 1.01)
    for ax in axes:
        ax.set_xlabel("step")
    axes[1].legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle(f"{n_train} training digits, mean of {len(grid.seeds)} seeds")
    return fig


def plot_sweeps(grid, metric: str = "val_acc") -> Figure:
    """Left: final ``metric`` vs p, one line per training-set size. Right: vs size, one line per p."""
    table = grid.table(metric)
    fig, axes = new_figure(ncols=2, width=9.0, height=3.4)
    shades = np.linspace(0.35, 1.0, max(len(grid.sizes), len(grid.p_values)))
    label = "validation accuracy" if metric == "val_acc" else "validation loss"
    for j, n in enumerate(grid.sizes):
        axes[0].plot(grid.p_values, table[:, j], "o-", color=(0.12, 0.47, 0.71, shades[j]), label=f"n = {n}")
    for i, p in enumerate(grid.p_values):
        color = PLAIN if p == 0 else (0.12, 0.47, 0.71, shades[i])
        axes[1].plot(grid.sizes, table[i], "o-", color=color, label=f"p = {p:g}")
    axes[0].set_xlabel("drop probability p (hidden layers)")
    axes[1].set_xlabel("training examples")
    axes[1].set_xscale("log")
    for ax in axes:
        ax.set_ylabel(label)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"final {label}, mean of {len(grid.seeds)} seeds")
    return fig


def plot_activation_hist(acts: dict[str, np.ndarray], threshold: float = 0.01) -> Figure:
    """Histograms of hidden activations (last hidden layer, validation set) per model."""
    fig, ax = new_figure(width=6.0, height=3.4)
    hi = max(float(np.percentile(a, 99.5)) for a in acts.values())
    bins = np.linspace(0, hi, 50)
    for (label, a), color in zip(acts.items(), (PLAIN, DROP), strict=False):
        near = float(np.mean(np.abs(a) < threshold))
        ax.hist(a, bins=bins, density=True, histtype="step", lw=1.8, color=color,
                label=f"{label}: mean {a.mean():.2f}, {100 * near:.0f}% below {threshold:g}")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("activation of a hidden ReLU unit")
    ax.set_ylabel("density (log)")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_mc_vs_k(rows: dict) -> Figure:
    """Monte-Carlo averaging over k masks vs weight scaling: agreement and accuracy as k grows."""
    fig, axes = new_figure(ncols=2, width=9.0, height=3.2)
    axes[0].plot(rows["k"], rows["agreement"], "o-", color=DROP)
    axes[0].set_ylabel("same prediction as weight scaling")
    axes[1].plot(rows["k"], rows["mc_acc"], "o-", color=DROP, label="MC average of k masks")
    axes[1].axhline(rows["ws_acc"], color="black", ls="--", lw=1, label="weight scaling (model.eval())")
    axes[1].set_ylabel("validation accuracy")
    axes[1].legend(frameon=False, fontsize=8, loc="lower right")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("k (number of masks averaged)")
    return fig


def plot_uncertainty(summary: dict[str, dict[str, float]]) -> Figure:
    """Bars of MC-dropout predictive entropy and variance per kind of input."""
    fig, axes = new_figure(ncols=2, width=8.0, height=3.0)
    names = list(summary)
    colors = [DROP, "#ff7f0e", "#d62728"][: len(names)]
    for ax, key, label in ((axes[0], "entropy", "predictive entropy (nats)"), (axes[1], "variance", "MC variance")):
        ax.bar(names, [summary[n][key] for n in names], color=colors)
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelsize=8)
    return fig


def draw_mask_on_digit(ax, image: np.ndarray, p: float, seed: int) -> np.ndarray:
    """Draw the inverted-dropout version of ``image`` (8x8) on ``ax``; dropped pixels get a red x.

    Returns the masked, rescaled image (kept pixels are multiplied by 1/(1-p))."""
    image = check_float_array("image", np.asarray(image, dtype=np.float64), ndim=2)
    p = check_probability("p", p)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    keep = rng.random(image.shape) >= p
    out = image * keep / (1 - p)
    ax.imshow(out, cmap="gray_r", vmin=0, vmax=max(float(out.max()), 1e-9))
    rows, cols = np.nonzero(~keep)
    ax.scatter(cols, rows, marker="x", s=16, color="#d62728", lw=1)
    ax.set_title(f"mask seed {seed}\nkept {keep.sum()}/{keep.size}, x{1 / (1 - p):.2f}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    return out


def _mean_line(ax, grid, p, n, metric, color, label, ls="-"):
    steps, values = grid.curve(p, n, metric)
    ax.plot(steps, values, color=color, ls=ls, lw=1.6, label=label)


def plot_explorer(grid, p: float, n_train: int, image: np.ndarray, mask_seed: int) -> Figure:
    """The explorer's picture: seed-averaged train (dashed) / val (solid) loss for (p, n) next to no
    dropout, with final accuracies in the title, and the dropout mask on a digit.

    Kept light (two panels, linear axes, no constrained layout): it must redraw in < 100 ms."""
    fig = Figure(figsize=(8.0, 3.0))
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.15, top=0.83, wspace=0.15)
    axes = fig.subplots(1, 2, width_ratios=[3, 1])
    runs = [(0.0, PLAIN, "p=0")] + ([(p, DROP, f"p={p:g}")] if p != 0 else [])
    for q, color, name in runs:
        _mean_line(axes[0], grid, q, n_train, "train_loss", color, f"{name} train", "--")
        _mean_line(axes[0], grid, q, n_train, "val_loss", color, f"{name} val", "-")
    axes[0].set_ylim(bottom=0)
    axes[0].set_ylabel("cross-entropy loss")
    axes[0].set_xlabel("step")
    axes[0].set_title(
        f"n = {n_train}, final val loss / acc: p=0 {grid.mean(0.0, n_train, 'val_loss'):.3f} / "
        f"{grid.mean(0.0, n_train, 'val_acc'):.3f}, p={p:g} {grid.mean(p, n_train, 'val_loss'):.3f} / "
        f"{grid.mean(p, n_train, 'val_acc'):.3f}",
        fontsize=9,
    )
    axes[0].legend(frameon=False, fontsize=8, loc="upper right")
    draw_mask_on_digit(axes[1], image, p, mask_seed)
    return fig


class ExplorerPanel(Panel):
    """:func:`plot_explorer` built once and updated in place (see :class:`course_utils.plots.Panel`):
    the same curves, title, legend and mask, without creating a figure and axes per control change."""

    max_backgrounds = 48  # one per (p, n) the grid holds: every curve's limits are kept

    def __init__(self, grid, image: np.ndarray) -> None:
        self.grid = grid
        self.image = check_float_array("image", np.asarray(image, dtype=np.float64), ndim=2)
        fig = Figure(figsize=(8.0, 3.0))
        super().__init__(fig)
        fig.subplots_adjust(left=0.08, right=0.99, bottom=0.15, top=0.83, wspace=0.15)
        self.ax_loss, self.ax_mask = fig.subplots(1, 2, width_ratios=[3, 1])
        self.lines = {}
        for key, color in (("plain", PLAIN), ("drop", DROP)):
            for metric, ls in (("train_loss", "--"), ("val_loss", "-")):
                (line,) = self.ax_loss.plot([], [], color=color, ls=ls, lw=1.6)
                self.lines[key, metric] = self.dynamic(line)
        self.ax_loss.set_ylabel("cross-entropy loss")
        self.ax_loss.set_xlabel("step")
        # Plain texts, not set_title: an axes title is re-positioned on every full draw.
        self.title = self.dynamic(self.ax_loss.text(0.5, 1.02, "", transform=self.ax_loss.transAxes,
                                                    ha="center", va="bottom", fontsize=9))
        self.legend = None
        self.mask_image = self.dynamic(self.ax_mask.imshow(np.zeros_like(self.image), cmap="gray_r", vmin=0, vmax=1))
        self.crosses = self.dynamic(self.ax_mask.scatter([], [], marker="x", s=16, color="#d62728", lw=1))
        self.mask_title = self.dynamic(self.ax_mask.text(0.5, 1.02, "", transform=self.ax_mask.transAxes,
                                                         ha="center", va="bottom", fontsize=9))
        self.ax_mask.set_xticks([])
        self.ax_mask.set_yticks([])
        self.ax_mask.grid(False)

    def update(self, p: float, n_train: int, mask_seed: int) -> Figure:
        grid, ax = self.grid, self.ax_loss
        runs = [("plain", 0.0, "p=0")] + ([("drop", p, f"p={p:g}")] if p != 0 else [])
        for line in self.lines.values():
            line.set_visible(False)
        handles, labels = [], []
        for key, q, name in runs:
            for metric, part in (("train_loss", "train"), ("val_loss", "val")):
                line = self.lines[key, metric]
                line.set_data(*grid.curve(q, n_train, metric))
                line.set_visible(True)
                handles.append(line)
                labels.append(f"{name} {part}")
        ax.relim(visible_only=True)
        ax.set_autoscale_on(True)
        ax.autoscale_view()
        ax.set_ylim(bottom=0)
        self.title.set_text(
            f"n = {n_train}, final val loss / acc: p=0 {grid.mean(0.0, n_train, 'val_loss'):.3f} / "
            f"{grid.mean(0.0, n_train, 'val_acc'):.3f}, p={p:g} {grid.mean(p, n_train, 'val_loss'):.3f} / "
            f"{grid.mean(p, n_train, 'val_acc'):.3f}"
        )
        legend = ax.legend(handles, labels, frameon=False, fontsize=8, loc="upper right")
        self.replace_dynamic(self.legend, legend)
        self.legend = legend
        # The mask: the same draw as draw_mask_on_digit.
        p = check_probability("p", p)
        rng = np.random.default_rng(check_int("seed", mask_seed, minimum=0))
        keep = rng.random(self.image.shape) >= p
        out = self.image * keep / (1 - p)
        self.mask_image.set_data(out)
        self.mask_image.set_clim(0, max(float(out.max()), 1e-9))
        rows, cols = np.nonzero(~keep)
        self.crosses.set_offsets(np.column_stack([cols, rows]) if len(rows) else np.empty((0, 2)))
        self.mask_title.set_text(f"mask seed {mask_seed}\nkept {keep.sum()}/{keep.size}, x{1 / (1 - p):.2f}")
        return self.figure
