"""Rewrite constraints.txt from the packages installed in .venv (after changing a pin).

    make lock
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = [
    "# Every transitive package at the version the committed notebook outputs were made with.",
    "# Applied as pip constraints by the Makefile (regenerate: make lock).",
]


def main() -> int:
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    pins = []
    for line in frozen:
        if "==" not in line or line.startswith("-e"):
            continue
        name, version = line.split("==", 1)
        pins.append(f"{name}=={version.split('+')[0]}")  # torch's "+cpu" local tag is not on the pin
    (ROOT / "constraints.txt").write_text("\n".join(HEADER + sorted(pins, key=str.lower)) + "\n")
    print(f"wrote {len(pins)} pins to constraints.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
