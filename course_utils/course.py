"""The course catalog: every notebook with its title, realistic time and goals, in course order.

One place that the course map (notebook 00), the README, the instructor guide and the site index all
read, so their times and titles never disagree. ``minutes`` is what a careful learner needs to read,
run, think and do the exercises -- not how long the notebook takes to execute.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Lesson", "LESSONS", "lesson", "course_map_markdown", "total_minutes"]


@dataclass(frozen=True)
class Lesson:
    """One notebook of the course."""

    notebook: str  # file name without .ipynb, in notebooks/
    title: str
    minutes: int
    teaches: str  # one line for the course map
    needs: str  # prerequisite notebooks


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        notebook="00_start_here",
        title="Start here",
        minutes=15,
        teaches="course map, notebooks and explorers, environment check, a first look at `course_utils`",
        needs="Python",
    ),
    Lesson(
        notebook="01_life_without_normalization",
        title="Life without normalization",
        minutes=80,
        teaches="inputs on very different scales; activations and gradients that vanish, explode or "
        "saturate through depth; initialization; statistics that drift during training",
        needs="00",
    ),
    Lesson(
        notebook="02_dropout",
        title="Dropout",
        minutes=65,
        teaches="the random mask and inverted scaling, train vs eval, measured overfitting, "
        "Monte-Carlo dropout, placement",
        needs="01",
    ),
    Lesson(
        notebook="03_batchnorm",
        title="Batch Normalization",
        minutes=150,
        teaches="normalize each feature over the batch, then scale and shift; running statistics and "
        "the eval-mode pitfalls; why it helps; small batches, sequences, data-parallel training",
        needs="01",
    ),
    Lesson(
        notebook="04_layernorm",
        title="Layer Normalization and the family",
        minutes=110,
        teaches="normalize each sample over its features; GroupNorm, InstanceNorm, RMSNorm; invariances; "
        "why BatchNorm fails at batch 2; what hurts it on sequences; Pre-LN vs Post-LN Transformers and "
        "the learning-rate window of warm-up",
        needs="03",
    ),
    Lesson(
        notebook="05_putting_it_together",
        title="Putting it all together",
        minutes=60,
        teaches="the block `Linear/Conv → BatchNorm → ReLU → Dropout`, ablations, placement, "
        "a decision guide, the summary table and a quiz",
        needs="02–04",
    ),
)


def lesson(notebook: str) -> Lesson:
    """The catalog entry of ``notebook`` (file name with or without ``.ipynb``)."""
    if not isinstance(notebook, str):
        raise TypeError(f"notebook must be a file name such as '02_dropout', got {type(notebook).__name__}.")
    name = notebook.removesuffix(".ipynb").rsplit("/", 1)[-1]
    for entry in LESSONS:
        if entry.notebook == name:
            return entry
    raise ValueError(f"notebook {notebook!r} is not in the course; known: {[e.notebook for e in LESSONS]}.")


def total_minutes() -> int:
    """The whole course, in minutes."""
    return sum(entry.minutes for entry in LESSONS)


def course_map_markdown(current: str | None = None) -> str:
    """The course map as a Markdown table (notebook 00 displays it; the README carries the same rows)."""
    if current is not None and current not in {entry.notebook for entry in LESSONS}:
        raise ValueError(
            f"current must be a notebook of the course (or None), got {current!r}; known: "
            f"{[entry.notebook for entry in LESSONS]}."
        )
    rows = ["| notebook | what it teaches | time | needs |", "|---|---|---|---|"]
    for entry in LESSONS:
        number = entry.notebook[:2]
        name = f"**{number} {entry.title}**" + (" (this one)" if entry.notebook == current else "")
        rows.append(f"| {name} | {entry.teaches} | {entry.minutes} min | {entry.needs} |")
    rows.append(f"| | **the whole course** | **{total_minutes() / 60:.1f} h** | |")
    return "\n".join(rows)
