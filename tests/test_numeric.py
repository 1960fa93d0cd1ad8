"""The pinned numeric path, the seed source and the fingerprint (portable proof on every x86-64 machine)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import env, fingerprint, numeric
from course_utils.data import load_digits
from course_utils.models import make_mlp

ROOT = Path(__file__).resolve().parents[1]
AVX2_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse sse2 avx fma avx2 bmi2\n"
OLD_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse sse2 sse4_2 avx\n"


def test_avx2_is_read_from_the_cpu_flags():
    assert numeric.cpu_has_avx2(AVX2_CPUINFO, "x86_64")
    assert not numeric.cpu_has_avx2(OLD_CPUINFO, "x86_64")
    assert not numeric.cpu_has_avx2(AVX2_CPUINFO, "aarch64")  # an ARM laptop: nothing to pin
    assert not numeric.cpu_has_avx2("no flags line\n", "x86_64")


def test_kernel_settings_are_pinned_only_where_the_cpu_has_them():
    assert numeric.pinned_environment(True)["ATEN_CPU_CAPABILITY"] == "avx2"
    assert numeric.pinned_environment(True)["MKL_CBWR"] == "COMPATIBLE"
    without = numeric.pinned_environment(False)
    assert "ATEN_CPU_CAPABILITY" not in without and "OPENBLAS_CORETYPE" not in without
    assert without["OMP_NUM_THREADS"] == "1"


def test_missing_settings_name_what_is_not_in_force():
    full = numeric.pinned_environment(True)
    assert numeric.missing_settings(full, has_avx2=True) == {}
    partial = {k: v for k, v in full.items() if k != "MKL_CBWR"} | {"ATEN_CPU_CAPABILITY": "default"}
    assert set(numeric.missing_settings(partial, has_avx2=True)) == {"MKL_CBWR", "ATEN_CPU_CAPABILITY"}
    assert numeric.describe(full, has_avx2=True) == f"numeric path: {numeric.PATH_NAME}"
    assert "NOT pinned" in numeric.describe(partial, has_avx2=True)
    assert "lax" in numeric.describe({}, has_avx2=False)


def test_shell_assignments_are_what_the_makefile_uses():
    out = subprocess.run([sys.executable, str(ROOT / "course_utils/numeric.py"), "--shell"],
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert dict(kv.split("=", 1) for kv in out) == numeric.pinned_environment()
    assert "$(NUMERIC_ENV)" in (ROOT / "Makefile").read_text().split("RUN_ENV :=")[1].splitlines()[0]


def test_this_test_run_is_on_the_pinned_path():
    # make unit/test run with the Makefile's RUN_ENV; a missing setting here means a target forgot it.
    if not numeric.cpu_has_avx2():
        pytest.skip("no AVX2 here: nothing to pin")
    assert numeric.missing_settings() == {}, "run the tests through make (RUN_ENV carries the pinned path)"
    assert torch.backends.cpu.get_cpu_capability() == "AVX2"


def test_the_course_kernel_carries_the_pinned_path():
    spec = Path(sys.prefix) / "share/jupyter/kernels/python3/kernel.json"
    if not spec.exists():
        pytest.skip("the course kernel is installed by make setup")
    kernel = json.loads(spec.read_text())
    assert kernel["display_name"] == "Python 3 (NormCourse)"
    assert kernel.get("env", {}) == numeric.pinned_environment()


def test_notebooks_name_the_installed_kernel():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        spec = json.loads(path.read_text())["metadata"]["kernelspec"]
        assert spec == {**spec, "name": "python3", "display_name": "Python 3 (NormCourse)"}, path.name


def test_setup_notebook_switches_off_per_machine_conv_backends():
    env.setup_notebook(quiet=True)
    assert not torch.backends.mkldnn.enabled
    assert not torch._C._get_nnpack_enabled()


def test_the_warning_says_what_to_do_when_the_path_is_missing(monkeypatch):
    monkeypatch.setattr(numeric, "cpu_has_avx2", lambda *a, **k: True)
    for key in numeric.PINNED_NUMERIC_ENV:
        monkeypatch.delenv(key, raising=False)
    warning = env.numeric_path_warning()
    assert "MKL_CBWR" in warning and "Python 3 (NormCourse)" in warning and "make lab" in warning
    monkeypatch.setattr(numeric, "cpu_has_avx2", lambda *a, **k: False)
    assert env.numeric_path_warning() is None


# --- the seed source -------------------------------------------------------------------------------------


def test_offset_zero_keeps_the_committed_seeds(monkeypatch):
    monkeypatch.delenv(env.SEED_OFFSET_VAR, raising=False)
    assert env.course_seed(7) == 7
    assert env.experiment_seeds(3) == (0, 1, 2)


def test_an_offset_moves_every_random_thing_the_course_draws(monkeypatch):
    monkeypatch.setenv(env.SEED_OFFSET_VAR, "0")
    base_w = make_mlp(4, [3], 2, seed=0)[0].weight.detach().clone()
    base_split = load_digits(seed=0).y_val.copy()
    base_gen = torch.randint(0, 1000, (5,), generator=env.torch_generator(0))
    base_np = env.numpy_rng(0).random(3)
    monkeypatch.setenv(env.SEED_OFFSET_VAR, "2")
    assert env.course_seed(7) == 7 + 2 * env.SEED_STRIDE
    assert not torch.equal(make_mlp(4, [3], 2, seed=0)[0].weight, base_w)  # inits
    assert not np.array_equal(load_digits(seed=0).y_val, base_split)  # train/validation split
    assert not torch.equal(torch.randint(0, 1000, (5,), generator=env.torch_generator(0)), base_gen)  # data order
    assert not np.array_equal(env.numpy_rng(0).random(3), base_np)
    env.seed_everything(0)
    mask = torch.nn.functional.dropout(torch.ones(50), 0.5)
    monkeypatch.setenv(env.SEED_OFFSET_VAR, "0")
    env.seed_everything(0)
    assert not torch.equal(torch.nn.functional.dropout(torch.ones(50), 0.5), mask)  # dropout masks


@pytest.mark.parametrize("raw", ["-1", "x", "1.5"])
def test_a_bad_offset_is_refused_with_the_fix(monkeypatch, raw):
    monkeypatch.setenv(env.SEED_OFFSET_VAR, raw)
    with pytest.raises(ValueError, match="NORMCOURSE_SEED_OFFSET must be a whole number"):
        env.course_seed(0)


def test_the_environment_line_names_the_offset(monkeypatch):
    monkeypatch.setenv(env.SEED_OFFSET_VAR, "3")
    assert "seed 0 (offset 3)" in env.environment_summary(0)


RAW_RNG = re.compile(
    r"(?<![\w.])(torch\.manual_seed\(|np\.random\.default_rng\(|np\.random\.seed\(|torch\.Generator\(\))"
)


def test_no_experiment_draws_randomness_outside_the_seed_source():
    # Everything that trains or splits data: a private generator here would not move with the offset.
    scoped = ["data.py", "models.py", "train.py", "distributed.py", "experiments", "plots"]
    offenders = []
    for name in scoped:
        target = ROOT / "course_utils" / name
        for path in [target] if target.is_file() else sorted(target.rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if RAW_RNG.search(code) and "``" not in code:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "use course_utils.env.manual_seed/torch_generator/numpy_rng:\n" + "\n".join(offenders)


# --- the fingerprint ---------------------------------------------------------------------------------------


def test_fingerprint_is_stable_within_a_process():
    assert fingerprint.fingerprint(steps=2) == fingerprint.fingerprint(steps=2)
    assert fingerprint.fingerprint(steps=2) != fingerprint.fingerprint(steps=3)


def test_fingerprint_check_says_lax_mode_on_another_machine(monkeypatch, capsys):
    monkeypatch.setattr(fingerprint, "EXPECTED", "0" * 64)
    assert fingerprint.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "lax mode" in out and out.count("\n") == 1
    monkeypatch.setattr(fingerprint, "fingerprint", lambda steps=20: "0" * 64)
    assert fingerprint.main(["--check"]) == 0
    assert fingerprint.main(["--bogus"]) == 2


def test_this_machine_reproduces_the_committed_fingerprint_or_says_why():
    # Not an assert on the hash (another CPU legitimately differs): the check must run and answer 0 or 1.
    res = subprocess.run([sys.executable, "-m", "course_utils.fingerprint", "--check"], capture_output=True,
                         text=True, cwd=ROOT, env=numeric.environ_with_pins())  # fmt: skip
    assert res.returncode in (0, 1), res.stderr
    assert res.stdout.count("\n") == 1
