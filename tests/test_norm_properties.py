"""Property (issue #9): no training-mode forward of a norm layer, on any batch, leaves a NaN in a running
statistic that was finite before -- empty batches and single examples included.

A forward may refuse a batch with a clear ``ValueError`` (one value per channel in training), but then
it must not have touched the statistics either.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import nn as cnn
from course_utils import numpy_layers

values = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)
momenta = st.sampled_from([None, 0.0, 0.1, 0.5, 1.0])


def _running(layer) -> list[torch.Tensor]:
    return [b.detach().clone() for b in (getattr(layer, "running_mean", None), getattr(layer, "running_var", None))
            if b is not None]


@st.composite
def norm_case(draw):
    kind = draw(st.sampled_from(["bn1d-NC", "bn1d-NCL", "bn2d", "ln"]))
    channels = draw(st.integers(1, 4))
    n = draw(st.integers(0, 4))
    if kind == "bn1d-NC":
        layer, shape = cnn.BatchNorm1d(channels, momentum=draw(momenta)), (n, channels)
    elif kind == "bn1d-NCL":
        layer, shape = cnn.BatchNorm1d(channels, momentum=draw(momenta)), (n, channels, draw(st.integers(0, 3)))
    elif kind == "bn2d":
        h, w = draw(st.integers(0, 2)), draw(st.integers(1, 2))
        layer, shape = cnn.BatchNorm2d(channels, momentum=draw(momenta)), (n, channels, h, w)
    else:
        layer, shape = cnn.LayerNorm(channels), (n, channels)
    size = int(np.prod(shape))
    data = draw(st.lists(values, min_size=size, max_size=size))
    return layer, torch.tensor(data, dtype=torch.float32).reshape(shape)


@settings(max_examples=150, deadline=None)
@given(case=norm_case(), warmup=st.lists(values, min_size=12, max_size=12))
def test_a_training_forward_never_turns_finite_running_statistics_into_nan(case, warmup):
    layer, x = case
    layer.train()
    if hasattr(layer, "running_mean") and layer.running_mean is not None:
        # Non-trivial statistics first, from a batch of 3 (at least 2 values per channel).
        c = layer.num_features
        w = torch.tensor(warmup[: 3 * c], dtype=torch.float32).reshape((3, c) + (1,) * (x.dim() - 2))
        layer(w.expand((3, c) + tuple(max(s, 1) for s in x.shape[2:])).contiguous())
    before = _running(layer)
    assert all(torch.isfinite(b).all() for b in before)
    try:
        out = layer(x)
    except ValueError as err:
        per_channel = x.numel() // x.shape[1] if x.dim() > 1 else x.numel()
        assert per_channel == 1, f"refused a batch it should take: {err}"
        for old, new in zip(before, _running(layer), strict=True):
            assert torch.equal(old, new)
        return
    assert out.shape == x.shape
    for stat in _running(layer):
        assert not torch.isnan(stat).any(), f"{type(layer).__name__} running statistic became NaN on {tuple(x.shape)}"


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(0, 5),
    d=st.integers(1, 4),
    momentum=st.sampled_from([0.0, 0.1, 1.0]),
    data=st.data(),
)
def test_numpy_batchnorm_never_turns_finite_running_arrays_into_nan(n, d, momentum, data):
    x = np.array(data.draw(st.lists(values, min_size=n * d, max_size=n * d)), dtype=np.float64).reshape(n, d)
    rm = np.array(data.draw(st.lists(values, min_size=d, max_size=d)), dtype=np.float64)
    rv = np.abs(np.array(data.draw(st.lists(values, min_size=d, max_size=d)), dtype=np.float64)) + 1.0
    rm0, rv0 = rm.copy(), rv.copy()
    try:
        numpy_layers.batchnorm_forward(x, np.ones(d), np.zeros(d), rm, rv, training=True, momentum=momentum)
    except ValueError:
        assert n == 1
        np.testing.assert_array_equal(rm, rm0)
        np.testing.assert_array_equal(rv, rv0)
        return
    assert not np.isnan(rm).any() and not np.isnan(rv).any()
    if n == 0:
        np.testing.assert_array_equal(rm, rm0)
        np.testing.assert_array_equal(rv, rv0)
