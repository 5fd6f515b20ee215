"""What the review's side panel shows about one item, and the examiner's notes and tags on it.

Plain data only (no picture content): where the item came from, its times (UTC, or the device's local time
where the zone was never recorded, said so), size, digests, every hash-set match with its detail, its grade
history and notes. Notes and tags are added, never edited or removed in place, and each is audited like a
grade. The EXIF camera (make, model, serial) is not kept in the case: the web layer reads it from the
evidence when the panel opens (``web.thumbs.Thumbnailer.read_head`` and ``analysis.camera``).

A match is never shown beside its reference picture: Safenet's hash sets keep digests and PDQ hashes only
(``hashset build`` keeps no copy of the pictures it hashed, and imported lists hold none), so each match
says that the set holds no reference picture.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from safenet.case.gradings import GRADERS, REVEALERS, GradingError, grade_events
from safenet.case.reviewqueue import source_kind
from safenet.case.schema import Exhibit, Finding, ItemRow, NoteRow, RevealRow, TagRow
from safenet.case.store import Case
from safenet.report.times import human_time
from safenet.users import User

MAX_NOTE = 4000
MAX_TAG = 60
#: What the panel says where a side-by-side view with the matched reference picture would go.
NO_REFERENCE = "the set holds no reference picture (Safenet's hash sets keep digests and PDQ hashes, never pictures)"


def item_detail(case: Case, item_id: int) -> dict[str, Any]:
    """The side panel's data for one item; GradingError when the item is not in the case."""
    with case.sessions() as s:
        item = s.get(ItemRow, item_id)
        if item is None:
            raise GradingError(f"item {item_id} is not in this case")
        exhibit = s.get(Exhibit, item.exhibit_id)
        parent = s.get(ItemRow, item.parent_id) if item.parent_id is not None else None
        findings = s.scalars(select(Finding).where(Finding.item_id == item_id).order_by(Finding.id)).all()
        notes = s.scalars(select(NoteRow).where(NoteRow.item_id == item_id).order_by(NoteRow.id)).all()
        tags = s.scalars(select(TagRow.tag).where(TagRow.item_id == item_id).order_by(TagRow.tag)).all()
        reveals = s.scalars(select(RevealRow).where(RevealRow.item_id == item_id).order_by(RevealRow.id)).all()
        known = bool(item.time_zone_known)
        zone = "known (times in UTC)" if known else "unknown (local time of the device, zone not recorded)"
        out: dict[str, Any] = {
            "item": item.id,
            "exhibit": exhibit.label if exhibit else None,
            "path": item.display,
            "parent": f"item {parent.id}: {parent.display}" if parent else None,
            "source": source_kind(item.locator, bool(item.deleted), bool(item.carved)),
            "type": f"{item.filetype} ({item.media_kind})",
            "size_bytes": item.size,
            "media_kind": item.media_kind,
            "modified": human_time(item.modified, known) or None,
            "accessed": human_time(item.accessed, known) or None,
            "changed": human_time(item.changed, known) or None,
            "created": human_time(item.created, known) or None,
            "time_zone": zone,
            "dimensions": f"{item.video_width}x{item.video_height}" if item.video_width else "not recorded",
            "camera": "not read (the EXIF camera is read from the evidence for still pictures)",
            "md5": item.md5,
            "sha1": item.sha1,
            "sha256": item.sha256,
            "note": item.note,
            "matches": [_finding(f) for f in findings],
            "reveals": [f"{r.user} ({r.role}) {r.step} at {_iso(r.at)}" for r in reveals],
        }
    out["grade_history"] = [
        f"{e.grade} by {e.examiner} at {_iso(e.at)}"
        + (f", confirmed by {e.confirmed_by}" if e.confirmed_by else "")
        + (f", resting on frames {', '.join(str(f) for f in e.frames)}" if e.frames else "")
        + (f" (undo of grading {e.undo_of})" if e.undo_of else "")
        for e in grade_events(case, item_id)
    ]
    out["notes"] = [f"{n.user} at {_iso(n.at)}: {n.text}" for n in notes]
    out["tags"] = list(tags)
    return out


def add_note(case: Case, item_id: int, text: str, user: User) -> None:
    """Add an examiner's note to an item (audited "item-noted")."""
    text = text.strip()
    if user.role not in REVEALERS:
        raise GradingError(f"{user.name} is a {user.role.value}; viewers may not add notes")
    if not text or len(text) > MAX_NOTE:
        raise GradingError(f"a note is 1 to {MAX_NOTE} characters")
    with case.writing() as s:
        _exists(s, item_id)
        row = NoteRow(item_id=item_id, user=user.name, at=datetime.now(UTC), text=text)
        s.add(row)
        s.flush()
        case.audit.append("item-noted", row=row.id, item=item_id, user=user.name, text=text)


def add_tag(case: Case, item_id: int, tag: str, user: User) -> None:
    """Tag an item (audited "item-tagged"); a tag the item already has is a no-op."""
    tag = tag.strip()
    if user.role not in GRADERS:
        raise GradingError(f"{user.name} is a {user.role.value}; only examiners and admins may tag items")
    if not tag or len(tag) > MAX_TAG:
        raise GradingError(f"a tag is 1 to {MAX_TAG} characters")
    with case.writing() as s:
        _exists(s, item_id)
        if s.scalars(select(TagRow.id).where(TagRow.item_id == item_id, TagRow.tag == tag)).first() is not None:
            return
        s.add(TagRow(item_id=item_id, tag=tag, user=user.name, at=datetime.now(UTC)))
        case.audit.append("item-tagged", item=item_id, tag=tag, user=user.name)


def _exists(s: Any, item_id: int) -> None:
    if s.get(ItemRow, item_id) is None:
        raise GradingError(f"item {item_id} is not in this case")


def _finding(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "set": f.hashset,
        "kind": f.set_kind,
        "hash": f.hash_kind,
        "match": f.match_kind,
        "category": f.category,
        "reference_picture": NO_REFERENCE,
    }
    if f.distance is not None:
        out |= {"pdq_distance": f.distance, "orientation": f.orientation, "trimmed": f.trimmed}
    if f.frames:
        out["matched_frames"] = json.loads(f.frames)
    return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
