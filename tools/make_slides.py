"""Static slide decks that open offline: ``make slides`` -> build/slides/<notebook>.slides.html.

nbconvert's reveal template loads reveal.js, jQuery, require.js, MathJax, mermaid and the widget
manager from CDNs. Here every one of them points at a file next to the decks instead:

- reveal.js 4.4 is the copy that ships inside the pinned jupyterlab-rise wheel. It is webpacked there, so
  ``_reveal/dist/reveal.js`` is a small AMD wrapper that runs RISE's reveal.js chunk with the two
  webpack helpers it uses, and ``_reveal/dist/reveal.css`` is the stylesheet string cut out of RISE's
  CSS chunk. The theme (``white.css``) and the speaker-notes plugin (a no-op: speaker notes need a
  second window) are written here.
- jQuery comes from the pinned nbgrader wheel; require.js and the widget manager from npm's cache, as
  for the site (tools/build_site.py), or the CDN with a note when they are not there.
- MathJax is replaced by a stub: formulas show as their TeX source. mermaid (unused by the course) is
  dropped.

Nothing is executed: decks show the committed outputs and slide metadata (``make slidemeta``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402

REVEAL = "_reveal"
STATIC = "_static"
REVEAL_CHUNK_MARK = 'VERSION="4.4.0"'
REVEAL_CSS_MARK = ".reveal .slides{position:absolute"
JS_ESCAPES = {"n": "\n", "t": "\t"}  # other escaped characters stand for themselves

MATHJAX_STUB = """// MathJax is not bundled with the course: formulas show as TeX source in the static decks.
window.MathJax = {Hub: {Config: function () {}, Queue: function () {}, getAllJax: function () { return null; },
                        Rerender: function () {}}};
"""
NOTES_STUB = """// Speaker notes need a second window; the offline decks do without them.
define([], function () { return {id: "notes", init: function () {}}; });
"""
WHITE_THEME = """/* A plain white theme for the offline decks (reveal.js's own themes are not in the wheel). */
:root { --r-background-color: #fff; --r-main-color: #222; --r-link-color: #0052a3; }
.reveal-viewport { background: #fff; }
.reveal { font-family: system-ui, "Helvetica Neue", Arial, sans-serif; font-size: 28px; color: #222; }
.reveal .slides section { text-align: left; }
.reveal h1, .reveal h2, .reveal h3 { color: #222; line-height: 1.2; }
.reveal a { color: #0052a3; }
.reveal .controls, .reveal .progress { color: #0052a3; }
"""


def rise_static() -> Path:
    import jupyterlab_rise

    return Path(jupyterlab_rise.__file__).parent / "static"


def reveal_amd(static: Path) -> str:
    """An AMD module returning reveal.js, from the webpack chunk inside jupyterlab-rise."""
    chunks = [p for p in sorted(static.glob("*.bundle.js")) if REVEAL_CHUNK_MARK in p.read_text(errors="ignore")]
    if len(chunks) != 1:
        raise RuntimeError(f"expected one reveal.js chunk in {static}, found {[p.name for p in chunks]}")
    text = chunks[0].read_text()
    ids = re.findall(r"\{(\d+):\(e,t,i\)=>\{i\.r\(t\),i\.d\(t,\{default:", text)
    if len(ids) != 1:
        raise RuntimeError(f"{chunks[0].name}: the reveal.js module was not found where expected")
    return f"""// reveal.js {REVEAL_CHUNK_MARK.split('"')[1]} from the jupyterlab-rise wheel ({chunks[0].name}),
// wrapped as an AMD module for nbconvert's reveal template (tools/make_slides.py).
define([], function () {{
  var modules = {{}};
  var self = {{webpackChunk_JUPYTERLAB_CORE_OUTPUT: {{push: function (c) {{ Object.assign(modules, c[1]); }}}}}};
  (function (self) {{
{text}
  }})(self);
  var exports = {{}};
  var helpers = {{
    r: function (e) {{ Object.defineProperty(e, "__esModule", {{value: true}}); }},
    d: function (e, defs) {{ for (var k in defs) Object.defineProperty(e, k, {{enumerable: true, get: defs[k]}}); }}
  }};
  modules[{ids[0]}]({{exports: exports}}, exports, helpers);
  return exports.default;
}});
"""


def reveal_css(static: Path) -> str:
    """reveal.css, cut out of the css-loader module string in jupyterlab-rise's CSS chunk."""
    for path in sorted(static.glob("*.bundle.js")):
        text = path.read_text(errors="ignore")
        at = text.find(REVEAL_CSS_MARK)
        if at < 0:
            continue
        opened = list(re.finditer(r"\.push\(\[\w+\.id,([`'\"])", text[:at]))
        if not opened:
            continue
        quote, i = opened[-1].group(1), opened[-1].end()
        end = i
        while True:  # the literal ends at the first unescaped closing quote
            end = text.index(quote, end)
            if (len(text[:end]) - len(text[:end].rstrip("\\"))) % 2 == 0:
                break
            end += 1
        return re.sub(r"\\(.)", lambda m: JS_ESCAPES.get(m.group(1), m.group(1)), text[i:end], flags=re.S)
    raise RuntimeError(f"reveal.css not found in {static}")


def jquery() -> Path:
    import nbgrader

    path = Path(nbgrader.__file__).parent / "server_extensions/formgrader/static/node_modules/jquery/dist/jquery.min.js"
    if not path.is_file():
        raise RuntimeError(f"jQuery not found at {path}")
    return path


def write_assets(out: Path, widget_bundle: Path | None = None) -> bool:
    """reveal.js, its CSS, theme and notes stub, jQuery, the MathJax stub and (if available) the widget
    manager, into ``out``. Returns whether the widget manager is local."""
    static = rise_static()
    dist = out / REVEAL / "dist"
    (dist / "theme").mkdir(parents=True, exist_ok=True)
    (out / REVEAL / "plugin" / "notes").mkdir(parents=True, exist_ok=True)
    (dist / "reveal.js").write_text(reveal_amd(static), encoding="utf-8")
    (dist / "reveal.css").write_text(reveal_css(static), encoding="utf-8")
    (dist / "theme" / "white.css").write_text(WHITE_THEME, encoding="utf-8")
    (out / REVEAL / "plugin" / "notes" / "notes.js").write_text(NOTES_STUB, encoding="utf-8")
    (out / STATIC).mkdir(parents=True, exist_ok=True)
    shutil.copy2(jquery(), out / STATIC / "jquery.min.js")
    (out / STATIC / "mathjax-stub.js").write_text(MATHJAX_STUB, encoding="utf-8")
    return build_site.pack_widget_bundle(out / STATIC, widget_bundle)


def export(path: Path, local_widgets: bool) -> str:
    import nbformat
    from nbconvert import SlidesExporter

    nb = nbformat.read(path, as_version=4)
    exporter = SlidesExporter(reveal_url_prefix=REVEAL, reveal_theme="white", reveal_scroll=True,
                              embed_images=True)
    exporter.jquery_url = f"{STATIC}/jquery.min.js"
    exporter.mathjax_url = f"{STATIC}/mathjax-stub.js"
    if local_widgets:
        exporter.require_js_url = f"{STATIC}/require.js"
        exporter.widget_renderer_url = f"{STATIC}/html-manager/dist/embed-amd.js"
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(path.parent)}})
    body = re.sub(r'<script type="module">\s*import mermaid from [^<]*</script>', "", body)
    body = re.sub(r'(<img\s[^>]*?src=")\.\./imgs/', r"\1imgs/", body)
    return build_site.add_figure_alts(body, build_site.figure_alts(nb))


def outside_urls(page: str) -> list[str]:
    """http(s) URLs the page would load as a script, stylesheet, module import or widget renderer."""
    found = re.findall(r'<script[^>]*\ssrc="(https?://[^"]+)"', page)
    found += re.findall(r'<link[^>]*\shref="(https?://[^"]+)"', page)
    found += re.findall(r"""import\s+\w+\s+from\s+['"](https?://[^'"]+)['"]""", page)
    found += re.findall(r"""widgetRendererSrc = '(https?://[^']+)'""", page)
    found += re.findall(r'"(https?://[^"]+\.js)"', page)  # require([...]) module paths
    return sorted(set(found))


def build(out: Path, paths: list[Path], widget_bundle: Path | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    local = write_assets(out, widget_bundle)
    if (ROOT / "imgs").is_dir():
        shutil.copytree(ROOT / "imgs", out / "imgs", dirs_exist_ok=True)
    decks = {}
    for path in paths:
        target = out / f"{path.stem}.slides.html"
        target.write_text(export(path, local), encoding="utf-8")
        decks[path.stem] = target
    return {"decks": decks, "local_widgets": local}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    parser.add_argument("--widget-bundle", type=Path, default=None)
    args = parser.parse_args(argv)
    paths = sorted(args.notebooks or (ROOT / "notebooks").glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.widget_bundle is not None and not (args.widget_bundle / "require.js").is_file():
        parser.error(f"--widget-bundle {args.widget_bundle} must hold html-manager/dist/ and require.js")
    result = build(args.out, paths, args.widget_bundle)
    for name, deck in result["decks"].items():
        leaks = outside_urls(deck.read_text(encoding="utf-8"))
        if leaks:
            print(f"note: {name} still loads {sorted(set(leaks))}")
    print(f"slides: {len(result['decks'])} decks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
