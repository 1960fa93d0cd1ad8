"""Exercise checks of notebook 05: each passes the reference solution and names each usual mistake."""

import pytest
import torch
from torch import nn

from course_utils import setup_notebook
from course_utils.exercises import ExerciseError, NotDoneYet
from course_utils.exercises import together as X
from course_utils.experiments.together import recalibrate_bn

setup_notebook(quiet=True)


def good_block(i, o, p):
    return nn.Sequential(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.ReLU(), nn.Dropout(p))


def test_block_reference(capsys):
    X.check_block(good_block)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    "wrong,match",
    [
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.ReLU(), nn.BatchNorm1d(o), nn.Dropout(p)),
         "Normalization after the activation"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.Dropout(p), nn.BatchNorm1d(o), nn.ReLU()),
         "Dropout before BatchNorm"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.Dropout(p)),
         "Missing activation"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o), nn.BatchNorm1d(o), nn.ReLU(), nn.Dropout(p)),
         "Bias before BatchNorm"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.ReLU(), nn.Dropout(1 - p)),
         "probability to DROP"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.ReLU(), nn.Dropout(p)),
         "Missing normalization"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.LayerNorm(o), nn.ReLU(), nn.Dropout(p)),
         "uses BatchNorm1d"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.ReLU()),
         "Missing dropout"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.Dropout(p), nn.ReLU()),
         "Dropout between BatchNorm and ReLU"),
        (lambda i, o, p: nn.Sequential(nn.BatchNorm1d(i), nn.Linear(i, o, bias=False), nn.ReLU(), nn.Dropout(p)),
         "Linear first"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, i, bias=False), nn.BatchNorm1d(i), nn.ReLU(), nn.Dropout(p)),
         "must map"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.Tanh(), nn.Dropout(p)),
         "uses ReLU"),
        (lambda i, o, p: nn.Sequential(nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.ReLU(), nn.Dropout(0.1)),
         "given drop probability"),
        (lambda i, o, p: "block", "must return an nn.Module"),
    ],
)
def test_block_mistakes_are_named(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_block(wrong)


def test_block_not_done_yet():
    def stub(i, o, p):
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        X.check_block(stub)


def test_shifted_model_is_shifted():
    from course_utils.exercises.together import _ratio

    assert _ratio(X.shifted_model()) < 0.8


def test_recalibration_reference(capsys):
    X.check_recalibration(lambda model, Xs: recalibrate_bn(model, Xs))
    assert "Correct" in capsys.readouterr().out


def _bns(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]


def _pass(model, Xs, n=None):
    with torch.no_grad():
        for s in range(0, len(Xs) - 1 if n is None else n, 64):
            model(Xs[s : s + 64])


def dropout_left_on(model, Xs):
    model.train()
    for bn in _bns(model):
        bn.reset_running_stats()
        bn.momentum = None
    _pass(model, Xs)
    return model.eval()


def partial_update(model, Xs):
    model.eval()
    for bn in _bns(model):
        bn.train()
    _pass(model, Xs, n=64)
    return model.eval()


def left_in_train_mode(model, Xs):
    return recalibrate_bn(model, Xs).train()


def weights_changed(model, Xs):
    model = recalibrate_bn(model, Xs)
    with torch.no_grad():
        model[0].weight.mul_(1.01)
    return model


def stats_not_updated(model, Xs):
    model.eval()
    _pass(model, Xs)
    return model


@pytest.mark.parametrize(
    "wrong,match",
    [
        (dropout_left_on, "Dropout was active"),
        (partial_update, "old statistics still count"),
        (left_in_train_mode, "eval mode"),
        (weights_changed, "must not change the weights"),
        (stats_not_updated, "did not change"),
        (lambda model, Xs: None, "must return the model"),
        (lambda model, Xs: nn.Linear(2, 2), "same model"),
    ],
)
def test_recalibration_mistakes_are_named(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_recalibration(wrong)


RIGHT = {
    "transformer": ("layer", "batch_independent"),
    "cnn_large_batch": ("batch", "fast_training"),
    "two_per_gpu": ("group", "batch_independent"),
    "overfitting": ("dropout", "regularizes"),
}


def chooser(answers):
    return lambda situation: answers[situation]


def test_choices_reference(capsys):
    X.check_choices(chooser(RIGHT))
    X.check_choices(chooser({**RIGHT, "two_per_gpu": ("layer", "batch_independent")}))
    assert capsys.readouterr().out.count("Correct") == 2


def test_choices_not_done_yet():
    def choose(situation):
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        X.check_choices(choose)


@pytest.mark.parametrize("situation,method", sorted(X._WRONG_METHOD))
def test_each_wrong_method_gets_its_diagnosis(situation, method):
    answer = {**RIGHT, situation: (method, RIGHT[situation][1])}
    with pytest.raises(ExerciseError, match=situation):
        X.check_choices(chooser(answer))


def test_every_wrong_method_has_a_diagnosis():
    for situation in X.SITUATIONS:
        accepted = X._ACCEPT[situation][0]
        for method in X.METHODS:
            assert method in accepted or (situation, method) in X._WRONG_METHOD


@pytest.mark.parametrize(
    "answer,match",
    [
        (chooser({**RIGHT, "transformer": ("layer", "fewer_parameters")}), "not for that reason"),
        (chooser({k: v for k, v in RIGHT.items() if k != "overfitting"}), "raised KeyError"),
        (chooser({**RIGHT, "transformer": ("rms", "batch_independent")}), "method must be one of"),
        (chooser({**RIGHT, "transformer": ("layer", "because")}), "reason must be one of"),
        (chooser({**RIGHT, "transformer": "layer"}), "pair"),
        (RIGHT, "function itself"),
    ],
)
def test_choices_bad_answers(answer, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_choices(answer)
