"""The student build: every course notebook without its solutions, for learners and handouts.

    make student                                   # notebooks/*.ipynb -> build/student/*.ipynb
    python tools/student.py --out DIR NB.ipynb ... # the same for chosen notebooks

nbgrader does the stripping: its own ``ClearSolutions`` preprocessor (``enforce_metadata=False``, so
the course's notebooks need no nbgrader cell metadata) replaces each ``### BEGIN SOLUTION`` ..
``### END SOLUTION`` region of a code cell by ``raise NotImplementedError()``, indented like the
marker: a solution inside a function body leaves the signature, the docstring and a stub that the
checks (``course_utils.exercises.call_learner``) report as "not done yet".

Only code cells go through nbgrader: markdown cells that *mention* the markers in prose stay as they
are (nbgrader would treat such a line as the start of a written answer and cut the rest of the cell).
The outputs of the exercise cells (a cell that had a solution region, and the check cell right after
it, if the check sits in a cell of its own) are cleared, because they would show the solution's
result; every other cell keeps its source, outputs and the saved widget state, so the explorers and
figures still show before anything runs.

Idempotent: the output depends only on the input, and a file whose content would not change is not
rewritten (its modification time stays, so ``make`` and the learner workspace see no update).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearSolutions

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "BEGIN SOLUTION"
END = "END SOLUTION"
CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")
STUDENT_MARK = "student_build"  # metadata.normcourse.student_build = True in every built notebook


class _CodeCellsOnly(ClearSolutions):
    """nbgrader's ClearSolutions, applied to code cells only (markdown prose may name the markers)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


def has_solution(cell: dict) -> bool:
    """True for a code cell with a ``### BEGIN SOLUTION`` line (nbgrader's rule: the words anywhere in a line)."""
    return cell.get("cell_type") == "code" and BEGIN in _source(cell)


def is_check_cell(cell: dict) -> bool:
    """A code cell that calls a ``check_*`` function (course_utils.exercises) and holds no solution."""
    return cell.get("cell_type") == "code" and bool(CHECK_CALL.search(_source(cell))) and not has_solution(cell)


def exercise_cells(nb: dict) -> list[int]:
    """Indices of the exercise cells: each cell with a solution region, and the next cell if it is the
    separate check cell of that exercise. These are the cells a student notebook may fail in."""
    cells = nb["cells"]
    found: list[int] = []
    for i, cell in enumerate(cells):
        if has_solution(cell):
            found.append(i)
            if i + 1 < len(cells) and is_check_cell(cells[i + 1]):
                found.append(i + 1)
    return found


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without solutions (nbgrader's ClearSolutions) and without exercise outputs."""
    nb = nbformat.from_dict(nbformat.from_dict(nb))  # a deep copy; the caller's notebook is not touched
    exercises = exercise_cells(nb)
    for cell in nb.cells:  # nbformat.read gives strings; a dict built in a test may hold lists of lines
        if isinstance(cell.source, list):
            cell.source = "".join(cell.source)
    nb, _ = _CodeCellsOnly(enforce_metadata=False).preprocess(nb, {})
    for i in exercises:
        cell = nb.cells[i]
        cell.outputs = []
        cell.execution_count = None
    nb.metadata.setdefault("normcourse", {})[STUDENT_MARK] = True
    return nb


def build(paths: list[Path], out: Path) -> list[Path]:
    """Write the student version of each notebook in ``paths`` to ``out``; return the files rewritten.

    Notebooks in ``out`` that no longer have a source in ``paths`` are removed (a renamed lesson
    leaves no stale copy behind).
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        text = nbformat.writes(student_version(nb)) + "\n"
        target = out / path.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    keep = {p.name for p in paths}
    for stale in out.glob("*.ipynb"):
        if stale.name not in keep:
            stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = parser.parse_args(argv)
    paths = sorted(args.notebooks or (ROOT / "notebooks").glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    written = build(paths, args.out)
    # The notebooks link images as ../imgs/x.png: a handout folder (build/) carries a copy beside student/.
    if (ROOT / "imgs").is_dir() and args.out.resolve().parent != ROOT:
        shutil.copytree(ROOT / "imgs", args.out.parent / "imgs", dirs_exist_ok=True)
    print(f"student build: {len(paths)} notebooks in {args.out} ({len(written)} updated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
