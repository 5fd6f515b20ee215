"""Windows Explorer thumbnail caches (``thumbcache_*.db``, Vista to 11) as an item producer.

Explorer keeps a copy of the thumbnail of every picture it has shown, and keeps it after the picture
is deleted, so each cache entry with data becomes an item that is hashed and matched like a file.

Layout (all integers little-endian; versions from the file header, see :data:`VERSIONS`)::

    file header   "CMMM" | version u32 | cache type u32 | ...
      Vista/7 (20, 21):   first-entry u32 | available-entry u32 | entry count u32      (24 bytes)
      8 to 11 (26..32):   unknown u32 | first-entry u32 | available-entry u32          (24 bytes)
    entry header  "CMMM" | entry size u32 | entry hash u64 | ...
      Vista (20):         extension 4 x UTF-16 | id length u32 | padding u32 | data size u32 | unknown u32
                          | data checksum u64 | header checksum u64                   (56 bytes)
      7 (21):             id length | padding | data size | unknown | 2 checksums      (48 bytes)
      8 to 11 (26..32):   id length | padding | data size | width | height | unknown | 2 checksums (56)
    then the identifier (UTF-16, usually the entry hash as 16 hex digits), padding, data.

Records are walked from the first-entry offset to the available-entry offset (the rest of the file is
one free record). The walk only moves forward, so a record cannot send it back (no loops); a record
whose size is impossible makes the walk search forward for the next "CMMM" (bounded by the file
size). The Vista/7 entry count field is not used to decide anything: Vista files hold fewer records
than it says (it appears to count entries ever written). Checksums are not verified.

Each entry's locator is parent › CACHE_ENTRY(value=<entry hash, 16 hex digits>, offset=<data offset
in the cache file>, length=<data size>, detail=<cache file stem, e.g. "thumbcache_256">), so the
bytes can be re-read from the cache file alone. ``thumbcache_idx.db`` beside the cache lists the
entry hashes Explorer knows about; where a caller supplies it, each entry's note says whether its
hash is listed. The original path of the picture is not in either file: it needs the Windows Search
database (Windows.edb), which Safenet does not read, and the note says so.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import CacheLimits, image_extension, stream_size, window
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, NotMyFormat, WarningSink
from safenet.reasons import reason_of

SIGNATURE = b"CMMM"
INDEX_SIGNATURE = b"IMMM"
FILE_HEADER_SIZE = 24
VERSIONS: dict[int, str] = {
    20: "Windows Vista",
    21: "Windows 7",
    26: "Windows 8",
    28: "Windows 8 (v2)",
    30: "Windows 8 (v3)",
    31: "Windows 8.1",
    32: "Windows 10/11",
}
_RESYNC_CHUNK = 1 << 20
_ORIGIN = "original path not available: it needs the Windows Search database (Windows.edb), which Safenet does not read"

WARNING_CODES: dict[str, str] = {
    "cache-corrupt": "a thumbnail cache record is damaged (impossible size or offset, missing signature); "
    "the walk skipped to the next record it could find, and the damaged record was not examined",
    "cache-limit": "a thumbnail cache holds more records than the limit, or an entry larger than the limit; "
    "the rest (or that entry) was not examined",
}


@dataclass(frozen=True, slots=True)
class CacheHeader:
    version: int
    cache_type: int
    first_entry: int
    available_entry: int
    declared_count: int | None  # Vista/7 only; informational

    @property
    def windows(self) -> str:
        return VERSIONS.get(self.version, f"unknown version {self.version}")

    @property
    def entry_header_size(self) -> int:
        return 48 if self.version == 21 else 56


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """One entry of a cache file, as its header describes it (offsets are within the cache file)."""

    offset: int
    size: int
    cache_id: str  # the entry hash as 16 hex digits, the name Windows itself uses
    identifier: str  # the stored identifier string (usually the same hex; a shell GUID path for folders)
    data_offset: int
    data_size: int
    width: int | None = None
    height: int | None = None


def read_header(stream: BinaryIO) -> CacheHeader:
    """The file header; raises NotMyFormat for anything that is not a thumbcache file Safenet knows."""
    stream.seek(0)
    head = stream.read(FILE_HEADER_SIZE)
    if len(head) < FILE_HEADER_SIZE or not head.startswith(SIGNATURE):
        raise NotMyFormat("not a Windows thumbcache file (no CMMM header)")
    version, cache_type = struct.unpack_from("<II", head, 4)
    if version not in VERSIONS:
        raise NotMyFormat(f"thumbcache format version {version} is not one Safenet knows")
    if version in (20, 21):
        first, available, count = struct.unpack_from("<III", head, 12)
        return CacheHeader(version, cache_type, first, available, count)
    first, available = struct.unpack_from("<II", head, 16)
    return CacheHeader(version, cache_type, first, available, None)


class CacheIndex:
    """``thumbcache_idx.db``: which entry hashes Explorer lists (nothing more is claimed from it)."""

    def __init__(self, data: bytes) -> None:
        if INDEX_SIGNATURE not in data[:8]:
            raise NotMyFormat("not a thumbcache index (no IMMM header)")
        self._data = data

    @classmethod
    def read(cls, stream: BinaryIO, limit: int = 64 << 20) -> CacheIndex:
        return cls(stream.read(limit))

    def find(self, cache_id: str) -> int | None:
        """Offset in the index where the entry hash is stored, or None when it is not listed."""
        key = int(cache_id, 16).to_bytes(8, "little")
        found = self._data.find(key, 8)
        return None if found < 0 else found


def walk(
    stream: BinaryIO, header: CacheHeader, limits: CacheLimits, warn: Callable[[str, str, int], None]
) -> Iterator[CacheRecord]:
    """Every record between the first-entry and available-entry offsets; bad ones become warnings.

    ``warn(code, message, offset)`` reports a problem at a byte offset of the cache file.
    """
    size = stream_size(stream)
    end = header.available_entry
    if not FILE_HEADER_SIZE <= header.first_entry <= size:
        warn("cache-corrupt", f"first-entry offset {header.first_entry} is outside the file ({size} bytes)", 0)
        return
    if end > size or end < header.first_entry:
        warn("cache-corrupt", f"available-entry offset {end} is outside the file ({size} bytes); walked to its end", 0)
        end = size
    hsize = header.entry_header_size
    offset: int | None = header.first_entry
    walked = 0
    while offset is not None and offset + hsize <= end:
        walked += 1
        if walked > limits.max_entries:
            warn("cache-limit", f"more than {limits.max_entries} records; the rest was not examined", offset)
            return
        stream.seek(offset)
        raw = stream.read(hsize)
        if not raw.startswith(SIGNATURE) or len(raw) < hsize:
            warn("cache-corrupt", f"no record signature at offset {offset}; searching for the next record", offset)
            offset = _resync(stream, offset + 1, end)
            continue
        record_size = struct.unpack_from("<I", raw, 4)[0]
        if record_size < hsize or offset + record_size > end:
            message = f"record at offset {offset} claims size {record_size}, outside {hsize}..{end - offset}"
            warn("cache-corrupt", message + "; searching for the next record", offset)
            offset = _resync(stream, offset + 1, end)
            continue
        record = _record(stream, raw, offset, record_size, header, warn)
        if record is not None:
            yield record
        offset += record_size


def _record(
    stream: BinaryIO,
    raw: bytes,
    offset: int,
    record_size: int,
    header: CacheHeader,
    warn: Callable[[str, str, int], None],
) -> CacheRecord | None:
    hsize = header.entry_header_size
    (entry_hash,) = struct.unpack_from("<Q", raw, 8)
    width = height = None
    if header.version == 20:
        id_len, padding, data_size = struct.unpack_from("<III", raw, 24)
    elif header.version == 21:
        id_len, padding, data_size = struct.unpack_from("<III", raw, 16)
    else:
        id_len, padding, data_size, width, height = struct.unpack_from("<IIIII", raw, 16)
    if hsize + id_len + padding + data_size > record_size:
        parts = f"identifier {id_len} + padding {padding} + data {data_size}"
        warn("cache-corrupt", f"record at offset {offset}: {parts} bytes overrun its size {record_size}", offset)
        return None
    stream.seek(offset + hsize)
    identifier = stream.read(min(id_len, 4096)).decode("utf-16-le", "replace")
    return CacheRecord(
        offset=offset,
        size=record_size,
        cache_id=f"{entry_hash:016x}",
        identifier=identifier,
        data_offset=offset + hsize + id_len + padding,
        data_size=data_size,
        width=width,
        height=height,
    )


def _resync(stream: BinaryIO, start: int, end: int) -> int | None:
    """The offset of the next record signature in [start, end), found with bytes.find over chunks."""
    pos = start
    while pos < end:
        stream.seek(pos)
        chunk = stream.read(min(_RESYNC_CHUNK, end - pos) + len(SIGNATURE) - 1)
        found = chunk.find(SIGNATURE)
        if found >= 0:
            return pos + found
        if len(chunk) < len(SIGNATURE):
            return None
        pos += len(chunk) - len(SIGNATURE) + 1
    return None


def cache_detail(name: str) -> str:
    """The locator detail for a cache file: its stem when it has the usual name, else "thumbcache"."""
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = stem[:-3] if stem.lower().endswith(".db") else stem
    return stem if stem.lower().startswith("thumbcache_") and stem.isprintable() and len(stem) <= 64 else "thumbcache"


def expand_thumbcache(
    parent: Item,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
    index: CacheIndex | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each cache entry that holds data, with a stream of its bytes (valid until the next one).

    Bad data never raises out of here; it becomes a warning with a locator and the walk goes on.
    ``index`` is the ``thumbcache_idx.db`` beside the cache where the caller could open it.
    """
    limits = limits if limits is not None else CacheLimits()
    detail = cache_detail(parent.name)

    def record_warning(code: str, message: str, offset: int) -> None:
        layer = Layer(LayerKind.CACHE_ENTRY, value="", offset=offset, detail=detail)
        warn(EvidenceWarning(code, message, parent.locator.child(layer) if offset else parent.locator))

    with open_parent() as opened:
        stream = seekable_copy(opened)
        try:
            header = read_header(stream)
        except NotMyFormat as exc:
            warn(
                EvidenceWarning("cache-corrupt", f"not examined as a thumbnail cache: {reason_of(exc)}", parent.locator)
            )
            return
        try:
            for record in walk(stream, header, limits, record_warning):
                if record.data_size == 0:
                    continue  # a placeholder (folder, failed extraction): nothing to examine
                locator = parent.locator.child(
                    Layer(
                        LayerKind.CACHE_ENTRY,
                        value=record.cache_id,
                        offset=record.data_offset,
                        length=record.data_size,
                        detail=detail,
                    )
                )
                if record.data_size > limits.max_entry_bytes:
                    message = f"entry data of {record.data_size} bytes is over {limits.max_entry_bytes}; not examined"
                    warn(EvidenceWarning("cache-limit", message, locator))
                    continue
                stream.seek(record.data_offset)
                ext = image_extension(stream.read(64))
                note = _note(record, header, detail, index)
                item = Item(locator, f"{record.cache_id}.{ext}", record.data_size, carved=True, note=note)
                yield item, window(stream, record.data_offset, record.data_size)
        except (OSError, struct.error, ValueError, EvidenceError) as exc:
            message = f"thumbnail cache read failed ({reason_of(exc)}); rest not examined"
            warn(EvidenceWarning("cache-corrupt", message, parent.locator))


def _note(record: CacheRecord, header: CacheHeader, detail: str, index: CacheIndex | None) -> str:
    parts = [f"Windows thumbnail cache entry {record.cache_id} in {detail} ({header.windows} format)"]
    parts.append(f"record at offset {record.offset}")
    if record.identifier and record.identifier != record.cache_id:
        parts.append(f"identifier {display_safe(record.identifier)}")
    if record.width and record.height:
        parts.append(f"{record.width}x{record.height}")
    if index is None:
        parts.append("thumbcache_idx.db not consulted")
    else:
        where = index.find(record.cache_id)
        parts.append("not listed in thumbcache_idx.db" if where is None else f"listed in thumbcache_idx.db at {where}")
    parts.append(_ORIGIN)
    return "; ".join(parts)


def open_thumbcache_entry(container: BinaryIO, layer: Layer) -> BinaryIO:
    """Reopen a thumbcache entry from its layer and a seekable stream of the cache file."""
    if layer.offset is None or layer.length is None:
        raise EvidenceError(f"cache entry {display_safe(layer.value)} has no byte range")
    size = stream_size(container)
    if layer.offset + layer.length > size:
        raise EvidenceError(f"cache entry {display_safe(layer.value)} lies outside its cache file ({size} bytes)")
    return window(container, layer.offset, layer.length, owns_parent=False)
