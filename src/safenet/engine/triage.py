"""Running a triage: enumerate, order, examine on workers, match in batches, record, report hits.

The main thread owns the case database and the hash-set matcher; workers (threads or processes, see
``engine.executors``) only read evidence and compute. Results are taken back in submission order, so
the case records items in a repeatable order whatever the worker timing. What needs no case lives apart:
the options and the opened source (``engine.preparing``), and the listing, executor and ordered results
(``engine.examination``), which a new run may begin before its case is open (``examination.Early``). A folder
is examined while it is still being listed (``engine.listing``), in the same order (``ordering.ranked``): its
listing's warnings and the planned count are recorded when the listing ends, so they may follow the first
batches of results.

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

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from functools import partial
from pathlib import Path

from safenet import __version__
from safenet.analysis.p2p.model import P2PRecord
from safenet.case.casefields import current_fields, set_fields
from safenet.case.integrity import findings_digest
from safenet.case.recorder import audit_unrecorded, record_results, record_warnings, recorded_locators
from safenet.case.records import ItemRecord, P2PFound, WorkResult
from safenet.case.schema import Run
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.engine.events import Hit, KnownRecord, NoEvents, TriageEvents
from safenet.engine.examination import Early, Examination
from safenet.engine.executors import ExecutorKind
from safenet.engine.listed import cross_check
from safenet.engine.preparing import OptionsError, Prepared, TriageError, TriageOptions, prepare, with_digests
from safenet.engine.profiles import Profile
from safenet.engine.video import match_found_video
from safenet.evidence.archive import ArchiveLimits
from safenet.evidence.model import Evidence, EvidenceWarning, SourceLost
from safenet.evidence.registry import Source
from safenet.hashsets.categories import most_severe
from safenet.hashsets.model import HashKind, Match
from safenet.hashsets.perceptual import describe
from safenet.hashsets.store import HashSetStore, Matcher

__all__ = [  # OptionsError, TriageError and TriageOptions live in engine.preparing; many import them from here
    "RESUMABLE",
    "OptionsError",
    "RunStatus",
    "Started",
    "TriageError",
    "TriageOptions",
    "TriageOutcome",
    "examine",
    "finish",
    "start",
    "triage",
]


class RunStatus(StrEnum):
    """Stored in case files; never rename."""

    RUNNING = "running"  # in progress, or killed (a later --resume marks it interrupted)
    COMPLETED = "completed"
    STOPPED = "stopped-at-first-hit"
    INTERRUPTED = "interrupted"


RESUMABLE = (RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.STOPPED)


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


@dataclass(frozen=True, slots=True)
class Started:
    """A run begun in the case (exhibit row, run row, audit line): what examining and finishing it need."""

    prepared: Prepared
    exhibit_id: int
    run_id: int
    matcher: Matcher | None
    options: TriageOptions  # as the run goes: a resumed run's recorded settings, the digests chosen
    early: Early | None = None  # the examination begun before the case was open, if it was


def triage(
    source: Source,
    case: Case,
    store: HashSetStore | None,
    options: TriageOptions,
    events: TriageEvents | None = None,
    early: Early | None = None,
) -> TriageOutcome:
    """Triage one exhibit into a case. See the module docstring for the shape of the work.

    The four steps (prepare, start, examine, finish) are also run by ``engine.multi`` for several exhibits at
    once, one thread each, holding the case once for all of them. ``early``: the run as begun before the case was
    open (``examination.begin_early``, with these ``source``, ``store`` and ``options``); the caller discards it
    whatever happens (``Early.discard``: nothing once the run has taken it).
    """
    prepared = early.prepared if early is not None else prepare(source, case.path, store, options)
    with case.exclusive():
        begun = start(prepared, case, store, options, early)
        status, run = examine(begun, case, events or NoEvents())
        return finish(begun, case, status, run)


def start(
    prepared: Prepared, case: Case, store: HashSetStore | None, options: TriageOptions, early: Early | None = None
) -> Started:
    """Record the exhibit and begin its run (the caller holds ``case.exclusive()``).

    Done as the case's one writer (``case.writer``): a resume's repair of the audit log must not see another
    exhibit's batch between its commit and its audit line. ``early``: a new run's matcher and digests, chosen
    before the case was open, and its examination, under way.
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
        if early is not None and previous is None:
            matcher, options, early.matcher_taken = early.matcher, early.options, True
        else:
            matcher = store.matcher(options.hashsets) if store and options.hashsets else None
            options = with_digests(options, matcher)
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
    return Started(prepared, exhibit_id, run_id, matcher, options, early if previous is None else None)


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
            begun.early,
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


def _record_authority(case: Case, options: TriageOptions, authority: str) -> None:
    """The exhibit's "authority" field (audited like any entered field), unless it already holds this value
    (a resumed run given the same --authority again)."""
    current = current_fields(case).get((options.exhibit, "authority"))
    if current is None or current.value != authority:
        set_fields(case, {"authority": authority}, options.operator, exhibit=options.exhibit)


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
    early: Early | None = None,
) -> tuple[RunStatus, _Run]:
    run = _Run(case, exhibit_id, run_id, matcher, options, events)
    done = recorded_locators(case, exhibit_id) if options.resume else set()

    def listed(count: int, total_bytes: int, warnings: Sequence[EvidenceWarning]) -> None:
        """The listing has ended: its warnings, and how much is planned."""
        record_warnings(case, exhibit_id, run_id, warnings)
        run.warnings += len(warnings)
        with case.writer:
            case.set_planned(run_id, count)
        events.planned(count, total_bytes)

    begin: Callable[[], None]
    if early is not None and early.examination is not None:  # begun before the case was open
        examination = early.examination
        begin = partial(early.attach, listed)  # its kept results, then the rest; its listing's report, if it came
    else:
        keep = (lambda i: i.locator.to_json() not in done) if done else None
        examination = Examination(source, evidence, matcher, options, keep, listed)
        begin = examination.start
    lost = examination.lost  # the source went away (a phone unplugged): the run stops, resumable
    run.executor = examination.kind
    status = RunStatus.COMPLETED
    taken = 0
    with examination:  # on the way out: flush what was taken, cancel the rest, stop the workers
        try:
            begin()
            for result in examination.results:
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
            lost = lost or exc
        finally:
            run.flush()
    listing = examination.listing
    if listing is not None:  # stopped early: the listing still says how many items were planned
        listing.finish()
        lost = lost or listing.lost
    if lost is not None:  # one warning for the whole source, never one per item not reached
        status, run.lost = RunStatus.INTERRUPTED, lost
        record_warnings(case, exhibit_id, run_id, [EvidenceWarning(lost.code, str(lost))])
        run.warnings += 1
    run.not_reached = examination.planned_count - taken
    if status is RunStatus.COMPLETED and options.profile.parses_p2p:  # every item is recorded: check the torrents
        from safenet.engine.torrents import check_torrents  # here: needed only once every item is recorded

        unread = check_torrents(case, exhibit_id, run_id, evidence)
        record_warnings(case, exhibit_id, run_id, unread)
        run.warnings += len(unread)
    return status, run
