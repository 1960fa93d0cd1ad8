"""Static slide decks that open offline: ``make slides`` -> build/slides/<notebook>.slides.html and an index.

nbconvert's slides exporter, with its reveal template extended by
``tools/nbconvert_templates/normcourse_slides``: reveal.js 5, KaTeX, require.js and the widget manager
all come from the deck folder's own copy of the pinned assets (tools/web, installed by ``make setup-dev``;
see tools/web_assets.py), so a deck opens from ``file://`` on a projector machine without Python or a
network. Formulas are typeset by KaTeX; explorers show their saved widget state.

Nothing is executed: decks show the committed outputs and slide metadata (``make slidemeta``), with the
solutions (these are the instructor's decks; the learners' site leaves them out).
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402
import web_assets  # noqa: E402

TEMPLATE = "normcourse_slides"


def exporter():
    """nbconvert's slides exporter on the course's reveal template, loading everything from the deck folder."""
    from nbconvert import SlidesExporter

    urls = web_assets.urls()
    made = SlidesExporter(template_name=TEMPLATE, extra_template_basedirs=[str(web_assets.TEMPLATES)],
                          extra_template_paths=[str(web_assets.TEMPLATES)], embed_images=True,
                          reveal_url_prefix=urls["reveal_url_prefix"], reveal_theme="white", reveal_scroll=True)
    made.require_js_url = urls["require_js_url"]
    made.widget_renderer_url = urls["widget_renderer_url"]
    return made


def export(path: Path, made=None) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"name": deck_title(nb, path), "path": str(path.parent)},
                 "normcourse": {"katex": web_assets.urls()["katex"]}}
    body, _ = (made or exporter()).from_notebook_node(nb, resources=resources)
    body = re.sub(r'(<img\s[^>]*?src=")\.\./imgs/', r"\1imgs/", body)
    return build_site.add_figure_alts(body, build_site.figure_alts(nb))


def deck_title(nb, path: Path) -> str:
    """The lesson's title from the course catalog, else the notebook's first heading, else its file name."""
    from course_utils.course import LESSONS

    for entry in LESSONS:
        if entry.notebook == path.stem:
            return entry.title
    for cell in nb.cells:
        found = re.search(r"^#\s+(.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        if found:
            return found.group(1).strip()
    return path.stem


def index_page(decks: dict[str, str]) -> str:
    """A page linking every deck (file name -> title), in the order given."""
    items = "\n".join(f'<li><a href="{html.escape(file)}">{html.escape(title)}</a></li>'
                      for file, title in decks.items())
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>NormCourse slides</title>
<style>body{{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.6}}
a{{color:#0052a3}}</style></head>
<body>
<h1>NormCourse slides</h1>
<p>Open a deck and move with the arrow keys or the space bar; <kbd>Esc</kbd> shows the overview.</p>
<ol>
{items}
</ol>
</body></html>
"""


def build(out: Path, paths: list[Path]) -> dict:
    """Write a deck for each notebook in ``paths`` and an index to ``out``; return {"decks": stem -> file}."""
    web_assets.check_installed()
    out.mkdir(parents=True, exist_ok=True)
    web_assets.copy_assets(out, reveal=True)
    if (ROOT / "imgs").is_dir():
        shutil.copytree(ROOT / "imgs", out / "imgs", dirs_exist_ok=True)
    made = exporter()
    decks, titles = {}, {}
    for path in paths:
        target = out / f"{path.stem}.slides.html"
        page = export(path, made)
        target.write_text(page, encoding="utf-8")
        decks[path.stem] = target
        titles[target.name] = html.unescape(re.search(r"<title>(.*?) slides</title>", page).group(1))
    (out / "index.html").write_text(index_page(titles), encoding="utf-8")
    web_assets.refuse_outside_urls(decks)
    return {"decks": decks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    args = parser.parse_args(argv)
    paths = sorted(args.notebooks or (ROOT / "notebooks").glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    try:
        result = build(args.out, paths)
    except web_assets.MissingAssets as err:
        parser.exit(2, f"make slides: {err}\n")
    print(f"slides: {len(result['decks'])} decks in {args.out} (open {args.out / 'index.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
