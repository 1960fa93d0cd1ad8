"""Benchmark table: notebook run times and widget update latency, each against its budget.

    make bench            # all notebooks and explorers
    make bench ARGS=--no-notebooks

Notebook budgets live in each notebook's metadata (``metadata.normcourse.budget_seconds``);
explorer budgets in ``course_utils.widgets.BENCHMARKS``. Notebooks run on a temporary copy,
so nothing committed is rewritten. Exit code 1 if any budget is exceeded.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def time_notebook(path: Path) -> tuple[float, float | None]:
    nb = nbformat.read(path, as_version=4)
    budget = nb.metadata.get("normcourse", {}).get("budget_seconds")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "notebooks"
        shutil.copytree(path.parent, copy)
        client = NotebookClient(nb, kernel_name="python3", timeout=900, resources={"metadata": {"path": str(copy)}})
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start, budget


def time_explorers(repeats: int = 5) -> list[tuple[str, float, float, float]]:
    """Per control change: the first (cold: nothing cached for that setting yet) and the median of
    ``repeats`` later changes (warm), in ms, with the budget."""
    import course_utils.widgets as widgets

    widgets.import_explorer_modules()
    rows = []
    for bench in widgets.BENCHMARKS:
        explorer = bench.build()
        for control, value in bench.changes:
            samples = []
            for _ in range(repeats + 1):
                original = explorer.controls[control].value
                start = time.perf_counter()
                explorer.controls[control].value = value
                samples.append(1000 * (time.perf_counter() - start))
                explorer.controls[control].value = original
            name = f"{bench.name}: {control} -> {value!r}"
            rows.append((name, samples[0], statistics.median(samples[1:]), bench.budget_ms))
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-notebooks", action="store_true", help="skip executing notebooks")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from course_utils import setup_notebook

    setup_notebook(quiet=True)
    header = ("what", "first (cold)", "median (warm)", "budget", "")
    rows: list[tuple[str, ...]] = []
    over = False
    for name, cold, warm, budget in time_explorers():
        ok = max(cold, warm) <= budget
        over |= not ok
        rows.append((name, f"{cold:.1f} ms", f"{warm:.1f} ms", f"{budget:.0f} ms", "ok" if ok else "OVER"))
    if not args.no_notebooks:
        for path in args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb")):
            seconds, budget = time_notebook(path)
            ok = budget is None or seconds <= budget
            over |= not ok
            budget_text = "-" if budget is None else f"{budget:.0f} s"
            rows.append((f"notebook {path.name}", f"{seconds:.1f} s", "", budget_text, "ok" if ok else "OVER"))
    widths = [max(len(r[i]) for r in [*rows, header]) for i in range(len(header))]
    for row in [header, tuple("-" * n for n in widths), *rows]:
        print("  ".join(cell.ljust(n) for cell, n in zip(row, widths, strict=True)).rstrip())
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
