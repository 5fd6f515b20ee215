"""Read-only queries over a case's P2P activity: the clients' file records and the searches typed into them.

A P2P record of known material is a record with a ``known`` match in an illicit set; reports count these apart
from files (a record says a client knew of a file, not that the file is on the exhibit). Search terms are
restricted output: only the restricted report prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from safenet.case.store import Case


@dataclass(frozen=True, slots=True)
class KnownRecordMatch:
    """A P2P record's hash found in a hash set (the same meaning as a finding's columns)."""

    hashset: str
    set_kind: str
    hash_kind: str
    category: str
    category_raw: str | None
    scheme: str


@dataclass(frozen=True, slots=True)
class P2PRecordView:
    """One client's record of one file, as recorded in the case."""

    record_id: int
    exhibit: str
    client: str
    artefact: str
    artefact_item_id: int
    artefact_display: str
    index: int
    name: str
    size: int | None
    hashes: dict[str, str]  # kind -> lowercase hex
    shared: bool | None
    completed: bool | None
    uploaded_bytes: int | None
    upload_requests: int | None
    accepted_requests: int | None
    added: datetime | None
    completed_at: datetime | None
    last_shared: datetime | None
    zone_known: bool
    save_path: str
    linked_item_id: int | None  # the item on the exhibit with the same content hash (md5/sha1/ed2k), if any
    known: tuple[KnownRecordMatch, ...]


@dataclass(frozen=True, slots=True)
class SearchTermView:
    """A search typed into a client (restricted output)."""

    exhibit: str
    client: str
    artefact_display: str
    term: str
    at: datetime | None


def p2p_records(case: Case, exhibit: str | None = None) -> list[P2PRecordView]:
    """The case's P2P records (of one exhibit, or all), by exhibit, artefact item and index."""
    raise NotImplementedError


def search_terms(case: Case, exhibit: str | None = None) -> list[SearchTermView]:
    """The case's recorded search terms (of one exhibit, or all), by exhibit, artefact item and index."""
    raise NotImplementedError
