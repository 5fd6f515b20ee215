"""Carving: files found by structure in a region of bytes that no file system lists any more.

:func:`expand_carved` turns a region (unallocated space, slack, a file of unknown type) into
(Item, stream) pairs the way an archive expander does; each item's locator is the region's locator
› CARVED(offset, length) with the file type in ``value`` and "partial" in ``detail`` when the file
is not whole. :func:`open_carved` reopens one from its layer. Each carve's note says what was
validated, or what failed, in words an examiner can repeat in court.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from typing import BinaryIO

from safenet.analysis.filetype import FileType, MediaKind
from safenet.evidence.caches.common import stream_size, window
from safenet.evidence.carve.model import Carve, CarveLimits, CarveSpan
from safenet.evidence.carve.scan import CarveLimitReached, carve
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, WarningSink
from safenet.reasons import reason_of

__all__ = [
    "IN_FILE",
    "PARTIAL",
    "REGION",
    "WARNING_CODES",
    "Carve",
    "CarveLimits",
    "CarveSpan",
    "carve",
    "carved_item",
    "expand_carved",
    "in_file_candidate",
    "is_region",
    "open_carved",
]

PARTIAL = "partial"
#: PATH-layer detail of a back-end's region item: bytes no file holds ("$Unallocated", "$FileSlack",
#: "$VolumeSlack" of a disk image's file system). Stored in case files: never rename.
REGION = "unallocated"
#: Claim kind of a file of unknown type carved inside (full profile).
IN_FILE = "in-file"
#: Every warning code of carving and of the regions handed to it (the image back-end emits the last two).
WARNING_CODES: dict[str, str] = {
    "carve-limit": "a region held more carvable files than the limit; the rest of it was not carved",
    "carve-failed": "a region could not be read to its end; carving stopped there",
    "carve-not-supported": "a file system Safenet reads without TSK (APFS, XFS): its unallocated space and slack "
    "are not carved",
    "fs-corrupt": "a file system's allocation map (FAT, $Bitmap, exFAT bitmap, ext group bitmaps, HFS+ allocation "
    "file) or its volume size could not be read: that region (unallocated space or volume slack) is not "
    "carved, the others are (also used for other file-system damage)",
}
_EXTENSIONS = {"jpeg": "jpg", "tiff": "tif", "heic": "heic"}
_HOW = {
    "jpeg": "marker segments chained from SOI through SOS, compressed data scanned to EOI",
    "png": "every chunk CRC checked through IEND",
    "gif": "every block walked to the trailer",
    "bmp": "header sizes agree (no checksum: content not verified)",
    "tiff": "IFD chain and strip extents (best effort)",
    "webp": "RIFF chunks chained to the declared size",
    "avi": "RIFF chunks chained to the declared size",
    "mp4": "boxes chained, moov children add up, moov and mdat present (media data not decoded)",
    "mov": "boxes chained, moov children add up, moov and mdat present (media data not decoded)",
    "heic": "boxes chained, meta and mdat present",
}


def is_region(item: Item) -> bool:
    """Whether an item is a region to carve (unallocated space, file or volume slack), not a file to hash."""
    leaf = item.locator.leaf
    return leaf.kind is LayerKind.PATH and leaf.detail == REGION


def in_file_candidate(item: Item, filetype: FileType, limits: CarveLimits) -> bool:
    """Whether a file is carved inside: its type is unknown (pictures, documents and archives have their
    own producers, and an empty file holds nothing), it is not itself a carve (no carving inside carves),
    and it is no larger than ``limits.max_in_file``."""
    return (
        filetype.kind is MediaKind.OTHER
        and filetype.name != "empty"
        and item.locator.leaf.kind is not LayerKind.CARVED
        and not is_region(item)
        and 0 < (item.size or 0) <= limits.max_in_file
    )


def carved_item(region: Locator, found: Carve) -> Item:
    """The Item for one carve in a region."""
    layer = Layer(
        LayerKind.CARVED,
        value=found.filetype,
        offset=found.offset,
        length=found.length,
        detail=PARTIAL if found.partial else None,
    )
    ext = _EXTENSIONS.get(found.filetype, found.filetype)
    if found.partial:
        note = f"partial {found.filetype} carved at offset {found.offset}, {found.length} bytes: {found.partial}"
    else:
        note = f"{found.filetype} carved at offset {found.offset}, {found.length} bytes; {_HOW[found.filetype]}"
    return Item(region.child(layer), f"carved_{found.offset}.{ext}", found.length, carved=True, note=note)


def expand_carved(
    region: Item,
    open_region: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CarveLimits | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each file carved from a seekable region with a stream of its bytes (valid until the next).

    A region stream with a ``disk_location(offset)`` method (a disk image's unallocated space, whose
    offsets are not disk offsets) has its words added to each carve's note. ``limits.span`` (a byte range of a
    split region) applies to a region only: a file carved inside is always scanned whole."""
    if limits is not None and limits.span is not None and not is_region(region):
        limits = dataclasses.replace(limits, span=None)
    with open_region() as stream:
        size = stream_size(stream)
        where = getattr(stream, "disk_location", None)
        try:
            for found in carve(stream, size, limits):
                item = carved_item(region.locator, found)
                if callable(where):
                    item = dataclasses.replace(item, note=f"{item.note}; starts at {where(found.offset)}")
                yield item, window(stream, found.offset, found.length)
        except CarveLimitReached as exc:
            warn(
                EvidenceWarning(
                    "carve-limit", f"{reason_of(exc)}; the rest of the region was not carved", region.locator
                )
            )
        except OSError as exc:
            reason = exc.strerror or reason_of(exc)
            warn(EvidenceWarning("carve-failed", f"region read failed ({reason}); carving stopped", region.locator))


def open_carved(container: BinaryIO, layer: Layer) -> BinaryIO:
    """Reopen a carved range from its layer and a seekable stream of its region."""
    if layer.kind is not LayerKind.CARVED or layer.offset is None or layer.length is None:
        raise EvidenceError(f"not a carved range: {layer.kind.value}")
    if not container.seekable():
        raise EvidenceError("cannot reopen a carved range: its region is not seekable")
    size = stream_size(container)
    if layer.offset + layer.length > size:
        raise EvidenceError(f"carved range {layer.offset}+{layer.length} lies outside its region ({size} bytes)")
    return window(container, layer.offset, layer.length)
