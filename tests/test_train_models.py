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
