"""Looking up one recorded item by id: where its bytes live, for re-reading it (review thumbnails, reveal)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from safenet.case.schema import Exhibit, ItemRow
from safenet.case.store import Case


@dataclass(frozen=True, slots=True)
class ItemSource:
    item_id: int
    exhibit: str
    source: str  # the exhibit's evidence path, to reopen with safenet.evidence.registry.open_source
    locator: str  # Locator JSON
    media_kind: str
    sha256: str | None
    size: int | None
    filetype: str  # the signature's type name ("gif", "heic", ...)
    display: str  # str(locator), control characters escaped: how the item is named to a person


def item_source(case: Case, item_id: int) -> ItemSource | None:
    query = (
        select(
            ItemRow.id,
            Exhibit.label,
            Exhibit.source,
            ItemRow.locator,
            ItemRow.media_kind,
            ItemRow.sha256,
            ItemRow.size,
            ItemRow.filetype,
            ItemRow.display,
        )
        .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
        .where(ItemRow.id == item_id)
    )
    with case.sessions() as s:
        row = s.execute(query).one_or_none()
    return None if row is None else ItemSource(*row)
