"""The review queue: which images and videos wait for an examiner, and what the hash sets already say of them.

Read-only views over the case for the review grid, the cluster view and the reports' categorisation
(``safenet.report.categorisation`` counts from ``hash_set_grades`` and the queue's ``settled_by``, so the grid
and the court documents agree). Writing grades, confirmations and reveals is ``safenet.case.gradings``.

Hash-set provenance:
  - trusted: an *exact* (MD5/SHA-1/SHA-256) match to an *illicit* set, category A/B/C, and the set's
    category scheme is confirmed. These items are not shown for review unless asked (examiner welfare).
  - indicative: any other hit of an illicit set with A/B/C: a perceptual match, or a set whose scheme
    codes are unconfirmed (e.g. the assumed VICS UK codes). They need an examiner's grade.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from safenet.case.clustermap import cluster_map
from safenet.case.gradings import COUNTED_GRADES, GRADABLE_MEDIA, Grade, GradingError, current_gradings
from safenet.case.schema import Exhibit, Finding, ItemRow, Run
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.evidence.locator import LayerKind, Locator
from safenet.hashsets.categories import most_severe

#: How an item came to be, as the review card names it (never "deleted" for an embedded or cache item).
SOURCE_KINDS = ("live", "deleted", "carved", "embedded", "cache", "archive member")


#: Orders of the review grid (review_queue's ``sort``).
SORTS = ("group", "name", "size", "modified")


@dataclass(frozen=True, slots=True)
class HashSetGrade:
    """What the illicit hash sets say about one item (only items with at least one hit have one)."""

    category: str  # the UK code used: the most severe trusted one, else the most severe hit
    trusted: bool
    match_kind: str  # exact | perceptual (exact when any hit was exact)


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One row of the review grid: plain data, no image content."""

    item_id: int
    exhibit: str
    display: str
    name: str
    media_kind: str
    deleted: bool
    cluster_id: int | None
    grade: Grade | None
    category: str | None  # hash-set category (UK code), None without a hit
    match_kind: str | None  # exact | perceptual | None
    trusted: bool
    source: str = "live"  # one of SOURCE_KINDS
    parent_id: int | None = None
    parent_display: str | None = None
    settled_by: int | None = None  # an ancestor item whose trusted grade settles this one (embedded, thumbnails)
    size: int | None = None
    modified: datetime | None = None
    filetype: str = ""

    @property
    def needs_grade(self) -> bool:
        """Still waiting for an examiner: no examiner grade and not settled by a trusted hash-set grade."""
        return self.grade is None and not self.trusted and self.settled_by is None


def hash_set_grades(case: Case) -> dict[int, HashSetGrade]:
    """Per item with an illicit hit: its hash-set category, whether that grade is trusted, how it matched."""
    confirmed = _scheme_confirmed(case)
    hits: dict[int, list[tuple[str, bool, str]]] = {}
    query = select(
        Finding.item_id,
        Finding.set_kind,
        Finding.category,
        Finding.match_kind,
        Finding.hashset,
        Finding.hashset_sha256,
    )
    with case.sessions() as s:
        for item_id, set_kind, category, match_kind, hashset, sha in s.execute(query):
            if not is_hit(set_kind, category):
                continue
            trusted = match_kind == "exact" and category in COUNTED_GRADES and confirmed.get((hashset, sha), True)
            hits.setdefault(item_id, []).append((category, trusted, match_kind))
    out: dict[int, HashSetGrade] = {}
    for item_id, found in hits.items():
        trusted_codes = [c for c, t, _ in found if t]
        category = most_severe(trusted_codes) if trusted_codes else most_severe(c for c, _, _ in found)
        exact = any(m == "exact" for _, _, m in found)
        out[item_id] = HashSetGrade(category, bool(trusted_codes), "exact" if exact else "perceptual")
    return out


def review_queue(
    case: Case,
    *,
    include_matched: bool = False,
    exhibit: str | None = None,
    media_kind: str | None = None,
    deleted: bool | None = None,
    category: str | None = None,
    match_kind: str | None = None,
    source: str | None = None,
    path_prefix: str | None = None,
    cluster: int | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    modified_from: datetime | None = None,
    modified_to: datetime | None = None,
    sort: str = "group",
) -> list[ReviewItem]:
    """Images and videos to review, grouped by exhibit then near-duplicate cluster then path.

    Items with a trusted hash-set grade are left out unless ``include_matched``, and so are the items
    inside them (an EXIF thumbnail, an embedded picture, an archive member of a matched item): they are
    settled with their parent (``settled_by``). ``category`` filters on the item's effective category: its
    current grade, else its hash-set category; "ungraded" means every item still waiting for an examiner
    (no examiner grade and not settled), indicative hash hits included. ``match_kind`` is "exact",
    "perceptual" or "none". ``deleted`` counts carved items as deleted. ``source`` is one of SOURCE_KINDS,
    ``path_prefix`` matches the start of the display path, ``cluster`` keeps one near-duplicate cluster
    (across exhibits unless ``exhibit`` is given). Sizes are bytes and the modified range is inclusive (an
    item with no recorded time is left out by a date filter). ``sort`` is one of SORTS: "group" (exhibit,
    cluster, path), "name", "size" or "modified" (largest / newest first).
    """
    if sort not in SORTS:
        raise GradingError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    grades = current_gradings(case)
    sets = hash_set_grades(case)
    query = (
        select(
            ItemRow.id,
            Exhibit.label,
            ItemRow.display,
            ItemRow.name,
            ItemRow.media_kind,
            ItemRow.deleted,
            ItemRow.carved,
            ItemRow.parent_id,
            ItemRow.locator,
            ItemRow.size,
            ItemRow.modified,
            ItemRow.filetype,
        )
        .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
        .where(ItemRow.media_kind.in_(GRADABLE_MEDIA))
    )
    if exhibit is not None:
        query = query.where(Exhibit.label == exhibit)
    if media_kind is not None:
        query = query.where(ItemRow.media_kind == media_kind)
    if min_size is not None:
        query = query.where(ItemRow.size >= min_size)
    if max_size is not None:
        query = query.where(ItemRow.size <= max_size)
    if modified_from is not None:
        query = query.where(ItemRow.modified >= modified_from)
    if modified_to is not None:
        query = query.where(ItemRow.modified <= modified_to)
    items: list[ReviewItem] = []
    clusters = cluster_map(case).of_item  # computed clusters with the examiners' splits and merges applied
    with case.sessions() as s:
        rows = s.execute(query).all()
        parents: dict[int, int] = dict(
            s.execute(select(ItemRow.id, ItemRow.parent_id).where(ItemRow.parent_id.is_not(None))).all()  # type: ignore[arg-type]
        )
        wanted_parents = {row.parent_id for row in rows if row.parent_id is not None}
        parent_display = dict(
            s.execute(select(ItemRow.id, ItemRow.display).where(ItemRow.id.in_(wanted_parents))).all()
        )
    trusted = {i for i, hs in sets.items() if hs.trusted}
    for (
        item_id,
        label,
        display,
        name,
        kind,
        is_deleted,
        carved,
        parent_id,
        locator,
        size,
        mtime,
        ft,
    ) in rows:
        cluster_id = clusters.get(item_id)
        if cluster is not None and cluster_id != cluster:
            continue
        hs = sets.get(item_id)
        record = grades.get(item_id)
        item = ReviewItem(
            item_id=item_id,
            exhibit=label,
            display=display,
            name=name,
            media_kind=kind,
            deleted=bool(is_deleted or carved),
            cluster_id=cluster_id,
            grade=record.grade if record else None,
            category=hs.category if hs else None,
            match_kind=hs.match_kind if hs else None,
            trusted=bool(hs and hs.trusted),
            source=source_kind(locator, bool(is_deleted), bool(carved)),
            parent_id=parent_id,
            parent_display=parent_display.get(parent_id) if parent_id is not None else None,
            settled_by=_settling_ancestor(item_id, parents, trusted),
            size=size,
            modified=mtime,
            filetype=ft,
        )
        if (item.trusted or item.settled_by is not None) and not include_matched:
            continue
        if deleted is not None and item.deleted != deleted:
            continue
        if match_kind is not None and (item.match_kind or "none") != match_kind:
            continue
        if category is not None and _effective(item) != category:
            continue
        if source is not None and item.source != source:
            continue
        if path_prefix and not item.display.startswith(path_prefix):
            continue
        items.append(item)
    items.sort(key=lambda i: (i.exhibit, i.cluster_id is None, i.cluster_id or 0, i.display, i.item_id))
    if sort == "name":
        items.sort(key=lambda i: (i.name.casefold(), i.item_id))
    elif sort == "size":
        items.sort(key=lambda i: (-(i.size or 0), i.item_id))
    elif sort == "modified":
        items.sort(key=lambda i: (i.modified is None, -(i.modified.timestamp() if i.modified else 0), i.item_id))
    return items


def source_kind(locator_json: str, deleted: bool, carved: bool) -> str:
    """How the item came to be, from its locator's innermost layers (embedded/cache items are never "deleted")."""
    try:
        layers = Locator.from_json(locator_json).layers
    except (ValueError, KeyError, TypeError):
        layers = ()
    for layer in reversed(layers):
        kind = _SOURCE_OF_LAYER.get(layer.kind)
        if kind is not None:
            return kind
        if layer.kind is LayerKind.PATH:
            break
    if carved:
        return "carved"
    return "deleted" if deleted else "live"


_SOURCE_OF_LAYER = {
    LayerKind.EMBEDDED: "embedded",
    LayerKind.CACHE_ENTRY: "cache",
    LayerKind.CARVED: "carved",
    LayerKind.ARCHIVE_MEMBER: "archive member",
}


def _settling_ancestor(item_id: int, parents: dict[int, int], trusted: set[int]) -> int | None:
    """The nearest ancestor with a trusted hash-set grade, if any (bounded: a damaged case could loop)."""
    current = parents.get(item_id)
    for _ in range(64):
        if current is None:
            return None
        if current in trusted:
            return current
        current = parents.get(current)
    return None


def _effective(item: ReviewItem) -> str:
    """The category the grid filters on, by the reports' precedence (a trusted hash-set grade stands)."""
    if item.trusted and item.category is not None:
        return item.category
    if item.grade is not None:
        return item.grade.value
    if item.needs_grade:
        return "ungraded"  # an indicative hit still needs an examiner: its hash-set code is only a hint
    return item.category or "ungraded"


def _scheme_confirmed(case: Case) -> dict[tuple[str, str], bool]:
    """Whether each (set name, source SHA-256) used by a run had a confirmed category scheme."""
    out: dict[tuple[str, str], bool] = {}
    with case.sessions() as s:
        for raw in s.scalars(select(Run.hashsets_json)):
            for hs in json.loads(raw):
                out[(hs["name"], hs["sha256"])] = bool(hs.get("scheme_confirmed", True))
    return out
