"""Checks for notebook 02's exercises: inverted dropout, the forgotten ``eval()``, choosing p."""

from __future__ import annotations

import numpy as np
import torch

from ..models import make_mlp
from . import ExerciseError, ok, require

__all__ = ["check_inverted_dropout", "check_predict_fix", "check_chosen_p"]


def check_inverted_dropout(my_dropout) -> None:
    """``my_dropout(x, p, rng) -> out`` must zero each element with probability p and scale the rest by 1/(1-p)."""
    require(callable(my_dropout), "Pass the function itself: check_inverted_dropout(my_dropout).")
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, size=(200, 100))
    for p in (0.2, 0.5, 0.8):
        try:
            out = my_dropout(x.copy(), p, np.random.default_rng(1))
        except Exception as err:  # noqa: BLE001 - any failure is a hint for the learner
            raise ExerciseError(f"my_dropout(x, p={p}, rng) raised {type(err).__name__}: {err}") from err
        require(isinstance(out, np.ndarray), f"Return a numpy array, got {type(out).__name__}.")
        require(out.shape == x.shape, f"The output must have the input's shape {x.shape}, got {out.shape}.")
        kept = out != 0
        require(kept.any() and not kept.all(), f"With p={p} some (not all) elements must become exactly 0.")
        frac = kept.mean()
        require(
            abs(frac - (1 - p)) < 0.02,
            f"With p={p} about {1 - p:.0%} of the elements should survive, yours kept {frac:.1%}. "
            "p is the probability of DROPPING: keep = rng.random(x.shape) >= p (or < 1 - p).",
        )
        require(
            np.allclose(out[kept], x[kept] / (1 - p)),
            f"Kept elements must be scaled by 1/(1-p) = {1 / (1 - p):.3f} so the mean is preserved; "
            f"yours are x times {np.median(out[kept] / x[kept]):.3f}.",
        )
    ok("elements are dropped with probability p and survivors scaled by 1/(1-p), so E[out] = x.")


def check_predict_fix(predict) -> None:
    """``predict(model, X) -> predicted classes`` must be deterministic (dropout off) and match eval mode."""
    require(callable(predict), "Pass the function itself: check_predict_fix(predict).")
    model = make_mlp(64, [64, 64], 10, dropout=0.5, seed=0)
    X = torch.from_numpy(np.random.default_rng(0).random((200, 64)).astype(np.float32))
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        first = torch.as_tensor(predict(model, X))
        second = torch.as_tensor(predict(model, X))
    require(
        torch.equal(first, second),
        "Calling predict twice on the same inputs gave different answers: dropout is still active. "
        "Switch the model to evaluation mode (model.eval()) before predicting.",
    )
    model.eval()
    with torch.no_grad():
        expected = model(X).argmax(dim=1)
    require(first.shape == expected.shape, f"Return one class per input, shape {tuple(expected.shape)}.")
    require(torch.equal(first, expected), "Predictions must be model(X).argmax(dim=1) in eval mode.")
    ok("predictions are deterministic: in eval mode dropout is the identity.")


def check_chosen_p(p, grid, n_train: int, tolerance: float = 0.005) -> None:
    """``p`` must be (within ``tolerance`` of) the best validation accuracy among the grid's p at ``n_train``."""
    require(p in grid.p_values, f"Choose one of the p values of the sweep: {list(grid.p_values)}.")
    require(n_train in grid.sizes, f"n_train must be one of the sweep's sizes: {list(grid.sizes)}.")
    accs = {q: grid.mean(q, n_train, "val_acc") for q in grid.p_values}
    best = max(accs.values())
    require(
        accs[p] >= best - tolerance,
        f"p={p} reaches validation accuracy {accs[p]:.3f} at n={n_train}, but the best p reaches {best:.3f}. "
        "Read the sweep table: pick the p with the highest validation accuracy for this training-set size.",
    )
    ok(f"p={p} gives validation accuracy {accs[p]:.3f} with {n_train} training examples (best {best:.3f}).")
