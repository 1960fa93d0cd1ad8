"""course_utils.gradcheck: rel_error, numeric_gradient, check_gradient; a wrong backward is caught."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import numpy_layers as nl
from course_utils.gradcheck import GradientCheckError, check_gradient, numeric_gradient, rel_error


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------------------------------- rel_error


def test_rel_error_is_the_worst_elementwise_relative_difference():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    assert rel_error(np.array([1.0, -3.0]), np.array([1.0, -3.0])) == 0.0
    assert rel_error(2.0, 1.0) == pytest.approx(1 / 3)
    assert rel_error(np.array([5.0, 0.0]), np.array([4.0, 1.0])) == pytest.approx(1.0)  # 0 vs 1 dominates


def test_rel_error_floor_keeps_tiny_values_from_exploding():
    # Both (almost) zero: the 1e-8 floor turns a 1e-12 difference into 1e-4, not 1.
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)
    assert isinstance(rel_error(np.zeros(3), np.zeros(3)), float)


@pytest.mark.parametrize(
    "x, y, error, pattern",
    [
        (np.ones(3), np.ones(4), ValueError, r"x and y must have the same shape, got x \(3,\) and y \(4,\)"),
        ([1.0], np.ones(1), TypeError, "^x must be a numpy array or a number"),
        (np.ones(1), "1", TypeError, "^y must be a numpy array or a number"),
        (True, 1.0, TypeError, "^x must be"),
    ],
)
def test_rel_error_bad_input(x, y, error, pattern):
    with pytest.raises(error, match=pattern):
        rel_error(x, y)


# ------------------------------------------------------------------------------------ numeric_gradient


def test_numeric_gradient_of_a_scalar_function(rng):
    x = rng.normal(size=(3, 4))
    grad = numeric_gradient(lambda x: np.sum(x**3), x)
    # Truncation error of central differences is h^2 f'''/6 = 1e-10 here, relative to x^2 as small as 5e-3.
    assert rel_error(grad, 3 * x**2) < 1e-7


def test_numeric_gradient_with_dout_is_the_vector_jacobian_product(rng):
    a = rng.normal(size=(5, 3))
    x = rng.normal(size=3)
    dout = rng.normal(size=5)
    assert rel_error(numeric_gradient(lambda x: a @ x, x, dout), a.T @ dout) < 1e-8
    # Without dout an array-valued f is summed (dout = ones).
    assert rel_error(numeric_gradient(lambda x: a @ x, x), a.sum(axis=0)) < 1e-8


def test_numeric_gradient_copes_with_f_returning_x_itself(rng):
    # An implementation keeping f's outputs around would see them change with every perturbation of x.
    x = rng.normal(size=(2, 3))
    dout = rng.normal(size=(2, 3))
    assert rel_error(numeric_gradient(lambda x: x, x, dout), dout) < 1e-8


def test_numeric_gradient_restores_x_even_when_f_fails(rng):
    x = rng.normal(size=(2, 2))
    original = x.copy()
    numeric_gradient(lambda x: np.sum(np.sin(x)), x)
    np.testing.assert_array_equal(x, original)

    calls = []

    def flaky(x):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return x.sum()

    with pytest.raises(RuntimeError, match="boom"):
        numeric_gradient(flaky, x)
    np.testing.assert_array_equal(x, original)


def test_numeric_gradient_warns_for_float32(rng):
    with pytest.warns(UserWarning, match="float32.*only reliable in float64"):
        numeric_gradient(lambda x: x.sum(), rng.normal(size=3).astype(np.float32))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"f": "sum"}, TypeError, "^f must be a callable"),
        ({"x": [1.0, 2.0]}, TypeError, "^x must be a numpy array"),
        ({"x": np.ones(2, dtype=int)}, TypeError, "^x must have a floating dtype"),
        ({"h": 0.0}, ValueError, "^h must be > 0"),
        ({"h": "1e-5"}, TypeError, "^h must be a number"),
        ({"dout": np.ones(3)}, ValueError, r"^dout must have the shape of f\(x\), \(2,\)"),
        ({"dout": np.ones(2, dtype=int)}, TypeError, "^dout must have a floating dtype"),
    ],
)
def test_numeric_gradient_bad_input(kwargs, error, pattern):
    args = {"f": lambda x: 2 * x, "x": np.ones(2), **kwargs}
    with pytest.raises(error, match=pattern):
        numeric_gradient(**args)


# ------------------------------------------------------------------------------------- check_gradient


def batchnorm_problem(rng, n=10, d=4):
    x = rng.normal(2.0, 1.5, size=(n, d))
    gamma, beta = rng.normal(1.0, 0.3, size=d), rng.normal(size=d)
    dout = rng.normal(size=x.shape)

    def forward(x):
        return nl.batchnorm_forward(x, gamma, beta, np.zeros(d), np.ones(d))[0]

    _, cache = nl.batchnorm_forward(x, gamma, beta, np.zeros(d), np.ones(d))
    return x, dout, forward, cache


def test_check_gradient_accepts_the_correct_batchnorm_backward(rng):
    x, dout, forward, cache = batchnorm_problem(rng)
    dx, _, _ = nl.batchnorm_backward(dout, cache)
    assert check_gradient(forward, x, dx, dout) < 1e-7


def wrong_dx_without_variance_term(dout, cache):
    # Forgets that x also moves the batch variance: drops - x_hat * sum(dout * x_hat).
    n = dout.shape[0]
    return (1.0 / n) * cache.gamma * cache.inv_std * (n * dout - dout.sum(axis=0))


def wrong_dx_without_mean_term(dout, cache):
    # Forgets that x also moves the batch mean: drops - sum(dout).
    n = dout.shape[0]
    x_hat = cache.x_hat
    return (1.0 / n) * cache.gamma * cache.inv_std * (n * dout - x_hat * (dout * x_hat).sum(axis=0))


def wrong_dx_treating_statistics_as_constants(dout, cache):
    return dout * cache.gamma * cache.inv_std


@pytest.mark.parametrize(
    "wrong_backward",
    [wrong_dx_without_variance_term, wrong_dx_without_mean_term, wrong_dx_treating_statistics_as_constants],
)
def test_gradient_check_catches_a_batchnorm_backward_with_a_missing_term(rng, wrong_backward):
    x, dout, forward, cache = batchnorm_problem(rng)
    wrong = wrong_backward(dout, cache)
    assert rel_error(wrong, numeric_gradient(forward, x, dout)) > 1e-2  # cs231n: "> 1e-2 is a bug"
    with pytest.raises(GradientCheckError, match=r"gradient check for x failed: .*almost certainly wrong"):
        check_gradient(forward, x, wrong, dout)


def test_gradient_check_catches_dropout_backward_without_rescaling(rng):
    x = rng.normal(size=(5, 5))
    dout = rng.normal(size=x.shape)
    out, cache = nl.dropout_forward(x, 0.5, rng=3)
    unscaled = dout * (cache.mask != 0)  # forgot the 1 / (1 - p)
    with pytest.raises(GradientCheckError, match=r"Worst element \(\d, \d\): analytic .* numeric"):
        check_gradient(lambda x: nl.dropout_forward(x, 0.5, rng=3)[0], x, unscaled, dout)
    assert check_gradient(
        lambda x: nl.dropout_forward(x, 0.5, rng=3)[0], x, nl.dropout_backward(dout, cache), dout
    )


def test_check_gradient_fails_on_nan_analytic_gradient(rng):
    x = rng.normal(size=3)
    with pytest.raises(GradientCheckError, match="for w failed"):
        check_gradient(lambda x: np.sum(x**2), x, np.full(3, np.nan), name="w")


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"tol": 0.0}, ValueError, "^tol must be > 0"),
        ({"tol": "tight"}, TypeError, "^tol must be a number"),
        ({"analytic": np.ones(4)}, ValueError, r"^analytic must have the shape of x, \(3,\)"),
        ({"analytic": [1.0, 1.0, 1.0]}, TypeError, "^analytic must be a numpy array"),
    ],
)
def test_check_gradient_bad_input(kwargs, error, pattern):
    args = {"f": lambda x: np.sum(x), "x": np.ones(3), "analytic": np.ones(3), **kwargs}
    with pytest.raises(error, match=pattern):
        check_gradient(**args)
