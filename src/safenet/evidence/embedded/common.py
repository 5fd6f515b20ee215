"""What the embedded-picture producers share: limits, the EMBEDDED layer, items and bounded reads.

Offsets and sizes inside a picture's or a document's structure come from the evidence and may point
anywhere. Every read here is clipped to the parent; a lie costs a warning, not memory or time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.caches.common import image_extension
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import EvidenceWarning, Item, WarningSink
from safenet.reasons import reason_of

MIB = 1 << 20
PDF = "pdf"  # the producer name of the pdf module (here: the package imports pypdf only when a PDF is met)


@dataclass(frozen=True, slots=True)
class EmbeddedLimits:
    """How much work one parent file may cause."""

    max_pictures: int = 10_000  # pictures taken from one parent before the rest is refused
    max_picture_bytes: int = 64 * MIB  # an embedded picture larger than this is refused
    max_parent_bytes: int = 1024 * MIB  # a PDF larger than this is not parsed
    max_stream_bytes: int = 256 * MIB  # an OLE stream larger than this is not searched (it is read into memory)
    max_objects: int = 500_000  # PDF objects or OLE streams looked at in one parent
    max_seconds: float = 60.0  # wall time for one parent's structure walk
    max_ifds: int = 64  # TIFF/EXIF image file directories followed in one parent
    max_segments: int = 4096  # JPEG marker segments walked before the first scan
    max_depth: int = 2  # embedded pictures inside embedded pictures (PDF › JPEG › EXIF thumbnail)


class PictureBudget:
    """Counts pictures and time for one parent; ``exceeded`` says which limit was crossed, once."""

    def __init__(self, limits: EmbeddedLimits) -> None:
        self.limits = limits
        self.pictures = 0
        self._deadline = time.monotonic() + limits.max_seconds

    def out_of_time(self) -> bool:
        return time.monotonic() > self._deadline

    def take(self) -> bool:
        """Count one more picture; False when the limit is reached."""
        self.pictures += 1
        return self.pictures <= self.limits.max_pictures


def embedded_depth(locator: Locator) -> int:
    return sum(1 for layer in locator.layers if layer.kind is LayerKind.EMBEDDED)


def embedded_item(
    parent: Item,
    layer: Layer,
    size: int,
    head: bytes,
    note: str,
    *,
    structural: bool,
) -> Item:
    """The Item for one embedded picture.

    ``structural`` pictures (EXIF thumbnails, camera previews, MPO secondary pictures) need specialist
    software to see, so they are flagged ``carved`` like cache entries and never count as accessible
    images; pictures of documents (PDF, Office) are seen by opening the document and keep its flags.
    """
    name = f"{layer.value}.{image_extension(head[:64])}"
    carved = True if structural else parent.carved
    return Item(parent.locator.child(layer), name, size, deleted=parent.deleted, carved=carved, note=note)


def warn_at(warn: WarningSink, code: str, message: str, parent: Item, layer: Layer | None = None) -> None:
    locator = parent.locator.child(layer) if layer is not None else parent.locator
    warn(EvidenceWarning(code, display_safe(message), locator))


def read_upto(stream: BinaryIO, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes at ``offset`` of a seekable stream (fewer at its end)."""
    if offset < 0 or length <= 0:
        return b""
    stream.seek(offset)
    parts: list[bytes] = []
    while length > 0:
        block = stream.read(length)
        if not block:
            break
        parts.append(block)
        length -= len(block)
    return b"".join(parts)


def byte_range(offset: int, length: int) -> str:
    return f"bytes {offset}–{offset + length}"


def reason(exc: BaseException) -> str:
    return reason_of(exc)
