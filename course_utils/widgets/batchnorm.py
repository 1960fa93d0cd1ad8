"""The batch-statistics explorer: batch size and momentum show how noisy the batch mean/variance are
compared with the running estimates; an outlier slider moves one example and every other example's
normalized value moves with it.

Everything is numpy on a precomputed stream of values (:func:`course_utils.experiments.batchnorm.stat_stream`),
so a control change only recomputes 150 running-average steps and redraws.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from ..experiments import batchnorm as exp
from ..plots.batchnorm import BatchStatsPanel
from . import BENCHMARKS, Explorer, ExplorerBenchmark

__all__ = ["build_batchstats_explorer", "make_draw", "BATCH_SIZES", "MOMENTA"]

BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
MOMENTA = (0.01, 0.05, 0.1, 0.3, 0.9)
OUTLIER_BATCH = 16


def make_draw(stream=None):
    """The draw function: ``draw(batch_size, momentum, outlier) -> Figure``. Every call updates the same
    :class:`BatchStatsPanel` in place (fast) and returns its figure; what it shows depends only on the
    arguments."""
    stream = exp.stat_stream() if stream is None else np.asarray(stream, dtype=np.float64)
    if stream.ndim != 2:
        raise ValueError(f"stream must be 2-D (steps, examples), got shape {stream.shape}.")
    batch = stream[0, :OUTLIER_BATCH]
    panel = BatchStatsPanel(len(stream), exp.EXPLORER_MEAN, exp.EXPLORER_STD**2, others=len(batch) - 1)

    def draw(batch_size: int, momentum: float, outlier: float):
        traces = exp.running_traces(stream, batch_size, momentum)
        effect = exp.outlier_effect(batch, outlier)
        return panel.update(traces, effect, batch_size, momentum, outlier)

    return draw


def build_batchstats_explorer(seed: int = 0) -> Explorer:
    """Controls: ``batch_size`` (2..256), ``momentum`` (torch's: weight of the newest batch) and
    ``outlier`` (where example 0 of a 16-example batch sits, in data standard deviations)."""
    controls = {
        "batch_size": w.SelectionSlider(options=list(BATCH_SIZES), value=8, description="batch size"),
        "momentum": w.SelectionSlider(options=list(MOMENTA), value=0.1, description="momentum"),
        "outlier": w.FloatSlider(value=0.0, min=-10.0, max=10.0, step=0.5, description="outlier (std)"),
    }
    return Explorer(controls=controls, draw=make_draw(exp.stat_stream(seed=seed)))


if not any(b.name == "batchnorm" for b in BENCHMARKS):
    BENCHMARKS.append(
        ExplorerBenchmark(
            name="batchnorm",
            build=build_batchstats_explorer,
            changes=(("batch_size", 2), ("momentum", 0.01), ("outlier", 8.0), ("batch_size", 256)),
        )
    )
