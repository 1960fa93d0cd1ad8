"""Notebook 00's exercise checks: references pass, each usual mistake gets its own hint."""

import numpy as np
import pytest

from course_utils.data import load_digits
from course_utils.exercises import ExerciseError, NotDoneYet
from course_utils.exercises import basics as B
from course_utils.models import make_mlp
from course_utils.train import train


def standardize_ok(x, eps):
    return (x - x.mean()) / np.sqrt(x.var() + eps)


def test_standardize_reference(capsys):
    B.check_standardize_feature(standardize_ok)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, eps: (x - x.mean()) / x.std(), "inside|NaN or inf"),
        (lambda x, eps: x * np.nan, "NaN or inf"),
        (lambda x, eps: (x - x.mean()) / np.sqrt(x.var(ddof=1) + eps), "ddof=1"),
        (lambda x, eps: (x - x.mean()) / (x.std() + eps), "inside"),
        (lambda x, eps: x / np.sqrt(x.var() + eps), "subtract"),
        (lambda x, eps: (x - x.mean()) / (x.var() + eps), "square root"),
        (lambda x, eps: (x - x.mean()) / np.sqrt(x.var() + eps) * 1.001, "not \\(x - mean\\)"),
        (lambda x, eps: list(x), "numpy array"),
        (lambda x, eps: x[:3], "shape"),
        (lambda x, eps: undefined_name, "NameError"),  # noqa: F821 - the learner's typo
    ],
)
def test_standardize_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        B.check_standardize_feature(wrong)


def test_standardize_stub_is_not_done_yet():
    def stub(x, eps):
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        B.check_standardize_feature(stub)


def test_standardize_in_place_mutation_cannot_fool_the_check():
    def in_place(x, eps):
        x -= x.mean()
        x /= np.sqrt(x.var() + eps)
        return x

    B.check_standardize_feature(in_place)   # correct values: accepted, and the check's data is untouched


def test_mlp_parameters():
    model = make_mlp(4, [3], 2, seed=0)
    names = [n for n, _ in model.named_parameters()]
    B.check_mlp_parameters(names, sum(p.numel() for p in model.parameters()))
    with pytest.raises(ExerciseError, match="weight matrices only"):
        B.check_mlp_parameters(names, 18)
    with pytest.raises(ExerciseError, match="right total"):
        B.check_mlp_parameters(names, 24)        # one off
    with pytest.raises(ExerciseError, match="names of its learnable parameters"):
        B.check_mlp_parameters(["0.weight", "2.weight"], 23)
    with pytest.raises(ExerciseError, match="list of parameter names"):
        B.check_mlp_parameters("0.weight", 23)
    with pytest.raises(ExerciseError, match="whole number"):
        B.check_mlp_parameters(names, 23.0)


def run_ok(seed):
    model = make_mlp(64, [32], 10, seed=seed)
    return train(model, load_digits(), steps=B.RUN_STEPS, lr=0.1, seed=seed, eval_every=B.RUN_STEPS,
                 progress=False).final()["val_loss"]


def test_seeded_run_reference(capsys):
    B.check_seeded_run(run_ok)
    assert capsys.readouterr().out.startswith("Correct:")


def _no_seed_anywhere(seed):
    import torch

    model = make_mlp(64, [32], 10, seed=int(torch.randint(0, 1000, (1,))))
    return train(model, load_digits(), steps=B.RUN_STEPS, lr=0.1, seed=int(torch.randint(0, 1000, (1,))),
                 eval_every=B.RUN_STEPS, progress=False).final()["val_loss"]


def _seed_only_in_train(seed):
    model = make_mlp(64, [32], 10, seed=0)
    return train(model, load_digits(), steps=B.RUN_STEPS, lr=0.1, seed=seed, eval_every=B.RUN_STEPS,
                 progress=False).final()["val_loss"]


def _seed_ignored(seed):
    return run_ok(0)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_no_seed_anywhere, "same seed gave different"),
        (_seed_only_in_train, "does the seed reach both"),
        (_seed_ignored, "same loss"),
        (lambda seed: "0.5", "must return a number"),
        (lambda seed: float("nan"), "NaN"),
    ],
)
def test_seeded_run_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        B.check_seeded_run(wrong)


def test_mlp_parameters_as_the_learners_function():
    def summary(model):
        return [n for n, _ in model.named_parameters()], sum(p.numel() for p in model.parameters())

    def weights_only(model):
        return [n for n, _ in model.named_parameters()], sum(p.numel() for n, p in model.named_parameters()
                                                              if n.endswith("weight"))

    def stub(model):
        raise NotImplementedError()

    B.check_mlp_parameters(summary)
    with pytest.raises(ExerciseError, match="weight matrices only"):
        B.check_mlp_parameters(weights_only)
    with pytest.raises(ExerciseError, match="Return a pair"):
        B.check_mlp_parameters(lambda model: 23)
    with pytest.raises(NotDoneYet, match="Not done yet"):
        B.check_mlp_parameters(stub)
