"""A glyph cache for explorer figures: each letter is rasterized once, then pasted.

Profiling the explorers showed most of a cold redraw spent rendering text: matplotlib 3.11's Agg renderer
rasterizes every glyph of every tick label and title on every draw (``FT2Font._render_glyph``, ~0.1-0.3 ms
a glyph here, and an explorer figure draws 200-400 of them). Tick labels and titles are made of a few dozen
distinct glyphs, so :func:`use_glyph_cache` gives one renderer a cache of glyph bitmaps keyed by font, size,
glyph and the glyph's position within its pixel, in FreeType's own 1/64 px steps (so a cached glyph is the
very bitmap matplotlib would draw there: the pixels are matplotlib's), and a cache of each string's layout
(shaping, ~2 ms a string). Rendering is the same whether the caches are cold or warm.

Only explorers use it (:class:`course_utils.plots.Panel` renders through it); figures saved or shown in
notebooks are drawn by matplotlib as usual.
"""

from __future__ import annotations

import math
import types

import numpy as np

__all__ = ["use_glyph_cache", "SUBPIXELS"]

SUBPIXELS = 64
"""Glyph origins in 1/SUBPIXELS px: FreeType's 26.6 fixed point, exactly what matplotlib passes it (a
coarser grid, e.g. 4, was hardly faster and moved glyph edges by up to 1/8 px)."""
MAX_GLYPHS = 20_000
"""Bitmaps kept per renderer (a 9 pt glyph at 80 dpi is ~100 bytes): far more than any explorer uses."""


def use_glyph_cache(renderer) -> None:
    """Make ``renderer`` (a ``RendererAgg``) paste cached glyph bitmaps instead of rasterizing each glyph.
    Calling it again on the same renderer does nothing."""
    if getattr(renderer, "_normcourse_glyphs", None) is not None:
        return
    renderer._normcourse_glyphs = {}
    renderer._normcourse_layouts = {}
    renderer._draw_text_glyphs_and_boxes = types.MethodType(_draw_text_glyphs_and_boxes, renderer)
    renderer.draw_text = types.MethodType(_draw_text, renderer)


def _draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
    # RendererAgg.draw_text with its text layout (shaping: ~2 ms a string here) cached per font, size and string.
    from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag

    if ismath:
        return RendererAgg.draw_text(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
    features = tuple(mtext.get_fontfeatures() or ()) if mtext is not None else None
    language = mtext.get_language() if mtext is not None else None
    size = prop.get_size_in_points()
    key = (hash(prop), size, self.dpi, s, features, language)
    items = self._normcourse_layouts.get(key)
    if items is None:
        font = self._prepare_font(prop)
        items = [(item.ft_object, item.glyph_index, item.x, item.y) for item in font._layout(
            s, flags=get_hinting_flag(), features=list(features) if features is not None else None,
            language=language)]
        if len(self._normcourse_layouts) >= MAX_GLYPHS:
            self._normcourse_layouts.clear()
        self._normcourse_layouts[key] = items
    glyphs = ((ft, size, index, 0, 1, dx, dy) for ft, index, dx, dy in items)
    self._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, [])


def _snap(value: float) -> tuple[int, int]:
    """(whole pixel, quarter) of ``value``: ``value`` ~= whole + quarter / SUBPIXELS."""
    whole = math.floor(value)
    part = round((value - whole) * SUBPIXELS)
    if part == SUBPIXELS:
        whole, part = whole + 1, 0
    return whole, part


def _glyph(renderer, font, size, glyph_index, slant, extend, angle, frac_x, frac_y, antialiased, load_flags):
    """The bitmap of one glyph drawn with its origin at (frac_x, frac_y) / SUBPIXELS px (y upwards) from a
    pixel corner, and where its top-left pixel lies relative to that corner: ``(buffer, left, top)``."""
    from matplotlib.ft2font import RenderMode

    key = (font.fname, getattr(font, "face_index", 0), size, renderer.dpi, glyph_index, slant, extend, angle,
           frac_x, frac_y, antialiased, load_flags)
    cache = renderer._normcourse_glyphs
    entry = cache.get(key)
    if entry is None:
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        font.set_size(size, renderer.dpi)
        # A fixed whole-pixel origin far from 0 keeps FreeType's integer arithmetic away from edge cases.
        base = 1024
        font._set_transform(
            (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]]).round().astype(int),
            [round(0x40 * (base + frac_x / SUBPIXELS)), round(0x40 * (base + frac_y / SUBPIXELS))],
        )
        bitmap = font._render_glyph(glyph_index, load_flags, RenderMode.NORMAL if antialiased else RenderMode.MONO)
        buffer = np.array(bitmap.buffer, copy=True)
        if not antialiased:
            buffer *= 0xFF
        entry = (buffer, bitmap.left - base, bitmap.top - base)
        if len(cache) >= MAX_GLYPHS:
            cache.clear()
        cache[key] = entry
    return entry


def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
    # matplotlib 3.11's RendererAgg._draw_text_glyphs_and_boxes with a cache in front of _render_glyph
    # (same arguments, same boxes; y is downwards, FreeType's y upwards).
    from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag

    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    load_flags = get_hinting_flag()
    antialiased = bool(gc.get_antialiased())
    for font, size, glyph_index, slant, extend, dx, dy in glyphs:
        ox, fx = _snap(x + dx * cos - dy * sin)
        oy, fy = _snap(self.height - y + dx * sin + dy * cos)
        buffer, left, top = _glyph(self, font, size, glyph_index, slant, extend, angle, fx, fy, antialiased,
                                   load_flags)
        if buffer.size:
            self._renderer.draw_text_image(buffer, ox + left, int(self.height) - (oy + top) + buffer.shape[0], 0, gc)
    if boxes:  # rules of mathtext (fraction bars): drawn by matplotlib's own code, without glyphs
        RendererAgg._draw_text_glyphs_and_boxes(self, gc, x, y, angle, (), boxes)
