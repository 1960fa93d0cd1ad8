"""numpy groupnorm/rmsnorm forward-backward pairs vs torch and numerical gradients; their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import numpy_layers as nl
from course_utils.gradcheck import numeric_gradient, rel_error
from tests.helpers import GREAT, torch_grads


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def gn_inputs(rng, shape, groups):
    x = rng.normal(3.0, 2.0, size=shape)
    gamma = rng.normal(1.0, 0.5, size=shape[1])
    beta = rng.normal(0.0, 1.0, size=shape[1])
    return x, gamma, beta, groups


@pytest.mark.parametrize("shape, groups", [((4, 6), 2), ((3, 6, 5), 3), ((2, 4, 3, 2), 1), ((2, 4, 3, 2), 4)])
def test_groupnorm_matches_torch_forward_and_autograd(rng, shape, groups):
    x, gamma, beta, groups = gn_inputs(rng, shape, groups)
    dout = rng.normal(size=shape)
    out, cache = nl.groupnorm_forward(x, gamma, beta, groups)
    expected = F.group_norm(torch.from_numpy(x), groups, torch.from_numpy(gamma), torch.from_numpy(beta), 1e-5)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-10, atol=1e-10)
    ours = nl.groupnorm_backward(dout, cache)
    theirs = torch_grads(lambda a, g, b: F.group_norm(a, groups, g, b, 1e-5), dout, x, gamma, beta)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_groupnorm_backward_matches_numeric_gradients(rng):
    x, gamma, beta, groups = gn_inputs(rng, (3, 4, 5), 2)
    dout = rng.normal(size=x.shape)
    dx, dgamma, dbeta = nl.groupnorm_backward(dout, nl.groupnorm_forward(x, gamma, beta, groups)[1])
    assert rel_error(dx, numeric_gradient(lambda a: nl.groupnorm_forward(a, gamma, beta, groups)[0], x, dout)) < GREAT
    assert (
        rel_error(dgamma, numeric_gradient(lambda a: nl.groupnorm_forward(x, a, beta, groups)[0], gamma, dout)) < GREAT
    )
    assert (
        rel_error(dbeta, numeric_gradient(lambda a: nl.groupnorm_forward(x, gamma, a, groups)[0], beta, dout)) < GREAT
    )


def test_groupnorm_with_one_group_is_layernorm_with_per_channel_affine(rng):
    x = rng.normal(size=(5, 6))
    ones, zeros = np.ones(6), np.zeros(6)
    np.testing.assert_allclose(nl.groupnorm_forward(x, ones, zeros, 1)[0], nl.layernorm_forward(x, ones, zeros)[0])


@pytest.mark.parametrize("shape", [(6,), (4, 6), (2, 3, 6)])
def test_rmsnorm_matches_torch_forward_and_autograd(rng, shape):
    x = rng.normal(1.0, 2.0, size=shape)
    gamma = rng.normal(1.0, 0.5, size=shape[-1])
    dout = rng.normal(size=shape)
    out, cache = nl.rmsnorm_forward(x, gamma, eps=1e-5)
    expected = F.rms_norm(torch.from_numpy(x), (shape[-1],), torch.from_numpy(gamma), 1e-5)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-10, atol=1e-10)
    ours = nl.rmsnorm_backward(dout, cache)
    theirs = torch_grads(lambda a, g: F.rms_norm(a, (shape[-1],), g, 1e-5), dout, x, gamma)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_rmsnorm_backward_matches_numeric_gradients(rng):
    x = rng.normal(1.0, 2.0, size=(4, 5))
    gamma = rng.normal(1.0, 0.5, size=5)
    dout = rng.normal(size=x.shape)
    dx, dgamma = nl.rmsnorm_backward(dout, nl.rmsnorm_forward(x, gamma)[1])
    assert rel_error(dx, numeric_gradient(lambda a: nl.rmsnorm_forward(a, gamma)[0], x, dout)) < GREAT
    assert rel_error(dgamma, numeric_gradient(lambda a: nl.rmsnorm_forward(x, a)[0], gamma, dout)) < GREAT


V = np.ones(4)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: nl.groupnorm_forward(np.ones((2, 6)), np.ones(6), np.zeros(6), 4),
            ValueError,
            r"^groups \(4\) must divide.*\[1, 2, 3, 6\]",
        ),
        (lambda: nl.groupnorm_forward(np.ones((2, 6)), np.ones(6), np.zeros(6), 0), ValueError, "^groups must be >= 1"),
        (
            lambda: nl.groupnorm_forward(np.ones(6), np.ones(6), np.zeros(6), 2),
            ValueError,
            r"^x must have shape \(N, C, ...\)",
        ),
        (
            lambda: nl.groupnorm_forward(np.ones((2, 4)), np.ones(3), np.zeros(4), 2),
            ValueError,
            r"^gamma must have shape \(4,\)",
        ),
        (lambda: nl.groupnorm_forward(np.ones((2, 4)), V, V, 2, eps=0.0), ValueError, "^eps must be > 0"),
        (lambda: nl.rmsnorm_forward(np.ones((2, 4)), V, eps=-1.0), ValueError, "^eps must be > 0"),
        (lambda: nl.rmsnorm_forward(np.ones((2, 4)), np.ones(3)), ValueError, r"^gamma must have shape \(4,\)"),
        (lambda: nl.rmsnorm_forward(np.ones((2, 4), dtype=int), V), TypeError, "^x must have a floating dtype"),
        (
            lambda: nl.rmsnorm_backward(np.ones((2, 4)), "cache"),
            TypeError,
            "^cache must be the second value returned by rmsnorm_forward",
        ),
        (
            lambda: nl.groupnorm_backward(np.ones((2, 4)), nl.rmsnorm_forward(np.ones((2, 4)), V)[1]),
            TypeError,
            "^cache must be the second value returned by groupnorm_forward",
        ),
        (
            lambda: nl.rmsnorm_backward(np.ones((3, 4)), nl.rmsnorm_forward(np.ones((2, 4)), V)[1]),
            ValueError,
            r"^dout must have shape \(2, 4\)",
        ),
    ],
)
def test_family_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
