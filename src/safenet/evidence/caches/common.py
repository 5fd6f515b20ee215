"""What cache parsers and the carver share: limits, a window onto a parent stream, entry naming.

Caches and unallocated space are hostile input: offsets and sizes come from the evidence and may
point anywhere. Everything here reads through a bounded window (never past the range a record
claims, never past the parent) so a lie in a header costs a warning, not memory or time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from safenet.analysis.filetype import sniff
from safenet.evidence.model import EvidenceError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """How much work one cache file may cause."""

    max_entries: int = 1_000_000  # records walked in one cache file before the walk stops
    max_entry_bytes: int = 64 << 20  # a thumbnail larger than this is refused (real ones are < 10 MiB)


class CacheCorrupt(EvidenceError):
    """A cache file's structure is damaged beyond the entries already read."""


class Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes at ``offset`` of a seekable parent stream.

    The parent is shared: every read seeks it first, so several windows (or the walker that made
    them) may use one parent in turn. Reads never go outside the window.
    """

    def __init__(self, parent: BinaryIO, offset: int, length: int, *, owns_parent: bool = False) -> None:
        super().__init__()
        if offset < 0 or length < 0:
            raise ValueError("a window has a non-negative offset and length")
        self._parent = parent
        self._offset = offset
        self._length = length
        self._pos = 0
        self._owns = owns_parent

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._length - self._pos)
        if want <= 0:
            return 0
        self._parent.seek(self._offset + self._pos)
        data = self._parent.read(want)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed and self._owns:
            self._parent.close()
        super().close()


def window(parent: BinaryIO, offset: int, length: int, *, owns_parent: bool = False) -> BinaryIO:
    """A buffered :class:`Window` typed as a binary file."""
    raw = Window(parent, offset, length, owns_parent=owns_parent)
    return io.BufferedReader(raw)


def image_extension(head: bytes) -> str:
    """The usual extension of the data's type by signature ("bin" when it is not a known type)."""
    return _EXTENSIONS.get(sniff(head).name, "bin")


_EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "bmp": "bmp", "webp": "webp", "tiff": "tif"}


def stream_size(stream: BinaryIO) -> int:
    """Size of a seekable stream, leaving its position unchanged."""
    here = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return end
