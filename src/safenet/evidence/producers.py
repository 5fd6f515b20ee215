"""Everything found inside an item comes from one table of producers.

A producer turns one item (an archive, a cache file, a picture or document, a region of unallocated
space) into the items found inside it, each with a locator one layer deeper, and reopens any of them
from that layer alone. The engine asks the table once per item which producer claims it
(:func:`claim`), lets that producer expand the item, and examines what it yields like any other item;
``registry.open_locator`` reopens a nested item by looking its layer kind up here
(:data:`BY_LAYER`). A new evidence family is one new entry in :data:`PRODUCERS`, not a new branch in
the engine.

The table is explicit and ordered: the first producer that claims an item expands it (an OLE file
named Thumbs.db is a cache before it is a document with pictures). NAMEs are stable; a duplicate NAME
or a layer kind claimed twice fails at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import BinaryIO, Protocol

from safenet.analysis.filetype import FileType, MediaKind
from safenet.evidence import archive, caches, carve, embedded, mail
from safenet.evidence.archive import EXPANDABLE, ArchiveLimits, Nesting, depth_allowed
from safenet.evidence.carve import CarveLimits
from safenet.evidence.embedded import EmbeddedLimits
from safenet.evidence.locator import Layer, LayerKind
from safenet.evidence.mail import MailLimits
from safenet.evidence.model import Item, WarningSink

__all__ = [
    "BY_LAYER",
    "PRODUCERS",
    "Claim",
    "Context",
    "Limits",
    "Producer",
    "claim",
    "producer_names",
]

Found = Generator[tuple[Item, BinaryIO], None, None]


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits every producer is held to (each reads its own)."""

    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    embedded: EmbeddedLimits = field(default_factory=EmbeddedLimits)
    carve: CarveLimits = field(default_factory=CarveLimits)
    mail: MailLimits = field(default_factory=MailLimits)


@dataclass(frozen=True, slots=True)
class Context:
    """What a producer sees of the rest of the system while it expands one item."""

    warn: WarningSink
    limits: Limits = field(default_factory=Limits)
    nesting: Nesting | None = None  # the archives open around the item: their limits add up
    siblings: Callable[[str], BinaryIO] | None = None  # other files of a top-level file's folder (caches)


@dataclass(frozen=True, slots=True)
class Claim:
    """A producer's answer for one item: which of its formats the item is, and whether expanding it reads
    the item's bytes (the engine then keeps a copy of a member while hashing it, so it is read once)."""

    producer: Producer
    kind: str  # the producer's own format name: "zip", "firefox-cache2", "jpeg", "region"
    reads: bool = True  # False: the expansion only records why nothing is inside (rar, depth limit)


class Producer(Protocol):
    """One family of items found inside items. Bad data never raises out of ``expand``: it becomes warnings
    through ``Context.warn`` (codes in ``WARNING_CODES``); an OSError from ``open_item`` does."""

    NAME: str  # stable: kept in docs and tests, never a class name
    LAYER: LayerKind  # the locator layer every item it yields ends with
    WARNING_CODES: Mapping[str, str]
    SEEKS: bool  # reopen() needs a seekable container (the registry spools one that is not)
    CONTAINER: str  # what the claimed item is, in a warning: "cannot reopen <CONTAINER>"

    def claim(self, item: Item, filetype: FileType | None, limits: Limits, head: bytes = b"") -> Claim | None:
        """Whether this producer expands ``item``; ``filetype`` None: the item is not read (a region). ``head``:
        the item's first bytes as read for typing (empty: not known), for a decision that needs no more."""
        ...

    def expand(self, item: Item, claim: Claim, open_item: Callable[[], BinaryIO], context: Context) -> Found:
        """Yield each item found inside ``item`` with a stream of its bytes (valid until the next)."""
        ...

    def reopen(self, container: BinaryIO, layer: Layer) -> BinaryIO:
        """The bytes of the item at ``layer`` inside ``container`` (``safenet verify``, the review UI)."""
        ...


class _Producer:
    """What every producer declares, given in its class line: ``class X(_Producer, name=..., layer=...)``."""

    NAME: str
    LAYER: LayerKind
    WARNING_CODES: Mapping[str, str]
    SEEKS: bool
    CONTAINER: str

    def __init_subclass__(
        cls, *, name: str, layer: LayerKind, codes: Mapping[str, str], container: str, seeks: bool = True
    ) -> None:
        super().__init_subclass__()
        cls.NAME, cls.LAYER, cls.CONTAINER, cls.SEEKS = name, layer, container, seeks
        cls.WARNING_CODES = MappingProxyType(dict(codes))


class Archives(
    _Producer,
    name="archive",
    layer=LayerKind.ARCHIVE_MEMBER,
    codes=archive.WARNING_CODES,
    container="archive",
    seeks=False,
):
    """Members of zip, tar, gzip, bzip2, xz and 7z archives (an archive of another type is claimed too, to
    record that it was not expanded). A member is decoded from its container's stream as it comes: the
    registry need not spool the container to reopen one."""

    def claim(self, item: Item, filetype: FileType | None, limits: Limits, head: bytes = b"") -> Claim | None:
        if filetype is None or filetype.kind is not MediaKind.ARCHIVE:
            return None
        return Claim(self, filetype.name, filetype.name in EXPANDABLE and depth_allowed(item, limits.archive))

    def expand(self, item: Item, claim: Claim, open_item: Callable[[], BinaryIO], context: Context) -> Found:
        # expand() itself records unsupported types (rar) and the depth limit
        return archive.expand(item, claim.kind, open_item, context.limits.archive, context.warn, context.nesting)

    def reopen(self, container: BinaryIO, layer: Layer) -> BinaryIO:
        return archive.open_member(container, layer)


def _within_depth(producer: Producer, kind: str | None, item: Item, limits: Limits) -> Claim | None:
    """A claim by a producer's own format table, held to the archive depth limit like archives' members."""
    return Claim(producer, kind) if kind is not None and depth_allowed(item, limits.archive) else None


class Caches(_Producer, name="cache", layer=LayerKind.CACHE_ENTRY, codes=caches.WARNING_CODES, container="cache"):
    """Pictures kept by thumbnail caches, browser caches and phone thumbnail stores (``caches.CACHE_FORMATS``)."""

    def claim(self, item: Item, filetype: FileType | None, limits: Limits, head: bytes = b"") -> Claim | None:
        kind = caches.cache_kind(item, filetype.name) if filetype is not None else None
        return _within_depth(self, kind, item, limits)

    def expand(self, item: Item, claim: Claim, open_item: Callable[[], BinaryIO], context: Context) -> Found:
        return caches.expand_cache(item, claim.kind, open_item, context.warn, siblings=context.siblings)

    def reopen(self, container: BinaryIO, layer: Layer) -> BinaryIO:
        return caches.open_cache_entry(container, layer)


class Embedded(_Producer, name="embedded", layer=LayerKind.EMBEDDED, codes=embedded.WARNING_CODES, container="parent"):
    """Pictures inside pictures and documents: EXIF thumbnails, camera previews, MPO pictures, pictures of
    PDF, OLE and Office/OpenDocument files (``embedded``'s per-format tables)."""

    def claim(self, item: Item, filetype: FileType | None, limits: Limits, head: bytes = b"") -> Claim | None:
        kind = embedded.embedded_kind(item, filetype.name, limits.embedded, head) if filetype is not None else None
        return _within_depth(self, kind, item, limits)

    def expand(self, item: Item, claim: Claim, open_item: Callable[[], BinaryIO], context: Context) -> Found:
        limits = context.limits
        return embedded.expand_embedded(
            item, claim.kind, open_item, context.warn, limits.embedded, limits.archive, context.nesting
        )

    def reopen(self, container: BinaryIO, layer: Layer) -> BinaryIO:
        return embedded.open_embedded(container, layer)


class Mail(_Producer, name="mail", layer=LayerKind.MAIL_ATTACHMENT, codes=mail.WARNING_CODES, container="mailbox"):
    """Attachments of e-mail: mbox files (Thunderbird's Inbox and Sent, claimed by content), .eml messages and
    Outlook PST/OST files (libpff). A layer kind of its own, not EMBEDDED: each layer kind has one producer that
    reopens it, and an attachment is reopened by parsing its message, not as a range of a picture."""

    def claim(self, item: Item, filetype: FileType | None, limits: Limits, head: bytes = b"") -> Claim | None:
        kind = mail.mail_kind(item, filetype.name, limits.mail) if filetype is not None else None
        return _within_depth(self, kind, item, limits)

    def expand(self, item: Item, claim: Claim, open_item: Callable[[], BinaryIO], context: Context) -> Found:
        return mail.expand_mail(item, claim.kind, open_item, context.warn, context.limits.mail)

    def reopen(self, container: BinaryIO, layer: Layer) -> BinaryIO:
        return mail.open_mail_attachment(container, layer)


class Carving(_Producer, name="carving", layer=LayerKind.CARVED, codes=carve.WARNING_CODES, container="region"):
    """Files found by structure in regions no file holds (unallocated space, file and volume slack), and
    inside files whose own type is not recognised (a picture appended to junk, a page file, an unknown
    container): what IPED and PhotoRec do with such files. A carve's locator points into its parent."""

    def claim(self, item: Item, filetype: FileType | None, limits: Limits, head: bytes = b"") -> Claim | None:
        if filetype is None:
            return Claim(self, carve.REGION) if carve.is_region(item) else None
        return Claim(self, carve.IN_FILE) if carve.in_file_candidate(item, filetype, limits.carve) else None

    def expand(self, item: Item, claim: Claim, open_item: Callable[[], BinaryIO], context: Context) -> Found:
        limits = context.limits.carve
        if claim.kind == carve.IN_FILE:  # a file's own bytes: what it holds starts at any byte, no sector grid
            limits = dataclasses.replace(limits, alignment=1)
        return carve.expand_carved(item, open_item, context.warn, limits)

    def reopen(self, container: BinaryIO, layer: Layer) -> BinaryIO:
        return carve.open_carved(container, layer)


#: Producers in the order they are asked.
PRODUCERS: tuple[Producer, ...] = (Archives(), Caches(), Embedded(), Mail(), Carving())


def _by_layer(producers: tuple[Producer, ...]) -> Mapping[LayerKind, Producer]:
    names: set[str] = set()
    layers: dict[LayerKind, Producer] = {}
    for producer in producers:
        if producer.NAME in names:
            raise RuntimeError(f"producer NAME '{producer.NAME}' is registered twice")
        if producer.LAYER in layers:
            raise RuntimeError(f"layer {producer.LAYER.value} has two producers: {layers[producer.LAYER].NAME}")
        names.add(producer.NAME)
        layers[producer.LAYER] = producer
    return MappingProxyType(layers)


#: The producer that yields, and so reopens, each nested layer kind.
BY_LAYER: Mapping[LayerKind, Producer] = _by_layer(PRODUCERS)


def producer_names() -> tuple[str, ...]:
    """Registered producer names, in the order they are asked."""
    return tuple(producer.NAME for producer in PRODUCERS)


def claim(
    item: Item, filetype: FileType | None, enabled: Collection[str], limits: Limits, head: bytes = b""
) -> Claim | None:
    """The first producer among ``enabled`` (names) that claims ``item``, with its answer; None: no producer.

    ``filetype``: the item's type from its first bytes (``head``, when given), or None for an item that is not
    read whole (a region)."""
    for producer in PRODUCERS:
        if producer.NAME in enabled and (found := producer.claim(item, filetype, limits, head)) is not None:
            return found
    return None
