"""Fixtures for the end-to-end tests: headless Chromium (Debian's, via Playwright) and a scratch JupyterLab.

Browser tests are marked ``@pytest.mark.browser`` and skip, saying how to install Chromium, when it is
missing; set NORMCOURSE_REQUIRE_BROWSER=1 (CI) to make that a failure instead.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest
from e2e_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REPO, shutdown_lab, start_lab

INSTALL_HINT = "install it with `apt-get install chromium` (Debian's package; .ci/run does this)"
_browser_skips: list[str] = []


def _require_browser() -> bool:
    return os.environ.get("NORMCOURSE_REQUIRE_BROWSER", "") not in ("", "0")


def _skip_or_fail(reason: str):
    if _require_browser():
        pytest.fail(f"{reason} and NORMCOURSE_REQUIRE_BROWSER is set", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path():
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _skip_or_fail(f"browser test skipped: Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_or_fail("browser test skipped: the playwright package is missing; run `make setup-dev`")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the session. Playwright drives Debian's binary: no browser download."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True,
                                     timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def web_assets(chromium_path):
    """The pinned browser assets of the site and the decks (tools/web, installed by `make setup-dev` with npm)."""
    sys.path.insert(0, str(REPO / "tools"))
    import web_assets

    try:
        web_assets.check_installed()
    except web_assets.MissingAssets as err:
        _skip_or_fail(f"browser test skipped: {err}")
    return web_assets


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, artifacts):
    """`jupyter lab` from the venv on 127.0.0.1, a free port, a random token, a scratch copy of notebooks/."""
    server = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        shutdown_lab(server)


def pytest_configure(config):
    # A SIGTERM (a CI timeout, a terminal closing) unwinds like Ctrl-C, so the fixtures' finally blocks
    # stop JupyterLab, its kernels and Chromium. Left alone if something else already handles SIGTERM.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


def _sigterm_to_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_runtest_logreport(report):
    if report.skipped and "browser" in report.keywords and "install" in str(report.longrepr):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _browser_skips.append(reason.removeprefix("Skipped: "))


def pytest_terminal_summary(terminalreporter):
    if _browser_skips:
        reasons = sorted(set(_browser_skips))
        terminalreporter.write_sep("=", f"{len(_browser_skips)} browser test(s) SKIPPED", yellow=True, bold=True)
        for reason in reasons:
            terminalreporter.write_line(f"  {reason}")
