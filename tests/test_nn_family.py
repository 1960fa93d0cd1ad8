"""GroupNorm, RMSNorm, InstanceNorm1d/2d of course_utils.nn against torch.nn: values, gradients, state_dicts,
constructor signatures, reprs, train/eval behaviour, unbatched and degenerate inputs, errors."""

from __future__ import annotations

import warnings

import pytest
import torch

from course_utils import nn as cnn
from tests.helpers import DTYPES, assert_close, assert_same_buffers, make_pair, randomize_parameters, run_step


def _batch(shape, generator, dtype):
    # Mean far from 0 and spread unlike 1: a normalization over the wrong axes would be caught.
    return torch.randn(shape, generator=generator, dtype=dtype) * 3.0 + 5.0


# ------------------------------------------------------------------------------------------- groupnorm

GN_CASES = {
    "NC-2groups": ((2, 6), (5, 6)),
    "NCL-3groups": ((3, 6), (4, 6, 5)),
    "NCHW-1group(LN)": ((1, 4), (3, 4, 2, 3)),
    "NCHW-C-groups(IN)": ((4, 4), (3, 4, 2, 3)),
    "NCDHW": ((2, 4), (2, 4, 2, 2, 3)),
    "batch-of-one": ((2, 4), (1, 4, 3)),
}
GN_AFFINE = {"affine": {}, "no-affine": {"affine": False}, "no-bias": {"bias": False}}


@pytest.mark.parametrize("case", GN_CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("affine", GN_AFFINE)
def test_groupnorm_matches_torch_in_train_and_eval(case, dtype, affine):
    args, shape = GN_CASES[case]
    ours, theirs = make_pair(cnn.GroupNorm, torch.nn.GroupNorm, *args, dtype=dtype, **GN_AFFINE[affine])
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    generator = torch.Generator().manual_seed(0)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        run_step(
            ours, theirs, _batch(shape, generator, dtype), torch.randn(shape, generator=generator, dtype=dtype), dtype
        )


def test_groupnorm_channels_last_input_matches_torch():
    ours, theirs = make_pair(cnn.GroupNorm, torch.nn.GroupNorm, 2, 4)
    x = _batch((3, 4, 2, 5), torch.Generator().manual_seed(0), torch.float32).to(memory_format=torch.channels_last)
    run_step(ours, theirs, x, torch.randn(3, 4, 2, 5).to(memory_format=torch.channels_last), torch.float32)


def test_groupnorm_ends_of_the_family_are_layernorm_and_instancenorm():
    x = _batch((3, 4, 5), torch.Generator().manual_seed(1), torch.float64)
    gn1 = cnn.GroupNorm(1, 4, affine=False, dtype=torch.float64)
    ln = cnn.LayerNorm((4, 5), elementwise_affine=False, dtype=torch.float64)
    torch.testing.assert_close(gn1(x), ln(x))
    gn4 = cnn.GroupNorm(4, 4, affine=False, dtype=torch.float64)
    torch.testing.assert_close(gn4(x), cnn.InstanceNorm1d(4, dtype=torch.float64)(x))


def test_groupnorm_output_does_not_depend_on_the_rest_of_the_batch():
    gn = cnn.GroupNorm(2, 4, dtype=torch.float64)
    x = _batch((6, 4, 3), torch.Generator().manual_seed(2), torch.float64)
    torch.testing.assert_close(gn(x[2:3]), gn(x)[2:3])


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"bias": False}, {"eps": 1e-3}], ids=str)
def test_groupnorm_state_dict_round_trips_both_ways(kwargs):
    generator = torch.Generator().manual_seed(0)
    ours = cnn.GroupNorm(2, 6, **kwargs)
    randomize_parameters(ours, generator)
    theirs = torch.nn.GroupNorm(2, 6, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    back = cnn.GroupNorm(2, 6, **kwargs)
    back.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 6, 3, generator=generator)
    torch.testing.assert_close(theirs(x), ours(x))
    torch.testing.assert_close(back(x), ours(x))


def test_groupnorm_degenerate_inputs_like_torch():
    # An empty batch is fine; one sample whose groups hold one value each is refused, by both.
    assert cnn.GroupNorm(2, 4)(torch.randn(0, 4, 3)).shape == torch.nn.GroupNorm(2, 4)(torch.randn(0, 4, 3)).shape
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.GroupNorm(2, 2)(torch.randn(1, 2))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel.*use fewer groups"):
        cnn.GroupNorm(2, 2)(torch.randn(1, 2))
    # Two samples with one value per group: torch normalizes each value to 0 (output = beta); so do we.
    ours, theirs = make_pair(cnn.GroupNorm, torch.nn.GroupNorm, 2, 2)
    run_step(ours, theirs, torch.randn(2, 2), torch.randn(2, 2), torch.float32)


def test_groupnorm_bad_input_names_the_argument_and_the_fix():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\).*\[1, 2, 3, 6\]"):
        cnn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"^num_groups must be >= 1"):
        cnn.GroupNorm(0, 6)
    with pytest.raises(TypeError, match=r"^num_channels must be an int"):
        cnn.GroupNorm(2, 6.0)
    with pytest.raises(ValueError, match=r"^eps must be >= 0"):
        cnn.GroupNorm(2, 6, eps=-1e-5)
    # eps=0 is accepted as in torch, and refused where a constant group would divide by zero
    assert torch.isfinite(cnn.GroupNorm(2, 6, eps=0.0)(torch.randn(2, 6))).all()
    with pytest.raises(ValueError, match=r"GroupNorm was built with eps=0.*variance \(a constant group\) is 0"):
        cnn.GroupNorm(2, 6, eps=0.0)(torch.ones(2, 6))
    with pytest.raises(TypeError, match="^affine"):
        cnn.GroupNorm(2, 6, affine="yes")
    with pytest.raises(ValueError, match=r"expects input of shape \(N, C, \*\).*unsqueeze\(0\)"):
        cnn.GroupNorm(2, 6)(torch.randn(6))
    with pytest.raises(ValueError, match=r"input has 4 channels.*num_channels=6.*GroupNorm\(num_groups, 4\)"):
        cnn.GroupNorm(2, 6)(torch.randn(3, 4))
    with pytest.raises(TypeError, match="input must have a floating dtype"):
        cnn.GroupNorm(2, 6)(torch.ones(3, 6, dtype=torch.long))
    with pytest.raises(TypeError, match=r"input has dtype torch.float64"):
        cnn.GroupNorm(2, 6)(torch.ones(3, 6, dtype=torch.float64))


# --------------------------------------------------------------------------------------------- rmsnorm

RMS_CASES = {
    "last-dim-int": (5, (4, 5)),
    "last-dim-3d": (5, (3, 4, 5)),
    "last-two-tuple": ((4, 5), (3, 4, 5)),
    "torch-size": (torch.Size([3, 4, 5]), (2, 3, 4, 5)),
    "unbatched": (5, (5,)),
    "empty-batch": (5, (0, 5)),
}
RMS_KWARGS = {"default-eps": {}, "eps": {"eps": 1e-6}, "no-affine": {"elementwise_affine": False}}


@pytest.mark.parametrize("case", RMS_CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("kwargs", RMS_KWARGS)
def test_rmsnorm_matches_torch_in_train_and_eval(case, dtype, kwargs):
    normalized_shape, shape = RMS_CASES[case]
    ours, theirs = make_pair(cnn.RMSNorm, torch.nn.RMSNorm, normalized_shape, dtype=dtype, **RMS_KWARGS[kwargs])
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    generator = torch.Generator().manual_seed(0)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        run_step(
            ours, theirs, _batch(shape, generator, dtype), torch.randn(shape, generator=generator, dtype=dtype), dtype
        )


def test_rmsnorm_does_not_recenter_and_has_unit_mean_square():
    x = _batch((4, 8), torch.Generator().manual_seed(3), torch.float64)
    y = cnn.RMSNorm(8, eps=1e-12, dtype=torch.float64)(x).detach()
    torch.testing.assert_close(y.pow(2).mean(-1), torch.ones(4, dtype=torch.float64))
    assert (y.mean(-1) > 0.5).all()  # inputs around +5 stay positive: no mean subtraction
    assert "bias" not in dict(cnn.RMSNorm(8).named_parameters())


@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"eps": 1e-3}], ids=str)
def test_rmsnorm_state_dict_round_trips_both_ways(kwargs):
    generator = torch.Generator().manual_seed(0)
    ours = cnn.RMSNorm((2, 3), **kwargs)
    randomize_parameters(ours, generator)
    theirs = torch.nn.RMSNorm((2, 3), **kwargs)
    theirs.load_state_dict(ours.state_dict())
    back = cnn.RMSNorm((2, 3), **kwargs)
    back.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 2, 3, generator=generator)
    torch.testing.assert_close(theirs(x), ours(x))
    torch.testing.assert_close(back(x), ours(x))


def test_rmsnorm_bad_input_names_the_argument_and_the_fix():
    with pytest.raises(
        ValueError, match=r"input of shape \(3, 5\) does not end with normalized_shape=\(4,\).*RMSNorm\(\(5,\)\)"
    ):
        cnn.RMSNorm(4)(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"does not end with normalized_shape"):
        cnn.RMSNorm((2, 3, 4))(torch.randn(3, 4))
    with pytest.raises(ValueError, match="^eps must be >= 0"):
        cnn.RMSNorm(4, eps=-1.0)
    torch.testing.assert_close(cnn.RMSNorm(4, eps=0.0)(torch.ones(2, 4)), torch.ones(2, 4))  # as torch
    with pytest.raises(ValueError, match=r"RMSNorm was built with eps=0.*mean square \(an all-zero row\)"):
        cnn.RMSNorm(4, eps=0.0)(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="^normalized_shape"):
        cnn.RMSNorm(())
    with pytest.raises(ValueError, match=r"^normalized_shape\[1\]"):
        cnn.RMSNorm((3, 0))
    with pytest.raises(TypeError, match="^elementwise_affine"):
        cnn.RMSNorm(3, elementwise_affine="no")


# ---------------------------------------------------------------------------------------- instancenorm

IN_CASES = {
    "1d": (cnn.InstanceNorm1d, (4, 3, 6)),
    "1d-unbatched": (cnn.InstanceNorm1d, (3, 6)),
    "2d": (cnn.InstanceNorm2d, (4, 3, 2, 5)),
    "2d-unbatched": (cnn.InstanceNorm2d, (3, 2, 5)),
    "1d-batch-of-one": (cnn.InstanceNorm1d, (1, 3, 6)),
}
IN_KWARGS = {
    "defaults": {},
    "affine": {"affine": True},
    "affine-no-bias": {"affine": True, "bias": False},
    "track": {"track_running_stats": True},
    "track-affine-momentum-None": {"track_running_stats": True, "affine": True, "momentum": None},
}


@pytest.mark.parametrize("case", IN_CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("kwargs", IN_KWARGS)
def test_instancenorm_matches_torch_over_training_steps_then_eval(case, dtype, kwargs):
    cls, shape = IN_CASES[case]
    ours, theirs = make_pair(cls, getattr(torch.nn, cls.__name__), 3, dtype=dtype, **IN_KWARGS[kwargs])
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        run_step(
            ours, theirs, _batch(shape, generator, dtype), torch.randn(shape, generator=generator, dtype=dtype), dtype
        )
        assert_same_buffers(ours, theirs, dtype)
    ours.eval()
    theirs.eval()
    run_step(ours, theirs, _batch(shape, generator, dtype), torch.randn(shape, generator=generator, dtype=dtype), dtype)
    assert_same_buffers(ours, theirs, dtype)


@pytest.mark.parametrize("cls", [cnn.InstanceNorm1d, cnn.InstanceNorm2d], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "kwargs", [{}, {"affine": True}, {"track_running_stats": True}, {"affine": True, "bias": False}], ids=str
)
def test_instancenorm_state_dict_round_trips_both_ways(cls, kwargs):
    theirs_cls = getattr(torch.nn, cls.__name__)
    shape = (4, 3, 5) if cls is cnn.InstanceNorm1d else (4, 3, 2, 3)
    generator = torch.Generator().manual_seed(0)
    ours = cls(3, **kwargs)
    randomize_parameters(ours, generator)
    ours(_batch(shape, generator, torch.float32))
    fresh_torch = theirs_cls(3, **kwargs)
    fresh_torch.load_state_dict(ours.state_dict())
    back = cls(3, **kwargs)
    back.load_state_dict(fresh_torch.state_dict())
    x = torch.randn(shape, generator=generator)
    for module in (ours, fresh_torch, back):
        module.eval()
    torch.testing.assert_close(fresh_torch(x), ours(x))
    torch.testing.assert_close(back(x), ours(x))


def test_instancenorm_refuses_old_running_stats_without_tracking_like_torch():
    tracked = torch.nn.Sequential(torch.nn.InstanceNorm1d(3, track_running_stats=True))
    with torch.no_grad():
        tracked[0].running_mean.fill_(0.5)
    saved = tracked.state_dict()
    del saved._metadata["0"]["version"]  # a checkpoint from before torch 0.4
    # Both keys (with the module's prefix) and the class are named, as torch names them.
    expected = (r"Unexpected running stats buffer\(s\) ['\"]0\.running_mean['\"] and ['\"]0\.running_var['\"] for "
                r"InstanceNorm1d with track_running_stats=False")
    for module in (cnn.InstanceNorm1d(3), torch.nn.InstanceNorm1d(3)):
        with pytest.raises(RuntimeError, match=expected):
            torch.nn.Sequential(module).load_state_dict(saved)
    # A layer that tracks them takes them, old checkpoint or not.
    ours = torch.nn.Sequential(cnn.InstanceNorm1d(3, track_running_stats=True))
    ours.load_state_dict(saved)
    torch.testing.assert_close(ours[0].running_mean, torch.full((3,), 0.5))
    # A current checkpoint (with a version) gets torch's ordinary unexpected-key error instead.
    current = tracked.state_dict()
    for module in (cnn.InstanceNorm1d(3), torch.nn.InstanceNorm1d(3)):
        with pytest.raises(RuntimeError, match="Unexpected key\\(s\\) in state_dict: \"0.running_mean\""):
            torch.nn.Sequential(module).load_state_dict(current)


def test_instancenorm_degenerate_and_mismatched_inputs_like_torch():
    for layer in (cnn.InstanceNorm1d(3), torch.nn.InstanceNorm1d(3)):
        with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
            layer(torch.randn(2, 3, 1))
        assert layer(torch.randn(0, 3, 4)).shape == (0, 3, 4)
    tracked = cnn.InstanceNorm1d(3, track_running_stats=True).eval()
    assert tracked(torch.randn(2, 3, 1)).shape == (2, 3, 1)  # running stats: one position is fine
    # affine=False leaves num_features unused: torch only warns, so do we; affine=True refuses.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cnn.InstanceNorm1d(3)(torch.randn(2, 5, 4)).shape == (2, 5, 4)
    assert any("does not match num_features" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match=r"input has 5 channels.*num_features=3 and affine=True"):
        cnn.InstanceNorm1d(3, affine=True)(torch.randn(2, 5, 4))
    with pytest.warns(UserWarning, match="does not match num_features"), pytest.raises(RuntimeError):
        torch.nn.InstanceNorm1d(3, track_running_stats=True)(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"input has 5 channels.*num_features=3 and track_running_stats=True"):
        cnn.InstanceNorm1d(3, track_running_stats=True)(torch.randn(2, 5, 4))


@pytest.mark.parametrize(
    "cls, shape",
    [
        (cnn.InstanceNorm1d, (3,)),
        (cnn.InstanceNorm1d, (2, 3, 4, 4)),
        (cnn.InstanceNorm2d, (3, 4)),
        (cnn.InstanceNorm2d, (2, 3, 4, 4, 4)),
    ],
)
def test_instancenorm_wrong_rank_is_a_value_error(cls, shape):
    with pytest.raises(ValueError):
        getattr(torch.nn, cls.__name__)(3)(torch.randn(shape))
    with pytest.raises(ValueError, match=r"expects input of shape .*or the same without N.*got a \dD input"):
        cls(3)(torch.randn(shape))


def test_instancenorm_bad_constructor_arguments():
    with pytest.raises(ValueError, match="^eps must be >= 0"):
        cnn.InstanceNorm1d(3, eps=-1e-5)
    with pytest.raises(ValueError, match="InstanceNorm1d was built with eps=0"):
        cnn.InstanceNorm1d(3, eps=0.0)(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="^num_features"):
        cnn.InstanceNorm2d(0)
    with pytest.raises(ValueError, match="^momentum"):
        cnn.InstanceNorm2d(3, momentum=2.0)


def test_family_defaults_match_torch_and_eval_equals_train_without_running_stats():
    x = _batch((2, 4, 3, 3), torch.Generator().manual_seed(4), torch.float32)
    for layer in (cnn.GroupNorm(2, 4), cnn.InstanceNorm2d(4), cnn.RMSNorm(3)):
        train_out = layer.train()(x)
        assert torch.equal(layer.eval()(x), train_out)
    assert_close(cnn.InstanceNorm2d(4)(x), torch.nn.InstanceNorm2d(4)(x), torch.float32)


@pytest.mark.parametrize("norm", ["group", "rms"])
def test_make_mlp_with_reference_family_layers_matches_torch_layers(norm):
    from course_utils.models import make_mlp

    ours = make_mlp(12, [8, 8], 3, norm=norm, groups=4, reference_layers=True, seed=0)
    theirs = make_mlp(12, [8, 8], 3, norm=norm, groups=4, reference_layers=False, seed=0)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert any(isinstance(m, (cnn.GroupNorm, cnn.RMSNorm)) for m in ours)
    ours.load_state_dict(theirs.state_dict())  # drop-in: torch's state_dict loads into ours
    x = torch.randn(5, 12, generator=torch.Generator().manual_seed(0))
    assert_close(ours(x), theirs(x), torch.float32)


@pytest.mark.parametrize("make", [lambda: cnn.GroupNorm(2, 4), lambda: cnn.RMSNorm(4), lambda: cnn.LayerNorm(4),
                                  lambda: cnn.InstanceNorm1d(4, affine=True)],
                         ids=["GroupNorm", "RMSNorm", "LayerNorm", "InstanceNorm1d"])
def test_reset_parameters_restores_gamma_one_and_beta_zero_like_torch(make):
    layer = make()
    with torch.no_grad():
        for p in layer.parameters():
            p.fill_(3.0)
    layer.reset_parameters()
    assert torch.equal(layer.weight, torch.ones(4))
    if getattr(layer, "bias", None) is not None:
        assert torch.equal(layer.bias, torch.zeros(4))
