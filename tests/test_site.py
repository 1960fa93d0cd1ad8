"""tools/build_site.py (`make site`): self-contained pages from committed outputs, titles and navigation, the learner's
edition without solutions, index in course order, alt text everywhere."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.course import LESSONS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402
import web_assets  # noqa: E402

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


def fake_assets(root: Path) -> Path:
    """A node_modules tree with a stub for every file the builders copy, at the pinned versions."""
    for name, version in web_assets.pinned().items():
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "package.json").write_text(json.dumps({"name": name, "version": version}))
        for rel in web_assets.FILES[name]:
            target = root / name / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if "." in target.name:
                target.write_text("/* stub */")
            else:
                target.mkdir(exist_ok=True)
                (target / "a.woff2").write_text("stub")
    return root


@pytest.fixture
def assets(tmp_path, monkeypatch):
    monkeypatch.setattr(web_assets, "NODE_MODULES", fake_assets(tmp_path / "node_modules"))


def test_index_renders_the_catalog_markdown():
    page = build_site.index_page({})
    assert "`" not in page, "backticks shown literally"
    if any("`" in e.teaches for e in LESSONS):
        assert "<code>" in page.split("<tbody>", 1)[1]


def course_with_an_exercise(tmp_path: Path) -> Path:
    notebooks = tmp_path / "repo" / "notebooks"
    notebooks.mkdir(parents=True)
    (tmp_path / "repo" / "imgs").mkdir()
    (tmp_path / "repo" / "imgs" / "a.png").write_bytes(b"png")
    for entry in LESSONS[:3]:
        nb = figure_notebook()
        nb.cells[0].source += '\n\nSee $\\hat x$.\n\n<img src="../imgs/a.png" alt="a picture">'
        nb.cells.append(nbformat.v4.new_code_cell(
            "def f(x):\n    ### BEGIN SOLUTION\n    return SECRET_ANSWER\n    ### END SOLUTION", execution_count=3))
        nbformat.write(nb, notebooks / f"{entry.notebook}.ipynb")
    return notebooks


@pytest.mark.parametrize("solutions", [False, True])
def test_build_writes_self_contained_pages_with_titles_navigation_and_the_right_edition(tmp_path, assets, solutions):
    notebooks = course_with_an_exercise(tmp_path)
    out = tmp_path / "site"
    pages = build_site.build(out, notebooks=notebooks, solutions=solutions)["pages"]
    assert list(pages) == [e.notebook for e in LESSONS[:3]]
    for k, entry in enumerate(LESSONS[:3]):
        page = (out / pages[entry.notebook]).read_text()
        assert web_assets.outside_urls(page) == [], "a page loads from the network"
        assert not re.findall(r'(?:src|href)="https?://', page)
        for local in ("_static/requirejs/require.js", "_static/katex/dist/katex.min.js",
                      "_static/katex/dist/katex.min.css", "_static/katex/dist/contrib/auto-render.min.js"):
            assert f'"{local}"' in page and (out / local).is_file(), local
        assert f"<title>{entry.title}</title>" in page
        assert 'href="index.html" rel="index"' in page
        prev = re.findall(r'<a href="([^"]+)" rel="prev">', page)
        nxt = re.findall(r'<a href="([^"]+)" rel="next">', page)
        assert prev == ([] if k == 0 else [pages[LESSONS[k - 1].notebook]] * 2)  # top and bottom
        assert nxt == ([] if k == 2 else [pages[LESSONS[k + 1].notebook]] * 2)
        assert ("SECRET_ANSWER" in page) is solutions
        assert ("NotImplementedError" in page) is not solutions
        assert 'src="imgs/a.png"' in page and "plot_things" in page and "Figure drawn by" in page
    assert (out / "imgs" / "a.png").is_file() and (out / "index.html").is_file()


def test_build_without_the_assets_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(web_assets, "NODE_MODULES", tmp_path / "nothing")
    with pytest.raises(web_assets.MissingAssets, match=r"make setup-dev`.*npm ci"):
        build_site.build(tmp_path / "site", notebooks=course_with_an_exercise(tmp_path))
    assert not (tmp_path / "site").exists()


def test_outside_urls_finds_each_kind_of_network_reference():
    page = ('<script src="https://cdn.x/require.js"></script><link rel="stylesheet" href="https://unpkg.com/r.css">'
            "<script type=\"module\">import mermaid from 'https://cdn.x/m.mjs';</script>"
            "var widgetRendererSrc = 'https://unpkg.com/@jupyter-widgets/html-manager@*/dist/embed-amd.js';"
            'require([ "https://unpkg.com/reveal.js@4.0.2/dist/reveal.js" ])')
    assert len(web_assets.outside_urls(page)) == 5


@pytest.mark.parametrize("name", [e.notebook for e in LESSONS if (ROOT / "notebooks" / f"{e.notebook}.ipynb").exists()])
def test_every_course_page_gives_every_image_an_alt(name):
    page = build_site.export(ROOT / "notebooks" / f"{name}.ipynb")
    tags = re.findall(r"<img\b[^>]*>", page)
    bare = [t[:80] for t in tags if not re.search(r'\salt="[^"]+"', t) or build_site.NBCONVERT_PLACEHOLDER_ALT in t]
    assert not bare, f"{name}: images without alt text: {bare}"
    assert web_assets.outside_urls(page) == [], f"{name} loads from the network"
    if "widgets" in nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).metadata:
        assert "'@jupyter-widgets/html-manager/dist/embed-amd.js'" in page, "the widget manager must load locally"
