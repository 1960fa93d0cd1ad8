"""Checks for notebook 05's exercises: build the block in the right order, fix the dropout -> BatchNorm
variance shift, and choose a normalization for a described situation (with a reason).

Every check calls the learner's function through :func:`call_learner` and names the usual mistake it
finds; it never prints the answer.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from ..data import load_digits
from ..experiments.together import bn_layers, bn_variance_ratios
from ..models import make_mlp
from . import ExerciseError, call_learner, ok, require, run_check

__all__ = [
    "check_block",
    "check_recalibration",
    "check_choices",
    "check_paired_ablation",
    "SITUATIONS",
    "METHODS",
    "REASONS",
]

_ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU, nn.ELU, nn.SiLU)
_NORMS = (nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d)


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.BatchNorm1d):
        return "batchnorm"
    if isinstance(module, _NORMS) or "Norm" in type(module).__name__:
        return "othernorm"
    if isinstance(module, _ACTIVATIONS):
        return "activation"
    if isinstance(module, nn.Dropout | nn.AlphaDropout) or "Dropout" in type(module).__name__:
        return "dropout"
    return type(module).__name__


def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


# ------------------------------------------------------------------------------------------ exercise 1


def _reference_block(linear: nn.Linear, p: float) -> nn.Sequential:
    """The course's block with the learner's Linear weights (BatchNorm1d with torch's defaults)."""
    ref = nn.Sequential(nn.Linear(linear.in_features, linear.out_features, bias=False),
                        nn.BatchNorm1d(linear.out_features), nn.ReLU(), nn.Dropout(p))
    with torch.no_grad():
        ref[0].weight.copy_(linear.weight)
    return ref.double()


def _same_behaviour(block: nn.Module, linear: nn.Linear, n_in: int, p: float) -> None:
    """Run the learner's block and the reference side by side: training steps (same random seed for the
    dropout masks), gradients, running statistics, then eval mode on batches of 1 and 5."""
    block = block.double()
    ref = _reference_block(linear, p)
    gen = torch.Generator().manual_seed(n_in)
    for step in range(3):
        x = torch.randn(16, n_in, generator=gen, dtype=torch.float64) * 2 + 1
        block.train()
        ref.train()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(step)
            out = block(x)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(step)
            expected = ref(x)
        require(isinstance(out, torch.Tensor) and out.shape == expected.shape,
                f"A batch of 16 must give shape {tuple(expected.shape)}, got {tuple(getattr(out, 'shape', ()))}.")
        require(torch.allclose(out, expected, rtol=1e-6, atol=1e-8),
                "In training mode your block computes something else than the course's block: its forward must run "
                "Linear, then BatchNorm1d, then ReLU, then Dropout, in that order, each called once (and plain "
                "nn.Dropout, which drops single elements).")
        weights = torch.randn(out.shape, generator=gen, dtype=torch.float64)
        (grad,) = torch.autograd.grad((out * weights).sum(), linear.weight)
        (expected_grad,) = torch.autograd.grad((expected * weights).sum(), ref[0].weight)
        require(torch.allclose(grad.double(), expected_grad, rtol=1e-6, atol=1e-8),
                "The gradient through your block differs from the course's block: keep every layer in autograd.")
    block.eval()
    ref.eval()
    for n in (5, 1):
        x = torch.randn(n, n_in, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            out, expected = block(x), ref(x)
        require(torch.allclose(out, expected, rtol=1e-6, atol=1e-8),
                f"In eval mode (a batch of {n}) your block differs from the course's block after the same training "
                "steps: keep BatchNorm1d's defaults (momentum, running statistics tracked, eps) so that its running "
                "statistics follow the training batches, and let Dropout be the identity in eval mode.")


def check_block(build_block) -> None:
    """``build_block(in_features, out_features, p) -> nn.Sequential`` must build the course's block
    ``Linear (no bias) -> BatchNorm1d -> ReLU -> Dropout(p)``: checked by structure (for the hints) and by
    behaviour against the course's block (training steps with the same dropout seeds, gradients, running
    statistics, eval mode on one example)."""
    ok(run_check(_check_block_body, build_block, name="build_block"))


def _check_block_body(build_block) -> str:
    for n_in, n_out, p in ((64, 32, 0.3), (10, 7, 0.5), (5, 3, 0.1)):
        block = call_learner(build_block, n_in, n_out, p, name="build_block")
        require(isinstance(block, nn.Module),
                f"build_block must return an nn.Module (a Sequential of layers), got {type(block).__name__}.")
        layers = _leaves(block)
        kinds = [_kind(m) for m in layers]
        require("linear" in kinds, "The block starts with a Linear layer.")
        require(kinds[0] == "linear", f"Put the Linear first: your layers are {kinds}.")
        require(kinds.count("linear") == 1, f"One Linear per block, got {kinds.count('linear')}.")
        require("activation" in kinds,
                "Missing activation: without a nonlinearity, stacked blocks collapse into one linear map. "
                "Add the activation.")
        if "batchnorm" not in kinds:
            require("othernorm" not in kinds,
                    "This block uses BatchNorm1d (an MLP trained with batches); LayerNorm/GroupNorm are for other "
                    "situations (exercise 3).")
            raise ExerciseError("Missing normalization: the block normalizes the Linear's outputs over the batch.")
        require("dropout" in kinds, "Missing dropout: the block ends with dropout.")
        require(len(kinds) == 4, f"Exactly four layers (Linear, BatchNorm1d, ReLU, Dropout), got {kinds}.")
        linear, bn = layers[kinds.index("linear")], layers[kinds.index("batchnorm")]
        i_bn, i_act, i_drop = kinds.index("batchnorm"), kinds.index("activation"), kinds.index("dropout")
        require(i_drop > i_bn,
                "Dropout before BatchNorm: in training BN then sees the extra variance dropout adds, at inference it "
                "does not (Li et al.'s variance shift). Put Dropout after the normalization.")
        require(i_bn < i_act,
                "Normalization after the activation: the block normalizes the Linear's output (the pre-activation), "
                "then applies the ReLU. Swap BatchNorm1d and ReLU.")
        require(i_drop > i_act,
                "Dropout between BatchNorm and ReLU: for ReLU that computes the same, but the block puts Dropout "
                "last, after the activation (where it is also right for sigmoid or tanh).")
        require(isinstance(layers[i_act], nn.ReLU),
                f"The course's block uses ReLU as the activation, got {type(layers[i_act]).__name__}.")
        require((linear.in_features, linear.out_features) == (n_in, n_out),
                f"With build_block({n_in}, {n_out}, p) the Linear must map {n_in} -> {n_out} features, got "
                f"{linear.in_features} -> {linear.out_features}.")
        require(bn.num_features == n_out,
                f"BatchNorm1d normalizes the Linear's {n_out} outputs: BatchNorm1d(out_features), "
                f"got {bn.num_features}.")
        require(linear.bias is None,
                "Bias before BatchNorm: BN subtracts the batch mean, which removes the bias (its gradient is exactly "
                "zero). Leave the Linear layer's bias out.")
        q = layers[i_drop].p
        require(not (abs(q - (1 - p)) < 1e-12 and abs(q - p) > 1e-12),
                f"Dropout's p is the probability to DROP in torch; you passed 1 - p = {q:g} (a keep probability).")
        require(abs(q - p) < 1e-12, f"Use the given drop probability p, got p = {q:g}.")
        _same_behaviour(block, linear, n_in, p)
    return "Linear (no bias) -> BatchNorm1d -> ReLU -> Dropout(p): the course's block."


# ------------------------------------------------------------------------------------------ exercise 2


@functools.lru_cache(maxsize=1)
def _train_inputs() -> torch.Tensor:
    return load_digits().tensors("train")[0]


class _WatchedDropout(nn.Dropout):
    """torch's Dropout that also counts the forward passes it made in training mode (to diagnose a
    recalibration that left dropout on)."""

    active_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.active_calls += int(self.training)
        return super().forward(x)


_WatchedDropout.__name__ = _WatchedDropout.__qualname__ = "Dropout"  # what the learner sees when printing the model


def shifted_model(seed: int = 0) -> nn.Sequential:
    """A block-of-two MLP whose running statistics were collected with dropout ON in front of the second
    BatchNorm: Li et al.'s variance shift, without the cost of training (weights at initialization)."""
    model = make_mlp(64, [64, 64], 10, norm="batch", dropout=0.5, linear_bias=False, seed=seed,
                     norm_kwargs={"momentum": None})  # fmt: skip
    X = _train_inputs()
    model.train()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(X) - 64, 64):
            model(X[start : start + 64])
    for bn in bn_layers(model):
        bn.momentum = 0.1
    for i, layer in enumerate(model):
        if isinstance(layer, nn.Dropout):
            model[i] = _WatchedDropout(layer.p)
    return model.eval()


def _ratio(model: nn.Module) -> float:
    return bn_variance_ratios(model, _train_inputs())[1]


def check_recalibration(recalibrate) -> None:
    """``recalibrate(model, X) -> model`` must recompute every BatchNorm's running statistics on ``X`` with
    dropout OFF (Li et al.'s second fix), leave the weights alone, keep the Dropout layers (for later
    training) and return the model in eval mode."""
    _train_inputs()  # loaded once in the kernel; the child sees it through the fork
    ok(run_check(_check_recalibration_body, recalibrate, name="recalibrate"))


def _dropout_kept(model: nn.Module) -> None:
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    require(len(drops) == 2 and all(m.p == 0.5 for m in drops),
            "recalibrate changed the model for good: keep its Dropout layers and their p (the model may train "
            "again later). Switch dropout off during the pass by the layers' mode instead.")
    model.train()
    x = _train_inputs()[:32]
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        first, second = model(x), model(x)
    model.eval()
    require(not torch.equal(first, second),
            "After recalibrate, model.train() no longer brings dropout back: do not disable dropout for good.")


def _check_recalibration_body(recalibrate) -> str:
    model = shifted_model()
    before = _ratio(model)
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    old_var = [bn.running_var.clone() for bn in bn_layers(model)]
    result = call_learner(recalibrate, model, _train_inputs(), name="recalibrate")
    require(result is not None, "recalibrate must return the model (return model at the end).")
    require(isinstance(result, nn.Module), f"recalibrate must return the model, got {type(result).__name__}.")
    state = result.state_dict()
    require(set(weights) <= set(state), "Return the same model you were given (with its layers), not a new one.")
    changed = [k for k, v in weights.items() if not torch.equal(state[k], v)]
    if changed:
        raise ExerciseError(f"Recalibration must not change the weights ({changed[0]} changed): no optimizer step, "
                            "no backward; run the forward passes under torch.no_grad().")
    training = [type(m).__name__ for m in result.modules() if m.training and not list(m.children())]
    require(not training,
            f"Leave the model in eval mode when done (model.eval()); still in train mode: {sorted(set(training))}.")
    new_var = [bn.running_var for bn in bn_layers(result)]
    require(not all(torch.equal(a, b) for a, b in zip(old_var, new_var, strict=True)),
            "The running statistics did not change: BatchNorm updates running_mean/running_var only in train mode. "
            "Put the BatchNorm layers (and only them) in train mode for the pass over X.")
    after = _ratio(result)
    if abs(after - 1) > 0.05:
        active = sum(getattr(m, "active_calls", 0) for m in result.modules())
        require(active == 0,
                f"The variance ratio is still {after:.2f} (was {before:.2f}): Dropout was active during the pass, so "
                "the running variance again includes dropout's extra variance. Keep the Dropout layers in eval mode; "
                "only the BatchNorm layers go to train mode.")
        raise ExerciseError(
            f"The variance ratio moved from {before:.2f} only to {after:.2f}: the old statistics still count. "
            "Start the statistics afresh and average them over all of X with equal weight per batch (BatchNorm "
            "can do both: look at its methods and at what momentum=None means)."
        )
    _dropout_kept(result)
    return (f"the variance ratio at the second BatchNorm went from {before:.2f} to {after:.2f}; weights untouched, "
            "eval mode.")


# ------------------------------------------------------------------------------------------ exercise 3

METHODS = ("batch", "layer", "group", "dropout")
"""What the learner may choose: BatchNorm, LayerNorm, GroupNorm, or (more) Dropout."""

REASONS = {
    "batch_independent": "its statistics are per sample: the same whatever the batch size or its other examples",
    "fast_training": "normalizing each feature over a large batch makes training faster and more stable",
    "regularizes": "it regularizes: it narrows the gap between training and validation accuracy",
    "fewer_parameters": "it has fewer parameters",
}
"""Reasons to pick from, by key."""

SITUATIONS = {
    "transformer": "A Transformer language model: sequences of different lengths (padded), 8 sequences per batch.",
    "cnn_large_batch": "An image CNN trained with batches of 256 images; training converges slowly.",
    "two_per_gpu": "A segmentation CNN on large images: only 2 images fit in memory per step.",
    "overfitting": "An MLP without any normalization trained on 200 examples: 100% training accuracy, validation "
    "far behind.",
}
"""Situations of exercise 3, by key."""

_ACCEPT = {
    "transformer": ({"layer"}, "batch_independent"),
    "cnn_large_batch": ({"batch"}, "fast_training"),
    "two_per_gpu": ({"group", "layer"}, "batch_independent"),
    # Notebook 05's grid, 200 digits, compared with no normalization: BatchNorm and dropout each narrowed the gap a
    # little on average (supported on some seed sets, not all). Both are accepted.
    "overfitting": ({"dropout", "batch"}, "regularizes"),
}

_WRONG_METHOD = {
    ("transformer", "batch"): "BatchNorm over padded sequences of different lengths mixes padding into its statistics "
    "and depends on the other sequences of the batch (notebook 04).",
    ("transformer", "group"): "GroupNorm groups the channels of an image; think about which statistics a token of a "
    "padded sequence should be normalized with (notebook 04).",
    ("transformer", "dropout"): "Dropout does not normalize anything; the question is which normalization.",
    ("cnn_large_batch", "layer"): "Look again at notebook 05's grid: which method trained fastest at our scale, and "
    "what do 256 images per batch make possible?",
    ("cnn_large_batch", "group"): "GroupNorm is the fix for *small* batches; 256 images per batch is not a small "
    "batch (notebook 05's grid).",
    ("cnn_large_batch", "dropout"): "Dropout regularizes; it does not speed up convergence (it slowed it slightly in "
    "notebook 05's grid).",
    ("two_per_gpu", "batch"): "With 2 images per batch BatchNorm's statistics are mostly noise: Wu & He measured "
    "ResNet-50 error rising from 23.6% (32 per GPU) to 34.7% (2 per GPU).",
    ("two_per_gpu", "dropout"): "Dropout does not stabilize training; the problem is BatchNorm with tiny batches.",
    ("overfitting", "layer"): "Notebook 05's grid measured what narrows the 200-digit gap compared with no "
    "normalization: BatchNorm and dropout each narrowed it a little. Pick one of those.",
    ("overfitting", "group"): "GroupNorm is for images with tiny batches; notebook 05's grid measured that dropout and "
    "BatchNorm narrowed the 200-digit gap of an MLP.",
}


def check_choices(choose) -> None:
    """``choose(situation) -> (method, reason)`` for every key of ``SITUATIONS``, with ``method`` from
    ``METHODS`` and ``reason`` a key of ``REASONS``."""
    ok(run_check(_check_choices_body, choose, name="choose"))


def _check_choices_body(choose) -> str:
    for key in SITUATIONS:
        answer = call_learner(choose, key, name="choose")
        require(isinstance(answer, tuple | list) and len(answer) == 2,
                f"choose({key!r}) must return a pair (method, reason), e.g. ('layer', 'batch_independent'); "
                f"got {answer!r}.")
        method, reason = answer
        require(isinstance(method, str) and isinstance(reason, str),
                f"choose({key!r}) must return two strings (method, reason), got {type(method).__name__} and "
                f"{type(reason).__name__}.")
        require(method in METHODS, f"choose({key!r}): method must be one of {list(METHODS)}, got {method!r}.")
        require(reason in REASONS, f"choose({key!r}): reason must be one of {list(REASONS)}, got {reason!r}.")
        accepted, right_reason = _ACCEPT[key]
        if method not in accepted:
            raise ExerciseError(f"{key}: {_WRONG_METHOD[(key, method)]}")
        require(reason == right_reason,
                f"{key}: good choice, but not for that reason. '{REASONS[reason]}' is not what makes it right here; "
                "which property of this method does the situation need?")
    return "each situation got a method that fits it, for the right reason."


# ------------------------------------------------------------------------------------------ exercise 4


def _steps_to_target(run) -> float:
    """Steps to the grid's target validation accuracy of one cached run (the budget if never reached)."""
    from ..experiments import together as E

    reached = run.history.steps_to("val_acc", E.TARGET_ACC)
    return float(reached) if reached is not None else float(E.STEPS)


def check_paired_ablation(my_ablation) -> None:
    """``my_ablation(train_steps) -> (ln_vs_none, ln_vs_ln_dropout)``: two :class:`course_utils.paired.Paired`
    results on steps to 90% (lower is better) over ``E.SEEDS``, LN first in both. Prints what they support."""
    from ..experiments import together as E

    # The reference steps come from the grid's cached runs, trained here in the kernel (once) so that the child
    # process sees them through the fork and the learner's calls to E.train_config return at once.
    expected = {name: [_steps_to_target(E.train_config(name, E.FULL_N, s)) for s in E.SEEDS]
                for name in ("LN", "none", "LN+dropout")}  # fmt: skip
    ok(run_check(_check_paired_ablation_body, my_ablation, expected, tuple(E.SEEDS), name="my_ablation"))


def _check_paired_ablation_body(my_ablation, expected: dict, seeds: tuple) -> str:
    from ..paired import Paired

    result = call_learner(my_ablation, _steps_to_target, name="my_ablation")
    require(isinstance(result, tuple | list) and len(result) == 2,
            f"my_ablation must return two results (ln_vs_none, ln_vs_ln_dropout), got {type(result).__name__}.")
    wanted = (("LN", "none"), ("LN", "LN+dropout"))
    for got, (a, b) in zip(result, wanted, strict=True):
        require(isinstance(got, Paired),
                f"Build each result with paired(...) from course_utils.paired, got {type(got).__name__}.")
        require(tuple(got.seeds) == seeds, f"Use the seeds E.SEEDS = {seeds}, got {got.seeds}.")
        require(not got.higher_is_better,
                "Fewer steps to 90% is better: pass higher_is_better=False, or the verdict reads the wrong way.")
        if list(got.a_values) == expected[a] and list(got.b_values) == expected[b]:
            continue
        require(not (list(got.a_values) == expected[b] and list(got.b_values) == expected[a]),
                f"The comparison {a} vs {b} is the wrong way round: put {a} first (a = {a}).")
        raise ExerciseError(f"The per-seed steps of {a} vs {b} differ from the grid's: train each name with "
                            "E.train_config(name, E.FULL_N, seed) for every seed in E.SEEDS, same order, and pass "
                            "train_steps(run).")
    first, second = result
    return (f"two paired comparisons on {len(seeds)} seeds. LN vs none: {first.verdict()} "
            f"LN vs LN+dropout: {second.verdict()}")
