"""The learner's own copy of the course: ``my-notebooks/``, filled from the student build, never overwritten.

    make lab      # runs `python tools/learner.py build/student my-notebooks`, then opens JupyterLab there

Rules (the learner's edits and the course's updates never collide):

- a lesson missing from the workspace is copied in from the student build (first run; or after the
  learner deleted their copy to start that lesson afresh);
- a lesson already in the workspace is **never** written to, whatever its state;
- when the course's version of a lesson changed since the learner's copy was made, the new version is
  written beside it as ``updates/<name>.ipynb`` (a file the tool owns and refreshes) and a message
  says so, with the two ways to take it.

Which course version a copy came from is remembered in ``.course-versions.json`` (content hashes, not
file times: ``git pull`` and ``make student`` set modification times arbitrarily). The workspace sits
at the top of the repository next to ``notebooks/``, so the notebooks' ``../imgs/x.png`` links work
and the kernel (cwd = the workspace) imports the editable ``course_utils`` like the course does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

MANIFEST = ".course-versions.json"
UPDATES = "updates"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_manifest(workspace: Path) -> dict[str, str]:
    try:
        data = json.loads((workspace / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("copied_from"), dict):
        return {}
    return {k: v for k, v in data["copied_from"].items() if isinstance(v, str)}


def _save_manifest(workspace: Path, versions: dict[str, str]) -> None:
    text = json.dumps({"about": "course versions your copies were made from (tools/learner.py); safe to delete",
                       "copied_from": dict(sorted(versions.items()))}, indent=1) + "\n"
    path = workspace / MANIFEST
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def sync(student_dir: Path, workspace: Path) -> list[str]:
    """Bring ``workspace`` up to date with ``student_dir`` without touching the learner's files.

    Returns the messages for the learner (also printed by :func:`main`).
    """
    student_dir, workspace = Path(student_dir), Path(workspace)
    lessons = sorted(student_dir.glob("*.ipynb"))
    if not lessons:
        raise ValueError(f"student_dir {student_dir} holds no notebooks: run `make student` first.")
    workspace.mkdir(parents=True, exist_ok=True)
    versions = _load_manifest(workspace)
    messages: list[str] = []
    copied = []
    for course_copy in lessons:
        name, current = course_copy.name, digest(course_copy)
        mine = workspace / name
        update = workspace / UPDATES / name
        if not mine.exists():
            mine.write_bytes(course_copy.read_bytes())
            versions[name] = current
            copied.append(name)
            update.unlink(missing_ok=True)
            continue
        if digest(mine) == current:  # identical to the course's (untouched, or the update was taken)
            versions[name] = current
        if versions.get(name) == current:
            update.unlink(missing_ok=True)  # already taken (or nothing new)
            continue
        update.parent.mkdir(exist_ok=True)
        if not update.exists() or digest(update) != current:
            update.write_bytes(course_copy.read_bytes())
        messages.append(
            f"Course update: {name} changed since your copy was made. Your copy is untouched; the new "
            f"version is {workspace.name}/{UPDATES}/{name} (open it side by side). To switch to it, "
            f"rename or delete {workspace.name}/{name} and run `make lab` again."
        )
    if copied:
        messages.insert(0, f"Your workspace {workspace.name}/: copied {len(copied)} lesson(s) "
                           f"({', '.join(copied)}). Work there; `make lab` never overwrites your files.")
    _save_manifest(workspace, versions)
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("student_dir", type=Path, help="the student build, e.g. build/student")
    parser.add_argument("workspace", type=Path, help="the learner's workspace, e.g. my-notebooks")
    args = parser.parse_args(argv)
    try:
        messages = sync(args.student_dir, args.workspace)
    except ValueError as err:
        parser.error(str(err))
    for line in messages:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
