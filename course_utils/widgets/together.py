"""The self-check quiz of notebook 05: per question, its options listed as A, B, C, D and a row of
toggle buttons to pick one; feedback that explains why as soon as an option is picked; a running score.

(Toggle buttons with short letters, not radio buttons with the long texts as labels: ipywidgets gives each
radio label one line's height, so a wrapped option text would cover the next option's button.)

The questions are data (:mod:`course_utils.quiz`); this module only wires them to ipywidgets. The
quiz draws no figure (feedback is HTML), so it has no latency budget in ``BENCHMARKS``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from ..quiz import QUESTIONS, Question, score, validate
from ..validation import check_int

__all__ = ["Quiz", "quiz_widget", "display_order", "feedback_html"]

LETTERS = "ABCDEFGH"
RIGHT_COLOR = "#009E73"  # Okabe-Ito bluish green
WRONG_COLOR = "#D55E00"  # Okabe-Ito vermillion; the text also says "Right"/"Not quite": colour is not the only cue


def display_order(q: Question, seed: int = 0) -> list[int]:
    """A fixed shuffle of the option indices of ``q`` (the data lists the right option first)."""
    seed = check_int("seed", seed, minimum=0)
    key = sum(ord(ch) for ch in q.key) + seed
    return [int(i) for i in np.random.default_rng(key).permutation(len(q.options))]


def feedback_html(q: Question, choice: int | None) -> str:
    """What the learner reads under a question after picking option ``choice`` (None: nothing picked yet)."""
    if choice is None:
        return "<i>Pick an answer.</i>"
    right, why = q.feedback(choice)
    color, verdict = (RIGHT_COLOR, "Right.") if right else (WRONG_COLOR, "Not quite.")
    return f'<b style="color:{color}">{verdict}</b> {html.escape(why)}'


class Quiz:
    """The built quiz: ``buttons[key]`` (value = option index in the question's data, or None),
    ``feedback[key]`` (HTML), ``score_label`` (HTML) and ``widget`` (the VBox to display)."""

    def __init__(self, questions: Sequence[Question] = QUESTIONS, seed: int = 0) -> None:
        questions = tuple(questions)
        if not questions:
            raise ValueError("questions must hold at least one Question (course_utils.quiz.QUESTIONS).")
        for q in questions:
            validate(q)
        keys = [q.key for q in questions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"question keys must be unique, got {keys}.")
        self.questions = {q.key: q for q in questions}
        self.buttons: dict[str, w.ToggleButtons] = {}
        self.feedback: dict[str, w.HTML] = {}
        self.score_label = w.HTML()
        boxes = []
        for number, q in enumerate(questions, start=1):
            order = display_order(q, seed)
            buttons = w.ToggleButtons(
                options=[(LETTERS[pos], i) for pos, i in enumerate(order)],
                value=None,
                description="answer:",
                style={"button_width": "48px"},
            )
            buttons.observe(lambda change, key=q.key: self._on_pick(key), names="value")
            self.buttons[q.key] = buttons
            self.feedback[q.key] = w.HTML(feedback_html(q, None))
            items = "".join(f"<li>{html.escape(q.options[i].text)}</li>" for i in order)
            title = w.HTML(f"<b>{number}. ({html.escape(q.notebook)})</b> {html.escape(q.prompt)}"
                           f'<ol type="A" style="margin:4px 0">{items}</ol>')  # fmt: skip
            boxes.append(w.VBox([title, buttons, self.feedback[q.key]], layout=w.Layout(margin="0 0 12px 0")))
        self._update_score()
        self.widget = w.VBox([self.score_label, *boxes])

    def answers(self) -> dict[str, int | None]:
        return {key: buttons.value for key, buttons in self.buttons.items()}

    def _on_pick(self, key: str) -> None:
        self.feedback[key].value = feedback_html(self.questions[key], self.buttons[key].value)
        self._update_score()

    def _update_score(self) -> None:
        right, answered = score(self.answers())
        total = len(self.buttons)
        self.score_label.value = f"<b>Score: {right} right out of {answered} answered ({total} questions)</b>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # Shown where JupyterLab cannot draw the widget (the notebook opened, not yet run): one line
        # instead of `VBox(children=(HTML(value='<b>Score: ...`, like the explorers' placeholder.
        bundle["text/plain"] = QUIZ_PLACEHOLDER
        return bundle


QUIZ_PLACEHOLDER = "Quiz: run this cell to answer it (its questions and feedback appear here)."
"""The text/plain of the quiz's output, shown before the cell has run in this session."""


def quiz_widget(questions: Sequence[Question] = QUESTIONS, seed: int = 0) -> Quiz:
    """The self-check quiz over the whole course; leave it as the last expression of a cell to show it."""
    return Quiz(questions, seed)
