"""Uniform-border detection, so that padded, letterboxed and screenshotted copies get a second hash.

Why: PDQ sees the whole frame, so 20 % padding or a letterbox moves a copy 40+ bits away from the
original (plain PDQ recall 1–9 % on such copies). Hashing the picture again without its uniform bands
brings it back. Bands are found from each edge inward: a line belongs to the band while at most 2 % of
its pixels differ from the edge's colour by more than the JPEG-noise tolerance. Several passes catch
stacked bands (a status bar above a light canvas); a band found after the first pass must have the colour
of a band already removed (the canvas showing again under the status bar), so that a uniform sky or
a dark edge *inside* the picture is not taken for border once the real border is gone. Only lines
near the edges are read, in strips, so the cost is proportional to the border, not to the picture.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from safenet.analysis.pdq.core import U8Image

TOLERANCE: Final = 16  # per channel, 0–255: survives JPEG ringing at quality ≥ 30
OUTLIERS: Final = 0.02  # fraction of a line that may differ (noise, a watermark dot)
MIN_TRIM: Final = 0.02  # a band thinner than 2 % of the side changes PDQ by little: not worth a hash
MIN_CONTENT: Final = 0.10  # keeping less than 10 % of a side means the image is (nearly) uniform
MIN_CONTENT_PX: Final = 8
_STRIP: Final = 64
_PASSES: Final = 3
_BLEND: Final = 2  # lines between two stacked bands that may belong to neither

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), numpy/PIL crop convention


def content_box(pixels: U8Image) -> Box | None:
    """The box inside uniform borders, or None when there are none worth trimming (or nothing else)."""
    rgb = pixels if pixels.ndim == 3 else pixels[:, :, None]
    height, width = rgb.shape[:2]
    top, bottom, left, right = 0, height, 0, width
    colours: list[np.ndarray] = []  # colours of the bands removed so far
    for first in (True,) + (False,) * (_PASSES - 1):
        before = (top, bottom, left, right)
        known = None if first else list(colours)
        view = rgb[top:bottom, left:right]
        top += _band(view, known, colours)
        view = rgb[top:bottom, left:right]
        bottom -= _band(view[::-1], known, colours)
        view = rgb[top:bottom, left:right]
        left += _band(view.transpose(1, 0, 2), known, colours)
        view = rgb[top:bottom, left:right]
        right -= _band(view.transpose(1, 0, 2)[::-1], known, colours)
        if bottom <= top or right <= left:
            return None  # the whole image is one colour
        if (top, bottom, left, right) == before:
            break
    kept_h, kept_w = bottom - top, right - left
    if min(kept_h, kept_w) < MIN_CONTENT_PX or kept_h < MIN_CONTENT * height or kept_w < MIN_CONTENT * width:
        return None
    if height - kept_h < MIN_TRIM * height and width - kept_w < MIN_TRIM * width:
        return None
    return left, top, right, bottom


def _band(lines: U8Image, known: list[np.ndarray] | None, colours: list[np.ndarray]) -> int:
    """How many leading lines (axis 0) match the colour of the first line.

    ``known``: when given, a band counts only if its colour is one of these (within the tolerance).
    The colour of a band found is appended to ``colours``.
    """
    count = lines.shape[0]
    if count == 0 or lines.shape[1] == 0:
        return 0
    if known is None:
        reference = np.median(lines[0], axis=0).astype(np.int16)
        found = _extent(lines, reference)
        if found:
            colours.append(reference)
        return found
    # A DCT-scaled decode blends the edge between two bands into a line or two of neither colour.
    for skip in range(min(_BLEND + 1, count)):
        reference = np.median(lines[skip], axis=0).astype(np.int16)
        if any(int(np.abs(reference - c).max()) <= TOLERANCE for c in known):
            found = _extent(lines[skip:], reference)
            return skip + found if found else 0
    return 0


def _extent(lines: U8Image, reference: np.ndarray) -> int:
    count = lines.shape[0]
    done, step = 0, 1  # most photos stop at the first line: grow the strip only while the band goes on
    while done < count:
        strip = lines[done : done + step].astype(np.int16)
        off = np.abs(strip - reference).max(axis=2) > TOLERANCE
        bad = np.count_nonzero(off, axis=1) > OUTLIERS * off.shape[1]
        if bad.any():
            return done + int(np.argmax(bad))
        done += strip.shape[0]
        step = min(2 * step, _STRIP)
    return int(count)
