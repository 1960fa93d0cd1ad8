"""Experiments of notebook 04: the axes, the invariance table, batch-size sweep, sequences, Transformers."""

import math
import unittest.mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import nn as cnn
from course_utils.experiments import layernorm as E


def test_layernorm_parity_with_torch():
    assert max(E.layernorm_parity().values()) < 1e-12


def test_batch_composition_effect_separates_layernorm_from_batchnorm():
    ln = E.batch_composition_effect(cnn.LayerNorm(8))
    assert ln == {"alone": 0.0, "companions": 0.0, "train_vs_eval": 0.0}
    bn = cnn.BatchNorm1d(8)
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    effect = E.batch_composition_effect(bn)
    assert math.isnan(effect["alone"]) and effect["companions"] > 0.5 and effect["train_vs_eval"] > 0.5
    assert all(torch.equal(before[k], v) for k, v in bn.state_dict().items())  # running stats restored
    assert bn.training


@pytest.mark.parametrize(
    "method, n_stats", [("batch", 4), ("layer", 2), ("instance", 8), ("group", 4)]
)
def test_stat_groups_count_the_statistics(method, n_stats):
    labels = E.stat_groups(method, (2, 4, 1, 3), groups=2)
    assert labels.shape == (2, 4, 1, 3) and len(np.unique(labels)) == n_stats


def test_group_labels_at_the_ends_equal_layer_and_instance():
    same = lambda a, b: len(np.unique(a * 100 + b)) == len(np.unique(a)) == len(np.unique(b))  # noqa: E731
    assert same(E.stat_groups("group", (2, 4, 2, 2), 1), E.stat_groups("layer", (2, 4, 2, 2)))
    assert same(E.stat_groups("group", (2, 4, 2, 2), 4), E.stat_groups("instance", (2, 4, 2, 2)))


def test_stat_groups_bad_input():
    with pytest.raises(ValueError, match="method"):
        E.stat_groups("rms")
    with pytest.raises(ValueError, match=r"groups \(3\) must divide"):
        E.stat_groups("group", (2, 4, 1, 1), 3)
    with pytest.raises(ValueError, match="shape must be"):
        E.stat_groups("layer", (2, 4))


def test_axes_parity_reproduces_every_layer():
    assert max(E.axes_parity().values()) < 1e-12
    # A planted bug: LayerNorm labels given to the GroupNorm comparison must not match.
    x = np.random.default_rng(0).normal(size=(3, 4, 2, 3))
    wrong, _ = E.normalize_by_groups(x, E.stat_groups("layer", x.shape))
    gn = cnn.GroupNorm(2, 4, affine=False, dtype=torch.float64)(torch.from_numpy(x)).detach().numpy()
    assert np.abs(gn - wrong).max() > 0.1


def test_channels_last_layernorm_is_per_pixel():
    r = E.channels_last_vs_paper_layernorm()
    assert (r["paper_stats"], r["channels_last_stats"]) == (2, 18)
    assert r["channels_last_pixel_mean"] < 1e-12 and r["paper_pixel_mean"] > 0.5
    assert np.abs(r["paper"].mean(axis=(1, 2, 3))).max() < 1e-12


def test_invariance_table_equals_the_paper():
    table = E.invariance_table()
    for t in E.TRANSFORMS:
        assert {k: table[t][k] for k in ("BatchNorm", "LayerNorm")} == E.PAPER_TABLE1[t], t
    # and with another seed: the answers are properties, not accidents of one draw
    other = E.invariance_table(seed=5)
    assert all(other[t]["BatchNorm"] == table[t]["BatchNorm"] for t in E.TRANSFORMS)


def test_small_batch_size_sweep_shows_batchnorm_failing_at_batch_2():
    sweep = E.batch_size_sweep(norms=("BatchNorm", "LayerNorm"), batch_sizes=(32, 2), seeds=(0, 1), epochs=1)
    assert sweep.table().shape == (2, 2)
    assert sweep.mean("BatchNorm", 2) > sweep.mean("LayerNorm", 2) + 10
    assert sweep is E.batch_size_sweep(norms=("BatchNorm", "LayerNorm"), batch_sizes=(32, 2), seeds=(0, 1), epochs=1)
    with pytest.raises(ValueError, match="norms"):
        E.batch_size_sweep(norms=("InstanceNorm",))
    with pytest.raises(ValueError, match="batch_sizes"):
        E.batch_size_sweep(batch_sizes=(1,))


def test_sequences_are_padded_and_scale_free():
    x, mask, y = E.make_sequences(50, seed=0)
    assert x.shape == (50, 1, E.SEQ_MAX_LEN) and mask.shape == (50, E.SEQ_MAX_LEN)
    assert torch.all(x[:, 0][mask == 0] == 0)
    assert 0.2 < y.float().mean() < 0.8
    x2, _, y2 = E.make_sequences(50, seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_padding_changes_batchnorm_but_not_layernorm():
    assert E.padding_effect("layer") == 0.0 and E.padding_effect(None) == 0.0
    assert E.padding_effect("batch") > 1e-3


def test_sequence_net_pairs_initialization_across_norms():
    a, b = E.SequenceNet("batch", seed=3), E.SequenceNet("layer", seed=3)
    assert torch.equal(a.conv1.weight, b.conv1.weight) and torch.equal(a.head.weight, b.head.weight)
    with pytest.raises(ValueError, match="norm"):
        E.SequenceNet("group")


def test_transformer_placements_and_gradients():
    x = torch.randint(0, 10, (4, 8))
    for placement in ("post", "pre"):
        assert E.TinyTransformer(2, placement)(x).shape == (4, 8, 10)
    post = E.grad_norms_at_init(8, "post")
    pre = E.grad_norms_at_init(8, "pre")
    assert post.shape == pre.shape == (8,) and post[-1] > pre[-1]
    with pytest.raises(ValueError, match="placement"):
        E.TinyTransformer(2, "middle")


def test_pre_ln_is_really_pre_and_post_ln_really_post():
    # Post-LN ends every layer with a LayerNorm: unit variance per token. Pre-LN's residual stream is not normalized.
    x = torch.randint(0, 10, (4, 8))
    for placement, normalized in (("post", True), ("pre", False)):
        model = E.TinyTransformer(3, placement)
        z = model.embed(x) + model.position
        for block in model.blocks:
            z = block(z)
        var = z.detach().var(-1, unbiased=False)
        assert torch.allclose(var, torch.ones_like(var), atol=1e-3) == normalized


def test_depth_grad_norms_and_short_warmup_comparison():
    grads = E.depth_grad_norms(depths=(2, 3), seeds=(0, 1))
    assert grads.norms[("pre", 3)].shape == (2, 3) and grads.mean("post", 2).shape == (2,)
    assert grads.last("pre", 3).shape == (2,)
    wu = E.warmup_comparison(seeds=(0, 1), lrs=(0.01, 0.03), warmups=(0, 3), steps=6, depth=1, batch_size=4)
    assert set(wu.accuracy) == {(p, w, lr) for p in ("post", "pre") for w in (0, 3) for lr in (0.01, 0.03)}
    assert wu.losses[("pre", 0, 0.01)].shape == (2, 6)
    # runs are cached and shared: the same configuration asked again is the same run
    again = E.warmup_comparison(seeds=(1,), lrs=(0.03,), warmups=(3,), placements=("post",), steps=6, depth=1,
                                batch_size=4)
    assert again.accuracy[("post", 3, 0.03)][0] == wu.accuracy[("post", 3, 0.03)][1]
    with pytest.raises(ValueError, match="placements"):
        E.warmup_comparison(placements=("middle",))


def test_warmup_really_warms_up(monkeypatch):
    # The learning rate of step 1 with a 4-step warm-up is a quarter of the target; without warm-up, the target.
    seen = []
    real_step = torch.optim.Adam.step

    def record(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    E._sorter_run(("pre", 4, 0, 0.02, 5, 1, 4, False))
    assert seen == pytest.approx([0.005, 0.01, 0.015, 0.02, 0.02])
    seen.clear()
    E._sorter_run(("pre", 0, 0, 0.02, 2, 1, 4, False))
    assert seen == pytest.approx([0.02, 0.02])


def test_small_embeddings_scale_token_and_position_embeddings():
    a, b = E.TinyTransformer(2, "pre", seed=0), E.TinyTransformer(2, "pre", seed=0, embed_std=0.1)
    assert torch.allclose(b.embed.weight, 0.1 * a.embed.weight) and torch.allclose(b.position, 0.1 * a.position)
    assert torch.equal(a.blocks[0].ff2.weight, b.blocks[0].ff2.weight)  # the layers are the same
    with pytest.raises(ValueError, match="embed_std"):
        E.TinyTransformer(2, "pre", embed_std=0.0)


def test_pre_ln_last_layer_gradient_shrinks_with_depth_only_with_small_embeddings():
    small = [E.grad_norms_at_init(d, "pre", seed=0, embed_std=0.1)[-1] for d in (2, 16)]
    default = [E.grad_norms_at_init(d, "pre", seed=0)[-1] for d in (2, 16)]
    assert small[1] / small[0] < 0.5 < default[1] / default[0]


def test_two_samples_normalize_to_plus_minus_one():
    out = E.two_sample_batchnorm(width=7, seed=3)
    assert out.shape == (2, 7) and np.allclose(np.abs(out), 1, atol=1e-3) and np.allclose(out[0], -out[1])


def test_recalibrate_batchnorm_sets_the_exact_statistics_and_keeps_momentum():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    X = torch.randn(50, 3) * 2 + 1
    E.recalibrate_batchnorm(model.eval(), X)
    h = model[0](X).detach()
    bn = model[1]
    assert torch.allclose(bn.running_mean, h.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, h.var(0, unbiased=True), atol=1e-4)
    assert bn.momentum == 0.1 and not model.training


def test_sequence_conditions_switch_one_factor_at_a_time():
    assert E.SEQ_CONDITIONS["full length"] == (E.SEQ_MAX_LEN, (1.0, 1.0))
    for condition in ("varying lengths", "scales"):  # each differs from "full length" in one entry only
        assert sum(a != b for a, b in zip(E.SEQ_CONDITIONS[condition], E.SEQ_CONDITIONS["full length"],
                                          strict=True)) == 1
    x1, m1, y1 = E.make_sequences(40, seed=0, min_len=E.SEQ_MAX_LEN, scales=(1.0, 1.0))
    x2, m2, y2 = E.make_sequences(40, seed=0)
    assert torch.all(m1 == 1) and not torch.all(m2 == 1)  # no padding vs padding
    rms = ((x1[:, 0] ** 2).mean(-1)).sqrt()
    assert rms.max() / rms.min() < 5  # scale 1: only the signal's own variation
    rms2 = ((x2[:, 0] ** 2).sum(-1) / m2.sum(-1)).sqrt()
    assert rms2.max() / rms2.min() > 100  # scales spread over decades
    decades = E._rms_decade(x2, m2)
    assert decades.min() >= 0 and decades.max() <= len(E.SEQ_SCALE_BINS) - 2
    with pytest.raises(ValueError, match="scales"):
        E.make_sequences(4, seed=0, scales=(0.0, 1.0))
    with pytest.raises(ValueError, match="min_len"):
        E.make_sequences(4, seed=0, min_len=40)


def test_short_sequence_comparison_has_every_condition_and_norm():
    seq = E.sequence_comparison(seeds=(0, 1), steps=3)
    # the masked BatchNorm differs from the plain one only where there is padding: it runs only there
    assert set(seq.accuracy) == ({(c, n) for c in E.SEQ_CONDITIONS for n in ("BatchNorm", "LayerNorm")}
                                 | {("varying lengths", "masked BatchNorm")})
    assert seq.by_scale[("scales", "LayerNorm")].shape == (len(E.SEQ_SCALE_BINS) - 1,)
    with pytest.raises(ValueError, match="conditions"):
        E.sequence_comparison(conditions=("everything",))


def test_masked_batchnorm_leaves_padding_out_of_the_statistics():
    # Same valid values, padded to 32 or to 64: the masked BatchNorm gives the same output on the valid
    # positions (the padding is not in its statistics); plain BatchNorm does not.
    x, mask, _ = E.make_sequences(8, seed=0)
    longer_x, longer_mask = torch.nn.functional.pad(x, (0, 32)), torch.nn.functional.pad(mask, (0, 32))
    changes = {}
    for norm in ("batch", "masked"):
        net = E.SequenceNet(norm, seed=0)
        with torch.no_grad():
            a = net.features(x, mask)
            b = net.features(longer_x, longer_mask)[..., :32]
        changes[norm] = float((a - b).abs().max())
    assert changes["masked"] < 1e-5 < 1e-2 < changes["batch"]


def test_normalize_by_groups_takes_plain_lists():
    # labels as a list failed with numpy's AttributeError ('list' object has no attribute 'shape')
    x_hat, stats = E.normalize_by_groups([1.0, 3.0, 5.0, 9.0], [0, 0, 1, 1])
    np.testing.assert_allclose(x_hat, [-1, 1, -1, 1], atol=1e-5)
    assert stats == {0: (2.0, 1.0, 2), 1: (7.0, 4.0, 2)}


def test_qk_norm_normalizes_each_heads_queries_and_keys_and_keeps_the_other_weights():
    a, b = E.TinyTransformer(2, "pre", seed=0), E.TinyTransformer(2, "pre", seed=0, qk_norm=True)
    for name, p in a.named_parameters():  # the same seed gives the same weights with and without QK-norm
        assert torch.equal(p, dict(b.named_parameters())[name]), name
    block = b.blocks[0]
    seen = {}
    real = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, *args, **kwargs):
        seen["q"], seen["k"] = q, k
        return real(q, k, v, *args, **kwargs)

    x = torch.randn(3, 8, 32) * 50  # large inputs: without QK-norm the queries would be large too
    with unittest.mock.patch.object(E.F, "scaled_dot_product_attention", spy), torch.no_grad():
        block.attention(x)
    head_dim = 32 // 2
    for t in (seen["q"], seen["k"]):  # (batch, heads, positions, head_dim): unit RMS per head and position
        assert t.shape[-1] == head_dim
        assert torch.allclose(t.pow(2).mean(-1), torch.ones(t.shape[:-1]), atol=1e-3)
    assert not E.TransformerBlock("pre").qk_norm


# ---------- moved here by subject: tests written against one-line bugs that survived the unit tests
# (a planted-bug run over the code of notebooks 03-05; each comment names the bug it failed with)


def test_sequence_net_averages_over_the_valid_positions_only():
    # Planted: h.mean(-1) in SequenceNet.forward: extra padding would then shrink the features.
    x, mask, _ = E.make_sequences(6, seed=0)
    longer_x, longer_mask = F.pad(x, (0, 13)), F.pad(mask, (0, 13))
    for norm in (None, "layer"):
        net = E.SequenceNet(norm, seed=0).eval()
        with torch.no_grad():
            torch.testing.assert_close(net(longer_x, longer_mask), net(x, mask), rtol=1e-5, atol=1e-6)


def test_sweep_and_transformer_runs_in_worker_processes_are_the_runs_here(monkeypatch):
    keys = [("pre", w, s, 0.02, 6, 1, 4, False) for w in (0, 3) for s in (0, 1)]
    here = [E._sorter_run(k) for k in keys]
    monkeypatch.setattr(E, "_SORTER_RUNS", {})
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    torch.rand(3)  # whatever the caller drew before, a run draws only from generators its seed sets
    assert E._train_sorters(keys) == here
    sweep_keys = [(norm, 16, s, 1) for norm in (None, "batch") for s in (0, 1)]
    monkeypatch.setenv("NORMCOURSE_WORKERS", "1")
    serial = [E._sweep_run(k) for k in sweep_keys]
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    from course_utils.parallel import map_in_processes

    assert repr(map_in_processes(E._sweep_run, sweep_keys)) == repr(serial)  # repr: nan == nan


def test_sequence_runs_in_worker_processes_are_the_runs_here_and_leave_the_callers_generator(monkeypatch):
    keys = [(c, norm, s, 3, 8) for c in ("full length", "varying lengths") for norm in ("batch", "masked", "layer")
            for s in (0, 1)]
    monkeypatch.setenv("NORMCOURSE_WORKERS", "1")
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    serial = [E._sequence_run(k) for k in keys]
    assert torch.equal(torch.rand(3), expected_next), "a run read or moved the caller's global generator"
    monkeypatch.setattr(E, "_SEQUENCE_RUNS", {})
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    torch.rand(7)  # whatever the caller drew before, a run draws only from generators its key sets
    assert repr(E.cached_runs(E._SEQUENCE_RUNS, E._sequence_run, keys)) == repr(serial)  # repr: nan == nan
    seq = E.sequence_comparison(seeds=(0, 1), steps=3, batch_size=8, conditions=("full length", "varying lengths"))
    assert seq.accuracy[("varying lengths", "masked BatchNorm")] == tuple(acc for acc, _ in serial[8:10])
    assert ("full length", "masked BatchNorm") not in seq.accuracy  # no padding: masked is plain BatchNorm


def test_gradient_norms_in_worker_processes_are_the_ones_here_and_leave_the_callers_generator(monkeypatch):
    monkeypatch.setenv("NORMCOURSE_WORKERS", "1")
    here = {(p, d): np.stack([E.grad_norms_at_init(d, p, s) for s in (0, 1)]) for p in E.PLACEMENTS for d in (1, 3)}
    monkeypatch.setattr(E, "_GRAD_NORMS", {})
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    serial = E.depth_grad_norms(depths=(1, 3), seeds=(0, 1))
    assert torch.equal(torch.rand(3), expected_next), "building a model read or moved the caller's generator"
    monkeypatch.setattr(E, "_GRAD_NORMS", {})
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    parallel = E.depth_grad_norms(depths=(1, 3), seeds=(0, 1))
    for cell, norms in here.items():
        np.testing.assert_array_equal(serial.norms[cell], norms)
        np.testing.assert_array_equal(parallel.norms[cell], norms)
