"""People and outcomes, safeguarding, and the measures (restricted field groups ``people`` and ``safeguarding``).

Every view and every change of a person or safeguarding record is a line in the operation's audit log, with
who did it: the service function that reads or writes is the one that records it, so no caller can forget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from safenet.ops.access import Actor
from safenet.ops.store import OpsStore

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


def add_person(store: OpsStore, actor: Actor, visit_id: str, name: str) -> str:
    raise NotImplementedError


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
    raise NotImplementedError


def person(store: OpsStore, actor: Actor, person_id: str) -> PersonView:
    raise NotImplementedError


def people(store: OpsStore, actor: Actor, visit_id: str | None = None) -> list[PersonView]:
    raise NotImplementedError


def set_retention_review(store: OpsStore, actor: Actor, person_id: str, on: date) -> None:
    raise NotImplementedError


def record_safeguarding(
    store: OpsStore,
    actor: Actor,
    visit_id: str,
    *,
    children: int,
    referral_to: str | None = None,
    referral_on: date | None = None,
) -> None:
    raise NotImplementedError


def safeguarding(store: OpsStore, actor: Actor, visit_id: str) -> SafeguardingView | None:
    raise NotImplementedError


def parse_offence(text: str) -> Offence:
    """``"OFFENCE=COUNTS"`` (counts default 1); a wrong count is one sentence."""
    raise NotImplementedError
