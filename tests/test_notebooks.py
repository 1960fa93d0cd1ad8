"""Structure every course notebook must have; nbval (make nbval) checks the outputs themselves."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def regen_hint(path) -> str:
    """What to do about a notebook whose stored outputs are not one clean run, and what that command changes."""
    return (
        f"authors: `make regen NB={path}` re-executes this notebook in place and replaces all its stored "
        "outputs with fresh ones. If you are learning and edited or ran cells in this file, do not run it: "
        "this check is about the course's committed notebooks, and it would overwrite your outputs."
    )


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
class TestNotebook:
    def test_first_code_cell_calls_the_setup_function(self, path):
        first = "".join(code_cells(load(path))[0]["source"])
        assert "setup_notebook(" in first, "the first code cell must call course_utils.setup_notebook()"
        others = [c for c in code_cells(load(path))[1:] if "setup_notebook(" in "".join(c["source"])]
        assert not others, "setup_notebook() is called once, in the first code cell"

    def test_outputs_are_one_clean_top_to_bottom_run(self, path):
        counts = [c["execution_count"] for c in code_cells(load(path))]
        assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}: {regen_hint(path)}"

    def test_no_svg_no_errors_no_timestamps(self, path):
        for cell in code_cells(load(path)):
            assert "execution" not in cell["metadata"], f"timestamps in metadata: {regen_hint(path)}"
            for out in cell["outputs"]:
                assert out["output_type"] != "error", f"error output in cell: {''.join(cell['source'])[:80]}"
                assert "image/svg+xml" not in out.get("data", {}), "SVG output (nbval compares it): use PNG"

    def test_widget_output_cells_are_tagged_for_nbval(self, path):
        for cell in code_cells(load(path)):
            has_widget = any(WIDGET_MIME in out.get("data", {}) for out in cell["outputs"])
            if has_widget:
                assert "nbval-ignore-output" in cell["metadata"].get("tags", []), (
                    f"widget cell needs the nbval-ignore-output tag: {''.join(cell['source'])[:80]}"
                )

    def test_kernel_is_python3(self, path):
        assert load(path)["metadata"]["kernelspec"]["name"] == "python3"

    def test_has_the_course_sections(self, path):
        text = markdown(load(path)).lower()
        assert re.search(r"^# ", markdown(load(path)), re.M), "a title (# heading)"
        for needle in ("learning goals", "time", "prerequisites", "takeaways", "further reading"):
            assert needle in text, f"missing section: {needle}"

    def test_has_a_runtime_budget(self, path):
        budget = load(path)["metadata"].get("normcourse", {}).get("budget_seconds")
        assert isinstance(budget, int | float) and budget > 0, "metadata.normcourse.budget_seconds (used by make bench)"

    def test_exercise_solutions_are_marked_and_checked(self, path):
        cells = code_cells(load(path))
        for i, cell in enumerate(cells):
            src = "".join(cell["source"])
            if "### BEGIN SOLUTION" in src:
                assert "### END SOLUTION" in src, "BEGIN SOLUTION without END SOLUTION"
                next_src = "".join(cells[i + 1]["source"]) if i + 1 < len(cells) else ""
                after = src.split("### END SOLUTION", 1)[1] + next_src
                assert "exercises" in after or "check_" in after, "a solution is followed by an exercises check"

    def test_images_exist(self, path):
        for ref in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown(load(path))):
            assert not ref.startswith(("/", "http")), f"image by relative path, got {ref}"
            assert (path.parent / ref).is_file(), f"missing image {ref}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_widget_state_resolves_every_reference(path):
    """HTML exports render explorers from the saved state: every view and IPY_MODEL_ reference must resolve."""
    nb = load(path)
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    views = [out["data"][WIDGET_MIME]["model_id"] for c in code_cells(nb) for out in c["outputs"]
             if WIDGET_MIME in out.get("data", {})]
    refs = set(re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(nb)))
    assert all(v in state for v in views), "a widget view points to a model missing from metadata.widgets"
    assert refs <= set(state), f"{len(refs - set(state))} IPY_MODEL_ references do not resolve"
