"""`make slides` decks (tools/make_slides.py) open from file:// with any request outside it failing the test:
reveal.js (pinned, installed by `make setup-dev`) starts, the keyboard moves through the slides, formulas are
typeset by KaTeX, and the fixture's explorer shows from its saved widget state on its slide."""

from __future__ import annotations

import json
import sys

import pytest
from e2e_support import FIXTURES_DIR, MADE_BUILD, NOTEBOOKS_DIR, REPO, offline_page

sys.path.insert(0, str(REPO / "tools"))
import make_slides  # noqa: E402

pytestmark = pytest.mark.browser
PRESENT = ".reveal .slides section.present:not(.stack)"
# any control an explorer or 05's quiz is built from, rendered by the widget manager from the saved state
CONTROLS = ", ".join(f".jupyter-widgets {c}" for c in (
    ".widget-slider", ".widget-hslider", ".widget-dropdown", ".widget-toggle-buttons", ".widget-radio-box",
    ".widget-checkbox", ".widget-select", ".widget-button"))
COURSE = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def has_math(nb: dict) -> bool:
    return any(cell["cell_type"] == "markdown" and "$" in "".join(cell["source"]) for cell in nb["cells"])


@pytest.fixture(scope="module")
def decks(tmp_path_factory, web_assets):
    out = tmp_path_factory.mktemp("slides")
    fixture = [FIXTURES_DIR / "e2e_widget_explorer.ipynb"]
    if not MADE_BUILD:
        return out, make_slides.build(out, COURSE + fixture)["decks"]
    # the course's decks as `make slides` wrote them (make offline-check); the fixture's deck built here
    made = MADE_BUILD / "slides"
    decks = {path.stem: made / f"{path.stem}.slides.html" for path in COURSE}
    missing = [deck.name for deck in decks.values() if not deck.is_file()]
    assert not missing and (made / "index.html").is_file(), f"{made}: decks missing ({missing}): run `make slides`"
    return made, decks | make_slides.build(out, fixture)["decks"]


def test_fixture_deck_presents_its_explorer_offline(browser, decks, artifacts):
    _, built = decks
    outside, errors = [], []
    context, page = offline_page(browser, outside, errors, viewport={"width": 1280, "height": 800})
    try:
        page.goto(built["e2e_widget_explorer"].as_uri(), wait_until="load")
        page.locator(".reveal.ready").wait_for(state="attached", timeout=30_000)
        assert "E2E fixture" in page.title()
        assert "E2E fixture" in page.locator(PRESENT).inner_text(), "the deck does not open on the title slide"
        page.screenshot(path=artifacts / "slides-html--title.png")
        page.keyboard.press("Space")
        page.wait_for_function(f"() => !document.querySelector('{PRESENT}').innerText.includes('E2E fixture')",
                               timeout=10_000)
        slide = page.locator(PRESENT)
        slide.locator(".jupyter-widgets").first.wait_for(state="visible", timeout=30_000)
        assert slide.locator(".widget-slider, .widget-hslider").count(), "the explorer's slider is not on its slide"
        page.wait_for_timeout(1_000)  # let the slide transition finish for the screenshot
        page.screenshot(path=artifacts / "slides-html--explorer.png")
        assert not outside, f"requests outside file://: {sorted(set(outside))}"
        assert not errors, f"JavaScript errors: {errors}"
    finally:
        context.close()


@pytest.mark.parametrize("path", COURSE, ids=[p.stem for p in COURSE])
def test_course_deck_starts_with_typeset_math_and_explorers_offline(browser, decks, artifacts, path):
    out, built = decks
    outside, errors = [], []
    context, page = offline_page(browser, outside, errors, viewport={"width": 1280, "height": 800})
    try:
        page.goto((out / "index.html").as_uri(), wait_until="load")
        page.locator(f'a[href="{built[path.stem].name}"]').click()  # the deck index links every deck
        page.locator(".reveal.ready").wait_for(state="attached", timeout=30_000)
        assert page.title().strip() != "slides", f"{path.stem}: the deck has no title"
        assert page.locator(".reveal .slides section").count() > 1, f"{path.stem}: a single slide"
        source = path.read_text(encoding="utf-8")
        if has_math(json.loads(source)):
            assert page.locator(".katex .katex-html").count(), f"{path.stem}: no formula typeset"
            assert page.locator(".katex-error").count() == 0, f"{path.stem}: formulas KaTeX could not typeset"
        if "application/vnd.jupyter.widget-view+json" in source:
            page.locator(CONTROLS).first.wait_for(state="attached", timeout=60_000)
        before = page.evaluate("() => Reveal.getIndices()")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(b) => JSON.stringify(Reveal.getIndices()) !== JSON.stringify(b)", arg=before,
                               timeout=10_000)
        page.screenshot(path=artifacts / f"slides-html--{path.stem}.png")
        assert not outside, f"{path.stem}: requests outside file://: {sorted(set(outside))}"
        assert not errors, f"{path.stem}: JavaScript errors: {errors}"
    finally:
        context.close()
