"""Leads: what intelligence observed (an IP address sharing or uploading a file with a known hash, at a time).

Imported from NCMEC CyberTipline reports (``ops.cybertip``) or from CSV with a YAML column mapping
(``ops.csvimport``). Duplicate leads are merged, their observation counts summed: the same source reference
from the same source, or the same hash, IP address and observation time. Leads are grouped into subjects by
subscriber address only (entered by an analyst once communications data is returned): an IP address is
shared and reassigned, so leads about the same IP address are not assumed to be about the same household.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from safenet.ops.access import LEADS, Actor, require
from safenet.ops.errors import ImportFailed, OpsError
from safenet.ops.ids import LEAD, SUBJECT, row_of, show
from safenet.ops.schema import LeadRow, SubjectRow
from safenet.ops.store import OpsStore


@dataclass(frozen=True, slots=True)
class LeadView:
    id: str  # "L-12"
    source: str
    source_ref: str
    observed_utc: datetime
    observed_text: str
    observed_zone: str
    ip: str
    port: int | None
    isp: str
    hash_hex: str
    hash_kind: str
    file_name: str
    client_id: str
    observations: int
    subscriber_address: str | None
    subject_id: str | None  # "S-3"


@dataclass(frozen=True, slots=True)
class LeadIn:
    """One lead as a parser read it, before it is stored (``origin``: the file and line or element)."""

    source: str
    source_ref: str
    observed_utc: datetime
    observed_text: str
    observed_zone: str
    ip: str
    port: int | None
    hash_hex: str
    hash_kind: str
    origin: str
    isp: str = ""
    file_name: str = ""
    client_id: str = ""
    observations: int = 1


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: list[str] = field(default_factory=list)  # lead ids
    merged: list[str] = field(default_factory=list)  # leads (old or just added) that duplicates were merged into
    warnings: list[str] = field(default_factory=list)  # one sentence each, with the element or line


def import_cybertip(store: OpsStore, actor: Actor, path: Path) -> ImportResult:
    """Import an NCMEC CyberTipline report file (XML); see ``ops.cybertip`` for the elements read."""
    from safenet.ops.cybertip import read_cybertip

    require(actor, LEADS, "change")
    leads, warnings = read_cybertip(path)
    result = store_leads(store, actor, leads, origin=path)
    return ImportResult(result.added, result.merged, warnings + result.warnings)


def import_csv(store: OpsStore, actor: Actor, path: Path, mapping_yaml: Path, source: str) -> ImportResult:
    """Import a CSV with a YAML column mapping; an error is one sentence naming the line (``ImportFailed``)."""
    from safenet.ops.csvimport import read_csv

    require(actor, LEADS, "change")
    return store_leads(store, actor, read_csv(path, mapping_yaml, source), origin=path)


def store_leads(store: OpsStore, actor: Actor, leads: list[LeadIn], *, origin: Path | None = None) -> ImportResult:
    """Add parsed leads, merging duplicates (same source and reference, or same hash + IP + time)."""
    require(actor, LEADS, "change")
    added: list[int] = []
    merged: list[int] = []
    now = datetime.now(UTC)
    with store.session() as s:
        for lead in leads:
            same = and_(
                LeadRow.hash_kind == lead.hash_kind,
                LeadRow.hash_hex == lead.hash_hex,
                LeadRow.ip == lead.ip,
                LeadRow.observed_utc == lead.observed_utc,
            )
            if lead.source_ref:  # a row without a reference is matched only by what was observed
                same = or_(same, and_(LeadRow.source == lead.source, LeadRow.source_ref == lead.source_ref))
            row = s.scalar(select(LeadRow).where(same).order_by(LeadRow.id).limit(1))
            if row is not None:
                row.observations += lead.observations
                if row.id not in merged:
                    merged.append(row.id)
                continue
            row = LeadRow(
                source=lead.source,
                source_ref=lead.source_ref,
                observed_utc=lead.observed_utc,
                observed_text=lead.observed_text,
                observed_zone=lead.observed_zone,
                ip=lead.ip,
                port=lead.port,
                isp=lead.isp,
                hash_hex=lead.hash_hex,
                hash_kind=lead.hash_kind,
                file_name=lead.file_name,
                client_id=lead.client_id,
                observations=lead.observations,
                origin=lead.origin,
                imported_by=actor.name,
                imported_at=now,
            )
            s.add(row)
            try:
                s.flush()
            except OpsError as exc:  # a value longer than its column (the store's check): the whole file is refused
                raise ImportFailed(f"{lead.origin}: {exc}") from exc
            added.append(row.id)
    store.log(
        actor,
        "leads-imported",
        file=str(origin) if origin else None,
        file_sha256=_sha256(origin) if origin else None,
        added=[show(LEAD, i) for i in added],
        merged=[show(LEAD, i) for i in merged],
    )
    return ImportResult([show(LEAD, i) for i in added], [show(LEAD, i) for i in merged], [])


def list_leads(store: OpsStore, actor: Actor, *, order: str = "priority") -> list[LeadView]:
    """Every lead; ``priority``: by subject risk level, then observations, then newest; ``time``: newest first."""
    from safenet.ops.subjects import risk_rank

    require(actor, LEADS, "view")
    if order not in ("priority", "time"):
        raise OpsError(f"unknown order {order!r}; choose priority or time")
    with store.session() as s:
        rows = list(s.execute(select(LeadRow, SubjectRow.risk_level).outerjoin(SubjectRow)).all())
    if order == "time":
        rows.sort(key=lambda r: (r[0].observed_utc, r[0].id), reverse=True)
    else:
        rows.sort(key=lambda r: (risk_rank(r[1]), -r[0].observations, -r[0].observed_utc.timestamp(), r[0].id))
    return [lead_view(row) for row, _ in rows]


def lead(store: OpsStore, actor: Actor, lead_id: str) -> LeadView:
    require(actor, LEADS, "view")
    with store.session() as s:
        return lead_view(get_lead(s, lead_id))


def set_subscriber(store: OpsStore, actor: Actor, lead_id: str, address: str) -> str:
    """Enter the subscriber address returned for a lead; groups it into the subject of that address
    (made on first use). Returns the subject id ("S-3")."""
    require(actor, LEADS, "change")
    address = " ".join(address.split())
    if not address:
        raise OpsError("the subscriber address is empty; give the address the communications data returned")
    key = address_key(address)
    with store.session() as s:
        row = get_lead(s, lead_id)
        subject = s.scalar(select(SubjectRow).where(SubjectRow.address_key == key))
        if subject is None:
            subject = SubjectRow(address=address, address_key=key, created_at=datetime.now(UTC))
            s.add(subject)
            s.flush()
        row.subscriber_address = address
        row.subject_id = subject.id
        subject_id = show(SUBJECT, subject.id)
    store.log(actor, "lead-subscriber-set", lead=show(LEAD, row.id), subject=subject_id)
    return subject_id


def address_key(address: str) -> str:
    """The grouping key of an address: case, commas and spacing do not make another household."""
    return " ".join(address.casefold().replace(",", " ").split())


def get_lead(s: Session, lead_id: str) -> LeadRow:
    return row_of(s, LeadRow, LEAD, lead_id, f"there is no lead {lead_id}; `safenet ops leads list` shows them")


def lead_view(row: LeadRow) -> LeadView:
    return LeadView(
        id=show(LEAD, row.id),
        source=row.source,
        source_ref=row.source_ref,
        observed_utc=row.observed_utc,
        observed_text=row.observed_text,
        observed_zone=row.observed_zone,
        ip=row.ip,
        port=row.port,
        isp=row.isp,
        hash_hex=row.hash_hex,
        hash_kind=row.hash_kind,
        file_name=row.file_name,
        client_id=row.client_id,
        observations=row.observations,
        subscriber_address=row.subscriber_address,
        subject_id=show(SUBJECT, row.subject_id) if row.subject_id is not None else None,
    )


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
