"""The batch-statistics explorer: wiring tested by setting control values."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import setup_notebook
from course_utils.experiments import batchnorm as E
from course_utils.widgets import BENCHMARKS, KERNEL_BUDGET_MS, Explorer
from course_utils.widgets.batchnorm import BATCH_SIZES, MOMENTA, build_batchstats_explorer, make_draw

setup_notebook(quiet=True)


@pytest.fixture(scope="module")
def explorer():
    return build_batchstats_explorer()


def test_builds(explorer):
    assert isinstance(explorer, Explorer)
    assert set(explorer.controls) == {"batch_size", "momentum", "outlier"}
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert list(explorer.controls["batch_size"].options) == list(BATCH_SIZES)
    assert list(explorer.controls["momentum"].options) == list(MOMENTA)


CHANGES = [("batch_size", 2), ("momentum", 0.01), ("outlier", 8.0), ("batch_size", 256)]


@pytest.mark.parametrize("control,value", CHANGES)
def test_controls_redraw(explorer, control, value):
    before, redraws = explorer.image.value, explorer.redraws
    explorer.controls[control].value = value
    assert explorer.redraws == redraws + 1
    assert bytes(explorer.image.value) != bytes(before)


def test_draw_is_pure():
    draw = make_draw(E.stat_stream(steps=10))
    assert isinstance(draw(batch_size=4, momentum=0.1, outlier=0.0), Figure)
    with pytest.raises(ValueError, match="batch_size"):
        draw(batch_size=1, momentum=0.1, outlier=0.0)


def test_registered_benchmark():
    bench = [b for b in BENCHMARKS if b.name == "batchnorm"]
    assert len(bench) == 1 and bench[0].budget_ms == KERNEL_BUDGET_MS


def test_explorer_updates_one_figure_in_place():
    # A new figure per move costs most of the 100 ms budget; the explorer reuses one panel.
    explorer = build_batchstats_explorer()
    figures = []
    original = explorer.draw
    explorer.draw = lambda **values: figures.append(original(**values)) or figures[-1]
    for control, value in CHANGES:
        explorer.controls[control].value = value
    assert len(figures) == len(CHANGES) and all(fig is figures[0] for fig in figures)
    fig = figures[0]
    assert len(fig.axes) == 2 and [len(ax.lines) for ax in fig.axes] == [6, 2]


# ---------- moved here by subject: tests written against one-line bugs that survived the unit tests
# (a planted-bug run over the code of notebooks 03-05; each comment names the bug it failed with)


def test_batchstats_explorer_passes_torchs_momentum_through(monkeypatch):
    # Planted: the explorer handing running_traces 1 - momentum (the other convention).
    from course_utils.widgets import batchnorm as W

    seen = {}
    monkeypatch.setattr(W.BatchStatsPanel, "update", lambda self, traces, *args: seen.update(traces) or "figure")
    stream = E.stat_stream(max_batch=8, steps=10)
    assert W.make_draw(stream)(4, 0.05, 0.0) == "figure"
    expected = E.running_traces(stream, 4, 0.05)
    np.testing.assert_allclose(seen["running_mean"], expected["running_mean"])
    assert seen["running_mean"][0] == pytest.approx(0.05 * stream[0, :4].mean())
