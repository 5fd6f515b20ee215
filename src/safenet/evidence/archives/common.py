"""What every archive format shares: limits, the byte budget, member streams, warnings, scratch copies.

Archives in evidence are hostile. Header sizes lie, names climb out of folders, and one small file can
expand to terabytes. So every decompressed byte is counted where it is produced (never trusting a
header), every decoder is asked for bounded output, and every problem becomes a warning with a
locator while the run goes on.
"""

from __future__ import annotations

import io
import logging
import lzma
import shutil
import struct
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, cast

from safenet.evidence.archives.fields import leaf_name, suspicious_reason
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, Timestamp, WarningSink
from safenet.evidence.streams import RawReader
from safenet.reasons import reason_of

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK = 1 << 16  # bytes asked of a decoder at a time: bounds the memory one call can take
_log = logging.getLogger(__name__)

# Exception types that mean "the data is bad" (or unreadable) when they come out of a decoder.
DATA_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    tarfile.TarError,
    struct.error,
)


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How much work one archive may cause; the defence against decompression bombs."""

    max_depth: int = 8  # nesting depth of archives (Locator.archive_depth of a member)
    max_ratio: float = 200.0  # decompressed bytes of one archive / its compressed size
    ratio_floor_bytes: int = 64 << 20  # the ratio is only enforced above this (tiny archives compress well)
    max_total_bytes: int = 64 << 30  # decompressed bytes of one archive, all members
    max_members: int = 1_000_000


class ArchiveLimitExceeded(EvidenceError):
    """A limit was crossed; the member read stops and the expansion of that archive ends."""


class ArchiveCorrupt(EvidenceError):
    """A member's data cannot be decoded (truncated, corrupt stream, CRC or size mismatch)."""


class ArchiveBudget:
    """Counts what one archive actually produces against its limits.

    Once a limit is crossed it stays crossed: every later charge raises, so a consumer that ignores
    the first exception still cannot make the archive do more work.

    Nested archives: an archive found inside another is given the outermost archive's budget as
    ``outer``, and every byte and member it produces is charged there too. Per-archive limits alone let
    a small zip of zips of small bombs (each under the ratio floor) decompress without end; charged to
    the outermost archive, the whole tree is held to the limits against that archive's compressed size.
    """

    def __init__(self, limits: ArchiveLimits, compressed_size: int | None, outer: ArchiveBudget | None = None) -> None:
        self.limits = limits
        self.compressed_size = compressed_size
        self.outer: ArchiveBudget | None = outer.outer or outer if outer is not None else None  # always the outermost
        self.produced = 0
        self.members = 0
        self._crossed_here: str | None = None
        self._reported = False

    @property
    def exceeded(self) -> str | None:
        """Why expansion must stop: this archive's own limit, or the tree's (outermost archive's)."""
        if self._crossed_here is not None:
            return self._crossed_here
        if self.outer is not None and self.outer.exceeded is not None:
            return f"archives nested in the outermost one, together: {self.outer.exceeded}"
        return None

    def report_once(self) -> bool:
        """True the first time a crossed limit of this tree is to be reported: one warning per tree."""
        root = self.outer or self
        if self.exceeded is None or root._reported:
            return False
        root._reported = True
        return True

    def charge(self, nbytes: int) -> None:
        self.produced += nbytes
        if self._crossed_here is None:
            self._crossed_here = self._crossed(self.produced, "decompressed")
        if self.outer is not None:
            self.outer.charge(nbytes)
        self._raise_if_exceeded()

    def count_member(self) -> None:
        self.members += 1
        if self.outer is not None:
            self.outer.count_member()
        self.check_member_count(self.members)

    def check_member_count(self, count: int) -> None:
        if self._crossed_here is None and count > self.limits.max_members:
            self._crossed_here = f"member-count limit: more than {self.limits.max_members} members"
        self._raise_if_exceeded()

    def check_declared(self, declared_bytes: int) -> None:
        """Refuse before reading anything when the headers alone already cross a limit."""
        if self._crossed_here is None:
            reason = self._crossed(declared_bytes, "declared")
            self._crossed_here = f"refused before reading: {reason}" if reason else None
        self._raise_if_exceeded()

    def refuse(self, reason: str) -> None:
        """Refuse the archive for a reason found in its structure (e.g. overlapping zip entries)."""
        if self._crossed_here is None:
            self._crossed_here = reason
        self._raise_if_exceeded()

    def _raise_if_exceeded(self) -> None:
        exceeded = self.exceeded
        if exceeded is not None:
            raise ArchiveLimitExceeded(exceeded)

    def _crossed(self, nbytes: int, what: str) -> str | None:
        lim = self.limits
        if nbytes > lim.max_total_bytes:
            return f"size limit: {what} size {nbytes} bytes is over {lim.max_total_bytes}"
        size = self.compressed_size
        if size is not None and nbytes > lim.ratio_floor_bytes and nbytes > lim.max_ratio * max(size, 1):
            ratio = f"{lim.max_ratio:g}"
            return f"ratio limit: {what} size {nbytes} bytes from {size} compressed bytes is over {ratio} times"
        return None


class MemberStream(io.RawIOBase):
    """One member's decompressed bytes, readable until the expansion moves on.

    ``pull(n)`` returns up to n bytes (b"" at the end). Decoder errors become ArchiveCorrupt (and are
    remembered in ``failure`` so the expansion can record them); limit errors pass through unchanged.
    """

    def __init__(self, pull: Callable[[int], bytes], label: str, budget: ArchiveBudget | None, drain: bool) -> None:
        super().__init__()
        self._pull = pull
        self._label = label
        self._budget = budget  # None when the bytes are already counted upstream (tar in gzip ...)
        self._drain = drain  # read the rest when the consumer is done (solid 7z, zip without sizes)
        self._valid = True
        self._eof = False
        self.failure: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if not self._valid:
            raise ValueError("archive member stream is no longer valid: the expansion has moved on")
        view = memoryview(buffer).cast("B")
        data = self._next(len(view))
        view[: len(data)] = data
        return len(data)

    def invalidate(self) -> None:
        self._valid = False

    def finish(self) -> None:
        """Called when the consumer is done: read what a sequential archive needs to move on."""
        self._valid = False
        if not self._drain:
            return
        try:
            while self._next(CHUNK):
                pass
        except ArchiveCorrupt:
            pass  # recorded in self.failure

    def _next(self, size: int) -> bytes:
        if self.failure is not None:
            raise ArchiveCorrupt(self.failure)
        if self._eof or size <= 0:
            return b""
        try:
            data = self._pull(size)
        except ArchiveCorrupt as exc:
            self.failure = f"member {self._label}: {reason_of(exc)}"
            raise
        except DATA_ERRORS as exc:
            self.failure = f"member {self._label}: {describe(exc)}"
            raise ArchiveCorrupt(self.failure) from exc
        if not data:
            self._eof = True
        elif self._budget is not None:
            self._budget.charge(len(data))
        return data


@dataclass(slots=True)
class Expansion:
    """One archive being expanded: its item, limits, budget and where warnings go."""

    parent: Item
    limits: ArchiveLimits
    sink: WarningSink
    budget: ArchiveBudget

    def warn(self, code: str, message: str, locator: Locator | None = None) -> None:
        self.sink(EvidenceWarning(code, message, locator if locator is not None else self.parent.locator))

    def corrupt(self, what: str) -> None:
        """The archive is damaged: what was yielded stands, the rest is not examined."""
        self.warn("archive-corrupt", what)

    def bomb(self) -> None:
        """One "archive-bomb" warning per tree of nested archives, at the archive where the limit was met."""
        if self.budget.report_once():
            self.warn("archive-bomb", f"expansion stopped, rest of archive not examined: {self.budget.exceeded}")

    def locator(self, value: str, detail: str, *, offset: int | None = None, inode: int | None = None) -> Locator:
        layer = Layer(LayerKind.ARCHIVE_MEMBER, value=value, detail=detail, offset=offset, inode=inode)
        return self.parent.locator.child(layer)

    def item(self, locator: Locator, size: int | None, modified: Timestamp | None, separators: str = "/\\") -> Item:
        """The member's Item; a name that could be used to climb out of a folder is recorded."""
        value = locator.leaf.value
        reason = suspicious_reason(value)
        if reason is not None:
            self.warn("suspicious-member-name", f"member name has {reason}: {display_safe(value)}", locator)
        return Item(locator, leaf_name(value, separators), size, modified=modified)

    def special(self, locator: Locator, kind: str) -> None:
        self.warn("special-member", f"{kind} member not examined: {display_safe(locator.leaf.value)}", locator)

    def encrypted(self, locator: Locator) -> None:
        self.warn(
            "encrypted-member",
            f"encrypted member not examined (needs a password): {display_safe(locator.leaf.value)}",
            locator,
        )

    def unsupported(self, locator: Locator, method: str) -> None:
        self.warn(
            "unsupported-member",
            f"member compressed with {method}, which Safenet cannot decode; not "
            f"examined: {display_safe(locator.leaf.value)}",
            locator,
        )

    def stream(
        self, pull: Callable[[int], bytes], locator: Locator, *, charge: bool = True, drain: bool = False
    ) -> MemberStream:
        label = display_safe(locator.leaf.value)
        return MemberStream(pull, label, self.budget if charge else None, drain)


Members = Generator[tuple[Item, MemberStream], None, None]


def deliver(ctx: Expansion, members: Members) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Hand members to the consumer one at a time and enforce what the API promises around them.

    A stream is invalidated when the consumer moves on; a member whose data failed is recorded; a
    crossed limit ends the expansion with one "archive-bomb" warning; nothing escapes for bad data.
    """
    try:
        for item, raw in members:
            try:
                yield item, io.BufferedReader(raw)
            finally:
                raw.invalidate()
            raw.finish()
            if raw.failure is not None:
                ctx.corrupt(raw.failure)
            if ctx.budget.exceeded is not None:
                break
    except ArchiveLimitExceeded:
        pass
    except DATA_ERRORS as exc:  # a format module missed one: still a warning, never a crash
        ctx.corrupt(f"unexpected read failure: {describe(exc)}")
    except Exception as exc:  # a bug here or in a library must not end the whole triage
        _log.warning("archive expansion failed unexpectedly", exc_info=True)
        ctx.corrupt(f"internal error while reading archive ({type(exc).__name__}); rest not examined")
    finally:
        members.close()
    ctx.bomb()


def describe(exc: BaseException) -> str:
    """A short, single-line reason for a warning message."""
    text = reason_of(exc)
    return display_safe(text)


def spool(limit_in_memory: int = 32 << 20) -> tempfile.SpooledTemporaryFile[bytes]:
    """A scratch copy that stays in memory up to the limit, then moves to tempfile's default folder.

    Never beside the evidence: the evidence location is read-only. The file is deleted on close.
    """
    return tempfile.SpooledTemporaryFile(max_size=limit_in_memory, mode="w+b")


def seekable_copy(stream: BinaryIO) -> BinaryIO:
    """The stream itself when it can seek, else a spooled copy; always a real io object."""
    if stream.seekable():
        return stream if isinstance(stream, io.IOBase) else io.BufferedReader(RawReader(stream))
    copy = spool()
    shutil.copyfileobj(stream, copy, CHUNK)
    copy.seek(0)
    return cast(BinaryIO, copy)  # a SpooledTemporaryFile is a binary file in all but its declared type


def stream_size(stream: BinaryIO) -> int:
    """Size of a seekable stream, leaving its position unchanged."""
    here = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return end
