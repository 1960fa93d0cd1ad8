"""PNG bytes of an RGBA pixel buffer, written directly: the explorers' encoder.

Measured on an explorer frame (688 x 208 px, CPU time under load): PIL's PNG encoder at zlib level 1 took
~4.5 ms, a fifth of a cold move, because it tries a filter for each row; rows without a filter (a plot is
mostly flat colour, which zlib compresses as well either way) and zlib level 1 took ~1.5 ms for a file of
the same size (24.6 kB against 24.3 kB). The format is the PNG specification's minimum: signature, IHDR,
one IDAT, IEND; no metadata, so the same pixels always give the same bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["rgba_to_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def rgba_to_png(pixels, level: int = 1) -> bytes:
    """PNG bytes of ``pixels``: an (height, width, 4) uint8 array or buffer of RGBA rows, top row first
    (e.g. ``np.asarray(canvas.buffer_rgba())``). ``level`` is zlib's (1: fastest; 9: smallest)."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 4 or 0 in pixels.shape[:2]:
        raise ValueError(f"pixels must be a non-empty (height, width, 4) uint8 RGBA array, got {pixels.dtype} "
                         f"{pixels.shape}.")
    if not (isinstance(level, int) and 0 <= level <= 9):
        raise ValueError(f"level must be a zlib level from 0 to 9, got {level!r}.")
    height, width = pixels.shape[:2]
    rows = np.empty((height, 1 + 4 * width), np.uint8)
    rows[:, 0] = 0  # filter type 0 (None) on every row
    rows[:, 1:] = pixels.reshape(height, 4 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, deflate, no filter set, no interlace
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + _chunk(
        b"IEND", b"")
