"""A static site of the course from the committed outputs: ``make site`` -> build/site/index.html.

Nothing is re-executed: nbconvert turns each committed notebook (the outputs nbval checks) into HTML,
with the explorers' saved widget state, so the explorers show without a kernel. Pages follow the course
catalog (``course_utils.course.LESSONS``); lessons not written yet are listed as "in preparation".

- Markdown images are embedded (``embed_images``); ``<img>`` tags pointing to ``../imgs/`` point to a
  copy of imgs/ in the site. Both keep their alt text.
- Figure outputs get alt text: the output's own ``metadata["image/png"]["alt"]`` when a notebook
  provides one, else a description naming the code that drew it and its section.
- Widgets: nbconvert's page loads ``@jupyter-widgets/html-manager`` and require.js. When they are
  available locally (``--widget-bundle DIR`` with ``html-manager/dist/`` and ``require.js``, or npm's
  cache via ``npm pack --offline``) they are copied to ``_static/`` and the pages point there, so the
  site works offline; otherwise the pages load them from nbconvert's default CDN and a note says so.
  MathJax always comes from the CDN (formulas show as TeX source offline).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.course import LESSONS, total_minutes  # noqa: E402

# The html-manager that goes with ipywidgets 8.1 (same as tests/e2e/test_e2e_html_export.py).
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"
REQUIREJS = "requirejs@2.3.8"
STATIC = "_static"
# Plots inside explorers are drawn by the widget manager from the saved state, after the page loads.
WIDGET_IMAGE_ALT = """<script>
new MutationObserver(() => document.querySelectorAll(
    '.jupyter-widgets img:not([alt]), .jupyter-widgets img[alt=""]').forEach(img => {
  img.alt = 'Explorer plot in its saved state; run the notebook in JupyterLab to move the controls';
})).observe(document.body, {subtree: true, childList: true});
</script>
"""
NBCONVERT_PLACEHOLDER_ALT = "No description has been provided for this image"


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


# ------------------------------------------------------------------------------------------ widgets
def pack_widget_bundle(dest: Path, source: Path | None = None) -> bool:
    """Put the html-manager's dist/ and require.js into ``dest``; False if they are not to be had offline."""
    if source is not None:
        shutil.copytree(source / "html-manager" / "dist", dest / "html-manager" / "dist", dirs_exist_ok=True)
        shutil.copy2(source / "require.js", dest / "require.js")
        return True
    npm = shutil.which("npm")
    if npm is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            res = subprocess.run([npm, "pack", "--offline", "--silent", "--pack-destination", tmp, HTML_MANAGER,
                                  REQUIREJS], capture_output=True, text=True, timeout=120, cwd=tmp)
        except subprocess.TimeoutExpired:
            return False
        tgzs = list(Path(tmp).glob("*.tgz"))
        if res.returncode != 0 or len(tgzs) != 2:
            return False
        for tgz in tgzs:
            target = Path(tmp) / tgz.stem
            with tarfile.open(tgz) as tar:
                tar.extractall(target, filter="data")
            package = target / "package"
            if tgz.stem.startswith("requirejs"):
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(package / "require.js", dest / "require.js")
            else:
                shutil.copytree(package / "dist", dest / "html-manager" / "dist", dirs_exist_ok=True)
    return True


# ------------------------------------------------------------------------------------------ pages
def export(path: Path, local_widgets: bool) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    exporter = HTMLExporter(embed_images=True)
    if local_widgets:
        exporter.widget_renderer_url = f"{STATIC}/html-manager/dist/embed-amd.js"
        exporter.require_js_url = f"{STATIC}/require.js"
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(path.parent)}})
    # Images linked by <img src="../imgs/..."> in markdown HTML (not embedded by nbconvert) are copied
    # to the site's imgs/ by build().
    body = re.sub(r'(<img\s[^>]*?src=")\.\./imgs/', r"\1imgs/", body)
    body = add_figure_alts(body, figure_alts(nb))
    return body.replace("</body>", WIDGET_IMAGE_ALT + "</body>", 1)


def index_page(available: dict[str, str]) -> str:
    rows = []
    for entry in LESSONS:
        number = entry.notebook[:2]
        title = html.escape(entry.title)
        name = (f'<a href="{available[entry.notebook]}">{title}</a>' if entry.notebook in available
                else f"{title} <em>(in preparation)</em>")
        rows.append(f"<tr><td>{number}</td><td>{name}</td><td>{html.escape(entry.teaches)}</td>"
                    f"<td>{entry.minutes} min</td><td>{html.escape(entry.needs)}</td></tr>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>NormCourse: Dropout, BatchNorm and LayerNorm</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
table{{border-collapse:collapse;width:100%}}th,td{{border-bottom:1px solid #ccc;padding:.4rem;text-align:left;
vertical-align:top}}a{{color:#0052a3}}</style></head>
<body>
<h1>NormCourse: Dropout, Batch Normalization and Layer Normalization</h1>
<p>The course in reading order, rendered from the committed notebooks (every number in them is asserted
when they run). Explorers show the state they were saved in; to move them, run the course in JupyterLab
(<code>make lab</code>). The whole course takes about {total_minutes() / 60:.1f} hours.</p>
<table>
<thead><tr><th scope="col">#</th><th scope="col">lesson</th><th scope="col">what it teaches</th>
<th scope="col">time</th><th scope="col">needs</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""


def build(out: Path, notebooks: Path = ROOT / "notebooks", widget_bundle: Path | None = None) -> dict:
    """Write the site to ``out``; return what was built (pages, whether widgets load locally)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    local = pack_widget_bundle(out / STATIC, widget_bundle)
    if (notebooks.parent / "imgs").is_dir():
        shutil.copytree(notebooks.parent / "imgs", out / "imgs")
    pages: dict[str, str] = {}
    for entry in LESSONS:
        path = notebooks / f"{entry.notebook}.ipynb"
        if path.is_file():
            (out / f"{entry.notebook}.html").write_text(export(path, local), encoding="utf-8")
            pages[entry.notebook] = f"{entry.notebook}.html"
    (out / "index.html").write_text(index_page(pages), encoding="utf-8")
    return {"pages": pages, "local_widgets": local}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--widget-bundle", type=Path, default=None,
                        help="a folder with html-manager/dist/ and require.js (default: npm's cache)")
    args = parser.parse_args(argv)
    if args.widget_bundle is not None and not (args.widget_bundle / "require.js").is_file():
        parser.error(f"--widget-bundle {args.widget_bundle} must hold html-manager/dist/ and require.js")
    result = build(args.out, widget_bundle=args.widget_bundle)
    print(f"site: {len(result['pages'])} lessons in {args.out}/index.html")
    if not result["local_widgets"]:
        print(f"note: {HTML_MANAGER} is not in npm's cache, so the pages load the widget manager from a CDN "
              "(explorers need a network connection); `npm pack` it once, or pass --widget-bundle")
    return 0


if __name__ == "__main__":
    sys.exit(main())

