"""Install the course's additions to JupyterLab into a Python environment (one place for all installs).

    python tools/lab_extras.py                 # into the running Python's environment (sys.prefix)
    python tools/lab_extras.py --prefix DIR    # files only, into another prefix
    python tools/lab_extras.py --learner       # also: your own copy in my-notebooks/ and it as the start page

What it adds, and why:
- ``share/jupyter/lab/settings/overrides.json`` from ``tools/jupyterlab_overrides.json``: no news or
  update checks (nothing fetched from the internet), and RISE's "white" deck theme, whose fonts ship with
  jupyterlab-rise (the default theme fetches them from fonts.googleapis.com);
- ``share/jupyter/labextensions/normcourse-rise-widgets``: lets ipywidgets explorers render inside RISE
  slides (jupyterlab-rise 0.43.1's page lacks a share ipywidgets needs; see the extension's remoteEntry.js);
- with no ``--prefix``: the course's Jupyter kernel "Python 3 (NormCourse)" (name ``python3``), whose
  ``kernel.json`` carries the pinned numeric path (``course_utils/numeric.py``), so every notebook opened in
  JupyterLab computes on the same CPU kernels as the committed outputs;
- with no ``--prefix``: nbgrader's server and lab extensions switched off. nbgrader is only the tool behind
  ``make student`` here; its formgrader menus would only confuse learners.

With ``--learner`` (conda/mamba users, Binder's ``postBuild``): the learner's copy of the course is made as
``make lab`` makes it (``tools/student.py`` then ``tools/learner.py``: never overwriting a lesson already
there), and a server setting makes a plain ``jupyter lab`` open ``my-notebooks/00_start_here.ipynb``.

Used by ``make setup`` (the course's .venv), by conda/mamba users after ``conda env create``, and by Binder
(``postBuild``). Running it again replaces the files with the repository's current copies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LEARNER_DIR = "my-notebooks"
START_PAGE = f"/lab/tree/{LEARNER_DIR}/00_start_here.ipynb"
OVERRIDES = REPO / "tools" / "jupyterlab_overrides.json"
RISE_WIDGETS = REPO / "tools" / "labextensions" / "normcourse-rise-widgets"
NBGRADER_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]


def install_files(prefix: Path) -> list[Path]:
    """Copy the overrides and the RISE widgets extension under ``prefix``; returns what was written."""
    prefix = Path(prefix)
    if not prefix.is_dir():
        raise ValueError(f"prefix {str(prefix)!r} is not a directory: pass an environment's prefix, "
                         "e.g. the output of python -c 'import sys; print(sys.prefix)'")
    settings = prefix / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    overrides = settings / "overrides.json"
    shutil.copyfile(OVERRIDES, overrides)
    extension = prefix / "share" / "jupyter" / "labextensions" / RISE_WIDGETS.name
    # Replace, not merge: a file removed from the repository must not linger in the environment.
    shutil.rmtree(extension, ignore_errors=True)
    shutil.copytree(RISE_WIDGETS, extension)
    return [overrides, extension]


KERNEL_NAME = "python3"
KERNEL_DISPLAY_NAME = "Python 3 (NormCourse)"


def kernel_install_command(python: str = sys.executable) -> list[str]:
    """``ipykernel install`` for the course's kernel, with the pinned numeric path in its environment."""
    sys.path.insert(0, str(REPO / "course_utils"))
    try:
        import numeric  # stdlib only: safe before torch, and without installing the package
    finally:
        sys.path.pop(0)
    env_args = [arg for key, value in numeric.pinned_environment().items() for arg in ("--env", key, value)]
    return [python, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
            "--display-name", KERNEL_DISPLAY_NAME, *env_args]  # fmt: skip


def nbgrader_disable_commands(python: str = sys.executable) -> list[list[str]]:
    """The Jupyter commands that switch off nbgrader's server and lab extensions in ``python``'s environment."""
    return [
        [python, "-m", "jupyter", "server", "extension", "disable", "--sys-prefix", *NBGRADER_SERVER_EXTENSIONS],
        [python, "-m", "jupyter", "labextension", "disable", "--level=sys_prefix", "@jupyter/nbgrader"],
    ]


def install_kernel_and_disable_nbgrader(python: str = sys.executable) -> None:
    """Install (or replace) the course's kernel spec and switch nbgrader's extensions off, the three commands at
    once (each starts Jupyter, about 2 s; they write different files). Only the kernel install must succeed:
    an environment without nbgrader has nothing to switch off."""
    kernel = subprocess.Popen(kernel_install_command(python), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    quiet = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for c in nbgrader_disable_commands(python)]
    _, kernel_errors = kernel.communicate()
    for process in quiet:
        process.wait()
    if kernel.returncode != 0:
        raise subprocess.CalledProcessError(kernel.returncode, kernel.args, stderr=kernel_errors)


def write_start_page(prefix: Path, url: str = START_PAGE) -> Path:
    """A server setting under ``prefix`` that opens ``url`` (the learner's first lesson) on start."""
    path = Path(prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "normcourse-start.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ServerApp": {"default_url": url}}, indent=1) + "\n")
    return path


def make_learner_copy(repo: Path = REPO) -> list[str]:
    """The student build, then the learner's workspace from it (exactly what ``make lab`` runs)."""
    subprocess.run([sys.executable, str(repo / "tools" / "student.py"), "--out", str(repo / "build" / "student")],
                   check=True, cwd=repo)
    sys.path.insert(0, str(repo / "tools"))
    import learner

    return learner.sync(repo / "build" / "student", repo / LEARNER_DIR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", type=Path, help="install the files under this prefix instead of "
                        "sys.prefix (nbgrader is then left as it is)")
    parser.add_argument("--learner", action="store_true", help=f"also make your own copy in {LEARNER_DIR}/ and "
                        "open its first lesson when JupyterLab starts (conda, Binder)")
    args = parser.parse_args(argv)
    prefix = args.prefix or Path(sys.prefix)
    written = install_files(prefix)
    if args.prefix is None:
        install_kernel_and_disable_nbgrader()
    if args.learner:
        written.append(write_start_page(prefix))
    for path in written:
        print(f"installed {path}")
    if args.learner:
        for line in make_learner_copy():
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
