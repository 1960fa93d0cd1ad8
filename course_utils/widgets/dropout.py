"""The dropout explorer: pick p and the training-set size to see precomputed train/val curves with seed
bands, every seed's final validation accuracy, and a hidden-dropout mask on the model's first hidden layer.

The curves come from :func:`course_utils.experiments.dropout.sweep_grid` (trained once, cached, the same
grid the notebook's sweep section uses), so moving a control only redraws.
"""

from __future__ import annotations

import ipywidgets as w

from ..data import load_digits
from ..experiments import dropout as exp
from ..plots.dropout import DropoutPanel
from ..validation import check_int
from . import BENCHMARKS, Explorer, ExplorerBenchmark

__all__ = ["build_dropout_explorer", "make_draw"]


def _check_digit_index(digit_index: int) -> int:
    return check_int("digit_index", digit_index, minimum=0, maximum=len(load_digits().X_test) - 1)


def make_draw(grid, digit_index: int = 0, *, prewarm: bool = False):
    """The pure draw function of the explorer: ``draw(p, n_train, mask_seed) -> Figure`` (one
    :class:`~course_utils.plots.dropout.DropoutPanel`, updated in place). ``prewarm=True`` draws the axes
    of every (p, training-set size) once (a second or two), so that no move draws axes or tick labels."""
    split = load_digits()
    digit_index = _check_digit_index(digit_index)
    panel = DropoutPanel(grid, split.X_test[digit_index])
    if prewarm:
        panel.prewarm()

    def draw(p: float, n_train: int, mask_seed: int):
        return panel.update(p, n_train, mask_seed)

    return draw


def build_dropout_explorer(grid: exp.DropoutGrid | None = None, *, digit_index: int = 0, **grid_kwargs) -> Explorer:
    """Controls: ``p`` and ``n_train`` (values of the grid), ``mask_seed``; a "resample mask" button in
    ``extra`` draws a new mask. ``grid_kwargs`` go to :func:`sweep_grid` (tests pass a small grid)."""
    _check_digit_index(digit_index)  # before the grid, which may take a minute to train
    if grid is None:
        grid = exp.sweep_grid(**grid_kwargs)
    elif grid_kwargs:
        raise TypeError("pass either a grid or sweep_grid keyword arguments, not both.")
    if not isinstance(grid, exp.DropoutGrid):
        raise TypeError(f"grid must be a DropoutGrid from sweep_grid(...), got {type(grid).__name__}.")
    p0 = 0.5 if 0.5 in grid.p_values else grid.p_values[-1]  # the default p, or the largest in the grid
    draw = make_draw(grid, digit_index, prewarm=True)  # validates digit_index before any widget is made
    controls = {
        "p": w.SelectionSlider(options=list(grid.p_values), value=p0, description="drop p"),
        "n_train": w.SelectionSlider(options=list(grid.sizes), value=grid.sizes[0], description="train size"),
        "mask_seed": w.BoundedIntText(value=0, min=0, max=10**6, description="mask seed", layout={"width": "160px"}),
    }
    button = w.Button(description="resample mask", icon="refresh")

    def resample(_button) -> None:
        seed = controls["mask_seed"]
        seed.value = seed.value + 1 if seed.value < seed.max else seed.min  # wrap around at the maximum

    button.on_click(resample)
    return Explorer(controls=controls, draw=draw, extra=[button])


if not any(b.name == "dropout" for b in BENCHMARKS):
    BENCHMARKS.append(
        ExplorerBenchmark(
            name="dropout",
            build=build_dropout_explorer,
            changes=(("p", 0.8), ("n_train", exp.SMALL_N), ("mask_seed", 7)),
        )
    )
