"""course_utils.nn.SyncBatchNorm and the data-parallel comparison (2 gloo processes on 127.0.0.1)."""

import pytest
import torch
from torch import nn

from course_utils import nn as cnn
from course_utils import setup_notebook
from course_utils.distributed import compare_data_parallel, free_port

setup_notebook(quiet=True)


def test_mirrors_torch_constructor_repr_and_state_dict():
    ours, ref = cnn.SyncBatchNorm(6, momentum=0.2), nn.SyncBatchNorm(6, momentum=0.2)
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    assert ours.process_group is None


def test_without_a_process_group_it_is_batchnorm():
    torch.manual_seed(0)
    sync, plain = cnn.SyncBatchNorm(4).double(), nn.BatchNorm1d(4).double()
    x = torch.randn(16, 4, 3, dtype=torch.float64)
    assert torch.allclose(sync(x), plain(x), atol=1e-12)
    assert torch.allclose(sync.running_var, plain.running_var, atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="momentum"):
        cnn.SyncBatchNorm(4, momentum=1.5)
    with pytest.raises(ValueError, match="num_features|channels"):
        cnn.SyncBatchNorm(4)(torch.randn(8, 5))
    with pytest.raises(ValueError, match="more than 1 value"):
        cnn.SyncBatchNorm(4)(torch.randn(1, 4))


def test_free_port_is_bindable():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.fixture(scope="module")
def dp():
    return compare_data_parallel(world_size=2, n=8, timing_steps=1, timeout=120)


def test_only_sync_matches_the_full_batch(dp):
    for key in ("output", "input_grad", "param_grad", "running"):
        assert dp["sync"][key] < 1e-12, key
    assert dp["local"]["output"] > 0.01 and dp["local"]["param_grad"] > 1e-4 and dp["local"]["input_grad"] > 1e-6
    assert dp["sync"]["ranks_agree"] and dp["local"]["ranks_agree"]
    assert dp["ms_per_step"]["sync"] > 0 and dp["all_reduce_ms"] > 0


def test_hang_ends_with_a_clear_timeout():
    with pytest.raises(TimeoutError, match="did not finish"):
        compare_data_parallel(world_size=2, n=8, timing_steps=1, timeout=0.05)


def test_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        compare_data_parallel(world_size=2, n=3)
    with pytest.raises(ValueError, match="timeout"):
        compare_data_parallel(timeout=0)
