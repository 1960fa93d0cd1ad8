"""tools/regen.py: widget model ids become stable, so regenerating an unchanged notebook changes nothing."""

import importlib.util
import json
import re
import uuid
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("regen", ROOT / "tools" / "regen.py")
regen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regen)


def executed_like_nbclient() -> nbformat.NotebookNode:
    """A notebook as nbclient leaves it: random ids in outputs, state keys and IPY_MODEL_ references."""
    box, slider, layout = (uuid.uuid4().hex for _ in range(3))
    nb = new_notebook()
    view = {"version_major": 2, "version_minor": 0, "model_id": box}
    cell = new_code_cell("explorer", outputs=[new_output("display_data", data={regen.WIDGET_VIEW: view})])
    cell.id = "explorer-cell"  # cell ids are random too, but written once by the author, not by regen
    nb.cells = [cell]
    nb.metadata["widgets"] = {
        regen.WIDGET_STATE: {
            "version_major": 2,
            "version_minor": 0,
            "state": {
                slider: {"model_name": "IntSliderModel", "state": {"layout": f"IPY_MODEL_{layout}", "value": 3}},
                box: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{slider}"]}},
                layout: {"model_name": "LayoutModel", "state": {}},
            },
        }
    }
    return nb


def test_two_runs_give_identical_files():
    a = nbformat.writes(regen.stable_widget_ids(executed_like_nbclient(), salt="x.ipynb"))
    b = nbformat.writes(regen.stable_widget_ids(executed_like_nbclient(), salt="x.ipynb"))
    assert a == b


def test_references_stay_consistent_after_renaming():
    nb = regen.stable_widget_ids(executed_like_nbclient(), salt="x.ipynb")
    state = nb.metadata["widgets"][regen.WIDGET_STATE]["state"]
    view_id = nb.cells[0].outputs[0].data[regen.WIDGET_VIEW]["model_id"]
    assert state[view_id]["model_name"] == "VBoxModel"
    refs = re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(nb))
    assert len(refs) == 2 and set(refs) <= set(state)
    slider = refs[0] if state[refs[0]]["model_name"] == "IntSliderModel" else refs[1]
    assert state[slider]["state"]["value"] == 3


def test_different_notebooks_get_different_ids():
    a = regen.stable_widget_ids(executed_like_nbclient(), salt="a.ipynb")
    b = regen.stable_widget_ids(executed_like_nbclient(), salt="b.ipynb")
    assert set(a.metadata["widgets"][regen.WIDGET_STATE]["state"]).isdisjoint(
        b.metadata["widgets"][regen.WIDGET_STATE]["state"]
    )
