"""The learner's own copy of the course: ``my-notebooks/``, filled from the student build, never overwritten.

    make lab      # runs `python tools/learner.py build/student my-notebooks`, then opens JupyterLab there

Rules (the learner's edits and the course's updates never collide):

- a lesson missing from the workspace is copied in from the student build (first run; or after the
  learner deleted their copy to start that lesson afresh);
- a lesson already in the workspace is **never** written to, whatever its state;
- when the course's version of a lesson changed since the learner's copy was made, the new version is
  written beside it as ``updates/<name>.ipynb`` (a file the tool owns and refreshes; its relative
  links, one folder deeper, get one more ``../``) and a message says so, with the two ways to take it;
- ``--reset LESSON`` (``make reset NB=03``) starts one lesson afresh: the learner's copy is moved to
  ``backups/<name>-<time>.ipynb`` (never deleted), then the course's version is copied in.

Which course version a copy came from is remembered in ``.course-versions.json`` (content hashes, not
file times: ``git pull`` and ``make student`` set modification times arbitrarily). The workspace sits
at the top of the repository next to ``notebooks/``, so the notebooks' ``../imgs/x.png`` links work
and the kernel (cwd = the workspace) imports the editable ``course_utils`` like the course does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

MANIFEST = ".course-versions.json"
UPDATES = "updates"
BACKUPS = "backups"
# A relative link in markdown or HTML: ](../x), ](imgs/x), src="../x". Not URLs, anchors or absolute paths.
_RELATIVE_LINK = re.compile(r"""(\]\(|\bsrc=["'])(?![a-zA-Z][a-zA-Z0-9+.-]*:|[#/])""")


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


def one_folder_deeper(notebook_bytes: bytes) -> bytes:
    """The notebook with every relative link of its markdown cells prefixed by ``../``: a lesson copied
    to ``updates/`` then still finds ``../imgs/x.png`` (now ``../../imgs/x.png``)."""
    nb = json.loads(notebook_bytes)
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        lines = source if isinstance(source, list) else [source]
        moved = [_RELATIVE_LINK.sub(lambda m: m.group(1) + "../", line) for line in lines]
        if moved != lines:
            changed = True
            cell["source"] = "".join(moved) if isinstance(source, str) else moved
    if not changed:
        return notebook_bytes
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


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
        deeper = one_folder_deeper(course_copy.read_bytes())
        if digest(mine) in (current, hashlib.sha256(deeper).hexdigest()):  # untouched, or the update was taken
            versions[name] = current
        if versions.get(name) == current:
            update.unlink(missing_ok=True)  # already taken (or nothing new)
            continue
        update.parent.mkdir(exist_ok=True)
        if not update.exists() or update.read_bytes() != deeper:
            update.write_bytes(deeper)
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


def find_lesson(student_dir: Path, lesson: str) -> Path:
    """The one lesson of ``student_dir`` that ``lesson`` names: "03", "03_batchnorm", "03_batchnorm.ipynb"
    or a path to any copy of it (notebooks/..., my-notebooks/...)."""
    student_dir = Path(student_dir)
    lessons = sorted(student_dir.glob("*.ipynb"))
    key = Path(str(lesson).strip()).name.removesuffix(".ipynb")
    matches = [path for path in lessons if key and path.stem.startswith(key)]
    exact = [path for path in matches if path.stem == key]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    names = ", ".join(path.stem for path in lessons) or f"none (run `make student` to fill {student_dir})"
    what = "matches several lessons" if matches else "matches no lesson"
    raise ValueError(f"NB={lesson!r} {what}: give its number or name, e.g. `make reset NB=03`. Lessons: {names}.")


def reset(student_dir: Path, workspace: Path, lesson: str, now: float | None = None) -> list[str]:
    """Start ``lesson`` afresh in ``workspace``: the learner's copy is moved to ``backups/`` (kept, never
    deleted), then the course's current version is copied in. Returns the messages for the learner."""
    course_copy = find_lesson(student_dir, lesson)
    workspace = Path(workspace)
    mine = workspace / course_copy.name
    messages = []
    if mine.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        backup = workspace / BACKUPS / f"{course_copy.stem}-{stamp}.ipynb"
        backup.parent.mkdir(parents=True, exist_ok=True)
        if backup.exists():
            raise ValueError(f"{backup} already exists: wait a second and run `make reset NB={lesson}` again.")
        mine.rename(backup)
        messages.append(f"Your copy of {course_copy.name} is kept as {workspace.name}/{BACKUPS}/{backup.name}.")
    sync(student_dir, workspace)  # copies the missing lesson in and records its version
    messages.append(f"{workspace.name}/{course_copy.name} is the course's version again: start afresh.")
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("student_dir", type=Path, help="the student build, e.g. build/student")
    parser.add_argument("workspace", type=Path, help="the learner's workspace, e.g. my-notebooks")
    parser.add_argument("--reset", metavar="LESSON", help="start this lesson afresh (e.g. 03): your copy is "
                        "moved to backups/, the course's version copied in")
    parser.add_argument("--messages-file", type=Path, metavar="PATH", help="also write the messages there, one "
                        "per line (tools/lab.py repeats them below JupyterLab's link)")
    args = parser.parse_args(argv)
    try:
        if args.reset is not None:
            messages = reset(args.student_dir, args.workspace, args.reset)
        else:
            messages = sync(args.student_dir, args.workspace)
    except ValueError as err:
        parser.error(str(err))
    for line in messages:
        print(line)
    if args.messages_file is not None:
        args.messages_file.parent.mkdir(parents=True, exist_ok=True)
        args.messages_file.write_text("".join(f"{line}\n" for line in messages), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
