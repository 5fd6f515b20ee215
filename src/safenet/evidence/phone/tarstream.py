"""Files of a tar that can only be read forwards: an Android backup's decrypted, inflated body, a gzipped tar
of a phone's file system.

Nothing is extracted to disk. Listing reads the stream once. Opening a file reads a stream forwards to the
file's header; a few readers are kept where they stopped, so files opened in header order (the engine's order
within a folder group) each cost only the bytes between them, not a re-read from the start. A reader is
lent to one caller at a time and comes back when the caller closes the file.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, cast

from safenet.evidence.archives.common import DATA_ERRORS, ArchiveBudget, ArchiveLimits, spool
from safenet.evidence.archives.fields import unix_time
from safenet.evidence.archives.tarfmt import _forget_members, _watching_tarinfo
from safenet.evidence.locator import display_safe
from safenet.evidence.model import EvidenceError, TimeSource, Timestamp
from safenet.reasons import reason_of

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK = 1 << 16
_BODY_ERRORS: tuple[type[Exception], ...] = (*DATA_ERRORS, EvidenceError)  # limits too
_DRAIN_MAX = 16 << 20  # past the tar's end: padding to a 10 KiB record, no more in a real backup
_KEEP = 4  # readers kept between opens: two workers, each with an open file and a reopened one


class BodyError(EvidenceError):
    """The encoded body cannot be decoded past this point (cut off, corrupt, over the limits)."""


class Body(io.RawIOBase):
    """A decoded byte stream whose decoding errors end it: the bytes before the damage stand.

    ``pull(n)`` gives up to n decoded bytes (b"" at the end) and may raise for bad data; the first error is
    kept in ``error`` and the stream reads as ended from then on. Every byte produced is charged to a budget
    (a compressed body can expand without bound).
    """

    def __init__(self, pull: Callable[[int], bytes], budget: ArchiveBudget, closes: BinaryIO) -> None:
        super().__init__()
        self._pull = pull
        self._budget = budget
        self._closes = closes
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self.error is not None:
            return 0
        view = memoryview(buffer).cast("B")
        try:
            data = self._pull(len(view))
            self._budget.charge(len(data))
        except _BODY_ERRORS as exc:
            self.error = reason_of(exc)
            return 0
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._closes.close()
        super().close()


def budget_for(compressed_size: int) -> ArchiveBudget:
    """The archive limits (ratio, total bytes) applied to a body that inflates ``compressed_size`` bytes."""
    return ArchiveBudget(ArchiveLimits(), compressed_size)


@dataclass(frozen=True, slots=True)
class TarFile:
    """A regular file of the tar: its name as stored, header offset in the body, size and modification time."""

    name: str
    offset: int
    size: int
    mtime: float

    @property
    def modified(self) -> Timestamp | None:
        """The header's time as the phone's file system recorded it (None where it is out of range)."""
        return unix_time(self.mtime, 1.0, TimeSource.FS_METADATA)


def open_tar(body: Body, tarinfo: type[tarfile.TarInfo] = tarfile.TarInfo) -> tarfile.TarFile:
    return tarfile.open(fileobj=body, mode="r|", encoding="utf-8", errors="surrogateescape", tarinfo=tarinfo)


def list_files(body: Body, problems: Callable[[str], None]) -> Iterator[TarFile]:
    """The regular files of the tar in ``body``, in order; damage ends the listing and is told to ``problems``.

    Folders, links and devices hold no bytes of their own and are passed over.
    """
    watched, headers = _watching_tarinfo()  # a damaged header would otherwise read as the end of the tar
    count = 0
    with body:
        try:
            archive = open_tar(body, watched)
            while (member := archive.next()) is not None:
                _forget_members(archive)
                count += 1
                if member.isreg():
                    yield TarFile(member.name, member.offset, member.size, member.mtime)
            _drain(body)  # a cut-off or damaged end shows only when the body is decoded to its end
        except DATA_ERRORS as exc:
            headers.append(reason_of(exc))
        if body.error is not None or headers:
            why = body.error or display_safe(headers[-1])
            problems(f"damaged after {count} tar entries ({why}); the rest could not be read")


def _drain(body: Body) -> None:
    """Decode what follows the tar's end marker (its record padding), up to a bound."""
    left = _DRAIN_MAX
    while left > 0 and (data := body.read(min(CHUNK, left))):
        left -= len(data)


class _Cursor:
    def __init__(self, body: Body) -> None:
        self.body = body
        self.archive = open_tar(body)
        self.last = -1  # header offset of the last member read

    def close(self) -> None:
        self.archive.close()
        self.body.close()


class _FileReader(io.RawIOBase):
    """One tar file's bytes; a decoding failure reads as an EvidenceError naming the file and the cause."""

    def __init__(self, data: BinaryIO, label: str, body: Body, done: Callable[[], None]) -> None:
        super().__init__()
        self._data, self._label, self._body, self._done = data, label, body, done

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._data.read(len(view))
        except DATA_ERRORS as exc:
            why = self._body.error or reason_of(exc)
            raise EvidenceError(f"{self._label} cannot be read whole: {why}") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._done()
        super().close()


class CopiedOnSeek(io.RawIOBase):
    """Reads ``first`` in order; the first seek copies the whole file (from a fresh stream) and reads the copy."""

    def __init__(self, first: BinaryIO, again: Callable[[], BinaryIO]) -> None:
        super().__init__()
        self._first: BinaryIO | None = first
        self._again = again
        self._copy: BinaryIO | None = None
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        source = self._copy if self._copy is not None else self._first
        data = source.read(len(view)) if source is not None else b""
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self._copy is None:
            copy = cast(BinaryIO, spool())
            with self._again() as fresh:
                shutil.copyfileobj(fresh, copy, CHUNK)
            self._copy = copy
            self._drop_first()
        self._pos = self._copy.seek(offset, whence)
        return self._pos

    def _drop_first(self) -> None:
        if self._first is not None:
            self._first.close()
            self._first = None

    def close(self) -> None:
        if not self.closed:
            self._drop_first()
            if self._copy is not None:
                self._copy.close()
        super().close()


class TarStream:
    """Opens files of the tar in a body that ``open_body`` starts afresh each time it is called."""

    def __init__(self, open_body: Callable[[], Body]) -> None:
        self._open_body = open_body
        self._lock = threading.Lock()
        self._idle: list[_Cursor] = []

    def open(self, name: str, offset: int) -> BinaryIO:
        """The file's bytes, read as a stream; seeking (which carving and some decoders do) reads a copy."""
        return io.BufferedReader(CopiedOnSeek(self._stream(name, offset), lambda: self._stream(name, offset)))

    def _stream(self, name: str, offset: int) -> BinaryIO:
        label = display_safe(name)
        cursor = self._take(offset)
        try:
            member = self._advance(cursor, offset)
            data = archive_file(cursor, member, name) if member is not None else None
        except DATA_ERRORS as exc:
            cursor.close()
            raise EvidenceError(f"{label} cannot be reached: {cursor.body.error or reason_of(exc)}") from exc
        if data is None:
            cursor.close()
            why = f" ({cursor.body.error})" if cursor.body.error else ""
            raise EvidenceError(f"{label} is not in the tar at offset {offset}{why}")
        return io.BufferedReader(_FileReader(data, label, cursor.body, lambda: self._give_back(cursor)))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for cursor in idle:
            cursor.close()

    def _take(self, offset: int) -> _Cursor:
        """The kept reader nearest before ``offset``, else a new one from the start."""
        with self._lock:
            before = [c for c in self._idle if c.last < offset]
            if before:
                best = max(before, key=lambda c: c.last)
                self._idle.remove(best)
                return best
        return _Cursor(self._open_body())

    def _give_back(self, cursor: _Cursor) -> None:
        with self._lock:
            self._idle.append(cursor)
            surplus = self._idle[:-_KEEP]
            self._idle = self._idle[-_KEEP:]
        for old in surplus:
            old.close()

    @staticmethod
    def _advance(cursor: _Cursor, offset: int) -> tarfile.TarInfo | None:
        while (member := cursor.archive.next()) is not None:
            _forget_members(cursor.archive)
            cursor.last = member.offset
            if member.offset >= offset:
                return member if member.offset == offset else None
        return None


def archive_file(cursor: _Cursor, member: tarfile.TarInfo, name: str) -> BinaryIO | None:
    """The member's data reader when it is the regular file named ``name``."""
    if member.name != name or not member.isreg():
        return None
    return cast(BinaryIO | None, cursor.archive.extractfile(member))
