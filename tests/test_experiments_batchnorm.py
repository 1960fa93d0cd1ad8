"""Notebook 03's experiments: each function on a small setting, plus bad input."""

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import setup_notebook
from course_utils.data import load_digits
from course_utils.experiments import batchnorm as E

setup_notebook(quiet=True)


def test_parity_with_torch():
    parity = E.parity_with_torch(steps=3)
    assert max(parity[k] for k in ("output", "input_grad", "param_grad", "running", "eval_output")) < 1e-12
    assert parity["same_state_dict_keys"] == 1 and parity["same_repr"] == 1


def test_bias_before_bn_gets_no_gradient():
    out = E.bias_before_bn()
    assert out["bias_grad"] < 1e-12 < out["weight_grad"]
    assert out["output_change"] < 1e-12


def test_backward_agreement():
    agree = E.backward_agreement()
    assert max(agree.values()) < 1e-12


def test_time_backwards_reports_both():
    t = E.time_backwards(n=32, d=8, repeats=2)
    assert t["compact"] > 0 and t["staged"] > 0 and t["speedup"] == t["staged"] / t["compact"]


def test_running_var_is_unbiased():
    rv = E.running_var_bias(batch_size=4, batches=3000)
    assert abs(rv["mean_biased_batch_var"] - 3.0) < 0.2
    assert abs(rv["running_var"] - 4.0) < 0.25


def test_momentum_conventions():
    assert E.torch_to_keras_momentum(0.1) == 0.9
    with pytest.raises(ValueError, match="momentum"):
        E.torch_to_keras_momentum(1.5)
    with pytest.raises(TypeError, match="momentum"):
        E.torch_to_keras_momentum("0.1")


@pytest.fixture(scope="module")
def model():
    return E.trained_bn_model(seed=0, steps=30)


def test_trained_model_is_a_fresh_copy(model):
    other = E.trained_bn_model(seed=0, steps=30)
    assert other is not model and not other.training
    assert torch.equal(other[1].running_mean, model[1].running_mean)


def test_companion_dependence_leaves_the_model_alone(model):
    X, _ = load_digits().tensors("val")
    before = model[1].running_mean.clone()
    dep = E.companion_dependence(model, X, n_batches=5)
    assert torch.equal(model[1].running_mean, before), "probing in train mode must not touch the running stats"
    assert dep["eval_logit_spread"] == 0 and dep["train_logit_spread"] > 0


def test_accuracy_vs_eval_batch(model):
    X, y = load_digits().tensors("val")
    acc = E.accuracy_vs_eval_batch(model, X, y, batch_sizes=(2, 358))   # 359 = 358 + 1: the single is merged
    assert max(acc["eval"]) - min(acc["eval"]) < 0.01
    assert acc["train"][0] < acc["train"][1]
    with pytest.raises(ValueError, match="batch_sizes"):
        E.accuracy_vs_eval_batch(model, X, y, batch_sizes=(1,))


def test_recalibrate_is_an_exact_average_and_restores_settings():
    bn = nn.BatchNorm1d(3, momentum=0.3)
    model = nn.Sequential(bn)
    model.eval()
    X = torch.randn(64, 3) * 2 + 5
    E.recalibrate(model, X, batch_size=16, seed=0)
    assert bn.momentum == 0.3 and not model.training
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    means = torch.stack([X[order[s : s + 16]].mean(0) for s in range(0, 64, 16)])
    assert torch.allclose(bn.running_mean, means.mean(0), atol=1e-6)


def test_eval_gap_and_recalibration_small():
    gap = E.eval_gap_and_recalibration(steps=100, momentum=0.003)
    assert gap["eval"] < gap["train_mode"] - 0.05 and gap["recalibrated"] > gap["eval"]


def test_no_grad_forward_changes_stats():
    look = E.no_grad_forward_changes_stats()
    assert look["train_mode_mean_change"] > 0 and look["bn_frozen_mean_change"] == 0


def test_fig1_runs_small_and_steps_to_target():
    runs = E.fig1_runs(seeds=(0,), steps=50)
    assert set(runs) == {"none", "batch"}
    assert runs["batch"][0].percentiles.shape == (50 // E.FIG1_EVAL, 3)
    assert E.steps_to_target(runs["none"], 2.0) == [50 + E.FIG1_EVAL]   # never reached: conservative count
    with pytest.raises(ValueError, match="unit"):
        E.fig1_runs(seeds=(0,), steps=50, unit=100)


def test_sweep_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        E.sweep("momentum", (0.1,))


def test_noise_after_norm():
    layer = E.NoiseAfterNorm(shift=1.0, scale=1.5)
    x = torch.randn(8, 4)
    assert torch.equal(layer.eval()(x), x)
    assert not torch.equal(layer.train()(x), x)
    with pytest.raises(ValueError, match="scale"):
        E.NoiseAfterNorm(scale=0.5)


def test_small_batch_errors_shape():
    errs = E.small_batch_errors(batch_sizes=(32, 16), seeds=(0,), epochs=1)
    assert set(errs) == {32, 16} and errs[32].shape == (1,)
    with pytest.raises(ValueError, match="batch_sizes"):
        E.small_batch_errors(batch_sizes=(1,), seeds=(0,), epochs=1)


def test_masked_batchnorm_ignores_padding():
    x, mask = E.padded_batch([3, 5, 8], seed=0)
    masked = E.MaskedBatchNorm1d(4).double()
    y = masked(x, mask)
    longer = torch.zeros(3, 4, 12, dtype=torch.float64)
    longer[:, :, :8] = x
    mask2 = torch.zeros(3, 12, dtype=torch.bool)
    mask2[:, :8] = mask
    y2 = E.MaskedBatchNorm1d(4).double()(longer, mask2)
    assert torch.allclose(y2[:, :, :8][mask[:, None].expand_as(y)], y[mask[:, None].expand_as(y)])
    full = torch.ones(3, 8, dtype=torch.bool)
    assert torch.allclose(E.MaskedBatchNorm1d(4).double()(x, full), nn.BatchNorm1d(4).double()(x))
    with pytest.raises(ValueError, match="mask"):
        masked(x, mask[:, :3])


def test_padding_pollution_identity():
    pad = E.padding_pollution()
    f, m_bn, m_valid = (np.array(pad[k]) for k in ("padding_fraction", "bn_mean", "valid_mean"))
    assert np.allclose(m_bn, m_valid * (1 - f))
    assert pad["plain_change"][-1] > pad["masked_change"][-1]


def test_fold_batchnorm_matches_eval_mode():
    torch.manual_seed(0)
    lin, bn = nn.Linear(5, 4).double(), nn.BatchNorm1d(4).double()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        bn.weight.normal_()
        bn.bias.normal_()
    bn.eval()
    x = torch.randn(10, 5, dtype=torch.float64)
    folded = E.fold_batchnorm(lin, bn)
    assert torch.allclose(folded(x), bn(lin(x)), atol=1e-12)
    model = nn.Sequential(lin, bn, nn.ReLU(), nn.Linear(4, 2).double()).eval()
    fm = E.fold_model(model)
    assert len(fm) == 3 and torch.allclose(fm(x), model(x), atol=1e-12)


def test_fold_bad_input():
    with pytest.raises(TypeError, match="linear"):
        E.fold_batchnorm(nn.ReLU(), nn.BatchNorm1d(3))
    with pytest.raises(TypeError, match="track_running_stats"):
        E.fold_batchnorm(nn.Linear(2, 3), nn.BatchNorm1d(3, track_running_stats=False))
    with pytest.raises(ValueError, match="features"):
        E.fold_batchnorm(nn.Linear(2, 3), nn.BatchNorm1d(4))
    with pytest.raises(TypeError, match="Sequential"):
        E.fold_model(nn.Linear(2, 3))


def test_running_traces():
    stream = E.stat_stream(max_batch=8, steps=20)
    tr = E.running_traces(stream, 4, momentum=1.0)
    assert np.allclose(tr["running_mean"], tr["batch_mean"])
    assert np.allclose(tr["running_var"], tr["batch_var"] * 4 / 3)     # unbiased in the running average
    for bad, err in (({"batch_size": 1}, ValueError), ({"batch_size": 9}, ValueError),
                     ({"momentum": 1.5}, ValueError), ({"momentum": "x"}, TypeError)):  # fmt: skip
        kwargs = {"batch_size": 4, "momentum": 0.1, **bad}
        with pytest.raises(err):
            E.running_traces(stream, **kwargs)


def test_outlier_moves_the_others():
    batch = E.stat_stream(max_batch=16, steps=1)[0]
    eff = E.outlier_effect(batch, 8.0)
    assert np.abs(eff["after"][1:] - eff["before"][1:]).max() > 0.3
    same = E.outlier_effect(batch, (batch[0] - E.EXPLORER_MEAN) / E.EXPLORER_STD)
    assert np.allclose(same["after"], same["before"])
    with pytest.raises(ValueError, match="batch"):
        E.outlier_effect(np.ones(2), 1.0)


def test_landscape_small():
    out = E.landscape(seeds=(0,), steps=5, etas=(0.1,), every=5)
    assert set(out) == {"BN", "none"}
    assert set(out["BN"][0.1]) == {"max_loss_change", "grad_change", "grad_change_rel"}
    assert len(out["none"][0.1]["grad_change"]) == 1
    with pytest.raises(ValueError, match="etas"):
        E.landscape(etas=(0.0,))


def test_padded_running_stats_are_polluted_unless_masked():
    r = E.padded_running_stats(n_batches=40)
    assert abs(r["plain_running_mean"] - (1 - r["padding_fraction"])) < 0.1
    assert r["plain_eval_mean"] > 0.3 and abs(r["masked_eval_mean"]) < 0.15
    with pytest.raises(ValueError, match="batch_size"):
        E.padded_running_stats(batch_size=1)


def test_accuracy_vs_eval_batch_gives_every_setting_a_fresh_copy(model):
    # With one shared copy, each train-mode pass moved its running statistics, and the eval-mode accuracy
    # then depended on which batch sizes had been tried before: it must equal the untouched model's, always.
    X, y = load_digits().tensors("val")
    before = model[1].running_mean.clone()
    acc = E.accuracy_vs_eval_batch(model, X + 0.5, y, batch_sizes=(2, 4, 64))
    expected = E.evaluate(model, X + 0.5, y)[1]
    assert acc["eval"] == [expected] * 3
    assert torch.equal(model[1].running_mean, before)


def test_sweep_reuses_the_fig1_run_only_when_it_is_the_same_run(monkeypatch):
    monkeypatch.setattr(E, "_FIG1_RUNS", {})
    read = E._sweep_run((None, 0, E.FIG1_LR, E.FIG1_STD, 20))   # read off the (cached) Figure-1 run at step 20
    fresh = E.train(E._fig1_model(None, 0), E._digits(), steps=20, lr=E.FIG1_LR, batch_size=E.FIG1_BATCH,
                    eval_every=20, seed=0, progress=False).final()["val_acc"]  # fmt: skip
    assert read == fresh
    assert list(E._FIG1_RUNS) == [(None, 0, E.FIG1_STEPS, E.FIG1_LR, 0, E.FIG1_STD)]


def test_percentile_drift():
    runs = E.fig1_runs(seeds=(0,), steps=30)
    run = runs["none"][0]
    assert E.percentile_drift(run) == float(np.ptp(run.percentiles, axis=0).max()) > 0


def test_noise_after_norm_is_iid_per_sample():
    layer = E.NoiseAfterNorm(shift=1.0, scale=1.5).train()
    x = torch.zeros(4000, 3)
    y = layer(x)
    # Two samples with the same input get different noise (Santurkar et al.: i.i.d. per activation and sample),
    # around a per-unit mean that is not 0 in general and changes at the next step.
    assert not torch.equal(y[0], y[1])
    assert torch.allclose(y.std(0), torch.ones(3), atol=0.05)
    assert not torch.allclose(y.mean(0), layer(x).mean(0), atol=0.05)


def test_wine_folds_partition_all_wines_and_standardize_with_the_other_folds():
    folds = E.wine_folds(5)
    assert sum(len(raw.y_val) for raw, _ in folds) == 178
    raw, std = folds[0]
    assert len(raw.y_train) + len(raw.y_val) == 178
    assert np.allclose(std.X_train.mean(0), 0, atol=1e-4)
    assert not np.allclose(std.X_val.mean(0), 0, atol=1e-4)   # held-out fold: the training folds' statistics
    with pytest.raises(ValueError, match="folds"):
        E.wine_folds(1)


def test_wine_input_bn_small():
    out = E.wine_input_bn(folds=2, steps=5, early_step=2)
    assert set(out) == {*E.WINE_CONFIGS, "early_eval", "early_train"} and out["raw"].shape == (2,)


def test_two_example_batch_is_plus_minus_one():
    y = E.two_example_batch()
    assert torch.allclose(y.abs(), torch.ones_like(y), atol=1e-6) and torch.allclose(y[0], -y[1])


def test_per_process_batchnorm_normalizes_each_shard():
    bn = E.PerProcessBatchNorm1d(3, per_process=4)
    x = torch.randn(12, 3) * 5 + 2
    y = bn(x)
    ref = torch.cat([torch.nn.functional.batch_norm(s, None, None, training=True) for s in x.split(4)])
    assert torch.allclose(y, ref, atol=1e-5)
    assert not torch.allclose(y, torch.nn.functional.batch_norm(x, None, None, training=True), atol=1e-3)
    unbiased = torch.stack([s.var(0) for s in x.split(4)]).mean(0)
    assert torch.allclose(bn.running_var, 0.9 + 0.1 * unbiased, atol=1e-5)
    with pytest.raises(ValueError, match="per_process"):
        bn(torch.randn(10, 3))


def test_per_process_errors_one_process_is_the_plain_run():
    per = E.per_process_errors(per_process=(16, 8), batch_size=16, seeds=(0,), epochs=1)
    plain = E.small_batch_errors(batch_sizes=(16,), seeds=(0,), epochs=1)
    assert per[16][0] == plain[16][0] and set(per) == {16, 8}
    with pytest.raises(ValueError, match="divide"):
        E.per_process_errors(per_process=(6,), batch_size=16, seeds=(0,), epochs=1)


def test_small_batch_errors_control_and_recalibration():
    plain = E.small_batch_errors(batch_sizes=(16,), seeds=(0,), epochs=1, norm=None)
    bn = E.small_batch_errors(batch_sizes=(16,), seeds=(0,), epochs=1)
    recal = E.small_batch_errors(batch_sizes=(16,), seeds=(0,), epochs=1, recalibrated=True)
    assert plain[16][0] != bn[16][0] and recal[16][0] != bn[16][0]
    again = E.small_batch_errors(batch_sizes=(16,), seeds=(0,), epochs=1)
    assert again[16][0] == bn[16][0]   # recalibrating worked on a copy: the cached model is untouched


# ---------- moved here by subject: tests written against one-line bugs that survived the unit tests
# (a planted-bug run over the code of notebooks 03-05; each comment names the bug it failed with)


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
    results, untouched = _under_global_seeds(lambda: E.accuracy_vs_eval_batch(model, X, y, batch_sizes=(4,)))
    assert untouched and results[0] == results[1]


def test_companion_dependence_draws_companions_with_its_seed_only():
    model, X = _bn_model(), torch.randn(40, 4, generator=torch.Generator().manual_seed(5))
    results, untouched = _under_global_seeds(lambda: E.companion_dependence(model, X, index=3, n_batches=5))
    assert untouched and results[0] == results[1]


def test_padded_running_stats_draws_new_values_for_every_batch(monkeypatch):
    # Planted: padded_batch(lengths, seed=seed) in the loop: every batch repeats the same values.
    seeds = []
    real = E.padded_batch

    def recording(lengths, *args, seed=0, **kwargs):
        seeds.append(seed)
        return real(lengths, *args, seed=seed, **kwargs)

    monkeypatch.setattr(E, "padded_batch", recording)
    r = E.padded_running_stats(n_batches=30, seed=2)
    assert len(set(seeds)) == 30
    # and the masked running mean then estimates the true mean 1 from 30 batches' values, not one batch's
    assert abs(r["masked_running_mean"] - 1.0) < 0.03


def test_masked_batchnorm_statistics_are_those_of_the_valid_values():
    # Planted: the variance or the count taken over every position, padding included.
    x, mask = E.padded_batch([2, 5, 7], seed=1)
    x = x + 9.0 * (~mask[:, None, :])  # garbage in the padding: it must not matter
    layer = E.MaskedBatchNorm1d(4, momentum=None).double()
    out = layer(x, mask)
    valid = x.permute(0, 2, 1)[mask]  # (valid positions, C)
    mean, var = valid.mean(0), valid.var(0, unbiased=False)
    expected = (valid - mean) / torch.sqrt(var + layer.eps)
    torch.testing.assert_close(out.permute(0, 2, 1)[mask], expected)
    torch.testing.assert_close(layer.running_mean, mean)
    torch.testing.assert_close(layer.running_var, valid.var(0, unbiased=True))


def test_running_traces_are_torchs_batchnorm_step_by_step():
    # Planted: batch.var(axis=1, ddof=1) for the batch variance, a running variance without b / (b - 1), and
    # momentum as the weight of the *old* value (Keras's convention) instead of torch's.
    stream = E.stat_stream(max_batch=8, steps=30)
    traces = E.running_traces(stream, 5, momentum=0.2)
    bn = nn.BatchNorm1d(1, momentum=0.2).double()
    for step, row in enumerate(stream):
        batch = torch.from_numpy(row[:5]).reshape(5, 1)
        bn(batch)
        assert traces["batch_var"][step] == pytest.approx(float(batch.var(unbiased=False)))
        assert traces["running_mean"][step] == pytest.approx(float(bn.running_mean[0]))
        assert traces["running_var"][step] == pytest.approx(float(bn.running_var[0]))


def test_running_var_bias_reports_the_biased_batch_variance():
    # Planted: x.var() (unbiased) for the batch variance: the "biased" mean would then be sigma^2, not 3/4 of it.
    out = E.running_var_bias(batch_size=2, batches=4000, sigma=1.0)
    assert out["expected_biased"] == 0.5
    assert abs(out["mean_biased_batch_var"] - 0.5) < 0.05 and abs(out["running_var"] - 1.0) < 0.1


# ---------- the runs train on every core: the same bits as one after the other

# Tiny versions of every run function notebook 03 trains on every core, with their keys.
_RUN_CASES = {
    "fig1": (E._fig1_run, [(norm, s, 20, 1.0, 0, 1.0) for norm in (None, "batch") for s in (0, 1)]),
    "sweep": (E._sweep_run, [(norm, s, lr, 0.5, 10) for norm in (None, "batch") for lr in (0.1, 3.0) for s in (0, 1)]),
    "wine": (E._wine_run, [(2, k, c, 4, 0.05, 16) for k in (0, 1) for c in (*E.WINE_CONFIGS, E.WINE_EARLY)]),
    "noise": (E._noise_run, [(norm, noise, s, 10, 0.1, 1.0, 1.5) for norm, noise in ((True, True), (False, False))
                             for s in (0, 1)]),
    "landscape": (E._landscape, [(norm, s, 6, 0.1, (0.1, 0.4), 3) for norm in (True, False) for s in (0, 1)]),
    "small batch": (E._small_batch_model, [(norm, 32, s, 1, 0.1, per) for norm, per in ((None, None),
                                           ("batch", None), ("batch", 8)) for s in (0, 1)]),
}


def _bits(x):
    """Everything ``x`` holds, as comparable plain data: tensors and arrays by their bytes, floats by their hex
    (nan equals nan, -0.0 differs from 0.0), models by their state and mode, objects by their attributes."""
    if isinstance(x, nn.Module):
        return type(x).__name__, x.training, _bits(dict(x.state_dict())), _bits(list(x.children()))
    if isinstance(x, torch.Tensor):
        return str(x.dtype), tuple(x.shape), x.detach().contiguous().numpy().tobytes()
    if isinstance(x, np.ndarray):
        return str(x.dtype), x.shape, x.tobytes()
    if isinstance(x, float):
        return float(x).hex()
    if isinstance(x, dict):
        return tuple((_bits(k), _bits(v)) for k, v in x.items())
    if isinstance(x, list | tuple):
        return type(x).__name__, tuple(_bits(v) for v in x)
    if hasattr(x, "__dict__"):
        return type(x).__name__, _bits(vars(x))
    return x


@pytest.mark.parametrize("case", list(_RUN_CASES))
def test_runs_in_worker_processes_are_the_runs_here(case, monkeypatch):
    # Planted (each failed this test): _small_batch_model building its model outside fork_rng (the caller's
    # generator is re-seeded), _noisy_model without its manual_seed (the init comes from what the caller drew).
    from course_utils.experiments.runner import cached_runs

    fn, keys = _RUN_CASES[case]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    here = [_bits(fn(k)) for k in keys]  # one after the other, in this process
    assert torch.equal(torch.get_rng_state(), before), "a run changed the caller's global generator"
    torch.rand(7)  # whatever the caller drew before, a run draws only from generators its key seeds
    backwards = [_bits(fn(k)) for k in reversed(keys)][::-1]
    assert backwards == here, "a run depends on what ran before it"
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    torch.rand(5)
    assert [_bits(r) for r in cached_runs({}, fn, keys)] == here


def test_public_functions_gather_the_runs_in_order(monkeypatch):
    # Planted: sweep filling its (values, seeds) table seed-major; noise_injection labelling runs in another
    # order than it keyed them; small_batch_errors returning the models in training (longest-first) order.
    for name in ("_FIG1_RUNS", "_SWEEP_RUNS", "_WINE_RUNS", "_NOISE_RUNS", "_LANDSCAPE_RUNS", "_SMALL_BATCH_RUNS"):
        monkeypatch.setattr(E, name, {})
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    seeds = (0, 1)
    fig1 = E.fig1_runs(seeds=seeds, steps=20)
    sweep = E.sweep("std", (0.5, 2.0), seeds=seeds, steps=10, lr=0.1)
    wine = E.wine_input_bn(folds=2, steps=4, early_step=2)
    noise = E.noise_injection(seeds=seeds, steps=10)
    land = E.landscape(seeds=seeds, steps=6, etas=(0.1,), every=3)
    small = E.small_batch_errors(batch_sizes=(32, 16), seeds=seeds, epochs=1)
    per = E.per_process_errors(per_process=(32, 8), batch_size=32, seeds=seeds, epochs=1)
    monkeypatch.setenv("NORMCOURSE_WORKERS", "1")
    for norm, label in ((None, "none"), ("batch", "batch")):
        for j, s in enumerate(seeds):
            assert _bits(fig1[label][j]) == _bits(E._fig1_run((norm, s, 20, 1.0, 0, 1.0)))
            for i, std in enumerate((0.5, 2.0)):
                assert sweep[label][i, j] == E._sweep_run((norm, s, 0.1, std, 10))
    for k in (0, 1):
        for config in E.WINE_CONFIGS:
            assert wine[config][k] == E._wine_run((2, k, config, 4, 0.05, 16))
        assert (wine["early_eval"][k], wine["early_train"][k]) == E._wine_run((2, k, E.WINE_EARLY, 2, 0.05, 16))
    for label, (norm, noisy) in {"BN": (True, False), "BN + noise": (True, True), "none": (False, False)}.items():
        assert noise[label] == tuple(E._noise_run((norm, noisy, s, 10, 0.1, 1.0, 1.5)) for s in seeds)
    for label, norm in (("BN", True), ("none", False)):
        runs = [E._landscape((norm, s, 6, 0.1, (0.1,), 3)) for s in seeds]
        assert land[label][0.1] == {m: [r[0.1][m] for r in runs] for m in runs[0][0.1]}
    for b in (32, 16):
        assert list(small[b]) == [E._test_error(E._small_batch_model(("batch", b, s, 1, 0.1, None))) for s in seeds]
    for k, per_process in ((32, None), (8, 8)):
        assert list(per[k]) == [E._test_error(E._small_batch_model(("batch", 32, s, 1, 0.1, per_process)))
                                for s in seeds]
