"""tools/grade.py: a batch of planted submissions of lesson 00 gives the expected grade book.

The planted learners: one correct, one with a named mistake, one who has not started (stubs), one whose
exercise cell hangs, one whose notebook ignores interrupts and never finishes, one who deleted an
exercise cell, one who handed in a notebook from another course and a file that is not a notebook.
Runs the real notebook 00 in real kernels, two at a time: about 3 minutes on 2 cores (two planted hangs
wait out the 60 s cell limit), 5 under a load average of 20.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import grade  # noqa: E402
from student import student_version  # noqa: E402

LESSON = ROOT / "notebooks" / "00_start_here.ipynb"
STANDARDIZE, PARAMS, RUN = "fad6e913", "3bac8743", "5638c639"  # the exercise cells' ids in notebook 00


def _course() -> dict:
    return json.loads(LESSON.read_text(encoding="utf-8"))


def _student() -> dict:
    return json.loads(nbformat.writes(student_version(nbformat.read(LESSON, as_version=4))))


def _cell(nb: dict, cell_id: str) -> dict:
    return next(c for c in nb["cells"] if c.get("id") == cell_id)


def _solved() -> dict:
    """The student copy with the course's solutions typed in (what a learner who finished hands in)."""
    nb, course = _student(), _course()
    for cid in (STANDARDIZE, PARAMS, RUN):
        _cell(nb, cid)["source"] = _cell(course, cid)["source"]
    return nb


def _edit(nb: dict, cell_id: str, old: str, new: str) -> dict:
    cell = _cell(nb, cell_id)
    src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    assert old in src, f"planting failed: {old!r} not in cell {cell_id}"
    cell["source"] = src.replace(old, new)
    return nb


def _planted(folder: Path) -> None:
    def put(learner: str, name: str, nb: dict | str) -> None:
        path = folder / learner / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb if isinstance(nb, str) else json.dumps(nb), encoding="utf-8")

    put("ada", "00_start_here.ipynb", _solved())
    put("ben", "00_start_here.ipynb",
        _edit(_solved(), STANDARDIZE, "np.sqrt(x.var() + eps)", "np.sqrt(x.var(ddof=1) + eps)"))
    put("cy", "00_start_here.ipynb", _student())
    # An exercise cell that never returns (a loop at the top level, not inside the checked function).
    put("dee", "00_start_here.ipynb", _edit(_solved(), PARAMS, "ex.check_mlp_parameters(parameter_summary)",
                                            "import time\nwhile True:\n    time.sleep(0.1)"))
    # A notebook that ignores the interrupt (the kernel is then shut down).
    put("eve", "00_start_here.ipynb", _edit(_solved(), STANDARDIZE, "ex.check_standardize_feature(standardize)",
                                            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                            "while True:\n    pass"))
    deleted = _solved()
    deleted["cells"] = [c for c in deleted["cells"] if c.get("id") != PARAMS]
    put("fay", "renamed_by_me.ipynb", deleted)  # renamed too: the lesson is found by its cells
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {i}") for i in range(6)])
    put("gus", "homework/00_start_here.ipynb", json.loads(nbformat.writes(other)))
    put("gus", "broken.ipynb", "{ this is not json")
    put("gus", "updates/00_start_here.ipynb", _student())  # the course's update copy: never graded


EXPECTED = {  # (learner, exercise) -> status; detail checked separately where it names something
    ("ada", "standardize"): "done", ("ada", "parameter_summary"): "done", ("ada", "run"): "done",
    ("ben", "standardize"): "mistake", ("ben", "parameter_summary"): "done", ("ben", "run"): "done",
    ("cy", "standardize"): "not done", ("cy", "parameter_summary"): "not done", ("cy", "run"): "not done",
    ("dee", "standardize"): "done", ("dee", "parameter_summary"): "hang", ("dee", "run"): "done",
    ("eve", "standardize"): "hang", ("eve", "parameter_summary"): "hang", ("eve", "run"): "hang",
    ("fay", "standardize"): "done", ("fay", "parameter_summary"): "deleted", ("fay", "run"): "done",
    ("gus", ""): "not graded",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grading")
    _planted(folder / "submitted")
    rows = grade.grade(folder / "submitted", folder / "out", workers=2, cell_timeout=60, notebook_timeout=600)
    return folder / "out", rows


def test_grade_book_has_the_expected_status_for_every_learner_and_exercise(graded):
    out, rows = graded
    with (out / "gradebook.csv").open(encoding="utf-8") as fh:
        book = list(csv.DictReader(fh))
    assert book == [{k: str(v) for k, v in r.items()} for r in rows]
    found = {}
    for r in book:
        found.setdefault((r["learner"], r["exercise"]), set()).add(r["status"])
    assert found == {k: {v} for k, v in EXPECTED.items()}, "\n".join(
        f"{r['learner']} {r['notebook']} {r['exercise']}: {r['status']} {r['detail']}" for r in book)


def test_details_name_the_mistake_and_the_reason(graded):
    _, rows = graded
    by = {(r["learner"], r["exercise"], r["notebook"]): r for r in rows}
    assert "ddof=1" in by[("ben", "standardize", "ben/00_start_here.ipynb")]["detail"]
    assert "Not done yet" in by[("cy", "run", "cy/00_start_here.ipynb")]["detail"]
    assert "ignored the interrupt" in by[("eve", "run", "eve/00_start_here.ipynb")]["detail"]
    assert by[("fay", "run", "fay/renamed_by_me.ipynb")]["lesson"] == "00_start_here"
    gus = {r["notebook"]: r["detail"] for r in rows if r["learner"] == "gus"}
    assert set(gus) == {"gus/homework/00_start_here.ipynb", "gus/broken.ipynb"}, "updates/ must not be graded"
    assert "not a lesson of this course" in gus["gus/homework/00_start_here.ipynb"]
    assert "not a readable notebook" in gus["gus/broken.ipynb"]


def test_feedback_pages_show_each_learner_only_their_own_rows_offline(graded):
    out, _ = graded
    ben = (out / "feedback" / "ben" / "index.html").read_text(encoding="utf-8")
    assert "ddof=1" in ben and "ada" not in ben
    page = (out / "feedback" / "ben" / "00_start_here.html").read_text(encoding="utf-8")
    assert "sample variance" in page  # the check's hint, shown in the run notebook
    assert "cdnjs" not in page and 'src="http' not in page and "https://cdn" not in page


def test_a_learner_who_edits_the_check_call_away_is_still_checked(tmp_path):
    # The grader's test cell carries the course's check: deleting one's own check line does not pass.
    nb = _edit(_student(), STANDARDIZE, "ex.check_standardize_feature(standardize)", "pass")
    lesson = grade.identify(nb, grade.course_lessons())
    gradable, missing = grade.gradable_notebook(nb, lesson)
    tests = [c for c in gradable["cells"] if grade.GRADER_TAG in c["metadata"].get("tags", [])]
    assert not missing and len(tests) == 3
    assert "ex.check_standardize_feature(standardize)" in tests[0]["source"]


def test_a_notebook_past_its_time_limit_is_stopped_and_graded_as_a_hang(tmp_path):
    (tmp_path / "sub" / "hal").mkdir(parents=True)
    (tmp_path / "sub" / "hal" / "00_start_here.ipynb").write_text(json.dumps(_solved()), encoding="utf-8")
    rows = grade.grade(tmp_path / "sub", tmp_path / "out", workers=1, notebook_timeout=2, feedback=False)
    assert [(r["exercise"], r["status"]) for r in rows] == [("standardize", "hang"), ("parameter_summary", "hang"),
                                                            ("run", "hang")]
    assert all("within 2 s" in r["detail"] for r in rows)


def test_bad_arguments_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path / "nowhere")])
    assert "submitted folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), "--workers", "0"])
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_submissions_are_found_in_the_hub_layout_and_nbgraders(tmp_path):
    files = ["alice/my-notebooks/00_start_here.ipynb", "alice/my-notebooks/updates/00_start_here.ipynb",
             "alice/my-notebooks/.ipynb_checkpoints/00_start_here-checkpoint.ipynb", "alice/.local/share/x.ipynb",
             "bob/00_start_here/00_start_here.ipynb", ".hidden_learner/00.ipynb"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    found = [(s.learner, str(s.path)) for s in grade.find_submissions(tmp_path)]
    assert found == [("alice", "alice/my-notebooks/00_start_here.ipynb"),
                     ("bob", "bob/00_start_here/00_start_here.ipynb")]
