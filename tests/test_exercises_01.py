"""Exercise checks of notebook 01 pass the reference solutions and fail wrong answers."""

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.exercises import ExerciseError
from course_utils.exercises.depth import (
    check_activation_hook,
    check_largest_stable_lr,
    check_saturating_init,
    check_standardize,
)


def reference_standardize(X_train, X_other):
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mean) / std, (X_other - mean) / std


def leaky_standardize(X_train, X_other):
    return ((X_train - X_train.mean(0)) / X_train.std(0), (X_other - X_other.mean(0)) / X_other.std(0))


def global_standardize(X_train, X_other):
    return (X_train - X_train.mean()) / X_train.std(), (X_other - X_train.mean()) / X_train.std()


def pooled_standardize(X_train, X_other):
    both = np.vstack([X_train, X_other])
    return (X_train - both.mean(0)) / both.std(0), (X_other - both.mean(0)) / both.std(0)


def ddof1_standardize(X_train, X_other):
    mean, std = X_train.mean(axis=0), X_train.std(axis=0, ddof=1)
    return (X_train - mean) / std, (X_other - mean) / std


def slightly_off(X_train, X_other):
    a, b = reference_standardize(X_train, X_other)
    return a, b * 1.01


def test_standardize_reference_passes(capsys):
    check_standardize(reference_standardize)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (leaky_standardize, "training"),
        (pooled_standardize, "pooled"),
        (ddof1_standardize, "ddof=1"),
        (lambda a, b: (a * np.nan, b), "NaN"),
        (slightly_off, "differ"),
        (global_standardize, "each feature"),
        (lambda a, b: a, "pair"),
        (lambda a, b: 1 / 0, "ZeroDivisionError"),
        ((np.ones((2, 2)), np.zeros((2, 2))), "function itself"),
    ],
)
def test_standardize_wrong_answers_fail(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_standardize(wrong)


def test_saturating_init(capsys):
    check_saturating_init("large")
    assert "Correct" in capsys.readouterr().out
    for wrong in ("kaiming", "small", "xavier"):
        with pytest.raises(ExerciseError, match="Not the one") as info:
            check_saturating_init(wrong)
        assert "45%" not in str(info.value) and "'large'" not in str(info.value)   # the answer is not printed
    with pytest.raises(ExerciseError, match="one of"):
        check_saturating_init("big")


def test_largest_stable_lr(capsys):
    check_largest_stable_lr(1e-3)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="smaller"):
        check_largest_stable_lr(0.1)
    with pytest.raises(ExerciseError, match="larger"):
        check_largest_stable_lr(1e-4)
    with pytest.raises(ExerciseError, match="positive"):
        check_largest_stable_lr(-1)
    with pytest.raises(ExerciseError, match="smaller"):
        check_largest_stable_lr(3e-3)           # one grid step too large
    with pytest.raises(ExerciseError, match="larger"):
        check_largest_stable_lr(3e-4)           # one grid step too small


def record_ok(model, X):
    stats, handles = [], []
    try:
        for module in model:
            if isinstance(module, nn.ReLU):
                handles.append(module.register_forward_hook(
                    lambda _m, _inp, out: stats.append((out.mean().item(), out.std().item()))))
        with torch.no_grad():
            model(X)
    finally:
        for handle in handles:
            handle.remove()
    return stats


def record_keeps_hooks(model, X):
    stats = []
    for module in model:
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(lambda _m, _inp, out: stats.append((out.mean().item(), out.std().item())))
    model(X)
    return stats


def record_inputs(model, X):
    stats, handles = [], []
    for module in model:
        if isinstance(module, nn.ReLU):
            handles.append(module.register_forward_hook(
                lambda _m, inp, _out: stats.append((inp[0].mean().item(), inp[0].std().item()))))
    model(X)
    for handle in handles:
        handle.remove()
    return stats


def record_changes_output(model, X):
    stats, handles = [], []
    for module in model:
        if isinstance(module, nn.ReLU):
            handles.append(module.register_forward_hook(
                lambda _m, _inp, out: stats.append((out.mean().item(), out.std().item())) or out * 0))
    model(X)
    for handle in handles:
        handle.remove()
    return stats


def record_linear_layers(model, X):
    stats, handles = [], []
    for module in model:
        if isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(
                lambda _m, _inp, out: stats.append((out.mean().item(), out.std().item()))))
    model(X)
    for handle in handles:
        handle.remove()
    return stats


def record_first_row_only(model, X):
    return [(m, s * 1.01) for m, s in record_ok(model, X)]


def test_activation_hook_reference(capsys):
    check_activation_hook(record_ok)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (record_keeps_hooks, "still attached"),
        (record_inputs, "input"),
        (record_changes_output, "only look"),
        (record_linear_layers, "one \\(mean, std\\) pair per ReLU"),
        (record_first_row_only, "differ"),
        (lambda model, X: None, "list"),
        (lambda model, X: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_activation_hook_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_activation_hook(wrong)


def test_prediction_and_largest_lr_as_the_learners_functions():
    from course_utils.exercises import NotDoneYet

    check_saturating_init(lambda: "large")
    with pytest.raises(ExerciseError, match="Not the one"):
        check_saturating_init(lambda: "small")
    # A hard-coded answer (right or wrong) is refused: the exercise is the loop over train_full_batch.
    with pytest.raises(ExerciseError, match="Train with train_full_batch"):
        check_largest_stable_lr(lambda raw: 1e-3)
    with pytest.raises(ExerciseError, match="Train with train_full_batch"):
        check_largest_stable_lr(lambda raw: 3e-4)

    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(NotDoneYet):
        check_saturating_init(stub)
    with pytest.raises(NotDoneYet):
        check_largest_stable_lr(stub)
