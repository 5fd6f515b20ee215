"""Working through the lab queue: claim the next exhibit, triage it (on its cluster), record how it ended.

One exhibit at a time per coordinator: the cluster is what runs many items at once, and a coordinator's main
thread (matching and recording) is already its busiest part (bench/bench_scale.py). Run ``lab run`` on a second
machine for a second coordinator.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from safenet.case.store import Case, CaseError
from safenet.engine.events import Hit, KnownRecord
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import RESUMABLE, RunStatus, TriageError, TriageOptions, triage
from safenet.evidence.model import EvidenceError
from safenet.hashsets.model import HashSetError
from safenet.hashsets.store import HashSetStore
from safenet.lab.queue import Entry, LabQueue, State
from safenet.reasons import reason_of

PROGRESS_SECONDS: Final = 1.0  # how often a running entry's progress is written to the queue file


class QueueProgress:
    """Triage events written to the queue entry (at most once a second), for ``lab status``."""

    def __init__(self, queue: LabQueue, entry_id: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.queue, self.entry_id, self.clock = queue, entry_id, clock
        self.planned_items: int | None = None
        self.done = self.hits = 0
        self.written = 0.0

    def planned(self, items: int, total_bytes: int) -> None:
        self.planned_items = items
        self.write()

    def advanced(self, items: int, bytes_read: int) -> None:
        self.done += items
        if self.clock() - self.written >= PROGRESS_SECONDS:
            self.write()

    def hit(self, hit: Hit) -> None:
        self.hits += 1

    def known_record(self, record: KnownRecord) -> None:
        pass

    def write(self) -> None:
        self.queue.progress(self.entry_id, self.planned_items, self.done, self.hits)
        self.written = self.clock()


@dataclass(frozen=True, slots=True)
class Ended:
    """How one entry ended, for the caller to print."""

    entry: Entry
    state: State
    message: str


def _resume(case: Case, label: str) -> bool | None:
    """Whether the exhibit's last run must be resumed; None when it was already completed."""
    for exhibit in case.exhibits():
        if exhibit.label == label:
            last = case.last_run(exhibit.id)
            if last is None:
                return False
            if last.status == RunStatus.COMPLETED:
                return None
            return last.status in RESUMABLE
    return False


def run_entry(queue: LabQueue, entry: Entry, operator: str) -> Ended:
    """Triage one claimed entry and record its end in the queue; Ctrl-C puts it back and is raised again."""
    case: Case | None = None
    try:
        case = Case.create_or_open(entry.case_dir)
        resume = _resume(case, entry.label)
        if resume is None:
            message = "already triaged in this case (a coordinator stopped after finishing it)"
            queue.finish(entry.id, State.DONE, message)
            return Ended(entry, State.DONE, message)
        options = TriageOptions(
            exhibit=entry.label,
            profile=Profile(entry.profile),
            hashsets=entry.hashsets,
            resume=resume,
            operator=operator,
            executor=ExecutorKind.DASK if entry.cluster else None,
            cluster=entry.cluster,
        )
        store = HashSetStore(entry.hashdb) if entry.hashdb and (entry.hashsets or resume) else None
        progress = QueueProgress(queue, entry.id)
        outcome = triage(entry.source, case, store, options, progress)
        progress.write()  # the last count, whatever the time since the one before
    except KeyboardInterrupt:
        queue.requeue(entry.id, "interrupted (Ctrl-C); queued again, its run is resumed")
        raise
    except (CaseError, TriageError, EvidenceError, HashSetError, OSError) as exc:
        message = reason_of(exc)
        queue.finish(entry.id, State.FAILED, message)
        return Ended(entry, State.FAILED, message)
    finally:  # a coordinator works through many entries: each case's connections are let go when it ends
        if case is not None:
            case.close()
    if outcome.status is RunStatus.INTERRUPTED:  # the source went away: a later run resumes it
        queue.requeue(entry.id, f"run {outcome.run_id} interrupted (source lost?); queued again")
        return Ended(entry, State.QUEUED, "interrupted; queued again")
    message = f"run {outcome.run_id}: {outcome.items_recorded} items, {outcome.hits} hits in {outcome.seconds:.0f} s"
    queue.finish(entry.id, State.DONE, message, outcome.run_id)
    return Ended(entry, State.DONE, message)


def work_through(queue: LabQueue, operator: str, ended: Callable[[Ended], None] = lambda e: None) -> int:
    """Run queued entries until none is left; how many were run."""
    host, pid, count = socket.gethostname(), os.getpid(), 0
    while (entry := queue.claim(host, pid)) is not None:
        result = run_entry(queue, entry, operator)
        ended(result)
        count += 1
        if result.state is State.QUEUED:  # interrupted: do not spin on a source that is away
            break
    return count
