"""Shared test setup: one torch thread and the run-time part of the numeric path, as in the notebooks (small
models run ~20x faster on one thread; dropout draws the same masks on every CPU vendor)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    from course_utils import numeric

    torch.set_num_threads(1)
    numeric.apply_runtime_flags()
    yield
