"""Notebook 03's exercise checks: the right answers pass, and every named mistake gets its hint."""

import numpy as np
import pytest
import torch

from course_utils import setup_notebook
from course_utils.exercises import ExerciseError, NotDoneYet
from course_utils.exercises import batchnorm as ex

setup_notebook(quiet=True)


def make_bn(axis=0, train_var_unbiased=False, eps_mode="inside", update=True, update_in_eval=False,
            detach=True, keras_momentum=False, running_unbiased=True, eval_uses_batch=False):
    """A BatchNorm forward with one configurable mistake."""

    def bn(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        n = x.shape[axis]
        if training or eval_uses_batch:
            mean = x.mean(axis, keepdim=True)
            var = x.var(axis, unbiased=train_var_unbiased, keepdim=True)
        else:
            mean, var = running_mean, running_var
        if eps_mode == "inside":
            x_hat = (x - mean) / torch.sqrt(var + eps)
        elif eps_mode == "missing":
            x_hat = (x - mean) / torch.sqrt(var)
        else:
            x_hat = (x - mean) / (torch.sqrt(var) + eps)
        if (training and update) or (not training and update_in_eval):
            m = mean.reshape(-1)
            v = x.var(axis, unbiased=running_unbiased).reshape(-1) if axis == 0 else var.reshape(-1)[: len(running_var)]
            if detach:
                m, v = m.detach(), v.detach()
            w = (1 - momentum) if keras_momentum else momentum
            if axis == 0:
                running_mean.mul_(1 - w).add_(w * m)
                running_var.mul_(1 - w).add_(w * v)
        del n
        return x_hat * gamma + beta

    return bn


def test_right_answer_passes(capsys):
    ex.check_batchnorm_forward(make_bn())
    assert "Correct" in capsys.readouterr().out


def test_torch_batch_norm_is_refused():
    with pytest.raises(ExerciseError, match="not allowed"):
        ex.check_batchnorm_forward(ex.reference_batchnorm)


@pytest.mark.parametrize(
    "mistake,hint",
    [
        ({"axis": 1}, "Wrong axis"),
        ({"train_var_unbiased": True}, "biased"),
        ({"eps_mode": "missing"}, "Missing eps"),
        ({"eps_mode": "outside"}, "inside the square root"),
        ({"update": False}, "not updated"),
        ({"keras_momentum": True}, "Momentum convention"),
        ({"running_unbiased": False}, "Biased running variance"),
        ({"detach": False}, "Not detached"),
        ({"update_in_eval": True}, "updated in eval"),
        ({"eval_uses_batch": True}, "eval mode normalize with running"),
    ],
)
def test_forward_mistakes_are_named(mistake, hint):
    with pytest.raises(ExerciseError, match=hint):
        ex.check_batchnorm_forward(make_bn(**mistake))


def test_not_done_yet():
    def stub(*args):
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        ex.check_batchnorm_forward(stub)


def good_backward(dout, x, gamma, eps):
    n = x.shape[0]
    mean, var = x.mean(0), x.var(0)
    inv = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv
    dbeta, dgamma = dout.sum(0), (dout * x_hat).sum(0)
    return gamma * inv / n * (n * dout - dbeta - x_hat * dgamma), dgamma, dbeta


def test_backward_right_answer_passes(capsys):
    ex.check_batchnorm_backward(good_backward)
    assert "Correct" in capsys.readouterr().out


def test_backward_direct_path_only():
    def direct(dout, x, gamma, eps):
        dx, dg, db = good_backward(dout, x, gamma, eps)
        return dout * gamma / np.sqrt(x.var(0) + eps), dg, db

    with pytest.raises(ExerciseError, match="only the direct path"):
        ex.check_batchnorm_backward(direct)


def test_backward_wrong_axis_for_gamma():
    def wrong(dout, x, gamma, eps):
        dx, dg, db = good_backward(dout, x, gamma, eps)
        return dx, (dout * x).sum(1), dout.sum(1)

    with pytest.raises(ExerciseError, match="Sum over the batch axis"):
        ex.check_batchnorm_backward(wrong)


def test_backward_wrong_dx_caught_by_gradcheck():
    def off(dout, x, gamma, eps):
        dx, dg, db = good_backward(dout, x, gamma, eps)
        return dx * 1.01, dg, db

    with pytest.raises(ExerciseError, match="numerical gradient"):
        ex.check_batchnorm_backward(off)


def good_predict(model, X):
    model.eval()
    with torch.no_grad():
        return model(X).argmax(1)


def test_predict_right_answer_passes(capsys):
    ex.check_bn_predict(good_predict)
    assert "Correct" in capsys.readouterr().out


def test_predict_in_train_mode_under_no_grad():
    def bad(model, X):
        with torch.no_grad():
            return model(X).argmax(1)

    with pytest.raises(ExerciseError, match="changed the running statistics"):
        ex.check_bn_predict(bad)


def test_predict_batch_statistics_without_updates():
    def bad(model, X):
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.track_running_stats = False
                m.running_mean_backup = None
        with torch.no_grad():
            out = torch.nn.functional.batch_norm  # noqa: F841
            h = model[0](X)
            h = torch.nn.functional.batch_norm(h, None, None, model[1].weight, model[1].bias, True)
            for layer in list(model)[2:]:
                h = layer(h)
            return h.argmax(1)

    with pytest.raises(ExerciseError, match="smaller batch"):
        ex.check_bn_predict(bad)


# ----------------------------------------------------------------- exercise 4: fold BatchNorm into the Linear


def make_fold(mistake=None):
    def fold(linear, bn):
        eps = 0.0 if mistake == "no_eps" else bn.eps
        g = bn.weight / torch.sqrt(bn.running_var + eps)
        if mistake == "columns":
            g_w = linear.weight * g[: linear.in_features].repeat(2)[None, : linear.in_features]
        else:
            g_w = linear.weight * g[:, None]
        bias = {"no_beta": (linear.bias - bn.running_mean) * g, "no_mean": linear.bias * g + bn.bias}.get(
            mistake, (linear.bias - bn.running_mean) * g + bn.bias
        )
        if mistake == "in_place":
            with torch.no_grad():
                linear.weight.mul_(g[:, None])
            return linear
        out = torch.nn.Linear(linear.in_features, linear.out_features).double()
        with torch.no_grad():
            out.weight.copy_(g_w)
            out.bias.copy_(bias)
        return out

    return fold


def test_fold_right_answer_passes(capsys):
    ex.check_fold_batchnorm(make_fold())
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [("no_eps", "Missing eps"), ("columns", "row j of W"), ("no_beta", "forgets beta"),
     ("no_mean", "forgets the running mean"), ("in_place", "changed linear or bn")],
)  # fmt: skip
def test_fold_mistakes_are_named(mistake, hint):
    with pytest.raises(ExerciseError, match=hint):
        ex.check_fold_batchnorm(make_fold(mistake))


def test_fold_not_done_yet():
    def fold(linear, bn):
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        ex.check_fold_batchnorm(fold)


# ------------------------------------------------------------- exercise 5: masked statistics for padded sequences


def make_masked_stats(mistake=None):
    def stats(x, mask):
        m = mask[:, None, :].to(x.dtype)
        count = m.sum()
        if mistake == "padding_counts":
            return x.mean(dim=(0, 2)), x.var(dim=(0, 2), unbiased=False)
        if mistake == "count_everything":
            count = torch.tensor(float(mask.numel()))
        mean = (x * m).sum(dim=(0, 2)) / count
        var = (((x - mean[None, :, None]) ** 2) * m).sum(dim=(0, 2)) / (count - 1 if mistake == "unbiased" else count)
        return mean, var

    return stats


def test_masked_stats_right_answer_passes(capsys):
    ex.check_masked_stats(make_masked_stats())
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [("padding_counts", "padding zeros count"), ("count_everything", "padding zeros count"),
     ("unbiased", "biased variance")],
)  # fmt: skip
def test_masked_stats_mistakes_are_named(mistake, hint):
    with pytest.raises(ExerciseError, match=hint):
        ex.check_masked_stats(make_masked_stats(mistake))
