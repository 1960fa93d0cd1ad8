"""The depth explorer: controls redraw the image; bad input is refused before matplotlib sees it."""

import pytest

import course_utils.widgets as widgets
from course_utils.experiments.depth import depth_statistics
from course_utils.widgets import KERNEL_BUDGET_MS
from course_utils.widgets.depth import build_depth_explorer, draw_depth


def test_every_control_redraws():
    ex = build_depth_explorer(depth=4)
    assert ex.redraws == 1 and ex.image.value[:4] == b"\x89PNG"
    for name, value in [("depth", 6), ("init", "small"), ("gain", 2.0), ("activation", "tanh"), ("input_scale", 10.0)]:
        before, count = ex.image.value, ex.redraws
        ex.controls[name].value = value
        assert ex.redraws == count + 1, name
        assert ex.image.value != before, name


def test_registered_in_benchmarks_with_100ms_budget():
    bench = [b for b in widgets.BENCHMARKS if b.name == "depth explorer"]
    assert len(bench) == 1 and bench[0].budget_ms == KERNEL_BUDGET_MS


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"depth": 0}, ValueError, "depth"),
        ({"depth": 16}, ValueError, "depth"),
        ({"gain": -1.0}, ValueError, "gain"),
        ({"gain": 10.0}, ValueError, "gain"),
        ({"activation": "gelu"}, ValueError, "activation"),
        ({"init": "he"}, ValueError, "init"),
        ({"input_scale": 0.0}, ValueError, "input_scale"),
    ],
)
def test_bad_input_to_builder(kwargs, error, match):
    with pytest.raises(error, match=match):
        build_depth_explorer(**kwargs)


def test_bad_input_to_draw():
    with pytest.raises(ValueError, match="depth"):
        draw_depth(depth=0, init="kaiming", gain=1.0, activation="relu", input_scale=1.0)
    with pytest.raises(ValueError, match="gain"):
        draw_depth(depth=3, init="kaiming", gain=-0.5, activation="relu", input_scale=1.0)


@pytest.mark.parametrize(("gain", "input_scale", "match"), [(1e300, 1.0, "gain must be between"),
                                                            (1.0, 1e300, "input_scale must be between"),
                                                            (1e-300, 1.0, "gain must be between")])
def test_extreme_values_are_refused_before_anything_overflows(gain, input_scale, match):
    with pytest.raises(ValueError, match=match):
        draw_depth(depth=3, init="kaiming", gain=gain, activation="relu", input_scale=input_scale)


def test_the_explorer_shows_what_depth_statistics_gives():
    # Its statistics come from a DepthStatisticsCache: after each move the picture must be the one a fresh
    # panel draws from depth_statistics itself for the controls' values.
    from course_utils.plots.depth import DepthPanel
    from course_utils.widgets.depth import N_SAMPLES

    ex = build_depth_explorer(depth=4)
    for name, value in [("depth", 9), ("init", "large"), ("gain", 2.0), ("activation", "sigmoid"),
                        ("input_scale", 10.0)]:
        ex.controls[name].value = value
        v = ex.values()
        stats = depth_statistics(v["depth"], v["activation"], v["init"], round(v["gain"], 4),
                                 round(v["input_scale"], 6), n_samples=N_SAMPLES)
        fresh = DepthPanel(max_depth=15)
        fresh.update(stats)
        assert ex.image.value == fresh.png(), name
