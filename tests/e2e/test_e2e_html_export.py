"""A course notebook exported to HTML (nbconvert, committed outputs, no kernel) still shows its explorers.

`make regen` stores the widget state in the notebook metadata; nbconvert embeds it in the HTML together
with a <script> that loads @jupyter-widgets/html-manager (and require.js) from a CDN. No CDN is reachable
here, so the browser test fetches those two packages from the npm registry with `npm pack` (npm's cache
makes later runs offline) and has Playwright answer the CDN URLs from them: the exported HTML is tested
byte for byte as nbconvert wrote it. Every other outside request is aborted.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from e2e_support import WIDGET_STATE, WIDGET_VIEW, discover_notebooks, explorer_cells
from nbconvert import HTMLExporter

# The html-manager that goes with ipywidgets 8.1 (the notebook's widget state is version 2 / 8.x).
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"
REQUIREJS = "requirejs@2.3.8"
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
@pytest.fixture(scope="session")
def widget_js(tmp_path_factory) -> dict[str, Path]:
    """The html-manager's dist/ folder and require.js, unpacked from the npm registry's tarballs."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("rendering exported HTML needs npm (to fetch @jupyter-widgets/html-manager); "
                    "install it with `apt-get install npm`")
    dest = tmp_path_factory.mktemp("widget-js")
    try:
        res = subprocess.run([npm, "pack", "--silent", "--pack-destination", str(dest), HTML_MANAGER, REQUIREJS],
                             capture_output=True, text=True, timeout=300, cwd=dest)
    except subprocess.TimeoutExpired:
        pytest.skip(f"`npm pack {HTML_MANAGER}` took more than 300 s (npm registry unreachable?)")
    if res.returncode != 0:
        pytest.skip(f"`npm pack {HTML_MANAGER} {REQUIREJS}` failed: {res.stderr.strip()[-500:]}")
    out = {}
    for tgz in dest.glob("*.tgz"):
        target = dest / tgz.stem
        with tarfile.open(tgz) as tar:
            tar.extractall(target, filter="data")
        out[tgz.stem.split("-")[0] if tgz.stem.startswith("requirejs") else "html-manager"] = target / "package"
    return {"dist": out["html-manager"] / "dist", "require": out["requirejs"] / "require.js"}


def serve_cdn_locally(context, widget_js: dict[str, Path], log: list[str]) -> None:
    manager = re.compile(r"/@jupyter-widgets/html-manager@[^/]+/dist/([^?#]+)")

    def handle(route):
        url = route.request.url
        found = manager.search(url)
        if found and (widget_js["dist"] / found.group(1)).is_file():
            return route.fulfill(path=widget_js["dist"] / found.group(1))
        if re.search(r"/require(\.min)?\.js$", url):
            return route.fulfill(path=widget_js["require"])
        log.append(url)
        return route.abort()

    context.route(re.compile(r"^https?://"), handle)


@pytest.mark.browser
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exported_html_shows_explorers_without_a_kernel(browser, widget_js, artifacts, tmp_path, case):
    nb = case.load()
    saved = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE)
    if not saved:
        pytest.fail(f"{case.id}: no saved widget state, nothing to show without a kernel "
                    f"(authors: `make regen NB={case.path.name}` re-executes the notebook in place and replaces "
                    "all its stored outputs)", pytrace=False)
    state = saved["state"]
    html = tmp_path / f"{case.stem}.html"
    html.write_text(export(case), encoding="utf-8")

    aborted, errors = [], []
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        serve_cdn_locally(context, widget_js, aborted)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
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
        assert not errors, f"JavaScript errors in the exported page: {errors}"
    finally:
        context.close()
    print(f"outside requests aborted (not needed to show widgets): {sorted(set(aborted))}")
