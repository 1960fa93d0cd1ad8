"""Byte-compile what the course runs, and only that (the last step of ``make setup``).

pip byte-compiles every file it installs. For the learner's install that was 286 MB of ``.pyc`` files, most
of them for parts of PyTorch and Jupyter that the course never loads (PyTorch's test suite, compiler and
distributed packages), and about 45 of the 87 seconds of ``make setup`` on one core (measured 2026-12-06;
README, "Setup"). So ``make setup`` installs with ``pip install --no-compile`` and then runs this script, which
imports what a lesson's kernel and JupyterLab's server load with bytecode writing switched on (even where
``PYTHONDONTWRITEBYTECODE`` is set). Python keeps exactly those modules compiled; anything else compiles on
its first import, as Python always does.

    python tools/warm_bytecode.py        # prints how many modules it loaded
    python tools/warm_bytecode.py kernel # only a lesson's kernel side (server: JupyterLab's side)

The two sides import in two processes at once (about 11 s in one on the development machine).
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import time

sys.dont_write_bytecode = False  # before any import below: this script exists to write the .pyc files

# What a lesson's kernel imports (ipykernel, the inline backend, widgets; course_modules() adds the course).
KERNEL_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.comm",
    "matplotlib_inline.backend_inline",
    "matplotlib.backends.backend_agg",
    "ipywidgets",
    "IPython.core.completer",
)
# What JupyterLab's server imports before its extensions (server_extensions() adds those), what `make lab`
# runs before it (the student build: nbgrader's ClearSolutions) and what tools/lab_extras.py's Jupyter
# commands import (kernelspec, extension manager).
SERVER_MODULES = (
    "jupyter_server.serverapp",
    "jupyterlab.labapp",
    "jupyter_server.extension.serverextension",
    "jupyterlab.labextensions",
    "ipykernel.kernelspec",
    "nbformat",
    "nbgrader.preprocessors",
)


def course_modules() -> list[str]:
    """Every module of course_utils (each lesson imports a different part of it)."""
    import course_utils

    return ["course_utils"] + sorted(m.name for m in pkgutil.walk_packages(course_utils.__path__, "course_utils."))


def server_extensions() -> list[str]:
    """The Jupyter server extensions installed in this environment, on or off (tools/lab_extras.py, which
    runs next and then starts three Jupyter commands itself, switches nbgrader's off)."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    manager = ExtensionConfigManager(read_config_path=jupyter_config_path())
    return sorted(manager.get_jpserver_extensions())


def warm(modules: list[str]) -> list[str]:
    """Import each module (so Python writes its bytecode); return the ones that failed, with why."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a module that cannot load here is reported, not fatal
            failed.append(f"{name} ({type(error).__name__}: {error})")
    return failed


def warm_side(side: str) -> list[str]:
    """Import one side's modules; return the failures."""
    if side == "kernel":
        return warm([*KERNEL_MODULES, *course_modules()])
    if side == "server":
        return warm([*SERVER_MODULES, *server_extensions()])
    raise ValueError(f"side must be 'kernel' or 'server', got {side!r}")


def main(argv: list[str]) -> int:
    if argv:
        failed = warm_side(argv[0])
        for line in failed:
            print(f"warning: could not import {line}; it will compile when first used", file=sys.stderr)
        return 0
    start = time.monotonic()
    server = subprocess.Popen([sys.executable, __file__, "server"])
    kernel_status = main(["kernel"])
    server_status = server.wait()
    print(f"bytecode: what a lesson and JupyterLab load, compiled in {time.monotonic() - start:.0f} s")
    return kernel_status or server_status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
