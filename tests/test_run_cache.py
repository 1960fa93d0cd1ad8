"""Results kept on disk for a grader's batch (course_utils.run_cache): one run computed once per batch, never a
wrong result for other arguments, and nothing kept when the variable is unset (a learner's kernel)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import torch

from course_utils import run_cache
from course_utils.experiments.runner import cached_runs

CALLS: list = []


def square(x, power=2):
    CALLS.append((x, power))
    return {"x": x, "value": x**power}


def train_key(key):
    CALLS.append(key)
    torch.manual_seed(key[0])
    return torch.nn.Linear(2, key[1])


@dataclasses.dataclass(frozen=True)
class Config:
    norm: str
    p: float


@pytest.fixture
def folder(tmp_path, monkeypatch):
    CALLS.clear()
    monkeypatch.setenv(run_cache.CACHE_VAR, str(tmp_path))
    return tmp_path


def test_without_the_variable_nothing_is_kept(monkeypatch, tmp_path):
    CALLS.clear()
    monkeypatch.delenv(run_cache.CACHE_VAR, raising=False)
    cached = run_cache.persistent(square)
    assert cached(3) == cached(3) == {"x": 3, "value": 9}
    assert len(CALLS) == 2 and not any(tmp_path.iterdir())


def test_a_result_is_computed_once_and_other_arguments_are_computed_anew(folder):
    cached = run_cache.persistent(square)
    assert cached(3) == {"x": 3, "value": 9}
    assert cached(3) == {"x": 3, "value": 9}  # a second kernel: loaded, not computed
    assert cached(4) == {"x": 4, "value": 16}
    assert cached(3, power=3) == {"x": 3, "value": 27}  # keyword arguments are part of the key
    assert CALLS == [(3, 2), (4, 2), (3, 3)]


def test_the_seed_offset_is_part_of_the_key(folder, monkeypatch):
    cached = run_cache.persistent(square)
    cached(3)
    monkeypatch.setenv("NORMCOURSE_SEED_OFFSET", "1")
    cached(3)
    assert len(CALLS) == 2


def test_calls_with_objects_are_never_cached(folder):
    # repr(model) does not show its weights: two different models would share one result.
    cached = run_cache.persistent(lambda model: float(model.weight.detach().sum()))
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        b.weight.add_(1.0)
    assert cached(a) != cached(b)
    assert not any(folder.iterdir())
    assert run_cache.is_plain(Config("batch", 0.5)) and run_cache.is_plain(((1, 2.5), "a", None, {"k": [1]}))
    assert not run_cache.is_plain(torch.zeros(1)) and not run_cache.is_plain(Config)


def test_a_damaged_file_is_recomputed_and_an_unpicklable_result_is_returned(folder):
    cached = run_cache.persistent(square)
    cached(5)
    (path,) = folder.iterdir()
    path.write_bytes(b"\x80\x04 truncated")
    assert cached(5)["value"] == 25 and len(CALLS) == 2
    assert pickle.loads(path.read_bytes())["value"] == 25  # rewritten whole
    closure = run_cache.persistent(lambda n: (lambda: n))
    assert closure(7)() == 7


def test_cached_runs_load_what_another_kernel_kept(folder, monkeypatch):
    monkeypatch.setenv("NORMCOURSE_WORKERS", "1")  # trained here, so that CALLS sees every run trained
    keys = [(0, 3), (1, 3)]
    first = cached_runs({}, train_key, keys)
    CALLS.clear()
    again = cached_runs({}, train_key, keys)  # a fresh kernel: empty in-memory cache, same folder
    assert CALLS == []
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a.weight, b.weight)
    cached_runs({}, train_key, [(2, 3)])
    assert CALLS == [(2, 3)]


def test_the_grader_gives_its_kernels_a_fresh_folder_and_removes_it(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import grade

    seen = {}

    def fake_batch(subs, snapshot, out, env, *args):
        seen["folder"] = Path(env[grade.RUN_CACHE_VAR])
        assert seen["folder"].is_dir() and not any(seen["folder"].iterdir())
        return {}

    monkeypatch.setattr(grade, "_run_batch", fake_batch)
    (tmp_path / "submitted").mkdir()
    grade.grade(tmp_path / "submitted", tmp_path / "out", feedback=False)
    assert grade.RUN_CACHE_VAR == run_cache.CACHE_VAR
    assert not seen["folder"].exists()
