"""Shared test setup: one torch thread, as in the notebooks (small models run ~20x faster here)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    torch.set_num_threads(1)
    yield
