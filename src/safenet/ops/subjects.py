"""Subjects: the leads about one subscriber address, with the force's risk assessment beside Safenet's signals.

The risk level and reasons are entered (e.g. the force's KIRAT outcome), never computed here; the signals are
derived facts a supervisor weighs: how many observations, which categories of known material the leads'
hashes are in, how recent the last observation is, and whether children were recorded at the address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from safenet.ops.access import Actor
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


def subject(store: OpsStore, actor: Actor, subject_id: str) -> SubjectView:
    raise NotImplementedError


def subjects(store: OpsStore, actor: Actor) -> list[SubjectView]:
    """Every subject, by priority: entered risk level, then observations, then most recent."""
    raise NotImplementedError


def set_risk(store: OpsStore, actor: Actor, subject_id: str, level: str, reasons: str) -> None:
    """Enter the force's risk assessment of a subject (level and reasons); audited."""
    raise NotImplementedError
