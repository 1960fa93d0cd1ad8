"""Live slides: a notebook presented with jupyterlab-rise (reveal.js bundled, no CDN), in headless Chromium.

The e2e fixture carries slide metadata by the course's rule (tools/slides.py): the title and setup on
the first slide, the explorer on a subslide. The test opens ``/rise/<notebook>``, checks that the deck
has the slides the metadata asks for, runs the setup cell, moves to the explorer's slide with the
keyboard and runs it there. A second test moves the explorer's slider on the slide with the mouse, as a
presenter does, and waits for the plot to change. That needs the course's tiny lab extension
``tools/labextensions/normcourse-rise-widgets`` (installed by ``make setup``): without it, the pinned
jupyterlab-rise 0.43.1 page cannot load the ipywidgets extension ("Shared module @jupyterlab/console
doesn't exist in shared scope default"; upstream jupyterlab-contrib/rise#119, #126) and an explorer shows
its text repr. The same extension gives a focused slider its arrow keys (in RISE, JupyterLab's notebook
shortcuts and reveal.js would take them), so the test also moves it with the keyboard.

Every course notebook that has slide metadata (after `make slidemeta`) is also opened as a deck: it must
have the slides its metadata asks for, and Space must step through to the last one. No deck may request
anything outside the server (the course runs offline).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from e2e_support import FIXTURES_DIR, discover_notebooks
from lab_ui import output_signature

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
    """A deck in a fresh context. ``errors`` collects page errors and every request outside the server.

    The deck must work offline: the course sets RISE's theme to reveal.js's "white" (fonts bundled);
    RISE's default "simple" theme fetches its fonts from fonts.googleapis.com.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    errors: list[str] = []

    def refuse(route):
        errors.append(f"request outside the server: {route.request.url}")
        route.abort()

    context.route(lambda url: url.startswith(("http://", "https://")) and not url.startswith(lab_server.base),
                  refuse)
    page = context.new_page()
    page.set_default_timeout(30_000)
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
        assert page.locator(f"#{first} h1").text_content().startswith("E2E fixture")  # CSS may uppercase it

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


def drag_slider(page, handle) -> str:
    """Drag a slider's handle a fifth of its track to the right (to the left if it sits at the right end)."""
    handle.scroll_into_view_if_needed()
    slider = handle.locator("xpath=ancestor::*[contains(@class,'widget-slider')][1]")
    readout = slider.locator(".widget-readout").first
    track = slider.locator(".noUi-target").first.bounding_box()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    step = track["width"] / 5 * (1 if x < track["x"] + track["width"] * 0.75 else -1)
    before = readout.inner_text().strip()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + step, y, steps=5)
    page.mouse.up()
    return f"slider dragged {before} -> {readout.inner_text().strip()}"


def wait_for_new_plot(explorer, before: tuple, timeout: float = 60.0, settle: float = 1.0) -> tuple:
    """The explorer's output once it differs from ``before`` and has stayed the same for ``settle`` s.

    (The lab tests wait for the kernel's idle status in the status bar; a deck has no status bar.)
    """
    deadline = time.monotonic() + timeout
    last, since = before, time.monotonic()
    while time.monotonic() < deadline:
        now = output_signature(explorer)
        if now != last:
            last, since = now, time.monotonic()
        elif now != before and now and time.monotonic() - since >= settle:
            return now
        time.sleep(0.25)
    return last


def test_explorer_control_moves_on_a_slide(browser, lab_server, artifacts):
    context, page, errors = open_deck(browser, lab_server, artifacts)
    comm_errors: list[str] = []
    page.on("console", lambda msg: comm_errors.append(msg.text) if "opening new comm" in msg.text else None)
    try:
        run_cell_on_slide(page, current_slide(page))
        slide = go_to_next_slide(page)
        run_cell_on_slide(page, slide)
        explorer = page.locator(f"#{slide} .jp-CodeCell").first
        handle = explorer.locator(".widget-slider .noUi-handle").first
        handle.wait_for(state="visible", timeout=30_000)
        assert not comm_errors, f"the deck could not open the widgets' comms: {comm_errors[:3]}"
        before = output_signature(explorer)
        what = drag_slider(page, handle)
        after = wait_for_new_plot(explorer, before)
        page.screenshot(path=artifacts / "rise--explorer-moved.png")
        assert after != before, f"{what}: the plot did not change"
        assert current_slide(page) == slide, f"moving the control left the slide for {current_slide(page)}"

        # The keyboard too: the focused handle gets the arrow keys, the deck does not change slide.
        value = handle.get_attribute("aria-valuenow")
        handle.focus()
        page.keyboard.press("ArrowLeft")
        assert handle.get_attribute("aria-valuenow") != value, "ArrowLeft on a focused slider did not move it"
        assert wait_for_new_plot(explorer, after) != after, "the plot did not follow the keyboard"
        assert current_slide(page) == slide, f"ArrowLeft on the slider changed the slide to {current_slide(page)}"
        assert not errors, f"JavaScript errors in the deck: {errors}"
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
