"""course_utils.nn against torch.nn: outputs, running statistics, gradients, state_dicts, errors."""

from __future__ import annotations

import inspect

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from course_utils import nn as cnn
from tests.helpers import DTYPES, assert_same_buffers, make_pair, randomize_parameters, run_step

# ------------------------------------------------------------------------------------------- batchnorm

BN_INPUTS = {
    "1d-NC": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (16, 5), False),
    "1d-NCL": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 5, 7), False),
    "2d": (cnn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 5, 3, 6), False),
    "2d-channels_last": (cnn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 5, 3, 6), True),
}
AFFINE = {
    "affine": {"affine": True},
    "no-affine": {"affine": False},
    "no-bias": {"affine": True, "bias": False},
}


@pytest.mark.parametrize("case", BN_INPUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("track", [True, False])
def test_batchnorm_matches_torch_over_training_steps_then_eval(case, dtype, affine, momentum, track):
    ours_cls, theirs_cls, shape, channels_last = BN_INPUTS[case]
    ours, theirs = make_pair(
        ours_cls,
        theirs_cls,
        shape[1],
        momentum=momentum,
        track_running_stats=track,
        dtype=dtype,
        **AFFINE[affine],
    )
    generator = torch.Generator().manual_seed(0)

    def batch():
        # Mean far from 0 and a spread unlike 1, so a normalization that does nothing would be caught.
        x = torch.randn(shape, generator=generator, dtype=dtype) * 3.0 + 5.0
        return x.to(memory_format=torch.channels_last) if channels_last else x

    for _ in range(3):
        x = batch()
        ya, yb = run_step(ours, theirs, x, torch.randn(shape, generator=generator, dtype=dtype), dtype)
        if channels_last:
            assert ya.is_contiguous(memory_format=torch.channels_last) == yb.is_contiguous(
                memory_format=torch.channels_last
            )
        assert_same_buffers(ours, theirs, dtype)
    if track:
        assert int(ours.num_batches_tracked) == 3

    ours.eval()
    theirs.eval()
    x = batch()
    run_step(ours, theirs, x, torch.randn(shape, generator=generator, dtype=dtype), dtype)
    assert_same_buffers(ours, theirs, dtype)  # eval must not touch the running statistics


def test_batchnorm_training_uses_biased_variance_and_stores_unbiased():
    x = torch.randn(10, 3, dtype=torch.float64) * 2 + 1
    bn = cnn.BatchNorm1d(3, momentum=1.0, affine=False, dtype=torch.float64)
    y = bn(x)
    torch.testing.assert_close(
        y.var(dim=0, unbiased=False), torch.ones(3, dtype=torch.float64), rtol=1e-4, atol=0
    )
    # momentum=1 keeps only the last batch, so the buffers are exactly that batch's statistics.
    torch.testing.assert_close(bn.running_mean, x.mean(dim=0))
    torch.testing.assert_close(bn.running_var, x.var(dim=0, unbiased=True))


def test_batchnorm_momentum_none_is_the_plain_average_of_batch_statistics():
    bn = cnn.BatchNorm1d(4, momentum=None, dtype=torch.float64)
    batches = [torch.randn(8, 4, dtype=torch.float64) + k for k in range(5)]
    for x in batches:
        bn(x)
    torch.testing.assert_close(bn.running_mean, torch.stack([x.mean(0) for x in batches]).mean(0))
    torch.testing.assert_close(bn.running_var, torch.stack([x.var(0) for x in batches]).mean(0))
    assert int(bn.num_batches_tracked) == 5


def test_batchnorm_eval_uses_running_statistics_and_accepts_a_single_sample():
    bn = cnn.BatchNorm1d(3, dtype=torch.float64)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([1.0, -2.0, 0.5]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25, 1.0]))
    bn.eval()
    x = torch.tensor([[3.0, -1.0, 0.5]], dtype=torch.float64)
    expected = (x - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
    torch.testing.assert_close(bn(x), expected)


def test_batchnorm_variance_is_numerically_stable_for_a_large_mean():
    # With mean 1e4 and std 1 in float32, E[x^2] - E[x]^2 loses every significant digit (E[x^2] ~ 1e8 has
    # a rounding error of ~8), while the centered formula stays accurate.
    generator = torch.Generator().manual_seed(3)
    x64 = torch.randn(256, 4, generator=generator, dtype=torch.float64) + 1e4
    bn = cnn.BatchNorm1d(4, affine=False)
    y = bn(x64.float())
    expected = (x64 - x64.mean(0)) / torch.sqrt(x64.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(y.double(), expected, rtol=0, atol=5e-3)
    torch.testing.assert_close(bn.running_var.double(), 0.9 + 0.1 * x64.var(0), rtol=1e-3, atol=0)


@pytest.mark.parametrize(
    "ours_cls, theirs_cls", [(cnn.BatchNorm1d, torch.nn.BatchNorm1d), (cnn.BatchNorm2d, torch.nn.BatchNorm2d)]
)
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"affine": False}, {"bias": False}, {"track_running_stats": False}, {"momentum": None, "eps": 1e-3}],
    ids=str,
)
def test_batchnorm_state_dict_round_trips_both_ways_and_repr_matches(ours_cls, theirs_cls, kwargs):
    shape = (6, 3) if ours_cls is cnn.BatchNorm1d else (4, 3, 2, 2)
    ours, theirs = ours_cls(3, **kwargs), theirs_cls(3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]

    # ours (trained) -> fresh torch: eval outputs agree.
    generator = torch.Generator().manual_seed(0)
    randomize_parameters(ours, generator)
    for _ in range(2):
        ours(torch.randn(shape, generator=generator) * 2 + 1)
    fresh_torch = theirs_cls(3, **kwargs)
    fresh_torch.load_state_dict(ours.state_dict())
    # torch -> fresh ours.
    fresh_ours = ours_cls(3, **kwargs)
    fresh_ours.load_state_dict(fresh_torch.state_dict())
    x = torch.randn(shape, generator=generator)
    for module in (ours, fresh_torch, fresh_ours):
        module.eval()
    torch.testing.assert_close(fresh_torch(x), ours(x))
    torch.testing.assert_close(fresh_ours(x), ours(x))
    if ours.track_running_stats:
        assert int(fresh_ours.num_batches_tracked) == int(fresh_torch.num_batches_tracked) == 2


def test_batchnorm_loads_old_state_dict_without_num_batches_tracked_like_torch():
    saved = torch.nn.BatchNorm1d(3).state_dict()
    del saved["num_batches_tracked"]
    saved._metadata[""]["version"] = 1  # a checkpoint from before num_batches_tracked existed
    ours, theirs = cnn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    for module in (ours, theirs):
        module.num_batches_tracked.fill_(7)
        module.load_state_dict(saved)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 7


def test_dropout_constructor_signature_matches_torch():
    # The norm layers' signatures: tests/test_norm_registry.py, for every registered layer.
    ours_params = inspect.signature(cnn.Dropout.__init__).parameters
    theirs_params = inspect.signature(torch.nn.Dropout.__init__).parameters
    assert list(ours_params) == list(theirs_params)
    for name, param in theirs_params.items():
        assert ours_params[name].default == param.default, name
        assert ours_params[name].kind == param.kind, name


@pytest.mark.parametrize(
    "cls, shape", [(cnn.BatchNorm1d, (1, 3)), (cnn.BatchNorm1d, (1, 3, 1)), (cnn.BatchNorm2d, (1, 3, 1, 1))]
)
def test_batchnorm_refuses_one_value_per_channel_in_training_like_torch(cls, shape):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        getattr(torch.nn, cls.__name__)(3)(torch.randn(shape))
    bn = cls(3)
    with pytest.raises(
        ValueError, match=r"Expected more than 1 value per channel when training, got input size"
    ):
        bn(torch.randn(shape))
    assert int(bn.num_batches_tracked) == 0  # a refused batch must not be counted
    bn.eval()
    assert bn(torch.randn(shape)).shape == shape
    no_stats = cls(3, track_running_stats=False).eval()  # no running stats: batch stats even in eval
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        no_stats(torch.randn(shape))


@pytest.mark.parametrize(
    "cls, shape",
    [
        (cnn.BatchNorm1d, (3,)),
        (cnn.BatchNorm1d, (2, 3, 4, 4)),
        (cnn.BatchNorm2d, (2, 3, 4)),
        (cnn.BatchNorm2d, (2, 3, 4, 4, 4)),
    ],
)
def test_batchnorm_wrong_rank_is_a_value_error_naming_input_and_fix(cls, shape):
    with pytest.raises(ValueError, match=r"expects input of shape .*got a \dD input.*Reshape the input"):
        cls(3)(torch.randn(shape))


@pytest.mark.parametrize(
    "cls, shape", [(cnn.BatchNorm1d, (4, 5)), (cnn.BatchNorm1d, (4, 5, 2)), (cnn.BatchNorm2d, (4, 5, 2, 2))]
)
def test_batchnorm_wrong_feature_count_names_num_features(cls, shape):
    with pytest.raises(ValueError, match=r"input has 5 channels.*num_features=3.*\(5\)"):
        cls(3)(torch.randn(shape))


@pytest.mark.parametrize(
    "layer", [cnn.BatchNorm1d(3), cnn.LayerNorm(3), cnn.Dropout(0.5)], ids=lambda m: type(m).__name__
)
def test_integer_and_non_tensor_input_is_a_type_error_naming_input(layer):
    with pytest.raises(TypeError, match="input must have a floating dtype, got torch.int64"):
        layer(torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got ndarray"):
        layer(np.ones((4, 3)))


@pytest.mark.parametrize("layer", [cnn.BatchNorm1d(3), cnn.LayerNorm(3)], ids=lambda m: type(m).__name__)
def test_dtype_mismatch_is_a_type_error_naming_input(layer):
    with pytest.raises(TypeError, match=r"input has dtype torch.float64 but the layer's .* torch.float32"):
        layer(torch.ones(4, 3, dtype=torch.float64))


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"num_features": 0}, ValueError, "num_features"),
        ({"num_features": 2.0}, TypeError, "num_features"),
        ({"num_features": 3, "momentum": 1.5}, ValueError, "momentum"),
        ({"num_features": 3, "momentum": "0.1"}, TypeError, "momentum"),
        ({"num_features": 3, "eps": -1e-5}, ValueError, "eps"),
        ({"num_features": 3, "affine": "yes"}, TypeError, "affine"),
        ({"num_features": 3, "affine": 1}, TypeError, "affine"),
        ({"num_features": 3, "track_running_stats": None}, TypeError, "track_running_stats"),
    ],
)
@pytest.mark.parametrize("cls", [cnn.BatchNorm1d, cnn.BatchNorm2d])
def test_batchnorm_bad_constructor_arguments(cls, kwargs, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        cls(**kwargs)


# ------------------------------------------------------------------------------------------- layernorm

LN_CASES = {
    "last-dim-int": (5, (4, 5)),
    "last-dim-int-3d": (5, (3, 4, 5)),
    "last-two-tuple": ((4, 5), (3, 4, 5)),
    "last-two-list": ([4, 5], (2, 3, 4, 5)),
    "torch-size": (torch.Size([3, 4, 5]), (2, 3, 4, 5)),
}
LN_AFFINE = {"affine": {}, "no-affine": {"elementwise_affine": False}, "no-bias": {"bias": False}}


@pytest.mark.parametrize("case", LN_CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("affine", LN_AFFINE)
def test_layernorm_matches_torch_in_train_and_eval(case, dtype, affine):
    normalized_shape, shape = LN_CASES[case]
    ours, theirs = make_pair(
        cnn.LayerNorm, torch.nn.LayerNorm, normalized_shape, dtype=dtype, **LN_AFFINE[affine]
    )
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    generator = torch.Generator().manual_seed(0)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        x = torch.randn(shape, generator=generator, dtype=dtype) * 3 + 5
        run_step(ours, theirs, x, torch.randn(shape, generator=generator, dtype=dtype), dtype)


@pytest.mark.parametrize(
    "kwargs", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}], ids=str
)
def test_layernorm_state_dict_round_trips_both_ways(kwargs):
    generator = torch.Generator().manual_seed(0)
    ours = cnn.LayerNorm((2, 3), **kwargs)
    randomize_parameters(ours, generator)
    theirs = torch.nn.LayerNorm((2, 3), **kwargs)
    theirs.load_state_dict(ours.state_dict())
    back = cnn.LayerNorm((2, 3), **kwargs)
    back.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 2, 3, generator=generator)
    torch.testing.assert_close(theirs(x), ours(x))
    torch.testing.assert_close(back(x), ours(x))


def test_layernorm_works_on_a_single_sample_and_independently_of_the_batch():
    ln = cnn.LayerNorm(6, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64)
    torch.testing.assert_close(ln(x[2:3]), ln(x)[2:3])


@pytest.mark.parametrize("normalized_shape, shape", [(3, (4, 4)), ((2, 3), (4, 3, 2)), ((4, 2, 3), (2, 3))])
def test_layernorm_wrong_trailing_shape_names_normalized_shape(normalized_shape, shape):
    with pytest.raises(ValueError, match=r"input of shape .* does not end with normalized_shape"):
        cnn.LayerNorm(normalized_shape)(torch.randn(shape))


@pytest.mark.parametrize(
    "normalized_shape, error, name",
    [
        ("abc", TypeError, r"normalized_shape\[0\]"),
        ((), TypeError, "normalized_shape"),
        ((3, 0), ValueError, r"normalized_shape\[1\]"),
        (2.5, TypeError, "normalized_shape"),
    ],
)
def test_layernorm_bad_normalized_shape(normalized_shape, error, name):
    with pytest.raises(error, match=rf"^{name}"):
        cnn.LayerNorm(normalized_shape)


def test_layernorm_bad_eps_and_flags():
    with pytest.raises(ValueError, match="^eps"):
        cnn.LayerNorm(3, eps=-1.0)
    with pytest.raises(TypeError, match="^elementwise_affine"):
        cnn.LayerNorm(3, elementwise_affine="no")


finite = st.floats(-10, 10, allow_nan=False, width=64)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 6)), elements=finite),
    scale=st.floats(0.1, 10),
    shift=st.floats(-100, 100),
)
def test_layernorm_is_invariant_to_per_sample_positive_rescale_and_shift(x, scale, shift):
    assume(x.std(axis=-1).min() > 0.1)
    # eps breaks the invariance by eps / var; make it negligible so the exact property can be checked.
    ln = cnn.LayerNorm(x.shape[-1], eps=1e-12, dtype=torch.float64)
    x = torch.from_numpy(x)
    scales = torch.linspace(1.0, scale, x.shape[0], dtype=torch.float64)[
        :, None
    ]  # a different one per sample
    with torch.no_grad():
        torch.testing.assert_close(ln(scales * x + shift), ln(x), rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, st.tuples(st.integers(2, 8), st.integers(1, 4)), elements=finite))
def test_batchnorm_training_output_has_zero_mean_and_unit_variance_per_feature(x):
    var = x.var(axis=0)
    assume(var.min() > 1e-3)
    bn = cnn.BatchNorm1d(x.shape[1], dtype=torch.float64)
    with torch.no_grad():
        y = bn(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-9)
    # Exactly 1 only as eps -> 0: the normalized variance is var / (var + eps).
    np.testing.assert_allclose(y.var(axis=0), var / (var + bn.eps), rtol=1e-9)


# --------------------------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_dropout_draws_the_same_mask_as_torch_with_the_same_seed(dtype, p):
    x = torch.randn(64, 32, dtype=dtype)
    torch.manual_seed(123)
    ours = cnn.Dropout(p)(x)
    torch.manual_seed(123)
    theirs = torch.nn.Dropout(p)(x)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert repr(cnn.Dropout(p)) == repr(torch.nn.Dropout(p))


def test_dropout_eval_and_p_zero_are_the_identity():
    x = torch.randn(10, 10)
    assert cnn.Dropout(0.5).eval()(x) is x
    assert torch.equal(cnn.Dropout(0.0)(x), x)


def test_dropout_p_one_gives_zeros_and_zero_gradient():
    x = torch.randn(50, requires_grad=True)
    y = cnn.Dropout(1.0)(x)
    assert torch.equal(y, torch.zeros(50))
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros(50))


@pytest.mark.parametrize("p", [0.1, 0.3, 0.75])
def test_dropout_zero_fraction_is_near_p_and_survivors_are_scaled(p):
    torch.manual_seed(0)
    x = torch.rand(200_000, dtype=torch.float64) + 0.5  # no zeros in the input
    y = cnn.Dropout(p)(x)
    dropped = y == 0
    # 5 standard deviations of a binomial proportion.
    assert abs(dropped.double().mean().item() - p) < 5 * (p * (1 - p) / x.numel()) ** 0.5
    torch.testing.assert_close(y[~dropped], x[~dropped] / (1 - p), rtol=1e-15, atol=0)


def test_dropout_gradient_flows_only_through_kept_units():
    torch.manual_seed(1)
    p = 0.4
    x = (torch.rand(1000, dtype=torch.float64) + 0.5).requires_grad_(True)
    y = cnn.Dropout(p)(x)
    upstream = torch.randn(1000, dtype=torch.float64)
    y.backward(upstream)
    kept = y != 0
    assert 0 < kept.sum() < 1000
    assert torch.equal(x.grad[~kept], torch.zeros_like(x.grad[~kept]))
    torch.testing.assert_close(x.grad[kept], upstream[kept] / (1 - p))


def test_dropout_inplace_overwrites_the_input_with_the_same_values():
    x = torch.randn(30, 30)
    torch.manual_seed(5)
    expected = cnn.Dropout(0.3)(x)
    torch.manual_seed(5)
    y = cnn.Dropout(0.3, inplace=True)(x)
    assert y is x
    assert torch.equal(x, expected)


@settings(max_examples=15, deadline=None)
@given(
    p=st.floats(0.0, 0.9),
    values=st.lists(st.floats(-10, 10), min_size=1, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_dropout_is_unbiased(p, values, seed):
    torch.manual_seed(seed)
    reps = 20_000
    x = torch.tensor(values, dtype=torch.float64)
    y = cnn.Dropout(p)(x.expand(reps, -1))
    # Each output is x / (1-p) with probability 1-p, else 0: std = |x| sqrt(p / (1-p)).
    # Plus a little slack for the rounding error of averaging 20 000 floats.
    bound = 6 * x.abs() * (p / (1 - p)) ** 0.5 / reps**0.5 + 1e-9 * x.abs() + 1e-12
    assert torch.all((y.mean(dim=0) - x).abs() <= bound)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_p_outside_unit_interval_is_a_value_error_like_torch(p):
    with pytest.raises(
        ValueError, match=r"dropout probability has to be between 0 and 1, but got .*argument p"
    ):
        cnn.Dropout(p)


@pytest.mark.parametrize("p", ["0.5", None])
def test_dropout_p_not_a_number_is_a_type_error(p):
    with pytest.raises(TypeError, match="^p must be a number"):
        cnn.Dropout(p)


def test_dropout_bad_inplace_names_inplace():
    with pytest.raises(TypeError, match="^inplace"):
        cnn.Dropout(0.5, inplace="yes")


# ---------- moved here by subject: tests written against mutants that survived `make mutation`


@pytest.mark.parametrize("cls", [cnn.BatchNorm1d, cnn.BatchNorm2d])
def test_batchnorm_reset_like_torch(cls):
    layer = cls(3)
    shape = (4, 3) if cls is cnn.BatchNorm1d else (4, 3, 2, 2)
    layer(torch.randn(shape) * 3 + 2)
    with torch.no_grad():
        layer.weight.fill_(2.0)
        layer.bias.fill_(-1.0)
    layer.reset_running_stats()
    assert layer.running_mean.tolist() == [0.0] * 3 and layer.running_var.tolist() == [1.0] * 3
    assert int(layer.num_batches_tracked) == 0 and layer.weight.tolist() == [2.0] * 3
    layer(torch.randn(shape))
    layer.reset_parameters()
    assert layer.running_mean.tolist() == [0.0] * 3 and layer.running_var.tolist() == [1.0] * 3
    assert int(layer.num_batches_tracked) == 0
    assert layer.weight.tolist() == [1.0] * 3 and layer.bias.tolist() == [0.0] * 3
    cls(3, affine=False, track_running_stats=False).reset_parameters()  # nothing to reset: no error


def test_layernorm_reset_parameters():
    layer = cnn.LayerNorm(3)
    with torch.no_grad():
        layer.weight.fill_(2.0)
        layer.bias.fill_(-1.0)
    layer.reset_parameters()
    assert layer.weight.tolist() == [1.0] * 3 and layer.bias.tolist() == [0.0] * 3
    cnn.LayerNorm(3, elementwise_affine=False).reset_parameters()


def _old_format(state_dict, version):
    from collections import OrderedDict

    old = OrderedDict((k, v) for k, v in state_dict.items() if k != "num_batches_tracked")
    old._metadata = OrderedDict({"": {"version": version}} if version is not None else {})
    return old


@pytest.mark.parametrize("version", [1, None])
def test_an_old_state_dict_without_the_counter_loads_and_keeps_the_counter_like_torch(version):
    source = torch.nn.BatchNorm1d(3)
    source(torch.randn(5, 3))
    for layer in (cnn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)):
        layer(torch.randn(4, 3))
        layer(torch.randn(4, 3))
        layer.load_state_dict(_old_format(source.state_dict(), version))
        assert int(layer.num_batches_tracked) == 2
        torch.testing.assert_close(layer.running_mean, source.running_mean)


def test_a_current_state_dict_without_the_counter_is_refused_like_torch():
    for layer in (cnn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)):
        with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "num_batches_tracked"'):
            layer.load_state_dict(_old_format(torch.nn.BatchNorm1d(3).state_dict(), 2))
        extra = torch.nn.BatchNorm1d(3).state_dict() | {"surprise": torch.zeros(1)}
        with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "surprise"'):
            layer.load_state_dict(extra)
        result = layer.load_state_dict(extra, strict=False)
        assert result.unexpected_keys == ["surprise"] and result.missing_keys == []
    untracked = cnn.BatchNorm1d(3, track_running_stats=False)
    untracked.load_state_dict(_old_format(torch.nn.BatchNorm1d(3, track_running_stats=False).state_dict(), 1))


def test_eps_zero_is_allowed_at_construction_and_in_layernorm_like_torch():
    assert cnn.BatchNorm1d(3, eps=0).eps == 0 and cnn.BatchNorm2d(3, eps=0.0).eps == 0.0
    x = torch.randn(4, 3, dtype=torch.float64)
    ours, theirs = cnn.LayerNorm(3, eps=0, dtype=torch.float64), torch.nn.LayerNorm(3, eps=0, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))


def test_layernorm_on_exactly_the_normalized_dimensions_and_its_hints():
    x = torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(cnn.LayerNorm(3, dtype=torch.float64)(x), torch.nn.LayerNorm(3, dtype=torch.float64)(x))
    with pytest.raises(ValueError, match=r"build LayerNorm\(\(4,\)\)\.$"):
        cnn.LayerNorm(3)(torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"build LayerNorm\(\.\.\.\)\.$"):
        cnn.LayerNorm((2, 3))(torch.ones(3))


def test_batchnorm_messages_name_the_class_and_dropout_default():
    assert cnn.Dropout().p == 0.5 and cnn.Dropout().inplace is False
    with pytest.raises(ValueError, match=r"^BatchNorm2d expects input of shape \(N, C, H, W\)"):
        cnn.BatchNorm2d(3)(torch.ones(4, 3))
    with pytest.raises(ValueError, match=r"but BatchNorm1d was built with num_features=3.*BatchNorm1d\(5\)"):
        cnn.BatchNorm1d(3)(torch.ones(4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3, eps=1e-5\)\.$"):
        cnn.BatchNorm2d(3, eps=0)(torch.ones(4, 3, 2, 2))


def test_untracked_batchnorm_has_no_counter_and_shape_mismatches_are_refused_on_load():
    assert cnn.BatchNorm1d(3, track_running_stats=False).num_batches_tracked is None
    wrong = torch.nn.BatchNorm1d(4).state_dict()
    for layer in (cnn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)):
        with pytest.raises(RuntimeError, match="size mismatch for running_mean"):
            layer.load_state_dict(wrong)


def test_layernorm_hint_uses_the_trailing_dimensions():
    with pytest.raises(ValueError, match=r"build LayerNorm\(\(5,\)\)\.$"):
        cnn.LayerNorm(3)(torch.ones(2, 4, 5))
    with pytest.raises(ValueError, match=r"build LayerNorm\(\(2, 4\)\)\.$"):
        cnn.LayerNorm((2, 3))(torch.ones(2, 4))  # exactly as many dimensions as normalized_shape


@pytest.mark.parametrize("momentum", [0, 0.0, 1.0])
def test_momentum_at_the_ends_of_its_range_matches_torch(momentum):
    ours, theirs = cnn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
    x = torch.randn(6, 3)
    ours(x), theirs(x)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)


# ---------- moved here by subject: tests written against inputs that used to give a silent wrong result


EMPTY_SHAPES = {
    "1d-N0": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (0, 3)),
    "1d-N0-L": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (0, 3, 5)),
    "1d-L0": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 0)),
    "2d-N0": (cnn.BatchNorm2d, torch.nn.BatchNorm2d, (0, 3, 2, 2)),
    "2d-H0": (cnn.BatchNorm2d, torch.nn.BatchNorm2d, (2, 3, 0, 2)),
}


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum=0.1", "momentum=None"])
@pytest.mark.parametrize("case", EMPTY_SHAPES)
def test_an_empty_batch_leaves_running_stats_as_torch_does(case, momentum):
    ours_cls, theirs_cls, shape = EMPTY_SHAPES[case]
    ours, theirs = ours_cls(3, momentum=momentum), theirs_cls(3, momentum=momentum)
    generator = torch.Generator().manual_seed(0)
    full_shape = (4, *shape[1:]) if shape[0] == 0 else (4, 3) + (3,) * (len(shape) - 2)
    first = torch.randn(full_shape, generator=generator)
    ours(first), theirs(first)  # non-trivial running statistics before the empty batch
    before = ours.running_mean.clone(), ours.running_var.clone()
    out = ours(torch.empty(shape))
    theirs(torch.empty(shape))
    assert out.shape == shape
    torch.testing.assert_close(ours.running_mean, before[0], rtol=0, atol=0)
    torch.testing.assert_close(ours.running_var, before[1], rtol=0, atol=0)
    # torch counts the empty batch (its module increments before the kernel runs), so must we: with
    # momentum=None the counter sets the weight of every later batch.
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 2
    later = torch.randn(full_shape, generator=generator)
    ours(later), theirs(later)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)


def test_an_empty_batch_still_backpropagates():
    bn = cnn.BatchNorm1d(3)
    x = torch.empty(0, 3, requires_grad=True)
    bn(x).sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("eps", [0.0, 0])
@pytest.mark.parametrize("cls, shape", [(cnn.BatchNorm1d, (4, 3)), (cnn.BatchNorm2d, (4, 3, 2, 2))])
def test_eps_zero_is_refused_in_training_like_torch(cls, shape, eps):
    layer = cls(3, eps=eps)
    constant = torch.ones(shape)  # variance 0: with eps = 0 the output would be 0/0 = NaN
    with pytest.raises(ValueError, match="eps must be positive during training"):
        layer(constant)
    with pytest.raises(ValueError, match="eps must be positive during training"):
        getattr(torch.nn, cls.__name__)(3, eps=eps)(constant)
    # eval mode normalizes with the running variance (1 here): eps = 0 is fine there, as in torch
    layer.eval()
    assert torch.isfinite(layer(constant)).all()


@pytest.mark.parametrize("cls, shape", [(cnn.BatchNorm1d, (4, 3)), (cnn.BatchNorm2d, (4, 3, 2, 2))])
def test_eps_zero_is_refused_on_the_fast_path_too(cls, shape):
    layer = cls(3, eps=0.0)
    layer.fast = True
    with pytest.raises(ValueError, match="eps must be positive during training"):
        layer(torch.ones(shape))
    layer.eval()
    assert torch.isfinite(layer(torch.ones(shape))).all()


def test_eps_zero_is_refused_without_running_stats_even_in_eval():
    layer = cnn.BatchNorm1d(3, eps=0.0, track_running_stats=False).eval()  # eval uses batch statistics here
    with pytest.raises(ValueError, match="eps must be positive"):
        layer(torch.ones(4, 3))
