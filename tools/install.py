"""The learner's packages into .venv, fast: every pinned package of requirements-lock.txt at once.

    python tools/install.py [PIP_ARG ...]    # make setup; PIP_ARG: tools/torch_build.py's index for PyTorch

Why not one ``pip install -r requirements.txt``: on the 2-core development machine it took 49 of
``make setup``'s 87 s (2026-12-06), and not for PyTorch (unpacking it takes 5 s) but for the 118 packages'
index lookups, which pip makes one after another and evaluates on one core (a dry run alone took 21 s).
requirements-lock.txt already says which version of which package the install ends with (``make lock``
writes it from requirements.txt and the installed metadata), so nothing is left to resolve. This script
installs it with ``--no-deps`` in a few pip processes at once (PyTorch in one, the rest dealt round-robin
over the others: the groups are disjoint, so no two processes write the same package), then asks
``pip check`` whether every requirement of every package is met. If not (another platform or Python
version, whose markers pull in other packages), it says so and falls back to pip's own resolver over
requirements.txt and constraints.txt: slower, never wrong. uv installs in parallel by itself, but is not
part of Python; pip is.

pip compiles nothing (``--no-compile``): tools/warm_bytecode.py compiles what the course loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"
PIP = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
BIG = "torch"  # installed in its own process: the one package whose unpacking takes seconds


def locked_pins(text: str) -> list[str]:
    """The ``name==version`` lines of a lock file (comments and blank lines dropped)."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def groups(pins: list[str], jobs: int) -> list[list[str]]:
    """PyTorch alone, the other pins dealt round-robin into ``jobs`` groups (none empty)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs!r}")
    big = [p for p in pins if p.split("==")[0].lower() == BIG]
    rest = [p for p in pins if p not in big]
    dealt = [rest[i::jobs] for i in range(jobs)]
    return [g for g in [big, *dealt] if g]


def fast_path_applies(platform: str = sys.platform, version: tuple[int, int] = sys.version_info[:2]) -> bool:
    """The lock is the closure on Linux with Python 3.11 (where `make lock` ran); elsewhere pip resolves."""
    return platform == "linux" and version == (3, 11)


def install_groups(pin_groups: list[list[str]], torch_args: list[str]) -> list[str]:
    """Run one ``pip install --no-deps`` per group at once; return an error text per failed group."""
    running = []
    with tempfile.TemporaryDirectory(prefix="normcourse-install-") as tmp:
        for i, group in enumerate(pin_groups):
            path = Path(tmp) / f"group{i}.txt"
            path.write_text("\n".join(group) + "\n")
            extra = torch_args if any(p.split("==")[0].lower() == BIG for p in group) else []
            command = [*PIP, "--no-deps", "-r", str(path), *extra]
            running.append((group, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                    text=True)))
        errors = []
        for group, process in running:
            output, _ = process.communicate()
            if process.returncode != 0:
                errors.append(f"pip could not install {', '.join(group)}:\n{output.strip()}")
    return errors


def pip_check() -> tuple[bool, str]:
    """pip's own verdict on the installed packages: every requirement met?"""
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def resolve_with_pip(torch_args: list[str]) -> int:
    """pip's resolver over requirements.txt and constraints.txt (the slow, general path)."""
    command = [*PIP, "-r", str(ROOT / "requirements.txt"), "-c", str(ROOT / "constraints.txt"), *torch_args]
    return subprocess.run(command).returncode


def main(argv: list[str]) -> int:
    torch_args = argv
    if not fast_path_applies():
        return resolve_with_pip(torch_args)
    jobs = min(4, max(2, os.cpu_count() or 2))
    errors = install_groups(groups(locked_pins(LOCK.read_text()), jobs), torch_args)
    if errors:
        print("\n\n".join(errors), file=sys.stderr)
        print("tools/install.py: the locked install failed (above); trying pip's resolver instead.", file=sys.stderr)
        return resolve_with_pip(torch_args)
    ok, report = pip_check()
    if not ok:
        print(f"tools/install.py: requirements-lock.txt does not cover this machine:\n{report}\n"
              "Installing with pip's resolver instead (authors: run make lock).", file=sys.stderr)
        return resolve_with_pip(torch_args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
