"""`make setup`'s own tools: the Python version check and the choice of PyTorch build (no network: fake probes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_python  # noqa: E402
import install  # noqa: E402
import lock  # noqa: E402
import torch_build  # noqa: E402
import warm_bytecode  # noqa: E402


# ----------------------------------------------------------------------------------- Python version
def test_the_floor_is_read_from_pyproject():
    assert check_python.minimum_version((ROOT / "pyproject.toml").read_text()) == (3, 11)
    with pytest.raises(ValueError, match="requires-python"):
        check_python.minimum_version("[project]\nname = 'x'\n")


@pytest.mark.parametrize("version", [(3, 10, 14), (3, 9, 2), (2, 7, 18)])
def test_an_older_python_is_refused_with_the_fix(version):
    ok, message = check_python.verdict(version, (3, 11))
    assert not ok
    assert "needs Python 3.11 or newer" in message and ".".join(map(str, version)) in message
    assert "make setup PYTHON=python3.11" in message


def test_the_tested_python_passes_quietly_and_a_newer_one_with_a_note():
    assert check_python.verdict((3, 11, 7), (3, 11)) == (True, "")
    ok, message = check_python.verdict((3, 12, 1), (3, 11))
    assert ok and "tested on 3.11" in message


def test_the_check_runs_on_an_old_interpreter_syntax():
    """It must explain itself on the very interpreters it refuses: no f-strings or annotations."""
    source = (ROOT / "tools" / "check_python.py").read_text()
    assert 'f"' not in source and "f'" not in source and "from __future__" not in source and "->" not in source
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "check_python.py")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_make_setup_checks_python_before_making_the_venv():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(LEARNER_STAMP): "):makefile.index("$(STAMP): ")]
    assert recipe.index("tools/check_python.py") < recipe.index("-m venv")


# ----------------------------------------------------------------------------------- PyTorch build
class FakeProbe:
    def __init__(self, answers: bool):
        self.answers, self.asked = answers, []

    def __call__(self, index: str) -> bool:
        self.asked.append(index)
        return self.answers


def test_linux_gets_the_cpu_index_where_it_answers():
    probe = FakeProbe(True)
    index = torch_build.choose_index("Linux", probe, env={})
    assert index == torch_build.CPU_INDEX and probe.asked == [torch_build.CPU_INDEX]
    assert torch_build.pip_args(index) == ["--extra-index-url", torch_build.CPU_INDEX]


def test_linux_falls_back_to_the_configured_index_where_it_does_not():
    assert torch_build.choose_index("Linux", FakeProbe(False), env={}) is None
    assert torch_build.pip_args(None) == []


@pytest.mark.parametrize("system", ["Darwin", "Windows"])
def test_macos_and_windows_are_not_probed(system):
    probe = FakeProbe(True)
    assert torch_build.choose_index(system, probe, env={}) is None and probe.asked == []


def test_the_environment_can_skip_the_probe_or_name_another_index():
    probe = FakeProbe(True)
    assert torch_build.choose_index("Linux", probe, env={"NORMCOURSE_TORCH_INDEX": "configured"}) is None
    assert probe.asked == []
    mirror = "https://mirror.example/whl/cpu"
    assert torch_build.choose_index("Linux", probe, env={"NORMCOURSE_TORCH_INDEX": mirror}) == mirror
    assert torch_build.choose_index("Linux", FakeProbe(False), env={"NORMCOURSE_TORCH_INDEX": mirror}) is None


def test_an_unreachable_index_is_given_up_quickly():
    # A port nothing listens on: refused at once, never a hang (the real probe, no network needed).
    assert torch_build.reachable("http://127.0.0.1:9/whl/cpu", timeout=1.0) is False
    assert torch_build.reachable("not a url") is False
    assert torch_build.PROBE_TIMEOUT_S <= 5


def test_the_report_names_the_build():
    assert torch_build.describe("2.13.0+cpu", None) == "PyTorch 2.13.0+cpu: CPU build."
    cuda = torch_build.describe("2.13.0", "12.8")
    assert "CUDA 12.8 build" in cuda and "CPU index" in cuda


def test_make_setup_passes_the_choice_to_pip_and_reports_the_build():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(LEARNER_STAMP): "):makefile.index("$(STAMP): ")]
    assert "torch_build.py pip-args" in recipe and "$$torch_args" in recipe
    assert "torch_build.py report" in recipe and "done in" in recipe


# ----------------------------------------------------------------------------------- the locked, parallel install
def _lock_file_pins() -> list[str]:
    return install.locked_pins((ROOT / "requirements-lock.txt").read_text())


def test_the_lock_is_the_learner_closure_of_this_environment():
    """requirements-lock.txt = requirements.txt and everything it pulls in (walked through the installed
    metadata, as make lock writes it): a stale or incomplete lock fails here, not on a learner's machine."""
    assert _lock_file_pins() == lock.learner_lock(), "requirements-lock.txt is stale: run make lock"


def test_the_lock_agrees_with_constraints_and_holds_every_learner_pin():
    from packaging.utils import canonicalize_name

    def by_name(lines):
        return {canonicalize_name(x.split("==")[0]): x.split("==")[1] for x in lines if "==" in x and x[0] != "#"}

    locked = by_name(_lock_file_pins())
    constraints = by_name((ROOT / "constraints.txt").read_text().splitlines())
    learner = by_name((ROOT / "requirements.txt").read_text().splitlines())
    assert all(constraints.get(name) == version for name, version in locked.items())
    assert all(locked.get(name) == version for name, version in learner.items())
    assert "pytest" not in locked and "scikit-learn" not in locked and "pip" not in locked


def test_the_closure_follows_markers_and_extras(monkeypatch):
    class Dist:
        def __init__(self, version, requires):
            self.version, self.requires = version, requires

    dists = {
        "app": Dist("1.0", ["lib>=1", 'winonly; sys_platform == "win32"', 'extra-dep; extra == "fast"']),
        "lib": Dist("2.0", ["app[fast]"]),
        "extra-dep": Dist("3.0", []),
        "winonly": Dist("4.0", []),
    }
    monkeypatch.setattr(lock.metadata, "distribution", lambda name: dists[name])
    if sys.platform != "win32":
        assert lock.closure(["app"]) == {"app": "1.0", "lib": "2.0", "extra-dep": "3.0"}


def test_groups_cover_the_lock_once_with_torch_alone():
    pins = _lock_file_pins()
    for jobs in (1, 2, 4):
        groups = install.groups(pins, jobs)
        flat = [p for g in groups for p in g]
        assert sorted(flat) == sorted(pins) and len(flat) == len(set(flat)), "each package in exactly one pip"
        assert groups[0] == ["torch==2.13.0"]
        assert len(groups) == jobs + 1
    with pytest.raises(ValueError, match="jobs"):
        install.groups(pins, 0)


def test_an_incomplete_lock_falls_back_to_pips_resolver(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(install, "fast_path_applies", lambda: True)
    monkeypatch.setattr(install, "install_groups", lambda groups, args: calls.append("groups") or [])
    monkeypatch.setattr(install, "pip_check", lambda: (False, "foo 1.0 requires bar, which is not installed."))
    monkeypatch.setattr(install, "resolve_with_pip", lambda args: calls.append(("resolve", tuple(args))) or 0)
    assert install.main(["--extra-index-url", "X"]) == 0
    assert calls == ["groups", ("resolve", ("--extra-index-url", "X"))]
    assert "does not cover this machine" in capsys.readouterr().err


def test_a_failed_group_falls_back_and_other_platforms_resolve(monkeypatch):
    calls = []
    monkeypatch.setattr(install, "resolve_with_pip", lambda args: calls.append("resolve") or 0)
    monkeypatch.setattr(install, "install_groups", lambda groups, args: ["pip could not install x"])
    monkeypatch.setattr(install, "fast_path_applies", lambda *a: True)
    assert install.main([]) == 0 and calls == ["resolve"]
    monkeypatch.undo()
    assert not install.fast_path_applies("darwin", (3, 11)) and not install.fast_path_applies("linux", (3, 12))
    assert install.fast_path_applies("linux", (3, 11))


def test_make_setup_installs_through_the_lock_without_compiling():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(LEARNER_STAMP): "):makefile.index("$(STAMP): ")]
    assert "tools/install.py $$torch_args" in recipe and "requirements-lock.txt" in recipe
    assert "--no-compile" in " ".join(install.PIP)
    # the warm-up must come after the course is installed and before lab_extras' Jupyter commands
    assert recipe.index("-e .") < recipe.index("warm_bytecode.py;") < recipe.index("lab_extras.py >")


def test_warm_up_writes_bytecode_even_where_python_is_told_not_to(tmp_path):
    (tmp_path / "lesson_mod.py").write_text("X = 1\n")
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); import warm_bytecode; "
            f"sys.path.insert(0, {str(tmp_path)!r}); print(warm_bytecode.warm(['lesson_mod', 'no_such_mod']))")
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert list((tmp_path / "__pycache__").glob("lesson_mod.*.pyc")), "no bytecode written"
    assert "no_such_mod (ModuleNotFoundError" in out, "a module that cannot load is reported"


def test_warm_up_covers_every_course_module_and_both_sides():
    modules = warm_bytecode.course_modules()
    assert {"course_utils.experiments.batchnorm", "course_utils.widgets.dropout", "course_utils.nn"} <= set(modules)
    assert "jupyterlab" in warm_bytecode.server_extensions()
    with pytest.raises(ValueError, match="side must be"):
        warm_bytecode.warm_side("client")
