"""Scheduling: user folders and likely media first, system folders last (Autopsy's lesson), so that
hits come early in a quick triage. The order changes when things are found, never what is found.
"""

from __future__ import annotations

from collections.abc import Iterable

from safenet.analysis.filetype import TYPES
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


def _path_of(item: Item) -> str:
    return "/".join(layer.value for layer in item.locator.layers[1:]).lower()


def priority(item: Item) -> tuple[int, int]:
    path = _path_of(item)
    padded = "/" + path.lstrip("/")
    if any("/" + marker in padded for marker in _USER):
        group = 0
    elif any(padded.startswith("/" + marker) for marker in _SYSTEM):
        group = 2
    else:
        group = 1
    dot = item.name.rfind(".")
    media = 0 if dot > 0 and item.name[dot + 1 :].lower() in _MEDIA_EXTS else 1
    return group, media


def order(items: Iterable[Item]) -> list[Item]:
    """Stable sort by priority; enumeration order (sorted paths) breaks ties, so runs are repeatable."""
    return sorted(items, key=priority)
