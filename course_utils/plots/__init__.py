"""Figures for the course, as functions: each returns a matplotlib Figure (PNG in notebooks).

Topic modules (``plots.scales``, ``plots.depth``, ``plots.dropout``, ...) hold the figures of one
notebook; this module holds what they share.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from matplotlib.figure import Figure

from ..train import History
from ..validation import check_choice

__all__ = ["COLORS", "Panel", "new_figure", "plot_histories", "save_png"]

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

    def static_key(self) -> tuple:
        """What the cached background depends on: every axes' limits. Extend it if an update changes
        other static things (tick labels set by hand, an axis label)."""
        return tuple((ax.get_xlim(), ax.get_ylim()) for ax in self.figure.axes)

    def png(self, dpi: float = 80) -> bytes:
        """The figure as PNG bytes (fixed metadata), redrawing the background only when needed."""
        from PIL import Image

        figure = self.figure
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
        buffer = io.BytesIO()
        # Fast zlib level: the PNG is a few % larger and encodes several times faster.
        Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
            buffer, format="png", compress_level=1
        )
        return buffer.getvalue()
