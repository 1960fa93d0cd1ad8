"""Rewrite constraints.txt and requirements-lock.txt from the packages installed in .venv (after changing a pin).

    make lock

- constraints.txt: every installed package (the learner's, the authors' tools, the hub's), as pip constraints;
- requirements-lock.txt: the learner's install alone: requirements.txt and everything it pulls in on this
  platform (Linux, Python 3.11), walked through the installed packages' own metadata. ``make setup``
  installs exactly this list (tools/install.py) and ``pip check`` confirms it is complete.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
HEADER = [
    "# Every transitive package at the version the committed notebook outputs were made with.",
    "# Applied as pip constraints by the Makefile (regenerate: make lock).",
]


LOCK_HEADER = [
    "# The learner's install (make setup): requirements.txt and every package it pulls in, at the versions of",
    "# constraints.txt. tools/install.py installs exactly these; regenerate with make lock.",
]


def _needs(requirement: Requirement, extras: set[str]) -> bool:
    """Whether a dependency applies here, for a package installed with ``extras``."""
    if requirement.marker is None:
        return True
    environments = [{**default_environment(), "extra": extra} for extra in (extras or {""})]
    return any(requirement.marker.evaluate(env) for env in environments)


def closure(roots: list[str]) -> dict[str, str]:
    """Canonical name -> installed version of ``roots`` (requirement strings) and everything they require."""
    found: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in roots]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in found and extras <= extras_seen[name]:
            continue
        dist = metadata.distribution(name)
        found[name] = dist.version
        extras_seen.setdefault(name, set()).update(extras)
        for line in dist.requires or []:
            dependency = Requirement(line)
            if _needs(dependency, extras_seen[name]):
                todo.append(dependency)
    return found


def learner_lock(requirements: Path = ROOT / "requirements.txt") -> list[str]:
    """The ``name==version`` lines of requirements-lock.txt (pip is the venv's own tool, not a package we pin)."""
    roots = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    found = closure([r for r in roots if r and not r.startswith("-")])
    found.pop("pip", None)
    return sorted((f"{name}=={version.split('+')[0]}" for name, version in found.items()), key=str.lower)


def main() -> int:
    freeze = [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"]
    frozen = subprocess.run(freeze, check=True, capture_output=True, text=True).stdout.splitlines()
    pins = []
    for line in frozen:
        if "==" not in line or line.startswith(("-e", "pip==")):  # pip: the venv's own tool
            continue
        name, version = line.split("==", 1)
        pins.append(f"{name}=={version.split('+')[0]}")  # torch's "+cpu" local tag is not on the pin
    (ROOT / "constraints.txt").write_text("\n".join(HEADER + sorted(pins, key=str.lower)) + "\n")
    print(f"wrote {len(pins)} pins to constraints.txt")
    lock = learner_lock()
    (ROOT / "requirements-lock.txt").write_text("\n".join(LOCK_HEADER + lock) + "\n")
    print(f"wrote {len(lock)} pins to requirements-lock.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
