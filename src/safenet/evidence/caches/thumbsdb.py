"""Windows ``Thumbs.db`` (XP and later folder caches, an OLE compound file) as an item producer.

Unlike thumbcache_*.db, Thumbs.db sits in the picture's own folder and its ``Catalog`` stream keeps
the picture's file name and a time, so a thumbnail can be tied to a name even when the picture is
gone. The compound file is read with ``olefile``; Safenet reads only the streams, never writes.

Streams (little-endian)::

    Catalog   header: header size u16 | version u16 | count u32 | width u32 | height u32
              entries: entry size u32 | index u32 | FILETIME u64 | name UTF-16, NUL-terminated
    "<index reversed>"   (index 12 is stream "21")  header size u32 | index u32 | data size u32 | ...
                         then the thumbnail (JPEG; later versions PNG/BMP too)

Each thumbnail's locator is parent › CACHE_ENTRY(value=<stream name>, offset=<header size>,
length=<data size>, detail="thumbs.db"): the range is within the stream, which is reopened through
the compound file (its sectors need not be contiguous in the file).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import olefile

from safenet.analysis.filetype import MediaKind, sniff
from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import CacheLimits, image_extension
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, WarningSink
from safenet.reasons import reason_of

DETAIL = "thumbs.db"
NAMES: frozenset[str] = frozenset({"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db"})
_MAX_HEADER = 64
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    index: int
    name: str
    time: datetime | None


def is_thumbs_db(name: str) -> bool:
    return name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower() in NAMES


def _catalog(ole: olefile.OleFileIO, limits: CacheLimits) -> dict[str, CatalogEntry]:
    """Stream name → catalog entry. A damaged catalog gives what could be read before the damage."""
    if not ole.exists("Catalog") or ole.get_size("Catalog") > limits.max_entry_bytes:
        return {}
    data = ole.openstream("Catalog").read()
    if len(data) < 16:
        return {}
    header_size, _version, count = struct.unpack_from("<HHI", data, 0)
    out: dict[str, CatalogEntry] = {}
    pos = header_size
    for _ in range(min(count, limits.max_entries)):
        if pos + 16 > len(data):
            break
        size, index, filetime = struct.unpack_from("<IIQ", data, pos)
        if size < 16 or pos + size > len(data):
            break
        name = data[pos + 16 : pos + size].decode("utf-16-le", "replace").split("\x00", 1)[0]
        when = _FILETIME_EPOCH + timedelta(microseconds=filetime // 10) if 0 < filetime < (1 << 62) else None
        out[str(index)[::-1]] = CatalogEntry(index, name, when)
        pos += size
    return out


def _payload(data: bytes) -> tuple[int, int] | None:
    """(offset, length) of the picture inside one thumbnail stream, or None when there is none."""
    if len(data) >= 12:
        header_size = struct.unpack_from("<I", data, 0)[0]
        if 8 <= header_size <= _MAX_HEADER and header_size < len(data):
            declared = struct.unpack_from("<I", data, 8)[0] if header_size >= 12 else 0
            length = declared if 0 < declared <= len(data) - header_size else len(data) - header_size
            if sniff(data[header_size : header_size + 64]).kind is MediaKind.IMAGE:
                return header_size, length
    start = data.find(b"\xff\xd8\xff", 0, _MAX_HEADER)  # a header of a layout not listed above
    return (start, len(data) - start) if start >= 0 else None


def expand_thumbs_db(
    parent: Item,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each thumbnail in a Thumbs.db with a stream of its bytes. Bad data becomes warnings."""
    limits = limits if limits is not None else CacheLimits()
    with open_parent() as opened:
        try:
            ole = olefile.OleFileIO(seekable_copy(opened))
        except (OSError, ValueError, struct.error, IndexError) as exc:
            warn(EvidenceWarning("cache-corrupt", f"Thumbs.db not readable: {_reason(exc)}", parent.locator))
            return
        try:
            yield from _entries(parent, ole, warn, limits)
        except (OSError, ValueError, struct.error, IndexError, EvidenceError) as exc:
            warn(
                EvidenceWarning(
                    "cache-corrupt", f"Thumbs.db read failed: {_reason(exc)}; rest not examined", parent.locator
                )
            )
        finally:
            ole.close()


def _entries(
    parent: Item, ole: olefile.OleFileIO, warn: WarningSink, limits: CacheLimits
) -> Generator[tuple[Item, BinaryIO], None, None]:
    catalog = _catalog(ole, limits)
    streams = [entry for entry in ole.listdir(streams=True, storages=False) if len(entry) == 1]
    for count, (name,) in enumerate(streams):
        if name == "Catalog":
            continue
        locator = parent.locator.child(Layer(LayerKind.CACHE_ENTRY, value=name, detail=DETAIL))
        if count >= limits.max_entries:
            warn(EvidenceWarning("cache-limit", f"more than {limits.max_entries} streams; rest not examined", locator))
            return
        if ole.get_size(name) > limits.max_entry_bytes:
            warn(EvidenceWarning("cache-limit", f"stream over {limits.max_entry_bytes} bytes; not examined", locator))
            continue
        data = ole.openstream(name).read()
        found = _payload(data)
        if found is None:
            warn(EvidenceWarning("cache-corrupt", "Thumbs.db stream holds no picture Safenet can read", locator))
            continue
        offset, length = found
        locator = parent.locator.child(
            Layer(LayerKind.CACHE_ENTRY, value=name, offset=offset, length=length, detail=DETAIL)
        )
        entry = catalog.get(name)
        note = f"Thumbs.db thumbnail stream {display_safe(name)}"
        if entry is not None:
            note += f"; catalog name {display_safe(entry.name)!r}"
            note += f", time {entry.time.isoformat()}" if entry.time else ""
        else:
            note += "; not in the catalog"
        body = data[offset : offset + length]
        item_name = f"{name}.{image_extension(body[:64])}"
        yield Item(locator, item_name, length, carved=True, note=note), io.BytesIO(body)


def open_thumbs_entry(container: BinaryIO, layer: Layer) -> BinaryIO:
    """Reopen one Thumbs.db thumbnail from its layer and a stream of the compound file."""
    if layer.offset is None or layer.length is None:
        raise EvidenceError(f"Thumbs.db entry {display_safe(layer.value)} has no byte range")
    try:
        ole = olefile.OleFileIO(seekable_copy(container))
        try:
            data = ole.openstream(layer.value).read()
        finally:
            ole.close()
    except (OSError, ValueError, struct.error, IndexError) as exc:
        raise EvidenceError(f"cannot reopen Thumbs.db entry {display_safe(layer.value)}: {_reason(exc)}") from exc
    body = data[layer.offset : layer.offset + layer.length]
    if len(body) != layer.length:
        raise EvidenceError(f"Thumbs.db entry {display_safe(layer.value)} is shorter than recorded")
    return io.BytesIO(body)


def _reason(exc: BaseException) -> str:
    return reason_of(exc)
