"""LiveTicks: an explorer's ticks drawn as a few artists over a fixed background, looking like matplotlib's."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from course_utils import setup_notebook
from course_utils.plots.ticks import LiveTicks, tick_labels

setup_notebook(quiet=True)


def axes_pair():
    """Two identical axes side by side: one with matplotlib's ticks, one with LiveTicks."""
    fig = Figure(figsize=(6, 2.5), dpi=80)
    theirs, ours = fig.subplots(1, 2)
    FigureCanvasAgg(fig)
    return fig, theirs, ours


@pytest.mark.parametrize(("values", "labels"), [
    ([0.0, 0.5, 1.0], ["0.0", "0.5", "1.0"]),
    ([-400, -200, 0, 200], ["\N{MINUS SIGN}400", "\N{MINUS SIGN}200", "0", "200"]),
    ([-1e-17, 0.25], ["0.00", "0.25"]),  # never "−0.00" (a tick at 0 computed as a tiny negative)
    ([-20.02, -20.0, -19.98], ["\N{MINUS SIGN}20.02", "\N{MINUS SIGN}20.00", "\N{MINUS SIGN}19.98"]),
])
def test_tick_labels_use_the_fewest_decimals_that_tell_ticks_apart(values, labels):
    assert tick_labels(values) == labels


@pytest.mark.parametrize("limits", [(-412.3, 289.1), (11.7, 80.4), (-20.031, -19.969), (0.5, 1.5), (-1.07, 2.13)])
def test_live_ticks_sit_where_matplotlibs_ticks_would(limits):
    fig, theirs, ours = axes_pair()
    ticks = LiveTicks(ours, "x")
    for ax in (theirs, ours):
        ax.set_xlim(*limits)
    values = ticks.update()
    expected = [v for v in theirs.get_xticks() if limits[0] <= v <= limits[1]]
    assert np.allclose(values, expected)
    assert [text for _x, _y, text in ticks.labels.labels] == tick_labels(values)


def test_integer_ticks_and_a_single_tick_at_depth_one():
    fig, _theirs, ours = axes_pair()
    ticks = LiveTicks(ours, "x", 4, integer=True, min_n_ticks=1, steps=None)
    ours.set_xlim(0.5, 1.5)
    assert ticks.update() == [1.0]
    ours.set_xlim(0.5, 15.5)
    values = ticks.update()
    assert values == [float(v) for v in MaxNLocator(4, integer=True, min_n_ticks=1).tick_values(0.5, 15.5)
                      if 0.5 <= v <= 15.5]
    assert [text for _x, _y, text in ticks.labels.labels] == tick_labels(values)


def test_the_axis_labels_stay_where_matplotlib_puts_them():
    fig, theirs, ours = axes_pair()
    ticks = [LiveTicks(ours, "x"), LiveTicks(ours, "y", label_chars=3)]  # y labels 0 ... 100
    for ax in (theirs, ours):
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 100)
        ax.set_xlabel("layer")
        ax.set_ylabel("layer")
    for t in ticks:
        t.update()
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    for axis in ("xaxis", "yaxis"):
        theirs_box = getattr(theirs, axis).label.get_window_extent(renderer)
        ours_box = getattr(ours, axis).label.get_window_extent(renderer)
        shift = ours.get_window_extent(renderer).x0 - theirs.get_window_extent(renderer).x0
        assert abs(theirs_box.y0 - ours_box.y0) <= 1.5, axis
        assert abs(theirs_box.x0 + shift - ours_box.x0) <= 1.5, axis


def test_bad_axis_name():
    fig, _theirs, ours = axes_pair()
    with pytest.raises(ValueError, match="which must be 'x' or 'y'"):
        LiveTicks(ours, "z")


def test_tick_labels_draw_the_pixels_text_artists_draw():
    # One TickLabels artist with its layouts cached must paint what a Text per label paints.
    from matplotlib.transforms import ScaledTranslation

    from course_utils.plots.ticks import TickLabels

    images = []
    for use_row in (False, True):
        fig = Figure(figsize=(3, 1.2), dpi=80)
        ax = fig.subplots()
        canvas = FigureCanvasAgg(fig)
        ax.set_xlim(-1, 1)
        ax.set_xticks([])  # nothing else where the labels go (overlapping artists blend in draw order)
        ax.set_yticks([])
        transform = ax.get_xaxis_transform() + ScaledTranslation(0, 0.3, fig.dpi_scale_trans)
        style = {"transform": transform, "fontsize": 10, "color": "0.2", "ha": "center", "va": "top"}
        labels = [(-0.5, 0.0, "\N{MINUS SIGN}0.5"), (0.0, 0.0, "0.0"), (0.5, 0.0, "0.5")]
        if use_row:
            template = Text(0, 0, "", **style)
            template.set_figure(fig)
            row = ax.add_artist(TickLabels(template))
            row.set_labels(labels)
        else:
            for x, y, text in labels:
                ax.text(x, y, text, **style)
        canvas.draw()
        canvas.draw()  # the second draw uses the cached layouts
        images.append(np.asarray(canvas.buffer_rgba()).copy())
    assert np.array_equal(images[0], images[1])
