"""Plain-text lines of the operation's views, for the command line (the web renders the same views itself).

The lines hold text from lead files and users as it is: the caller prints them as data (``console.plain``:
control characters escaped, no markup).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from safenet.ops.figures import WeeklyReport
from safenet.ops.people import PersonView
from safenet.ops.visits import VisitView

if TYPE_CHECKING:
    from safenet.case.onscene import ExhibitVerdict


def verdict_text(verdict: ExhibitVerdict | None) -> str:
    if verdict is None:
        return "no exhibit linked"
    if verdict.problem:
        return f"case not readable: {verdict.problem}"
    if verdict.runs == 0:
        return "not triaged yet"
    if not verdict.hits:
        return f"no hits ({verdict.status})"
    counts = ", ".join(f"{category}: {count}" for category, count in verdict.counts.items())
    first = f"; first hit after {_duration(verdict.time_to_first_hit)}" if verdict.time_to_first_hit else ""
    return f"HITS ({counts}){first} ({verdict.status})"


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def visit_lines(view: VisitView) -> list[str]:
    lines = [
        f"visit {view.id}  {view.status}" + (f" (approved by {view.approved_by})" if view.approved_by else ""),
        f"warrant: {view.warrant_power} {view.warrant_ref}"
        + (f", {view.issuing_court}" if view.issuing_court else "")
        + (f", issued {view.warrant_date}" if view.warrant_date else ""),
        f"planned {view.planned_date}" + (f", executed {view.actual_date}" if view.actual_date else ""),
        f"address: {view.address or 'not entered'}  subject: {view.subject_id or '-'}  team: {view.team or '-'}",
        f"leads: {', '.join(view.lead_ids)}",
    ]
    for device in view.devices:
        link = f" case {device.case_path} exhibit {device.exhibit}" if device.exhibit else ""
        why = f" ({device.reason})" if device.reason else ""
        lines.append(f"device {device.id}: {device.description}, {device.disposition}{why}{link}")
        if device.exhibit:
            lines.append(f"  on-scene verdict: {verdict_text(device.verdict)}")
    lines += [f"corroboration: {found.sentence()}" for found in view.corroborations]
    return lines


def person_lines(view: PersonView) -> list[str]:
    offences = "; ".join(f"{o.offence} x{o.counts}" for o in view.offences) or "-"
    within = {None: "not yet known", True: "met", False: "not met"}[view.court_within_four_weeks]
    return [
        f"person {view.id} (visit {view.visit_id}): {view.name}",
        f"arrested {view.arrested_on or '-'}, interviewed {view.interviewed_on or '-'}, "
        f"charged {view.charged_on or '-'}",
        f"offences: {offences}",
        f"bail: {view.bail or '-'}; first court date {view.first_court_on or '-'}",
        f"warrant to charge: {view.warrant_to_charge_days if view.warrant_to_charge_days is not None else '-'} "
        f"days; court within four weeks of charge: {within}",
        f"retention review due {view.retention_review_on}",
    ]


def report_lines(report: WeeklyReport) -> list[str]:
    lines = [
        f"operation report {report.week}",
        f"leads imported: {report.leads_imported}",
        f"visits planned: {', '.join(report.visits_planned) or 'none'}",
        f"visits executed: {', '.join(report.visits_executed) or 'none'}",
        f"devices: {report.devices_seized} seized, {report.devices_previewed} previewed, {report.devices_left} left",
        f"devices awaiting lab work: {', '.join(report.devices_awaiting_lab) or 'none'}",
        f"arrests: {report.arrests}; charged: {report.charged}",
    ]
    lines += [f"charging deadline: {line}" for line in report.charging_deadlines]
    lines += [f"court deadline: {line}" for line in report.court_deadlines]
    return lines
