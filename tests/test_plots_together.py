"""Figures of notebook 05: they draw, with labelled axes, from small inputs."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import setup_notebook
from course_utils.experiments import together as E
from course_utils.plots import together as P

setup_notebook(quiet=True)


@pytest.fixture(scope="module")
def grid():
    return E.ablation_grid(names=("none", "BN"), sizes=(100, 200), seeds=(0, 1), steps=30, hidden=(16, 16))


def labelled(fig: Figure) -> bool:
    return all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)


def test_plot_ablation(grid):
    fig = P.plot_ablation(grid)
    assert isinstance(fig, Figure) and len(fig.axes) == 3 and labelled(fig)
    with pytest.raises(ValueError, match="metrics"):
        P.plot_ablation(grid, metrics=("loss",))


def test_plot_ablation_curves(grid):
    fig = P.plot_ablation_curves(grid, 100)
    assert labelled(fig) and len(fig.axes[0].collections) == 2   # one min..max band per configuration


def test_plot_variance_shift():
    width = {"widths": (16, 64), "ratios": np.array([[0.7, 0.68], [0.8, 0.79]])}
    theory = {"d": (4, 16), "formula": [0.3, 0.45], "simulated": [0.31, 0.44]}
    fixes = {"a": {"ratio": (0.8, 0.81)}, "b: fix": {"ratio": (1.0, 0.99)}}
    fig = P.plot_variance_shift(width, theory, fixes)
    assert len(fig.axes) == 2 and labelled(fig)


def test_plot_lr_sweep():
    table = {arm: np.array([[30.0, 40.0, 35.0], [12.0, 15.0, 11.0], [80.0, 80.0, 80.0]]) for arm in E.SWEEP_ARMS}
    sweep = E.LrSweep(tuple(E.SWEEP_ARMS), (0.1, 0.3, 1.0), (0, 1, 2), 80, table)
    fig = P.plot_lr_sweep(sweep)
    assert isinstance(fig, Figure) and labelled(fig)
    assert len(fig.axes[0].get_lines()) == len(E.SWEEP_ARMS) + 1  # one line per arm and the budget line
