"""docs/instructor.md: one section per lesson, in course order, with the catalog's times (course.LESSONS)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course_utils.course import LESSONS, total_minutes

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "instructor.md"
HEADING = re.compile(r"^## (\d\d) (.+?) — (\d+) min$", re.M)


def sections() -> dict[str, tuple[str, int, str]]:
    """'00' -> (title, minutes, section text)."""
    text = GUIDE.read_text(encoding="utf-8")
    found = list(HEADING.finditer(text))
    out = {}
    for k, m in enumerate(found):
        end = found[k + 1].start() if k + 1 < len(found) else text.find("\n## ", m.end())
        out[m.group(1)] = (m.group(2), int(m.group(3)), text[m.end():end if end > 0 else None])
    return out


def test_one_section_per_lesson_in_course_order():
    assert list(sections()) == [entry.notebook[:2] for entry in LESSONS]


@pytest.mark.parametrize("entry", LESSONS, ids=lambda e: e.notebook)
def test_section_title_and_minutes_match_the_catalog(entry):
    title, minutes, _ = sections()[entry.notebook[:2]]
    assert title == entry.title, f"guide says {title!r}, course.py says {entry.title!r}"
    assert minutes == entry.minutes, f"{entry.notebook}: guide says {minutes} min, course.py says {entry.minutes}"


@pytest.mark.parametrize("entry", LESSONS, ids=lambda e: e.notebook)
def test_session_plan_adds_up_to_the_lesson_time(entry):
    _, _, body = sections()[entry.notebook[:2]]
    rows = [int(m) for m in re.findall(r"^\|\s*(\d+)\s*\|", body, re.M)]
    assert rows, f"{entry.notebook}: no session plan table (| min | segment | what you do |)"
    assert sum(rows) == entry.minutes, f"{entry.notebook}: plan rows add up to {sum(rows)}, catalog {entry.minutes}"


@pytest.mark.parametrize("entry", LESSONS, ids=lambda e: e.notebook)
def test_every_section_has_the_parts_an_instructor_needs(entry):
    _, _, body = sections()[entry.notebook[:2]]
    for part in ("Talking points", "Predict before you run", "Pause", "live"):
        assert part in body, f"{entry.notebook}: no '{part}'"


def test_course_total_and_summary_line_match_the_catalog():
    text = GUIDE.read_text(encoding="utf-8")
    assert f"**{total_minutes() / 60:.1f} h**" in text
    summary = ", ".join(f"{e.notebook[:2]} {e.minutes} min" for e in LESSONS)
    assert f"({summary})" in text, f"the summary line should read ({summary})"


def test_the_usual_questions_are_answered():
    text = GUIDE.read_text(encoding="utf-8").split("## The usual questions", 1)
    assert len(text) == 2, "no 'The usual questions' section"
    answers = text[1].lower()
    for topic in ("keep or to drop", "eval mode", "unbiased", "layernorm normalize on images", "momentum"):
        assert topic in answers, f"usual question missing: {topic}"


EXERCISE_TITLE = re.compile(r"\*\*Exercise (\d+(?:\.\d+)?): (.+?)\.?\*\*")
NAMED_EXERCISES = ("03", "04", "05")  # sections written from the notebooks, naming every exercise


@pytest.mark.parametrize("entry", [e for e in LESSONS if e.notebook[:2] in NAMED_EXERCISES], ids=lambda e: e.notebook)
def test_pauses_name_the_notebooks_real_exercises(entry):
    path = ROOT / "notebooks" / f"{entry.notebook}.ipynb"
    if not path.exists():
        pytest.skip(f"{path.name} is not on this branch yet")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    titles = [f"Exercise {n}: {title}" for cell in cells if cell["cell_type"] == "markdown"
              for n, title in EXERCISE_TITLE.findall("".join(cell["source"]))]
    assert titles, f"{entry.notebook}: no '**Exercise N: title.**' found in the notebook"
    _, _, body = sections()[entry.notebook[:2]]
    body = " ".join(body.split()).lower()  # the guide wraps lines; compare with single spaces
    missing = [t for t in titles if " ".join(t.split()).lower() not in body]
    assert not missing, f"{entry.notebook}: the guide's section does not name {missing}"


def test_no_placeholders_left():
    text = GUIDE.read_text(encoding="utf-8").lower()
    for placeholder in ("see the notebook", "details pending", "tbd", "todo"):
        assert placeholder not in text, f"placeholder left in the guide: {placeholder!r}"


def test_no_drafting_notes_left():
    text = " ".join(GUIDE.read_text(encoding="utf-8").split()).lower()
    for note in ("if your copy", "being extended", "before the merge", "written from notebook", "on its branch"):
        assert note not in text, f"drafting note left in the guide: {note!r}"


def test_the_quoted_speedup_is_the_committed_output():
    """The guide quotes 03's compact-backward speed-up; it must be the number the committed run printed."""
    cells = json.loads((ROOT / "notebooks" / "03_batchnorm.ipynb").read_text(encoding="utf-8"))["cells"]
    printed = [m for cell in cells if cell["cell_type"] == "code" for out in cell.get("outputs", [])
               for m in re.findall(r"compact [\d.]+ ms: ([\d.]+)x faster", "".join(out.get("text", "")))]
    assert len(printed) == 1, f"03 should print the speed-up once, found {printed}"
    quoted = re.findall(r"was ([\d.]+)× faster in the committed run", " ".join(GUIDE.read_text().split()))
    assert quoted == printed, f"the guide says {quoted}, the committed output {printed}"


def test_a_room_checklist_for_instructors():
    text = GUIDE.read_text(encoding="utf-8")
    assert "## A room checklist" in text
    checklist = text.split("## A room checklist", 1)[1].split("\n## ", 1)[0]
    for item in ("**Machines:**", "**Install ahead:**", "**Offline:**", "make reset NB="):
        assert item in checklist
