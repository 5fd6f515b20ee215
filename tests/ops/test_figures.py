"""Public figures: aggregate counts of a week, 1-4 suppressed as "fewer than 5", no personal data, the safety
advice an editable default; the supervisor's weekly report with its deadlines."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from safenet.ops.errors import OpsError
from safenet.ops.figures import SUPPRESSED, figures_json, public_figures, set_safety_advice, week_bounds, weekly_report
from safenet.ops.leads import LeadIn, set_subscriber, store_leads
from safenet.ops.people import Offence, add_person, record_outcome, record_safeguarding
from safenet.ops.store import OpsStore
from safenet.ops.visits import add_device, add_visit, approve_visit, mark_executed
from tests.ops.opsfixtures import ADMIN, ANALYST, EXAMINER, SUPERVISOR, ops

__all__ = ["ops"]
WEEK = "2026-W50"  # Monday 7 to Sunday 13 December 2026
ADDRESS = "1 Secret Lane, Hamlet"


def _operation(ops: OpsStore, visits: int, *, arrests: int, children: int) -> None:
    for n in range(1, visits + 1):
        when = datetime(2026, 12, 1, 21, n, tzinfo=UTC)
        store_leads(
            ops, ANALYST, [LeadIn("p2p", f"R{n}", when, "t", "UTC", f"203.0.113.{n}", None, f"{n:032x}", "md5", "t")]
        )
        set_subscriber(ops, ANALYST, f"L-{n}", f"{n} {ADDRESS}")
        add_visit(
            ops,
            ANALYST,
            lead_ids=[f"L-{n}"],
            warrant_power="s.8 PACE",
            warrant_ref=f"2026/{n}",
            planned_date=date(2026, 12, 8),
        )
        approve_visit(ops, SUPERVISOR, f"V-{n}")
        mark_executed(ops, ANALYST, f"V-{n}", date(2026, 12, 8))
        add_device(ops, EXAMINER, f"V-{n}", "laptop", "seized")
        if n <= arrests:
            person = add_person(ops, ANALYST, f"V-{n}", f"Suspect Name {n}")
            record_outcome(ops, ANALYST, person, arrested_on=date(2026, 12, 8))
    if children:
        record_safeguarding(ops, SUPERVISOR, "V-1", children=children, referral_to="CSC", referral_on=date(2026, 12, 9))


def test_week_bounds() -> None:
    assert week_bounds("2026-W50") == (date(2026, 12, 7), date(2026, 12, 13))
    assert week_bounds("2026-w01") == (date(2025, 12, 29), date(2026, 1, 4))
    for wrong in ("2026-50", "2026-W54", "W50", "\u0662\u0660\u0662\u0666-W50"):  # Arabic-Indic digits: isdigit()
        with pytest.raises(OpsError, match=r"ISO week|is not a week"):
            week_bounds(wrong)


def test_small_counts_are_suppressed_and_nothing_personal_is_published(ops: OpsStore) -> None:
    _operation(ops, 6, arrests=2, children=3)
    figures = public_figures(ops, week=WEEK)
    assert (figures.warrants_executed, figures.devices_examined) == (6, 6)
    assert figures.arrests == SUPPRESSED and figures.children_safeguarded == SUPPRESSED
    assert figures.charged == 0  # none is none, not suppressed
    assert "Stop It Now" in figures.safety_advice
    text = figures_json(figures)
    data = json.loads(text)
    assert set(data) == {
        "period",
        "start",
        "end",
        "warrants_executed",
        "arrests",
        "charged",
        "children_safeguarded",
        "devices_examined",
        "safety_advice",
    }
    for personal in ("Secret Lane", "Suspect", "203.0.113", "2026/", "L-1", "V-1", "P-1"):
        assert personal not in text
    quiet = public_figures(ops, week="2026-W51")
    assert (quiet.warrants_executed, quiet.arrests) == (0, 0)


def test_the_safety_advice_is_editable(ops: OpsStore) -> None:
    set_safety_advice(ops, ADMIN, "Get help: call the helpline.")
    assert public_figures(ops, week=WEEK).safety_advice == "Get help: call the helpline."


def test_weekly_report_lists_deadlines(ops: OpsStore) -> None:
    _operation(ops, 2, arrests=2, children=0)
    record_outcome(ops, ANALYST, "P-2", charged_on=date(2026, 12, 10), offences=[Offence("s.1 PCA 1978 making", 3)])
    report = weekly_report(ops, SUPERVISOR, WEEK)
    assert report.visits_executed == ["V-1", "V-2"] and report.devices_seized == 2
    assert report.devices_awaiting_lab == ["D-1", "D-2"]  # seized, no exhibit linked yet
    assert report.charging_deadlines == ["P-1 arrested 2026-12-08, not charged"]
    assert report.court_deadlines == ["P-2 charged 2026-12-10: court due by 2027-01-07, no date yet"]
    assert (report.arrests, report.charged, report.leads_imported) == (2, 1, 0)
