"""Firefox ``cache2`` entry files as an item producer: each cached picture or video is an item.

Firefox keeps one file per cached response in ``<profile>/cache2/entries/<SHA-1 of the key, 40 hex>``.
Layout (``netwerk/cache2/CacheFileMetadata.h/.cpp``; all integers big-endian)::

    0             the response body as received (B bytes)
    B             metadata hash u32 (of the rest of the metadata; not verified)
    B + 4         chunk hashes: one u16 per started 256 KiB chunk of the body (ceil(B / 262144))
    then header   version u32 | fetch count u32 | last fetched u32 | last modified u32 | frecency u32
                  | expiration time u32 | key length u32 | flags u32 (version 2 and later; 28 bytes before)
    then key      key length bytes and a NUL: tags then ":" and the URL, e.g. ":http://example.org/a.jpg",
                  "a,:http://...", "O^partitionKey=%28https%2Cexample.org%29,:https://..."
    then elements NUL-terminated name and value pairs ("request-method", "response-head", ...)
    last 4 bytes  B (u32): where the metadata starts

Times are seconds since 1970 (UTC): "last fetched" becomes the item's accessed time and "last
modified" (when Firefox last wrote the entry) its modified time. The body is the whole item (the
file hashed whole never matches: its metadata follows the picture); its locator is the entry file ›
CACHE_ENTRY(value="body", offset=0, length=B, detail="firefox-cache2"). A body stored with a
Content-Encoding (gzip, br) is not decoded, so it is not recognised as a picture and yields nothing.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import BinaryIO

from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import (
    CacheCorrupt,
    CacheLimits,
    CacheOutside,
    corrupt_warning,
    item_path,
    media_head,
    range_locator,
    read_exactly,
    stream_size,
    unix_time,
    url_name,
    window,
)
from safenet.evidence.locator import display_safe
from safenet.evidence.model import Item, WarningSink

DETAIL = "firefox-cache2"
CHUNK_SIZE = 256 * 1024  # CacheFileChunk kChunkSize: one u16 hash per started chunk
MAX_METADATA = 4 << 20  # real metadata is a few KiB; keys are bounded by URL length
_PATH = re.compile(r"(?:^|/)cache2/(?:entries|trash\d+)/[0-9A-Fa-f]{40}$")  # trashN: a cleared cache
_KEY_URL = re.compile(r"(?:^|,):")


@dataclass(frozen=True, slots=True)
class Metadata:
    body_length: int
    version: int
    fetch_count: int
    last_fetched: int
    last_modified: int
    expiration: int
    key: str
    content_type: str | None

    @property
    def url(self) -> str:
        """The URL after the key's tags (the key itself when it has no tag separator)."""
        found = _KEY_URL.search(self.key)
        return self.key[found.end() :] if found else self.key


def is_entry(item: Item) -> bool:
    """Whether the item sits where Firefox keeps cache2 entries: ``.../cache2/entries/<40 hex>``, or
    ``.../cache2/trash<N>/<40 hex>`` (the entries folder of a cleared cache, renamed and not yet deleted)."""
    return _PATH.search(item_path(item)) is not None


def read_metadata(stream: BinaryIO) -> Metadata:
    """The metadata of one entry file; CacheOutside / CacheCorrupt describe what is wrong."""
    size = stream_size(stream)
    if size < 4 + 4 + 28 + 4:
        raise CacheCorrupt(f"file of {size} bytes is too small for an entry")
    (body,) = struct.unpack(">I", read_exactly(stream, size - 4, 4))
    chunks = -(-body // CHUNK_SIZE)
    start = body + 4 + 2 * chunks
    if start + 28 > size - 4:
        raise CacheOutside(f"metadata offset {body} (header at {start}) is outside the file ({size} bytes)")
    if size - 4 - body > MAX_METADATA:
        raise CacheCorrupt(f"metadata of {size - 4 - body} bytes is over {MAX_METADATA}")
    meta = read_exactly(stream, start, size - 4 - start)
    version, fetches, fetched, modified, _frecency, expires, key_len = struct.unpack_from(">7I", meta, 0)
    if version == 0 or version > 100:
        raise CacheCorrupt(f"metadata version {version} is not one Firefox writes")
    key_at = 32 if version >= 2 else 28
    if key_at + key_len + 1 > len(meta):
        raise CacheOutside(f"key length {key_len} runs past the metadata ({len(meta) - key_at} bytes left)")
    key = meta[key_at : key_at + key_len].decode("utf-8", "surrogateescape")
    return Metadata(
        body, version, fetches, fetched, modified, expires, key, _content_type(meta[key_at + key_len + 1 :])
    )


def _content_type(elements: bytes) -> str | None:
    """The Content-Type line of the stored response head, if there is one."""
    parts = elements.split(b"\x00")
    for name, value in zip(parts[::2], parts[1::2], strict=False):
        if name == b"response-head":
            for line in value.split(b"\r\n"):
                if line.lower().startswith(b"content-type:"):
                    return line[13:].strip().decode("latin-1")[:200]
    return None


def expand_firefox(
    parent: Item,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield the body of a cache2 entry file when it is a picture or video. Bad data becomes a warning."""
    limits = limits if limits is not None else CacheLimits()
    with open_parent() as opened:
        stream = seekable_copy(opened)
        try:
            meta = read_metadata(stream)
        except (CacheCorrupt, struct.error) as exc:
            warn(corrupt_warning(exc, "Firefox cache entry not readable", parent.locator))
            return
        locator = range_locator(parent, "body", 0, meta.body_length, DETAIL)
        head = media_head(stream, 0, meta.body_length, limits, locator, warn)
        if head is None:
            return  # a page, script or style sheet (or an oversized body: warned)
        item = Item(
            locator,
            url_name(meta.url, "body", head),
            meta.body_length,
            modified=unix_time(meta.last_modified),
            accessed=unix_time(meta.last_fetched),
            carved=True,
            note=_note(meta),
        )
        yield item, window(stream, 0, meta.body_length)


def _note(meta: Metadata) -> str:
    parts = [f"Firefox cache2 entry for URL {display_safe(meta.url[:2048])}"]
    if meta.key != meta.url:
        parts.append(f"key {display_safe(meta.key[:2048])}")
    if meta.content_type:
        parts.append(f"Content-Type {display_safe(meta.content_type)}")
    parts.append(f"fetched {meta.fetch_count} times")
    if (expires := unix_time(meta.expiration)) is not None:
        parts.append(f"expires {expires.value.isoformat()}")
    parts.append("times are Firefox's: accessed = last fetched, modified = entry last written")
    return "; ".join(parts)
