"""People and outcomes, safeguarding, and the measures (restricted field groups ``people`` and ``safeguarding``).

Every view and every change of a person or safeguarding record is a line in the operation's audit log, with
who did it: the service function that reads or writes is the one that records it, so no caller can forget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from safenet.ops.access import PEOPLE, SAFEGUARDING, Actor, require
from safenet.ops.errors import OpsError
from safenet.ops.ids import PERSON, VISIT, parse, row_of, show
from safenet.ops.schema import PersonRow, SafeguardingRow, VisitRow
from safenet.ops.store import OpsStore
from safenet.ops.visits import get_visit

RETENTION_DAYS = 365  # the first review of a record falls a year after it was made (changeable per record)
COURT_WITHIN_DAYS = 28


@dataclass(frozen=True, slots=True)
class Offence:
    offence: str  # e.g. "s.1(1)(a) Protection of Children Act 1978 (making)"
    counts: int


@dataclass(frozen=True, slots=True)
class PersonView:
    id: str  # "P-2"
    visit_id: str
    name: str
    arrested_on: date | None
    interviewed_on: date | None
    charged_on: date | None
    offences: tuple[Offence, ...]
    bail: str | None
    first_court_on: date | None
    retention_review_on: date
    warrant_to_charge_days: int | None
    court_within_four_weeks: bool | None  # None: not charged yet or no court date


@dataclass(frozen=True, slots=True)
class SafeguardingView:
    visit_id: str
    children: int
    referral_to: str | None
    referral_on: date | None
    retention_review_on: date


@dataclass(frozen=True, slots=True)
class Deadline:
    kind: str  # "charge" | "court"
    person: PersonView
    since: date  # arrest or charge
    due: date | None  # the court date due by (four weeks from charge); None for a charging decision


def deadlines(views: list[PersonView]) -> list[Deadline]:
    """Of these people: those arrested and not charged (a charging decision is due), and those charged whose
    first court date is missing or later than four weeks after the charge; the oldest first."""
    found: list[Deadline] = []
    for p in views:
        if p.arrested_on is not None and p.charged_on is None:
            found.append(Deadline("charge", p, p.arrested_on, None))
        elif p.charged_on is not None and (p.first_court_on is None or p.court_within_four_weeks is False):
            found.append(Deadline("court", p, p.charged_on, p.charged_on + timedelta(days=COURT_WITHIN_DAYS)))
    return sorted(found, key=lambda d: (d.since, d.person.id))


def add_person(store: OpsStore, actor: Actor, visit_id: str, name: str) -> str:
    require(actor, PEOPLE, "change")
    if not name.strip():
        raise OpsError("a person needs a name")
    with store.session() as s:
        visit_row = get_visit(s, visit_id)
        row = PersonRow(
            visit_id=visit_row.id,
            name=name.strip(),
            retention_review_on=date.today() + timedelta(days=RETENTION_DAYS),
            created_by=actor.name,
            created_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        person_id = show(PERSON, row.id)
    store.log(actor, "person-added", person=person_id, visit=visit_id)
    return person_id


def record_outcome(
    store: OpsStore,
    actor: Actor,
    person_id: str,
    *,
    arrested_on: date | None = None,
    interviewed_on: date | None = None,
    charged_on: date | None = None,
    offences: list[Offence] | None = None,
    bail: str | None = None,
    first_court_on: date | None = None,
) -> None:
    """Set the given outcome fields (others unchanged); audited."""
    require(actor, PEOPLE, "change")
    changes: dict[str, object] = {
        "arrested_on": arrested_on,
        "interviewed_on": interviewed_on,
        "charged_on": charged_on,
        "bail": bail,
        "first_court_on": first_court_on,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if offences is not None:
        changes["offences"] = json.dumps([{"offence": o.offence, "counts": o.counts} for o in offences])
    if not changes:
        raise OpsError("give at least one outcome to record (--arrested, --charged, --court-date ...)")
    with store.session() as s:
        row = _get_person(s, person_id)
        for key, value in changes.items():
            setattr(row, key, value)
    store.log(
        actor,
        "person-changed",
        person=person_id,
        fields=sorted(changes),
        values={k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()},
    )


def person(store: OpsStore, actor: Actor, person_id: str) -> PersonView:
    require(actor, PEOPLE, "view")
    with store.session() as s:
        row = _get_person(s, person_id)
        view = _person_view(s, row)
    store.log(actor, "person-viewed", person=person_id)
    return view


def people(store: OpsStore, actor: Actor, visit_id: str | None = None) -> list[PersonView]:
    require(actor, PEOPLE, "view")
    with store.session() as s:
        query = select(PersonRow).order_by(PersonRow.id)
        if visit_id is not None:
            query = query.where(PersonRow.visit_id == get_visit(s, visit_id).id)
        views = [_person_view(s, row) for row in s.scalars(query)]
    if views:
        store.log(actor, "people-viewed", people=[v.id for v in views], visit=visit_id)
    return views


def set_retention_review(store: OpsStore, actor: Actor, person_id: str, on: date) -> None:
    require(actor, PEOPLE, "change")
    with store.session() as s:
        _get_person(s, person_id).retention_review_on = on
    store.log(actor, "person-retention-set", person=person_id, review_on=on.isoformat())


def record_safeguarding(
    store: OpsStore,
    actor: Actor,
    visit_id: str,
    *,
    children: int,
    referral_to: str | None = None,
    referral_on: date | None = None,
) -> None:
    require(actor, SAFEGUARDING, "change")
    if children < 0:
        raise OpsError("the number of children cannot be negative")
    with store.session() as s:
        visit_row = get_visit(s, visit_id)
        row = s.scalar(select(SafeguardingRow).where(SafeguardingRow.visit_id == visit_row.id))
        if row is None:
            row = SafeguardingRow(
                visit_id=visit_row.id,
                retention_review_on=date.today() + timedelta(days=RETENTION_DAYS),
                recorded_by=actor.name,
                recorded_at=datetime.now(UTC),
            )
            s.add(row)
        row.children = children
        row.referral_to = (referral_to or "").strip() or row.referral_to
        row.referral_on = referral_on or row.referral_on
    store.log(
        actor,
        "safeguarding-changed",
        visit=visit_id,
        children=children,
        referral_to=referral_to,
        referral_on=referral_on.isoformat() if referral_on else None,
    )


def safeguarding(store: OpsStore, actor: Actor, visit_id: str) -> SafeguardingView | None:
    return safeguarding_records(store, actor, [visit_id])[0]


def safeguarding_records(store: OpsStore, actor: Actor, visit_ids: list[str]) -> list[SafeguardingView | None]:
    """The safeguarding record of each visit (None where none is recorded), in order. A page or an export of
    many visits is one view: one audit line naming them all, not one signed and flushed line per visit."""
    require(actor, SAFEGUARDING, "view")
    with store.session() as s:
        wanted = [parse(VISIT, visit_id) for visit_id in visit_ids]
        visits = set(s.scalars(select(VisitRow.id).where(VisitRow.id.in_(wanted))))
        for visit_id, number in zip(visit_ids, wanted, strict=True):
            if number not in visits:
                get_visit(s, visit_id)  # raises the one sentence for a visit that is not there
        held = {r.visit_id: r for r in s.scalars(select(SafeguardingRow).where(SafeguardingRow.visit_id.in_(wanted)))}
        rows = [held.get(number) for number in wanted]
        records = [
            None
            if row is None
            else SafeguardingView(
                visit_id=visit_id,
                children=row.children,
                referral_to=row.referral_to,
                referral_on=row.referral_on,
                retention_review_on=row.retention_review_on,
            )
            for visit_id, row in zip(visit_ids, rows, strict=True)
        ]
    store.log(actor, "safeguarding-viewed", visits=visit_ids, found=[r.visit_id for r in records if r is not None])
    return records


def due_for_review(store: OpsStore, actor: Actor, on: date) -> list[tuple[str, str, date]]:
    """Person and safeguarding records whose retention review falls on or before ``on``: (kind, id, date).

    Only ids and dates are listed (no names); the list is audited, being a view of which records are held."""
    require(actor, PEOPLE, "view")
    require(actor, SAFEGUARDING, "view")
    with store.session() as s:
        persons = s.scalars(select(PersonRow).where(PersonRow.retention_review_on <= on))
        due = [("person", show(PERSON, row.id), row.retention_review_on) for row in persons]
        records = s.scalars(select(SafeguardingRow).where(SafeguardingRow.retention_review_on <= on))
        due += [("safeguarding", show(VISIT, row.visit_id), row.retention_review_on) for row in records]
    due.sort(key=lambda entry: (entry[2], entry[0], entry[1]))
    store.log(actor, "retention-due-viewed", on=on.isoformat(), records=[f"{k} {i}" for k, i, _ in due])
    return due


def parse_offence(text: str) -> Offence:
    """``"OFFENCE=COUNTS"`` (counts default 1); a wrong count is one sentence."""
    offence, sep, counts = text.rpartition("=")
    if not sep:
        offence, counts = text, "1"
    counts = counts.strip()
    if not offence.strip() or not (counts.isascii() and counts.isdigit()) or int(counts) < 1:
        raise OpsError(f'{text!r} is not OFFENCE=COUNTS, e.g. "s.1(1)(a) PCA 1978 making=3"')
    return Offence(offence.strip(), int(counts))


def measures(
    warrant_date: date | None, executed: date | None, charged: date | None, court: date | None
) -> tuple[int | None, bool | None]:
    """Days from the warrant's execution (else its issue) to charge, and whether the first court date fell
    within four weeks of charge (None while either date is missing)."""
    start = executed or warrant_date
    days = (charged - start).days if charged and start else None
    within = (court - charged).days <= COURT_WITHIN_DAYS if charged and court else None
    return days, within


def _get_person(s: Session, person_id: str) -> PersonRow:
    return row_of(s, PersonRow, PERSON, person_id, f"there is no person {person_id}")


def _person_view(s: Session, row: PersonRow) -> PersonView:
    visit_row = s.get_one(VisitRow, row.visit_id)
    days, within = measures(visit_row.warrant_date, visit_row.actual_date, row.charged_on, row.first_court_on)
    return PersonView(
        id=show(PERSON, row.id),
        visit_id=show(VISIT, row.visit_id),
        name=row.name,
        arrested_on=row.arrested_on,
        interviewed_on=row.interviewed_on,
        charged_on=row.charged_on,
        offences=tuple(Offence(str(o["offence"]), int(o["counts"])) for o in json.loads(row.offences)),
        bail=row.bail,
        first_court_on=row.first_court_on,
        retention_review_on=row.retention_review_on,
        warrant_to_charge_days=days,
        court_within_four_weeks=within,
    )
