"""Notebook 00's explorer: move a feature's mean and spread, see standardization undo both."""

from __future__ import annotations

import ipywidgets as w

from ..plots.basics import StandardizationPanel
from . import BENCHMARKS, Explorer, ExplorerBenchmark


def build_standardize_explorer(mean: float = 50.0, std: float = 10.0) -> Explorer:
    """Sliders for a feature's mean and std; the right panel (standardized) never moves."""
    controls = {
        "mean": w.FloatSlider(value=mean, min=-100.0, max=100.0, step=5.0, description="mean"),
        "std": w.FloatLogSlider(value=std, base=10, min=-2, max=3, step=0.25, description="std"),
    }
    return Explorer(controls=controls, draw=StandardizationPanel().update)


BENCHMARKS.append(
    ExplorerBenchmark("standardize explorer (00)", build_standardize_explorer, (("mean", -20.0), ("std", 100.0)), 100)
)
