"""tools/build_site.py (`make site`): pages from committed outputs, index in course order, alt text everywhere."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.course import LESSONS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def figure_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    fig = nbformat.v4.new_code_cell("x = 1\nplot_things(x,\n            title='t')", execution_count=1)
    fig.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    described = nbformat.v4.new_code_cell("show()", execution_count=2)
    described.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG[:-4] + "AAA=",
                                                                          "text/plain": "<Figure>"},
                                                metadata={"image/png": {"alt": "Two curves"}})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Lesson\n\n## 1. Section one"), fig, described]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_figure_alts_name_the_drawing_call_and_section_or_use_the_given_alt():
    alts = list(build_site.figure_alts(figure_notebook()).values())
    assert alts[0] == "Figure drawn by `plot_things(x,`, section “1. Section one”"
    assert alts[1] == "Two curves"


def test_add_figure_alts_replaces_missing_and_placeholder_alts_only():
    alts = build_site.figure_alts(figure_notebook())
    page = (f'<img src="data:image/png;base64,{PNG}">'
            f'<img alt="{build_site.NBCONVERT_PLACEHOLDER_ALT}" src="data:image/png;base64,{PNG}">'
            f'<img alt="kept" src="data:image/png;base64,{PNG}">')
    out = build_site.add_figure_alts(page, alts)
    assert re.findall(r'alt="([^"]*)"', out) == [next(iter(alts.values())).replace("“", "“")] * 2 + ["kept"]


def test_index_lists_every_lesson_in_course_order_with_catalog_times():
    page = build_site.index_page({LESSONS[0].notebook: f"{LESSONS[0].notebook}.html"})
    body = page.split("<tbody>", 1)[1]
    positions = [body.index(e.title) for e in LESSONS]
    assert positions == sorted(positions)
    for e in LESSONS:
        assert f"<td>{e.minutes} min</td>" in page
    assert page.count("<a href=") == 1 and page.count("(in preparation)") == len(LESSONS) - 1
    assert '<html lang="en">' in page


def test_build_uses_committed_outputs_and_local_widget_files(tmp_path):
    notebooks = tmp_path / "repo" / "notebooks"
    notebooks.mkdir(parents=True)
    (tmp_path / "repo" / "imgs").mkdir()
    (tmp_path / "repo" / "imgs" / "a.png").write_bytes(b"png")
    nb = figure_notebook()
    nb.cells[0].source += '\n\n<img src="../imgs/a.png" alt="a picture">'
    nbformat.write(nb, notebooks / f"{LESSONS[0].notebook}.ipynb")
    bundle = tmp_path / "bundle"
    (bundle / "html-manager" / "dist").mkdir(parents=True)
    (bundle / "html-manager" / "dist" / "embed-amd.js").write_text("// stub")
    (bundle / "require.js").write_text("// stub")
    out = tmp_path / "site"
    result = build_site.build(out, notebooks=notebooks, widget_bundle=bundle)
    assert result == {"pages": {LESSONS[0].notebook: f"{LESSONS[0].notebook}.html"}, "local_widgets": True}
    page = (out / f"{LESSONS[0].notebook}.html").read_text()
    assert 'src="_static/require.js"' in page
    assert 'src="imgs/a.png"' in page and (out / "imgs" / "a.png").is_file()
    scripts = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="(https?://[^"]+)"', page)
    assert all("mathjax" in s for s in scripts), f"only MathJax may come from a CDN: {scripts}"
    assert "plot_things" in page and "Figure drawn by" in page


@pytest.mark.parametrize("name", [e.notebook for e in LESSONS if (ROOT / "notebooks" / f"{e.notebook}.ipynb").exists()])
def test_every_course_page_gives_every_image_an_alt(name):
    page = build_site.export(ROOT / "notebooks" / f"{name}.ipynb", local_widgets=True)
    tags = re.findall(r"<img\b[^>]*>", page)
    bare = [t[:80] for t in tags if not re.search(r'\salt="[^"]+"', t) or build_site.NBCONVERT_PLACEHOLDER_ALT in t]
    assert not bare, f"{name}: images without alt text: {bare}"
    if "widgets" in nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).metadata:
        assert "'_static/html-manager/dist/embed-amd.js'" in page, "the widget manager must load from _static/"
