"""Notebook 04's explorers: every control redraws; draw functions are pure and refuse bad input."""

import numpy as np
import pytest

import course_utils.widgets as widgets
from course_utils.experiments import layernorm as E
from course_utils.widgets import KERNEL_BUDGET_MS
from course_utils.widgets import layernorm as L


def test_axes_explorer_every_control_redraws():
    ex = L.build_axes_explorer()
    assert ex.redraws == 1 and ex.image.value[:4] == b"\x89PNG"
    for name, value in [("method", "group"), ("groups", 4), ("method", "batch"), ("method", "instance")]:
        before, count = ex.image.value, ex.redraws
        ex.controls[name].value = value
        assert ex.redraws == count + 1 and ex.image.value != before, (name, value)
    assert list(ex.controls["groups"].options) == [1, 2, 4]
    # The browser test moves each control once from the start: groups must change the picture for any method.
    for method in ("layer", "batch"):
        ex.controls["method"].value = method
        before = ex.image.value
        ex.controls["groups"].value = 1 if ex.controls["groups"].value != 1 else 2
        assert ex.image.value != before, method


def test_axes_draw_shows_the_statistics():
    draw = L.make_axes_draw()
    fig = draw("group", 2)
    texts = [t.get_text() for t in fig.texts]
    assert "4 means/variances:" in texts and sum(t.startswith("mean ") for t in texts) == 4
    assert "GroupNorm with 2 groups" in fig._suptitle.get_text()
    cells = [t.get_text() for t in fig.axes[0].texts if not t.get_text().startswith("sample")]
    assert len(cells) == 24 and cells[0] == f"{L.example_tensor()[0, 0, 0, 0]:.1f}"
    with pytest.raises(ValueError, match="method"):
        draw("rms", 2)
    with pytest.raises(ValueError, match="groups"):
        draw("group", 3)
    with pytest.raises(ValueError, match="x must be"):
        L.make_axes_draw(np.ones((2, 4)))


def test_depth_explorer_redraws_from_precomputed_norms():
    grads = E.depth_grad_norms(depths=(2, 3), seeds=(0, 1))
    ex = L.build_depth_explorer(grads)
    before = ex.image.value
    ex.controls["depth"].value = 2 if ex.controls["depth"].value == 3 else 3
    assert ex.redraws == 2 and ex.image.value != before
    with pytest.raises(ValueError, match="depth"):
        L.make_depth_draw(grads)(5)
    with pytest.raises(TypeError, match="DepthGradNorms"):
        L.make_depth_draw({})


def test_registered_in_benchmarks_with_100ms_budget():
    names = {b.name: b for b in widgets.BENCHMARKS}
    for name in ("layernorm-axes", "layernorm-depth"):
        assert names[name].budget_ms == KERNEL_BUDGET_MS


def _recording(ex):
    figures, original = [], ex.draw
    ex.draw = lambda **values: figures.append(original(**values)) or figures[-1]
    return figures


def test_explorers_update_one_figure_in_place():
    # A new figure per move costs most of the 100 ms budget; each explorer reuses one panel.
    ex = L.build_axes_explorer()
    figures = _recording(ex)
    for name, value in [("method", "group"), ("groups", 4), ("method", "batch"), ("groups", 1)]:
        ex.controls[name].value = value
    assert len(figures) == 4 and all(fig is figures[0] for fig in figures)
    assert len(figures[0].axes) == 1 and len(figures[0].axes[0].images) == 1
    grads = E.depth_grad_norms(depths=(2, 3), seeds=(0, 1))
    ex = L.build_depth_explorer(grads)
    figures = _recording(ex)
    for depth in (2, 3, 2):
        ex.controls["depth"].value = depth
    assert len(figures) == 3 and all(fig is figures[0] for fig in figures)
    assert len(figures[0].axes[0].lines) == 2 and len(figures[0].axes[0].collections) == 2


@pytest.mark.parametrize("channels", [3, 5, 1])
def test_axes_explorer_takes_any_channel_count(channels):
    # The groups slider defaulted to 2, which is no divisor of 3 or 5: ipywidgets' TraitError instead of an explorer.
    x = np.random.default_rng(0).normal(size=(2, channels, 2, 2))
    ex = L.build_axes_explorer(x)
    options = list(ex.controls["groups"].options)
    assert options == [g for g in range(1, channels + 1) if channels % g == 0]
    assert ex.controls["groups"].value == (channels if channels > 1 else 1)
    ex.controls["method"].value = "group"
    assert ex.redraws >= 2


def test_depth_benchmark_moves_only_to_depths_the_explorer_offers():
    bench = next(b for b in widgets.BENCHMARKS if b.name == "layernorm-depth")
    assert all(value in E.DEPTHS for control, value in bench.changes if control == "depth")
