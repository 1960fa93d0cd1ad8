"""course_utils.experiments.together: the numbers notebook 05 asserts, on small settings."""

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import setup_notebook
from course_utils.experiments import together as E

setup_notebook(quiet=True)
SMALL = {"names": ("none", "BN"), "sizes": (100,), "seeds": (0, 1), "steps": 40, "hidden": (16, 16)}


@pytest.fixture(scope="module")
def grid():
    return E.ablation_grid(**SMALL)


def test_build_model_follows_the_block():
    kinds = [type(m).__name__ for m in E.build_model("BN+dropout", hidden=(8, 8))]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    after = [type(m).__name__ for m in E.build_model("BN after ReLU", hidden=(8,))]
    assert after == ["Linear", "ReLU", "BatchNorm1d", "Linear"]
    fix1 = [type(m).__name__ for m in E.build_model("dropout after the last BN", hidden=(8, 8))]
    assert fix1 == ["Linear", "BatchNorm1d", "ReLU"] * 2 + ["Dropout", "Linear"]


def test_bias_only_where_it_is_not_redundant():
    assert E.build_model("BN", hidden=(8,))[0].bias is None
    assert E.build_model("BN after ReLU", hidden=(8,))[0].bias is not None
    assert E.build_model("LN", hidden=(8,))[0].bias is not None


def test_same_seed_same_weights_across_dropout_configs():
    a, b = E.build_model("BN", hidden=(8, 8), seed=3), E.build_model("BN+dropout", hidden=(8, 8), seed=3)
    assert torch.equal(a[0].weight, b[0].weight) and torch.equal(a[-1].weight, b[-1].weight)
    c = E.build_model("dropout after the last BN", hidden=(8, 8), seed=3)
    assert torch.equal(a[-1].weight, c[-1].weight)


def test_grid_is_cached_and_paired(grid):
    assert E.ablation_grid(**SMALL) is grid
    alias = E.train_config("BN before ReLU", 100, 0, SMALL["steps"], SMALL["hidden"])
    assert alias is grid.run("BN", 100, 0)                  # same Config, same cached run
    assert len(grid.runs) == 2 * 1 * 2
    assert not any(run.model.training for run in grid.runs.values())   # returned ready to evaluate
    for metric in E.METRICS:
        values = grid.values("BN", 100, metric)
        assert len(values) == 2 and all(np.isfinite(values))
    gap = grid.values("none", 100, "gap")
    finals = [grid.run("none", 100, s).history.final() for s in grid.seeds]
    assert gap == tuple(f["train_acc"] - f["val_acc"] for f in finals)
    result = grid.compare("BN", "none", 100, "steps_to_target")
    assert result.higher_is_better is False and result.seeds == (0, 1)
    assert grid.compare("BN", "none", 100, "val_acc").higher_is_better is True
    rows = grid.table()
    assert len(rows) == 2 and {"val_acc_min", "gap_max", "steps_to_target"} <= set(rows[0])
    steps, curves = grid.curves("none", 100)
    assert curves.shape == (2, len(steps))


def test_steps_to_target_is_censored_at_the_budget():
    grid = E.ablation_grid(**{**SMALL, "target": 1.0})
    assert grid.values("none", 100, "steps_to_target") == (40.0, 40.0)   # never reached: the budget


def test_variance_shift_and_both_fixes():
    from course_utils.exercises.together import shifted_model

    X = E._digits().tensors("train")[0]
    model = shifted_model()
    before = E.bn_variance_ratios(model, X)
    assert abs(before[0] - 1) < 0.05 and before[1] < 0.8      # only the BN after a Dropout is shifted
    weights = model[0].weight.clone()
    fixed = E.recalibrate_bn(model, X)
    assert all(abs(r - 1) < 0.03 for r in E.bn_variance_ratios(fixed, X))
    assert not fixed.training and torch.equal(fixed[0].weight, weights)
    assert E.bn_variance_ratios(model, X) == before           # the original is untouched
    assert all(bn.momentum == 0.1 for bn in E.bn_layers(fixed))


def test_fixes_table_small():
    out = E.fixes_table(seeds=(0,), hidden=(16, 16), steps=40)
    assert tuple(out) == E.FIXES and len(E.FIXES) == 4
    shifted, fix2 = out["dropout before BN"]["ratio"][0], out["fix 2: BN statistics recomputed"]["ratio"][0]
    assert shifted < 0.9 and abs(fix2 - 1) < abs(shifted - 1)
    # measured on validation digits, which fix 2 was not recalibrated on: not 1 by construction
    assert fix2 != pytest.approx(E.bn_variance_ratios(E.recalibrate_bn(
        E.train_config("dropout before BN", E.FULL_N, 0, 40, (16, 16)).model, E._digits().tensors("train")[0]),
        E._digits().tensors("train")[0])[1], abs=1e-6)
    plain = E.train_config("BN", E.FULL_N, 0, 40, (16, 16)).model
    assert out["BN, no dropout"]["ratio"][0] == E.bn_variance_ratios(plain, E._digits().tensors("val")[0])[1]


def test_shift_vs_width_small():
    out = E.shift_vs_width(widths=(8, 16), seeds=(0,), steps=20)
    assert out["ratios"].shape == (2, 1) and np.all(out["ratios"] < 1)


def test_theory_matches_simulation_and_grows_with_width():
    ds = (4, 64, 512)
    theory = [E.shift_ratio_theory(d, 0.5) for d in ds]
    assert theory == sorted(theory) and all(0 < t < 1 for t in theory)
    for d, t in zip(ds, theory, strict=True):
        assert abs(E.simulate_shift_ratio(d, 0.5, n_batches=200) - t) < 0.03
    assert E.shift_ratio_theory(64, 0.0) == 1.0                       # no dropout, no shift
    assert E.shift_ratio_theory(64, 0.7) < E.shift_ratio_theory(64, 0.3)   # more dropout, more shift
    # the per-input variance x^2 p/(1-p): one input, no correlation, c = 1, v = 0+ -> ratio v / (v + p/(1-p))
    assert E.shift_ratio_theory(1, 0.5, c=0.0, v=1.0, rho=0.0) == pytest.approx(0.5)


def test_what_each_layer_normalizes():
    x = torch.randn(32, 20) * 3 + 1
    bn, ln = E.batch_stats(nn.BatchNorm1d(20), x), E.sample_stats(nn.LayerNorm(20), x)
    assert bn["per_feature_mean"] < 1e-5 and bn["per_sample_mean"] > 0.05
    assert ln["per_sample_mean"] < 1e-5 and ln["per_feature_mean"] > 0.05


def test_batch_dependence():
    X = E._digits().tensors("val")[0]
    bn_model, ln_model = E.build_model("BN", hidden=(16,)), E.build_model("LN+dropout", hidden=(16,))
    running = bn_model[1].running_mean.clone()
    assert E.batch_dependence(bn_model, X) > 1e-3
    assert E.batch_dependence(bn_model, X, train_mode=False) < 1e-6   # eval mode: running statistics, no batch-mates
    assert E.batch_dependence(ln_model, X) < 1e-6 and E.batch_dependence(ln_model, X, train_mode=False) < 1e-6
    assert torch.equal(bn_model[1].running_mean, running)     # the caller's model is not touched
    with pytest.raises(ValueError, match="X needs at least"):
        E.batch_dependence(bn_model, X[:5])


def test_conventions_checks():
    c = E.conventions_checks()
    assert c["momentum_gap"] < 1e-6
    assert c["running_var_ratio"] == pytest.approx(c["batch_size"] / (c["batch_size"] - 1), rel=1e-4)
    assert c["no_grad_changed_running_mean"] > 0 and c["no_grad_dropout_differs"] == 1.0
    assert c["eval_dropout_differs"] == 0.0
    assert c["eps_inside_sqrt_error"] < 1e-5 < c["eps_outside_error"]
    assert len(E.CONVENTIONS) == 5 and set(E.SUMMARY) == {"Dropout", "BatchNorm", "LayerNorm"}


def test_conv_block_and_timing():
    net = E.conv_block_net(channels=4, p=0.1)
    kinds = [type(m).__name__ for m in net][1:5]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "Dropout"] and net[1].bias is None
    assert net(torch.rand(3, 64)).shape == (3, 10)
    assert E.time_per_step("none", hidden=(8,), steps=3) > 0


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: E.build_model("nope"), ValueError, "config"),
        (lambda: E.build_model(3), TypeError, "config"),
        (lambda: E.train_config("BN", n_train=5), ValueError, "n_train"),
        (lambda: E.ablation_grid(names=("none",)), ValueError, "names"),
        (lambda: E.ablation_grid(seeds=(0,)), ValueError, "seeds"),
        (lambda: E.ablation_grid(seeds=(0, 0)), ValueError, "repeat"),
        (lambda: E.ablation_grid(target=1.5), ValueError, "target"),
        (lambda: E.shift_ratio_theory(8, 1.0), ValueError, "p"),
        (lambda: E.shift_ratio_theory(8, 0.5, rho=2.0), ValueError, "rho"),
        (lambda: E.simulate_shift_ratio(1, 0.5), ValueError, "d"),
        (lambda: E.bn_variance_ratios(nn.Linear(2, 2), torch.zeros(4, 2)), ValueError, "no BatchNorm"),
        (lambda: E.bn_variance_ratios(nn.BatchNorm1d(2), [[0.0]]), TypeError, "X must be"),
        (lambda: E.recalibrate_bn(nn.Linear(2, 2), torch.zeros(4, 2)), ValueError, "no BatchNorm"),
        (lambda: E.conv_block_net(channels=0), ValueError, "channels"),
        (lambda: E.batch_dependence(nn.BatchNorm1d(2), torch.zeros(20, 2), train_mode="yes"), TypeError, "train_mode"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_grid_runs_follow_train_bit_for_bit():
    # A grid run is course_utils.train.train with the grid's settings, evaluating the training set only at the last
    # step: same trajectory, same validation metrics, same final metrics, NaN training metrics before the end.
    from course_utils.env import manual_seed
    from course_utils.train import train

    split = E._digits().subset_train(200, seed=2)
    for name in ("BN+dropout", "LN"):
        h1 = E._train(E._key(name, 200, 2, 30, (8, 8))).history
        theirs = E.build_model(name, (8, 8), seed=2)
        with torch.random.fork_rng(devices=[]):
            manual_seed(2)
            h2 = train(theirs, split, steps=30, lr=E.LR, momentum=E.MOMENTUM, batch_size=E.BATCH_SIZE,
                       eval_every=E.EVAL_EVERY, seed=2, progress=False)  # fmt: skip
        assert h1.step_loss == h2.step_loss and h1.val_acc == h2.val_acc and h1.steps == h2.steps
        assert h1.final() == h2.final()
        assert all(np.isnan(h1.train_acc[:-1]))  # training metrics only at the end


def test_grid_runs_trained_in_worker_processes_are_the_runs_trained_here(monkeypatch):
    keys = [E._key(name, 100, s, 12, (8, 8)) for name in ("none", "BN+dropout") for s in (0, 1)]
    here = [E._train(k) for k in keys]
    monkeypatch.setattr(E, "_RUNS", {})
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    torch.rand(3)  # whatever the caller drew before, a run draws only from generators seeded by its key
    there = E._train_all(keys)
    for a, b in zip(here, there, strict=True):
        assert a.history.step_loss == b.history.step_loss and a.history.val_acc == b.history.val_acc
        for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    assert E._train_all(keys[:1])[0] is there[0]  # kept: asked again, the same Run


def test_lr_sweep_in_worker_processes_is_the_sweep_here(monkeypatch):
    kwargs = dict(arms=tuple(E.SWEEP_ARMS)[:2], lrs=(0.02, 0.05), seeds=(0, 1, 2), steps=15)
    monkeypatch.setenv("NORMCOURSE_WORKERS", "1")
    here = E.lr_sweep(**kwargs)
    E._fine_steps.cache_clear()
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    there = E.lr_sweep(**kwargs)
    for arm in kwargs["arms"]:
        assert np.array_equal(here.steps[arm], there.steps[arm]), arm


def test_fine_steps_follow_the_grid_trajectory():
    # Evaluated after every step, the first step at the target is exactly what course_utils.train.train finds with
    # eval_every=1 from the same initialization, batches and masks, and it can only be earlier than the grid's
    # 10-step tick, by less than one tick.
    from course_utils.env import manual_seed
    from course_utils.train import train

    for name in ("none", "BN"):
        for seed in (0, 1):
            coarse = E._steps_to_target(E.train_config(name, E.FULL_N, seed, steps=40).history, 0.5, 40)
            fine = E.fine_steps_to_target(name, seed, steps=40, target=0.5)
            with torch.random.fork_rng(devices=[]):
                manual_seed(seed)
                every_step = train(E.build_model(name, seed=seed), E._digits(), steps=40, lr=E.LR, momentum=E.MOMENTUM,
                                   batch_size=E.BATCH_SIZE, eval_every=1, seed=seed, progress=False)  # fmt: skip
            assert fine == every_step.steps_to("val_acc", 0.5)
            assert coarse - E.EVAL_EVERY < fine <= coarse, (name, seed, fine, coarse)


def test_lr_sweep_tunes_each_seed_on_the_others():
    # seed 0 alone prefers lr 0.1; the other seeds prefer lr 1.0: seed 0 must get 1.0 (never tuned on itself).
    table = np.array([[0.0, 30.0, 30.0], [40.0, 25.0, 25.0]])
    sweep = E.LrSweep(("BN",), (0.1, 1.0), (0, 1, 2), 80, {"BN": table})
    assert sweep.tuned_lrs("BN")[0] == 1.0
    assert sweep.tuned("BN")[0] == 40.0
    table = np.array([[10.0, 12.0, 80.0], [80.0, 20.0, 80.0]])
    sweep = E.LrSweep(("BN",), (0.1, 1.0), (0, 1, 2), 80, {"BN": table})
    assert sweep.largest_working_lr("BN") == (0.1, 1.0, 0.0)


def test_lr_sweep_stops_going_up_after_a_failure(monkeypatch):
    calls = []

    def fake(name, seed, lr, standardize, steps):
        calls.append(lr)
        return float(steps) if lr in (0.01, 1.0) else 10.0   # fails at the smallest lr, works, then fails

    monkeypatch.setattr(E, "fine_steps_to_target", fake)
    monkeypatch.setenv("NORMCOURSE_WORKERS", "1")  # the calls are counted in this process
    sweep = E.lr_sweep(arms=("none",), lrs=(0.01, 0.1, 1.0, 3.0), seeds=(0, 1, 2), steps=80)
    assert sorted(set(calls)) == [0.01, 0.1, 1.0]          # 3.0 is counted as failed without a run
    assert sweep.steps["none"][:, 0].tolist() == [80.0, 10.0, 80.0, 80.0]


def test_li_figure1_measure_is_at_least_one_and_shows_the_shift():
    fig1 = E.li_figure1_measure(seeds=(0,))
    for key in ("dropout before BN", "BN, no dropout"):
        assert fig1[key].shape == (1, 2) and (fig1[key] >= 1).all()
    assert fig1["dropout before BN"][0, 1] > fig1["BN, no dropout"][0, 1]
