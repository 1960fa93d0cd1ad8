"""deploy/: the numeric settings the hub gives learners, and what the hub config promises (loopback by default,
one home per learner under the hub's data folder, names that cannot leave it, the copy step as start command)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
import numeric_env  # noqa: E402


def test_the_hub_gives_learners_the_same_numeric_path_as_make_nbval():
    import subprocess

    from course_utils import numeric

    assert numeric_env.numeric_env() == numeric.pinned_environment()
    # ... and without importing torch or the course package into the hub's process.
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'deploy')!r}); import numeric_env; numeric_env.numeric_env(); "
            "print('torch' in sys.modules, 'course_utils' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    assert loaded == ["False", "False"]


@pytest.fixture
def hub_config(tmp_path, monkeypatch):
    pytest.importorskip("jupyterhub", reason="the hub extra is not installed (make hub-setup)")
    from traitlets.config.loader import PyFileConfigLoader

    for name in ("NORMCOURSE_HUB_IP", "NORMCOURSE_HUB_PORT", "NORMCOURSE_HUB_PASSWORD",
                 "NORMCOURSE_HUB_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NORMCOURSE_HUB_DATA", str(tmp_path / "data"))
    return PyFileConfigLoader("jupyterhub_config.py", path=str(ROOT / "deploy")).load_config(), tmp_path / "data"


def test_hub_listens_on_loopback_and_keeps_its_state_in_the_data_folder(hub_config):
    c, data = hub_config
    assert c.JupyterHub.bind_url.startswith("http://127.0.0.1:")
    assert c.JupyterHub.db_url == f"sqlite:///{data.resolve() / 'jupyterhub.sqlite'}"
    assert c.SimpleLocalProcessSpawner.home_dir_template == str(data.resolve() / "users" / "{username}")
    password = c.SharedPasswordAuthenticator.user_password
    assert len(password) >= 8 and (data / "learner-password").stat().st_mode & 0o077 == 0, "password file is private"


def test_learners_get_the_copy_step_the_numeric_settings_and_a_memory_cap(hub_config):
    c, _ = hub_config
    assert c.Spawner.cmd[-1].endswith("deploy/singleuser.py")
    for name, value in numeric_env.numeric_env().items():
        assert c.Spawner.environment[name] == value
    assert c.Spawner.mem_limit == "4G"
    assert c.Spawner.default_url == "/lab/tree/my-notebooks/00_start_here.ipynb"


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", ".hidden", "Alice Smith", "x" * 40, ""])
def test_user_names_cannot_leave_the_users_folder(hub_config, name):
    c, _ = hub_config
    assert not re.match(c.Authenticator.username_pattern, name)


def test_ordinary_user_names_are_accepted(hub_config):
    c, _ = hub_config
    for name in ("alice", "bob.smith", "s1234567", "team-3"):
        assert re.match(c.Authenticator.username_pattern, name)
