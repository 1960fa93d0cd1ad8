"""Every figure in imgs/ is produced by code in the repo (tools/make_imgs.py)."""

import importlib.util
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("make_imgs", ROOT / "tools" / "make_imgs.py")
make_imgs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_imgs)


def committed_images() -> list[str]:
    return sorted(p.name for p in (ROOT / "imgs").glob("*") if p.is_file() and p.name != ".gitkeep")


def test_every_image_has_a_producer():
    missing = [name for name in committed_images() if name not in make_imgs.IMGS]
    assert not missing, f"images without a producer in tools/make_imgs.py: {missing}"


def test_every_producer_has_a_committed_image():
    missing = [name for name in make_imgs.IMGS if not (ROOT / "imgs" / name).is_file()]
    assert not missing, f"run `make imgs` and commit: {missing}"


@pytest.mark.parametrize("name", sorted(make_imgs.IMGS))
def test_producer_redraws_the_committed_image(name, tmp_path):
    made = make_imgs.make(name, tmp_path)
    with Image.open(made) as new, Image.open(ROOT / "imgs" / name) as old:
        assert new.size == old.size
        assert new.tobytes() == old.tobytes(), f"imgs/{name} is stale: run `make imgs`"


def test_notebooks_reference_images_by_relative_path():
    import json

    for nb_path in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(nb_path.read_text())["cells"]:
            text = "".join(cell["source"])
            assert "/work/" not in text and "file://" not in text, f"{nb_path.name}: absolute image path"
