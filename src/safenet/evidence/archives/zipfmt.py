"""Zip members: bomb checks on the directory, bounded decoding, recovery of truncated archives.

Every decoder is asked for at most a chunk of output per call (zipfile's own reader does not bound
bzip2 or LZMA output, so a few kilobytes could become gigabytes in one call). Output stops at the
declared size and is checked against the CRC at the end.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from safenet.evidence.archives.common import (
    CHUNK,
    ArchiveCorrupt,
    ArchiveLimits,
    Budget,
    Expansion,
    Members,
    MemberStream,
    describe,
    seekable_copy,
    stream_size,
)
from safenet.evidence.archives.zipdir import (
    SIG_CENTRAL,
    SIG_END,
    SIG_END64,
    SIG_LOCAL,
    Directory,
    Entry,
    after_descriptor,
    find_directory,
    iter_central,
    read_local,
)
from safenet.evidence.locator import Layer, Locator, display_safe
from safenet.evidence.model import EvidenceError

DETAIL = "zip"
_MASK64 = (1 << 64) - 1
_MAX_LZMA_DICT = 1 << 28  # a larger dictionary is only honoured up to the member's declared size
_METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 10: "PKWARE DCL implode", 18: "IBM TERSE",
                 19: "IBM LZ77", 93: "zstandard", 96: "JPEG", 97: "WavPack", 98: "PPMd"}


class _Codec(Protocol):
    @property
    def eof(self) -> bool: ...

    def pending(self) -> bool: ...

    def decode(self, data: bytes, limit: int) -> bytes: ...

    def unused(self) -> int: ...


class _Stored:
    eof = False  # a stored member ends where its compressed size says

    def __init__(self) -> None:
        self._buf = b""

    def pending(self) -> bool:
        return bool(self._buf)

    def decode(self, data: bytes, limit: int) -> bytes:
        buf = self._buf + data
        self._buf = buf[limit:]
        return buf[:limit]

    def unused(self) -> int:
        return 0


class _Inflate:
    def __init__(self) -> None:
        self._obj = zlib.decompressobj(-15)

    @property
    def eof(self) -> bool:
        return self._obj.eof

    def pending(self) -> bool:
        return bool(self._obj.unconsumed_tail)

    def decode(self, data: bytes, limit: int) -> bytes:
        return self._obj.decompress(self._obj.unconsumed_tail + data, limit)

    def unused(self) -> int:
        return len(self._obj.unused_data)


class _Library:
    """bz2 and lzma decompressor objects, which share one interface."""

    def __init__(self, obj: bz2.BZ2Decompressor | lzma.LZMADecompressor) -> None:
        self._obj = obj

    @property
    def eof(self) -> bool:
        return self._obj.eof

    def pending(self) -> bool:
        return not self._obj.needs_input

    def decode(self, data: bytes, limit: int) -> bytes:
        return self._obj.decompress(data, limit)

    def unused(self) -> int:
        return len(self._obj.unused_data)


class _ZipLzma:
    """Method 14: a 4-byte version/size prefix and the LZMA properties, then a raw LZMA1 stream."""

    def __init__(self, usize: int | None) -> None:
        self._usize = usize
        self._head = b""
        self._inner: _Library | None = None

    @property
    def eof(self) -> bool:
        return self._inner is not None and self._inner.eof

    def pending(self) -> bool:
        return self._inner is not None and self._inner.pending()

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._inner is None:
            self._head += data
            if len(self._head) < 4 or len(self._head) < 4 + struct.unpack_from("<H", self._head, 2)[0]:
                return b""
            props_len = struct.unpack_from("<H", self._head, 2)[0]
            props, data = self._head[4 : 4 + props_len], self._head[4 + props_len :]
            filters = [_lzma1_filter(props, self._usize)]
            self._inner = _Library(lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters))
        return self._inner.decode(data, limit)

    def unused(self) -> int:
        return self._inner.unused() if self._inner is not None else 0


def _lzma1_filter(props: bytes, usize: int | None) -> dict[str, Any]:
    """LZMA1 filter from its 5 property bytes. The dictionary is capped: liblzma allocates it whole,
    and a stream never refers further back than the output it has produced."""
    if len(props) < 5 or props[0] >= 9 * 5 * 5:
        raise ArchiveCorrupt("bad LZMA properties")
    pb, rest = divmod(props[0], 45)
    lp, lc = divmod(rest, 9)
    dict_size = struct.unpack_from("<L", props, 1)[0]
    cap = max(usize, 4096) if usize is not None else _MAX_LZMA_DICT
    return {"id": lzma.FILTER_LZMA1, "dict_size": min(dict_size, cap, _MAX_LZMA_DICT), "lc": lc, "lp": lp, "pb": pb}


def _codec(entry: Entry) -> _Codec | None:
    """A decoder for the member's method, or None when Safenet cannot decode it."""
    makers: dict[int, Callable[[], _Codec]] = {
        0: _Stored,
        8: _Inflate,
        12: lambda: _Library(bz2.BZ2Decompressor()),
        14: lambda: _ZipLzma(entry.usize),
        95: lambda: _Library(lzma.LZMADecompressor(lzma.FORMAT_XZ)),
    }
    maker = makers.get(entry.method)
    return maker() if maker is not None else None


class _Reader:
    """Decodes one member with bounded output, stopping at its declared size; checks size and CRC."""

    def __init__(self, fp: BinaryIO, entry: Entry, start: int, file_size: int, codec: _Codec) -> None:
        self._fp = fp
        self._start = start
        self._pos = start
        self._in_left = entry.csize if entry.csize is not None else file_size - start
        self._out_left = entry.usize
        self._expected_crc = entry.crc
        self._crc = 0
        self._codec = codec
        self._fed = 0
        self._done = False

    def read(self, size: int) -> bytes:
        if self._done:
            return b""
        want = size if self._out_left is None else min(size, self._out_left)
        while want > 0:
            data = self._codec.decode(b"" if self._codec.pending() else self._input(), want)
            if data:
                self._crc = zlib.crc32(data, self._crc)
                if self._out_left is not None:
                    self._out_left -= len(data)
                return data
            if self._codec.eof:
                break
            if self._in_left == 0 and not self._codec.pending():
                if isinstance(self._codec, _Stored) and self._out_left is None:
                    break
                raise ArchiveCorrupt("compressed data ends before the member does")
        self._finish()
        return b""

    def end(self) -> int:
        """Where the compressed data ended (after a complete read): the next header follows."""
        return self._start + self._fed - self._codec.unused()

    def _input(self) -> bytes:
        want = min(CHUNK, self._in_left)
        if want == 0:
            return b""
        self._fp.seek(self._pos)
        data = self._fp.read(want)
        if not data:
            raise ArchiveCorrupt("archive ends inside the member's data (truncated)")
        self._pos += len(data)
        self._in_left -= len(data)
        self._fed += len(data)
        return data

    def _finish(self) -> None:
        self._done = True
        if self._out_left:
            raise ArchiveCorrupt(f"data ends {self._out_left} bytes short of the declared size")
        if self._expected_crc is not None and self._crc != self._expected_crc:
            raise ArchiveCorrupt(f"CRC mismatch (stored {self._expected_crc:08x}, computed {self._crc:08x})")


def expand_zip(ctx: Expansion, stream: BinaryIO) -> Members:
    fp = seekable_copy(stream)
    size = stream_size(fp)
    directory = find_directory(fp, size)
    if directory is None:
        yield from _scan(ctx, fp, size, "central directory not found (archive truncated or damaged)")
        return
    try:
        _check_directory(ctx.budget, fp, directory)
    except ArchiveCorrupt as exc:
        yield from _scan(ctx, fp, size, f"central directory unreadable ({exc})")
        return
    entries = iter_central(fp, directory)
    while True:
        try:
            entry = next(entries, None)
        except ArchiveCorrupt as exc:
            ctx.corrupt(f"central directory damaged after {ctx.budget.members} members ({exc}); rest not examined")
            return
        if entry is None:
            return
        ctx.budget.count_member()
        member = _member(ctx, fp, size, entry, *_data_start(ctx, fp, entry))
        if member is not None:
            yield member[0], member[1]


def _data_start(ctx: Expansion, fp: BinaryIO, entry: Entry) -> tuple[int | None]:
    try:
        return (read_local(fp, entry.offset)[1],)
    except ArchiveCorrupt as exc:
        if not entry.is_dir:
            ctx.corrupt(f"member {display_safe(entry.name)}: {exc}; not examined")
        return (None,)


def _check_directory(budget: Budget, fp: BinaryIO, directory: Directory) -> None:
    """Refuse before decompressing: too many entries, declared sizes over the limits, or entries whose
    data overlap (the construction of non-recursive zip bombs: many entries, one stretch of data)."""
    budget.check_member_count(directory.count)
    declared = 0
    spans: list[int] = []  # offset << 64 | compressed size: one int per entry keeps memory small
    for count, entry in enumerate(iter_central(fp, directory), 1):
        budget.check_member_count(count)
        if entry.offset < 0:
            raise ArchiveCorrupt(f"entry {display_safe(entry.name)} points before the start of the file")
        declared += entry.usize or 0
        spans.append(entry.offset << 64 | (entry.csize or 0))
    budget.check_declared(declared)
    spans.sort()
    end = owner = -1
    for span in spans:
        offset, csize = span >> 64, span & _MASK64
        if offset < end:
            budget.refuse(f"overlapping entries: the entry at offset {offset} lies inside the data of the entry "
                          f"at offset {owner} (a zip-bomb construction); refused before reading")
        end, owner = offset + 30 + csize, offset


def _member(ctx: Expansion, fp: BinaryIO, size: int, entry: Entry, start: int | None,
            ) -> tuple[Any, MemberStream, _Reader] | None:
    """The yieldable member for an entry, or None after recording why it is not examined."""
    if start is None or entry.is_dir:
        return None
    locator = ctx.locator(entry.name, DETAIL, offset=entry.offset)
    if entry.encrypted:
        ctx.encrypted(locator)
        return None
    codec = _codec(entry)
    if codec is None:
        ctx.unsupported(locator, _METHOD_NAMES.get(entry.method, f"method {entry.method}"))
        return None
    if entry.csize is not None and start + entry.csize > size:
        ctx.corrupt(f"member {display_safe(entry.name)} is cut off: the archive ends inside its data; not examined")
        return None
    reader = _Reader(fp, entry, start, size, codec)
    item = ctx.item(locator, entry.usize, entry.modified())
    return item, ctx.stream(reader.read, locator, drain=entry.csize is None), reader


def _scan(ctx: Expansion, fp: BinaryIO, size: int, why: str) -> Members:
    """Recover members by reading local headers in order (the central directory is missing)."""
    fp.seek(0)
    first = fp.read(CHUNK).find(SIG_LOCAL)
    if first < 0:
        ctx.corrupt(f"{why}; no member headers found, nothing examined")
        return
    ctx.corrupt(f"{why}; members recovered by reading member headers in order")
    pos: int | None = first
    while pos is not None and pos < size:
        try:
            entry, start = read_local(fp, pos)
        except ArchiveCorrupt as exc:
            if not _at_directory(fp, pos):
                ctx.corrupt(f"{exc}; rest not examined")
            return
        ctx.budget.count_member()
        member = _member(ctx, fp, size, entry, start)
        if member is None and (entry.csize is None or start + entry.csize > size):
            if not entry.is_dir or entry.csize is None:
                ctx.corrupt(f"cannot find where member {display_safe(entry.name)} ends; rest not examined")
            return
        if member is not None:
            yield member[0], member[1]
            if member[1].failure is not None:
                return
        pos = start + entry.csize if entry.csize is not None else after_descriptor(fp, member[2].end())  # type: ignore[index]
    if pos is None:
        ctx.corrupt("no member header after a data descriptor; rest not examined")


def _at_directory(fp: BinaryIO, pos: int) -> bool:
    fp.seek(pos)
    return fp.read(4) in (SIG_CENTRAL, SIG_END, SIG_END64)


def open_zip_member(container: BinaryIO, layer: Layer, limits: ArchiveLimits) -> BinaryIO:
    """Reopen one member by its header offset (checking the name) from a stream of the zip."""
    fp = seekable_copy(container)
    size = stream_size(fp)
    if layer.offset is None:
        raise EvidenceError(f"zip member {display_safe(layer.value)} has no header offset in its locator")
    entry = _entry_at(fp, size, layer.offset)
    if entry is None or entry.name != layer.value:
        raise EvidenceError(f"zip member {display_safe(layer.value)} is gone: no such member at offset {layer.offset}")
    if entry.encrypted:
        raise EvidenceError(f"zip member {display_safe(layer.value)} is encrypted")
    codec = _codec(entry)
    if codec is None:
        raise EvidenceError(f"zip member {display_safe(layer.value)} uses compression method {entry.method}")
    start = read_local(fp, entry.offset)[1]
    reader = _Reader(fp, entry, start, size, codec)
    stream = MemberStream(reader.read, display_safe(layer.value), Budget(limits, size), drain=False)
    return io.BufferedReader(stream)


def _entry_at(fp: BinaryIO, size: int, offset: int) -> Entry | None:
    """The central-directory entry for a header offset, else the local header's own (recovered zips)."""
    directory = find_directory(fp, size)
    if directory is not None:
        try:
            for entry in iter_central(fp, directory):
                if entry.offset == offset:
                    return entry
        except ArchiveCorrupt:
            pass
    try:
        return read_local(fp, offset)[0]
    except ArchiveCorrupt as exc:
        raise EvidenceError(f"cannot reopen zip member at offset {offset}: {describe(exc)}") from exc


__all__ = ["expand_zip", "open_zip_member"]
_unused: tuple[type[Locator], ...] = ()
