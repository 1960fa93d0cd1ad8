"""The course in a real JupyterLab, driven by a real (headless) browser, as a learner uses it.

For every notebook in notebooks/ (plus the e2e fixture explorer): open it in JupyterLab, Run All, wait for
the kernel, and check that no cell shows an error. For every widget explorer (a code cell whose saved
outputs display a widget): move each control and check that what it shows (plot image, Output text)
changes. Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import re

import pytest
from e2e_support import (
    WIDGET_UPDATE_TIMEOUT,
    discover_explorers,
    discover_notebooks,
    explorer_cells,
    runnable_code_cells,
)
from lab_ui import (
    NotebookRun,
    cell,
    control_label,
    explorer_controls,
    live_explorer_cells,
    move_control,
    open_notebook,
    output_problems,
    output_signature,
    run_all,
    wait_kernel_idle,
    wait_output_change,
)

pytestmark = pytest.mark.browser

NOTEBOOKS = discover_notebooks()
EXPLORERS = discover_explorers()


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


class NotebookRuns:
    """Runs each notebook once per session, in its own browser context; explorer tests reuse the page."""

    def __init__(self, browser, server, artifacts):
        self.browser, self.server, self.artifacts = browser, server, artifacts
        self.runs: dict[str, NotebookRun] = {}
        self.contexts = []

    def get(self, case) -> NotebookRun:
        if case.id not in self.runs:
            self.runs[case.id] = self._run(case)
        return self.runs[case.id]

    def _run(self, case) -> NotebookRun:
        context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        self.contexts.append(context)
        page = open_notebook(context, self.server, case, workspace=f"e2e-{len(self.contexts)}")
        expected = runnable_code_cells(case.load())
        executed, seconds = run_all(page, case, expected)
        run = NotebookRun(case=case, page=page, seconds=seconds, executed=executed, expected=expected)
        run.problems, run.stderr_notes = output_problems(page)
        page.screenshot(path=self.artifacts / f"{slug(case.stem)}--after-run-all.png")
        return run

    def close(self):
        for context in self.contexts:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass


@pytest.fixture(scope="module")
def notebook_runs(browser, lab_server, artifacts):
    runs = NotebookRuns(browser, lab_server, artifacts)
    try:
        yield runs
    finally:
        runs.close()


@pytest.mark.parametrize("case", NOTEBOOKS, ids=[c.id for c in NOTEBOOKS])
def test_notebook_runs_clean_in_jupyterlab(notebook_runs, case):
    run = notebook_runs.get(case)
    print(f"{case.id}: {run.executed}/{run.expected} cells ran in {run.seconds:.1f}s")
    for note in run.stderr_notes:
        print(f"stderr (not an error): {note[:300]}")
    assert not run.problems, f"{case.id} shows errors after Run All:\n" + "\n\n".join(run.problems)
    assert run.executed == run.expected, (
        f"{case.id}: only {run.executed} of {run.expected} code cells ran (Run All stopped early?)")


def exercise_explorer(run: NotebookRun, index: int, artifacts) -> list[str]:
    """Move every control of the explorer in cell ``index``; each must change what it shows.

    Returns what was done, for the test output.
    """
    case, page = run.case, run.page
    target = cell(page, index)
    target.scroll_into_view_if_needed()
    target.locator(".jupyter-widgets").first.wait_for(state="visible", timeout=30_000)
    controls = explorer_controls(target)
    assert controls, f"{case.id} cell {index}: explorer shows no slider, dropdown, toggle or button to move"
    shot = artifacts / f"{slug(case.stem)}--cell{index}"
    shoot = target.locator(".jp-Cell-outputArea").first
    shoot.screenshot(path=f"{shot}--0-initial.png")
    done = []
    for n, control in enumerate(controls, start=1):
        label = control_label(control)
        before = output_signature(target)
        assert before, f"{case.id} cell {index}: the explorer shows no plot or output to compare"
        what = move_control(page, control)
        after = wait_output_change(page, target, before)
        shoot.screenshot(path=f"{shot}--{n}-{slug(label)}.png")
        if after == before:
            pytest.fail(f"{case.id} cell {index}: moving {label!r} ({what}) did not change the rendered "
                        f"output (plot image / Output text) within {WIDGET_UPDATE_TIMEOUT:.0f}s", pytrace=False)
        done.append(f"{label}: {what}")
    wait_kernel_idle(page, timeout=60)
    errors = [p for p in output_problems(page)[0] if p.startswith(f"cell {index}:")]
    assert not errors, f"{case.id} cell {index}: errors after moving controls:\n" + "\n".join(errors)
    return done


@pytest.mark.parametrize("case,index", EXPLORERS, ids=[f"{c.id}::cell{i}" for c, i in EXPLORERS])
def test_explorer_responds_to_its_controls(notebook_runs, artifacts, case, index):
    for line in exercise_explorer(notebook_runs.get(case), index, artifacts):
        print(line)


@pytest.mark.parametrize("case", NOTEBOOKS, ids=[c.id for c in NOTEBOOKS])
def test_unsaved_explorers_respond_too(notebook_runs, artifacts, case):
    """Explorers that show up live but not in the committed outputs (notebook saved without outputs)."""
    saved = set(explorer_cells(case.load()))
    run = notebook_runs.get(case)
    live = [i for i in live_explorer_cells(run.page) if i not in saved]
    if not live:
        print("every explorer shown live is in the saved outputs (see test_explorer_responds_to_its_controls)")
    for index in live:
        for line in exercise_explorer(run, index, artifacts):
            print(f"cell {index}: {line}")
