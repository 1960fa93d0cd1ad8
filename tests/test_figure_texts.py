"""Every text of every explorer's figure and of every figure in imgs/ lies inside the figure (a clipped title
is a bug a learner sees).

Each explorer is drawn at its start and with each control at each end of its range (one at a time): the
longest numbers and labels appear at the extremes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import course_utils.widgets as widgets
from course_utils import setup_notebook
from course_utils.widgets.dropout import build_dropout_explorer

setup_notebook(quiet=True)
widgets.import_explorer_modules()
SMALL_DROPOUT = {"p_values": (0.0, 0.5, 0.8), "sizes": (50, 100), "seeds": (0,), "steps": 20, "hidden": (16, 16)}
TOLERANCE_PX = 1.0


def texts_outside(fig: Figure) -> list[str]:
    """The texts drawn in ``fig`` whose box is not inside the figure, with where they end. Only texts the
    renderer really draws count (matplotlib keeps tick labels outside the view limits, undrawn)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    drawn: list[Text] = []
    draw = Text.draw

    def record(text, *args, **kwargs):  # every Text that draws itself, multi-line titles included
        if text.get_visible() and text.get_text().strip():
            drawn.append(text)
        return draw(text, *args, **kwargs)

    Text.draw = record
    try:
        canvas.draw()
    finally:
        Text.draw = draw
    width, height = fig.bbox.width, fig.bbox.height
    outside = []
    for text in drawn:
        box = text.get_window_extent(renderer)
        if box.x0 < -TOLERANCE_PX or box.y0 < -TOLERANCE_PX or box.x1 > width + TOLERANCE_PX or \
                box.y1 > height + TOLERANCE_PX:
            outside.append(f"{text.get_text()!r}: x {box.x0:.0f}..{box.x1:.0f} of {width:.0f} px, "
                           f"y {box.y0:.0f}..{box.y1:.0f} of {height:.0f} px")
    return outside


def build(bench):
    return build_dropout_explorer(**SMALL_DROPOUT) if bench.name == "dropout" else bench.build()


def settings(explorer, bench):
    """The start, then each control at each end of its range."""
    yield {}
    for name, values in bench.reachable(explorer).items():
        for value in (values[0], values[-1]):
            yield {name: value}


@pytest.mark.parametrize("bench", widgets.BENCHMARKS, ids=lambda b: b.name)
def test_every_explorer_text_lies_inside_its_figure(bench):
    explorer = build(bench)
    start = explorer.values()
    problems = []
    for change in settings(explorer, bench):
        for name, value in {**start, **change}.items():
            explorer.controls[name].value = value
        fig = explorer.draw(**explorer.values())
        problems += [f"{change or 'start'}: {p}" for p in texts_outside(fig)]
    assert not problems, "texts outside the figure:\n" + "\n".join(problems[:20])


def test_the_check_finds_a_clipped_title():
    fig = Figure(figsize=(4, 2), layout="constrained")
    ax = fig.subplots()
    ax.set_title("a title much too long for a figure only four inches wide,\nclipped at the right edge")
    assert len(texts_outside(fig)) == 1 and "x " in texts_outside(fig)[0]
    ax.set_title("short")
    assert texts_outside(fig) == []


def test_an_explorer_not_yet_run_reads_as_one_line_not_a_widget_repr():
    """JupyterLab shows text/plain where it cannot draw the widget (a notebook not yet run)."""
    bench = next(b for b in widgets.BENCHMARKS if b.name.startswith("layernorm-axes"))
    bundle = bench.build()._repr_mimebundle_()
    assert bundle["text/plain"] == widgets.PLACEHOLDER and "run this cell" in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


def _imgs_producers():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import make_imgs

    return make_imgs.IMGS, make_imgs.producer


IMGS, PRODUCER = _imgs_producers()


@pytest.mark.parametrize("name", sorted(IMGS))
def test_every_figure_in_imgs_keeps_its_texts_inside(name):
    """imgs/ is saved at the figure's own size (no tight box), so a text past the edge would be cut off there.
    The notebooks' inline figures cannot clip: Jupyter's inline backend saves them with a tight box."""
    fig = PRODUCER(name)()
    assert texts_outside(fig) == [], f"imgs/{name}: texts outside the figure: {texts_outside(fig)}"
