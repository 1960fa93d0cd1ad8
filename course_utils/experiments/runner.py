"""What every experiment module shares: the digits data, one seeded training run, recalibration.

Seeds come from the course's one seed source (:mod:`course_utils.env`); training is :func:`course_utils.train.train`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

import torch
from torch import nn

from .. import run_cache
from ..data import Split, load_digits
from ..env import manual_seed
from ..parallel import map_in_processes
from ..train import History, batchnorm_layers, recalibrate_batchnorm, train

__all__ = ["digits", "standardized_digits", "seeded_run", "cached_runs", "batchnorm_layers", "recalibrate_batchnorm"]

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


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


def cached_runs(cache: dict[K, R], train_one: Callable[[K], R], keys: Iterable[K], desc: str | None = None) -> list[R]:
    """``[train_one(key) for key in keys]``, each key trained once per kernel: results are kept in ``cache``, and
    the keys not in it yet are trained on every core (:func:`course_utils.parallel.map_in_processes`).

    ``train_one`` must be a module-level function whose result depends only on its key (its random numbers come
    from generators seeded by the key, as in :func:`seeded_run`): then where and in what order a key is trained
    changes nothing. When ``NORMCOURSE_RUN_CACHE`` is set (a grader's kernels), runs are also kept on disk
    (:mod:`course_utils.run_cache`)."""
    keys = list(keys)
    missing = [key for key in dict.fromkeys(keys) if key not in cache]
    for key in missing:  # kept on disk by another kernel (a grader's batch: course_utils.run_cache)
        found, result = run_cache.kept(train_one, key)
        if found:
            cache[key] = result
    missing = [key for key in missing if key not in cache]
    trained = map_in_processes(functools.partial(run_cache.compute_and_keep, train_one), missing, desc=desc)
    cache.update(zip(missing, trained, strict=True))
    return [cache[key] for key in keys]
