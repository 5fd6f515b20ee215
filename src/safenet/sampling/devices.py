"""Sampling several devices at once: one thread per device (their reads overlap; hashing a block costs under a
microsecond), each device its own verdict as soon as it is reached, one device failing never stops the others.

With a case, every round's offsets, every hit, every confirmed file and every verdict go to the case's audit
log, so the sample can be repeated (same seed, same offsets) and checked.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from safenet.hashsets.blocks import BlockHit, BlockSet
from safenet.reasons import reason_of
from safenet.sampling.sampler import SampleOptions, SampleResult, sample

if TYPE_CHECKING:
    from safenet.case.store import Case
    from safenet.evidence.model import Evidence, EvidenceWarning, Item
    from safenet.hashsets.model import HashKind
    from safenet.hashsets.store import HashSetStore


@dataclass(frozen=True, slots=True)
class ConfirmedFile:
    """The live file a hit block belongs to, hashed whole and looked up in the exact sets."""

    offset: int  # the hit block's byte offset
    locator: str  # display form
    md5: str
    sha256: str
    matches: tuple[str, ...]  # "set (category)" for each exact match


@dataclass(frozen=True, slots=True)
class DeviceOutcome:
    label: str
    path: str
    result: SampleResult | None
    confirmed: tuple[ConfirmedFile, ...] = ()
    error: str | None = None  # the device could not be sampled (one sentence)
    warnings: tuple[str, ...] = ()  # what confirming the hits could not read, "code: message (locator)"

    @property
    def seize(self) -> bool:
        """Whether the device must be seized: known material found, or no verdict reached."""
        return self.result is None or self.result.found


class SampleEvents(Protocol):
    def started(self, label: str, planned: int) -> None: ...

    def progress(self, label: str, read: int, planned: int, hits: int) -> None: ...

    def finished(self, outcome: DeviceOutcome) -> None: ...


def confirm(
    path: Path,
    hits: Sequence[BlockHit],
    store: HashSetStore,
    names: Sequence[str],
    warn: Callable[[EvidenceWarning], None],
) -> list[ConfirmedFile]:
    """Find the live files holding the hit blocks (file systems TSK reads, raw images; one listing for all), hash
    each file once and look them up in the exact sets, all with one matcher: the ordinary exact finding a full
    triage would make. What cannot be read on the way (the listing's own warnings, a file system that cannot be
    opened, a file that cannot be read) goes to ``warn``; the hits stand either way."""
    from safenet.evidence.image import ImageEvidence
    from safenet.evidence.model import EvidenceError, EvidenceWarning, NotMyFormat

    try:
        evidence = ImageEvidence(path)
        owners = evidence.files_at([hit.offset for hit in hits], warn)
    except NotMyFormat:  # no file system to map the blocks to files: nothing to confirm, as the verdict says
        return []
    except (EvidenceError, OSError) as exc:
        warn(EvidenceWarning("volume-unreadable", f"the files holding the hits could not be found: {reason_of(exc)}"))
        return []
    hashed: dict[str, tuple[int, FileHashes]] = {}  # locator -> (the first hit's offset, the file's hashes)
    tried: set[str] = set()  # each file hashed (or found unreadable) once, however many of its blocks hit
    for hit in hits:
        item = owners.get(hit.offset)
        if item is None or str(item.locator) in tried:
            continue
        tried.add(str(item.locator))
        try:
            hashed[str(item.locator)] = (hit.offset, _hash_file(evidence, item))
        except (EvidenceError, OSError) as exc:
            warn(
                EvidenceWarning("unreadable", f"could not be hashed to confirm its hit: {reason_of(exc)}", item.locator)
            )
    stored = {info.name for info in store.list()}
    exact = [n for n in names if n in stored]  # an imported block set may stand alone
    found: list[tuple[str, ...]] = [()] * len(hashed)
    if exact and hashed:
        with store.matcher(exact) as matcher:
            answers = matcher.lookup([query for _, (_, _, query) in hashed.values()])
        found = [tuple(sorted({f"{m.set_name} ({m.category})" for m in answer})) for answer in answers]
    return [
        ConfirmedFile(offset, locator, md5, sha256, matches)
        for (locator, (offset, (md5, sha256, _))), matches in zip(hashed.items(), found, strict=True)
    ]


#: a file's MD5 and SHA-256 (hex), and its digests as the exact sets' matcher takes them
FileHashes = tuple[str, str, "dict[HashKind, bytes]"]


def _hash_file(evidence: Evidence, item: Item) -> FileHashes:
    """The item hashed whole (``EvidenceError`` or ``OSError`` where it cannot be read)."""
    from safenet.hashsets.model import HashKind

    md5, sha1, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha1(usedforsecurity=False), hashlib.sha256()
    with evidence.open(item.locator) as stream:
        while chunk := stream.read(1 << 20):
            for digest in (md5, sha1, sha256):
                digest.update(chunk)
    query = {HashKind.MD5: md5.digest(), HashKind.SHA1: sha1.digest(), HashKind.SHA256: sha256.digest()}
    return md5.hexdigest(), sha256.hexdigest(), query


def _one(
    label: str,
    path: Path,
    sets: Sequence[BlockSet],
    names: Sequence[str],
    options: SampleOptions,
    case: Case | None,
    store: HashSetStore,
    events: SampleEvents,
) -> DeviceOutcome:
    def on_round(offsets: list[int], read: int, planned: int, found: list[BlockHit]) -> None:
        if case is not None:
            hits = [asdict(h) for h in found]
            case.audit.append("sample-round", exhibit=label, offsets=offsets, hits=hits)
        events.progress(label, read, planned, len(found))

    try:
        if case is not None:
            case.audit.append("sample-started", exhibit=label, source=str(path), sets=list(names), **_options(options))
        events.started(label, 0)
        result = sample(path, sets, options, on_round=on_round)
    except Exception as exc:  # a device that cannot be read is that device's outcome, never the others' end
        outcome = DeviceOutcome(label, str(path), None, error=f"{label}: {path} could not be sampled: {reason_of(exc)}")
        if case is not None:
            case.audit.append("sample-failed", exhibit=label, source=str(path), reason=outcome.error)
        events.finished(outcome)
        return outcome
    problems: list[EvidenceWarning] = []
    confirmed = confirm(path, result.hits[:8], store, names, problems.append)  # a full triage records them all
    for found_file in confirmed:
        if case is not None:
            case.audit.append("sample-file-confirmed", exhibit=label, **asdict(found_file))
    for problem in problems:
        if case is not None:
            where = str(problem.locator) if problem.locator is not None else None
            case.audit.append(
                "sample-warning", exhibit=label, code=problem.code, message=problem.message, locator=where
            )
    shown = tuple(f"{p.code}: {p.message}" + (f" ({p.locator})" if p.locator is not None else "") for p in problems)
    outcome = DeviceOutcome(label, str(path), result, tuple(confirmed), warnings=shown)
    if case is not None:
        case.audit.append(
            "sample-verdict",
            exhibit=label,
            source=str(path),
            verdict=result.verdict(),
            found=result.found,
            read=result.read,
            planned=result.planned,
            reached=result.reached,
            seed=result.seed,
            stopped=result.stopped,
            seconds=round(result.seconds, 3),
            limitations=list(result.limitations),
        )
    events.finished(outcome)
    return outcome


def _options(options: SampleOptions) -> dict[str, object]:
    return {
        "confidence": options.confidence,
        "min_known": options.min_known,
        "budget_s": options.budget_s,
        "seed_given": options.seed,
        "queue_depth": options.queue_depth,
    }


def run_devices(
    pairs: Sequence[tuple[str, Path]],
    sets: Sequence[BlockSet],
    names: Sequence[str],
    options: SampleOptions,
    case: Case | None,
    store: HashSetStore,
    events: SampleEvents,
) -> list[DeviceOutcome]:
    """Sample every device at once; outcomes in the order the devices were given."""
    outcomes: dict[str, DeviceOutcome] = {}

    def work(label: str, path: Path) -> None:
        outcomes[label] = _one(label, path, sets, names, options, case, store, events)

    threads = [threading.Thread(target=work, args=pair, name=f"sample-{pair[0]}") for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes[label] for label, _ in pairs]
