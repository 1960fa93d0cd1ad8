"""The hub's settings from the environment, shared by deploy/jupyterhub_config.py and deploy/hubctl.py."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """NORMCOURSE_HUB_DATA (default hub-data/): database, cookie secret, passwords, learners' homes."""
    data = Path(os.environ.get("NORMCOURSE_HUB_DATA", ROOT / "hub-data")).resolve()
    (data / "users").mkdir(parents=True, exist_ok=True)
    return data


def secret(env_name: str, file_name: str, length: int) -> str:
    """From the environment, else from DATA/file_name, else a new random one stored there (mode 600)."""
    if os.environ.get(env_name):
        return os.environ[env_name]
    path = data_dir() / file_name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(length)[:length] + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def learner_password() -> str:
    return secret("NORMCOURSE_HUB_PASSWORD", "learner-password", 12)


def admin_password() -> str:
    return secret("NORMCOURSE_HUB_ADMIN_PASSWORD", "instructor-password", 40)


def api_token() -> str:
    """The token of the hub's `course-admin` service (hubctl.py stops servers with it)."""
    return secret("NORMCOURSE_HUB_API_TOKEN", "course-admin-token", 48)


def admins() -> set[str]:
    return {n.strip() for n in os.environ.get("NORMCOURSE_HUB_ADMINS", "instructor").split(",") if n.strip()}


def ip() -> str:
    return os.environ.get("NORMCOURSE_HUB_IP", "127.0.0.1")


def port() -> int:
    return int(os.environ.get("NORMCOURSE_HUB_PORT", "8000"))


def api_port() -> int:
    return int(os.environ.get("NORMCOURSE_HUB_API_PORT", "8081"))


def proxy_api_port() -> int:
    return int(os.environ.get("NORMCOURSE_HUB_PROXY_API_PORT", "8001"))
