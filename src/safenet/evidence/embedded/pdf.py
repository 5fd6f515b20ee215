"""Pictures stored in a PDF: image XObjects whose stream is a JPEG (DCTDecode) or JPEG 2000 (JPXDecode).

Such a stream holds the picture file's own bytes, so its digests match a hash set entry of the
picture. Every object in the cross-reference table is looked at (not only those a page shows: a
picture dropped from a page may still be in the file). The PDF is parsed by ``pypdf``; the stream
bytes are taken as stored and never decoded by it.

* A stream stored as is (one filter) and found byte for byte in the file is a byte range of the parent:
  EMBEDDED(value="pdf-obj-<n>", inode=<n>, offset, length, detail="pdf").
* A stream compressed again (FlateDecode before DCTDecode/JPXDecode) or encrypted is extracted:
  EMBEDDED(value="pdf-obj-<n>", inode=<n>, detail="pdf") with no range; reopening parses the PDF again.

Raw pixel images (FlateDecode alone, CCITT, JBIG2) are not files anyone could hold a hash of and are
left alone. Limits: the parent size, the number of objects, wall time, pypdf's declared-length cap,
and a bounded inflate of each picture; crossing one is an "embedded-limit" warning.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Generator
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.errors import LimitReachedError, PyPdfError
from pypdf.generic import ArrayObject, IndirectObject, NameObject, StreamObject

from safenet.evidence.caches.common import stream_size, window
from safenet.evidence.embedded.common import (
    PDF,
    EmbeddedLimits,
    PictureBudget,
    byte_range,
    embedded_item,
    read_upto,
    reason,
    warn_at,
)
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, Item, WarningSink
from safenet.reasons import reason_of

# pypdf logs every oddity of a damaged PDF; Safenet records them as warnings instead, so its log lines
# must not reach the terminal through logging's last-resort handler (they stay available to a configured root).
logging.getLogger("pypdf").addHandler(logging.NullHandler())
_PICTURES = {"/DCTDecode": "JPEG (DCTDecode)", "/JPXDecode": "JPEG 2000 (JPXDecode)"}
# What a hostile PDF can make pypdf raise besides its own errors.
_ERRORS = (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)
_ERRORS_ALL = (*_ERRORS, struct.error, zlib.error, EvidenceError)


def _filters(obj: StreamObject) -> list[str]:
    value = obj.get("/Filter")
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if isinstance(value, NameObject):
        return [str(value)]
    if isinstance(value, ArrayObject):
        return [str(v.get_object() if isinstance(v, IndirectObject) else v) for v in value]
    return []


def _picture(obj: object) -> tuple[str, list[str]] | None:
    """(picture kind, filters applied before it) for an image stream stored as a picture file."""
    if not isinstance(obj, StreamObject) or obj.get("/Subtype") != "/Image":
        return None
    filters = _filters(obj)
    if not filters or filters[-1] not in _PICTURES or any(f != "/FlateDecode" for f in filters[:-1]):
        return None
    return _PICTURES[filters[-1]], filters[:-1]


def _inflate(data: bytes, times: int, limit: int) -> bytes:
    for _ in range(times):
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit:
            raise _TooBig(f"inflates to more than {limit} bytes")
        data = out
    return data


class _TooBig(Exception):
    pass


def _stored_range(stream: BinaryIO, start: int, raw: bytes) -> int | None:
    """File offset of a stream's data when the bytes after its ``stream`` keyword are ``raw``."""
    head = read_upto(stream, start, 64 << 10)
    at = head.find(b"stream")
    while at >= 0:
        for eol in (b"\r\n", b"\n", b"\r"):
            if head[at + 6 : at + 6 + len(eol)] == eol:
                offset = start + at + 6 + len(eol)
                if read_upto(stream, offset, len(raw)) == raw:
                    return offset
        at = head.find(b"stream", at + 6)
    return None


def _objects(reader: PdfReader) -> list[tuple[int, int, int]]:
    """(number, generation, file offset) of every object in the cross-reference table, by number."""
    table: dict[int, tuple[int, int]] = {}
    for generation, entries in reader.xref.items():
        for number, offset in entries.items():
            if isinstance(number, int) and isinstance(offset, int):
                table[number] = (generation, offset)
    return [(number, generation, offset) for number, (generation, offset) in sorted(table.items())]


def _open_reader(stream: BinaryIO) -> PdfReader:
    reader = PdfReader(stream, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise _Encrypted("the PDF is encrypted with a user password")
    return reader


class _Encrypted(Exception):
    pass


def expand_pdf(
    parent: Item, stream: BinaryIO, warn: WarningSink, budget: PictureBudget
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each JPEG / JPEG 2000 picture stored in a seekable PDF stream."""
    limits = budget.limits
    size = stream_size(stream)
    if size > limits.max_parent_bytes:
        warn_at(warn, "embedded-limit", f"PDF of {size} bytes is over the {limits.max_parent_bytes}-byte limit", parent)
        return
    try:
        reader = _open_reader(stream)
        objects = _objects(reader)
    except _Encrypted as exc:
        warn_at(warn, "embedded-encrypted", f"{reason_of(exc)}; its pictures were not examined", parent)
        return
    except (*_ERRORS_ALL, NotImplementedError) as exc:  # pypdf: an unknown encryption algorithm
        warn_at(warn, "embedded-corrupt", f"PDF not readable: {reason(exc)}", parent)
        return
    for count, (number, generation, offset) in enumerate(objects):
        if count >= limits.max_objects or budget.out_of_time():
            what = f"more than {limits.max_objects} objects" if count >= limits.max_objects else "the time limit"
            warn_at(warn, "embedded-limit", f"PDF walk stopped at object {number}: {what}", parent)
            return
        label = f"pdf-obj-{number}"
        try:
            obj = reader.get_object(IndirectObject(number, generation, reader))
            found = _picture(obj)
            if found is None:
                continue
            kind, before = found
            raw = obj._data if isinstance(obj, StreamObject) else b""  # the stream bytes as stored (decrypted)
            if len(raw) > limits.max_picture_bytes:
                raise _TooBig(f"stream of {len(raw)} bytes")
            data = _inflate(raw, len(before), limits.max_picture_bytes)
            where = None if before else _stored_range(stream, offset, raw)
        except LimitReachedError as exc:
            layer = Layer(LayerKind.EMBEDDED, value=label, inode=number, detail=PDF)
            warn_at(warn, "embedded-limit", f"PDF object {number}: {reason(exc)}", parent, layer)
            continue
        except _TooBig as exc:
            layer = Layer(LayerKind.EMBEDDED, value=label, inode=number, detail=PDF)
            message = f"PDF object {number}: {reason_of(exc)}, over the {limits.max_picture_bytes}-byte limit"
            warn_at(warn, "embedded-limit", message, parent, layer)
            continue
        except _ERRORS_ALL as exc:
            layer = Layer(LayerKind.EMBEDDED, value=label, inode=number, detail=PDF)
            warn_at(warn, "embedded-corrupt", f"PDF object {number}: {reason(exc)}", parent, layer)
            continue
        if not data:
            layer = Layer(LayerKind.EMBEDDED, value=label, inode=number, detail=PDF)
            warn_at(warn, "embedded-corrupt", f"PDF object {number}: empty {kind} stream", parent, layer)
            continue
        if not budget.take():
            warn_at(warn, "embedded-limit", f"more than {limits.max_pictures} pictures; rest refused", parent)
            return
        if where is not None:
            layer = Layer(LayerKind.EMBEDDED, value=label, inode=number, offset=where, length=len(data), detail=PDF)
            note = f"{kind} picture in PDF object {number}, {byte_range(where, len(data))} of the parent PDF"
            picture: BinaryIO = window(stream, where, len(data))
        else:
            layer = Layer(LayerKind.EMBEDDED, value=label, inode=number, detail=PDF)
            how = "inflated (FlateDecode)" if before else "decrypted"
            note = f"{kind} picture in PDF object {number} of the parent PDF, {how} from the stored stream"
            picture = io.BytesIO(data)
        yield embedded_item(parent, layer, len(data), data[:64], note, structural=False), picture


def open_pdf_object(container: BinaryIO, layer: Layer, limits: EmbeddedLimits) -> BinaryIO:
    """Reopen an extracted PDF picture (one without a byte range) by parsing the PDF again."""
    number = layer.inode
    if number is None:
        raise EvidenceError(f"PDF picture {display_safe(layer.value)} has no object number")
    try:
        reader = _open_reader(container)
        generation = next((g for n, g, _ in _objects(reader) if n == number), 0)
        obj = reader.get_object(IndirectObject(number, generation, reader))
        found = _picture(obj)
        if found is None or not isinstance(obj, StreamObject):
            raise EvidenceError(f"PDF object {number} is no longer a JPEG or JPEG 2000 picture")
        return io.BytesIO(_inflate(obj._data, len(found[1]), limits.max_picture_bytes))
    except (*_ERRORS, struct.error, zlib.error, _Encrypted, _TooBig, NotImplementedError) as exc:
        raise EvidenceError(f"cannot reopen PDF object {number}: {reason(exc)}") from exc
