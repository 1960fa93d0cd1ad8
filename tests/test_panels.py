"""course_utils.plots.Panel: explorers' figures updated in place and rendered over a cached background."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from course_utils import setup_notebook
from course_utils.experiments.depth import depth_statistics
from course_utils.plots import Panel
from course_utils.plots.depth import DepthPanel
from course_utils.widgets import figure_to_png

setup_notebook(quiet=True)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_blitted_render_equals_a_fresh_panels_render_after_every_update():
    # A reused panel (cached background, only the data redrawn) must show exactly what a new panel shows.
    depth = DepthPanel(max_depth=15)
    settings = [(6, "relu", "kaiming", 1.0), (6, "relu", "kaiming", 1.0), (6, "relu", "kaiming", 1.19),
                (9, "tanh", "large", 1.0), (9, "tanh", "xavier", 1.0)]
    for depth_, activation, init, gain in settings:
        stats = depth_statistics(depth_, activation, init, gain, n_samples=64)
        depth.update(stats)
        fresh = DepthPanel(max_depth=15)
        fresh.update(stats)
        assert np.array_equal(pixels(depth.png()), pixels(fresh.png())), (depth_, activation, init, gain)


class LinePanel(Panel):
    """The smallest panel: fixed limits, one line that updates change."""

    def __init__(self) -> None:
        super().__init__(Figure(figsize=(2, 2)))
        ax = self.figure.subplots()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("x")
        (self.line,) = ax.plot([], [], lw=3)
        self.dynamic(self.line)

    def update(self, y: float) -> Figure:
        self.line.set_data([0, 1], [y, y])
        return self.figure


def test_old_data_never_shows_through_the_cached_background():
    panel = LinePanel()
    for y in (0.2, 0.8, 0.5):
        panel.update(y)
        fresh = LinePanel()
        fresh.update(y)
        assert np.array_equal(pixels(panel.png()), pixels(fresh.png()))


class ScalingPanel(LinePanel):
    """A panel whose y limit follows the data (so its background depends on the data)."""

    def update(self, y: float) -> Figure:
        self.line.set_data([0, 1], [y, y])
        self.line.axes.set_ylim(0, max(1.0, 2 * y))
        return self.figure


def test_background_is_redrawn_only_when_a_limit_changes(monkeypatch):
    panel = ScalingPanel()
    draws = []
    original = panel.canvas.draw
    monkeypatch.setattr(panel.canvas, "draw", lambda: draws.append(1) or original())
    panel.update(0.3)
    panel.png()
    panel.update(0.4)  # same limits: the cached background serves
    panel.png()
    assert len(draws) == 1
    panel.update(5.0)  # the y limit follows the data: a new background
    panel.png()
    assert len(draws) == 2
    panel.update(0.3)  # back to limits seen recently: their background is still there
    panel.png()
    assert len(draws) == 2


def test_figure_to_png_renders_a_panel_through_it_and_a_plain_figure_as_before():
    panel = LinePanel()
    fig = panel.update(0.5)
    assert figure_to_png(fig) == panel.png()
    plain = Figure(figsize=(2, 2))
    plain.subplots().plot([0, 1])
    assert figure_to_png(plain)[:8] == b"\x89PNG\r\n\x1a\n"


def test_standardize_panels_blitted_render_equals_a_fresh_panels_render():
    from course_utils.plots.basics import StandardizePanel

    panel = StandardizePanel()
    for mean, std in [(50.0, 10.0), (-20.0, 100.0), (-20.0, 0.01), (95.0, 1000.0), (0.0, 1.0)]:
        panel.update(mean, std)
        fresh = StandardizePanel()
        fresh.update(mean, std)
        assert np.array_equal(pixels(panel.png()), pixels(fresh.png())), (mean, std)


def count_background_draws(panel, monkeypatch) -> list:
    draws: list = []
    original = panel.canvas.draw
    monkeypatch.setattr(panel.canvas, "draw", lambda: draws.append(1) or original())
    return draws


def test_explorer_panels_draw_their_background_once_whatever_the_limits(monkeypatch):
    # Their axes follow the sliders with LiveTicks, so no setting needs a full (~35 ms) redraw.
    from course_utils.plots.basics import StandardizePanel

    standardize = StandardizePanel()
    draws = count_background_draws(standardize, monkeypatch)
    for mean, std in [(50.0, 10.0), (-20.0, 100.0), (-20.0, 0.01), (95.0, 1000.0)]:
        standardize.update(mean, std)
        standardize.png()
    assert len(draws) == 1
    depth = DepthPanel(max_depth=15)
    draws = count_background_draws(depth, monkeypatch)
    for depth_, activation, init, scale in [(1, "relu", "kaiming", 1.0), (15, "relu", "small", 1.0),
                                            (7, "tanh", "large", 100.0), (3, "sigmoid", "xavier", 0.01)]:
        depth.update(depth_statistics(depth_, activation, init, 1.0, scale, n_samples=64))
        depth.png()
    assert len(draws) == 1
