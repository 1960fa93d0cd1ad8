"""Tests for the kinds of one-line bugs that survived the unit tests in the code of notebooks 03-05.

A planted-bug run over the newer code (the norm family, synchronized BN, recalibration, the experiments,
the explorers) found survivors where tests checked shapes or "it ran", not the result. Each test here pins
one such result; its comment names the bug it was planted against (each one failed with the bug in).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import nn as cnn
from course_utils.data import Split
from course_utils.experiments import batchnorm as EB
from course_utils.experiments import dropout as ED
from course_utils.experiments import layernorm as EL
from course_utils.train import History

torch.set_num_threads(1)


# ------------------------------------------------------------------------- a comparison helper's direction


def _run(seed: int, **final) -> ED.Run:
    history = History(steps=[1], train_loss=[final.get("train_loss", 1.0)], train_acc=[final.get("train_acc", 0.5)],
                      val_loss=[final["val_loss"]], val_acc=[final["val_acc"]])  # fmt: skip
    return ED.Run(model=nn.Identity(), history=history, n_train=10, p=0.0, input_p=0.0, seed=seed)


@pytest.mark.parametrize(("metric", "higher_is_better"), [("val_loss", False), ("val_acc", True)])
def test_dropout_paired_metric_knows_which_direction_is_better(metric, higher_is_better):
    # Planted: higher_is_better=metric.endswith("loss") (or left at its default): a lower loss counted as worse.
    runs = {
        "dropout": [_run(s, val_loss=0.5, val_acc=0.9) for s in range(3)],
        "no dropout": [_run(s, val_loss=0.8, val_acc=0.8) for s in range(3)],
    }
    result = ED.paired_metric(runs, metric=metric, a="dropout")
    assert result.higher_is_better is higher_is_better
    assert result.wins == 3  # dropout is better on both metrics, in every seed


def test_dropout_grid_paired_knows_which_direction_is_better():
    seeds = (0, 1)
    runs = {}
    for p, loss in ((0.0, 0.8), (0.5, 0.5)):
        for s in seeds:
            runs[(p, 10, s)] = _run(s, val_loss=loss, val_acc=1 - loss)
    grid = ED.DropoutGrid(p_values=(0.0, 0.5), sizes=(10,), seeds=seeds, steps=1, hidden=(4,), runs=runs)
    for metric, higher in (("val_loss", False), ("val_acc", True)):
        result = ED.grid_paired(grid, 10, 0.5, metric=metric)
        assert result.higher_is_better is higher and result.wins == 2, metric


# ------------------------------------------------------------------------------ process group, respected


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


# ------------------------------------------------------------------- seeded shuffles use their own generator


def _bn_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    for _ in range(3):
        model(torch.randn(16, 4))
    return model.eval()


def _under_global_seeds(fn):
    """fn() under two global seeds: its results, and whether it left the global generator untouched."""
    results, untouched = [], True
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        results.append(fn())
        state = torch.random.get_rng_state()
        torch.manual_seed(global_seed)
        untouched &= torch.equal(state, torch.random.get_rng_state())
    return results, untouched


def test_accuracy_vs_eval_batch_shuffles_with_its_seed_only():
    # Planted: torch.randperm(len(X)) without generator=gen (the global generator decides the batches).
    model, X = _bn_model(), torch.randn(40, 4, generator=torch.Generator().manual_seed(5))
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(6))
    results, untouched = _under_global_seeds(lambda: EB.accuracy_vs_eval_batch(model, X, y, batch_sizes=(4,)))
    assert untouched and results[0] == results[1]


def test_companion_dependence_draws_companions_with_its_seed_only():
    model, X = _bn_model(), torch.randn(40, 4, generator=torch.Generator().manual_seed(5))
    results, untouched = _under_global_seeds(lambda: EB.companion_dependence(model, X, index=3, n_batches=5))
    assert untouched and results[0] == results[1]


def test_train_draws_its_batches_with_its_seed_only():
    from course_utils.models import make_mlp
    from course_utils.train import train

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    split = Split(X[:40], y[:40], X[40:], y[40:], X[40:], y[40:], target_names=["a", "b"])

    def fit(global_seed):
        model = make_mlp(4, [8], 2, norm="batch", seed=0)
        torch.manual_seed(global_seed)  # after make_mlp, whose seed= sets the global generator itself
        return train(model, split, steps=5, batch_size=8, seed=3, progress=False).step_loss

    assert fit(0) == fit(1)


# ------------------------------------------------------------------------------ a seed reused across batches


def test_padded_running_stats_draws_new_values_for_every_batch(monkeypatch):
    # Planted: padded_batch(lengths, seed=seed) in the loop: every batch repeats the same values.
    seeds = []
    real = EB.padded_batch

    def recording(lengths, *args, seed=0, **kwargs):
        seeds.append(seed)
        return real(lengths, *args, seed=seed, **kwargs)

    monkeypatch.setattr(EB, "padded_batch", recording)
    r = EB.padded_running_stats(n_batches=30, seed=2)
    assert len(set(seeds)) == 30
    # and the masked running mean then estimates the true mean 1 from 30 batches' values, not one batch's
    assert abs(r["masked_running_mean"] - 1.0) < 0.03


# --------------------------------------------------------------------------- averages over padded positions


def test_masked_batchnorm_statistics_are_those_of_the_valid_values():
    # Planted: the variance or the count taken over every position, padding included.
    x, mask = EB.padded_batch([2, 5, 7], seed=1)
    x = x + 9.0 * (~mask[:, None, :])  # garbage in the padding: it must not matter
    layer = EB.MaskedBatchNorm1d(4, momentum=None).double()
    out = layer(x, mask)
    valid = x.permute(0, 2, 1)[mask]  # (valid positions, C)
    mean, var = valid.mean(0), valid.var(0, unbiased=False)
    expected = (valid - mean) / torch.sqrt(var + layer.eps)
    torch.testing.assert_close(out.permute(0, 2, 1)[mask], expected)
    torch.testing.assert_close(layer.running_mean, mean)
    torch.testing.assert_close(layer.running_var, valid.var(0, unbiased=True))


def test_sequence_net_averages_over_the_valid_positions_only():
    # Planted: h.mean(-1) in SequenceNet.forward: extra padding would then shrink the features.
    x, mask, _ = EL.make_sequences(6, seed=0)
    longer_x, longer_mask = F.pad(x, (0, 13)), F.pad(mask, (0, 13))
    for norm in (None, "layer"):
        net = EL.SequenceNet(norm, seed=0).eval()
        with torch.no_grad():
            torch.testing.assert_close(net(longer_x, longer_mask), net(x, mask), rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------- a variance's degrees of freedom, a momentum


def test_running_traces_are_torchs_batchnorm_step_by_step():
    # Planted: batch.var(axis=1, ddof=1) for the batch variance, a running variance without b / (b - 1), and
    # momentum as the weight of the *old* value (Keras's convention) instead of torch's.
    stream = EB.stat_stream(max_batch=8, steps=30)
    traces = EB.running_traces(stream, 5, momentum=0.2)
    bn = nn.BatchNorm1d(1, momentum=0.2).double()
    for step, row in enumerate(stream):
        batch = torch.from_numpy(row[:5]).reshape(5, 1)
        bn(batch)
        assert traces["batch_var"][step] == pytest.approx(float(batch.var(unbiased=False)))
        assert traces["running_mean"][step] == pytest.approx(float(bn.running_mean[0]))
        assert traces["running_var"][step] == pytest.approx(float(bn.running_var[0]))


def test_batchstats_explorer_passes_torchs_momentum_through(monkeypatch):
    # Planted: the explorer handing running_traces 1 - momentum (the other convention).
    from course_utils.widgets import batchnorm as W

    seen = {}
    monkeypatch.setattr(W.BatchStatsPanel, "update", lambda self, traces, *args: seen.update(traces) or "figure")
    stream = EB.stat_stream(max_batch=8, steps=10)
    assert W.make_draw(stream)(4, 0.05, 0.0) == "figure"
    expected = EB.running_traces(stream, 4, 0.05)
    np.testing.assert_allclose(seen["running_mean"], expected["running_mean"])
    assert seen["running_mean"][0] == pytest.approx(0.05 * stream[0, :4].mean())


def test_running_var_bias_reports_the_biased_batch_variance():
    # Planted: x.var() (unbiased) for the batch variance: the "biased" mean would then be sigma^2, not 3/4 of it.
    out = EB.running_var_bias(batch_size=2, batches=4000, sigma=1.0)
    assert out["expected_biased"] == 0.5
    assert abs(out["mean_biased_batch_var"] - 0.5) < 0.05 and abs(out["running_var"] - 1.0) < 0.1
