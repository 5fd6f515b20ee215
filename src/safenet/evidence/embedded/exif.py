"""EXIF thumbnails, camera previews and MPO pictures: JPEG byte ranges inside a JPEG or TIFF parent.

* A JPEG's APP1 ``Exif`` segment holds a TIFF structure; its IFD1 names the thumbnail with
  JPEGInterchangeFormat (0x201, an offset from the TIFF header) and JPEGInterchangeFormatLength (0x202).
  Every Exif APP1 is read (a second one may hold a thumbnail of an earlier version of the picture).
* A JPEG's APP2 ``MPF`` segment (CIPA DC-007: MPO stereo pairs, Ultra HDR gain maps) lists every
  picture of the file in its MP entry table (0xB002: attribute, size, offset from the MP header;
  the first picture's offset is 0, the start of the file).
* A TIFF file (DNG and TIFF-based camera RAW: NEF, CR2, ARW) keeps previews in the IFD chain and in
  SubIFDs (0x14A): an IFD with 0x201/0x202, or JPEG-compressed (6/7) with one strip that is a whole
  baseline or progressive JPEG (a lossless raw strip is not a picture and is left alone).

Each picture becomes parent › EMBEDDED(value="exif-thumbnail" | "mpo-2" | "preview-1", offset, length,
detail="exif" | "mpo" | "tiff"): the range is in the parent, so it reopens without parsing again. All
offsets are checked against the segment or the file before anything is read; IFD loops, offsets past
the end, zero lengths and non-JPEG data are warnings.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from safenet.evidence.caches.common import stream_size, window
from safenet.evidence.embedded.common import PictureBudget, byte_range, embedded_item, read_upto, warn_at
from safenet.evidence.locator import Layer, LayerKind
from safenet.evidence.model import Item, WarningSink
from safenet.reasons import reason_of

EXIF = "exif"
MPO = "mpo"
TIFF = "tiff"

_SOI = b"\xff\xd8\xff"
_PICTURE_SOF = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive: pictures a viewer shows
_MAX_ENTRIES = 1024  # entries in one IFD (real ones have < 100)
_MAX_VALUES = 4096  # values of one tag read (SubIFD lists, MP entries)
#: TIFF headers: standard (42) and Olympus ORF ("IIRO"/"MMOR" 0x4F52, "IIRS" 0x5352); the IFD0 offset follows.
_LITTLE = frozenset({b"II*\x00", b"IIRO", b"IIRS"})
_BIG = frozenset({b"MM\x00*", b"MMOR"})
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 7: 1, 9: 4, 13: 4, 16: 8, 17: 8, 18: 8}


class Bad(Exception):
    """A structure is damaged; the message says where."""


@dataclass(frozen=True, slots=True)
class Found:
    label: str  # layer value before de-duplication ("exif-thumbnail", "mpo-2", "preview")
    detail: str
    offset: int  # in the parent
    length: int
    what: str  # for the note: "EXIF thumbnail (IFD1)", "MPO picture 2 of 3" ...


Reader = Callable[[int, int], bytes]


class _Tiff:
    """Bounded reads of a TIFF structure through ``read(offset, length)`` over ``size`` bytes."""

    def __init__(self, read: Reader, size: int) -> None:
        head = read(0, 8)
        if head[:4] in _LITTLE:
            self.order = "<"
        elif head[:4] in _BIG:
            self.order = ">"
        else:
            raise Bad("no TIFF header")
        self.read, self.size = read, size
        self.first = struct.unpack(self.order + "I", head[4:8])[0]

    def ifd(self, offset: int) -> tuple[dict[int, tuple[int, int, bytes]], int]:
        """Tag → (type, count, 4-byte value field), and the next IFD's offset."""
        if offset < 8 or offset + 2 > self.size:
            raise Bad(f"IFD offset {offset} lies outside the {self.size}-byte structure")
        count = struct.unpack(self.order + "H", self.read(offset, 2))[0]
        if count == 0 or count > _MAX_ENTRIES:
            raise Bad(f"IFD at {offset} claims {count} entries")
        body = self.read(offset + 2, count * 12 + 4)
        if len(body) < count * 12:
            raise Bad(f"IFD at {offset} runs past the end")
        entries: dict[int, tuple[int, int, bytes]] = {}
        for i in range(count):
            tag, typ, num = struct.unpack_from(self.order + "HHI", body, i * 12)
            entries.setdefault(tag, (typ, num, body[i * 12 + 8 : i * 12 + 12]))
        following = struct.unpack(self.order + "I", body[count * 12 :])[0] if len(body) == count * 12 + 4 else 0
        return entries, following

    def ints(self, entry: tuple[int, int, bytes]) -> list[int]:
        typ, num, field = entry
        codes = {1: "B", 3: "H", 4: "I", 13: "I", 16: "Q", 7: "B"}
        if typ not in codes or num > _MAX_VALUES:
            return []
        size = _TYPE_SIZES[typ] * num
        data = field[:size] if size <= 4 else self.read(struct.unpack(self.order + "I", field)[0], size)
        if len(data) < size:
            raise Bad("tag values run past the end")
        return list(struct.unpack(self.order + codes[typ] * num, data))

    def raw(self, entry: tuple[int, int, bytes], limit: int) -> bytes:
        typ, num, field = entry
        size = _TYPE_SIZES.get(typ, 1) * num
        if size > limit:
            raise Bad(f"tag of {size} bytes is larger than allowed")
        return field[:size] if size <= 4 else self.read(struct.unpack(self.order + "I", field)[0], size)


def _one(tiff: _Tiff, entries: dict[int, tuple[int, int, bytes]], tag: int) -> int | None:
    if tag not in entries:
        return None
    values = tiff.ints(entries[tag])
    return values[0] if len(values) == 1 else None


def _walk_ifds(tiff: _Tiff, max_ifds: int, sub_ifds: bool) -> Iterator[tuple[str, dict[int, tuple[int, int, bytes]]]]:
    """Every IFD reachable by the chain (and SubIFDs), named "IFD0", "IFD1", "IFD0/SubIFD1" ...; loops raise."""
    seen: set[int] = set()
    queue: list[tuple[str, int, bool]] = [("IFD0", tiff.first, True)]
    while queue:
        name, offset, in_chain = queue.pop(0)
        if offset == 0:
            continue
        if offset in seen:
            raise Bad(f"IFD loop: {name} points back to the IFD at {offset}")
        if len(seen) >= max_ifds:
            raise Bad(f"more than {max_ifds} IFDs")
        seen.add(offset)
        entries, following = tiff.ifd(offset)
        yield name, entries
        if sub_ifds and 0x14A in entries:
            for i, sub in enumerate(tiff.ints(entries[0x14A])[:max_ifds], 1):
                queue.append((f"{name}/SubIFD{i}", sub, False))
        if in_chain and following:
            queue.append((f"IFD{int(name[3:]) + 1}", following, True))


def _is_picture_jpeg(head: bytes) -> bool:
    """Whether the head of a JPEG stream reaches a baseline/extended/progressive frame header."""
    if not head.startswith(_SOI):
        return False
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return False
        marker = head[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker in _PICTURE_SOF
        if marker in (0xD9, 0xDA):
            return False
        pos += 2 + int.from_bytes(head[pos + 2 : pos + 4], "big")
    return False


def _tiff_previews(tiff: _Tiff, base: int, max_ifds: int, in_jpeg: bool, peek: Reader) -> Iterator[Found]:
    """JPEG pictures named by a TIFF structure whose header sits at parent offset ``base``."""
    for name, entries in _walk_ifds(tiff, max_ifds, sub_ifds=not in_jpeg):
        offset, length = _one(tiff, entries, 0x201), _one(tiff, entries, 0x202)
        if offset is not None and length is not None:  # a lone tag names nothing
            if in_jpeg and name == "IFD1":
                label, what = "exif-thumbnail", "EXIF thumbnail (IFD1)"
            else:
                label, what = "preview", f"JPEG preview ({name}, JPEGInterchangeFormat)"
            yield Found(label, EXIF if in_jpeg else TIFF, base + offset, length, what)
        elif not in_jpeg and _one(tiff, entries, 0x103) in (6, 7):
            strip, strip_len = _one(tiff, entries, 0x111), _one(tiff, entries, 0x117)
            if strip is not None and strip_len and _is_picture_jpeg(peek(base + strip, 64 << 10)):
                yield Found("preview", TIFF, base + strip, strip_len, f"JPEG preview ({name}, one strip)")


def _segments(stream: BinaryIO, size: int, max_segments: int) -> Iterator[tuple[int, int, int]]:
    """(marker, data offset, data length) of each JPEG marker segment before the first scan."""
    pos = 2
    for _ in range(max_segments):
        head = read_upto(stream, pos, 4)
        if len(head) < 2 or head[0] != 0xFF:
            return
        marker = head[1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD9, 0xDA) or len(head) < 4:
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(head[2:4], "big")
        if length < 2 or pos + 2 + length > size:
            return
        yield marker, pos + 4, length - 2
        pos += 2 + length


class _Beyond(Exception):
    """The walk needs bytes past the head it was given."""


class _HeadOnly:
    """A file's first bytes read as the file (for ``_segments``); a read past them raises ``_Beyond``."""

    def __init__(self, head: bytes) -> None:
        self._head, self._pos = head, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        if size < 0 or self._pos + size > len(self._head):
            raise _Beyond
        self._pos += size
        return self._head[self._pos - size : self._pos]


def jpeg_may_hold_pictures(head: bytes, max_segments: int) -> bool:
    """Whether a JPEG starting with ``head`` may hold an EXIF thumbnail or MPO picture: its marker segments, walked
    as the scan walks them, reach an APP1 or APP2 segment or go past ``head``. False only where the scan would
    find nothing: the structure ends first (as in a damaged file, or other data behind a JPEG head)."""
    walk = _segments(cast(BinaryIO, _HeadOnly(head)), sys.maxsize, max_segments)  # the size: checked by the scan
    try:
        return any(marker in (0xE1, 0xE2) for marker, _offset, _length in walk)
    except _Beyond:
        return True


def _mpo_entries(reader: Reader, size: int, mp_base: int, max_pictures: int) -> Iterator[Found]:
    tiff = _Tiff(reader, size)
    entries, _ = tiff.ifd(tiff.first)
    if 0xB002 not in entries:
        raise Bad("MP index has no MP entry table")
    table = tiff.raw(entries[0xB002], 16 * max_pictures + 16)
    count = len(table) // 16
    for i in range(count):
        _attr, length, offset = struct.unpack_from(tiff.order + "III", table, i * 16)
        where = 0 if i == 0 else mp_base + offset
        what = f"MPO picture {i + 1} of {count} (MP entry table)"
        yield Found(f"mpo-{i + 1}", MPO, where, length, what)


def _collect(walk: Iterator[Found], where: str, report: Callable[[str], None]) -> list[Found]:
    """What a (lazy) structure walk found before any damage; the damage is reported."""
    out: list[Found] = []
    try:
        out.extend(walk)
    except (Bad, struct.error) as exc:
        report(f"{where}: {reason_of(exc)}")
    return out


def _exif_segment(data: bytes, base: int, max_ifds: int) -> Iterator[Found]:
    reader = _bytes_reader(data)
    yield from _tiff_previews(_Tiff(reader, len(data)), base, max_ifds, True, reader)


def _tiff_file(peek: Reader, size: int, max_ifds: int) -> Iterator[Found]:
    yield from _tiff_previews(_Tiff(peek, size), 0, max_ifds, False, peek)


def _bytes_reader(data: bytes) -> Reader:
    def read(offset: int, length: int) -> bytes:
        return data[offset : offset + length] if offset >= 0 else b""

    return read


def _jpeg_found(stream: BinaryIO, size: int, budget: PictureBudget, report: Callable[[str], None]) -> Iterator[Found]:
    for marker, start, length in _segments(stream, size, budget.limits.max_segments):
        if marker not in (0xE1, 0xE2):
            continue
        magic = read_upto(stream, start, 6)
        if marker == 0xE1 and magic == b"Exif\x00\x00":
            data = read_upto(stream, start + 6, length - 6)
            yield from exif_thumbnails(data, start + 6, budget.limits.max_ifds, report, f"EXIF segment at {start}")
        elif marker == 0xE2 and magic[:4] == b"MPF\x00":
            data = read_upto(stream, start + 4, length - 4)
            reader = _bytes_reader(data)
            mpo = _collect(
                _mpo_entries(reader, len(data), start + 4, budget.limits.max_pictures),
                f"MPF segment at {start}",
                report,
            )
            if len(mpo) > 1:  # one entry is the file itself
                yield from mpo


def exif_thumbnails(data: bytes, base: int, max_ifds: int, report: Callable[[str], None], where: str) -> list[Found]:
    """EXIF thumbnails (IFD1) of a TIFF structure held in ``data``, which starts at parent offset ``base``.

    Used for JPEG APP1 segments and for the Exif items of HEIF files; a thumbnail that does not lie
    inside ``data`` is reported, not returned.
    """
    found = []
    for one in _collect(_exif_segment(data, base, max_ifds), where, report):
        if one.offset < base or one.offset + one.length > base + len(data):
            report(f"{one.what} at {one.offset}+{one.length} lies outside its {where}")
            continue
        found.append(one)
    return found


def expand_exif(
    parent: Item, filetype: str, stream: BinaryIO, warn: WarningSink, budget: PictureBudget
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each EXIF thumbnail, preview or MPO picture of a seekable JPEG or TIFF stream."""
    size = stream_size(stream)

    def report(problem: str) -> None:
        warn_at(warn, "embedded-corrupt", problem, parent)

    if filetype == "jpeg":
        found: Iterator[Found] = _jpeg_found(stream, size, budget, report)
    else:

        def peek(offset: int, length: int) -> bytes:
            return read_upto(stream, offset, length)

        found = iter(_collect(_tiff_file(peek, size, budget.limits.max_ifds), "TIFF structure", report))
    yield from emit(parent, stream, found, "JPEG" if filetype == "jpeg" else "TIFF/camera RAW", warn, budget)


def emit(
    parent: Item, stream: BinaryIO, found: Iterator[Found], kind: str, warn: WarningSink, budget: PictureBudget
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Check each JPEG range found in a parent (inside it, not empty, within the limits, starts with a JPEG
    marker) and yield it as an item named by its label; ``kind`` names the parent in the note."""
    size = stream_size(stream)
    seen: set[tuple[int, int]] = set()
    labels: dict[str, int] = {}
    for one in found:
        if (one.offset, one.length) in seen:
            continue
        seen.add((one.offset, one.length))
        labels[one.label] = labels.get(one.label, 0) + 1
        label = one.label if one.label != "preview" else f"preview-{labels[one.label]}"
        label = label if one.label == "preview" or labels[one.label] == 1 else f"{label}-{labels[one.label]}"
        layer = Layer(LayerKind.EMBEDDED, value=label, offset=one.offset, length=one.length, detail=one.detail)
        if one.length <= 0:
            warn_at(warn, "embedded-corrupt", f"{one.what} has length {one.length}", parent, layer)
            continue
        if one.offset < 0 or one.offset + one.length > size:
            message = f"{one.what} at {one.offset}+{one.length} lies outside the {size}-byte file"
            warn_at(warn, "embedded-corrupt", message, parent, layer)
            continue
        if one.length > budget.limits.max_picture_bytes:
            message = f"{one.what} of {one.length} bytes is over the {budget.limits.max_picture_bytes}-byte limit"
            warn_at(warn, "embedded-limit", message, parent, layer)
            continue
        head = read_upto(stream, one.offset, 64)
        if not head.startswith(_SOI):
            warn_at(warn, "embedded-corrupt", f"{one.what} does not start with a JPEG marker", parent, layer)
            continue
        if not budget.take():
            warn_at(warn, "embedded-limit", f"more than {budget.limits.max_pictures} pictures; rest refused", parent)
            return
        note = f"{one.what} of the parent {kind}, {byte_range(one.offset, one.length)}"
        yield (
            embedded_item(parent, layer, one.length, head, note, structural=True),
            window(stream, one.offset, one.length),
        )
