"""Issue #9: inputs that used to give a silent wrong result, and the bugs the old tests let through.

Each test here failed on the code before the fix (or on a planted one-line bug named in its docstring).
The table of bad inputs that must raise a clear error is tests/test_bad_inputs.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import data, gradcheck, models, numpy_layers, train
from course_utils import nn as cnn
from course_utils.diagnostics import ActivationRecorder
from course_utils.exercises import ExerciseError, call_learner

# ------------------------------------------------------------------------------- BatchNorm: empty batch

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


def test_numpy_batchnorm_on_an_empty_batch_leaves_the_callers_running_arrays():
    rm, rv = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    gamma, beta = np.ones(2), np.zeros(2)
    out, cache = numpy_layers.batchnorm_forward(np.empty((0, 2)), gamma, beta, rm, rv, training=True)
    assert out.shape == (0, 2)
    assert rm.tolist() == [0.5, -1.0] and rv.tolist() == [2.0, 3.0]
    for backward in (numpy_layers.batchnorm_backward, numpy_layers.batchnorm_backward_naive):
        dx, dgamma, dbeta = backward(np.empty((0, 2)), cache)
        assert dx.shape == (0, 2) and dgamma.tolist() == [0.0, 0.0] and dbeta.tolist() == [0.0, 0.0]


# ------------------------------------------------------------------------------------ eps <= 0 in training


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


def test_numpy_batchnorm_refuses_eps_zero_in_training_only():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="eps must be positive during training"):
        numpy_layers.batchnorm_forward(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), eps=0.0)
    out, _ = numpy_layers.batchnorm_forward(
        x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), training=False, eps=0.0
    )
    assert np.isfinite(out).all()


# -------------------------------------------------------------------------------- flags and numbers


def test_standardize_flag_accepts_booleans_only():
    with pytest.raises(TypeError, match="standardize must be True or False"):
        data.load_wine(standardize="no")  # used to standardize: any non-empty string is true


def test_negative_standardizer_eps_is_refused():
    with pytest.raises(ValueError, match="eps must be >= 0"):
        data.Standardizer(eps=-1)


def test_standardizer_with_eps_zero_refuses_a_constant_feature():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    with pytest.raises(ValueError, match=r"constant feature\(s\) \[1\].*eps"):
        data.Standardizer(eps=0).fit(X)


def test_negative_blob_spread_and_out_of_range_momentum_are_refused():
    with pytest.raises(ValueError, match="spread must be >= 0"):
        data.make_blobs(spread=-1)
    split = data.make_blobs(n_samples=60, seed=0)
    for momentum in (5, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
            train.train(models.make_mlp(2, [], 3), split, steps=1, momentum=momentum, progress=False)


def test_momentum_with_adam_is_refused_instead_of_ignored():
    split = data.make_blobs(n_samples=60, seed=0)
    with pytest.raises(ValueError, match="momentum=0.9 is only used by optimizer='sgd'"):
        train.train(models.make_mlp(2, [], 3), split, steps=1, optimizer="adam", momentum=0.9)


def test_numpy_integers_are_accepted_wherever_ints_are():
    model = models.make_mlp(np.int64(4), [np.int64(8), np.int32(6)], np.int64(3), seed=np.int64(0))
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [8, 6, 3]
    split = data.make_blobs(n_samples=np.int64(60), n_features=np.int64(2), n_classes=np.int64(3), seed=np.int64(1))
    history = train.train(models.make_mlp(2, [], 3), split, steps=np.int64(3), batch_size=np.int64(8),
                          eval_every=np.int64(3), seed=np.int64(2), progress=False)
    assert history.steps == [3]
    assert cnn.BatchNorm1d(np.int64(3)).num_features == 3
    assert cnn.LayerNorm(np.int64(3)).normalized_shape == (3,)
    assert len(data.split_indices(np.repeat([0, 1], 10), seed=np.int64(3))[0]) == 12


# ------------------------------------------------------------------------------------- degenerate splits


@pytest.mark.parametrize("kwargs", [{"val_fraction": 0.0}, {"test_fraction": 0.0}], ids=str)
def test_a_split_with_an_empty_part_is_refused(kwargs):
    with pytest.raises(ValueError, match="val_fraction and test_fraction must be > 0"):
        data.load_wine(**kwargs)


def test_a_split_that_starves_a_class_of_training_examples_is_refused():
    with pytest.raises(ValueError, match=r"leave class .* without any training example"):
        data.load_wine(val_fraction=0.7, test_fraction=0.29)


def test_a_part_that_rounds_to_nothing_is_refused():
    labels = np.repeat([0, 1], 3)  # 3 per class: round(3 * 0.1) = 0 in every class
    with pytest.raises(ValueError, match="val_fraction is too small for 6 examples"):
        data.split_indices(labels, val_fraction=0.1, test_fraction=0.4)


def test_train_refuses_a_split_without_validation_examples():
    split = data.make_blobs(n_samples=60, seed=0)
    from dataclasses import replace

    empty_val = replace(split, X_val=split.X_val[:0], y_val=split.y_val[:0])
    with pytest.raises(ValueError, match="no validation examples"):
        train.train(models.make_mlp(2, [], 3), empty_val, steps=1)


# ------------------------------------------------------------------------------------- gradient checks


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


# ------------------------------------------------------------------------------ train / evaluate messages


@pytest.fixture(scope="module")
def wine():
    return data.load_wine(standardize=True)


def test_train_names_the_input_size_mismatch(wine):
    with pytest.raises(ValueError, match=r"13 features.*in_features=13"):
        train.train(models.make_mlp(12, [8], 3), wine, steps=1)


def test_train_names_the_output_count_mismatch(wine):
    with pytest.raises(ValueError, match=r"2 outputs but the data has 3 classes.*out_features=3"):
        train.train(models.make_mlp(13, [8], 2), wine, steps=1)


def test_train_refuses_mse_on_a_classifier(wine):
    with pytest.raises(ValueError, match=r"loss='mse' needs a model with 1 output.*cross_entropy"):
        train.train(models.make_mlp(13, [8], 3), wine, steps=1, loss="mse")


def test_train_validates_the_callback_before_the_first_step(wine):
    model = models.make_mlp(13, [8], 3, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(TypeError, match="callback must be a function"):
        train.train(model, wine, steps=5, eval_every=1, callback="print")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_fit_check_draws_no_randomness_and_changes_no_statistics(wine):
    model = models.make_mlp(13, [8], 3, norm="batch", dropout=0.5, seed=0)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    train._check_model_fits(model, *wine.tensors("train"), "cross_entropy", wine)
    assert torch.equal(torch.rand(3), expected)
    assert int(model[1].num_batches_tracked) == 0 and model.training


def test_evaluate_refuses_integer_inputs(wine):
    X, y = wine.tensors("val")
    with pytest.raises(TypeError, match=r"X must have a floating dtype.*X.float\(\)"):
        train.evaluate(models.make_mlp(13, [], 3), X.long(), y)


def test_evaluate_switches_the_model_to_eval_mode(wine):
    """Planted bug: evaluate() without model.eval() (the restored mode flag alone does not show it)."""
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(self.training)
            return x

    model = nn.Sequential(models.make_mlp(13, [8], 3, dropout=0.5, seed=0), Spy())
    model.train()
    loss_a, acc_a = train.evaluate(model, *wine.tensors("val"))
    loss_b, acc_b = train.evaluate(model, *wine.tensors("val"))
    assert seen == [False, False]
    assert (loss_a, acc_a) == (loss_b, acc_b)  # no dropout noise in evaluation
    assert model.training


def test_history_best_is_the_minimum_of_a_loss_and_the_maximum_of_an_accuracy():
    """Planted bug: History.best taking the max for a loss (a non-monotone sequence shows it)."""
    history = train.History(steps=[1, 2, 3], train_loss=[0.5, 0.2, 0.9], val_loss=[0.7, 0.4, 0.6],
                            train_acc=[0.3, 0.8, 0.5], val_acc=[0.6, 0.5, 0.7])
    assert history.best("train_loss") == 0.2
    assert history.best("val_loss") == 0.4
    assert history.best("train_acc") == 0.8
    assert history.best() == 0.7
    assert history.steps_to("val_loss", 0.45) == 2 and history.steps_to("val_acc", 0.65) == 3


# ------------------------------------------------------------------------------------ data: mutants


@pytest.mark.parametrize("loader", [data.load_wine, data.load_digits], ids=lambda f: f.__name__)
def test_every_part_is_standardized_with_training_statistics(loader):
    """Planted bug: load_* standardizing the test split with its own statistics."""
    raw, standardized = loader(), loader(standardize=True)
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    for part in ("train", "val", "test"):
        expected = (getattr(raw, f"X_{part}") - mean) / (std + 1e-8)
        np.testing.assert_allclose(getattr(standardized, f"X_{part}"), expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(getattr(standardized, f"y_{part}"), getattr(raw, f"y_{part}"))


@pytest.mark.parametrize("seed", [0, 1, 5])
@pytest.mark.parametrize("fractions", [(0.2, 0.2), (0.1, 0.3), (0.3, 0.1), (0.45, 0.45)])
def test_split_indices_are_pairwise_disjoint_complete_and_proportional(seed, fractions):
    """Planted bug: test indices overlapping validation indices."""
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    train_idx, val_idx, test_idx = data.split_indices(labels, *fractions, seed=seed)
    assert not set(train_idx) & set(val_idx)
    assert not set(train_idx) & set(test_idx)
    assert not set(val_idx) & set(test_idx)
    np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, val_idx, test_idx])), np.arange(100))
    for cls, count in zip([0, 1, 2], [50, 30, 20], strict=True):
        assert (labels[val_idx] == cls).sum() == round(count * fractions[0])
        assert (labels[test_idx] == cls).sum() == round(count * fractions[1])


# ---------------------------------------------------------------------------------- diagnostics: mutant


def test_backward_hook_records_the_gradient_of_the_output_not_of_the_input():
    """Planted bug: the backward hook recording grad_input instead of grad_output."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    torch.manual_seed(0)
    x = torch.randn(5, 3) * 3  # saturating: grad_input = grad_output * (1 - tanh^2) differs a lot
    weights = torch.randn(5, 4)
    with ActivationRecorder(model, kinds=["tanh"]) as rec:
        (model(x) * weights).sum().backward()
    torch.testing.assert_close(rec.grads["1"], weights)
    assert rec.stats()[0].grad_norm == pytest.approx(float(weights.norm()))


# -------------------------------------------------------------------------------------- call_learner


def test_call_learner_keeps_an_outer_time_limit_running():
    import signal
    import time

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        call_learner(lambda: time.sleep(0.01), time_limit=1.0)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 3.0 < left <= 5.0  # the outer timer is re-armed with (about) the time it had left
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not fired


def test_call_learner_lets_an_earlier_outer_timer_fire_and_keeps_its_own_limit():
    import signal
    import time

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)

        def slow():
            end = time.monotonic() + 5
            while time.monotonic() < end:
                time.sleep(0.01)

        start = time.monotonic()
        with pytest.raises(ExerciseError, match="did not return within 0.3 s"):
            call_learner(slow, time_limit=0.3)
        assert time.monotonic() - start < 3
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == [True]


def test_call_learner_messages_are_one_line_and_short():
    def noisy():
        raise ValueError("first line\n" + "x" * 1000)

    with pytest.raises(ExerciseError) as info:
        call_learner(noisy)
    message = str(info.value)
    assert "\n" not in message and len(message) < 450 and "first line" in message


def test_call_learner_turns_exit_into_a_hint():
    def quits():
        raise SystemExit(0)

    with pytest.raises(ExerciseError, match="called exit"):
        call_learner(quits)


def test_call_learner_names_the_learners_line_not_torchs():
    def bad(x):
        return torch.nn.functional.linear(x, torch.ones(2, 5))

    with pytest.raises(ExerciseError, match=r"at line \d+: return torch.nn.functional.linear"):
        call_learner(bad, torch.ones(1, 3))


def test_call_learner_gives_copies_of_models_too():
    model = nn.Linear(2, 2)
    before = model.weight.detach().clone()

    def zero(m):
        with torch.no_grad():
            m.weight.zero_()
        return m

    call_learner(zero, model)
    assert torch.equal(model.weight, before)
