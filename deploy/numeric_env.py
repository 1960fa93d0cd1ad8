"""The course's numeric settings for processes that the course starts for learners (hub, grading).

They pin torch's CPU kernels and threads so a learner's numbers match the committed notebook outputs
(see /work/shared facts in the README: kernels are chosen by CPU features and thread count). The one
place they are defined is ``course_utils.env.PINNED_NUMERIC_ENV`` (the Makefile exports the same as
``NUMERIC_ENV``); it is read here without importing torch (the hub process should not load torch),
by reading the literal dict from the source file. Until that name exists, the same five entries
below are used.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENV_MODULE = Path(__file__).resolve().parents[1] / "course_utils" / "env.py"
NAME = "PINNED_NUMERIC_ENV"
FALLBACK = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def numeric_env(module: Path = ENV_MODULE) -> dict[str, str]:
    """``PINNED_NUMERIC_ENV`` from ``course_utils/env.py`` if it is defined there as a literal dict, else
    :data:`FALLBACK`. A definition that is not a literal is imported (costs a torch import)."""
    try:
        tree = ast.parse(module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return dict(FALLBACK)
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        else:
            targets = [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == NAME for t in targets) and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                from course_utils import env  # not a literal: take the computed value

                value = getattr(env, NAME)
            return {str(k): str(v) for k, v in dict(value).items()}
    return dict(FALLBACK)
