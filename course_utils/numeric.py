"""The course's pinned numeric path: the same float results on every x86-64 CPU with AVX2, whatever its vendor.

torch (and numpy's OpenBLAS) pick their CPU kernels by the processor's features, and each choice adds
floats in another order; training turns a last-bit difference into a different run. The course therefore
runs every notebook, test and benchmark on one path, chosen by measurement (README, "The numeric path"):

- ``ATEN_CPU_CAPABILITY=avx2``: ATen's vectorized kernels at AVX2 even where AVX-512 exists (costs nothing
  on an AVX2 CPU);
- ``MKL_CBWR=COMPATIBLE``: MKL's conditional-numerical-reproducibility branch that Intel documents as
  honoured on every vendor's CPU (``AVX2`` is ignored on AMD);
- ``ONEDNN_MAX_CPU_ISA=AVX2`` and, at run time, oneDNN and NNPACK switched off (:func:`apply_runtime_flags`):
  their convolution kernels are JIT-built for the cache sizes of the machine, so convolutions go through
  ATen's own path (im2col + MKL) instead;
- ``OPENBLAS_CORETYPE=Haswell``: numpy's matrix products on the same OpenBLAS kernel;
- dropout masks drawn the same way on every vendor (:func:`portable_dropout`, installed as
  ``torch.nn.functional.dropout`` by :func:`apply_runtime_flags`): torch's CPU kernel for ``bernoulli_(p)``,
  which its dropout uses, asks the CPU's vendor and draws from MKL's generator on Intel and from torch's own
  generator elsewhere, and no setting chooses;
- one thread everywhere (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``).

The variables work only if they are in the environment *before* torch and numpy load, so they are set by
the course's Jupyter kernel (``python -m course_utils.kernel``), by the Makefile (``python
course_utils/numeric.py --shell``) and by CI. :func:`setup_notebook` checks them.

On a CPU without AVX2 (or not x86-64, e.g. an ARM laptop) the pinned kernels do not exist: only the thread
settings apply, the committed outputs cannot be reproduced bit for bit, and ``make test`` checks the
notebooks in lax mode (every assert still runs). The fingerprint (:mod:`course_utils.fingerprint`) decides.

This module imports nothing but the standard library at import time (torch only inside functions), so it
can run before torch is loaded.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

# Settings that choose kernels; set only where the CPU has the instruction set they name.
KERNEL_SETTINGS: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
}
# Settings that are safe on every machine.
THREAD_SETTINGS: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
PINNED_NUMERIC_ENV: dict[str, str] = {**KERNEL_SETTINGS, **THREAD_SETTINGS}
PATH_NAME = "avx2/mkl-compatible/1-thread"


def cpu_has_avx2(cpuinfo: str | None = None, machine: str | None = None) -> bool:
    """True on an x86-64 CPU that has AVX2 and FMA (the instruction sets the pinned kernels use).

    ``cpuinfo`` (the text of ``/proc/cpuinfo``) and ``machine`` default to this machine's; elsewhere than
    Linux the flags cannot be read without extra packages, so the answer is False (lax mode).
    """
    machine = (machine if machine is not None else platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        return False
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return {"avx2", "fma"} <= flags
    return False


def pinned_environment(has_avx2: bool | None = None) -> dict[str, str]:
    """The environment variables of the course's numeric path on this machine."""
    has_avx2 = cpu_has_avx2() if has_avx2 is None else has_avx2
    return dict(PINNED_NUMERIC_ENV) if has_avx2 else dict(THREAD_SETTINGS)


def missing_settings(environ: Mapping[str, str] | None = None, has_avx2: bool | None = None) -> dict[str, str]:
    """The pinned settings that ``environ`` (default: this process's) lacks or sets otherwise."""
    environ = os.environ if environ is None else environ
    wanted = pinned_environment(has_avx2)
    return {key: value for key, value in wanted.items() if environ.get(key) != value}


def apply_runtime_flags() -> None:
    """Switch off the backends whose kernels are chosen per machine at run time (oneDNN, NNPACK), and make
    dropout draw its masks the same way on every CPU vendor (:func:`portable_dropout`).

    Convolutions then run on ATen's own path. Call after importing torch; :func:`setup_notebook` does.
    """
    import torch
    import torch.nn.functional as F

    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    global _TORCH_DROPOUT
    if F.dropout is not portable_dropout:  # idempotent: never wrap twice
        _TORCH_DROPOUT = F.dropout
        F.dropout = portable_dropout  # nn.Dropout (and every subclass) calls F.dropout at run time


_TORCH_DROPOUT = None
"""torch's own ``torch.nn.functional.dropout``, once :func:`apply_runtime_flags` has replaced it."""


def torch_dropout():
    """torch's own ``torch.nn.functional.dropout`` (the one :func:`apply_runtime_flags` replaced, if it did)."""
    import torch.nn.functional as F

    return _TORCH_DROPOUT if _TORCH_DROPOUT is not None else F.dropout


def dropout_keep_mask(input, keep: float):
    """1 where an element of ``input`` is kept (probability ``keep``), 0 where it is dropped, in ``input``'s
    dtype: one float64 uniform number per element from torch's global generator, kept if below ``keep``.

    This is exactly what torch's CPU kernel for ``bernoulli_(keep)`` computes everywhere but on Intel CPUs,
    where it draws from MKL's generator instead (ATen's ``bernoulli_scalar_kernel`` checks the vendor). Written
    with ``uniform_``, it gives the same mask, and leaves the generator in the same state, on every CPU. The
    numbers fill a tensor laid out like ``input`` (``empty_like``, as torch's dropout does), so a transposed
    or channels-last input gets the same mask as from torch too.
    """
    import torch

    return (torch.empty_like(input, dtype=torch.float64).uniform_() < keep).to(input.dtype)


def portable_dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """``torch.nn.functional.dropout`` with a mask drawn by :func:`dropout_keep_mask`: the same numbers as
    torch's on AMD and ARM CPUs, and on Intel CPUs too. The cases that draw no random numbers (evaluation,
    ``p`` = 0 or 1), tensors that are not floating point or not on the CPU, and tensor subclasses go to
    torch's own function, as does the check of ``p``. The arithmetic is torch's: ``input * (mask / (1 - p))``.
    """
    import torch
    from torch.overrides import has_torch_function_unary

    if (has_torch_function_unary(input) or not isinstance(input, torch.Tensor) or not training
            or not isinstance(p, int | float) or not 0 < p < 1 or input.device.type != "cpu"
            or not input.is_floating_point() or input.numel() == 0):
        return torch_dropout()(input, p, training, inplace)
    noise = dropout_keep_mask(input, 1 - p).div_(1 - p)
    return input.mul_(noise) if inplace else input * noise


def describe(environ: Mapping[str, str] | None = None, has_avx2: bool | None = None) -> str:
    """A few words naming the numeric path in force, for the environment line of every notebook."""
    has_avx2 = cpu_has_avx2() if has_avx2 is None else has_avx2
    if not has_avx2:
        return "numeric path: portable (no AVX2 here; outputs checked in lax mode)"
    missing = missing_settings(environ, has_avx2)
    if missing:
        return "numeric path: NOT pinned"
    return f"numeric path: {PATH_NAME}"


def shell_assignments(has_avx2: bool | None = None) -> str:
    """``KEY=value KEY=value``: what the Makefile puts in front of every command that runs course code."""
    return " ".join(f"{key}={value}" for key, value in pinned_environment(has_avx2).items())


def environ_with_pins(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: this process's environment) with the pinned settings applied."""
    env = dict(os.environ if base is None else base)
    env.update(pinned_environment())
    return env


if __name__ == "__main__":  # python course_utils/numeric.py --shell
    if sys.argv[1:] != ["--shell"]:
        sys.exit("usage: python course_utils/numeric.py --shell   (prints the pinned KEY=value settings)")
    print(shell_assignments())
