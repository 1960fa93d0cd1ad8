"""course_utils.source: the code a lesson shows is the code that runs."""

import pytest

from course_utils.source import source_of


def _example(x):
    y = x + 1
    z = y * 2
    return z


def test_source_of_returns_the_real_lines():
    assert source_of(_example).splitlines()[0] == "def _example(x):"
    assert source_of(_example, start="y = x", end="z = y") == "y = x + 1\nz = y * 2"


def test_source_of_names_a_missing_marker():
    with pytest.raises(ValueError, match="start='nope'"):
        source_of(_example, start="nope")
    with pytest.raises(TypeError, match="obj must be a function"):
        source_of(3)
