"""The dropout explorer: wiring tested by setting control values and clicking the button (small grid)."""

import ipywidgets as w
import pytest

from course_utils import setup_notebook
from course_utils.widgets import BENCHMARKS, KERNEL_BUDGET_MS, Explorer
from course_utils.widgets.dropout import build_dropout_explorer, make_draw

setup_notebook(quiet=True)
SMALL = {"p_values": (0.0, 0.5), "sizes": (50, 100), "seeds": (0,), "steps": 40, "hidden": (32, 32)}


@pytest.fixture(scope="module")
def explorer():
    return build_dropout_explorer(**SMALL)


def test_builds(explorer):
    assert isinstance(explorer, Explorer)
    assert set(explorer.controls) == {"p", "n_train", "mask_seed"}
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert any(isinstance(x, w.Button) for x in explorer.extra)


@pytest.mark.parametrize("control,value", [("p", 0.0), ("n_train", 100), ("mask_seed", 5)])
def test_controls_redraw(explorer, control, value):
    before, redraws = explorer.image.value, explorer.redraws
    explorer.controls[control].value = value
    assert explorer.redraws == redraws + 1
    assert bytes(explorer.image.value) != bytes(before)


def test_button_resamples_mask(explorer):
    button = next(x for x in explorer.extra if isinstance(x, w.Button))
    explorer.controls["p"].value = 0.5
    seed, before = explorer.controls["mask_seed"].value, explorer.image.value
    button.click()
    assert explorer.controls["mask_seed"].value == seed + 1
    assert bytes(explorer.image.value) != bytes(before)


def test_registered_benchmark():
    bench = [b for b in BENCHMARKS if b.name == "dropout"]
    assert len(bench) == 1 and bench[0].budget_ms == KERNEL_BUDGET_MS


def test_bad_arguments():
    with pytest.raises(TypeError, match="grid must be"):
        build_dropout_explorer(grid="not a grid")
    with pytest.raises(ValueError, match="digit_index"):
        make_draw(None, digit_index=-1)


def test_button_wraps_around_at_the_maximum_seed(explorer):
    button = next(x for x in explorer.extra if isinstance(x, w.Button))
    seed = explorer.controls["mask_seed"]
    explorer.controls["p"].value = 0.5
    seed.value = seed.max
    before = bytes(explorer.image.value)
    button.click()
    assert seed.value == seed.min and bytes(explorer.image.value) != before


def test_out_of_range_digit_index_is_named():
    from course_utils.experiments import dropout as E

    grid = E.sweep_grid(**SMALL)
    with pytest.raises(ValueError, match="digit_index"):
        make_draw(grid, digit_index=10_000)
    with pytest.raises(ValueError, match="digit_index"):
        build_dropout_explorer(grid, digit_index=359)


def test_grid_without_the_default_p_or_without_p0_still_builds():
    from course_utils.experiments import dropout as E

    grid = E.sweep_grid(p_values=(0.2, 0.8), sizes=(50,), seeds=(0, 1), steps=20, hidden=(16,))
    explorer = build_dropout_explorer(grid)
    assert explorer.controls["p"].value == 0.8
    explorer.controls["p"].value = 0.2          # the baseline itself
    assert explorer.redraws == 2


def test_panel_shows_hidden_units_and_every_seed():
    from course_utils.experiments import dropout as E
    from course_utils.plots.dropout import DropoutPanel

    grid = E.sweep_grid(p_values=(0.0, 0.5), sizes=(50,), seeds=(0, 1), steps=20, hidden=(16,))
    panel = DropoutPanel(grid, E._digits().X_test[0])
    panel.update(0.5, 50, 3)
    assert panel.units.get_array().shape == (4, 4)                 # one square per hidden unit
    assert len(panel.seed_dots.get_xdata()) == 2 * 2               # every seed at every p
    dropped = len(panel.crosses.get_offsets())
    assert 0 < dropped < 16
    panel.update(0.0, 50, 3)
    assert len(panel.crosses.get_offsets()) == 0                   # p = 0 drops nothing
    with pytest.raises(ValueError, match="p must be one of|p"):
        panel.update(0.3, 50, 0)
