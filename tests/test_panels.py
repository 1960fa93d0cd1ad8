"""course_utils.plots.Panel: explorers' figures updated in place and rendered over a cached background."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from course_utils import setup_notebook
from course_utils.experiments.depth import depth_statistics
from course_utils.plots import Panel
from course_utils.plots.basics import StandardizationPanel
from course_utils.plots.depth import DepthPanel
from course_utils.widgets import figure_to_png
from course_utils.widgets.basics import build_standardize_explorer

setup_notebook(quiet=True)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_blitted_render_equals_a_fresh_panels_render_after_every_update():
    # A reused panel (cached background, only the data redrawn) must show exactly what a new panel shows.
    panel = StandardizationPanel()
    for mean, std in ((50.0, 10.0), (50.0, 10.0), (-20.0, 100.0), (-20.0, 100.0), (-25.0, 100.0)):
        panel.update(mean, std)
        fresh = StandardizationPanel()
        fresh.update(mean, std)
        assert np.array_equal(pixels(panel.png()), pixels(fresh.png()))
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


def test_background_is_redrawn_only_when_a_limit_changes(monkeypatch):
    panel = StandardizationPanel()
    draws = []
    original = panel.canvas.draw
    monkeypatch.setattr(panel.canvas, "draw", lambda: draws.append(1) or original())
    panel.update(50.0, 10.0)
    panel.png()
    panel.png()
    assert len(draws) == 1
    panel.update(-20.0, 100.0)  # the raw axis' limits follow the data
    panel.png()
    assert len(draws) == 2
    panel.update(50.0, 10.0)  # back to limits seen recently: their background is still there
    panel.png()
    assert len(draws) == 2


def test_figure_to_png_renders_a_panel_through_it_and_a_plain_figure_as_before():
    panel = StandardizationPanel()
    fig = panel.update(1.0, 2.0)
    assert figure_to_png(fig) == panel.png()
    plain = Figure(figsize=(2, 2))
    plain.subplots().plot([0, 1])
    assert figure_to_png(plain)[:8] == b"\x89PNG\r\n\x1a\n"


def test_standardize_explorer_updates_one_figure_in_place():
    explorer = build_standardize_explorer()
    first = explorer.draw(**explorer.values())
    explorer.controls["mean"].value = -20.0
    explorer.controls["std"].value = 100.0
    assert explorer.draw(**explorer.values()) is first
    raw, standardized = first.axes[0].texts[0].get_text(), first.axes[1].texts[0].get_text()
    assert raw.startswith("raw feature: mean -22.69, std 101.36")
    assert standardized == "standardized: mean 0.00, std 1.00"


def test_dropout_panel_shows_what_plot_explorer_shows_and_reuse_equals_fresh():
    from course_utils.data import load_digits
    from course_utils.experiments.dropout import sweep_grid
    from course_utils.plots.dropout import ExplorerPanel, plot_explorer

    grid = sweep_grid(p_values=(0.0, 0.5), sizes=(50, 100), seeds=(0,), steps=20, hidden=(8,))
    image = load_digits().X_test[0].reshape(8, 8).astype("float64")
    panel = ExplorerPanel(grid, image)
    for p, n, seed in ((0.5, 50, 0), (0.0, 50, 0), (0.5, 100, 3), (0.5, 100, 4), (0.5, 50, 4)):
        fig = panel.update(p, n, seed)
        reference = plot_explorer(grid, p, n, image, seed)
        ref_loss, ref_mask = reference.axes
        assert panel.title.get_text() == ref_loss.get_title()
        assert panel.mask_title.get_text() == ref_mask.get_title()
        assert [t.get_text() for t in panel.legend.get_texts()] == [
            t.get_text() for t in ref_loss.get_legend().get_texts()]
        shown = [line for line in fig.axes[0].lines if line.get_visible()]
        assert [tuple(map(tuple, line.get_xydata())) for line in shown] == [
            tuple(map(tuple, line.get_xydata())) for line in ref_loss.lines]
        assert fig.axes[0].get_ylim()[0] == 0 and np.allclose(fig.axes[0].get_ylim(), ref_loss.get_ylim())
        assert np.array_equal(panel.mask_image.get_array(), ref_mask.images[0].get_array())
        assert np.array_equal(panel.crosses.get_offsets(), ref_mask.collections[0].get_offsets())
        fresh = ExplorerPanel(grid, image)
        fresh.update(p, n, seed)
        assert np.array_equal(pixels(panel.png()), pixels(fresh.png())), (p, n, seed)
