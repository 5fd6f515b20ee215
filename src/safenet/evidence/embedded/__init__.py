"""Embedded pictures as an item producer: pictures inside pictures and documents become items.

EXIF thumbnails and camera previews (JPEG, TIFF, DNG and TIFF-based RAW including Olympus ORF), the
Exif thumbnails and JPEG items of HEIF/HEIC/AVIF files, Canon CR3 and Fujifilm RAF previews, MPO secondary pictures,
JPEG / JPEG 2000 pictures stored in PDFs, pictures inside OLE compound files (legacy Office, .msg)
and the media parts of Office Open XML / OpenDocument files. A thumbnail often outlives an edit of
its picture, and a picture pasted into a document is the same file as the one on disk.

The engine expands an item the way it expands a cache: :func:`embedded_kind` says whether an item has
a producer, :func:`expand_embedded` yields (Item, stream) pairs and :func:`open_embedded` reopens one
from its EMBEDDED layer (``safenet verify``). OOXML/ODF parts are archive members (the zip expander
reads them), with a note. Every item's ``note`` says what it is and where; EXIF thumbnails, previews
and MPO pictures are flagged ``carved`` (not seen without specialist software, so never counted as
accessible), pictures of documents keep the document's flags. Warning codes: :data:`WARNING_CODES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterator
from typing import BinaryIO

from safenet.evidence.archive import ArchiveLimits, Nesting, expand
from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import stream_size, window
from safenet.evidence.embedded.common import PDF, EmbeddedLimits, PictureBudget, embedded_depth, warn_at
from safenet.evidence.embedded.exif import EXIF, MPO, TIFF, emit, expand_exif, jpeg_may_hold_pictures
from safenet.evidence.embedded.exif import Found as Range
from safenet.evidence.embedded.isobmff import CR3, HEIF, cr3_found, heif_found
from safenet.evidence.embedded.ole import OLE, expand_ole, open_ole_picture
from safenet.evidence.embedded.raw import RAF, raf_found
from safenet.evidence.locator import Layer, LayerKind, display_safe
from safenet.evidence.model import EvidenceError, Item, WarningSink

__all__ = [
    "WARNING_CODES",
    "EmbeddedLimits",
    "embedded_kind",
    "expand_embedded",
    "open_embedded",
]

WARNING_CODES: dict[str, str] = {
    "embedded-corrupt": "a picture's or document's structure (EXIF/TIFF offsets, IFD loop, MP index, ISO boxes "
    "of HEIF/CR3, RAF header, PDF cross-references or objects, OLE sectors) is damaged; pictures before the "
    "damage stand, the rest was not examined",
    "embedded-limit": "a picture or document held more embedded pictures, larger ones, or more objects than the "
    "limits allow, or took longer than the time limit; the rest was not examined",
    "embedded-encrypted": "a PDF encrypted with a user password; its pictures were not examined",
}

#: Filetype name → producer, for the types whose structure is parsed.
_KINDS: dict[str, str] = {
    "jpeg": "jpeg",
    "tiff": "tiff",
    "heic": HEIF,
    "heif": HEIF,
    "avif": HEIF,
    "cr3": CR3,
    "raf": RAF,
    "pdf": PDF,
    "ole": OLE,
    "ooxml": "ooxml",
    "odf": "odf",
}
_DOCUMENTS = {"ooxml": "Office Open XML", "odf": "OpenDocument"}
_STRUCTURAL = frozenset({EXIF, MPO, TIFF, HEIF, CR3, RAF})  # pictures taken from a picture's own structure
_RANGES = _STRUCTURAL | {PDF}  # details whose range is in the parent itself


def embedded_kind(item: Item, filetype: str, limits: EmbeddedLimits | None = None, head: bytes = b"") -> str | None:
    """Which producer an item needs ("jpeg", "tiff", "heif", "cr3", "raf", "pdf", "ole", "ooxml", "odf"), or None.

    ``head``: the item's first bytes, when read: a JPEG whose segments end before any EXIF or MPF segment holds
    no embedded picture, so it needs none (decided here, once, instead of a scan per item that finds nothing)."""
    kind = _KINDS.get(filetype)
    if kind is None:
        return None
    limits = limits if limits is not None else EmbeddedLimits()
    if kind == "jpeg" and head and not jpeg_may_hold_pictures(head, limits.max_segments):
        return None
    leaf = item.locator.leaf
    if leaf.kind is LayerKind.EMBEDDED and leaf.detail in _STRUCTURAL:
        return None  # a thumbnail's or MPO picture's own segments describe its parent's structure, not its own
    return kind if embedded_depth(item.locator) < limits.max_depth else None


def expand_embedded(
    parent: Item,
    kind: str,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: EmbeddedLimits | None = None,
    archive_limits: ArchiveLimits | None = None,
    nesting: Nesting | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield each embedded picture of ``parent`` with its bytes; a stream is valid until the next one.

    Bad data never raises out of here (it becomes warnings); an OSError from ``open_parent`` does.
    ``nesting``: the archives open around ``parent`` (a document's zip counts toward their limits too).
    """
    limits = limits if limits is not None else EmbeddedLimits()
    if kind in _DOCUMENTS:
        yield from _document_parts(parent, kind, open_parent, warn, archive_limits or ArchiveLimits(), nesting)
        return
    budget = PictureBudget(limits)
    try:
        expand_format = _EXPANDERS[kind]
    except KeyError:
        raise ValueError(f"unknown embedded kind {kind!r}") from None
    with open_parent() as opened:
        stream = seekable_copy(opened)
        try:
            yield from expand_format(parent, kind, stream, warn, budget)
        finally:
            if stream is not opened:
                stream.close()


Found = Iterator[tuple[Item, BinaryIO]]


def _camera(parent: Item, kind: str, stream: BinaryIO, warn: WarningSink, budget: PictureBudget) -> Found:
    """HEIF/HEIC/AVIF, CR3 and RAF: JPEG ranges found by their own structure, checked like EXIF thumbnails."""

    def report(problem: str) -> None:
        warn_at(warn, "embedded-corrupt", problem, parent)

    what, finder = _CAMERA[kind]
    yield from emit(parent, stream, finder(stream, budget, report), what, warn, budget)


def _pdf(parent: Item, kind: str, stream: BinaryIO, warn: WarningSink, budget: PictureBudget) -> Found:
    from safenet.evidence.embedded import pdf  # pypdf: imported when a PDF is met

    return pdf.expand_pdf(parent, stream, warn, budget)


def _ole(parent: Item, kind: str, stream: BinaryIO, warn: WarningSink, budget: PictureBudget) -> Found:
    return expand_ole(parent, stream, warn, budget)


_Finder = Callable[[BinaryIO, PictureBudget, Callable[[str], None]], Iterator[Range]]
#: Camera formats: what an item's note calls them, and where their JPEG ranges are found.
_CAMERA: dict[str, tuple[str, _Finder]] = {
    HEIF: ("HEIF", heif_found),
    CR3: ("Canon CR3", lambda stream, budget, report: cr3_found(stream, report)),
    RAF: ("Fujifilm RAF", lambda stream, budget, report: raf_found(stream, report)),
}
#: Producer → expander of a seekable stream of the parent (a document's zip is expanded by the archive code).
_EXPANDERS: dict[str, Callable[[Item, str, BinaryIO, WarningSink, PictureBudget], Found]] = {
    "jpeg": expand_exif,
    "tiff": expand_exif,
    **dict.fromkeys(_CAMERA, _camera),
    PDF: _pdf,
    OLE: _ole,
}


def _document_parts(
    parent: Item,
    kind: str,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: ArchiveLimits,
    nesting: Nesting | None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """The parts of an OOXML/ODF zip that are not XML markup (media, embedded objects, thumbnails)."""
    members = expand(parent, "zip", open_parent, limits, warn, nesting)
    try:
        for member, stream in members:
            name = member.locator.leaf.value
            if name.lower().endswith((".xml", ".rels")) or name.endswith("/"):
                continue
            note = f"part {display_safe(name)} of the parent {_DOCUMENTS[kind]} document"
            yield dataclasses.replace(member, deleted=parent.deleted, carved=parent.carved, note=note), stream
    finally:
        members.close()


def open_embedded(container: BinaryIO, layer: Layer, limits: EmbeddedLimits | None = None) -> BinaryIO:
    """Reopen one embedded picture from its layer and a seekable stream of its parent."""
    if layer.kind is not LayerKind.EMBEDDED:
        raise EvidenceError(f"not an embedded layer: {layer.kind.value}")
    limits = limits if limits is not None else EmbeddedLimits()
    detail = layer.detail or ""
    if detail in _RANGES and layer.offset is not None and layer.length is not None:
        size = stream_size(container)
        if layer.offset < 0 or layer.length < 0 or layer.offset + layer.length > size:
            message = f"embedded range {layer.offset}+{layer.length} lies outside its parent ({size} bytes)"
            raise EvidenceError(message)
        return window(container, layer.offset, layer.length)
    reopen = _REOPENERS.get(detail)
    if reopen is None:
        raise EvidenceError(
            f"cannot reopen embedded picture {display_safe(layer.value)}: unknown producer {display_safe(detail)!r}"
        )
    return reopen(container, layer, limits)


def _pdf_object(container: BinaryIO, layer: Layer, limits: EmbeddedLimits) -> BinaryIO:
    from safenet.evidence.embedded import pdf  # pypdf: imported when a PDF is met

    return pdf.open_pdf_object(container, layer, limits)


#: Details whose pictures are not one byte range of the parent: the parent is parsed again.
_REOPENERS: dict[str, Callable[[BinaryIO, Layer, EmbeddedLimits], BinaryIO]] = {
    OLE: open_ole_picture,
    PDF: _pdf_object,  # a picture whose stored bytes were decoded (no range in the file)
}
