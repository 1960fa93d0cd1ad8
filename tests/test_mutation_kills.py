"""Tests written against mutants that survived `make mutation` (mutmut 3.8.1 on the core modules).

Each test pins one behaviour a one-token change broke without any other test noticing: a formula, a
boundary (<= vs <), a default, a dtype, a seed. The docstring or comment names the mutant it kills.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from course_utils import data, gradcheck, models, numpy_layers, train
from course_utils import nn as cnn

# ------------------------------------------------------------------------------------------ gradcheck


def test_float32_warning_points_at_the_callers_line():
    # stacklevel=2: the warning names the caller's line, not gradcheck.py (under mutmut a trampoline frame sits
    # in between, so the test only asserts "not inside gradcheck.py")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradcheck.numeric_gradient(np.sum, np.ones(2, dtype=np.float32))
    assert caught and not caught[0].filename.endswith("gradcheck.py")
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


# ------------------------------------------------------------------------------------------------ data


def test_two_feature_regression_defaults_formula_and_noise():
    X, y = data.make_two_feature_regression()
    assert X.shape == (200, 2) and y.shape == (200,) and X.dtype == y.dtype == np.float64
    X0, y0 = data.make_two_feature_regression(200, (1.0, 10.0), 0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    X, y = data.make_two_feature_regression(n_samples=2000, scales=(2.0, 50.0), seed=3)
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(w * np.array([2.0, 50.0]), [2.0, -1.0], atol=0.02)  # w_true = (2, -1) / scales
    residual = y - X @ (np.array([2.0, -1.0]) / np.array([2.0, 50.0]))
    assert abs(residual.mean()) < 0.01 and 0.09 < residual.std() < 0.11
    assert len(data.make_two_feature_regression(n_samples=2)[0]) == 2
    assert not np.array_equal(data.make_two_feature_regression(seed=1)[0], X0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 1}, ValueError, r"^n_samples must be >= 2"),
        ({"n_samples": "5"}, TypeError, r"^n_samples must be an int"),
        ({"scales": ("1", 2.0)}, TypeError, r"^scales\[0\] must be a number"),
        ({"scales": (1.0, "2")}, TypeError, r"^scales\[1\] must be a number"),
        ({"scales": (0.0, 1.0)}, ValueError, r"^scales must be positive"),
        ({"seed": -1}, ValueError, r"^seed must be >= 0"),
        ({"seed": 1.5}, TypeError, r"^seed must be an int"),
    ],
)
def test_two_feature_regression_refuses_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_two_feature_regression(**kwargs)


def test_digits_metadata_defaults_and_scaling():
    split = data.load_digits()
    assert split.name == "digits" and split.n_features == 64
    assert split.feature_names[0] == "pixel_0_0" and split.feature_names[-1] == "pixel_7_7"
    assert len(split.feature_names) == 64
    assert split.X_train.max() == 1.0  # pixels 0..16 divided by 16
    np.testing.assert_array_equal(split.X_train, data.load_digits(seed=0).X_train)
    wine = data.load_wine()
    assert wine.name == "wine" and len(wine.feature_names) == 13 and wine.target_names == ["class_0", "class_1",
                                                                                           "class_2"]
    np.testing.assert_array_equal(wine.X_train, data.load_wine(seed=0).X_train)


def test_subset_train_keeps_rare_classes_in_proportion_and_is_seeded():
    labels = np.array([0] * 90 + [1] * 10)
    idx = data._stratified_first(labels, 10, seed=0)
    assert np.bincount(labels[idx], minlength=2).tolist() == [9, 1]
    split = data.make_blobs(n_samples=100, seed=0)
    one = split.subset_train(1)
    assert len(one.X_train) == 1
    np.testing.assert_array_equal(split.subset_train(20).X_train, split.subset_train(20, seed=0).X_train)
    assert not np.array_equal(split.subset_train(20, seed=0).X_train, split.subset_train(20, seed=1).X_train)
    with pytest.raises(ValueError, match=r"^seed must be >= 0"):
        split.subset_train(5, seed=-1)
    with pytest.raises(ValueError, match=r"^n must be >= 1"):
        split.subset_train(0)


def test_split_describe_and_n_classes():
    split = data.load_wine()
    assert split.describe() == "wine: 106 train / 36 val / 36 test, 13 features"
    assert split.n_classes == 3
    unnamed = data.Split(split.X_train, split.y_train, split.X_val, split.y_val, split.X_test, split.y_test)
    assert unnamed.n_classes == 3  # from the labels when there are no target names


# ---------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("xavier", 1.5 * math.sqrt(2.0 / (30 + 20))),
        ("kaiming", 1.5 * math.sqrt(2.0 / 30)),
        ("normal", 1.5 * 0.2),
        ("default", 1.5 / math.sqrt(3.0 * 30)),
    ],
)
def test_init_std_formulas(init, expected):
    assert models.init_std(init, 30, 20, gain=1.5, std=0.2) == pytest.approx(expected, rel=1e-12)


def test_init_std_defaults_and_smallest_layer():
    assert models.init_std("normal", 3, 4) == 0.01
    assert models.init_std("kaiming", 1, 1) == pytest.approx(math.sqrt(2.0))
    for kwargs, match in [({"fan_in": 0}, r"^fan_in must be >= 1"), ({"fan_out": 0}, r"^fan_out must be >= 1"),
                          ({"gain": 0}, r"^gain must be > 0"), ({"std": -1}, r"^std must be > 0"),
                          ({"init": "he"}, r"^init must be one of")]:
        args = {"init": "kaiming", "fan_in": 3, "fan_out": 4} | kwargs
        with pytest.raises(ValueError, match=match):
            models.init_std(**args)


def test_reference_norm_layers_get_the_width_and_the_keyword_arguments():
    model = models.make_mlp(4, [6], 3, norm="batch", reference_layers=True, norm_kwargs={"momentum": None})
    assert isinstance(model[1], cnn.BatchNorm1d) and model[1].num_features == 6 and model[1].momentum is None
    model = models.make_mlp(4, [6], 3, norm="layer", reference_layers=True, norm_kwargs={"eps": 1e-3})
    assert isinstance(model[1], cnn.LayerNorm) and model[1].normalized_shape == (6,) and model[1].eps == 1e-3
    model = models.make_mlp(4, [6], 3, norm="group", groups=3, norm_kwargs={"eps": 1e-3})
    assert model[1].num_groups == 3 and model[1].num_channels == 6 and model[1].eps == 1e-3
    model = models.make_mlp(4, [6], 3, norm="rms", norm_kwargs={"eps": 1e-3})
    assert model[1].normalized_shape == (6,) and model[1].eps == 1e-3


# ----------------------------------------------------------------------------------------------- train


def test_an_empty_history_has_a_defined_final_and_no_best():
    assert train.History().final() == {"train_loss": math.inf, "train_acc": 0.0, "val_loss": math.inf,
                                       "val_acc": 0.0}
    with pytest.raises(ValueError, match="^History is empty: nothing was evaluated"):
        train.History().best()
    assert train.History().steps_to("val_acc", 0.5) is None


def test_final_is_the_last_evaluation():
    history = train.History(steps=[1, 2], train_loss=[0.9, 0.5], train_acc=[0.2, 0.6], val_loss=[1.0, 0.7],
                            val_acc=[0.1, 0.4])
    assert history.final() == {"train_loss": 0.5, "train_acc": 0.6, "val_loss": 0.7, "val_acc": 0.4}
    longer = train.History(steps=[1, 2, 3], train_loss=[0.9, 0.5, 0.4], train_acc=[0.2, 0.6, 0.7],
                           val_loss=[1.0, 0.7, 0.6], val_acc=[0.1, 0.4, 0.5])
    assert longer.final()["val_acc"] == 0.5  # the last, not the second
    with pytest.raises(ValueError):
        train.History(steps=[1, 2], val_acc=[0.5]).steps_to("val_acc", 0.9)  # lengths must agree


def test_steps_to_counts_reaching_the_threshold_exactly():
    history = train.History(steps=[10, 20, 30], train_loss=[0.9, 0.5, 0.5], train_acc=[0.2, 0.6, 0.6],
                            val_loss=[1.0, 0.7, 0.3], val_acc=[0.1, 0.4, 0.8])
    assert history.steps_to("val_acc", 0.4) == 20  # >= for an accuracy
    assert history.steps_to("val_loss", 0.7) == 20  # <= for a loss
    assert history.steps_to("train_loss", 0.5) == 20
    assert history.steps_to("val_acc", 0.9) is None and history.steps_to("val_loss", 0.1) is None
    with pytest.raises(TypeError, match=r"^threshold must be a number"):
        history.steps_to("val_acc", "0.5")


# -------------------------------------------------------------------------------------------------- nn


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


# ---------------------------------------------------------------------------------------- numpy_layers


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


# ---------------------------------------------------------------------------------------- train loop

BLOBS = data.make_blobs(n_samples=60, seed=0)


def test_train_runs_exactly_steps_and_evaluates_on_schedule_and_at_the_end():
    calls = []
    model = models.make_mlp(2, [], 3, seed=0)

    def record(step, m, h):
        calls.append((step, m is model, len(h.steps)))

    history = train.train(model, BLOBS, steps=7, eval_every=3, progress=False, callback=record)
    assert history.steps == [3, 6, 7] and len(history.step_loss) == 7
    assert calls == [(3, True, 1), (6, True, 2), (7, True, 3)]
    X, y = BLOBS.tensors("train")
    assert (history.val_loss[-1], history.val_acc[-1]) == train.evaluate(model, *BLOBS.tensors("val"))
    assert (history.train_loss[-1], history.train_acc[-1]) == train.evaluate(model, X, y)
    assert model.training


def test_train_defaults_are_the_documented_ones():
    blobs = data.make_blobs(n_samples=300, seed=0)  # more training examples than the default batch size
    a = train.train(models.make_mlp(2, [], 3, seed=0), blobs, progress=False)
    b = train.train(models.make_mlp(2, [], 3, seed=0), blobs, steps=1000, lr=0.1, batch_size=64, optimizer="sgd",
                    momentum=0.0, weight_decay=0.0, loss="cross_entropy", eval_every=50, seed=0, progress=False)
    assert a.step_loss == b.step_loss and a.steps == b.steps and len(a.steps) == 20


def _manual_steps(model, optimizer, n_steps, batch_size, seed, loss_fn=torch.nn.functional.cross_entropy):
    X, y = BLOBS.tensors("train")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(X), generator=gen)
    for i in range(n_steps):
        idx = perm[i * batch_size:(i + 1) * batch_size]
        optimizer.zero_grad()
        loss_fn(model(X[idx]), y[idx]).backward()
        optimizer.step()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_takes_the_same_steps_as_a_hand_written_loop(optimizer):
    ours = models.make_mlp(2, [4], 3, seed=1)
    reference = models.make_mlp(2, [4], 3, seed=1)
    kwargs = {"momentum": 0.9} if optimizer == "sgd" else {}
    train.train(ours, BLOBS, steps=3, lr=0.05, batch_size=8, optimizer=optimizer, weight_decay=0.01, seed=4,
                progress=False, **kwargs)
    if optimizer == "sgd":
        opt = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01)
    else:
        opt = torch.optim.Adam(reference.parameters(), lr=0.05, weight_decay=0.01)
    _manual_steps(reference, opt, 3, 8, seed=4)
    for a, b in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_train_with_batches_of_one_and_batches_larger_than_the_data():
    assert len(train.train(models.make_mlp(2, [], 3), BLOBS, steps=3, batch_size=1, progress=False).step_loss) == 3
    history = train.train(models.make_mlp(2, [], 3), BLOBS, steps=2, batch_size=10_000, progress=False)
    assert len(history.step_loss) == 2


def test_batches_are_an_epochwise_partition_without_the_short_tail():
    batches = train._batches(10, 3, torch.Generator().manual_seed(0))
    epoch = [next(batches) for _ in range(3)]
    assert all(len(b) == 3 for b in epoch)
    assert len(set(torch.cat(epoch).tolist())) == 9
    assert len(next(batches)) == 3  # a new epoch starts: the short tail (1 index) is dropped
    eleven = train._batches(11, 3, torch.Generator().manual_seed(0))
    assert [len(next(eleven)) for _ in range(5)] == [3] * 5  # never the 2-index tail of 11 = 3 + 3 + 3 + 2
    whole = train._batches(5, 50, torch.Generator().manual_seed(0))
    assert sorted(next(whole).tolist()) == [0, 1, 2, 3, 4]
    again = train._batches(10, 3, torch.Generator().manual_seed(0))
    assert torch.equal(next(again), epoch[0])


def test_mse_training_and_evaluation():
    model = models.make_mlp(2, [], 1, seed=0)
    X, y = BLOBS.tensors("val")
    value, acc = train.evaluate(model, X, y, loss="mse")
    with torch.no_grad():
        expected = float(((model(X).squeeze(-1) - y.float()) ** 2).mean())
    assert value == pytest.approx(expected, rel=1e-6) and math.isnan(acc)
    history = train.train(model, BLOBS, steps=3, lr=0.01, loss="mse", progress=False)
    assert len(history.step_loss) == 3 and all(math.isnan(a) for a in history.val_acc)
    with pytest.raises(ValueError, match="loss='mse' needs a model with 1 output"):
        train.evaluate(torch.nn.Unflatten(1, (2, 1)), X, y, loss="mse")  # a 3-D output


def test_progress_bar_follows_the_argument_and_the_environment(monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("NORMCOURSE_NO_PROGRESS", raising=False)
    assert train.progress_enabled() is True
    monkeypatch.setenv("CI", "1")
    assert train.progress_enabled() is False and train.progress_enabled(True) is True
    monkeypatch.delenv("CI")
    monkeypatch.setenv("NORMCOURSE_NO_PROGRESS", "1")
    assert train.progress_enabled() is False and train.progress_enabled(False) is False
    with pytest.raises(TypeError, match=r"^progress must be True or False"):
        train.progress_enabled("yes")
    capsys.readouterr()
    train.train(models.make_mlp(2, [], 3), BLOBS, steps=2, progress=False)
    assert capsys.readouterr().err == ""
    train.train(models.make_mlp(2, [], 3), BLOBS, steps=2, progress=True)
    err = capsys.readouterr().err
    assert "0/2" in err
    assert err.rstrip("\r").split("\r")[-1].strip() == ""  # leave=False: the finished bar is cleared
    train.train(models.make_mlp(2, [], 3), BLOBS, steps=2)  # NORMCOURSE_NO_PROGRESS is set: no bar
    assert capsys.readouterr().err == ""


def test_evaluate_checks_shapes_and_label_types():
    model = models.make_mlp(13, [], 3)
    wine = data.load_wine(standardize=True)
    X, y = wine.tensors("val")
    assert train.evaluate(model, X[:1], y[:1])[1] in (0.0, 1.0)  # a single example is fine
    with pytest.raises(ValueError, match=r"^X must have shape \(examples, features\).*got \(13,\)"):
        train.evaluate(model, X[0], y[:1])
    with pytest.raises(ValueError, match=r"^X must have shape .*got \(0, 13\)"):
        train.evaluate(model, X[:0], y[:0])
    with pytest.raises(TypeError, match=r"^y must be a torch.Tensor, got list"):
        train.evaluate(model, X, y.tolist())
    with pytest.raises(TypeError, match=r"^y must hold class indices .*torch.float32"):
        train.evaluate(model, X, y.float())
    with pytest.raises(ValueError, match=r"^model has 3 outputs but the data has 4 classes"):
        train.evaluate(model, X, torch.where(y == 2, 3, y))
    with pytest.raises(ValueError, match=r"^model must return \(examples, classes\) scores"):
        train.evaluate(torch.nn.Flatten(0), X, y)


def test_model_errors_name_the_cause():
    wine = data.load_wine(standardize=True)
    X, y = wine.tensors("val")
    with pytest.raises(ValueError, match=r"first Linear layer expects 12 features; build it with in_features=13"):
        train.evaluate(models.make_mlp(12, [], 3), X, y)
    inner = torch.nn.Sequential(torch.nn.Linear(13, 4), torch.nn.Linear(5, 3))  # the first layer fits
    with pytest.raises(ValueError, match=r"check that the model's input size matches the data\. \(torch said: mat1"):
        train.evaluate(inner, X, y)
    assert train.evaluate(torch.nn.Sequential(torch.nn.Identity()), X[:, :3], y)[0] > 0  # a model without parameters
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module .*got str"):
        train.evaluate("model", X, y)
    with pytest.raises(TypeError, match=r"^split must be a course_utils.data.Split, got tuple"):
        train.train(models.make_mlp(13, [], 3), (X, y))
    with pytest.raises(TypeError, match=r"^callback must be a function .*got int"):
        train.train(models.make_mlp(2, [], 3), BLOBS, callback=3)
    with pytest.raises(ValueError, match=r"^momentum=0.5 is only used by optimizer='sgd'"):
        train.train(models.make_mlp(2, [], 3), BLOBS, optimizer="adam", momentum=0.5)
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, optimizer="adam", momentum=0.0, progress=False)
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, momentum=0.99, progress=False)


def test_split_tensors_default_part_and_every_part():
    split = data.make_blobs(n_samples=60, seed=0)
    X, y = split.tensors()
    assert torch.equal(X, split.tensors("train")[0]) and torch.equal(y, split.tensors("train")[1])
    assert len(split.tensors("test")[0]) == len(split.X_test) and len(split.tensors("val")[1]) == len(split.y_val)


def test_numpy_dropout_keeps_float32():
    out, cache = numpy_layers.dropout_forward(np.ones((4, 4), dtype=np.float32), 0.5, rng=0)
    assert out.dtype == np.float32 and cache.mask.dtype == np.float32
    assert cache.p == 0.5 and cache.training is True


def test_make_mlp_defaults_for_normal_init_and_groups():
    model = models.make_mlp(400, [400], 3, init="normal", seed=0)
    assert abs(model[0].weight.std().item() - 0.01) < 0.001
    assert models.make_mlp(4, [8], 3, norm="group")[1].num_groups == 4
    assert models.make_mlp(4, [8], 3, norm="group", groups=1)[1].num_groups == 1


# ------------------------------------------------------------------------------------- data (more)


def test_make_blobs_follows_its_recipe_exactly():
    split = data.make_blobs(n_samples=50, n_features=3, n_classes=2, spread=0.5, seed=7)
    rng = np.random.default_rng(7)
    centers = rng.normal(scale=3.0, size=(2, 3))
    y = rng.integers(0, 2, size=50)
    X = (centers[y] + 0.5 * rng.normal(size=(50, 3))).astype(np.float32)
    train_idx, val_idx, test_idx = data.split_indices(y, 0.2, 0.2, 7)
    np.testing.assert_array_equal(split.X_train, X[train_idx])
    np.testing.assert_array_equal(split.y_test, y[test_idx])
    assert split.name == "blobs" and split.feature_names == ["x0", "x1", "x2"] and split.target_names == ["0", "1"]
    default = data.make_blobs()
    np.testing.assert_array_equal(default.X_train, data.make_blobs(600, 2, 3, 1.0, 0).X_train)
    assert default.n_features == 2 and default.n_classes == 3
    assert len(default.X_train) + len(default.X_val) + len(default.X_test) == 600


def test_make_blobs_smallest_accepted_sizes():
    assert data.make_blobs(n_features=1).n_features == 1
    assert data.make_blobs(n_classes=2).n_classes == 2
    with pytest.raises(ValueError, match=r"^n_samples must be >= 10"):
        data.make_blobs(n_samples=9)
    try:
        data.make_blobs(n_samples=10, n_classes=2, seed=0)
    except ValueError as err:  # the split may refuse 10 examples, but n_samples itself is fine
        assert not str(err).startswith("n_samples")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_features": 0}, ValueError, r"^n_features must be >= 1"),
        ({"n_samples": "600"}, TypeError, r"^n_samples must be an int"),
        ({"seed": -1}, ValueError, r"^seed must be >= 0"),
    ],
)
def test_make_blobs_refuses_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_blobs(**kwargs)


def test_split_indices_messages_and_defaults():
    labels = np.repeat([0, 1], 10)
    for a, b in zip(data.split_indices(labels), data.split_indices(labels, 0.2, 0.2, 0), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="sum to less than 1"):
        data.split_indices(labels, 0.5, 0.5)
    with pytest.raises(ValueError, match=r"^test_fraction is too small for 6 examples: the test part"):
        data.split_indices(np.repeat([0, 1], 3), 0.4, 0.1)
    with pytest.raises(ValueError, match=r"^val_fraction is too small for 6 examples: the validation part"):
        data.split_indices(np.repeat([0, 1], 3), 0.1, 0.4)
    with pytest.raises(ValueError, match=r"^labels contains NaN or inf"):
        data.split_indices(np.array([0.0, 1.0, np.nan] * 5))
    with pytest.raises(TypeError, match=r"^labels must be a 1-D array of class labels, got int 5"):
        data.split_indices(5)
    with pytest.raises(TypeError, match=r"^test_fraction must be a number"):
        data.split_indices(labels, 0.2, "0.2")
    train_idx, _, _ = data.split_indices(np.array([0.0, 1.0] * 10))  # float labels that are finite are fine
    assert len(train_idx) == 12


def test_standardizer_edges():
    assert data.Standardizer().fit(np.array([[1.0], [3.0]])).std_.tolist() == [1.0]  # two rows are enough
    Z = data.Standardizer(eps=0).fit_transform(np.array([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(Z, [[-1.0, -1.0], [1.0, 1.0]])
    with pytest.raises(RuntimeError, match=r"^Standardizer is not fitted: call \.fit\(X_train\) first\.$"):
        data.Standardizer().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"^X must have 2 dimensions"):
        data.Standardizer().fit(np.ones(4))
    assert data.Standardizer().eps == 1e-8


# --------------------------------------------------------------------------------------- nn (more)


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


def test_limits_on_lr_weight_decay_and_spread_are_inclusive():
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, lr=1e6, progress=False)
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, weight_decay=1e6, progress=False)
    for kwargs in ({"lr": 1.0000005e6}, {"weight_decay": 1.0000005e6}):
        with pytest.raises(ValueError, match="must be <= 1e6"):
            train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, **kwargs)
    assert data.make_blobs(spread=1e6).n_features == 2
    with pytest.raises(ValueError, match=r"^spread must be <= 1e6"):
        data.make_blobs(spread=1.0000005e6)


def test_class_labels_must_be_integers_for_cross_entropy_in_train():
    from dataclasses import replace

    floaty = replace(BLOBS, y_train=BLOBS.y_train.astype(np.float32))
    with pytest.raises(TypeError, match=r"^y must hold class indices"):
        train.train(models.make_mlp(2, [], 3), floaty, steps=1)
    floaty_val = replace(BLOBS, y_val=BLOBS.y_val.astype(np.float32))
    with pytest.raises(TypeError, match=r"^y must hold class indices"):
        train.train(models.make_mlp(2, [], 3), floaty_val, steps=1)


def test_a_model_without_linear_layers_that_fails_gets_the_generic_hint():
    class Bad(torch.nn.Module):
        def forward(self, x):
            return x @ torch.ones(5, 3)

    wine = data.load_wine(standardize=True)
    with pytest.raises(ValueError, match=r"check that the model's input size matches the data"):
        train.evaluate(Bad(), *wine.tensors("val"))


def test_messages_name_the_type_that_was_given():
    with pytest.raises(TypeError, match=r"got int 8"):
        models.make_mlp(4, 8, 3)
    with pytest.raises(TypeError, match=r"got float 1\.0"):
        data.make_two_feature_regression(scales=1.0)
    with pytest.raises(TypeError, match=r"^cache must be the second value returned by batchnorm_forward, got tuple"):
        numpy_layers.batchnorm_backward(np.ones((2, 2)), (1, 2))
    with pytest.raises(TypeError, match=r"^f must return a number or a numeric array, got str"):
        gradcheck.numeric_gradient(lambda v: "one", np.ones(2))
    assert gradcheck.rel_error(np.ones(0), np.ones(0)) == 0.0


def test_make_mlp_applies_a_non_default_init_std_and_gain():
    model = models.make_mlp(400, [400], 3, init="normal", std=0.2, seed=0)
    assert abs(model[0].weight.std().item() - 0.2) < 0.01
    default = models.make_mlp(400, [400], 3, seed=0)
    assert default[0].weight.abs().max().item() <= 1 / math.sqrt(400)  # torch's own uniform init, untouched
    scaled = models.make_mlp(400, [400], 3, gain=2.0, seed=0)  # gain alone re-initializes (default scheme)
    assert abs(scaled[0].weight.std().item() - 2.0 / math.sqrt(3 * 400)) < 0.005
    assert models.make_mlp(1, [2], 1)[0].in_features == 1
    with pytest.raises(ValueError, match=r"^seed must be >= 0"):
        models.make_mlp(4, [8], 3, seed=-1)


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


def test_two_feature_regression_follows_its_recipe_exactly():
    X, y = data.make_two_feature_regression(n_samples=20, scales=(2.0, 5.0), seed=3)
    rng = np.random.default_rng(3)
    s = np.array([2.0, 5.0])
    X_expected = rng.normal(size=(20, 2)) * s
    y_expected = X_expected @ (np.array([2.0, -1.0]) / s) + 0.1 * rng.normal(size=20)
    np.testing.assert_array_equal(X, X_expected)
    np.testing.assert_array_equal(y, y_expected)


@pytest.mark.parametrize("momentum", [0, 0.0, 1.0])
def test_momentum_at_the_ends_of_its_range_matches_torch(momentum):
    ours, theirs = cnn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
    x = torch.randn(6, 3)
    ours(x), theirs(x)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
