"""The depth explorer (notebook 01): how depth, initialization, activation and input scale decide
whether a deep MLP's activations and gradients keep their size.

Nothing is trained: every redraw is one cached forward + backward pass at initialization
(:func:`course_utils.experiments.depth.depth_statistics`, through a
:class:`~course_utils.experiments.depth_cache.DepthStatisticsCache` that draws every depth's weights once
when the explorer is built) and one light figure (:func:`course_utils.plots.depth.draw_depth_panel`).
"""

from __future__ import annotations

import functools

import ipywidgets as w
from matplotlib.figure import Figure

from ..experiments.depth import depth_statistics
from ..experiments.depth_cache import DepthStatisticsCache
from ..plots.depth import DepthPanel, draw_depth_panel
from ..validation import check_choice, check_int, check_positive
from . import BENCHMARKS, Explorer, ExplorerBenchmark

__all__ = ["build_depth_explorer", "draw_depth"]

INIT_OPTIONS = [
    ("too small: N(0, 0.01²)", "small"),
    ("too large: N(0, 0.2²)", "large"),
    ("Xavier/Glorot", "xavier"),
    ("Kaiming/He", "kaiming"),
]
ACTIVATION_OPTIONS = ["relu", "tanh", "sigmoid"]
MAX_DEPTH = 15
N_SAMPLES = 64
"""Examples per forward pass in the explorer (the notebook's figures use 500): 64 x 256 values per layer
are plenty for its histograms and statistics, and a never-seen setting (up to MAX_DEPTH = 15 layers)
computes in about a quarter of the time 256 took (the forward and backward pass are most of a cold move)."""


def _check_setting(depth, init, gain, activation, input_scale) -> tuple[int, float, float]:
    """Validate one explorer setting; returns the normalized (depth, gain, input_scale)."""
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    check_choice("init", init, [value for _label, value in INIT_OPTIONS])
    check_choice("activation", activation, ACTIVATION_OPTIONS)
    gain, input_scale = check_positive("gain", gain), check_positive("input_scale", input_scale)
    # Far outside these the statistics overflow to inf/NaN and there is nothing left to draw.
    if not 1e-2 <= gain <= 1e2:
        raise ValueError(f"gain must be between 0.01 and 100 (the slider spans 0.25 to 4), got {gain!r}.")
    if not 1e-4 <= input_scale <= 1e4:
        raise ValueError(
            f"input_scale must be between 1e-4 and 1e4 (the slider spans 0.01 to 100), got {input_scale!r}."
        )
    return depth, gain, input_scale


def draw_depth(
    depth: int, init: str, gain: float, activation: str, input_scale: float, *, panel: DepthPanel | None = None,
    cache: DepthStatisticsCache | None = None,
) -> Figure:
    """The explorer's figure for one setting (validated: bad input raises a clear error).

    With ``panel`` the figure is updated in place (fast); without, a fresh figure is drawn. With ``cache``
    (built for ``N_SAMPLES`` examples) the statistics come from it: the same numbers, computed faster.
    """
    depth, gain, input_scale = _check_setting(depth, init, gain, activation, input_scale)
    # Round the float controls so slider noise (0.30000000000000004) still hits the cache.
    gain, input_scale = round(gain, 4), round(input_scale, 6)
    if cache is None:
        stats = depth_statistics(depth, activation, init, gain, input_scale, n_samples=N_SAMPLES)
    else:
        stats = cache(depth, activation, init, gain, input_scale)
    return draw_depth_panel(stats) if panel is None else panel.update(stats)


def build_depth_explorer(
    depth: int = 10, init: str = "kaiming", gain: float = 1.0, activation: str = "relu", input_scale: float = 1.0
) -> Explorer:
    """Sliders for depth, init gain and input scale, dropdowns for init scheme and activation.

    Each change redraws the per-layer histograms, activation std, gradient norm and saturated/dead
    fraction of a ``depth`` x 256 MLP at initialization on ``N_SAMPLES`` (64) Gaussian inputs.
    """
    depth, gain, input_scale = _check_setting(depth, init, gain, activation, input_scale)
    if not 0.25 <= gain <= 4:
        raise ValueError(f"gain must be between 0.25 and 4 for the explorer's slider, got {gain}.")
    if not 0.01 <= input_scale <= 100:
        raise ValueError(f"input_scale must be between 0.01 and 100 for the explorer's slider, got {input_scale}.")
    style = {"description_width": "initial"}
    controls = {
        "depth": w.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth", continuous_update=False,
                             style=style, layout=w.Layout(width="220px")),
        "init": w.Dropdown(options=INIT_OPTIONS, value=init, description="init", style=style,
                           layout=w.Layout(width="220px")),
        "gain": w.FloatLogSlider(value=gain, base=2, min=-2, max=2, step=0.25, description="gain",
                                 continuous_update=False, style=style, layout=w.Layout(width="220px")),
        "activation": w.Dropdown(options=ACTIVATION_OPTIONS, value=activation, description="activation",
                                 style=style, layout=w.Layout(width="170px")),
        "input_scale": w.FloatLogSlider(value=input_scale, base=10, min=-2, max=2, step=0.5,
                                        description="input scale", continuous_update=False, style=style,
                                        layout=w.Layout(width="240px")),
    }
    panel = DepthPanel(max_depth=MAX_DEPTH)
    cache = DepthStatisticsCache(MAX_DEPTH, n_samples=N_SAMPLES).precompute()  # ~0.1 s, ~30 MB
    return Explorer(controls=controls, draw=functools.partial(draw_depth, panel=panel, cache=cache))


BENCHMARKS.append(
    ExplorerBenchmark(
        name="depth explorer",
        build=build_depth_explorer,
        changes=(("depth", 14), ("init", "small"), ("gain", 2.0), ("activation", "tanh"), ("input_scale", 10.0)),
    )
)
