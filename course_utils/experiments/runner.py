"""What every experiment module shares: the digits data, one seeded training run, recalibration.

Seeds come from the course's one seed source (:mod:`course_utils.env`); training is :func:`course_utils.train.train`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from ..data import Split, load_digits
from ..env import manual_seed
from ..train import History, batchnorm_layers, recalibrate_batchnorm, train

__all__ = ["digits", "standardized_digits", "seeded_run", "batchnorm_layers", "recalibrate_batchnorm"]


@functools.lru_cache(maxsize=2)
def digits(standardize: bool = False) -> Split:
    """The digits split every experiment trains on (loaded once per process; ``standardize`` as in load_digits)."""
    return load_digits(standardize=standardize)


def standardized_digits() -> Split:
    """The digits split standardized with training statistics (cached)."""
    return digits(standardize=True)


def seeded_run(
    model: nn.Module | Callable[[], nn.Module],
    split: Split,
    *,
    seed: int,
    n_train: int | None = None,
    **train_kwargs,
) -> tuple[nn.Module, History]:
    """Train ``model`` on ``split`` and return it (in eval mode) with its History: the experiments' one run.

    ``n_train`` keeps a stratified subset of the training examples drawn with ``seed``. Dropout masks come
    from torch's global generator, so training runs inside ``torch.random.fork_rng`` seeded with ``seed``:
    a run is the same whatever ran before it, and the caller's generator is left as it was. ``model`` may be
    a function that builds it; it is then called inside the fork, after seeding. The remaining keyword
    arguments go to :func:`course_utils.train.train` (with ``seed`` and ``progress=False``).
    """
    if n_train is not None and n_train < len(split.X_train):
        split = split.subset_train(n_train, seed=seed)
    with torch.random.fork_rng(devices=[]):
        manual_seed(seed)
        if not isinstance(model, nn.Module):
            model = model()
        history = train(model, split, seed=seed, progress=False, **train_kwargs)
    model.eval()
    return model, history
