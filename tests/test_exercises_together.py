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
    X.check_choices(chooser({**RIGHT, "overfitting": ("batch", "regularizes")}))   # BN narrowed the gap too (05 grid)
    assert capsys.readouterr().out.count("Correct") == 3


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


# ------------------------------------------------------------------------------------------ exercise 4


@pytest.fixture
def small_grid(monkeypatch):
    """The exercise on a tiny grid: 5 seeds, 40 steps, 16 units (the real one trains the notebook's runs)."""
    from course_utils.experiments import together as E

    real = E.train_config
    monkeypatch.setattr(E, "SEEDS", (0, 1, 2, 3, 4))
    monkeypatch.setattr(E, "TARGET_ACC", 0.5)   # LN reaches it within 40 steps, none does not: they differ
    monkeypatch.setattr(E, "train_config",
                        lambda name, n_train=E.FULL_N, seed=0: real(name, n_train, seed, 40, (16, 16)))
    for name in ("LN", "none", "LN+dropout"):   # warm the cache (the notebook's grid is trained before the exercise)
        for seed in range(6):
            E.train_config(name, E.FULL_N, seed)
    return E


def ablation(E, order=("LN", "none"), higher=False, seeds=None):
    from course_utils.paired import paired

    def my_ablation(train_steps):
        seeds_ = seeds or E.SEEDS
        steps = {n: [train_steps(E.train_config(n, E.FULL_N, s)) for s in seeds_] for n in ("LN", "none", "LN+dropout")}
        a, b = order
        return (paired(a, steps[a], b, steps[b], seeds_, higher_is_better=higher),
                paired("LN", steps["LN"], "LN+dropout", steps["LN+dropout"], seeds_, higher_is_better=higher))

    return my_ablation


def test_paired_ablation_reference(small_grid, capsys):
    X.check_paired_ablation(ablation(small_grid))
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "LN vs none:" in out and "rule: p < 0.05" in out


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"higher": True}, "higher_is_better=False"),       # planted: accuracy orientation for a step count
        ({"order": ("none", "LN")}, "wrong way round"),      # planted: a and b swapped
        ({"seeds": (0, 1, 2)}, "E.SEEDS"),                   # planted: too few seeds
    ],
)
def test_paired_ablation_mistakes(small_grid, kwargs, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_paired_ablation(ablation(small_grid, **kwargs))


def test_paired_ablation_wrong_runs(small_grid):
    def shifted(train_steps):   # planted: steps of the wrong seeds
        return ablation(small_grid, seeds=(1, 2, 3, 4, 5))(train_steps)

    with pytest.raises(ExerciseError, match="E.SEEDS"):
        X.check_paired_ablation(shifted)
    with pytest.raises(ExerciseError, match="two results"):
        X.check_paired_ablation(lambda train_steps: None)
