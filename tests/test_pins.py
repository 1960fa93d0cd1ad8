"""environment.yml, requirements*.txt, pyproject.toml and constraints.txt must agree on every pin."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "-r", "-e")):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r} (every dependency must be pinned with ==)"
        pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements.txt").read_text().splitlines()) | _pins(
        (ROOT / "requirements-dev.txt").read_text().splitlines()
    )


def environment_yml() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    lines = [ln.strip()[2:] for ln in text.splitlines() if ln.strip().startswith("- ")]
    pip_lines = [ln for ln in lines if "==" in ln]
    return _pins(pip_lines)


def pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]
    return _pins(deps)


def test_torch_is_pinned_exactly_to_the_cpu_build_on_disk():
    for source in (requirements(), environment_yml(), pyproject()):
        assert source["torch"] == "2.13.0"


def test_environment_yml_matches_requirements():
    assert environment_yml() == requirements()


def test_pyproject_matches_requirements():
    assert pyproject() == requirements()


def test_environment_yml_uses_python_311():
    assert re.search(r"^\s*- python=3\.11\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_constraints_agree_with_direct_pins():
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in requirements().items():
        assert constraints.get(name) == version, f"constraints.txt has {name}=={constraints.get(name)}, want {version}"


def test_no_range_or_unpinned_requirement_anywhere():
    # _pins asserts on anything that is not name==version
    for path in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        assert _pins((ROOT / path).read_text().splitlines())
