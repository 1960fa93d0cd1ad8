"""`make lab` (the learner's command) fills the learner's workspace, serves it on loopback, prints a link
that opens the first lesson there, and refuses requests without the token."""

from __future__ import annotations

import json
import os
import re
import shutil
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
    res = subprocess.run(["make", "-q", "-C", str(REPO), ".venv/.installed-learner"], capture_output=True, timeout=30)
    return res.returncode == 0


START = "00_start_here.ipynb"
# Relative to the repository (the server root), git-ignored: a developer's real my-notebooks/ stays untouched.
WORKSPACE = "test-artifacts/e2e/my-notebooks"


def test_make_lab_serves_the_course_and_requires_the_token(tmp_path, artifacts):
    if not (REPO / "notebooks" / START).is_file():
        pytest.skip(f"`make lab` opens {START}, which does not exist yet")
    shutil.rmtree(REPO / WORKSPACE, ignore_errors=True)  # a first run: the workspace is filled
    port, token = free_port(), new_token()
    lab_args = " ".join(["--no-browser", f"--IdentityProvider.token={token}", *root_args()])
    env = isolated_jupyter_env(tmp_path)
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    log = artifacts / "make-lab.log"
    timeout = 90.0 if stamp_is_current() else 900.0
    proc = start_group(["make", "--no-print-directory", "lab", f"PORT={port}", f"LAB_ARGS={lab_args}",
                        f"LEARNER_DIR={WORKSPACE}"],
                       env=env, cwd=REPO, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, token, proc, log, timeout)

        status, body, _ = http_get(f"{base}/api/contents?token={token}")
        assert status == 200, f"with the token: HTTP {status}"
        names = {item["name"] for item in json.loads(body)["content"]}
        assert "notebooks" in names, f"server root does not list notebooks/: {sorted(names)}"

        # The learner's copy: every course notebook, from the student build (no solutions).
        status, body, _ = http_get(f"{base}/api/contents/{WORKSPACE}?token={token}")
        assert status == 200, f"{WORKSPACE} not served: HTTP {status}"
        served = {item["name"] for item in json.loads(body)["content"]}
        course = {c.path.name for c in discover_notebooks() if c.served_as.startswith("notebooks/")}
        assert course <= served, f"course notebooks missing from the workspace: {sorted(course - served)}"
        status, body, _ = http_get(f"{base}/api/contents/{WORKSPACE}/{START}?token={token}")
        assert status == 200
        assert json.loads(body)["content"]["metadata"]["normcourse"]["student_build"] is True

        # The link it prints opens the learner's first lesson, not JupyterLab's default view.
        link = re.search(rf"http://127\.0\.0\.1:{port}(/lab/tree/\S+)\?token=", log.read_text(errors="replace"))
        assert link and link.group(1) == f"/lab/tree/{WORKSPACE}/{START}", f"printed link: {link and link.group(0)}"
        status, _, _ = http_get(f"{base}{link.group(1)}?token={token}")
        assert status == 200, f"the printed link answers HTTP {status}"

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
