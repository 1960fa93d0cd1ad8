"""course_utils.parallel: independent runs on every core, the same results as one after the other."""

import os

import pytest
import torch

from course_utils import parallel
from course_utils.env import manual_seed


def _pid(_item):
    return os.getpid()


def _square(x):
    return x * x


def _seeded_draw(seed):
    # What a course run does: every random number from a generator seeded by its own argument.
    with torch.random.fork_rng(devices=[]):
        manual_seed(seed)
        return torch.rand(3).tolist()


def _fails(x):
    if x == 2:
        raise ValueError("run 2 went wrong")
    return x


def test_results_come_back_in_order_from_more_than_one_process(monkeypatch):
    monkeypatch.delenv(parallel.WORKERS_VAR, raising=False)
    assert parallel.map_in_processes(_square, range(9), workers=2) == [x * x for x in range(9)]
    pids = set(parallel.map_in_processes(_pid, range(8), workers=2))
    assert os.getpid() not in pids and len(pids) >= 1


def test_seeded_runs_are_the_same_in_workers_and_here():
    seeds = list(range(6))
    assert parallel.map_in_processes(_seeded_draw, seeds, workers=3) == [_seeded_draw(s) for s in seeds]


def test_one_worker_runs_here(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_VAR, "1")
    assert set(parallel.map_in_processes(_pid, range(3))) == {os.getpid()}


def test_a_failing_run_raises_its_own_error_here():
    with pytest.raises(ValueError, match="run 2 went wrong"):
        parallel.map_in_processes(_fails, range(4), workers=2)


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_bad_worker_count_names_the_variable_and_the_fix(monkeypatch, raw):
    monkeypatch.setenv(parallel.WORKERS_VAR, raw)
    with pytest.raises(ValueError, match="NORMCOURSE_WORKERS must be a whole number >= 1"):
        parallel.worker_count()


def test_bad_workers_argument():
    with pytest.raises(ValueError, match="workers must be a whole number"):
        parallel.map_in_processes(_square, [1, 2], workers=0)


def test_worker_count_uses_the_cores_up_to_four(monkeypatch):
    monkeypatch.delenv(parallel.WORKERS_VAR, raising=False)
    assert 1 <= parallel.worker_count() <= parallel.MAX_WORKERS
    monkeypatch.setenv(parallel.WORKERS_VAR, "3")
    assert parallel.worker_count() == 3


def _tensor(i: int) -> torch.Tensor:
    return torch.full((4,), float(i))


def test_tensors_from_workers_leave_no_file_descriptors_open(monkeypatch):
    # torch's multiprocessing pickler would send each tensor as shared memory behind an open descriptor:
    # notebook 05's grid kept ~700 open, and a check's select() then failed past 1,024.
    monkeypatch.setenv(parallel.WORKERS_VAR, "2")
    before = len(os.listdir("/proc/self/fd"))
    kept = parallel.map_in_processes(_tensor, range(60))
    assert [float(t[0]) for t in kept] == [float(i) for i in range(60)]
    assert len(os.listdir("/proc/self/fd")) - before < 10
