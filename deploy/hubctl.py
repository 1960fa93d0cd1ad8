"""Start the class's hub, or stop every learner's server.

    python deploy/hubctl.py start       # `make hub`: say where and how to log in, then run JupyterHub
    python deploy/hubctl.py stop-all    # `make hub-stop`: stop every learner's server (their files stay)

The hub leaves learners' servers running when it restarts (so a restart loses nobody's kernel);
``stop-all`` is how a session ends. It talks to the running hub's REST API as the ``course-admin``
service (token in hub-data/, see deploy/jupyterhub_config.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
sys.path.insert(0, str(DEPLOY))
import hub_settings as hub  # noqa: E402

CONFIG = DEPLOY / "jupyterhub_config.py"
PROXY = DEPLOY / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"


def _api(method: str, path: str) -> tuple[int, object]:
    url = f"http://127.0.0.1:{hub.port()}/hub/api{path}"
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"token {hub.api_token()}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
            return resp.status, json.loads(body) if body else None
    except urllib.error.HTTPError as err:
        return err.code, None


def stop_all(wait: float = 60.0) -> int:
    """Ask the hub to stop every running learner server; wait until none is left. Returns how many were stopped."""
    try:
        status, users = _api("GET", "/users?state=active")
    except OSError as err:
        raise SystemExit(f"no hub answers on 127.0.0.1:{hub.port()} ({err}); is `make hub` running?") from None
    if status != 200:
        raise SystemExit(f"the hub refused the course-admin token (HTTP {status}); was it started by `make hub`?")
    names = [u["name"] for u in users or [] if u.get("server") or u.get("pending")]
    for name in names:
        _api("DELETE", f"/users/{name}/server")
    deadline = time.monotonic() + wait
    while names and time.monotonic() < deadline:
        _, users = _api("GET", "/users?state=active")
        if not users:
            break
        time.sleep(1)
    return len(names)


def start() -> None:
    if not PROXY.exists():
        raise SystemExit(f"configurable-http-proxy is missing ({PROXY}): run `make hub`, which installs it with npm.")
    url = f"http://{hub.ip()}:{hub.port()}"
    print(f"NormCourse hub on {url}  (data: {hub.data_dir()})")
    print(f"  learners: any user name, password {hub.learner_password()}")
    print(f"  instructor: user name {', '.join(sorted(hub.admins()))}, password in "
          f"{hub.data_dir() / 'instructor-password'} (admin page: {url}/hub/admin)")
    print("  stop: Ctrl-C stops the hub only (learners' servers keep running); `make hub-stop` ends the session.",
          flush=True)
    jupyterhub = Path(sys.executable).with_name("jupyterhub")
    os.chdir(hub.data_dir())  # JupyterHub writes nothing else, but keep any stray file out of the repository
    os.execv(str(jupyterhub), [str(jupyterhub), "-f", str(CONFIG), *sys.argv[2:]])


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "start":
        start()
    elif command == "stop-all":
        print(f"stopped {stop_all()} learner server(s); their files are kept in {hub.data_dir() / 'users'}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
