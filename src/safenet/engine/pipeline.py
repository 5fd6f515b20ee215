"""Examining one top-level item: a single read feeds typing and digests; archives are expanded in place.

This runs in worker threads (hashlib releases the GIL on large buffers, so two threads use both
cores). It never raises for bad evidence: every problem becomes a warning with the item's locator.
Images not settled by an exact match get their PDQ hash here too, from the bytes of the same read
(see ``engine.perceptual`` for when a copy is kept and when the file is re-opened instead), and, in the
standard and full profiles, the default blurred greyscale review thumbnail from the same bytes.

P2P client artefacts (eMule ``known.met``, torrents' resume data ...) are parsed here in every profile: the
P2P registry is asked about each item by its name and first bytes (cheap), and a file a parser claims is
hashed whatever its type, kept in memory while read (at most ``MAX_ARTEFACT_BYTES``) and parsed; its records
and search terms travel in the ``WorkResult`` with the item they came from.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from safenet.analysis.digests import Sink, StreamResult, analyse_stream
from safenet.analysis.filetype import HEAD_BYTES, UNKNOWN, FileType, MediaKind, extension_mismatch
from safenet.analysis.md5mb import Md5Batch
from safenet.analysis.p2p import registry as p2p_registry
from safenet.analysis.p2p.model import P2PParser, P2PWarning
from safenet.analysis.thumbs import default_thumbnail
from safenet.case.records import ItemRecord, ItemStatus, P2PFound, PdqRecord, VideoRecord, WorkResult
from safenet.engine.perceptual import ChunkCopy, PerceptualWork, hash_image, keeps_copy
from safenet.engine.profiles import Profile
from safenet.engine.video import VideoWork, hash_found_video, wants_video
from safenet.evidence import producers
from safenet.evidence.archive import ArchiveCorrupt, ArchiveLimitExceeded, ArchiveLimits, Nesting, spool
from safenet.evidence.carve import CarveLimits, is_region
from safenet.evidence.embedded import EmbeddedLimits
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, SourceLost
from safenet.evidence.producers import Claim
from safenet.reasons import reason_of


@dataclass(frozen=True, slots=True)
class Settings:
    profile: Profile
    algorithms: Sequence[str]
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    perceptual: PerceptualWork | None = None  # None: no selected set holds PDQ hashes
    video: VideoWork | None = None  # frame hashes of videos (engine.video); None: no PDQ set to match them
    carve: CarveLimits = field(default_factory=lambda: CarveLimits(alignment=512))  # sector starts, like PhotoRec
    embedded: EmbeddedLimits = field(default_factory=EmbeddedLimits)


def _reuse(copy: BinaryIO | None) -> Callable[[], BinaryIO]:
    """Let a producer 'open' a spooled copy like a file, as often as it likes, without closing it."""

    def opener() -> BinaryIO:
        if copy is None:  # nothing was copied: an unsupported type or the depth limit; expand() says which
            return io.BytesIO()
        copy.seek(0)
        return cast(BinaryIO, _Unclosable(copy))

    return opener


def _copied(copies: list[BinaryIO], image: list[ChunkCopy | BinaryIO]) -> BinaryIO | None:
    """The copy of a member made while it was read: a spooled copy, or an image's collected bytes."""
    if copies:
        return copies[0]
    if image:
        return io.BytesIO(image[0].value()) if isinstance(image[0], ChunkCopy) else image[0]
    return None


class _Unclosable:
    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass

    def __enter__(self) -> _Unclosable:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _Head:
    """A stream that keeps its first ``HEAD_BYTES`` as they are read (for the P2P parsers' claim)."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.head = b""

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        return data


class _Artefact:
    """A sink keeping a P2P artefact's bytes while it is hashed; it stops keeping past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self._chunks: list[bytes] = []
        self._left = limit
        self.too_large = False

    def write(self, data: bytes, /) -> int:
        if not self.too_large:
            if len(data) > self._left:
                self.too_large, self._chunks = True, []
            else:
                self._chunks.append(data)
                self._left -= len(data)
        return len(data)

    def value(self) -> bytes:
        return b"".join(self._chunks)


class _Fan:
    """One sink feeding two (a P2P artefact that a producer also reads)."""

    def __init__(self, first: Sink, second: Sink) -> None:
        self._sinks = (first, second)

    def write(self, data: bytes, /) -> int:
        for sink in self._sinks:
            sink.write(data)
        return len(data)


def defers_md5(settings: Settings) -> bool:
    """Whether small top-level files' MD5s can wait for the end of their batch (``Md5Batch``): only when no
    work before then reads digests (perceptual and video hashing skip images and videos an exact match settled)."""
    uses_digests = settings.profile.perceptual and (settings.perceptual is not None or settings.video is not None)
    return "md5" in settings.algorithms and not uses_digests


class _Examiner:
    def __init__(
        self,
        settings: Settings,
        siblings: Callable[[str], BinaryIO] | None = None,
        md5_batch: Md5Batch | None = None,
    ) -> None:
        self.settings = settings
        self.md5_batch = md5_batch if defers_md5(settings) else None
        self.siblings = siblings  # other files of the top-level item's folder (see ``examine``)
        self.records: list[ItemRecord] = []
        self.warnings: list[EvidenceWarning] = []
        self.p2p: list[P2PFound] = []
        self.bytes_read = 0
        self.nesting = Nesting()  # archives open around the member being examined: their limits add up
        self.producers = settings.profile.producers  # asked once per item which of them claims it
        self.limits = producers.Limits(settings.limits, settings.embedded, settings.carve)

    def examine(self, item: Item, open_stream: Callable[[], BinaryIO], parent: int | None) -> None:
        if is_region(item):  # unallocated space: never hashed as one item; carved in the full profile
            self._carve(item, open_stream, parent)
            return
        try:
            stream = open_stream()
        except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
            raise
        except (OSError, EvidenceError) as exc:
            self._fail(item, parent, ItemStatus.UNREADABLE, "unreadable", f"cannot open: {_reason(exc)}")
            return
        with stream:
            self.examine_stream(item, stream, parent, reopen=open_stream)

    def examine_stream(
        self, item: Item, stream: BinaryIO, parent: int | None, reopen: Callable[[], BinaryIO] | None
    ) -> None:
        settings = self.settings
        perceptual = settings.perceptual if settings.profile.perceptual else None
        video = settings.video if settings.profile.perceptual else None
        thumbnails = settings.profile.makes_thumbnails
        claims: dict[str, Claim | None] = {}  # by file type name: the producers are asked once per item
        head = _Head(stream)
        parser: list[P2PParser | None] = []  # asked once, when the head has been read (in wants())
        artefact: list[_Artefact] = []

        def p2p() -> P2PParser | None:
            if not parser:
                parses = settings.profile.parses_p2p
                parser.append(p2p_registry.claim(item.name, head.head) if parses else None)
            return parser[0]

        def claim(filetype: FileType) -> Claim | None:
            if filetype.name not in claims:
                claims[filetype.name] = producers.claim(item, filetype, self.producers, self.limits, head.head)
            return claims[filetype.name]

        def reads(filetype: FileType) -> bool:
            """Whether a producer will read the item's bytes (so a member's bytes are kept while hashed)."""
            return (found := claim(filetype)) is not None and found.reads

        with ExitStack() as stack:
            copies: list[BinaryIO] = []
            image: list[ChunkCopy | BinaryIO] = []

            def tee(filetype: FileType) -> Sink | None:
                sink = _tee(filetype)
                if p2p() is None:
                    return sink
                too_large = item.size is not None and item.size > p2p_registry.MAX_ARTEFACT_BYTES
                artefact.append(_Artefact(0 if too_large else p2p_registry.MAX_ARTEFACT_BYTES))
                artefact[0].too_large = too_large
                return artefact[0] if sink is None else _Fan(sink, artefact[0])

            def _tee(filetype: FileType) -> Sink | None:
                if (perceptual is not None or thumbnails) and filetype.kind is MediaKind.IMAGE:
                    if perceptual.keeps_copy(item) if perceptual is not None else keeps_copy(item):
                        image.append(ChunkCopy())
                    elif (perceptual is not None or reads(filetype)) and reopen is None:
                        image.append(cast(BinaryIO, stack.enter_context(spool())))
                    return image[-1] if image else None
                if video is not None and filetype.kind is MediaKind.VIDEO and reopen is None:
                    image.append(cast(BinaryIO, stack.enter_context(spool())))  # a member: decoded from the spool
                    return image[-1]
                # A top-level item can be reopened from evidence; a member must be copied while read.
                if reopen is not None or not reads(filetype):
                    return None
                copies.append(cast(BinaryIO, stack.enter_context(spool())))
                return copies[-1]

            def wants(filetype: FileType) -> bool:
                return settings.profile.wants_digests(filetype) or reads(filetype) or p2p() is not None

            # A top-level file may grow while read (a live file system): read it to its listed size only.
            # A member's size is the container's claim, which its own reader already holds it to.
            limit = item.size if reopen is not None else None
            try:
                batch = self.md5_batch if reopen is not None else None  # a member's size is not known to hold
                result = analyse_stream(cast(BinaryIO, head), settings.algorithms, wants, tee, limit, batch)
            except (ArchiveLimitExceeded, ArchiveCorrupt):
                # the member's archive records why (archive-bomb / archive-corrupt) with its own locator
                self.records.append(ItemRecord(item, UNKNOWN, ItemStatus.PARTIAL, None, False, parent))
                return
            except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
                raise
            except (OSError, EvidenceError) as exc:
                self._fail(item, parent, ItemStatus.PARTIAL, "read-error", f"read failed: {_reason(exc)}")
                return
            self.bytes_read += result.bytes_read
            filetype = result.filetype
            status = ItemStatus.EXAMINED if result.digests is not None else ItemStatus.SKIPPED
            if result.grew:
                status = ItemStatus.PARTIAL
            if (changed := _size_changed(item, result)) is not None:
                self.warnings.append(changed)
            pdq = None
            if perceptual is not None and filetype.kind is MediaKind.IMAGE and result.digests is not None:
                pdq = self._perceptual(item, perceptual, result.digests, image[0] if image else None, reopen)
            thumbnail = None
            if thumbnails and filetype.kind is MediaKind.IMAGE and image and isinstance(image[0], ChunkCopy):
                thumbnail = default_thumbnail(image[0].value())  # only from bytes already read; else the UI
            frames = None
            if video is not None and wants_video(filetype) and result.digests is not None:
                frames = self._video(item, filetype, video, result.digests, image[0] if image else None, reopen)
            self.records.append(
                ItemRecord(
                    item,
                    filetype,
                    status,
                    result.digests,
                    extension_mismatch(filetype, item.name),
                    parent,
                    pdq=pdq,
                    video=frames,
                    thumbnail=thumbnail,
                )
            )
            if artefact and (found_parser := p2p()) is not None:
                self._parse_p2p(item, found_parser, artefact[0], len(self.records) - 1)
            if (found := claim(filetype)) is not None:
                held = _copied(copies, image)  # bytes already read beat reading the evidence again
                opener = reopen if held is None and reopen is not None else _reuse(held)
                # siblings: only for the top-level file (a member's siblings are no files), and not for a
                # deleted one (the live file now at a sibling's path need not belong to the same cache)
                siblings = self.siblings if parent is None and item.allocated else None
                self._expand(item, found, opener, siblings, len(self.records) - 1)

    def _parse_p2p(self, item: Item, parser: P2PParser, artefact: _Artefact, index: int) -> None:
        """A P2P artefact's records and search terms, each naming the item record it came from; what the
        parser could not read (or the artefact, when too large to keep) is a warning with the item's locator."""
        if artefact.too_large:
            limit = p2p_registry.MAX_ARTEFACT_BYTES
            message = f"{parser.NAME} artefact larger than {limit:,} bytes: hashed and matched, its records not read"
            self.warnings.append(EvidenceWarning("p2p-too-large", message, item.locator))
            return
        try:
            for entry in parser.parse(artefact.value(), item.name):
                if isinstance(entry, P2PWarning):
                    self.warnings.append(EvidenceWarning(entry.code, entry.message, item.locator))
                else:
                    self.p2p.append(P2PFound(index, parser.NAME, entry))
        except Exception as exc:  # a parser bug on hostile input must not end the run
            message = f"{parser.NAME}: parsing stopped ({_reason(exc)}); the records before it are kept"
            self.warnings.append(EvidenceWarning("p2p-corrupt", message, item.locator))

    def _perceptual(
        self,
        item: Item,
        work: PerceptualWork,
        digests: dict[str, bytes],
        copy: ChunkCopy | BinaryIO | None,
        reopen: Callable[[], BinaryIO] | None,
    ) -> PdqRecord | None:
        """PDQ of an image that no exact match settled: from the copy made while reading, else reopened."""
        if work.settled(digests):
            return None
        if isinstance(copy, ChunkCopy):
            found = hash_image(item, copy.value(), work.mode)
        elif copy is not None:
            copy.seek(0)
            found = hash_image(item, copy, work.mode)
        elif reopen is not None:
            try:
                with reopen() as stream:
                    found = hash_image(item, stream, work.mode)
            except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
                raise
            except (OSError, EvidenceError) as exc:
                found = EvidenceWarning(
                    "unreadable", f"cannot reopen for perceptual hashing: {_reason(exc)}", item.locator
                )
        else:  # pragma: no cover - tee() always makes a copy when there is nothing to reopen
            return None
        if isinstance(found, EvidenceWarning):
            self.warnings.append(found)
            return None
        return found

    def _video(
        self,
        item: Item,
        filetype: FileType,
        work: VideoWork,
        digests: dict[str, bytes],
        copy: ChunkCopy | BinaryIO | None,
        reopen: Callable[[], BinaryIO] | None,
    ) -> VideoRecord | None:
        """Frame hashes of a video no exact match settled: from the copy made while reading, else reopened."""
        if work.settled(digests):
            return None
        if isinstance(copy, ChunkCopy):
            found, warnings = hash_found_video(item, filetype, copy.value(), work)
        elif copy is not None:
            copy.seek(0)
            found, warnings = hash_found_video(item, filetype, copy, work)
        elif reopen is not None:
            try:
                with reopen() as stream:
                    found, warnings = hash_found_video(item, filetype, stream, work)
            except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
                raise
            except (OSError, EvidenceError) as exc:
                message = f"cannot reopen for video hashing: {_reason(exc)}"
                found, warnings = None, [EvidenceWarning("unreadable", message, item.locator)]
        else:  # pragma: no cover - tee() always makes a copy when there is nothing to reopen
            return None
        self.warnings.extend(warnings)
        return found

    def _expand(
        self,
        item: Item,
        found: Claim,
        opener: Callable[[], BinaryIO],
        siblings: Callable[[str], BinaryIO] | None,
        index: int,
    ) -> None:
        """Examine what the producer that claimed ``item`` yields, each as a child of record ``index``."""
        context = producers.Context(self.warnings.append, self.limits, self.nesting, siblings)
        members = found.producer.expand(item, found, opener, context)
        try:
            for member, member_stream in members:
                self.examine_stream(member, member_stream, index, reopen=None)
        except OSError as exc:  # only the container's opener can raise out of a producer: it vanished
            message = f"cannot reopen {found.producer.CONTAINER}: {_reason(exc)}"
            self.warnings.append(EvidenceWarning("unreadable", message, item.locator))
        finally:
            members.close()

    def _carve(self, region: Item, open_stream: Callable[[], BinaryIO], parent: int | None) -> None:
        self.records.append(ItemRecord(region, UNKNOWN, ItemStatus.SKIPPED, None, False, parent))
        if (found := producers.claim(region, None, self.producers, self.limits)) is not None:
            self._expand(region, found, open_stream, None, len(self.records) - 1)

    def _fail(self, item: Item, parent: int | None, status: ItemStatus, code: str, message: str) -> None:
        self.warnings.append(EvidenceWarning(code, message, item.locator))
        self.records.append(ItemRecord(item, UNKNOWN, status, None, False, parent))


def _failed(item: Item, status: ItemStatus, code: str, message: str) -> WorkResult:
    record = ItemRecord(item, UNKNOWN, status, None, False)
    return WorkResult((record,), (EvidenceWarning(code, message, item.locator),), 0)


def _size_changed(item: Item, result: StreamResult) -> EvidenceWarning | None:
    """A warning when the bytes read differ from the size listed: the file changed while it was read."""
    if result.grew:
        message = (
            f"file grew while read: reading stopped at the {item.size} bytes listed; the item is partial and "
            "its digests are of those bytes"
        )
        return EvidenceWarning("size-changed", message, item.locator)
    if item.size is not None and result.digests is not None and result.bytes_read != item.size:
        message = f"read {result.bytes_read} bytes, expected {item.size} (file changed while read?)"
        return EvidenceWarning("size-changed", message, item.locator)
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return reason_of(exc)


def hash_bytes(item: Item, open_stream: Callable[[], BinaryIO], algorithms: Sequence[str]) -> WorkResult:
    """Digests of an item's bytes with nothing decoded, expanded or typed beyond its signature.

    For an item whose examination killed worker processes (a native decoder crashing on it): its bytes
    still match hash sets exactly. The caller records why the item got no further examination.
    """
    try:
        stream = open_stream()
    except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
        raise
    except (OSError, EvidenceError) as exc:
        return _failed(item, ItemStatus.UNREADABLE, "unreadable", f"cannot open: {_reason(exc)}")
    try:
        with stream:
            result = analyse_stream(stream, algorithms, lambda _: True, limit=item.size)
    except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
        raise
    except (OSError, EvidenceError) as exc:
        return _failed(item, ItemStatus.PARTIAL, "read-error", f"read failed: {_reason(exc)}")
    status = ItemStatus.PARTIAL if result.grew else ItemStatus.EXAMINED
    mismatch = extension_mismatch(result.filetype, item.name)
    changed = _size_changed(item, result)
    record = ItemRecord(item, result.filetype, status, result.digests, mismatch)
    return WorkResult((record,), (changed,) if changed is not None else (), result.bytes_read)


#: A benchmark's probe (bench_triage --first-read): the file to write the wall-clock time of the run's first
#: evidence read to; only the first write of all workers counts. Empty: no probe (one test per item).
_first_read = os.environ.get("SAFENET_FIRST_READ_FILE", "")


def _note_first_read() -> None:
    global _first_read
    path, _first_read = _first_read, ""
    try:
        with open(path, "x") as out:  # "x": another worker process that read first already wrote it
            out.write(f"{time.time():.6f}")
    except OSError:
        pass  # a probe, never a reason for a triage to fail


def examine(
    item: Item,
    open_stream: Callable[[], BinaryIO],
    settings: Settings,
    open_sibling: Callable[[str], BinaryIO] | None = None,
    md5_batch: Md5Batch | None = None,
) -> WorkResult:
    """Examine one top-level item (and, by profile, everything inside it).

    ``open_sibling(relpath)`` opens another file of the item's folder (``registry.open_sibling``); cache
    parsers use it to read what the cache keeps beside the file (a Chrome cache's entries or index). It is
    given to the top-level item only, never to what is found inside it.

    ``md5_batch``: the item's MD5 may be left to the caller's batch (where ``defers_md5``): its record's
    ``digests["md5"]`` is filled in by ``md5_batch.finish()``, which the caller runs before using it."""
    if _first_read:
        _note_first_read()
    examiner = _Examiner(settings, open_sibling, md5_batch)
    examiner.examine(item, open_stream, None)
    return WorkResult(tuple(examiner.records), tuple(examiner.warnings), examiner.bytes_read, tuple(examiner.p2p))
