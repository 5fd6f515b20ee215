"""Least privilege per field group: every service function that touches people or safeguarding records refuses
the roles that may not, and every view and change of such a record is a line in the operation's audit log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from safenet.ops import people as P
from safenet.ops.access import CHANGE_GROUPS, FIELD_GROUPS, PEOPLE, SAFEGUARDING, Actor, require
from safenet.ops.disclosure import disclosed, disclosure, disclosure_file
from safenet.ops.errors import AccessDenied
from safenet.ops.figures import public_figures, set_safety_advice, weekly_report
from safenet.ops.leads import LeadIn, store_leads
from safenet.ops.store import OpsStore
from safenet.ops.visits import add_visit, approve_visit
from safenet.users import Role
from tests.ops.opsfixtures import ANALYST, SUPERVISOR, actor, ops

__all__ = ["ops"]

RESTRICTED: dict[str, Callable[[OpsStore, Actor], Any]] = {
    "add_person": lambda store, who: P.add_person(store, who, "V-1", "A Person"),
    "record_outcome": lambda store, who: P.record_outcome(store, who, "P-1", arrested_on=date(2026, 12, 9)),
    "person": lambda store, who: P.person(store, who, "P-1"),
    "people": lambda store, who: P.people(store, who),
    "set_retention_review": lambda store, who: P.set_retention_review(store, who, "P-1", date(2027, 1, 1)),
    "record_safeguarding": lambda store, who: P.record_safeguarding(store, who, "V-1", children=2),
    "safeguarding": lambda store, who: P.safeguarding(store, who, "V-1"),
    "due_for_review": lambda store, who: P.due_for_review(store, who, date(2030, 1, 1)),
}
GROUP = {name: SAFEGUARDING if "safeguarding" in name else PEOPLE for name in RESTRICTED}
ACTION = {"person": "view", "people": "view", "safeguarding": "view", "due_for_review": "view"}


@pytest.fixture
def visit_with_person(ops: OpsStore) -> OpsStore:
    from datetime import UTC, datetime

    when = datetime(2026, 12, 1, 21, tzinfo=UTC)
    lead = LeadIn("p2p", "R1", when, "x", "UTC", "203.0.113.1", None, "0" * 32, "md5", "test")
    store_leads(ops, ANALYST, [lead])
    add_visit(ops, ANALYST, lead_ids=["L-1"], warrant_power="s.8 PACE", warrant_ref="1", planned_date=date(2026, 12, 9))
    approve_visit(ops, SUPERVISOR, "V-1")
    P.add_person(ops, ANALYST, "V-1", "A Person")
    P.record_safeguarding(ops, SUPERVISOR, "V-1", children=1)
    return ops


@pytest.mark.parametrize("role", list(Role))
def test_people_and_safeguarding_functions_refuse_roles_without_the_right(
    visit_with_person: OpsStore, role: Role
) -> None:
    who = actor(role)
    for name, call in sorted(RESTRICTED.items()):
        table = FIELD_GROUPS if ACTION.get(name) == "view" else CHANGE_GROUPS
        before = len(visit_with_person.audit.entries())
        if role in table[GROUP[name]]:
            call(visit_with_person, who)
            assert len(visit_with_person.audit.entries()) > before, name  # done, and audited
        else:
            with pytest.raises(AccessDenied) as caught:
                call(visit_with_person, who)
            action = ACTION.get(name, "change")
            assert (
                str(caught.value)
                == f"{who.name} ({role.value}) may not {action} {GROUP[name]} records in the operation"
            )
            assert len(visit_with_person.audit.entries()) == before, name


def test_only_analyst_and_supervisor_see_people_and_safeguarding() -> None:
    assert FIELD_GROUPS[PEOPLE] == FIELD_GROUPS[SAFEGUARDING] == {Role.ANALYST, Role.SUPERVISOR}
    for group, roles in CHANGE_GROUPS.items():
        assert roles <= FIELD_GROUPS[group], group  # no one changes what he may not see
    with pytest.raises(AccessDenied):
        require(actor(Role.ADMIN), PEOPLE, "view")  # administering the installation is no reason to read them


def test_views_and_changes_of_people_and_safeguarding_are_audited(visit_with_person: OpsStore) -> None:
    ops = visit_with_person
    P.record_outcome(ops, ANALYST, "P-1", arrested_on=date(2026, 12, 9), charged_on=date(2026, 12, 20))
    seen = P.person(ops, SUPERVISOR, "P-1")
    assert seen.arrested_on == date(2026, 12, 9)
    P.safeguarding(ops, SUPERVISOR, "V-1")
    entries = [(e["event"], e["data"].get("user"), e["data"].get("role")) for e in ops.audit.entries()]
    assert ("person-added", ANALYST.name, "analyst") in entries
    assert ("safeguarding-changed", SUPERVISOR.name, "supervisor") in entries
    assert ("person-changed", ANALYST.name, "analyst") in entries
    assert ("person-viewed", SUPERVISOR.name, "supervisor") in entries
    assert ("safeguarding-viewed", SUPERVISOR.name, "supervisor") in entries
    changed = next(e for e in ops.audit.entries() if e["event"] == "person-changed")["data"]
    assert changed["person"] == "P-1" and changed["fields"] == ["arrested_on", "charged_on"]
    assert ops.audit.verify().ok


def test_records_carry_a_retention_review_date(visit_with_person: OpsStore) -> None:
    seen = P.person(visit_with_person, ANALYST, "P-1")
    assert (seen.retention_review_on - date.today()).days == P.RETENTION_DAYS
    P.set_retention_review(visit_with_person, SUPERVISOR, "P-1", date(2027, 6, 1))
    assert P.person(visit_with_person, ANALYST, "P-1").retention_review_on == date(2027, 6, 1)
    record = P.safeguarding(visit_with_person, ANALYST, "V-1")
    assert record is not None and (record.retention_review_on - date.today()).days == P.RETENTION_DAYS
    assert P.due_for_review(visit_with_person, SUPERVISOR, date(2027, 6, 1)) == [("person", "P-1", date(2027, 6, 1))]
    later = date.today() + timedelta(days=P.RETENTION_DAYS)
    assert [kind for kind, _, _ in P.due_for_review(visit_with_person, SUPERVISOR, later)] == ["person", "safeguarding"]


def test_a_viewer_sees_only_the_figures(visit_with_person: OpsStore) -> None:
    viewer = actor(Role.VIEWER)
    assert public_figures(visit_with_person, week="2026-W50").period == "2026-W50"
    for refused in (
        lambda: weekly_report(visit_with_person, viewer, "2026-W50"),
        lambda: disclosure(visit_with_person, viewer, lead_id="L-1"),
        lambda: set_safety_advice(visit_with_person, viewer, "x"),
    ):
        with pytest.raises(AccessDenied):
            refused()


def test_disclosure_export_holds_what_is_kept_and_is_audited(visit_with_person: OpsStore) -> None:
    out = disclosure(visit_with_person, SUPERVISOR, lead_id="L-1")
    assert [lead["id"] for lead in out["leads"]] == ["L-1"]
    assert [v["id"] for v in out["visits"]] == ["V-1"]
    assert [p["name"] for p in out["people"]] == ["A Person"]
    assert out["safeguarding"][0]["children"] == 1
    assert {e["event"] for e in out["audit"]} >= {"visit-added", "person-added"}
    assert visit_with_person.audit.entries()[-1]["event"] != "disclosure-exported"  # built, not yet handed over
    export = disclosure_file(visit_with_person, SUPERVISOR, lead_id="L-1")
    disclosed(visit_with_person, SUPERVISOR, "L-1", export, "/media/disclosure.json")
    line = visit_with_person.audit.entries()[-1]
    assert line["event"] == "disclosure-exported"
    assert line["data"] == {
        "user": SUPERVISOR.name,
        "role": SUPERVISOR.role.value,
        "about": "L-1",
        "to": "/media/disclosure.json",
        "sha256": hashlib.sha256(export.encode()).hexdigest(),
    }


def test_a_view_of_many_safeguarding_records_is_one_audit_line(visit_with_person: OpsStore) -> None:
    # each audit line is locked, flushed and signed: a page or an export of n visits is one view, not n lines
    ops = visit_with_person
    add_visit(ops, ANALYST, lead_ids=["L-1"], warrant_power="s.8 PACE", warrant_ref="2", planned_date=date(2026, 12, 9))
    before = len(ops.audit.entries())
    exported = disclosure(ops, SUPERVISOR, lead_id="L-1")
    assert [r["visit_id"] for r in exported["safeguarding"]] == ["V-1"]
    viewed = [e["data"] for e in ops.audit.entries()[before:] if e["event"] == "safeguarding-viewed"]
    assert len(viewed) == 1 and viewed[0]["visits"] == ["V-1", "V-2"] and viewed[0]["found"] == ["V-1"]


def test_safeguarding_records_of_many_visits_take_two_queries_whatever_their_number(
    visit_with_person: OpsStore,
) -> None:
    """The visits and their records are read in one query each, not two per visit; an unknown visit is still
    one sentence."""
    from sqlalchemy import event

    from safenet.ops.errors import OpsError

    ops = visit_with_person
    for n in range(2, 7):
        add_visit(
            ops, ANALYST, lead_ids=["L-1"], warrant_power="s.8 PACE", warrant_ref=str(n), planned_date=date(2026, 12, 9)
        )
    P.record_safeguarding(ops, SUPERVISOR, "V-4", children=2)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(ops.engine, "before_cursor_execute", count)
    try:
        records = P.safeguarding_records(ops, SUPERVISOR, [f"V-{n}" for n in range(1, 7)])
    finally:
        event.remove(ops.engine, "before_cursor_execute", count)
    assert [r.visit_id if r else None for r in records] == ["V-1", None, None, "V-4", None, None]
    assert len(statements) == 2
    with pytest.raises(OpsError, match="there is no visit V-99"):
        P.safeguarding_records(ops, SUPERVISOR, ["V-1", "V-99"])
