"""Notebook 03's figures: each returns a Figure with labelled axes."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from course_utils import setup_notebook
from course_utils.experiments import batchnorm as E
from course_utils.plots import batchnorm as P

setup_notebook(quiet=True)


def labelled(fig: Figure) -> bool:
    return all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)


def test_diagram():
    fig = P.plot_bn_diagram()
    assert isinstance(fig, Figure) and labelled(fig)


def test_eval_batch():
    fig = P.plot_eval_batch({"batch_size": [2, 4], "train": [0.5, 0.8], "eval": [0.9, 0.9]})
    assert labelled(fig)


def test_fig1_and_sweeps():
    runs = E.fig1_runs(seeds=(0,), steps=50)
    assert labelled(P.plot_fig1(runs))
    sw = {"values": [0.1, 1.0], "none": np.array([[0.1], [0.5]]), "batch": np.array([[0.9], [0.95]])}
    assert labelled(P.plot_sweeps(sw, sw))


def test_small_batches_and_padding():
    errs = {32: np.array([3.0, 4.0]), 2: np.array([40.0, 50.0])}
    assert labelled(P.plot_small_batches(errs, E.WU_HE_BN, E.WU_HE_GN))
    assert labelled(P.plot_padding(E.padding_pollution()))


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _full_draw(fig: Figure) -> np.ndarray:
    """The figure drawn by matplotlib from scratch (no panel, no cached pixels)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return _pixels(buffer.getvalue())


SETTINGS = [(8, 0.1, 0.0), (8, 0.1, 0.0), (2, 0.9, 10.0), (256, 0.01, -7.5), (8, 0.1, 0.0)]


def test_reused_panel_renders_exactly_like_a_fresh_one_and_like_a_full_draw():
    stream = E.stat_stream(steps=30)
    panel = P.BatchStatsPanel(30, E.EXPLORER_MEAN, E.EXPLORER_STD**2)
    for batch_size, momentum, outlier in SETTINGS:
        args = (E.running_traces(stream, batch_size, momentum), E.outlier_effect(stream[0, :16], outlier),
                batch_size, momentum, outlier)
        panel.update(*args)
        fresh = P.BatchStatsPanel(30, E.EXPLORER_MEAN, E.EXPLORER_STD**2)
        fresh.update(*args)
        reused = _pixels(panel.png())
        assert np.array_equal(reused, _pixels(fresh.png())), (batch_size, momentum, outlier)
        # Drawing only what moved over the cached background must look like matplotlib drawing it all
        # (a few pixels differ where a data line crosses a spine: drawn after it, not before).
        differs = np.abs(reused - _full_draw(panel.figure)).sum(axis=-1) > 0
        assert differs.sum() < 20, (batch_size, momentum, outlier, differs.sum())


def test_explorer_panel_keeps_its_limits_and_titles_on_the_axes():
    stream = E.stat_stream(steps=30)
    panel = P.BatchStatsPanel(30, E.EXPLORER_MEAN, E.EXPLORER_STD**2)
    limits = [(ax.get_xlim(), ax.get_ylim()) for ax in panel.axes]
    panel.update(E.running_traces(stream, 2, 0.9), E.outlier_effect(stream[0, :16], 10.0), 2, 0.9, 10.0)
    panel.png()
    assert [(ax.get_xlim(), ax.get_ylim()) for ax in panel.axes] == limits
    assert panel.axes[0].title.get_text().startswith("batch 2, momentum 0.9 (Keras 0.1)")
    assert panel.axes[1].title.get_text().startswith("example 0 at +10 std")
    assert [ax.title.get_position()[1] for ax in panel.axes] == [1.0, 1.0]
    with pytest.raises(ValueError, match="traces"):
        panel.update(E.running_traces(E.stat_stream(steps=10), 2, 0.9), E.outlier_effect(stream[0, :16], 0.0), 2,
                     0.9, 0.0)
