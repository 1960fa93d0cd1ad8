"""course_utils.gradcheck: rel_error, numeric_gradient, check_gradient; a wrong backward is caught."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from course_utils import gradcheck
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


# ---------- moved here by subject: tests written against mutants that survived `make mutation`


def test_float32_warning_points_at_the_callers_line():
    # stacklevel=2: the warning names the caller's line, not gradcheck.py (under mutmut a trampoline frame sits
    # in between, so the test only asserts "not inside gradcheck.py")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradcheck.numeric_gradient(np.sum, np.ones(2, dtype=np.float32))
    assert caught and Path(caught[0].filename).resolve() != Path(gradcheck.__file__).resolve()
    assert "Use x.astype(np.float64)" in str(caught[0].message)


def test_a_nan_inside_x_is_not_mistaken_for_a_change_of_x():
    # equal_nan=True: NaN != NaN would otherwise look like "f changed x in place"
    grad = gradcheck.numeric_gradient(lambda v: np.nansum(v[1:]), np.array([np.nan, 1.0, 2.0]))
    np.testing.assert_allclose(grad, [0.0, 1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("result", ["one", (np.ones(2), "cache")], ids=["string", "out-and-cache"])
def test_a_non_numeric_result_of_f_is_explained(result):
    with pytest.raises(TypeError, match=r"f must return a number or a numeric array.*pick the output"):
        gradcheck.numeric_gradient(lambda v: result, np.ones(2))


def test_one_sided_non_finite_values_are_an_error():
    # log(x - h) is NaN at x = h / 2 while log(x + h) is finite: either side must stop the check
    with np.errstate(invalid="ignore"), pytest.raises(ValueError, match=r"f returned NaN or inf near x\(0,\)"):
        gradcheck.numeric_gradient(lambda v: np.log(v).sum(), np.array([5e-6]))


def test_check_gradient_uses_the_given_step_size():
    # d/dx sum(x^3) by central differences is exactly 3x^2 + h^2: with h = 0.1 that is off by 0.01
    x = np.array([1.0, 2.0])
    assert gradcheck.check_gradient(lambda v: (v**3).sum(), x, 3 * x**2 + 0.01, h=0.1, tol=1e-9) < 1e-9


def test_check_gradient_passes_at_exactly_the_tolerance():
    x = np.array([1.0, 2.0])
    analytic = 2 * x * 1.001
    error = gradcheck.rel_error(analytic, gradcheck.numeric_gradient(lambda v: (v**2).sum(), x))
    assert gradcheck.check_gradient(lambda v: (v**2).sum(), x, analytic, tol=error) == error


def test_check_gradient_reports_the_worst_element_by_relative_error():
    # numbers chosen so that every plausible slip in the ratio's formula picks another element
    # (the worst element is not the first one: np.nanargmax(None) would say 0)
    c = np.array([100.0, 1e-3, -2.0])
    with pytest.raises(gradcheck.GradientCheckError) as info:
        gradcheck.check_gradient(lambda v: (c * v).sum(), np.ones(3), np.array([90.0, -1e-3, -2.0]), name="w")
    message = str(info.value)
    assert message.startswith("gradient check for w failed: relative error 1 > tol 1e-07")
    assert "Worst element (1,): analytic -0.001, numeric 0.001." in message
    assert "(the backward pass is almost certainly wrong)" in message


def test_a_small_error_is_called_suspicious():
    x = np.array([1.0, 2.0])
    with pytest.raises(gradcheck.GradientCheckError, match=r"\(suspicious\)"):
        gradcheck.check_gradient(lambda v: (v**2).sum(), x, 2 * x * 1.001)


def test_rel_error_names_the_bad_argument_and_its_type():
    with pytest.raises(TypeError, match=r"^y must be a numpy array or a number, got str\.$"):
        gradcheck.rel_error(np.ones(2), "2")
    with pytest.raises(TypeError, match=r"^f must be a callable taking x, got int\.$"):
        gradcheck.numeric_gradient(3, np.ones(2))
    with pytest.raises(TypeError, match=r"^name must be a string .* got int\.$"):
        gradcheck.check_gradient(np.sum, np.ones(2), np.ones(2), name=3)


# ---------- moved here by subject: tests written against inputs that used to give a silent wrong result


def test_numeric_gradient_of_a_function_returning_none_is_an_error_not_nan():
    with pytest.raises(TypeError, match="f returned None.*return"):
        gradcheck.numeric_gradient(lambda x: None, np.ones(3))


def test_numeric_gradient_refuses_a_function_that_mutates_x_and_restores_x():
    x = np.array([1.0, 2.0, 3.0])

    def doubling_in_place(v):
        v *= 2
        return v.sum()

    with pytest.raises(ValueError, match="f changed x in place"):
        gradcheck.numeric_gradient(doubling_in_place, x)
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_numeric_gradient_of_a_non_finite_function_is_an_error():
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(ValueError, match="f returned NaN or inf"):
        gradcheck.numeric_gradient(lambda x: np.log(x).sum(), np.array([1.0, 0.0]))


def test_a_nan_relative_error_is_labelled_wrong_not_suspicious():
    x = np.array([1.0, 2.0])
    with pytest.raises(gradcheck.GradientCheckError, match="almost certainly wrong"):
        gradcheck.check_gradient(lambda v: (v**2).sum(), x, np.array([np.nan, 4.0]))


def test_check_gradient_default_tolerance_refuses_a_gradient_one_part_in_a_thousand_off():
    """Planted bug: check_gradient's default tol loosened from 1e-7 to 1e-2."""
    x = np.array([0.3, -1.2, 2.0])
    almost = 2 * x * 1.001  # 0.1 % off: a missing small term, rel error ~5e-4
    with pytest.raises(gradcheck.GradientCheckError, match="tol 1e-07"):
        gradcheck.check_gradient(lambda v: (v**2).sum(), x, almost)
    assert gradcheck.check_gradient(lambda v: (v**2).sum(), x, 2 * x) < 1e-9
