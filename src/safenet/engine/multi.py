"""Several exhibits triaged in one run: one coordinator thread per exhibit, one case, one writer at a time.

Each exhibit goes through the same four steps as ``engine.triage.triage`` alone (prepare, start, examine,
finish), in a thread of its own, so each keeps its own workers, ordered results, matcher and record loop
and its reads never wait for another device's. The case is held once for all of them
(``case.exclusive()``: a second Safenet process is still refused); inside, ``case.writer`` lets one
thread write at a time, so a batch's ids (taken from the table's last id) and its audit line after the
commit stay one step, and the audit log reads as if the batches had come from one thread. Each exhibit
gets its own exhibit row, run and audit lines, exactly as if triaged alone; ``--resume`` resumes each
exhibit named.

An exhibit that fails (missing, a wrong password, unreadable, unplugged: ``SourceLost``, or refused by
the case: already triaged) ends with its reason and failure kind; the others go on. Ctrl-C reaches only
the main thread: it sets ``stop``, each exhibit ends its run as interrupted (resumable), and the
interrupt is raised again once all have finished.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from safenet.case.audit import AuditError
from safenet.case.signing import SigningKeyError
from safenet.case.store import Case, CaseError, DiskFullError, is_disk_full
from safenet.engine.events import Hit, KnownRecord, TriageEvents
from safenet.engine.triage import (
    OptionsError,
    RunStatus,
    TriageError,
    TriageOptions,
    TriageOutcome,
    check_options,
    examine,
    finish,
    prepare,
    start,
)
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
    """What a run of several exhibits reports; called from the exhibits' threads."""

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
    events: MultiEvents,
    stop: threading.Event,
) -> ExhibitOutcome:
    watch = _Watch(events.exhibit(label))
    try:
        prepared = prepare(source, case, store, options)
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


def triage_many(
    exhibits: Sequence[tuple[str, Source]],
    case: Case,
    store: HashSetStore | None,
    options: TriageOptions,
    events: MultiEvents,
) -> list[ExhibitOutcome]:
    """Triage every exhibit at once (``options`` for each, with its own label); outcomes in the order given.

    Options that contradict each other or the sets are refused (OptionsError) before anything is recorded.
    """
    labels = [label for label, _ in exhibits]
    if len(set(labels)) != len(labels):
        raise OptionsError("each device needs its own exhibit label")
    check_options(store, options)
    stop = threading.Event()
    outcomes: dict[str, ExhibitOutcome] = {}

    def work(label: str, source: Source) -> None:
        outcome = _one(label, source, case, store, replace(options, exhibit=label), events, stop)
        outcomes[label] = outcome
        events.finished(outcome)

    with case.exclusive():
        threads = [threading.Thread(target=work, args=pair, name=f"triage-{pair[0]}") for pair in exhibits]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():  # a timed join: Ctrl-C reaches the main thread while it waits
                    thread.join(0.2)
        except KeyboardInterrupt:
            stop.set()  # each exhibit records what it took and ends its run as interrupted
            for thread in threads:
                thread.join()
            raise
    return [outcomes[label] for label in labels]
