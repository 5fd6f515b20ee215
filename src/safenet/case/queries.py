"""Read-only queries over a case's database that the reports, exports and ``safenet items`` share.

Everything here returns plain rows or small dataclasses; callers outside ``safenet.case`` never build
SQLAlchemy queries themselves. Writes stay in the recorder, the gradings module and the store.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from safenet.case.schema import Exhibit, Finding, ItemRow, Run, WarningRow
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.evidence.carve import REGION
from safenet.evidence.locator import LayerKind

#: How the locator JSON of a region to carve (unallocated space, file or volume slack) ends: its leaf is a
#: PATH layer whose detail is ``REGION``. Names are JSON-escaped inside the locator, so no file name can
#: forge this ending (a quote in a name is written ``\\"``).
_REGION_END = "," + json.dumps({"detail": REGION}, separators=(",", ":"))[1:] + "]"
_CHUNK = 500  # ids per IN (...) query: under SQLite's parameter limit
GONE_NAMED = 50  # deleted names whose content is gone named in an exhibit's summary (the rest are counted)


def is_region_row(locator: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """SQL: the item row is a region to carve, not a file (recorded as 'skipped': it is never hashed whole).

    The suffix is cut from the length, not with a negative start: only SQLite counts that from the end.
    """
    column = ItemRow.locator if locator is None else locator
    suffix = func.substr(column, func.length(column) - len(_REGION_END) + 1, len(_REGION_END))
    return suffix == _REGION_END


def item_rows(case: Case, ids: Iterable[int]) -> list[tuple[ItemRow, str]]:
    """The items with these ids and their exhibit labels, queried in chunks."""
    wanted = sorted(set(ids))
    out: list[tuple[ItemRow, str]] = []
    with case.sessions() as s:
        for start in range(0, len(wanted), _CHUNK):
            query = (
                select(ItemRow, Exhibit.label)
                .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
                .where(ItemRow.id.in_(wanted[start : start + _CHUNK]))
            )
            out.extend((row, label) for row, label in s.execute(query))
    return out


def hit_item_ids(session: Session, exhibit_id: int | None = None) -> set[int]:
    """Items that at least one illicit set matched as a hit (``case.verdict.is_hit``)."""
    query = select(Finding.item_id, Finding.set_kind, Finding.category)
    if exhibit_id is not None:
        query = query.join(ItemRow, ItemRow.id == Finding.item_id).where(ItemRow.exhibit_id == exhibit_id)
    return {item_id for item_id, set_kind, category in session.execute(query) if is_hit(set_kind, category)}


def hit_findings(case: Case, exhibit_id: int) -> list[tuple[int, bool, bool, str, str, str, str]]:
    """(item id, deleted, carved, media kind, set kind, category, match kind) of every finding of an exhibit."""
    query = (
        select(
            ItemRow.id,
            ItemRow.deleted,
            ItemRow.carved,
            ItemRow.media_kind,
            Finding.set_kind,
            Finding.category,
            Finding.match_kind,
        )
        .join(Finding, Finding.item_id == ItemRow.id)
        .where(ItemRow.exhibit_id == exhibit_id)
    )
    with case.sessions() as s:
        return [tuple(row) for row in s.execute(query)]  # type: ignore[misc]


def items_with_findings(case: Case) -> list[tuple[ItemRow, Finding, str]]:
    """Every (item, finding, exhibit label), by exhibit, path, set and hash kind."""
    query = (
        select(ItemRow, Finding, Exhibit.label)
        .join(Finding, Finding.item_id == ItemRow.id)
        .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
        .order_by(Exhibit.label, ItemRow.display, Finding.hashset, Finding.hash_kind)
    )
    with case.sessions() as s:
        return [(item, finding, label) for item, finding, label in s.execute(query)]


def warnings_with_labels(case: Case) -> list[tuple[WarningRow, str]]:
    """Every recorded warning with its exhibit's label, in the order recorded."""
    query = (
        select(WarningRow, Exhibit.label)
        .join(Exhibit, Exhibit.id == WarningRow.exhibit_id)
        .order_by(WarningRow.run_id, WarningRow.id)
    )
    with case.sessions() as s:
        return [(warning, label) for warning, label in s.execute(query)]


@dataclass
class ExhibitFacts:
    """What the case summary counts for one exhibit."""

    exhibit: Exhibit
    runs: list[Run]
    items: Counter[str]  # by item status, regions to carve left out (they are counted in ``regions``)
    regions: int  # unallocated space and slack items (carved in the full profile, never hashed whole)
    warnings: Counter[str] = field(default_factory=Counter)  # by warning code
    known_good: int = 0  # items a known-good set matched
    #: locators (JSON) of the first deleted names whose content is gone (``deleted-unrecoverable``), as recorded
    gone: list[str] = field(default_factory=list)


def exhibit_facts(case: Case) -> list[ExhibitFacts]:
    """Per exhibit, by label: its runs, item counts by status, regions, warning counts, known-good items."""
    out: list[ExhibitFacts] = []
    with case.sessions() as s:
        for ex in s.scalars(select(Exhibit).order_by(Exhibit.label)).all():
            runs = list(s.scalars(select(Run).where(Run.exhibit_id == ex.id).order_by(Run.id)))
            by_status = select(ItemRow.status, func.count()).where(ItemRow.exhibit_id == ex.id)
            items = Counter(dict(s.execute(by_status.where(~is_region_row()).group_by(ItemRow.status)).all()))
            regions = s.scalar(select(func.count()).where(ItemRow.exhibit_id == ex.id, is_region_row())) or 0
            warnings = Counter(
                dict(
                    s.execute(
                        select(WarningRow.code, func.count())
                        .where(WarningRow.exhibit_id == ex.id)
                        .group_by(WarningRow.code)
                    ).all()
                )
            )
            known_good = (
                s.scalar(
                    select(func.count(func.distinct(Finding.item_id)))
                    .join(ItemRow)
                    .where(ItemRow.exhibit_id == ex.id, Finding.set_kind == "known-good")
                )
                or 0
            )
            gone = s.scalars(
                select(WarningRow.locator)
                .where(WarningRow.exhibit_id == ex.id, WarningRow.code == "deleted-unrecoverable")
                .where(WarningRow.locator.is_not(None))
                .order_by(WarningRow.id)
                .limit(GONE_NAMED)
            )
            out.append(ExhibitFacts(ex, runs, items, regions, warnings, known_good, [g for g in gone if g]))
    return out


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which recorded items ``safenet items`` (and the DFXML export of every item) lists; None: any."""

    exhibits: tuple[str, ...] = ()  # exhibit labels; empty: every exhibit
    media_kinds: tuple[str, ...] = ()  # analysis.filetype.MediaKind values
    statuses: tuple[str, ...] = ()  # case.records.ItemStatus values
    deleted: bool | None = None  # True: deleted or carved; False: live (neither)
    path_prefix: str | None = None  # the listed path (``ItemRow.display``) starts with this, case-sensitive
    matched: bool | None = None  # True: an illicit set matched it as a hit; False: none did


def _filtered(query: Select[ItemRow, str], wanted: ItemFilter) -> Select[ItemRow, str]:
    if wanted.exhibits:
        query = query.where(Exhibit.label.in_(wanted.exhibits))
    if wanted.media_kinds:
        query = query.where(ItemRow.media_kind.in_(wanted.media_kinds))
    if wanted.statuses:
        query = query.where(ItemRow.status.in_(wanted.statuses))
    if wanted.deleted is not None:
        gone = ItemRow.deleted | ItemRow.carved
        query = query.where(gone if wanted.deleted else ~gone)
    if wanted.path_prefix:
        # substr, not LIKE: LIKE ignores ASCII case in SQLite and gives % and _ meanings
        prefix = wanted.path_prefix
        query = query.where(func.substr(ItemRow.display, 1, len(prefix)) == prefix)
    return query


def iter_items(case: Case, wanted: ItemFilter = ItemFilter()) -> Iterator[tuple[ItemRow, str, bool]]:
    """Every recorded item that passes the filter, as (row, exhibit label, matched), by exhibit, path and id.

    Rows are streamed, so a listing of millions of items does not hold them all in memory.
    """
    query = _filtered(
        select(ItemRow, Exhibit.label)
        .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
        .order_by(Exhibit.label, ItemRow.display, ItemRow.id),
        wanted,
    )
    with case.sessions() as s:
        hits = hit_item_ids(s)
        for row, label in s.execute(query.execution_options(yield_per=1000)):
            matched = row.id in hits
            if wanted.matched is None or wanted.matched == matched:
                yield row, label, matched


def exhibits_by_label(case: Case) -> list[Exhibit]:
    with case.sessions() as s:
        return list(s.scalars(select(Exhibit).order_by(Exhibit.label)))


def item_kinds(case: Case) -> list[tuple[int, int, str, bool, bool]]:
    """(id, exhibit id, media kind, deleted, carved) of every item, by id: what categorising needs."""
    query = select(ItemRow.id, ItemRow.exhibit_id, ItemRow.media_kind, ItemRow.deleted, ItemRow.carved)
    with case.sessions() as s:
        return [(i, e, m, bool(d), bool(c)) for i, e, m, d, c in s.execute(query.order_by(ItemRow.id))]


def exhibit_labels(case: Case) -> list[str]:
    with case.sessions() as s:
        return list(s.scalars(select(Exhibit.label).order_by(Exhibit.label)))


@dataclass(frozen=True, slots=True)
class CountingFacts:
    """What the counts need beyond ``item_kinds``: video durations, digests for de-duplication (when asked
    for), and which carved items came out of a thumbnail or browser cache (not carved from unallocated space)."""

    duration_s: dict[int, float]  # videos whose container recorded a duration
    digest: dict[int, str]  # item id -> "sha256:..." (or "md5:..." where no SHA-256 was recorded)
    cached: set[int]


_CACHE_KIND = json.dumps({"kind": LayerKind.CACHE_ENTRY.value}, separators=(",", ":"))[1:-1]  # '"kind":"cache-entry"'


def counting_facts(case: Case, *, digests: bool = True) -> CountingFacts:
    by_digest: dict[int, str] = {}
    cached: set[int] = set()
    videos = select(ItemRow.id, ItemRow.video_duration_s).where(
        ItemRow.media_kind == "video", ItemRow.video_duration_s.is_not(None)
    )
    # names are JSON-escaped inside a locator, so only a layer's own kind reads '"kind":"cache-entry"'; the
    # JSON is still parsed to be sure
    carved = select(ItemRow.id, ItemRow.locator).where(ItemRow.carved, ItemRow.locator.contains(_CACHE_KIND))
    with case.sessions() as s:
        durations = {item_id: float(d) for item_id, d in s.execute(videos) if d is not None}
        for item_id, locator in s.execute(carved):
            if any(layer.get("kind") == LayerKind.CACHE_ENTRY.value for layer in json.loads(locator)):
                cached.add(item_id)
        if digests:
            query = select(ItemRow.id, ItemRow.sha256, ItemRow.md5).where(
                (ItemRow.sha256.is_not(None)) | (ItemRow.md5.is_not(None))
            )
            by_digest = {i: f"sha256:{sha}" if sha else f"md5:{md5}" for i, sha, md5 in s.execute(query)}
    return CountingFacts(durations, by_digest, cached)
