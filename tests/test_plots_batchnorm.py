"""Notebook 03's figures: each returns a Figure with labelled axes."""

import numpy as np
import pytest
from matplotlib.figure import Figure

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


@pytest.mark.parametrize("outlier", [0.0, 10.0])
def test_explorer_figure(outlier):
    stream = E.stat_stream(steps=20)
    fig = P.plot_explorer(E.running_traces(stream, 8, 0.1), E.outlier_effect(stream[0, :16], outlier), 8, 0.1,
                          outlier, E.EXPLORER_MEAN, E.EXPLORER_STD**2)  # fmt: skip
    assert labelled(fig)
