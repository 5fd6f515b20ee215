"""Digests over what a case holds, written into the audit log so later tampering is detectable."""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Boolean, Connection, Float, select, text

from safenet.case.schema import Base, Finding, ItemRow
from safenet.case.store import Case


def findings_digest(case: Case, exhibit_id: int) -> str:
    """SHA-256 over the exhibit's findings in a canonical order (locator, set, digest kind, entry).

    Perceptual findings add their distance, orientation and trimmed flag, so none of them can change unseen.
    """
    query = (
        select(
            ItemRow.locator,
            ItemRow.md5,
            ItemRow.sha1,
            ItemRow.sha256,
            Finding.hashset,
            Finding.hash_kind,
            Finding.entry,
            Finding.category,
            Finding.match_kind,
            Finding.distance,
            Finding.orientation,
            Finding.trimmed,
        )
        .join(Finding, Finding.item_id == ItemRow.id)
        .where(ItemRow.exhibit_id == exhibit_id)
    )
    with case.sessions() as s:
        rows = sorted(tuple("" if v is None else str(v) for v in row) for row in s.execute(query))
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\x1f".join(row).encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


#: Tables whose rows the recorder writes in batches, each batch digested into one audit line.
#: P2P records, their findings and search terms (version 7) go with the artefact item they were parsed from;
#: torrent checks (version 7) in their own batch at the end of a run.
BATCHED_TABLES = ("items", "findings", "warnings", "p2p_records", "p2p_findings", "search_terms", "torrent_checks")
BATCH_EVENT = "rows-recorded"


def _sqlite_text(value: object) -> str:
    """Times as SQLAlchemy's SQLite type stores them (UTC text); called by json for what it cannot encode."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
    return str(value)


def _kinds(table: str, without: frozenset[str] = frozenset()) -> tuple[list[str], list[int], list[int]]:
    """The table's columns sorted by name (less ``without``), and the positions of its boolean and float columns."""
    columns = sorted((c for c in Base.metadata.tables[table].columns if c.name not in without), key=lambda c: c.name)
    booleans = [i for i, c in enumerate(columns) if isinstance(c.type, Boolean)]
    floats = [i for i, c in enumerate(columns) if isinstance(c.type, Float)]
    return [c.name for c in columns], booleans, floats


def canonical_digest(
    table: str, rows: Sequence[Mapping[str, object]], without: frozenset[str] = frozenset()
) -> tuple[int, str]:
    """How many rows, and SHA-256 over them in the order given: every column of the table, by name.

    One ``json.dumps`` for the whole batch (its C encoder): the recorder digests 500 rows in about a
    millisecond. Values are rendered as the recorder binds them: booleans as booleans, times as SQLite
    text, floats as floats (``verify`` converts what it reads back to the same types).
    """
    names, _, floats = _kinds(table, without)
    try:
        values: list[Sequence[object]] = [operator.itemgetter(*names)(row) for row in rows]
    except KeyError:  # a column the writer leaves to its default (NULL)
        values = [[row.get(name) for name in names] for row in rows]
    return _digest(names, floats, values)


def values_digest(table: str, columns: Sequence[str], values: Sequence[Sequence[object]]) -> tuple[int, str]:
    """``canonical_digest`` of rows given as tuples of their values in ``columns`` order (the recorder's rows)."""
    names, _, floats = _kinds(table)
    rows = list(values)
    if list(columns) != names:  # the table's columns in another order, or more of them: take the table's
        pick = operator.itemgetter(*(list(columns).index(name) for name in names))
        rows = [pick(row) for row in rows]
    return _digest(names, floats, rows)


def _digest(names: list[str], floats: list[int], rows: list[Sequence[object]]) -> tuple[int, str]:
    for position in floats:
        for i, row in enumerate(rows):
            if isinstance(row[position], int):  # only the rare row that holds an int there is copied
                rows[i] = [*row[:position], float(cast(int, row[position])), *row[position + 1 :]]
    text = json.dumps([names, rows], ensure_ascii=True, separators=(",", ":"), default=_sqlite_text)
    return len(rows), hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RowsDigest:
    """What ``rows_digest`` read: how many rows, their digest, and a change seen apart from the digest."""

    count: int
    sha256: str
    #: A column an upgrade added, which must still be NULL in these rows, holds a value in some of them (the
    #: digest leaves such columns out, so it cannot show this change itself): what to tell the examiner.
    changed: str | None = None


def rows_digest(
    conn: Connection, table: str, after: int, upto: int, without: frozenset[str] = frozenset()
) -> RowsDigest:
    """``canonical_digest`` of a table's rows with ``after < id <= upto``, read back from the database.

    The recorder digests the same rows as it binds them (reading them back cost more than the insert, on
    the thread that feeds the workers); ``verify`` reads them here. Any change to any recorded fact changes it.

    ``without``: columns an upgrade added after these rows were digested (``case.migrations``); they must
    still be NULL, so a value set in one afterwards is a change like any other.
    """
    if table not in BATCHED_TABLES:
        raise ValueError(f"not a batched table: {table}")
    names, booleans, _ = _kinds(table, without)
    changed = None
    if without:
        set_later = conn.execute(
            text(
                f"SELECT count(*) FROM {table} WHERE id > :after AND id <= :upto AND ("
                + " OR ".join(f"{name} IS NOT NULL" for name in sorted(without))
                + ")"
            ),
            {"after": after, "upto": upto},
        ).scalar_one()
        if set_later:
            changed = f"{set_later} of its rows have a value in a column an upgrade added after they were recorded"
    # text(), not the ORM: values come back as the driver gives them (SQLite's text times, PostgreSQL's
    # datetimes), which canonical_digest renders alike
    result = conn.execute(
        text(f"SELECT {', '.join(names)} FROM {table} WHERE id > :after AND id <= :upto ORDER BY id"),
        {"after": after, "upto": upto},
    )
    rows: list[dict[str, object]] = []
    for raw in result:
        row = dict(zip(names, raw, strict=True))
        for position in booleans:
            name = names[position]
            row[name] = None if row[name] is None else bool(row[name])
        rows.append(row)
    count, sha256 = canonical_digest(table, rows, without)
    return RowsDigest(count, sha256, changed)


def max_id(conn: Connection, table: str) -> int:
    if table not in BATCHED_TABLES:
        raise ValueError(f"not a batched table: {table}")
    return int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one())
