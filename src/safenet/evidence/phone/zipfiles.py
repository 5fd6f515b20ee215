"""The files of a zip that is itself the evidence (a phone extraction, a UFDR package), read by directory.

The central directory is read once; each file is then opened by its header offset without another pass
over the directory (the archive layer's member reopening scans it, which for a phone's hundreds of thousands
of files would make reading all of them quadratic). Decoding, bomb limits and CRC checks are the archive
layer's own.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from safenet.evidence.archives.common import (
    ArchiveBudget,
    ArchiveCorrupt,
    ArchiveLimitExceeded,
    ArchiveLimits,
    MemberStream,
    describe,
)
from safenet.evidence.archives.zipcodec import Reader, codec_for
from safenet.evidence.archives.zipdir import SIG_END, SIG_LOCAL, Entry, find_directory, iter_central, read_local
from safenet.evidence.directory import open_readonly
from safenet.evidence.locator import display_safe
from safenet.evidence.model import EvidenceError
from safenet.evidence.phone.tarstream import CopiedOnSeek
from safenet.reasons import reason_of

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: How a zip starts: a member header, or the end record of an empty zip.
ZIP_STARTS = (SIG_LOCAL, SIG_END)


def looks_like_zip(path: Path) -> bool:
    with open_readonly(path) as fp:
        return fp.read(4) in ZIP_STARTS


def central_entries(path: Path, limit: int | None = None) -> list[Entry]:
    """The central directory's entries in order (the first ``limit`` of them); EvidenceError when unreadable."""
    with open_readonly(path) as fp:
        size = fp.seek(0, io.SEEK_END)
        directory = find_directory(fp, size)
        if directory is None:
            raise EvidenceError(f"{display_safe(path.name)} has no readable zip directory (cut off or damaged)")
        out: list[Entry] = []
        try:
            for entry in iter_central(fp, directory):
                out.append(entry)
                if limit is not None and len(out) >= limit:
                    break
        except ArchiveCorrupt as exc:
            raise EvidenceError(f"the zip directory of {display_safe(path.name)} is damaged: {describe(exc)}") from exc
        return out


class ZipFiles:
    """Opens the files of the zip at ``path`` by their directory entries."""

    def __init__(self, path: Path, entries: list[Entry]) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.entries = entries
        self._by_offset = {entry.offset: entry for entry in entries}
        self._limits = ArchiveLimits()

    def entry_at(self, offset: int | None) -> Entry | None:
        return self._by_offset.get(offset) if offset is not None else None

    def open(self, entry: Entry) -> BinaryIO:
        """The entry's decoded bytes (its own file handle: callers read in several threads at once)."""
        label = display_safe(entry.name)
        if entry.encrypted:
            raise EvidenceError(f"{label} is encrypted in the zip")
        codec = codec_for(entry)
        if codec is None:
            raise EvidenceError(f"{label} uses zip compression method {entry.method}, which Safenet cannot decode")
        fp = open_readonly(self.path)
        try:
            start = read_local(fp, entry.offset)[1]
        except ArchiveCorrupt as exc:
            fp.close()
            raise EvidenceError(f"{label} cannot be opened: {describe(exc)}") from exc
        reader = Reader(fp, entry, start, self.size, codec)
        stream = MemberStream(reader.read, label, ArchiveBudget(self._limits, self.size), drain=False)
        return io.BufferedReader(_MemberFile(stream, fp, label))

    def open_seekable(self, entry: Entry) -> BinaryIO:
        """As :meth:`open`, and seekable (carving seeks): the first seek reads a copy."""
        return io.BufferedReader(CopiedOnSeek(self.open(entry), lambda: self.open(entry)))


class _MemberFile(io.RawIOBase):
    """A member's bytes, closing the file handle it reads from. Damage reads as a plain EvidenceError: the
    engine records it as a read error of this item (an archive member's ArchiveCorrupt is recorded apart)."""

    def __init__(self, raw: MemberStream, fp: BinaryIO, label: str) -> None:
        super().__init__()
        self._raw, self._fp, self._label = raw, fp, label

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        try:
            return self._raw.readinto(buffer)
        except (ArchiveCorrupt, ArchiveLimitExceeded) as exc:
            raise EvidenceError(f"{self._label} cannot be read whole: {reason_of(exc)}") from exc

    def close(self) -> None:
        if not self.closed:
            self._fp.close()
        super().close()
