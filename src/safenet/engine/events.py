"""Progress events from a triage: the CLI renders them with Rich, tests collect them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from safenet.evidence.locator import Locator


@dataclass(frozen=True, slots=True)
class Hit:
    """One item matched a hash set marked illicit. Carries names and hashes only, never content."""

    exhibit: str
    locator: Locator
    category: str  # UK scheme code
    hash_kind: str  # exact: the digest kinds that matched, joined by "+" ("md5+sha1"); else "pdq d=12 rot90"
    hashsets: tuple[str, ...]
    deleted: bool
    perceptual: bool = False  # matched by likeness only: a lead for an examiner to confirm


@dataclass(frozen=True, slots=True)
class KnownRecord:
    """A P2P client's record of a file whose hash an illicit set holds: the client knew of known material,
    whether or not the file is still on the exhibit. Never a file hit (it is counted apart)."""

    exhibit: str
    locator: Locator  # the client's artefact (known.met, resume.dat ...) the record was read from
    client: str
    artefact: str
    index: int  # the record's position in the artefact
    name: str  # as the client recorded it (escape with display_safe before printing)
    category: str  # UK scheme code, the most severe the sets give
    hash_kind: str  # the kinds that matched, joined by "+"
    hashsets: tuple[str, ...]


class TriageEvents(Protocol):
    def planned(self, items: int, total_bytes: int) -> None: ...

    def advanced(self, items: int, bytes_read: int) -> None: ...

    def hit(self, hit: Hit) -> None: ...

    def known_record(self, record: KnownRecord) -> None: ...


class NoEvents:
    """Ignores every event (library use, tests that do not look at progress)."""

    def planned(self, items: int, total_bytes: int) -> None:
        pass

    def advanced(self, items: int, bytes_read: int) -> None:
        pass

    def hit(self, hit: Hit) -> None:
        pass

    def known_record(self, record: KnownRecord) -> None:
        pass
