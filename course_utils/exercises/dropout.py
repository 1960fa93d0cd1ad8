"""Checks for notebook 02's exercises: inverted dropout forward (with a train/eval flag) and backward, a
dropout ``nn.Module``, the forgotten ``eval()``, and reading paired-seed evidence.

Every check calls the learner's code through :func:`course_utils.exercises.call_learner` (copies,
time limit, one-line hints), compares against references computed from untouched originals, names the
usual mistakes, and never prints the answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..gradcheck import numeric_gradient, rel_error
from ..models import make_mlp
from ..paired import paired
from . import ExerciseError, call_learner, forbidden, ok, require, run_check

__all__ = [
    "check_dropout_forward",
    "check_dropout_backward",
    "check_dropout_module",
    "check_predict_fix",
    "check_supports",
    "buggy_predict",
]

_P_VALUES = (0.2, 0.5, 0.8)
_FRACTION_TOLERANCE = 0.02  # 20,000 coin flips: the kept fraction's std is <= 0.0036, so 0.02 is > 5 std


# ------------------------------------------------------------------------------------------ helpers


_TORCH_HINT = (
    "You called a ready-made dropout (torch's, or the course's). Build it yourself: draw one random number per "
    "element, keep the element with probability 1 - p, and scale the survivors."
)


def _dropout_functions() -> tuple:
    import torch.nn.functional as F

    from .. import nn as course_nn
    from .. import numeric
    from .. import numpy_layers as nl

    return (F.dropout, numeric.torch_dropout(), numeric.portable_dropout, F.dropout1d, F.dropout2d, F.dropout3d,
            F.alpha_dropout, F.feature_alpha_dropout,
            torch.dropout, torch.native_dropout, torch.feature_dropout, torch.alpha_dropout,
            course_nn.Dropout.forward, nl.dropout_forward, nl.dropout_backward)


@contextlib.contextmanager
def _no_torch_dropout() -> Iterator[list[str]]:
    """Refuse torch's and the course's dropout however it was imported (``from torch.nn.functional import
    dropout`` too), while the learner's code runs (inside a run_check child)."""
    with forbidden(_TORCH_HINT, functions=_dropout_functions(), aten=("native_dropout",)):
        yield []


def _call(fn, *args, name: str, calls: list[str], copy_inputs: bool = True):
    return call_learner(fn, *args, name=name, copy_inputs=copy_inputs)


def _as_array(out, name: str) -> np.ndarray:
    require(isinstance(out, np.ndarray), f"{name} must return a numpy array, got {type(out).__name__}.")
    return out


def _check_training_output(x: np.ndarray, out: np.ndarray, p: float, what: str) -> np.ndarray:
    """Diagnose one training-mode output of dropout on ``x`` (all entries of x are non-zero); return the keep mask."""
    require(out.shape == x.shape, f"{what}: the output must have the input's shape {x.shape}, got {out.shape}.")
    require(
        bool(np.all(np.isfinite(out))),
        f"{what}: the output contains NaN or inf. Check the scaling: divide by (1 - p), which is > 0 for p < 1.",
    )
    kept = out != 0
    require(kept.any(), f"{what}: every element became 0. Keep each element with probability 1 - p.")
    require(
        not kept.all(),
        f"{what}: no element was dropped. Dropout sets each element to exactly 0 with probability p "
        "(a random coin per element), it does not just rescale.",
    )
    require(
        not np.all(kept == kept[:1]),
        f"{what}: every example (row) got the same mask. Draw one coin per element (the shape of x), not one "
        "per column.",
    )
    require(
        not np.all(kept == kept[:, :1]),
        f"{what}: whole examples (rows) are kept or dropped. Draw one coin per element (the shape of x).",
    )
    counts = kept.sum(axis=1)
    require(
        np.ptp(counts) > 0,
        f"{what}: every row keeps exactly {counts[0]} elements. That is a random choice of a fixed number, not "
        "dropout: each element is an independent coin flip (Bernoulli), so the count varies from row to row.",
    )
    frac = float(kept.mean())
    if abs(frac - p) < _FRACTION_TOLERANCE and abs(p - 0.5) > 0.1:
        raise ExerciseError(
            f"{what}: about {frac:.0%} of the elements survived, but {1 - p:.0%} should. p is the probability "
            "of DROPPING (torch's convention): keep where the coin is >= p."
        )
    require(
        abs(frac - (1 - p)) < _FRACTION_TOLERANCE,
        f"{what}: {frac:.1%} of the elements survived; each should survive with probability 1 - p = {1 - p:.0%}.",
    )
    ratio = out[kept] / x[kept]
    require(
        np.allclose(ratio, 1 / (1 - p)),
        f"{what}: kept elements are multiplied by {np.median(ratio):.4g}. Inverted dropout scales the survivors "
        "by 1/(1 - p), so that the expected output equals the input.",
    )
    return kept


def _forward_rng_checks(call: Callable[[np.ndarray, float, object], np.ndarray], x: np.ndarray, what: str) -> None:
    """The mask must come from the generator passed in: same seed, same mask, whatever the global generators
    say; and one generator used twice must give two different masks."""
    p = 0.5
    np_state, torch_state = np.random.get_state(), torch.random.get_rng_state()
    try:
        outs = []
        for global_seed in (1, 2):
            np.random.seed(global_seed)
            torch.manual_seed(global_seed)
            outs.append(call(x, p, np.random.default_rng(5)))
    finally:
        np.random.set_state(np_state)
        torch.random.set_rng_state(torch_state)
    require(
        np.array_equal(outs[0], outs[1]),
        f"{what}: two calls with generators seeded alike gave different masks, so the mask does not come from "
        "the rng argument. Draw the random numbers from rng, not from np.random or torch.",
    )
    rng = np.random.default_rng(6)
    first, second = call(x, p, rng), call(x, p, rng)
    require(
        not np.array_equal(first, second),
        f"{what}: two calls with the same generator gave the same mask. A fresh mask is drawn at every call: "
        "use the rng you are given, do not create a new generator with a fixed seed inside the function.",
    )


def _sample_x() -> np.ndarray:
    return np.random.default_rng(0).uniform(0.5, 2.0, size=(200, 100))


# ------------------------------------------------------------------------------------ exercise 2.1


def _check_other_shapes(call: Callable, what: str) -> None:
    """Dropout works on any shape: 1-D, one row, 3-D, float32 (not only the (200, 100) float64 sample)."""
    rng = np.random.default_rng(11)
    for shape, dtype in (((20000,), np.float64), ((1, 4000), np.float64), ((20, 10, 30), np.float64),
                         ((3, 5), np.float64), ((100, 60), np.float32)):
        x = rng.uniform(0.5, 2.0, size=shape).astype(dtype)
        p = 0.3
        out = call(x, p, np.random.default_rng(4))
        require(out.shape == x.shape, f"{what}, input of shape {shape}: the output must have the input's shape, "
                                      f"got {out.shape}. Dropout works on arrays of any shape.")
        require(np.issubdtype(out.dtype, np.floating), f"{what}: the output must hold floats, got {out.dtype}.")
        kept = out != 0
        require(np.allclose(out[kept], x[kept] / (1 - p), rtol=1e-5),
                f"{what}, input of shape {shape}: kept elements must be scaled by 1/(1 - p).")
        if x.size >= 4000:
            require(abs(float(kept.mean()) - (1 - p)) < _FRACTION_TOLERANCE,
                    f"{what}, input of shape {shape}: {kept.mean():.1%} of the elements survived; each should "
                    f"survive with probability 1 - p = {1 - p:.0%}, whatever the input's shape.")


def check_dropout_forward(dropout_forward: Callable) -> None:
    """Exercise 2.1: ``dropout_forward(x, p, training, rng) -> (out, cache)``.

    Training: each element is zeroed with probability ``p`` (a coin per element from ``rng``) and the
    survivors are scaled by ``1/(1-p)``. Eval (``training=False``): the identity. Tried on 1-D to 3-D inputs
    and float32; torch's and the course's dropout are refused.
    """
    ok(run_check(_check_dropout_forward_body, dropout_forward, name="dropout_forward"))


def _check_dropout_forward_body(dropout_forward: Callable) -> str:
    x = _sample_x()
    with _no_torch_dropout() as calls:

        def call(x_, p, rng, training=True):
            result = _call(dropout_forward, x_.copy(), p, training, rng, name="dropout_forward", calls=calls,
                           copy_inputs=False)
            require(
                isinstance(result, tuple) and len(result) == 2,
                "dropout_forward must return a pair (out, cache): the output and what the backward pass needs.",
            )
            return _as_array(result[0], "dropout_forward")

        for p in _P_VALUES:
            _check_training_output(x, call(x, p, np.random.default_rng(1)), p, f"training, p={p}")
        _forward_rng_checks(call, x, "training")
        for p in (0.0, 0.5):
            out = call(x, p, np.random.default_rng(2), training=False)
            require(
                out.shape == x.shape and np.array_equal(out, x),
                f"With training=False (eval mode) dropout is the identity: return x unchanged, with no mask and no "
                f"scaling (p={p}).",
            )
        out = call(x, 0.0, np.random.default_rng(3))
        require(np.allclose(out, x), "With p=0 nothing is dropped and 1/(1-p) = 1: the output must equal x.")
        _check_other_shapes(call, "training")
    return "a fresh Bernoulli mask per element from rng, survivors scaled by 1/(1-p); eval mode is the identity."


# ------------------------------------------------------------------------------------ exercise 2.2


def check_dropout_backward(dropout_forward: Callable, dropout_backward: Callable) -> None:
    """Exercise 2.2: ``dropout_backward(dout, cache) -> dx`` for the cache of your ``dropout_forward``,
    compared with a numerical gradient (:func:`course_utils.gradcheck.numeric_gradient`), on 2-D and
    3-D inputs."""
    ok(run_check(_check_dropout_backward_body, dropout_forward, dropout_backward, name="dropout_backward"))


def _check_dropout_backward_body(dropout_forward: Callable, dropout_backward: Callable) -> str:
    rng = np.random.default_rng(0)
    with _no_torch_dropout() as calls:
        for p, training, shape in ((0.3, True, (5, 8)), (0.6, True, (5, 8)), (0.5, False, (5, 8)),
                                   (0.4, True, (3, 2, 6)), (0.2, True, (1, 9))):
            x, dout = rng.normal(size=shape), rng.normal(size=shape)

            def forward(z, p=p, training=training):
                result = _call(dropout_forward, z.copy(), p, training, np.random.default_rng(7),
                               name="dropout_forward", calls=calls, copy_inputs=False)
                require(isinstance(result, tuple) and len(result) == 2,
                        "dropout_forward must return (out, cache); finish exercise 2.1 first.")
                return result

            out, cache = forward(x)
            out = _as_array(out, "dropout_forward")
            kept = out != 0
            require(
                out.shape == x.shape and np.allclose(out[kept], x[kept] / (1 - p) if training else x[kept])
                and (training or kept.all()),
                "Your dropout_forward does not pass exercise 2.1 yet: fix it first, then its backward.",
            )
            with _no_torch_dropout():
                dx = call_learner(dropout_backward, dout.copy(), cache, name="dropout_backward")
            dx = _as_array(dx, "dropout_backward")
            require(dx.shape == x.shape, f"dx must have the shape of x, {x.shape}, got {dx.shape}.")
            require(bool(np.all(np.isfinite(dx))), "dx contains NaN or inf: check the scaling 1/(1 - p).")
            numeric = numeric_gradient(lambda z: forward(z)[0], x.copy(), dout)
            error = rel_error(dx, numeric)
            if error <= 1e-7:
                continue
            mode = "training" if training else "eval mode"
            if not training:
                raise ExerciseError("In eval mode the forward pass is the identity, so dx = dout.")
            if np.allclose(dx, dout):
                raise ExerciseError(f"{mode}, p={p}: dropped units had no effect on the output, so their gradient "
                                    "is 0. Multiply dout by the mask.")
            if np.allclose(dx, dout * kept):
                raise ExerciseError(f"{mode}, p={p}: the forward pass scaled the survivors by 1/(1-p); the "
                                    "backward must scale their gradient the same way.")
            if np.allclose(dx, dout * kept / (1 - p) ** 2):
                raise ExerciseError(f"{mode}, p={p}: the gradient is scaled by 1/(1-p) twice (does your cache "
                                    "already hold the scaled mask?).")
            raise ExerciseError(f"{mode}, p={p}: the gradient check failed (relative error {error:.1e}, should be "
                                "below 1e-7). The forward output is linear in x: what multiplies dout?")
    return "the analytic gradient matches the numerical one (relative error < 1e-7), in training and eval mode."


# ------------------------------------------------------------------------------------ exercise 2.3


def check_dropout_module(module_class: Callable) -> None:
    """Exercise 2.3: ``module_class(p)`` is an ``nn.Module`` whose forward drops (training) or passes
    through (eval), deciding by ``self.training``; any input shape and dtype, gradients through it."""
    ok(run_check(_check_dropout_module_body, module_class, name=getattr(module_class, "__name__", "your class")))


def _check_module_shapes(module_class: Callable, calls: list[str]) -> None:
    gen = torch.Generator().manual_seed(3)
    for shape, dtype in (((20000,), torch.float32), ((40, 10, 10), torch.float64), ((1, 3, 20, 20), torch.float32)):
        x = torch.rand(shape, generator=gen, dtype=dtype) + 0.5
        layer = _call(module_class, 0.3, name="your class", calls=calls)
        layer.train()
        out = _call(layer, x, name="forward", calls=calls)
        require(isinstance(out, torch.Tensor), f"forward must return a torch.Tensor, got {type(out).__name__}.")
        require(out.shape == x.shape and out.dtype == x.dtype,
                f"An input of shape {tuple(shape)} and dtype {dtype} must give the same shape and dtype, got "
                f"{tuple(out.shape)} and {out.dtype}.")
        kept = out != 0
        require(torch.allclose(out[kept], x[kept] / 0.7, rtol=1e-5),
                f"Input of shape {tuple(shape)}: kept elements must be scaled by 1/(1 - p).")
        require(abs(float(kept.double().mean()) - 0.7) < 0.03,
                f"Input of shape {tuple(shape)}: {float(kept.double().mean()):.1%} of the elements survived; each "
                "should survive with probability 1 - p, one random number per element, whatever the shape.")


def _check_dropout_module_body(module_class: Callable) -> str:
    with _no_torch_dropout() as calls:
        layer = _call(module_class, 0.5, name=getattr(module_class, "__name__", "your class"), calls=calls)
        require(isinstance(layer, nn.Module), f"Subclass torch.nn.Module, got {type(layer).__name__}.")
        x = torch.from_numpy(_sample_x()).float()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for p in _P_VALUES:
                layer = _call(module_class, p, name="your class", calls=calls)
                layer.train()
                out = _call(layer, x, name="forward", calls=calls)
                require(isinstance(out, torch.Tensor), f"forward must return a torch.Tensor, got {type(out).__name__}.")
                _check_training_output(x.double().numpy(), out.detach().double().numpy(), p, f"training, p={p}")
            second = _call(layer, x, name="forward", calls=calls)
            require(not torch.equal(out, second), "Two training-mode calls gave the same mask: draw a new one "
                                                  "every call (torch.rand inside forward).")
            xg = x.clone().requires_grad_(True)
            try:
                _call(layer, xg, name="forward", calls=calls, copy_inputs=False).sum().backward()
            except ExerciseError:
                raise
            except RuntimeError as err:
                raise ExerciseError(f"Backpropagating through your layer failed ({err}). Stay in torch (no "
                                    ".numpy(), no in-place change of x) so autograd can follow.") from None
            require(xg.grad is not None and bool(((xg.grad == 0) | torch.isclose(xg.grad, torch.tensor(1 / (1 - p))))
                                                 .all()),
                    "The gradient of your layer should be the scaled mask: 1/(1-p) where an element was kept, 0 "
                    "where it was dropped. Build the output from x with tensor operations that autograd follows.")
            model = nn.Sequential(nn.Identity(), _call(module_class, 0.5, name="your class", calls=calls))
            model.eval()  # the learner's layer must follow its parent's mode through self.training
            out = _call(model, x, name="forward", calls=calls)
            require(
                isinstance(out, torch.Tensor) and torch.equal(out, x),
                "After model.eval() your layer must return x unchanged: decide with self.training, which "
                "model.eval() / model.train() set on every submodule.",
            )
            _check_module_shapes(module_class, calls)
    return "drops with a fresh mask in training, the identity after model.eval(), and autograd flows through it."


# ------------------------------------------------------------------------------------ exercise 2.4


def buggy_predict(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The buggy ``predict`` of exercise 2.4: it forgets to switch dropout off."""
    with torch.no_grad():
        return model(X).argmax(dim=1)


def check_predict_fix(predict: Callable) -> None:
    """``predict(model, X) -> predicted classes`` must be deterministic (dropout off) and match eval mode,
    and leave the model able to train with dropout afterwards (no Dropout removed or set to p = 0)."""
    ok(run_check(_check_predict_fix_body, predict, name="predict"))


def _dropout_still_works(model: nn.Module, X: torch.Tensor) -> None:
    """After predict, model.train() must bring dropout back: the same layers, the same p, random outputs."""
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    require(len(drops) == 2 and all(m.p == 0.5 for m in drops),
            "predict changed the model for good: it must keep its Dropout layers (and their p) so that it can "
            "go on training. Switch dropout off for the prediction only, by the model's mode.")
    model.train()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        first, second = model(X), model(X)
    require(not torch.equal(first, second),
            "After predict, model.train() no longer brings dropout back: predict must not disable the Dropout "
            "layers for good, only use evaluation mode.")


def _check_predict_fix_body(predict: Callable) -> str:
    original = make_mlp(64, [64, 64], 10, dropout=0.5, seed=0)
    X = torch.from_numpy(np.random.default_rng(0).random((200, 64)).astype(np.float32))
    reference = make_mlp(64, [64, 64], 10, dropout=0.5, seed=0)  # untouched twin of the model given out
    reference.eval()
    with torch.no_grad():
        expected = reference(X).argmax(dim=1)
    original.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        # The model itself (no copy): what predict does to it is judged afterwards (run_check's child owns it).
        first = call_learner(predict, original, X, name="predict", copy_inputs=False)
        second = call_learner(predict, original, X, name="predict", copy_inputs=False)
    for result in (first, second):
        require(isinstance(result, torch.Tensor | np.ndarray),
                f"predict must return the predicted classes as a tensor, got {type(result).__name__}.")
    first, second = torch.as_tensor(first), torch.as_tensor(second)
    require(first.shape == expected.shape,
            f"Return one class per input, shape {tuple(expected.shape)}, got {tuple(first.shape)}: take "
            "the most likely class of each input.")
    require(not (first.is_floating_point() and bool(torch.isnan(first).any())),
            "Your predictions contain NaN: return class indices (argmax), computed without changing the model.")
    require(
        torch.equal(first, second),
        "Calling predict twice on the same inputs gave different answers: dropout is still active. "
        "Switch the model to evaluation mode before predicting.",
    )
    require(
        torch.equal(first.long(), expected),
        "Predictions are deterministic but not the model's eval-mode predictions: predict with the model as it "
        "is (do not change its weights or its inputs).",
    )
    _dropout_still_works(original, X)
    return "predictions are deterministic: in eval mode dropout is the identity."


# ------------------------------------------------------------------------------------ exercise 2.5


_SUPPORT_CASES = (
    # (a_values, b_values, higher_is_better, which part of the rule a wrong answer gets wrong). The hint names
    # the part of the rule, never the case's numbers or its answer. Values are multiples of 1/64, so every sum
    # of gains is exact in floating point and "reaches the observed mean" has no rounding ambiguity.
    ([0.75, 0.875, 0.8125, 0.875, 0.8125, 0.8125], [0.734375, 0.859375, 0.796875, 0.859375, 0.796875, 0.796875], True,
     "pairing: compare seed by seed (per-seed gains), not the two groups' spreads"),
    ([0.75, 0.625, 0.875, 0.75, 0.4375], [0.5, 0.5, 0.5, 0.5, 0.5], True,
     "the p-value: count every sign pattern whose mean gain reaches the observed one, then compare with 0.05"),
    ([0.75, 0.625, 0.875, 0.75, 0.6875, 0.4375], [0.5] * 6, True,
     "the p-value: a small loss can be outweighed; count sign patterns rather than requiring every seed to win"),
    ([0.75] * 5 + [-0.5], [0.5] * 6, True, "the p-value: counting wins is not the rule, the size of a loss matters"),
    ([0.75, 0.625, 0.875, 0.75], [0.5, 0.5, 0.5, 0.5], True,
     "the number of seeds: the smallest p with n seeds is 1/2**n"),
    ([0.5, 0.75, 1.0, 0.75, 0.625], [0.5, 0.5, 0.5, 0.5, 0.5], True,
     "ties: flipping the sign of a zero gain leaves the mean unchanged"),
    ([1.0] * 5 + [0.0], [0.5] * 6, True, "'reaches' means at least the observed mean gain (>=), equal ones count"),
    ([0.25] * 5, [0.5] * 5, False, "the direction: with higher_is_better=False, lower is better"),
    ([0.25] * 5, [0.5] * 5, True, "the direction: with higher_is_better=True, higher is better"),
    ([0.75] * 6 + [0.4375, 0.4375], [0.5] * 8, True, "the p-value over all 2**n sign patterns (here n = 8)"),
)


def _check_supports_body(supports: Callable) -> str:
    for a_values, b_values, higher, part in _SUPPORT_CASES:
        seeds = list(range(len(a_values)))
        expected = paired("a", a_values, "b", b_values, seeds, higher_is_better=higher).supports()
        answer = call_learner(supports, list(a_values), list(b_values), higher, name="supports")
        require(isinstance(answer, bool | np.bool_),
                f"supports must return True or False, got {type(answer).__name__}.")
        require(bool(answer) == expected, f"supports does not follow the rule yet; look again at {part}.")
    return ("you apply the course's paired rule: count the sign patterns of the per-seed gains that reach the "
            "observed mean; supported when they are under 5% of all 2**n (so at least 5 seeds).")


def check_supports(supports: Callable) -> None:
    """Exercise 2.5: ``supports(a_values, b_values, higher_is_better) -> bool`` implements the course's rule
    for "a beats b" on paired seeds: a one-sided sign-flip test on the per-seed gains, supported if p < 0.05,
    where p is the fraction of the 2**n sign patterns whose mean gain is at least the observed one (the rule
    of :mod:`course_utils.paired`, which gives the expected answers)."""
    ok(run_check(_check_supports_body, supports, name="supports"))


