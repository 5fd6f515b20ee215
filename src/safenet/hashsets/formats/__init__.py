"""The one registry of hash-set readers, keyed by each class's stable NAME.

The list is explicit and ordered: detection tries the most specific formats first and the catch-all hash
list last. A duplicate NAME is a programming error and fails at import, not half-way through an import.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from safenet.hashsets.formats.base import BulkDigests, HashSetFormat, read_head
from safenet.hashsets.formats.hashdeep import HashdeepFormat
from safenet.hashsets.formats.hashlist import HashListFormat
from safenet.hashsets.formats.nsrl import NsrlV2Format, NsrlV3Format
from safenet.hashsets.formats.pdqlist import PdqListFormat
from safenet.hashsets.formats.vics import VicsFormat
from safenet.hashsets.formats.vpdq import VpdqFormat
from safenet.hashsets.model import HashSetError, UnknownFormat

FORMAT_CLASSES: tuple[type[HashSetFormat], ...] = (
    VicsFormat,
    NsrlV3Format,
    NsrlV2Format,
    HashdeepFormat,
    VpdqFormat,  # 'frame,quality,hash,seconds' lines: before the PDQ and plain lists
    PdqListFormat,  # before the hash lists: "hash,quality" lines and PDQ headers are its own
    HashListFormat,  # catch-all: keep last
)


def _registry(classes: tuple[type[HashSetFormat], ...]) -> Mapping[str, type[HashSetFormat]]:
    registry: dict[str, type[HashSetFormat]] = {}
    for cls in classes:
        if cls.NAME in registry:
            raise RuntimeError(f"hash-set format NAME '{cls.NAME}' is registered twice")
        registry[cls.NAME] = cls
    return MappingProxyType(registry)


FORMATS: Mapping[str, type[HashSetFormat]] = _registry(FORMAT_CLASSES)


def format_names() -> tuple[str, ...]:
    """Registered format names, in detection order."""
    return tuple(FORMATS)


def get_format(name: str) -> HashSetFormat:
    """A fresh reader for the named format."""
    try:
        return FORMATS[name]()
    except KeyError:
        raise HashSetError(f"unknown hash-set format '{name}'; use one of {', '.join(FORMATS)}") from None


def detect_format(path: Path) -> HashSetFormat:
    """A fresh reader for the first format whose sniffer accepts ``path``."""
    try:
        head = read_head(path)
    except OSError as exc:
        raise HashSetError(f"cannot read {path}: {exc.strerror or exc}; check the path and permissions") from exc
    if head:
        for cls in FORMAT_CLASSES:
            if cls.sniff(path, head):
                return cls()
    if head:
        for cls in FORMAT_CLASSES:
            miss = cls.near_miss(head)
            if miss:
                raise UnknownFormat(f"{path} {miss}")
    what = "is empty" if not head else "is not in a hash-set format Safenet reads"
    raise UnknownFormat(
        f"{path} {what} (supported: {', '.join(FORMATS)}); convert it, or pass --format if you know the format"
    )


__all__ = [
    "FORMATS",
    "FORMAT_CLASSES",
    "BulkDigests",
    "HashSetFormat",
    "detect_format",
    "format_names",
    "get_format",
]
