"""`make claims` catches a claim that holds only at the seeds its author happened to run.

A tiny notebook, built here, makes the classic mistake: its threshold comes from the number one run
printed ("accuracy 0.9025, so assert > 0.90"). At seed offset 0 it passes; at fresh seeds it must not.
"""

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

SETUP = "from course_utils import setup_notebook\nsetup_notebook(quiet=True)"
# An "experiment" whose result is seed noise around 0.90; the assert's threshold was read off offset 0.
FRAGILE = (
    "from course_utils.env import numpy_rng\n"
    "accuracy = float(numpy_rng(0).normal(0.90, 0.02))\n"
    "print(round(accuracy, 3))\n"
    "assert accuracy > 0.90, 'the claim: this method reaches over 90%'"
)
ROBUST = FRAGILE.replace("accuracy > 0.90", "accuracy > 0.80")  # a margin of 5 standard deviations


def _notebook(tmp_path: Path, claim: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(claim)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (NormCourse)", "language": "python"}
    path = tmp_path / "claim.ipynb"
    nbformat.write(nb, path)
    return path


def _make_claims(notebook: Path, offsets: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MAKE"))}
    return subprocess.run(
        ["make", "--no-print-directory", "claims", f"NB={notebook}", f"OFFSETS={offsets}", "NBVAL_WORKERS=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


needs_venv = pytest.mark.skipif(
    not VENV_PYTHON.exists() or shutil.which("make") is None, reason="runs `make claims` in the course's .venv"
)


@needs_venv
def test_make_claims_catches_a_threshold_read_off_one_run(tmp_path):
    result = _make_claims(_notebook(tmp_path, FRAGILE), "0 3")
    assert result.returncode != 0, result.stdout[-2000:]
    # Where its author looked (offset 0) it holds; at a fresh offset the assert fails, and make says where.
    assert "claims FAILED at seed offset(s): 3" in result.stdout, result.stdout[-2000:]
    assert "the claim: this method reaches over 90%" in result.stdout


@needs_venv
def test_make_claims_passes_a_claim_with_a_stated_margin(tmp_path):
    result = _make_claims(_notebook(tmp_path, ROBUST), "2")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "claims hold at every seed offset: 2" in result.stdout
