"""A class of two on the course's JupyterHub (deploy/), in headless Chromium, on 127.0.0.1.

Each learner logs in with the class password, lands in their own copy of lesson 00, solves an exercise
(alice) or not (bob); neither can read the other's files; a restart of the hub keeps alice's saved work
and her running kernel; stopping and starting her server again (the copy step runs again) does not
overwrite her notebook.

Needs the hub extra (`make hub-setup`: jupyterhub and configurable-http-proxy) and runs only when asked:
`make e2e-hub` (NORMCOURSE_HUB_E2E=1), so `make test` never needs the extra. About 1-3 minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from e2e_support import REPO, VENV_BIN, free_port, start_group, stop_group, tail

pytestmark = [pytest.mark.browser, pytest.mark.hub]

PROXY = REPO / "deploy" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "class-of-thirty"
START = "my-notebooks/00_start_here.ipynb"
STUB = "raise NotImplementedError()"
SOLUTION = "return (x - x.mean()) / np.sqrt(x.var() + eps)"
HUB_START_TIMEOUT = 60.0
SERVER_TIMEOUT = 180.0


def _hub_extra_missing() -> str:
    if os.environ.get("NORMCOURSE_HUB_E2E", "") in ("", "0"):
        return "hub browser test runs only with `make e2e-hub` (NORMCOURSE_HUB_E2E=1)"
    if not (VENV_BIN / "jupyterhub").exists():
        return "the hub extra is not installed: run `make hub-setup`"
    if not PROXY.exists():
        return "configurable-http-proxy is not installed: run `make hub-setup`"
    if not (REPO / "build" / "student" / "00_start_here.ipynb").exists():
        return "no student build: run `make student`"
    return ""


@pytest.fixture(scope="module")
def hub(tmp_path_factory, artifacts):
    reason = _hub_extra_missing()
    if reason:
        pytest.skip(reason)
    data = tmp_path_factory.mktemp("hub-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MAKE"))}
    env.update(NORMCOURSE_HUB_DATA=str(data), NORMCOURSE_HUB_PORT=str(free_port()),
               NORMCOURSE_HUB_API_PORT=str(free_port()), NORMCOURSE_HUB_PROXY_API_PORT=str(free_port()),
               NORMCOURSE_HUB_PASSWORD=PASSWORD)
    state = {"env": env, "data": data, "base": f"http://127.0.0.1:{env['NORMCOURSE_HUB_PORT']}",
             "log": artifacts / "hub.log", "proc": None}
    _start(state)
    try:
        yield state
    finally:
        try:
            subprocess.run([str(VENV_BIN / "python"), str(REPO / "deploy" / "hubctl.py"), "stop-all"], env=env,
                           timeout=90, capture_output=True)
        finally:
            if state["proc"] is not None:
                stop_group(state["proc"])
            _kill_leftovers(data)


def _start(state: dict) -> None:
    cmd = [str(VENV_BIN / "python"), str(REPO / "deploy" / "hubctl.py"), "start"]
    state["proc"] = proc = start_group(cmd, env=state["env"], cwd=REPO, log=state["log"])
    deadline = time.monotonic() + HUB_START_TIMEOUT
    import urllib.request

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the hub exited with {proc.returncode}; log:\n{tail(state['log'])}")
        try:
            with urllib.request.urlopen(f"{state['base']}/hub/api/", timeout=3) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"hub not up within {HUB_START_TIMEOUT:.0f}s; log:\n{tail(state['log'])}")


def _stop_hub_only(state: dict) -> None:
    """SIGTERM to the hub process alone (as on a config change or a crash-restart): learners' servers stay."""
    proc = state["proc"]
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(30)
    stop_group(proc)  # the proxy is the hub's child; learners' servers run in sessions of their own


def _kill_leftovers(data: Path) -> None:
    """Learners' servers and kernels outlive the hub on purpose; after the test, end those under ``data``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(data)):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _login(browser, hub: dict, name: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{hub['base']}/hub/login", timeout=60_000)
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/lab/tree/{START}", timeout=SERVER_TIMEOUT * 1000)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=SERVER_TIMEOUT * 1000)
    return context, page


def _contents(context, hub: dict, name: str, path: str = START):
    return context.request.get(f"{hub['base']}/user/{name}/api/contents/{path}?content=1", timeout=30_000)


def _source(context, hub: dict, name: str) -> str:
    resp = _contents(context, hub, name)
    assert resp.status == 200, f"{name} cannot read their own notebook: HTTP {resp.status}"
    nb = resp.json()["content"]
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"])


def _solve_standardize(page) -> None:
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell", has_text="def standardize").first
    cell.scroll_into_view_if_needed()
    line = cell.locator(".cm-line", has_text=STUB).first
    line.click()
    page.keyboard.press("End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type(SOLUTION)
    page.keyboard.press("Control+s")


def _saved(context, hub, name: str, text: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = _contents(context, hub, name)  # 400 while the server is mid-save: ask again
        if resp.status == 200 and text in json.dumps(resp.json()["content"]):
            return True
        time.sleep(0.5)
    return False


def test_two_learners_own_copies_isolation_and_a_hub_restart(hub, browser, artifacts):
    alice, alice_page = _login(browser, hub, "alice")
    bob, bob_page = _login(browser, hub, "bob")
    try:
        users = hub["data"] / "users"
        assert (users / "alice" / START).is_file() and (users / "bob" / START).is_file(), "each gets their own copy"
        assert STUB in _source(alice, hub, "alice") and STUB in _source(bob, hub, "bob")

        _solve_standardize(alice_page)
        assert _saved(alice, hub, "alice", SOLUTION), "alice's edit was not saved"
        assert SOLUTION in (users / "alice" / START).read_text(encoding="utf-8")
        assert SOLUTION not in _source(bob, hub, "bob"), "bob's copy changed with alice's edit"

        # Neither sees the other's files: the other's server refuses them, and their own root holds only their home.
        for who, other in ((bob, "alice"), (alice, "bob")):
            resp = _contents(who, hub, other)
            assert resp.status in (403, 404) or "cells" not in resp.text(), f"{other}'s notebook was readable"
        listing = {item["name"] for item in bob.request.get(f"{hub['base']}/user/bob/api/contents/").json()["content"]}
        assert "alice" not in listing and "my-notebooks" in listing

        kernels_before = alice.request.get(f"{hub['base']}/user/alice/api/kernels").json()
        assert kernels_before, "alice's notebook has no kernel"

        # A restart of the hub: alice's saved work and her running kernel survive; her session still works.
        _stop_hub_only(hub)
        _start(hub)
        alice_page.goto(f"{hub['base']}/user/alice/lab/tree/{START}", timeout=SERVER_TIMEOUT * 1000)
        alice_page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=SERVER_TIMEOUT * 1000)
        assert SOLUTION in _source(alice, hub, "alice"), "alice's work was lost in the hub restart"
        kernels_after = alice.request.get(f"{hub['base']}/user/alice/api/kernels").json()
        assert {k["id"] for k in kernels_before} <= {k["id"] for k in kernels_after}, "alice's kernel did not survive"

        # The session ends (`make hub-stop`), alice logs in again: the copy step runs and overwrites nothing.
        res = subprocess.run([str(VENV_BIN / "python"),
                              str(REPO / "deploy" / "hubctl.py"), "stop-all"],
                             env=hub["env"], timeout=120, capture_output=True, text=True)
        assert res.returncode == 0 and "stopped 2 learner server(s)" in res.stdout, res.stdout + res.stderr
        alice.close()
        alice, alice_page = _login(browser, hub, "alice")
        assert SOLUTION in _source(alice, hub, "alice"), "logging in again overwrote alice's notebook"
        assert json.loads((users / "alice" / "my-notebooks" / ".course-versions.json").read_text())["copied_from"]
    except BaseException:
        for name, page in (("alice", alice_page), ("bob", bob_page)):
            try:
                page.screenshot(path=str(artifacts / f"hub-{name}.png"))
            except Exception:  # noqa: BLE001 - the page may be gone
                pass
        raise
    finally:
        alice.close()
        bob.close()
