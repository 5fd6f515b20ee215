"""Writing triage results into the case database, one transaction per batch.

A top-level item and everything found inside it are committed together, so an interrupted triage
never leaves half an archive behind, and ``--resume`` can skip exactly the items already recorded.
The P2P records and search terms parsed from an item go in the same transaction as the item.
"""

from __future__ import annotations

import contextlib
import json
import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from safenet.analysis.p2p.model import P2PRecord, SearchTerm
from safenet.analysis.thumbs import CACHE_FOLDER, DEFAULT_BLUR, DEFAULT_THUMB_SIZE, cache_name
from safenet.case.integrity import BATCH_EVENT, BATCHED_TABLES, canonical_digest, max_id, rows_digest, values_digest
from safenet.case.locatortexts import LocatorTexts
from safenet.case.records import ItemRecord, P2PFound, WorkResult
from safenet.case.schema import (
    Finding,
    ItemRow,
    P2PFindingRow,
    P2PRecordRow,
    SearchTermRow,
    TorrentCheckRow,
    UTCDateTime,
    WarningRow,
)
from safenet.case.store import Case
from safenet.evidence.locator import display_safe
from safenet.evidence.model import EvidenceWarning, Timestamp
from safenet.hashsets.model import Match


def _utc(ts: Timestamp | None) -> datetime | None:
    """Zone-less times (zip headers) are stored as written and flagged by ``time_zone_known``."""
    if ts is None:
        return None
    return ts.value if ts.value.tzinfo is not None else ts.value.replace(tzinfo=UTC)


def _time_text(ts: Timestamp | None) -> str | None:
    """A time as bound: SQLAlchemy's SQLite text of its UTC value (see ``_sqlite_value``).

    Zone-less times (zip headers) are stored as written and flagged by ``time_zone_known``.
    """
    if ts is None:
        return None
    value = ts.value
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # zone-less: no offset to cut


#: The items table's columns in the order its rows are built: sorted by name, the batch digest's order
#: (``integrity.values_digest``), so the rows are digested as built.
ITEM_COLUMNS = (
    "accessed",
    "carved",
    "changed",
    "created",
    "deleted",
    "display",
    "ed2k",
    "exhibit_id",
    "extension_mismatch",
    "filetype",
    "id",
    "locator",
    "md5",
    "media_kind",
    "modified",
    "name",
    "note",
    "parent_id",
    "pdq",
    "pdq_low_quality",
    "pdq_quality",
    "run_id",
    "sha1",
    "sha256",
    "size",
    "status",
    "time_source",
    "time_zone_known",
    "video_codec",
    "video_duration_s",
    "video_height",
    "video_width",
)
_ITEMS_SQL = f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}) VALUES ({', '.join('?' * len(ITEM_COLUMNS))})"


#: How a time is bound: SQLite's text (``_time_text``), or an aware datetime for other databases (``_utc``).
TimeValue = Callable[[Timestamp | None], object]


def _item_row(
    record: ItemRecord,
    texts: LocatorTexts,
    time: TimeValue,
    ids: tuple[int, int, int, int | None],
) -> tuple[object, ...]:
    """One items row as bound, its values in ``ITEM_COLUMNS`` order: a tuple, built once, no dict per row.

    ``ids``: exhibit, run, the item's own id and its parent's.
    """
    exhibit_id, run_id, item_id, parent_id = ids
    item = record.item
    digests = record.digests
    md5 = sha1 = sha256 = ed2k = None
    if digests:
        md5 = digests["md5"].hex() if "md5" in digests else None
        sha1 = digests["sha1"].hex() if "sha1" in digests else None
        sha256 = digests["sha256"].hex() if "sha256" in digests else None
        ed2k = digests["ed2k"].hex() if "ed2k" in digests else None
    modified, accessed, changed, created = item.modified, item.accessed, item.changed, item.created
    first_time = modified or accessed or changed or created
    # a back-end gives one Timestamp for equal times (a file written once): its text is made once
    modified_text = time(modified)
    accessed_text = modified_text if accessed is modified else time(accessed)
    changed_text = modified_text if changed is modified else time(changed)
    pdq = record.pdq
    video = record.video
    meta = video.meta if video is not None else None
    filetype = record.filetype
    locator_json, display = texts.of(item.locator)
    return (
        accessed_text,
        item.carved,
        changed_text,
        time(created),
        item.deleted,
        display,
        ed2k,
        exhibit_id,
        record.extension_mismatch,
        filetype.name,
        item_id,
        locator_json,
        md5,
        filetype.kind.value,
        modified_text,
        display_safe(item.name),
        item.note,
        parent_id,
        pdq.hash.hex() if pdq else None,
        pdq.low_quality if pdq else None,
        pdq.quality if pdq else None,
        run_id,
        sha1,
        sha256,
        item.size,
        record.status.value,
        first_time.source.value if first_time else None,
        first_time.zone_known if first_time else True,
        display_safe(meta.codec)[:40] if meta and meta.codec else None,
        meta.duration_s if meta else None,
        meta.height if meta else None,
        meta.width if meta else None,
    )


def _finding(item_id: int, run_id: int, m: Match) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "run_id": run_id,
        "hashset": m.set_name,
        "hashset_sha256": m.set_sha256,
        "set_kind": m.kind.value,
        "hash_kind": m.hash_kind.value,
        "match_kind": m.match_kind,
        "category": m.category,
        "category_raw": m.category_raw,
        "scheme": m.scheme,
        "entry": m.entry,
        "distance": m.distance,
        "orientation": m.orientation,
        "trimmed": m.trimmed,
        "frames": json.dumps(m.frames) if m.frames is not None else None,
    }


_INT64 = (1 << 63) - 1


def _count(value: int | None) -> int | None:
    """A size or counter as stored: one no 64-bit column can hold (a hostile file's) is not kept."""
    return value if value is not None and 0 <= value <= _INT64 else None


def _aware(value: datetime | None) -> datetime | None:
    """A client's time; a zone-less one (local time of an unknown zone) is stored as written, flagged."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):  # a hostile time at the edge of what datetime holds
        return None


def _text_json(value: object) -> str:
    """Evidence text as JSON: ASCII only, so undecodable bytes and control characters survive as escapes."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def _p2p_row(found: P2PFound, record: P2PRecord, exhibit_id: int, run_id: int, item_id: int) -> dict[str, Any]:
    return {
        "exhibit_id": exhibit_id,
        "run_id": run_id,
        "item_id": item_id,
        "parser": found.parser,
        "client": display_safe(record.client)[:40],
        "artefact": display_safe(record.artefact)[:60],
        "entry_index": _count(record.index) or 0,
        "name": display_safe(record.name),
        "name_raw": _text_json(record.name),
        "size": _count(record.size),
        "hashes": _text_json({kind: digest.hex() for kind, digest in record.hashes.items()}),
        "shared": record.shared,
        "completed": record.completed,
        "uploaded_bytes": _count(record.uploaded_bytes),
        "upload_requests": _count(record.upload_requests),
        "accepted_requests": _count(record.accepted_requests),
        "added": _aware(record.added),
        "completed_at": _aware(record.completed_at),
        "last_shared": _aware(record.last_shared),
        "zone_known": record.zone_known,
        "save_path": display_safe(record.save_path),
        "extra": _text_json(dict(record.extra)),
    }


def _p2p_finding(record_id: int, run_id: int, m: Match) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "run_id": run_id,
        "hashset": m.set_name,
        "hashset_sha256": m.set_sha256,
        "set_kind": m.kind.value,
        "hash_kind": m.hash_kind.value,
        "category": m.category,
        "category_raw": m.category_raw,
        "scheme": m.scheme,
        "entry": m.entry,
    }


def _term_row(found: P2PFound, term: SearchTerm, exhibit_id: int, run_id: int, item_id: int) -> dict[str, Any]:
    return {
        "exhibit_id": exhibit_id,
        "run_id": run_id,
        "item_id": item_id,
        "parser": found.parser,
        "client": display_safe(term.client)[:40],
        "artefact": display_safe(term.artefact)[:60],
        "entry_index": _count(term.index) or 0,
        "term": display_safe(term.term),
        "term_raw": _text_json(term.term),
        "at": _aware(term.at),
    }


def _warning_row(warning: EvidenceWarning, exhibit_id: int, run_id: int, at: datetime) -> dict[str, Any]:
    loc = warning.locator
    return {
        "run_id": run_id,
        "exhibit_id": exhibit_id,
        "code": warning.code,
        "message": display_safe(warning.message),
        "locator": loc.to_json() if loc else None,
        "display": str(loc) if loc else None,
        "at": at,
    }


def record_warnings(case: Case, exhibit_id: int, run_id: int, warnings: Sequence[EvidenceWarning]) -> None:
    with case.writer:  # ids follow the last id and the audit line follows the commit: one writer at a time
        _record_warnings(case, exhibit_id, run_id, warnings)


def _record_warnings(case: Case, exhibit_id: int, run_id: int, warnings: Sequence[EvidenceWarning]) -> None:
    if not warnings:
        return
    now = datetime.now(UTC)
    with case.sessions.begin() as s:
        before = _max_ids(s)
        rows = _numbered([_warning_row(w, exhibit_id, run_id, now) for w in warnings], before["warnings"])
        _bulk_insert(s, cast(Table, WarningRow.__table__), rows)
    _audit_batch(case, exhibit_id, run_id, _spans(before, {"warnings": rows}))


def record_results(case: Case, exhibit_id: int, run_id: int, results: Sequence[WorkResult]) -> None:
    """Store a batch of work results with their findings and warnings in one transaction.

    Ids are assigned here (the triage holds the case exclusively, and ``case.writer`` keeps exhibits triaged
    at once to one writer), so the whole batch goes in as one bulk insert per table instead of a round trip
    per item.
    """
    with case.writer:
        _record_results(case, exhibit_id, run_id, results)


def _record_results(case: Case, exhibit_id: int, run_id: int, results: Sequence[WorkResult]) -> None:
    now = datetime.now(UTC)
    items: list[tuple[object, ...]] = []
    findings: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    record_findings: list[dict[str, Any]] = []
    terms: list[dict[str, Any]] = []
    thumbnails: list[tuple[int, bytes]] = []
    texts = LocatorTexts()
    with case.sessions.begin() as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        time: TimeValue = _time_text if sqlite else _utc
        before = _max_ids(s)
        next_id = before["items"] + 1
        for result in results:
            base = next_id
            for record in result.records:
                parent = record.parent
                items.append(
                    _item_row(
                        record, texts, time, (exhibit_id, run_id, next_id, None if parent is None else base + parent)
                    )
                )
                if record.matches:
                    findings.extend(_finding(next_id, run_id, m) for m in record.matches)
                if record.video is not None:
                    _write_sheet(case, record)
                if record.thumbnail is not None:
                    thumbnails.append((next_id, record.thumbnail))
                next_id += 1
            if result.warnings:
                warnings.extend(_warning_row(w, exhibit_id, run_id, now) for w in result.warnings)
            for found in result.p2p:
                if isinstance(found.entry, SearchTerm):
                    terms.append(_term_row(found, found.entry, exhibit_id, run_id, base + found.source))
                    continue
                row = _p2p_row(found, found.entry, exhibit_id, run_id, base + found.source)
                row["id"] = record_id = before["p2p_records"] + len(records) + 1
                records.append(row)
                record_findings.extend(_p2p_finding(record_id, run_id, m) for m in found.matches)
        _numbered(findings, before["findings"])
        _numbered(warnings, before["warnings"])
        _numbered(record_findings, before["p2p_findings"])
        _numbered(terms, before["search_terms"])
        added = {
            "findings": findings,
            "warnings": warnings,
            "p2p_records": records,
            "p2p_findings": record_findings,
            "search_terms": terms,
        }
        _insert_items(s, items, sqlite)  # first: the other rows refer to the items
        for table in (Finding, WarningRow, P2PRecordRow, P2PFindingRow, SearchTermRow):
            _bulk_insert(s, cast(Table, table.__table__), added[table.__tablename__])
    spans = _spans(before, added)
    if items:  # the items' span first, as the audit line has always listed it
        count, digest = values_digest("items", ITEM_COLUMNS, items)
        spans = {"items": [before["items"], before["items"] + count, count, digest], **spans}
    _audit_batch(case, exhibit_id, run_id, spans)
    _write_thumbnails(case, thumbnails)  # after the commit: a cached file never names an id not recorded


def _insert_items(s: Session, rows: list[tuple[object, ...]], sqlite: bool) -> None:
    """The items rows in one executemany on the driver's cursor (SQLite), or through Core elsewhere."""
    if not rows:
        return
    if not sqlite:
        s.execute(insert(cast(Table, ItemRow.__table__)), [dict(zip(ITEM_COLUMNS, row, strict=True)) for row in rows])
        advance_sequence(s.connection(), "items")
        return
    cursor = s.connection().connection.cursor()
    try:
        cursor.executemany(_ITEMS_SQL, rows)
    finally:
        cursor.close()


def record_torrent_checks(case: Case, exhibit_id: int, run_id: int, checks: Sequence[dict[str, Any]]) -> None:
    """Store a run's torrent checks (``engine.torrents``: rows of ``torrent_checks`` less their ids) in one
    transaction, audited as one batch like the other P2P rows."""
    if not checks:
        return
    rows = [{**check, "exhibit_id": exhibit_id, "run_id": run_id} for check in checks]
    with case.writer:  # ids follow the last id and the audit line follows the commit: one writer at a time
        with case.sessions.begin() as s:
            before = _max_ids(s)
            _bulk_insert(s, cast(Table, TorrentCheckRow.__table__), _numbered(rows, before["torrent_checks"]))
        _audit_batch(case, exhibit_id, run_id, _spans(before, {"torrent_checks": rows}))


#: PostgreSQL: the transaction-scoped lock that makes "ids follow the last id" safe across processes and machines
#: (SQLite needs none: its write transaction already excludes every other writer once it has written)
BATCH_LOCK = 0x5AFE_0001


def _max_ids(s: Session) -> dict[str, int]:
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BATCH_LOCK})
    last = conn.execute(text(_LAST_IDS)).one()  # one round trip, not one per table: this runs once per batch
    return {table: int(value) for table, value in zip(BATCHED_TABLES, last, strict=True)}


#: The last id of every batched table (``integrity.max_id`` of each), in one statement.
_LAST_IDS = "SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {table})" for table in BATCHED_TABLES)


def _numbered(rows: list[dict[str, Any]], after: int) -> list[dict[str, Any]]:
    """Give fresh rows their ids (the triage holds the case exclusively), so the batch's digest names them."""
    for i, row in enumerate(rows, start=after + 1):
        row["id"] = i
    return rows


def _spans(before: dict[str, int], added: dict[str, list[dict[str, Any]]]) -> dict[str, list[int | str]]:
    """Per table written: [after id, last id, rows, SHA-256 of the rows] of what the transaction added.

    Digested as bound, not read back: reading the rows again cost more than inserting them, on the thread
    that also feeds the workers. ``integrity.canonical_digest`` renders bound and read-back values alike.
    """
    out: dict[str, list[int | str]] = {}
    for table, rows in added.items():
        if rows:
            count, digest = canonical_digest(table, rows)
            out[table] = [before[table], before[table] + count, count, digest]
    return out


def _audit_batch(case: Case, exhibit_id: int, run_id: int, spans: dict[str, list[int | str]], **extra: Any) -> None:
    """One audit line per committed batch: a digest of every row it added, never a line per item.

    Written after the commit; if the process dies in between, the rows are in the case but not in the log,
    which ``verify`` reports as an interrupted run and ``--resume`` audits (``audit_unrecorded``).
    """
    if spans:
        case.audit.append(BATCH_EVENT, run=run_id, exhibit=exhibit_id, **spans, **extra)


def audit_unrecorded(case: Case) -> int:
    """Audit rows committed after the last batch line (the run was killed in between); returns their count."""
    audited = {table: 0 for table in BATCHED_TABLES}
    for entry in case.audit.entries():
        if entry.get("event") == BATCH_EVENT:
            for table in BATCHED_TABLES:
                span = entry["data"].get(table)
                if span:
                    audited[table] = max(audited[table], int(span[1]))
    with case.sessions() as s:
        conn = s.connection()
        spans: dict[str, list[int | str]] = {}
        for table, after in audited.items():
            upto = max_id(conn, table)
            if upto > after:
                read = rows_digest(conn, table, after, upto)
                spans[table] = [after, upto, read.count, read.sha256]
        runs = (
            s.connection()
            .execute(
                text(
                    "SELECT DISTINCT run_id, exhibit_id FROM items WHERE id > :items UNION "
                    "SELECT DISTINCT run_id, exhibit_id FROM warnings WHERE id > :warnings ORDER BY 1, 2"
                ),
                {"items": audited["items"], "warnings": audited["warnings"]},
            )
            .all()
        )
    if not spans:
        return 0
    run_id, exhibit_id = runs[-1] if runs else (None, None)
    case.audit.append(BATCH_EVENT, run=run_id, exhibit=exhibit_id, recovered=True, **spans)
    return sum(int(span[2]) for span in spans.values())


def _sqlite_value(value: object) -> object:
    """What SQLAlchemy's SQLite types would bind: UTC times as its text format, booleans as 0/1."""
    if isinstance(value, datetime):  # SQLAlchemy's "%04d-%02d-%02d %02d:%02d:%02d.%06d", from C
        return (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat(" ", "microseconds")[:26]
    if isinstance(value, bool):
        return int(value)
    return value


def _bulk_insert(s: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert fresh rows in one executemany.

    On SQLite the rows go straight to the driver: SQLAlchemy's per-parameter processing cost more than the
    insert itself for a 20 000-file exhibit, on the thread that also feeds the hashing workers. The values
    are bound exactly as the column types would bind them (see ``_sqlite_value``; read back through the
    same types). Other databases take the Core path.

    SQLite: the times in ``rows`` are replaced by the text bound for them, column by column, in the rows
    themselves: the batch's digest (``integrity.canonical_digest``) renders a time as that same text, so it
    need not convert each one again. Booleans need nothing: sqlite3 binds True and False as 1 and 0.
    """
    if not rows:
        return
    if s.get_bind().dialect.name != "sqlite":
        s.execute(insert(table), rows)
        advance_sequence(s.connection(), table.name)
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for name in columns:
        if isinstance(table.c[name].type, UTCDateTime):
            for row in rows:
                if isinstance(value := row[name], datetime):
                    row[name] = _sqlite_value(value)
    getter = operator.itemgetter(*columns)
    values: list[Any] = [getter(row) for row in rows]  # tuples built in C: the columns bind as they are now
    if len(columns) == 1:
        values = [(value,) for value in values]
    s.connection().exec_driver_sql(sql, values)


def advance_sequence(conn: Connection, table: str) -> None:
    """PostgreSQL: after rows went in with ids given here, the id sequence must not hand those ids out again."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            )
        )


def _write_sheet(case: Case, record: ItemRecord) -> None:
    """A video's blurred greyscale frame sheet as ``thumbs/<sha256>.jpg`` (owner-only), for the review UI.

    Written here, by the process that owns the case, never by a worker. Named by content, so two copies of
    one video share a sheet; a write that fails costs the review a picture, never the findings.
    """
    sheet = record.video.sheet if record.video else None
    sha256 = (record.digests or {}).get("sha256")
    if sheet is None or sha256 is None:
        return
    from safenet.analysis.video.sheet import write_frame_sheet  # here: PIL's drawing, not needed to start a run

    folder = case.path / "thumbs"
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, exist_ok=True)
        write_frame_sheet(sheet, folder, sha256.hex())


def _write_thumbnails(case: Case, thumbnails: Sequence[tuple[int, bytes]]) -> None:
    """Images' default review thumbnails into the review UI's cache (owner-only), named as it names them.

    Written by the process that owns the case; a write that fails costs only a wait at first view.
    """
    if not thumbnails:
        return
    from safenet.analysis.video.sheet import write_frame_sheet

    folder = case.path.joinpath(*CACHE_FOLDER)
    with contextlib.suppress(OSError):
        folder.parent.mkdir(mode=0o700, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        for item_id, data in thumbnails:
            write_frame_sheet(data, folder, cache_name(item_id, DEFAULT_THUMB_SIZE, DEFAULT_BLUR))


def recorded_locators(case: Case, exhibit_id: int) -> set[str]:
    """Locators of top-level items already recorded for an exhibit (what --resume skips)."""
    with case.sessions() as s:
        rows = s.scalars(select(ItemRow.locator).where(ItemRow.exhibit_id == exhibit_id, ItemRow.parent_id.is_(None)))
        return set(rows)
