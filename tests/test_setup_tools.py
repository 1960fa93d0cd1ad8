"""`make setup`'s own tools: the Python version check and the choice of PyTorch build (no network: fake probes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_python  # noqa: E402
import torch_build  # noqa: E402


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
