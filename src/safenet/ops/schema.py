"""The operation database's tables (SQLAlchemy; SQLite by default, PostgreSQL for a unit's server).

Stored names are part of the format: change them only through an Alembic revision in ``ops/migrations``.
Times are UTC-aware (the case's ``UTCDateTime``); calendar days (warrant, visit, court dates) are dates.
Rows about people and safeguarding carry a retention review date: the day someone must decide whether the
record is still needed for a law-enforcement purpose.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from safenet.case.schema import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, date: Date}


class SubjectRow(Base):
    """Leads about one subscriber address (an analyst entered it from the communications data returned)."""

    __tablename__ = "subjects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(Text)
    address_key: Mapped[str] = mapped_column(String(400), unique=True)  # normalised: the grouping key
    risk_level: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the force's, e.g. KIRAT "high"
    risk_reasons: Mapped[str | None] = mapped_column(Text, nullable=True)
    risk_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    risk_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]


SOURCE_MAX = 40  # characters of a lead's source name and reference (OpsStore checks every column's length on a write)
SOURCE_REF_MAX = 200


class LeadRow(Base):
    __tablename__ = "leads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX))  # cybertip | p2p | nca | ...
    source_ref: Mapped[str] = mapped_column(String(SOURCE_REF_MAX), index=True)
    observed_utc: Mapped[datetime]
    observed_text: Mapped[str] = mapped_column(Text)  # as the source wrote it
    observed_zone: Mapped[str] = mapped_column(String(60))
    ip: Mapped[str] = mapped_column(String(64), index=True)
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    isp: Mapped[str] = mapped_column(Text, default="")
    hash_hex: Mapped[str] = mapped_column(String(128), index=True)
    hash_kind: Mapped[str] = mapped_column(String(10))  # md5 | sha1 | sha256 | ed2k | btih | pdq
    file_name: Mapped[str] = mapped_column(Text, default="")
    client_id: Mapped[str] = mapped_column(Text, default="")
    observations: Mapped[int] = mapped_column(Integer, default=1)
    subscriber_address: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), nullable=True, index=True)
    origin: Mapped[str] = mapped_column(Text)  # file and line/element it was imported from
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime]


class VisitRow(Base):
    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), nullable=True)
    warrant_power: Mapped[str] = mapped_column(Text)  # e.g. "s.8 PACE"
    warrant_ref: Mapped[str] = mapped_column(String(200))
    issuing_court: Mapped[str] = mapped_column(Text, default="")
    warrant_date: Mapped[date | None] = mapped_column(nullable=True)
    planned_date: Mapped[date]
    actual_date: Mapped[date | None] = mapped_column(nullable=True)
    team: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))  # planned | approved | executed
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(nullable=True)


class VisitLeadRow(Base):
    __tablename__ = "visit_leads"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), primary_key=True)


class DeviceRow(Base):
    """A device found on a visit: seized, previewed on scene, or left (with the reason)."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("case_path", "exhibit", name="uq_device_exhibit"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    disposition: Mapped[str] = mapped_column(String(20))  # seized | previewed | left
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    case_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # the case folder, resolved
    exhibit: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]


class PersonRow(Base):
    """A suspect and his outcomes (restricted: ``people``)."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    arrested_on: Mapped[date | None] = mapped_column(nullable=True)
    interviewed_on: Mapped[date | None] = mapped_column(nullable=True)
    charged_on: Mapped[date | None] = mapped_column(nullable=True)
    offences: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{"offence": ..., "counts": n}]
    bail: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_court_on: Mapped[date | None] = mapped_column(nullable=True)
    retention_review_on: Mapped[date]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class SafeguardingRow(Base):
    """Children at a visit's address and the referral made (restricted: ``safeguarding``)."""

    __tablename__ = "safeguarding"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    children: Mapped[int] = mapped_column(Integer, default=0)
    referral_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    referral_on: Mapped[date | None] = mapped_column(nullable=True)
    retention_review_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]


class SettingRow(Base):
    """Editable texts of the unit (the public figures' safety advice)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
