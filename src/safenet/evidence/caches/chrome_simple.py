"""Chrome / Edge "simple cache" entry files (``Cache_Data/<16 hex>_0``) as an item producer.

Chromium's simple back-end keeps each cached response in files named by the key's hash; the ``_0``
file holds the key, the body (stream 1) and the HTTP headers (stream 0). Layout
(``net/disk_cache/simple/simple_entry_format.h``; all integers little-endian)::

    0    SimpleFileHeader (24 bytes): initial magic u64 0xfcfb6d1ba7725c30 | version u32 (5)
         | key length u32 | key hash u32 | padding u32
    24   the key (key length bytes): the URL, with a cache-partition prefix in recent versions
         ("1/0/_dk_https://site.example https://site.example https://cdn.example/a.jpg")
    ..   stream 1: the response body
    ..   SimpleFileEOF (24 bytes): final magic u64 0xf4fa6f45970d41d8 | flags u32 | data crc32 u32
         | stream size u32 | padding u32      (flags: 1 = crc32 of stream 1 present, 2 = key SHA-256 follows)
    ..   stream 0: the pickled HTTP response headers
    ..   SHA-256 of the key (32 bytes) when the last EOF record's flag 2 is set
    end  SimpleFileEOF of stream 0, whose stream size is the size of stream 0

Sizes are read from the end: the last EOF record gives stream 0's size, which places the EOF record
of stream 1; the body lies between the key and that record. Both magics are checked; the body's
CRC-32 is checked when the record carries one and a mismatch is written in the note.
Locator: the ``_0`` file › CACHE_ENTRY(value="stream1", offset, length, detail="chrome-simple").

The entry's last-used time is not in the ``_0`` file but in the cache's index, the sibling file
``index-dir/the-real-index``, read when the ``_0`` file is a top-level file (``siblings``; inside an
archive or for a deleted file it is not, and the item has no time). Layout
(``net/disk_cache/simple/simple_index_file.cc``: a base::Pickle; little-endian; the payload's fields
are 4-byte aligned, so u64s follow u32s directly)::

    0    pickle header: payload size u32 | CRC-32 (zlib) of the payload u32
    8    IndexMetadata: magic u64 0x656e74657220796f ("enter yo" read as text) | version u32
         | entry count u64 | cache size u64 | reason u32 (versions 7 and later)
    40   entry count x 24 bytes: entry hash u64 (the ``_0`` file's 16 hex digits) | last-used time i64
         (base::Time: microseconds since 1601, kept by Chrome to whole seconds) | size / packed info u64
    ..   cache last-modified time i64

Versions 7, 8 and 9 (the same layout; 8 packs the size into 256-byte units) are read; another version,
a bad magic, a count that does not fit the file, or an index larger than :data:`MAX_INDEX` gives no
time, and the note says why. A CRC-32 mismatch is written in the note (the times are still used: an
index Chrome did not finish writing is stale, not wrong). The parsed index (hash -> time) is kept for
the last :data:`INDEXES_KEPT` cache folders per process, keyed by the folder and the index's size.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import (
    CacheCorrupt,
    CacheLimits,
    CacheOutside,
    chrome_time,
    chrome_url,
    corrupt_warning,
    media_head,
    range_locator,
    read_exactly,
    stream_size,
    url_name,
    window,
)
from safenet.evidence.locator import display_safe
from safenet.evidence.model import EvidenceError, Item, Timestamp, WarningSink
from safenet.reasons import reason_of

DETAIL = "chrome-simple"
INITIAL_MAGIC = 0xFCFB6D1BA7725C30
FINAL_MAGIC = 0xF4FA6F45970D41D8
VERSION = 5
HEADER = struct.Struct("<QIII4x")  # 24 bytes
EOF = struct.Struct("<QIII4x")  # 24 bytes
FLAG_HAS_CRC32 = 1
FLAG_HAS_KEY_SHA256 = 2
MAX_KEY = 1 << 20
_NAME = re.compile(r"^[0-9a-f]{16}_0$")
INDEX_PATH = "index-dir/the-real-index"
INDEX_MAGIC = 0x656E74657220796F
INDEX_VERSIONS = (7, 8, 9)
MAX_INDEX = 64 << 20  # a real index is 24 bytes an entry: a few MiB
INDEXES_KEPT = 4
_PICKLE = struct.Struct("<II")  # payload size, CRC-32
_INDEX_META = struct.Struct("<QIQQI")  # magic, version, entry count, cache size, reason (32 bytes)
_INDEX_ENTRY = struct.Struct("<QqQ")  # hash, last used, size (24 bytes)


@dataclass(frozen=True, slots=True)
class SimpleIndex:
    """The parsed ``the-real-index``: last-used times by entry hash, or why there are none."""

    times: dict[int, int]
    problem: str = ""  # why the index gave no times ("" when it did)
    crc_matches: bool = True


_indexes: OrderedDict[str, SimpleIndex] = OrderedDict()
_indexes_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SimpleEntry:
    key: str
    body_offset: int
    body_length: int
    crc32: int | None  # of the body, when the EOF record carries one

    @property
    def url(self) -> str:
        return chrome_url(self.key)


def is_entry(name: str) -> bool:
    return _NAME.match(name) is not None


def read_entry(stream: BinaryIO) -> SimpleEntry:
    """Key and body range of one ``_0`` file; CacheOutside / CacheCorrupt describe what is wrong."""
    size = stream_size(stream)
    if size < HEADER.size + 2 * EOF.size:
        raise CacheCorrupt(f"file of {size} bytes is too small for a simple-cache entry")
    magic, version, key_len, _key_hash = HEADER.unpack(read_exactly(stream, 0, HEADER.size))
    if magic != INITIAL_MAGIC:
        raise CacheCorrupt(f"no simple-cache magic (found {magic:#018x})")
    if version != VERSION:
        raise CacheCorrupt(f"simple-cache version {version} is not one Safenet knows ({VERSION})")
    if key_len > MAX_KEY or HEADER.size + key_len + 2 * EOF.size > size:
        raise CacheOutside(f"key length {key_len} runs past the file ({size} bytes)")
    key = read_exactly(stream, HEADER.size, key_len).decode("utf-8", "surrogateescape")
    magic0, flags0, _crc0, stream0 = EOF.unpack(read_exactly(stream, size - EOF.size, EOF.size))
    if magic0 != FINAL_MAGIC:
        raise CacheCorrupt(f"no end-of-stream magic in the last record (found {magic0:#018x})")
    sha = 32 if flags0 & FLAG_HAS_KEY_SHA256 else 0
    eof1_at = size - EOF.size - sha - stream0 - EOF.size
    body_at = HEADER.size + key_len
    if eof1_at < body_at:
        raise CacheOutside(f"stream 0 size {stream0} leaves no room for the body in a file of {size} bytes")
    magic1, flags1, crc1, _size1 = EOF.unpack(read_exactly(stream, eof1_at, EOF.size))
    if magic1 != FINAL_MAGIC:
        raise CacheCorrupt(f"no end-of-stream magic after the body at offset {eof1_at}")
    return SimpleEntry(key, body_at, eof1_at - body_at, crc1 if flags1 & FLAG_HAS_CRC32 else None)


def expand_simple(
    parent: Item,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
    siblings: Callable[[str], BinaryIO] | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield the body of a simple-cache entry when it is a picture or video. Bad data becomes a warning.
    ``siblings`` opens the folder's other files: the index, for the last-used time."""
    limits = limits if limits is not None else CacheLimits()
    with open_parent() as opened:
        stream = seekable_copy(opened)
        try:
            entry = read_entry(stream)
        except (CacheCorrupt, struct.error) as exc:
            warn(corrupt_warning(exc, "Chrome simple-cache entry not readable", parent.locator))
            return
        locator = range_locator(parent, "stream1", entry.body_offset, entry.body_length, DETAIL)
        head = media_head(stream, entry.body_offset, entry.body_length, limits, locator, warn)
        if head is None:
            return
        note = f"Chrome simple-cache entry for URL {display_safe(entry.url[:2048])}"
        if entry.key != entry.url:
            note += f"; key {display_safe(entry.key[:2048])}"
        if entry.crc32 is not None:
            crc = zlib.crc32(read_exactly(stream, entry.body_offset, entry.body_length))
            note += "; body CRC-32 matches" if crc == entry.crc32 else "; body CRC-32 does NOT match (damaged?)"
        accessed, said = _last_used(parent, siblings, limits)
        note += f"; {said}"
        name = url_name(entry.url, "stream1", head)
        item = Item(locator, name, entry.body_length, accessed=accessed, carved=True, note=note)
        yield item, window(stream, entry.body_offset, entry.body_length)


def _last_used(
    parent: Item, siblings: Callable[[str], BinaryIO] | None, limits: CacheLimits
) -> tuple[Timestamp | None, str]:
    """The entry's last-used time from the cache index, and what to say about it in the note."""
    if siblings is None:
        return None, "last-used time not read (it is in the cache index, read only beside a live top-level file)"
    try:
        index = _index_for(parent, siblings, limits)
    except FileNotFoundError:
        return None, f"last-used time not read: no {INDEX_PATH} beside the entry"
    except (OSError, EvidenceError) as exc:
        return None, f"last-used time not read: {INDEX_PATH} not readable ({reason_of(exc)})"
    if index.problem:
        return None, f"last-used time not read: {INDEX_PATH} {index.problem}"
    micros = index.times.get(int(parent.name[:16], 16))
    if micros is None:
        return None, f"not listed in {INDEX_PATH} (added after the index was written, or removed): no time"
    found = chrome_time(micros)
    if found is None:
        return None, f"last-used time in {INDEX_PATH} is not a possible time ({micros})"
    said = f"last-used time (accessed) from {INDEX_PATH}"
    if not index.crc_matches:
        said += " (the index's CRC-32 does NOT match: it may be stale or damaged)"
    return dataclasses.replace(found, precision_s=1.0), said


def _index_for(parent: Item, siblings: Callable[[str], BinaryIO], limits: CacheLimits) -> SimpleIndex:
    """The folder's parsed index, from the per-process cache when its size has not changed."""
    with siblings(INDEX_PATH) as opened:
        size = opened.seek(0, 2)
        folder = parent.locator.leaf.value.rsplit("/", 1)[0]
        key = f"{(parent.locator.parent or parent.locator).to_json()}\0{folder}\0{size}"
        with _indexes_lock:
            if key in _indexes:
                _indexes.move_to_end(key)
                return _indexes[key]
        if size > MAX_INDEX:
            index = SimpleIndex({}, f"is {size} bytes, over the {MAX_INDEX}-byte limit")
        else:
            opened.seek(0)
            index = parse_index(opened.read(MAX_INDEX), limits)
    with _indexes_lock:
        _indexes[key] = index
        while len(_indexes) > INDEXES_KEPT:
            _indexes.popitem(last=False)
    return index


def parse_index(data: bytes, limits: CacheLimits | None = None) -> SimpleIndex:
    """Last-used times by entry hash from the bytes of ``the-real-index`` (see the module docstring)."""
    limits = limits if limits is not None else CacheLimits()
    if len(data) < _PICKLE.size + _INDEX_META.size:
        return SimpleIndex({}, f"is too short ({len(data)} bytes)")
    payload_size, crc = _PICKLE.unpack_from(data)
    if not _INDEX_META.size <= payload_size <= len(data) - _PICKLE.size:
        return SimpleIndex({}, f"says {payload_size} bytes of data but holds {len(data) - _PICKLE.size}")
    payload = data[_PICKLE.size : _PICKLE.size + payload_size]
    magic, version, count, _cache_size, _reason = _INDEX_META.unpack_from(payload)
    if magic != INDEX_MAGIC:
        return SimpleIndex({}, f"has no simple-index magic (found {magic:#018x})")
    if version not in INDEX_VERSIONS:
        return SimpleIndex({}, f"is version {version}, not one Safenet reads ({', '.join(map(str, INDEX_VERSIONS))})")
    room = (len(payload) - _INDEX_META.size) // _INDEX_ENTRY.size
    if count > room:
        return SimpleIndex({}, f"lists {count} entries but has room for {room}")
    if count > limits.max_entries:
        return SimpleIndex({}, f"lists {count} entries, over the limit of {limits.max_entries}")
    times = {
        key: used
        for key, used, _size in _INDEX_ENTRY.iter_unpack(
            payload[_INDEX_META.size : _INDEX_META.size + count * _INDEX_ENTRY.size]
        )
    }
    return SimpleIndex(times, crc_matches=zlib.crc32(payload) == crc)
