"""Zip structures read by hand: end record, central directory, local headers, extra fields.

Why not :mod:`zipfile`: it refuses a whole archive when one UTF-8-flagged name is not UTF-8 (so one
crafted name would hide every member), it builds an object per entry before any check can run, and it
cannot recover the members of an archive whose end was cut off. Reading the structures here keeps
every name as stored and lets the bomb checks run before anything is decompressed.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.archives.common import ArchiveCorrupt
from safenet.evidence.archives.fields import dos_time, filetime, unix_time
from safenet.evidence.model import Timestamp

SIG_LOCAL = b"PK\x03\x04"
SIG_CENTRAL = b"PK\x01\x02"
SIG_DESCRIPTOR = b"PK\x07\x08"
SIG_END = b"PK\x05\x06"
SIG_END64 = b"PK\x06\x06"
SIG_END64_LOCATOR = b"PK\x06\x07"

_END = struct.Struct("<4s4H2LH")  # sig, disk, cd disk, entries here, entries, cd size, cd offset, comment len
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")  # ..., entries here, entries, cd size, cd offset
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_EXTRA = struct.Struct("<2H")

FLAG_ENCRYPTED = 0x0001
FLAG_DESCRIPTOR = 0x0008  # sizes and CRC follow the data, local header holds zeros
FLAG_STRONG_ENCRYPTION = 0x0040
FLAG_UTF8 = 0x0800
FLAG_MASKED_HEADER = 0x2000  # central directory encryption (PKWARE SES)
METHOD_AES = 99
_FULL32 = 0xFFFFFFFF
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    """One member as a header describes it. Sizes are None when not known before decoding."""

    raw_name: bytes
    flags: int
    method: int
    crc: int | None
    csize: int | None
    usize: int | None
    offset: int  # of the local header, from the start of the container
    date: int
    time: int
    extra: bytes

    @property
    def name(self) -> str:
        return decode_name(self.raw_name, self.flags, self.extra)

    @property
    def encrypted(self) -> bool:
        mask = FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADER
        return bool(self.flags & mask) or self.method == METHOD_AES

    @property
    def is_dir(self) -> bool:
        """A folder entry. One that claims data is treated as a file: hiding data there is a trick."""
        return self.raw_name.endswith((b"/", b"\\")) and self.usize == 0

    def modified(self) -> Timestamp | None:
        """The best time the headers hold: NTFS (100 ns, UTC), Unix (1 s, UTC), else DOS (2 s, local)."""
        ntfs = unix = None
        for kind, data in extra_fields(self.extra):
            if kind == 0x000A and ntfs is None:
                ntfs = _ntfs_mtime(data)
            elif kind == 0x5455 and unix is None and len(data) >= 5 and data[0] & 1:
                unix = unix_time(struct.unpack_from("<i", data, 1)[0], 1.0)
        return ntfs or unix or dos_time(self.date, self.time)


@dataclass(frozen=True, slots=True)
class Directory:
    """Where the central directory is. ``shift`` is data prepended to the zip (self-extractors)."""

    start: int
    size: int
    count: int
    shift: int


def decode_name(raw: bytes, flags: int, extra: bytes) -> str:
    """The stored name as text: UTF-8 when flagged, else the Info-ZIP Unicode Path field, else cp437.

    Bytes that are not UTF-8 despite the flag are kept as surrogate escapes, never dropped.
    """
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", "surrogateescape")
    for kind, data in extra_fields(extra):
        unicode_path = kind == 0x7075 and len(data) >= 5 and data[0] == 1
        if unicode_path and struct.unpack_from("<L", data, 1)[0] == zlib.crc32(raw):
            return data[5:].decode("utf-8", "surrogateescape")
    return raw.decode("cp437")


def extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + _EXTRA.size <= len(extra):
        kind, size = _EXTRA.unpack_from(extra, pos)
        yield kind, extra[pos + _EXTRA.size : pos + _EXTRA.size + size]
        pos += _EXTRA.size + size


def _ntfs_mtime(data: bytes) -> Timestamp | None:
    pos = 4  # reserved
    while pos + 4 <= len(data):
        tag, size = _EXTRA.unpack_from(data, pos)
        if tag == 1 and size >= 24 and pos + 4 + 8 <= len(data):
            return filetime(struct.unpack_from("<Q", data, pos + 4)[0])
        pos += 4 + size
    return None


def _zip64(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Apply the Zip64 extra field: it holds, in order, each value whose 32-bit field is all ones."""
    for kind, data in extra_fields(extra):
        if kind != 0x0001:
            continue
        values = list(struct.unpack_from(f"<{len(data) // 8}Q", data))
        if usize == _FULL32 and values:
            usize = values.pop(0)
        if csize == _FULL32 and values:
            csize = values.pop(0)
        if offset == _FULL32 and values:
            offset = values.pop(0)
        break
    return usize, csize, offset


def find_directory(fp: BinaryIO, size: int) -> Directory | None:
    """Locate the central directory from the end record(s); None when there is none to be found."""
    tail_len = min(size, _END.size + 0xFFFF)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    pos = _end_record(tail)
    if pos is None:
        return None
    _sig, _disk, _cd_disk, _here, count, cd_size, cd_offset, _comment = _END.unpack_from(tail, pos)
    end = size - tail_len + pos
    if end >= _END64_LOCATOR.size:
        fp.seek(end - _END64_LOCATOR.size)
        locator = fp.read(_END64_LOCATOR.size)
        if locator.startswith(SIG_END64_LOCATOR):
            record_at = end - _END64_LOCATOR.size - _END64.size  # the record sits just before its locator
            if record_at < 0:
                return None
            fp.seek(record_at)
            record = fp.read(_END64.size)
            if len(record) < _END64.size or not record.startswith(SIG_END64):
                return None
            count, cd_size, cd_offset = _END64.unpack(record)[-3:]
            end = record_at
    start = end - cd_size
    if start < 0:
        return None
    return Directory(start, cd_size, count, start - cd_offset)


def _end_record(tail: bytes) -> int | None:
    """Position of the end record: the last one whose comment length fits, preferring an exact fit."""
    fallback = None
    pos = tail.rfind(SIG_END)
    while pos >= 0:
        if pos + _END.size <= len(tail):
            comment = _END.unpack_from(tail, pos)[-1]
            if pos + _END.size + comment == len(tail):
                return pos
            if fallback is None and pos + _END.size + comment < len(tail):
                fallback = pos
        pos = tail.rfind(SIG_END, 0, pos)
    return fallback


class _Cursor:
    """Sequential reads of one region in large blocks; seeks each time because the file is shared."""

    def __init__(self, fp: BinaryIO, start: int, end: int) -> None:
        self._fp = fp
        self._next = start  # where the next block is read from
        self._end = end
        self._buf = b""
        self._at = 0

    @property
    def position(self) -> int:
        return self._next - (len(self._buf) - self._at)

    def take(self, size: int) -> bytes:
        while len(self._buf) - self._at < size:
            want = min(_BLOCK, self._end - self._next)
            self._fp.seek(self._next)
            block = self._fp.read(want) if want > 0 else b""
            if not block:
                raise ArchiveCorrupt(f"central directory ends inside an entry (offset {self.position})")
            self._buf = self._buf[self._at :] + block
            self._at = 0
            self._next += len(block)
        out = self._buf[self._at : self._at + size]
        self._at += size
        return out


def iter_central(fp: BinaryIO, directory: Directory) -> Iterator[Entry]:
    """The central directory's entries in stored order, read in blocks (never all at once)."""
    cursor = _Cursor(fp, directory.start, directory.start + directory.size)
    while cursor.position < directory.start + directory.size:
        at = cursor.position
        fields = _CENTRAL.unpack(cursor.take(_CENTRAL.size))
        if fields[0] != SIG_CENTRAL:
            raise ArchiveCorrupt(f"bad central directory entry at offset {at}")
        flags, method, time, date, crc, csize, usize, name_len, extra_len, comment_len = fields[5:15]
        name = cursor.take(name_len)
        extra = cursor.take(extra_len)
        cursor.take(comment_len)
        usize, csize, offset = _zip64(extra, usize, csize, fields[18])
        yield Entry(name, flags, method, crc, csize, usize, offset + directory.shift, date, time, extra)


def read_local(fp: BinaryIO, offset: int) -> tuple[Entry, int]:
    """The entry a local header describes, and where its data starts."""
    if offset < 0:
        raise ArchiveCorrupt(f"member header offset {offset} is before the start of the file")
    fp.seek(offset)
    head = fp.read(_LOCAL.size)
    if len(head) < _LOCAL.size or not head.startswith(SIG_LOCAL):
        raise ArchiveCorrupt(f"no member header at offset {offset}")
    _sig, _ver, _os, flags, method, time, date, crc, csize, usize, name_len, extra_len = _LOCAL.unpack(head)
    name = fp.read(name_len)
    extra = fp.read(extra_len)
    if len(name) < name_len or len(extra) < extra_len:
        raise ArchiveCorrupt(f"member header at offset {offset} is cut off")
    usize, csize, _ = _zip64(extra, usize, csize, 0)
    if flags & FLAG_DESCRIPTOR:
        entry = Entry(name, flags, method, None, None, None, offset, date, time, extra)
    else:
        entry = Entry(name, flags, method, crc, csize, usize, offset, date, time, extra)
    return entry, offset + _LOCAL.size + name_len + extra_len


def after_descriptor(fp: BinaryIO, data_end: int) -> int | None:
    """Where the next structure starts after a data descriptor (its form varies between writers)."""
    fp.seek(data_end)
    probe = fp.read(28)
    for skip in (16, 24, 12, 20):  # with signature (32/64-bit sizes), then without
        if probe[skip : skip + 4] in (SIG_LOCAL, SIG_CENTRAL, SIG_END) or len(probe) == skip:
            return data_end + skip  # the next structure, or the end of the file
    return None
