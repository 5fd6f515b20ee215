"""Digests over what a case holds, written into the audit log so later tampering is detectable."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

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
