"""course_utils.quiz: the whole-course quiz is data, and every question is well formed."""

from collections import Counter
from dataclasses import replace

import pytest

from course_utils.quiz import QUESTIONS, Option, Question, question, score, validate


def test_enough_questions_over_the_whole_course():
    assert len(QUESTIONS) >= 12
    per_notebook = Counter(q.notebook for q in QUESTIONS)
    assert set(per_notebook) == {"01", "02", "03", "04", "05"}
    assert min(per_notebook.values()) >= 2
    assert len({q.key for q in QUESTIONS}) == len(QUESTIONS)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.key)
def test_exactly_one_right_answer_and_an_explanation_for_every_option(q):
    validate(q)
    assert sum(o.correct for o in q.options) == 1
    assert len(q.options) >= 3
    for i, option in enumerate(q.options):
        right, why = q.feedback(i)
        assert right == option.correct and len(why) > 15
    assert q.feedback(q.answer)[0] is True


BASE = Question("k", "05", "prompt?", (Option("a", True, "because a"), Option("b", False, "not b")))


@pytest.mark.parametrize(
    "bad,match",
    [
        (replace(BASE, options=(Option("a", True, "x"), Option("b", True, "y"))), "exactly one right"),
        (replace(BASE, options=(Option("a", False, "x"), Option("b", False, "y"))), "exactly one right"),
        (replace(BASE, options=(Option("a", True, "x"), Option("b", False, "  "))), "explanation"),
        (replace(BASE, options=(Option("a", True, "x"), Option("A", False, "y"))), "repeats"),
        (replace(BASE, options=(Option("a", True, "x"),)), "2 to 8 options"),
        (replace(BASE, prompt=" "), "empty prompt"),
    ],
)
def test_validate_refuses_malformed_questions(bad, match):
    with pytest.raises(ValueError, match=match):
        validate(bad)
    with pytest.raises(TypeError, match="Question"):
        validate("not a question")


def test_score_and_lookup():
    first, second = QUESTIONS[0], QUESTIONS[1]
    wrong = next(i for i, o in enumerate(second.options) if not o.correct)
    assert score({first.key: first.answer, second.key: wrong, QUESTIONS[2].key: None}) == (1, 2)
    assert question(first.key) is first
    with pytest.raises(ValueError, match="key must be one of"):
        question("nope")
    with pytest.raises(ValueError, match="choice"):
        first.feedback(len(first.options))
    with pytest.raises(TypeError, match="choice"):
        first.feedback("a")
