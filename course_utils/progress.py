"""Progress bars for long cells: shown in JupyterLab when a loop runs longer than a few seconds, never in
nbval, ``make regen`` or CI (``NORMCOURSE_NO_PROGRESS`` / ``CI``, see :func:`course_utils.train.progress_enabled`).

    from course_utils.progress import progress
    for seed in progress(seeds, "paired seeds"):
        ...

Experiments wrap their outer loop (seeds, settings) in :func:`progress` and pass ``progress=False`` to the
inner :func:`course_utils.train.train` calls: one bar per cell, not one per training run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .train import progress_enabled

__all__ = ["progress", "DELAY_S"]

T = TypeVar("T")
DELAY_S = 3.0
"""A bar appears only once its loop has run this long: quick cells stay clean."""


def progress(iterable: Iterable[T], desc: str, total: int | None = None, *, delay: float = DELAY_S,
             show: bool | None = None) -> Iterable[T]:
    """``iterable`` with a progress bar (tqdm.auto: a widget in JupyterLab) that appears after ``delay``
    seconds and disappears when the loop ends; ``iterable`` itself where bars are off (``show=False``, or
    nbval/regen/CI by default)."""
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a short string naming the loop, got {type(desc).__name__}.")
    if not progress_enabled(show):
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, delay=delay, leave=False)
