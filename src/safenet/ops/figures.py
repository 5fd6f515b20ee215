"""Public figures: aggregate counts for a period, small numbers suppressed, with the force's safety advice.

Nothing personal leaves here: no name, address, case reference or date finer than the period. Any count
from 1 to 4 is shown as "fewer than 5" (a small count in a small area can identify a household); 0 is
shown as 0. The safety-advice text is an editable default (``figures_default.yaml``), overridden per unit.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy import func, select

from safenet.ops.access import FIGURES, PEOPLE, VISITS, Actor, allowed, require
from safenet.ops.errors import OpsError
from safenet.ops.ids import DEVICE, VISIT, show
from safenet.ops.people import deadlines, people
from safenet.ops.schema import DeviceRow, LeadRow, PersonRow, SafeguardingRow, SettingRow, VisitRow
from safenet.ops.store import OpsStore

SUPPRESSED = "fewer than 5"
ADVICE_KEY = "safety_advice"


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
    year, sep, number = week.strip().upper().partition("-W")
    # isascii: str.isdigit() and int() also take other scripts' digits, which would reach the PDF's file name header
    if not sep or not (year + number).isascii() or not year.isdigit() or not number.isdigit():
        raise OpsError(f"{week!r} is not an ISO week; write it as YYYY-Www, e.g. 2026-W50")
    try:
        start = date.fromisocalendar(int(year), int(number), 1)
    except ValueError as exc:
        raise OpsError(f"{week!r} is not a week of {year} (weeks run 1 to 52 or 53)") from exc
    return start, start + timedelta(days=6)


def _period(week: str | None, start: date | None, end: date | None) -> tuple[str, date, date]:
    if week is not None:
        first, last = week_bounds(week)
        return week.strip().upper(), first, last
    if start is None or end is None or end < start:
        raise OpsError("give a week (2026-W50), or a start and an end date with the end not before the start")
    return f"{start.isoformat()} to {end.isoformat()}", start, end


def counts(store: OpsStore, start: date, end: date) -> dict[str, int]:
    """The period's exact totals (unsuppressed): what the public figures and the weekly report are made of."""
    with store.session() as s:
        executed = s.scalar(select(func.count(VisitRow.id)).where(VisitRow.actual_date.between(start, end))) or 0
        arrests = s.scalar(select(func.count(PersonRow.id)).where(PersonRow.arrested_on.between(start, end))) or 0
        charged = s.scalar(select(func.count(PersonRow.id)).where(PersonRow.charged_on.between(start, end))) or 0
        children = (
            s.scalar(select(func.sum(SafeguardingRow.children)).where(SafeguardingRow.referral_on.between(start, end)))
            or 0
        )
        devices = (
            s.scalar(
                select(func.count(DeviceRow.id))
                .join(VisitRow, VisitRow.id == DeviceRow.visit_id)
                .where(DeviceRow.disposition != "left", VisitRow.actual_date.between(start, end))
            )
            or 0
        )
    return {
        "warrants_executed": int(executed),
        "arrests": int(arrests),
        "charged": int(charged),
        "children_safeguarded": int(children),
        "devices_examined": int(devices),
    }


def public_figures(
    store: OpsStore, *, week: str | None = None, start: date | None = None, end: date | None = None
) -> PublicFigures:
    """Aggregate counts only, each count of 1 to 4 suppressed; no actor needed: every role may see them."""
    period, first, last = _period(week, start, end)
    totals = counts(store, first, last)
    return PublicFigures(
        period=period,
        start=first,
        end=last,
        warrants_executed=suppress(totals["warrants_executed"]),
        arrests=suppress(totals["arrests"]),
        charged=suppress(totals["charged"]),
        children_safeguarded=suppress(totals["children_safeguarded"]),
        devices_examined=suppress(totals["devices_examined"]),
        safety_advice=safety_advice(store),
    )


def figures_json(figures: PublicFigures) -> str:
    data = asdict(figures)
    data["start"] = figures.start.isoformat()
    data["end"] = figures.end.isoformat()
    return json.dumps(data, indent=2, ensure_ascii=False)


def write_figures(figures: PublicFigures, fmt: str, output: Path | None) -> str | None:
    """JSON to ``output`` or returned for printing; HTML and PDF through the dashboard's public page template."""
    if fmt == "json":
        text = figures_json(figures)
        if output is None:
            return text
        output.write_text(text + "\n", encoding="utf-8")
        return f"public figures written to {output}"
    if fmt not in ("html", "pdf"):
        raise OpsError(f"unknown format {fmt!r}; choose json, html or pdf")
    if output is None:
        raise OpsError(f"--format {fmt} needs --output FILE")
    try:
        page = importlib.import_module("safenet.ops.web.publicfigures")
    except ImportError as exc:
        raise OpsError(f"--format {fmt} needs the operation dashboard's page, which this installation lacks") from exc
    page.write(figures, fmt, output)
    return f"public figures written to {output}"


def weekly_report(store: OpsStore, actor: Actor, week: str) -> WeeklyReport:
    """The supervisor's report: exact counts and ids (not public), deadlines to chase."""
    require(actor, VISITS, "view")
    start, end = week_bounds(week)
    totals = counts(store, start, end)
    with store.session() as s:
        visits = list(s.scalars(select(VisitRow).order_by(VisitRow.id)))
        devices = list(s.scalars(select(DeviceRow).order_by(DeviceRow.id)))
        leads = (
            s.scalar(
                select(func.count(LeadRow.id)).where(
                    LeadRow.imported_at.between(
                        datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)
                    )
                )
            )
            or 0
        )
    executed = {v.id for v in visits if v.actual_date and start <= v.actual_date <= end}
    in_week = [d for d in devices if d.visit_id in executed]
    due = deadlines(people(store, actor)) if allowed(actor, PEOPLE) else []  # people() audits the view
    charging = [f"{d.person.id} arrested {d.since}, not charged" for d in due if d.kind == "charge"]
    court = [
        f"{d.person.id} charged {d.since}: court due by {d.due}, no date yet"
        if d.person.first_court_on is None
        else f"{d.person.id}: first court {d.person.first_court_on}, after {d.due}"
        for d in due
        if d.kind == "court"
    ]
    return WeeklyReport(
        week=week.strip().upper(),
        leads_imported=int(leads),
        visits_planned=[show(VISIT, v.id) for v in visits if start <= v.planned_date <= end],
        visits_executed=[show(VISIT, v) for v in sorted(executed)],
        devices_seized=sum(d.disposition == "seized" for d in in_week),
        devices_previewed=sum(d.disposition == "previewed" for d in in_week),
        devices_left=sum(d.disposition == "left" for d in in_week),
        devices_awaiting_lab=[show(DEVICE, d.id) for d in devices if d.disposition == "seized" and not d.exhibit],
        arrests=totals["arrests"],
        charged=totals["charged"],
        charging_deadlines=charging,
        court_deadlines=court,
    )


def safety_advice(store: OpsStore) -> str:
    """The unit's safety-advice text, else the default in ``figures_default.yaml``."""
    with store.session() as s:
        row = s.get(SettingRow, ADVICE_KEY)
    if row is not None:
        return row.value
    import yaml

    raw = yaml.safe_load(resources.files("safenet.ops").joinpath("figures_default.yaml").read_text(encoding="utf-8"))
    return str(raw["safety_advice"])


def set_safety_advice(store: OpsStore, actor: Actor, text: str) -> None:
    require(actor, FIGURES, "change")
    if not text.strip():
        raise OpsError("the safety advice cannot be empty")
    with store.session() as s:
        row = s.get(SettingRow, ADVICE_KEY)
        if row is None:
            s.add(SettingRow(key=ADVICE_KEY, value=text.strip()))
        else:
            row.value = text.strip()
    store.log(actor, "safety-advice-set", text=text.strip())
