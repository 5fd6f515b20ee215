"""Items, warnings and the Evidence protocol that every back-end implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol, runtime_checkable

from safenet.evidence.locator import Locator
from safenet.wire import by_position


class TimeSource(StrEnum):
    """Where a timestamp came from; stored in case files."""

    FS_STAT = "fs-stat"  # os.stat of a mounted or copied file system
    ARCHIVE = "archive"  # an archive member header (zip: local time, 2 s precision)
    FS_METADATA = "fs-metadata"  # parsed from file-system metadata (MFT, inode ...)
    CACHE = "cache-record"  # a browser cache's own record of an entry (last fetched, created ...)
    MAIL = "mail-date"  # a mail attachment's message: its Date field, a PST message's submit or delivery time


@by_position
@dataclass(frozen=True, slots=True)
class Timestamp:
    """A UTC time with where it came from and how precise it is (in seconds)."""

    value: datetime
    source: TimeSource
    precision_s: float = 1e-9
    zone_known: bool = True  # False for local times of unknown zone (zip headers); value is then as written


@by_position
@dataclass(frozen=True, slots=True)
class Item:
    """One byte stream found in evidence: a file, an archive member, a carved range, a cache entry."""

    locator: Locator
    name: str
    size: int | None
    modified: Timestamp | None = None
    accessed: Timestamp | None = None
    changed: Timestamp | None = None
    created: Timestamp | None = None
    deleted: bool = False
    carved: bool = False
    note: str | None = None  # e.g. a recoverability note for a deleted file

    @property
    def allocated(self) -> bool:
        return not (self.deleted or self.carved)


@by_position
@dataclass(frozen=True, slots=True)
class EvidenceWarning:
    """Something in the evidence could not be read or was refused. The run goes on."""

    code: str  # stable, e.g. "unreadable", "archive-bomb"; documented in docs/warnings.md
    message: str
    locator: Locator | None = None


@dataclass(frozen=True, slots=True)
class EvidenceDescription:
    """What an evidence source is, for the run record and the report."""

    backend: str
    source: str
    summary: str
    details: dict[str, str] = field(default_factory=dict)


class CredentialKind(StrEnum):
    """How an encrypted volume may be unlocked; only the kind is ever recorded, never the value."""

    PASSWORD = "password"  # noqa: S105 - a kind label, not a secret
    RECOVERY_PASSWORD = "recovery-password"  # noqa: S105 - BitLocker / FileVault recovery key
    KEY_FILE = "key-file"  # BitLocker startup key (.BEK), LUKS key file


@dataclass(frozen=True, slots=True)
class Credential:
    kind: CredentialKind
    value: str = field(repr=False)  # never in reprs, logs, locators or the case


@dataclass(frozen=True, slots=True)
class Acquire:
    """A live acquisition asked for (``--ios-backup``): kept in the case at ``folder`` (owner-only), its changes to
    the exhibit audited in the case at ``case``; ``resume``: a finished one is read again, not taken anew."""

    case: Path
    folder: Path
    resume: bool = False


@dataclass(frozen=True, slots=True)
class OpenContext:
    """What a back-end may ask of the caller when opening a source (docs/architecture.md: a small context object)."""

    credentials: tuple[Credential, ...] = ()
    partitions: tuple[str, ...] = ()  # volume names to examine (e.g. "p2", "vss1"); empty means all
    unallocated: bool = False  # list each file system's unallocated space as a region to carve (full profile)
    filesystem: str = ""  # in a volume holding several file systems, examine only this family ("ntfs", "ext" ...)
    acquire: Acquire | None = None  # a live phone: take a full backup into the case and read that (--ios-backup)

    def passwords(self) -> list[str]:
        """The passwords given (``--password``), in the order given."""
        return [c.value for c in self.credentials if c.kind is CredentialKind.PASSWORD]


class EvidenceError(Exception):
    """A back-end cannot open or read a source at all (not a problem with one item)."""


class NotMyFormat(EvidenceError):
    """A back-end was asked to open something it does not handle; the dispatcher tries the next one."""


class SourceLost(EvidenceError):
    """The whole source stopped answering during a run (a phone unplugged), not one item failing.

    The engine stops the run there: items already examined stay recorded, the run is left interrupted with
    this one warning (``code``), and ``--resume`` examines the rest once the source is back. Recording a
    warning for every remaining item instead would bury the case in thousands of identical lines, and would
    mark those items as done so that a resume skipped them.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code)  # both in args: the exception crosses process boundaries pickled
        self.code = code

    def __str__(self) -> str:
        return str(self.args[0])


class WarningSink(Protocol):
    def __call__(self, warning: EvidenceWarning, /) -> None: ...


@runtime_checkable
class Evidence(Protocol):
    """A source of items. Back-ends register by a stable NAME (see evidence.registry)."""

    NAME: ClassVar[str]

    def describe(self) -> EvidenceDescription: ...

    def items(self, warn: WarningSink) -> Iterator[Item]: ...

    def open(self, locator: Locator) -> BinaryIO: ...


@runtime_checkable
class GivesReadingHints(Protocol):
    """A back-end that learns, while it lists, how to read what it lists: a disk image learns each plain file's
    runs on the raw image (read straight from them with ``pread``, not through TSK) and each region's runs
    (unallocated space, with the listed deleted files' runs taken out; slack, gathered file by file). A worker
    process or a cluster worker did not list the evidence: the listing process hands it the hints of each task's
    items with the task, so that it neither reads the slow way nor lists the whole file system again.

    A hint is plain data (it pickles), meaningful only to the back-end that gave it."""

    def reading_hint(self, locator: Locator) -> object | None:
        """How to read the item ``locator`` names, as listing it taught; None when there is nothing to hand over."""

    def take_reading_hint(self, locator: Locator, hint: object) -> None:
        """Take a hint ``reading_hint`` gave in the process that listed the evidence."""
