"""Visits: a warrant executed at an address, the devices found there, and what the examination showed.

A device previewed or seized is linked to a case exhibit (``case_path`` + ``exhibit``). The on-scene verdict
and the lead-to-evidence corroboration are read from the case each time a visit is shown: the case is the
source of truth, the operation database stores only the link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from safenet.ops.access import APPROVAL, DEVICES, VISITS, Actor, allowed, require
from safenet.ops.errors import OpsError
from safenet.ops.ids import DEVICE, LEAD, SUBJECT, VISIT, row_of, show
from safenet.ops.leads import get_lead
from safenet.ops.schema import DeviceRow, LeadRow, SubjectRow, VisitLeadRow, VisitRow
from safenet.ops.store import OpsStore

if TYPE_CHECKING:  # read from the case only when a visit is shown: the case package is not imported before
    from safenet.case.onscene import ExhibitVerdict

DISPOSITIONS = ("seized", "previewed", "left")
STATUSES = ("planned", "approved", "executed")


@dataclass(frozen=True, slots=True)
class DeviceView:
    id: str  # "D-4"
    description: str
    disposition: str  # seized | previewed | left
    reason: str | None
    case_path: str | None
    exhibit: str | None
    verdict: ExhibitVerdict | None  # read from the case each time (case.onscene)


@dataclass(frozen=True, slots=True)
class Corroboration:
    """A lead's hash found on a linked exhibit: "the file observed on <date> is on exhibit X"."""

    lead_id: str
    observed_utc: str  # ISO UTC
    hash_kind: str
    hash_hex: str
    exhibit: str
    locator_display: str
    kind: str  # "file" | "p2p-record"

    def sentence(self) -> str:
        what = "the file" if self.kind == "file" else "a P2P client's record of the file"
        return (
            f"{what} observed on {self.observed_utc} ({self.lead_id}, {self.hash_kind} {self.hash_hex}) "
            f"is on exhibit {self.exhibit}: {self.locator_display}"
        )


@dataclass(frozen=True, slots=True)
class VisitView:
    id: str  # "V-7"
    lead_ids: tuple[str, ...]
    subject_id: str | None
    warrant_power: str
    warrant_ref: str
    issuing_court: str
    warrant_date: date | None
    planned_date: date
    actual_date: date | None
    team: str
    address: str
    status: str
    approved_by: str | None
    devices: list[DeviceView] = field(default_factory=list)
    corroborations: list[Corroboration] = field(default_factory=list)


def add_visit(
    store: OpsStore,
    actor: Actor,
    *,
    lead_ids: list[str],
    warrant_power: str,
    warrant_ref: str,
    issuing_court: str = "",
    warrant_date: date | None = None,
    planned_date: date,
    team: str = "",
) -> str:
    """Plan a visit for the leads (their subject's address is the visit's); returns "V-7"."""
    require(actor, VISITS, "change")
    if not lead_ids:
        raise OpsError("a visit needs at least one lead (--lead L-12)")
    if not warrant_ref.strip():
        raise OpsError("a visit needs the warrant's reference")
    with store.session() as s:
        leads = [get_lead(s, lead_id) for lead_id in lead_ids]
        subjects = {lead.subject_id for lead in leads}
        if len(subjects) > 1:
            raise OpsError("the leads belong to different subjects; plan one visit per address")
        subject_id = subjects.pop()
        subject = s.get(SubjectRow, subject_id) if subject_id is not None else None
        row = VisitRow(
            subject_id=subject_id,
            warrant_power=warrant_power.strip(),
            warrant_ref=warrant_ref.strip(),
            issuing_court=issuing_court.strip(),
            warrant_date=warrant_date,
            planned_date=planned_date,
            team=team.strip(),
            address=subject.address if subject else "",
            status="planned",
            created_by=actor.name,
            created_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        for lead in {lead.id: lead for lead in leads}.values():
            s.add(VisitLeadRow(visit_id=row.id, lead_id=lead.id))
        visit_id = show(VISIT, row.id)
    store.log(actor, "visit-added", visit=visit_id, leads=lead_ids, warrant=f"{warrant_power} {warrant_ref}".strip())
    return visit_id


def approve_visit(store: OpsStore, actor: Actor, visit_id: str) -> None:
    """A supervisor approves a planned visit."""
    require(actor, APPROVAL, "change")
    with store.session() as s:
        row = get_visit(s, visit_id)
        if row.status != "planned":
            raise OpsError(f"visit {visit_id} is {row.status}, not planned; only a planned visit is approved")
        row.status = "approved"
        row.approved_by = actor.name
        row.approved_at = datetime.now(UTC)
    store.log(actor, "visit-approved", visit=visit_id)


def mark_executed(store: OpsStore, actor: Actor, visit_id: str, actual_date: date) -> None:
    require(actor, VISITS, "change")
    with store.session() as s:
        row = get_visit(s, visit_id)
        if row.status == "planned":
            raise OpsError(f"visit {visit_id} has not been approved; a supervisor approves it first")
        row.status = "executed"
        row.actual_date = actual_date
    store.log(actor, "visit-executed", visit=visit_id, on=actual_date.isoformat())


def add_device(
    store: OpsStore,
    actor: Actor,
    visit_id: str,
    description: str,
    disposition: str,
    reason: str | None = None,
    case_path: Path | None = None,
    exhibit: str | None = None,
) -> str:
    """Record a device found on the visit; returns "D-4". ``left`` needs a reason."""
    require(actor, DEVICES, "change")
    if disposition not in DISPOSITIONS:
        raise OpsError(f"unknown disposition {disposition!r}; choose {', '.join(DISPOSITIONS)}")
    if disposition == "left" and not (reason or "").strip():
        raise OpsError("a device left at the address needs the reason (--reason)")
    if (case_path is None) != (exhibit is None):
        raise OpsError("link a device to an exhibit with both --case and --exhibit")
    if disposition == "left" and exhibit is not None:
        raise OpsError("a device left at the address has no exhibit; record it as previewed or seized")
    case_text = str(case_path.resolve()) if case_path is not None else None
    with store.session() as s:
        visit_row = get_visit(s, visit_id)
        if case_text is not None:
            taken = s.scalar(select(DeviceRow).where(DeviceRow.case_path == case_text, DeviceRow.exhibit == exhibit))
            if taken is not None:
                raise OpsError(f"exhibit {exhibit} of {case_text} is already device {show(DEVICE, taken.id)}")
        row = DeviceRow(
            visit_id=visit_row.id,
            description=description.strip() or (f"exhibit {exhibit}" if exhibit else "device"),
            disposition=disposition,
            reason=(reason or "").strip() or None,
            case_path=case_text,
            exhibit=exhibit,
            recorded_by=actor.name,
            recorded_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        device_id = show(DEVICE, row.id)
    store.log(
        actor,
        "device-added",
        visit=visit_id,
        device=device_id,
        disposition=disposition,
        case=case_text,
        exhibit=exhibit,
    )
    return device_id


def link_exhibit(store: OpsStore, actor: Actor, visit_id: str, case_path: Path, exhibit: str) -> str:
    """Link a triaged exhibit to the visit (``safenet triage --visit``): a previewed device unless one already
    names this exhibit. Returns the device id."""
    require(actor, DEVICES, "change")
    case_text = str(case_path.resolve())
    with store.session() as s:
        visit_row = get_visit(s, visit_id)
        row = s.scalar(select(DeviceRow).where(DeviceRow.case_path == case_text, DeviceRow.exhibit == exhibit))
        if row is not None:
            if row.visit_id != visit_row.id:
                raise OpsError(f"exhibit {exhibit} is linked to visit {show(VISIT, row.visit_id)}, not {visit_id}")
            return show(DEVICE, row.id)
    return add_device(store, actor, visit_id, f"exhibit {exhibit}", "previewed", None, case_path, exhibit)


def visit(store: OpsStore, actor: Actor, visit_id: str, *, read_cases: bool = True) -> VisitView:
    """A visit; ``read_cases``: its devices' verdicts and the corroboration, read from their cases."""
    require(actor, VISITS, "view")
    with store.session() as s:
        row = get_visit(s, visit_id)
        return _view(s, actor, row, read_cases=read_cases)


def visits(store: OpsStore, actor: Actor, *, week: str | None = None) -> list[VisitView]:
    """Visits planned or executed in an ISO week ("2026-W50"), or all (without reading their cases)."""
    from safenet.ops.figures import week_bounds

    require(actor, VISITS, "view")
    with store.session() as s:
        rows = list(s.scalars(select(VisitRow).order_by(VisitRow.planned_date, VisitRow.id)))
        if week is not None:
            start, end = week_bounds(week)
            rows = [r for r in rows if start <= (r.actual_date or r.planned_date) <= end]
        return [_view(s, actor, row, read_cases=False) for row in rows]


def split_warrant(warrant: str, power: str | None) -> tuple[str, str]:
    """``"S8 PACE 2026/431"`` → (``"S8 PACE"``, ``"2026/431"``): the last word is the reference, the rest the
    power, unless the power is given apart."""
    text = " ".join(warrant.split())
    if power is not None:
        return power.strip(), text
    head, _, last = text.rpartition(" ")
    return head, last


def get_visit(s: Session, visit_id: str) -> VisitRow:
    return row_of(s, VisitRow, VISIT, visit_id, f"there is no visit {visit_id}; `safenet ops visit list` shows them")


def _view(s: Session, actor: Actor, row: VisitRow, *, read_cases: bool = True) -> VisitView:
    lead_rows = list(
        s.scalars(select(LeadRow).join(VisitLeadRow).where(VisitLeadRow.visit_id == row.id).order_by(LeadRow.id))
    )
    devices: list[DeviceView] = []
    corroborations: list[Corroboration] = []
    if allowed(actor, DEVICES, "view"):
        for device in s.scalars(select(DeviceRow).where(DeviceRow.visit_id == row.id).order_by(DeviceRow.id)):
            verdict = None
            if read_cases and device.case_path and device.exhibit:
                verdict, found = _from_case(Path(device.case_path), device.exhibit, lead_rows)
                corroborations += found
            devices.append(
                DeviceView(
                    id=show(DEVICE, device.id),
                    description=device.description,
                    disposition=device.disposition,
                    reason=device.reason,
                    case_path=device.case_path,
                    exhibit=device.exhibit,
                    verdict=verdict,
                )
            )
    return VisitView(
        id=show(VISIT, row.id),
        lead_ids=tuple(show(LEAD, lead.id) for lead in lead_rows),
        subject_id=show(SUBJECT, row.subject_id) if row.subject_id is not None else None,
        warrant_power=row.warrant_power,
        warrant_ref=row.warrant_ref,
        issuing_court=row.issuing_court,
        warrant_date=row.warrant_date,
        planned_date=row.planned_date,
        actual_date=row.actual_date,
        team=row.team,
        address=row.address,
        status=row.status,
        approved_by=row.approved_by,
        devices=devices,
        corroborations=corroborations,
    )


def _from_case(case_path: Path, exhibit: str, leads: list[LeadRow]) -> tuple[ExhibitVerdict, list[Corroboration]]:
    """The exhibit's verdict and the leads' hashes found on it, read from the case (a case that cannot be read
    gives a verdict saying so, never an error: the visit is still shown)."""
    from safenet.case.onscene import exhibit_verdict, find_hash
    from safenet.case.store import Case, CaseError

    try:
        case = Case.open_existing(case_path)
    except CaseError as exc:
        return _unreadable(str(exc)), []
    try:
        found = exhibit_verdict(case, exhibit)
        links = [
            Corroboration(
                lead_id=show(LEAD, lead.id),
                observed_utc=lead.observed_utc.isoformat(),
                hash_kind=lead.hash_kind,
                hash_hex=lead.hash_hex,
                exhibit=exhibit,
                locator_display=hit.locator_display,
                kind=hit.kind,
            )
            for lead in leads
            for hit in find_hash(case, exhibit, lead.hash_kind, lead.hash_hex)
        ]
    except CaseError as exc:
        return _unreadable(str(exc)), []
    finally:
        case.close()
    return found, links


def _unreadable(problem: str) -> ExhibitVerdict:
    from safenet.case.onscene import ExhibitVerdict

    return ExhibitVerdict(hits=False, counts={}, time_to_first_hit=None, runs=0, status="unreadable", problem=problem)
