"""People and outcomes, safeguarding, the charging and court deadlines, and the supervisor's weekly report
(restricted field groups: the service functions audit every view and change of these records)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from safenet.ops.access import PEOPLE, SAFEGUARDING, Actor
from safenet.ops.figures import weekly_report
from safenet.ops.people import (
    Deadline,
    Offence,
    add_person,
    deadlines,
    people,
    record_outcome,
    record_safeguarding,
    safeguarding_records,
)
from safenet.ops.store import OpsStore
from safenet.ops.visits import visits
from safenet.ops.web.context import ops_context
from safenet.ops.web.guard import Asker, changing, viewing
from safenet.ops.web.render import see_other, show, this_week
from safenet.ops.web.routes.forms import count, optional_date, optional_text

router = APIRouter()


def deadlines_of(store: OpsStore, actor: Actor) -> list[Deadline]:
    """The charging and court deadlines of every person (the view of the people is audited)."""
    return deadlines(people(store, actor))


@router.get("/ops/people")
def people_page(request: Request, asker: Annotated[Asker, Depends(viewing(PEOPLE))]) -> Response:
    return show(request, asker, "people.html", people=people(ops_context(request).store, asker.actor))


@router.get("/ops/deadlines")
def deadlines_page(request: Request, asker: Annotated[Asker, Depends(viewing(PEOPLE))]) -> Response:
    return show(request, asker, "deadlines.html", deadlines=deadlines_of(ops_context(request).store, asker.actor))


@router.post("/ops/visits/{visit_id}/people")
def new_person(
    request: Request,
    asker: Annotated[Asker, Depends(changing(PEOPLE))],
    visit_id: str,
    name: Annotated[str, Form(max_length=200)],
) -> Response:
    add_person(ops_context(request).store, asker.actor, visit_id, name.strip())
    return see_other("/ops/people")


@router.post("/ops/people/{person_id}/outcome")
def outcome(
    request: Request,
    asker: Annotated[Asker, Depends(changing(PEOPLE))],
    person_id: str,
    arrested_on: Annotated[str, Form(max_length=20)] = "",
    interviewed_on: Annotated[str, Form(max_length=20)] = "",
    charged_on: Annotated[str, Form(max_length=20)] = "",
    offence: Annotated[str, Form(max_length=500)] = "",
    counts: Annotated[str, Form(max_length=6)] = "",
    bail: Annotated[str, Form(max_length=500)] = "",
    first_court_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    offences = [Offence(offence.strip(), count(counts, "The number of counts", 1))] if offence.strip() else None
    record_outcome(
        ops_context(request).store,
        asker.actor,
        person_id,
        arrested_on=optional_date(arrested_on, "The arrest date"),
        interviewed_on=optional_date(interviewed_on, "The interview date"),
        charged_on=optional_date(charged_on, "The charge date"),
        offences=offences,
        bail=optional_text(bail),
        first_court_on=optional_date(first_court_on, "The first court date"),
    )
    return see_other("/ops/people")


@router.get("/ops/safeguarding")
def safeguarding_page(request: Request, asker: Annotated[Asker, Depends(viewing(SAFEGUARDING))]) -> Response:
    store = ops_context(request).store
    shown = visits(store, asker.actor)
    rows = list(zip(shown, safeguarding_records(store, asker.actor, [v.id for v in shown]), strict=True))
    return show(request, asker, "safeguarding.html", rows=rows)


@router.post("/ops/visits/{visit_id}/safeguarding")
def record(
    request: Request,
    asker: Annotated[Asker, Depends(changing(SAFEGUARDING))],
    visit_id: str,
    children: Annotated[str, Form(max_length=6)],
    referral_to: Annotated[str, Form(max_length=500)] = "",
    referral_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    record_safeguarding(
        ops_context(request).store,
        asker.actor,
        visit_id,
        children=count(children, "The number of children", 0),
        referral_to=optional_text(referral_to),
        referral_on=optional_date(referral_on, "The referral date"),
    )
    return see_other("/ops/safeguarding")


@router.get("/ops/report")
def report_page(
    request: Request,
    asker: Annotated[Asker, Depends(viewing(PEOPLE))],
    week: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    week = week or this_week(request)
    return show(request, asker, "report.html", report=weekly_report(ops_context(request).store, asker.actor, week))
