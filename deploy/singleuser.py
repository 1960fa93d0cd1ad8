"""A learner's server on the hub: first their own copy of the course, then JupyterLab.

The hub starts this (``c.Spawner.cmd``) as the learner, in the learner's home folder. It applies the
same rule as ``make lab`` (``tools/learner.py``): the student build is copied into ``my-notebooks/``
once; a lesson already there is never written to again, on any later login or course update (a newer
version goes to ``my-notebooks/updates/``). Then it becomes ``jupyterhub-singleuser`` (exec, same
process), with the arguments the hub passed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDENT = Path(os.environ.get("NORMCOURSE_STUDENT_DIR", ROOT / "build" / "student"))
sys.path.insert(0, str(ROOT / "tools"))
from learner import sync  # noqa: E402

WORKSPACE = "my-notebooks"


def prepare_home(home: Path, student: Path = STUDENT) -> list[str]:
    """``home/my-notebooks`` from the student build (never overwriting) and ``home/imgs`` for the notebooks'
    ``../imgs/`` figures (course files, refreshed each time). Returns the messages for the learner."""
    messages = sync(student, home / WORKSPACE)
    if (ROOT / "imgs").is_dir():
        shutil.copytree(ROOT / "imgs", home / "imgs", dirs_exist_ok=True)
    return messages


def main() -> None:
    home = Path(os.environ.get("HOME") or os.getcwd())
    for line in prepare_home(home):
        print(f"[normcourse] {line}", file=sys.stderr)
    singleuser = Path(sys.executable).with_name("jupyterhub-singleuser")
    os.chdir(home)
    os.execv(str(singleuser), [str(singleuser), *sys.argv[1:]])


if __name__ == "__main__":
    main()
