"""Pictures inside OLE compound files (legacy .doc/.xls/.ppt, .msg, embedded OLE objects).

Word keeps pictures in its "Data" stream behind PICF headers, PowerPoint in "Pictures", Outlook in
attachment streams, and an embedded object's "\\x01Ole10Native" stream holds a whole file. Rather than
parse each application's records, every stream is searched for picture signatures with C-speed
``bytes.find`` and each candidate is validated by the structural carver (``safenet.evidence.carve``):
only whole pictures (JPEG to its end marker, PNG with every CRC ...) become items.

A stream's sectors need not be contiguous in the file, so the locator names the stream:
EMBEDDED(value=<stream path, "/"-separated>, offset, length, detail="ole") with the range within the
stream; reopening reads the stream through ``olefile`` again. Thumbs.db files are caches, not
documents: ``safenet.evidence.caches`` expands them.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Generator
from typing import BinaryIO

import olefile

from safenet.analysis.filetype import TYPES, MediaKind
from safenet.evidence.carve import CarveLimits, carve
from safenet.evidence.carve.scan import CarveLimitReached
from safenet.evidence.embedded.common import EmbeddedLimits, PictureBudget, byte_range, embedded_item, reason, warn_at
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, Item, WarningSink
from safenet.reasons import reason_of

OLE = "ole"
_ERRORS = (OSError, ValueError, struct.error, IndexError, KeyError, TypeError, RecursionError)


def expand_ole(
    parent: Item, stream: BinaryIO, warn: WarningSink, budget: PictureBudget
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each whole picture found in the streams of a seekable compound file."""
    limits = budget.limits
    try:
        ole = olefile.OleFileIO(stream)
    except _ERRORS as exc:
        warn_at(warn, "embedded-corrupt", f"compound file not readable: {reason(exc)}", parent)
        return
    try:
        paths = ole.listdir(streams=True, storages=False)
    except _ERRORS as exc:
        warn_at(warn, "embedded-corrupt", f"compound file directory not readable: {reason(exc)}", parent)
        ole.close()
        return
    try:
        for count, path in enumerate(paths):
            name = "/".join(path)
            here = Layer(LayerKind.EMBEDDED, value=name, detail=OLE)
            if count >= limits.max_objects or budget.out_of_time():
                what = f"more than {limits.max_objects} streams" if count >= limits.max_objects else "the time limit"
                warn_at(warn, "embedded-limit", f"compound file walk stopped: {what}", parent, here)
                return
            try:
                size = ole.get_size(name)
                if size > limits.max_stream_bytes:
                    message = f"stream of {size} bytes is over the {limits.max_stream_bytes}-byte limit"
                    warn_at(warn, "embedded-limit", message, parent, here)
                    continue
                data = ole.openstream(path).read()
            except _ERRORS as exc:
                warn_at(warn, "embedded-corrupt", f"stream not readable: {reason(exc)}", parent, here)
                continue
            for found in _pictures(data, limits, warn, parent, here):
                if not budget.take():
                    warn_at(warn, "embedded-limit", f"more than {limits.max_pictures} pictures; rest refused", parent)
                    return
                layer = Layer(LayerKind.EMBEDDED, value=name, offset=found[0], length=found[1], detail=OLE)
                body = data[found[0] : found[0] + found[1]]
                note = (
                    f"{found[2].upper()} picture in stream {display_safe(name)} of the parent compound file "
                    f"(OLE), {byte_range(found[0], found[1])} of the stream"
                )
                item = embedded_item(parent, layer, found[1], body[:64], note, structural=False)
                stem = path[-1].lstrip("\x01\x02\x03\x05") or "stream"
                item_name = f"{stem}-{found[0]}.{item.name.rsplit('.', 1)[-1]}"
                yield (
                    Item(item.locator, item_name, item.size, deleted=item.deleted, carved=item.carved, note=note),
                    (io.BytesIO(body)),
                )
    finally:
        ole.close()


def _pictures(
    data: bytes, limits: EmbeddedLimits, warn: WarningSink, parent: Item, here: Layer
) -> list[tuple[int, int, str]]:
    """(offset, length, filetype) of every whole picture the carver validates in one stream."""
    carve_limits = CarveLimits(window=max(len(data), 1), max_carves=limits.max_pictures)
    out: list[tuple[int, int, str]] = []
    try:
        for found in carve(io.BytesIO(data), len(data), carve_limits):
            if found.partial is None and found.length <= limits.max_picture_bytes and _is_image(found.filetype):
                out.append((found.offset, found.length, found.filetype))
    except CarveLimitReached as exc:
        warn_at(warn, "embedded-limit", f"{reason_of(exc)}; rest of the stream not searched", parent, here)
    return out


def _is_image(filetype: str) -> bool:
    known = TYPES.get(filetype)
    return known is not None and known.kind is MediaKind.IMAGE


def open_ole_picture(container: BinaryIO, layer: Layer, limits: EmbeddedLimits) -> BinaryIO:
    """Reopen one picture from its stream path and range (the compound file is parsed again)."""
    if layer.offset is None or layer.length is None:
        raise EvidenceError(f"OLE picture in {display_safe(layer.value)} has no byte range")
    try:
        ole = olefile.OleFileIO(container)
        try:
            if ole.get_size(layer.value) > limits.max_stream_bytes:
                raise EvidenceError(f"stream {display_safe(layer.value)} is over the size limit")
            data = ole.openstream(layer.value.split("/")).read()
        finally:
            ole.close()
    except _ERRORS as exc:
        raise EvidenceError(f"cannot reopen OLE stream {display_safe(layer.value)}: {reason(exc)}") from exc
    body = data[layer.offset : layer.offset + layer.length]
    if len(body) != layer.length:
        raise EvidenceError(f"OLE picture in {display_safe(layer.value)} is shorter than recorded")
    return io.BytesIO(body)
