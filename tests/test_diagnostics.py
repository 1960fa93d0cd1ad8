"""course_utils.diagnostics: hooks that always remove themselves, and the per-layer statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils.diagnostics import (
    SATURATION_SIGMOID,
    SATURATION_TANH,
    ActivationRecorder,
    dead_fraction,
    layer_statistics,
    saturation_fraction,
    update_ratio_callback,
    update_ratios,
    weight_grad_norms,
)
from course_utils.models import make_mlp


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules())


def test_hooks_are_removed_after_the_block():
    model = make_mlp(4, [8, 8], 2, activation="tanh", seed=0)
    with ActivationRecorder(model) as rec:
        assert _hook_count(model) == 4  # forward + backward hook on each of the 2 tanh layers
        model(torch.randn(5, 4))
    assert _hook_count(model) == 0 and not rec.active


def test_hooks_are_removed_even_when_the_block_raises():
    model = make_mlp(4, [8], 2, seed=0)
    with pytest.raises(RuntimeError, match="boom"), ActivationRecorder(model):
        model(torch.randn(3, 4))
        raise RuntimeError("boom")
    assert _hook_count(model) == 0


def test_hooks_are_removed_when_the_forward_pass_fails():
    model = make_mlp(4, [8], 2, seed=0)
    with pytest.raises(RuntimeError), ActivationRecorder(model):
        model(torch.randn(3, 5))  # wrong number of features
    assert _hook_count(model) == 0


def test_recorder_stats_forward_and_backward():
    model = make_mlp(6, [16, 16], 3, activation="relu", init="kaiming", seed=0)
    X, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    stats, rec = layer_statistics(model, X, y, keep=True)
    assert [s.kind for s in stats] == ["relu", "relu"]
    h1 = torch.relu(model[0](X)).detach()
    assert stats[0].mean == pytest.approx(float(h1.mean()), rel=1e-5)
    assert stats[0].std == pytest.approx(float(h1.std()), rel=1e-5)
    assert stats[0].dead == pytest.approx(dead_fraction(h1))
    assert all(s.saturated is None and s.grad_norm is not None and s.grad_norm > 0 for s in stats)
    assert rec.outputs["1"].shape == (32, 16) and rec.grads["1"].shape == (32, 16)
    assert len(weight_grad_norms(model)) == 3


def test_forward_only_has_no_gradients():
    model = make_mlp(6, [16], 3, activation="sigmoid", seed=0)
    stats, _ = layer_statistics(model, torch.randn(8, 6))
    assert stats[0].grad_norm is None and 0 <= stats[0].saturated <= 1


def test_saturation_thresholds_are_the_documented_ones():
    assert SATURATION_TANH == 0.97 and SATURATION_SIGMOID == (0.03, 0.97)
    a = torch.tensor([[-0.99, -0.5, 0.0, 0.96, 0.98]])
    assert saturation_fraction(a, "tanh") == pytest.approx(2 / 5)
    s = torch.tensor([[0.01, 0.03, 0.5, 0.97, 0.99]])
    assert saturation_fraction(s, "sigmoid") == pytest.approx(2 / 5)


def test_dead_units_must_be_zero_for_every_example():
    a = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert dead_fraction(a) == pytest.approx(1 / 3)


def test_update_ratio_is_lr_times_grad_over_weight():
    model = nn.Sequential(nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    model(torch.ones(1, 3)).sum().backward()  # dL/dW = 1 everywhere
    assert update_ratios(model, lr=0.01) == [pytest.approx(0.01)]


def test_update_ratio_callback_records_during_training():
    from course_utils.data import load_wine
    from course_utils.train import train

    split = load_wine(standardize=True)
    model = make_mlp(13, [8], 3, seed=0)
    hist = train(model, split, steps=10, lr=0.1, eval_every=5, callback=update_ratio_callback(0.1), progress=False)
    ratios = hist.extra["update_ratio"]
    assert len(ratios) == 2 and all(len(r) == 2 and all(x > 0 for x in r) for r in ratios)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ActivationRecorder("not a model"), TypeError, "model"),
        (lambda: ActivationRecorder(nn.Linear(2, 2), kinds=["relu"]), ValueError, "no layers"),
        (lambda: ActivationRecorder(make_mlp(2, [2], 2), kinds="relu"), TypeError, "kinds"),
        (lambda: saturation_fraction(torch.zeros(2, 2), "relu"), ValueError, "activation"),
        (lambda: dead_fraction(torch.zeros(3)), ValueError, "batch"),
        (lambda: update_ratios(make_mlp(2, [2], 2), lr=-1), ValueError, "lr"),
        (lambda: weight_grad_norms(make_mlp(2, [2], 2)), RuntimeError, "backward"),
    ],
)
def test_bad_input_gives_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_stats_without_forward_pass_explains():
    rec = ActivationRecorder(make_mlp(2, [2], 2))
    with rec, pytest.raises(RuntimeError, match="forward pass"):
        rec.stats()


# ---------- moved here by subject: tests written against inputs that used to give a silent wrong result


def test_backward_hook_records_the_gradient_of_the_output_not_of_the_input():
    """Planted bug: the backward hook recording grad_input instead of grad_output."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    torch.manual_seed(0)
    x = torch.randn(5, 3) * 3  # saturating: grad_input = grad_output * (1 - tanh^2) differs a lot
    weights = torch.randn(5, 4)
    with ActivationRecorder(model, kinds=["tanh"]) as rec:
        (model(x) * weights).sum().backward()
    torch.testing.assert_close(rec.grads["1"], weights)
    assert rec.stats()[0].grad_norm == pytest.approx(float(weights.norm()))
