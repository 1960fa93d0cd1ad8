"""The student build (tools/student.py, `make student`): nbgrader strips the solutions, nothing else changes.

The fast tests use small notebooks built here. ``test_student_notebook_fails_only_at_exercises`` runs
every student notebook (marked ``student_run``: `make unit` leaves it out, `make student-check` runs it
two at a time; it costs one full run of every notebook).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import student  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def exercise_params() -> list:
    return [pytest.param(p, id=p.name) for p in NOTEBOOKS]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {}}}}
    nb.cells = list(cells)
    return nb


def code(src: str, out: str | None = "out\n", count: int | None = 1) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(src, execution_count=count)
    if out is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=out)]
    return cell


SOLVED = '''def standardize(X):
    """Return X standardized per column."""
    ### BEGIN SOLUTION
    return (X - X.mean(0)) / X.std(0)
    ### END SOLUTION


check_standardize(standardize)'''

PROSE = ("Your code goes between the `### BEGIN SOLUTION` and `### END SOLUTION` lines.\n\n"
         "The check below tells you whether it is right.")


def test_nbgrader_stub_keeps_signature_and_docstring():
    nb = student.student_version(notebook(code(SOLVED, out="Correct: yes\n", count=3)))
    src = nb.cells[0].source
    assert "return (X - X.mean(0))" not in src, "the solution survived"
    assert "BEGIN SOLUTION" not in src and "END SOLUTION" not in src
    assert 'def standardize(X):\n    """Return X standardized per column."""\n' in src
    assert "    raise NotImplementedError()" in src, "nbgrader's stub, indented inside the body"
    assert src.rstrip().endswith("check_standardize(standardize)")


def test_markdown_that_mentions_the_markers_is_untouched():
    md = nbformat.v4.new_markdown_cell(PROSE)
    nb = student.student_version(notebook(md, code("x = 1")))
    assert nb.cells[0].source == PROSE


def test_only_exercise_outputs_are_cleared_everything_else_intact():
    plot = code("plot()", out="a figure\n", count=1)
    ex = code("### BEGIN SOLUTION\nanswer = 3\n### END SOLUTION", out="", count=2)
    check = code("check_answer(answer)", out="Correct: 3 is right\n", count=3)
    after = code("print(answer_independent)", out="still here\n", count=4)
    source = notebook(nbformat.v4.new_markdown_cell("# Title"), plot, ex, check, after)
    before = json.dumps(source, sort_keys=True)
    nb = student.student_version(source)
    assert json.dumps(source, sort_keys=True) == before, "the input notebook must not change"
    assert student.exercise_cells(source) == [2, 3]
    for i in (2, 3):
        assert nb.cells[i].outputs == [] and nb.cells[i].execution_count is None
    for i in (1, 4):
        assert nb.cells[i] == source.cells[i], "a non-exercise cell changed"
    assert nb.cells[0] == source.cells[0]
    assert nb.metadata["widgets"] == source.metadata["widgets"], "saved widget state dropped"
    assert nb.metadata["normcourse"]["student_build"] is True


def test_check_cell_without_a_solution_before_it_is_not_an_exercise():
    nb = notebook(code("x = 1"), code("check_answer(x)"))
    assert student.exercise_cells(nb) == []


def test_build_is_idempotent_and_removes_stale_copies(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(notebook(code(SOLVED)), src / name)
    out = tmp_path / "out"
    (out).mkdir()
    (out / "old_lesson.ipynb").write_text("{}")
    first = student.build(sorted(src.glob("*.ipynb")), out)
    assert [p.name for p in first] == ["a.ipynb", "b.ipynb"]
    assert sorted(p.name for p in out.iterdir()) == ["a.ipynb", "b.ipynb"], "stale notebook left behind"
    mtime = (out / "a.ipynb").stat().st_mtime_ns
    assert student.build(sorted(src.glob("*.ipynb")), out) == [], "a second build rewrote unchanged files"
    assert (out / "a.ipynb").stat().st_mtime_ns == mtime
    nbformat.validate(nbformat.read(out / "a.ipynb", as_version=4))


def test_cli_refuses_a_missing_notebook(tmp_path, capsys):
    with pytest.raises(SystemExit):
        student.main(["--out", str(tmp_path), str(tmp_path / "nope.ipynb")])
    assert "no such notebook" in capsys.readouterr().err


@pytest.mark.parametrize("path", exercise_params())
def test_solutions_sit_inside_function_bodies(path):
    """The student stub must be the body of a function the check calls, so the check can say "not done
    yet"; a solution region at the top level becomes a bare `raise NotImplementedError()` instead."""
    nb = nbformat.read(path, as_version=4)
    for i in student.exercise_cells(nb):
        for line in nb.cells[i].source.splitlines():
            if student.BEGIN in line:
                assert line.startswith((" ", "\t")), (
                    f"{path.name} cell {i}: `{line.strip()}` is at the top level; put the solution inside "
                    f"a function body (below its signature and docstring) that the check calls"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_course_notebook_builds(path, tmp_path):
    student.build([path], tmp_path)
    nb = nbformat.read(tmp_path / path.name, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text


# ------------------------------------------------------------------------------------ running them
def _error(cell) -> dict | None:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    # A check's hint is shown as feedback (course_utils.exercises.show_hints_briefly), not as an error output.
    errors += [{**o["metadata"]["normcourse"]["exercise"], "traceback": []} for o in cell.get("outputs", [])
               if o.get("output_type") == "display_data" and "exercise" in o.get("metadata", {}).get("normcourse", {})]
    return errors[0] if errors else None


def failures(nb) -> dict[int, dict]:
    return {i: err for i, cell in enumerate(nb.cells) if (err := _error(cell))}


def is_not_done_yet(err: dict) -> bool:
    return err.get("ename") == "NotDoneYet" and err.get("evalue", "").startswith("Not done yet")


@pytest.mark.student_run
@pytest.mark.parametrize("path", exercise_params())
def test_student_notebook_fails_only_at_exercises(path, tmp_path):
    """Run All on the student notebook: every other cell runs, and each exercise stops with the checker's
    one-line "Not done yet" hint (no traceback wall)."""
    from nbclient import NotebookClient

    work = tmp_path / "notebooks"
    student.build([path], work)
    if (ROOT / "imgs").is_dir():
        shutil.copytree(ROOT / "imgs", tmp_path / "imgs")
    nb = nbformat.read(work / path.name, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True, record_timing=False,
                   resources={"metadata": {"path": str(work)}}).execute()

    source = nbformat.read(path, as_version=4)
    exercises = set(student.exercise_cells(source))
    failed = failures(nb)
    outside = {i: f"{e['ename']}: {e['evalue'][:200]}" for i, e in failed.items() if i not in exercises}
    assert not outside, f"{path.name}: cells that are not exercises failed in the student build: {outside}"
    unfriendly = {i: f"{e['ename']}: {e['evalue'][:200]}" for i, e in failed.items() if not is_not_done_yet(e)}
    assert not unfriendly, f"{path.name}: exercise cells failed without the 'Not done yet' hint: {unfriendly}"
    walls = {i: len(ANSI.sub("", "\n".join(e["traceback"])).splitlines()) for i, e in failed.items()}
    assert all(n <= 3 for n in walls.values()), f"{path.name}: tracebacks shown (lines per cell): {walls}"
    # Each exercise (its solution cell, plus its own check cell if separate) stops once with the hint.
    groups = [[i] + ([i + 1] if i + 1 in exercises and i + 1 not in _solution_cells(source) else [])
              for i in sorted(_solution_cells(source))]
    silent = [g for g in groups if not any(i in failed for i in g)]
    assert not silent, f"{path.name}: exercise cells {silent} ran without stopping: does the check pass the stub?"


def _solution_cells(nb) -> set[int]:
    return {i for i, cell in enumerate(nb.cells) if student.has_solution(cell)}
