"""Scheduling: user folders and likely media first, system folders last (Autopsy's lesson), so that
hits come early in a quick triage. The order changes when things are found, never what is found.

``ranked`` gives the same order as ``order`` while the items are still being listed: an item of the first rank
(a likely picture in a user folder, with no physical offset) can be examined as soon as it is listed, since
nothing listed later can come before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from safenet.analysis.filetype import TYPES
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import Item

_USER = (
    "users/",
    "home/",
    "documents and settings/",
    "dcim/",
    "pictures/",
    "downloads/",
    "desktop/",
    "videos/",
    "movies/",
    "documents/",
    "whatsapp/",
    "telegram/",
    "snapchat/",
    "$recycle.bin/",
    ".trash",
)
_SYSTEM = (
    "windows/",
    "program files",
    "programdata/",
    "usr/",
    "system/",
    "library/",
    "bin/",
    "lib/",
    "sbin/",
    "proc/",
    "sys/",
    "etc/",
    "var/lib/",
    "opt/",
    "applications/",
    "system volume information/",
)
_MEDIA_EXTS = frozenset(ext for t in TYPES.values() if t.is_media for ext in t.extensions)


_CONTAINERS = (LayerKind.IMAGE, LayerKind.PARTITION, LayerKind.ENCRYPTION, LayerKind.FILESYSTEM)
# One pattern per group instead of a loop over the markers: every listed item is ranked before the first is read.
_USER_RE = re.compile("|".join(re.escape("/" + marker) for marker in _USER))  # anywhere in the path
_SYSTEM_RE = re.compile("|".join(re.escape("/" + marker) for marker in _SYSTEM))  # at its start


def _path_of(item: Item) -> str:
    """The path inside its file system: image, partition and file-system layers are not part of it."""
    return "/".join(la.value for la in item.locator.layers[1:] if la.kind not in _CONTAINERS).lower()


def _offset(item: Item) -> int:
    """Physical offset on the medium where the back-end gives one (partition start + data start), else -1."""
    path = next((la for la in item.locator.layers if la.kind is LayerKind.PATH and la.offset is not None), None)
    if path is None or path.offset is None:
        return -1
    # a hostile file system's negative position counts as 0: no item ranks before FIRST_RANK (see ranked)
    return max(0, path.offset + sum(la.offset or 0 for la in item.locator.layers if la.kind is LayerKind.PARTITION))


def priority(item: Item) -> tuple[int, int]:
    path = _path_of(item)
    padded = "/" + path.lstrip("/")
    if _USER_RE.search(padded):
        group = 0
    elif _SYSTEM_RE.match(padded):
        group = 2
    else:
        group = 1
    dot = item.name.rfind(".")
    media = 0 if dot > 0 and item.name[dot + 1 :].lower() in _MEDIA_EXTS else 1
    return group, media


def _rank(item: Item) -> tuple[int, int, int]:
    return (*priority(item), _offset(item))


def order(items: Iterable[Item]) -> list[Item]:
    """Stable sort by priority, then physical offset (images: fewer seeks); enumeration order breaks ties."""
    return sorted(items, key=_rank)


#: The first rank there is: a user folder's likely media, no physical offset (offsets are positions, never < 0).
FIRST_RANK = (0, 0, -1)


def ranked(items: Iterable[Item]) -> Iterator[Item]:
    """``order(items)``, yielded while ``items`` is still being listed: first-rank items as they come (in
    listing order, as the stable sort keeps them), then the rest, sorted, once the listing has ended."""
    rest: list[tuple[tuple[int, int, int], Item]] = []
    for item in items:
        rank = _rank(item)
        if rank == FIRST_RANK:
            yield item
        else:
            rest.append((rank, item))
    rest.sort(key=_first)  # stable: listing order breaks ties, as in order()
    for _, item in rest:
        yield item


def _first(pair: tuple[tuple[int, int, int], Item]) -> tuple[int, int, int]:
    return pair[0]
