"""Accessibility of the notebooks: every image has alt text, every figure is captioned by prose.

- A markdown image (``![alt](path)`` or an ``<img>`` tag) has non-empty alt text: screen readers read
  it, and the static site (tools/build_site.py) keeps it.
- A figure output (a PNG drawn by a code cell) has alt text in its output metadata
  (``metadata["image/png"]["alt"]``) or is captioned: a markdown cell within the next
  ``CAPTION_WITHIN`` cells explains it (the course's idea -> code -> picture -> takeaway shape; two
  figures in a row may share one explanation).
- Figures use one colour-blind-safe palette: every literal colour in course_utils' figure and explorer
  code, and in the notebooks, is an Okabe-Ito colour (``course_utils.plots.OKABE_ITO``) or a grey.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CAPTION_WITHIN = 3
MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
HTML_IMG = re.compile(r"<img\b[^>]*>", re.I)


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def markdown_images_without_alt(nb: dict) -> list[str]:
    bad = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = source(cell)
        bad += [f"cell {i}: ![]({ref})" for alt, ref in MD_IMAGE.findall(text) if not alt.strip()]
        for tag in HTML_IMG.findall(text):
            alt = re.search(r'\balt\s*=\s*"([^"]*)"', tag) or re.search(r"\balt\s*=\s*'([^']*)'", tag)
            if not (alt and alt.group(1).strip()):
                bad.append(f"cell {i}: {tag[:80]}")
    return bad


def uncaptioned_figures(nb: dict) -> list[str]:
    cells, bad = nb["cells"], []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        figures = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if not figures:
            continue
        if all(o.get("metadata", {}).get("image/png", {}).get("alt", "").strip() for o in figures):
            continue
        after = cells[i + 1:i + 1 + CAPTION_WITHIN]
        if not any(c["cell_type"] == "markdown" and source(c).strip() for c in after):
            bad.append(f"cell {i}: {source(cell).strip().splitlines()[-1][:70]}")
    return bad


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_markdown_image_has_alt_text(path):
    bad = markdown_images_without_alt(json.loads(path.read_text()))
    assert not bad, f"{path.name}: images without alt text: {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_a_caption_or_alt(path):
    bad = uncaptioned_figures(json.loads(path.read_text()))
    assert not bad, (f"{path.name}: figures with no explaining markdown within {CAPTION_WITHIN} cells and no alt "
                     f"in the output metadata: {bad}")


def test_the_checks_catch_what_they_guard_against():
    def md(text):
        return {"cell_type": "markdown", "source": text, "metadata": {}}

    def fig(alt=None):
        out = {"output_type": "display_data", "data": {"image/png": "AAA"}, "metadata": {}}
        if alt:
            out["metadata"] = {"image/png": {"alt": alt}}
        return {"cell_type": "code", "source": "plot()", "outputs": [out], "metadata": {}}

    def code():
        return {"cell_type": "code", "source": "x = 1", "outputs": [], "metadata": {}}

    nb = {"cells": [md("![](../imgs/a.png) and ![ok](b.png)"), md('<img src="c.png" alt=" ">'),
                    md("<img src='d.png' alt='fine'>")]}
    assert [b.split(":")[0] for b in markdown_images_without_alt(nb)] == ["cell 0", "cell 1"]
    assert uncaptioned_figures({"cells": [fig(), code(), code(), code(), md("late")]}) == ["cell 0: plot()"]
    assert uncaptioned_figures({"cells": [fig(), fig(), code(), md("explains both")]}) == []
    assert uncaptioned_figures({"cells": [fig("a line rising from 0 to 1")]}) == []


# ------------------------------------------------------------------------------------------ one palette
HEX_LITERAL = re.compile(r"""["'](#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?)["']""")
NAMED_COLOR = re.compile(r"""\b(?:color|facecolor|edgecolor|c)\s*=\s*["']([a-z]+)["']""")
NEUTRAL = {"black", "white", "gray", "grey", "none", "k", "w"}  # greys and black carry no hue
PLOT_SOURCES = sorted((ROOT / "course_utils" / "plots").glob("*.py")) + sorted(
    (ROOT / "course_utils" / "widgets").glob("*.py"))


def off_palette(text: str) -> list[str]:
    from course_utils.plots import OKABE_ITO

    palette = {c.lower() for c in OKABE_ITO.values()}
    found = [h for h in HEX_LITERAL.findall(text) if h[:7].lower() not in palette]
    return found + [n for n in NAMED_COLOR.findall(text) if n not in NEUTRAL]


@pytest.mark.parametrize("path", PLOT_SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_figures_use_the_course_palette(path):
    """Every literal colour in the figure and explorer code is one of the Okabe-Ito colours (or a grey)."""
    bad = off_palette(path.read_text())
    assert not bad, f"{path.name}: colours outside course_utils.plots.OKABE_ITO: {sorted(set(bad))}; use color_for()"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_pick_no_colours_of_their_own(path):
    code = "\n".join(source(c) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    bad = off_palette(code)
    assert not bad, f"{path.name}: colours chosen in the notebook: {sorted(set(bad))}; use course_utils.plots"


def test_off_palette_finds_hex_and_named_colours():
    assert off_palette('ax.plot(x, color="#d62728"); ax.bar(x, color="red")') == ["#d62728", "red"]
    assert off_palette('ax.plot(x, color="#E69F00", c="black"); face = "#0072b2cc"') == []
