import numpy as np
import torch

from course_utils import setup_notebook
from course_utils.env import environment_summary


def test_setup_seeds_threads_and_determinism(capsys):
    setup_notebook(seed=7)
    summary = environment_summary(7)
    assert capsys.readouterr().out.strip() == summary
    assert "torch 2.13.0" in summary and "threads 1" in summary and "seed 7" in summary
    assert torch.get_num_threads() == 1
    assert torch.are_deterministic_algorithms_enabled()
    a = (np.random.rand(), torch.rand(1).item())
    setup_notebook(seed=7, quiet=True)
    assert (np.random.rand(), torch.rand(1).item()) == a


def test_setup_quiet_prints_nothing(capsys):
    setup_notebook(quiet=True)
    assert capsys.readouterr().out == ""


def test_setup_refuses_a_bad_seed():
    import pytest

    with pytest.raises(TypeError, match="seed must be an int"):
        setup_notebook(seed="zero")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        setup_notebook(seed=-1)
