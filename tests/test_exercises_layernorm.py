"""Exercise checks of notebook 04 pass the reference solutions, and name each usual mistake."""

import numpy as np
import pytest
import torch

from course_utils import numpy_layers as nl
from course_utils.exercises import ExerciseError, NotDoneYet
from course_utils.exercises import layernorm as X
from course_utils.experiments.layernorm import PAPER_TABLE1


def good_layernorm(x, normalized_shape, gamma, beta, eps=1e-5):
    dims = tuple(range(-len(normalized_shape), 0))
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def test_layernorm_reference_passes(capsys):
    X.check_layernorm(good_layernorm)
    assert capsys.readouterr().out.startswith("Correct:")
    with pytest.raises(ExerciseError, match="not allowed"):
        X.check_layernorm(lambda x, ns, g, b, eps: torch.nn.functional.layer_norm(x, ns, g, b, eps))


def _ln(x, dims, g, b, eps, outside=False, unbiased=False, use_g=True, use_b=True):
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
    xh = (x - mean) / (var.sqrt() + eps) if outside else (x - mean) / (var + eps).sqrt()
    return (xh * g if use_g else xh) + (b if use_b else 0)


def _dims(ns):
    return tuple(range(-len(ns), 0))


LN_MISTAKES = {
    "batch axis": (lambda x, ns, g, b, eps: _ln(x, (0,), g, b, eps), "over the batch"),
    "last dim only": (lambda x, ns, g, b, eps: _ln(x, (-1,), g, b, eps), "normalized_shape has more than one"),
    "eps outside": (lambda x, ns, g, b, eps: _ln(x, _dims(ns), g, b, eps, outside=True), "outside the square root"),
    "unbiased": (lambda x, ns, g, b, eps: _ln(x, _dims(ns), g, b, eps, unbiased=True), "n - 1"),
    "no gamma": (lambda x, ns, g, b, eps: _ln(x, _dims(ns), g, b, eps, use_g=False), "not scaled by gamma"),
    "no beta": (lambda x, ns, g, b, eps: _ln(x, _dims(ns), g, b, eps, use_b=False), "not shifted by beta"),
    "neither": (lambda x, ns, g, b, eps: _ln(x, _dims(ns), g, b, eps, use_g=False, use_b=False),
                "normalized values only"),
}


@pytest.mark.parametrize("mistake", LN_MISTAKES)
def test_layernorm_mistakes_are_named(mistake):
    fn, hint = LN_MISTAKES[mistake]
    with pytest.raises(ExerciseError, match=hint):
        X.check_layernorm(fn)


def test_layernorm_other_failures():
    with pytest.raises(NotDoneYet):
        X.check_layernorm(lambda *a: (_ for _ in ()).throw(NotImplementedError()))
    with pytest.raises(ExerciseError, match="differ from LayerNorm"):
        X.check_layernorm(lambda x, ns, g, b, eps: good_layernorm(x, ns, g, b, eps) * 1.5)
    with pytest.raises(ExerciseError, match="shape"):
        X.check_layernorm(lambda x, ns, g, b, eps: x[0])
    with pytest.raises(ExerciseError, match="returned None"):
        X.check_layernorm(lambda x, ns, g, b, eps: None)


def test_layernorm_check_uses_copies_of_its_inputs():
    def mutating(x, ns, g, b, eps):
        out = good_layernorm(x, ns, g, b, eps)
        x.zero_()  # a learner's in-place change must not change what the check compares against
        return out

    X.check_layernorm(mutating)


def fwd(x, gamma, eps=1e-5):
    """The notebook's solution (the course's own nl.rmsnorm_forward is refused by the check)."""
    r = np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps)
    return gamma * (x / r), (x / r, r, gamma)


def bwd(dout, cache):
    x_hat, r, gamma = cache
    dgamma = (dout * x_hat).reshape(-1, x_hat.shape[-1]).sum(axis=0)
    dx_hat = dout * gamma
    return (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True)) / r, dgamma


def test_rmsnorm_reference_passes(capsys):
    X.check_rmsnorm(fwd, bwd)
    assert "backward match" in capsys.readouterr().out
    X.check_rmsnorm(fwd)


def _rms(x, g, eps, axis=-1, center=False, outside=False, use_g=True, l2=False, std=False):
    src = x - x.mean(axis=axis, keepdims=True) if center else x
    if std:  # divide the centered x by the standard deviation: the same as re-centering
        r = np.sqrt(x.var(axis=axis, keepdims=True) + eps)
        src = x - x.mean(axis=axis, keepdims=True)
    elif l2:
        r = np.sqrt((src**2).sum(axis=axis, keepdims=True) + eps)
    elif outside:
        r = np.sqrt((src**2).mean(axis=axis, keepdims=True)) + eps
    else:
        r = np.sqrt((src**2).mean(axis=axis, keepdims=True) + eps)
    return ((src / r) * g if use_g else src / r), None


RMS_MISTAKES = {
    "centered": (lambda x, g, eps: _rms(x, g, eps, center=True), "subtract the mean"),
    "std": (lambda x, g, eps: _rms(x, g, eps, std=True), "standard deviation"),
    "l2": (lambda x, g, eps: _rms(x, g, eps, l2=True), "L2 normalization"),
    "axis 0": (lambda x, g, eps: _rms(x, g, eps, axis=0), "wrong axis"),
    "axis 1": (lambda x, g, eps: _rms(x, g, eps, axis=1), "wrong axis"),
    "eps outside": (lambda x, g, eps: _rms(x, g, eps, outside=True), "outside the square root"),
    "no gamma": (lambda x, g, eps: _rms(x, g, eps, use_g=False), "not scaled by gamma"),
}


@pytest.mark.parametrize("mistake", RMS_MISTAKES)
def test_rmsnorm_forward_mistakes_are_named(mistake):
    fn, hint = RMS_MISTAKES[mistake]
    with pytest.raises(ExerciseError, match=hint):
        X.check_rmsnorm(fn)


def test_rmsnorm_backward_mistakes():
    def direct_only(dout, cache):
        dx, dgamma = bwd(dout, cache)
        return dout * cache[2] / cache[1], dgamma

    with pytest.raises(ExerciseError, match="only the direct path"):
        X.check_rmsnorm(fwd, direct_only)
    with pytest.raises(ExerciseError, match="dgamma is wrong"):
        X.check_rmsnorm(fwd, lambda dout, cache: (bwd(dout, cache)[0], dout.sum(0)))
    with pytest.raises(ExerciseError, match="numerical gradient"):
        X.check_rmsnorm(fwd, lambda dout, cache: (2 * bwd(dout, cache)[0], bwd(dout, cache)[1]))
    with pytest.raises(ExerciseError, match="not allowed"):
        X.check_rmsnorm(lambda x, g, eps: nl.rmsnorm_forward(x, g, eps))
    with pytest.raises(ExerciseError, match=r"return a pair \(out, cache\)"):
        X.check_rmsnorm(lambda x, g, eps: fwd(x, g, eps)[0])


def _flip(predictions, transform, norm):
    wrong = {t: dict(row) for t, row in predictions.items()}
    wrong[transform][norm] = not wrong[transform][norm]
    return wrong


def test_invariance_feedback_is_the_same_whichever_entries_are_wrong():
    # A message that changed with the wrong entries (naming them, or counting them) would let a learner find
    # the table by flipping one entry at a time instead of reasoning.
    messages = set()
    for transform in PAPER_TABLE1:
        for norm in ("BatchNorm", "LayerNorm"):
            with pytest.raises(ExerciseError) as info:
                X.check_invariance_predictions(_flip(PAPER_TABLE1, transform, norm))
            messages.add(str(info.value))
    with pytest.raises(ExerciseError) as info:
        X.check_invariance_predictions(_flip(_flip(PAPER_TABLE1, "dataset re-centering", "LayerNorm"),
                                             "weight vector re-scaling", "BatchNorm"))
    messages.add(str(info.value))
    assert len(messages) == 1


def test_invariance_predictions():
    X.check_invariance_predictions({k: dict(v) for k, v in PAPER_TABLE1.items()})
    X.check_invariance_predictions(lambda: {k: dict(v) for k, v in PAPER_TABLE1.items()})
    with pytest.raises(NotDoneYet):
        X.check_invariance_predictions(lambda: (_ for _ in ()).throw(NotImplementedError()))
    wrong = {k: dict(v) for k, v in PAPER_TABLE1.items()}
    wrong["dataset re-centering"]["LayerNorm"] = True
    with pytest.raises(ExerciseError, match="Not all 12 predictions agree") as info:
        X.check_invariance_predictions(wrong)
    assert "re-centering" not in str(info.value) and "1 of" not in str(info.value)  # which cell is not told
    with pytest.raises(ExerciseError, match="has no row for"):
        X.check_invariance_predictions({})
    broken = {k: dict(v) for k, v in PAPER_TABLE1.items()}
    broken["dataset re-scaling"]["BatchNorm"] = "yes"
    with pytest.raises(ExerciseError, match="must be True or False"):
        X.check_invariance_predictions(broken)


def good_pre_ln(block, x):
    x = x + block.attention(block.ln1(x))
    return x + block.feed_forward(block.ln2(x))


PRE_LN_MISTAKES = {
    "post": (lambda b, x: b(x), "Post-LN block"),
    "no residual": (lambda b, x: b.feed_forward(b.ln2(b.attention(b.ln1(x)))), "residual connection is missing"),
    "normalized residual": (
        lambda b, x: (lambda h: h + b.feed_forward(b.ln2(h)))(b.ln1(x) + b.attention(b.ln1(x))),
        "residual stream must stay",
    ),
    "LN at the end": (lambda b, x: b.ln2(good_pre_ln(b, x)), "ONE final LayerNorm"),
    "attention only": (lambda b, x: x + b.attention(b.ln1(x)), "feed-forward sub-layer"),
}


def test_pre_ln_block_reference_passes(capsys):
    X.check_pre_ln_block(good_pre_ln)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("mistake", list(PRE_LN_MISTAKES))
def test_pre_ln_block_mistakes_are_named(mistake):
    fn, hint = PRE_LN_MISTAKES[mistake]
    with pytest.raises(ExerciseError, match=hint):
        X.check_pre_ln_block(fn)


def test_pre_ln_block_other_failures():
    with pytest.raises(ExerciseError, match="differs from"):
        X.check_pre_ln_block(lambda b, x: good_pre_ln(b, x) * 1.01)
    with pytest.raises(ExerciseError, match="must return a tensor"):
        X.check_pre_ln_block(lambda b, x: None)
    with pytest.raises(NotDoneYet):
        X.check_pre_ln_block(lambda b, x: (_ for _ in ()).throw(NotImplementedError()))
