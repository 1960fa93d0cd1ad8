"""Slide metadata (tools/slides.py, `make slidemeta`): one rule, idempotent, metadata only."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import slides  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def md(text):
    return nbformat.v4.new_markdown_cell(text)


def code(text):
    return nbformat.v4.new_code_cell(text)


LESSON = [
    md("# 02 · Dropout\n\nGoals..."),                   # slide: the title
    code("from course_utils import setup_notebook\nsetup_notebook()"),  # skip: plumbing
    code("import numpy as np"),                          # subslide (after a skipped cell)
    md("## 1. The mechanism\n\nA random mask..."),       # slide: a section
    code("mask = rng.random(10) >= p"),                  # -: the idea's code on its slide
    code("plot(mask)"),                                  # subslide: a second output
    md("**Takeaway.** The mean is kept."),               # fragment
    code("more()"),                                      # subslide: after a takeaway
    md("### Explore"),                                   # subslide: a sub-heading
    md("Move the slider."),                              # -: prose continues
    md("Text first.\n\n## Exercises\n\nDo this."),       # slide: a ## heading inside the cell
]
EXPECTED = ["slide", "skip", "subslide", "slide", "-", "subslide", "fragment", "subslide", "subslide", "-", "slide"]


def test_the_rule_on_a_lesson_shaped_notebook():
    assert slides.slide_types(LESSON) == EXPECTED


def test_apply_sets_metadata_only_and_is_idempotent():
    nb = nbformat.v4.new_notebook()
    nb.cells = copy.deepcopy(LESSON)
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", text="out\n")]
    nb.cells[4].execution_count = 3
    sources = [(c.source, c.get("outputs"), c.get("execution_count")) for c in nb.cells]
    assert slides.apply(nb) is True
    assert [(c.source, c.get("outputs"), c.get("execution_count")) for c in nb.cells] == sources
    assert [c.metadata["slideshow"]["slide_type"] for c in nb.cells] == EXPECTED
    assert nb.metadata["rise"]["scroll"] is True
    assert slides.is_current(nb)
    once = json.dumps(nb, sort_keys=True)
    assert slides.apply(nb) is False and json.dumps(nb, sort_keys=True) == once


def test_other_cell_metadata_survives():
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("# T"), code("build_explorer()")]
    nb.cells[1].metadata["tags"] = ["nbval-ignore-output"]
    slides.apply(nb)
    assert nb.cells[1].metadata["tags"] == ["nbval-ignore-output"]


def test_file_round_trip_is_byte_stable(tmp_path):
    path = tmp_path / "lesson.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = copy.deepcopy(LESSON)
    nbformat.write(nb, path)
    assert slides.process(path, check=True) is True
    assert slides.process(path) is True
    text = path.read_text()
    assert slides.process(path) is False and path.read_text() == text
    assert slides.main(["--check", str(path)]) == 0


def test_check_mode_reports_out_of_date_and_changes_nothing(tmp_path, capsys):
    path = tmp_path / "lesson.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = copy.deepcopy(LESSON)
    nbformat.write(nb, path)
    before = path.read_text()
    assert slides.main(["--check", str(path)]) == 1
    assert path.read_text() == before
    assert "1 out of date" in capsys.readouterr().out


def test_e2e_fixture_follows_the_rule():
    nb = json.loads((ROOT / "tests" / "e2e" / "fixtures" / "e2e_widget_explorer.ipynb").read_text())
    assert slides.is_current(nb), "run `.venv/bin/python tools/slides.py tests/e2e/fixtures/e2e_widget_explorer.ipynb`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_slide_metadata_by_the_rule(path):
    nb = json.loads(path.read_text())
    missing = [i for i, c in enumerate(nb["cells"]) if "slide_type" not in c["metadata"].get("slideshow", {})]
    assert not missing, f"{path.name}: cells {missing} have no slide type: run `make slidemeta`"
    assert slides.is_current(nb), f"{path.name}: slide types differ from the rule: run `make slidemeta`"
