"""Decoding evidence images to 8-bit RGB for PDQ: colour modes, EXIF orientation, limits, hostile input.

Why this module exists: the pitfalls seen in python-threatexchange all live here, before the hash.
CMYK JPEGs hashed from raw channel values come out as the bitwise complement, and palette PNGs hashed
from palette *indices* come out 38–42 bits off; 16-bit images clipped by ``convert("L")`` turn white.
Every mode is therefore converted explicitly to what a viewer shows.

Evidence is hostile input: Pillow raises many exception types on malformed files (even reading
``n_frames`` of a truncated GIF), so the whole decode runs inside ``analysis.guard.guarded``: every failure
becomes a typed :class:`Skipped` with a reason code; nothing here raises for bad data.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
from PIL import Image, ImageCms

from safenet.analysis import heif
from safenet.analysis.guard import describe, guarded
from safenet.analysis.pdq.core import REFERENCE_SIDE, U8Image
from safenet.analysis.pdq.jpeg_open import refusal

#: Largest number of pixels decoded. Pillow itself refuses more than 2 × 89.5 MP at open.
DEFAULT_MAX_PIXELS: Final = 1 << 27  # 134 MP
_EXIF_ORIENTATION: Final = 0x0112
_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_VIA_CONVERT: Final = frozenset({"1", "P", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV"})

Source = bytes | str | Path | BinaryIO


@dataclass(frozen=True, slots=True)
class Skipped:
    """An image that was not hashed, and why (a reason code for reports plus a readable message)."""

    reason: str  # "too-large" | "truncated" | "undecodable" | "unsupported-mode"
    message: str


@dataclass(frozen=True, slots=True)
class Decoded:
    """Pixels ready for PDQ: 8-bit RGB (H×W×3) or grey (H×W), EXIF orientation applied when asked for."""

    pixels: U8Image
    stored_size: tuple[int, int]  # width, height as stored in the file
    orientation: int  # EXIF orientation that was applied (1: none)
    notes: tuple[str, ...]


def decode(
    source: Source,
    *,
    fast: bool,
    orient: bool,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Decoded | Skipped:
    """Decode once. ``fast`` lets JPEGs decode DCT-scaled (libjpeg scale 1/2–1/8, still ≥ 512 px a side: what PDQ
    reduces to; review thumbnails are made from the same decode, ``analysis.thumbs``)."""
    if isinstance(source, bytes) and (refused := refusal(source)) is not None:
        return _refused(refused)  # what Pillow would raise, told from the JPEG markers at a thirtieth of the cost
    return guarded(lambda: _decode(source, fast=fast, orient=orient, max_pixels=max_pixels), _skipped)


@functools.cache
def _refused(exc: BaseException) -> Skipped:
    """``_skipped`` of one of ``jpeg_open``'s two answers, made once."""
    return _skipped(exc)


def _skipped(exc: BaseException) -> Skipped:
    """What a decoder failure means for the report: one reason code and the decoder's own words."""
    message = describe(exc)
    if isinstance(exc, Image.DecompressionBombError):
        return Skipped("too-large", message)
    if isinstance(exc, _Unsupported):
        return Skipped("unsupported-mode", message)
    return Skipped("truncated" if "truncated" in str(exc) else "undecodable", message)


def _decode(source: Source, *, fast: bool, orient: bool, max_pixels: int) -> Decoded | Skipped:
    heif.ready()  # HEIC/HEIF open like any other picture
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
        notes: list[str] = []
        stored = image.size
        frames = _frame_count(image, notes)
        if frames > 1:
            notes.append(f"{frames} frames: first frame hashed")
        orientation = _orientation(image, notes) if orient else 1
        if fast and image.format == "JPEG":
            # Asking libjpeg for grey makes it hand over the Y plane: no chroma upsampling, no colour conversion.
            image.draft("L" if image.mode == "RGB" else None, (REFERENCE_SIDE, REFERENCE_SIDE))
        width, height = image.size
        if width * height > max_pixels:
            return Skipped("too-large", f"{stored[0]}×{stored[1]} exceeds the {max_pixels} pixel limit")
        image.load()
        rgb = _to_rgb(image, notes)
        if orientation in _TRANSPOSE:
            rgb = rgb.transpose(_TRANSPOSE[orientation])
        return Decoded(np.asarray(rgb, dtype=np.uint8), stored, orientation, tuple(notes))


def _frame_count(image: Image.Image, notes: list[str]) -> int:
    """Frames in the file; counting walks every frame, so a truncated animation (GIF) fails here while its
    first frame may still decode: that frame is then hashed, with a note."""
    try:
        return int(getattr(image, "n_frames", 1) or 1)
    except Exception as exc:  # Pillow's GIF reader raises IndexError, EOFError, OSError ... here
        image.seek(0)  # counting moved the reader: back to the first frame (a failure here: the guard's)
        notes.append(f"frame count unreadable ({describe(exc)}): first frame hashed")
        return 1


def _orientation(image: Image.Image, notes: list[str]) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # broken EXIF must not stop hashing
        notes.append("EXIF unreadable: orientation not applied")
        return 1
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    if value == 0:  # written by many tools for "unset"
        return 1
    notes.append(f"EXIF orientation {value!r} invalid: not applied")
    return 1


class _Unsupported(ValueError):
    pass


def _to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """What a viewer shows, as 8-bit RGB or grey. Alpha is dropped (as CImg, pdqhash users and PIL do)."""
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode in _VIA_CONVERT:
        return image.convert("RGB")
    if mode == "PA":
        return image.convert("RGBA").convert("RGB")
    if mode == "LAB":
        transform = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
        converted = ImageCms.applyTransform(image, transform)
        if converted is None:  # pragma: no cover - only with inPlace=True
            raise _Unsupported("LAB conversion failed")
        return converted
    if mode.startswith("I;16"):
        values = np.asarray(image).astype(np.uint16)
        notes.append("16-bit image scaled to 8 bits")
        return Image.fromarray((values >> 8).astype(np.uint8), "L")
    if mode in ("I", "F"):
        return Image.fromarray(_scale_wide(np.asarray(image), mode, notes), "L")
    raise _Unsupported(f"image mode {mode} is not supported")


def _scale_wide(values: np.ndarray, mode: str, notes: list[str]) -> U8Image:
    """32-bit integer or float greys: the value range decides the scale (no viewer standard exists)."""
    data = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode == "F" and low >= 0.0 and high <= 1.0:
        scaled, how = data * 255.0, "0–1 float scaled to 8 bits"
    elif low >= 0.0 and high <= 255.0:
        scaled, how = data, None
    elif low >= 0.0 and high <= 65535.0:
        scaled, how = np.floor(data / 256.0), "16-bit range scaled to 8 bits"  # as I;16: keep the high byte
    else:
        scaled, how = (data - low) * (255.0 / (high - low)), f"range {low:g}..{high:g} stretched to 8 bits"
    if how:
        notes.append(how)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
