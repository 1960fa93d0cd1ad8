"""Regenerate every figure in imgs/ from the code that makes it.

    python tools/make_imgs.py            # all
    python tools/make_imgs.py name.png   # one

``IMGS`` maps each file in imgs/ to the function (``module:function``, returning a matplotlib
Figure) that draws it; tests/test_imgs.py checks that every image has a producer here.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG_DIR = ROOT / "imgs"

IMGS: dict[str, str] = {
    "wine_feature_ranges.png": "course_utils.plots.scales:plot_feature_ranges",
    "dropout_diagram.png": "course_utils.plots.dropout:plot_dropout_diagram",
    "batchnorm_axes.png": "course_utils.plots.batchnorm:plot_bn_diagram",
    "normalization_axes.png": "course_utils.plots.layernorm:plot_axes_cubes",
}


def producer(name: str):
    module_name, func_name = IMGS[name].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def make(name: str, directory: Path = IMG_DIR) -> Path:
    from course_utils import setup_notebook
    from course_utils.plots import save_png

    setup_notebook(quiet=True)
    path = directory / name
    save_png(producer(name)(), path)
    return path


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    for name in argv or sorted(IMGS):
        if name not in IMGS:
            print(f"make_imgs: {name} has no producer in IMGS", file=sys.stderr)
            return 2
        print(make(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
