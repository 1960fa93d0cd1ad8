"""Tick marks, tick labels and grid lines of one axis as a few light artists an explorer redraws itself.

Why: an explorer whose axis limits follow its controls had to redraw its whole figure on most moves
(matplotlib's ``Axis.draw`` lays out every tick, label and sibling bounding box: 4-6 ms an axis here, and a
full figure ~35 ms). With :class:`LiveTicks` the axis itself draws no ticks, so the figure's cached
background (:class:`course_utils.plots.Panel`) stays valid whatever the limits, and each move draws only
one line of tick marks, a few short labels and (optionally) a line of grid lines over it.

The look follows the axis's rcParams (tick size, width, pad, label size, colour; ``axes.grid``); the
tick positions come from matplotlib's own :class:`~matplotlib.ticker.MaxNLocator`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib import colors as mcolors
from matplotlib import rcParams
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import TICKDOWN, TICKLEFT, Line2D
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.transforms import ScaledTranslation

__all__ = ["LiveTicks", "TickLabels", "tick_labels"]

AUTO_STEPS = (1, 2, 2.5, 5, 10)
"""matplotlib's AutoLocator steps (its default ticks); pass ``steps=None`` for MaxNLocator's own."""
MINUS = "\N{MINUS SIGN}"  # what matplotlib's formatters print (axes.unicode_minus)


def tick_labels(values: Sequence[float]) -> list[str]:
    """Labels for evenly spaced tick ``values``: the fewest decimals that tell them apart exactly (like
    matplotlib's ScalarFormatter without its offset), ``−`` for negatives and ``0`` never ``−0``."""
    values = [float(v) for v in values]
    scale = max((abs(v) for v in values), default=1.0) or 1.0
    decimals = 0
    while decimals < 8 and any(abs(round(v, decimals) - v) > 1e-9 * scale for v in values):
        decimals += 1
    labels = []
    for v in values:
        text = f"{round(v, decimals) + 0.0:.{decimals}f}"  # + 0.0 turns -0.0 into 0.0
        labels.append(text.replace("-", MINUS))
    return labels


class TickLabels(Artist):
    """A row of tick labels drawn as one artist, exactly as :class:`~matplotlib.text.Text` draws each: the
    layout of every distinct string (what ``Text.draw`` recomputes on every draw, about half a label's cost)
    is measured once with ``template`` (a Text with the labels' font, colour, alignment and transform, never
    drawn itself), then each label is a single ``renderer.draw_text``."""

    def __init__(self, template: Text) -> None:
        super().__init__()
        self.set_zorder(template.get_zorder())  # drawn where Text artists would be in a plain figure draw
        self.template = template
        self.labels: list[tuple[float, float, str]] = []  # (x, y) in the template's transform, text
        self._layouts: dict[tuple, list] = {}

    def set_labels(self, labels: Sequence[tuple[float, float, str]]) -> None:
        self.labels = [label for label in labels if label[2]]
        self.stale = True

    def _layout(self, text: str, renderer) -> list:
        key = (text, renderer.dpi)
        layout = self._layouts.get(key)
        if layout is None:
            self.template.set_text(text)
            _bbox, info, _descent = self.template._get_layout(renderer)
            layout = self._layouts[key] = [(line, x, y) for line, _wad, (x, y) in info]
        return layout

    def draw(self, renderer) -> None:
        if not self.get_visible() or not self.labels:
            return
        template = self.template
        transform = template.get_transform()
        gc = renderer.new_gc()
        gc.set_foreground(mcolors.to_rgba(template.get_color()), isRGBA=True)
        gc.set_alpha(template.get_alpha())
        gc.set_antialiased(template._antialiased)
        angle = template.get_rotation()
        height = renderer.get_canvas_width_height()[1]
        for x, y, text in self.labels:
            layout = self._layout(text, renderer)
            posx, posy = transform.transform((x, y))
            for line, dx, dy in layout:
                # Agg counts y downwards (flipy), like Text.draw
                y_text = height - (posy + dy) if renderer.flipy() else posy + dy
                renderer.draw_text(gc, posx + dx, y_text, line, template.get_fontproperties(), angle, ismath=False,
                                   mtext=template if len(layout) == 1 else None)
        gc.restore()
        self.stale = False


class LiveTicks:
    """The ticks of ``ax``'s ``which`` axis ('x' or 'y'), drawn by three artists instead of the axis (tick
    marks: a Line2D; labels: :class:`TickLabels`; grid lines: a Line2D, where the rcParams ask for a grid).

    ``update()`` (call it after setting the limits) places the ticks the way
    ``MaxNLocator(nbins, integer=..., min_n_ticks=..., steps=...)`` would (the defaults: matplotlib's
    AutoLocator, its default ticks). Register :attr:`artists` with the panel
    (``panel.dynamic``) after the artists they should cover (e.g. a histogram under grid lines). The
    axis label stays with the axis (static) at a fixed distance: below the labels' line for x; for y,
    ``label_chars`` label characters to the left of the spine (widen it if labels get longer).
    """

    def __init__(
        self, ax: Axes, which: str = "x", nbins: int | str = "auto", *, integer: bool = False, min_n_ticks: int = 2,
        steps: Sequence[float] | None = AUTO_STEPS, grid: bool | None = None, label_chars: int = 4,
        max_ticks: int = 12,
    ) -> None:
        if which not in ("x", "y"):
            raise ValueError(f"which must be 'x' or 'y', got {which!r}.")
        self.ax, self.which = ax, which
        axis = ax.xaxis if which == "x" else ax.yaxis
        self.locator = MaxNLocator(nbins, integer=integer, min_n_ticks=min_n_ticks, steps=steps)
        self.locator.set_axis(axis)  # nbins="auto" asks the axis how many labels fit, as AutoLocator does
        axis.set_major_locator(NullLocator())
        axis.set_minor_locator(NullLocator())
        size, width = rcParams[f"{which}tick.major.size"], rcParams[f"{which}tick.major.width"]
        pad, fontsize = rcParams[f"{which}tick.major.pad"], rcParams[f"{which}tick.labelsize"]
        color = rcParams[f"{which}tick.color"]
        labelcolor = rcParams[f"{which}tick.labelcolor"]
        labelcolor = color if labelcolor == "inherit" else labelcolor
        dpi_scale = ax.figure.dpi_scale_trans
        base = ax.get_xaxis_transform() if which == "x" else ax.get_yaxis_transform()
        shift = (0.0, -(size + pad) / 72) if which == "x" else (-(size + pad) / 72, 0.0)
        self.marks = Line2D([], [], transform=base, linestyle="none", marker=TICKDOWN if which == "x" else TICKLEFT,
                            markersize=size, markeredgewidth=width, color=color, clip_on=False)
        ax.add_artist(self.marks)
        template = Text(0, 0, "", transform=base + ScaledTranslation(*shift, dpi_scale), fontsize=fontsize,
                        color=labelcolor, ha="center" if which == "x" else "right",
                        va="top" if which == "x" else "center_baseline")
        template.set_figure(ax.figure)
        self.labels = ax.add_artist(TickLabels(template))  # in the axes too: a plain draw shows the ticks
        self.max_ticks = max_ticks
        show_grid = rcParams["axes.grid"] and rcParams["axes.grid.axis"] in ("both", which) if grid is None else grid
        self.grid = None
        if show_grid:
            self.grid = Line2D([], [], transform=base, color=rcParams["grid.color"], alpha=rcParams["grid.alpha"],
                               linewidth=rcParams["grid.linewidth"], linestyle=rcParams["grid.linestyle"])
            ax.add_artist(self.grid)
        # The axis label where matplotlib would put it beyond one line of labels (a label is 1 em high, a digit
        # ~0.63 em wide in DejaVu Sans); it is static: drawn once into the background.
        room = size + pad + rcParams["axes.labelpad"]
        if which == "x":
            axis.set_label_coords(0.5, 0.0, transform=ax.transAxes + ScaledTranslation(
                0, -(room + _points(fontsize)) / 72, dpi_scale))
        else:
            axis.set_label_coords(0.0, 0.5, transform=ax.transAxes + ScaledTranslation(
                -(room + 0.63 * label_chars * _points(fontsize)) / 72, 0, dpi_scale))
        self.values: list[float] = []

    @property
    def artists(self) -> list:
        """The artists to register as dynamic: grid lines (if any), tick marks, labels."""
        return ([self.grid] if self.grid is not None else []) + [self.marks, self.labels]

    def update(self) -> list[float]:
        """Place the ticks for the axis's current limits; returns the tick values."""
        lo, hi = self.ax.get_xlim() if self.which == "x" else self.ax.get_ylim()
        lo, hi = min(lo, hi), max(lo, hi)
        pad = 1e-9 * max(abs(lo), abs(hi), hi - lo)
        values = [float(v) for v in self.locator.tick_values(lo, hi) if lo - pad <= v <= hi + pad]
        values = values[: self.max_ticks]
        zeros = np.zeros(len(values))
        if self.which == "x":
            self.marks.set_data(values, zeros)
        else:
            self.marks.set_data(zeros, values)
        if self.grid is not None:
            line = [v for value in values for v in (value, value, math.nan)]
            ends = [v for _ in values for v in (0.0, 1.0, math.nan)]
            if self.which == "x":
                self.grid.set_data(line, ends)
            else:
                self.grid.set_data(ends, line)
        texts = tick_labels(values)
        self.labels.set_labels([(v, 0.0, t) if self.which == "x" else (0.0, v, t) for v, t in zip(values, texts,
                                                                                                   strict=True)])
        self.values = values
        return values


def _points(fontsize) -> float:
    """A font size (points or a name such as 'small') in points."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=fontsize).get_size_in_points()
