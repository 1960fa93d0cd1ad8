"""Benchmark table: notebook run times, explorer latency (kernel and browser), layer speed vs torch.nn.

    make bench                                  # everything; writes build/bench.json
    make bench ARGS="--no-notebooks --no-browser"
    make bench ARGS="--only ratios"             # one part: notebooks, widgets, browser, ratios, steps

Parts of build/bench.json:
  notebooks  seconds per notebook (nbclient, a fresh kernel each, on a temporary copy so nothing
             committed is rewritten), the kernel's peak RSS, the budget from the notebook's metadata
             (``normcourse.budget_seconds``) and ``total_s``.
  widgets    per explorer in course_utils.widgets.BENCHMARKS: a walk moving one control at a time
             through >= 20 settings never seen before (cold) and >= 20 moves between seen ones (warm);
             median and p95 ms of one update in the kernel (compute + draw + PNG), wall clock, and
             the p95 of the kernel thread's CPU time (what the update costs without other load).
  browser    per explorer, in JupyterLab + headless Chromium (Playwright): median and p95 ms from a
             key press on a slider to the new image decoded on the page. Skipped without Chromium.
  ratios     ours / torch.nn time of forward + backward, interleaved in one process, one thread,
             median of >= 30 repeats after warm-up, in CPU time of the thread: every layer class in
             course_utils.nn with a torch.nn namesake (readable and, where there is one, fast path)
             and the numpy layers.
  steps      what the lessons' training runs spend their time on, and what the pinned numeric path
             (course_utils.numeric) costs: median microseconds of one call of each op at the sizes the
             lessons use, and of one whole training step of three of their models, measured here (pinned)
             and in a child process started without the kernel-choosing settings (the machine's own
             kernels; one thread, as here), with torch.utils.benchmark in the thread's CPU time.
Parts run quickest first (widgets, browser, ratios, notebooks); build/bench.json is rewritten after each
part, and a part that fails is recorded as {"error": ...} while the others still run.
Exit code 1 if a part failed or a budget is exceeded (notebook budget, explorer cold p95, browser p95).
Timings depend on the machine's load; judge a budget on a quiet machine.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench.json"
BROWSER_BUDGET_MS = 150.0
PARTS = ("notebooks", "widgets", "browser", "ratios", "steps")
BENCH_ORDER = ("widgets", "browser", "ratios", "steps", "notebooks")
"""Quick parts first: the notebooks take many minutes, and a failing notebook must not cost the rest."""


def summary(samples: Sequence[float]) -> dict[str, float]:
    """n, median and p95 (nearest rank) of ``samples`` (ms), rounded for the table."""
    ordered = sorted(samples)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


# ---------------------------------------------------------------------------------------------- notebooks
# Peak RSS and the CPU seconds the kernel (and the checks' forked children) used: CPU time says what a
# notebook costs even when other jobs share the machine, where wall time only says what it took today.
# The peak is the kernel's VmHWM where /proc has it: getrusage's ru_maxrss survives exec, so a kernel started
# by this process would report this process's own peak (every notebook showed the same 637 MB).
RSS_PROBE = ("import resource as _r, re as _re, os as _os; "
             "_s, _c = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN); "
             "_hwm = _re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()) "
             "if _os.path.exists('/proc/self/status') else None; "
             "print('__peak_rss_kb__', int(_hwm.group(1)) if _hwm else _s.ru_maxrss, '__cpu_s__', "
             "_s.ru_utime + _s.ru_stime + _c.ru_utime + _c.ru_stime)")


def time_notebook(path: Path) -> dict[str, Any]:
    """Run one notebook top to bottom in a fresh kernel; seconds, peak RSS (MB) and budget."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    budget = nb.metadata.get("normcourse", {}).get("budget_seconds")
    nb.cells.append(nbformat.v4.new_code_cell(RSS_PROBE))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "notebooks"
        shutil.copytree(path.parent, copy)
        for extra in ("imgs", "data"):
            if (path.parent.parent / extra).is_dir():
                shutil.copytree(path.parent.parent / extra, Path(tmp) / extra)
        client = NotebookClient(nb, kernel_name="python3", timeout=900, resources={"metadata": {"path": str(copy)}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    text = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    match = re.search(r"__peak_rss_kb__ (\d+)", text)
    cpu = re.search(r"__cpu_s__ ([\d.]+)", text)
    return {
        "seconds": round(seconds, 2),
        "cpu_s": round(float(cpu.group(1)), 2) if cpu else None,
        "budget_s": budget,
        "peak_rss_mb": round(int(match.group(1)) / 1024, 1) if match else None,
    }


def bench_notebooks(paths: Iterable[Path], on_row: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Time each notebook; one that fails (an assert that does not hold on this CPU, a timeout) is recorded
    with its error and the next one runs. ``on_row(rows so far)`` after each notebook (bench.json)."""
    rows: dict[str, Any] = {}
    for path in paths:
        start = time.perf_counter()
        try:
            rows[path.name] = time_notebook(path)
        except Exception as err:  # noqa: BLE001 - the other notebooks' times are still worth having
            rows[path.name] = {"error": f"{type(err).__name__}: {err}"[-1500:],
                               "seconds": round(time.perf_counter() - start, 2), "budget_s": None,
                               "peak_rss_mb": None}
        if on_row is not None:
            on_row(rows)
    done = [r["seconds"] for r in rows.values() if "error" not in r]
    return {**rows, "total_s": round(sum(done), 2)}


# ---------------------------------------------------------------------------------------------- widgets
def walk(reachable: dict[str, list[Any]], start: dict[str, Any], n: int, seed: int = 0,
         seen: set | None = None) -> list[tuple[str, Any, bool]]:
    """Moves of one control each, ``(control, value, new)``, until ``n`` of them landed on a setting
    not in ``seen`` (``new``; ``seen`` starts with ``start`` and is updated). A learner moves one control
    at a time, and a setting never seen is one nothing is cached for. Where no new setting is one move
    away, the walk crosses seen settings (``new`` False) to one that has a new neighbour; it stops
    early when every setting the controls can reach has been seen."""
    rng = random.Random(seed)
    key = tuple(sorted(reachable))

    def as_tuple(setting: dict) -> tuple:
        return tuple(setting[k] for k in key)

    def neighbours(setting: dict):
        for name in key:
            for value in reachable[name]:
                if value != setting[name]:
                    yield name, value, {**setting, name: value}

    seen = set() if seen is None else seen
    current = dict(start)
    seen.add(as_tuple(current))
    moves: list[tuple[str, Any, bool]] = []
    found = 0
    while found < n:
        options = [(name, value) for name, value, nxt in neighbours(current) if as_tuple(nxt) not in seen]
        if options:
            name, value = rng.choice(options)
            current[name] = value
            seen.add(as_tuple(current))
            moves.append((name, value, True))
            found += 1
            continue
        # Breadth-first through seen settings to the nearest one with an unseen neighbour.
        queue, visited, bridge = [(current, [])], {as_tuple(current)}, None
        while queue and bridge is None:
            setting, path = queue.pop(0)
            for name, value, nxt in neighbours(setting):
                if as_tuple(nxt) not in seen:
                    bridge = path
                    current = setting
                    break
                if as_tuple(nxt) not in visited:
                    visited.add(as_tuple(nxt))
                    queue.append((nxt, [*path, (name, value, False)]))
        if bridge is None:
            break  # every reachable setting has been seen
        moves.extend(bridge)
    return moves


def time_moves(explorer, moves: Sequence[tuple[str, Any]]) -> tuple[list[float], list[float]]:
    """Set each control's value in turn (this redraws synchronously): wall-clock ms per move (what a
    learner waits) and CPU ms of this thread (the work itself, hardly changed by other load)."""
    wall, cpu = [], []
    for name, value in moves:
        start, start_cpu = time.perf_counter(), time.thread_time()
        explorer.controls[name].value = value
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.thread_time() - start_cpu))
    return wall, cpu


def bench_explorer(bench, n_cold: int = 20, n_warm: int = 20, seed: int = 0) -> dict[str, Any]:
    """Time one explorer: >= ``n_cold`` moves to never-seen settings (fewer only if the controls reach
    fewer) and ``n_warm`` moves back and forth between the last two settings drawn."""
    explorer = bench.build()
    reachable = bench.reachable(explorer)
    start = explorer.values()
    key = tuple(sorted(reachable))
    seen = {tuple(start[k] for k in key)}
    current = dict(start)
    moves: list[tuple[str, Any, bool]] = []
    for name, value in bench.changes:  # the hand-named changes first, while they lead somewhere new
        setting = tuple(value if k == name else current[k] for k in key)
        if value == current[name] or setting in seen:
            break
        current[name] = value
        seen.add(setting)
        moves.append((name, value, True))
    moves += walk(reachable, current, max(0, n_cold - len(moves)), seed=seed, seen=seen)
    wall, cpu = time_moves(explorer, [(name, value) for name, value, _new in moves])
    cold = [t for t, (_n, _v, new) in zip(wall, moves, strict=True) if new]
    cold_cpu = [t for t, (_n, _v, new) in zip(cpu, moves, strict=True) if new]
    # Warm: back and forth along the last move (both settings were just drawn, so cached).
    last_name, last_value, _new = moves[-1]
    previous = dict(start)
    for name, value, _new in moves[:-1]:
        previous[name] = value
    back = (last_name, previous[last_name])
    warm, warm_cpu = time_moves(explorer, [back if i % 2 == 0 else (last_name, last_value) for i in range(n_warm)])
    cold_s, warm_s = summary(cold), summary(warm)
    cold_s["cpu_p95_ms"], warm_s["cpu_p95_ms"] = summary(cold_cpu)["p95_ms"], summary(warm_cpu)["p95_ms"]
    return {"cold": cold_s, "warm": warm_s, "budget_ms": bench.budget_ms,
            "ok": cold_s["p95_ms"] <= bench.budget_ms and warm_s["p95_ms"] <= bench.budget_ms}


def bench_widgets(benchmarks=None, **kwargs) -> dict[str, Any]:
    import course_utils.widgets as widgets

    if benchmarks is None:
        widgets.import_explorer_modules()
        benchmarks = widgets.BENCHMARKS
    return {bench.name: bench_explorer(bench, **kwargs) for bench in benchmarks}


# ---------------------------------------------------------------------------------------------- ratios
# What the ratios table times: Dropout and every layer of the registry (course_utils.norms), each against
# its reference (a torch.nn class) at the size its spec's ``bench`` gives (constructor args, input shape).
# A layer added to the registry gets its row here without an edit.
def layer_specs() -> dict[str, tuple[type, type, tuple, tuple[int, ...]]]:
    """``{name: (our class, torch.nn class, constructor args, input shape)}`` for Dropout and every registered
    layer whose reference is a torch.nn class."""
    import torch

    from course_utils import nn as cnn
    from course_utils import norms

    out = {"Dropout": (cnn.Dropout, torch.nn.Dropout, (0.5,), (512, 1024))}
    for s in norms.REGISTRY:
        if inspect.isclass(s.reference) and issubclass(s.reference, torch.nn.Module):
            out[s.name] = (s.course_class, s.reference, s.bench.args, s.bench.shape)
    return out


LESSON_SHAPE = (64, 128)
"""A minibatch of the lessons' MLPs: 64 examples, 128 hidden units (fast-path rows are also timed at it)."""


def scaled(shape: tuple[int, ...], scale: float) -> tuple[int, ...]:
    """``shape`` with its batch shrunk by ``scale`` (at least 2: BatchNorm needs two examples; tests use tiny sizes)."""
    return (max(2, int(shape[0] * scale)), *shape[1:])


def has_fast_path(cls: type, args: tuple = (), shape: tuple[int, ...] = ()) -> bool:
    """Whether ``cls`` has a fast path (course_utils.nn_fast: exactly its FAST_CLASSES, never a subclass)."""
    from course_utils.nn_fast import has_fast_path as _has_fast_path

    return _has_fast_path(cls)


def interleaved(fns: Sequence[Callable[[], Any]], repeats: int = 30, warmup: int = 5) -> list[float]:
    """Median ms of each function, run in turn (ours, theirs, ours, ...) so load hits both alike.

    Measured as this thread's CPU time: on a shared machine wall-clock samples also count the time the
    thread waited for a core, which has nothing to do with either implementation."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, samples, strict=True):
            start = time.thread_time()
            fn()
            out.append(1000 * (time.thread_time() - start))
    return [statistics.median(s) for s in samples]


def forward_backward(layer, x, gout) -> Callable[[], None]:
    def step() -> None:
        xi = x.detach().requires_grad_(True)
        layer(xi).backward(gout)
        for p in layer.parameters():
            p.grad = None

    return step


def bench_ratios(repeats: int = 50, warmup: int = 10, scale: float = 1.0) -> dict[str, Any]:
    import numpy as np
    import torch

    from course_utils import numpy_layers as npl

    torch.manual_seed(0)
    rows: dict[str, Any] = {}
    for name, (ours_cls, theirs_cls, args, shape) in layer_specs().items():
        shape = scaled(shape, scale)
        variants = {name: (args, shape, False)}
        if has_fast_path(ours_cls, args, shape):
            variants[f"{name} (fast)"] = (args, shape, True)
            if len(shape) == 2 and tuple(args) == (shape[1],):  # a per-feature layer: also at the lessons' size
                variants[f"{name} (fast, lessons' size)"] = ((LESSON_SHAPE[1],), LESSON_SHAPE, True)
        for label, (variant_args, variant_shape, fast) in variants.items():
            x, gout = torch.randn(variant_shape), torch.randn(variant_shape)
            theirs, ours = theirs_cls(*variant_args), ours_cls(*variant_args)
            ours.fast = fast
            ours.load_state_dict(theirs.state_dict())
            t_ours, t_theirs = interleaved([forward_backward(ours, x, gout), forward_backward(theirs, x, gout)],
                                           repeats, warmup)
            rows[label] = {"shape": list(variant_shape), "ours_ms": round(t_ours, 3), "torch_ms": round(t_theirs, 3),
                           "ratio": round(t_ours / t_theirs, 2)}

    # numpy forward/backward pairs against the torch.nn layer doing the same job.
    rng = np.random.default_rng(0)
    n, d = max(2, int(512 * scale)), 1024
    xn = rng.standard_normal((n, d))  # float64: numpy's natural precision; torch runs in float64 too
    dout = rng.standard_normal((n, d))
    gamma, beta = np.ones(d), np.zeros(d)
    running_mean, running_var = np.zeros(d), np.ones(d)
    xt, gt = torch.from_numpy(xn), torch.from_numpy(dout)

    def np_batchnorm() -> None:
        out, cache = npl.batchnorm_forward(xn, gamma, beta, running_mean, running_var, training=True)
        npl.batchnorm_backward(dout, cache)

    def np_layernorm() -> None:
        out, cache = npl.layernorm_forward(xn, gamma, beta)
        npl.layernorm_backward(dout, cache)

    def np_dropout() -> None:
        out, cache = npl.dropout_forward(xn, 0.5, training=True, rng=0)
        npl.dropout_backward(dout, cache)

    pairs = {
        "numpy batchnorm": (np_batchnorm, torch.nn.BatchNorm1d(d, dtype=torch.float64)),
        "numpy layernorm": (np_layernorm, torch.nn.LayerNorm(d, dtype=torch.float64)),
        "numpy dropout": (np_dropout, torch.nn.Dropout(0.5)),
    }
    for label, (fn, theirs) in pairs.items():
        t_ours, t_theirs = interleaved([fn, forward_backward(theirs, xt, gt)], repeats, warmup)
        rows[label] = {"shape": [n, d], "ours_ms": round(t_ours, 3), "torch_ms": round(t_theirs, 3),
                       "ratio": round(t_ours / t_theirs, 2), "dtype": "float64"}
    return rows


# ---------------------------------------------------------------------------------------------- browser
BROWSER_CELL = """\
from course_utils import setup_notebook
setup_notebook(quiet=True)
import course_utils.widgets as _w
_w.import_explorer_modules()
_explorer = next(b for b in _w.BENCHMARKS if b.name == {name!r}).build()
_explorer"""

# The same path with no work in the kernel: a slider that swaps between two ready PNGs. Its latency
# is JupyterLab's and the widget messages' share of every explorer's.
BASELINE_NAME = "(baseline: no kernel work)"
BASELINE_CELL = """\
import ipywidgets as _iw
from matplotlib.figure import Figure
from course_utils.widgets import figure_to_png
_pngs = []
for _c in ("#1f77b4", "#d62728"):
    _f = Figure(figsize=(8, 3)); _f.subplots().plot([0, 1], color=_c); _pngs.append(figure_to_png(_f))
_s = _iw.IntSlider(value=0, min=0, max=50, description="x", continuous_update=False)
_img = _iw.Image(value=_pngs[0], format="png")
_s.observe(lambda ch: setattr(_img, "value", _pngs[ch["new"] % 2]), names="value")
_iw.VBox([_s, _img])"""

# In the page: the time of each key press, and when the explorer's image next changed and decoded.
LATENCY_JS = """
() => {
  window.__bench = {t0: null, t1: null};
  document.addEventListener('keydown', () => { window.__bench.t0 = performance.now(); window.__bench.t1 = null; },
                            true);
  new MutationObserver(records => {
    for (const r of records) {
      const img = r.target;
      if (img.tagName !== 'IMG' || window.__bench.t0 === null || window.__bench.t1 !== null) continue;
      img.decode().catch(() => null).then(() => {
        if (window.__bench.t1 === null) window.__bench.t1 = performance.now();
      });
    }
  }).observe(document.body, {attributes: true, attributeFilter: ['src'], subtree: true});
}
"""


def bench_browser(names: Sequence[str], moves: int = 20) -> dict[str, Any]:
    """Per explorer: open a notebook that shows it in JupyterLab, press arrow keys on its sliders
    ``moves`` times, and time key press -> new image decoded."""
    chromium = Path(os.environ.get("NORMCOURSE_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.is_file():
        return {"skipped": f"Chromium not found at {chromium} (apt-get install chromium)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "the playwright package is missing; run make setup-dev"}
    import nbformat

    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    import e2e_support as support
    import lab_ui as ui

    support.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = support.start_lab(Path(tmp))
        try:
            bench_dir = server.root / "bench"
            bench_dir.mkdir()
            for i, name in enumerate(names):
                nb = nbformat.v4.new_notebook()
                nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
                source = BASELINE_CELL if name == BASELINE_NAME else BROWSER_CELL.format(name=name)
                nb.cells = [nbformat.v4.new_code_cell(source)]
                nbformat.write(nb, bench_dir / f"explorer_{i}.ipynb")
            pw = sync_playwright().start()
            try:
                browser = pw.chromium.launch(executable_path=str(chromium), args=support.CHROMIUM_ARGS,
                                             headless=True, timeout=60_000)
                try:
                    for i, name in enumerate(names):
                        case = support.NotebookCase(bench_dir / f"explorer_{i}.ipynb", f"bench/explorer_{i}.ipynb")
                        context = browser.new_context(viewport={"width": 1400, "height": 1000})
                        try:
                            results[name] = _browser_explorer(ui, context, server, case, moves)
                        except Exception as err:  # noqa: BLE001 - one explorer failing must not hide the rest
                            results[name] = {"error": f"{type(err).__name__}: {err}"[:500]}
                        finally:
                            context.close()
                finally:
                    browser.close()
            finally:
                pw.stop()
        finally:
            support.shutdown_lab(server)
    return results


def _browser_explorer(ui, context, server, case, moves: int) -> dict[str, Any]:
    page = ui.open_notebook(context, server, case, workspace=f"bench-{case.stem}")
    ui.run_all(page, case, expected=1)
    target = ui.cell(page, 0)
    target.locator(".jp-Cell-outputArea img").first.wait_for(state="visible", timeout=60_000)
    handles = target.locator(".jp-Cell-outputArea .noUi-handle")
    if handles.count() == 0:
        return {"skipped": "no slider to move"}
    page.evaluate(LATENCY_JS)
    samples = []
    for i in range(moves):
        handle = handles.nth(i % handles.count())
        handle.scroll_into_view_if_needed()
        handle.click()  # focus (a click may move the slider too: wait for that redraw to finish)
        ui.wait_kernel_idle(page, timeout=60, settle=0.3)
        # Right twice then left twice, per slider: the first visits may be cold, later ones cached.
        key = "ArrowRight" if (i // handles.count()) % 4 < 2 else "ArrowLeft"
        before = handle.get_attribute("aria-valuenow")
        page.keyboard.press(key)
        if handle.get_attribute("aria-valuenow") == before:  # at the end of the range: go the other way
            page.keyboard.press("ArrowLeft" if key == "ArrowRight" else "ArrowRight")
        page.wait_for_function("() => window.__bench.t1 !== null", timeout=60_000)
        samples.append(page.evaluate("() => window.__bench.t1 - window.__bench.t0"))
    page.close()
    s = summary(samples)
    return {**s, "budget_ms": BROWSER_BUDGET_MS, "ok": s["p95_ms"] <= BROWSER_BUDGET_MS}


# ---------------------------------------------------------------------------------------------- steps
STEPS_CHILD_FLAG = "--steps-child"


def _mlp_step(hidden: list[int], dropout: float, batch: int = 64) -> Callable[[], None]:
    """One SGD step (momentum 0.9) of a ReLU MLP 64 -> hidden -> 10 on a fixed batch of digits' size."""
    import torch

    from course_utils.models import make_mlp

    with torch.random.fork_rng(devices=[]):  # make_mlp seeds torch's global generator: keep the caller's
        model = make_mlp(64, hidden, 10, dropout=dropout, init="kaiming", seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(batch, 64, generator=gen), torch.randint(0, 10, (batch,), generator=gen)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _sorter_step() -> Callable[[], None]:
    """One Adam step of notebook 04's sorting Transformer (4 Pre-LN layers, batch 32), as its runs train."""
    import torch

    from course_utils.experiments import layernorm as ln
    from course_utils.train import torch_generator

    with torch.random.fork_rng(devices=[]):  # building seeds torch's global generator: keep the caller's
        model = ln.TinyTransformer(4, "pre", 0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.98), fused=True)
    x, y = ln.sorting_batch(32, torch_generator(0))

    def step() -> None:
        loss = ln._sort_loss(model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def step_ops() -> dict[str, Callable[[], Callable[[], Any]]]:
    """Name -> builder of a no-argument function: the ops and training steps the ``steps`` part times.

    The sizes are the lessons': batch 64, 64 inputs, 128 hidden units, 10 classes (02's dropout grid and
    05's ablation grid train 64-128-128-10; 01's deep runs ten hidden layers of 128)."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    x, h = torch.randn(64, 64, generator=gen), torch.randn(64, 128, generator=gen)
    w1, w2, b = torch.randn(128, 64, generator=gen), torch.randn(128, 128, generator=gen), torch.randn(128)
    logits, labels = torch.randn(64, 10, generator=gen), torch.randint(0, 10, (64,), generator=gen)

    def linear_forward_backward() -> None:
        hi, wi = h.detach().requires_grad_(True), w2.detach().requires_grad_(True)
        F.linear(hi, wi, b).sum().backward()

    return {
        "linear 64x64 -> 128, forward": lambda: lambda: F.linear(x, w1, b),
        "linear 64x128 -> 128, forward": lambda: lambda: F.linear(h, w2, b),
        "linear 64x128 -> 128, forward + backward": lambda: linear_forward_backward,
        "dropout p=0.5 on 64x128 (training)": lambda: lambda: F.dropout(h, 0.5, True),
        "relu on 64x128": lambda: lambda: torch.relu(h),
        "cross-entropy 64x10": lambda: lambda: F.cross_entropy(logits, labels),
        "step: MLP 64-128-128-10, dropout 0.5 (02, 05)": lambda: _mlp_step([128, 128], 0.5),
        "step: MLP 64-128-128-10, no dropout": lambda: _mlp_step([128, 128], 0.0),
        "step: MLP 64-[128 x 10]-10 (01's deep runs)": lambda: _mlp_step([128] * 10, 0.0),
        "step: sorting Transformer, 4 Pre-LN layers (04)": _sorter_step,
    }


def op_timings(min_run_time: float = 0.3) -> dict[str, float]:
    """Median microseconds per call of each of :func:`step_ops` in this process, one thread, on whatever
    numeric path the process was started with (torch.utils.benchmark, the thread's CPU time)."""
    import torch
    from torch.utils import benchmark

    torch.set_num_threads(1)
    out = {}
    for name, build in step_ops().items():
        fn = build()
        timer = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=1, timer=time.thread_time)
        out[name] = round(timer.blocked_autorange(min_run_time=min_run_time).median * 1e6, 1)
    return out


def machines_own_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without the settings that choose kernels, one thread kept:
    the path torch and MKL would take on this CPU if the course did not pin one."""
    from course_utils import numeric

    env = dict(os.environ if environ is None else environ)
    for key in numeric.KERNEL_SETTINGS:
        env.pop(key, None)
    env.update(numeric.THREAD_SETTINGS)
    return env


def bench_steps(min_run_time: float = 0.3, rounds: int = 2) -> dict[str, Any]:
    """Each op and step pinned (this process) and on the machine's own kernels (a child process), and the
    ratio pinned / own: what portable bits cost at the lessons' sizes. ``paths`` names both numeric paths.

    The two paths take turns ``rounds`` times and each keeps its fastest median, so a burst of load on a
    shared machine does not land on one side only."""
    from course_utils import numeric

    if numeric.missing_settings():
        raise RuntimeError("the steps part compares the pinned numeric path with the machine's own, so it must "
                           "start on the pinned path: run it with `make bench` (which sets it), not bare python.")
    pinned: dict[str, float] = {}
    own: dict[str, float] = {}
    for _ in range(rounds):
        for name, us in op_timings(min_run_time).items():
            pinned[name] = min(us, pinned.get(name, math.inf))
        child_path, child_us = _unpinned_timings(min_run_time)
        for name, us in child_us.items():
            own[name] = min(us, own.get(name, math.inf))
    if child_path == numeric.describe():
        raise RuntimeError(f"the child process ran on the pinned path too ({child_path}): nothing to compare.")
    ops = {name: {"pinned_us": us, "own_us": own[name], "ratio": round(us / own[name], 2)}
           for name, us in pinned.items()}
    return {"paths": {"pinned": numeric.describe(), "own": child_path}, "ops": ops}


def _unpinned_timings(min_run_time: float) -> tuple[str, dict[str, float]]:
    """:func:`op_timings` in a child process started with :func:`machines_own_env`: (its path, its timings)."""
    import subprocess

    child = subprocess.run([sys.executable, str(Path(__file__).resolve()), STEPS_CHILD_FLAG, str(min_run_time)],
                           env=machines_own_env(), capture_output=True, text=True, timeout=900)
    if child.returncode != 0:
        raise RuntimeError(f"the unpinned child process failed: {child.stderr[-1000:]}")
    own = json.loads(child.stdout.strip().splitlines()[-1])
    return own["path"], own["us"]


def _steps_child(min_run_time: str) -> int:
    """Entry point of the child process of :func:`bench_steps`: one JSON line, its path and its timings."""
    sys.path.insert(0, str(ROOT))
    from course_utils import numeric

    print(json.dumps({"path": numeric.describe(), "us": op_timings(float(min_run_time))}))
    return 0


# ---------------------------------------------------------------------------------------------- table
def _part(result: dict[str, Any], name: str) -> dict[str, Any]:
    """A part's rows, or none for a part that failed as a whole (its error is printed separately)."""
    part = result.get(name, {})
    return {} if "error" in part else part


def table(result: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, ...]] = [("what", "median", "p95 / value", "budget", "")]
    for name, r in _part(result, "widgets").items():
        for kind in ("cold", "warm"):
            ok = r[kind]["p95_ms"] <= r["budget_ms"]
            rows.append((f"explorer {name}: {kind} (n={r[kind]['n']})", f"{r[kind]['median_ms']:.1f} ms",
                         f"{r[kind]['p95_ms']:.1f} ms (cpu {r[kind].get('cpu_p95_ms', float('nan')):.1f})",
                         f"{r['budget_ms']:.0f} ms", "ok" if ok else "OVER"))
    browser = _part(result, "browser")
    if "skipped" in browser:
        rows.append(("browser", "-", "-", "-", f"skipped: {browser['skipped']}"))
    for name, r in browser.items():
        if not isinstance(r, dict) or "median_ms" not in r:
            if isinstance(r, dict):
                rows.append((f"browser {name}", "-", "-", "-", r.get("error") or r.get("skipped", "")))
            continue
        rows.append((f"browser {name} (n={r['n']})", f"{r['median_ms']:.0f} ms", f"{r['p95_ms']:.0f} ms",
                     f"{r['budget_ms']:.0f} ms", "ok" if r["ok"] else "OVER"))
    for name, r in _part(result, "ratios").items():
        rows.append((f"{name} {tuple(r['shape'])} vs torch.nn", f"{r['ours_ms']:.2f} / {r['torch_ms']:.2f} ms",
                     f"{r['ratio']:.2f}x", "", ""))
    for name, r in _part(result, "steps").get("ops", {}).items():
        rows.append((f"{name}: pinned / machine's own", f"{r['pinned_us']:.0f} / {r['own_us']:.0f} us",
                     f"{r['ratio']:.2f}x", "", ""))
    notebooks = _part(result, "notebooks")
    for name, r in notebooks.items():
        if name == "total_s":
            continue
        if "error" in r:
            rows.append((f"notebook {name}", f"{r['seconds']:.1f} s", "", "", "FAILED: " + r["error"][-80:]))
            continue
        budget = r["budget_s"]
        ok = budget is None or r["seconds"] <= budget
        rss = "" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f} MB peak"
        if r.get("cpu_s") is not None:
            rss += f", {r['cpu_s']:.1f} s CPU"
        rows.append((f"notebook {name}", f"{r['seconds']:.1f} s", rss, "-" if budget is None else f"{budget:.0f} s",
                     "ok" if ok else "OVER"))
    if notebooks:
        rows.append(("notebooks total", f"{notebooks['total_s']:.1f} s", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(n) for c, n in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * n for n in widths))
    return lines


def over_budget(result: dict[str, Any]) -> bool:
    over = any(not r["ok"] for r in _part(result, "widgets").values())
    over |= any(isinstance(r, dict) and r.get("ok") is False for name, r in _part(result, "browser").items()
                if name != BASELINE_NAME)
    for name, r in _part(result, "notebooks").items():
        if name != "total_s" and r["budget_s"] is not None and r["seconds"] > r["budget_s"]:
            over = True
    return over


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), for the README's table: budgets hold per machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_json(result: dict[str, Any], out: Path) -> None:
    """Write ``result`` to ``out`` in one step (a reader never sees half a file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)


def run_parts(parts: Sequence[tuple[str, Callable[[], dict[str, Any]]]], result: dict[str, Any],
              out: Path) -> list[str]:
    """Run each part in turn, writing ``out`` after each one, so a crash or Ctrl-C later keeps what was
    measured. A part that raises is recorded as ``{"error": ...}`` and the next part runs. Returns the
    names of the failed parts."""
    failed = []
    for name, run in parts:
        start = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            result[name] = run()
        except Exception as err:  # noqa: BLE001 - one failing part must not lose the others' numbers
            result[name] = {"error": f"{type(err).__name__}: {err}"[:2000]}
            failed.append(name)
        print(f"bench: {name} {'FAILED' if name in failed else 'done'} in {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)
        write_json(result, out)
    return failed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-notebooks", action="store_true", help="skip executing notebooks")
    parser.add_argument("--no-browser", action="store_true", help="skip the JupyterLab + Chromium timings")
    parser.add_argument("--no-widgets", action="store_true", help="skip the kernel-side explorer timings")
    parser.add_argument("--no-ratios", action="store_true", help="skip the layers vs torch.nn timings")
    parser.add_argument("--no-steps", action="store_true", help="skip the training-step costs, pinned vs unpinned")
    parser.add_argument("--only", choices=PARTS, help="run just this part")
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON output (default {OUT.relative_to(ROOT)})")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: all)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    from course_utils import setup_notebook

    setup_notebook(quiet=True)
    todo = {part: not getattr(args, f"no_{part}") for part in PARTS}
    if args.only:
        todo = {part: part == args.only for part in PARTS}
    result: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    import course_utils.widgets as widgets

    parts: dict[str, Callable[[], dict[str, Any]]] = {
        "widgets": bench_widgets,
        "browser": lambda: bench_browser([BASELINE_NAME] + [b.name for b in widgets.BENCHMARKS]),
        "ratios": bench_ratios,
        "steps": bench_steps,
        "notebooks": lambda: bench_notebooks(args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb")),
                                             on_row=lambda rows: write_json({**result, "notebooks": rows}, args.out)),
    }
    widgets.import_explorer_modules()
    failed = run_parts([(part, parts[part]) for part in BENCH_ORDER if todo[part]], result, args.out)
    print(f"torch {result['torch']}, {result['threads']} thread(s), load average {result['load_average']}")
    print("\n".join(table(result)))
    for part in failed:
        print(f"part {part!r} FAILED: {result[part]['error']}")
    print(f"(written to {args.out})")
    return 1 if failed or over_budget(result) else 0


if __name__ == "__main__":
    if sys.argv[1:2] == [STEPS_CHILD_FLAG]:
        raise SystemExit(_steps_child(*sys.argv[2:3]))
    raise SystemExit(main(sys.argv[1:]))
