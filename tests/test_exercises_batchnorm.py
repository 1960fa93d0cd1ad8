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
    mode = model.training
    model.eval()
    with torch.no_grad():
        classes = model(X).argmax(1)
    model.train(mode)
    return classes


def test_predict_right_answer_passes(capsys):
    ex.check_bn_predict(good_predict)
    assert "Correct" in capsys.readouterr().out


def test_predict_in_train_mode_under_no_grad():
    def bad(model, X):
        with torch.no_grad():
            return model(X).argmax(1)

    with pytest.raises(ExerciseError, match="changed the running statistics"):
        ex.check_bn_predict(bad)


def test_predict_that_leaves_the_model_in_eval_mode_is_named():
    # The notebook's promise: "the model is left as it was found". A predict that switches to eval mode for
    # good would turn the rest of a training loop into eval-mode training.
    def stays_in_eval(model, X):
        model.eval()
        with torch.no_grad():
            return model(X).argmax(1)

    with pytest.raises(ExerciseError, match="left the model in evaluation mode"):
        ex.check_bn_predict(stays_in_eval)


def test_predict_that_always_returns_to_train_mode_is_named():
    def always_train(model, X):
        model.eval()
        with torch.no_grad():
            classes = model(X).argmax(1)
        model.train()
        return classes

    with pytest.raises(ExerciseError, match="was in evaluation mode to training mode"):
        ex.check_bn_predict(always_train)


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


# -------------------------------------------------- exercise 1: the backward pass through the graph, stage by stage


def make_staged(mistake=None):
    """A staged backward (written unlike the notebook's solution) with one configurable mistake."""

    def staged(dout, x, gamma, eps):
        n = x.shape[0]
        mu = x.mean(axis=0)
        centered = x - mu
        var = (centered**2).mean(axis=0)
        inv_std = (var + eps) ** -0.5
        x_hat = centered * inv_std
        g = {"beta": np.sum(dout, axis=0), "gamma": np.sum(x_hat * dout, axis=0)}
        if mistake == "beta_mean":
            g["beta"] = dout.mean(axis=0)
        if mistake == "gamma_is_beta":
            g["gamma"] = dout.sum(axis=0)
        g["x_hat"] = dout if mistake == "x_hat_no_gamma" else gamma * dout
        g["inv_std"] = np.sum(g["x_hat"] * (x_hat if mistake == "inv_std_x_hat" else centered), axis=0)
        if mistake == "inv_std_not_summed":
            g["inv_std"] = g["x_hat"] * centered
        power = {"var_power": -0.5}.get(mistake, -1.5)
        sign = 0.5 if mistake == "var_sign" else -0.5
        shift = 0.0 if mistake == "var_no_eps" else eps
        g["var"] = sign * (var + shift) ** power * g["inv_std"]
        through_var = {"centered_no_var_path": 0.0, "centered_no_mean": 2.0}.get(mistake, 2.0 / n)
        g["centered"] = g["x_hat"] * inv_std + through_var * centered * g["var"]
        g["mu"] = (1 if mistake == "mu_sign" else -1) * g["centered"].sum(axis=0)
        g["x"] = g["centered"] + (0.0 if mistake == "x_no_mean_path" else g["mu"] / n)
        if mistake == "x_mu_not_divided":
            g["x"] = g["centered"] + g["mu"]
        if mistake == "missing_key":
            del g["var"]
        if mistake == "list":
            g["x"] = g["x"].tolist()   # a nested list is accepted as an array
        return g

    return staged


@pytest.mark.parametrize("variant", [None, "list"])
def test_staged_right_answers_pass(variant, capsys):
    ex.check_staged_backward(make_staged(variant))
    assert "every stage agrees with autograd" in capsys.readouterr().out


def test_autograd_reference_is_the_compact_formula():
    # The reference itself: x's gradient from autograd equals the closed form of section 1.
    from course_utils.numpy_layers import batchnorm_backward, batchnorm_forward

    rng = np.random.default_rng(0)
    x, gamma, dout = rng.normal(2, 3, (6, 4)), rng.normal(size=4), rng.normal(size=(6, 4))
    grads = ex.autograd_stage_gradients(dout, x, gamma, 1e-5)
    _, cache = batchnorm_forward(x, gamma, np.zeros(4), np.zeros(4), np.ones(4), training=True)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert np.allclose(grads["x"], dx) and np.allclose(grads["gamma"], dgamma) and np.allclose(grads["beta"], dbeta)
    assert set(grads) == set(ex.STAGES)


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [("beta_mean", r"grads\['beta'\].*not the mean"), ("gamma_is_beta", r"grads\['gamma'\].*beta's gradient"),
     ("x_hat_no_gamma", r"grads\['x_hat'\].*scaled by gamma"), ("inv_std_x_hat", r"grads\['inv_std'\].*centered"),
     ("inv_std_not_summed", r"grads\['inv_std'\] has shape \(8, 4\).*one number per feature"),
     ("var_sign", r"grads\['var'\]: Sign"), ("var_power", r"grads\['var'\]: The power rule"),
     ("var_no_eps", r"grads\['var'\]: eps"),
     ("centered_no_var_path", r"grads\['centered'\].*two nodes"),
     ("centered_no_mean", r"grads\['centered'\].*factor 1/N"), ("mu_sign", r"grads\['mu'\]: Sign"),
     ("x_no_mean_path", r"grads\['x'\].*two nodes"), ("x_mu_not_divided", r"grads\['x'\].*1/N of mu"),
     ("missing_key", "no entry for var")],
)  # fmt: skip
def test_staged_mistakes_are_named_at_their_stage(mistake, hint):
    with pytest.raises(ExerciseError, match=hint) as info:
        ex.check_staged_backward(make_staged(mistake))
    # Words, never the solution's code.
    for fragment in ("np.", "sum(axis", "** -", "dout *", "grads["):
        assert fragment not in str(info.value).split(":", 1)[1], str(info.value)


def test_staged_unknown_mistake_still_names_the_stage():
    def off(dout, x, gamma, eps):
        g = make_staged()(dout, x, gamma, eps)
        g["mu"] = g["mu"] * 1.5
        return g

    with pytest.raises(ExerciseError, match=r"grads\['mu'\] disagrees with autograd.*stages before it are right"):
        ex.check_staged_backward(off)


def test_staged_not_done_yet():
    def staged(dout, x, gamma, eps):
        raise NotImplementedError

    with pytest.raises(NotDoneYet):
        ex.check_staged_backward(staged)
