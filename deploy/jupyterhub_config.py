# JupyterHub for a class: `make hub` (loopback trial) or `jupyterhub -f deploy/jupyterhub_config.py` on a
# classroom server. docs/instructor.md ("A class on JupyterHub") explains every choice and how to switch
# to real system users or the university's OAuth.
#
# Settings come from the environment, so the same file serves the trial and the classroom:
#   NORMCOURSE_HUB_IP / _PORT         where learners connect (default 127.0.0.1:8000, loopback only)
#   NORMCOURSE_HUB_API_PORT           the hub's internal API port (default 8081, on 127.0.0.1)
#   NORMCOURSE_HUB_PROXY_API_PORT     the proxy's API port (default 8001, on 127.0.0.1)
#   NORMCOURSE_HUB_DATA               the hub's database, cookie secret, passwords, learners' homes (hub-data/)
#   NORMCOURSE_HUB_PASSWORD           the learners' shared password (8+ characters; else generated once)
#   NORMCOURSE_HUB_ADMIN_PASSWORD     the instructor's password (32+ characters; else generated once)
#   NORMCOURSE_HUB_ADMINS             comma-separated instructor user names (default: instructor)
#   NORMCOURSE_HUB_MEM_LIMIT          memory one learner process may allocate (default 4G)
import os
import resource
import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
sys.path.insert(0, str(DEPLOY))
import hub_settings as hub  # noqa: E402
from numeric_env import numeric_env  # noqa: E402 - course_utils/numeric.py's settings, read without torch

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

DATA = hub.data_dir()


# ---- where it listens: loopback unless told otherwise; the hub's and the proxy's APIs stay on loopback
c.JupyterHub.bind_url = f"http://{hub.ip()}:{hub.port()}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub.api_port()
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.proxy_api_port()}"
c.ConfigurableHTTPProxy.command = [str(DEPLOY / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(DATA / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{DATA / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(DATA / "jupyterhub_cookie_secret")
# Behind the university's HTTPS front end, or with a certificate of your own:
# c.JupyterHub.ssl_cert = "/etc/ssl/certs/hub.pem"; c.JupyterHub.ssl_key = "/etc/ssl/private/hub.key"

# ---- who may log in: one shared password for the learners, another for the instructor(s)
# (JupyterHub's own SharedPasswordAuthenticator: nothing to install, fine for one room on one machine).
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = hub.learner_password()
c.SharedPasswordAuthenticator.admin_password = hub.admin_password()
c.Authenticator.admin_users = hub.admins()
c.Authenticator.allow_all = True  # any name with the class password; the name becomes the learner's folder
# Names become folder names: lower-case letters, digits, '.', '_', '-' only (no '/', no '..').
c.Authenticator.username_pattern = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
# The university's login instead (pip install oauthenticator; see docs/instructor.md):
# c.JupyterHub.authenticator_class = "generic-oauth"   # or "github", "azuread", "google", "cilogon"
# c.GenericOAuthenticator.client_id = ...; c.GenericOAuthenticator.client_secret = ...
# c.GenericOAuthenticator.oauth_callback_url = "https://hub.example.edu/hub/oauth_callback"


# ---- each learner's server: their own home under DATA/users/<name>, the course's kernel and numeric settings
class CourseSpawner(SimpleLocalProcessSpawner):
    """JupyterHub's SimpleLocalProcessSpawner (no system users needed; every learner's server runs as the
    hub's user, in its own home folder) plus a per-process memory cap (``mem_limit``, as RLIMIT_DATA): a
    runaway allocation fails in that learner's kernel instead of taking the machine down."""

    def make_preexec_fn(self, name):
        setup = super().make_preexec_fn(name)
        limit = self.mem_limit

        def preexec():
            setup()
            if limit:
                resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

        return preexec


c.JupyterHub.spawner_class = CourseSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(DATA / "users" / "{username}")
# singleuser.py copies the student build into ~/my-notebooks (never overwriting), then runs jupyterhub-singleuser.
c.Spawner.cmd = [sys.executable, str(DEPLOY / "singleuser.py")]
c.Spawner.default_url = "/lab/tree/my-notebooks/00_start_here.ipynb"
c.Spawner.environment = {**numeric_env(), "NORMCOURSE_STUDENT_DIR": str(ROOT / "build" / "student")}
c.Spawner.mem_limit = os.environ.get("NORMCOURSE_HUB_MEM_LIMIT", "4G")
c.Spawner.cpu_limit = 1.0  # advisory here (shown to the learner); one thread per kernel is what NUMERIC_ENV enforces
c.Spawner.args = [
    "--LabApp.news_url=None",  # nothing fetched from outside
    "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    "--MappingKernelManager.cull_idle_timeout=1800",  # an idle kernel gives its memory back after 30 min
    "--MappingKernelManager.cull_interval=120",
    "--ServerApp.shutdown_no_activity_timeout=7200",  # a forgotten server stops after 2 h (files stay)
] + (["--allow-root"] if os.geteuid() == 0 else [])
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
# A restart of the hub (config change, crash) leaves the learners' servers and kernels running; the new
# hub finds them again from its database. Stop them from the admin page, or with `make hub-stop`
# (deploy/hubctl.py, through the hub's REST API as the `course-admin` service below).
c.JupyterHub.cleanup_servers = False
c.JupyterHub.services = [{"name": "course-admin", "api_token": hub.api_token()}]
c.JupyterHub.load_roles = [{"name": "course-admin", "scopes": ["admin:servers", "list:users", "read:users"],
                            "services": ["course-admin"]}]
# On a classroom server with real isolation (one system user per learner, limits enforced by cgroups):
# pip install jupyterhub-systemdspawner, then
# c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"; c.SystemdSpawner.dynamic_users = True
# c.SystemdSpawner.mem_limit = "2G"; c.SystemdSpawner.cpu_limit = 1.0
