"""What cache parsers and the carver share: limits, a window onto a parent stream, entry naming.

Caches and unallocated space are hostile input: offsets and sizes come from the evidence and may
point anywhere. Everything here reads through a bounded window (never past the range a record
claims, never past the parent) so a lie in a header costs a warning, not memory or time.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO

from safenet.analysis.filetype import HEAD_BYTES, MediaKind, sniff
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, TimeSource, Timestamp, WarningSink
from safenet.reasons import reason_of

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """How much work one cache file may cause."""

    max_entries: int = 1_000_000  # records walked in one cache file before the walk stops
    max_entry_bytes: int = 64 << 20  # a thumbnail larger than this is refused (real ones are < 10 MiB)


class CacheCorrupt(EvidenceError):
    """A cache file's structure is damaged beyond the entries already read."""


class CacheOutside(CacheCorrupt):
    """An offset, address or size in a cache record points outside the file that holds it."""


def corrupt_warning(exc: CacheCorrupt | struct.error, what: str, locator: Locator) -> EvidenceWarning:
    """The warning for a damaged cache record: "cache-index-outside" for a bad offset, else "cache-corrupt"
    (a record too short to unpack is damage too)."""
    code = "cache-index-outside" if isinstance(exc, CacheOutside) else "cache-corrupt"
    return EvidenceWarning(code, f"{what}: {reason_of(exc)}; not examined", locator)


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


def read_exactly(stream: BinaryIO, offset: int, length: int) -> bytes:
    """Exactly ``length`` bytes at ``offset``; CacheOutside when the stream ends first."""
    stream.seek(offset)
    data = stream.read(length)
    if len(data) != length:
        raise CacheOutside(f"{length} bytes at offset {offset} run past the end of the file")
    return data


def is_media(head: bytes) -> bool:
    """Whether a body's first bytes are a picture or a video by signature (what a cache item is made for)."""
    return sniff(head).kind in (MediaKind.IMAGE, MediaKind.VIDEO)


def media_head(
    stream: BinaryIO, offset: int, length: int, limits: CacheLimits, locator: Locator, warn: WarningSink
) -> bytes | None:
    """The first bytes of a cached body when it is a picture or video within the size limit; None for
    anything else (a page or script: nothing to examine; an oversized body: a ``cache-limit`` warning)."""
    stream.seek(offset)
    head = stream.read(min(HEAD_BYTES, length))
    if not is_media(head):
        return None
    if length > limits.max_entry_bytes:
        message = f"cached body of {length} bytes is over {limits.max_entry_bytes}; not examined"
        warn(EvidenceWarning("cache-limit", message, locator))
        return None
    return head


def item_path(item: Item) -> str:
    """The item's path inside its container ("/" separated): a PATH or archive-member value, else its name."""
    leaf = item.locator.leaf
    if leaf.kind in (LayerKind.PATH, LayerKind.ARCHIVE_MEMBER) and leaf.value:
        return leaf.value.replace("\\", "/")
    return item.name


def url_name(url: str, fallback: str, head: bytes) -> str:
    """An item name from a cached URL's last path part (escaped; at most 120 characters), else ``fallback``;
    the extension of the body's type is added when the name has none."""
    path = url.split("#", 1)[0].split("?", 1)[0]
    last = path.rstrip("/").rsplit("/", 1)[-1] if "/" in path.partition("://")[2] else ""
    name = display_safe(last.replace("\\", "_"))[:120].strip() or fallback
    return name if "." in name.lstrip(".") else f"{name}.{image_extension(head)}"


def chrome_url(key: str) -> str:
    """The URL in a Chromium cache key: the last space-separated part after the partition prefix
    ("1/0/_dk_https://site https://site https://cdn/a.jpg" -> "https://cdn/a.jpg")."""
    return _CHROME_PREFIX.sub("", key).rsplit(" ", 1)[-1]


_CHROME_PREFIX = re.compile(r"^(?:\d+/\d+/)?(?:_dk_)?")


def unix_time(seconds: int) -> Timestamp | None:
    """A cache record's time in seconds since 1970 (UTC); None for 0 or an impossible value."""
    if not 0 < seconds < 0xFFFFFFFF:  # 0: not set; 0xFFFFFFFF: "never" (no expiry)
        return None
    return Timestamp(datetime.fromtimestamp(seconds, UTC), TimeSource.CACHE, precision_s=1.0)


def chrome_time(micros: int) -> Timestamp | None:
    """A Chromium base::Time (microseconds since 1601-01-01 UTC); None for 0 or a time after 9999."""
    try:
        value = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    except OverflowError:
        return None
    return Timestamp(value, TimeSource.CACHE, precision_s=1e-6) if micros > 0 else None


def open_range(container: BinaryIO, layer: Layer, what: str) -> BinaryIO:
    """Reopen a cache entry stored as one byte range (offset, length) of its cache file."""
    if layer.offset is None or layer.length is None:
        raise EvidenceError(f"{what} entry {display_safe(layer.value)} has no byte range")
    size = stream_size(container)
    if layer.offset + layer.length > size:
        raise EvidenceError(f"{what} entry {display_safe(layer.value)} lies outside its file ({size} bytes)")
    return window(container, layer.offset, layer.length)


def range_locator(parent: Item, value: str, offset: int, length: int, detail: str) -> Locator:
    """parent › CACHE_ENTRY(value, offset, length, detail): a cache entry that is a byte range of its file."""
    return parent.locator.child(Layer(LayerKind.CACHE_ENTRY, value=value, offset=offset, length=length, detail=detail))
