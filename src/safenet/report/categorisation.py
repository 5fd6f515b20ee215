"""The categorisation every report counts from: each item's effective category, where it came from, and the
per-exhibit and total counts. JSON, CSV, HTML, the charging summary (HTML/PDF) and the VICS export all call
``categorise`` and count nothing themselves, so their totals cannot disagree.

Precedence (one rule for every item; the documents state it too, see ``PRECEDENCE``):
  1. A *trusted* hash-set grade stands: an exact match to an illicit set whose category codes are confirmed
     (for CAID, three independent votes). Examiners are not asked to re-view such items; if one grades it
     anyway, that grade is kept and shown, and a different grade is counted as a disagreement to resolve
     with the set's owner, but it does not move the item out of its trusted category: one examiner's
     grade (perhaps a slip in a bulk grade) must not silently take a three-vote grade out of the count.
  2. Otherwise the examiner's current grade settles the item: an indicative hit (perceptual, or a set whose
     codes are unconfirmed) or an item no set matched. A, B and C are counted; "not indecent" and "uncertain"
     are counted apart.
  3. Otherwise an indicative hash-set grade is counted as indicative (a lead an examiner should settle); a
     hit whose set gives no A/B/C category is counted as "matched, uncategorised".
  4. Otherwise an image or video inside an item with a trusted grade (an EXIF thumbnail, an embedded
     picture, an archive member of it) is settled with that item: reviewers are not shown it, and it is
     counted apart ("with a trusted parent"), never under A/B/C on its parent's grade alone.
  5. Otherwise an image or video is "ungraded".
Counting: one item is one image; a video is one moving image; deleted and carved items (thumbnails, cache
entries, carved files) are not accessible (R v Porter); the minimum provable number counts accessible items
whose grade is trusted or an examiner grade confirmed by a second person. Each count is also split by
accessibility (``ACCESS``: accessible, deleted but recoverable, carved from unallocated space or slack, only in
a thumbnail or browser cache), and a category's videos carry their total recorded duration. Across exhibits the
counts are given twice: every copy counted, and copies of one image (same digest) counted once (``DEDUP_RULE``).
Other material (``OTHER_GRADES``: prohibited non-photographic images, extreme pornography), graded by an
examiner or given by a hash set, is counted by the same rules in rows of its own (``other_material``), never in
the A/B/C rows or their totals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safenet.case.gradings import (
    COUNTED_GRADES,
    GRADABLE_MEDIA,
    OTHER_GRADES,
    UK_GRADES,
    Grade,
    GradingRecord,
    all_grade_events,
    current_gradings,
    grading_history,
)
from safenet.case.queries import counting_facts, exhibits_by_label, item_kinds
from safenet.case.reviewqueue import HashSetGrade, hash_set_grades, review_queue
from safenet.case.store import Case

# Provenance of an item's counted grade (stored in reports: never rename).
TRUSTED = "trusted"
INDICATIVE = "indicative"
EXAMINER = "examiner"
CONFIRMED = "examiner-confirmed"
UNGRADED = "ungraded"
PROVENANCES = (TRUSTED, INDICATIVE, EXAMINER, CONFIRMED)
MIN_PROVABLE_SOURCES = frozenset({TRUSTED, CONFIRMED})
#: Settled grades (not leads): what an export may send back as a category.
SETTLED_SOURCES = frozenset({TRUSTED, EXAMINER, CONFIRMED})
# Outcomes not counted under A/B/C.
MATCHED_UNCATEGORISED = "matched-uncategorised"
WITH_TRUSTED_PARENT = "with-trusted-parent"

# Accessibility of an item (stored in reports: never rename): live, deleted with its data recoverable, carved
# (from unallocated space, slack or inside another file), or only in a thumbnail or browser cache.
ACCESSIBLE = "accessible"
DELETED_RECOVERABLE = "deleted_recoverable"
CARVED_UNALLOCATED = "carved_unallocated"
THUMBNAIL_CACHE = "thumbnail_cache"
ACCESS = (ACCESSIBLE, DELETED_RECOVERABLE, CARVED_UNALLOCATED, THUMBNAIL_CACHE)
DEDUP_RULE = (
    "Copies with the same SHA-256 digest (MD5 where no SHA-256 was recorded), on one exhibit or several, are "
    "one image and are counted once, as the copy that counts highest: category A before B before C, then a copy "
    "that counts towards the minimum provable number, then an accessible copy, then trusted, confirmed, "
    "examiner and indicative grades in that order. An item with no recorded digest is counted on its own."
)

COUNT_KEYS = (
    "total",
    "still_live",
    "still_deleted",
    "video_live",
    "video_deleted",
    *PROVENANCES,
    "min_still",
    "min_video",
    "min_total",
    *ACCESS,
    "video_no_duration",  # videos whose container recorded no duration
)
PRECEDENCE = (
    "A trusted hash-set grade (an exact match to an illicit set whose category codes are confirmed) stands; "
    "an examiner's different grade of such an item is recorded and counted as a disagreement, not counted "
    "instead.",
    "Otherwise the examiner's current grade settles the item (an indicative hash-set hit or an item no set "
    "matched); a later grade supersedes an earlier one, which is kept in the item's history.",
    "Otherwise an indicative hash-set grade (a perceptual match, or a set whose category codes are not "
    "confirmed) is counted as indicative.",
    "Otherwise an image or video inside an item with a trusted grade (an EXIF thumbnail, an embedded picture) "
    "is settled with that item and counted apart, not under its parent's category.",
    "Otherwise an image or video is counted as ungraded.",
)
MIN_PROVABLE_DEFINITION = (
    "The minimum provable number for a count is the number of accessible (live, not deleted or carved) items "
    "in that category whose grade is either a trusted hash-set grade (an exact MD5/SHA-1/SHA-256 match to an "
    "illicit hash set whose category codes are confirmed) or an examiner's grade confirmed by a second "
    "person. Deleted or carved items, indicative hash-set grades and unconfirmed examiner grades are "
    "counted in the table but not in the minimum provable number."
)


@dataclass(frozen=True, slots=True)
class GivenGrade:
    """One grade an examiner gave (current or superseded), with who, in what role, when, and its confirmation."""

    grade: str  # a Grade value, or "withdrawn" (an undo that left the item without an examiner grade)
    examiner: str
    role: str | None  # the role of whoever wrote the row (the undoer, for an undo), from the audit log
    at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    row: int  # the grading row's id (what the audit log's lines name)
    undo_of: int | None  # the row this one undid, when it was written by an undo
    undone_by: str | None  # who wrote the undo (``examiner`` is then whose grade it restored)
    frames: tuple[int, ...] | None = None  # a video's grade: the frames it rests on, when the grader named them

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "grade": self.grade,
            "examiner": self.examiner,
            "role": self.role,
            "at": _iso(self.at),
            "confirmed_by": self.confirmed_by,
            "confirmed_at": _iso(self.confirmed_at),
            "undo_of": self.undo_of,
            "undone_by": self.undone_by,
            "frames": list(self.frames) if self.frames is not None else None,
        }


@dataclass(frozen=True, slots=True)
class ItemCategory:
    """How one item is counted, and every grade behind it."""

    item_id: int
    exhibit: str
    media_kind: str
    deleted: bool  # deleted or carved: not accessible
    outcome: str  # A | B | C | prohibited | extreme | non-indecent | uncertain | matched-uncategorised |
    # with-trusted-parent | ungraded
    provenance: str  # trusted | indicative | examiner | examiner-confirmed | ungraded
    hash_set: HashSetGrade | None
    grade: GivenGrade | None  # the examiner's current grade, also when a trusted grade stands
    superseded: tuple[GivenGrade, ...]  # earlier grades, oldest first
    disagreement: bool  # the examiner's current grade differs from the item's trusted hash-set grade
    settled_by: int | None  # outcome with-trusted-parent: the ancestor item whose trusted grade settles it
    access: str = ACCESSIBLE  # one of ACCESS
    duration_s: float | None = None  # a video's duration as its container recorded it
    digest: str | None = None  # "sha256:..." or "md5:...": what de-duplication groups copies by

    @property
    def category(self) -> str | None:
        """A, B or C when the item is counted under a category, else None."""
        return self.outcome if self.outcome in UK_GRADES else None

    @property
    def moving(self) -> bool:
        return self.media_kind == "video"

    @property
    def graded(self) -> bool:
        return self.grade is not None or bool(self.superseded)

    def as_dict(self) -> dict[str, Any]:
        hs = self.hash_set
        return {
            "outcome": self.outcome,
            "category": self.category,
            "provenance": self.provenance,
            "hash_set": None
            if hs is None
            else {"category": hs.category, "trusted": hs.trusted, "match_kind": hs.match_kind},
            "grade": self.grade.as_dict() if self.grade else None,
            "superseded": [g.as_dict() for g in self.superseded],
            "disagrees_with_trusted": self.disagreement,
            "settled_by": self.settled_by,
        }


@dataclass
class Counts:
    """Counts of one exhibit (or of all): per category A/B/C, and the items not counted under A/B/C."""

    label: str
    source: str
    rows: dict[str, Counter[str]] = field(default_factory=lambda: {c: Counter() for c in UK_GRADES})
    not_indecent: int = 0
    uncertain: int = 0
    matched_uncategorised: int = 0
    with_trusted_parent: int = 0
    unreviewed: int = 0
    disagreements: int = 0
    durations: dict[str, float] = field(default_factory=lambda: dict.fromkeys(UK_GRADES, 0.0))
    # other material (OTHER_GRADES), counted by the same rules in rows of its own, never in A/B/C
    other: dict[str, Counter[str]] = field(default_factory=lambda: {c: Counter() for c in OTHER_GRADES})
    other_durations: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OTHER_GRADES, 0.0))

    def add(self, item: ItemCategory) -> None:
        if item.disagreement:
            self.disagreements += 1
        category = item.category
        if item.outcome in OTHER_GRADES:
            self.other_durations[item.outcome] += _count(self.other[item.outcome], item)
            return
        if category is None:
            if item.outcome == Grade.NON_INDECENT.value:
                self.not_indecent += 1
            elif item.outcome == Grade.UNCERTAIN.value:
                self.uncertain += 1
            elif item.outcome == MATCHED_UNCATEGORISED:
                self.matched_uncategorised += 1
            elif item.outcome == WITH_TRUSTED_PARENT:
                self.with_trusted_parent += 1
            else:
                self.unreviewed += 1
            return
        self.durations[category] += _count(self.rows[category], item)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "source": self.source,
            "rows": [
                {"category": c, **{k: self.rows[c][k] for k in COUNT_KEYS}, "video_duration_s": self.durations[c]}
                for c in UK_GRADES
            ],
            "totals": {
                **{k: sum(self.rows[c][k] for c in UK_GRADES) for k in COUNT_KEYS},
                "video_duration_s": sum(self.durations.values()),
            },
            "not_indecent": self.not_indecent,
            "uncertain": self.uncertain,
            "matched_uncategorised": self.matched_uncategorised,
            "with_trusted_parent": self.with_trusted_parent,
            "unreviewed": self.unreviewed,
            "disagreements": self.disagreements,
            "other_material": [
                {
                    "category": c,
                    **{k: self.other[c][k] for k in COUNT_KEYS},
                    "video_duration_s": self.other_durations[c],
                }
                for c in OTHER_GRADES
            ],
        }


def _count(row: Counter[str], item: ItemCategory) -> float:
    """Count one item into its category's row; returns the recorded video duration it adds (0 if none)."""
    moving = "video" if item.moving else "still"
    row["total"] += 1
    row[f"{moving}_{'deleted' if item.deleted else 'live'}"] += 1
    row[item.provenance] += 1
    row[item.access] += 1
    if item.moving and item.duration_s is None:
        row["video_no_duration"] += 1
    if not item.deleted and item.provenance in MIN_PROVABLE_SOURCES:
        row[f"min_{moving}"] += 1
        row["min_total"] += 1
    return item.duration_s if item.moving and item.duration_s is not None else 0.0


@dataclass
class Categorisation:
    items: dict[int, ItemCategory]  # every image or video, and every other item with a hit or a grade
    exhibits: list[Counts]  # by exhibit label
    total: Counts
    examiners: list[dict[str, Any]]  # current grades per (examiner, confirmer, grade)
    deduplicated: Counts | None  # all exhibits, copies with one digest counted once (DEDUP_RULE); None: not asked

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's ``counts``: the same numbers every other report shows."""
        return {
            "precedence": list(PRECEDENCE),
            "min_provable_definition": MIN_PROVABLE_DEFINITION,
            "total": self.total.as_dict(),
            "deduplication_rule": DEDUP_RULE,
            "deduplicated": self.deduplicated.as_dict() if self.deduplicated is not None else None,
            "exhibits": [e.as_dict() for e in self.exhibits],
            "examiners": self.examiners,
        }


def categorise(case: Case, *, roles: bool = True, deduplicate: bool = True) -> Categorisation:
    """Each item's effective category and provenance, and the counts per exhibit and in total.

    ``roles=False`` leaves each grade's writer role unknown instead of reading the audit log for it, and
    ``deduplicate=False`` leaves out the de-duplicated counts (reading every digest): the review page's live
    counts need neither, after every grade.
    """
    current = current_gradings(case)
    sets = hash_set_grades(case)
    history = _histories(case, current, roles=roles)
    # embedded pictures and thumbnails of a trusted-graded item: the review queue's rule, so both agree
    settled = {r.item_id: r.settled_by for r in review_queue(case, include_matched=True) if r.settled_by}
    exhibits: dict[int, Counts] = {}
    labels: dict[int, str] = {}
    total = Counts("All exhibits", "")
    for ex in exhibits_by_label(case):
        exhibits[ex.id] = Counts(ex.label, ex.source)
        labels[ex.id] = ex.label
    rows = item_kinds(case)
    facts = counting_facts(case, digests=deduplicate)
    items: dict[int, ItemCategory] = {}
    examiners: Counter[tuple[str, str, str]] = Counter()
    for item_id, exhibit_id, media_kind, deleted, carved in rows:
        hs, grades = sets.get(item_id), history.get(item_id, [])
        if hs is None and not grades and media_kind not in GRADABLE_MEDIA:
            continue
        item = _categorise_one(
            item_id,
            labels[exhibit_id],
            media_kind,
            bool(deleted or carved),
            hs,
            grades,
            settled.get(item_id),
            access=_access(item_id, deleted, carved, facts.cached),
            duration_s=facts.duration_s.get(item_id),
            digest=facts.digest.get(item_id),
        )
        items[item_id] = item
        if item.grade is not None:
            examiners[(item.grade.examiner, item.grade.confirmed_by or "", item.grade.grade)] += 1
        exhibits[exhibit_id].add(item)
        total.add(item)
    return Categorisation(
        items=items,
        exhibits=list(exhibits.values()),
        total=total,
        examiners=[
            {"examiner": name, "confirmed_by": confirmer or None, "grade": grade, "items": n}
            for (name, confirmer, grade), n in sorted(examiners.items())
        ],
        deduplicated=deduplicated(items.values()) if deduplicate else None,
    )


def _access(item_id: int, deleted: bool, carved: bool, cached: set[int]) -> str:
    if item_id in cached:
        return THUMBNAIL_CACHE
    if carved:
        return CARVED_UNALLOCATED
    return DELETED_RECOVERABLE if deleted else ACCESSIBLE


_PROVENANCE_RANK = {TRUSTED: 0, CONFIRMED: 1, EXAMINER: 2, INDICATIVE: 3}


def _copy_rank(item: ItemCategory) -> tuple[int, int, int, int, int]:
    """How a copy ranks for DEDUP_RULE (lowest first)."""
    category = UK_GRADES.index(item.category) if item.category else len(UK_GRADES)
    provable = not item.deleted and item.provenance in MIN_PROVABLE_SOURCES
    provenance = _PROVENANCE_RANK.get(item.provenance, len(_PROVENANCE_RANK))
    return (category, 0 if provable else 1, 1 if item.deleted else 0, provenance, item.item_id)


def deduplicated(items: Iterable[ItemCategory]) -> Counts:
    """All exhibits with copies of one image counted once (DEDUP_RULE), through the same ``Counts.add``."""
    best: dict[str | int, ItemCategory] = {}
    for item in items:
        key: str | int = item.digest if item.digest is not None else item.item_id
        held = best.get(key)
        if held is None or _copy_rank(item) < _copy_rank(held):
            best[key] = item
    out = Counts("All exhibits, copies counted once", "")
    for item in sorted(best.values(), key=lambda i: i.item_id):
        out.add(item)
    return out


def _categorise_one(
    item_id: int,
    exhibit: str,
    media_kind: str,
    deleted: bool,
    hs: HashSetGrade | None,
    grades: list[tuple[GivenGrade, bool]],
    settled_by: int | None,
    *,
    access: str = ACCESSIBLE,
    duration_s: float | None = None,
    digest: str | None = None,
) -> ItemCategory:
    current = next((g for g, is_current in grades if is_current), None)
    superseded = tuple(g for g, is_current in grades if not is_current)
    trusted = hs is not None and hs.trusted
    if hs is not None and trusted:
        outcome, provenance = hs.category, TRUSTED
    elif current is not None:
        outcome = current.grade
        provenance = CONFIRMED if current.confirmed_by else EXAMINER
    elif hs is not None:
        counted = hs.category in COUNTED_GRADES
        outcome, provenance = (hs.category if counted else MATCHED_UNCATEGORISED), INDICATIVE
    elif settled_by is not None:
        outcome, provenance = WITH_TRUSTED_PARENT, UNGRADED
    else:
        outcome, provenance = UNGRADED, UNGRADED
    return ItemCategory(
        item_id=item_id,
        exhibit=exhibit,
        media_kind=media_kind,
        deleted=deleted,
        outcome=outcome,
        provenance=provenance,
        hash_set=hs,
        grade=current,
        superseded=superseded,
        disagreement=bool(trusted and hs is not None and current is not None and current.grade != hs.category),
        settled_by=settled_by if outcome == WITH_TRUSTED_PARENT else None,
        access=access,
        duration_s=duration_s,
        digest=digest,
    )


def _histories(
    case: Case, current: dict[int, GradingRecord], *, roles: bool = True
) -> dict[int, list[tuple[GivenGrade, bool]]]:
    """Every grading row of every graded item, oldest first (withdrawals by undo included), each with its
    writer's role and whether it is the item's current grade.

    The role is in the audit log's "item-graded" line of the row (the gradings table does not keep it); a
    log line without a row id leaves the role unknown rather than guessing.
    """
    logged: dict[int, dict[str, Any]] = {}  # grading row id -> its audit line's data
    for entry in case.audit.entries() if roles else ():
        data = entry.get("data")
        if entry.get("event") == "item-graded" and isinstance(data, dict) and isinstance(data.get("row"), int):
            logged[data["row"]] = data
    out: dict[int, list[tuple[GivenGrade, bool]]] = {}
    for item_id, events in all_grade_events(case).items():
        now = current.get(item_id)
        confirmed_at = {now.row_id: now.confirmed_at} if now is not None else {}
        if any(e.confirmed_by and e.row_id not in confirmed_at for e in events):  # rare: a confirmed grade replaced
            confirmed_at = {r.row_id: r.confirmed_at for r in grading_history(case, item_id)}
        out[item_id] = [
            (
                GivenGrade(
                    grade=event.grade,
                    examiner=event.examiner,
                    role=_text(logged.get(event.row_id, {}).get("role")),
                    at=event.at,
                    confirmed_by=event.confirmed_by,
                    confirmed_at=confirmed_at.get(event.row_id),
                    row=event.row_id,
                    undo_of=event.undo_of,
                    undone_by=_text(logged.get(event.row_id, {}).get("undone_by")) if event.undo_of else None,
                    frames=event.frames,
                ),
                now is not None and now.row_id == event.row_id,
            )
            for event in events
        ]
    return out


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
