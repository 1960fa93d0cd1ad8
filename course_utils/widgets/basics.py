"""Notebook 00's explorer: move a feature's mean and spread, see standardization undo both."""

from __future__ import annotations

import ipywidgets as w

from ..plots.basics import StandardizePanel, _check_setting
from . import BENCHMARKS, Explorer, ExplorerBenchmark


def build_standardize_explorer(mean: float = 50.0, std: float = 10.0) -> Explorer:
    """Sliders for a feature's mean and std. Left: the raw feature; middle: standardized (it never moves);
    right: the loss contours of a regression on (x1, this feature) and 20 gradient-descent steps from (0, 0)
    at the best single learning rate: the further the feature is from mean 0 / std 1, the more elongated
    the valley and the slower the descent."""
    mean, std = _check_setting(mean, std)
    if not (-100 <= mean <= 100 and 0.01 <= std <= 1000):
        raise ValueError(f"mean must be in [-100, 100] and std in [0.01, 1000] for the sliders, got {mean}, {std}.")
    panel = StandardizePanel()
    controls = {
        "mean": w.FloatSlider(value=mean, min=-100.0, max=100.0, step=5.0, description="mean"),
        "std": w.FloatLogSlider(value=std, base=10, min=-2, max=3, step=0.25, description="std"),
    }
    return Explorer(controls=controls, draw=panel.update)


BENCHMARKS.append(
    ExplorerBenchmark("standardize explorer (00)", build_standardize_explorer, (("mean", -20.0), ("std", 100.0)))
)
