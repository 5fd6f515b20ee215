"""Zip members: bomb checks on the directory before anything is decompressed, then each member in
central-directory order; a zip whose directory is missing (truncated) is recovered from its member
headers. Decoding is in :mod:`zipcodec`, the structures in :mod:`zipdir`."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.archives.common import (
    CHUNK,
    ArchiveBudget,
    ArchiveCorrupt,
    ArchiveLimits,
    Expansion,
    Members,
    MemberStream,
    describe,
    seekable_copy,
    stream_size,
)
from safenet.evidence.archives.zipcodec import METHOD_NAMES, Reader, Stored, codec_for
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
from safenet.evidence.locator import Layer, display_safe
from safenet.evidence.model import EvidenceError, Item
from safenet.reasons import reason_of

DETAIL = "zip"
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class _Found:
    item: Item
    stream: MemberStream
    reader: Reader


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
        yield from _scan(ctx, fp, size, f"central directory unreadable ({reason_of(exc)})")
        return
    entries = iter_central(fp, directory)
    while True:
        try:
            entry = next(entries, None)
        except ArchiveCorrupt as exc:
            ctx.corrupt(
                f"central directory damaged after {ctx.budget.members} members ({reason_of(exc)}); rest not examined"
            )
            return
        if entry is None:
            return
        ctx.budget.count_member()
        start = _data_start(ctx, fp, entry)
        found = _member(ctx, fp, size, entry, start) if start is not None else None
        if found is not None:
            yield found.item, found.stream


def _data_start(ctx: Expansion, fp: BinaryIO, entry: Entry) -> int | None:
    """Where a central-directory entry's data starts, from its own local header."""
    try:
        return read_local(fp, entry.offset)[1]
    except ArchiveCorrupt as exc:
        if not entry.is_dir:
            ctx.corrupt(f"member {display_safe(entry.name)}: {reason_of(exc)}; not examined")
        return None


def _check_directory(budget: ArchiveBudget, fp: BinaryIO, directory: Directory) -> None:
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
            budget.refuse(
                f"overlapping entries: the entry at offset {offset} lies inside the data of the entry "
                f"at offset {owner} (a zip-bomb construction); refused before reading"
            )
        end, owner = offset + 30 + csize, offset


def _member(ctx: Expansion, fp: BinaryIO, size: int, entry: Entry, start: int) -> _Found | None:
    """The member to yield for an entry, or None (after recording why, where there is a why)."""
    if entry.is_dir:
        return None
    locator = ctx.locator(entry.name, DETAIL, offset=entry.offset)
    if entry.encrypted:
        ctx.encrypted(locator)
        return None
    codec = codec_for(entry)
    if codec is None:
        ctx.unsupported(locator, METHOD_NAMES.get(entry.method, f"method {entry.method}"))
        return None
    if entry.csize is None and isinstance(codec, Stored):
        return None  # stored, sizes after the data: its end cannot be found (the scan says so)
    if entry.csize is not None and start + entry.csize > size:
        ctx.corrupt(f"member {display_safe(entry.name)} is cut off: the archive ends inside its data; not examined")
        return None
    reader = Reader(fp, entry, start, size, codec)
    item = ctx.item(locator, entry.usize, entry.modified())
    return _Found(item, ctx.stream(reader.read, locator, drain=entry.csize is None), reader)


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
                ctx.corrupt(f"{reason_of(exc)}; rest not examined")
            return
        ctx.budget.count_member()
        found = _member(ctx, fp, size, entry, start)
        if found is not None:
            yield found.item, found.stream
            if found.stream.failure is not None:
                return
            pos = start + entry.csize if entry.csize is not None else after_descriptor(fp, found.reader.end())
        elif entry.csize is not None and start + entry.csize <= size:
            pos = start + entry.csize
        else:
            if entry.csize is None:
                ctx.corrupt(
                    f"cannot find where member {display_safe(entry.name)} ends (its sizes follow its "
                    "data); rest not examined"
                )
            return
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
    codec = codec_for(entry)
    if codec is None:
        raise EvidenceError(f"zip member {display_safe(layer.value)} uses compression method {entry.method}")
    start = read_local(fp, entry.offset)[1]
    reader = Reader(fp, entry, start, size, codec)
    stream = MemberStream(reader.read, display_safe(layer.value), ArchiveBudget(limits, size), drain=False)
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
