"""Thumbnail and browser caches as item producers: each cached picture is an item pointing into its cache.

Explorer (thumbcache_*.db, Thumbs.db) keeps thumbnails of pictures long after the pictures are
deleted; browsers (Firefox cache2, Chrome/Edge simple and block-file caches) keep the pictures they
showed, with their URLs; phones keep thumbnail stores (Android .thumbdata; iOS .ithmb is recognised
and recorded as not examined). This module is the one registry of cache parsers. The engine expands
a cache file the way it expands an archive: :func:`expand_cache` yields (Item, stream) pairs, and
:func:`open_cache_entry` reopens one entry from its CACHE_ENTRY layer. A top-level cache file is also
given ``siblings`` (``registry.open_sibling``): Chrome's caches keep an entry's URL and times in other
files of the folder (``data_1``, ``index-dir/the-real-index``), read from there; an entry's locator
still names only its own file, so it reopens without them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import BinaryIO

from safenet.evidence.caches import chrome_blockfile, chrome_simple, firefox, mobile
from safenet.evidence.caches.common import CacheLimits, open_range
from safenet.evidence.caches.thumbcache import WARNING_CODES as THUMBCACHE_WARNINGS
from safenet.evidence.caches.thumbcache import CacheIndex, expand_thumbcache, open_thumbcache_entry
from safenet.evidence.caches.thumbsdb import DETAIL as THUMBS_DB
from safenet.evidence.caches.thumbsdb import expand_thumbs_db, is_thumbs_db, open_thumbs_entry
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, Item, WarningSink

__all__ = [
    "THUMBCACHE",
    "WARNING_CODES",
    "CacheIndex",
    "CacheLimits",
    "cache_kind",
    "expand_cache",
    "open_cache_entry",
]

THUMBCACHE = "thumbcache"  # the filetype name analysis.filetype gives a CMMM file
#: cache kinds that are also the CACHE_ENTRY detail of their entries, reopened as one byte range
_RANGES: dict[str, str] = {
    firefox.DETAIL: "Firefox cache",
    chrome_simple.DETAIL: "Chrome simple cache",
    chrome_blockfile.DETAIL: "Chrome block-file cache",
    mobile.THUMBDATA: "Android thumbnail store",
}

WARNING_CODES: dict[str, str] = {
    **THUMBCACHE_WARNINGS,
    "cache-index-outside": "an offset, address or size in a cache record points outside the file that holds it "
    "(metadata offset, key length, body address); that entry was not examined and the rest of the cache was",
    "cache-body-elsewhere": "Chrome block-file cache entries keep their bodies in other files of the cache "
    "(f_ files; data_2, data_3 when they are not read beside data_1), which are examined on their own; the "
    "warning lists their URLs",
    "cache-not-examined": "a cache Safenet recognises but cannot decode (iOS .ithmb raw thumbnails); the file "
    "was hashed whole, its thumbnails were not examined",
}


def cache_kind(item: Item, filetype: str) -> str | None:
    """Which cache parser an item needs, or None when it is no cache.

    Browser and phone caches are recognised by name and place, whatever their first bytes look like
    (a Firefox entry starts with its body, so it sniffs as that body's type); each parser then checks
    the structure and says in a warning when it is not what the name promised.
    """
    if filetype == THUMBCACHE:
        return THUMBCACHE
    if filetype == "ole" and is_thumbs_db(item.name):
        return THUMBS_DB
    if firefox.is_entry(item):
        return firefox.DETAIL
    if chrome_simple.is_entry(item.name):
        return chrome_simple.DETAIL
    if chrome_blockfile.is_block_file(item.name):
        return chrome_blockfile.DETAIL
    if mobile.is_thumbdata(item.name):
        return mobile.THUMBDATA
    if mobile.is_ithmb(item.name):
        return mobile.ITHMB
    return None


def expand_cache(
    parent: Item,
    kind: str,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
    index: CacheIndex | None = None,
    siblings: Callable[[str], BinaryIO] | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each cached picture of ``parent`` with its bytes; a stream is valid until the next one.

    ``siblings(relpath)`` opens another file of the cache file's folder (None inside an archive or for a
    deleted file: each file is then read on its own)."""
    if kind == THUMBCACHE:
        yield from expand_thumbcache(parent, open_parent, warn, limits, index)
    elif kind == THUMBS_DB:
        yield from expand_thumbs_db(parent, open_parent, warn, limits)
    elif kind == firefox.DETAIL:
        yield from firefox.expand_firefox(parent, open_parent, warn, limits)
    elif kind == chrome_simple.DETAIL:
        yield from chrome_simple.expand_simple(parent, open_parent, warn, limits, siblings)
    elif kind == chrome_blockfile.DETAIL:
        yield from chrome_blockfile.expand_blockfile(parent, open_parent, warn, limits, siblings)
    elif kind == mobile.THUMBDATA:
        yield from mobile.expand_thumbdata(parent, open_parent, warn)
    elif kind == mobile.ITHMB:
        yield from mobile.expand_ithmb(parent, warn)
    else:
        raise ValueError(f"unknown cache kind {kind!r}")


def open_cache_entry(container: BinaryIO, layer: Layer) -> BinaryIO:
    """Reopen one cache entry from its layer and a stream of the cache file (``safenet verify``)."""
    if layer.kind is not LayerKind.CACHE_ENTRY:
        raise EvidenceError(f"not a cache-entry layer: {layer.kind.value}")
    detail = layer.detail or ""
    if detail == THUMBS_DB:
        return open_thumbs_entry(container, layer)
    if detail.startswith(THUMBCACHE):
        return open_thumbcache_entry(container, layer)
    if detail in _RANGES:
        return open_range(container, layer, _RANGES[detail])
    raise EvidenceError(
        f"cannot reopen cache entry {display_safe(layer.value)}: unknown cache {display_safe(detail)!r}"
    )
