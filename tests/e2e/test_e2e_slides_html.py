"""`make slides` decks (tools/make_slides.py) open from disk with every outside request refused: reveal.js
(from the jupyterlab-rise wheel) starts, the keyboard moves through the slides, and the fixture's explorer
shows from its saved widget state on its slide."""

from __future__ import annotations

import sys

import pytest
from e2e_support import FIXTURES_DIR, REPO, offline_page, offline_widget_bundle
from test_e2e_html_export import widget_js  # noqa: F401 - the fixture: html-manager + require.js from npm

sys.path.insert(0, str(REPO / "tools"))
import make_slides  # noqa: E402

pytestmark = pytest.mark.browser


def test_static_deck_presents_offline(browser, widget_js, tmp_path, artifacts):  # noqa: F811
    bundle = offline_widget_bundle(tmp_path / "bundle", widget_js)
    result = make_slides.build(tmp_path / "slides", [FIXTURES_DIR / "e2e_widget_explorer.ipynb"], bundle)
    deck = result["decks"]["e2e_widget_explorer"]

    outside, errors = [], []
    context, page = offline_page(browser, outside, errors, viewport={"width": 1280, "height": 800})
    try:
        page.goto(deck.as_uri(), wait_until="load")
        page.locator(".reveal.ready").wait_for(state="attached", timeout=30_000)
        present = "() => document.querySelector('.reveal .slides section.present:not(.stack)').innerText"
        assert "E2E fixture" in page.evaluate(present), "the deck does not open on the title slide"
        page.screenshot(path=artifacts / "slides-html--title.png")
        page.keyboard.press("Space")
        page.wait_for_function("() => !document.querySelector('.reveal .slides section.present:not(.stack)')"
                               ".innerText.includes('E2E fixture')", timeout=10_000)
        slide = page.locator(".reveal .slides section.present:not(.stack)")
        slide.locator(".jupyter-widgets").first.wait_for(state="visible", timeout=30_000)
        assert slide.locator(".widget-slider, .widget-hslider").count(), "the explorer's slider is not on its slide"
        page.wait_for_timeout(1_000)  # let the slide transition finish for the screenshot
        page.screenshot(path=artifacts / "slides-html--explorer.png")
        assert not outside, f"requests to the outside: {outside}"
        assert not errors, f"JavaScript errors: {errors}"
    finally:
        context.close()
