"""Visits: a warrant executed at an address, the devices found there, and what the examination showed.

A device previewed or seized is linked to a case exhibit (``case_path`` + ``exhibit``). The on-scene verdict
and the lead-to-evidence corroboration are read from the case each time a visit is shown: the case is the
source of truth, the operation database stores only the link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from safenet.ops.access import Actor
from safenet.ops.store import OpsStore

DISPOSITIONS = ("seized", "previewed", "left")
STATUSES = ("planned", "approved", "executed")


@dataclass(frozen=True, slots=True)
class OnSceneVerdict:
    """What the triage of one exhibit found, read from its case."""

    hits: bool
    counts: dict[str, int]  # hit items by category (A, B, C, uncategorised ...)
    time_to_first_hit: timedelta | None  # from the run's start to the first hit item recorded
    runs: int
    status: str  # the last run's status (complete, stopped-at-first-hit ...)
    problem: str | None = None  # the case could not be read: one sentence


@dataclass(frozen=True, slots=True)
class DeviceView:
    id: str  # "D-4"
    description: str
    disposition: str  # seized | previewed | left
    reason: str | None
    case_path: str | None
    exhibit: str | None
    verdict: OnSceneVerdict | None


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
    raise NotImplementedError


def approve_visit(store: OpsStore, actor: Actor, visit_id: str) -> None:
    """A supervisor approves a planned visit."""
    raise NotImplementedError


def mark_executed(store: OpsStore, actor: Actor, visit_id: str, actual_date: date) -> None:
    raise NotImplementedError


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
    raise NotImplementedError


def link_exhibit(store: OpsStore, actor: Actor, visit_id: str, case_path: Path, exhibit: str) -> str:
    """Link a triaged exhibit to the visit (``safenet triage --visit``): a previewed device unless one already
    names this exhibit. Returns the device id."""
    raise NotImplementedError


def visit(store: OpsStore, actor: Actor, visit_id: str) -> VisitView:
    raise NotImplementedError


def visits(store: OpsStore, actor: Actor, *, week: str | None = None) -> list[VisitView]:
    """Visits planned or executed in an ISO week ("2026-W50"), or all."""
    raise NotImplementedError


def split_warrant(warrant: str, power: str | None) -> tuple[str, str]:
    """``"S8 PACE 2026/431"`` → (``"S8 PACE"``, ``"2026/431"``): the last word is the reference, the rest the
    power, unless the power is given apart."""
    raise NotImplementedError
