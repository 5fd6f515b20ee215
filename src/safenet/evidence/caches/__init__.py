"""Thumbnail caches as item producers: each cached picture becomes an item that points into its cache.

Explorer (thumbcache_*.db, Thumbs.db) keeps thumbnails of pictures long after the pictures are
deleted. The engine expands a cache file the way it expands an archive: :func:`expand_cache` yields
(Item, stream) pairs, and :func:`open_cache_entry` reopens one entry from its CACHE_ENTRY layer.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import BinaryIO

from safenet.evidence.caches.common import CacheLimits
from safenet.evidence.caches.thumbcache import WARNING_CODES, CacheIndex, expand_thumbcache, open_thumbcache_entry
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


def cache_kind(item: Item, filetype: str) -> str | None:
    """Which cache parser an item needs ("thumbcache", "thumbs.db"), or None when it is no cache."""
    if filetype == THUMBCACHE:
        return THUMBCACHE
    if filetype == "ole" and is_thumbs_db(item.name):
        return THUMBS_DB
    return None


def expand_cache(
    parent: Item,
    kind: str,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
    index: CacheIndex | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each cached picture of ``parent`` with its bytes; a stream is valid until the next one."""
    if kind == THUMBCACHE:
        yield from expand_thumbcache(parent, open_parent, warn, limits, index)
    elif kind == THUMBS_DB:
        yield from expand_thumbs_db(parent, open_parent, warn, limits)
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
    raise EvidenceError(
        f"cannot reopen cache entry {display_safe(layer.value)}: unknown cache {display_safe(detail)!r}"
    )
