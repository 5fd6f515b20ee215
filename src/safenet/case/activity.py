"""Read-only queries over a case's P2P activity: the clients' file records, the searches typed into them, and
the checks of each ``.torrent``'s pieces against the files it names on its exhibit.

A P2P record of known material is a record with a ``known`` match in an illicit set; reports count these apart
from files (a record says a client knew of a file, not that the file is on the exhibit). Search terms are
restricted output: only the restricted report prints them.

A record is linked to the item on its exhibit with the same content digest (``CONTENT_KINDS``) here, when the
case is read, not when the record is written: the file may be recorded later in the run than the client's
artefact (or in a resumed run), and a recorded row is never changed. Both rows are audited, so the link is
re-derived from audited facts. Where several items share the digest, the first recorded is named.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from safenet.case.schema import Exhibit, ItemRow, P2PFindingRow, P2PRecordRow, SearchTermRow, TorrentCheckRow
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.evidence.locator import display_safe

#: The record hashes that name a file's content, strongest first: a record is linked to an item of its
#: exhibit with the same digest (btih names a torrent's info dictionary, not a file, so it links nothing).
CONTENT_KINDS = ("sha256", "sha1", "md5", "ed2k")
_CHUNK = 500  # values per IN (...) query: under SQLite's parameter limit


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

    @property
    def known_material(self) -> bool:
        """A record of known material: one of its matches is in an illicit set (its name is restricted output)."""
        return any(is_hit(m.set_kind, m.category) for m in self.known)


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
    query = _with_artefact(P2PRecordRow, exhibit, P2PRecordRow.item_id, P2PRecordRow.entry_index, P2PRecordRow.id)
    with case.sessions() as s:
        rows = s.execute(query).all()
        known = _known(s, [row.id for row, _, _ in rows])
        hashes = {row.id: _hashes(row.hashes) for row, _, _ in rows}
        links = _links(s, [(row.id, row.exhibit_id, hashes[row.id]) for row, _, _ in rows])
    return [
        P2PRecordView(
            record_id=row.id,
            exhibit=label,
            client=row.client,
            artefact=row.artefact,
            artefact_item_id=row.item_id,
            artefact_display=display,
            index=row.entry_index,
            name=row.name,
            size=row.size,
            hashes=hashes[row.id],
            shared=row.shared,
            completed=row.completed,
            uploaded_bytes=row.uploaded_bytes,
            upload_requests=row.upload_requests,
            accepted_requests=row.accepted_requests,
            added=row.added,
            completed_at=row.completed_at,
            last_shared=row.last_shared,
            zone_known=row.zone_known,
            save_path=row.save_path,
            linked_item_id=links.get(row.id),
            known=tuple(known.get(row.id, ())),
        )
        for row, label, display in rows
    ]


def search_terms(case: Case, exhibit: str | None = None) -> list[SearchTermView]:
    """The case's recorded search terms (of one exhibit, or all), by exhibit, artefact item and index."""
    query = _with_artefact(SearchTermRow, exhibit, SearchTermRow.item_id, SearchTermRow.entry_index, SearchTermRow.id)
    with case.sessions() as s:
        rows = s.execute(query).all()
    return [SearchTermView(label, row.client, display, row.term, row.at) for row, label, display in rows]


@dataclass(frozen=True, slots=True)
class TorrentCheckView:
    """A .torrent's pieces checked against the files it names found on its exhibit (``engine.torrents``)."""

    check_id: int
    exhibit: str
    record_id: int  # the torrent's own P2P record
    torrent_item_id: int
    torrent_display: str
    name: str  # the torrent's name (restricted where its record is of known material: the caller decides)
    info_hash: str
    status: str  # complete | partial | not-present | ambiguous | not-verifiable
    pieces: int
    matched: int
    mismatched: int
    unavailable: int
    files_found: int
    files_missing: int
    files_ambiguous: int
    problem: str
    files: tuple[dict[str, Any], ...]  # {path (display-safe), length, state, rule, item_id, candidates}, in order


def _shown_file(placed: dict[str, Any]) -> dict[str, Any]:
    """A torrent file as recorded, its path (the torrent's own text: hostile input) escaped for display, as every
    name from evidence is (``display_safe``)."""
    path = placed.get("path")
    return {**placed, "path": display_safe(path)} if isinstance(path, str) else placed


def torrent_checks(case: Case, exhibit: str | None = None) -> list[TorrentCheckView]:
    """The case's torrent checks (of one exhibit, or all), by exhibit and torrent record."""
    query = _with_artefact(
        TorrentCheckRow, exhibit, TorrentCheckRow.record_id, TorrentCheckRow.id, also=P2PRecordRow.name
    ).join(P2PRecordRow, P2PRecordRow.id == TorrentCheckRow.record_id)
    with case.sessions() as s:
        rows = s.execute(query).all()
    return [
        TorrentCheckView(
            check_id=row.id,
            exhibit=label,
            record_id=row.record_id,
            torrent_item_id=row.item_id,
            torrent_display=display,
            name=name,
            info_hash=row.info_hash,
            status=row.status,
            pieces=row.pieces,
            matched=row.matched,
            mismatched=row.mismatched,
            unavailable=row.unavailable,
            files_found=row.files_found,
            files_missing=row.files_missing,
            files_ambiguous=row.files_ambiguous,
            problem=row.problem,
            files=tuple(_shown_file(f) for f in json.loads(row.files) if isinstance(f, dict)),
        )
        for row, label, display, name in rows
    ]


def _with_artefact(
    table: type[P2PRecordRow] | type[SearchTermRow] | type[TorrentCheckRow],
    exhibit: str | None,
    *order: Any,
    also: Any = None,
) -> Select[Any]:
    """Rows of one of the P2P tables with their exhibit's label and the display of the artefact item they were
    read from (and ``also``, a column of a table the caller joins), of one exhibit or all, by exhibit then
    ``order``."""
    columns = (table, Exhibit.label, ItemRow.display) + ((also,) if also is not None else ())
    query = (
        select(*columns)
        .join(Exhibit, Exhibit.id == table.exhibit_id)
        .join(ItemRow, ItemRow.id == table.item_id)
        .order_by(Exhibit.label, *order)
    )
    return query if exhibit is None else query.where(Exhibit.label == exhibit)


def search_term_count(case: Case, exhibit: str | None = None) -> int:
    """How many search terms the case holds (what reports other than the restricted output may say)."""

    query = select(func.count(SearchTermRow.id))
    if exhibit is not None:
        query = query.join(Exhibit, Exhibit.id == SearchTermRow.exhibit_id).where(Exhibit.label == exhibit)
    with case.sessions() as s:
        return int(s.execute(query).scalar_one())


def _hashes(text: str) -> dict[str, str]:
    loaded = json.loads(text)
    return {str(k): str(v).lower() for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _known(s: Session, record_ids: list[int]) -> dict[int, list[KnownRecordMatch]]:
    out: dict[int, list[KnownRecordMatch]] = defaultdict(list)
    for start in range(0, len(record_ids), _CHUNK):
        query = (
            select(P2PFindingRow)
            .where(P2PFindingRow.record_id.in_(record_ids[start : start + _CHUNK]))
            .order_by(P2PFindingRow.record_id, P2PFindingRow.id)
        )
        for f in s.scalars(query):
            match = KnownRecordMatch(f.hashset, f.set_kind, f.hash_kind, f.category, f.category_raw, f.scheme)
            out[f.record_id].append(match)
    return out


def _links(s: Session, records: list[tuple[int, int, dict[str, str]]]) -> dict[int, int]:
    """Record id -> the first item of the record's exhibit with one of its content digests (strongest first)."""
    out: dict[int, int] = {}
    for kind in CONTENT_KINDS:
        column = getattr(ItemRow, kind, None)
        if column is None:  # pragma: no cover - every content kind is an item column
            continue
        wanted: dict[tuple[int, str], list[int]] = defaultdict(list)
        for record_id, exhibit_id, hashes in records:
            if record_id not in out and (digest := hashes.get(kind)):
                wanted[(exhibit_id, digest)].append(record_id)
        for query in _candidates(column, wanted):
            for item_id, exhibit_id, digest in s.execute(query):
                for record_id in wanted.get((exhibit_id, digest), ()):
                    out.setdefault(record_id, item_id)
    return out


def _candidates(column: Any, wanted: dict[tuple[int, str], list[int]]) -> list[Select[Any]]:
    """Queries for the items that may carry the wanted digests, each in item order.

    A few digests: looked up by value. Many (a Shareaza or Ares library names thousands of files): one pass
    over the exhibits' items that have the digest, since SHA-1 and SHA-256 are not indexed and a query per
    500 values would read the table again each time.
    """
    if not wanted:
        return []
    base = select(ItemRow.id, ItemRow.exhibit_id, column)
    if len(wanted) > _CHUNK:
        exhibits = sorted({exhibit_id for exhibit_id, _ in wanted})
        return [base.where(ItemRow.exhibit_id.in_(exhibits), column.is_not(None)).order_by(ItemRow.id)]
    digests = sorted({digest for _, digest in wanted})
    return [base.where(column.in_(digests)).order_by(ItemRow.id)]
