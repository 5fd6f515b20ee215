"""One API, two paths: ``exact`` (the reference pipeline, bit for bit) and ``fast`` (triage).

exact: full decode → colour mode to RGB → EXIF orientation (optional) → CImg 512×512 nearest → PDQ.
       With ``orient=False`` this is what Meta's ``pdq-photo-hasher`` computes (golden vectors).
fast:  JPEGs decode DCT-scaled to ≥ 512 px a side and as the Y plane; other formats decode once.
       Then the same reduction and core, plus a second DCT of the 180°-turned pixels for the two hashes
       that reverse both axes (see ``core.hash_reduced_turned``). Its drift from exact (hash 0) is
       measured in bench/bench_pdq_speed.py.

Both return all eight dihedral hashes, the quality, and a second hash set of the picture with
uniform borders removed when there are any. Bad data gives a :class:`Skipped`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from safenet.analysis.guard import describe, guarded
from safenet.analysis.pdq.core import MIN_QUALITY, PdqHash, U8Image, hash_rgb, hash_rgb_turned
from safenet.analysis.pdq.decode import DEFAULT_MAX_PIXELS, Decoded, Skipped, Source, decode
from safenet.analysis.pdq.trim import Box, content_box

#: Pictures thinner than this, or more elongated than this, are hashed but never matched: PDQ stretches
#: them to a square, so a 1×100 000 strip of noise gets quality 100 while showing nothing.
MIN_SIDE: Final = 8
MAX_ASPECT: Final = 16


class PdqMode(StrEnum):
    EXACT = "exact"
    FAST = "fast"


@dataclass(frozen=True, slots=True)
class PdqResult:
    """PDQ of one image: whole picture, and (when it has uniform borders) the picture inside them."""

    mode: PdqMode
    full: PdqHash
    trimmed: PdqHash | None
    trim_box: Box | None  # in the decoded, oriented pixels (fast path: DCT-scaled pixels)
    stored_size: tuple[int, int]
    orientation: int  # EXIF orientation applied (1: none)
    notes: tuple[str, ...]

    @property
    def quality(self) -> int:
        return self.full.quality

    @property
    def low_quality_reason(self) -> str | None:
        """Why this image may not support a match claim (None: it may)."""
        width, height = self.stored_size
        if min(width, height) < MIN_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
            return f"degenerate {width}×{height} image"
        if not self.full.usable:
            return f"quality {self.full.quality} < {MIN_QUALITY}"
        return None

    @property
    def low_quality(self) -> bool:
        """Kept and recorded, but never used to claim a match."""
        return self.low_quality_reason is not None

    def variants(self) -> tuple[tuple[bool, PdqHash], ...]:
        """(trimmed?, hashes) for every hash that may be queried: none for a low-quality image."""
        if self.low_quality:
            return ()
        found = [(False, self.full), (True, self.trimmed)]
        return tuple((trimmed, h) for trimmed, h in found if h is not None and h.usable)


def compute(
    source: Source,
    mode: PdqMode = PdqMode.FAST,
    *,
    orient: bool = True,
    trim: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> PdqResult | Skipped:
    """Hash an image from bytes, a path or a binary stream."""
    return compute_decoded(
        decode(source, fast=mode is PdqMode.FAST, orient=orient, max_pixels=max_pixels), mode, trim=trim
    )


def fast_decode(source: Source) -> Decoded | Skipped:
    """The decode :func:`compute` makes in the fast mode (oriented, default limits): the one a triage worker makes
    once per picture and shares between PDQ and the review thumbnail (``analysis.thumbs``)."""
    return decode(source, fast=True, orient=True)


def compute_decoded(decoded: Decoded | Skipped, mode: PdqMode, *, trim: bool = True) -> PdqResult | Skipped:
    """Hash what :func:`decode` gave (passed through when it is a :class:`Skipped`). ``decoded`` must come from the
    decode ``mode`` makes (``fast_decode`` for the fast mode), or the hash is not that mode's."""
    if isinstance(decoded, Skipped):
        return decoded
    return guarded(
        lambda: compute_pixels(
            decoded.pixels,
            mode,
            trim=trim,
            stored_size=decoded.stored_size,
            orientation=decoded.orientation,
            notes=decoded.notes,
        ),
        lambda exc: Skipped("undecodable", describe(exc)),  # odd pixels from a decoder: never an exception out
    )


def compute_pixels(
    pixels: U8Image,
    mode: PdqMode = PdqMode.EXACT,
    *,
    trim: bool = True,
    stored_size: tuple[int, int] | None = None,
    orientation: int = 1,
    notes: tuple[str, ...] = (),
) -> PdqResult:
    """Hash pixels that are already decoded (H×W×3 RGB or H×W grey uint8), e.g. a video frame.

    Why separate from :func:`compute`: video decoders hand over arrays, and a frame must get exactly the
    hash its still would get (reference reduction, trimmed variant, same low-quality rules), so that a
    frame can be matched against image hash sets and a still against video frames. ``stored_size``
    (width, height) defaults to the array's own size.
    """
    hasher = hash_rgb if mode is PdqMode.EXACT else hash_rgb_turned
    full = hasher(pixels)
    box = content_box(pixels) if trim else None
    trimmed = None
    if box is not None:
        left, top, right, bottom = box
        trimmed = hasher(pixels[top:bottom, left:right])
    if stored_size is None:
        stored_size = (int(pixels.shape[1]), int(pixels.shape[0]))
    return PdqResult(mode, full, trimmed, box, stored_size, orientation, notes)
