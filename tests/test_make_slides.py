"""tools/make_slides.py (`make slides`): static decks whose scripts and styles all come from files beside them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_site import fake_assets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import make_slides  # noqa: E402
import web_assets  # noqa: E402

FIXTURE = ROOT / "tests" / "e2e" / "fixtures" / "e2e_widget_explorer.ipynb"


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr(web_assets, "NODE_MODULES", fake_assets(tmp_path_factory.mktemp("node_modules")))
    out = tmp_path_factory.mktemp("slides")
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + [FIXTURE]
    try:
        yield out, make_slides.build(out, paths)
    finally:
        patch.undo()


def test_decks_load_nothing_from_outside(decks):
    out, result = decks
    for name, deck in result["decks"].items():
        page = deck.read_text()
        assert web_assets.outside_urls(page) == [], f"{name} loads from the network"
        for local in ("_static/reveal.js/dist/reveal.css", "_static/reveal.js/dist/theme/white.css",
                      "_static/requirejs/require.js", "_static/katex/dist/katex.min.js",
                      "_static/reveal.js/dist/reveal.js", "_static/reveal.js/plugin/notes/notes.js"):
            assert local in page, f"{name} does not use {local}"
            assert (out / local).is_file()
        assert "jquery" not in page.lower() and "mathjax" not in page.lower() and "mermaid" not in page.lower()


def test_the_index_links_every_deck_with_its_title(decks):
    out, result = decks
    index = (out / "index.html").read_text()
    for deck in result["decks"].values():
        assert f'href="{deck.name}"' in index
    assert ">Dropout<" in index or not (ROOT / "notebooks" / "02_dropout.ipynb").exists()


def test_the_fixture_deck_has_its_slides(decks):
    _, result = decks
    page = result["decks"]["e2e_widget_explorer"].read_text()
    assert page.count("<section") >= 3  # a stack with the title slide and the explorer subslide
