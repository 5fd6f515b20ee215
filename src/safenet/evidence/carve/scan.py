"""Finding candidate files in a region at C speed, then validating each one structurally.

The region is read in large windows (16 MiB by default). Each window is searched with
``bytes.find`` once per signature (memchr-speed in CPython, no Python loop per byte), or, with an
alignment, tested at every sector start at once with numpy; a window (or 1 MiB block) of zeros is
dropped after one memcmp, so a region of zeros or of data without signatures costs little more than
reading it (100 GB of zeros: see ``tests/evidence/test_image_unallocated.py``). Only the rare candidate
offsets reach Python, where a format validator decides whole / partial / decoy. A whole file's range
is skipped (a JPEG's EXIF thumbnail is not carved twice); after a partial one the scan goes on from
the next candidate, because a damaged file may overlap the start of a good one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from safenet.evidence.carve.containers import validate_isobmff, validate_riff
from safenet.evidence.carve.images import validate_bmp, validate_gif, validate_png, validate_tiff
from safenet.evidence.carve.jpeg import validate_jpeg
from safenet.evidence.carve.model import Carve, CarveLimits, CarveSpan, Source, Validator

#: (signature, validator, where the file starts relative to the signature, cap key)
SIGNATURES: tuple[tuple[bytes, Validator, int, str], ...] = (
    (b"\xff\xd8\xff", validate_jpeg, 0, "jpeg"),
    (b"\x89PNG\r\n\x1a\n", validate_png, 0, "png"),
    (b"GIF87a", validate_gif, 0, "gif"),
    (b"GIF89a", validate_gif, 0, "gif"),
    (b"BM", validate_bmp, 0, "bmp"),
    (b"RIFF", validate_riff, 0, "avi"),
    (b"II*\x00", validate_tiff, 0, "tiff"),
    (b"MM\x00*", validate_tiff, 0, "tiff"),
    (b"ftyp", validate_isobmff, -4, "mp4"),
)
_OVERLAP = 16  # longest signature, so one straddling two windows is still seen whole
_BLOCK = 1 << 20  # granularity of the zero-block skip
_ZERO_BLOCK = bytes(_BLOCK + _OVERLAP)


@functools.lru_cache(maxsize=4)
def _zeros(size: int) -> bytes:
    """A block of zeros to compare a window with (windows come in one or two sizes: kept)."""
    return bytes(size)


class CarveLimitReached(Exception):
    """More carves than ``CarveLimits.max_carves`` in one region."""


def carve(stream: BinaryIO, size: int, limits: CarveLimits | None = None) -> Iterator[Carve]:
    """Every file found in the first ``size`` bytes of a seekable stream, in offset order.

    With ``limits.span``, only the files starting in that byte range, from the scan state it gives: a scan of
    consecutive spans with the state carried over yields what one scan of the whole stream yields, provided
    each span starts on a window boundary or, with an alignment, on a multiple of it (the sector grid).

    Raises CarveLimitReached after ``max_carves`` carves (the caller turns it into a warning).
    """
    limits = limits if limits is not None else CarveLimits()
    span = limits.span if limits.span is not None else CarveSpan(0, size)
    src = _Windows(stream, size)
    skip_until = span.skip_until
    found = span.carved_before
    stop = min(span.stop, size)
    for base in range(span.start, stop, limits.window):
        own = min(limits.window, stop - base)  # candidates are taken from here; validators may read past it
        buf = src.load(base, own + _OVERLAP)
        for start, validator, key in _candidates(buf, base, own, limits.alignment):
            if start < skip_until:
                continue
            result = validator(src, start, limits.cap(key))
            if result is None:
                continue
            found += 1
            if found > limits.max_carves:
                raise CarveLimitReached(f"more than {limits.max_carves} files carved from one region")
            yield result
            if result.partial is None:
                skip_until = result.end


class _Windows(Source):
    """A Source that reads every window into one buffer kept for the whole scan.

    A fresh 16 MiB object per window costs a page fault per 4 KiB page (the kernel zero-fills each new
    page), which cost more than the search itself: a 4 GiB region of a sparse ext4 image (page cache, dfVFS)
    scanned at 0.9 GB/s with fresh windows, 3.0 GB/s with the buffer kept. Reads outside the window still
    return fresh ``bytes``."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        super().__init__(stream, size)
        self._keep = bytearray()

    def load(self, offset: int, length: int) -> bytes:
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:  # a stream without readinto: fresh bytes per window, as the base class does
            return super().load(offset, length)
        length = max(0, min(length, self.size - offset))
        if len(self._keep) != length:
            self._keep = bytearray(length)
        view = memoryview(self._keep)
        self._stream.seek(offset)
        got = 0
        while got < length:
            n = readinto(view[got:])
            if not n:
                break
            got += n
        view.release()
        if got < length:
            del self._keep[got:]
        self._base = offset
        self._buf = self._keep  # type: ignore[assignment]  # read() below copies out of it
        return self._keep  # type: ignore[return-value]

    def read(self, offset: int, length: int) -> bytes:
        rel = offset - self._base
        if self._buf is self._keep and length > 0 and offset < self.size and 0 <= rel <= len(self._keep) - length:
            return bytes(self._keep[rel : rel + length])
        return super().read(offset, length)


def _candidates(buf: bytes, base: int, window: int, alignment: int) -> list[tuple[int, Validator, str]]:
    """Absolute start offsets of every signature whose position lies in this window's own part.

    Blocks of zeros (common in unallocated space) are skipped with one memcmp each. With an
    alignment above 1 only file starts on that boundary are looked at (as PhotoRec does: a file
    system starts files on sector or cluster boundaries), tested for all blocks at once with numpy.
    """
    if alignment > 1:
        return _aligned(buf, base, window, alignment)
    hits: list[tuple[int, Validator, str]] = []
    own = min(window, len(buf))
    for lo in range(0, own, _BLOCK):
        hi = min(lo + _BLOCK, own)
        block = buf[lo : hi + _OVERLAP]
        if block == _ZERO_BLOCK[: len(block)]:  # the full-length slice is the same object: no copy
            continue
        for signature, validator, shift, key in SIGNATURES:
            at = buf.find(signature, lo, hi + len(signature) - 1)
            while at >= 0:
                start = base + at + shift
                if start >= 0:
                    hits.append((start, validator, key))
                at = buf.find(signature, at + 1, hi + len(signature) - 1)
    hits.sort(key=lambda hit: hit[0])
    return hits


def _aligned(buf: bytes, base: int, window: int, alignment: int) -> list[tuple[int, Validator, str]]:
    rows = min(window, len(buf)) // alignment
    if rows == 0 or buf == _zeros(len(buf)):  # one memcmp: a window of zeros has no file start
        return []
    grid = np.frombuffer(buf, dtype=np.uint8, count=rows * alignment).reshape(rows, alignment)
    # The first 16 bytes of every sector gathered once into contiguous memory, read as four little-endian
    # words: each signature is then one masked compare over all sectors (a compare per signature byte on
    # the strided grid cost a cache miss per sector per byte), and its rare hits are checked in full.
    words = np.ascontiguousarray(grid[:, :_OVERLAP]).view("<u4")
    hits: list[tuple[int, Validator, str]] = []
    for signature, validator, shift, key in SIGNATURES:
        at = -shift if shift < 0 else 0
        index, mask, value = _word_prefix(signature, at)
        column = words[:, index]
        for row in np.flatnonzero((column & mask) == value if mask != 0xFFFFFFFF else column == value):
            offset = int(row) * alignment
            if buf[offset + at : offset + at + len(signature)] == signature:
                hits.append((base + offset, validator, key))
    hits.sort(key=lambda hit: hit[0])
    return hits


@functools.lru_cache(maxsize=len(SIGNATURES))
def _word_prefix(signature: bytes, at: int) -> tuple[int, int, int]:
    """(word index, mask, value) matching the first (up to four) bytes of ``signature`` at byte ``at``."""
    if at % 4:  # pragma: no cover - every signature starts at byte 0 or 4 of its sector
        raise ValueError(f"signature offset {at} is not word aligned")
    prefix = signature[:4]
    return at // 4, (1 << (8 * len(prefix))) - 1, int.from_bytes(prefix, "little")
