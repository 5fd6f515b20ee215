"""Examiner grading of images and videos the hash sets did not settle, kept in the case with its history.

Who may do what:
  - examiner, admin: grade items (``grade_items``); a new grade supersedes the previous one, which is kept.
  - reviewer, admin: confirm the current grade of an item graded by someone else (``confirm_grading``).
  - viewer: nothing here but reading (``current_gradings``, ``grading_history``, ``review_queue``).
  - anyone logged in who may see clear images (examiner, reviewer, admin): ``record_reveal``.
Every grade, confirmation and reveal is written to the case's hash-chained audit log, before the database
commit, so no grade can exist without its audit line (docs/domain.md: "only graders grade; who did what is
recorded").

Hash-set provenance (shared with the charging summary, so the review grid and the court document agree):
  - trusted: an *exact* (MD5/SHA-1/SHA-256) match to an *illicit* set, category A/B/C, and the set's
    category scheme is confirmed. These items are not shown for review unless asked (examiner welfare).
  - indicative: any other hit of an illicit set with A/B/C: a perceptual match, or a set whose scheme
    codes are unconfirmed (e.g. the assumed VICS UK codes). They need an examiner's grade.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from safenet.case.schema import ClusterRow, Exhibit, Finding, GradingRow, ItemRow, Run
from safenet.case.store import Case
from safenet.engine.verdict import is_hit
from safenet.hashsets.categories import most_severe
from safenet.users import Role, User

GRADABLE_MEDIA = ("image", "video")
UK_GRADES = ("A", "B", "C")
#: Who may do what (one source of truth: the services enforce it, the web UI shows or hides controls by it).
GRADERS = frozenset({Role.EXAMINER, Role.ADMIN})
CONFIRMERS = frozenset({Role.REVIEWER, Role.ADMIN})
REVEALERS = frozenset({Role.EXAMINER, Role.REVIEWER, Role.ADMIN})


class Grade(StrEnum):
    """Stored in case files; never rename."""

    A = "A"
    B = "B"
    C = "C"
    NON_INDECENT = "non-indecent"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class GradingRecord:
    item_id: int
    grade: Grade
    examiner: str
    at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None


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


class GradingError(Exception):
    """A grading request is not allowed or names items that cannot be graded; one sentence says why."""


# -- grading ------------------------------------------------------------------------------------
def grade_items(case: Case, item_ids: Sequence[int], grade: Grade, user: User) -> list[GradingRecord]:
    """Grade items (bulk: a selection or a cluster). Re-giving an item its current grade is a no-op."""
    if user.role not in GRADERS:
        raise GradingError(f"{user.name} is a {user.role.value}; only examiners and admins may grade")
    grade = _grade(grade)
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise GradingError("no items were given to grade")
    now = datetime.now(UTC)
    records: list[GradingRecord] = []
    with case.sessions.begin() as s:
        kinds = dict(s.execute(select(ItemRow.id, ItemRow.media_kind).where(ItemRow.id.in_(ids))).all())
        for item_id in ids:
            if item_id not in kinds:
                raise GradingError(f"item {item_id} is not in this case")
            if kinds[item_id] not in GRADABLE_MEDIA:
                raise GradingError(f"item {item_id} is a {kinds[item_id]} file, not an image or video")
        current = _current_rows(s, ids)
        for item_id in ids:
            previous = current.get(item_id)
            if previous is not None and previous.grade == grade.value and previous.examiner == user.name:
                records.append(_record(previous))
                continue
            row = GradingRow(item_id=item_id, grade=grade.value, examiner=user.name, at=now)
            s.add(row)
            case.audit.append(
                "item-graded",
                item=item_id,
                grade=grade.value,
                examiner=user.name,
                role=user.role.value,
                previous=previous.grade if previous else None,
                previous_examiner=previous.examiner if previous else None,
            )
            records.append(_record(row))
    return records


def confirm_grading(case: Case, item_id: int, user: User) -> GradingRecord:
    """A second person confirms the item's current grade; refused for the examiner who gave it."""
    if user.role not in CONFIRMERS:
        raise GradingError(f"{user.name} is a {user.role.value}; only reviewers and admins may confirm grades")
    with case.sessions.begin() as s:
        row = _current_rows(s, [item_id]).get(item_id)
        if row is None:
            raise GradingError(f"item {item_id} has no grade to confirm")
        if row.examiner == user.name:
            raise GradingError(f"{user.name} graded item {item_id}; a different person must confirm it")
        if row.confirmed_by is not None:
            raise GradingError(f"item {item_id}'s grade was already confirmed by {row.confirmed_by}")
        row.confirmed_by = user.name
        row.confirmed_at = datetime.now(UTC)
        case.audit.append(
            "grading-confirmed", item=item_id, grade=row.grade, examiner=row.examiner, confirmed_by=user.name
        )
        return _record(row)


def record_reveal(case: Case, item_id: int, user: User) -> None:
    """Audit one reveal of a clear image (examiner welfare and access logging); viewers may not reveal."""
    if user.role not in REVEALERS:
        raise GradingError(f"{user.name} is a {user.role.value}; viewers may not reveal clear images")
    with case.sessions() as s:
        if s.get(ItemRow, item_id) is None:
            raise GradingError(f"item {item_id} is not in this case")
    case.audit.append("item-revealed", item=item_id, user=user.name, role=user.role.value)


# -- reading ------------------------------------------------------------------------------------
def current_gradings(case: Case) -> dict[int, GradingRecord]:
    """The current (newest) grade of every graded item."""
    with case.sessions() as s:
        rows = s.scalars(select(GradingRow).order_by(GradingRow.id)).all()
    return {row.item_id: _record(row) for row in rows}  # later rows overwrite earlier ones


def grading_history(case: Case, item_id: int) -> list[GradingRecord]:
    """Every grade the item was given, oldest first."""
    with case.sessions() as s:
        rows = s.scalars(select(GradingRow).where(GradingRow.item_id == item_id).order_by(GradingRow.id)).all()
    return [_record(row) for row in rows]


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
            trusted = match_kind == "exact" and category in UK_GRADES and confirmed.get((hashset, sha), True)
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
) -> list[ReviewItem]:
    """Images and videos to review, grouped by exhibit then near-duplicate cluster then path.

    Items with a trusted hash-set grade are left out unless ``include_matched``. ``category`` filters on
    the item's effective category: its current grade, else its hash-set category, else "ungraded".
    ``match_kind`` is "exact", "perceptual" or "none". ``deleted`` counts carved items as deleted.
    """
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
            ClusterRow.cluster,
        )
        .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
        .outerjoin(ClusterRow, ClusterRow.item_id == ItemRow.id)
        .where(ItemRow.media_kind.in_(GRADABLE_MEDIA))
    )
    if exhibit is not None:
        query = query.where(Exhibit.label == exhibit)
    if media_kind is not None:
        query = query.where(ItemRow.media_kind == media_kind)
    items: list[ReviewItem] = []
    with case.sessions() as s:
        rows = s.execute(query).all()
    for item_id, label, display, name, kind, is_deleted, carved, cluster in rows:
        hs = sets.get(item_id)
        record = grades.get(item_id)
        item = ReviewItem(
            item_id=item_id,
            exhibit=label,
            display=display,
            name=name,
            media_kind=kind,
            deleted=bool(is_deleted or carved),
            cluster_id=cluster,
            grade=record.grade if record else None,
            category=hs.category if hs else None,
            match_kind=hs.match_kind if hs else None,
            trusted=bool(hs and hs.trusted),
        )
        if item.trusted and not include_matched:
            continue
        if deleted is not None and item.deleted != deleted:
            continue
        if match_kind is not None and (item.match_kind or "none") != match_kind:
            continue
        if category is not None and _effective(item) != category:
            continue
        items.append(item)
    items.sort(key=lambda i: (i.exhibit, i.cluster_id is None, i.cluster_id or 0, i.display, i.item_id))
    return items


# -- internals ----------------------------------------------------------------------------------
def _effective(item: ReviewItem) -> str:
    if item.grade is not None:
        return item.grade.value
    return item.category or "ungraded"


def _grade(grade: Grade | str) -> Grade:
    try:
        return Grade(grade)
    except ValueError as exc:
        raise GradingError(f"unknown grade {grade!r}; choose from {', '.join(g.value for g in Grade)}") from exc


def _current_rows(s: Session, ids: Sequence[int]) -> dict[int, GradingRow]:
    rows = s.scalars(select(GradingRow).where(GradingRow.item_id.in_(ids)).order_by(GradingRow.id)).all()
    return {row.item_id: row for row in rows}


def _record(row: GradingRow) -> GradingRecord:
    return GradingRecord(row.item_id, Grade(row.grade), row.examiner, row.at, row.confirmed_by, row.confirmed_at)


def _scheme_confirmed(case: Case) -> dict[tuple[str, str], bool]:
    """Whether each (set name, source SHA-256) used by a run had a confirmed category scheme."""
    out: dict[tuple[str, str], bool] = {}
    with case.sessions() as s:
        for raw in s.scalars(select(Run.hashsets_json)):
            for hs in json.loads(raw):
                out[(hs["name"], hs["sha256"])] = bool(hs.get("scheme_confirmed", True))
    return out
