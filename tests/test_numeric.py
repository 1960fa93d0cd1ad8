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


# --------------------------------------------------------------- dropout masks: the same on every CPU vendor
def _cpu_vendor() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text(errors="replace").splitlines() if cpuinfo.exists() else []:
        if line.startswith("vendor_id"):
            return line.partition(":")[2].strip()
    return ""


@pytest.mark.skipif(_cpu_vendor() == "GenuineIntel",
                    reason="on Intel, torch's own dropout draws its masks from MKL: that is what the course replaces")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("shape", [(64, 128), (7,), (3, 5, 9), (4, 16, 6, 6)])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8, 1 / 3])
def test_portable_dropout_is_torchs_own_dropout_to_the_bit_here(shape, p, dtype):
    x = torch.randn(shape).to(dtype).requires_grad_(True)
    torch_dropout = numeric.torch_dropout()
    outs, grads, nexts = [], [], []
    for fn in (torch_dropout, numeric.portable_dropout):
        torch.manual_seed(11)
        y = fn(x, p, True)
        (g,) = torch.autograd.grad(y.float().pow(2).sum(), x)
        outs.append(y)
        grads.append(g)
        nexts.append(torch.rand(4))  # the generator is left where torch's own dropout leaves it
    assert torch.equal(outs[0], outs[1]) and torch.equal(grads[0], grads[1]) and torch.equal(nexts[0], nexts[1])
    for odd in (x.detach().reshape(shape[0], -1).t(), x.detach()[..., ::2], x.detach()[:1].expand(3, *shape[1:])):
        torch.manual_seed(5)  # transposed, strided, expanded: the mask follows the input's layout as torch's does
        ours = numeric.portable_dropout(odd, p, True)
        torch.manual_seed(5)
        assert torch.equal(ours, torch_dropout(odd, p, True))
    if len(shape) == 4:
        cl = x.detach().contiguous(memory_format=torch.channels_last)
        torch.manual_seed(6)
        ours = numeric.portable_dropout(cl, p, True)
        torch.manual_seed(6)
        assert torch.equal(ours, torch_dropout(cl, p, True))
    z0, z1 = x.detach().clone(), x.detach().clone()
    torch.manual_seed(3)
    torch_dropout(z0, p, True, True)
    torch.manual_seed(3)
    assert numeric.portable_dropout(z1, p, True, True) is z1 and torch.equal(z0, z1)  # inplace


def test_portable_dropout_never_asks_torch_for_a_bernoulli_draw(monkeypatch):
    # torch's CPU bernoulli_(p) is the kernel that draws from MKL on Intel CPUs.
    def refuse(*args, **kwargs):
        raise AssertionError("bernoulli_ draws from MKL on Intel CPUs")

    monkeypatch.setattr(torch.Tensor, "bernoulli_", refuse)
    monkeypatch.setattr(torch, "bernoulli", refuse)
    x = torch.ones(200, 50)
    torch.manual_seed(0)
    y = torch.nn.Dropout(0.3)(x)
    kept = (y != 0).float().mean().item()
    assert 0.66 < kept < 0.74 and torch.allclose(y[y != 0], torch.tensor(1 / 0.7))
    from course_utils import nn as cnn

    torch.manual_seed(0)
    assert torch.equal(cnn.Dropout(0.3)(x), y)  # the course's layer draws the very same mask
    xt = torch.randn(50, 200).t()
    torch.manual_seed(1)
    yt = torch.nn.Dropout(0.3)(xt)
    torch.manual_seed(1)
    assert torch.equal(cnn.Dropout(0.3)(xt), yt)  # laid out like a transposed input, as torch's is


def test_the_course_path_replaces_dropout_once_and_keeps_torchs_behaviour_elsewhere():
    import torch.nn.functional as F

    numeric.apply_runtime_flags()
    numeric.apply_runtime_flags()
    assert F.dropout is numeric.portable_dropout
    assert numeric.torch_dropout() is not numeric.portable_dropout  # not wrapped twice
    x = torch.randn(5, 4)
    assert numeric.portable_dropout(x, 0.5, training=False) is x
    assert torch.equal(numeric.portable_dropout(x, 0.0), x) and torch.equal(numeric.portable_dropout(x, 1.0), 0 * x)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        numeric.portable_dropout(x, 1.5)
    with pytest.raises(RuntimeError):
        numeric.portable_dropout(torch.ones(3, dtype=torch.long), 0.5)  # as torch's own refuses integers
