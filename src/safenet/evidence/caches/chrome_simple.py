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
CRC-32 is checked when the record carries one and a mismatch is written in the note. The entry's
times are in the cache's index (``index-dir/the-real-index``), which is not read, so items have none.
Locator: the ``_0`` file › CACHE_ENTRY(value="stream1", offset, length, detail="chrome-simple").
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import (
    CacheCorrupt,
    CacheLimits,
    CacheOutside,
    chrome_url,
    corrupt_warning,
    media_head,
    range_locator,
    read_at,
    stream_size,
    url_name,
    window,
)
from safenet.evidence.locator import display_safe
from safenet.evidence.model import Item, WarningSink

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
    magic, version, key_len, _key_hash = HEADER.unpack(read_at(stream, 0, HEADER.size))
    if magic != INITIAL_MAGIC:
        raise CacheCorrupt(f"no simple-cache magic (found {magic:#018x})")
    if version != VERSION:
        raise CacheCorrupt(f"simple-cache version {version} is not one Safenet knows ({VERSION})")
    if key_len > MAX_KEY or HEADER.size + key_len + 2 * EOF.size > size:
        raise CacheOutside(f"key length {key_len} runs past the file ({size} bytes)")
    key = read_at(stream, HEADER.size, key_len).decode("utf-8", "surrogateescape")
    magic0, flags0, _crc0, stream0 = EOF.unpack(read_at(stream, size - EOF.size, EOF.size))
    if magic0 != FINAL_MAGIC:
        raise CacheCorrupt(f"no end-of-stream magic in the last record (found {magic0:#018x})")
    sha = 32 if flags0 & FLAG_HAS_KEY_SHA256 else 0
    eof1_at = size - EOF.size - sha - stream0 - EOF.size
    body_at = HEADER.size + key_len
    if eof1_at < body_at:
        raise CacheOutside(f"stream 0 size {stream0} leaves no room for the body in a file of {size} bytes")
    magic1, flags1, crc1, _size1 = EOF.unpack(read_at(stream, eof1_at, EOF.size))
    if magic1 != FINAL_MAGIC:
        raise CacheCorrupt(f"no end-of-stream magic after the body at offset {eof1_at}")
    return SimpleEntry(key, body_at, eof1_at - body_at, crc1 if flags1 & FLAG_HAS_CRC32 else None)


def expand_simple(
    parent: Item,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield the body of a simple-cache entry when it is a picture or video. Bad data becomes a warning."""
    limits = limits if limits is not None else CacheLimits()
    with open_parent() as opened:
        stream = seekable_copy(opened)
        try:
            entry = read_entry(stream)
        except (CacheCorrupt, struct.error) as exc:
            reason = exc if isinstance(exc, CacheCorrupt) else CacheCorrupt(str(exc))
            warn(corrupt_warning(reason, "Chrome simple-cache entry not readable", parent.locator))
            return
        locator = range_locator(parent, "stream1", entry.body_offset, entry.body_length, DETAIL)
        head = media_head(stream, entry.body_offset, entry.body_length, limits, locator, warn)
        if head is None:
            return
        note = f"Chrome simple-cache entry for URL {display_safe(entry.url[:2048])}"
        if entry.key != entry.url:
            note += f"; key {display_safe(entry.key[:2048])}"
        if entry.crc32 is not None:
            crc = zlib.crc32(read_at(stream, entry.body_offset, entry.body_length))
            note += "; body CRC-32 matches" if crc == entry.crc32 else "; body CRC-32 does NOT match (damaged?)"
        note += "; times not read (they are in the cache index)"
        item = Item(locator, url_name(entry.url, "stream1", head), entry.body_length, carved=True, note=note)
        yield item, window(stream, entry.body_offset, entry.body_length)
