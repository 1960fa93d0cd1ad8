"""Grade the learners' notebooks: a grade book (CSV) and per-learner feedback (HTML).

    make grade                                      # the hub's learners (hub-data/users/*/my-notebooks)
    make grade SUBMITTED=path/to/submitted          # nbgrader's layout: <learner>/<lesson>/<lesson>.ipynb
    python tools/grade.py SUBMITTED --out grading   # the same, with every option (--help)

SUBMITTED holds one folder per learner; every ``*.ipynb`` below it (``updates/`` and checkpoints aside)
is that learner's submission. That is the layout ``nbgrader collect`` and ``nbgrader zip_collect`` write
(``submitted/<student>/<assignment>/<notebook>.ipynb``), and also the hub's ``users/<name>/my-notebooks/``.

Grading follows nbgrader's autograde: a snapshot of each submission is run from the top by nbgrader's
own ``Execute`` preprocessor (a fresh kernel, a per-cell time limit after which the kernel is
interrupted, errors recorded and the run continued), and each exercise is judged by a locked test
cell that the grader inserts after the learner's cell: the course's own check call for that exercise,
taken from ``notebooks/`` (so editing or deleting the check in one's copy changes nothing). What
nbgrader's full pipeline would add -- cell metadata in the handed-out notebooks, a gradebook database,
points -- the course does not need: the checks already name the mistake, and that is what is recorded.

For each learner, lesson and exercise the grade book says one of

- ``done``        the course's check passed;
- ``not done``    the function is still the stub (the check says "Not done yet");
- ``mistake``     the check named a mistake (its hint is in ``detail``);
- ``error``       the learner's code raised something else (named in ``detail``);
- ``hang``        a cell did not finish within the per-cell limit, or the notebook within its limit;
- ``deleted``     the exercise's cell is not in the notebook any more;
- ``not graded``  the file is not a lesson of this course (or not a readable notebook).

A notebook that hangs, raises, deletes cells or is not ours is graded as such; it never stops the batch.
The lesson is recognised by its cells' ids (the student build keeps the course's), not by the file name,
so a renamed copy is still graded. Outputs: ``OUT/gradebook.csv`` (one row per learner, lesson and
exercise), ``OUT/feedback/<learner>/index.html`` (the learner's table) and ``<lesson>.html`` (the run
notebook with the checks' answers), and ``OUT/graded/`` (the run notebooks).
"""

from __future__ import annotations

import argparse
import ast
import csv
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from student import exercise_cells, has_solution  # noqa: E402 - the student build's own definition

COURSE = ROOT / "notebooks"
GRADER_TAG = "normcourse-grader"  # metadata.tags of the test cells the grader inserts
NOT_DONE = "NotDoneYet"
MISTAKE = "ExerciseError"
HANG_ERRORS = {"CellTimeoutError", "KeyboardInterrupt", "DeadKernelError"}
SKIP_DIRS = {"updates", ".ipynb_checkpoints"}
DEFAULT_CELL_TIMEOUT = 120  # seconds: the slowest course cell takes ~10 s on a loaded 2-core machine
DEFAULT_NOTEBOOK_TIMEOUT = 900
IOPUB_TIMEOUT = 60
GRADEBOOK_FIELDS = ["learner", "lesson", "exercise", "status", "detail", "notebook"]
# What the grading kernels run with: the course's pinned numeric path, one thread, no progress bars.
sys.path.insert(0, str(ROOT / "deploy"))
from numeric_env import numeric_env  # noqa: E402

KERNEL_ENV = {**numeric_env(), "NORMCOURSE_NO_PROGRESS": "1", "PYTHONHASHSEED": "0"}
RUN_CACHE_VAR = "NORMCOURSE_RUN_CACHE"  # course_utils.run_cache.CACHE_VAR (tools do not import torch's package)


# ------------------------------------------------------------------------------------------- the course
@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: the learner's cell (by id) and the course's check that judges it."""

    name: str  # the function or class the learner writes
    cell_ids: tuple[str, ...]  # the solution cell, and its separate check cell if it has one
    test_source: str  # the grader's locked test cell: the lesson's imports, then the course's check call(s)


@dataclass(frozen=True)
class Lesson:
    name: str  # e.g. "03_batchnorm"
    cell_ids: frozenset[str]
    exercises: tuple[Exercise, ...]


def _top_level(source: str) -> list[ast.stmt]:
    try:
        return ast.parse(source).body
    except SyntaxError:
        return []


def _segment(source: str, node: ast.stmt) -> str:
    return ast.get_source_segment(source, node) or ""


def _defined_name(source: str) -> str:
    """The function or class whose body holds the ``### BEGIN SOLUTION`` marker."""
    marker = next(i for i, line in enumerate(source.splitlines(), 1) if "BEGIN SOLUTION" in line)
    for node in _top_level(source):
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.lineno <= marker <= (node.end_lineno or 0):
            return node.name
    return "exercise"


def _is_check_call(source: str, node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and "check_" in _segment(source, node)


def load_lesson(path: Path) -> Lesson:
    """The lesson's exercises as the course defines them (``notebooks/<lesson>.ipynb``)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    indices = exercise_cells(nb)
    imports = []
    for i in indices:  # every import of the exercise cells, so a test cell runs even if an earlier one was deleted
        imports += [_segment(sources[i], n) for n in _top_level(sources[i])
                    if isinstance(n, ast.Import | ast.ImportFrom)]
    exercises = []
    for k, i in enumerate(indices):
        if not has_solution(cells[i]):
            continue
        group = [i] + ([indices[k + 1]] if k + 1 < len(indices) and not has_solution(cells[indices[k + 1]]) else [])
        checks = [_segment(sources[j], n) for j in group for n in _top_level(sources[j])
                  if _is_check_call(sources[j], n)]
        test = "\n".join(dict.fromkeys(imports)) + "\n\n" + "\n".join(checks)
        exercises.append(Exercise(_defined_name(sources[i]), tuple(cells[j]["id"] for j in group), test))
    return Lesson(path.stem, frozenset(c.get("id", "") for c in cells) - {""}, tuple(exercises))


def course_lessons(course: Path = COURSE) -> list[Lesson]:
    return [load_lesson(p) for p in sorted(course.glob("*.ipynb"))]


def identify(nb: dict, lessons: list[Lesson]) -> Lesson | None:
    """The lesson ``nb`` is a copy of, by shared cell ids; None for a notebook from elsewhere.

    Cell ids are random per cell, so sharing a quarter of them (and at least three) is no accident;
    a learner who deleted cells or added many of their own still shares that many.
    """
    ids = {c.get("id") for c in nb.get("cells", []) if isinstance(c, dict)} - {None}
    best, shared = None, 0
    for lesson in lessons:
        n = len(ids & lesson.cell_ids)
        if n > shared:
            best, shared = lesson, n
    if best is None or shared < max(3, len(ids) // 4):
        return None
    return best


# ----------------------------------------------------------------------------------- one submission
def gradable_notebook(nb: dict, lesson: Lesson) -> tuple[dict, dict[str, str]]:
    """``nb`` with the grader's locked test cell after each exercise the learner still has.

    The learner's own copy of a check call is taken out of their cell (it would run the same check a
    second time); everything else they wrote stays. Returns the notebook and {exercise: "deleted"} for
    exercises whose cell is gone.
    """
    for cell in nb["cells"]:  # a saved notebook may hold sources as lists of lines; the kernel wants strings
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    by_id = {c.get("id"): i for i, c in enumerate(nb["cells"])}
    missing: dict[str, str] = {}
    inserts: list[tuple[int, dict]] = []
    for ex in lesson.exercises:
        present = [by_id[cid] for cid in ex.cell_ids if cid in by_id]
        if ex.cell_ids[0] not in by_id:
            missing[ex.name] = "deleted"
            continue
        for i in present:
            cell = nb["cells"][i]
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            checks = {line.strip() for line in ex.test_source.splitlines() if "check_" in line}
            cell["source"] = "\n".join(ln for ln in src.splitlines() if ln.strip() not in checks)
        test = {"cell_type": "code", "execution_count": None, "id": f"grader-{ex.cell_ids[0]}", "outputs": [],
                "metadata": {"tags": [GRADER_TAG], "normcourse_exercise": ex.name, "editable": False},
                "source": ex.test_source}
        inserts.append((max(present) + 1, test))
    for position, cell in sorted(inserts, key=lambda x: x[0], reverse=True):
        nb["cells"].insert(position, cell)
    return nb, missing


def verdict(outputs: list[dict]) -> tuple[str, str]:
    """(status, detail) of one grader test cell from its outputs."""
    for out in outputs:
        if out.get("output_type") != "error":
            continue
        ename, evalue = out.get("ename", ""), " ".join(str(out.get("evalue", "")).split())
        if ename == NOT_DONE:
            return "not done", evalue
        if ename == MISTAKE:
            return "mistake", evalue
        if ename in HANG_ERRORS:
            return "hang", f"a cell did not finish within the time limit ({ename})"
        return "error", f"{ename}: {evalue}"[:300]
    return "done", ""


def _first_hang(nb: dict) -> int | None:
    for i, cell in enumerate(nb["cells"]):
        if any(o.get("output_type") == "error" and o.get("ename") in HANG_ERRORS for o in cell.get("outputs", [])):
            return i
    return None


def run_one(src: Path, graded: Path, cell_timeout: int) -> list[dict]:
    """Run one submission (in this process) and return its grade-book rows (learner and notebook left blank)."""
    import nbformat
    from nbgrader.preprocessors import Execute

    try:
        nb = json.loads(src.read_text(encoding="utf-8"))
        nbformat.validate(nbformat.from_dict(nb)) if nb.get("nbformat") == 4 else None
    except (OSError, ValueError, nbformat.ValidationError) as err:
        return [_row("", "", "not graded", f"not a readable notebook ({type(err).__name__})")]
    lesson = identify(nb, course_lessons())
    if lesson is None:
        return [_row("", "", "not graded", "not a lesson of this course (no cells in common with notebooks/)")]
    nb, missing = gradable_notebook(nb, lesson)
    node = nbformat.from_dict(nb)
    graded.parent.mkdir(parents=True, exist_ok=True)
    # iopub_timeout: after a cell's reply, how long to wait for its last output. nbclient's 4 s default fails
    # healthy notebooks on a loaded machine; a kernel that ignored the interrupt still ends the run after it.
    executor = Execute(timeout=cell_timeout, kernel_name="python3", allow_errors=True, iopub_timeout=IOPUB_TIMEOUT)
    try:
        node, _ = executor.preprocess(node, {"metadata": {"path": str(graded.parent)}})
    except Exception as err:  # noqa: BLE001 - a dead kernel or a broken notebook is this learner's result
        graded.write_text(nbformat.writes(node), encoding="utf-8")
        if "Timeout" in type(err).__name__:  # the cell ran past its limit and the kernel ignored the interrupt
            why = f"a cell did not finish within {cell_timeout} s and ignored the interrupt"
            return [_row(lesson.name, ex.name, "deleted" if ex.name in missing else "hang",
                         "the exercise's cell is not in the notebook any more" if ex.name in missing else why)
                    for ex in lesson.exercises]
        return [_row(lesson.name, ex.name, "deleted", "the exercise's cell is not in the notebook any more")
                if ex.name in missing else
                _row(lesson.name, ex.name, "error", f"the notebook stopped running ({type(err).__name__}: {err})")
                for ex in lesson.exercises]
    graded.write_text(nbformat.writes(node), encoding="utf-8")
    return _rows(lesson, node, missing)


def _rows(lesson: Lesson, node: dict, missing: dict[str, str]) -> list[dict]:
    cells = {c.get("id"): c for c in node.cells}
    hang_at = _first_hang(node)
    rows = []
    for ex in lesson.exercises:
        if ex.name in missing:
            rows.append(_row(lesson.name, ex.name, "deleted", "the exercise's cell is not in the notebook any more"))
            continue
        test = cells[f"grader-{ex.cell_ids[0]}"]
        index = node.cells.index(test)
        own = [out for cid in ex.cell_ids if cid in cells for out in cells[cid].get("outputs", [])]
        status, detail = verdict(test.outputs)
        own_status, own_detail = verdict(own)
        if own_status == "hang":  # the learner's own cell had to be interrupted, whatever the check says after
            status, detail = own_status, "your exercise cell did not finish within the time limit"
        elif status == "error" and own_status != "done":
            detail = f"your exercise cell raised {own_detail}"
        elif status == "error" and hang_at is not None and hang_at < index:
            status, detail = "hang", f"an earlier cell (cell {hang_at + 1}) did not finish; then {detail}"
        rows.append(_row(lesson.name, ex.name, status, detail))
    return rows


def _row(lesson: str, exercise: str, status: str, detail: str) -> dict:
    return {"learner": "", "lesson": lesson, "exercise": exercise, "status": status, "detail": detail, "notebook": ""}


# ----------------------------------------------------------------------------------- the whole batch
@dataclass
class Submission:
    learner: str
    path: Path  # relative to the submitted folder

    @property
    def key(self) -> str:
        return str(self.path.with_suffix(""))


def find_submissions(submitted: Path) -> list[Submission]:
    """Every learner's notebooks: ``submitted/<learner>/**/*.ipynb`` minus updates/ and checkpoints."""
    found = []
    for learner in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for nb in sorted(learner.rglob("*.ipynb")):
            rel = nb.relative_to(submitted)
            folders = rel.parts[1:-1]  # hidden folders (.local, .ipynb_checkpoints) and updates/ are not submissions
            if not SKIP_DIRS & set(folders) and not any(part.startswith(".") for part in folders):
                found.append(Submission(learner.name, rel))
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop a grading worker and its kernel (kernels run in sessions of their own: found via /proc)."""
    pids = [proc.pid] + _descendants(proc.pid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def grade(submitted: Path, out: Path, *, workers: int = 2, cell_timeout: int = DEFAULT_CELL_TIMEOUT,
          notebook_timeout: int = DEFAULT_NOTEBOOK_TIMEOUT, feedback: bool = True) -> list[dict]:
    """Snapshot every submission into ``out/submitted``, run them ``workers`` at a time, write the grade book."""
    submitted, out = Path(submitted), Path(out)
    if not submitted.is_dir():
        raise ValueError(f"submitted folder {submitted} does not exist: pass the folder of learners' folders "
                         "(e.g. hub-data/users, or nbgrader's submitted/).")
    subs = find_submissions(submitted)
    snapshot = out / "submitted"
    if snapshot.exists():
        shutil.rmtree(snapshot)
    for sub in subs:  # learners may keep working while the batch runs: grade what was there at the start
        _snapshot(submitted / sub.path, snapshot / sub.path)
    # The lesson's experiments are the same in every copy: the first kernel to train a run keeps it in this
    # batch's folder and the others load it (course_utils.run_cache); the learners' own code always runs.
    shared_runs = Path(tempfile.mkdtemp(prefix="normcourse-runs-"))
    env = {**os.environ, **KERNEL_ENV, RUN_CACHE_VAR: str(shared_runs)}
    try:
        results = _run_batch(subs, snapshot, out, env, workers, cell_timeout, notebook_timeout)
    finally:
        shutil.rmtree(shared_runs, ignore_errors=True)
    rows = [r for sub in subs for r in results[sub.key]]
    write_gradebook(out / "gradebook.csv", rows)
    if feedback:
        write_feedback(out, rows)
    return rows


def _run_batch(subs: list[Submission], snapshot: Path, out: Path, env: dict, workers: int, cell_timeout: int,
               notebook_timeout: int) -> dict[str, list[dict]]:
    """Run every submission, ``workers`` at a time, each in its own process; its rows by submission key."""
    lessons = course_lessons()
    results: dict[str, list[dict]] = {}
    queue, running = list(subs), {}
    while queue or running:
        while queue and len(running) < workers:
            sub = queue.pop(0)
            result = out / "results" / f"{sub.key}.json"
            result.parent.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, __file__, "--run-one", str(snapshot / sub.path), str(out / "graded" / sub.path),
                   str(result), "--cell-timeout", str(cell_timeout)]
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=open(result.with_suffix(".log"), "wb"))  # noqa: SIM115
            running[sub.key] = (sub, proc, time.monotonic(), result)
        time.sleep(0.2)
        for key, (sub, proc, started, result) in list(running.items()):
            if proc.poll() is None and time.monotonic() - started < notebook_timeout:
                continue
            if proc.poll() is None:
                _kill_tree(proc)
                limit = f"the notebook did not finish within {notebook_timeout} s"
                rows = _hang_rows(snapshot / sub.path, lessons, limit)
            else:
                rows = _read_result(result, proc.returncode)
            proc.stderr and proc.stderr.close()
            results[key] = [{**r, "learner": sub.learner, "notebook": str(sub.path)} for r in rows]
            del running[key]
    return results


def _snapshot(src: Path, dst: Path, tries: int = 5) -> None:
    """Copy a learner's notebook; if it is caught mid-save (Jupyter rewrites the file in place, so a reader can
    see it empty or cut short), copy it again a moment later."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(tries):
        shutil.copy2(src, dst)
        try:
            json.loads(dst.read_text(encoding="utf-8"))
            return
        except (ValueError, UnicodeDecodeError):
            time.sleep(0.5)


def _hang_rows(path: Path, lessons: list[Lesson], detail: str) -> list[dict]:
    """One "hang" row per exercise of the lesson ``path`` is a copy of (one row if it is not ours)."""
    try:
        lesson = identify(json.loads(path.read_text(encoding="utf-8")), lessons)
    except (OSError, ValueError):
        lesson = None
    if lesson is None:
        return [_row("", "", "hang", detail)]
    return [_row(lesson.name, ex.name, "hang", detail) for ex in lesson.exercises]


def _read_result(path: Path, returncode: int) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [_row("", "", "error", f"grading this notebook failed (exit code {returncode}); "
                                      f"see {path.with_suffix('.log').name}")]


def write_gradebook(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=GRADEBOOK_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


# ------------------------------------------------------------------------------------------- feedback
STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
         "table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ccc;padding:.4rem;"
         "text-align:left;vertical-align:top}")
NO_FETCH = "data:text/javascript,"  # feedback opens offline: no script is fetched from a CDN


def write_feedback(out: Path, rows: list[dict]) -> None:
    """``feedback/<learner>/index.html`` (the learner's table) and one page per graded notebook."""
    for learner in sorted({r["learner"] for r in rows}):
        mine = [r for r in rows if r["learner"] == learner]
        folder = out / "feedback" / learner
        folder.mkdir(parents=True, exist_ok=True)
        links = {}
        for notebook in dict.fromkeys(r["notebook"] for r in mine):
            graded = out / "graded" / notebook
            if graded.exists():
                page = Path(notebook).with_suffix(".html").name
                (folder / page).write_text(_notebook_html(graded), encoding="utf-8")
                links[notebook] = page
        body = "".join(
            f"<tr><td>{_link(r['notebook'], links)}</td><td>{html.escape(r['lesson'])}</td>"
            f"<td>{html.escape(r['exercise'])}</td><td>{html.escape(r['status'])}</td>"
            f"<td>{html.escape(r['detail'])}</td></tr>" for r in mine)
        (folder / "index.html").write_text(
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Feedback: {html.escape(learner)}'
            f"</title><style>{STYLE}</style></head><body><h1>Feedback for {html.escape(learner)}</h1>"
            "<table><thead><tr><th>notebook</th><th>lesson</th><th>exercise</th><th>status</th><th>detail</th></tr>"
            f"</thead><tbody>{body}</tbody></table></body></html>\n", encoding="utf-8")


def _link(notebook: str, links: dict[str, str]) -> str:
    name = html.escape(notebook)
    return f'<a href="{html.escape(links[notebook])}">{name}</a>' if notebook in links else name


def _notebook_html(path: Path) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(embed_images=True)
    for name in ("mathjax_url", "require_js_url", "widget_renderer_url", "mermaid_js_url", "mermaid_layout_elk_js_url"):
        setattr(exporter, name, NO_FETCH)
    body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
    return body


# ------------------------------------------------------------------------------------------------ cli
def summary(rows: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    learners = len({r["learner"] for r in rows})
    return f"{learners} learner(s), {len(rows)} row(s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submitted", type=Path, nargs="?", help="folder of learners' folders (nbgrader's submitted/)")
    parser.add_argument("--out", type=Path, default=ROOT / "grading", help="where the grade book and feedback go")
    parser.add_argument("--workers", type=int, default=2, help="notebooks run at once (one kernel each; default 2)")
    parser.add_argument("--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument("--notebook-timeout", type=int, default=DEFAULT_NOTEBOOK_TIMEOUT, help="seconds per notebook")
    parser.add_argument("--no-feedback", action="store_true", help="grade book only, no HTML")
    parser.add_argument("--run-one", nargs=3, metavar=("SRC", "GRADED", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("workers", "cell_timeout", "notebook_timeout"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.run_one:
        src, graded, result = map(Path, args.run_one)
        rows = run_one(src, graded, args.cell_timeout)
        result.write_text(json.dumps(rows), encoding="utf-8")
        return 0
    if args.submitted is None:
        parser.error("give the folder of submissions, e.g. hub-data/users or nbgrader's submitted/")
    try:
        rows = grade(args.submitted, args.out, workers=args.workers, cell_timeout=args.cell_timeout,
                     notebook_timeout=args.notebook_timeout, feedback=not args.no_feedback)
    except ValueError as err:
        parser.error(str(err))
    print(f"graded {summary(rows)}")
    print(f"grade book: {args.out / 'gradebook.csv'}; feedback: {args.out / 'feedback'}/<learner>/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
