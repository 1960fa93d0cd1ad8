"""DepthStatisticsCache: the depth explorer's statistics, the same numbers as depth_statistics, computed faster."""

from __future__ import annotations

import numpy as np
import pytest

import course_utils.experiments.depth_cache as depth_cache
from course_utils.experiments.depth import depth_statistics
from course_utils.experiments.depth_cache import DepthStatisticsCache

SETTINGS = [(1, "relu", "small", 0.25, 0.01), (15, "tanh", "kaiming", 1.0, 1.0), (7, "sigmoid", "large", 2.0, 100.0),
            (10, "relu", "xavier", 1.1892, 10.0), (3, "relu", "kaiming", 4.0, 1.0), (12, "tanh", "xavier", 0.5, 0.1)]


@pytest.fixture(scope="module")
def cache():
    return DepthStatisticsCache(15, n_samples=64).precompute()


@pytest.mark.parametrize("setting", SETTINGS)
def test_same_statistics_as_depth_statistics_to_the_bit(cache, setting):
    ours, reference = cache(*setting), depth_statistics(*setting, n_samples=64)
    assert ours.config == reference.config
    assert ours.layers == reference.layers  # mean, std, saturated/dead, grad norm of every layer
    assert np.array_equal(ours.bin_edges, reference.bin_edges) and np.array_equal(ours.hist, reference.hist)
    assert ours.weight_grad_norm == reference.weight_grad_norm


def test_after_precompute_no_move_builds_a_model(monkeypatch):
    cache = DepthStatisticsCache(4, n_samples=8).precompute()

    def no_model(*_args, **_kwargs):
        raise AssertionError("a model was built after precompute()")

    monkeypatch.setattr(depth_cache, "make_mlp", no_model)
    for depth in range(1, 5):
        cache(depth, "tanh", "xavier", 1.5, 1.0)


def test_a_repeated_setting_is_served_from_the_cache(cache):
    assert cache(5, "relu", "kaiming", 1.0, 1.0) is cache(5, "relu", "kaiming", 1.0, 1.0)


@pytest.mark.parametrize(("args", "match"), [((16, "relu", "kaiming", 1.0, 1.0), "depth"),
                                             ((3, "gelu", "kaiming", 1.0, 1.0), "activation"),
                                             ((3, "relu", "he", 1.0, 1.0), "init"),
                                             ((3, "relu", "kaiming", -1.0, 1.0), "gain"),
                                             ((3, "relu", "kaiming", 1.0, 0.0), "input_scale")])
def test_bad_input_names_the_argument(cache, args, match):
    with pytest.raises(ValueError, match=match):
        cache(*args)
