from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import data, models, setup_notebook, train
from course_utils import nn as cnn
from course_utils.data import Split


@pytest.fixture(autouse=True)
def one_thread():
    setup_notebook(quiet=True)


@pytest.fixture(scope="module")
def wine():
    return data.load_wine(standardize=True)


def test_training_is_deterministic(wine):
    runs = []
    for _ in range(2):
        model = models.make_mlp(13, [16], 3, seed=3)
        runs.append(train.train(model, wine, steps=60, lr=0.1, eval_every=20, seed=5))
    assert runs[0].step_loss == runs[1].step_loss
    assert runs[0].steps == [20, 40, 60]


def test_standardized_wine_is_learned(wine):
    hist = train.train(models.make_mlp(13, [], 3, seed=0), wine, steps=200, lr=0.1)
    assert hist.final()["val_acc"] > 0.9 and not hist.diverged
    assert hist.steps_to("val_acc", 0.9) is not None
    assert hist.best("val_loss") <= hist.val_loss[0]


def test_divergence_is_detected_and_stops_training():
    raw = data.load_wine()
    # squared error on raw wine features (proline ~ 1000): each step multiplies the error
    hist = train.train(models.make_mlp(13, [], 1, seed=0), raw, steps=500, lr=0.1, loss="mse")
    assert hist.diverged and len(hist.step_loss) < 500
    assert not math.isfinite(hist.step_loss[-1])


def test_evaluate_restores_training_mode(wine):
    model = models.make_mlp(13, [8], 3, dropout=0.5, seed=0)
    model.train()
    train.evaluate(model, *wine.tensors("val"))
    assert model.training
    model.eval()
    train.evaluate(model, *wine.tensors("val"))
    assert not model.training


def test_train_arguments_are_checked(wine):
    model = models.make_mlp(13, [], 3)
    with pytest.raises(ValueError, match="lr must be > 0"):
        train.train(model, wine, lr=-1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train.train(model, wine, optimizer="lbfgs")
    with pytest.raises(TypeError, match="split must be a course_utils.data.Split"):
        train.train(model, (wine.X_train, wine.y_train))
    with pytest.raises(ValueError, match="metric must be one of"):
        train.History().steps_to("accuracy", 0.9)


def test_mlp_block_order_is_linear_norm_activation_dropout():
    model = models.make_mlp(4, [8, 8], 2, norm="batch", dropout=0.2)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    model = models.make_mlp(4, [8], 2, norm="layer", activation="tanh", input_dropout=0.2)
    assert [type(m).__name__ for m in model] == ["Dropout", "Linear", "LayerNorm", "Tanh", "Linear"]


def test_init_schemes_give_the_stated_std():
    model = models.make_mlp(400, [400], 10, init="kaiming", seed=0)
    assert abs(model[0].weight.std().item() - math.sqrt(2 / 400)) < 0.002
    model = models.make_mlp(400, [400], 10, init="kaiming", gain=0.5, seed=0)
    assert abs(model[0].weight.std().item() - 0.5 * math.sqrt(2 / 400)) < 0.002
    model = models.make_mlp(300, [100], 10, init="xavier", seed=0)
    assert abs(model[0].weight.std().item() - math.sqrt(2 / 400)) < 0.002
    assert torch.all(model[0].bias == 0)


def test_make_mlp_arguments_are_checked():
    with pytest.raises(ValueError, match="activation must be one of"):
        models.make_mlp(4, [8], 2, activation="gelu2")
    with pytest.raises(ValueError, match="gain must be > 0"):
        models.make_mlp(4, [8], 2, gain=-1)
    with pytest.raises(ValueError, match="dropout must be in"):
        models.make_mlp(4, [8], 2, dropout=1.0)
    with pytest.raises(TypeError, match="hidden must be a list of ints"):
        models.make_mlp(4, 8, 2)
    with pytest.raises(ValueError, match=r"hidden\[0\] must be >= 1"):
        models.make_mlp(4, [0], 2)


def test_block_order_places_norm_activation_and_dropout():
    from torch import nn

    from course_utils.models import make_mlp

    def kinds(model):
        return [type(m).__name__ for m in model]

    assert kinds(make_mlp(4, [8], 3, norm="batch", dropout=0.5)) == [
        "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert kinds(make_mlp(4, [8], 3, norm="batch", dropout=0.5, block=("activation", "norm", "dropout"))) == [
        "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert kinds(make_mlp(4, [8], 3, norm="batch", dropout=0.5, block=("dropout", "norm", "activation"))) == [
        "Linear", "Dropout", "BatchNorm1d", "ReLU", "Linear"]
    assert kinds(make_mlp(4, [8], 3, norm="group", groups=2)) == ["Linear", "GroupNorm", "ReLU", "Linear"]
    assert kinds(make_mlp(4, [8], 3, norm="rms")) == ["Linear", "RMSNorm", "ReLU", "Linear"]
    no_bias = make_mlp(4, [8, 8], 3, norm="batch", linear_bias=False)
    assert no_bias[0].bias is None and no_bias[3].bias is None and no_bias[-1].bias is not None
    cumulative = make_mlp(4, [8], 3, norm="batch", norm_kwargs={"momentum": None})
    assert isinstance(cumulative[1], nn.BatchNorm1d) and cumulative[1].momentum is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"block": ("norm", "activation")}, ValueError, "ordering of"),
        ({"block": "norm,activation,dropout"}, TypeError, "block must be a tuple"),
        ({"norm": "group", "groups": 3}, ValueError, "groups=3 must divide"),
        ({"linear_bias": "no"}, TypeError, "linear_bias"),
        ({"norm_kwargs": ["momentum"]}, TypeError, "norm_kwargs"),
    ],
)
def test_block_options_refuse_bad_input(kwargs, error, match):
    from course_utils.models import make_mlp

    with pytest.raises(error, match=match):
        make_mlp(4, [8], 3, **kwargs)


def test_palette_is_shared_and_names_map_to_one_colour():
    from course_utils.plots import COLORS, color_for, style_for

    assert color_for("BatchNorm") == color_for("bn") == color_for("batch") == COLORS["batchnorm"]
    assert color_for("LayerNorm") != color_for("BatchNorm")
    assert color_for("something else", 0) != color_for("something else", 1)
    assert style_for("BN")["marker"] != style_for("LN")["marker"]


def test_recalibrate_batchnorm_uses_x_with_dropout_off_and_restores_everything():
    from torch import nn

    from course_utils import nn as cnn
    from course_utils.train import batchnorm_layers, recalibrate_batchnorm

    torch.manual_seed(0)
    for bn_class in (nn.BatchNorm1d, cnn.BatchNorm1d):
        model = nn.Sequential(nn.Dropout(0.5), bn_class(3, momentum=0.3))
        model.train()
        X = torch.randn(40, 3) * 2 + 5
        recalibrate_batchnorm(model, X, batch_size=10, drop_last=False)
        bn = batchnorm_layers(model)[0]
        # dropout off: the statistics are those of X itself (4 equal batches, cumulative average)
        batch_means = X.reshape(4, 10, 3).mean(1)
        assert torch.allclose(bn.running_mean, batch_means.mean(0), atol=1e-5)
        assert torch.allclose(bn.running_var, X.reshape(4, 10, 3).var(1).mean(0), atol=1e-4)
        assert bn.momentum == 0.3 and model.training and model[0].training and bn.num_batches_tracked == 4


def test_recalibrate_batchnorm_batches_and_refusals():
    from torch import nn

    from course_utils.train import recalibrate_batchnorm

    X = torch.arange(25.0).reshape(25, 1)
    kept = recalibrate_batchnorm(nn.Sequential(nn.BatchNorm1d(1)), X, batch_size=10, drop_last=False)
    dropped = recalibrate_batchnorm(nn.Sequential(nn.BatchNorm1d(1)), X, batch_size=10, drop_last=True)
    assert kept[0].num_batches_tracked == 3 and dropped[0].num_batches_tracked == 2
    with pytest.raises(ValueError, match="no BatchNorm"):
        recalibrate_batchnorm(nn.Sequential(nn.Linear(1, 1)), X)
    with pytest.raises(ValueError, match="batch_size"):
        recalibrate_batchnorm(nn.Sequential(nn.BatchNorm1d(1)), X, batch_size=1)
    with pytest.raises(TypeError, match="X must be a torch.Tensor"):
        recalibrate_batchnorm(nn.Sequential(nn.BatchNorm1d(1)), X.numpy())


def _trained_bn_model():
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2))
    for _ in range(5):
        model(torch.randn(16, 3) * 2 + 1)
    return model.eval()


def _statistics(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}


@pytest.mark.parametrize(
    ("X", "kwargs", "error", "match"),
    [
        (torch.randn(10, 3), {"batch_size": 64}, ValueError, r"X has 10 rows, fewer than batch_size=64.*drop_last"),
        (torch.randn(0, 3), {}, ValueError, "X has 0 rows"),
        (torch.randn(1, 3), {"drop_last": False}, ValueError, "X has 1 rows"),
        (torch.randn(80, 3, dtype=torch.float64), {}, TypeError, "X has dtype torch.float64"),
        (torch.randn(80, 5), {}, ValueError, "in_features=5"),
        (torch.ones(80, 3, dtype=torch.long), {}, TypeError, "X must have a floating dtype"),
    ],
    ids=["shorter-than-a-batch", "empty", "one-row", "float64", "wrong-width", "integers"],
)
def test_recalibrate_batchnorm_refuses_before_it_changes_anything(X, kwargs, error, match):
    # Fewer rows than batch_size used no batch and silently reset every statistic to 0/1; a float64 X failed
    # after the reset, leaving momentum None, the model in eval mode and the statistics wiped.
    from course_utils.train import batchnorm_layers, recalibrate_batchnorm

    model = _trained_bn_model().train()
    before = _statistics(model)
    with pytest.raises(error, match=match):
        recalibrate_batchnorm(model, X, **kwargs)
    after = _statistics(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training and all(layer.momentum == 0.1 for layer in batchnorm_layers(model))


def test_recalibrate_batchnorm_puts_everything_back_when_a_forward_pass_fails():
    from torch import nn

    from course_utils.train import recalibrate_batchnorm

    class FailsOnTheThirdBatch(nn.Module):
        calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 4:  # the fit check, then two batches, then this one
                raise RuntimeError("out of memory")
            return x

    model = _trained_bn_model()
    model.append(FailsOnTheThirdBatch())
    before = _statistics(model)
    with pytest.raises(RuntimeError, match="out of memory"):
        recalibrate_batchnorm(model, torch.randn(200, 3), batch_size=32)
    after = _statistics(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training and model[1].momentum == 0.1 and not model[1].training


def test_recalibrate_batchnorm_skips_instancenorm_and_untracked_layers_and_says_so(capsys):
    from torch import nn

    from course_utils import nn as cnn
    from course_utils.train import batchnorm_layers, recalibrate_batchnorm

    instance = cnn.InstanceNorm1d(2, track_running_stats=True)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.BatchNorm1d(2, track_running_stats=False),
                          nn.Unflatten(1, (2, 1)), nn.Upsample(scale_factor=3), instance)  # fmt: skip
    assert batchnorm_layers(model) == [model[1], model[2]]  # InstanceNorm is not a BatchNorm (as in torch.nn)
    instance_before = _statistics(instance)
    with pytest.warns(UserWarning, match=r"BatchNorm layer\(s\) 2 of model have no running statistics"):
        recalibrate_batchnorm(model, torch.randn(64, 3) + 4, batch_size=16, verbose=True)
    assert "recalibrated 1 BatchNorm layer(s) (1) on 4 batch(es) from 64 rows of X" in capsys.readouterr().out
    assert int(model[1].num_batches_tracked) == 4
    assert all(torch.equal(v, instance_before[k]) for k, v in _statistics(instance).items())
    with pytest.raises(ValueError, match="track_running_stats=False.*nothing to recalibrate"):
        recalibrate_batchnorm(nn.Sequential(nn.BatchNorm1d(2, track_running_stats=False)), torch.randn(64, 2))


def test_recalibrate_batchnorm_shuffles_with_its_own_generator():
    # The seeded shuffle must not draw from (or depend on) torch's global generator.
    from torch import nn

    from course_utils.train import recalibrate_batchnorm

    X = torch.randn(50, 2) + torch.arange(50.0).reshape(50, 1)  # rows differ, so the order matters
    results = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        model = recalibrate_batchnorm(nn.Sequential(nn.BatchNorm1d(2)), X, batch_size=16, seed=3)
        state = torch.random.get_rng_state()
        torch.manual_seed(global_seed)
        assert torch.equal(state, torch.random.get_rng_state()), "the global generator was used"
        results.append(model[0].running_var.clone())
    assert torch.equal(results[0], results[1])
    different = recalibrate_batchnorm(nn.Sequential(nn.BatchNorm1d(2)), X, batch_size=16, seed=4)
    assert not torch.equal(different[0].running_var, results[0])


# ------------------------------------------------------------------ the one loop: schedules and callbacks


def test_every_callback_runs_after_every_evaluation_in_order(wine):
    calls = []
    hist = train.train(
        models.make_mlp(13, [8], 3, seed=0), wine, steps=30, eval_every=10, seed=0,
        callback=lambda step, model, h: calls.append(("callback", step, len(h.steps))),
        callbacks=[lambda step, model, h: calls.append(("first", step, len(h.steps))),
                   lambda step, model, h: calls.append(("second", step, len(h.steps)))],
    )  # fmt: skip
    assert hist.steps == [10, 20, 30]
    expected = [(name, step, i + 1) for i, step in enumerate(hist.steps) for name in ("first", "second", "callback")]
    assert calls == expected


def test_lr_schedule_multiplies_lr_at_every_step(wine):
    def run(schedule):
        model = models.make_mlp(13, [8], 3, seed=0)
        before = [p.detach().clone() for p in model.parameters()]
        hist = train.train(model, wine, steps=20, eval_every=20, seed=0, lr=0.1, lr_schedule=schedule)
        return hist, before, list(model.parameters())

    plain, _, _ = run(None)
    ones, _, _ = run(lambda step: 1.0)
    assert ones.step_loss == plain.step_loss  # a multiplier of 1 changes nothing, to the last bit
    frozen, before, after = run(lambda step: 0.0)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))  # lr 0: no step moves a weight
    seen = []
    run(lambda step: seen.append(step) or 1.0)
    assert seen == list(range(1, 21))


def test_train_steps_stops_when_a_callback_says_so_and_runs_before_update():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    before = [p.detach().clone() for p in model.parameters()]

    def zero_grads():  # e.g. a data-parallel all-reduce: changes the gradients before the update
        for p in model.parameters():
            p.grad.zero_()

    losses = train.train_steps(model, opt, lambda step: model(x).pow(2).mean(), 10, before_update=zero_grads,
                               after_step=[lambda step, loss: step == 4], progress=False)  # fmt: skip
    assert len(losses) == 4 and losses == [losses[0]] * 4
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"callbacks": lambda s, m, h: None}, "callbacks must be a list"), ({"callbacks": [1]}, r"callbacks\[0\]"),
     ({"lr_schedule": 0.5}, "lr_schedule must be a function")],
)  # fmt: skip
def test_bad_callbacks_and_schedules_name_the_argument(wine, kwargs, match):
    with pytest.raises(TypeError, match=match):
        train.train(models.make_mlp(13, [4], 3, seed=0), wine, steps=2, **kwargs)


def test_batchnorm_layers_lists_every_batchnorm_and_no_instancenorm():
    model = torch.nn.Sequential(torch.nn.BatchNorm1d(2), cnn.BatchNorm1d(2), cnn.SyncBatchNorm(2),
                                cnn.InstanceNorm1d(2), torch.nn.InstanceNorm1d(2), cnn.LayerNorm(2))  # fmt: skip
    assert train.batchnorm_layers(model) == [model[0], model[1], model[2]]


def test_seeded_run_is_the_same_run_whatever_ran_before_and_leaves_the_generator_alone(wine):
    from course_utils.experiments.runner import seeded_run

    def run():
        return seeded_run(lambda: models.make_mlp(13, [8], 3, dropout=0.5, seed=2), wine, seed=2, n_train=60,
                          steps=10, eval_every=10)  # fmt: skip

    torch.manual_seed(123)
    model_a, hist_a = run()
    after_a = torch.rand(2)
    torch.manual_seed(123)
    torch.rand(5)  # something else drew first: the run must not change
    model_b, hist_b = run()
    assert hist_a.step_loss == hist_b.step_loss and not model_a.training
    torch.manual_seed(123)
    assert torch.equal(torch.rand(2), after_a)  # the caller's generator as if the run never happened


# ---------- moved here by subject: tests written against mutants that survived `make mutation`


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("xavier", 1.5 * math.sqrt(2.0 / (30 + 20))),
        ("kaiming", 1.5 * math.sqrt(2.0 / 30)),
        ("normal", 1.5 * 0.2),
        ("default", 1.5 / math.sqrt(3.0 * 30)),
    ],
)
def test_init_std_formulas(init, expected):
    assert models.init_std(init, 30, 20, gain=1.5, std=0.2) == pytest.approx(expected, rel=1e-12)


def test_init_std_defaults_and_smallest_layer():
    assert models.init_std("normal", 3, 4) == 0.01
    assert models.init_std("kaiming", 1, 1) == pytest.approx(math.sqrt(2.0))
    for kwargs, match in [({"fan_in": 0}, r"^fan_in must be >= 1"), ({"fan_out": 0}, r"^fan_out must be >= 1"),
                          ({"gain": 0}, r"^gain must be > 0"), ({"std": -1}, r"^std must be > 0"),
                          ({"init": "he"}, r"^init must be one of")]:
        args = {"init": "kaiming", "fan_in": 3, "fan_out": 4} | kwargs
        with pytest.raises(ValueError, match=match):
            models.init_std(**args)


def test_reference_norm_layers_get_the_width_and_the_keyword_arguments():
    model = models.make_mlp(4, [6], 3, norm="batch", reference_layers=True, norm_kwargs={"momentum": None})
    assert isinstance(model[1], cnn.BatchNorm1d) and model[1].num_features == 6 and model[1].momentum is None
    model = models.make_mlp(4, [6], 3, norm="layer", reference_layers=True, norm_kwargs={"eps": 1e-3})
    assert isinstance(model[1], cnn.LayerNorm) and model[1].normalized_shape == (6,) and model[1].eps == 1e-3
    model = models.make_mlp(4, [6], 3, norm="group", groups=3, norm_kwargs={"eps": 1e-3})
    assert model[1].num_groups == 3 and model[1].num_channels == 6 and model[1].eps == 1e-3
    model = models.make_mlp(4, [6], 3, norm="rms", norm_kwargs={"eps": 1e-3})
    assert model[1].normalized_shape == (6,) and model[1].eps == 1e-3


def test_an_empty_history_has_a_defined_final_and_no_best():
    assert train.History().final() == {"train_loss": math.inf, "train_acc": 0.0, "val_loss": math.inf,
                                       "val_acc": 0.0}
    with pytest.raises(ValueError, match="^History is empty: nothing was evaluated"):
        train.History().best()
    assert train.History().steps_to("val_acc", 0.5) is None


def test_final_is_the_last_evaluation():
    history = train.History(steps=[1, 2], train_loss=[0.9, 0.5], train_acc=[0.2, 0.6], val_loss=[1.0, 0.7],
                            val_acc=[0.1, 0.4])
    assert history.final() == {"train_loss": 0.5, "train_acc": 0.6, "val_loss": 0.7, "val_acc": 0.4}
    longer = train.History(steps=[1, 2, 3], train_loss=[0.9, 0.5, 0.4], train_acc=[0.2, 0.6, 0.7],
                           val_loss=[1.0, 0.7, 0.6], val_acc=[0.1, 0.4, 0.5])
    assert longer.final()["val_acc"] == 0.5  # the last, not the second
    with pytest.raises(ValueError):
        train.History(steps=[1, 2], val_acc=[0.5]).steps_to("val_acc", 0.9)  # lengths must agree


def test_steps_to_counts_reaching_the_threshold_exactly():
    history = train.History(steps=[10, 20, 30], train_loss=[0.9, 0.5, 0.5], train_acc=[0.2, 0.6, 0.6],
                            val_loss=[1.0, 0.7, 0.3], val_acc=[0.1, 0.4, 0.8])
    assert history.steps_to("val_acc", 0.4) == 20  # >= for an accuracy
    assert history.steps_to("val_loss", 0.7) == 20  # <= for a loss
    assert history.steps_to("train_loss", 0.5) == 20
    assert history.steps_to("val_acc", 0.9) is None and history.steps_to("val_loss", 0.1) is None
    with pytest.raises(TypeError, match=r"^threshold must be a number"):
        history.steps_to("val_acc", "0.5")


BLOBS = data.make_blobs(n_samples=60, seed=0)


def test_train_runs_exactly_steps_and_evaluates_on_schedule_and_at_the_end():
    calls = []
    model = models.make_mlp(2, [], 3, seed=0)

    def record(step, m, h):
        calls.append((step, m is model, len(h.steps)))

    history = train.train(model, BLOBS, steps=7, eval_every=3, progress=False, callback=record)
    assert history.steps == [3, 6, 7] and len(history.step_loss) == 7
    assert calls == [(3, True, 1), (6, True, 2), (7, True, 3)]
    X, y = BLOBS.tensors("train")
    assert (history.val_loss[-1], history.val_acc[-1]) == train.evaluate(model, *BLOBS.tensors("val"))
    assert (history.train_loss[-1], history.train_acc[-1]) == train.evaluate(model, X, y)
    assert model.training


def test_train_defaults_are_the_documented_ones():
    blobs = data.make_blobs(n_samples=300, seed=0)  # more training examples than the default batch size
    a = train.train(models.make_mlp(2, [], 3, seed=0), blobs, progress=False)
    b = train.train(models.make_mlp(2, [], 3, seed=0), blobs, steps=1000, lr=0.1, batch_size=64, optimizer="sgd",
                    momentum=0.0, weight_decay=0.0, loss="cross_entropy", eval_every=50, seed=0, progress=False)
    assert a.step_loss == b.step_loss and a.steps == b.steps and len(a.steps) == 20


def _manual_steps(model, optimizer, n_steps, batch_size, seed, loss_fn=torch.nn.functional.cross_entropy):
    X, y = BLOBS.tensors("train")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(X), generator=gen)
    for i in range(n_steps):
        idx = perm[i * batch_size:(i + 1) * batch_size]
        optimizer.zero_grad()
        loss_fn(model(X[idx]), y[idx]).backward()
        optimizer.step()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_takes_the_same_steps_as_a_hand_written_loop(optimizer):
    ours = models.make_mlp(2, [4], 3, seed=1)
    reference = models.make_mlp(2, [4], 3, seed=1)
    kwargs = {"momentum": 0.9} if optimizer == "sgd" else {}
    train.train(ours, BLOBS, steps=3, lr=0.05, batch_size=8, optimizer=optimizer, weight_decay=0.01, seed=4,
                progress=False, **kwargs)
    if optimizer == "sgd":
        opt = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01)
    else:
        opt = torch.optim.Adam(reference.parameters(), lr=0.05, weight_decay=0.01)
    _manual_steps(reference, opt, 3, 8, seed=4)
    for a, b in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_train_with_batches_of_one_and_batches_larger_than_the_data():
    assert len(train.train(models.make_mlp(2, [], 3), BLOBS, steps=3, batch_size=1, progress=False).step_loss) == 3
    history = train.train(models.make_mlp(2, [], 3), BLOBS, steps=2, batch_size=10_000, progress=False)
    assert len(history.step_loss) == 2


def test_batches_are_an_epochwise_partition_without_the_short_tail():
    batches = train.minibatch_indices(10, 3, torch.Generator().manual_seed(0))
    epoch = [next(batches) for _ in range(3)]
    assert all(len(b) == 3 for b in epoch)
    assert len(set(torch.cat(epoch).tolist())) == 9
    assert len(next(batches)) == 3  # a new epoch starts: the short tail (1 index) is dropped
    eleven = train.minibatch_indices(11, 3, torch.Generator().manual_seed(0))
    assert [len(next(eleven)) for _ in range(5)] == [3] * 5  # never the 2-index tail of 11 = 3 + 3 + 3 + 2
    whole = train.minibatch_indices(5, 50, torch.Generator().manual_seed(0))
    assert sorted(next(whole).tolist()) == [0, 1, 2, 3, 4]
    again = train.minibatch_indices(10, 3, torch.Generator().manual_seed(0))
    assert torch.equal(next(again), epoch[0])


def test_mse_training_and_evaluation():
    model = models.make_mlp(2, [], 1, seed=0)
    X, y = BLOBS.tensors("val")
    value, acc = train.evaluate(model, X, y, loss="mse")
    with torch.no_grad():
        expected = float(((model(X).squeeze(-1) - y.float()) ** 2).mean())
    assert value == pytest.approx(expected, rel=1e-6) and math.isnan(acc)
    history = train.train(model, BLOBS, steps=3, lr=0.01, loss="mse", progress=False)
    assert len(history.step_loss) == 3 and all(math.isnan(a) for a in history.val_acc)
    with pytest.raises(ValueError, match="loss='mse' needs a model with 1 output"):
        train.evaluate(torch.nn.Unflatten(1, (2, 1)), X, y, loss="mse")  # a 3-D output


def test_progress_bar_follows_the_argument_and_the_environment(monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("NORMCOURSE_NO_PROGRESS", raising=False)
    assert train.progress_enabled() is True
    monkeypatch.setenv("CI", "1")
    assert train.progress_enabled() is False and train.progress_enabled(True) is True
    monkeypatch.delenv("CI")
    monkeypatch.setenv("NORMCOURSE_NO_PROGRESS", "1")
    assert train.progress_enabled() is False and train.progress_enabled(False) is False
    with pytest.raises(TypeError, match=r"^progress must be True or False"):
        train.progress_enabled("yes")
    capsys.readouterr()
    train.train(models.make_mlp(2, [], 3), BLOBS, steps=2, progress=False)
    assert capsys.readouterr().err == ""
    train.train(models.make_mlp(2, [], 3), BLOBS, steps=2, progress=True)
    err = capsys.readouterr().err
    assert "0/2" in err
    assert err.rstrip("\r").split("\r")[-1].strip() == ""  # leave=False: the finished bar is cleared
    train.train(models.make_mlp(2, [], 3), BLOBS, steps=2)  # NORMCOURSE_NO_PROGRESS is set: no bar
    assert capsys.readouterr().err == ""


def test_evaluate_checks_shapes_and_label_types():
    model = models.make_mlp(13, [], 3)
    wine = data.load_wine(standardize=True)
    X, y = wine.tensors("val")
    assert train.evaluate(model, X[:1], y[:1])[1] in (0.0, 1.0)  # a single example is fine
    with pytest.raises(ValueError, match=r"^X must have shape \(examples, features\).*got \(13,\)"):
        train.evaluate(model, X[0], y[:1])
    with pytest.raises(ValueError, match=r"^X must have shape .*got \(0, 13\)"):
        train.evaluate(model, X[:0], y[:0])
    with pytest.raises(TypeError, match=r"^y must be a torch.Tensor, got list"):
        train.evaluate(model, X, y.tolist())
    with pytest.raises(TypeError, match=r"^y must hold class indices .*torch.float32"):
        train.evaluate(model, X, y.float())
    with pytest.raises(ValueError, match=r"^model has 3 outputs but the data has 4 classes"):
        train.evaluate(model, X, torch.where(y == 2, 3, y))
    with pytest.raises(ValueError, match=r"^model must return \(examples, classes\) scores"):
        train.evaluate(torch.nn.Flatten(0), X, y)


def test_model_errors_name_the_cause():
    wine = data.load_wine(standardize=True)
    X, y = wine.tensors("val")
    with pytest.raises(ValueError, match=r"first Linear layer expects 12 features; build it with in_features=13"):
        train.evaluate(models.make_mlp(12, [], 3), X, y)
    inner = torch.nn.Sequential(torch.nn.Linear(13, 4), torch.nn.Linear(5, 3))  # the first layer fits
    with pytest.raises(ValueError, match=r"check that the model's input size matches the data\. \(torch said: mat1"):
        train.evaluate(inner, X, y)
    assert train.evaluate(torch.nn.Sequential(torch.nn.Identity()), X[:, :3], y)[0] > 0  # a model without parameters
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module .*got str"):
        train.evaluate("model", X, y)
    with pytest.raises(TypeError, match=r"^split must be a course_utils.data.Split, got tuple"):
        train.train(models.make_mlp(13, [], 3), (X, y))
    with pytest.raises(TypeError, match=r"^callback must be a function .*got int"):
        train.train(models.make_mlp(2, [], 3), BLOBS, callback=3)
    with pytest.raises(ValueError, match=r"^momentum=0.5 is only used by optimizer='sgd'"):
        train.train(models.make_mlp(2, [], 3), BLOBS, optimizer="adam", momentum=0.5)
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, optimizer="adam", momentum=0.0, progress=False)
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, momentum=0.99, progress=False)


def test_make_mlp_defaults_for_normal_init_and_groups():
    model = models.make_mlp(400, [400], 3, init="normal", seed=0)
    assert abs(model[0].weight.std().item() - 0.01) < 0.001
    assert models.make_mlp(4, [8], 3, norm="group")[1].num_groups == 4
    assert models.make_mlp(4, [8], 3, norm="group", groups=1)[1].num_groups == 1


def test_limits_on_lr_weight_decay_and_spread_are_inclusive():
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, lr=1e6, progress=False)
    assert train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, weight_decay=1e6, progress=False)
    for kwargs in ({"lr": 1.0000005e6}, {"weight_decay": 1.0000005e6}):
        with pytest.raises(ValueError, match="must be <= 1e6"):
            train.train(models.make_mlp(2, [], 3), BLOBS, steps=1, **kwargs)
    assert data.make_blobs(spread=1e6).n_features == 2
    with pytest.raises(ValueError, match=r"^spread must be <= 1e6"):
        data.make_blobs(spread=1.0000005e6)


def test_class_labels_must_be_integers_for_cross_entropy_in_train():
    from dataclasses import replace

    floaty = replace(BLOBS, y_train=BLOBS.y_train.astype(np.float32))
    with pytest.raises(TypeError, match=r"^y must hold class indices"):
        train.train(models.make_mlp(2, [], 3), floaty, steps=1)
    floaty_val = replace(BLOBS, y_val=BLOBS.y_val.astype(np.float32))
    with pytest.raises(TypeError, match=r"^y must hold class indices"):
        train.train(models.make_mlp(2, [], 3), floaty_val, steps=1)


def test_a_model_without_linear_layers_that_fails_gets_the_generic_hint():
    class Bad(torch.nn.Module):
        def forward(self, x):
            return x @ torch.ones(5, 3)

    wine = data.load_wine(standardize=True)
    with pytest.raises(ValueError, match=r"check that the model's input size matches the data"):
        train.evaluate(Bad(), *wine.tensors("val"))


def test_make_mlp_applies_a_non_default_init_std_and_gain():
    model = models.make_mlp(400, [400], 3, init="normal", std=0.2, seed=0)
    assert abs(model[0].weight.std().item() - 0.2) < 0.01
    default = models.make_mlp(400, [400], 3, seed=0)
    assert default[0].weight.abs().max().item() <= 1 / math.sqrt(400)  # torch's own uniform init, untouched
    scaled = models.make_mlp(400, [400], 3, gain=2.0, seed=0)  # gain alone re-initializes (default scheme)
    assert abs(scaled[0].weight.std().item() - 2.0 / math.sqrt(3 * 400)) < 0.005
    assert models.make_mlp(1, [2], 1)[0].in_features == 1
    with pytest.raises(ValueError, match=r"^seed must be >= 0"):
        models.make_mlp(4, [8], 3, seed=-1)


# ---------- moved here by subject: tests written against inputs that used to give a silent wrong result


def test_momentum_with_adam_is_refused_instead_of_ignored():
    split = data.make_blobs(n_samples=60, seed=0)
    with pytest.raises(ValueError, match="momentum=0.9 is only used by optimizer='sgd'"):
        train.train(models.make_mlp(2, [], 3), split, steps=1, optimizer="adam", momentum=0.9)


def test_train_refuses_a_split_without_validation_examples():
    split = data.make_blobs(n_samples=60, seed=0)
    from dataclasses import replace

    empty_val = replace(split, X_val=split.X_val[:0], y_val=split.y_val[:0])
    with pytest.raises(ValueError, match="no validation examples"):
        train.train(models.make_mlp(2, [], 3), empty_val, steps=1)


def test_train_names_the_input_size_mismatch(wine):
    with pytest.raises(ValueError, match=r"13 features.*in_features=13"):
        train.train(models.make_mlp(12, [8], 3), wine, steps=1)


def test_train_names_the_output_count_mismatch(wine):
    with pytest.raises(ValueError, match=r"2 outputs but the data has 3 classes.*out_features=3"):
        train.train(models.make_mlp(13, [8], 2), wine, steps=1)


def test_train_refuses_mse_on_a_classifier(wine):
    with pytest.raises(ValueError, match=r"loss='mse' needs a model with 1 output.*cross_entropy"):
        train.train(models.make_mlp(13, [8], 3), wine, steps=1, loss="mse")


def test_train_validates_the_callback_before_the_first_step(wine):
    model = models.make_mlp(13, [8], 3, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(TypeError, match="callback must be a function"):
        train.train(model, wine, steps=5, eval_every=1, callback="print")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_fit_check_draws_no_randomness_and_changes_no_statistics(wine):
    model = models.make_mlp(13, [8], 3, norm="batch", dropout=0.5, seed=0)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    train._check_model_fits(model, *wine.tensors("train"), "cross_entropy", wine)
    assert torch.equal(torch.rand(3), expected)
    assert int(model[1].num_batches_tracked) == 0 and model.training


def test_evaluate_refuses_integer_inputs(wine):
    X, y = wine.tensors("val")
    with pytest.raises(TypeError, match=r"X must have a floating dtype.*X.float\(\)"):
        train.evaluate(models.make_mlp(13, [], 3), X.long(), y)


def test_evaluate_switches_the_model_to_eval_mode(wine):
    """Planted bug: evaluate() without model.eval() (the restored mode flag alone does not show it)."""
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(self.training)
            return x

    model = nn.Sequential(models.make_mlp(13, [8], 3, dropout=0.5, seed=0), Spy())
    model.train()
    loss_a, acc_a = train.evaluate(model, *wine.tensors("val"))
    loss_b, acc_b = train.evaluate(model, *wine.tensors("val"))
    assert seen == [False, False]
    assert (loss_a, acc_a) == (loss_b, acc_b)  # no dropout noise in evaluation
    assert model.training


def test_history_best_is_the_minimum_of_a_loss_and_the_maximum_of_an_accuracy():
    """Planted bug: History.best taking the max for a loss (a non-monotone sequence shows it)."""
    history = train.History(steps=[1, 2, 3], train_loss=[0.5, 0.2, 0.9], val_loss=[0.7, 0.4, 0.6],
                            train_acc=[0.3, 0.8, 0.5], val_acc=[0.6, 0.5, 0.7])
    assert history.best("train_loss") == 0.2
    assert history.best("val_loss") == 0.4
    assert history.best("train_acc") == 0.8
    assert history.best() == 0.7
    assert history.steps_to("val_loss", 0.45) == 2 and history.steps_to("val_acc", 0.65) == 3


# ---------- moved here by subject: tests written against one-line bugs that survived the unit tests
# (a planted-bug run over the code of notebooks 03-05; each comment names the bug it failed with)


def test_train_draws_its_batches_with_its_seed_only():
    from course_utils.models import make_mlp
    from course_utils.train import train

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    split = Split(X[:40], y[:40], X[40:], y[40:], X[40:], y[40:], target_names=["a", "b"])

    def fit(global_seed):
        model = make_mlp(4, [8], 2, norm="batch", seed=0)
        torch.manual_seed(global_seed)  # after make_mlp, whose seed= sets the global generator itself
        return train(model, split, steps=5, batch_size=8, seed=3, progress=False).step_loss

    assert fit(0) == fit(1)
