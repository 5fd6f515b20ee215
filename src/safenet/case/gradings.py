"""Examiner grading of images and videos the hash sets did not settle, kept in the case with its history.

Who may do what:
  - examiner, admin: grade items (``grade_items``); a new grade supersedes the previous one, which is kept.
  - reviewer, admin: confirm the current grade of an item graded by someone else (``confirm_grading``).
  - viewer: nothing here but reading (``current_gradings``, ``grading_history``; the queue is ``reviewqueue``).
  - anyone logged in who may see clear images (examiner, reviewer, admin): ``record_reveal``.
  - the grader of a row: ``undo_gradings`` (a new row restoring the state before it; nothing is deleted).

What a confirmation requires (it feeds the minimum provable number, so a glance at a blurred thumbnail
is not enough): the confirmer must have had that item shown to them in a reveal they asked for, at any
step (larger blurred, greyscale clear or colour clear; the step is the size and clarity they chose), and
that reveal must be recorded in the case (``record_reveal``). Without one the confirmation is refused with
a sentence saying so. The confirmation records which reveal it relied on (``confirm_reveal_id`` and the
audit line's ``shown``: step, frame and time), so a court can see what the confirmer was shown.

Overwriting: a bulk grade (a selection or a cluster) never replaces a different existing grade unless the
caller says ``overwrite=True`` after showing the grader the conflicts (``GradingConflict`` lists them).

Every grade, confirmation and reveal is written to the case's hash-chained audit log, before the database
commit, so no grade can exist without its audit line (docs/domain.md: "only graders grade; who did what is
recorded").

What waits for review, and what the hash sets already say of each item (trusted / indicative), is read by
``safenet.case.reviewqueue``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safenet.case.schema import GradingRow, ItemRow, RevealRow
from safenet.case.store import Case
from safenet.users import Role, User

GRADABLE_MEDIA = ("image", "video")
UK_GRADES = ("A", "B", "C")
#: Other material graded apart from A/B/C and never added to their counts: prohibited (non-photographic)
#: images of children (Coroners and Justice Act 2009 s62) and extreme pornography (CJIA 2008 s63).
OTHER_GRADES = ("prohibited", "extreme")
#: Every grade counted as material of its own (A/B/C, and the other material apart).
COUNTED_GRADES = UK_GRADES + OTHER_GRADES
#: Who may do what (one source of truth: the services enforce it, the web UI shows or hides controls by it).
GRADERS = frozenset({Role.EXAMINER, Role.ADMIN})
CONFIRMERS = frozenset({Role.REVIEWER, Role.ADMIN})
REVEALERS = frozenset({Role.EXAMINER, Role.REVIEWER, Role.ADMIN})
#: Graded reveal steps, least revealing first (stored in case files; never rename).
REVEAL_STEPS = ("large-blurred", "grey", "colour")
REVEAL_CLOSE_REASONS = ("closed", "expired", "navigated")
#: The grade stored by an undo that returns an item to "no examiner grade" (never a Grade: not a category).
WITHDRAWN = "withdrawn"
#: The most frames one video grade may name (the review samples at most 48 frames of a video).
MAX_GRADE_FRAMES = 48


class Grade(StrEnum):
    """Stored in case files; never rename."""

    A = "A"
    B = "B"
    C = "C"
    NON_INDECENT = "non-indecent"
    UNCERTAIN = "uncertain"
    PROHIBITED = "prohibited"  # other material, counted apart from A/B/C (OTHER_GRADES)
    EXTREME = "extreme"


@dataclass(frozen=True, slots=True)
class GradingRecord:
    item_id: int
    grade: Grade
    examiner: str
    at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    row_id: int | None = None  # the GradingRow this record is (the key an undo names)
    frames: tuple[int, ...] | None = None  # a video's or animated GIF's grade: the frames it rests on


@dataclass(frozen=True, slots=True)
class GradeEvent:
    """One row of an item's grade history as the detail panel shows it: a grade, or a withdrawal by undo."""

    row_id: int
    grade: str  # a Grade value, or WITHDRAWN
    examiner: str
    at: datetime
    confirmed_by: str | None
    undo_of: int | None
    frames: tuple[int, ...] | None = None  # the frames a video grade rests on, when the grader named them


@dataclass(frozen=True, slots=True)
class Conflict:
    """An item whose existing grade a bulk grade would replace."""

    item_id: int
    grade: Grade
    examiner: str


@dataclass(frozen=True, slots=True)
class Undone:
    """The state an undo restored: ``restored`` None means the item is back to no examiner grade."""

    item_id: int
    row_id: int  # the new row the undo wrote
    restored: GradingRecord | None


class GradingError(Exception):
    """A grading request is not allowed or names items that cannot be graded; one sentence says why."""


class GradingConflict(GradingError):
    """A bulk grade would replace other grades; the caller must show ``conflicts`` and ask to overwrite."""

    def __init__(self, message: str, conflicts: list[Conflict]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


# -- grading ------------------------------------------------------------------------------------
def grade_items(
    case: Case,
    item_ids: Sequence[int],
    grade: Grade,
    user: User,
    *,
    overwrite: bool = True,
    frames: Sequence[int] | None = None,
) -> list[GradingRecord]:
    """Grade items (bulk: a selection or a cluster). Re-giving an item its current grade is a no-op.

    With ``overwrite=False`` nothing is written when any item already has a different grade: the
    ``GradingConflict`` lists them so the grader can look and confirm. ``frames`` names the frames (sampled
    frame indexes, as the frame strip numbers them) a grade of a video or animated GIF rests on; it is kept
    with the grading row and in its audit line, and refused for any other item.
    """
    if user.role not in GRADERS:
        raise GradingError(f"{user.name} is a {user.role.value}; only examiners and admins may grade")
    grade = _grade(grade)
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise GradingError("no items were given to grade")
    stored_frames = _frames_json(frames)
    now = datetime.now(UTC)
    with case.writing() as s:
        query = select(ItemRow.id, ItemRow.media_kind, ItemRow.filetype).where(ItemRow.id.in_(ids))
        kinds = {item_id: (kind, filetype) for item_id, kind, filetype in s.execute(query)}
        for item_id in ids:
            if item_id not in kinds:
                raise GradingError(f"item {item_id} is not in this case")
            kind, filetype = kinds[item_id]
            if kind not in GRADABLE_MEDIA:
                raise GradingError(f"item {item_id} is a {kind} file, not an image or video")
            if stored_frames is not None and kind != "video" and filetype != "gif":
                raise GradingError(f"item {item_id} is a still picture; only a video or GIF grade names frames")
        current = {i: r for i, r in _current_rows(s, ids).items() if r.grade != WITHDRAWN}
        if not overwrite:
            conflicts = [Conflict(i, Grade(r.grade), r.examiner) for i, r in current.items() if r.grade != grade.value]
            if conflicts:
                listed = ", ".join(f"item {c.item_id} ({c.grade.value} by {c.examiner})" for c in conflicts)
                raise GradingConflict(f"{len(conflicts)} item(s) already have another grade: {listed}", conflicts)
        rows: list[GradingRow] = []  # per item in order: its new row, or its unchanged current one
        written: list[tuple[GradingRow, GradingRow | None]] = []
        for item_id in ids:
            previous = current.get(item_id)
            unchanged = previous is not None and previous.grade == grade.value and previous.examiner == user.name
            if previous is not None and unchanged and stored_frames in (None, previous.frames):
                rows.append(previous)
                continue
            row = GradingRow(item_id=item_id, grade=grade.value, examiner=user.name, at=now, frames=stored_frames)
            s.add(row)
            rows.append(row)
            written.append((row, previous))
        s.flush()  # the row ids go into the audit lines (verify re-derives the table from the log)
        # one write, one fsync and one signed head for the whole bulk grade
        case.audit.append_many([_graded_event(row, user, previous) for row, previous in written])
        records = [_record(row) for row in rows]
    return records


def undo_gradings(case: Case, row_ids: Sequence[int], user: User) -> list[Undone]:
    """Undo grading rows the user wrote: each gets a new row restoring the item's state before it.

    Nothing is deleted (the history keeps the undone grade and the undo). Refused, with nothing written,
    for a row that is not the item's current grade any more (undo the newer one first) or that another
    person wrote.
    """
    if user.role not in GRADERS:
        raise GradingError(f"{user.name} is a {user.role.value}; only examiners and admins may grade")
    wanted = list(dict.fromkeys(row_ids))
    if not wanted:
        raise GradingError("nothing to undo")
    now = datetime.now(UTC)
    written: list[tuple[GradingRow, GradingRow, bool]] = []  # (new row, the row it undoes, restored a grade)
    with case.writing() as s:
        rows = {r.id: r for r in s.scalars(select(GradingRow).where(GradingRow.id.in_(wanted)))}
        current = _current_rows(s, [r.item_id for r in rows.values()])
        for row_id in wanted:
            row = rows.get(row_id)
            if row is None:
                raise GradingError(f"grading {row_id} is not in this case")
            # An undo row's author is the examiner of the row it undid (only they may undo a grade).
            author = row.examiner if row.undo_of is None else _examiner_of(s, row.undo_of)
            if author != user.name:
                raise GradingError(
                    f"item {row.item_id}'s grading {row.id} ({row.grade}) was made by {author}; only they may undo it"
                )
            if current[row.item_id].id != row.id:
                raise GradingError(f"item {row.item_id} was graded again after this grade; undo the newer grade first")
        for row_id in wanted:
            row = rows[row_id]
            before = s.scalars(
                select(GradingRow)
                .where(GradingRow.item_id == row.item_id, GradingRow.id < row.id)
                .order_by(GradingRow.id.desc())
                .limit(1)
            ).first()
            restore = before if before is not None and before.grade != WITHDRAWN else None
            new = GradingRow(
                item_id=row.item_id,
                grade=restore.grade if restore else WITHDRAWN,
                examiner=restore.examiner if restore else user.name,
                at=now,
                confirmed_by=restore.confirmed_by if restore else None,
                confirmed_at=restore.confirmed_at if restore else None,
                confirm_reveal_id=restore.confirm_reveal_id if restore else None,
                frames=restore.frames if restore else None,
                undo_of=row.id,
            )
            s.add(new)
            written.append((new, row, restore is not None))
        s.flush()
        case.audit.append_many([_graded_event(new, user, row) for new, row, _ in written])
        out = [Undone(new.item_id, new.id, _record(new) if restored else None) for new, _, restored in written]
    return out


def confirm_grading(case: Case, item_id: int, user: User) -> GradingRecord:
    """A second person confirms the item's current grade, having been shown the item (see the module doc).

    Refused for the examiner who gave it, and for anyone who has no recorded reveal of the item.
    """
    confirmed, refused = confirm_gradings(case, [item_id], user)
    if refused:
        raise GradingError(refused[0][1])
    return confirmed[0]


def confirm_gradings(
    case: Case, item_ids: Sequence[int], user: User
) -> tuple[list[GradingRecord], list[tuple[int, str]]]:
    """Confirm the current grade of each item (a selection): the confirmed records, and (item, reason) for
    each refused one (``confirm_grading``'s rules). All confirmations are written in one transaction, with
    their audit lines in one append (one fsync and one signed head for the whole selection).
    """
    if user.role not in CONFIRMERS:
        raise GradingError(f"{user.name} is a {user.role.value}; only reviewers and admins may confirm grades")
    ids = list(dict.fromkeys(item_ids))
    confirmed: list[GradingRecord] = []
    refused: list[tuple[int, str]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    with case.writing() as s:
        current = _current_rows(s, ids)
        for item_id in ids:
            row = current.get(item_id)
            shown = _last_reveal(s, item_id, user.name)
            reason = _why_not_confirmable(item_id, row, shown, user)
            if reason is not None or row is None or shown is None:
                refused.append((item_id, reason or f"item {item_id} has no grade to confirm"))
                continue
            row.confirmed_by = user.name
            row.confirmed_at = datetime.now(UTC)
            row.confirm_reveal_id = shown.id
            events.append(
                (
                    "grading-confirmed",
                    {
                        "row": row.id,
                        "item": item_id,
                        "grade": row.grade,
                        "examiner": row.examiner,
                        "confirmed_by": user.name,
                        "confirmed_at": row.confirmed_at.isoformat(),
                        "shown": {
                            "reveal": shown.id,
                            "step": shown.step,
                            "frame": shown.frame,
                            "at": shown.at.isoformat(),
                        },
                    },
                )
            )
            confirmed.append(_record(row))
        case.audit.append_many(events)
    return confirmed, refused


def _last_reveal(s: Session, item_id: int, user_name: str) -> RevealRow | None:
    query = (
        select(RevealRow)
        .where(RevealRow.item_id == item_id, RevealRow.user == user_name)
        .order_by(RevealRow.id.desc())
        .limit(1)
    )
    return s.scalars(query).first()


def _why_not_confirmable(item_id: int, row: GradingRow | None, shown: RevealRow | None, user: User) -> str | None:
    if row is None or row.grade == WITHDRAWN:
        return f"item {item_id} has no grade to confirm"
    if row.examiner == user.name:
        return f"{user.name} graded item {item_id}; a different person must confirm it"
    if row.confirmed_by is not None:
        return f"item {item_id}'s grade was already confirmed by {row.confirmed_by}"
    if shown is None:
        return f"{user.name} has not been shown item {item_id}; reveal it (R) before confirming its grade"
    return None


def record_reveal(case: Case, item_id: int, user: User, *, step: str = "colour", frame: int | None = None) -> None:
    """Audit one reveal of an item at one step (examiner welfare and access logging); viewers may not reveal.

    Kept in the case too (``reveals``), so a confirmation can check that its confirmer was shown the item.
    """
    if user.role not in REVEALERS:
        raise GradingError(f"{user.name} is a {user.role.value}; viewers may not reveal clear images")
    if step not in REVEAL_STEPS:
        raise GradingError(f"unknown reveal step {step!r}; choose from {', '.join(REVEAL_STEPS)}")
    with case.writing() as s:
        if s.get(ItemRow, item_id) is None:
            raise GradingError(f"item {item_id} is not in this case")
        s.add(
            RevealRow(
                item_id=item_id, user=user.name, role=user.role.value, step=step, frame=frame, at=datetime.now(UTC)
            )
        )
        case.audit.append("item-revealed", item=item_id, user=user.name, role=user.role.value, step=step, frame=frame)


def record_reveal_closed(case: Case, item_id: int, user: User, reason: str) -> None:
    """Audit the end of a reveal (closed by the user, expired, or left by navigating)."""
    if reason not in REVEAL_CLOSE_REASONS:
        raise GradingError(f"unknown reason {reason!r}; choose from {', '.join(REVEAL_CLOSE_REASONS)}")
    now = datetime.now(UTC)
    with case.writing() as s:
        open_rows = s.scalars(
            select(RevealRow).where(
                RevealRow.item_id == item_id, RevealRow.user == user.name, RevealRow.closed_at.is_(None)
            )
        ).all()
        for row in open_rows:
            row.closed_at, row.close_reason = now, reason
        case.audit.append("reveal-closed", item=item_id, user=user.name, reason=reason)


# -- reading ------------------------------------------------------------------------------------
def current_gradings(case: Case) -> dict[int, GradingRecord]:
    """The current (newest) grade of every graded item."""
    with case.sessions() as s:
        rows = s.scalars(select(GradingRow).order_by(GradingRow.id)).all()
    newest = {row.item_id: row for row in rows}  # later rows overwrite earlier ones
    return {item_id: _record(row) for item_id, row in newest.items() if row.grade != WITHDRAWN}


def grading_history(case: Case, item_id: int) -> list[GradingRecord]:
    """Every grade the item was given, oldest first (withdrawals by undo are left out: see grade_events)."""
    with case.sessions() as s:
        rows = s.scalars(select(GradingRow).where(GradingRow.item_id == item_id).order_by(GradingRow.id)).all()
    return [_record(row) for row in rows if row.grade != WITHDRAWN]


def grade_events(case: Case, item_id: int) -> list[GradeEvent]:
    """Every grading row of the item, oldest first, withdrawals and undos included (the detail panel)."""
    with case.sessions() as s:
        rows = s.scalars(select(GradingRow).where(GradingRow.item_id == item_id).order_by(GradingRow.id)).all()
    return [_event(r) for r in rows]


def all_grade_events(case: Case) -> dict[int, list[GradeEvent]]:
    """``grade_events`` of every graded item in one query (reports list every grade of every item)."""
    with case.sessions() as s:
        rows = s.scalars(select(GradingRow).order_by(GradingRow.id)).all()
    out: dict[int, list[GradeEvent]] = {}
    for r in rows:
        out.setdefault(r.item_id, []).append(_event(r))
    return out


def revealed_to(case: Case, item_id: int, user_name: str) -> bool:
    """Whether the item was ever revealed to this user (what a confirmation needs)."""
    with case.sessions() as s:
        query = select(RevealRow.id).where(RevealRow.item_id == item_id, RevealRow.user == user_name).limit(1)
        return s.scalars(query).first() is not None


# -- internals ----------------------------------------------------------------------------------
def _grade(grade: Grade | str) -> Grade:
    try:
        return Grade(grade)
    except ValueError as exc:
        raise GradingError(f"unknown grade {grade!r}; choose from {', '.join(g.value for g in Grade)}") from exc


def _current_rows(s: Session, ids: Sequence[int]) -> dict[int, GradingRow]:
    rows = s.scalars(select(GradingRow).where(GradingRow.item_id.in_(ids)).order_by(GradingRow.id)).all()
    return {row.item_id: row for row in rows}


def _record(row: GradingRow) -> GradingRecord:
    return GradingRecord(
        row.item_id,
        Grade(row.grade),
        row.examiner,
        row.at,
        row.confirmed_by,
        row.confirmed_at,
        row.id,
        frames_of(row.frames),
    )


def _event(row: GradingRow) -> GradeEvent:
    return GradeEvent(row.id, row.grade, row.examiner, row.at, row.confirmed_by, row.undo_of, frames_of(row.frames))


def _frames_json(frames: Sequence[int] | None) -> str | None:
    """The stored form of the frames a grade rests on: sorted, each once; None when none were named."""
    if frames is None:
        return None
    chosen = sorted(set(frames))
    if not chosen or len(chosen) > MAX_GRADE_FRAMES or chosen[0] < 0:
        raise GradingError(f"a grade names 1 to {MAX_GRADE_FRAMES} frames, each a frame index from 0")
    return json.dumps(chosen)


def frames_of(stored: str | None) -> tuple[int, ...] | None:
    """The frames a stored grading row rests on (None: not named)."""
    if not stored:
        return None
    try:
        value = json.loads(stored)
    except ValueError:
        return None
    return tuple(v for v in value if isinstance(v, int)) if isinstance(value, list) else None


def _examiner_of(s: Session, row_id: int) -> str | None:
    row = s.get(GradingRow, row_id)
    return row.examiner if row is not None else None


def _graded_event(row: GradingRow, user: User, previous: GradingRow | None) -> tuple[str, dict[str, Any]]:
    """The one audit line of a new grading row (E's verify re-derives the table from these fields)."""
    extra: dict[str, object] = {}
    if row.frames is not None:
        extra["frames"] = list(frames_of(row.frames) or ())
    if row.undo_of is not None:
        extra |= {"undo_of": row.undo_of, "undone_by": user.name}
        if row.confirmed_by is not None:
            extra |= {"confirmed_by": row.confirmed_by, "confirmed_at": _iso(row.confirmed_at)}
    return "item-graded", {
        "row": row.id,
        "item": row.item_id,
        "grade": row.grade,
        "examiner": row.examiner,
        "role": user.role.value,
        "at": row.at.isoformat(),
        "previous": previous.grade if previous else None,
        "previous_examiner": previous.examiner if previous else None,
        **extra,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
