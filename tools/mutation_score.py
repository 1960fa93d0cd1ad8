"""Summarize a finished `mutmut run` (called by `make mutation`): per module and overall.

Score = detected / checked, where a mutant is *detected* when a unit test failed on it ("killed") or it made
the tests hang ("timeout"), and *checked* counts every mutant that ran (killed, timeout, survived,
suspicious, no tests). The survivors are listed so they can be read with `mutmut show NAME`.

Usage: .venv/bin/python tools/mutation_score.py [--survivors]
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DETECTED = ("killed", "timeout")
CHECKED = (*DETECTED, "survived", "suspicious", "no tests", "segfault")


def statuses() -> dict[str, str]:
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    result = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            result[name] = status
    return result


def module_of(mutant: str) -> str:
    # course_utils.nn.xǁ_BatchNormǁforward__mutmut_3 -> course_utils.nn
    head = mutant.split("__mutmut_")[0]
    parts = head.split(".")
    return ".".join(p for p in parts[:-1]) if len(parts) > 1 else head


def main() -> int:
    by_module: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for name, status in statuses().items():
        by_module[module_of(name)][status] += 1
        if status == "survived":
            survivors.append(name)
    if not by_module:
        print("no mutmut results: run `make mutation` (or `mutmut run`) first")
        return 1
    total: Counter = Counter()
    print(f"{'module':<28} {'killed':>7} {'timeout':>8} {'survived':>9} {'other':>6} {'score':>7}")
    for module in sorted(by_module):
        counts = by_module[module]
        total.update(counts)
        print(_row(module, counts))
    print(_row("all core modules", total))
    if "--survivors" in sys.argv:
        print("\nsurvivors (read one with `.venv/bin/mutmut show NAME`):")
        print("\n".join(f"  {name}" for name in sorted(survivors)))
    return 0


def _row(label: str, counts: Counter) -> str:
    detected = sum(counts[s] for s in DETECTED)
    checked = sum(counts[s] for s in CHECKED)
    other = checked - detected - counts["survived"]
    score = f"{100 * detected / checked:.1f}%" if checked else "-"
    return (f"{label:<28} {counts['killed']:>7} {counts['timeout']:>8} {counts['survived']:>9} {other:>6} "
            f"{score:>7}")


if __name__ == "__main__":
    raise SystemExit(main())
