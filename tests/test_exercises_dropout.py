"""Exercise checks of notebook 02 pass the reference solutions and fail wrong answers."""

import pytest
import torch

from course_utils import setup_notebook
from course_utils.exercises import ExerciseError
from course_utils.exercises import dropout as X
from course_utils.experiments import dropout as E

setup_notebook(quiet=True)


def inverted(x, p, rng):
    return x * (rng.random(x.shape) >= p) / (1 - p)


def test_inverted_dropout_reference(capsys):
    X.check_inverted_dropout(inverted)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    "wrong",
    [
        lambda x, p, rng: x * (rng.random(x.shape) >= p),  # no rescaling
        lambda x, p, rng: x * (rng.random(x.shape) < p) / p,  # p used as keep probability
        lambda x, p, rng: x * (1 - p),  # deterministic scaling
        lambda x, p, rng: x,  # identity
        lambda x, p, rng: [0] * len(x),  # not an array
        lambda x, p, rng: 1 / 0,  # raises
    ],
)
def test_inverted_dropout_wrong(wrong):
    with pytest.raises(ExerciseError):
        X.check_inverted_dropout(wrong)


def test_predict_fix(capsys):
    def predict(model, X):
        model.eval()
        with torch.no_grad():
            return model(X).argmax(dim=1)

    X.check_predict_fix(predict)
    assert "Correct" in capsys.readouterr().out


def test_predict_without_eval_fails():
    def predict(model, X):
        with torch.no_grad():
            return model(X).argmax(dim=1)

    with pytest.raises(ExerciseError, match="eval"):
        X.check_predict_fix(predict)


def test_chosen_p():
    grid = E.sweep_grid(p_values=(0.0, 0.5), sizes=(50,), seeds=(0,), steps=40, hidden=(32, 32))
    accs = {p: grid.mean(p, 50, "val_acc") for p in grid.p_values}
    best, worst = max(accs, key=accs.get), min(accs, key=accs.get)
    X.check_chosen_p(best, grid, 50)
    if accs[best] - accs[worst] > 0.005:
        with pytest.raises(ExerciseError):
            X.check_chosen_p(worst, grid, 50)
    with pytest.raises(ExerciseError, match="Choose one"):
        X.check_chosen_p(0.3, grid, 50)
    with pytest.raises(ExerciseError, match="n_train"):
        X.check_chosen_p(best, grid, 77)
