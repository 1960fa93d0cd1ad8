"""The course's numeric settings for processes that the course starts for learners (hub, grading).

They pin torch's CPU kernels and threads so a learner's numbers match the committed notebook outputs. The
one place they are defined is ``course_utils/numeric.py`` (which the Makefile, the course kernel and CI
use too). It imports only the standard library, so it is loaded here by its file path: the hub process
never imports torch or the course package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

NUMERIC_MODULE = Path(__file__).resolve().parents[1] / "course_utils" / "numeric.py"


def _load_numeric():
    spec = importlib.util.spec_from_file_location("normcourse_numeric", NUMERIC_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numeric_env() -> dict[str, str]:
    """The pinned settings for this machine (kernel choices only where the CPU has AVX2)."""
    return _load_numeric().pinned_environment()
