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
