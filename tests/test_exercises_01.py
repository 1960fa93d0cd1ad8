"""Exercise checks of notebook 01 pass the reference solutions and fail wrong answers."""

import numpy as np
import pytest

from course_utils.exercises import ExerciseError
from course_utils.exercises.depth import check_largest_stable_lr, check_saturating_init, check_standardize


def reference_standardize(X_train, X_other):
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mean) / std, (X_other - mean) / std


def leaky_standardize(X_train, X_other):
    return ((X_train - X_train.mean(0)) / X_train.std(0), (X_other - X_other.mean(0)) / X_other.std(0))


def global_standardize(X_train, X_other):
    return (X_train - X_train.mean()) / X_train.std(), (X_other - X_train.mean()) / X_train.std()


def test_standardize_reference_passes(capsys):
    check_standardize(reference_standardize)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (leaky_standardize, "training"),
        (global_standardize, "per feature"),
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
        with pytest.raises(ExerciseError, match="Measured"):
            check_saturating_init(wrong)
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
