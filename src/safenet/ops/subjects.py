"""Subjects: the leads about one subscriber address, with the force's risk assessment beside Safenet's signals.

The risk level and reasons are entered (e.g. the force's KIRAT outcome), never computed here; the signals are
derived facts a supervisor weighs: how many observations, which categories of known material the leads'
hashes are in, how recent the last observation is, and whether children were recorded at the address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safenet.ops.access import LEADS, SAFEGUARDING, Actor, allowed, require
from safenet.ops.errors import OpsError
from safenet.ops.ids import LEAD, SUBJECT, row_of, show
from safenet.ops.schema import LeadRow, SafeguardingRow, SubjectRow, VisitRow
from safenet.ops.store import OpsStore

RISK_ORDER = ("very high", "high", "medium", "low")  # queue order; anything else after these


@dataclass(frozen=True, slots=True)
class Signals:
    observations: int
    leads: int
    categories: tuple[str, ...]  # of the leads' hashes in the installation's hash sets, e.g. ("A", "C")
    last_observed_utc: datetime | None
    children_recorded: int | None  # None: no safeguarding record, or the actor may not see it


@dataclass(frozen=True, slots=True)
class SubjectView:
    id: str  # "S-3"
    address: str
    leads: tuple[str, ...]  # lead ids
    risk_level: str | None
    risk_reasons: str | None
    risk_by: str | None
    risk_at: datetime | None
    signals: Signals


def risk_rank(level: str | None) -> int:
    """Queue position of an entered risk level (unknown levels after the known ones, none last)."""
    if level is None:
        return len(RISK_ORDER) + 1
    text = level.strip().casefold()
    return RISK_ORDER.index(text) if text in RISK_ORDER else len(RISK_ORDER)


def subject(store: OpsStore, actor: Actor, subject_id: str, *, hashdb: Path | None = None) -> SubjectView:
    require(actor, LEADS, "view")
    with store.session() as s:
        row = get_subject(s, subject_id)
        views = _views(s, actor, [row], hashdb)
    _audit_children(store, actor, views)
    return views[0]


def subjects(store: OpsStore, actor: Actor, *, hashdb: Path | None = None) -> list[SubjectView]:
    """Every subject, by priority: entered risk level, then observations, then most recent."""
    require(actor, LEADS, "view")
    with store.session() as s:
        views = _views(s, actor, list(s.scalars(select(SubjectRow))), hashdb)
    _audit_children(store, actor, views)
    last = datetime.min.replace(tzinfo=UTC)
    views.sort(
        key=lambda v: (
            risk_rank(v.risk_level),
            -v.signals.observations,
            -(v.signals.last_observed_utc or last).timestamp(),
            v.id,
        )
    )
    return views


def set_risk(store: OpsStore, actor: Actor, subject_id: str, level: str, reasons: str) -> None:
    """Enter the force's risk assessment of a subject (level and reasons); audited."""
    require(actor, LEADS, "change")
    if not level.strip() or not reasons.strip():
        raise OpsError("a risk assessment needs both a level and its reasons")
    with store.session() as s:
        row = get_subject(s, subject_id)
        row.risk_level = level.strip()
        row.risk_reasons = reasons.strip()
        row.risk_by = actor.name
        row.risk_at = datetime.now(UTC)
    store.log(actor, "subject-risk-set", subject=subject_id, level=level.strip(), reasons=reasons.strip())


def _audit_children(store: OpsStore, actor: Actor, views: list[SubjectView]) -> None:
    """Children recorded at an address come from safeguarding records: showing them is a view of those records."""
    shown = [v.id for v in views if v.signals.children_recorded is not None]
    if shown:
        store.log(actor, "safeguarding-viewed", subjects=shown, what="children recorded (subject signal)")


def get_subject(s: Session, subject_id: str) -> SubjectRow:
    missing = f"there is no subject {subject_id}; `safenet ops subjects list` shows them"
    return row_of(s, SubjectRow, SUBJECT, subject_id, missing)


def _views(s: Session, actor: Actor, rows: list[SubjectRow], hashdb: Path | None) -> list[SubjectView]:
    ids = [row.id for row in rows]
    leads = list(s.scalars(select(LeadRow).where(LeadRow.subject_id.in_(ids)).order_by(LeadRow.id)))
    children: dict[int, int] = {}
    if allowed(actor, SAFEGUARDING, "view"):  # audited by the caller (_audit_children)
        query = (
            select(VisitRow.subject_id, func.sum(SafeguardingRow.children))
            .join(SafeguardingRow, SafeguardingRow.visit_id == VisitRow.id)
            .where(VisitRow.subject_id.in_(ids))
            .group_by(VisitRow.subject_id)
        )
        children = {int(sid): int(total or 0) for sid, total in s.execute(query).all() if sid is not None}
    categories = known_categories({(lead.hash_kind, lead.hash_hex) for lead in leads}, hashdb)
    by_subject: dict[int | None, list[LeadRow]] = {}
    for lead in leads:  # grouped once: the queue page lists every subject, each with its leads
        by_subject.setdefault(lead.subject_id, []).append(lead)
    views = []
    for row in rows:
        mine = by_subject.get(row.id, [])
        views.append(
            SubjectView(
                id=show(SUBJECT, row.id),
                address=row.address,
                leads=tuple(show(LEAD, lead.id) for lead in mine),
                risk_level=row.risk_level,
                risk_reasons=row.risk_reasons,
                risk_by=row.risk_by,
                risk_at=row.risk_at,
                signals=Signals(
                    observations=sum(lead.observations for lead in mine),
                    leads=len(mine),
                    categories=tuple(
                        sorted({c for lead in mine for c in categories.get((lead.hash_kind, lead.hash_hex), ())})
                    ),
                    last_observed_utc=max((lead.observed_utc for lead in mine), default=None),
                    children_recorded=children.get(row.id) if allowed(actor, SAFEGUARDING, "view") else None,
                ),
            )
        )
    return views


def known_categories(hashes: set[tuple[str, str]], hashdb: Path | None) -> dict[tuple[str, str], set[str]]:
    """The categories (A, B, C ...) of the installation's illicit sets that hold each lead hash."""
    if hashdb is None or not hashes or not hashdb.is_dir():
        return {}
    from safenet.case.verdict import is_hit
    from safenet.hashsets.model import EXACT_KINDS, HashKind
    from safenet.hashsets.store import HashSetStore

    store = HashSetStore(hashdb)
    names = [info.name for info in store.list()]
    if not names:
        return {}
    wanted = [(kind, hex_) for kind, hex_ in sorted(hashes) if kind in {k.value for k in EXACT_KINDS}]
    out: dict[tuple[str, str], set[str]] = {}
    with store.matcher(names) as matcher:
        results = matcher.lookup([{HashKind(kind): bytes.fromhex(hex_)} for kind, hex_ in wanted])
    for key, matches in zip(wanted, results, strict=True):
        hits = {m.category for m in matches if is_hit(m.kind.value, m.category)}
        if hits:
            out[key] = hits
    return out
