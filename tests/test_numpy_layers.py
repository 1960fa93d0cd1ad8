"""course_utils.numpy_layers: hand-derived backward passes vs torch autograd and numerical gradients."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from course_utils import numpy_layers
from course_utils import numpy_layers as nl
from course_utils.gradcheck import numeric_gradient, rel_error
from tests.helpers import GREAT, torch_grads

# cs231n: below 1e-7 the analytic gradient is right (float64, smooth function).


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def bn_inputs(rng, n=8, d=5):
    x = rng.normal(3.0, 2.0, size=(n, d))
    gamma = rng.normal(1.0, 0.5, size=d)
    beta = rng.normal(0.0, 1.0, size=d)
    return x, gamma, beta


# --------------------------------------------------------------------------------------------- dropout


def test_dropout_forward_zeroes_about_p_and_scales_survivors(rng):
    p = 0.3
    x = rng.uniform(0.5, 1.5, size=(400, 500))
    out, _ = nl.dropout_forward(x, p, rng=rng)
    dropped = out == 0
    assert abs(dropped.mean() - p) < 5 * np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p), rtol=1e-15)


def test_dropout_eval_and_p_zero_are_the_identity(rng):
    x = rng.normal(size=(4, 6))
    for out, cache in (nl.dropout_forward(x, 0.5, training=False), nl.dropout_forward(x, 0.0, rng=rng)):
        np.testing.assert_array_equal(out, x)
        dout = rng.normal(size=x.shape)
        np.testing.assert_array_equal(nl.dropout_backward(dout, cache), dout)


def test_dropout_seed_and_generator_give_the_same_mask(rng):
    x = rng.normal(size=(20, 20))
    out_seed, _ = nl.dropout_forward(x, 0.5, rng=42)
    out_gen, _ = nl.dropout_forward(x, 0.5, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(out_seed, out_gen)
    out_other, _ = nl.dropout_forward(x, 0.5, rng=43)
    assert not np.array_equal(out_seed, out_other)


def test_dropout_backward_matches_numeric_gradient_and_passes_only_kept_units(rng):
    x = rng.normal(size=(6, 7))
    dout = rng.normal(size=x.shape)
    out, cache = nl.dropout_forward(x, 0.4, rng=7)
    dx = nl.dropout_backward(dout, cache)
    # Same seed on every call: the numerical derivative sees the same mask as the analytic one.
    numeric = numeric_gradient(lambda x: nl.dropout_forward(x, 0.4, rng=7)[0], x, dout)
    assert rel_error(dx, numeric) < GREAT
    np.testing.assert_array_equal(dx[out == 0], 0.0)
    np.testing.assert_allclose(dx[out != 0], dout[out != 0] / 0.6, rtol=1e-15)


@settings(max_examples=15, deadline=None)
@given(
    p=st.floats(0.0, 0.9),
    x=hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(-10, 10)),
    seed=st.integers(0, 2**16),
)
def test_dropout_is_unbiased(p, x, seed):
    reps = 20_000
    out, _ = nl.dropout_forward(np.tile(x, (reps, 1)), p, rng=seed)
    # Plus a little slack for the rounding error of averaging 20 000 floats.
    bound = 6 * np.abs(x) * np.sqrt(p / (1 - p)) / np.sqrt(reps) + 1e-9 * np.abs(x) + 1e-12
    assert np.all(np.abs(out.mean(axis=0) - x) <= bound)


# ------------------------------------------------------------------------------------------- batchnorm


@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_batchnorm_forward_and_running_arrays_match_torch_functional(rng, momentum):
    _, gamma, beta = bn_inputs(rng)
    rm, rv = rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    for step in range(3):
        x = rng.normal(step, 2.0, size=(8, 5))
        out, _ = nl.batchnorm_forward(x, gamma, beta, rm, rv, momentum=momentum)
        expected = F.batch_norm(
            torch.tensor(x), trm, trv, torch.tensor(gamma), torch.tensor(beta), True, momentum, 1e-5
        )
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12, atol=1e-12)
        # In place: the very arrays we passed now hold the same values as torch's buffers.
        np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-14, atol=1e-15)

    x = rng.normal(size=(3, 5))
    before = rm.copy(), rv.copy()
    out, _ = nl.batchnorm_forward(x, gamma, beta, rm, rv, training=False)
    expected = F.batch_norm(torch.tensor(x), trm, trv, torch.tensor(gamma), torch.tensor(beta), False, 0.1)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(rm, before[0])
    np.testing.assert_array_equal(rv, before[1])


def test_batchnorm_forward_keeps_float32(rng):
    x, gamma, beta = (a.astype(np.float32) for a in bn_inputs(rng))
    out, _ = nl.batchnorm_forward(x, gamma, beta, np.zeros(5, np.float32), np.ones(5, np.float32))
    assert out.dtype == np.float32


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("backward", [nl.batchnorm_backward, nl.batchnorm_backward_naive])
def test_batchnorm_backward_matches_torch_autograd(rng, training, backward):
    x, gamma, beta = bn_inputs(rng)
    rm, rv = rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)
    dout = rng.normal(size=x.shape)
    _, cache = nl.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training=training)
    grads = backward(dout, cache)
    expected = torch_grads(
        lambda x, g, b: F.batch_norm(x, torch.tensor(rm), torch.tensor(rv), g, b, training),
        dout,
        x,
        gamma,
        beta,
    )
    for name, ours, theirs in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        assert rel_error(ours, theirs) < 1e-9, name


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_backward_matches_numeric_gradients(rng, training):
    x, gamma, beta = bn_inputs(rng)
    rm, rv = rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)
    dout = rng.normal(size=x.shape)
    _, cache = nl.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training=training)
    dx, dgamma, dbeta = nl.batchnorm_backward(dout, cache)

    def forward(x=x, gamma=gamma, beta=beta):
        return nl.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training=training)[0]

    assert rel_error(dx, numeric_gradient(lambda a: forward(x=a), x, dout)) < GREAT
    assert rel_error(dgamma, numeric_gradient(lambda a: forward(gamma=a), gamma, dout)) < GREAT
    assert rel_error(dbeta, numeric_gradient(lambda a: forward(beta=a), beta, dout)) < GREAT


def test_batchnorm_naive_and_compact_backward_agree(rng):
    x, gamma, beta = bn_inputs(rng, n=32, d=10)
    dout = rng.normal(size=x.shape)
    _, cache = nl.batchnorm_forward(x, gamma, beta, np.zeros(10), np.ones(10))
    for compact, naive in zip(
        nl.batchnorm_backward(dout, cache), nl.batchnorm_backward_naive(dout, cache), strict=True
    ):
        assert rel_error(compact, naive) < 1e-10


@settings(max_examples=25, deadline=None)
@given(
    x=hnp.arrays(np.float64, st.tuples(st.integers(2, 8), st.integers(1, 4)), elements=st.floats(-10, 10)),
    seed=st.integers(0, 2**16),
)
def test_batchnorm_backward_matches_autograd_for_any_shape(x, seed):
    assume(x.var(axis=0).min() > 1e-2)
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    gamma, beta, dout = rng.normal(size=d), rng.normal(size=d), rng.normal(size=x.shape)
    out, cache = nl.batchnorm_forward(x, gamma, beta, np.zeros(d), np.ones(d))
    np.testing.assert_allclose(((out - beta) / gamma).mean(axis=0), 0.0, atol=1e-9)
    expected = torch_grads(lambda x, g, b: F.batch_norm(x, None, None, g, b, True), dout, x, gamma, beta)
    for ours, theirs in zip(nl.batchnorm_backward(dout, cache), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------------------------------- layernorm


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5), (5,)])
def test_layernorm_matches_torch_forward_and_autograd(rng, shape):
    x = rng.normal(2.0, 3.0, size=shape)
    gamma, beta = rng.normal(1.0, 0.5, size=5), rng.normal(size=5)
    dout = rng.normal(size=shape)
    out, cache = nl.layernorm_forward(x, gamma, beta)
    expected = F.layer_norm(torch.tensor(x), (5,), torch.tensor(gamma), torch.tensor(beta), 1e-5)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12, atol=1e-12)
    grads = nl.layernorm_backward(dout, cache)
    expected_grads = torch_grads(lambda x, g, b: F.layer_norm(x, (5,), g, b, 1e-5), dout, x, gamma, beta)
    for name, ours, theirs in zip(("dx", "dgamma", "dbeta"), grads, expected_grads, strict=True):
        assert rel_error(ours, theirs) < 1e-9, name


def test_layernorm_backward_matches_numeric_gradients(rng):
    x = rng.normal(size=(4, 6))
    gamma, beta = rng.normal(1.0, 0.5, size=6), rng.normal(size=6)
    dout = rng.normal(size=x.shape)
    dx, dgamma, dbeta = nl.layernorm_backward(dout, nl.layernorm_forward(x, gamma, beta)[1])
    assert rel_error(dx, numeric_gradient(lambda a: nl.layernorm_forward(a, gamma, beta)[0], x, dout)) < GREAT
    assert (
        rel_error(dgamma, numeric_gradient(lambda a: nl.layernorm_forward(x, a, beta)[0], gamma, dout))
        < GREAT
    )
    assert (
        rel_error(dbeta, numeric_gradient(lambda a: nl.layernorm_forward(x, gamma, a)[0], beta, dout)) < GREAT
    )


# ------------------------------------------------------------------------------------------- bad input

X = np.ones((4, 3))
V = np.ones(3)


def bn(**overrides):
    args = {"x": X, "gamma": V, "beta": V, "running_mean": V.copy(), "running_var": V.copy()}
    return nl.batchnorm_forward(**{**args, **overrides})


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: nl.dropout_forward([1.0, 2.0], 0.5), TypeError, "^x must be a numpy array"),
        (lambda: nl.dropout_forward(np.ones(3, dtype=int), 0.5), TypeError, "^x must have a floating dtype"),
        (lambda: nl.dropout_forward(X, 1.0), ValueError, r"^p must be in \[0, 1\)"),
        (lambda: nl.dropout_forward(X, -0.1), ValueError, r"^p must be in \[0, 1\)"),
        (lambda: nl.dropout_forward(X, "0.5"), TypeError, "^p must be a number"),
        (lambda: nl.dropout_forward(X, 0.5, training=1), TypeError, "^training must be True or False"),
        (lambda: nl.dropout_forward(X, 0.5, rng="seed"), TypeError, "^rng must be a np.random.Generator"),
        (lambda: nl.dropout_forward(X, 0.5, rng=np.random.RandomState(0)), TypeError, "^rng must be"),
        (lambda: bn(x=V), ValueError, "^x must have 2 dimensions"),
        (lambda: bn(x=np.ones((4, 3, 2))), ValueError, "^x must have 2 dimensions"),
        (lambda: bn(x=np.ones((4, 3), dtype=np.int64)), TypeError, "^x must have a floating dtype"),
        (lambda: bn(x=np.ones((4, 4))), ValueError, r"^gamma must have shape \(4,\)"),
        (lambda: bn(beta=np.ones(2)), ValueError, r"^beta must have shape \(3,\)"),
        (lambda: bn(running_mean=np.ones(4)), ValueError, r"^running_mean must have shape \(3,\)"),
        (lambda: bn(running_var=[1.0, 1.0, 1.0]), TypeError, "^running_var must be a numpy array"),
        (lambda: bn(running_var=np.ones(3, dtype=int)), TypeError, "^running_var must have a floating dtype"),
        (lambda: bn(gamma=np.ones((1, 3))), ValueError, r"^gamma must have shape \(3,\)"),
        (lambda: bn(x=np.ones((1, 3))), ValueError, "Expected more than 1 value per feature.*x of shape"),
        (lambda: bn(momentum=1.5), ValueError, r"^momentum must be in \[0, 1\]"),
        (lambda: bn(momentum=None), TypeError, "^momentum must be a number"),
        (lambda: bn(eps=-1.0), ValueError, "^eps must be >= 0"),
        (lambda: bn(training="yes"), TypeError, "^training must be True or False"),
        (lambda: nl.layernorm_forward(np.float64(1.0), V[:1], V[:1]), TypeError, "^x must be a numpy array"),
        (lambda: nl.layernorm_forward(np.array(1.0), V[:1], V[:1]), ValueError, "^x must have at least 1"),
        (lambda: nl.layernorm_forward(X.astype(int), V, V), TypeError, "^x must have a floating dtype"),
        (lambda: nl.layernorm_forward(np.ones((4, 5)), V, V), ValueError, r"^gamma must have shape \(5,\)"),
        (lambda: nl.layernorm_forward(X, V, np.ones(4)), ValueError, r"^beta must have shape \(3,\)"),
        (lambda: nl.layernorm_forward(X, V, V, eps="small"), TypeError, "^eps must be a number"),
    ],
)
def test_forward_bad_input_names_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_read_only_running_array_is_refused_before_anything_changes():
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="^running_var must be writeable"):
        bn(running_var=frozen)


@pytest.mark.parametrize(
    "backward, forward",
    [
        (nl.dropout_backward, lambda: nl.dropout_forward(X, 0.5, rng=0)),
        (nl.batchnorm_backward, lambda: bn()),
        (nl.batchnorm_backward_naive, lambda: bn()),
        (nl.layernorm_backward, lambda: nl.layernorm_forward(X, V, V)),
    ],
    ids=lambda f: getattr(f, "__name__", ""),
)
def test_backward_bad_input_names_the_argument(backward, forward):
    _, cache = forward()
    with pytest.raises(ValueError, match=r"^dout must have shape \(4, 3\)"):
        backward(np.ones((3, 4)), cache)
    with pytest.raises(TypeError, match="^dout must have a floating dtype"):
        backward(np.ones((4, 3), dtype=int), cache)
    with pytest.raises(TypeError, match="^dout must be a numpy array"):
        backward(X.tolist(), cache)
    with pytest.raises(TypeError, match="^cache must be the second value returned by"):
        backward(X, tuple(cache)[:2])


# ---------- moved here by subject: tests written against mutants that survived `make mutation`


def test_dropout_with_p_zero_is_the_identity_without_drawing_a_mask():
    rng = np.random.default_rng(0)
    out, cache = numpy_layers.dropout_forward(np.ones((2, 3)), 0.0, rng=rng)
    assert cache.mask is None and cache.p == 0.0 and cache.training and cache.shape == (2, 3)
    assert rng.random() == np.random.default_rng(0).random()  # no random number was drawn
    np.testing.assert_array_equal(out, np.ones((2, 3)))
    out, cache = numpy_layers.dropout_forward(np.ones((2, 3)), 0.5, training=False)
    assert cache.mask is None and cache.p == 0.5 and not cache.training


def test_dropout_rng_argument_forms():
    with pytest.raises(TypeError, match=r"^rng must be a np.random.Generator, an int seed or None, got str\."):
        numpy_layers.dropout_forward(np.ones(3), 0.5, rng="0")
    with pytest.raises(TypeError, match=r"got bool"):
        numpy_layers.dropout_forward(np.ones(3), 0.5, rng=True)
    a, _ = numpy_layers.dropout_forward(np.ones(50), 0.5, rng=np.int64(4))
    b, _ = numpy_layers.dropout_forward(np.ones(50), 0.5, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)


def test_numpy_dropout_keeps_float32():
    out, cache = numpy_layers.dropout_forward(np.ones((4, 4), dtype=np.float32), 0.5, rng=0)
    assert out.dtype == np.float32 and cache.mask.dtype == np.float32
    assert cache.p == 0.5 and cache.training is True


# ---------- moved here by subject: tests written against inputs that used to give a silent wrong result


def test_numpy_batchnorm_on_an_empty_batch_leaves_the_callers_running_arrays():
    rm, rv = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    gamma, beta = np.ones(2), np.zeros(2)
    out, cache = numpy_layers.batchnorm_forward(np.empty((0, 2)), gamma, beta, rm, rv, training=True)
    assert out.shape == (0, 2)
    assert rm.tolist() == [0.5, -1.0] and rv.tolist() == [2.0, 3.0]
    for backward in (numpy_layers.batchnorm_backward, numpy_layers.batchnorm_backward_naive):
        dx, dgamma, dbeta = backward(np.empty((0, 2)), cache)
        assert dx.shape == (0, 2) and dgamma.tolist() == [0.0, 0.0] and dbeta.tolist() == [0.0, 0.0]


def test_numpy_batchnorm_refuses_eps_zero_in_training_only():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="eps must be positive during training"):
        numpy_layers.batchnorm_forward(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), eps=0.0)
    out, _ = numpy_layers.batchnorm_forward(
        x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), training=False, eps=0.0
    )
    assert np.isfinite(out).all()
