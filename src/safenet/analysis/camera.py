"""The camera an image says took it: EXIF make, model and body serial number, read from its header only.

Why on demand and not during triage: the review's side panel shows it for one item at a time, so the case
need not keep it for every picture. Only the container's metadata is parsed (Pillow opens the header and
``getexif`` reads the tags); no pixel is decoded. Evidence is hostile: the bytes are capped by the caller,
every text is cut to a short length and stripped of control characters, and any parser failure becomes a
plain reason (``analysis.guard``), never an exception.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from PIL import Image

from safenet.analysis import heif
from safenet.analysis.guard import describe, guarded

#: EXIF lives in a JPEG's APP1 segment (at most 64 KiB) near the start; TIFF-based files may point further in.
HEADER_BYTES: Final = 1 << 20
MAX_TEXT: Final = 120
_MAKE: Final = 0x010F
_MODEL: Final = 0x0110
_EXIF_IFD: Final = 0x8769
_BODY_SERIAL: Final = 0xA431  # BodySerialNumber (EXIF 2.3)


@dataclass(frozen=True, slots=True)
class Camera:
    make: str | None
    model: str | None
    serial: str | None

    def text(self) -> str:
        parts = [f"make {self.make}" if self.make else "", f"model {self.model}" if self.model else ""]
        parts.append(f"serial {self.serial}" if self.serial else "")
        found = ", ".join(p for p in parts if p)
        return found or "no camera make, model or serial in the picture's EXIF"


def camera_of(data: bytes) -> Camera | str:
    """The EXIF camera of a picture's first bytes, or a short reason why it could not be read."""
    return guarded(lambda: _read(data), lambda exc: f"EXIF could not be read ({describe(exc)})")


def _read(data: bytes) -> Camera:
    heif.ready()  # a phone's HEIC says which camera took it too
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        serial = exif.get_ifd(_EXIF_IFD).get(_BODY_SERIAL)
        return Camera(_clean(exif.get(_MAKE)), _clean(exif.get(_MODEL)), _clean(serial))


def _clean(value: object) -> str | None:
    """A printable, bounded text from a tag value (bytes or str); None when absent or empty."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value[: MAX_TEXT * 2] if ch.isprintable()).strip().strip("\x00")
    return text[:MAX_TEXT] or None
