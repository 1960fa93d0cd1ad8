"""`make site` (tools/build_site.py) in a browser: the index in course order, every page loads, and an
explorer renders from its saved widget state, with every request to the outside aborted (the widget
manager and require.js are served from the site's own _static/)."""

from __future__ import annotations

import json
import sys

import pytest
from e2e_support import REPO, WIDGET_VIEW, explorer_cells, offline_page, offline_widget_bundle
from test_e2e_html_export import widget_js  # noqa: F401 - the fixture: html-manager + require.js from npm

sys.path.insert(0, str(REPO / "tools"))
import build_site  # noqa: E402

from course_utils.course import LESSONS  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory, widget_js):  # noqa: F811
    bundle = offline_widget_bundle(tmp_path_factory.mktemp("bundle"), widget_js)
    out = tmp_path_factory.mktemp("site") / "site"
    result = build_site.build(out, widget_bundle=bundle)
    assert result["local_widgets"]
    return out, result["pages"]


def test_index_lists_the_course_in_order_and_every_page_loads(browser, site, artifacts):
    out, pages = site
    outside, errors = [], []
    context, page = offline_page(browser, outside, errors)
    try:
        page.goto((out / "index.html").as_uri(), wait_until="load")
        rows = page.locator("tbody tr")
        assert rows.count() == len(LESSONS)
        for i, entry in enumerate(LESSONS):
            assert entry.title in rows.nth(i).inner_text()
        links = page.locator("tbody a")
        assert links.count() == len(pages) and pages, "a link for every lesson that exists"
        page.screenshot(path=artifacts / "site--index.png", full_page=True)
        for k in range(links.count()):
            page.goto((out / "index.html").as_uri(), wait_until="load")
            target = page.locator("tbody a").nth(k)
            name = target.get_attribute("href")
            target.click()
            page.wait_for_load_state("load")
            nb = json.loads((REPO / "notebooks" / name.replace(".html", ".ipynb")).read_text())
            assert page.locator("main > .jp-Cell").count() == len(nb["cells"]), f"{name}: cells missing"
            broken = page.evaluate("() => [...document.images].filter(i => i.complete && !i.naturalWidth)"
                                   ".map(i => i.src.slice(0, 80))")
            assert not broken, f"{name}: images that did not load: {broken}"
            no_alt = page.evaluate("() => [...document.querySelectorAll('main img')].filter(i => "
                                   "!(i.getAttribute('alt') || '').trim()).length")
            assert no_alt == 0, f"{name}: {no_alt} images without alt text"
        assert not errors, f"JavaScript errors: {errors}"
    finally:
        context.close()


def test_an_explorer_renders_from_saved_state_offline(browser, site, artifacts):
    out, pages = site
    with_explorers = [(name, explorer_cells(json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text())))
                      for name in pages]
    with_explorers = [(name, cells) for name, cells in with_explorers if cells]
    if not with_explorers:
        pytest.skip("no course notebook shows an explorer yet")
    name, cells = with_explorers[0]
    nb = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text())
    assert any(WIDGET_VIEW in o.get("data", {}) for o in nb["cells"][cells[0]]["outputs"])
    outside, errors = [], []
    context, page = offline_page(browser, outside, errors)
    try:
        page.goto((out / pages[name]).as_uri(), wait_until="load")
        target = page.locator("main > .jp-Cell").nth(cells[0])
        target.scroll_into_view_if_needed()
        widgets = target.locator(".widget-subarea > .jupyter-widgets")
        widgets.first.wait_for(state="visible", timeout=60_000)
        controls = target.locator(".widget-slider, .widget-hslider, .widget-dropdown, .widget-toggle-buttons")
        assert controls.count() and controls.first.is_visible(), "no control rendered from the saved state"
        target.screenshot(path=artifacts / f"site--{name}--explorer.png")
        assert not any("html-manager" in u or "require" in u for u in outside), f"fetched from a CDN: {outside}"
        assert not errors, f"JavaScript errors: {errors}"
    finally:
        context.close()
