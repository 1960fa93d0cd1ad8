import math

import pytest
import torch

from course_utils import data, models, setup_notebook, train


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
    from course_utils import nn as cnn

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
