"""`make site` (tools/build_site.py) in a browser, opened from file:// with any request outside it failing the
test: the index in course order with its Markdown rendered, every page with its title, typeset formulas
(KaTeX's DOM, not the TeX source), an explorer rendered from its saved widget state, links index <-> lessons
and previous/next; the learner's edition without the solutions, the instructor's with them."""

from __future__ import annotations

import json
import re
import sys

import pytest
from e2e_support import MADE_BUILD, REPO, explorer_cells, offline_page

sys.path.insert(0, str(REPO / "tools"))
import build_site  # noqa: E402

from course_utils.course import LESSONS  # noqa: E402

pytestmark = pytest.mark.browser
SOLUTION_MARK = "BEGIN SOLUTION"
CONTROLS = ".widget-slider, .widget-hslider, .widget-dropdown, .widget-toggle-buttons, .widget-checkbox"


@pytest.fixture(scope="module")
def editions(tmp_path_factory, web_assets):
    """{"learner": (folder, pages), "instructor": (folder, pages)}, built as `make site` builds them."""
    built = {}
    for name, solutions in (("learner", False), ("instructor", True)):
        if MADE_BUILD:  # the pages `make site` wrote (make offline-check)
            built[name] = made_by_make_site(MADE_BUILD / ("site-instructor" if solutions else "site"))
            continue
        out = tmp_path_factory.mktemp(name) / "site"
        built[name] = (out, build_site.build(out, solutions=solutions)["pages"])
    return built


def made_by_make_site(out):
    """(folder, pages) of an edition `make site` wrote; every lesson must be there."""
    pages = {e.notebook: build_site.page_name(e) for e in LESSONS}
    missing = [page for page in pages.values() if not (out / page).is_file()]
    assert not missing and (out / "index.html").is_file(), f"{out}: pages missing ({missing}): run `make site`"
    return out, pages


def notebook(name: str) -> dict:
    return json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))


def has_math(nb: dict) -> bool:
    return any(cell["cell_type"] == "markdown" and "$" in "".join(cell["source"]) for cell in nb["cells"])


def has_solutions(nb: dict) -> bool:
    return any(cell["cell_type"] == "code" and SOLUTION_MARK in "".join(cell["source"]) for cell in nb["cells"])


def open_offline(browser, url: str, outside: list, errors: list):
    context, page = offline_page(browser, outside, errors)
    page.goto(url, wait_until="load")
    return context, page


def test_index_lists_the_course_in_order_with_markdown_rendered(browser, editions, artifacts):
    out, pages = editions["learner"]
    outside, errors = [], []
    context, page = open_offline(browser, (out / "index.html").as_uri(), outside, errors)
    try:
        assert page.title().strip(), "the index has no <title>"
        rows = page.locator("tbody tr")
        assert rows.count() == len(LESSONS)
        for i, entry in enumerate(LESSONS):
            assert entry.title in rows.nth(i).inner_text()
        assert "`" not in page.locator("tbody").inner_text(), "Markdown backticks shown literally"
        if any("`" in e.teaches for e in LESSONS):
            assert page.locator("tbody code").count(), "inline code in the catalog is not rendered"
        assert page.locator("tbody a").count() == len(pages) and pages, "a link for every lesson that exists"
        page.screenshot(path=artifacts / "site--index.png", full_page=True)
        assert not outside, f"requests outside file://: {outside}"
        assert not errors, f"JavaScript errors: {errors}"
    finally:
        context.close()


@pytest.mark.parametrize("edition", ["learner", "instructor"])
def test_every_page_renders_offline_with_title_math_explorer_and_navigation(browser, editions, artifacts, edition):
    out, pages = editions[edition]
    names = list(pages)
    for k, name in enumerate(names):
        nb = notebook(name)
        outside, errors = [], []
        context, page = open_offline(browser, (out / "index.html").as_uri(), outside, errors)
        try:
            page.locator(f'tbody a[href="{pages[name]}"]').click()  # index -> lesson
            page.wait_for_load_state("load")
            assert page.url.endswith(pages[name])
            entry = next(e for e in LESSONS if e.notebook == name)
            assert entry.title in page.title(), f"{name}: <title> is {page.title()!r}"
            assert page.locator("main > .jp-Cell").count() == len(nb["cells"]), f"{name}: cells missing"
            check_math(page, nb, name)
            check_first_explorer(page, nb, name, artifacts / f"site-{edition}--{name}--explorer.png")
            check_solutions(page, nb, name, shown=edition == "instructor")
            check_images(page, name)
            check_navigation(page, pages, names, k)
            assert not outside, f"{name}: requests outside file://: {sorted(set(outside))}"
            assert not errors, f"{name}: JavaScript errors: {errors}"
        finally:
            context.close()


def check_math(page, nb: dict, name: str) -> None:
    if not has_math(nb):
        return
    page.locator(".jp-MarkdownCell .katex").first.wait_for(state="attached", timeout=10_000)
    typeset = page.locator(".jp-MarkdownCell .katex .katex-html").count()
    assert typeset, f"{name}: no formula typeset by KaTeX"
    assert page.locator(".katex-error").count() == 0, f"{name}: formulas KaTeX could not typeset"
    markdown = " ".join(page.locator(".jp-MarkdownCell").all_inner_texts())
    assert not re.search(r"\$\$|\\frac|\\hat|\\sqrt", markdown), f"{name}: TeX source shown instead of math"


def check_first_explorer(page, nb: dict, name: str, shot) -> None:
    cells = explorer_cells(nb)
    if not cells:
        return
    target = page.locator("main > .jp-Cell").nth(cells[0])
    target.scroll_into_view_if_needed()
    target.locator(".widget-subarea > .jupyter-widgets").first.wait_for(state="visible", timeout=60_000)
    controls = target.locator(CONTROLS)
    assert controls.count() and controls.first.is_visible(), f"{name}: no control rendered from the saved state"
    target.screenshot(path=shot)


def check_solutions(page, nb: dict, name: str, shown: bool) -> None:
    if not has_solutions(nb):
        return
    code = " ".join(page.locator(".jp-CodeCell .jp-InputArea").all_inner_texts())
    if shown:
        assert SOLUTION_MARK in code, f"{name}: the instructor's edition lost the solutions"
    else:
        assert SOLUTION_MARK not in code, f"{name}: the learner's edition shows the solutions"
        assert "raise NotImplementedError()" in code, f"{name}: exercises without their stub"


def check_images(page, name: str) -> None:
    broken = page.evaluate("() => [...document.images].filter(i => i.complete && !i.naturalWidth)"
                           ".map(i => i.src.slice(0, 80))")
    assert not broken, f"{name}: images that did not load: {broken}"
    no_alt = page.evaluate("() => [...document.querySelectorAll('main img')].filter(i => "
                           "!(i.getAttribute('alt') || '').trim()).length")
    assert no_alt == 0, f"{name}: {no_alt} images without alt text"


def check_navigation(page, pages: dict, names: list, k: int) -> None:
    """previous/next lead to the neighbouring lessons (and back), 'Course index' to the index."""
    nav = page.locator("nav.course-nav").first
    here = page.url
    for rel, step in (("prev", -1), ("next", 1)):
        link = nav.locator(f'a[rel="{rel}"]')
        if not 0 <= k + step < len(names):
            assert link.count() == 0, f"{names[k]}: a {rel} link past the end of the course"
            continue
        link.click()
        page.wait_for_load_state("load")
        assert page.url.endswith(pages[names[k + step]]), f"{names[k]}: {rel} leads to {page.url}"
        page.locator("nav.course-nav").first.locator(f'a[rel="{"next" if rel == "prev" else "prev"}"]').click()
        page.wait_for_load_state("load")
        assert page.url == here, f"{names[k + step]} does not lead back to {names[k]}"
    page.locator("nav.course-nav").first.locator('a[rel="index"]').click()
    page.wait_for_load_state("load")
    assert page.url.endswith("index.html") and page.locator("tbody tr").count() == len(LESSONS)
