"""rgba_to_png: the explorers' PNG encoder gives the very pixels it was handed, in a valid PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from course_utils.plots.png import rgba_to_png


def test_decodes_to_the_same_pixels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(7, 13, 4), dtype=np.uint8)  # odd sizes, every channel different
    png = rgba_to_png(pixels)
    image = Image.open(io.BytesIO(png))
    image.load()  # checks every chunk's CRC and the zlib stream
    assert image.mode == "RGBA" and image.size == (13, 7)
    assert np.array_equal(np.asarray(image), pixels)


def test_same_pixels_same_bytes_and_a_canvas_buffer_is_accepted():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50)
    fig.subplots().plot([0, 1])
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    png = rgba_to_png(canvas.buffer_rgba())
    assert png == rgba_to_png(np.asarray(canvas.buffer_rgba()).copy())
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(canvas.buffer_rgba()))


@pytest.mark.parametrize(("pixels", "level", "match"), [
    (np.zeros((4, 4, 3), np.uint8), 1, "RGBA"),
    (np.zeros((4, 4, 4), np.float32), 1, "uint8"),
    (np.zeros((0, 4, 4), np.uint8), 1, "non-empty"),
    (np.zeros((4, 4, 4), np.uint8), 12, "level"),
])
def test_bad_input_is_refused_with_the_argument_named(pixels, level, match):
    with pytest.raises(ValueError, match=match):
        rgba_to_png(pixels, level)
