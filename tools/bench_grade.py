"""Benchmarks for a class: grading a batch, the hub's start, and how many learners one machine holds.

    make bench-grade                                  # 30 submissions of 03_batchnorm graded two at a time
    python tools/bench_grade.py --count 30 --lesson 03_batchnorm --workers 2
    python tools/bench_grade.py --hub-start           # seconds from `hubctl.py start` to the hub answering
    python tools/bench_grade.py --capacity 1 2 4      # N learners running the lesson at once: slowest cell

Results go to build/bench_class.json (merged with earlier runs). Wall-clock numbers depend on the
machine's load: the load average before and after each run is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import grade  # noqa: E402

RESULTS = ROOT / "build" / "bench_class.json"
GRADE_BUDGET = 600.0
HUB_START_BUDGET = 30.0
MEM_LIMIT = 4 * 1024**3  # the hub's default NORMCOURSE_HUB_MEM_LIMIT


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (with the kernels they waited for)."""
    t = os.times()
    return t.children_user + t.children_system


def _load() -> list[float]:
    return list(os.getloadavg())


def planted_batch(folder: Path, lesson: str, count: int) -> None:
    """``count`` learners' copies of ``lesson``: every other one solved (the course's notebook, same cell ids as the
    student build), the rest untouched stubs. Both run every cell; the lesson's training cells dominate the time."""
    import nbformat
    from student import student_version

    course = ROOT / "notebooks" / f"{lesson}.ipynb"
    solved = course.read_text(encoding="utf-8")
    stub = nbformat.writes(student_version(nbformat.read(course, as_version=4)))
    for k in range(count):
        path = folder / f"learner{k:02d}" / f"{lesson}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(solved if k % 2 == 0 else stub, encoding="utf-8")


def bench_grading(lesson: str, count: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        planted_batch(Path(tmp) / "submitted", lesson, count)
        load_before, start, cpu_before = _load(), time.perf_counter(), _children_cpu()
        rows = grade.grade(Path(tmp) / "submitted", Path(tmp) / "out", workers=workers)
        seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    return {"what": f"grade {count} submissions of {lesson}, {workers} at a time", "seconds": round(seconds, 1),
            "budget_seconds": GRADE_BUDGET,
            # CPU seconds of the workers and their kernels: what the batch costs whatever else runs on the machine.
            "cpu_seconds": round(cpu, 1), "cpu_seconds_per_submission": round(cpu / count, 1),
            "statuses": grade.summary(rows), "load_before": load_before,
            "load_after": _load()}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_hub_start() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        port = _free_port()
        env.update(NORMCOURSE_HUB_DATA=tmp, NORMCOURSE_HUB_PORT=str(port), NORMCOURSE_HUB_API_PORT=str(_free_port()),
                   NORMCOURSE_HUB_PROXY_API_PORT=str(_free_port()))
        load_before, start = _load(), time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "hubctl.py"), "start"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        seconds = None
        try:
            while time.perf_counter() - start < 120 and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hub/api/", timeout=2) as resp:
                        if resp.status == 200:
                            seconds = time.perf_counter() - start
                            break
                except OSError:
                    time.sleep(0.2)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(30)
    return {"what": "hub start (hubctl.py start until /hub/api answers), after make setup and make hub-setup",
            "seconds": None if seconds is None else round(seconds, 1), "budget_seconds": HUB_START_BUDGET,
            "load_before": load_before, "load_after": _load()}


def _run_lesson(path: Path, cell_timeout: int) -> dict:
    """Run one learner's notebook in a fresh kernel; the slowest cell and the total, in seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True, record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    slowest = 0.0
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            t0 = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            t1 = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            slowest = max(slowest, (t1 - t0).total_seconds())
    failed = [f"cell {i}: {o.get('ename')}: {str(o.get('evalue', ''))[:200]}" for i, c in enumerate(nb.cells)
              for o in c.get("outputs", []) if o.get("output_type") == "error"]  # fmt: skip
    return {"total": round(total, 1), "slowest_cell": round(slowest, 1), "errors": len(failed), "failed": failed}


def bench_capacity(lesson: str, learners: int, cell_timeout: int = 600) -> dict:
    """``learners`` kernels running the solved lesson at once, as on the hub: the course's numeric settings and
    the hub's per-process memory cap (RLIMIT_DATA, deploy/jupyterhub_config.py's mem_limit), inherited by the
    kernels and the processes they start."""
    import resource

    os.environ.update(grade.KERNEL_ENV)
    resource.setrlimit(resource.RLIMIT_DATA, (MEM_LIMIT, MEM_LIMIT))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k in range(learners):
            home = Path(tmp) / f"learner{k}" / "my-notebooks"
            home.mkdir(parents=True)
            paths.append(home / f"{lesson}.ipynb")
            shutil.copy2(ROOT / "notebooks" / f"{lesson}.ipynb", paths[-1])
        load_before, start, cpu_before = _load(), time.perf_counter(), _children_cpu()
        with ThreadPoolExecutor(learners) as pool:
            runs = list(pool.map(lambda p: _run_lesson(p, cell_timeout), paths))
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    return {"what": f"{learners} learner(s) running {lesson} at once (RLIMIT_DATA 4 GB each)", "learners": learners,
            "wall": round(wall, 1), "cpu_seconds": round(cpu, 1), "errors": sum(r["errors"] for r in runs),
            "slowest_cell": max(r["slowest_cell"] for r in runs), "totals": [r["total"] for r in runs],
            "failed": [f for r in runs for f in r["failed"]],
            "load_before": load_before, "load_after": _load()}


def _save(entry: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps(old + [entry], indent=1) + "\n")
    print(json.dumps(entry))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", default="03_batchnorm")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hub-start", action="store_true")
    parser.add_argument("--capacity", type=int, nargs="*", metavar="N")
    args = parser.parse_args(argv)
    if not (ROOT / "notebooks" / f"{args.lesson}.ipynb").exists():
        parser.error(f"--lesson {args.lesson}: no notebooks/{args.lesson}.ipynb")
    if args.count < 1 or args.workers < 1:
        parser.error("--count and --workers must be at least 1")
    if args.hub_start:
        _save(bench_hub_start())
    elif args.capacity:
        for n in args.capacity:
            _save(bench_capacity(args.lesson, n))
    else:
        _save(bench_grading(args.lesson, args.count, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
