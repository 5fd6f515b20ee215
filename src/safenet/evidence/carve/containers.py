"""RIFF (WebP, AVI) and ISO base media (MP4, MOV) validation for the carver: walk the boxes/chunks.

Both formats are chains of (size, four-character code) records. A real file's records chain exactly
from its first byte to its declared end; a gap of other data breaks the chain at a record whose code
is not printable or whose size runs past the end. The walk is bounded by the per-type cap. Media
data itself (mdat, movi) is not decoded, so a fragment inside it is not detected: such a video is
reported whole by structure and its MD5 will not match the original.
"""

from __future__ import annotations

import struct

from safenet.evidence.carve.model import Carve, Source

_PRINTABLE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-")


def _fourcc(code: bytes) -> bool:
    return len(code) == 4 and all(c in _PRINTABLE for c in code)


def validate_riff(src: Source, start: int, cap: int) -> Carve | None:
    head = src.read(start, 32)
    if len(head) < 20:
        return None
    total = int.from_bytes(head[4:8], "little") + 8
    form = head[8:12]
    kind = {b"WEBP": "webp", b"AVI ": "avi"}.get(form)
    first = head[12:16]
    if kind is None or total < 20:
        return None
    if kind == "webp" and not (first in (b"VP8 ", b"VP8X") or (first == b"VP8L" and head[20:21] == b"\x2f")):
        return None
    if kind == "webp" and first == b"VP8 " and head[23:26] != b"\x9d\x01\x2a":
        return None
    if kind == "avi" and first != b"LIST":
        return None
    end = start + min(total, cap)
    pos = start + 12
    while pos + 8 <= end:
        chunk = src.read(pos, 8)
        if len(chunk) < 8:
            return Carve(start, src.size - start, kind, "region ends before the declared size (truncated)")
        size = int.from_bytes(chunk[4:8], "little")
        if not _fourcc(chunk[:4]) or pos + 8 + size > start + total:
            if pos == start + 12:
                return None
            return Carve(start, pos - start, kind, f"no valid chunk at offset {pos} (fragmented?)")
        pos += 8 + size + (size & 1)
    if total > cap:
        return Carve(start, cap, kind, f"declared size {total} is over the {cap}-byte cap")
    if start + total > src.size:
        return Carve(start, src.size - start, kind, "region ends before the declared size (truncated)")
    return Carve(start, total, kind)


_TOP = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"moof", b"mfra"}
    | {b"styp", b"sidx", b"udta", b"pnot", b"PICT", b"junk", b"prfl", b"beam", b"uuid"}
)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"msf1", b"avif", b"hevc"})


def validate_isobmff(src: Source, start: int, cap: int) -> Carve | None:
    """``start`` is the box start, four bytes before "ftyp"."""
    head = src.read(start, 16)
    if len(head) < 16:
        return None
    ftyp_size, brand = int.from_bytes(head[:4], "big"), head[8:12]
    if not 16 <= ftyp_size <= 4096 or not _fourcc(brand):
        return None
    heif = brand in _HEIF_BRANDS
    kind = "heic" if heif else ("mov" if brand == b"qt  " else "mp4")
    pos, seen, reason = start, set[bytes](), None
    while pos - start < cap:
        box = src.read(pos, 16)
        if len(box) < 8:
            break
        size, btype = int.from_bytes(box[:4], "big"), box[4:8]
        if btype not in _TOP:
            break
        if size == 1 and len(box) == 16:
            size = int.from_bytes(box[8:16], "big")
        elif size == 0:
            size = src.size - pos
        if size < 8:
            reason = f"box size {size} at offset {pos} not valid"
            break
        if btype == b"moov" and not _children_add_up(src, pos, size):
            reason = f"moov box at offset {pos} is damaged (fragmented?)"
            break
        if pos + size > src.size:
            seen.add(btype)
            return Carve(start, src.size - start, kind, "region ends inside a box (truncated)")
        seen.add(btype)
        pos += size
    if pos == start + ftyp_size and reason is None:
        return None  # a lone ftyp: not a file
    length = min(pos - start, cap)
    needed = {b"meta", b"mdat"} if heif else {b"moov", b"mdat"}
    if pos - start >= cap and pos - start > length:
        return Carve(start, length, kind, f"boxes run past the {cap}-byte cap")
    if not needed <= seen:
        missing = b", ".join(sorted(needed - seen)).decode()
        return Carve(start, length, kind, reason or f"no {missing} box (truncated or fragmented?)")
    return Carve(start, length, kind, reason)


def _children_add_up(src: Source, pos: int, size: int) -> bool:
    """The child boxes of a container box chain exactly to its end (checked up to 4096 children)."""
    child, end = pos + 8, pos + size
    for _ in range(4096):
        if child == end:
            return True
        head = src.read(child, 8)
        if len(head) < 8 or not _fourcc(head[4:8]):
            return False
        length = struct.unpack(">I", head[:4])[0]
        if length < 8 or child + length > end:
            return False
        child += length
    return False
