"""ipywidgets explorers.

Each explorer = pure functions that compute and draw (in ``experiments`` / ``plots``, unit-tested)
+ a thin ``build_*`` function here that wires controls to them. Slow work is done once and cached,
so moving a control only redraws. Explorers draw into an ``ipywidgets.Image`` (PNG bytes), which
keeps them measurable without a kernel and visible in HTML exports from the saved widget state.

For speed, an explorer's draw function should update one :class:`course_utils.plots.Panel` in place
(build the figure and artists once, then ``set_data`` / ``set_text``) rather than build a new figure:
:func:`figure_to_png` then redraws only the changed artists over a cached background.

``BENCHMARKS`` lists every explorer with the control changes ``make bench`` times against its
budget; add yours there.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
from matplotlib.figure import Figure

__all__ = [
    "PLACEHOLDER",
    "Explorer", "figure_to_png", "BENCHMARKS", "ExplorerBenchmark", "KERNEL_BUDGET_MS", "import_explorer_modules",
    "reachable_values",
]


def figure_to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes (a :class:`course_utils.plots.Panel`'s figure through its
    cached background, which is much faster)."""
    panel = getattr(fig, "_normcourse_panel", None)
    if panel is not None:
        return panel.png(dpi)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ..plots.glyphs import use_glyph_cache
    from ..plots.png import rgba_to_png

    # Drawn on the figure's own Agg canvas, whose renderer keeps its glyph cache from one redraw to the next.
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    use_glyph_cache(canvas.get_renderer())
    canvas.draw()
    return rgba_to_png(canvas.buffer_rgba())


@dataclass
class Explorer:
    """A built explorer: named controls, the image they redraw, and the layout to display.

    ``draw(**values) -> Figure`` is called with the current value of every control whenever one
    changes. Display the explorer by leaving it as the last expression of a cell.
    """

    controls: dict[str, w.ValueWidget]
    draw: Callable[..., Figure]
    image: w.Image = field(default_factory=lambda: w.Image(format="png"))
    extra: list[w.Widget] = field(default_factory=list)
    widget: w.Widget | None = None
    redraws: int = 0

    def __post_init__(self) -> None:
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.widget = w.VBox([w.HBox(list(self.controls.values()) + self.extra), self.image])
        self.redraw()
        # Everything alive now (torch, matplotlib, the precomputed results) lives as long as the kernel.
        # Freezing it keeps Python's occasional full garbage collection from scanning ~400k objects
        # (~190 ms here) in the middle of a redraw; each redraw's own figure is still collected.
        gc.freeze()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> None:
        self.image.value = figure_to_png(self.draw(**self.values()))
        self.redraws += 1

    def _on_change(self, _change) -> None:
        self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # What JupyterLab shows where it cannot draw the widget (a notebook opened but not yet run, so
        # not trusted; a saved copy without a kernel): one line instead of `VBox(children=(HBox(...`.
        bundle["text/plain"] = PLACEHOLDER
        return bundle


KERNEL_BUDGET_MS = 50.0
"""An explorer's redraw budget in the kernel (95th percentile, never-seen settings): half of the ~100 ms within
which a slider still feels immediate, so that a CPU twice as slow per core as the one measured still meets it."""


@dataclass(frozen=True)
class ExplorerBenchmark:
    """How ``make bench`` times an explorer: build it (untimed: precomputation), then move one control
    at a time through settings never seen before (cold: nothing cached for them) and back and forth
    between seen ones (warm), timing each redraw against ``budget_ms``.

    ``changes`` are the first moves, named by hand. ``settings``, if given, maps the built explorer to
    the values each control can reach (``{control: [values]}``); by default they are read off the
    widgets (:func:`reachable_values`). Give it when a control's range is open-ended or not all of it
    is meant to be reached.
    """

    name: str
    build: Callable[[], Explorer]
    changes: tuple[tuple[str, Any], ...]
    budget_ms: float = KERNEL_BUDGET_MS
    settings: Callable[[Explorer], Mapping[str, Sequence[Any]]] | None = None

    def reachable(self, explorer: Explorer) -> dict[str, list[Any]]:
        """The values each control of ``explorer`` can take, for the benchmark's walk."""
        if self.settings is not None:
            return {name: list(values) for name, values in self.settings(explorer).items()}
        return {name: reachable_values(control) for name, control in explorer.controls.items()}


def reachable_values(control: w.ValueWidget, limit: int = 64) -> list[Any]:
    """The values a learner can give ``control`` (at most ``limit``, evenly spread): the options of a
    selection widget, every step of a slider, a range of an integer box."""
    if isinstance(control, w.widgets.widget_selection._Selection):
        values = [value for _label, value in control._options_full] if hasattr(control, "_options_full") else list(
            control.options)
    elif isinstance(control, w.FloatLogSlider):
        count = int(round((control.max - control.min) / control.step)) + 1
        values = [control.base ** (control.min + i * control.step) for i in range(count)]
    elif isinstance(control, w.FloatSlider | w.FloatRangeSlider | w.BoundedFloatText):
        count = int(round((control.max - control.min) / control.step)) + 1
        values = [control.min + i * control.step for i in range(count)]
    elif isinstance(control, w.IntSlider | w.BoundedIntText):
        step = getattr(control, "step", 1) or 1
        values = list(range(control.min, min(control.max, control.min + 10_000 * step) + 1, step))
    elif isinstance(control, w.Checkbox | w.ToggleButton):
        values = [False, True]
    else:
        raise TypeError(
            f"cannot list the values of a {type(control).__name__}; give the ExplorerBenchmark a settings= "
            "function that returns them."
        )
    if len(values) > limit:
        values = [values[round(i * (len(values) - 1) / (limit - 1))] for i in range(limit)]
    return values


BENCHMARKS: list[ExplorerBenchmark] = []

PLACEHOLDER = "Explorer: run this cell to use it (its sliders and plot appear here)."
"""The text/plain of every explorer's output, shown before the cell has run in this session."""


def import_explorer_modules() -> list:
    """Import every topic module of this package (each registers its explorer in ``BENCHMARKS``)."""
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
