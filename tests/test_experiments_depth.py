"""course_utils.experiments.depth: the claims notebook 01 makes about signals through depth."""

import numpy as np
import pytest

from course_utils.experiments.depth import DepthStats, depth_statistics, init_scheme, std_decay_per_layer, train_deep


def test_kaiming_keeps_relu_std_in_a_band_while_half_gain_shrinks_it_geometrically():
    kaiming = depth_statistics(10, "relu", "kaiming")
    ratio = kaiming.std / kaiming.std[0]
    assert np.all((ratio > 0.5) & (ratio < 2.0))
    half = depth_statistics(10, "relu", "kaiming", gain=0.5)
    assert 0.4 < std_decay_per_layer(half) < 0.6  # ~0.5 per layer: 0.5^9 ~ 2e-3 after 10 layers
    assert half.std[-1] / half.std[0] < 0.01


def test_too_small_vanishes_too_large_explodes_for_relu():
    assert depth_statistics(10, "relu", "small").std[-1] < 1e-6
    assert depth_statistics(10, "relu", "large").std[-1] > 100


def test_tanh_saturates_with_large_init_but_not_with_xavier():
    assert np.mean(depth_statistics(10, "tanh", "large").saturated) > 0.3
    assert np.mean(depth_statistics(10, "tanh", "xavier").saturated) < 0.05


def test_dead_and_saturated_are_set_for_the_right_activation():
    relu, tanh = depth_statistics(4, "relu", "kaiming"), depth_statistics(4, "tanh", "kaiming")
    assert np.all(np.isfinite(relu.dead)) and np.all(np.isnan(relu.saturated))
    assert np.all(np.isfinite(tanh.saturated)) and np.all(np.isnan(tanh.dead))


def test_result_shape_and_cache():
    stats = depth_statistics(3, "sigmoid", "xavier", bins=20)
    assert isinstance(stats, DepthStats) and len(stats.layers) == 3
    assert stats.hist.shape == (3, 20) and np.allclose(stats.hist.sum(1), 1.0)
    assert len(stats.weight_grad_norm) == 4
    assert depth_statistics(3, "sigmoid", "xavier", bins=20) is stats  # cached


def test_init_scheme_names():
    assert init_scheme("small") == ("normal", 1.0, 0.01)
    assert init_scheme("kaiming")[0] == "kaiming"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"depth": 0}, ValueError, "depth"),
        ({"gain": -1.0}, ValueError, "gain"),
        ({"activation": "gelu"}, ValueError, "activation"),
        ({"init": "he"}, ValueError, "init"),
        ({"input_scale": 0}, ValueError, "input_scale"),
        ({"depth": 2.5}, TypeError, "depth"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        depth_statistics(**kwargs)


def test_std_decay_needs_two_layers():
    with pytest.raises(ValueError, match="depth"):
        std_decay_per_layer(depth_statistics(1, "relu", "kaiming"))


def test_train_deep_kaiming_beats_too_small():
    good = train_deep("kaiming", steps=60, depth=6, width=32)
    bad = train_deep("small", steps=60, depth=6, width=32)
    assert good.final()["train_loss"] < 0.9 * bad.final()["train_loss"]


def test_std_decay_is_the_per_layer_geometric_factor():
    from types import SimpleNamespace

    from course_utils.experiments.depth import std_decay_per_layer

    # 4 layers halving: 3 steps of 0.5 (the (depth - 1)-th root of last/first, not the depth-th root)
    assert std_decay_per_layer(SimpleNamespace(std=np.array([1.0, 0.5, 0.25, 0.125]))) == pytest.approx(0.5)
    assert std_decay_per_layer(SimpleNamespace(std=np.array([2.0, 4.0]))) == pytest.approx(2.0)


def _reference_deep_run(init, seed, callback=None, **kw):
    """train_deep as it was before it trained on every core: make_mlp(seed=) and train, here."""
    import torch

    from course_utils.experiments.runner import standardized_digits
    from course_utils.models import make_mlp
    from course_utils.train import train

    scheme, gain, std = init_scheme(init)
    split = standardized_digits()
    with torch.random.fork_rng(devices=[]):
        model = make_mlp(split.n_features, [kw["width"]] * kw["depth"], split.n_classes, activation="relu",
                         init=scheme, gain=gain, std=std, seed=seed)
        if callback is not None:
            callback(0, model, None)
        return train(model, split, steps=kw["steps"], lr=0.05, batch_size=64, eval_every=25, seed=seed,
                     callback=callback, progress=False)


def test_train_deep_runs_on_every_core_are_the_runs_one_after_the_other(monkeypatch):
    import torch

    from course_utils.experiments import depth as D
    from course_utils.experiments.depth import activation_stats_callback, drift_table, train_deep_runs

    kw = dict(depth=10, width=128, steps=50)
    inits, seeds = ("large", "xavier", "kaiming"), (0, 1)     # 'large' diverges within a few steps: nan
    reference_drift = activation_stats_callback("relu", n_examples=64)
    expected = {(i, s): _reference_deep_run(i, s, reference_drift if i == "kaiming" else None, **kw)
                for i in inits for s in seeds}
    assert expected["large", 0].diverged and not expected["kaiming", 0].diverged
    results, drifts = {}, {}
    for workers in ("1", "2"):
        monkeypatch.setattr(D, "_DEEP_RUNS", {})
        monkeypatch.setenv("NORMCOURSE_WORKERS", workers)
        torch.rand(5)    # whatever the caller drew before, a run draws only from generators seeded by its key
        before = torch.get_rng_state()
        drifts[workers] = activation_stats_callback("relu", n_examples=64)
        results[workers] = train_deep_runs(inits, "relu", seeds=seeds, callbacks={"kaiming": drifts[workers]}, **kw)
        assert torch.equal(torch.get_rng_state(), before), "a run moved the caller's global generator"
    for workers, histories in results.items():
        assert list(histories) == list(expected), workers
        for key, history in histories.items():   # every list of every History, to the bit (nan included)
            assert repr(history) == repr(expected[key]), (workers, key)
        assert repr(drifts[workers].records) == repr(reference_drift.records), workers
        for a, b in zip(drift_table(drifts[workers]), drift_table(reference_drift), strict=True):
            assert np.array_equal(a, b)
    # train_deep is one of those runs (kept: the same History), and its callback gets the records too
    single = activation_stats_callback("relu", n_examples=64)
    assert D.train_deep("kaiming", seed=1, callback=single, **kw) is results["2"]["kaiming", 1]
    n = len(single.records)   # at initialization, step 25 and step 50
    assert n == 3 and repr(single.records) == repr(reference_drift.records[n:2 * n])


def test_train_deep_runs_refuses_callbacks_it_cannot_bring_back():
    from course_utils.experiments.depth import train_deep_runs

    with pytest.raises(TypeError, match="activation_stats_callback"):
        train_deep_runs(["kaiming"], callbacks={"kaiming": lambda step, model, history: None}, steps=5, depth=2)
    seen = []   # a callback of any other kind runs here, in this process
    train_deep("kaiming", steps=5, depth=2, width=8, callback=lambda step, model, history: seen.append(step))
    assert seen == [0, 5]
