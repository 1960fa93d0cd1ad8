"""The explorers' glyph cache (course_utils.plots.glyphs) draws matplotlib's own pixels, cold and warm."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_utils.plots import glyphs


def figure(title: str) -> Figure:
    fig = Figure(figsize=(4, 2.5), dpi=80)
    ax = fig.subplots()
    ax.plot([0, 1.7], [0.3, 2.2])
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("rotated label, 90°")  # angle 90
    ax.set_xlabel(r"$w_1$ (weight of x1 ~ N(0, 1)) and $\frac{1}{2}$")  # mathtext with a fraction bar
    ax.text(0.3, 1.0, "tilted", rotation=30)
    return fig


def pixels(fig: Figure, cached: bool) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    if cached:
        glyphs.use_glyph_cache(canvas.get_renderer())
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_cached_glyphs_give_matplotlibs_pixels_cold_and_warm():
    for title in ("loss gap 3.3e-01, condition 2.72e+03", "another title: 0.125"):
        plain = pixels(figure(title), cached=False)
        fig = figure(title)
        cold = pixels(fig, cached=True)
        canvas = fig.canvas
        canvas.draw()  # the same renderer again: every glyph and layout now comes from the caches
        warm = np.asarray(canvas.buffer_rgba()).copy()
        assert canvas.get_renderer()._normcourse_glyphs, "the cache was not used"
        assert np.array_equal(cold, plain), f"{(cold != plain).any(-1).sum()} pixels differ from matplotlib's"
        assert np.array_equal(warm, plain)


def test_a_second_call_keeps_the_cache():
    renderer = FigureCanvasAgg(figure("x")).get_renderer()
    glyphs.use_glyph_cache(renderer)
    cache = renderer._normcourse_glyphs
    cache["marker"] = None
    glyphs.use_glyph_cache(renderer)
    assert renderer._normcourse_glyphs is cache
