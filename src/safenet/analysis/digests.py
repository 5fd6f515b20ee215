"""Digests and the one-read analysis loop: every byte is read once and fed to every consumer."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

from safenet.analysis.ed2k import Ed2kHash
from safenet.analysis.filetype import HEAD_BYTES, FileType, sniff
from safenet.analysis.md5mb import Chunk, Md5Batch

#: Digest algorithms Safenet computes; names match hashsets.model.HashKind values. ED2K (``analysis.ed2k``) is
#: the eDonkey/eMule hash P2P clients and their investigators' hash sets name files by.
SUPPORTED = ("md5", "sha1", "sha256", "ed2k")
#: Always computed: SHA-256 verifies every reported file, MD5 keys VICS/CAID exports and most hash sets.
BASELINE: tuple[str, ...] = ("md5", "sha256")
#: Computed by the standard (lab) profile when none are asked for: exports and other agencies' sets ask for
#: any of these later. ED2K is added when a selected set holds it, and always in the full profile.
LAB: tuple[str, ...] = ("md5", "sha1", "sha256")
CHUNK = 1 << 20


def parse_algorithms(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list such as ``md5,sha256``; raises ValueError naming a bad entry."""
    names = tuple(dict.fromkeys(part.strip().lower().replace("-", "") for part in text.split(",") if part.strip()))
    for name in names:
        if name not in SUPPORTED:
            raise ValueError(f"unknown digest '{name}'; choose from {', '.join(SUPPORTED)}")
    if not names:
        raise ValueError("no digest algorithm given; choose from " + ", ".join(SUPPORTED))
    return names


def for_hash_sets(needed: Sequence[str], base: Sequence[str] = BASELINE) -> tuple[str, ...]:
    """The digests a triage computes: ``base`` (the on-scene baseline by default) plus what the selected hash
    sets hold.

    The verification hash of a reported file is SHA-256 (plus MD5 and SHA-1 where hash sets need them:
    docs/domain.md, forensic soundness). MD5 is always kept because exports to CAID and Project VIC
    are keyed by it. SHA-1 alone of the three is left out when no selected set holds it: it costs as much
    CPU as SHA-256 and would match nothing; ED2K likewise.
    """
    wanted = set(base) | {name for name in needed if name in SUPPORTED}
    return tuple(name for name in SUPPORTED if name in wanted)


class Hasher(Protocol):
    def update(self, data: Chunk, /) -> None: ...

    def digest(self) -> bytes: ...


def new_hasher(name: str) -> Hasher:
    """A fresh hasher for one of ``SUPPORTED``: hashlib's, or ``Ed2kHash`` (OpenSSL 3 has no MD4)."""
    return Ed2kHash() if name == "ed2k" else hashlib.new(name)


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True, slots=True)
class StreamResult:
    """What one read of a stream produced."""

    filetype: FileType
    digests: dict[str, bytes] | None  # None when the profile did not ask for digests of this type
    bytes_read: int
    #: The stream held more than the ``limit`` it was read to (a file growing while read): the digests
    #: are of the first ``limit`` bytes only.
    grew: bool = False


def analyse_stream(
    stream: BinaryIO,
    algorithms: Sequence[str],
    wants_digests: Callable[[FileType], bool],
    tee: Callable[[FileType], Sink | None] | None = None,
    limit: int | None = None,
    md5_batch: Md5Batch | None = None,
) -> StreamResult:
    """Read ``stream`` once: sniff its type from the head, then feed digests (and an optional copy).

    Exceptions from the stream (OSError, archive limits) propagate: the caller records them with the
    item's locator. ``tee`` may return a sink that receives every byte (used to keep a copy of a
    nested archive so it can be expanded without reading it twice from evidence).

    ``limit`` (the size the item was listed with) caps the read: a file that keeps growing while it is
    read (a log, a download in progress, a device that never ends) is read to that size, never beyond;
    one more byte is asked for to tell whether it grew (``StreamResult.grew``).

    ``md5_batch``: a small item's MD5 is left to the batch (``Md5Batch``: hashed with other items' in SIMD
    lanes when the batch ends, its ``digests["md5"]`` filled in then); everything else is as without it.

    The same read in two steps, for a caller that decides from the head what to do next: ``StreamRead``.
    """
    read = StreamRead(stream, limit, md5_batch if "md5" in algorithms else None)
    try:
        if not wants_digests(read.filetype):
            return read.skipped()
        return read.digest(algorithms, tee(read.filetype) if tee else None)
    finally:
        read.close()


_CHUNK_READERS: tuple[type, ...] = (io.FileIO, io.BufferedReader, io.BytesIO)
"""Streams whose ``readinto`` fills the caller's buffer itself (a file opened from a folder, a spooled copy);
another stream's bytes are read with ``read`` (every stream has it) and, where they must go into a buffer,
copied there."""

_scratch = threading.local()  # per thread: its reusable chunk buffers not in use (one per read in progress)


class StreamRead:
    """One read of a stream, in two steps: the head (``filetype``, ``head``) as soon as it is read, then
    ``digest`` (or ``skipped``) for the rest, then ``close``. What ``analyse_stream`` does; a caller that decides
    from the head what to keep (the engine: which producer and P2P parser claim the item) asks in between.

    Where the bytes go: a small item whose MD5 waits for ``md5_batch`` is read straight into the batch's arena
    (and hashed there with the batch, never copied); a file otherwise into a chunk buffer of the thread, reused
    by every file; another stream (an archive member) into fresh ``bytes`` per chunk, as it gives them. A sink
    always gets ``bytes`` of its own (it may keep them).
    """

    __slots__ = ("_batch", "_buffer", "_left", "_readinto", "_room", "_stream", "_total", "filetype", "first", "head")

    def __init__(self, stream: BinaryIO, limit: int | None = None, md5_batch: Md5Batch | None = None) -> None:
        self._stream = stream
        self._left = -1 if limit is None else max(limit, 0)  # bytes the cap still allows; -1: no cap
        self._batch = md5_batch
        self._room = md5_batch.room(limit) if md5_batch is not None else None
        chunked = type(stream) in _CHUNK_READERS
        self._readinto = cast(io.RawIOBase, stream).readinto if chunked else self._copy_into
        self._buffer: memoryview | None = None  # the thread's chunk buffer, while this read holds it
        if self._room is None and chunked:
            free: list[memoryview] | None = getattr(_scratch, "free", None)
            self._buffer = free.pop() if free else memoryview(bytearray(CHUNK))
        self._total = 0
        #: The first bytes read: at least ``HEAD_BYTES`` where the stream has them. A view into a reused
        #: buffer, valid until the next chunk is read.
        try:
            self.first: Chunk = self._read_head()
        except BaseException:
            self._release()
            raise
        self.head = bytes(self.first[:HEAD_BYTES])
        self.filetype = sniff(self.head)

    def _read_head(self) -> Chunk:
        target = self._room if self._room is not None else self._buffer
        if target is None:
            head = self._read()
            while len(head) < HEAD_BYTES:
                more = self._read()
                if not more:
                    break
                head += more
            self._total = len(head)
            return head
        end = min(len(target), CHUNK) if self._left < 0 else min(len(target), CHUNK, self._left)
        self._total = self._fill(target, 0, end, HEAD_BYTES)
        return target[: self._total]

    def _fill(self, target: memoryview, start: int, end: int, enough: int) -> int:
        """Read into ``target[start:end]`` until ``enough`` bytes are there or the stream ends; the end reached."""
        readinto = self._readinto
        pos = start
        while pos < end:
            got = readinto(target[pos:end])
            if not got:
                break
            pos += got
            if pos - start >= enough:
                break
        if self._left > 0:
            self._left -= pos - start
        return pos

    def _copy_into(self, target: memoryview) -> int:
        data = self._stream.read(len(target))
        target[: len(data)] = data
        return len(data)

    def _read(self) -> bytes:
        """The next chunk in bytes of its own (empty: the stream, or the cap, ended)."""
        if self._left < 0:
            return self._stream.read(CHUNK)
        if self._left == 0:
            return b""
        data = self._stream.read(min(CHUNK, self._left))
        self._left -= len(data)
        return data

    def skipped(self) -> StreamResult:
        """The result when the item's type is not hashed: its type, and the bytes read for the head."""
        return StreamResult(self.filetype, None, self._total)

    def digest(self, algorithms: Sequence[str], sink: Sink | None = None) -> StreamResult:
        """Read the rest, feeding every digest of ``algorithms`` (and ``sink``) every byte once; the digests are
        in the order of ``algorithms``. An MD5 left to the batch is ``b""`` until ``md5_batch.finish()``."""
        room = self._room
        hashers = [(name, new_hasher(name)) for name in algorithms if room is None or name != "md5"]
        updates = [hasher.update for _, hasher in hashers]
        write = sink.write if sink is not None else None
        if room is not None:  # the whole item in the arena, hashed there as one chunk
            end = self._fill(room, self._total, len(room), len(room)) if self._left else self._total
            self._total = end
            for start in range(0, end, CHUNK):  # a chunk at a time: it stays in the CPU's cache for every digest
                piece = room[start : min(start + CHUNK, end)]
                for update in updates:
                    update(piece)
            if write is not None:
                write(bytes(room[:end]))
        else:
            chunk = self.first
            if self._buffer is not None and write is not None:
                # a sink keeps what it is given: the first chunk copied, the rest read into bytes of its own
                write(bytes(chunk))
                for update in updates:
                    update(chunk)
                self._release()
                chunk = self._read()
                self._total += len(chunk)
            while chunk:
                for update in updates:
                    update(chunk)
                if write is not None:
                    write(cast(bytes, chunk))
                chunk = self._next()
        digests = dict.fromkeys(algorithms, b"")  # the algorithms' order, a deferred MD5 included
        for name, hasher in hashers:
            digests[name] = hasher.digest()
        if room is not None:
            cast(Md5Batch, self._batch).defer(digests, self._total)
        grew = self._left == 0 and bool(self._stream.read(1))
        return StreamResult(self.filetype, digests, self._total, grew)

    def _next(self) -> Chunk:
        buffer = self._buffer
        if buffer is None:
            data = self._read()
            self._total += len(data)
            return data
        end = len(buffer) if self._left < 0 else min(len(buffer), self._left)
        got = self._fill(buffer, 0, end, 1) if end else 0
        self._total += got
        return buffer[:got]

    def _release(self) -> None:
        if self._buffer is not None:
            free: list[memoryview] | None = getattr(_scratch, "free", None)
            if free is None:
                free = _scratch.free = []
            free.append(self._buffer)
            self._buffer = None

    def close(self) -> None:
        """Give the chunk buffer back to the thread (the stream itself is the caller's to close)."""
        self._release()
