"""Builders for archive fixtures, made in memory or tmp_path at test time (no committed binaries).

``zipfile`` cannot write the hostile cases (wrong flags, overlapping entries, lying sizes), so
:func:`raw_zip` writes the structures by hand.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.archive import ArchiveLimits, expand
from safenet.evidence.locator import Locator
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def top_item(name: str, size: int | None = None) -> Item:
    return Item(Locator.source(f"/evidence/{name}"), name, size)


@dataclass
class Result:
    members: list[tuple[Item, bytes]]
    warnings: list[EvidenceWarning]
    read_errors: list[EvidenceError]

    @property
    def names(self) -> list[str]:
        return [item.locator.leaf.value for item, _ in self.members]

    def codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def content(self, name: str) -> bytes:
        return next(data for item, data in self.members if item.locator.leaf.value == name)


def run(
    data: bytes,
    filetype: str,
    name: str = "exhibit.bin",
    limits: ArchiveLimits | None = None,
    parent: Item | None = None,
) -> Result:
    """Expand like the engine: read every member stream to the end, keep what read() raised."""
    return run_opener(lambda: io.BytesIO(data), filetype, parent or top_item(name, len(data)), limits)


def run_opener(
    opener: Callable[[], BinaryIO], filetype: str, parent: Item, limits: ArchiveLimits | None = None
) -> Result:
    result = Result([], [], [])
    for item, stream in expand(parent, filetype, opener, limits or ArchiveLimits(), result.warnings.append):
        try:
            result.members.append((item, read_all(stream)))
        except EvidenceError as exc:
            result.read_errors.append(exc)
    return result


def read_all(stream: BinaryIO, chunk: int = 1 << 20) -> bytes:
    parts = []
    while block := stream.read(chunk):
        parts.append(block)
    return b"".join(parts)


def tar_bytes(entries: Iterable[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, **kwargs) as archive:  # type: ignore[call-overload]
        for info, content in entries:
            if content is not None:
                info.size = len(content)
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    return buf.getvalue()


def tar_file(name: str, content: bytes, mtime: int = 1_700_000_000) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    return info, content


@dataclass
class RawEntry:
    """One zip member as stored: ``data`` is already compressed with ``method``."""

    name: bytes
    data: bytes
    method: int = 0
    crc: int = 0
    usize: int = 0
    flags: int = 0
    extra: bytes = b""
    dos_time: int = 0x6000  # 12:00:00
    dos_date: int = 0x5821  # 2024-01-01


def stored(name: bytes, data: bytes, flags: int = 0, extra: bytes = b"") -> RawEntry:
    return RawEntry(name, data, 0, zlib.crc32(data), len(data), flags, extra)


def deflated(name: bytes, data: bytes, flags: int = 0) -> RawEntry:
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return RawEntry(name, co.compress(data) + co.flush(), 8, zlib.crc32(data), len(data), flags)


def raw_zip(
    entries: Sequence[RawEntry],
    *,
    central: bool = True,
    descriptor: bool = False,
    directory_points_to: Sequence[int] | None = None,
) -> bytes:
    """Write a zip by hand. ``descriptor``: sizes after the data (local header sizes zero).
    ``directory_points_to``: central entries for these entry indexes (repeats allowed: overlap)."""
    out = io.BytesIO()
    offsets = []
    for entry in entries:
        offsets.append(out.tell())
        flags = entry.flags | (0x08 if descriptor else 0)
        sizes = (0, 0, 0) if descriptor else (entry.crc, len(entry.data), entry.usize)
        out.write(
            struct.pack(
                "<4s2B4HL2L2H",
                b"PK\x03\x04",
                20,
                0,
                flags,
                entry.method,
                entry.dos_time,
                entry.dos_date,
                *sizes,
                len(entry.name),
                len(entry.extra),
            )
        )
        out.write(entry.name + entry.extra + entry.data)
        if descriptor:
            out.write(struct.pack("<4s3L", b"PK\x07\x08", entry.crc, len(entry.data), entry.usize))
    if not central:
        return out.getvalue()
    start = out.tell()
    indexes = directory_points_to if directory_points_to is not None else range(len(entries))
    for index in indexes:
        entry = entries[index]
        out.write(
            struct.pack(
                "<4s4B4HL2L5H2L",
                b"PK\x01\x02",
                20,
                3,
                20,
                0,
                entry.flags,
                entry.method,
                entry.dos_time,
                entry.dos_date,
                entry.crc,
                len(entry.data),
                entry.usize,
                len(entry.name),
                len(entry.extra),
                0,
                0,
                0,
                0,
                offsets[index],
            )
        )
        out.write(entry.name + entry.extra)
    size = out.tell() - start
    count = len(indexes)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF), size, start, 0))
    return out.getvalue()


def deflated_zeros(total: int, block: int = 1 << 20) -> bytes:
    """A raw deflate stream of ``total`` zero bytes, built without ever holding them: each block is
    compressed after a full flush, so every block's compressed form is the same bytes."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = co.compress(bytes(block)) + co.flush(zlib.Z_FULL_FLUSH)
    return unit * (total // block) + co.flush()


def gzip_of_deflate(body: bytes, total: int) -> bytes:
    header = b"\x1f\x8b\x08\x00" + struct.pack("<L", 0) + b"\x00\x03"
    return header + body + struct.pack("<2L", 0, total & 0xFFFFFFFF)
