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
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from safenet.analysis.digests import Sink, StreamRead, StreamResult, analyse_stream
from safenet.analysis.filetype import UNKNOWN, FileType, MediaKind, extension_mismatch
from safenet.analysis.md5mb import Md5Batch
from safenet.analysis.p2p import registry as p2p_registry
from safenet.analysis.p2p.model import P2PParser, P2PWarning
from safenet.analysis.pdq import Decoded, PdqMode, Skipped, fast_decode
from safenet.analysis.pdq.jpeg_open import refusal
from safenet.analysis.thumbs import decode_for_thumbnail, thumbnail_of
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
from safenet.reasons import item_reason


@dataclass(frozen=True, slots=True)
class Settings:
    profile: Profile
    algorithms: Sequence[str]
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    perceptual: PerceptualWork | None = None  # None: no selected set holds PDQ hashes
    video: VideoWork | None = None  # frame hashes of videos (engine.video); None: no PDQ set to match them
    carve: CarveLimits = field(default_factory=lambda: CarveLimits(alignment=512))  # sector starts, like PhotoRec
    embedded: EmbeddedLimits = field(default_factory=EmbeddedLimits)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every item examined with one ``Settings`` shares, worked out once for them, not per item."""

    profile: Profile
    algorithms: tuple[str, ...]
    perceptual: PerceptualWork | None  # None: no PDQ work in this profile or no PDQ set
    video: VideoWork | None
    thumbnails: bool
    parses_p2p: bool
    enabled: frozenset[str]  # the producers asked once per item which of them claims it
    limits: producers.Limits
    defers_md5: bool

    @classmethod
    def of(cls, settings: Settings) -> _Plan:
        perceptual = settings.profile.perceptual
        return cls(
            settings.profile,
            tuple(settings.algorithms),
            settings.perceptual if perceptual else None,
            settings.video if perceptual else None,
            settings.profile.makes_thumbnails,
            settings.profile.parses_p2p,
            settings.profile.producers,
            producers.Limits(settings.limits, settings.embedded, settings.carve),
            defers_md5(settings),
        )


_plans: dict[int, tuple[Settings, _Plan]] = {}  # by the settings' identity: a worker examines with one or two


def _plan(settings: Settings) -> _Plan:
    known = _plans.get(id(settings))
    if known is not None and known[0] is settings:
        return known[1]
    if len(_plans) >= 64:  # settings come and go (tests, a lab's many runs): never an ever-growing table
        _plans.clear()
    plan = _Plan.of(settings)
    _plans[id(settings)] = (settings, plan)
    return plan


def _reuse(copy: BinaryIO | None) -> Callable[[], BinaryIO]:
    """Let a producer 'open' a spooled copy like a file, as often as it likes, without closing it."""

    def opener() -> BinaryIO:
        if copy is None:  # nothing was copied: an unsupported type or the depth limit; expand() says which
            return io.BytesIO()
        copy.seek(0)
        return cast(BinaryIO, _Unclosable(copy))

    return opener


def _copied(copy: BinaryIO | None, image: ChunkCopy | BinaryIO | None) -> BinaryIO | None:
    """The copy of a member made while it was read: a spooled copy, or an image's collected bytes."""
    if copy is not None:
        return copy
    if image is not None:
        return io.BytesIO(image.value()) if isinstance(image, ChunkCopy) else image
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
        self.plan = plan = _plan(settings)
        self.md5_batch = md5_batch if plan.defers_md5 else None
        self.siblings = siblings  # other files of the top-level item's folder (see ``examine``)
        self.records: list[ItemRecord] = []
        self.warnings: list[EvidenceWarning] = []
        self.p2p: list[P2PFound] = []
        self.bytes_read = 0
        self.nesting: Nesting | None = None  # archives open around the member examined: their limits add up
        self.producers = plan.enabled
        self.limits = plan.limits

    def examine(self, item: Item, open_stream: Callable[[], BinaryIO], parent: int | None) -> None:
        if is_region(item):  # unallocated space: never hashed as one item; carved in the full profile
            self._carve(item, open_stream, parent)
            return
        try:
            stream = open_stream()
        except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
            raise
        except (OSError, EvidenceError) as exc:
            self._fail(item, parent, ItemStatus.UNREADABLE, "unreadable", f"cannot open: {item_reason(exc)}")
            return
        with stream:
            self.examine_stream(item, stream, parent, reopen=open_stream)

    def examine_stream(
        self, item: Item, stream: BinaryIO, parent: int | None, reopen: Callable[[], BinaryIO] | None
    ) -> None:
        plan = self.plan
        perceptual, video = plan.perceptual, plan.video
        # A top-level file may grow while read (a live file system): read it to its listed size only.
        # A member's size is the container's claim, which its own reader already holds it to; nor is it
        # known to hold, so its MD5 is never left to the batch.
        top = reopen is not None
        spooled: BinaryIO | None = None  # a spooled copy made while read: closed when the item is done
        image: ChunkCopy | BinaryIO | None = None  # an image's (or a member video's) bytes, kept to decode
        copy: BinaryIO | None = None  # a member's bytes, kept for the producer that claims it
        artefact: _Artefact | None = None  # a P2P artefact's bytes, kept to parse
        read: StreamRead | None = None
        try:
            try:
                read = StreamRead(stream, item.size if top else None, self.md5_batch if top else None)
                filetype = read.filetype
                # Asked once per item, from the head read for typing: which P2P parser and which producer claim it.
                parser = p2p_registry.claim(item.name, read.head) if plan.parses_p2p else None
                found = producers.claim(item, filetype, plan.enabled, plan.limits, read.head) if plan.enabled else None
                reads = found is not None and found.reads  # a producer reads the bytes: a member's are kept
                if not (plan.profile.wants_digests(filetype) or reads or parser is not None):
                    result = read.skipped()
                else:
                    sink: Sink | None = None
                    kind = filetype.kind
                    if (perceptual is not None or plan.thumbnails) and kind is MediaKind.IMAGE:
                        if perceptual is None and found is None and refusal(read.head, complete=False) is not None:
                            pass  # the copy would be for the thumbnail alone, and the head says the picture won't open
                        elif perceptual.keeps_copy(item) if perceptual is not None else keeps_copy(item):
                            sink = image = ChunkCopy()
                        elif (perceptual is not None or reads) and not top:
                            sink = image = spooled = cast(BinaryIO, spool())
                    elif video is not None and kind is MediaKind.VIDEO and not top:
                        sink = image = spooled = cast(BinaryIO, spool())  # a member: decoded from the spool
                    elif not top and reads:  # a top-level item can be reopened; a member is copied while read
                        sink = copy = spooled = cast(BinaryIO, spool())
                    if parser is not None:
                        too_large = item.size is not None and item.size > p2p_registry.MAX_ARTEFACT_BYTES
                        artefact = _Artefact(0 if too_large else p2p_registry.MAX_ARTEFACT_BYTES)
                        artefact.too_large = too_large
                        sink = artefact if sink is None else _Fan(sink, artefact)
                    result = read.digest(plan.algorithms, sink)
            except (ArchiveLimitExceeded, ArchiveCorrupt):
                # the member's archive records why (archive-bomb / archive-corrupt) with its own locator
                self.records.append(ItemRecord(item, UNKNOWN, ItemStatus.PARTIAL, None, False, parent))
                return
            except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
                raise
            except (OSError, EvidenceError) as exc:
                self._fail(item, parent, ItemStatus.PARTIAL, "read-error", f"read failed: {item_reason(exc)}")
                return
            finally:
                if read is not None:
                    read.close()
            self._record(item, result, parent, image, reopen)
            if artefact is not None and parser is not None:
                self._parse_p2p(item, parser, artefact, len(self.records) - 1)
            if found is not None:
                held = _copied(copy, image)  # bytes already read beat reading the evidence again
                opener = reopen if held is None and reopen is not None else _reuse(held)
                # siblings: only for the top-level file (a member's siblings are no files), and not for a
                # deleted one (the live file now at a sibling's path need not belong to the same cache)
                siblings = self.siblings if parent is None and item.allocated else None
                self._expand(item, found, opener, siblings, len(self.records) - 1)
        finally:
            if spooled is not None:
                spooled.close()

    def _record(
        self,
        item: Item,
        result: StreamResult,
        parent: int | None,
        image: ChunkCopy | BinaryIO | None,
        reopen: Callable[[], BinaryIO] | None,
    ) -> None:
        """The item's record from its read: status, size warning, and the PDQ, thumbnail and video frame
        hashes its profile makes from the bytes kept while read (or reopened)."""
        plan = self.plan
        perceptual, video = plan.perceptual, plan.video
        self.bytes_read += result.bytes_read
        filetype, digests = result.filetype, result.digests
        status = ItemStatus.EXAMINED if digests is not None else ItemStatus.SKIPPED
        if result.grew:
            status = ItemStatus.PARTIAL
        if (changed := _size_changed(item, result)) is not None:
            self.warnings.append(changed)
        pdq = thumbnail = frames = None
        if filetype.kind is MediaKind.IMAGE:
            unsettled = perceptual is not None and digests is not None and not perceptual.settled(digests)
            hashing = perceptual if unsettled else None  # PDQ for an image that no exact match settled
            wanted = plan.thumbnails or hashing is not None  # else the bytes kept are not joined (an exact match)
            kept = image.value() if wanted and isinstance(image, ChunkCopy) else None  # a thumbnail needs these
            decoded: Decoded | Skipped | None = None
            if kept is not None and plan.thumbnails and hashing is not None and hashing.mode is PdqMode.FAST:
                decoded = fast_decode(kept)  # one decode for the PDQ hash and the thumbnail
            if hashing is not None:
                pdq = self._perceptual(item, hashing, decoded if decoded is not None else image, reopen)
            if plan.thumbnails and kept is not None:  # else the UI makes it on first view
                thumbnail = thumbnail_of(decoded if decoded is not None else decode_for_thumbnail(kept))
        if video is not None and digests is not None and wants_video(filetype):
            top = parent is None and not is_region(item)  # a region is carved by ranges: never left pending
            frames = self._video(item, filetype, video, digests, image, reopen, top)
        mismatch = extension_mismatch(filetype, item.name)
        record = ItemRecord(
            item, filetype, status, digests, mismatch, parent, pdq=pdq, video=frames, thumbnail=thumbnail
        )
        self.records.append(record)

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
            message = f"{parser.NAME}: parsing stopped ({item_reason(exc)}); the records before it are kept"
            self.warnings.append(EvidenceWarning("p2p-corrupt", message, item.locator))

    def _perceptual(
        self,
        item: Item,
        work: PerceptualWork,
        copy: Decoded | Skipped | ChunkCopy | BinaryIO | None,
        reopen: Callable[[], BinaryIO] | None,
    ) -> PdqRecord | None:
        """PDQ of an image that no exact match settled: from its decode when already made, else from the copy made
        while reading, else reopened."""
        if isinstance(copy, Decoded | Skipped):
            found = hash_image(item, copy, work.mode)
        elif isinstance(copy, ChunkCopy):
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
                    "unreadable", f"cannot reopen for perceptual hashing: {item_reason(exc)}", item.locator
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
        top: bool,
    ) -> VideoRecord | None:
        """Frame hashes of a video no exact match settled: from the copy made while reading, else reopened
        (``top``: a top-level item, whose segments a parallel run may hash as tasks of their own)."""
        if work.settled(digests):
            return None
        if isinstance(copy, ChunkCopy):
            found, warnings = hash_found_video(item, filetype, copy.value(), work, top)
        elif copy is not None:
            copy.seek(0)
            found, warnings = hash_found_video(item, filetype, copy, work, top)
        elif reopen is not None:
            try:
                with reopen() as stream:
                    found, warnings = hash_found_video(item, filetype, stream, work, top)
            except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
                raise
            except (OSError, EvidenceError) as exc:
                message = f"cannot reopen for video hashing: {item_reason(exc)}"
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
        if self.nesting is None:
            self.nesting = Nesting()
        context = producers.Context(self.warnings.append, self.limits, self.nesting, siblings)
        members = found.producer.expand(item, found, opener, context)
        try:
            for member, member_stream in members:
                self.examine_stream(member, member_stream, index, reopen=None)
        except OSError as exc:  # only the container's opener can raise out of a producer: it vanished
            message = f"cannot reopen {found.producer.CONTAINER}: {item_reason(exc)}"
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
        return _failed(item, ItemStatus.UNREADABLE, "unreadable", f"cannot open: {item_reason(exc)}")
    try:
        with stream:
            result = analyse_stream(stream, algorithms, lambda _: True, limit=item.size)
    except SourceLost:  # the whole source is gone: the run stops (engine.triage), no per-item warning
        raise
    except (OSError, EvidenceError) as exc:
        return _failed(item, ItemStatus.PARTIAL, "read-error", f"read failed: {item_reason(exc)}")
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
