"""course_utils.experiments.dropout: the claims notebook 02 makes, on small, fast configurations."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import setup_notebook
from course_utils.experiments import dropout as E
from course_utils.models import make_mlp
from course_utils.train import History

setup_notebook(quiet=True)

SMALL = {"p_values": (0.0, 0.5), "sizes": (50, 100), "seeds": (0, 1), "steps": 40, "hidden": (32, 32)}


@pytest.fixture(scope="module")
def grid():
    return E.sweep_grid(**SMALL)


def test_kept_fraction_is_one_minus_p():
    for p in (0.1, 0.5, 0.8):
        counts = E.kept_counts(100, p, n_masks=4000, seed=1)
        assert abs(counts.mean() / 100 - (1 - p)) < 0.01
        assert counts.min() < counts.max()  # a random number, not exactly (1 - p) n


def test_binomial_pmf_matches_histogram():
    pmf = E.binomial_pmf(10, 0.5)
    assert pmf.sum() == pytest.approx(1.0)
    counts = E.kept_counts(10, 0.5, n_masks=20000)
    hist = np.bincount(counts, minlength=11) / len(counts)
    assert np.abs(hist - pmf).max() < 0.01


def test_mean_output_preserved_only_with_rescaling():
    x = np.linspace(0.1, 3.0, 20)
    assert np.abs(E.mean_output(x, 0.5, n_masks=20000) - x).max() < 0.1
    assert np.abs(E.mean_output(x, 0.5, n_masks=20000, rescale=False) - 0.5 * x).max() < 0.05


def test_dropout_np_values():
    x = np.ones((50, 50))
    out = E.dropout_np(x, 0.25, seed=3)
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert np.array_equal(E.dropout_np(x, 0.0), x)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_bad_p_value_errors(bad):
    with pytest.raises(ValueError, match="p must be in"):
        E.dropout_np(np.ones(3), bad)
    with pytest.raises(ValueError, match="p must be in"):
        E.kept_counts(10, bad)


@pytest.mark.parametrize("bad", ["0.5", None, True])
def test_p_not_a_number(bad):
    with pytest.raises(TypeError, match="p must be a number"):
        E.bernoulli_mask((3,), bad)
    with pytest.raises(TypeError, match="p must be a number"):
        E.train_run(p=bad)


def test_keep_to_drop():
    assert E.keep_to_drop(0.8) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="keep_prob"):
        E.keep_to_drop(0.0)
    assert {row[2] for row in E.P_CONVENTIONS} == {"drop", "keep"}


def test_forgetting_eval_makes_predictions_random():
    model = make_mlp(64, [64, 64], 10, dropout=0.5, seed=0)
    X = torch.rand(200, 64)
    model.train()
    assert E.prediction_flip_rate(E.repeated_predictions(model, X, 5)) > 0.05
    model.eval()
    assert E.prediction_flip_rate(E.repeated_predictions(model, X, 5)) == 0.0


def test_grid_is_cached_and_shaped(grid):
    assert E.sweep_grid(**SMALL) is grid
    assert E.sweep_grid(**{**SMALL, "p_values": [0.5, 0.0]}) is grid  # normalized before caching
    assert grid.table("val_acc").shape == (2, 2)
    assert grid.best_p(100) in grid.p_values
    with pytest.raises(ValueError, match="p must be one of"):
        grid.curve(0.3, 50)


def test_grid_bad_arguments():
    with pytest.raises(ValueError):
        E.sweep_grid(p_values=(0.0, 1.0))
    with pytest.raises(ValueError, match="sizes must be <="):
        E.sweep_grid(sizes=(10**6,))


def test_train_run_is_deterministic():
    a = E._train((50, 0.5, 0.0, 0, 10, (16,)))
    torch.rand(7)  # whatever ran before, a run draws only from generators seeded by its key
    b = E._train((50, 0.5, 0.0, 0, 10, (16,)))
    assert a.history.val_loss == b.history.val_loss and a.history.step_loss == b.history.step_loss


def test_runs_trained_in_worker_processes_are_the_runs_trained_here(monkeypatch):
    # The grid, the paired runs and input-vs-hidden train on every core; the numbers must not depend on it.
    keys = [(50, p, ip, s, 12, (16,)) for p, ip in ((0.0, 0.0), (0.5, 0.2)) for s in (0, 1)]
    here = [E._train(k) for k in keys]
    monkeypatch.setattr(E, "_RUNS", {})
    monkeypatch.setenv("NORMCOURSE_WORKERS", "2")
    there = E._train_all(keys)
    for a, b in zip(here, there, strict=True):
        assert a.history.step_loss == b.history.step_loss and a.history.val_loss == b.history.val_loss
        for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    assert E._train_all(keys)[0] is there[0]  # cached: asked again, the same Run object


def test_bad_arguments_are_refused_before_any_training():
    with pytest.raises(ValueError, match="n_train"):
        E.long_runs(n_train=5, seeds=(0, 1))
    with pytest.raises(ValueError, match="hidden"):
        E.input_vs_hidden(hidden=(0,))


def test_features_and_activations(grid):
    stats = E.activation_stats(grid.runs[(0.5, 50, 0)].model, torch.rand(5, 64))
    assert len(stats) == 2 and all(row["mean"] >= 0 and 0 <= row["near_zero"] <= 1 for row in stats)
    acts = E.hidden_activations(grid.runs[(0.5, 50, 0)].model, torch.rand(5, 64))
    assert acts.shape == (5 * 32,)


def test_mc_dropout(grid):
    model = grid.runs[(0.5, 100, 0)].model
    X, y = E._digits().tensors("val")
    rows = E.mc_vs_weight_scaling(model, X[:100], y[:100], ks=(1, 10, 50))
    assert rows["agreement"][-1] >= rows["agreement"][0] - 0.02
    assert not model.training  # mode restored
    probs = E.mc_probabilities(model, X[:10], k=4)
    assert probs.shape == (4, 10, 10)
    assert np.allclose(probs.sum(-1), 1, atol=1e-5)


def test_unlike_digits():
    assert E.unlike_digits("noise", n=5).shape == (5, 64)
    inv = E.unlike_digits("inverted", n=5)
    assert float(inv.min()) >= 0 and float(inv.max()) <= 1
    with pytest.raises(ValueError, match="kind"):
        E.unlike_digits("rotated")


def test_placement_relu_exact_sigmoid_not():
    x = torch.randn(64, 32)
    a, b = E.placement_outputs(x, 0.5, "relu", seed=4)
    assert torch.equal(a, b)
    a, b = E.placement_outputs(x, 0.5, "sigmoid", seed=4)
    assert not torch.allclose(a, b)
    with pytest.raises(TypeError, match="x must be"):
        E.placement_outputs(np.ones(3), 0.5)


# ---------------------------------------------------- functions the notebook relies on, tested directly


def test_mc_probabilities_really_turn_dropout_on():
    # A model whose output depends only on the dropout mask: with dropout ON, the k passes must differ.
    model = make_mlp(8, [64], 3, dropout=0.5, seed=0)
    X = torch.ones(4, 8)
    probs = E.mc_probabilities(model, X, k=5, seed=0)
    assert probs.shape == (5, 4, 3)
    assert np.ptp(probs, axis=0).max() > 1e-3, "MC passes identical: dropout was left off"
    model.train()
    E.mc_probabilities(model, X, k=2)
    assert model.training   # the mode is restored


def test_mutual_information_is_zero_when_the_masks_agree_and_positive_otherwise():
    same = np.tile(np.array([[[0.7, 0.2, 0.1]]]), (4, 1, 1))
    assert E.mutual_information(same) == pytest.approx([0.0], abs=1e-12)
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert E.mutual_information(disagree) == pytest.approx([np.log(2)], rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        E.mutual_information(np.ones((3, 2)))


def test_dropout_variance_matches_x2_p_over_1_minus_p():
    x = np.array([0.5, 1.0, 2.0])
    for p in (0.2, 0.5):
        measured, predicted = E.dropout_variance(x, p, n_masks=40_000, seed=1)
        assert predicted == pytest.approx(x**2 * p / (1 - p))
        assert np.abs(measured / predicted - 1).max() < 0.05


def test_weight_scaling_is_exact_only_for_a_single_softmax_layer():
    single = E.weight_scaling_gaps(None, p=0.5, n_inputs=8)
    deep = E.weight_scaling_gaps(16, p=0.5, n_inputs=8)
    assert single["geometric"] < 1e-12
    assert single["arithmetic"] > 1e-3 and deep["geometric"] > 1e-3


def test_placement_gaps_dropped_and_kept_units():
    z = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    relu, tanh, sig = (E.placement_gaps(z, 0.5, a) for a in ("relu", "tanh", "sigmoid"))
    assert relu == {"dropped": 0.0, "kept": 0.0}
    assert tanh["dropped"] == 0.0 and tanh["kept"] > 0.1
    assert sig["dropped"] == pytest.approx(0.5) and sig["kept"] > 0.1


def test_long_runs_are_paired_and_paired_metric_orients_losses(grid):
    runs = E.long_runs(50, 0.5, seeds=(0, 1), steps=30, hidden=(16,))
    assert list(runs) == ["no dropout", "dropout p=0.5"]
    assert [r.seed for r in runs["no dropout"]] == [r.seed for r in runs["dropout p=0.5"]] == [0, 1]
    loss = E.paired_metric(runs, "val_loss")
    assert loss.a == "dropout p=0.5" and loss.higher_is_better is False
    acc = E.grid_paired(grid, 50, 0.5, "val_acc")
    assert acc.higher_is_better and acc.seeds == grid.seeds
    assert E.train_mode_loss(runs["no dropout"][0], last=5) > 0
    best = E.paired_metric(runs, "best_val_loss")   # the lowest validation loss of any evaluation, not the last
    for arm, values in ((best.a, best.a_values), (best.b, best.b_values)):
        assert list(values) == [min(r.history.val_loss) for r in runs[arm]]
    assert best.higher_is_better is False
    # an overfitting history: the best is the middle evaluation, not the last
    bumpy = {arm: [E.Run(r.model, dataclasses.replace(r.history, val_loss=[1.0, 0.5, 0.8]), r.n_train, r.p,
                         r.input_p, r.seed) for r in arm_runs] for arm, arm_runs in runs.items()}
    assert E.paired_metric(bumpy, "best_val_loss").a_values == (0.5, 0.5)


def test_uncertainty_by_seed_shapes(grid):
    scores = E.uncertainty_by_seed(grid, n_train=100, p=0.5, k=3)
    assert set(scores) == {"softmax", "softmax (dropout net)", "MC entropy", "MC mutual information"}
    for by_input in scores.values():
        assert set(by_input) == {"test digits", "inverted digits", "uniform noise"}
        assert all(len(v) == len(grid.seeds) for v in by_input.values())


# ---------- moved here by subject: tests written against one-line bugs that survived the unit tests
# (a planted-bug run over the code of notebooks 03-05; each comment names the bug it failed with)


def _run(seed: int, **final) -> E.Run:
    history = History(steps=[1], train_loss=[final.get("train_loss", 1.0)], train_acc=[final.get("train_acc", 0.5)],
                      val_loss=[final["val_loss"]], val_acc=[final["val_acc"]])  # fmt: skip
    return E.Run(model=nn.Identity(), history=history, n_train=10, p=0.0, input_p=0.0, seed=seed)


@pytest.mark.parametrize(("metric", "higher_is_better"), [("val_loss", False), ("val_acc", True)])
def test_dropout_paired_metric_knows_which_direction_is_better(metric, higher_is_better):
    # Planted: higher_is_better=metric.endswith("loss") (or left at its default): a lower loss counted as worse.
    runs = {
        "dropout": [_run(s, val_loss=0.5, val_acc=0.9) for s in range(3)],
        "no dropout": [_run(s, val_loss=0.8, val_acc=0.8) for s in range(3)],
    }
    result = E.paired_metric(runs, metric=metric, a="dropout")
    assert result.higher_is_better is higher_is_better
    assert result.wins == 3  # dropout is better on both metrics, in every seed


def test_dropout_grid_paired_knows_which_direction_is_better():
    seeds = (0, 1)
    runs = {}
    for p, loss in ((0.0, 0.8), (0.5, 0.5)):
        for s in seeds:
            runs[(p, 10, s)] = _run(s, val_loss=loss, val_acc=1 - loss)
    grid = E.DropoutGrid(p_values=(0.0, 0.5), sizes=(10,), seeds=seeds, steps=1, hidden=(4,), runs=runs)
    for metric, higher in (("val_loss", False), ("val_acc", True)):
        result = E.grid_paired(grid, 10, 0.5, metric=metric)
        assert result.higher_is_better is higher and result.wins == 2, metric
