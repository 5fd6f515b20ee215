"""Digests over what a case holds, written into the audit log so later tampering is detectable."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Connection, select

from safenet.case.schema import Finding, ItemRow
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
BATCHED_TABLES = ("items", "findings", "warnings")
BATCH_EVENT = "rows-recorded"


def rows_digest(conn: Connection, table: str, after: int, upto: int) -> tuple[int, str]:
    """How many rows with ``after < id <= upto`` a table holds, and SHA-256 over them in id order.

    Every column, as the database returns it, so any change to any recorded fact changes the digest.
    The recorder and ``verify`` both call this: the same SQL, the same rendering.
    """
    if table not in BATCHED_TABLES:
        raise ValueError(f"not a batched table: {table}")
    digest = hashlib.sha256()
    count = 0
    rows = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE id > ? AND id <= ? ORDER BY id", (after, upto))
    for row in rows:
        digest.update(json.dumps(list(row), ensure_ascii=True, default=str, separators=(",", ":")).encode() + b"\n")
        count += 1
    return count, digest.hexdigest()


def max_id(conn: Connection, table: str) -> int:
    if table not in BATCHED_TABLES:
        raise ValueError(f"not a batched table: {table}")
    return int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one())
