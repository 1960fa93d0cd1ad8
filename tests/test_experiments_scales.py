"""course_utils.experiments.scales: the claims notebook 01 makes about raw vs standardized inputs."""

import numpy as np
import pytest

from course_utils.data import load_wine, make_two_feature_regression
from course_utils.experiments.scales import (
    LR_GRID,
    baseline_loss,
    feature_scales,
    first_layer_weights,
    gradient_descent_path,
    hessian_condition_number,
    loss_grid,
    lr_sweep,
    optimal_gd_lr,
    quadratic_loss,
    standardize_two_features,
    train_full_batch,
)
from course_utils.models import make_mlp


@pytest.fixture(scope="module")
def wine():
    return load_wine(), load_wine(standardize=True)


def test_lr_that_trains_standardized_wine_blows_up_raw_logistic_regression(wine):
    raw, std = wine
    _, h_raw = train_full_batch(raw, [], lr=0.1)
    _, h_std = train_full_batch(std, [], lr=0.1)
    assert h_std.final()["train_loss"] < 0.1
    assert h_raw.final()["train_loss"] / h_std.final()["train_loss"] > 1000


def test_same_lr_stalls_the_raw_mlp(wine):
    raw, std = wine
    _, h_raw = train_full_batch(raw, [32], lr=0.1)
    _, h_std = train_full_batch(std, [32], lr=0.1)
    assert h_std.final()["train_loss"] < 0.1
    assert h_raw.final()["train_loss"] > 0.9 * baseline_loss(raw)  # no better than ignoring the inputs


def test_sweep_largest_stable_lr(wine):
    raw, std = wine
    assert lr_sweep(raw, []).largest_stable_lr is None  # no lr works for raw logistic regression in 200 steps
    raw_mlp, std_mlp = lr_sweep(raw, [32]), lr_sweep(std, [32])
    assert raw_mlp.largest_stable_lr == 1e-3
    assert std_mlp.largest_stable_lr >= 1000 * raw_mlp.largest_stable_lr


def test_sweep_result_lookup(wine):
    sweep = lr_sweep(wine[1], [], lrs=(0.01, 0.1), steps=20)
    assert sweep.lrs == (0.01, 0.1) and sweep.final_loss_at(0.1) < sweep.final_loss_at(0.01)
    with pytest.raises(ValueError, match="not part of the sweep"):
        sweep.final_loss_at(0.5)


def test_lr_grid_is_clean():
    assert LR_GRID[0] == 1e-7 and LR_GRID[-1] == 3000.0 and 3e-5 in LR_GRID and 30.0 in LR_GRID


def test_raw_weight_changes_span_orders_of_magnitude(wine):
    raw, std = wine
    w0 = first_layer_weights(make_mlp(13, [], 3, seed=0))
    m_raw, _ = train_full_batch(raw, [], lr=1e-5)
    m_std, _ = train_full_batch(std, [], lr=0.1)
    d_raw = np.abs(first_layer_weights(m_raw) - w0).mean(0)
    d_std = np.abs(first_layer_weights(m_std) - w0).mean(0)
    assert d_raw.max() / d_raw.min() > 1000 and d_std.max() / d_std.min() < 20
    assert np.argmax(d_raw) == raw.feature_names.index("proline")


def test_feature_scales_span_four_orders(wine):
    s = feature_scales(wine[0])["mean_abs"]
    assert s.max() / s.min() > 1000


def test_loss_grid_matches_quadratic_loss():
    X, y = make_two_feature_regression()
    w1, w2 = np.linspace(-1, 3, 5), np.linspace(-0.5, 0.5, 4)
    grid = loss_grid(X, y, w1, w2)
    assert grid[2, 3] == pytest.approx(quadratic_loss(X, y, np.array([w1[3], w2[2]])))


def test_standardizing_makes_the_valley_round_and_gd_fast():
    X, y = make_two_feature_regression(scales=(1.0, 5.0))
    Xs = standardize_two_features(X, train_rows=150)
    assert hessian_condition_number(X) > 20 and hessian_condition_number(Xs) < 1.5
    raw = gradient_descent_path(X, y, lr=optimal_gd_lr(X), steps=25, w0=(-1.0, 0.5))
    std = gradient_descent_path(Xs, y, lr=optimal_gd_lr(Xs), steps=25, w0=(-1.0, 2.5))
    best_raw = quadratic_loss(X, y, np.linalg.lstsq(X, y, rcond=None)[0])
    best_std = quadratic_loss(Xs, y, np.linalg.lstsq(Xs, y, rcond=None)[0])
    assert quadratic_loss(Xs, y, std[-1]) - best_std < 1e-3
    assert quadratic_loss(X, y, raw[-1]) - best_raw > 0.05
    assert optimal_gd_lr(X) < 2 / np.linalg.eigvalsh(X.T.astype(np.float64) @ X / len(X))[-1]  # below the stable limit
    with pytest.raises(ValueError, match="2 features"):
        gradient_descent_path(np.zeros((4, 3)), np.zeros(4), lr=0.1)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: train_full_batch("wine", [], lr=0.1), TypeError, "split"),
        (lambda: train_full_batch(load_wine(), 32, lr=0.1), TypeError, "hidden"),
        (lambda: train_full_batch(load_wine(), [], lr=-0.1), ValueError, "lr"),
        (lambda: lr_sweep(load_wine(), [], lrs=()), ValueError, "lrs"),
        (lambda: gradient_descent_path(np.zeros((4, 2), dtype=int), np.zeros(4), lr=0.1), TypeError, "X"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _reference_sweep_losses(split, hidden, lrs, steps, seed):
    """What lr_sweep reported before it trained on every core: one train_full_batch after the other, here."""
    import math

    losses = []
    for lr in sorted(lrs):
        _model, hist = train_full_batch(split, hidden, lr=lr, steps=steps, seed=seed, eval_every=steps)
        losses.append(math.inf if hist.diverged else hist.final()["train_loss"])
    return tuple(losses)


@pytest.mark.parametrize(("data", "hidden"), [("raw", [32]), ("standardized", [32]), ("standardized", [])])
def test_lr_sweep_on_every_core_is_the_sweep_one_run_after_the_other(wine, monkeypatch, data, hidden):
    import torch

    from course_utils.experiments import scales

    split = wine[data == "standardized"]
    lrs, steps, seed = LR_GRID[::2], 40, 1        # 1e-7 ... 1000: stalled, stable and (standardized MLP) nan runs
    with torch.random.fork_rng(devices=[]):
        expected = _reference_sweep_losses(split, hidden, lrs, steps, seed)
    assert len({v < 0.9 * baseline_loss(split) for v in expected}) == 2    # stable and unstable runs
    results = {}
    for workers in ("1", "2"):
        monkeypatch.setattr(scales, "_SWEEP_RUNS", {})
        monkeypatch.setenv("NORMCOURSE_WORKERS", workers)
        torch.rand(5)    # whatever the caller drew before, a run draws only from generators seeded by its key
        before = torch.get_rng_state()
        results[workers] = lr_sweep(split, hidden, lrs, steps=steps, seed=seed)
        assert torch.equal(torch.get_rng_state(), before), "a sweep run moved the caller's global generator"
    for sweep in results.values():   # repr: the same float bits (inf included), in the order of the lrs
        assert repr(sweep.final_loss) == repr(expected) and sweep.lrs == tuple(sorted(lrs))
    assert repr(results["1"]) == repr(results["2"])
    again = lr_sweep(split, hidden, lrs[:3], steps=steps, seed=seed)   # kept: nothing trained, the same numbers
    assert again.final_loss == expected[:3]


def test_lr_sweep_keys_name_the_data_not_the_object(wine):
    from course_utils.experiments.scales import _split_digest

    raw, std = wine
    assert _split_digest(raw) == _split_digest(load_wine()) != _split_digest(std)
    assert _split_digest(raw) != _split_digest(raw.subset_train(50))
