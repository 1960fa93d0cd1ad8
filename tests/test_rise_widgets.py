"""The premises of tools/labextensions/normcourse-rise-widgets, checked on the installed (pinned) bundles.

The extension gives the jupyterlab-rise page a stand-in ``@jupyterlab/console`` exporting only the
``IConsoleTracker`` token, so the ipywidgets lab extension can load there (the browser test
tests/e2e/test_e2e_rise.py::test_explorer_control_moves_on_a_slide shows that it does). These tests say
*why* it is still needed and still enough, so a version bump tells us what to do:

- RISE's app starts sharing @jupyterlab/console itself   -> the stand-in is dead code: delete it;
- ipywidgets stops consuming it                           -> the stand-in is dead code: delete it;
- ipywidgets uses more of @jupyterlab/console than the token -> the stand-in must grow (or go upstream).
"""

from __future__ import annotations

import filecmp
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tools" / "labextensions" / "normcourse-rise-widgets"
LABEXTENSIONS = Path(sys.prefix) / "share" / "jupyter" / "labextensions"
WIDGETS = LABEXTENSIONS / "@jupyter-widgets" / "jupyterlab-manager"
CONSOLE = "@jupyterlab/console"


def rise_static() -> Path:
    import jupyterlab_rise

    return Path(jupyterlab_rise.__file__).parent / "static"


def widgets_remote_entry() -> str:
    build = json.loads((WIDGETS / "package.json").read_text())["jupyterlab"]["_build"]
    return (WIDGETS / build["load"]).read_text()


def console_module_ids(remote_entry: str) -> list[str]:
    """Webpack module ids through which the widget extension consumes @jupyterlab/console from the host."""
    return re.findall(r'(\d+):\{shareScope:"default",shareKey:"' + re.escape(CONSOLE) + r'",import:null', remote_entry)


def test_make_setup_installed_the_current_extension():
    installed = LABEXTENSIONS / "normcourse-rise-widgets"
    assert installed.is_dir(), "the RISE widgets extension is not installed: run `make setup`"
    for rel in ("package.json", "static/remoteEntry.js"):
        assert filecmp.cmp(SOURCE / rel, installed / rel, shallow=False), f"{rel} is stale: run `make setup`"


def test_the_rise_app_still_lacks_the_console_share():
    bundle = (rise_static() / "bundle.js").read_text()
    assert '"@jupyterlab/notebook","4.' in bundle, "bundle.js no longer lists its shares the way this test reads them"
    assert f'"{CONSOLE}",' not in bundle, ("jupyterlab-rise now shares @jupyterlab/console itself: "
                                          "delete tools/labextensions/normcourse-rise-widgets")


def test_ipywidgets_consumes_the_console_from_the_host():
    assert console_module_ids(widgets_remote_entry()), ("jupyterlab-manager no longer needs @jupyterlab/console "
                                                         "from the host: delete the stand-in")


def test_ipywidgets_uses_only_the_console_token_the_stand_in_has():
    ids = console_module_ids(widgets_remote_entry())
    used: set[str] = set()
    for chunk in (WIDGETS / "static").glob("*.js"):
        text = chunk.read_text(errors="ignore")
        for module_id in ids:
            for var in re.findall(r"\b([A-Za-z_$][\w$]*)=\w\(" + module_id + r"\)", text):
                # Minified names are reused across scopes; @jupyterlab/console exports only PascalCase names.
                used |= set(re.findall(r"\b" + re.escape(var) + r"\.([A-Z][\w$]*)", text))
    if not used:
        pytest.fail("found no use of @jupyterlab/console in the widget bundles: the pattern needs updating")
    assert used == {"IConsoleTracker"}, (f"ipywidgets uses {sorted(used)} of @jupyterlab/console; "
                                         "the stand-in has the IConsoleTracker token only")
    assert "IConsoleTracker:" in (SOURCE / "static" / "remoteEntry.js").read_text()
