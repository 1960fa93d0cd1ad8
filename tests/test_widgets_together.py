"""The notebook-05 quiz widget: wiring tested by setting each question's .value."""

import html

import ipywidgets as w
import pytest

from course_utils.quiz import QUESTIONS, Option, Question
from course_utils.widgets import BENCHMARKS
from course_utils.widgets.together import QUIZ_PLACEHOLDER, Quiz, display_order, feedback_html, quiz_widget


@pytest.fixture()
def quiz():
    return quiz_widget()


def test_builds_one_row_of_buttons_per_question(quiz):
    assert isinstance(quiz, Quiz) and isinstance(quiz.widget, w.VBox)
    assert list(quiz.buttons) == [q.key for q in QUESTIONS]
    assert all(r.value is None for r in quiz.buttons.values())
    assert "0 right out of 0 answered" in quiz.score_label.value
    assert all("Pick an answer" in f.value for f in quiz.feedback.values())


def test_the_quiz_not_yet_run_reads_as_one_line_not_a_widget_repr(quiz):
    """JupyterLab shows text/plain where it cannot draw the widget (a notebook opened but not yet run)."""
    bundle = quiz._repr_mimebundle_()
    assert bundle["text/plain"] == QUIZ_PLACEHOLDER and "run this cell" in bundle["text/plain"]
    assert "VBox" not in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.key)
def test_every_answer_gets_its_explanation(quiz, q):
    for i, option in enumerate(q.options):
        quiz.buttons[q.key].value = i
        text = quiz.feedback[q.key].value
        assert ("Right." in text) == option.correct and ("Not quite." in text) != option.correct
        assert html.escape(option.why) in text


def test_score_follows_the_answers(quiz):
    a, b = QUESTIONS[0], QUESTIONS[1]
    quiz.buttons[a.key].value = a.answer
    quiz.buttons[b.key].value = next(i for i, o in enumerate(b.options) if not o.correct)
    assert f"1 right out of 2 answered ({len(QUESTIONS)} questions)" in quiz.score_label.value
    quiz.buttons[b.key].value = b.answer
    assert "2 right out of 2 answered" in quiz.score_label.value


def test_options_are_shuffled_for_display():
    orders = [display_order(q) for q in QUESTIONS]
    assert all(sorted(o) == list(range(len(q.options))) for o, q in zip(orders, QUESTIONS, strict=True))
    positions = {o.index(q.answer) for o, q in zip(orders, QUESTIONS, strict=True)}
    assert len(positions) >= 3  # the right answer is not always in the same place
    assert display_order(QUESTIONS[0]) == display_order(QUESTIONS[0])


def test_feedback_escapes_html():
    q = Question("x", "05", "p", (Option("<a>", True, "1 < 2 & 3"), Option("b", False, "no")))
    assert "1 &lt; 2 &amp; 3" in feedback_html(q, 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        quiz_widget(())
    with pytest.raises(ValueError, match="unique"):
        quiz_widget((QUESTIONS[0], QUESTIONS[0]))
    bad = Question("y", "05", "p", (Option("a", True, "x"), Option("b", True, "y")))
    with pytest.raises(ValueError, match="exactly one right"):
        quiz_widget((bad,))


def test_quiz_is_not_an_explorer_with_a_latency_budget():
    assert not any("quiz" in b.name for b in BENCHMARKS)


def test_options_are_listed_as_letters_in_the_display_order(quiz):
    import re

    q = QUESTIONS[3]
    buttons = quiz.buttons[q.key]
    assert [label for label, _ in buttons.options] == list("ABCD")[: len(q.options)]
    title = quiz.widget.children[4].children[0].value       # children[0] is the score, then one box per question
    listed = re.findall(r"<li>(.*?)</li>", title)
    assert listed == [html.escape(q.options[i].text) for i in display_order(q)]
    assert [value for _, value in buttons.options] == display_order(q)
