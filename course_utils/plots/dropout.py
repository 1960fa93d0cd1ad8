"""Figures of notebook 02 (Dropout). Each function returns a matplotlib Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from ..env import numpy_rng
from ..validation import check_float_array, check_int, check_probability
from . import COLORS, OKABE_ITO, Panel, new_figure, sequential_colors

__all__ = [
    "plot_dropout_diagram",
    "plot_kept_counts",
    "plot_mean_output",
    "plot_sweeps",
    "plot_activation_hist",
    "plot_mc_vs_k",
    "plot_long_runs",
    "plot_paired_sweep",
    "plot_uncertainty_scores",
    "plot_placement",
    "DropoutPanel",
]

PLAIN = COLORS["plain"]
DROP = COLORS["dropout"]
ACCENT = OKABE_ITO["vermillion"]
METRIC_NAMES = {"val_acc": "validation accuracy", "val_loss": "validation loss", "train_acc": "training accuracy",
                "train_loss": "training loss"}
INPUT_KINDS = {"test digits": OKABE_ITO["bluish_green"], "inverted digits": OKABE_ITO["orange"],
               "uniform noise": OKABE_ITO["vermillion"]}


def plot_dropout_diagram(layer_sizes=(4, 6, 6, 3), p: float = 0.5, seed: int = 30) -> Figure:
    """Srivastava et al.'s Figure 1, redrawn: a standard net (left) and the same net with dropped units
    crossed out and their connections removed (right). Inputs and hidden units can be dropped; outputs never."""
    p = check_probability("p", p)
    sizes = [check_int("layer_sizes", n, minimum=1) for n in layer_sizes]
    rng = numpy_rng(check_int("seed", seed, minimum=0))
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
                edge_layer = i in (0, len(sizes) - 1)  # inputs and outputs light grey, hidden units blue
                face = "white" if off else ("0.85" if edge_layer else OKABE_ITO["sky_blue"])
                ax.scatter([x], [y], s=260, facecolor=face, edgecolor="0.6" if off else "0.1", lw=1.2, zorder=2)
                if off:
                    ax.plot([x - 0.12, x + 0.12], [y - 0.3, y + 0.3], color=ACCENT, lw=2.2, zorder=3)
                    ax.plot([x - 0.12, x + 0.12], [y + 0.3, y - 0.3], color=ACCENT, lw=2.2, zorder=3)
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
    ax.axvline((1 - p) * n_units, color=ACCENT, ls="--", lw=1.2, label=f"(1 - p) n = {(1 - p) * n_units:g}")
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
    ax.scatter(x, without, s=14, color=ACCENT, marker="s", label="mean of x·m (no rescaling)", zorder=3)
    ax.set_xlabel("input activation x")
    ax.set_ylabel("average output in training")
    ax.set_title(f"p = {p:g}, averaged over many masks")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_sweeps(grid, metric: str = "val_acc") -> Figure:
    """Final ``metric`` against the drop probability p, one line per training-set size (ordered colours),
    with the range over seeds as error bars. Mean of the seeds; the y-axis is not zoomed in."""
    table = grid.table(metric)
    fig, ax = new_figure(width=6.0, height=3.6)
    label = METRIC_NAMES[metric]
    for j, (n, color) in enumerate(zip(grid.sizes, sequential_colors(len(grid.sizes)), strict=True)):
        values = np.array([[getattr(grid.runs[(p, n, s)].history, metric)[-1] for s in grid.seeds]
                           for p in grid.p_values])
        lo, hi = table[:, j] - values.min(1), values.max(1) - table[:, j]
        ax.errorbar(np.array(grid.p_values) + (j - 1) * 0.01, table[:, j], yerr=[lo, hi], fmt="o-", color=color,
                    capsize=3, ms=4, label=f"n = {n}")
    ax.set_xlabel("drop probability p (hidden layers)")
    ax.set_ylabel(label)
    if metric.endswith("acc"):
        ax.set_ylim(0.5, 1.0)
    ax.legend(frameon=False, fontsize=8, title="training examples", title_fontsize=8,
              loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(f"final {label}: mean of {len(grid.seeds)} seeds, bars = seed range", fontsize=9)
    return fig


def plot_activation_hist(acts: dict[str, np.ndarray]) -> Figure:
    """Histograms of hidden ReLU activations (validation set), one outline per model (log density)."""
    fig, ax = new_figure(width=6.0, height=3.4)
    hi = max(float(np.percentile(a, 99.5)) for a in acts.values())
    bins = np.linspace(0, hi, 50)
    for (label, a), color in zip(acts.items(), (PLAIN, DROP), strict=False):
        ax.hist(a, bins=bins, density=True, histtype="step", lw=1.8, color=color, label=label)
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


def plot_paired_sweep(grid, metric: str = "val_acc") -> Figure:
    """Per-seed gain of each p over p = 0 at each training-set size (paired seeds): one dot per seed,
    a line at 0. A gain carried by every seed sits entirely on one side of the line."""
    fig, axes = new_figure(ncols=len(grid.sizes), width=3.0 * len(grid.sizes) + 0.6, height=3.2, sharey=True)
    axes = np.atleast_1d(axes)
    higher = metric.endswith("acc")
    ps = [p for p in grid.p_values if p != 0]
    colors = sequential_colors(len(ps))
    for ax, n in zip(axes, grid.sizes, strict=True):
        base = np.array([getattr(grid.runs[(0.0, n, s)].history, metric)[-1] for s in grid.seeds])
        for i, (p, color) in enumerate(zip(ps, colors, strict=True)):
            vals = np.array([getattr(grid.runs[(p, n, s)].history, metric)[-1] for s in grid.seeds])
            gain = (vals - base) if higher else (base - vals)
            ax.plot(np.full(len(gain), i) + np.linspace(-0.12, 0.12, len(gain)), gain, "o", color=color, ms=5)
            ax.plot([i - 0.25, i + 0.25], [gain.mean()] * 2, color=color, lw=2)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(range(len(ps)), [f"p={p:g}" for p in ps])
        ax.set_xlabel(f"n = {n} training examples")
    what = "accuracy" if higher else "loss"
    axes[0].set_ylabel(f"gain over p = 0 in validation {what}\n(per seed; > 0 = dropout better)")
    fig.suptitle(f"Paired seeds: each dot is one seed, the bar their mean ({len(grid.seeds)} seeds)", fontsize=9)
    return fig


def plot_uncertainty_scores(scores: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Grouped bars: for each uncertainty score, its mean on each kind of input (colour), with the range
    over seeds as error bars. The legend sits outside the bars."""
    fig, ax = new_figure(width=8.0, height=3.4)
    names = list(scores)
    kinds = list(next(iter(scores.values())))
    width = 0.8 / len(kinds)
    x = np.arange(len(names))
    for i, kind in enumerate(kinds):
        values = np.array([scores[s][kind] for s in names])  # (scores, seeds)
        mean = values.mean(1)
        ax.bar(x + (i - (len(kinds) - 1) / 2) * width, mean, width, color=INPUT_KINDS.get(kind, DROP), label=kind,
               yerr=[mean - values.min(1), values.max(1) - mean], capsize=2)
    ax.set_xticks(x, [n.replace(" (", "\n(").replace("MC ", "MC\n") for n in names], fontsize=8)
    ax.set_ylabel("mean score (nats)")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title("Uncertainty scores per kind of input (bars = range over seeds)", fontsize=9)
    return fig


def plot_long_runs(runs: dict) -> Figure:
    """Section 3's paired long runs. Left: validation loss (solid) and training loss in eval mode (dashed)
    against step, mean over seeds with the seed range as a band. Right: final validation loss per seed,
    the two arms joined seed by seed."""
    fig, axes = new_figure(ncols=2, width=9.0, height=3.4, width_ratios=[2, 1])
    for (label, arm), color in zip(runs.items(), (PLAIN, DROP), strict=False):
        steps = np.array(arm[0].history.steps)
        for metric, ls, part in (("val_loss", "-", "validation"), ("train_loss", "--", "training (eval mode)")):
            values = np.array([getattr(r.history, metric) for r in arm])
            axes[0].plot(steps, values.mean(0), color=color, ls=ls, lw=1.6, label=f"{label}, {part}")
            axes[0].fill_between(steps, values.min(0), values.max(0), color=color, alpha=0.15, lw=0)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("cross-entropy loss (log)")
    axes[0].legend(frameon=False, fontsize=7, loc="lower left")
    labels = list(runs)
    finals = np.array([[r.history.final()["val_loss"] for r in runs[label]] for label in labels])
    for seed_values in finals.T:
        axes[1].plot([0, 1], seed_values, "-", color="0.6", lw=1)
    for i, color in enumerate((PLAIN, DROP)):
        axes[1].plot(np.full(finals.shape[1], i), finals[i], "o", color=color, ms=5)
    axes[1].set_xticks([0, 1], labels, fontsize=8)
    axes[1].set_xlim(-0.4, 1.4)
    axes[1].set_ylabel("final validation loss")
    axes[1].set_title("per seed (lines join paired seeds)", fontsize=9)
    return fig


def plot_placement(gaps: dict[str, dict[str, float]]) -> Figure:
    """Largest difference between dropout-before and dropout-after the activation, on dropped and on kept
    units, per activation."""
    fig, ax = new_figure(width=5.6, height=3.0)
    names = list(gaps)
    x = np.arange(len(names))
    for i, (part, color) in enumerate((("dropped", ACCENT), ("kept", DROP))):
        ax.bar(x + (i - 0.5) * 0.38, [gaps[n][part] for n in names], 0.38, color=color, label=f"{part} units")
    ax.set_xticks(x, names)
    ax.set_ylabel("largest |before - after|")
    ax.set_xlabel("activation")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def _grid_shape(width: int) -> tuple[int, int]:
    rows = int(np.sqrt(width))
    while width % rows:
        rows -= 1
    return rows, width // rows


class DropoutPanel(Panel):
    """The dropout explorer's figure, built once and updated in place (< 100 ms per setting):

    - validation loss (solid) and eval-mode training loss (dashed) against step, mean over seeds with the
      seed range as a band, for the grid's smallest p (the baseline) and the chosen p;
    - the final validation accuracy of every seed at every p for this training-set size (dots; the bar is
      the mean; the chosen p is marked);
    - what hidden dropout does inside the chosen model: the first hidden layer's activations on one test
      digit (one square per unit), with the units the current mask drops crossed out and the kept ones
      scaled by 1/(1-p), as in training.

    A :class:`~course_utils.plots.Panel`: the axes of each (p, training-set size) are drawn once into a
    cached background (all of them by :meth:`prewarm`), so a move only draws the curves, dots and mask.
    """

    max_backgrounds = 64
    """One per (p, training-set size) of the grid (36 for the notebook's): ~0.9 MB each."""

    def __init__(self, grid, image_input: np.ndarray) -> None:
        self.grid = grid
        self.x = np.asarray(image_input, dtype=np.float32).reshape(1, -1)
        self.baseline = min(grid.p_values)
        self._hidden_cache: dict = {}
        super().__init__(Figure(figsize=(11.0, 3.1)))
        self.figure.subplots_adjust(left=0.07, right=0.97, bottom=0.16, top=0.8, wspace=0.35)
        self.axes = self.figure.subplots(1, 3, width_ratios=[1.5, 1.1, 0.9])
        ax_loss, ax_acc, ax_units = self.axes
        self.lines = {}
        for key, color in (("base", PLAIN), ("chosen", DROP)):
            for metric, ls in (("val_loss", "-"), ("train_loss", "--")):
                (self.lines[(key, metric)],) = ax_loss.plot([], [], color=color, ls=ls, lw=1.5)
        self.bands: list = []
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("loss: val (solid), train (dashed)", fontsize=9)
        ax_loss.set_yscale("log")
        # Few, plain tick labels: tick layout (and mathtext for 10^k labels) is most of a redraw's cost.
        ax_loss.yaxis.set_major_locator(LogLocator(numticks=4))
        ax_loss.yaxis.set_minor_locator(NullLocator())
        ax_loss.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax_loss.xaxis.set_major_locator(MaxNLocator(4))
        (self.seed_dots,) = ax_acc.plot([], [], "o", color=DROP, ms=4, alpha=0.8)
        (self.mean_marks,) = ax_acc.plot([], [], "_", color="black", ms=16, mew=2)
        self.chosen_span = ax_acc.axvspan(0, 0, color=DROP, alpha=0.12, lw=0)
        ax_acc.set_xlim(-0.1, 0.9)
        ax_acc.set_ylim(0.5, 1.0)
        ax_acc.set_yticks([0.5, 0.75, 1.0])
        ax_acc.set_xticks(list(grid.p_values))
        ax_acc.set_xlabel("drop probability p")
        ax_acc.set_ylabel("final validation accuracy")
        rows, cols = _grid_shape(grid.hidden[0])
        self.shape = (rows, cols)
        self.units = ax_units.imshow(np.zeros(self.shape), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        self.crosses = ax_units.scatter([], [], marker="x", s=10, color=ACCENT, lw=0.8)
        ax_units.set_xticks([])
        ax_units.set_yticks([])
        ax_units.grid(False)
        for ax in (ax_loss, ax_acc):
            ax.grid(False)
        self.titles = [ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center", va="bottom", fontsize=8.5)
                       for ax in self.axes]
        for artist in (*self.lines.values(), self.seed_dots, self.mean_marks, self.chosen_span, self.units,
                       self.crosses, *self.titles):
            self.dynamic(artist)

    def prewarm(self, dpi: float = 80) -> None:
        """Render every (p, training-set size) once, so that no move has to draw axes and tick labels."""
        for p in self.grid.p_values:
            for n_train in self.grid.sizes:
                self.update(p, n_train, 0)
                self.png(dpi)

    def _hidden(self, p: float, n_train: int) -> np.ndarray:
        key = (p, n_train)
        if key not in self._hidden_cache:
            import torch

            model = self.grid.runs[(p, n_train, self.grid.seeds[0])].model
            model.eval()
            with torch.no_grad():
                h = torch.from_numpy(self.x)
                for module in model:
                    h = module(h)
                    if isinstance(module, torch.nn.ReLU):
                        break
            self._hidden_cache[key] = h.numpy().ravel().astype(np.float64)
        return self._hidden_cache[key]

    def update(self, p: float, n_train: int, mask_seed: int) -> Figure:
        grid = self.grid
        p, n_train = grid._p(p), grid._n(n_train)
        mask_seed = check_int("mask_seed", mask_seed, minimum=0)
        ax_loss, ax_acc, ax_units = self.axes
        for band in self.bands:
            band.remove()
            self._dynamic.remove(band)
        self.bands = []
        lo, hi = np.inf, 0.0
        for key, q, color in (("base", self.baseline, PLAIN), ("chosen", p, DROP)):
            hists = grid.histories(q, n_train)
            steps = np.array(hists[0].steps)
            for metric in ("val_loss", "train_loss"):
                values = np.clip(np.array([getattr(h, metric) for h in hists]), 1e-4, None)
                self.lines[(key, metric)].set_data(steps, values.mean(0))
                self.lines[(key, metric)].set_visible(key == "base" or q != self.baseline)
                if key == "base" or q != self.baseline:
                    band = ax_loss.fill_between(steps, values.min(0), values.max(0), color=color, alpha=0.15, lw=0)
                    self._dynamic.insert(0, band)  # under the lines, as in a full draw
                    self.bands.append(band)
                lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        ax_loss.set_xlim(0, steps[-1])
        ax_loss.set_ylim(lo / 1.5, hi * 1.5)
        base_acc, chosen_acc = grid.mean(self.baseline, n_train, "val_acc"), grid.mean(p, n_train, "val_acc")
        self.titles[0].set_text(f"n = {n_train}: black p = {self.baseline:g}, blue p = {p:g} "
                                f"(mean and range of {len(grid.seeds)} seeds)")
        xs, ys, means = [], [], []
        for q in grid.p_values:
            accs = [grid.runs[(q, n_train, s)].history.val_acc[-1] for s in grid.seeds]
            xs += list(q + np.linspace(-0.025, 0.025, len(accs)))
            ys += accs
            means.append(float(np.mean(accs)))
        self.seed_dots.set_data(xs, ys)
        self.mean_marks.set_data(list(grid.p_values), means)
        self.chosen_span.set_x(p - 0.06)
        self.chosen_span.set_width(0.12)
        self.titles[1].set_text(f"val accuracy: p={self.baseline:g} {base_acc:.3f}, p={p:g} {chosen_acc:.3f}")
        hidden = self._hidden(p, n_train)
        keep = numpy_rng(mask_seed).random(hidden.shape) >= p
        shown = hidden * keep / (1 - p)
        self.units.set_data(shown.reshape(self.shape))
        self.units.set_clim(0, max(float(shown.max()), 1e-9))
        rows, cols = np.divmod(np.flatnonzero(~keep), self.shape[1])
        self.crosses.set_offsets(np.column_stack([cols, rows]) if len(rows) else np.empty((0, 2)))
        self.titles[2].set_text(f"hidden layer 1 (p={p:g} model), mask {mask_seed}:\n"
                                f"kept {int(keep.sum())}/{keep.size} units, x{1 / (1 - p):.2f}")
        return self.figure
