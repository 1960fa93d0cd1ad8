# Written for any Python 3 (no f-strings, no annotations): it must run, and explain itself, on the very
# interpreters it turns away.
"""Check that the Python `make setup` was given is one the course runs on, before any venv is made.

    python3 tools/check_python.py      # exit 0 if fine (a note if the version is not the tested one)

The floor comes from ``requires-python`` in pyproject.toml; the tested version (the one the committed
notebook outputs, environment.yml and the README use) is TESTED below.
"""

import os
import re
import sys

TESTED = (3, 11)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def minimum_version(pyproject_text):
    """The ``requires-python = ">=X.Y"`` floor of pyproject.toml as a tuple, e.g. (3, 11)."""
    match = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)"', pyproject_text, re.M)
    if not match:
        raise ValueError('pyproject.toml has no requires-python = ">=X.Y" line')
    return int(match.group(1)), int(match.group(2))


def verdict(version, minimum, tested=TESTED):
    """(ok, message) for a Python ``version`` (major, minor, ...): ok is False below ``minimum``."""
    have = ".".join(str(v) for v in version[:3])
    want = "%d.%d" % tuple(minimum)
    if tuple(version[:2]) < tuple(minimum):
        return False, (
            "NormCourse needs Python %s or newer, but this is Python %s (%s).\n"
            "Install Python %d.%d and run: make setup PYTHON=python%d.%d\n"
            "(then `make lab` as usual; on conda: conda env create -f environment.yml)"
            % (want, have, sys.executable, tested[0], tested[1], tested[0], tested[1])
        )
    if tuple(version[:2]) != tuple(tested):
        return True, (
            "Note: Python %s. The course is tested on %d.%d: it runs here, but `make nbval` may see "
            "differences in the last digits of the committed outputs." % (have, tested[0], tested[1])
        )
    return True, ""


def main():
    with open(os.path.join(ROOT, "pyproject.toml")) as handle:
        minimum = minimum_version(handle.read())
    ok, message = verdict(tuple(sys.version_info), minimum)
    if message:
        sys.stderr.write(message + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
