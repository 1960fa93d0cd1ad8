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


def learner_requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements.txt").read_text().splitlines())


def instructor_requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements-instructor.txt").read_text().splitlines())


def dev_requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements-dev.txt").read_text().splitlines())


def requirements() -> dict[str, str]:
    return learner_requirements() | instructor_requirements() | dev_requirements()


def environment_yml() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    lines = [ln.strip()[2:] for ln in text.splitlines() if ln.strip().startswith("- ")]
    pip_lines = [ln for ln in lines if "==" in ln]
    return _pins(pip_lines)


def pyproject(part: str = "all") -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deps = {"dependencies": project["dependencies"], "instructor": extras["instructor"], "test": extras["test"]}
    if part == "all":
        return _pins(deps["dependencies"] + deps["instructor"] + deps["test"])
    return _pins(deps[part])


def test_torch_is_pinned_exactly_to_the_cpu_build_on_disk():
    for source in (requirements(), environment_yml(), pyproject()):
        assert source["torch"] == "2.13.0"


def test_environment_yml_is_the_learner_install():
    assert environment_yml() == learner_requirements()


def test_pyproject_matches_requirements():
    assert pyproject() == requirements()
    assert pyproject("dependencies") == learner_requirements(), "the package's dependencies are the learner's"
    assert pyproject("test") == dev_requirements(), "the test extra is requirements-dev.txt"
    assert pyproject("instructor") == instructor_requirements(), "the instructor extra is requirements-instructor.txt"


def test_the_learner_install_holds_no_authors_tool():
    """`make lab` installs requirements.txt alone: test, lint, browser and mutation tools stay out of it."""
    authors_only = {"pytest", "nbval", "hypothesis", "ruff", "playwright", "pytest-xdist", "mutmut"}
    assert not authors_only & set(learner_requirements())
    assert authors_only <= set(dev_requirements())
    assert not set(learner_requirements()) & set(dev_requirements()), "a pin belongs in one file"
    assert not set(instructor_requirements()) & (set(learner_requirements()) | set(dev_requirements()))
    assert "jupyterlab-rise" in instructor_requirements() and "jupyterlab-rise" not in learner_requirements()
    dev = (ROOT / "requirements-dev.txt").read_text()
    instructor = (ROOT / "requirements-instructor.txt").read_text()
    assert re.search(r"^-r requirements-instructor\.txt$", dev, re.M), "the dev install is the instructor's + tools"
    assert re.search(r"^-r requirements\.txt$", instructor, re.M), "the instructor's install is the learner's + slides"


def test_make_lab_installs_only_the_learner_requirements():
    makefile = (ROOT / "Makefile").read_text()
    learner_recipe = makefile[makefile.index("$(LEARNER_STAMP): "):makefile.index("$(STAMP): ")]
    assert "tools/install.py" in learner_recipe and "requirements-dev" not in learner_recipe
    installer = (ROOT / "tools" / "install.py").read_text()
    assert '"requirements.txt"' in installer and "requirements-dev" not in installer
    assert "requirements-dev" not in (ROOT / "requirements-lock.txt").read_text()
    assert re.search(r"^setup: \$\(LEARNER_STAMP\)$", makefile, re.M)
    for target in ("student", "grade", "bench-grade", r"\$\(HUB_STAMP\)", r"\$\(HUB_STUDENT\)"):
        assert re.search(rf"^{target}: \$\(LEARNER_STAMP\)", makefile, re.M), f"make {target} needs no dev tools"
    assert re.search(r"^lab-authors: \$\(INSTRUCTOR_STAMP\)$", makefile, re.M), "the instructor presents with RISE"
    assert re.search(r"^\$\(INSTRUCTOR_STAMP\): \$\(LEARNER_STAMP\) requirements-instructor\.txt$", makefile, re.M)
    assert re.search(r"^\$\(STAMP\): \$\(INSTRUCTOR_STAMP\)", makefile, re.M), "CI tests the slides too"
    assert re.search(r"^workspace: student$", makefile, re.M) and re.search(r"^lab: workspace$", makefile, re.M)


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


# ---- the optional hub extra (make hub): requirements-hub.txt, pyproject's [hub] extra and constraints.txt
def hub_requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements-hub.txt").read_text().splitlines())


def test_hub_extra_is_pinned_and_matches_pyproject():
    hub = hub_requirements()
    assert hub.get("jupyterhub") == "6.1.1"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _pins(project["optional-dependencies"]["hub"]) == hub


def test_hub_extra_is_in_constraints_and_never_disagrees_with_the_course_pins():
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in hub_requirements().items():
        assert constraints.get(name) == version, f"constraints.txt has {name}=={constraints.get(name)}, want {version}"
        assert requirements().get(name, version) == version, f"{name}: hub and course pins differ"


def test_hub_extra_stays_out_of_the_learners_install():
    # `make lab` installs requirements-dev.txt (which includes requirements.txt) and nothing of the hub.
    for path in ("requirements.txt", "requirements-dev.txt", "environment.yml"):
        assert "jupyterhub" not in (ROOT / path).read_text(), f"{path} must not pull in the hub extra"
    assert "requirements-hub" not in (ROOT / "requirements-dev.txt").read_text()


def test_hub_proxy_is_pinned_exactly_in_package_json_and_lock():
    import json

    package = json.loads((ROOT / "deploy" / "proxy" / "package.json").read_text())
    version = package["dependencies"]["configurable-http-proxy"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"configurable-http-proxy must be an exact version, got {version}"
    lock = json.loads((ROOT / "deploy" / "proxy" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == version
