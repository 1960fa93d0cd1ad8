"""Re-execute course notebooks in place, exactly as CI's nbval run will check them.

Usage: python tools/regen.py notebooks/01_*.ipynb   (the Makefile's `make regen` calls this
inside the pinned .venv). Sources are never touched: only outputs, execution counts and the saved
widget state are rewritten. Volatile metadata (execution timestamps) is not recorded.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNEL = "python3"


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
    nb.metadata.get("kernelspec", {}).update({"name": KERNEL, "display_name": "Python 3 (ipykernel)"})
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


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
