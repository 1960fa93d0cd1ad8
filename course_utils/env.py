"""The one setup call every notebook makes first: seeds, one thread, determinism, figure defaults."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from . import numeric
from .validation import check_bool, check_int

DEFAULT_SEED = 0
# The one knob that moves every experiment to seeds nobody chose (``make claims``).
SEED_OFFSET_VAR = "NORMCOURSE_SEED_OFFSET"
# Seed ``s`` at offset ``k`` is the random state ``s + k * SEED_STRIDE``: far from every seed the course
# writes (they stay below 10**6), so a shifted run never reuses another run's random numbers.
SEED_STRIDE = 1_000_003


def seed_offset() -> int:
    """The seed offset in force: ``NORMCOURSE_SEED_OFFSET`` from the environment, 0 when unset."""
    raw = os.environ.get(SEED_OFFSET_VAR, "").strip()
    if not raw:
        return 0
    try:
        offset = int(raw)
    except ValueError:
        offset = -1
    if offset < 0:
        raise ValueError(
            f"{SEED_OFFSET_VAR} must be a whole number >= 0 (0 = the committed outputs), got {raw!r}. "
            f"Unset it or run e.g. `make claims OFFSETS=\"1 2 3\"`."
        )
    return offset


def course_seed(seed: int) -> int:
    """The random state behind the course's seed ``seed``: ``seed`` shifted by the seed offset.

    Every generator the course's experiments, data splits, model inits and training loops create is
    seeded through this function (via :func:`manual_seed`, :func:`torch_generator`, :func:`numpy_rng`),
    so ``NORMCOURSE_SEED_OFFSET=k`` re-runs the whole course on fresh random numbers.
    """
    seed = check_int("seed", seed, minimum=0)
    return seed + SEED_STRIDE * seed_offset()


def experiment_seeds(n: int) -> tuple[int, ...]:
    """The ``n`` seeds of a paired comparison: ``(0, 1, ..., n-1)``, shifted by the offset when drawn."""
    n = check_int("n", n, minimum=1)
    return tuple(range(n))


def manual_seed(seed: int) -> torch.Generator:
    """``torch.manual_seed`` on the course's seed source (global generator: inits, dropout masks)."""
    return torch.manual_seed(course_seed(seed))


def torch_generator(seed: int) -> torch.Generator:
    """A private torch generator on the course's seed source (data order, synthetic data)."""
    return torch.Generator().manual_seed(course_seed(seed))


def numpy_rng(seed: int) -> np.random.Generator:
    """A numpy generator on the course's seed source (splits, synthetic data)."""
    return np.random.default_rng(course_seed(seed))


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python's, numpy's and torch's global random generators with ``seed`` (shifted by the offset)."""
    state = course_seed(seed)
    random.seed(state)
    np.random.seed(state % 2**32)
    torch.manual_seed(state)


def configure_matplotlib() -> None:
    """PNG figures with a consistent style.

    PNG, not SVG: nbval compares SVG text, and SVG output changes with matplotlib internals.
    """
    import matplotlib

    if "MPLBACKEND" not in os.environ and not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 80,
            "savefig.dpi": 100,
            "figure.figsize": (6.4, 3.6),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "svg.hashsalt": "normcourse",
        }
    )
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython there is nothing to configure
        pass


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def setup_notebook(seed: int = DEFAULT_SEED, *, quiet: bool = False) -> None:
    """Make a notebook reproducible and fast; call it in the first code cell.

    - checks that the course's pinned numeric path is in force (:mod:`course_utils.numeric`: the same
      CPU kernels on every x86-64 machine with AVX2) and says in one line what to do if it is not;
      switches off oneDNN and NNPACK, whose convolution kernels are chosen per machine;
    - seeds Python, numpy and torch with ``seed`` (shifted by ``NORMCOURSE_SEED_OFFSET``, see
      :func:`course_seed`);
    - ``torch.set_num_threads(1)``: the course's models are tiny; on a busy 2-core machine one thread
      was measured up to ~20x faster than two, and on a quiet one about as fast. One thread also fixes
      the order of float additions inside torch's kernels, so a run's numbers repeat exactly on the same
      machine and versions (float sums *can* differ between thread counts);
    - ``torch.use_deterministic_algorithms(True)``;
    - PNG figures with the course style;
    - exercise hints shown as one message instead of a traceback.

    Prints a one-line environment summary (see :func:`environment_summary`) unless ``quiet``.
    """
    quiet = check_bool("quiet", quiet)
    seed_everything(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    numeric.apply_runtime_flags()
    configure_matplotlib()
    from .exercises import show_hints_briefly

    show_hints_briefly()
    warning = numeric_path_warning()
    if warning:
        print(warning)
    if not quiet:
        print(environment_summary(seed))


def numeric_path_warning() -> str | None:
    """One line saying what to do when the pinned numeric path is not in force, else None."""
    if not numeric.cpu_has_avx2():
        return None  # nothing to pin on this CPU: the lax-mode note comes from `make test`
    missing = numeric.missing_settings()
    if not missing:
        return None
    return (
        "Note: this kernel was started without the course's numeric settings ("
        + ", ".join(sorted(missing))
        + "), so numbers may differ from the text in the last digits. Use the kernel "
        '"Python 3 (NormCourse)" (Kernel > Change Kernel) or start JupyterLab with `make lab`.'
    )


def environment_summary(seed: int = DEFAULT_SEED) -> str:
    """One line naming the versions and settings that the notebook outputs depend on."""
    import matplotlib

    seed = check_int("seed", seed, minimum=0)
    offset = seed_offset()
    seed_text = f"seed {seed}" + (f" (offset {offset})" if offset else "")
    return (
        f"python {platform.python_version()} | torch {torch.__version__.split('+')[0]} | "
        f"numpy {np.__version__} | matplotlib {matplotlib.__version__} | "
        f"threads {torch.get_num_threads()} | {numeric.describe()} | {seed_text}"
    )
