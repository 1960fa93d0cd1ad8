"""tools/make_slides.py (`make slides`): static decks whose scripts and styles all come from files beside them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import make_slides  # noqa: E402

FIXTURE = ROOT / "tests" / "e2e" / "fixtures" / "e2e_widget_explorer.ipynb"


def test_reveal_comes_from_the_jupyterlab_rise_wheel():
    static = make_slides.rise_static()
    amd = make_slides.reveal_amd(static)
    assert amd.lstrip().startswith("// reveal.js 4.4.0") and "define([], function ()" in amd
    css = make_slides.reveal_css(static)
    assert css.startswith("/*!\n* reveal.js 4.4.0") and make_slides.REVEAL_CSS_MARK in css
    assert "\\n" not in css[:200], "escapes of the JS string were not decoded"


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle")
    (bundle / "html-manager" / "dist").mkdir(parents=True)
    (bundle / "html-manager" / "dist" / "embed-amd.js").write_text("// stub")
    (bundle / "require.js").write_text("// stub")
    out = tmp_path_factory.mktemp("slides")
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + [FIXTURE]
    return out, make_slides.build(out, paths, widget_bundle=bundle)


def test_decks_load_nothing_from_outside(decks):
    out, result = decks
    assert result["local_widgets"]
    for name, deck in result["decks"].items():
        page = deck.read_text()
        assert make_slides.outside_urls(page) == [], f"{name} loads from a CDN"
        for local in ("_reveal/dist/reveal.css", "_reveal/dist/theme/white.css", "_static/jquery.min.js",
                      "_static/mathjax-stub.js", "_static/require.js"):
            assert local in page, f"{name} does not use {local}"
            assert (out / local).is_file()
    assert (out / "_reveal" / "dist" / "reveal.js").is_file() and (out / "_reveal/plugin/notes/notes.js").is_file()


def test_outside_urls_finds_each_kind_of_cdn_reference():
    page = ('<script src="https://cdn.x/require.js"></script><link rel="stylesheet" href="https://unpkg.com/r.css">'
            "<script type=\"module\">import mermaid from 'https://cdn.x/m.mjs';</script>"
            "var widgetRendererSrc = 'https://unpkg.com/@jupyter-widgets/html-manager@*/dist/embed-amd.js';"
            'require([ "https://unpkg.com/reveal.js@4.0.2/dist/reveal.js" ])')
    assert len(make_slides.outside_urls(page)) == 5


def test_the_fixture_deck_has_its_slides(decks):
    _, result = decks
    page = result["decks"]["e2e_widget_explorer"].read_text()
    assert page.count("<section") >= 3  # a stack with the title slide and the explorer subslide
