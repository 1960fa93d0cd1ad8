"""course_utils.progress: a bar in JupyterLab for long loops, none in nbval/regen/CI."""

import pytest

from course_utils.progress import DELAY_S, progress


def test_no_bar_where_progress_is_off(monkeypatch):
    monkeypatch.setenv("NORMCOURSE_NO_PROGRESS", "1")
    seeds = [0, 1, 2]
    assert progress(seeds, "seeds") is seeds  # nbval and make regen: the loop itself, nothing printed


def test_a_delayed_bar_that_goes_away_where_progress_is_on(monkeypatch):
    monkeypatch.delenv("NORMCOURSE_NO_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    bar = progress(range(3), "seeds")
    assert list(bar) == [0, 1, 2]
    assert bar.delay == DELAY_S >= 2 and bar.leave is False and bar.desc == "seeds"
    assert progress(range(3), "seeds", show=False) == range(3)


def test_bad_desc_is_named():
    with pytest.raises(TypeError, match="desc"):
        progress([1], 3)
