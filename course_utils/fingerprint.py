"""Does this machine reproduce the committed notebook outputs bit for bit? A fingerprint decides.

A small fixed computation goes through the kinds of kernels the notebooks use (Linear, BatchNorm,
LayerNorm, GroupNorm, Conv1d/Conv2d, Dropout, GELU, softmax cross-entropy, Adam, a numpy matrix product)
for a few training steps; the SHA-256 of every resulting bit is compared with the one committed in
``EXPECTED``, made on the machine that regenerated the notebooks, under the pinned numeric path
(:mod:`course_utils.numeric`). ``make test`` runs this first: where it matches, nbval compares every
output; where it does not (a CPU without AVX2, an ARM laptop, other library builds), nbval runs in lax
mode -- every cell and every assert still runs, printed numbers are not compared -- and says so in one line.

Usage: ``python -m course_utils.fingerprint`` prints the digest; ``--check`` exits 0 on a match and 1
(with one line saying what follows) otherwise.
"""

from __future__ import annotations

import hashlib
import os
import sys

# Made with `python -m course_utils.fingerprint` under the pinned path (the Makefile's NUMERIC_ENV).
EXPECTED = "036a3633eeb0ec0e0a98f7de20f740846075533b90ca68c778c82a3029cb4fa1"
STEPS = 20
# Tests stand in another machine's fingerprint through this variable (tests/test_claims.py).
EXPECTED_OVERRIDE_VAR = "NORMCOURSE_EXPECTED_FINGERPRINT"


def fingerprint(steps: int = STEPS) -> str:
    """SHA-256 (hex) of the parameters and the last loss after ``steps`` fixed training steps."""
    import numpy as np
    import torch

    from . import numeric

    torch.set_num_threads(1)
    numeric.apply_runtime_flags()
    gen = torch.Generator().manual_seed(20261206)
    torch.manual_seed(20261206)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 96), torch.nn.BatchNorm1d(96), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(96, 96), torch.nn.LayerNorm(96), torch.nn.GELU(), torch.nn.Linear(96, 10),
    )
    conv1d = torch.nn.Sequential(torch.nn.Conv1d(4, 16, 5, padding=2), torch.nn.BatchNorm1d(16), torch.nn.ReLU())
    conv2d = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.GroupNorm(2, 8), torch.nn.Tanh())
    params = [*mlp.parameters(), *conv1d.parameters(), *conv2d.parameters()]
    opt = torch.optim.Adam(params, lr=0.01)
    x, y = torch.randn(128, 64, generator=gen), torch.randint(0, 10, (128,), generator=gen)
    seq, img = torch.randn(16, 4, 40, generator=gen), torch.randn(8, 3, 12, 12, generator=gen)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(mlp(x), y) + conv1d(seq).pow(2).mean() + conv2d(img).mean() ** 2
        loss.backward()
        opt.step()
    digest = hashlib.sha256()
    for p in params:
        digest.update(p.detach().numpy().tobytes())
    digest.update(np.float32(loss.item()).tobytes())
    a = np.random.default_rng(7).standard_normal((64, 48))
    digest.update((a @ a.T).tobytes())  # numpy's OpenBLAS kernel
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print("usage: python -m course_utils.fingerprint [--check]", file=sys.stderr)
        return 2
    got = fingerprint()
    if not argv:
        print(got)
        return 0
    expected = os.environ.get(EXPECTED_OVERRIDE_VAR) or EXPECTED
    if got == expected:
        print("Numeric fingerprint matches the committed outputs' machine: nbval compares every output.")
        return 0
    from .numeric import describe

    print(
        f"This machine does not reproduce the committed outputs bit for bit ({describe()}; fingerprint "
        f"{got[:12]} != {expected[:12]}): notebooks run in lax mode, every assert still checked."
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
