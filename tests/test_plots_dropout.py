"""course_utils.plots.dropout: every figure draws, from small inputs."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import setup_notebook
from course_utils.experiments import dropout as E
from course_utils.plots import dropout as P
from course_utils.widgets import figure_to_png

setup_notebook(quiet=True)
SMALL = {"p_values": (0.0, 0.5), "sizes": (50, 100), "seeds": (0, 1), "steps": 40, "hidden": (32, 32)}


@pytest.fixture(scope="module")
def grid():
    return E.sweep_grid(**SMALL)


def _ok(fig):
    assert isinstance(fig, Figure)
    assert figure_to_png(fig).startswith(b"\x89PNG")


def test_diagram_deterministic():
    assert figure_to_png(P.plot_dropout_diagram()) == figure_to_png(P.plot_dropout_diagram())


def test_mechanism_plots():
    _ok(P.plot_kept_counts(E.kept_counts(20, 0.5, 500), 20, 0.5, E.binomial_pmf(20, 0.5)))
    x = np.linspace(0.1, 2, 10)
    _ok(P.plot_mean_output(x, E.mean_output(x, 0.5), E.mean_output(x, 0.5, rescale=False), 0.5))


def test_grid_plots(grid):
    _ok(P.plot_sweeps(grid))
    _ok(P.plot_sweeps(grid, "val_loss"))


def test_other_plots(grid):
    model = grid.runs[(0.5, 50, 0)].model
    X, y = E._digits().tensors("val")
    _ok(P.plot_activation_hist({"a": np.abs(np.random.default_rng(0).normal(size=100)), "b": np.ones(10)}))
    _ok(P.plot_mc_vs_k(E.mc_vs_weight_scaling(model, X[:50], y[:50], ks=(1, 5))))


def test_new_02_figures(grid):
    _ok(P.plot_paired_sweep(grid))
    _ok(P.plot_paired_sweep(grid, "val_loss"))
    runs = E.long_runs(50, 0.5, seeds=(0, 1), steps=30, hidden=(16,))
    _ok(P.plot_long_runs(runs))
    scores = E.uncertainty_by_seed(grid, n_train=100, p=0.5, k=3)
    _ok(P.plot_uncertainty_scores(scores))
    z = __import__("torch").randn(16, 8)
    _ok(P.plot_placement({a: E.placement_gaps(z, 0.5, a) for a in ("relu", "tanh", "sigmoid")}))


def test_sweep_plot_uses_an_ordered_palette_and_labels_axes(grid):
    fig = P.plot_sweeps(grid)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_ylim()[1] - ax.get_ylim()[0] >= 0.5   # not zoomed onto a 1-point difference
