"""course_utils.course: the one catalog that the course map, README and guide read."""

import json
import re
from pathlib import Path

import pytest

from course_utils.course import LESSONS, course_map_markdown, lesson, total_minutes

ROOT = Path(__file__).resolve().parents[1]


def test_lessons_are_in_course_order_and_unique():
    names = [entry.notebook for entry in LESSONS]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(len(names))]


def test_every_existing_notebook_is_in_the_catalog():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        assert lesson(path.name).notebook == path.stem


def test_a_notebook_states_the_catalog_time():
    for entry in LESSONS:
        path = ROOT / "notebooks" / f"{entry.notebook}.ipynb"
        if not path.exists():
            continue
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        times = [int(t) for t in re.findall(r"(\d+)\s*min", first)]
        assert entry.minutes in times, f"{path.name}'s first cell must state '{entry.minutes} min' (course.py)"


def test_course_map_lists_every_lesson_with_its_time():
    text = course_map_markdown(current="02_dropout")
    for entry in LESSONS:
        assert f"{entry.title}" in text and f"| {entry.minutes} min |" in text
    assert "Dropout** (this one)" in text
    assert f"{total_minutes() / 60:.1f} h" in text


def test_unknown_notebook_is_refused():
    with pytest.raises(ValueError, match="not in the course"):
        lesson("07_nope")
    with pytest.raises(TypeError):
        lesson(7)


def test_notebook_00_shows_the_generated_course_map():
    cells = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert any("course_map_markdown(" in s for s in sources), "00 displays course_utils.course.course_map_markdown()"
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
    shown = ["".join(o.get("data", {}).get("text/markdown", "")) for o in outputs]
    assert course_map_markdown(current="00_start_here") in shown, "00's course map is stale: make regen NB=..."
