"""`make lab` (the learner's command) serves the course on loopback and refuses requests without the token."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from e2e_support import (
    REPO,
    descendants,
    discover_notebooks,
    free_port,
    http_get,
    isolated_jupyter_env,
    new_token,
    root_args,
    start_group,
    stop_group,
    tail,
    wait_until_serving,
)


def stamp_is_current() -> bool:
    """False when `make lab` will first (re)install .venv, which takes a minute or more."""
    res = subprocess.run(["make", "-q", "-C", str(REPO), ".venv/.installed"], capture_output=True, timeout=30)
    return res.returncode == 0


def start_notebook() -> str | None:
    """The notebook the Makefile's `lab` recipe opens (jupyter exits at once if it is missing)."""
    recipe = re.search(r"^lab:.*?(?=^\S)", (REPO / "Makefile").read_text(), re.S | re.M)
    found = re.search(r"notebooks/\S+\.ipynb", recipe.group(0)) if recipe else None
    return found.group(0) if found else None


def test_make_lab_serves_the_course_and_requires_the_token(tmp_path, artifacts):
    first = start_notebook()
    if first and not (REPO / first).is_file():
        pytest.skip(f"`make lab` opens {first}, which does not exist yet (jupyter would exit at once)")
    port, token = free_port(), new_token()
    lab_args = " ".join(["--no-browser", f"--IdentityProvider.token={token}", *root_args()])
    env = isolated_jupyter_env(tmp_path)
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    log = artifacts / "make-lab.log"
    timeout = 90.0 if stamp_is_current() else 900.0
    proc = start_group(["make", "--no-print-directory", "lab", f"PORT={port}", f"LAB_ARGS={lab_args}"],
                       env=env, cwd=REPO, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, token, proc, log, timeout)

        status, body, _ = http_get(f"{base}/api/contents?token={token}")
        assert status == 200, f"with the token: HTTP {status}"
        names = {item["name"] for item in json.loads(body)["content"]}
        assert "notebooks" in names, f"server root does not list notebooks/: {sorted(names)}"

        status, body, _ = http_get(f"{base}/api/contents/notebooks?token={token}")
        assert status == 200
        served = {item["name"] for item in json.loads(body)["content"]}
        course = {c.path.name for c in discover_notebooks() if c.served_as.startswith("notebooks/")}
        assert course <= served, f"course notebooks not served: {sorted(course - served)}"

        # Without the token (or with a wrong one) the API answers 403 Forbidden: jupyter_server's API
        # handlers don't redirect to the login page, they refuse.
        for url in (f"{base}/api/contents", f"{base}/api/contents/notebooks",
                    f"{base}/api/contents?token={new_token()}", f"{base}/api/kernels"):
            status, _, _ = http_get(url)
            assert status == 403, f"GET {url.replace(base, '')} without a valid token: HTTP {status}, expected 403"

        # The page a learner opens without the token sends them to the login form, not into the course.
        status, _, headers = http_get(f"{base}/lab")
        assert status == 302 and "/login" in headers.get("Location", ""), (status, headers.get("Location"))

        # Bound to loopback only (Makefile passes --ServerApp.ip=127.0.0.1).
        text = log.read_text(errors="replace")
        urls = set(re.findall(r"https?://([^/:\s]+):\d+/", text))
        assert urls and urls <= {"127.0.0.1", "localhost"}, f"server announced {urls}"
    finally:
        children = descendants(proc.pid)
        stop_group(proc)
    assert proc.poll() is not None, "make lab still running after stop"
    left = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    assert not left, f"make lab left processes {left} behind; log:\n{tail(log)}"
