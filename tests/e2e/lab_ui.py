"""Driving JupyterLab 4 the way a learner does: menus, clicks and keys, through Playwright.

Every wait has a timeout. Selectors are JupyterLab's and ipywidgets 8's stable CSS classes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from e2e_support import NOTEBOOK_TIMEOUT, WIDGET_UPDATE_TIMEOUT, LabServer, NotebookCase

PANEL = ".jp-NotebookPanel:visible"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
WIDGET_ERRORS = re.compile(r"Error displaying widget|Error rendering|Failed to load model class|"
                           r"model not found|Could not render")
CONTROLS = (
    ".widget-slider .noUi-handle, .widget-hslider .noUi-handle, .widget-vslider .noUi-handle, "
    ".widget-dropdown select, .widget-toggle-buttons button, .widget-radio-box input, "
    ".widget-checkbox input, .widget-select select, .widget-select-multiple select, "
    ".widget-text input[type=number], button.widget-button, button.widget-toggle-button"
)


@dataclass
class NotebookRun:
    """What running one notebook top to bottom in the browser showed."""

    case: NotebookCase
    page: object
    seconds: float
    executed: int = 0
    expected: int = 0
    problems: list[str] = field(default_factory=list)
    stderr_notes: list[str] = field(default_factory=list)


def dismiss_toasts(page) -> None:
    """Close the 'get notified about Jupyter news?' toast (and any other) if it shows."""
    for label in ("No", "Dismiss"):
        buttons = page.locator(".jp-toast-button", has_text=re.compile(rf"^\s*{label}\s*$"))
        for i in range(buttons.count()):
            try:
                buttons.nth(i).click(timeout=2_000)
            except Exception:  # the toast may vanish by itself  # noqa: BLE001
                pass


def menu(page, top: str, item: str) -> None:
    """Click a main-menu entry, e.g. menu(page, "Run", "Run All Cells")."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    entry = page.locator(".lm-Menu-content .lm-Menu-item:visible",
                         has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")))
    entry.first.click(timeout=10_000)


def wait_kernel_idle(page, timeout: float = 120.0, settle: float = 1.0) -> None:
    """Wait until the notebook's kernel reports idle (and stays so for ``settle`` seconds)."""
    indicator = page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator").first
    deadline = time.monotonic() + timeout
    idle_since = None
    while time.monotonic() < deadline:
        status = indicator.get_attribute("data-status", timeout=10_000)
        bar = page.locator("#jp-main-statusbar").inner_text(timeout=10_000)
        idle = status == "idle" and re.search(r"\|\s*Idle", bar) is not None
        if idle:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle:
                return
        else:
            idle_since = None
        time.sleep(0.25)
    raise TimeoutError(f"kernel not idle after {timeout:.0f}s (status bar: {bar!r})")


def prompts(page) -> list[str]:
    return page.locator(f"{PANEL} .jp-CodeCell .jp-InputArea-prompt").all_text_contents()


def open_notebook(context, server: LabServer, case: NotebookCase, workspace: str):
    """Open ``case`` in its own JupyterLab workspace (so other notebooks' tabs don't come back)."""
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server.url(f"/lab/workspaces/{workspace}/tree/{case.served_as}?reset"), timeout=60_000)
    page.locator(PANEL).first.wait_for(state="visible", timeout=60_000)
    page.locator(f"{PANEL} .jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
    dismiss_toasts(page)
    wait_kernel_idle(page, timeout=120)
    return page


def run_all(page, case: NotebookCase, expected: int) -> tuple[int, float]:
    """Clear outputs, Run > Run All Cells, wait until no cell is queued/running and the kernel is idle.

    Returns (number of cells with an execution count, seconds). Clearing first means every output
    checked afterwards comes from this run, not from the committed notebook.
    """
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')]"
        ".some(e => /\\[\\d+\\]/.test(e.textContent))", timeout=10_000)
    start = time.monotonic()
    menu(page, "Run", "Run All Cells")
    deadline = start + NOTEBOOK_TIMEOUT
    stable_since = None
    while time.monotonic() < deadline:
        dismiss_toasts(page)
        texts = prompts(page)
        running = any("*" in t for t in texts)
        done = sum(bool(re.search(r"\[\d+\]", t)) for t in texts)
        status = page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator").first.get_attribute("data-status")
        if not running and status == "idle" and (done >= expected or done > 0):
            stable_since = stable_since or time.monotonic()
            if done >= expected or time.monotonic() - stable_since > 3:  # stopped early on an error
                wait_kernel_idle(page, timeout=60)
                return done, time.monotonic() - start
        else:
            stable_since = None
        time.sleep(0.5)
    raise TimeoutError(f"{case.id}: not finished after {NOTEBOOK_TIMEOUT:.0f}s "
                       f"(set NORMCOURSE_E2E_NOTEBOOK_TIMEOUT); prompts: {prompts(page)}")


def cell(page, index: int):
    return page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(index)


def output_problems(page) -> tuple[list[str], list[str]]:
    """(errors, other stderr) shown in the notebook's outputs."""
    errors, notes = [], []
    cells = page.locator(f"{PANEL} .jp-Notebook .jp-Cell")
    for i in range(cells.count()):
        outs = cells.nth(i).locator(STDERR)
        for j in range(outs.count()):
            text = outs.nth(j).text_content() or ""
            target = errors if ("Traceback" in text or re.search(r"\w+Error\b", text)) else notes
            target.append(f"cell {i}: {text.strip()[:2000]}")
        area = cells.nth(i).locator(".jp-OutputArea")
        if area.count():
            text = area.first.text_content() or ""
            if WIDGET_ERRORS.search(text):
                errors.append(f"cell {i}: widget did not render: {text.strip()[:500]}")
    return errors, notes


# ------------------------------------------------------------------------------------------ explorers
def output_signature(target) -> tuple:
    """What the explorer shows apart from its controls: plot images, SVG and Output-widget text."""
    return tuple(target.evaluate(
        """el => {
            const area = el.querySelector('.jp-Cell-outputArea') || el;
            const parts = [];
            area.querySelectorAll('img').forEach(i => parts.push('img:' + i.getAttribute('src')));
            area.querySelectorAll('svg').forEach(s => {
                if (!s.closest('.widget-inline-hbox, .widget-inline-vbox, .jupyter-button, .noUi-target'))
                    parts.push('svg:' + s.outerHTML.length + ':' + s.textContent);
            });
            area.querySelectorAll('.widget-output').forEach(o => parts.push("out:" + o.textContent));
            area.querySelectorAll('.widget-html-content').forEach(o => parts.push('html:' + o.innerHTML));
            return parts;
        }"""))


def control_label(control) -> str:
    return control.evaluate(
        """el => {
            if (el.tagName === 'BUTTON' && el.textContent.trim()) return el.textContent.trim();
            const box = el.closest('.widget-inline-hbox, .widget-inline-vbox, .widget-toggle-buttons, '
                                   + '.widget-radio-box, .widget-checkbox, .widget-box') || el;
            const lab = box.querySelector('.widget-label');
            return ((lab && lab.textContent) || el.getAttribute('aria-label') || el.tagName).trim();
        }""")


def move_control(page, control) -> str:
    """Change one control's value like a learner would; returns a description of what was done."""
    tag = control.evaluate("el => el.tagName.toLowerCase()")
    cls = control.get_attribute("class") or ""
    if "noUi-handle" in cls:
        control.scroll_into_view_if_needed()
        readout = control.locator("xpath=ancestor::*[contains(@class,'widget-slider')][1]//*[contains(@class,"
                                  "'widget-readout')]").first

        def shown() -> str:
            try:
                return (readout.input_value(timeout=1_000) if readout.evaluate("e => 'value' in e")
                        else readout.inner_text(timeout=1_000)).strip()
            except Exception:  # noqa: BLE001 - no readout (readout=False): fall back to the ARIA value
                return control.get_attribute("aria-valuenow") or "?"

        before, at = shown(), control.get_attribute("aria-valuenow")
        control.click()
        page.keyboard.press("ArrowRight")
        if control.get_attribute("aria-valuenow") == at:  # already at the maximum
            page.keyboard.press("ArrowLeft")
            page.keyboard.press("ArrowLeft")
        return f"slider {before} -> {shown()}"
    if tag == "select":
        options = control.evaluate("el => [...el.options].map(o => o.value)")
        current = control.input_value()
        others = [o for o in options if o != current]
        if not others:
            return "select with a single option (not moved)"
        control.select_option(others[0])
        return f"select {current!r} -> {others[0]!r}"
    if tag == "input" and control.get_attribute("type") == "number":
        before = control.input_value()
        control.scroll_into_view_if_needed()
        control.click()
        page.keyboard.press("ArrowUp")  # one step up, like the spinner; Enter commits it
        page.keyboard.press("Enter")
        return f"number {before} -> {control.input_value()}"
    control.click()
    return f"clicked {tag}"


def explorer_controls(target) -> list:
    """The explorer's enabled, visible controls: one per widget (a single button of a ToggleButtons)."""
    controls = target.locator(CONTROLS)
    keep = controls.evaluate_all(
        """els => {
            const seen = new Set(), keep = [];
            els.forEach((el, i) => {
                const group = el.closest('.widget-toggle-buttons, .widget-radio-box') || el;
                const off = el.disabled === true || el.closest('.mod-disabled') !== null
                    || (el.classList.contains('mod-active') && el.closest('.widget-toggle-buttons'))
                    || (el.type === 'radio' && el.checked)
                    || !(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
                if (!off && !seen.has(group)) { seen.add(group); keep.push(i); }
            });
            return keep;
        }""")
    return [controls.nth(i) for i in keep]


def live_explorer_cells(page) -> list[int]:
    """Indices of cells whose rendered outputs hold widget controls (a progress bar alone is not one)."""
    return page.locator(f"{PANEL} .jp-Notebook .jp-Cell").evaluate_all(
        f"""cells => cells.map((c, i) => c.querySelector('.jp-Cell-outputArea .jupyter-widgets')
                && c.querySelector({json.dumps(CONTROLS)}.split(', ').map(s => '.jp-Cell-outputArea ' + s).join(', '))
                ? i : -1).filter(i => i >= 0)""")


def wait_output_change(page, target, before: tuple, timeout: float = WIDGET_UPDATE_TIMEOUT) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = output_signature(target)
        if now != before and now:
            wait_kernel_idle(page, timeout=timeout, settle=0.5)
            return output_signature(target)
        time.sleep(0.25)
    return output_signature(target)
