"""Several exhibits triaged in one run: a process per exhibit, one case, one writer at a time.

Each exhibit goes through the same four steps as ``engine.triage.triage`` alone (prepare, start, examine,
finish), in a process of its own forked from the command's (``engine.apart``: each has its own interpreter
lock, so the exhibits' Python work runs on every core, and a child starts with the command's imports and hash
sets already loaded). Each keeps its own workers, ordered results, matcher and record loop, and its reads never
wait for another device's. The case is held once for all of them (``case.exclusive()``: a second Safenet
command is still refused); inside, ``case.writer`` lets one writer of any of the run's processes write at a
time, so a batch's ids (taken from the table's last id) and its audit line after the commit stay one step,
and the audit log reads as if the batches had come from one thread. Each exhibit gets its own exhibit row, run
and audit lines, exactly as if triaged alone; ``--resume`` resumes each exhibit named. Progress, hits and the
outcome come back to the command over a pipe per exhibit, in the order they happened.

An exhibit that fails (missing, a wrong password, unreadable, unplugged: ``SourceLost``, or refused by
the case: already triaged) ends with its reason and failure kind; the others go on; so does one whose process
dies (``Failure.INTERNAL``, its run left running: ``--resume`` finishes it). Ctrl-C stops every exhibit: each
ends its run as interrupted (resumable), and the interrupt is raised again once all have finished.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import Protocol

from safenet.case.audit import AuditError
from safenet.case.signing import SigningKeyError
from safenet.case.store import Case, CaseError, DiskFullError, is_disk_full
from safenet.engine.apart import Children, Send, forked
from safenet.engine.events import Hit, KnownRecord, TriageEvents
from safenet.engine.preparing import OptionsError, TriageError, TriageOptions, check_options, prepare
from safenet.engine.triage import RunStatus, TriageOutcome, examine, finish, start
from safenet.evidence.model import EvidenceError, SourceLost
from safenet.evidence.registry import Source
from safenet.hashsets.model import HashSetError
from safenet.hashsets.store import HashSetStore
from safenet.reasons import reason_of


class Failure(StrEnum):
    """Why an exhibit was not examined to the end (the command maps each to its exit code)."""

    EVIDENCE = "evidence"  # missing, unreadable, a wrong password: never started
    LOST = "lost"  # went away mid-run (unplugged): what was read is recorded, --resume finishes it
    HASHSET = "hashset"
    OPTIONS = "options"
    CASE = "case"  # refused by the case: already triaged, nothing to resume, audit log not writable
    DISK_FULL = "disk-full"
    INTERNAL = "internal"  # a bug: the message names the exception


@dataclass(frozen=True, slots=True)
class ExhibitOutcome:
    """One exhibit of a run of several: its triage outcome, or why there is none."""

    label: str
    source: str
    options: TriageOptions  # as asked (a resumed run goes on with its recorded profile and sets)
    outcome: TriageOutcome | None = None
    first_hit_s: float | None = None  # seconds from the exhibit's start to its first hit
    categories: dict[str, int] = field(default_factory=dict)  # file hits by category code
    failure: Failure | None = None
    reason: str | None = None  # one sentence, for a failure or a lost source

    @property
    def completed(self) -> bool:
        """Every planned item examined (or stopped at a hit, which settles the verdict)."""
        return self.outcome is not None and self.failure is None and self.outcome.status is not RunStatus.INTERRUPTED

    @property
    def seize(self) -> bool:
        """Must be seized: known material found (a file hit or a P2P record of it), or not examined to the end."""
        if not self.completed or self.outcome is None:
            return True
        return self.outcome.hits > 0 or self.outcome.known_records > 0


class MultiEvents(Protocol):
    """What a run of several exhibits reports; called in the command's process, as the exhibits' events come."""

    def exhibit(self, label: str) -> TriageEvents: ...

    def finished(self, outcome: ExhibitOutcome) -> None: ...


class _Watch:
    """One exhibit's events passed on, noting when its first hit came and its hits by category."""

    def __init__(self, inner: TriageEvents) -> None:
        self.inner = inner
        self.began = time.monotonic()
        self.first_hit_s: float | None = None
        self.categories: Counter[str] = Counter()

    def planned(self, items: int, total_bytes: int) -> None:
        self.inner.planned(items, total_bytes)

    def advanced(self, items: int, bytes_read: int) -> None:
        self.inner.advanced(items, bytes_read)

    def hit(self, hit: Hit) -> None:
        if self.first_hit_s is None:
            self.first_hit_s = time.monotonic() - self.began
        self.categories[hit.category] += 1
        self.inner.hit(hit)

    def known_record(self, record: KnownRecord) -> None:
        self.inner.known_record(record)


def failure_of(exc: BaseException) -> Failure:
    """The kind of an exhibit's failure, as ``commands.common.user_errors`` would map it for a run alone."""
    if isinstance(exc, DiskFullError) or is_disk_full(exc):
        return Failure.DISK_FULL
    if isinstance(exc, SourceLost):
        return Failure.LOST
    if isinstance(exc, EvidenceError):
        return Failure.EVIDENCE
    if isinstance(exc, HashSetError):
        return Failure.HASHSET
    if isinstance(exc, OptionsError):
        return Failure.OPTIONS
    if isinstance(exc, (CaseError, TriageError, AuditError, SigningKeyError)):
        return Failure.CASE
    return Failure.INTERNAL


def _one(
    label: str,
    source: Source,
    case: Case,
    store: HashSetStore | None,
    options: TriageOptions,
    events: TriageEvents,
    stop: threading.Event,
) -> ExhibitOutcome:
    watch = _Watch(events)
    try:
        prepared = prepare(source, case.path, store, options)
        begun = start(prepared, case, store, options)
        status, run = examine(begun, case, watch, stop)
        outcome = finish(begun, case, status, run)
    except Exception as exc:  # this exhibit's end, never the others'
        failure = failure_of(exc)
        if failure is Failure.LOST:  # gone before its run began (a lost source mid-run ends the run instead)
            failure = Failure.EVIDENCE
        reason = reason_of(exc)
        if failure is Failure.INTERNAL:
            reason = f"{exc.__class__.__name__}: {reason}"
        return ExhibitOutcome(label, str(source), options, failure=failure, reason=reason)
    lost = run.lost
    return ExhibitOutcome(
        label,
        str(source),
        options,
        outcome,
        watch.first_hit_s,
        dict(watch.categories),
        Failure.LOST if lost is not None else None,
        str(lost) if lost is not None else None,
    )


class _Relay:
    """An exhibit's events, in its own process, sent to the command's (progress at most ten times a second)."""

    EVERY = 0.1  # seconds between progress messages

    def __init__(self, send: Send) -> None:
        self._send = send
        self._items = 0
        self._bytes = 0
        self._sent = 0.0

    def planned(self, items: int, total_bytes: int) -> None:
        self.flush()
        self._send("planned", items, total_bytes)

    def advanced(self, items: int, bytes_read: int) -> None:
        self._items += items
        self._bytes += bytes_read
        if time.monotonic() - self._sent >= self.EVERY:
            self.flush()

    def hit(self, hit: Hit) -> None:
        self.flush()
        self._send("hit", hit)

    def known_record(self, record: KnownRecord) -> None:
        self.flush()
        self._send("known_record", record)

    def flush(self) -> None:
        """Send the progress not yet sent (before any other event, so the command sees them in order)."""
        if self._items or self._bytes:
            self._send("advanced", self._items, self._bytes)
            self._items = self._bytes = 0
        self._sent = time.monotonic()


_EVENTS = frozenset({"planned", "advanced", "hit", "known_record"})  # TriageEvents' methods a child may call


def _exhibit_job(
    label: str,
    source: Source,
    case: Case,
    store: HashSetStore | None,
    options: TriageOptions,
    send: Send,
    stop: threading.Event,
) -> ExhibitOutcome:
    """One exhibit, in its own process (``engine.apart``)."""
    relay = _Relay(send)
    try:
        return _one(label, source, case, store, options, relay, stop)
    finally:
        relay.flush()


class AtOnce:
    """Exhibits being triaged, each in its process; ``wait`` shows their events and returns their outcomes."""

    def __init__(
        self, children: Children[ExhibitOutcome], exhibits: Sequence[tuple[str, Source]], options: TriageOptions
    ) -> None:
        self._children = children
        self._exhibits = exhibits
        self._options = options

    def wait(self, events: MultiEvents) -> list[ExhibitOutcome]:
        """Relay every exhibit's events to ``events`` until all have finished; outcomes in the order given."""
        views = {label: events.exhibit(label) for label, _ in self._exhibits}
        sources = dict(self._exhibits)

        def receive(label: str, kind: str, args: tuple[object, ...]) -> None:
            if kind in _EVENTS:
                getattr(views[label], kind)(*args)

        def died(label: str, exitcode: int | None, error: str | None) -> ExhibitOutcome:
            if error is None:
                how = f"was killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else "ended"
                error = f"its process {how} before the exhibit was finished; --resume finishes it"
            options = replace(self._options, exhibit=label)
            return ExhibitOutcome(label, str(sources[label]), options, failure=Failure.INTERNAL, reason=error)

        outcomes = self._children.wait(receive, lambda label, outcome: events.finished(outcome), died)
        return [outcomes[label] for label, _ in self._exhibits]


@contextmanager
def at_once(
    exhibits: Sequence[tuple[str, Source]], case: Case, store: HashSetStore | None, options: TriageOptions
) -> Iterator[AtOnce]:
    """Start triaging every exhibit (``options`` for each, with its own label), a process each; on leaving,
    every one has ended. Start it before any other thread (a live display) starts: the children are forked.

    Options that contradict each other or the sets are refused (OptionsError) before anything is recorded.
    """
    labels = [label for label, _ in exhibits]
    if len(set(labels)) != len(labels):
        raise OptionsError("each device needs its own exhibit label")
    check_options(store, options)
    with case.exclusive():
        case.before_fork()
        jobs = [
            (label, partial(_exhibit_job, label, source, case, store, replace(options, exhibit=label)))
            for label, source in exhibits
        ]
        with forked(jobs) as children:
            yield AtOnce(children, exhibits, options)


def triage_many(
    exhibits: Sequence[tuple[str, Source]],
    case: Case,
    store: HashSetStore | None,
    options: TriageOptions,
    events: MultiEvents,
) -> list[ExhibitOutcome]:
    """Triage every exhibit at once; outcomes in the order given (``at_once`` and its ``wait`` in one call)."""
    with at_once(exhibits, case, store, options) as running:
        return running.wait(events)
