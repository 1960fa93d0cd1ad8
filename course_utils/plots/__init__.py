"""Figures for the course, as functions: each returns a matplotlib Figure (PNG in notebooks).

Topic modules (``plots.scales``, ``plots.depth``, ``plots.dropout``, ...) hold the figures of one
notebook; this module holds what they share.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure

from .. import norms
from ..train import History
from ..validation import check_choice

__all__ = [
    "COLORS", "OKABE_ITO", "Panel", "color_for", "style_for", "sequential_colors", "new_figure", "plot_histories",
    "save_png",
]

# One colour-blind-safe palette for the whole course (Okabe & Ito 2008), one colour per method, so that
# "BatchNorm" is the same colour in every notebook. Lines also differ by style/marker (LINESTYLES,
# MARKERS), so no information is carried by colour alone.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}
# The normalization layers' styles come from their registry (course_utils.norms); the rest are listed here.
_NORM_STYLES = norms.styles()
COLORS = {
    "plain": OKABE_ITO["black"],
    "none": OKABE_ITO["black"],
    "raw": OKABE_ITO["vermillion"],
    "standardized": OKABE_ITO["bluish_green"],
    "dropout": OKABE_ITO["blue"],
    **{key: style.color for key, (style, _aliases) in _NORM_STYLES.items()},
    "batchnorm+dropout": OKABE_ITO["vermillion"],
    "layernorm+dropout": OKABE_ITO["grey"],
}
LINESTYLES = {
    "plain": "-", "none": "-", "raw": "-", "standardized": "--", "dropout": "--",
    **{key: style.linestyle for key, (style, _aliases) in _NORM_STYLES.items()},
    "batchnorm+dropout": (0, (1, 1)), "layernorm+dropout": (0, (4, 2)),
}
MARKERS = {
    "plain": "o", "none": "o", "raw": "o", "standardized": "s", "dropout": "s",
    **{key: style.marker for key, (style, _aliases) in _NORM_STYLES.items()},
    "batchnorm+dropout": "<", "layernorm+dropout": ">",
}
# For an ordered series (dropout p, batch size, depth): a perceptually uniform, colour-blind-safe map.
SEQUENTIAL_CMAP = "cividis"
_CYCLE = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue",
                                 "black", "grey")]


def _key(name: str) -> str:
    return name.lower().replace(" ", "").replace("-", "").replace("_", "")


_ALIASES = {
    **{alias: key for key, (_style, aliases) in _NORM_STYLES.items() for alias in aliases},
    "nonorm": "none", "baseline": "none", "bn+dropout": "batchnorm+dropout", "ln+dropout": "layernorm+dropout",
}


def _canonical(name: str) -> str | None:
    key = _key(name)
    key = _ALIASES.get(key, key)
    return key if key in COLORS else None


def color_for(name: str, index: int = 0) -> str:
    """The course colour of a method name ('BatchNorm', 'bn', 'LayerNorm', 'none', ...); other names get
    the ``index``-th colour of the same colour-blind-safe palette."""
    key = _canonical(str(name))
    return COLORS[key] if key else _CYCLE[index % len(_CYCLE)]


def style_for(name: str, index: int = 0) -> dict:
    """``color``, ``linestyle`` and ``marker`` for a method name, for ``ax.plot(..., **style_for(name))``."""
    key = _canonical(str(name))
    styles = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1))]
    markers = ["o", "s", "^", "D", "v", "P", "X", "<"]
    return {
        "color": color_for(name, index),
        "linestyle": LINESTYLES[key] if key else styles[index % len(styles)],
        "marker": MARKERS[key] if key else markers[index % len(markers)],
    }


def sequential_colors(n: int) -> list:
    """``n`` colours for an ordered series (e.g. dropout p values), from light to dark, colour-blind-safe."""
    import matplotlib

    cmap = matplotlib.colormaps[SEQUENTIAL_CMAP]
    return [cmap(0.1 + 0.8 * i / max(n - 1, 1)) for i in range(n)]


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
        for index, (label, hist) in enumerate(histories.items()):
            if not isinstance(hist, History):
                raise TypeError(f"histories[{label!r}] must be a History, got {type(hist).__name__}.")
            x = range(1, len(hist.step_loss) + 1) if metric == "step_loss" else hist.steps
            style = style_for(label, index)
            style["color"] = (colors or {}).get(label, style["color"])
            ax.plot(x, getattr(hist, metric), label=label, color=style["color"], linestyle=style["linestyle"], lw=1.5)
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


class Panel:
    """An explorer's figure, built once and then updated in place, rendered by redrawing only what moved.

    A fresh figure per control change spends most of an explorer's 100 ms creating axes and drawing
    text (tick labels, titles) that did not change. A panel creates its figure and artists once;
    ``update(...)`` changes data with ``set_data`` / ``set_height`` / ``set_text`` and returns the
    figure. Artists an update changes are registered with :meth:`dynamic`; :meth:`png` draws the rest
    (axes, ticks, labels) once into a cached background, keyed by :meth:`static_key` (the axis limits
    by default; the most recent few are kept, so only limits not seen lately mean a full redraw), and
    on every later render pastes that background and draws only the dynamic artists.

    The figure stays an ordinary matplotlib Figure: shown in a notebook or saved, it draws everything.
    ``course_utils.widgets.figure_to_png`` renders a panel's figure through :meth:`png`.
    """

    max_backgrounds = 16
    """Backgrounds kept (about 0.5 MB each): moving back to recent limits needs no full redraw."""

    def __init__(self, figure: Figure) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = figure
        self.canvas = FigureCanvasAgg(figure)
        figure._normcourse_panel = self  # how figure_to_png finds the panel of a figure
        self._dynamic: list = []
        self._backgrounds: dict[tuple, object] = {}  # static_key -> pixels, the most recent last

    def dynamic(self, artist):
        """Register ``artist`` as one that updates change (drawn over the cached background); returns it."""
        self._dynamic.append(artist)
        return artist

    def replace_dynamic(self, old, new):
        """Swap a registered artist for a new one (e.g. a legend rebuilt by an update); returns ``new``."""
        if old is not None:
            self._dynamic.remove(old)
        return self.dynamic(new)

    def static_key(self) -> tuple:
        """What the cached background depends on: every axes' limits. Extend it if an update changes
        other static things (tick labels set by hand, an axis label)."""
        return tuple((ax.get_xlim(), ax.get_ylim()) for ax in self.figure.axes)

    def png(self, dpi: float = 80) -> bytes:
        """The figure as PNG bytes (fixed metadata), redrawing the background only when needed."""
        from .glyphs import use_glyph_cache
        from .png import rgba_to_png

        figure = self.figure
        figure.set_dpi(dpi)
        use_glyph_cache(self.canvas.get_renderer())  # a new renderer comes with a new size or dpi
        key = (dpi, self.static_key())
        background = self._backgrounds.pop(key, None)
        if background is None:
            figure.set_dpi(dpi)
            visible = [artist.get_visible() for artist in self._dynamic]
            for artist in self._dynamic:
                artist.set_visible(False)
            self.canvas.draw()
            background = self.canvas.copy_from_bbox(figure.bbox)
            for artist, shown in zip(self._dynamic, visible, strict=True):
                artist.set_visible(shown)
            if len(self._backgrounds) >= self.max_backgrounds:  # forget the least recently used
                self._backgrounds.pop(next(iter(self._backgrounds)))
        else:
            figure.set_dpi(dpi)
            self.canvas.restore_region(background)
        self._backgrounds[key] = background
        renderer = self.canvas.get_renderer()
        for artist in self._dynamic:
            if artist.get_visible():
                artist.draw(renderer)
        return rgba_to_png(self.canvas.buffer_rgba())  # unfiltered rows, zlib level 1: ~3x faster than PIL
