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
    # Every constructor argument reaches the layer (device "meta": no memory, same as torch's).
    group = object()
    ours = cnn.SyncBatchNorm(6, dtype=torch.float64, bias=False, process_group=group, device="meta")
    ref = nn.SyncBatchNorm(6, dtype=torch.float64, bias=False, process_group=group, device="meta")
    assert ours.process_group is group and ours.bias is None and repr(ours) == repr(ref)
    for name, tensor in ref.state_dict().items():
        mine = ours.state_dict()[name]
        assert (mine.device, mine.dtype, mine.shape) == (tensor.device, tensor.dtype, tensor.shape), name


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


def test_sync_matches_the_full_batch_at_a_large_offset():
    # Two real gloo processes, inputs around 1e6 (float64): the merged per-process statistics stay exact to
    # rounding, where the one-pass sum-of-squares formula was off by about 1e-5.
    dp = compare_data_parallel(world_size=2, n=8, timing_steps=1, timeout=120, offset=1e6)
    assert dp["sync"]["output"] < 1e-9 and dp["sync"]["input_grad"] < 1e-9 and dp["sync"]["ranks_agree"]


def test_hang_ends_with_a_clear_timeout():
    with pytest.raises(TimeoutError, match="did not finish"):
        compare_data_parallel(world_size=2, n=8, timing_steps=1, timeout=0.05)


def test_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        compare_data_parallel(world_size=2, n=3)
    with pytest.raises(ValueError, match="timeout"):
        compare_data_parallel(timeout=0)


def pretend_two_processes(monkeypatch, all_gather) -> None:
    """Run SyncBatchNorm's global path in this process (where mutation testing sees it): a world of 2
    whose all-gather is ``all_gather(tensor, group)`` (returns the two processes' tensors stacked)."""
    monkeypatch.setattr(cnn.SyncBatchNorm, "_world_size", lambda self: 2)
    monkeypatch.setattr(cnn, "all_gather_stack", all_gather)


def twin(tensor, group=None):
    """The all-gather of two processes holding the same batch."""
    return torch.stack([tensor, tensor])


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=["NC", "NCL"])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_the_global_path_equals_batchnorm_on_the_global_batch(monkeypatch, shape, momentum):
    # The same global path as the spawned-process tests, in this process (where mutation testing sees it):
    # two processes holding identical batches, so the all-gather returns two copies of every message, and
    # its backward adds up both rows' gradients. One process with both copies is the reference.
    group = object()

    def doubled(tensor, group_seen=None):
        assert group_seen is group, "the layer's process_group must reach the all-gather"
        return twin(tensor)

    pretend_two_processes(monkeypatch, doubled)
    generator = torch.Generator().manual_seed(0)
    sync = cnn.SyncBatchNorm(3, momentum=momentum, process_group=group).double()
    ref = nn.BatchNorm1d(3, momentum=momentum).double()
    with torch.no_grad():
        for p in (*sync.parameters(), *ref.parameters()):
            p.copy_(torch.arange(1.0, 4.0, dtype=torch.float64) * (0.5 if p is sync.bias or p is ref.bias else 1.5))
    for step in range(2):
        spread = 3.0 if step == 0 else 0.3  # a variance below 1 too
        x = (torch.randn(shape, generator=generator, dtype=torch.float64) * spread + 2).requires_grad_(True)
        gout = torch.randn(shape, generator=generator, dtype=torch.float64)
        both = torch.cat([x.detach(), x.detach()]).requires_grad_(True)
        y, y_ref = sync(x), ref(both)
        y.backward(gout)
        y_ref.backward(torch.cat([gout, gout]))
        n = shape[0]
        torch.testing.assert_close(y, y_ref[:n], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(x.grad, both.grad[:n], rtol=1e-10, atol=1e-10)
        # Parameter gradients are per process (data parallelism adds them up afterwards): half of both copies'.
        for ours, theirs in ((sync.weight, ref.weight), (sync.bias, ref.bias)):
            torch.testing.assert_close(2 * ours.grad, theirs.grad, rtol=1e-10, atol=1e-10)
            ours.grad = theirs.grad = None
        # Running statistics from the global batch (unbiased with the global count 2n), step after step.
        torch.testing.assert_close(sync.running_mean, ref.running_mean, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(sync.running_var, ref.running_var, rtol=1e-10, atol=1e-12)
        assert int(sync.num_batches_tracked) == int(ref.num_batches_tracked) == step + 1
    sync.eval(), ref.eval()
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(sync(x), ref(x), rtol=1e-10, atol=1e-10)


def test_the_global_path_refuses_a_single_value_over_all_processes(monkeypatch):
    # the other process is empty: count, mean and M are 0 (checked below for a non-empty one too)
    pretend_two_processes(monkeypatch, lambda tensor, group=None: torch.stack([tensor, torch.zeros_like(tensor)]))
    with pytest.raises(ValueError, match="more than 1 value per channel over all processes"):
        cnn.SyncBatchNorm(3)(torch.randn(1, 3))


def test_the_global_path_without_running_statistics(monkeypatch):
    pretend_two_processes(monkeypatch, twin)
    sync = cnn.SyncBatchNorm(3, track_running_stats=False).double()
    ref = nn.BatchNorm1d(3, track_running_stats=False).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(sync(x), ref(torch.cat([x, x]))[:5], rtol=1e-10, atol=1e-10)
    assert sync.running_mean is None and sync.num_batches_tracked is None


def test_eval_mode_never_synchronizes_even_without_running_statistics(monkeypatch):
    # torch.nn.SyncBatchNorm synchronizes in training only; a process evaluating alone must not wait for the
    # others (with gloo it would hang until the job's timeout, 30 minutes by default).
    def refuse(tensor, group=None):
        raise AssertionError("eval mode must not communicate")

    pretend_two_processes(monkeypatch, refuse)
    sync = cnn.SyncBatchNorm(3, track_running_stats=False).double().eval()
    x = torch.randn(5, 3, dtype=torch.float64) * 3 + 1
    torch.testing.assert_close(sync(x), nn.BatchNorm1d(3, track_running_stats=False).double()(x))


def test_two_values_over_all_processes_are_enough(monkeypatch):
    # One value on each of two processes: the global batch has 2, which BatchNorm accepts.
    pretend_two_processes(monkeypatch, twin)
    out = cnn.SyncBatchNorm(3)(torch.randn(1, 3))
    assert out.shape == (1, 3)


@pytest.mark.parametrize("offset", [1e4, 1e20])
def test_the_global_statistics_survive_a_large_offset(monkeypatch, offset):
    # Two processes with *different* shards (one per row of the all-gather): the merge of per-process means and
    # sums of squared deviations must equal BatchNorm on the combined batch. The one-pass E[x^2] - E[x]^2
    # gave -866.7 instead of 3.17 at 1e4 in float32, and NaN around 1e20.
    generator = torch.Generator().manual_seed(1)
    shards = [offset + torch.randn(16, 4, generator=generator) * s for s in (1.0, 2.0)]
    other_message = _message_of(shards[1])

    pretend_two_processes(monkeypatch, lambda tensor, group=None: torch.stack([tensor, other_message]))
    sync = cnn.SyncBatchNorm(4)
    # The reference is the two-pass formula in float64 by hand: torch's own kernel returns -630128 instead of 0
    # on a constant 1e20 channel in float64.
    both = torch.cat(shards).double()
    mean, var = both.mean(0), ((both - both.mean(0)) ** 2).mean(0)
    expected = ((both - mean) / torch.sqrt(var + 1e-5))[:16].float()
    out = sync(shards[0])
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, expected, rtol=0, atol=2e-3)
    torch.testing.assert_close(sync.running_mean.double(), 0.1 * mean, rtol=1e-6, atol=1e-3)
    torch.testing.assert_close(sync.running_var.double(), 0.9 + 0.1 * var * 32 / 31, rtol=1e-4, atol=1e-4)


def _message_of(x):
    """What a process holding ``x`` sends: [count | mean | sum of squared deviations], per channel."""
    mean = x[0] + (x - x[0]).mean(0)  # shifted, as the layer does: exact for a constant channel
    return torch.cat([x.new_full((1,), float(len(x))), mean, ((x - mean) ** 2).sum(0)])


def test_eps_zero_is_refused_on_the_global_path_too(monkeypatch):
    pretend_two_processes(monkeypatch, twin)
    with pytest.raises(ValueError, match="eps"):
        cnn.SyncBatchNorm(3, eps=0.0)(torch.ones(4, 3))


def test_convert_sync_batchnorm_swaps_every_batchnorm_and_keeps_its_state():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 3), nn.BatchNorm1d(3, momentum=0.3), nn.Sequential(cnn.BatchNorm1d(3, eps=1e-3, bias=False)),
        cnn.InstanceNorm1d(3), nn.BatchNorm2d(3, track_running_stats=False),
    )
    hidden = model[0](torch.randn(8, 4))
    model[1](hidden), model[2](hidden)  # move the running statistics
    model[1].weight.requires_grad_(False)
    model[2][0].fast = True
    model[2].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted = cnn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert [type(m).__name__ for m in (model[1], model[2][0], model[3], model[4])] == [
        "SyncBatchNorm", "SyncBatchNorm", "InstanceNorm1d", "SyncBatchNorm"]
    assert (model[1].momentum, model[2][0].eps, model[2][0].bias, model[4].running_mean) == (0.3, 1e-3, None, None)
    assert not model[1].weight.requires_grad and model[1].training and not model[2][0].training
    assert model[2][0].fast is True
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    single = cnn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(2).double())
    assert isinstance(single, cnn.SyncBatchNorm) and single.running_mean.dtype == torch.float64
    with pytest.raises(TypeError, match="module"):
        cnn.SyncBatchNorm.convert_sync_batchnorm("model")


# ---------- moved here by subject: tests written against one-line bugs that survived the unit tests
# (a planted-bug run over the code of notebooks 03-05; each comment names the bug it failed with)


def test_syncbatchnorm_asks_its_own_process_group_for_the_world_size(monkeypatch):
    # Planted: dist.get_world_size() without the group: a layer in a subgroup synchronizes with the wrong world.
    import torch.distributed as dist

    group, seen = object(), []
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda g=None: seen.append(g) or 1)
    layer = cnn.SyncBatchNorm(3, process_group=group)
    layer(torch.randn(4, 3))
    assert seen == [group]


def test_the_all_gather_and_its_backward_use_the_given_group(monkeypatch):
    # Planted: group=None in dist.all_gather / dist.all_reduce / dist.get_rank of the differentiable all-gather.
    import torch.distributed as dist

    group, seen = object(), []

    def all_gather(parts, tensor, group=None):
        seen.append(("all_gather", group))
        for i, part in enumerate(parts):
            part.copy_(tensor * (i + 1))  # process i holds (i + 1) times our tensor

    def all_reduce(tensor, op=None, group=None):
        seen.append(("all_reduce", group))
        tensor.mul_(2)  # the other process sends the same gradient

    monkeypatch.setattr(dist, "all_gather", all_gather)
    monkeypatch.setattr(dist, "all_reduce", all_reduce)
    monkeypatch.setattr(dist, "get_world_size", lambda g=None: seen.append(("get_world_size", g)) or 2)
    monkeypatch.setattr(dist, "get_rank", lambda g=None: seen.append(("get_rank", g)) or 1)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    stacked = cnn.all_gather_stack(x, group)
    torch.testing.assert_close(stacked, torch.tensor([[1.0, 2.0], [2.0, 4.0]]))
    stacked.backward(torch.tensor([[1.0, 1.0], [3.0, 5.0]]))
    torch.testing.assert_close(x.grad, torch.tensor([6.0, 10.0]))  # our row (rank 1), summed over 2 processes
    assert {g for _, g in seen} == {group}
    assert {name for name, _ in seen} == {"all_gather", "all_reduce", "get_world_size", "get_rank"}
