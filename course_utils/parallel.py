"""Independent training runs on every core, with the same results as one after the other.

A lesson's sweep trains dozens of small networks that do not depend on each other. One thread per run is
what the pinned numeric path asks for (``course_utils.numeric``), so the way to use a second core is a
second process. :func:`map_in_processes` forks worker processes (they inherit everything the kernel has
imported and computed, so nothing is re-imported and the learner's data need not be picklable), sends them
the items, and returns the results in order.

Same results: a run must draw all its random numbers from generators seeded by its own arguments (the
course's runs do: ``torch.random.fork_rng`` + ``course_utils.env.manual_seed(seed)``), never from a state
left by an earlier run. Then which process trains it, and in what order, changes nothing; the tests compare
parallel and serial results bit for bit.

``NORMCOURSE_WORKERS=1`` trains one run after the other (debugging, or a machine with one core); without
``os.fork`` (Windows) the runs are always serial. Why not ``torch.multiprocessing`` or ``concurrent.futures``:
both work, but spawn-based pools re-import torch and the course in every worker (~3 s each) and need every
function to be importable by name; forking needs neither.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS_VAR = "NORMCOURSE_WORKERS"
MAX_WORKERS = 4  # beyond this the course's small runs gain little and memory grows (one kernel copy each)

_IN_WORKER = False


def worker_count() -> int:
    """How many processes :func:`map_in_processes` uses: ``NORMCOURSE_WORKERS`` if set, else the cores this
    process may run on (at most 4)."""
    raw = os.environ.get(WORKERS_VAR, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(
                f"{WORKERS_VAR} must be a whole number >= 1 (1 = one run after the other), got {raw!r}. "
                f"Unset it to use every core."
            )
        return int(raw)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS))


def _init_worker() -> None:  # pragma: no cover - runs in the forked worker, which coverage cannot see
    global _IN_WORKER
    _IN_WORKER = True
    # A forked Jupyter kernel must not write to the notebook: its output streams belong to the parent's
    # I/O thread, which the fork did not copy (ipykernel logs every such write). Errors still come back:
    # the pool sends a run's exception to the parent, which raises it.
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the worker
    os.environ["NORMCOURSE_NO_PROGRESS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)  # one thread per run, as the pinned path wants


def map_in_processes(fn: Callable[[T], R], items: Iterable[T], *, desc: str | None = None,
                     workers: int | None = None) -> list[R]:
    """``[fn(item) for item in items]``, computed by up to :func:`worker_count` forked processes.

    ``fn`` must be a module-level function (the pool sends it by name) whose result depends only on its
    argument (see the module docstring). ``desc`` labels a progress bar, shown where progress bars are
    (interactive use, not CI or regeneration). Inside a worker, or with one worker, or without
    ``os.fork``, the items are computed here, one after the other.
    """
    from tqdm.auto import tqdm

    from .train import progress_enabled

    items = list(items)
    n = worker_count() if workers is None else workers
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"workers must be a whole number >= 1 or None (= every core), got {n!r}.")
    bar = {"total": len(items), "desc": desc, "disable": not progress_enabled() or desc is None, "leave": False}
    if n == 1 or len(items) < 2 or _IN_WORKER or not hasattr(os, "fork"):
        return [fn(item) for item in tqdm(items, **bar)]
    context = multiprocessing.get_context("fork")
    with context.Pool(min(n, len(items)), initializer=_init_worker) as pool:
        results = list(tqdm(pool.imap(functools.partial(_pickled, fn), items), **bar))
    return [pickle.loads(data) for data in results]


def _pickled(fn: Callable[[T], R], item: T) -> bytes:
    """``fn(item)`` as plain pickle bytes. Sent as it is, a torch tensor would travel through torch's
    multiprocessing pickler, which shares its memory through a file descriptor that stays open in the parent
    as long as the tensor lives: notebook 05's grid left ~700 open, and past 1,024 ``select()`` fails.
    Plain pickle copies the numbers (the same to the bit) and leaves nothing open."""
    return pickle.dumps(fn(item), protocol=pickle.HIGHEST_PROTOCOL)


__all__ = ["map_in_processes", "worker_count", "WORKERS_VAR"]
