"""Which PyTorch build `make setup` installs, and which one it got.

    python tools/torch_build.py pip-args   # extra pip arguments for the install (one per line; may be none)
    python tools/torch_build.py report     # one line: the installed torch and whether it is the CPU build

On Linux, PyPI's ``torch==2.13.0`` is the CUDA build, which pulls several GB of nvidia packages the course
never uses. PyTorch publishes CPU-only wheels on its own index (CPU_INDEX, versions ``2.13.0+cpu``, which
still satisfy the ``torch==2.13.0`` pin); where that index answers, pip is pointed at it as an extra
index, and pip prefers the ``+cpu`` wheel. Where it does not answer (an offline mirror, a machine that
reaches only its configured index), nothing is added and pip installs from the configured index as before.
On macOS and Windows PyPI's wheels are CPU builds already, so nothing is added there either.

Set ``NORMCOURSE_TORCH_INDEX=configured`` to skip the probe and use the configured index only, or
``NORMCOURSE_TORCH_INDEX=<url>`` to use another CPU index.
"""

from __future__ import annotations

import os
import platform
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT_S = 3.0
"""A reachable index answers in well under a second; an unreachable one must not stall `make setup`."""


def reachable(index: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether ``index`` answers an HTTP request for its torch page within ``timeout`` seconds."""
    try:
        request = urllib.request.Request(index.rstrip("/") + "/torch/", method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status < 400
    except (urllib.error.URLError, OSError, ValueError):  # no route, no DNS, refused, timed out, bad URL
        return False


def choose_index(system: str | None = None, probe: Callable[[str], bool] = reachable,
                 env: Mapping[str, str] | None = None) -> str | None:
    """The CPU index to add for this machine, or None to install from the configured index alone."""
    system = platform.system() if system is None else system
    env = os.environ if env is None else env
    setting = env.get("NORMCOURSE_TORCH_INDEX", "").strip()
    if setting == "configured":
        return None
    if system != "Linux" and not setting:
        return None  # PyPI's macOS and Windows wheels are CPU builds already
    index = setting or CPU_INDEX
    return index if probe(index) else None


def pip_args(index: str | None) -> list[str]:
    """pip arguments that make ``index`` an extra source (the configured index stays the main one)."""
    return [] if index is None else ["--extra-index-url", index]


def describe(version: str, cuda: str | None) -> str:
    """One line for the learner about the installed build (``torch.__version__``, ``torch.version.cuda``)."""
    if cuda:
        return (f"PyTorch {version}: a CUDA {cuda} build (several GB; the course runs it on the CPU). "
                f"PyTorch's CPU index was not reachable at install time.")
    return f"PyTorch {version}: CPU build."


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "pip-args":
        index = choose_index()
        where = f"PyTorch's CPU index ({index})" if index else "the configured package index"
        print(f"PyTorch: installing from {where}", file=sys.stderr)
        print("\n".join(pip_args(index)))
        return 0
    if command == "report":
        import torch

        print(describe(torch.__version__, torch.version.cuda))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
