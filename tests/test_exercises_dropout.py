"""Exercise checks of notebook 02 pass the reference solutions and name each usual mistake."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import setup_notebook
from course_utils.exercises import ExerciseError, NotDoneYet
from course_utils.exercises import dropout as X

setup_notebook(quiet=True)


# ------------------------------------------------------------------ 2.1 forward with a train/eval flag


def forward_ok(x, p, training, rng):
    if not training:
        return x, None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask


def backward_ok(dout, cache):
    return dout if cache is None else dout * cache


def test_forward_reference(capsys):
    X.check_dropout_forward(forward_ok)
    assert capsys.readouterr().out.startswith("Correct:")


def _global_np(x, p, training, rng):
    return (x * (np.random.random(x.shape) >= p) / (1 - p), None) if training else (x, None)


def _same_mask(x, p, training, rng):
    keep = np.random.default_rng(0).random(x.shape) >= p
    return (x * keep / (1 - p), None) if training else (x, None)


def _fixed_count(x, p, training, rng):
    if not training:
        return x, None
    n_drop = int(round(p * x.shape[1]))
    keep = np.ones(x.shape, bool)
    for row in keep:
        row[rng.permutation(x.shape[1])[:n_drop]] = False
    return x * keep / (1 - p), None


def _torch_dropout(x, p, training, rng):
    out = torch.nn.functional.dropout(torch.from_numpy(x), p, training=training)
    return out.numpy(), None


def _per_column(x, p, training, rng):
    keep = rng.random((1, x.shape[1])) >= p
    return (x * keep / (1 - p), None) if training else (x, None)


def _per_row(x, p, training, rng):
    keep = rng.random((x.shape[0], 1)) >= p
    return (x * keep / (1 - p), None) if training else (x, None)


def _no_rescale(x, p, training, rng):
    return (x * (rng.random(x.shape) >= p), None) if training else (x, None)


def _keep_prob(x, p, training, rng):
    return (x * (rng.random(x.shape) < p) / p, None) if training else (x, None)


def _eval_scaled(x, p, training, rng):
    return (x * (rng.random(x.shape) >= p) / (1 - p), None) if training else (x * (1 - p), None)


def _ignores_flag(x, p, training, rng):
    return x * (rng.random(x.shape) >= p) / (1 - p), None


def _nan(x, p, training, rng):
    return (x * (rng.random(x.shape) >= p) / (1 - p) * np.nan, None) if training else (x, None)


def _bare_array(x, p, training, rng):
    return x * (rng.random(x.shape) >= p) / (1 - p)


def _stub(x, p, training, rng):
    raise NotImplementedError


def _slightly_off_scale(x, p, training, rng):  # 1 % off: must not pass
    return (x * (rng.random(x.shape) >= p) / (1 - p) * 1.01, None) if training else (x, None)


def _slightly_off_rate(x, p, training, rng):  # drops with p + 0.03: must not pass
    q = min(p + 0.03, 0.99)
    return (x * (rng.random(x.shape) >= q) / (1 - p), None) if training else (x, None)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_global_np, "not from np.random"),
        (_same_mask, "same generator gave the same mask"),
        (_fixed_count, "independent coin flip"),
        (_torch_dropout, "called a ready-made dropout"),
        (_per_column, "every example \\(row\\) got the same mask"),
        (_per_row, "whole examples"),
        (_no_rescale, "1/\\(1 - p\\)"),
        (_keep_prob, "probability of DROPPING"),
        (_eval_scaled, "identity"),
        (_ignores_flag, "identity"),
        (_nan, "NaN"),
        (_bare_array, "pair \\(out, cache\\)"),
        (_slightly_off_scale, "multiplied by 1.262"),
        (_slightly_off_rate, "survived"),
    ],
    ids=lambda v: getattr(v, "__name__", "hint"),
)
def test_forward_mistakes_are_named(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        X.check_dropout_forward(wrong)


def test_forward_stub_is_not_done_yet():
    with pytest.raises(NotDoneYet):
        X.check_dropout_forward(_stub)


def test_forward_check_does_not_leak_its_generators():
    np.random.seed(123)
    X.check_dropout_forward(forward_ok)
    assert np.random.random() == np.random.RandomState(123).random_sample()


def test_torch_dropout_is_restored_after_a_check():
    with pytest.raises(ExerciseError):
        X.check_dropout_forward(_torch_dropout)
    assert torch.nn.functional.dropout(torch.ones(4), 0.5, training=False).tolist() == [1.0] * 4


# ------------------------------------------------------------------------------------- 2.2 backward


def test_backward_reference(capsys):
    X.check_dropout_backward(forward_ok, backward_ok)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda dout, cache: dout, "no effect on the output|dx = dout"),
        (lambda dout, cache: dout if cache is None else dout * (cache != 0), "scale their gradient"),
        (lambda dout, cache: dout if cache is None else dout * cache / 2, "twice|gradient check failed"),
        (lambda dout, cache: dout if cache is None else dout * cache * 1.001, "gradient check failed"),
        (lambda dout, cache: dout * 0 if cache is None else dout * cache, "dx = dout"),
        (lambda dout, cache: None, "numpy array"),
    ],
)
def test_backward_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        X.check_dropout_backward(forward_ok, wrong)


def test_backward_double_scaling_is_named():
    def keep_only(x, p, training, rng):
        if not training:
            return x, None
        keep = rng.random(x.shape) >= p
        return x * keep / (1 - p), keep / (1 - p)

    with pytest.raises(ExerciseError, match="twice"):
        X.check_dropout_backward(keep_only, lambda dout, cache: dout if cache is None else dout * cache / (1 - 0.3))


def test_backward_with_a_wrong_forward_sends_back_to_2_1():
    with pytest.raises(ExerciseError, match="exercise 2.1"):
        X.check_dropout_backward(_no_rescale, backward_ok)


# ---------------------------------------------------------------------------------------- 2.3 module


class GoodDropout(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        return x * (torch.rand(x.shape) >= self.p) / (1 - self.p)


class AlwaysDrops(GoodDropout):
    def forward(self, x):
        return x * (torch.rand(x.shape) >= self.p) / (1 - self.p)


class OwnFlag(GoodDropout):
    def __init__(self, p):
        super().__init__(p)
        self.active = True

    def forward(self, x):
        return x * (torch.rand(x.shape) >= self.p) / (1 - self.p) if self.active else x


class CallsTorch(GoodDropout):
    def forward(self, x):
        return torch.nn.functional.dropout(x, self.p, training=self.training)


class ViaNumpy(GoodDropout):
    def forward(self, x):
        if not self.training:
            return x
        keep = np.random.default_rng().random(tuple(x.shape)) >= self.p
        return torch.from_numpy(x.detach().numpy() * keep / (1 - self.p)).float()


class NotAModule:
    def __init__(self, p):
        self.p = p


def test_module_reference(capsys):
    X.check_dropout_module(GoodDropout)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (AlwaysDrops, "self.training"),
        (OwnFlag, "self.training"),
        (CallsTorch, "ready-made dropout"),
        (ViaNumpy, "autograd|Stay in torch|gradient"),
        (NotAModule, "nn.Module"),
    ],
)
def test_module_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        X.check_dropout_module(wrong)


# ---------------------------------------------------------------------------------- 2.4 fix predict


def fixed_predict(model, X_):
    model.eval()
    with torch.no_grad():
        return model(X_).argmax(dim=1)


def test_predict_fix(capsys):
    X.check_predict_fix(fixed_predict)
    assert "Correct" in capsys.readouterr().out


def test_the_buggy_predict_shown_in_the_notebook_fails():
    with pytest.raises(ExerciseError, match="dropout is still active"):
        X.check_predict_fix(X.buggy_predict)


def test_predict_that_zeroes_the_weights_fails():
    def vandal(model, X_):
        model.eval()
        with torch.no_grad():
            for param in model.parameters():
                param.zero_()
            return model(X_).argmax(dim=1)

    with pytest.raises(ExerciseError, match="do not change its weights"):
        X.check_predict_fix(vandal)


def test_predict_that_mutates_its_input_fails():
    def mutate(model, X_):
        model.eval()
        X_.mul_(0)
        with torch.no_grad():
            return model(X_).argmax(dim=1)

    with pytest.raises(ExerciseError, match="inputs"):
        X.check_predict_fix(mutate)


def test_nan_predictions_get_their_own_hint():
    with pytest.raises(ExerciseError, match="NaN"):
        X.check_predict_fix(lambda model, X_: torch.full((len(X_),), float("nan")))


@pytest.mark.parametrize("bad", [lambda m, x: 1 / 0, lambda m, x: None, lambda m, x: m(x)])
def test_predict_failures_are_wrapped(bad):
    with pytest.raises(ExerciseError):
        X.check_predict_fix(bad)


# ------------------------------------------------------------------------------ 2.5 reading evidence


def supports_ok(a_values, b_values, higher_is_better=True):
    gains = np.asarray(a_values, dtype=float) - np.asarray(b_values, dtype=float)
    gains = gains if higher_is_better else -gains
    if len(gains) < 5 or gains.mean() <= 0:
        return False
    flipped = np.array([np.dot(signs, gains) for signs in itertools.product((1, -1), repeat=len(gains))])
    return bool(np.mean(flipped >= gains.sum() - 1e-12) < 0.05)


def test_supports_reference(capsys):
    X.check_supports(supports_ok)
    assert capsys.readouterr().out.startswith("Correct:")


def _strict(a, b, h=True):  # counts only patterns strictly above the observed mean
    g = (np.asarray(a, dtype=float) - b) * (1 if h else -1)
    flipped = np.array([np.dot(s, g) for s in itertools.product((1, -1), repeat=len(g))])
    return bool(len(g) >= 5 and g.mean() > 0 and np.mean(flipped > g.sum()) < 0.05)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda a, b, h=True: bool(np.mean(a) > np.mean(b)) if h else bool(np.mean(a) < np.mean(b)), "look again at"),
        (lambda a, b, h=True: bool(np.mean(a) - np.mean(b) > np.std(a) + np.std(b)) if h
         else bool(np.mean(b) - np.mean(a) > np.std(a) + np.std(b)), "pairing: compare seed by seed"),
        (lambda a, b, h=True: supports_ok(a, b, True), "lower is better"),
        (lambda a, b, h=True: bool(np.all(np.asarray(a) > np.asarray(b))) if h
         else bool(np.all(np.asarray(a) < np.asarray(b))), "look again at"),
        (lambda a, b, h=True: bool(len(a) >= 5 and np.all(np.asarray(a) > np.asarray(b))) if h
         else bool(len(a) >= 5 and np.all(np.asarray(a) < np.asarray(b))), "look again at"),
        (lambda a, b, h=True: (lambda g: bool(len(g) >= 5 and (g > 0).sum() >= len(g) - 1))(
            (np.asarray(a) - b) * (1 if h else -1)), "look again at"),
        (lambda a, b, h=True: (lambda g: bool(g.mean() > 0 and g.mean() > g.std(ddof=1) or np.all(g > 0)))(
            (np.asarray(a) - b) * (1 if h else -1)), "look again at"),
        (_strict, "look again at"),  # ">" instead of ">=": the observed pattern itself is not counted
        (lambda a, b, h=True: "yes", "True or False"),
    ],
)
def test_supports_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        X.check_supports(wrong)


class SameMaskModule(GoodDropout):
    def forward(self, x):
        if not self.training:
            return x
        gen = torch.Generator().manual_seed(0)
        return x * (torch.rand(x.shape, generator=gen) >= self.p) / (1 - self.p)


class ReturnsNumpy(GoodDropout):
    def forward(self, x):
        return (x * (torch.rand(x.shape) >= self.p) / (1 - self.p)).numpy() if self.training else x


@pytest.mark.parametrize(("wrong", "hint"), [(SameMaskModule, "same mask"), (ReturnsNumpy, "torch.Tensor")])
def test_more_module_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        X.check_dropout_module(wrong)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda dout, cache: dout * np.nan, "NaN"),
        (lambda dout, cache: (dout if cache is None else dout * cache)[:2], "shape"),
    ],
)
def test_more_backward_mistakes(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        X.check_dropout_backward(forward_ok, wrong)
