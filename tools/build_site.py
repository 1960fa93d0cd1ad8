"""The course as a static site from the committed outputs: ``make site`` -> build/site/ and build/site-instructor/.

Nothing is re-executed: nbconvert turns each committed notebook (the outputs nbval checks) into HTML,
with the explorers' saved widget state, so the explorers show without a kernel. Pages follow the course
catalog (``course_utils.course.LESSONS``); lessons not written yet are listed as "in preparation".

Two editions: the learner's (``build/site/``) is made from the student build (``tools/student.py``,
nbgrader's ClearSolutions: exercises show their stub, not the solution, and no exercise output), the
instructor's (``build/site-instructor/``, ``--solutions``) from the notebooks as they are.

- Every page opens from ``file://`` with no request to the outside: KaTeX renders the formulas,
  require.js and ``@jupyter-widgets/html-manager`` the explorers, all pinned in tools/web/ and copied
  into the site's ``_static/`` (tools/web_assets.py). nbconvert's lab template is extended by
  ``tools/nbconvert_templates/normcourse_site``: the assets, the page title and links to the index and
  to the previous and next lessons.
- Markdown images are embedded (``embed_images``); ``<img>`` tags pointing to ``../imgs/`` point to a
  copy of imgs/ in the site. Both keep their alt text.
- Figure outputs get alt text: the output's own ``metadata["image/png"]["alt"]`` when a notebook
  provides one, else a description naming the code that drew it and its section.

Why nbconvert and not Jupyter Book 2 (MyST): MyST does not render saved widget state (the explorers
would be empty), and its ``build --html`` fetches its theme from a template server at build time.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import web_assets  # noqa: E402

from course_utils.course import LESSONS, Lesson, total_minutes  # noqa: E402

# Plots inside explorers are drawn by the widget manager from the saved state, after the page loads.
WIDGET_IMAGE_ALT = """<script>
new MutationObserver(() => document.querySelectorAll(
    '.jupyter-widgets img:not([alt]), .jupyter-widgets img[alt=""]').forEach(img => {
  img.alt = 'Explorer plot in its saved state; run the notebook in JupyterLab to move the controls';
})).observe(document.body, {subtree: true, childList: true});
</script>
"""
NBCONVERT_PLACEHOLDER_ALT = "No description has been provided for this image"
TEMPLATE = "normcourse_site"
EDITIONS = {False: "Learner edition (exercises without solutions)", True: "Instructor edition (with solutions)"}


# ------------------------------------------------------------------------------------------ alt text
def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def figure_alts(nb: dict) -> dict[str, str]:
    """Alt text for every PNG output of ``nb``, keyed by a hash of the image data."""
    alts: dict[str, str] = {}
    section = nb.get("metadata", {}).get("title", "")
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            headings = re.findall(r"^#{1,3}\s+(.+)$", _source(cell), re.M)
            section = headings[-1].strip() if headings else section
            continue
        drawn_by = _last_statement(_source(cell))
        for n, out in enumerate(o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})):
            given = out.get("metadata", {}).get("image/png", {}).get("alt")
            alt = given or f"Figure drawn by `{drawn_by[:80]}`" + (f" (figure {n + 1} of the cell)" if n else "") + (
                f", section “{section}”" if section else "")
            alts[_key(out["data"]["image/png"])] = alt
    return alts


def _last_statement(src: str) -> str:
    """The first line of the cell's last statement (usually the call that draws the figure)."""
    import ast

    try:
        body = ast.parse(src).body
    except SyntaxError:  # IPython magics and the like
        body = []
    if body:
        return src.splitlines()[body[-1].lineno - 1].strip()
    lines = [ln.strip() for ln in src.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "%"))]
    return lines[-1] if lines else "a code cell"


def _key(b64: str | list) -> str:
    data = "".join(b64) if isinstance(b64, list) else b64
    return hashlib.sha256(data.replace("\n", "").encode()).hexdigest()


def add_figure_alts(page: str, alts: dict[str, str]) -> str:
    """Give every ``<img src="data:image/png;base64,...">`` without an alt the alt text of its output."""

    def fix(match: re.Match) -> str:
        tag = match.group(0)
        current = re.search(r'\salt="([^"]*)"', tag)
        if current and current.group(1).strip() and current.group(1) != NBCONVERT_PLACEHOLDER_ALT:
            return tag
        alt = html.escape(alts.get(_key(match.group(1)), "Figure"))
        if current:
            return tag.replace(current.group(0), f' alt="{alt}"', 1)
        return tag.replace("<img ", f'<img alt="{alt}" ', 1)

    return re.sub(r'<img\s[^>]*?src="data:image/png;base64,([^"]+)"[^>]*>', fix, page)


# ------------------------------------------------------------------------------------------ pages
@dataclass(frozen=True)
class Neighbours:
    """Where a page's navigation points: the index and the previous and next lessons that exist."""

    index: str = "index.html"
    prev: Lesson | None = None
    next: Lesson | None = None

    def as_resources(self, edition: str) -> dict:
        def link(entry: Lesson | None) -> dict | None:
            return None if entry is None else {"href": page_name(entry), "title": entry.title}

        return {"index": self.index, "prev": link(self.prev), "next": link(self.next), "edition": edition,
                "katex": web_assets.urls()["katex"]}


def page_name(entry: Lesson) -> str:
    return f"{entry.notebook}.html"


def exporter(template: str = TEMPLATE, **traits):
    """nbconvert's exporter for ``template`` (tools/nbconvert_templates), loading everything from _static/."""
    from nbconvert import HTMLExporter

    urls = web_assets.urls()
    made = HTMLExporter(template_name=template, extra_template_basedirs=[str(web_assets.TEMPLATES)],
                        extra_template_paths=[str(web_assets.TEMPLATES)],
                        embed_images=True, **traits)
    made.require_js_url = urls["require_js_url"]
    made.widget_renderer_url = urls["widget_renderer_url"]
    return made


def render(nb, path: Path, title: str, nav: dict, html_exporter=None) -> str:
    """``nb`` (read from ``path``) as a page: nbconvert, then local image links and alt text."""
    resources = {"metadata": {"name": title, "path": str(path.parent)}, "normcourse": nav}
    body, _ = (html_exporter or exporter()).from_notebook_node(nb, resources=resources)
    # Images linked by <img src="../imgs/..."> in markdown HTML (not embedded by nbconvert) are copied
    # to the build's imgs/.
    body = re.sub(r'(<img\s[^>]*?src=")\.\./imgs/', r"\1imgs/", body)
    body = add_figure_alts(body, figure_alts(nb))
    return body.replace("</body>", WIDGET_IMAGE_ALT + "</body>", 1)


def export(path: Path, solutions: bool = True) -> str:
    """One notebook as a page on its own (links to an index only); its assets are expected in ``_static/``
    beside it (``web_assets.copy_assets``)."""
    nb = read_lesson(path, solutions)
    return render(nb, path, nb.metadata.get("title", path.stem), Neighbours().as_resources(EDITIONS[solutions]))


def read_lesson(path: Path, solutions: bool):
    """The notebook at ``path``; without solutions (nbgrader's ClearSolutions, tools/student.py) unless asked."""
    import nbformat
    import student

    nb = nbformat.read(path, as_version=4)
    return nb if solutions else student.student_version(nb)


def inline_markdown(text: str) -> str:
    """One line of catalog Markdown (`code`, *emphasis*) as HTML, without the paragraph around it."""
    import mistune

    rendered = mistune.html(text).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", rendered, flags=re.S)


def index_page(available: dict[str, str], edition: str = EDITIONS[False]) -> str:
    rows = []
    for entry in LESSONS:
        number = entry.notebook[:2]
        title = html.escape(entry.title)
        name = (f'<a href="{available[entry.notebook]}">{title}</a>' if entry.notebook in available
                else f"{title} <em>(in preparation)</em>")
        rows.append(f"<tr><td>{number}</td><td>{name}</td><td>{inline_markdown(entry.teaches)}</td>"
                    f"<td>{entry.minutes} min</td><td>{inline_markdown(entry.needs)}</td></tr>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>NormCourse: Dropout, BatchNorm and LayerNorm</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
table{{border-collapse:collapse;width:100%}}th,td{{border-bottom:1px solid #ccc;padding:.4rem;text-align:left;
vertical-align:top}}a{{color:#0052a3}}</style></head>
<body>
<h1>NormCourse: Dropout, Batch Normalization and Layer Normalization</h1>
<p><strong>{html.escape(edition)}.</strong> The course in reading order, rendered from the committed notebooks
(every number in them is asserted when they run). Explorers show the state they were saved in; to move them,
run the course in JupyterLab (<code>make lab</code>). The whole course takes about {total_minutes() / 60:.1f}
hours.</p>
<table>
<thead><tr><th scope="col">#</th><th scope="col">lesson</th><th scope="col">what it teaches</th>
<th scope="col">time</th><th scope="col">needs</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""


def build(out: Path, notebooks: Path = ROOT / "notebooks", solutions: bool = False) -> dict:
    """Write one edition of the site to ``out``; return the pages built (lesson -> file name)."""
    web_assets.check_installed()  # before anything is deleted
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    web_assets.copy_assets(out)
    if (notebooks.parent / "imgs").is_dir():
        shutil.copytree(notebooks.parent / "imgs", out / "imgs")
    present = [entry for entry in LESSONS if (notebooks / f"{entry.notebook}.ipynb").is_file()]
    made = exporter()
    pages: dict[str, str] = {}
    for k, entry in enumerate(present):
        path = notebooks / f"{entry.notebook}.ipynb"
        nav = Neighbours(prev=present[k - 1] if k else None, next=present[k + 1] if k + 1 < len(present) else None)
        page = render(read_lesson(path, solutions), path, entry.title, nav.as_resources(EDITIONS[solutions]), made)
        (out / page_name(entry)).write_text(page, encoding="utf-8")
        pages[entry.notebook] = page_name(entry)
    (out / "index.html").write_text(index_page(pages, EDITIONS[solutions]), encoding="utf-8")
    web_assets.refuse_outside_urls({name: out / file for name, file in pages.items()})
    return {"pages": pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="default: build/site (learner) or build/site-instructor (--solutions)")
    parser.add_argument("--solutions", action="store_true", help="the instructor's edition, with the solutions")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / ("site-instructor" if args.solutions else "site")
    try:
        result = build(out, solutions=args.solutions)
    except web_assets.MissingAssets as err:
        parser.exit(2, f"make site: {err}\n")
    print(f"site ({EDITIONS[args.solutions].lower()}): {len(result['pages'])} lessons in {out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
