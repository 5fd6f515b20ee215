"""Thumbnail and browser caches as item producers: each cached picture is an item pointing into its cache.

Explorer (thumbcache_*.db, Thumbs.db) keeps thumbnails of pictures long after the pictures are
deleted; browsers (Firefox cache2, Chrome/Edge simple and block-file caches) keep the pictures they
showed, with their URLs; phones keep thumbnail stores (Android .thumbdata; iOS .ithmb is recognised
and recorded as not examined). This module is the one registry of cache parsers
(:data:`CACHE_FORMATS`, asked in order). The engine expands a cache file the way it expands an
archive (through ``evidence.producers``): :func:`expand_cache` yields (Item, stream) pairs, and
:func:`open_cache_entry` reopens one entry from its CACHE_ENTRY layer. A top-level cache file is also
given ``siblings`` (``registry.open_sibling``): Chrome's caches keep an entry's URL and times in other
files of the folder (``data_1``, ``index-dir/the-real-index``), read from there; an entry's locator
still names only its own file, so it reopens without them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
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
    "CACHE_FORMATS",
    "THUMBCACHE",
    "WARNING_CODES",
    "CacheFormat",
    "CacheIndex",
    "CacheLimits",
    "CacheOptions",
    "cache_kind",
    "expand_cache",
    "open_cache_entry",
]

THUMBCACHE = "thumbcache"  # the filetype name analysis.filetype gives a CMMM file
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


@dataclass(frozen=True, slots=True)
class CacheOptions:
    """What a cache parser may be given beside the cache file (each uses what it needs)."""

    limits: CacheLimits | None = None
    index: CacheIndex | None = None  # thumbcache: the Windows thumbcache_idx.db read beside it
    siblings: Callable[[str], BinaryIO] | None = None  # Chrome caches: the folder's other files


Entries = Iterator[tuple[Item, BinaryIO]]


@dataclass(frozen=True, slots=True)
class CacheFormat:
    """One cache parser: which items it claims, how it yields their pictures, how one entry is reopened."""

    #: the cache kind, and the CACHE_ENTRY detail of its entries (thumbcache: their detail's prefix, the
    #: cache file's stem). Stored in case files: never rename.
    name: str
    claims: Callable[[Item, str], bool]  # (item, filetype name)
    expand: Callable[[Item, Callable[[], BinaryIO], WarningSink, CacheOptions], Entries]
    reopen: Callable[[BinaryIO, Layer], BinaryIO] | None  # None: it yields no entries (recorded as not examined)

    def owns(self, detail: str) -> bool:
        return detail.startswith(self.name) if self.name == THUMBCACHE else detail == self.name


def _range_format(
    name: str, what: str, claims: Callable[[Item, str], bool], expand: Callable[..., Entries]
) -> CacheFormat:
    """A cache whose entries are one byte range each of the cache file (reopened by :func:`open_range`)."""
    return CacheFormat(name, claims, expand, lambda container, layer: open_range(container, layer, what))


def _named(test: Callable[[str], bool]) -> Callable[[Item, str], bool]:
    """A cache recognised by its file name alone."""
    return lambda item, filetype: test(item.name)


# Each parser given what it uses of the options (limits; the thumbcache index; the folder's other files).
Parent = Callable[[], BinaryIO]


def _thumbcache(parent: Item, open_parent: Parent, warn: WarningSink, o: CacheOptions) -> Entries:
    return expand_thumbcache(parent, open_parent, warn, o.limits, o.index)


def _thumbs_db(parent: Item, open_parent: Parent, warn: WarningSink, o: CacheOptions) -> Entries:
    return expand_thumbs_db(parent, open_parent, warn, o.limits)


def _firefox(parent: Item, open_parent: Parent, warn: WarningSink, o: CacheOptions) -> Entries:
    return firefox.expand_firefox(parent, open_parent, warn, o.limits)


def _simple(parent: Item, open_parent: Parent, warn: WarningSink, o: CacheOptions) -> Entries:
    return chrome_simple.expand_simple(parent, open_parent, warn, o.limits, o.siblings)


def _blockfile(parent: Item, open_parent: Parent, warn: WarningSink, o: CacheOptions) -> Entries:
    return chrome_blockfile.expand_blockfile(parent, open_parent, warn, o.limits, o.siblings)


def _thumbdata(parent: Item, open_parent: Parent, warn: WarningSink, o: CacheOptions) -> Entries:
    return mobile.expand_thumbdata(parent, open_parent, warn)


def _ithmb(parent: Item, open_parent: Parent, warn: WarningSink, o: CacheOptions) -> Entries:
    return mobile.expand_ithmb(parent, warn)


def _is_thumbcache(item: Item, filetype: str) -> bool:
    return filetype == THUMBCACHE


def _is_thumbs_db(item: Item, filetype: str) -> bool:
    return filetype == "ole" and is_thumbs_db(item.name)


def _is_firefox(item: Item, filetype: str) -> bool:
    return firefox.is_entry(item)  # by its folder: cache2/entries or a trash folder


#: Cache parsers in the order they are asked (by type first, then by name and place). Browser and phone
#: caches are recognised by name and place, whatever their first bytes look like (a Firefox entry starts
#: with its body, so it sniffs as that body's type); each parser then checks the structure and says in a
#: warning when it is not what the name promised.
CACHE_FORMATS: tuple[CacheFormat, ...] = (
    CacheFormat(THUMBCACHE, _is_thumbcache, _thumbcache, open_thumbcache_entry),
    CacheFormat(THUMBS_DB, _is_thumbs_db, _thumbs_db, open_thumbs_entry),
    _range_format(firefox.DETAIL, "Firefox cache", _is_firefox, _firefox),
    _range_format(chrome_simple.DETAIL, "Chrome simple cache", _named(chrome_simple.is_entry), _simple),
    _range_format(
        chrome_blockfile.DETAIL, "Chrome block-file cache", _named(chrome_blockfile.is_block_file), _blockfile
    ),
    _range_format(mobile.THUMBDATA, "Android thumbnail store", _named(mobile.is_thumbdata), _thumbdata),
    CacheFormat(mobile.ITHMB, _named(mobile.is_ithmb), _ithmb, None),
)
_BY_NAME: dict[str, CacheFormat] = {f.name: f for f in CACHE_FORMATS}
if len(_BY_NAME) != len(CACHE_FORMATS):  # pragma: no cover - a programming error caught at import
    raise RuntimeError(f"duplicate cache format names: {[f.name for f in CACHE_FORMATS]}")


def cache_kind(item: Item, filetype: str) -> str | None:
    """Which cache parser an item needs (the first in :data:`CACHE_FORMATS` that claims it), or None."""
    for cache in CACHE_FORMATS:
        if cache.claims(item, filetype):
            return cache.name
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
    try:
        cache = _BY_NAME[kind]
    except KeyError:
        raise ValueError(f"unknown cache kind {kind!r}") from None
    yield from cache.expand(parent, open_parent, warn, CacheOptions(limits, index, siblings))


def open_cache_entry(container: BinaryIO, layer: Layer) -> BinaryIO:
    """Reopen one cache entry from its layer and a stream of the cache file (``safenet verify``)."""
    if layer.kind is not LayerKind.CACHE_ENTRY:
        raise EvidenceError(f"not a cache-entry layer: {layer.kind.value}")
    detail = layer.detail or ""
    for cache in CACHE_FORMATS:
        if cache.reopen is not None and cache.owns(detail):
            return cache.reopen(container, layer)
    raise EvidenceError(
        f"cannot reopen cache entry {display_safe(layer.value)}: unknown cache {display_safe(detail)!r}"
    )
