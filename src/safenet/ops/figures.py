"""Public figures: aggregate counts for a period, small numbers suppressed, with the force's safety advice.

Nothing personal leaves here: no name, address, case reference or date finer than the period. Any count
from 1 to 4 is shown as "fewer than 5" (a small count in a small area can identify a household); 0 is
shown as 0. The safety-advice text is an editable default (``figures_default.yaml``), overridden per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from safenet.ops.access import Actor
from safenet.ops.store import OpsStore

SUPPRESSED = "fewer than 5"


@dataclass(frozen=True, slots=True)
class PublicFigures:
    period: str  # "2026-W50" or "2026-12-07 to 2026-12-13"
    start: date
    end: date  # inclusive
    warrants_executed: int | str
    arrests: int | str
    charged: int | str
    children_safeguarded: int | str
    devices_examined: int | str
    safety_advice: str


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    """The supervisor's operation report for one week (not public: exact counts, ids)."""

    week: str
    leads_imported: int
    visits_planned: list[str]
    visits_executed: list[str]
    devices_seized: int
    devices_previewed: int
    devices_left: int
    devices_awaiting_lab: list[str]  # seized devices with no exhibit linked yet
    arrests: int
    charged: int
    charging_deadlines: list[str]  # one line per person arrested and not charged
    court_deadlines: list[str]  # one line per person charged whose first court date is missing or late


def suppress(count: int) -> int | str:
    return SUPPRESSED if 1 <= count <= 4 else count


def week_bounds(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week ("2026-W50"); a wrong week is one sentence."""
    raise NotImplementedError


def public_figures(
    store: OpsStore, *, week: str | None = None, start: date | None = None, end: date | None = None
) -> PublicFigures:
    raise NotImplementedError


def weekly_report(store: OpsStore, actor: Actor, week: str) -> WeeklyReport:
    raise NotImplementedError


def safety_advice(store: OpsStore) -> str:
    raise NotImplementedError


def set_safety_advice(store: OpsStore, actor: Actor, text: str) -> None:
    raise NotImplementedError


def write_figures(figures: PublicFigures, fmt: str, output: Path | None) -> str | None:
    """JSON to ``output`` or returned for printing; HTML and PDF through the dashboard's public page template."""
    raise NotImplementedError
