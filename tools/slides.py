"""Slide metadata for every notebook, by one rule, so each lesson presents as a deck (RISE, nbconvert).

    make slidemeta                       # every notebook in notebooks/, in place (metadata only)
    python tools/slides.py --check NB... # exit 1 if a notebook's slide metadata differs from the rule

The rule (``metadata.slideshow.slide_type`` of each cell, computed from the cells alone):

1. A markdown cell with a ``#`` or ``##`` heading (on any of its lines) starts a **slide** (horizontal:
   the title, each numbered section, Exercises, Key takeaways, Further reading).
2. A markdown cell that starts with a ``###`` (or deeper) heading starts a **subslide** (vertical).
3. The setup cell (the code cell that calls ``setup_notebook(``) is **skip**: run it before presenting;
   it is plumbing, not content.
4. A markdown cell that starts with ``**Takeaway`` is a **fragment**: it appears on the next key press,
   after the picture it sums up, so the room can predict before it is shown.
5. A cell right after a markdown cell (other than a takeaway) continues its slide (**-**): an idea
   and its code (with the output) share a slide.
6. Any other cell (a code cell after a code cell, prose after an output) starts a **subslide**, so no
   slide carries two outputs and overflows the screen.

Notebook metadata ``rise`` gets ``scroll: true`` (a long output scrolls instead of being cut). Only
metadata changes: sources, outputs and execution counts stay, so nbval and ``make regen`` are not
affected, and running the tool twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
RISE = {"scroll": True}


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def slide_types(cells: list[dict]) -> list[str]:
    """The slide type of each cell by the module's rule (depends on sources and cell types only)."""
    types: list[str] = []
    setup_done = False
    for i, cell in enumerate(cells):
        src = _source(cell).lstrip()
        previous = cells[i - 1]["cell_type"] if i else None
        if cell["cell_type"] == "markdown" and re.search(r"^#{1,2}\s", src, re.M):
            kind = "slide"
        elif cell["cell_type"] == "markdown" and re.match(r"#{3,6}\s", src):
            kind = "subslide"
        elif cell["cell_type"] == "code" and not setup_done and "setup_notebook(" in src:
            kind, setup_done = "skip", True
        elif cell["cell_type"] == "markdown" and src.startswith("**Takeaway"):
            kind = "fragment"
        elif i == 0:
            kind = "slide"  # a deck starts with a slide whatever the first cell is
        elif previous == "markdown" and types[-1] not in ("skip", "fragment"):
            kind = "-"
        else:
            kind = "subslide"
        types.append(kind)
    return types


def apply(nb: dict) -> bool:
    """Set the slide metadata of ``nb`` in place by the rule; return True if anything changed."""
    before = json.dumps([c.get("metadata", {}) for c in nb["cells"]] + [nb.get("metadata", {})], sort_keys=True)
    for cell, kind in zip(nb["cells"], slide_types(nb["cells"]), strict=True):
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": kind}
    nb.setdefault("metadata", {}).setdefault("rise", {}).update(RISE)
    after = json.dumps([c.get("metadata", {}) for c in nb["cells"]] + [nb.get("metadata", {})], sort_keys=True)
    return before != after


def is_current(nb: dict) -> bool:
    """True if every cell already carries the slide type the rule gives."""
    current = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in nb["cells"]]
    return current == slide_types(nb["cells"]) and all(nb.get("metadata", {}).get("rise", {}).get(k) == v
                                                      for k, v in RISE.items())


def process(path: Path, check: bool = False) -> bool:
    """Apply the rule to one notebook file (metadata only); return True if it was (or would be) changed."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if check:
        return not is_current(nb)
    changed = apply(nb)
    if changed:
        nbformat.write(nb, path)  # the same writer as `make regen`, so the file stays byte-stable
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    paths = sorted(args.notebooks or (ROOT / "notebooks").glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    changed = [p for p in paths if process(p, check=args.check)]
    verb = "out of date" if args.check else "updated"
    print(f"slide metadata: {len(paths)} notebooks, {len(changed)} {verb}" +
          (f": {', '.join(p.name for p in changed)}" if changed else ""))
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
