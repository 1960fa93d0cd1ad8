"""The browser assets of ``make site`` and ``make slides``, installed at set-up time and copied into each build.

They are pinned in ``tools/web/package.json`` and ``tools/web/package-lock.json`` (versions and
integrity hashes) and installed into ``tools/web/node_modules/`` (git-ignored) by ``make setup-dev`` with
``npm ci``. The builders copy what a page needs into the build's ``_static/``, so a page opens from
``file://`` with no request to the outside:

- KaTeX renders the formulas (its fonts are in the copy);
- require.js and ``@jupyter-widgets/html-manager`` render the explorers from their saved widget state;
- reveal.js (decks only) presents the slides.

Nothing falls back to a CDN: when the assets are missing, the builders stop and say what to run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "tools" / "web"
NODE_MODULES = WEB / "node_modules"
STATIC = "_static"  # where the assets go, relative to the page
TEMPLATES = ROOT / "tools" / "nbconvert_templates"

# package -> the files of it that the pages load (folders copied whole)
FILES = {
    "katex": ["dist/katex.min.js", "dist/katex.min.css", "dist/contrib/auto-render.min.js", "dist/fonts"],
    "requirejs": ["require.js"],
    "@jupyter-widgets/html-manager": ["dist/embed-amd.js"],  # + the fonts its CSS points to, see copy_widgets
    "reveal.js": ["dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/theme/fonts",
                  "plugin/notes/notes.js"],
}
FONT_SUFFIXES = {".woff2", ".woff", ".ttf", ".eot", ".svg"}


class MissingAssets(RuntimeError):
    """The pinned browser assets are not installed (or not at the pinned versions)."""


def pinned() -> dict[str, str]:
    """package -> exact version, from tools/web/package.json."""
    return json.loads((WEB / "package.json").read_text(encoding="utf-8"))["dependencies"]


def check_installed() -> None:
    """Raise MissingAssets, naming the command to run, unless every pinned package is installed at its pin."""
    # The authors' install has them, not the learner's `make setup`: naming that one would send a reader round
    # in a circle (it succeeds and the assets are still missing).
    how = ("run `make setup-dev` (`make site` and `make slides` run it first): it installs them with npm ci "
           "from tools/web/package-lock.json; npm comes with Node.js, e.g. `apt-get install npm`")
    for name, version in pinned().items():
        manifest = NODE_MODULES / name / "package.json"
        if not manifest.is_file():
            raise MissingAssets(f"the browser assets for the site and the decks are not installed "
                                f"({name} is missing from {NODE_MODULES}): {how}")
        found = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        if found != version:
            raise MissingAssets(f"{name} {found} is installed in {NODE_MODULES}, the pin is {version}: {how}")


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def copy_package(name: str, dest: Path) -> None:
    """The files of ``name`` that pages load, into ``dest/<name>/`` (same layout as in the package)."""
    for rel in FILES[name]:
        _copy(NODE_MODULES / name / rel, dest / name / rel)


def copy_widgets(out: Path) -> None:
    """require.js (to _static/) and the html-manager's embed-amd.js with the icon fonts of its buttons.

    The html-manager goes to ``out/@jupyter-widgets/html-manager/dist/``, not under _static/: its
    stylesheet asks for the icon fonts at that path relative to the page (require.js's base URL).
    """
    copy_package("requirejs", out / STATIC)
    copy_package("@jupyter-widgets/html-manager", out)
    dist = NODE_MODULES / "@jupyter-widgets/html-manager/dist"
    for font in dist.iterdir():
        if font.suffix in FONT_SUFFIXES:
            _copy(font, out / "@jupyter-widgets/html-manager/dist" / font.name)


def copy_assets(out: Path, *, reveal: bool = False) -> Path:
    """Copy KaTeX, require.js (and reveal.js for decks) to ``out/_static``, the widget manager beside it."""
    check_installed()
    dest = out / STATIC
    copy_package("katex", dest)
    copy_widgets(out)
    if reveal:
        copy_package("reveal.js", dest)
    return dest


def urls() -> dict[str, str]:
    """Where a page finds each asset, relative to the page."""
    return {
        "require_js_url": f"{STATIC}/requirejs/require.js",
        "widget_renderer_url": "@jupyter-widgets/html-manager/dist/embed-amd.js",
        "katex": f"{STATIC}/katex/dist",
        "reveal_url_prefix": f"{STATIC}/reveal.js",
    }


def outside_urls(page: str) -> list[str]:
    """http(s) URLs the page would load: scripts, stylesheets, module imports, the widget renderer,
    require() paths. A built page must have none."""
    found = re.findall(r'<script[^>]*\ssrc="(https?://[^"]+)"', page)
    found += re.findall(r'<link[^>]*\shref="(https?://[^"]+)"', page)
    found += re.findall(r"""import\s+\w+\s+from\s+['"](https?://[^'"]+)['"]""", page)
    found += re.findall(r"""widgetRendererSrc = '(https?://[^']+)'""", page)
    found += re.findall(r'"(https?://[^"]+\.m?js)"', page)
    found += re.findall(r"""@import\s+url\(['"]?(https?://[^'")]+)""", page)
    return sorted(set(found))


def refuse_outside_urls(pages: dict[str, Path]) -> None:
    """Fail the build (not the viewer) if any page would still load something from the network."""
    leaks = {name: outside_urls(path.read_text(encoding="utf-8")) for name, path in pages.items()}
    leaks = {name: found for name, found in leaks.items() if found}
    if leaks:
        raise RuntimeError(f"pages would load from the network: {leaks}")
