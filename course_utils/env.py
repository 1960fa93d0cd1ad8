"""The one setup call every notebook makes first: seeds, one thread, determinism, figure defaults."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from .validation import check_int

DEFAULT_SEED = 0


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python's, numpy's and torch's random generators with ``seed``."""
    seed = check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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

    - seeds Python, numpy and torch with ``seed``;
    - ``torch.set_num_threads(1)``: the course's models are tiny; on a busy 2-core machine one thread
      was measured up to ~20x faster than two, and on a quiet one about as fast. One thread also fixes
      the order of float additions inside torch's kernels, so a run's numbers repeat exactly on the same
      machine and versions (float sums *can* differ between thread counts);
    - ``torch.use_deterministic_algorithms(True)``;
    - PNG figures with the course style;
    - exercise hints shown as one message instead of a traceback.

    Prints a one-line environment summary (see :func:`environment_summary`) unless ``quiet``.
    """
    seed_everything(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    configure_matplotlib()
    from .exercises import show_hints_briefly

    show_hints_briefly()
    if not quiet:
        print(environment_summary(seed))


def environment_summary(seed: int = DEFAULT_SEED) -> str:
    """One line naming the versions that the notebook outputs depend on."""
    import matplotlib

    return (
        f"python {platform.python_version()} | torch {torch.__version__.split('+')[0]} | "
        f"numpy {np.__version__} | matplotlib {matplotlib.__version__} | "
        f"threads {torch.get_num_threads()} | seed {seed}"
    )
