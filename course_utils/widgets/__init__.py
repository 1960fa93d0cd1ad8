"""ipywidgets explorers.

Each explorer = pure functions that compute and draw (in ``experiments`` / ``plots``, unit-tested)
+ a thin ``build_*`` function here that wires controls to them. Slow work is done once and cached,
so moving a control only redraws. Explorers draw into an ``ipywidgets.Image`` (PNG bytes), which
keeps them measurable without a kernel and visible in HTML exports from the saved widget state.

``BENCHMARKS`` lists every explorer with the control changes ``make bench`` times against its
budget; add yours there.
"""

from __future__ import annotations

import gc
import importlib
import io
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
from matplotlib.figure import Figure

__all__ = ["Explorer", "figure_to_png", "BENCHMARKS", "ExplorerBenchmark", "import_explorer_modules"]


def figure_to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


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
        return self.widget._repr_mimebundle_(**kwargs)


@dataclass(frozen=True)
class ExplorerBenchmark:
    """How ``make bench`` times an explorer: build it (untimed: precomputation), then set each
    ``(control, value)`` in ``changes`` and time the redraw against ``budget_ms``."""

    name: str
    build: Callable[[], Explorer]
    changes: tuple[tuple[str, Any], ...]
    budget_ms: float


BENCHMARKS: list[ExplorerBenchmark] = []


def import_explorer_modules() -> list:
    """Import every topic module of this package (each registers its explorer in ``BENCHMARKS``)."""
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
