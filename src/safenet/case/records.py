"""What the engine hands to the case store: plain, immutable results of examining items."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from safenet.analysis.filetype import FileType
from safenet.analysis.p2p.model import P2PRecord, SearchTerm
from safenet.evidence.model import EvidenceWarning, Item
from safenet.hashsets.model import Match
from safenet.wire import by_position

if TYPE_CHECKING:  # only named in annotations; importing it loads NumPy, which `safenet --help` must not
    from safenet.analysis.video.model import VideoFrame, VideoMeta


class ItemStatus(StrEnum):
    """Stored in case files; never rename."""

    EXAMINED = "examined"  # read completely, digests computed and matched
    SKIPPED = "skipped"  # typed, but the profile does not hash this type
    UNREADABLE = "unreadable"  # could not be opened or read (see warnings)
    # partial: not read whole. Stopped early (archive limits, a read error mid-file): no digests. Grew while read:
    # digests of the listed size.
    PARTIAL = "partial"


@by_position
@dataclass(frozen=True, slots=True)
class PdqRecord:
    """An image's own PDQ hash as the worker computed it (fast path), and what may be searched with it."""

    hash: bytes  # the whole picture as found (orientation 0), kept on the item row for clustering
    quality: int
    low_quality: str | None  # why it may not support a match claim; None when it may
    variants: tuple[tuple[bool, tuple[bytes, ...]], ...]  # (trimmed?, 8 dihedral hashes); () when low quality


@by_position
@dataclass(frozen=True, slots=True)
class VideoRecord:
    """A found video's frame hashes as the worker computed them (``engine.video``), for the main thread.

    ``sheet`` is the blurred greyscale frame sheet (JPEG bytes): written into the case by the recorder,
    never by a worker, so only the process that owns the case writes into its folder.
    """

    frames: tuple[VideoFrame, ...]
    meta: VideoMeta | None
    stop: str  # analysis.video.Stop value
    sheet: bytes | None = None


@by_position
@dataclass(frozen=True, slots=True)
class ItemRecord:
    item: Item
    filetype: FileType
    status: ItemStatus
    digests: dict[str, bytes] | None
    extension_mismatch: bool
    parent: int | None = None  # index of the containing archive within the same WorkResult
    matches: tuple[Match, ...] = ()
    pdq: PdqRecord | None = None
    video: VideoRecord | None = None
    #: The default-settings blurred greyscale review thumbnail (JPEG bytes), made by the worker from the
    #: bytes it read; the recorder writes it into the case's review cache (standard and full profiles).
    thumbnail: bytes | None = None

    def with_matches(self, matches: tuple[Match, ...]) -> ItemRecord:
        return ItemRecord(
            self.item,
            self.filetype,
            self.status,
            self.digests,
            self.extension_mismatch,
            self.parent,
            matches,
            self.pdq,
            self.video,
            self.thumbnail,
        )


@by_position
@dataclass(frozen=True, slots=True)
class P2PFound:
    """One record or search term a P2P parser read from an artefact item of the same WorkResult.

    ``matches`` are the hash-set matches of a record's hashes, filled on the main thread like an item's.
    """

    source: int  # index of the artefact's ItemRecord in WorkResult.records
    parser: str  # the parser's NAME (analysis.p2p.registry.PARSERS)
    entry: P2PRecord | SearchTerm
    matches: tuple[Match, ...] = ()

    def with_matches(self, matches: tuple[Match, ...]) -> P2PFound:
        return P2PFound(self.source, self.parser, self.entry, matches)


@by_position
@dataclass(frozen=True, slots=True)
class WorkResult:
    """Everything one top-level item produced: itself, archive members below it, warnings, and what P2P
    parsers read from any of them (recorded with them, in the same transaction)."""

    records: tuple[ItemRecord, ...]
    warnings: tuple[EvidenceWarning, ...]
    bytes_read: int
    p2p: tuple[P2PFound, ...] = ()
