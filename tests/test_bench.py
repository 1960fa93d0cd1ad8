"""Every explorer is in the benchmark table (make bench), so its latency budget is reported."""

import inspect

import course_utils.widgets as widgets


def test_every_build_function_is_benchmarked():
    builders = set()
    for module in widgets.import_explorer_modules():
        builders |= {f for name, f in inspect.getmembers(module, inspect.isfunction)
                     if name.startswith("build_") and f.__module__ == module.__name__}
    assert builders, "no explorers found"
    benchmarked = {b.build for b in widgets.BENCHMARKS}
    missing = sorted(f.__qualname__ for f in builders - benchmarked)
    assert not missing, f"explorers missing from course_utils.widgets.BENCHMARKS: {missing}"



# ------------------------------------------------------------------- tools/bench.py plumbing (fast fakes)
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import ipywidgets as w  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_utils import nn as cnn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bench  # noqa: E402


def test_summary_uses_the_nearest_rank_p95():
    assert bench.summary(range(1, 21)) == {"n": 20, "median_ms": 10.5, "p95_ms": 19}
    assert bench.summary([5.0]) == {"n": 1, "median_ms": 5.0, "p95_ms": 5.0}


def test_walk_visits_new_settings_one_control_at_a_time_and_bridges_dead_ends():
    reachable = {"a": [0, 1, 2], "b": ["x", "y"], "c": [True, False]}  # 12 settings
    start = {"a": 0, "b": "x", "c": True}
    for seed in range(5):
        moves = bench.walk(reachable, start, 11, seed=seed)
        current, seen = dict(start), {tuple(start.values())}
        for name, value, new in moves:
            assert current[name] != value
            current[name] = value
            setting = tuple(current.values())
            assert new == (setting not in seen)
            seen.add(setting)
        assert sum(new for *_, new in moves) == 11 and len(seen) == 12  # every setting, whatever the dead ends
    short = bench.walk({"a": [0, 1, 2]}, {"a": 0}, 20)  # fewer settings than asked for: all of them
    assert sorted(v for _n, v, _new in short) == [1, 2]


def fake_benchmark(draws: list):
    def build():
        controls = {"k": w.IntSlider(value=0, min=0, max=30), "kind": w.Dropdown(options=["a", "b"], value="a")}

        def draw(k, kind):
            draws.append((k, kind))
            fig = Figure(figsize=(1, 1))
            fig.subplots().set_title(f"{k}{kind}")
            return fig

        return bench_explorer_type()(controls=controls, draw=draw)

    from course_utils.widgets import ExplorerBenchmark

    return ExplorerBenchmark("fake", build, (("k", 5),), budget_ms=1e6)


def bench_explorer_type():
    from course_utils.widgets import Explorer

    return Explorer


def test_bench_widgets_times_20_cold_never_seen_and_20_warm_moves():
    draws: list = []
    result = bench.bench_widgets([fake_benchmark(draws)], n_cold=20, n_warm=20)
    row = result["fake"]
    assert row["cold"]["n"] == 20 and row["warm"]["n"] == 20
    assert set(row["cold"]) == {"n", "median_ms", "p95_ms", "cpu_p95_ms"} and row["ok"] is True
    initial, cold, warm = draws[0], draws[1:21], draws[21:]
    assert cold[0] == (5, "a")  # the hand-named change comes first
    assert len(set(cold) | {initial}) == 21  # every cold setting is new
    assert set(warm) <= set(cold) and len(warm) == 20


def test_every_real_explorer_reaches_20_never_seen_settings():
    from course_utils.widgets import BENCHMARKS
    from course_utils.widgets.dropout import build_dropout_explorer

    small = {"p_values": (0.0, 0.5), "sizes": (50, 100), "seeds": (0,), "steps": 20, "hidden": (8,)}
    for b in BENCHMARKS:
        explorer = build_dropout_explorer(**small) if b.build is build_dropout_explorer else b.build()
        reachable = b.reachable(explorer)
        assert set(reachable) == set(explorer.controls), b.name
        total = math.prod(len(values) for values in reachable.values())
        new = sum(new for *_, new in bench.walk(reachable, explorer.values(), 20))
        assert new == min(20, total - 1), b.name


def test_ratios_cover_every_registered_layer_and_the_numpy_layers(monkeypatch):
    import dataclasses

    from course_utils import norms

    class MyNorm(torch.nn.GroupNorm):  # stands in for a layer added to the registry later
        pass

    monkeypatch.setattr(cnn, "MyNorm", MyNorm, raising=False)
    planted = dataclasses.replace(norms.spec("GroupNorm"), name="MyNorm", reference=torch.nn.GroupNorm)
    monkeypatch.setattr(norms, "REGISTRY", (*norms.REGISTRY, planted))
    monkeypatch.setattr(bench, "interleaved", lambda fns, repeats, warmup: [fn() or 2.0 for fn in fns][:1] + [4.0])
    rows = bench.bench_ratios(repeats=1, warmup=0, scale=0.01)
    classes = bench.layer_specs()
    assert {"Dropout", "MyNorm"} | {s.name for s in norms.REGISTRY} <= set(classes)
    for name in classes:
        assert rows[name]["ratio"] == 0.5
    fast_rows = {name.removesuffix(" (fast)") for name in rows if name.endswith(" (fast)")}
    assert {"BatchNorm1d", "BatchNorm2d", "LayerNorm"} <= fast_rows
    assert not fast_rows & {"Dropout", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d"}  # no fast path there
    lessons = {name.removesuffix(" (fast, lessons' size)") for name in rows if name.endswith("(fast, lessons' size)")}
    assert {"BatchNorm1d", "LayerNorm"} <= lessons  # the per-feature layers the lessons' MLPs use
    assert all(rows[f"{name} (fast, lessons' size)"]["shape"] == [64, 128] for name in lessons)
    assert {"numpy batchnorm", "numpy layernorm", "numpy dropout"} <= set(rows)
    assert all({"shape", "ours_ms", "torch_ms", "ratio"} <= set(r) for r in rows.values())


def test_browser_part_is_skipped_without_chromium(monkeypatch):
    monkeypatch.setenv("NORMCOURSE_CHROMIUM", "/nonexistent/chromium")
    assert "skipped" in bench.bench_browser(["anything"])


def test_main_writes_the_json_and_prints_the_table(tmp_path, monkeypatch, capsys):
    fake_ratio = {"BatchNorm1d": {"shape": [4, 2], "ours_ms": 2.0, "torch_ms": 1.0, "ratio": 2.0}}
    monkeypatch.setattr(bench, "bench_ratios", lambda: fake_ratio)
    out = tmp_path / "bench.json"
    assert bench.main(["--only", "ratios", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["ratios"] == fake_ratio
    assert result["threads"] == 1 and result["torch"] == torch.__version__
    assert "2.00x" in capsys.readouterr().out


def test_time_notebook_reports_seconds_budget_peak_rss_and_cpu_time(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["normcourse"] = {"budget_seconds": 99}
    # 300 MB written (so resident), and about 0.3 s of CPU spent in the kernel (a busy loop, not a sleep)
    nb.cells = [nbformat.v4.new_code_cell("x = b'\\x01' * (300 * 2**20)\nimport time\nt = time.process_time()\n"
                                          "while time.process_time() - t < 0.3:\n    pass")]
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "tiny.ipynb"
    nbformat.write(nb, path)
    idle = nbformat.v4.new_notebook(metadata=nb.metadata, cells=[nbformat.v4.new_code_cell("y = 1")])
    nbformat.write(idle, tmp_path / "notebooks" / "idle.ipynb")
    row = bench.bench_notebooks([path, tmp_path / "notebooks" / "idle.ipynb"])
    assert row["tiny.ipynb"]["budget_s"] == 99
    # Each kernel's own peak: not the peak of the process that started it (which holds torch, ~400 MB).
    assert row["tiny.ipynb"]["peak_rss_mb"] - row["idle.ipynb"]["peak_rss_mb"] > 250
    assert row["idle.ipynb"]["peak_rss_mb"] < 250
    assert 0.3 <= row["tiny.ipynb"]["cpu_s"] < row["tiny.ipynb"]["seconds"] + 5
    assert row["total_s"] == pytest.approx(row["tiny.ipynb"]["seconds"] + row["idle.ipynb"]["seconds"])


def test_reachable_values_of_the_usual_controls_and_a_settings_override():
    from course_utils.widgets import ExplorerBenchmark, reachable_values

    assert reachable_values(w.IntSlider(value=2, min=1, max=4)) == [1, 2, 3, 4]
    assert reachable_values(w.FloatLogSlider(value=1, base=10, min=-1, max=1, step=1)) == [0.1, 1.0, 10.0]
    assert reachable_values(w.Dropdown(options=[("one", 1), ("two", 2)], value=1)) == [1, 2]
    assert len(reachable_values(w.BoundedIntText(value=0, min=0, max=10**6))) == 64
    with pytest.raises(TypeError, match="settings="):
        reachable_values(w.Text(value="free text"))
    custom = ExplorerBenchmark("x", lambda: None, (), 100, settings=lambda explorer: {"k": range(3)})
    assert custom.reachable(None) == {"k": [0, 1, 2]}


def test_each_part_is_written_as_it_finishes_and_a_failed_part_does_not_stop_the_rest(tmp_path):
    out = tmp_path / "bench.json"
    seen_on_disk = {}

    def broken():
        raise AssertionError("Pre-LN min 0.831 < 0.85")

    def second():
        seen_on_disk.update(json.loads(out.read_text()))  # the first part is already on disk
        return {"BatchNorm1d": {"shape": [4, 2], "ours_ms": 2.0, "torch_ms": 1.0, "ratio": 2.0}}

    result = {"torch": "t"}
    failed = bench.run_parts([("notebooks", broken), ("ratios", second)], result, out)
    assert failed == ["notebooks"]
    assert "Pre-LN min 0.831" in seen_on_disk["notebooks"]["error"]
    on_disk = json.loads(out.read_text())
    assert on_disk["ratios"]["BatchNorm1d"]["ratio"] == 2.0 and "error" in on_disk["notebooks"]
    assert bench.table(on_disk) and bench.over_budget(on_disk) is False  # a failed part's error is not a row


def test_main_reports_a_failed_part_and_exits_1_after_running_the_others(tmp_path, monkeypatch, capsys):
    fake_ratio = {"BatchNorm1d": {"shape": [4, 2], "ours_ms": 2.0, "torch_ms": 1.0, "ratio": 2.0}}
    monkeypatch.setattr(bench, "bench_ratios", lambda: fake_ratio)
    monkeypatch.setattr(bench, "bench_widgets", lambda: 1 / 0)
    monkeypatch.setattr(bench, "bench_steps", lambda: {"paths": {}, "ops": {"relu": {"pinned_us": 2.0, "own_us": 1.0,
                                                                                    "ratio": 2.0}}})
    out = tmp_path / "bench.json"
    assert bench.main(["--no-notebooks", "--no-browser", "--out", str(out)]) == 1
    result = json.loads(out.read_text())
    assert result["ratios"] == fake_ratio and "ZeroDivisionError" in result["widgets"]["error"]
    assert result["cpu_model"] and result["steps"]["ops"]["relu"]["ratio"] == 2.0
    printed = capsys.readouterr().out
    assert "part 'widgets' FAILED" in printed and "relu: pinned / machine's own" in printed


def test_a_failing_notebook_is_recorded_and_the_next_one_still_timed(tmp_path):
    import nbformat

    (tmp_path / "notebooks").mkdir()
    paths = []
    for name, source in (("a_fails.ipynb", "assert 1 == 2, 'does not hold on this CPU'"), ("b_ok.ipynb", "x = 1")):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source)]
        paths.append(tmp_path / "notebooks" / name)
        nbformat.write(nb, paths[-1])
    snapshots = []
    rows = bench.bench_notebooks(paths, on_row=lambda r: snapshots.append(dict(r)))
    assert "does not hold on this CPU" in rows["a_fails.ipynb"]["error"]
    assert rows["b_ok.ipynb"]["seconds"] > 0 and rows["total_s"] == rows["b_ok.ipynb"]["seconds"]
    assert [list(s) for s in snapshots] == [["a_fails.ipynb"], ["a_fails.ipynb", "b_ok.ipynb"]]
    assert any("FAILED" in line for line in bench.table({"notebooks": rows}))


# ------------------------------------------------------------------- the steps part: pinned vs the machine's own
_real_step_ops = bench.step_ops  # before any test replaces it


def test_machines_own_env_drops_exactly_the_kernel_settings_and_keeps_one_thread():
    from course_utils import numeric

    env = bench.machines_own_env({**numeric.PINNED_NUMERIC_ENV, "OMP_NUM_THREADS": "8", "HOME": "/h"})
    assert not set(numeric.KERNEL_SETTINGS) & set(env)
    assert {k: env[k] for k in numeric.THREAD_SETTINGS} == numeric.THREAD_SETTINGS
    assert env["HOME"] == "/h"


def test_bench_steps_times_every_op_pinned_here_and_unpinned_in_a_child(monkeypatch):
    from course_utils import numeric

    monkeypatch.setattr(bench, "step_ops", lambda: {k: v for k, v in _real_step_ops().items()
                                                    if k.startswith(("relu", "step: MLP 64-128-128-10, no"))})
    result = bench.bench_steps(min_run_time=0.01, rounds=1)
    assert result["paths"]["pinned"] == numeric.describe() != result["paths"]["own"]
    assert "NOT pinned" in result["paths"]["own"] or "portable" in result["paths"]["own"]
    assert set(result["ops"]) == {"relu on 64x128", "step: MLP 64-128-128-10, no dropout"}
    for row in result["ops"].values():
        assert row["pinned_us"] > 0 and row["own_us"] > 0
        assert row["ratio"] == round(row["pinned_us"] / row["own_us"], 2)
    table = "\n".join(bench.table({"steps": result}))
    assert "step: MLP 64-128-128-10, no dropout: pinned / machine's own" in table


def test_every_step_op_builds_and_runs_once():
    for build in bench.step_ops().values():
        build()()  # raises if an op or a lesson's model changed under it


def test_bench_steps_refuses_to_compare_when_the_child_is_pinned_too(monkeypatch):
    monkeypatch.setattr(bench, "step_ops", lambda: {"relu": _real_step_ops()["relu on 64x128"]})
    monkeypatch.setattr(bench, "machines_own_env", lambda environ=None: dict(__import__("os").environ))
    with pytest.raises(RuntimeError, match="pinned path too"):
        bench.bench_steps(min_run_time=0.01, rounds=1)


def test_bench_steps_must_start_on_the_pinned_path(monkeypatch):
    from course_utils import numeric

    monkeypatch.setattr(numeric, "missing_settings", lambda *a, **k: {"MKL_CBWR": "COMPATIBLE"})
    with pytest.raises(RuntimeError, match="make bench"):
        bench.bench_steps()


def test_bench_steps_takes_turns_and_keeps_each_paths_fastest_median(monkeypatch):
    here, child = iter([{"step": 3.0}, {"step": 5.0}]), iter([{"step": 2.0}, {"step": 4.0}])  # fastest first
    monkeypatch.setattr(bench, "op_timings", lambda min_run_time: next(here))
    monkeypatch.setattr(bench, "_unpinned_timings", lambda min_run_time: ("numeric path: NOT pinned", next(child)))
    result = bench.bench_steps(rounds=2)
    assert result["ops"]["step"] == {"pinned_us": 3.0, "own_us": 2.0, "ratio": 1.5}
