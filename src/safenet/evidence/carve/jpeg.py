"""JPEG validation for the carver: walk the marker segments, then scan the compressed data to EOI.

A header-and-footer carver takes SOI…EOI and is wrong whenever a file is fragmented or a random
SOI sits in the data. Here the segment lengths must chain from SOI through SOF and SOS, and the
compressed data may only hold stuffed bytes (FF 00), restart markers and the markers a (progressive)
JPEG allows between scans. A marker that cannot be there, or a long run of zero bytes (no encoder
writes one; an overwritten or unwritten block does), ends the file as *partial* at that point. A
candidate that fails before its first scan is not reported at all: it had no picture data, and
random data with an SOI marker (a decoy) fails there.

Limitation (documented for court): a second fragment that happens to continue with plausible
compressed data is not detected structurally; such a file is reported whole and its MD5 will not
match the original, so it cannot produce a false exact match, only a miss.
"""

from __future__ import annotations

import re

from safenet.evidence.carve.model import MIB, Carve, Source

_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SEGMENTS = _SOF | {0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xFE} | frozenset(range(0xE0, 0xF0))
_BETWEEN_SCANS = frozenset({0xD9, 0xC4, 0xCC, 0xDA, 0xDB, 0xDD, 0xDC, 0xFE}) | frozenset(range(0xE0, 0xF0))
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
ZERO_RUN = 512  # zero bytes in a row that compressed picture data does not contain
_ZEROS = bytes(ZERO_RUN)
_CHUNK = MIB


class _Fail(Exception):
    def __init__(self, reason: str, at: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at = at


def validate_jpeg(src: Source, start: int, cap: int) -> Carve | None:
    """A Carve for a JPEG starting at ``start`` (whole or partial), or None for a decoy."""
    pos = start + 2
    seen_sof = seen_sos = False
    try:
        while True:
            if pos - start >= cap:
                raise _Fail(f"no end marker within the {cap}-byte cap (endless JPEG?)", start + cap)
            head = src.read(pos, 4)
            if len(head) < 2:
                raise _Fail("region ends before the end marker (truncated)", min(pos, src.size))
            if head[0] != 0xFF:
                raise _Fail(f"no marker where one must be, at offset {pos}", pos)
            marker = head[1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker == 0xD9:
                if not seen_sos:
                    raise _Fail("end marker before any picture data", pos)
                return Carve(start, pos + 2 - start, "jpeg")
            if marker not in _SEGMENTS or len(head) < 4:
                raise _Fail(f"marker FF{marker:02X} cannot appear here, at offset {pos}", pos)
            length = int.from_bytes(head[2:4], "big")
            if length < 2:
                raise _Fail(f"segment length {length} at offset {pos}", pos)
            if marker in _SOF:
                _check_sof(src.read(pos + 4, length - 2), pos)
                seen_sof = True
            if marker == 0xDA:
                if not seen_sof:
                    raise _Fail("scan before any frame header", pos)
                seen_sos = True
                pos = _scan(src, pos + 2 + length, start, cap)
                continue
            pos += 2 + length
    except _Fail as fail:
        if not seen_sos:
            return None
        return Carve(start, max(fail.at - start, 2), "jpeg", partial=fail.reason)


def _check_sof(body: bytes, pos: int) -> None:
    if len(body) < 6:
        raise _Fail(f"frame header cut short at offset {pos}", pos)
    precision, height, width, components = body[0], body[1:3], body[3:5], body[5]
    if precision not in (8, 12, 16) or width == b"\0\0" or not 1 <= components <= 4 or len(body) != 6 + 3 * components:
        raise _Fail(f"frame header not valid at offset {pos}", pos)
    del height  # 0 is allowed (DNL marker later)


def _scan(src: Source, pos: int, start: int, cap: int) -> int:
    """Offset of the marker that ends the compressed data beginning at ``pos``."""
    limit = start + cap
    while pos < limit:
        chunk = src.read(pos, min(_CHUNK, limit - pos) + 1)
        if len(chunk) < 2:
            raise _Fail("region ends inside the picture data (truncated)", min(pos + len(chunk), src.size))
        found = _MARKER.search(chunk)
        end = found.start() if found else len(chunk) - 1
        zeros = chunk.find(_ZEROS, 0, end + ZERO_RUN)
        if 0 <= zeros < end:
            raise _Fail(f"{ZERO_RUN} zero bytes in picture data at offset {pos + zeros} (fragmented?)", pos + zeros)
        if found is not None:
            marker = chunk[end + 1]
            if marker not in _BETWEEN_SCANS:
                raise _Fail(f"marker FF{marker:02X} inside picture data at offset {pos + end} (fragmented?)", pos + end)
            return pos + end
        pos += len(chunk) - 1
    raise _Fail(f"no end marker within the {cap}-byte cap (endless JPEG?)", limit)
