"""The dropout explorer: wiring tested by setting control values and clicking the button (small grid)."""

import ipywidgets as w
import pytest

from course_utils import setup_notebook
from course_utils.widgets import BENCHMARKS, Explorer
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
    assert len(bench) == 1 and bench[0].budget_ms == 100


def test_bad_arguments():
    with pytest.raises(TypeError, match="grid must be"):
        build_dropout_explorer(grid="not a grid")
    with pytest.raises(ValueError, match="digit_index"):
        make_draw(None, digit_index=-1)
