"""Pictures inside ISO base media files: HEIF/HEIC/AVIF Exif thumbnails and JPEG items, Canon CR3 previews.

* HEIF (ISO/IEC 23008-12), HEIC and AVIF: the ``meta`` box lists items in ``iinf`` (``infe`` version 2/3:
  item ID and item type) and where their bytes are in ``iloc`` (extents in the file, construction
  method 0, or in the ``idat`` box, method 1). An ``Exif`` item starts with a 4-byte big-endian offset
  to its TIFF header; the TIFF structure's IFD1 may name a JPEG thumbnail, read with the same IFD
  parser as a JPEG's APP1 (:func:`safenet.evidence.embedded.exif.exif_thumbnails`). A ``jpeg`` item
  (a JPEG-coded thumbnail or preview) is a picture of its own. Only items stored as one contiguous
  extent are byte ranges of the file; an item split over several extents is not extracted.
  HEVC-coded items (``hvc1``: the main picture, tiles and thumbnails of a HEIC) and AV1-coded items
  (``av01``) are not extracted: no hash set holds bare HEVC/AV1 bitstreams, and a perceptual hash would
  need a decoder.
* Canon CR3 (ftyp brand ``crx ``), after Laurent Clévy's description (github.com/lclevy/canon_cr3):
  ``moov`` › ``uuid`` 85c0b687-820f-11e0-8111-f4ce462b6a48 › ``THMB`` (version, 3 flag bytes, width u16
  at 12, height u16 at 14, JPEG size u32 at 16, two u16 at 20/22, the JPEG at 24 of the box), and a
  top-level ``uuid`` eaf42b5e-1c98-4b88-b9fb-b7dc406e4d16 whose payload is an 8-byte field followed by
  the ``PRVW`` box (u32 at 8, u16 at 12, width u16 at 14, height u16 at 16, u16 at 18, JPEG size u32
  at 20, the JPEG at 24). All integers big-endian. Only a whole JPEG (SOI at the start, EOI at the
  end) is taken: a THMB of raw pixels (some versions) is left alone, a PRVW that is not one is damage.
  The full-size JPEG of the first track (``trak``/``stco`` in ``mdat``) is not extracted.

Each picture becomes parent › EMBEDDED(value, offset, length, detail): "exif-thumbnail" (detail "exif")
for an Exif item's IFD1 thumbnail, "heif-item-<ID>" (detail "heif") for a JPEG item, "preview-1" /
"thumbnail" (detail "cr3") for CR3. Box sizes are checked against the parent box (a box that runs past
its parent or would not advance the walk is damage), nesting is followed only along the paths above
and never deeper than :data:`MAX_DEPTH`, and every offset is checked before anything is read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from safenet.evidence.caches.common import stream_size
from safenet.evidence.embedded.common import PictureBudget, read_upto
from safenet.evidence.embedded.exif import EXIF, Bad, Found, exif_thumbnails
from safenet.reasons import reason_of

HEIF = "heif"
CR3 = "cr3"

MAX_DEPTH = 8  # box nesting followed (real files use 4)
_MAX_BOXES = 65_536  # boxes walked in one parent
_MAX_TABLE = 16 << 20  # an iinf/iloc/PRVW header larger than this is damage
_MAX_ITEMS = 65_536
_MAX_EXTENTS = 4096
_CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
_PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")
_EOI = b"\xff\xd9"


@dataclass(frozen=True, slots=True)
class Box:
    type: bytes
    start: int  # of the header, in the file
    body: int  # first byte after the header (and the uuid's extended type)
    end: int
    uuid: bytes = b""


@dataclass(slots=True)
class HeifItem:
    """One item of a HEIF ``meta`` box: its type (from ``infe``) and extents (file offset, length)."""

    item_id: int
    item_type: str = ""
    extents: list[tuple[int, int]] = field(default_factory=list)


class _Boxes:
    """Bounded box walks over a seekable stream of ``size`` bytes."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream, self.size, self.walked = stream, size, 0

    def read(self, offset: int, length: int) -> bytes:
        return read_upto(self.stream, offset, length)

    def children(self, start: int, end: int, depth: int) -> Iterator[Box]:
        """The boxes chained from ``start`` to ``end`` (a parent's payload); lies raise :class:`Bad`."""
        if depth > MAX_DEPTH:
            raise Bad(f"boxes nested deeper than {MAX_DEPTH} levels at offset {start}")
        pos = start
        while pos + 8 <= end:
            self.walked += 1
            if self.walked > _MAX_BOXES:
                raise Bad(f"more than {_MAX_BOXES} boxes")
            head = self.read(pos, 16)
            size, kind, header = int.from_bytes(head[:4], "big"), head[4:8], 8
            if size == 1:
                if len(head) < 16:
                    raise Bad(f"box at {pos} is cut short")
                size, header = int.from_bytes(head[8:16], "big"), 16
            elif size == 0:
                size = end - pos  # "to the end of the parent"
            uuid = b""
            if kind == b"uuid":
                uuid = self.read(pos + header, 16)
                header += 16
            if size < header or pos + size > end:
                name = kind.decode("latin-1")
                raise Bad(f"box {name!r} at {pos} claims {size} bytes; its parent ends at {end}")
            yield Box(kind, pos, pos + header, pos + size, uuid)
            pos += size

    def child(self, parent: Box, kind: bytes, depth: int, skip: int = 0) -> Box | None:
        return next((box for box in self.children(parent.body + skip, parent.end, depth) if box.type == kind), None)


def _uint(data: bytes, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if pos + size > len(data):
        raise Bad("table runs past the end of its box")
    return int.from_bytes(data[pos : pos + size], "big")


def _payload(boxes: _Boxes, box: Box) -> bytes:
    if box.end - box.body > _MAX_TABLE:
        raise Bad(f"box {box.type.decode('latin-1')!r} at {box.start} is {box.end - box.start} bytes")
    return boxes.read(box.body, box.end - box.body)


def _infe(boxes: _Boxes, box: Box) -> tuple[int, str] | None:
    """(item ID, item type) of an ``infe`` box; versions 0/1 carry no item type."""
    data = boxes.read(box.body, 16)
    version = data[0] if data else 0
    if version not in (2, 3):
        return None
    width = 2 if version == 2 else 4
    item_id = _uint(data, 4, width)
    kind = data[4 + width + 2 : 4 + width + 6]
    if len(kind) < 4:
        raise Bad(f"item info at {box.start} is cut short")
    return item_id, kind.decode("latin-1")


def _iloc(data: bytes, idat: Box | None, size: int) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """(item ID, [(file offset, length)]) of each item located in the file or in ``idat``."""
    version = _uint(data, 0, 1)
    if version > 2:
        raise Bad(f"item location box version {version}")
    sizes = _uint(data, 4, 1)
    offset_size, length_size = sizes >> 4, sizes & 15
    sizes = _uint(data, 5, 1)
    base_size, index_size = sizes >> 4, (sizes & 15 if version else 0)
    if any(s not in (0, 4, 8) for s in (offset_size, length_size, base_size)) or index_size not in (0, 4, 8):
        raise Bad("item location box has field sizes other than 0, 4 or 8")
    id_size = 4 if version == 2 else 2
    count = _uint(data, 6, id_size)
    if count > _MAX_ITEMS:
        raise Bad(f"item location box claims {count} items")
    pos = 6 + id_size
    for _ in range(count):
        item_id = _uint(data, pos, id_size)
        pos += id_size
        method = 0
        if version:
            method = _uint(data, pos, 2) & 15
            pos += 2
        reference = _uint(data, pos, 2)
        base = _uint(data, pos + 2, base_size)
        pos += 2 + base_size
        extent_count = _uint(data, pos, 2)
        pos += 2
        if extent_count > _MAX_EXTENTS:
            raise Bad(f"item {item_id} claims {extent_count} extents")
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset, length = _uint(data, pos, offset_size), _uint(data, pos + offset_size, length_size)
            pos += offset_size + length_size
            extents.append((base + offset, length))
        if reference != 0 or method == 2:
            continue  # in another file, or built from another item: no byte range of this file
        if method == 1:
            if idat is None:
                raise Bad(f"item {item_id} lies in an idat box the file does not have")
            start, room = idat.body, idat.end - idat.body
        else:
            start, room = 0, size
        located = []
        for offset, length in extents:
            length = length or room - offset  # 0: "to the end of the data"
            located.append((start + offset, length))
        yield item_id, located


def heif_items(stream: BinaryIO) -> list[HeifItem]:
    """The items of a HEIF/HEIC/AVIF file's ``meta`` box (type and extents); damage raises :class:`Bad`."""
    boxes = _Boxes(stream, stream_size(stream))
    meta = next((b for b in boxes.children(0, boxes.size, 0) if b.type == b"meta"), None)
    if meta is None:
        return []
    items: dict[int, HeifItem] = {}
    iinf = iloc = idat = None
    for box in boxes.children(meta.body + 4, meta.end, 1):  # meta is a full box: version and flags first
        if box.type == b"iinf":
            iinf = box
        elif box.type == b"iloc":
            iloc = box
        elif box.type == b"idat":
            idat = box
    if iinf is not None:
        head = boxes.read(iinf.body, 8)
        skip = 4 + (2 if head[:1] == b"\0" else 4)
        for box in boxes.children(iinf.body + skip, iinf.end, 2):
            if box.type == b"infe" and (info := _infe(boxes, box)) is not None:
                items.setdefault(info[0], HeifItem(info[0])).item_type = info[1]
    if iloc is not None:
        for item_id, extents in _iloc(_payload(boxes, iloc), idat, boxes.size):
            items.setdefault(item_id, HeifItem(item_id)).extents = extents
    return [items[key] for key in sorted(items)]


def heif_found(stream: BinaryIO, budget: PictureBudget, report: Callable[[str], None]) -> Iterator[Found]:
    """EXIF thumbnails of Exif items and JPEG items of a HEIF file."""
    try:
        items = heif_items(stream)
    except (Bad, struct.error) as exc:
        report(f"HEIF boxes: {reason_of(exc)}")
        return
    size = stream_size(stream)
    for item in items:
        if item.item_type not in ("Exif", "jpeg") or len(item.extents) != 1:
            continue
        offset, length = item.extents[0]
        if item.item_type == "jpeg":
            yield Found(f"heif-item-{item.item_id}", HEIF, offset, length, f"JPEG item {item.item_id} (iloc)")
            continue
        where = f"Exif item {item.item_id}"
        if offset < 0 or length < 4 or offset + length > size:
            report(f"{where} at {offset}+{length} lies outside the {size}-byte file")
            continue
        if length > budget.limits.max_picture_bytes:
            report(f"{where} of {length} bytes is over the {budget.limits.max_picture_bytes}-byte limit")
            continue
        data = read_upto(stream, offset, length)
        tiff_at = 4 + int.from_bytes(data[:4], "big")
        if tiff_at >= length:
            report(f"{where}: TIFF header offset {tiff_at - 4} lies outside the item")
            continue
        yield from exif_thumbnails(data[tiff_at:], offset + tiff_at, budget.limits.max_ifds, report, where)


def _whole_jpeg(boxes: _Boxes, offset: int, length: int, end: int) -> bool:
    if length < 4 or offset + length > end:
        return False
    return boxes.read(offset, 3) == b"\xff\xd8\xff" and boxes.read(offset + length - 2, 2) == _EOI


def cr3_found(stream: BinaryIO, report: Callable[[str], None]) -> Iterator[Found]:
    """The PRVW preview and THMB thumbnail of a Canon CR3 file, where they are whole JPEGs."""
    boxes = _Boxes(stream, stream_size(stream))
    try:
        for box in boxes.children(0, boxes.size, 0):
            if box.type == b"moov":
                canon = next(
                    (b for b in boxes.children(box.body, box.end, 1) if b.type == b"uuid" and b.uuid == _CANON_UUID),
                    None,
                )
                thumb = boxes.child(canon, b"THMB", 2) if canon is not None else None
                if thumb is not None:
                    length = int.from_bytes(boxes.read(thumb.start + 16, 4), "big")
                    if _whole_jpeg(boxes, thumb.start + 24, length, thumb.end):  # raw-ish THMB: left alone
                        yield Found("thumbnail", CR3, thumb.start + 24, length, "JPEG thumbnail (THMB box)")
            elif box.type == b"uuid" and box.uuid == _PREVIEW_UUID:
                preview = boxes.child(box, b"PRVW", 1, skip=8)
                if preview is None:
                    report(f"preview box at {box.start} holds no PRVW box")
                    continue
                length = int.from_bytes(boxes.read(preview.start + 20, 4), "big")
                if not _whole_jpeg(boxes, preview.start + 24, length, preview.end):
                    report(f"PRVW box at {preview.start}: no whole JPEG of {length} bytes at {preview.start + 24}")
                    continue
                yield Found("preview", CR3, preview.start + 24, length, "JPEG preview (PRVW box)")
    except (Bad, struct.error) as exc:
        report(f"CR3 boxes: {reason_of(exc)}")


__all__ = ["CR3", "EXIF", "HEIF", "HeifItem", "cr3_found", "heif_found", "heif_items"]
