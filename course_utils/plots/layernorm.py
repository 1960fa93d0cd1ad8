"""Figures of notebook 04 (Layer Normalization and the family)."""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from matplotlib.ticker import MaxNLocator

from .. import norms
from ..validation import check_choice, check_int
from . import OKABE_ITO, Panel, color_for, new_figure, style_for

__all__ = [
    "METHOD_NAMES",
    "plot_axes_cubes",
    "StatGroupsPanel",
    "GradNormPanel",
    "plot_batch_size_sweep",
    "plot_sequence_results",
    "plot_grad_norms",
    "plot_warmup",
]

METHOD_NAMES = {method: entry.label for method, entry in norms.axes_methods().items()}


def _cube(ax, highlighted: np.ndarray, color: str, depth: float = 0.55) -> None:
    """Draw an N x C x (H, W) block of columns in oblique projection; ``highlighted[n, c]`` shades the
    columns normalized by one shared mean/variance (as in Wu & He 2018, Fig. 2)."""
    n_size, c_size = highlighted.shape
    height = 3.0
    dx, dy = depth * np.cos(np.pi / 5), depth * np.sin(np.pi / 5)

    def point(c: float, n: float, z: float) -> tuple[float, float]:
        return (c + n * dx, z + n * dy)

    # Painter's order: back rows first, so the front row is drawn on top.
    for n in reversed(range(n_size)):
        for c in range(c_size):
            face = color if highlighted[n, c] else "white"
            faces = [
                [point(c, n, 0), point(c + 1, n, 0), point(c + 1, n, height), point(c, n, height)],  # front
                [point(c, n, height), point(c + 1, n, height), point(c + 1, n + 1, height), point(c, n + 1, height)],
                [point(c + 1, n, 0), point(c + 1, n + 1, 0), point(c + 1, n + 1, height), point(c + 1, n, height)],
            ]
            for k, corners in enumerate(faces):
                alpha = (1.0, 0.8, 0.6)[k] if highlighted[n, c] else 1.0
                ax.add_patch(Polygon(corners, closed=True, facecolor=face, edgecolor="0.35", lw=0.6, alpha=alpha))
    ax.annotate("", xy=point(c_size, -0.5, 0), xytext=point(0, -0.5, 0),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 0.8})
    ax.text(*point(c_size / 2, -0.5, -0.45), "C", ha="center", va="top")
    ax.annotate("", xy=point(c_size + 0.35, n_size, 0), xytext=point(c_size + 0.35, 0, 0),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 0.8})
    ax.text(*point(c_size + 0.6, n_size / 2, -0.2), "N", ha="left", va="top")
    ax.annotate("", xy=point(-0.3, 0, height), xytext=point(-0.3, 0, 0),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 0.8})
    ax.text(*point(-0.45, 0, height / 2), "H, W", ha="right", va="center", rotation=90)
    ax.set_xlim(-1.4, c_size + n_size * dx + 1.0)
    ax.set_ylim(-1.0, height + n_size * dy + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_axes_cubes(n: int = 6, c: int = 6, groups: int = 2) -> Figure:
    """Wu & He (2018), Fig. 2, drawn by code: for BN, LN, IN and GN, the shaded entries of an N x C x (H, W)
    feature map are normalized by one shared mean and variance (one of the sets is shaded)."""
    from ..experiments.layernorm import stat_groups

    fig, axes = new_figure(ncols=4, width=11.0, height=3.0)
    for ax, method in zip(axes, METHOD_NAMES, strict=True):
        labels = stat_groups(method, (n, c, 1, 1), groups)[:, :, 0, 0]
        # Shade the set that contains the front-left column, like the paper (sample 0, channel 0).
        _cube(ax, labels == labels[0, 0], color_for(METHOD_NAMES[method]))
        extra = f" ({groups} groups)" if method == "group" else ""
        ax.set_title(METHOD_NAMES[method] + extra)
    fig.suptitle("Shaded: the entries that share one mean and one variance")
    return fig


class _CachedLayer(Artist):
    """Artists drawn once into transparent pixels and then pasted (< 1 ms) instead of drawn again
    (a text costs ~1-3 ms, mostly rendering glyphs): for what lies over data that changes (the values
    and borders over the cell colours), and for texts that come back (the same statistics, count or
    note recur across settings). The pixels are kept per figure size and per ``key()`` (what the
    members show; default: nothing changes), cropped to what the members cover.

    Registered as one dynamic artist of a :class:`Panel`; it is not added to the figure, so a plain
    ``savefig`` draws the members themselves. Hiding it hides its members (the panel hides its dynamic
    artists while it draws the background)."""

    max_entries = 256

    def __init__(self, members, key=tuple) -> None:
        super().__init__()
        self.members = list(members)
        self.key = key
        self._pixels: dict[tuple, tuple | None] = {}

    def set_visible(self, b: bool) -> None:
        super().set_visible(b)
        for artist in self.members:
            artist.set_visible(b)

    def draw(self, renderer) -> None:
        from matplotlib.backends.backend_agg import RendererAgg

        if not self.get_visible():
            return
        key = (renderer.width, renderer.height, renderer.dpi, self.key())
        if key not in self._pixels:
            layer = RendererAgg(renderer.width, renderer.height, renderer.dpi)  # starts fully transparent
            for artist in self.members:
                artist.draw(layer)
            pixels = np.asarray(layer.buffer_rgba())
            rows, cols = np.nonzero(pixels[:, :, 3].any(axis=1))[0], np.nonzero(pixels[:, :, 3].any(axis=0))[0]
            if len(self._pixels) >= self.max_entries:
                self._pixels.pop(next(iter(self._pixels)))
            if len(rows) == 0:
                self._pixels[key] = None
            else:
                top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
                # draw_image wants the rows bottom first and the position of the bottom-left pixel.
                tile = np.ascontiguousarray(pixels[top:bottom + 1, left:right + 1][::-1])
                self._pixels[key] = (int(left), int(renderer.height - 1 - bottom), tile)
        entry = self._pixels[key]
        if entry is not None:
            gc = renderer.new_gc()
            renderer.draw_image(gc, *entry)
            gc.restore()


_GROUP_PALETTE = ("orange", "sky_blue", "bluish_green", "yellow", "blue", "vermillion", "reddish_purple", "grey")


class StatGroupsPanel(Panel):
    """The axes explorer's picture, built once for one small (N, C, H, W) tensor ``x`` and updated in
    place: every entry as a cell (samples side by side, channels as rows, the H*W positions as columns),
    coloured by the statistic it shares, with its value; the text on the right lists each statistic's
    mean and variance, and a note below it.

    The values, cell borders and axes never change (the tensor is fixed), so after the first render an
    update redraws only the cell colours, pastes the borders and values over them from pixels drawn
    once, and redraws the texts on the right (see :class:`course_utils.plots.Panel`)."""

    max_shown = 8
    """Statistics listed on the right (one colour each); more are summarised as '... and k more'."""

    def __init__(self, x: np.ndarray) -> None:
        from matplotlib.colors import to_rgb

        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 4:
            raise ValueError(f"x must be an (N, C, H, W) array, got shape {x.shape}.")
        self.x = x
        n, c = x.shape[:2]
        flat_x = x.reshape(n, c, -1)
        p = flat_x.shape[2]
        self.palette = [to_rgb(OKABE_ITO[k]) for k in _GROUP_PALETTE]
        # Fast path for an explorer (< 100 ms): all samples in ONE image on one axes, separated by a white
        # column, cell borders as two line collections, no layout engine.
        width = n * p + (n - 1)
        super().__init__(Figure(figsize=(3.0 * n + 3.8, 2.9)))
        fig = self.figure
        ax = self.ax = fig.subplots()
        fig.subplots_adjust(left=0.06, right=0.66, top=0.8, bottom=0.18)
        self.image = ax.imshow(np.ones((c, width, 3)), aspect="auto", interpolation="nearest")
        borders = [ax.vlines(np.arange(-0.5, width), -0.5, c - 0.5, colors="white", lw=2),
                   ax.hlines(np.arange(-0.5, c), -0.5, width - 0.5, colors="white", lw=2)]
        ax.grid(False)
        values = []
        for i in range(n):
            for (ci, pi), value in np.ndenumerate(flat_x[i]):
                values.append(ax.text(i * (p + 1) + pi, ci, f"{value:.1f}", ha="center", va="center", fontsize=9))
            ax.text(i * (p + 1) + (p - 1) / 2, -0.7, f"sample n={i}", ha="center", va="bottom", fontsize=10)
        # No x tick labels: each Text costs ~1 ms to draw, and the columns are simply positions 0..P-1.
        ax.set_xticks([])
        ax.set_yticks(range(c), [f"c{k}" for k in range(c)])
        ax.set_xlabel(f"positions 0..{p - 1} (H×W flattened) of each sample")
        ax.set_ylabel("channel")
        for spine in ax.spines.values():
            spine.set_visible(False)
        self.count = fig.text(0.675, 0.8, "", va="top", ha="left", fontsize=8.5)
        self.squares, self.rows = [], []
        for k in range(self.max_shown):
            y = 0.72 - 0.068 * k
            # The square carries the colour, the text the numbers: colour is never the only cue.
            self.squares.append(fig.add_artist(Rectangle((0.677, y - 0.022), 0.014, 0.044, transform=fig.transFigure,
                                                         facecolor=self.palette[k % len(self.palette)])))
            self.rows.append(fig.text(0.7, y, "", va="center", ha="left", family="monospace", fontsize=7.5))
        self.more = fig.text(0.7, 0.72 - 0.068 * self.max_shown, "", va="center", fontsize=7.5)
        self.note = fig.text(0.675, 0.03, "", va="bottom", ha="left", fontsize=7.5, color="0.3")
        self.title = fig.suptitle(" ")
        self.dynamic(self.image)
        self.dynamic(_CachedLayer([*borders, *values]))
        for text in (self.count, *self.rows, self.more, self.note, self.title):
            self.dynamic(_CachedLayer([text], key=text.get_text))
        for square in self.squares:
            self.dynamic(square)

    def update(self, labels: np.ndarray, stats: dict, title: str = "", note: str = "") -> Figure:
        """Colour the cells by ``labels`` (the statistic each entry shares, shape of ``x``) and list
        ``stats`` (label -> (mean, var, count)), with ``title`` above and ``note`` below the list."""
        labels = np.asarray(labels)
        if labels.shape != self.x.shape:
            raise ValueError(f"labels must have the shape of x, {self.x.shape}, got {labels.shape}.")
        n, c = self.x.shape[:2]
        flat_l = labels.reshape(n, c, -1)
        p = flat_l.shape[2]
        order = {label: i for i, label in enumerate(sorted(stats))}
        rgb = np.ones((c, n * p + (n - 1), 3))
        for i in range(n):
            for (ci, pi), label in np.ndenumerate(flat_l[i]):
                rgb[ci, i * (p + 1) + pi] = self.palette[order[int(label)] % len(self.palette)]
        self.image.set_data(rgb)
        self.count.set_text(f"{len(stats)} means/variances:")
        shown = sorted(stats)[: self.max_shown]
        for k, (square, row) in enumerate(zip(self.squares, self.rows, strict=True)):
            square.set_visible(k < len(shown))
            if k < len(shown):
                mean, var, count = stats[shown[k]]
                row.set_text(f"mean {mean:5.2f}  var {var:5.2f}  ({count} values)")
            else:
                row.set_text("")
        self.more.set_text(f"... and {len(stats) - len(shown)} more" if len(stats) > len(shown) else "")
        self.note.set_text(note)
        self.title.set_text(title)
        return self.figure


def plot_batch_size_sweep(sweep, paper: dict) -> Figure:
    """Left: our test error vs batch size per norm (mean and min-max over seeds). Right: Wu & He's
    ImageNet numbers for BN and GN (and LN/IN at 32)."""
    fig, (ax, ax_paper) = new_figure(ncols=2, width=10.0, height=3.7)
    xs = np.arange(len(sweep.batch_sizes))
    for index, name in enumerate(sweep.norms):
        values = np.array([sweep.errors[(name, b)] for b in sweep.batch_sizes])
        style = style_for(name, index)
        ax.plot(xs, values.mean(1), label=name, lw=1.6, **style)
        ax.fill_between(xs, values.min(1), values.max(1), color=style["color"], alpha=0.15, lw=0)
    ax.set_xticks(xs, [str(b) for b in sweep.batch_sizes])
    ax.set_xlabel("batch size (examples per batch)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"ours: digits MLP, mean and range of {len(sweep.seeds)} seeds")
    ax.legend(frameon=False, fontsize=8)
    for index, (name, values) in enumerate(paper.items()):
        sizes = [b for b in sweep.batch_sizes if b in values]
        style = style_for(name, index)
        ax_paper.plot([sweep.batch_sizes.index(b) for b in sizes], [values[b] for b in sizes], label=name, lw=1.6,
                      **style)
    ax_paper.set_xticks(xs, [str(b) for b in sweep.batch_sizes])
    ax_paper.set_xlabel("images per GPU")
    ax_paper.set_ylabel("validation error (%)")
    ax_paper.set_title("Wu & He 2018: ResNet-50, ImageNet")
    ax_paper.legend(frameon=False, fontsize=8)
    return fig


def plot_sequence_results(results, condition: str = "scales") -> Figure:
    """Left: test accuracy of each norm under each condition of the sequence task (dots: seeds, bar:
    mean; a norm not run under a condition is left out there). Right: accuracy by the decade of a test
    sequence's RMS under ``condition`` (mean of seeds)."""
    from ..experiments.layernorm import SEQ_SCALE_BINS

    conditions = list(dict.fromkeys(c for c, _ in results.accuracy))
    norms = list(dict.fromkeys(n for _, n in results.accuracy))
    fig, (ax, ax_scale) = new_figure(ncols=2, width=10.0, height=3.4)
    width = 0.8 / len(norms)
    for index, name in enumerate(norms):
        style = style_for(name, index)
        labelled = False
        for ci, cond in enumerate(conditions):
            if (cond, name) not in results.accuracy:
                continue
            accs = results.accuracy[(cond, name)]
            x = ci + (index - (len(norms) - 1) / 2) * width
            ax.scatter([x] * len(accs), accs, color=style["color"], marker=style["marker"], s=14, zorder=3,
                       label=None if labelled else name)
            ax.plot([x - width / 3, x + width / 3], [np.mean(accs)] * 2, color=style["color"], lw=2)
            labelled = True
        if (condition, name) in results.by_scale:
            ax_scale.plot(range(len(SEQ_SCALE_BINS) - 1), results.by_scale[(condition, name)], label=name, lw=1.6,
                          **style)
    ax.axhline(0.5, color="0.6", lw=0.8, linestyle=":")
    ax.set_xticks(range(len(conditions)), conditions)
    ax.set_xlabel("what varies between sequences")
    ax.set_ylabel("test accuracy (dots: seeds, bar: mean)")
    ax.legend(frameon=False, fontsize=8)
    ax_scale.axhline(0.5, color="0.6", lw=0.8, linestyle=":")
    ax_scale.set_xticks(range(len(SEQ_SCALE_BINS) - 1),
                        [f"1e{int(np.log10(lo))}" for lo in SEQ_SCALE_BINS[:-1]])
    ax_scale.set_xlabel("RMS of the test sequence (decade from)")
    ax_scale.set_ylabel("test accuracy")
    ax_scale.set_title(f"condition '{condition}', mean of {len(results.seeds)} seeds")
    ax_scale.legend(frameon=False, fontsize=8)
    return fig


_PLACEMENTS = (("post", "Post-LN", "vermillion", "o", "-"), ("pre", "Pre-LN", "blue", "s", "--"))


class GradNormPanel(Panel):
    """The Post-LN vs Pre-LN explorer's figure, built once for a :class:`DepthGradNorms` and updated in
    place: gradient norm of each layer's feed-forward weights at initialization vs layer index, mean
    and range over seeds (Xiong et al. 2020, Fig. 3).

    The y axis is fixed for every depth (0 to the largest norm of any depth, with autoscaling's 5% margin),
    so depths can be compared by eye and only the x axis changes with the depth; the backgrounds of all
    depths are cached after their first render (see :class:`course_utils.plots.Panel`)."""

    def __init__(self, grad_norms) -> None:
        from ..experiments.layernorm import DepthGradNorms

        if not isinstance(grad_norms, DepthGradNorms):
            raise TypeError(
                f"grad_norms must be a DepthGradNorms from depth_grad_norms(), got {type(grad_norms).__name__}."
            )
        self.grad_norms = grad_norms
        super().__init__(Figure(figsize=(5.6, 3.4)))
        fig = self.figure
        ax = self.ax = fig.subplots()
        fig.subplots_adjust(left=0.14, right=0.97, top=0.88, bottom=0.16)
        # Grid under the seed bands (not between bands and lines): the bands are redrawn over the cached
        # grid, so a full draw must layer them the same way.
        ax.set_axisbelow(True)
        self.lines, self.bands = [], []
        for _placement, label, color, marker, style in _PLACEMENTS:
            (line,) = ax.plot([], [], marker=marker, linestyle=style, color=OKABE_ITO[color], label=label)
            self.lines.append(line)
            self.bands.append(ax.fill_between([0, 1], [0, 0], [0, 0], color=OKABE_ITO[color], alpha=0.15, lw=0))
        # What autoscaling would give the tallest depth (data from the lowest band edge to the highest,
        # plus 5%), with the bottom at 0 as before.
        lo = float(min(v.min() for v in grad_norms.norms.values()))
        hi = float(max(v.max() for v in grad_norms.norms.values()))
        ax.set_ylim(0, hi + 0.05 * (hi - lo))
        ax.set_xlabel("layer index (1 = next to the input)")
        # Whole layer numbers only: at depth 1 a "1.50" tick would also stick out of the figure.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_ylabel("‖∂L/∂W_ff2‖ at initialization")
        # y=1 fixes the title's position (matplotlib would move a title hidden while the background is drawn).
        ax.set_title(" ", y=1.0)
        legend = ax.legend(frameon=False)
        # The legend is drawn over the data, as on a fresh figure, so it is redrawn with it.
        for artist in (*self.bands, *self.lines, legend, ax.title):
            self.dynamic(artist)

    def update(self, depth: int) -> Figure:
        """Show the gradient norms of the ``depth``-layer models (one of ``grad_norms.depths``)."""
        depth = check_int("depth", depth, minimum=1)
        check_choice("depth", depth, self.grad_norms.depths)
        layers = np.arange(1, depth + 1)
        for (placement, *_rest), line, band in zip(_PLACEMENTS, self.lines, self.bands, strict=True):
            values = self.grad_norms.norms[(placement, depth)]
            line.set_data(layers, values.mean(0))
            band.set_data(layers, values.min(0), values.max(0))
        # The x limits autoscaling gives layers 1..depth (5% margins), so each depth fills the width.
        pad = 0.05 * (depth - 1) if depth > 1 else 0.5
        self.ax.set_xlim(1 - pad, depth + pad)
        self.ax.title.set_text(f"{depth} layers, mean and range of {len(self.grad_norms.seeds)} seeds")
        return self.figure


def plot_grad_norms(grad_norms, depth: int) -> Figure:
    """Gradient norm of each layer's feed-forward weights at initialization vs layer index, Post-LN vs
    Pre-LN, mean and range over seeds (Xiong et al. 2020, Fig. 3). ``grad_norms`` is a DepthGradNorms.
    A fresh :class:`GradNormPanel` (the y axis spans every depth of ``grad_norms``)."""
    return GradNormPanel(grad_norms).update(depth)


def plot_warmup(results, lr: float | None = None) -> Figure:
    """Left: training loss of the sorting Transformer at learning rate ``lr`` (default: the largest),
    Post-LN and Pre-LN with and without warm-up (mean and range over seeds, 10-step average). Right: final
    token accuracy vs learning rate for each placement and warm-up (mean and range over seeds)."""
    lr = max(results.lrs) if lr is None else lr
    check_choice("lr", lr, results.lrs)
    fig, (ax, ax_lr) = new_figure(ncols=2, width=10.0, height=3.6)
    kernel = np.ones(10) / 10
    colors = {"post": OKABE_ITO["vermillion"], "pre": OKABE_ITO["blue"]}
    configs = list(dict.fromkeys((p, w) for p, w, _ in results.accuracy))
    for placement, warmup in configs:
        label = f"{placement.capitalize()}-LN, " + (f"warm-up {warmup} steps" if warmup else "no warm-up")
        style = "-" if warmup else "--"
        curves = results.losses[(placement, warmup, lr)]
        smooth = np.array([np.convolve(c, kernel, mode="valid") for c in curves])
        steps = np.arange(smooth.shape[1]) + 10
        ax.plot(steps, smooth.mean(0), color=colors[placement], linestyle=style, label=label, lw=1.6)
        ax.fill_between(steps, smooth.min(0), smooth.max(0), color=colors[placement], alpha=0.12, lw=0)
        accs = np.array([results.accuracy[(placement, warmup, r)] for r in results.lrs])
        ax_lr.plot(results.lrs, accs.mean(1), color=colors[placement], linestyle=style, marker="o", label=label)
        ax_lr.fill_between(results.lrs, accs.min(1), accs.max(1), color=colors[placement], alpha=0.12, lw=0)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (10-step average)")
    ax.set_title(f"Adam lr {lr:g}, {results.depth} layers, {len(results.seeds)} seeds")
    ax.legend(frameon=False, fontsize=8)
    ax_lr.set_xscale("log")
    ax_lr.axhline(0.1, color="0.6", lw=0.8, linestyle=":")
    ax_lr.set_xlabel("Adam learning rate")
    ax_lr.set_ylabel("token accuracy after training")
    ax_lr.set_title("chance = 0.1 (dotted)")
    return fig
