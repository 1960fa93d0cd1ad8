"""Re-execute course notebooks in place, exactly as CI's nbval run will check them.

Usage: python tools/regen.py notebooks/01_*.ipynb   (the Makefile's `make regen` calls this
inside the pinned .venv). Sources are never touched: only outputs, execution counts and the saved
widget state are rewritten. Volatile metadata (execution timestamps) is not recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNEL = "python3"
DISPLAY_NAME = "Python 3 (NormCourse)"  # as `make setup` installs it, so JupyterLab does not mark notebooks changed


def regenerate(path: Path, timeout: int = 600) -> float:
    """Execute one notebook top to bottom in a fresh kernel and write it back; return seconds taken."""
    nb = nbformat.read(path, as_version=4)
    sources_before = [cell.source for cell in nb.cells]
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=timeout,
        record_timing=False,  # timestamps would make every run a diff
        store_widget_state=True,  # explorers stay visible in HTML exports without a kernel
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    assert [cell.source for cell in nb.cells] == sources_before, "regen must never change cell sources"
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.get("kernelspec", {}).update({"name": KERNEL, "display_name": DISPLAY_NAME})
    nb = stable_widget_ids(nb, salt=path.name)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MODEL_REF = re.compile(r"IPY_MODEL_([0-9a-f]{32})")


def stable_widget_ids(nb: nbformat.NotebookNode, salt: str) -> nbformat.NotebookNode:
    """Replace the random widget model ids by ids derived from the notebook's name and the order in
    which the models are reached from the cell outputs, so regenerating an unchanged notebook gives
    an unchanged file (the saved widget state would otherwise change completely on every run)."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return nb
    order: list[str] = []

    def visit(model_id: str) -> None:
        if model_id in order:
            return
        order.append(model_id)  # also ids referenced but not saved (nbclient drops some layout/style models)
        if model_id in state:
            for ref in MODEL_REF.findall(json.dumps(state[model_id]["state"], sort_keys=True)):
                visit(ref)

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view:
                visit(view["model_id"])
    rest = sorted(set(state) - set(order), key=lambda m: MODEL_REF.sub("", json.dumps(state[m], sort_keys=True)))
    for model_id in rest:
        visit(model_id)
    mapping = {old: hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()[:32] for i, old in enumerate(order)}
    text = re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", lambda m: mapping.get(m[0], m[0]), nbformat.writes(nb))
    return nbformat.reads(text, as_version=4)


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(Path("notebooks").glob("*.ipynb"))
    os.environ.setdefault("NORMCOURSE_NO_PROGRESS", "1")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    for path in paths:
        if not path.is_file():
            print(f"regen: no such notebook: {path}", file=sys.stderr)
            return 2
        print(f"regen {path} ...", flush=True)
        print(f"  done in {regenerate(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
