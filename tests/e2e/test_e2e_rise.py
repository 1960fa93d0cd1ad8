"""Live slides: a notebook presented with jupyterlab-rise (reveal.js bundled, no CDN), in headless Chromium.

The e2e fixture carries slide metadata by the course's rule (tools/slides.py): the title and setup on
the first slide, the explorer on a subslide. The test opens ``/rise/<notebook>``, checks that the deck
has the slides the metadata asks for, runs the setup cell, moves to the explorer's slide with the
keyboard and runs it there. Moving the explorer's control live is a separate test, marked as an
expected failure: with the pinned jupyterlab-rise 0.43.1 and ipywidgets 8.1, the RISE app does not
render widgets (its comm targets fail to open; upstream jupyterlab-contrib/rise#119 and #126), so a
live explorer shows its plot but no controls. When that test starts passing, remove the mark.

Every course notebook that has slide metadata (after `make slidemeta`) is also opened as a deck: it must
have the slides its metadata asks for, and Space must step through to the last one.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from e2e_support import FIXTURES_DIR, discover_notebooks
from lab_ui import explorer_controls, move_control, output_signature, wait_output_change

pytestmark = pytest.mark.browser

FIXTURE = "e2e_fixtures/e2e_widget_explorer.ipynb"


@pytest.fixture(autouse=True)
def shut_down_the_decks_kernel(lab_server):
    """The deck's kernel belongs to the shared server: stop it so later tests start from a fresh one."""
    yield
    with urllib.request.urlopen(lab_server.url("/api/sessions"), timeout=10) as resp:
        sessions = json.loads(resp.read())
    for session in sessions:
        if session.get("path", "").endswith(FIXTURE.rsplit("/", 1)[1]):
            req = urllib.request.Request(lab_server.url(f"/api/sessions/{session['id']}"), method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()


def expected_deck(nb: dict | None = None) -> list[list[int]]:
    """Cell indices per (sub)slide, from slide metadata (default: the fixture's: [[title, setup], [explorer]])."""
    nb = nb or json.loads((FIXTURES_DIR / "e2e_widget_explorer.ipynb").read_text())
    deck: list[list[int]] = []
    for i, cell in enumerate(nb["cells"]):
        kind = cell["metadata"].get("slideshow", {}).get("slide_type", "-")
        if kind in ("slide", "subslide") or not deck:
            deck.append([])
        if kind != "skip":
            deck[-1].append(i)
    return deck


def current_slide(page) -> str:
    return page.evaluate("() => (document.querySelector('.reveal .slides section.present:not(.stack)') || {}).id")


def open_deck(browser, lab_server, artifacts, path: str = FIXTURE):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(lab_server.url(f"/rise/{path}"), timeout=60_000)
    page.locator(".reveal .slides section.present").first.wait_for(state="visible", timeout=60_000)
    page.locator(".reveal .jp-CodeCell").first.wait_for(state="attached", timeout=60_000)
    return context, page, errors


def run_cell_on_slide(page, slide_id: str, index_on_slide: int = 0) -> None:
    """Run one code cell of the shown slide as a presenter does: select it, Ctrl+Enter (run, stay)."""
    code = page.locator(f"#{slide_id} .jp-CodeCell").nth(index_on_slide)
    code.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Control+Enter")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if re.fullmatch(r"\[\d+\]:", code.locator(".jp-InputArea-prompt").inner_text().strip()):
            return
        time.sleep(0.25)
    raise TimeoutError(f"cell on {slide_id} did not finish: {code.locator('.jp-InputArea-prompt').inner_text()}")


def go_to_next_slide(page) -> str:
    before = current_slide(page)
    page.keyboard.press("Escape")  # command mode: the keys drive reveal.js, not the editor
    page.keyboard.press("Space")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and current_slide(page) == before:
        time.sleep(0.1)
    return current_slide(page)


def test_deck_presents_the_slides_and_runs_cells_live(browser, lab_server, artifacts):
    deck = expected_deck()
    assert len(deck) >= 2, f"the fixture should have a title slide and an explorer subslide: {deck}"
    context, page, errors = open_deck(browser, lab_server, artifacts)
    try:
        sections = page.evaluate("() => [...document.querySelectorAll('.reveal .slides section[id]')].map(s => s.id)")
        assert len(sections) == len(deck), f"deck has slides {sections}, the metadata asks for {len(deck)}"
        first = current_slide(page)
        assert first == sections[0], f"the deck opens on {first}, not its first slide"
        assert page.locator(f"#{first} h1").inner_text().startswith("E2E fixture")

        run_cell_on_slide(page, first)  # the setup cell sits on the title slide
        shown = go_to_next_slide(page)
        assert shown == sections[1], f"Space moved from {first} to {shown}, expected {sections[1]}"
        run_cell_on_slide(page, shown)  # the explorer, live in the kernel
        explorer = page.locator(f"#{shown} .jp-CodeCell").first
        explorer.locator(".jp-OutputArea-output img").first.wait_for(state="visible", timeout=60_000)
        page.screenshot(path=artifacts / "rise--explorer-slide.png")
        assert not errors, f"JavaScript errors in the deck: {errors}"
    finally:
        context.close()


@pytest.mark.xfail(strict=True, reason="jupyterlab-rise 0.43.1 renders no ipywidgets 8 controls "
                   "(jupyterlab-contrib/rise#119, #126); remove this mark when it passes")
def test_explorer_control_moves_on_a_slide(browser, lab_server, artifacts):
    context, page, _ = open_deck(browser, lab_server, artifacts)
    try:
        run_cell_on_slide(page, current_slide(page))
        slide = go_to_next_slide(page)
        run_cell_on_slide(page, slide)
        explorer = page.locator(f"#{slide} .jp-CodeCell").first
        explorer.locator(".widget-slider .noUi-handle").first.wait_for(state="visible", timeout=30_000)
        controls = explorer_controls(explorer)
        before = output_signature(explorer)
        what = move_control(page, controls[0])
        after = wait_output_change(page, explorer, before)
        page.screenshot(path=artifacts / "rise--explorer-moved.png")
        assert after != before, f"{what}: the plot did not change"
    finally:
        context.close()


COURSE_DECKS = [c for c in discover_notebooks() if c.served_as.startswith("notebooks/")
                and all("slideshow" in cell["metadata"] for cell in c.load()["cells"])]


@pytest.mark.skipif(not COURSE_DECKS, reason="no course notebook has slide metadata yet (run `make slidemeta`)")
@pytest.mark.parametrize("case", COURSE_DECKS, ids=[c.id for c in COURSE_DECKS])
def test_course_deck_has_its_slides_and_steps_to_the_end(browser, lab_server, artifacts, case):
    nb = case.load()
    deck = expected_deck(nb)
    fragments = sum(c["metadata"]["slideshow"]["slide_type"] == "fragment" for c in nb["cells"])
    context, page, errors = open_deck(browser, lab_server, artifacts, case.served_as)
    try:
        sections = page.evaluate("() => [...document.querySelectorAll('.reveal .slides section[id]')].map(s => s.id)")
        assert len(sections) == len(deck), f"{case.id}: {len(sections)} slides, the metadata asks for {len(deck)}"
        page.locator(".reveal").click(position={"x": 5, "y": 5})
        page.keyboard.press("Escape")
        for _ in range(len(sections) + fragments + 5):
            if current_slide(page) == sections[-1]:
                break
            page.keyboard.press("Space")
            time.sleep(0.15)
        assert current_slide(page) == sections[-1], f"{case.id}: Space stopped at {current_slide(page)}"
        page.wait_for_timeout(1_000)  # the slide transition, for the screenshot
        page.screenshot(path=artifacts / f"rise--{case.stem}--last-slide.png")
        assert not errors, f"JavaScript errors in the deck: {errors}"
    finally:
        context.close()
