"""Shared helpers for the end-to-end tests: notebook discovery, ports, servers and process cleanup.

Kept out of conftest.py so test modules can import it (``tests/e2e`` is on sys.path while they run).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO / "notebooks"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = REPO / "test-artifacts" / "e2e"
VENV_BIN = REPO / ".venv" / "bin"
CHROMIUM = Path(os.environ.get("NORMCOURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# `make offline-check` sets this to the build/ folder that `make site` and `make slides` just wrote: the site and
# deck tests then open those very pages instead of building their own copies (with the same builders).
MADE_BUILD = Path(os.environ["NORMCOURSE_E2E_BUILD"]).resolve() if os.environ.get("NORMCOURSE_E2E_BUILD") else None

# Seconds. A course notebook may train small models; override for slow machines.
NOTEBOOK_TIMEOUT = float(os.environ.get("NORMCOURSE_E2E_NOTEBOOK_TIMEOUT", "300"))
SERVER_START_TIMEOUT = 90.0
WIDGET_UPDATE_TIMEOUT = 60.0


# --------------------------------------------------------------------------------------------- notebooks
@dataclass(frozen=True)
class NotebookCase:
    """A notebook the tests open: a course notebook or the e2e fixture."""

    path: Path  # the committed file (never opened for writing)
    served_as: str  # path relative to the temporary server root, as the browser opens it

    @property
    def id(self) -> str:
        return self.served_as

    def load(self) -> dict:
        return json.loads(self.path.read_text(encoding="utf-8"))

    @property
    def stem(self) -> str:
        return self.path.stem


def discover_notebooks() -> list[NotebookCase]:
    """Every committed course notebook (``notebooks/*.ipynb``), then the e2e fixture notebook."""
    course = sorted(p for p in NOTEBOOKS_DIR.glob("*.ipynb") if not p.name.startswith("."))
    cases = [NotebookCase(p, f"notebooks/{p.name}") for p in course]
    cases += [NotebookCase(p, f"e2e_fixtures/{p.name}") for p in sorted(FIXTURES_DIR.glob("*.ipynb"))]
    return cases


def explorer_cells(nb: dict) -> list[int]:
    """Indices (among all cells) of code cells whose saved outputs display a widget: the explorers."""
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if any(WIDGET_VIEW in out.get("data", {}) for out in cell.get("outputs", [])):
            found.append(i)
    return found


def runnable_code_cells(nb: dict) -> int:
    """Code cells that Run All executes (JupyterLab skips cells whose source is blank)."""
    count = 0
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if cell.get("cell_type") == "code" and src.strip():
            count += 1
    return count


def discover_explorers() -> list[tuple[NotebookCase, int]]:
    return [(case, i) for case in discover_notebooks() for i in explorer_cells(case.load())]


# --------------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_token() -> str:
    return secrets.token_hex(24)


_LIVE: dict[int, subprocess.Popen] = {}


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (from /proc), children first discovered first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def start_group(cmd: list[str], *, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    """Start ``cmd`` in its own process group (so it can be stopped whole), output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = open(log, "wb")  # noqa: SIM115 - closed in stop_group
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
    proc._e2e_log = fh  # type: ignore[attr-defined]
    _LIVE[proc.pid] = proc
    return proc


def stop_group(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it and of its descendants.

    Jupyter starts kernels in sessions of their own, so they are not in the group: their pids are
    collected from /proc first and killed by pid if the server's shutdown did not end them.
    """
    stray = descendants(proc.pid)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + 5
    for pid in stray:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    fh = getattr(proc, "_e2e_log", None)
    if fh is not None:
        fh.close()
    _LIVE.pop(proc.pid, None)


@atexit.register
def _stop_leftovers() -> None:  # last resort if a fixture's finally never ran
    for proc in list(_LIVE.values()):
        stop_group(proc, timeout=5)


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes, dict]:
    """GET without following redirects: (status, body, headers)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def wait_until_serving(base: str, token: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Poll ``/api/status`` until the server answers 200, failing early if the process died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering; log:\n{tail(log)}")
        try:
            status, _, _ = http_get(f"{base}/api/status?token={token}", timeout=3)
            if status == 200:
                return
            last = status
        except OSError as err:
            last = err
        time.sleep(0.5)
    raise TimeoutError(f"server at {base} did not answer within {timeout:.0f}s (last: {last}); log:\n{tail(log)}")


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------- jupyter lab
@dataclass
class LabServer:
    base: str
    token: str
    root: Path
    proc: subprocess.Popen
    log: Path
    env: dict = field(repr=False)

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"


def root_args() -> list[str]:
    """Jupyter refuses to run as root without --allow-root (CI and containers run as root)."""
    return ["--allow-root"] if os.geteuid() == 0 else []


def isolated_jupyter_env(tmp: Path) -> dict:
    """Environment for a Jupyter process that reads and writes nothing of the user's.

    Runtime files, user settings, workspaces, config and the user data dir (where a stray ``python3``
    kernelspec could shadow the venv's) all point into ``tmp``; the venv's own share/jupyter (lab
    extensions, the kernelspec, the Makefile's settings overrides) is still found via sys.prefix.
    """
    env = dict(os.environ)
    for name in ("runtime", "config", "data", "lab-settings", "lab-workspaces", "ipython"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    return env


def make_server_root(tmp: Path) -> Path:
    """A scratch copy of what notebooks read, so running them never overwrites a committed file."""
    root = tmp / "root"
    root.mkdir(parents=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copytree(NOTEBOOKS_DIR, root / "notebooks", ignore=ignore) if NOTEBOOKS_DIR.is_dir() else (
        root / "notebooks").mkdir()
    for extra in ("imgs", "data"):  # relative paths the notebooks may use (../imgs/x.png)
        if (REPO / extra).is_dir():
            shutil.copytree(REPO / extra, root / extra, ignore=ignore)
    shutil.copytree(FIXTURES_DIR, root / "e2e_fixtures", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def start_lab(tmp: Path) -> LabServer:
    env = isolated_jupyter_env(tmp / "jupyter")
    root = make_server_root(tmp)
    port, token = free_port(), new_token()
    log = ARTIFACTS / "jupyterlab-server.log"
    cmd = [
        str(VENV_BIN / "jupyter"), "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",  # no request to the outside
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ] + root_args()
    proc = start_group(cmd, env=env, cwd=root, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, token, proc, log, SERVER_START_TIMEOUT)
    except BaseException:
        stop_group(proc)
        raise
    return LabServer(base=base, token=token, root=root, proc=proc, log=log, env=env)


def shutdown_lab(server: LabServer) -> None:
    """Ask the server to stop its kernels and itself, then make sure the whole tree is gone."""
    try:
        req = urllib.request.Request(server.url("/api/shutdown"), method="POST")
        urllib.request.urlopen(req, timeout=10).close()
        server.proc.wait(20)
    except (OSError, subprocess.TimeoutExpired):
        pass
    stop_group(server.proc)


def is_local(url: str) -> bool:
    """file://, data:, blob: and about: URLs and the loopback interface: everything a page may load."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    host = parts.hostname or ""
    return parts.scheme in ("http", "https", "ws", "wss") and (
        host in ("localhost", "::1") or host.startswith("127."))


def offline_page(browser, outside: list[str], errors: list[str], viewport: dict | None = None):
    """A page whose every request outside file:// and loopback is aborted and recorded in ``outside`` (the
    test then fails on it); page errors go to ``errors``."""
    context = browser.new_context(viewport=viewport or {"width": 1200, "height": 900})

    context.route(lambda url: not is_local(url), lambda route: route.abort())
    page = context.new_page()
    page.on("request", lambda req: None if is_local(req.url) else outside.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page
