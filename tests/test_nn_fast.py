"""The fast path of course_utils.nn's norm layers (hand-written backward) against torch.nn and against
the readable autograd path: values, gradients of input/weight/bias, running statistics."""

from __future__ import annotations

import pytest
import torch

from course_utils import models
from course_utils import nn as cnn

DTYPES = [torch.float32, torch.float64]
AFFINE_BN = {"affine": {"affine": True}, "no-affine": {"affine": False}, "no-bias": {"affine": True, "bias": False}}
AFFINE_LN = {"affine": {}, "no-affine": {"elementwise_affine": False}, "no-bias": {"bias": False}}
BN_CASES = {
    "1d-NC": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (16, 5), False),
    # >= 2**16 values: per-channel sums as matrix-vector products (the path the benchmark size takes)
    "1d-NC-large": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (512, 130), False),
    "1d-NCL": (cnn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 5, 7), False),
    "2d": (cnn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 5, 3, 6), False),
    "2d-channels_last": (cnn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 5, 3, 6), True),
}
LN_CASES = {
    "1d-single-sample": (7, (7,)),
    "2d": (7, (9, 7)),
    "3d": (6, (2, 5, 6)),
    "4d-last-two": ((4, 5), (2, 3, 4, 5)),
}


def close(actual, expected, dtype):
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    torch.testing.assert_close(actual, expected, **tol)


def triple(ours_cls, theirs_cls, *args, **kwargs):
    """torch's layer with non-trivial parameters, and two copies of ours: fast and readable."""
    generator = torch.Generator().manual_seed(1)
    theirs = theirs_cls(*args, **kwargs)
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype) * 0.5 + 1.0)
    fast, readable = ours_cls(*args, **kwargs), ours_cls(*args, **kwargs)
    fast.load_state_dict(theirs.state_dict())
    readable.load_state_dict(theirs.state_dict())
    fast.fast, readable.fast = True, False
    return fast, readable, theirs


def step_all(layers, x, gout, dtype):
    """Forward + backward through every layer; every output and gradient must equal torch's (last)."""
    results = []
    for layer in layers:
        xi = x.clone().requires_grad_(True)
        y = layer(xi)
        y.backward(gout)
        grads = [xi.grad] + [p.grad for p in layer.parameters()]
        results.append((y, grads))
        for p in layer.parameters():
            p.grad = None
    *ours, (y_ref, grads_ref) = results
    for y, grads in ours:
        assert y.shape == y_ref.shape and y.dtype == y_ref.dtype
        close(y, y_ref, dtype)
        assert len(grads) == len(grads_ref)
        for g, g_ref in zip(grads, grads_ref, strict=True):
            close(g, g_ref, dtype)
    return results


def same_buffers(layers, dtype):
    *ours, ref = layers
    for layer in ours:
        a, b = dict(layer.named_buffers()), dict(ref.named_buffers())
        assert a.keys() == b.keys()
        for name in a:
            if name == "num_batches_tracked":
                assert int(a[name]) == int(b[name])
            else:
                close(a[name], b[name], dtype)


@pytest.mark.parametrize("case", BN_CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("affine", AFFINE_BN)
@pytest.mark.parametrize("momentum,track", [(0.1, True), (None, True), (0.1, False)])
def test_batchnorm_fast_path_matches_torch_and_readable(case, dtype, affine, momentum, track):
    ours_cls, theirs_cls, shape, channels_last = BN_CASES[case]
    layers = triple(ours_cls, theirs_cls, shape[1], momentum=momentum, track_running_stats=track, dtype=dtype,
                    **AFFINE_BN[affine])
    generator = torch.Generator().manual_seed(0)

    def batch():
        x = torch.randn(shape, generator=generator, dtype=dtype) * 3.0 + 5.0
        return x.to(memory_format=torch.channels_last) if channels_last else x

    for mode in ("train", "train", "train", "eval"):
        for layer in layers:
            getattr(layer, mode)()
        results = step_all(layers, batch(), torch.randn(shape, generator=generator, dtype=dtype), dtype)
        assert results[0][0].grad_fn is not None and "BatchNormFunction" in type(results[0][0].grad_fn).__name__
        if channels_last:
            assert results[0][0].is_contiguous(memory_format=torch.channels_last)
        same_buffers(layers, dtype)


@pytest.mark.parametrize("case", LN_CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("affine", AFFINE_LN)
def test_layernorm_fast_path_matches_torch_and_readable(case, dtype, affine):
    normalized_shape, shape = LN_CASES[case]
    layers = triple(cnn.LayerNorm, torch.nn.LayerNorm, normalized_shape, dtype=dtype, **AFFINE_LN[affine])
    generator = torch.Generator().manual_seed(0)
    for mode in ("train", "eval"):
        for layer in layers:
            getattr(layer, mode)()
        x = torch.randn(shape, generator=generator, dtype=dtype) * 3.0 + 5.0
        results = step_all(layers, x, torch.randn(shape, generator=generator, dtype=dtype), dtype)
        assert "LayerNormFunction" in type(results[0][0].grad_fn).__name__


def test_layernorm_fast_path_stays_accurate_when_the_mean_dwarfs_the_spread():
    # The fast path computes its statistics from x - mean (never E[x^2] - mean^2): with mean 1000 and
    # spread 0.1, float32 keeps about as many digits as torch's own float32 kernel, measured against
    # float64 on the same inputs.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 64, generator=generator) * 0.1 + 1000.0
    dy = torch.randn(32, 64, generator=generator)
    results = []
    for layer, dtype in ((cnn.LayerNorm(64), torch.float32), (torch.nn.LayerNorm(64), torch.float32),
                         (torch.nn.LayerNorm(64, dtype=torch.float64), torch.float64)):
        layer.fast = True
        xi = x.to(dtype, copy=True).requires_grad_(True)
        y = layer(xi)
        y.backward(dy.to(dtype))
        results.append([t.detach().double() for t in (y, xi.grad, layer.weight.grad, layer.bias.grad)])
    ours, torch32, exact = results
    for name, a, b, ref in zip(("output", "input grad", "weight grad", "bias grad"), ours, torch32, exact,
                               strict=True):
        error, torch_error = (a - ref).abs().max().item(), (b - ref).abs().max().item()
        assert error <= 4 * torch_error + 1e-5, f"{name}: error {error:.1e}, torch float32 {torch_error:.1e}"


@pytest.mark.parametrize("make", [lambda: cnn.BatchNorm1d(3, dtype=torch.float64),
                                  lambda: cnn.LayerNorm(3, dtype=torch.float64)], ids=["batchnorm", "layernorm"])
def test_fast_path_passes_torch_gradcheck(make):
    layer = make()
    layer.fast = True
    with torch.no_grad():
        for param in layer.parameters():
            param.uniform_(0.5, 1.5)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, *params: layer(x), (x, *layer.parameters()))


def test_same_layer_twice_in_one_graph_and_an_expanded_upstream_gradient():
    # Two forwards before one backward: scratch buffers shared between calls must not leak into results.
    fast, readable, theirs = triple(cnn.BatchNorm1d, torch.nn.BatchNorm1d, 4, dtype=torch.float64)
    ln_fast, ln_readable, ln_theirs = triple(cnn.LayerNorm, torch.nn.LayerNorm, 4, dtype=torch.float64)
    x1, x2 = torch.randn(8, 4, dtype=torch.float64), torch.randn(8, 4, dtype=torch.float64) * 2 + 1
    grads = []
    for bn, ln in ((fast, ln_fast), (readable, ln_readable), (theirs, ln_theirs)):
        a, b = x1.clone().requires_grad_(True), x2.clone().requires_grad_(True)
        (ln(bn(a)) * 2 + ln(bn(b)) ** 2).sum().backward()  # sum(): dy is an expanded (stride 0) tensor
        grads.append([a.grad, b.grad] + [p.grad for p in (*bn.parameters(), *ln.parameters())])
    for ours in grads[:2]:
        for g, g_ref in zip(ours, grads[2], strict=True):
            close(g, g_ref, torch.float64)


def test_fast_path_switch_selects_and_restores_and_layer_attribute_wins():
    bn, ln = cnn.BatchNorm1d(3), cnn.LayerNorm(3)
    x = torch.randn(4, 3, requires_grad=True)

    def names():
        return [type(layer(x).grad_fn).__name__ for layer in (bn, ln)]

    assert not cnn.fast_path_enabled() and not any("Function" in n for n in names())
    with cnn.fast_path():
        assert cnn.fast_path_enabled(bn)
        assert all("Function" in n for n in names())
        with cnn.fast_path(False):
            assert not any("Function" in n for n in names())
        assert all("Function" in n for n in names())
        bn.fast = False  # pinned: ignores the switch
        assert "Function" not in names()[0]
    assert not cnn.fast_path_enabled()
    with pytest.raises(KeyError), cnn.fast_path():
        raise KeyError("an error inside the block still restores the switch")
    assert not cnn.fast_path_enabled()
    cnn.set_fast_path(True)
    try:
        assert "Function" in names()[1]
    finally:
        cnn.set_fast_path(False)
    with pytest.raises(TypeError, match="enabled"):
        cnn.fast_path("yes")


@pytest.mark.parametrize("cls,args", [(cnn.BatchNorm1d, (3,)), (cnn.BatchNorm2d, (3,)), (cnn.LayerNorm, ((2, 3),))])
def test_fast_attribute_changes_neither_repr_nor_state_dict(cls, args):
    plain, fast = cls(*args), cls(*args)
    fast.fast = True
    assert repr(plain) == repr(fast)
    assert list(plain.state_dict()) == list(fast.state_dict())
    assert "fast" not in fast.state_dict()


def test_double_backward_on_the_fast_path_is_a_clear_error_and_works_on_the_readable_path():
    for name, layer in (("BatchNorm", cnn.BatchNorm1d(3, dtype=torch.float64)),
                        ("LayerNorm", cnn.LayerNorm(3, dtype=torch.float64))):
        x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
        layer.fast = False
        (gx,) = torch.autograd.grad((layer(x) ** 3).sum(), x, create_graph=True)
        gx.sum().backward()  # readable path: fine
        layer.fast = True
        (gx_fast,) = torch.autograd.grad((layer(x) ** 3).sum(), x, create_graph=True)
        close(gx_fast, gx, torch.float64)  # first derivatives are still right
        with pytest.raises(RuntimeError, match=rf"fast path of course_utils\.nn's {name} .*double backward"
                                               r".*layer\.fast = False"):
            gx_fast.sum().backward()


def test_fast_path_keeps_the_readable_errors():
    bn = cnn.BatchNorm1d(3)
    bn.fast = True
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(torch.randn(1, 3))
    bn.eval()
    assert bn(torch.randn(1, 3)).shape == (1, 3)  # eval: running statistics, a single sample is fine


def test_make_mlp_fast_pins_the_reference_norm_layers_and_trains_identically():
    fast = models.make_mlp(6, [8, 8], 3, norm="batch", dropout=0.2, reference_layers=True, fast=True, seed=0)
    readable = models.make_mlp(6, [8, 8], 3, norm="batch", dropout=0.2, reference_layers=True, seed=0)
    norms = [m for m in fast if isinstance(m, cnn.BatchNorm1d)]
    assert len(norms) == 2 and all(m.fast for m in norms)
    assert repr(fast) == repr(readable)
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    for model in (fast, readable):
        torch.manual_seed(0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for a, b in zip(fast.state_dict().values(), readable.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    layer_model = models.make_mlp(6, [8], 3, norm="layer", reference_layers=True, fast=True)
    assert any(isinstance(m, cnn.LayerNorm) and m.fast for m in layer_model)


def test_make_mlp_fast_needs_reference_layers():
    with pytest.raises(ValueError, match="reference_layers=True"):
        models.make_mlp(4, [4], 2, norm="batch", fast=True)
    with pytest.raises(TypeError, match="fast"):
        models.make_mlp(4, [4], 2, fast="yes")
