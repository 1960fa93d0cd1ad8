"""A course notebook exported to HTML (nbconvert, committed outputs, no kernel) still shows its explorers.

`make regen` stores the widget state in the notebook metadata; nbconvert embeds it in the HTML. The
course's exporter (tools/build_site.py, the one `make site` uses) points the page at require.js, the
widget manager and KaTeX copied beside it from the pinned assets that `make setup-dev` installs
(tools/web_assets.py): in the browser every explorer renders from file:// and any request outside it
fails the test.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from e2e_support import REPO, WIDGET_STATE, WIDGET_VIEW, discover_notebooks, explorer_cells, offline_page
from nbconvert import HTMLExporter

sys.path.insert(0, str(REPO / "tools"))
import build_site  # noqa: E402

CASES = [c for c in discover_notebooks() if explorer_cells(c.load())]
IDS = [c.id for c in CASES]


def models_reachable(state: dict, model_id: str) -> list[str]:
    """model_id and every model it references (children, layout, style, ...), depth first."""
    seen, todo = [], [model_id]
    while todo:
        mid = todo.pop()
        if mid in seen:
            continue
        seen.append(mid)
        todo += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state.get(mid, {}).get("state", {})))
    return seen


def saved_images(state: dict, model_id: str) -> int:
    """Images shown by Output widgets inside the explorer, according to the saved state."""
    count = 0
    for mid in models_reachable(state, model_id):
        model = state.get(mid, {})
        if model.get("model_name") == "OutputModel":
            count += sum(any(k.startswith("image/") for k in o.get("data", {}))
                         for o in model["state"].get("outputs", []))
    return count


def explorer_views(nb: dict) -> dict[int, list[str]]:
    """cell index -> model ids of the widget views its saved outputs display."""
    return {i: [o["data"][WIDGET_VIEW]["model_id"] for o in nb["cells"][i]["outputs"]
                if WIDGET_VIEW in o.get("data", {})] for i in explorer_cells(nb)}


def export(case) -> str:
    body, _ = HTMLExporter().from_filename(str(case.path))
    return body


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_saved_widget_state_is_embedded_in_the_html(case):
    nb = case.load()
    saved = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE)
    assert saved, (
        f"{case.id} shows widgets but has no saved widget state: authors run `make regen NB={case.path.name}`, "
        "which re-executes the notebook in place and replaces all its stored outputs"
    )
    state = saved["state"]
    for index, model_ids in explorer_views(nb).items():
        for mid in model_ids:
            missing = [m for m in models_reachable(state, mid) if m not in state]
            assert not missing, f"{case.id} cell {index}: widget view refers to unsaved models {missing}"

    html = export(case)
    blocks = re.findall(rf'<script type="{re.escape(WIDGET_STATE)}">(.*?)</script>', html, re.S)
    assert len(blocks) == 1, "the exported HTML carries no widget state"
    embedded = json.loads(blocks[0])["state"]
    views = re.findall(rf'<script type="{re.escape(WIDGET_VIEW)}">(.*?)</script>', html, re.S)
    view_ids = [json.loads(v)["model_id"] for v in views]
    expected = [m for ids in explorer_views(nb).values() for m in ids]
    assert view_ids == expected, "the HTML's widget views differ from the notebook's"
    assert all(m in embedded for m in view_ids)
    assert "@jupyter-widgets/html-manager@" in html, "the HTML does not load the widget manager"


# ------------------------------------------------------------------------------------------ in a browser
@pytest.mark.browser
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exported_html_shows_explorers_without_a_kernel(browser, web_assets, artifacts, tmp_path, case):
    nb = case.load()
    saved = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE)
    if not saved:
        pytest.fail(f"{case.id}: no saved widget state, nothing to show without a kernel "
                    f"(authors: `make regen NB={case.path.name}` re-executes the notebook in place and replaces "
                    "all its stored outputs)", pytrace=False)
    state = saved["state"]
    web_assets.copy_assets(tmp_path)
    html = tmp_path / f"{case.stem}.html"
    html.write_text(build_site.export(case.path), encoding="utf-8")

    outside, errors = [], []
    context, page = offline_page(browser, outside, errors)
    try:
        page.goto(html.as_uri(), wait_until="load", timeout=60_000)
        views = explorer_views(nb)
        page.locator(".jp-Cell .jupyter-widgets").first.wait_for(state="visible", timeout=30_000)
        cells = page.locator("main > .jp-Cell")
        assert cells.count() == len(nb["cells"]), f"{cells.count()} cells in the HTML, {len(nb['cells'])} saved"
        for index, model_ids in views.items():
            target = cells.nth(index)
            target.scroll_into_view_if_needed()
            widgets = target.locator(".widget-subarea > .jupyter-widgets")
            widgets.first.wait_for(state="visible", timeout=30_000)
            assert widgets.count() >= len(model_ids), f"cell {index}: {widgets.count()} of {len(model_ids)} shown"
            text = target.inner_text()
            assert not re.search(r"Error|Failed to load", text), f"cell {index}: {text[:300]}"
            controls = target.locator(".widget-slider, .widget-hslider, .widget-dropdown, .widget-toggle-buttons, "
                                      ".widget-radio-box, .widget-checkbox, .widget-select")
            assert controls.count() and controls.first.is_visible(), f"cell {index}: no control rendered"
            images = sum(saved_images(state, m) for m in model_ids)
            shown = target.locator(".widget-output img")
            if images:
                shown.first.wait_for(state="visible", timeout=30_000)
            assert shown.count() >= images, f"cell {index}: {shown.count()} of the {images} saved plots shown"
            target.screenshot(path=artifacts / f"{case.stem}--cell{index}--exported-html.png")
        page.screenshot(path=artifacts / f"{case.stem}--exported-html.png", full_page=True)
        assert not outside, f"requests outside file:// and loopback: {sorted(set(outside))}"
        assert not errors, f"JavaScript errors in the exported page: {errors}"
    finally:
        context.close()
