"""Running a triage: enumerate, order, examine on workers, match in batches, record, report hits.

The main thread owns the case database and the hash-set matcher; workers (threads or processes, see
``engine.executors``) only read evidence and compute. Results are taken back in submission order, so
the case records items in a repeatable order whatever the worker timing. A folder is examined while it is
still being listed (``engine.listing``), in the same order (``ordering.ranked``): its listing's warnings and
the planned count are recorded when the listing ends, so they may follow the first batches of results.

P2P records (``analysis.p2p``, parsed by the workers from client artefacts) are matched here too, by every
hash the client kept (md5, sha1, sha256, ed2k, btih: whichever the record has and the sets hold), so a record
of known material is found even when the file itself is gone. Such a record prints its own line
(``TriageEvents.known_record``) and is secured in the case at once, but it is not a file hit: it never counts
as one and never ends a run stopped at the first hit (``--stop-at-first-hit`` is the verdict on files found
at the door; a client's list of what it once shared is evidence for the lab). Records are linked to the item
with the same content digest when the case is read (``case.activity``), so an item found later in the run is
linked too.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from functools import partial
from pathlib import Path

from safenet import __version__
from safenet.analysis.p2p.model import P2PRecord
from safenet.case.casefields import FieldError, check_fields, current_fields, set_fields
from safenet.case.integrity import findings_digest
from safenet.case.recorder import audit_unrecorded, record_results, record_warnings, recorded_locators
from safenet.case.records import ItemRecord, P2PFound, WorkResult
from safenet.case.schema import Run
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.engine.cluster import ClusterTarget
from safenet.engine.events import Hit, KnownRecord, NoEvents, TriageEvents
from safenet.engine.executors import (
    Executor,
    ExecutorKind,
    StagePlan,
    Starting,
    WorkerSetup,
    choose,
    make_executor,
    run_ordered,
    warm_up,
)
from safenet.engine.listed import cross_check
from safenet.engine.listing import Listing, streams
from safenet.engine.ordering import order
from safenet.engine.profiles import Profile
from safenet.engine.video import VIDEO_EXTENSIONS, match_found_video
from safenet.evidence.archive import ArchiveLimits
from safenet.evidence.model import (
    Evidence,
    EvidenceDescription,
    EvidenceWarning,
    Item,
    OpenContext,
    SourceLost,
)
from safenet.evidence.registry import DeviceAddress, Source, open_source
from safenet.hashsets.categories import most_severe
from safenet.hashsets.model import HashKind, HashSetInfo, Match
from safenet.hashsets.perceptual import describe
from safenet.hashsets.store import HashSetStore, Matcher


class RunStatus(StrEnum):
    """Stored in case files; never rename."""

    RUNNING = "running"  # in progress, or killed (a later --resume marks it interrupted)
    COMPLETED = "completed"
    STOPPED = "stopped-at-first-hit"
    INTERRUPTED = "interrupted"


RESUMABLE = (RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.STOPPED)


class TriageError(Exception):
    """The triage cannot start as asked; the message says what to do instead."""


class OptionsError(TriageError):
    """The options contradict each other or the selected hash sets (a usage error)."""


@dataclass(frozen=True, slots=True)
class TriageOptions:
    exhibit: str
    profile: Profile = Profile.QUICK
    algorithms: tuple[str, ...] | None = None  # None: the profile's choice for the selected sets (Profile.digests)
    hashsets: tuple[str, ...] = ()
    stop_at_first_hit: bool = False
    resume: bool = False
    operator: str = field(default_factory=getpass.getuser)
    workers: int = 2
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    batch_items: int = 2000  # with batch_seconds: each commit costs an audit line (a signed head, an fsync)
    batch_seconds: float = 1.0
    context: OpenContext = field(default_factory=OpenContext)  # credentials are never recorded
    verify_image: bool = False  # hash the image's media data (E01: compare with its stored hash)
    executor: ExecutorKind | None = None  # None: chosen by workers, items and PDQ work (executors.choose)
    authority: str | None = None  # the power relied on (warrant reference): the exhibit's "authority" field
    cluster: ClusterTarget | None = None  # a Dask scheduler to examine on (executor dask); None: this machine


@dataclass(frozen=True, slots=True)
class TriageOutcome:
    run_id: int
    exhibit_id: int
    status: RunStatus
    items_recorded: int
    hits: int
    warnings: int
    bytes_read: int
    seconds: float
    known_records: int = 0  # P2P records of known material (counted apart from hits)


def _record_query(record: P2PRecord) -> dict[HashKind, bytes]:
    """A P2P record's hashes as an exact lookup's query: the kinds the hash sets can hold, of the right size
    (a hostile artefact's odd-length hash is not asked about; the record keeps it)."""
    query: dict[HashKind, bytes] = {}
    for name, digest in record.hashes.items():
        kind = HashKind._value2member_map_.get(name)
        if not isinstance(kind, HashKind) or not kind.exact:
            continue
        try:
            size = kind.size
        except KeyError:  # a kind without a fixed digest size
            continue
        if len(digest) == size:
            query[kind] = digest
    return query


#: Results are matched together, in one vectorised lookup, once this many have come back or this long has
#: passed: a per-file lookup cost more than the hashing on small files. Hits still show within a fraction
#: of a second, and are committed to the case at once.
MATCH_BATCH = 256
#: Digest names as the workers key them, to the kinds the matcher takes (a dict look-up, not an enum call per digest).
_HASH_KINDS = {kind.value: kind for kind in HashKind}
MATCH_SECONDS = 0.2


class _Run:
    """State of one run while it goes; flushes batches into the case."""

    def __init__(
        self,
        case: Case,
        exhibit_id: int,
        run_id: int,
        matcher: Matcher | None,
        options: TriageOptions,
        events: TriageEvents,
    ) -> None:
        self.case, self.exhibit_id, self.run_id = case, exhibit_id, run_id
        self.matcher, self.options, self.events = matcher, options, events
        self.pending: list[WorkResult] = []
        self.unmatched: list[WorkResult] = []
        self.last_flush = self.last_match = time.monotonic()
        self.items = self.hits = self.warnings = self.bytes_read = self.known_records = 0
        self.illicit_hit = False
        self.not_reached = 0
        self.executor: ExecutorKind | None = None
        self.lost: SourceLost | None = None  # the source went away mid-run (the run is resumable)

    def take(self, result: WorkResult) -> None:
        """Queue one result; matching runs over many results at once (one vectorised lookup per batch)."""
        self.unmatched.append(result)
        self.events.advanced(1, result.bytes_read)  # progress counts the planned (top-level) files
        batch = 1 if self.options.stop_at_first_hit else MATCH_BATCH  # the verdict at the door: no overshoot
        if len(self.unmatched) >= batch or time.monotonic() - self.last_match > MATCH_SECONDS:
            self.drain()

    def drain(self) -> None:
        """Match the queued results, report hits, and secure them in the case (at once when there is a hit)."""
        if not self.unmatched:
            return
        results, self.unmatched = self._match(self.unmatched), []
        self.last_match = time.monotonic()
        found = known = False
        for result in results:
            self.pending.append(result)
            self.items += len(result.records)
            self.warnings += len(result.warnings)
            self.bytes_read += result.bytes_read
            for record in result.records:
                if not record.matches:
                    continue
                illicit = [m for m in record.matches if is_hit(m.kind.value, m.category)]
                if illicit:
                    found = True
                    self.hits += 1
                    self.events.hit(self._hit(record, illicit))
            if result.p2p:
                known = self._known_records(result) or known
        self.illicit_hit = self.illicit_hit or found  # a record of known material is not a file hit
        due = (
            len(self.pending) >= self.options.batch_items
            or time.monotonic() - self.last_flush > self.options.batch_seconds
        )
        if found or known or due:  # a hit, or a record of known material, is secured in the case at once
            self.flush()

    def _known_records(self, result: WorkResult) -> bool:
        """Report each P2P record of known material in ``result``; whether there was one."""
        any_known = False
        for found in result.p2p:
            illicit = [m for m in found.matches if is_hit(m.kind.value, m.category)]
            if not illicit or not isinstance(found.entry, P2PRecord):
                continue
            any_known = True
            self.known_records += 1
            entry = found.entry
            self.events.known_record(
                KnownRecord(
                    exhibit=self.options.exhibit,
                    locator=result.records[found.source].item.locator,
                    client=entry.client,
                    artefact=entry.artefact,
                    index=entry.index,
                    name=entry.name,
                    category=most_severe(m.category for m in illicit),
                    hash_kind="+".join(sorted({m.hash_kind.value for m in illicit})),
                    hashsets=tuple(dict.fromkeys(m.set_name for m in illicit)),
                )
            )
        return any_known

    def _hit(self, record: ItemRecord, illicit: list[Match]) -> Hit:
        exact = [m for m in illicit if m.hash_kind.exact]
        return Hit(
            exhibit=self.options.exhibit,
            locator=record.item.locator,
            category=most_severe(m.category for m in illicit),
            hash_kind="+".join(sorted({m.hash_kind.value for m in exact}))
            if exact
            else describe(min(illicit, key=lambda m: m.distance or 0)),
            hashsets=tuple(dict.fromkeys(m.set_name for m in illicit)),
            deleted=record.item.deleted,
            perceptual=not exact,
        )

    def _match(self, results: list[WorkResult]) -> list[WorkResult]:
        if self.matcher is None:
            return results
        records: list[ItemRecord] = [r for result in results for r in result.records]
        hashed = [i for i, r in enumerate(records) if r.digests]
        if hashed:
            kinds = _HASH_KINDS
            queries = [{kinds[k]: v for k, v in (records[i].digests or {}).items()} for i in hashed]
            for i, matches in zip(hashed, self.matcher.lookup(queries), strict=True):
                if matches:
                    records[i] = records[i].with_matches(tuple(matches))
        # Workers hashed only images no exact match settled; low-quality ones carry no variants.
        searched = [(i, r.pdq.variants) for i, r in enumerate(records) if r.pdq and r.pdq.variants and not r.matches]
        if searched:
            found = self.matcher.perceptual([variants for _, variants in searched])
            for (i, _), matches in zip(searched, found, strict=True):
                if matches:
                    records[i] = records[i].with_matches(tuple(matches))
        for i, record in enumerate(records):  # videos no exact match settled (workers hashed their frames)
            if record.video is not None and record.video.frames and not record.matches:
                records[i] = record.with_matches(match_found_video(self.matcher, record.video))
        p2p = self._match_records([found for result in results for found in result.p2p])
        out: list[WorkResult] = []
        at = at_p2p = 0
        for result in results:
            n, m = len(result.records), len(result.p2p)
            kept = result.records
            if any(new is not old for new, old in zip(records[at : at + n], kept, strict=True)) or m:
                entries = tuple(p2p[at_p2p : at_p2p + m])
                result = WorkResult(tuple(records[at : at + n]), result.warnings, result.bytes_read, entries)
            out.append(result)  # nothing matched: the result as it came (no copy per file)
            at, at_p2p = at + n, at_p2p + m
        return out

    def _match_records(self, p2p: list[P2PFound]) -> list[P2PFound]:
        """P2P records matched by their hashes through the same exact lookup as items' digests."""
        if self.matcher is None:
            return p2p
        asked = [
            (i, query)
            for i, f in enumerate(p2p)
            if isinstance(f.entry, P2PRecord) and (query := _record_query(f.entry))
        ]
        if asked:
            for (i, _), matches in zip(asked, self.matcher.lookup([q for _, q in asked]), strict=True):
                if matches:
                    p2p[i] = p2p[i].with_matches(tuple(matches))
        return p2p

    def flush(self) -> None:
        self.drain()
        if self.pending:
            record_results(self.case, self.exhibit_id, self.run_id, self.pending)
            self.pending = []
        self.last_flush = time.monotonic()


def _previous_run(case: Case, exhibit_id: int, options: TriageOptions) -> Run | None:
    last = case.last_run(exhibit_id)
    if options.resume:
        if last is None or last.status not in RESUMABLE:
            raise TriageError(f"exhibit {options.exhibit} has no unfinished run to resume; run without --resume")
        return last
    if last is not None and last.status == RunStatus.COMPLETED:
        raise TriageError(
            f"exhibit {options.exhibit} was already triaged in this case (run {last.id}); use another --exhibit label"
        )
    if last is not None:
        raise TriageError(
            f"exhibit {options.exhibit} has an unfinished run ({last.id}, {last.status}); add --resume to finish it"
        )
    return None


def _resumed_options(options: TriageOptions, previous: Run) -> TriageOptions:
    """A resumed run continues with the profile, digests, hash sets and limits it was started with.

    Workers and executor are as asked now (they change speed, not findings); stopping at the first hit is
    not carried over, since resuming is how a stopped run is finished.
    """
    config = json.loads(previous.config_json)
    limits = config.get("archive_limits")
    return replace(
        options,
        profile=Profile(config["profile"]),
        algorithms=tuple(config["algorithms"]),
        hashsets=tuple(config["hashsets"]),
        limits=ArchiveLimits(**limits) if isinstance(limits, dict) else options.limits,
        resume=True,
    )


def _resumed_store(store: HashSetStore | None, previous: Run) -> HashSetStore | None:
    """The hash-set database the run used, when none was given again; its sets must be unchanged."""
    config = json.loads(previous.config_json)
    if store is None and config.get("hashsets") and config.get("hashdb"):
        store = HashSetStore(Path(config["hashdb"]))
    if store is not None:
        recorded = {hs["name"]: hs["sha256"] for hs in json.loads(previous.hashsets_json)}
        for name, sha256 in recorded.items():
            if store.get(name).source_sha256 != sha256:
                raise TriageError(
                    f"hash set {name} was re-imported since run {previous.id} began (its source differs); "
                    "a resumed run must match against the same sets: triage into a new exhibit label instead"
                )
    return store


def _config(options: TriageOptions, store: HashSetStore | None) -> dict[str, object]:
    return {
        "profile": options.profile.value,
        "algorithms": list(options.algorithms or ()),
        "hashsets": list(options.hashsets),
        "hashdb": str(store.root.resolve()) if store is not None else None,
        "stop_at_first_hit": options.stop_at_first_hit,
        "workers": options.workers,
        "executor": options.executor.value if options.executor else "auto",
        "cluster": options.cluster.as_dict() if options.cluster else None,
        "archive_limits": asdict(options.limits),
    }


def check_apart(source: Source, case_path: Path) -> None:
    """Refuse a case folder inside the evidence (its own files would become items, and writing there changes
    the evidence), or evidence inside the case folder. A live device is apart by nature."""
    if isinstance(source, DeviceAddress):
        return
    evidence, case_dir = source.resolve(), case_path.resolve()
    if case_dir == evidence or case_dir.is_relative_to(evidence):
        raise OptionsError(
            f"the case folder {case_path} is inside the evidence {source}; put the case on another disk or folder"
        )
    if evidence.is_relative_to(case_dir):
        raise OptionsError(f"the evidence {source} is inside the case folder {case_path}; keep them apart")


@dataclass(frozen=True, slots=True)
class Prepared:
    """An exhibit's source opened and described, before anything is written to the case."""

    source: Source
    evidence: Evidence
    description: EvidenceDescription
    authority: str | None
    image_hashes: dict[str, object] | None
    started: float  # time.monotonic() once the source was open


@dataclass(frozen=True, slots=True)
class Started:
    """A run begun in the case (exhibit row, run row, audit line): what examining and finishing it need."""

    prepared: Prepared
    exhibit_id: int
    run_id: int
    matcher: Matcher | None
    options: TriageOptions  # as the run goes: a resumed run's recorded settings, the digests chosen


def check_options(store: HashSetStore | None, options: TriageOptions) -> str | None:
    """Refuse options that contradict each other or the sets (OptionsError), before anything is recorded;
    returns the ``--authority`` value as it will be stored."""
    authority = _authority(options)
    if (options.executor is ExecutorKind.DASK) != (options.cluster is not None):
        raise OptionsError("--cluster and the dask executor go together: give --cluster tcp://HOST:PORT alone")
    if options.algorithms is not None and store is not None and not options.resume:
        blind = _unmatchable([store.get(name) for name in options.hashsets], options.algorithms)
        if blind:
            raise OptionsError(blind)
    return authority


def triage(
    source: Source,
    case: Case,
    store: HashSetStore | None,
    options: TriageOptions,
    events: TriageEvents | None = None,
) -> TriageOutcome:
    """Triage one exhibit into a case. See the module docstring for the shape of the work.

    The four steps (prepare, start, examine, finish) are also run by ``engine.multi`` for several exhibits at
    once, one thread each, holding the case once for all of them.
    """
    prepared = prepare(source, case, store, options)
    with case.exclusive():
        begun = start(prepared, case, store, options)
        status, run = examine(begun, case, events or NoEvents())
        return finish(begun, case, status, run)


def prepare(source: Source, case: Case, store: HashSetStore | None, options: TriageOptions) -> Prepared:
    """Check the options and open the source; nothing is written to the case yet."""
    check_apart(source, case.path)
    authority = check_options(store, options)  # refused before anything is recorded
    evidence = open_source(source, replace(options.context, unallocated=options.profile is Profile.FULL))
    description = evidence.describe()
    started = time.monotonic()
    image_hashes = _image_hashes(evidence) if options.verify_image else None
    return Prepared(source, evidence, description, authority, image_hashes, started)


def start(prepared: Prepared, case: Case, store: HashSetStore | None, options: TriageOptions) -> Started:
    """Record the exhibit and begin its run (the caller holds ``case.exclusive()``).

    Done as the case's one writer (``case.writer``): a resume's repair of the audit log must not see another
    exhibit's batch between its commit and its audit line.
    """
    description = prepared.description
    with case.writer:
        if options.resume:  # an interrupted write: close the torn line, audit rows committed after the last line
            case.audit.repair()
            audit_unrecorded(case)
        else:
            case.audit.check_writable()
        exhibit_id = case.exhibit(options.exhibit, description.source, prepared.evidence.NAME, asdict(description))
        previous = _previous_run(case, exhibit_id, options)
        if previous is not None:
            options = _resumed_options(options, previous)
            store = _resumed_store(store, previous)
            case.set_run_status(
                previous.id,
                RunStatus.INTERRUPTED if previous.status == RunStatus.RUNNING else RunStatus(previous.status),
            )
        if options.hashsets and store is None:
            raise TriageError("hash sets were named but no hash-set database is open")
        if prepared.authority is not None:  # only for a run that goes ahead (not one refused above)
            _record_authority(case, options, prepared.authority)
        matcher = store.matcher(options.hashsets) if store and options.hashsets else None
        if options.algorithms is None:
            needed = [kind.value for s in (matcher.sets if matcher else ()) for kind in _item_kinds(s)]
            options = replace(options, algorithms=options.profile.digests(needed))
        sets = [
            {
                "name": s.name,
                "sha256": s.source_sha256,
                "entries": s.entry_count,
                "kind": s.kind.value,
                "scheme": s.scheme,
                "format": s.format,
                "imported_at": s.imported_at.isoformat(),
                "scheme_confirmed": store.scheme(s.name).confirmed if store else True,
                "hashes": [k.value for k in s.digests],
                "pdq_threshold": s.pdq_threshold,
            }
            for s in (matcher.sets if matcher else ())
        ]
        run_id = case.start_run(
            exhibit_id=exhibit_id,
            resumed_from=previous.id if previous else None,
            profile=options.profile.value,
            tool_version=__version__,
            operator=options.operator,
            host=socket.gethostname(),
            config=_config(options, store),
            hashsets=sets,
        )
        case.audit.append(
            "triage-started",
            run=run_id,
            exhibit=options.exhibit,
            source=description.source,
            evidence=asdict(description),
            profile=options.profile.value,
            operator=options.operator,
            tool_version=__version__,
            hashsets=sets,
            resumed_from=previous.id if previous else None,
            config=_config(options, store),
            pid=os.getpid(),
        )
        image_hashes = prepared.image_hashes
        if image_hashes is not None:
            case.audit.append("image-hash", run=run_id, source=description.source, **image_hashes)
            if image_hashes["verified"] is False:
                mismatch = "the image's media data does not match the hash stored in it: damaged or altered"
                record_warnings(case, exhibit_id, run_id, [EvidenceWarning("image-hash-mismatch", mismatch)])
    return Started(prepared, exhibit_id, run_id, matcher, options)


def examine(
    begun: Started, case: Case, events: TriageEvents, stop: threading.Event | None = None
) -> tuple[RunStatus, _Run]:
    """Examine the exhibit's items into its run; ``stop`` (set from another thread) interrupts it."""
    try:
        return _execute(
            begun.prepared.source,
            begun.prepared.evidence,
            case,
            begun.exhibit_id,
            begun.run_id,
            begun.matcher,
            begun.options,
            events,
            stop,
        )
    finally:
        if begun.matcher:
            begun.matcher.close()


def finish(begun: Started, case: Case, status: RunStatus, run: _Run) -> TriageOutcome:
    """Close the run: its row, and the audit line with the digest of the exhibit's findings."""
    run_id, options = begun.run_id, begun.options
    with case.writer:
        digest = findings_digest(case, begun.exhibit_id)
        case.finish_run(run_id, status.value, items_not_reached=run.not_reached)
        case.audit.append(
            "triage-finished",
            run=run_id,
            exhibit=options.exhibit,
            status=status.value,
            items_recorded=run.items,
            executor=run.executor.value if run.executor else None,
            hits=run.hits,
            warnings=run.warnings,
            bytes_read=run.bytes_read,
            items_not_reached=run.not_reached,
            known_p2p_records=run.known_records,
            findings_sha256=digest,
        )
    return TriageOutcome(
        run_id,
        begun.exhibit_id,
        status,
        run.items,
        run.hits,
        run.warnings,
        run.bytes_read,
        time.monotonic() - begun.prepared.started,
        run.known_records,
    )


def _authority(options: TriageOptions) -> str | None:
    """The ``--authority`` value as it will be stored, checked like ``safenet case set`` checks it."""
    if options.authority is None:
        return None
    try:
        return check_fields({"authority": options.authority}, exhibit=True)["authority"]
    except FieldError as exc:
        raise OptionsError(f"--authority: {exc}") from exc


def _record_authority(case: Case, options: TriageOptions, authority: str) -> None:
    """The exhibit's "authority" field (audited like any entered field), unless it already holds this value
    (a resumed run given the same --authority again)."""
    current = current_fields(case).get((options.exhibit, "authority"))
    if current is None or current.value != authority:
        set_fields(case, {"authority": authority}, options.operator, exhibit=options.exhibit)


def _item_kinds(info: HashSetInfo) -> tuple[HashKind, ...]:
    """The digest kinds items must be hashed with to match a set. A set built from reference files
    (``hashset build``) holds MD5 for every entry, so its ED2K (kept for matching P2P clients' records, which
    name files by ED2K alone) adds nothing for items and is not computed for them."""
    if info.format == "folder":
        return tuple(kind for kind in info.digests if kind is not HashKind.ED2K)
    return tuple(info.digests)


def _unmatchable(sets: Sequence[HashSetInfo], algorithms: Sequence[str]) -> str | None:
    """Why a selected set could never match with these digests (it holds none of them), else None."""
    for info in sets:
        held = [kind.value for kind in info.digests if kind.exact and kind.of_files]
        if held and not set(held) & set(algorithms):
            return f"hash set {info.name} holds {', '.join(held)} digests, which --digests leaves out; add {held[0]}"
    return None


def _image_hashes(evidence: Evidence) -> dict[str, object]:
    """Hash the image's media data (for E01, compared with its stored hash); recorded in the audit."""
    from safenet.evidence.image import ImageEvidence
    from safenet.evidence.image.integrity import hash_media

    if not isinstance(evidence, ImageEvidence) or evidence.image_format is None:
        raise TriageError("--verify-image needs a disk image or device as the source")
    return hash_media(str(evidence.path), evidence.image_format).as_dict()


def _videos(items: Sequence[Item]) -> int:
    """How many planned items are named like videos (a guess for ``choose``: types are known only once read)."""
    return sum(1 for i in items if i.name.rpartition(".")[2].lower() in VIDEO_EXTENSIONS)


def _execute(
    source: Source,
    evidence: Evidence,
    case: Case,
    exhibit_id: int,
    run_id: int,
    matcher: Matcher | None,
    options: TriageOptions,
    events: TriageEvents,
    stop: threading.Event | None = None,
) -> tuple[RunStatus, _Run]:
    perceptual = bool(matcher and matcher.perceptual_sets)
    pdq = perceptual and options.profile.perceptual
    if choose(options.executor, options.workers, sys.maxsize, pdq) is ExecutorKind.PROCESSES:
        warm_up()  # worker processes may be wanted: start their server while the items are listed
    run = _Run(case, exhibit_id, run_id, matcher, options, events)
    done = recorded_locators(case, exhibit_id) if options.resume else set()

    def listed(count: int, total_bytes: int, warnings: Sequence[EvidenceWarning]) -> None:
        """The listing has ended: its warnings, and how much is planned."""
        record_warnings(case, exhibit_id, run_id, warnings)
        run.warnings += len(warnings)
        with case.writer:
            case.set_planned(run_id, count)
        events.planned(count, total_bytes)

    lost: SourceLost | None = None  # the source went away (a phone unplugged): the run stops, resumable
    listing: Listing | None = None
    kind = choose(options.executor, options.workers, 0, pdq)
    # whether the executor is the same however many items are listed (then it need not wait for the listing)
    whatever_listed = kind is choose(options.executor, options.workers, sys.maxsize, pdq, sys.maxsize)
    chunks: Iterator[Sequence[Item]]
    if streams(evidence) and whatever_listed:  # examine while the listing goes on
        listing = Listing(evidence, (lambda i: i.locator.to_json() not in done) if done else _every, listed)
        chunks = listing.chunks()
    plan = StagePlan(options.profile, tuple(options.algorithms or ()), options.limits, perceptual)
    setup = WorkerSetup(source, plan, options.context, matcher.sources if matcher else ())
    make = partial(
        make_executor, workers=options.workers, evidence=evidence, matcher=matcher, setup=setup, cluster=options.cluster
    )
    starting: Starting | None = None
    if listing is None:
        if whatever_listed and kind in (ExecutorKind.DASK, ExecutorKind.PROCESSES):
            starting = Starting(partial(make, kind))  # a cluster to connect to, a pool to start: while listing
        enumeration_warnings: list[EvidenceWarning] = []
        try:
            found = list(evidence.items(enumeration_warnings.append))
        except SourceLost as exc:  # nothing is planned; a resume lists the source again
            found, lost = [], exc
        except BaseException:
            if starting is not None:
                starting.discard()
            raise
        planned = order(i for i in found if i.locator.to_json() not in done) if done else order(found)
        listed(len(planned), sum(i.size or 0 for i in planned), enumeration_warnings)
        kind = choose(options.executor, options.workers, len(planned), pdq, _videos(planned))
        chunks = iter((planned,))
    run.executor = kind
    status = RunStatus.COMPLETED
    taken = 0
    with ExitStack() as stack:  # on the way out: flush what was taken, cancel the rest, stop the workers
        try:
            executor = stack.enter_context(starting.get() if starting is not None else make(kind))
            results = stack.enter_context(closing(_in_order(executor, chunks)))
            for result in results:
                run.take(cross_check(evidence, result))  # digests the source lists vs those computed
                taken += 1
                if options.stop_at_first_hit and run.illicit_hit:
                    status = RunStatus.STOPPED
                    break
                if stop is not None and stop.is_set():  # Ctrl-C reaches only the main thread (engine.multi)
                    status = RunStatus.INTERRUPTED
                    break
        except KeyboardInterrupt:
            status = RunStatus.INTERRUPTED
        except SourceLost as exc:  # what was taken is recorded; items in flight are not, so a resume redoes them
            lost = exc
        finally:
            run.flush()
    if listing is not None:  # stopped early: the listing still says how many items were planned
        listing.finish()
        lost = lost or listing.lost
        planned_count = listing.count
    else:
        planned_count = len(planned)
    if lost is not None:  # one warning for the whole source, never one per item not reached
        status, run.lost = RunStatus.INTERRUPTED, lost
        record_warnings(case, exhibit_id, run_id, [EvidenceWarning(lost.code, str(lost))])
        run.warnings += 1
    run.not_reached = planned_count - taken
    if status is RunStatus.COMPLETED and options.profile.parses_p2p:  # every item is recorded: check the torrents
        from safenet.engine.torrents import check_torrents  # here: needed only once every item is recorded

        unread = check_torrents(case, exhibit_id, run_id, evidence)
        record_warnings(case, exhibit_id, run_id, unread)
        run.warnings += len(unread)
    return status, run


def _every(item: Item) -> bool:
    return True


def _in_order(executor: Executor, chunks: Iterator[Sequence[Item]]) -> Generator[WorkResult, None, None]:
    """Every chunk's results in order, one chunk after the other (closing this cancels what was not taken)."""
    for chunk in chunks:
        with closing(run_ordered(executor, chunk)) as results:
            yield from results
