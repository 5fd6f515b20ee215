"""This week's visits (or another week's), one visit (warrant, devices with their on-scene verdicts read from
the cases, lead-to-evidence corroboration, its people for a role that may see them), a supervisor's approval,
the warrant's execution, the devices found, and the devices awaiting lab work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from safenet.ops.access import APPROVAL, DEVICES, PEOPLE, VISITS, Actor
from safenet.ops.figures import week_bounds
from safenet.ops.ids import VISIT, parse
from safenet.ops.ids import show as display_id
from safenet.ops.people import people
from safenet.ops.store import OpsStore
from safenet.ops.visits import DISPOSITIONS, DeviceView, add_device, approve_visit, mark_executed, visit, visits
from safenet.ops.web.context import ops_context
from safenet.ops.web.guard import Asker, changing, viewing
from safenet.ops.web.render import iso_week, may, see_other, show, this_week
from safenet.ops.web.routes.forms import optional_text, required_date

router = APIRouter()


@dataclass(frozen=True, slots=True)
class LabDevice:
    visit_id: str
    visit_date: date
    address: str
    device: DeviceView


def awaiting_lab(store: OpsStore, actor: Actor) -> list[LabDevice]:
    """Seized devices with no exhibit linked yet: the lab's queue, oldest visit first."""
    waiting = [
        LabDevice(v.id, v.actual_date or v.planned_date, v.address, d)
        for v in visits(store, actor)
        for d in v.devices
        if d.disposition == "seized" and d.exhibit is None
    ]
    return sorted(waiting, key=lambda w: (w.visit_date, w.visit_id, w.device.id))


@router.get("/ops/visits")
def visits_page(
    request: Request,
    asker: Annotated[Asker, Depends(viewing(VISITS))],
    week: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    week = week or this_week(request)
    monday, _sunday = week_bounds(week)  # a wrong week is one sentence (OpsError → 400)
    return show(
        request,
        asker,
        "visits.html",
        week=week,
        previous=iso_week(monday - timedelta(days=7)),
        following=iso_week(monday + timedelta(days=7)),
        visits=visits(ops_context(request).store, asker.actor, week=week),
    )


@router.get("/ops/visits/{visit_id}")
def visit_page(request: Request, asker: Annotated[Asker, Depends(viewing(VISITS))], visit_id: str) -> Response:
    store = ops_context(request).store
    shown = visit(store, asker.actor, visit_id)
    # the people of the visit only for a role that may see them (the service audits the view)
    found = people(store, asker.actor, visit_id=shown.id) if may(asker.actor, PEOPLE) else None
    return show(request, asker, "visit.html", visit=shown, people=found, dispositions=DISPOSITIONS)


def _to_visit(visit_id: str) -> Response:
    """Back to the visit's page under its display id (the URL may have named it "v-7" or "7"); the change just
    made found the visit, and building its view here would read its cases once more than the page does."""
    return see_other(f"/ops/visits/{display_id(VISIT, parse(VISIT, visit_id))}")


@router.post("/ops/visits/{visit_id}/approve")
def approve(request: Request, asker: Annotated[Asker, Depends(changing(APPROVAL))], visit_id: str) -> Response:
    approve_visit(ops_context(request).store, asker.actor, visit_id)
    return _to_visit(visit_id)


@router.post("/ops/visits/{visit_id}/executed")
def executed(
    request: Request,
    asker: Annotated[Asker, Depends(changing(VISITS))],
    visit_id: str,
    actual_date: Annotated[str, Form(max_length=20)],
) -> Response:
    when = required_date(actual_date, "The date the warrant was executed")
    mark_executed(ops_context(request).store, asker.actor, visit_id, when)
    return _to_visit(visit_id)


@router.post("/ops/visits/{visit_id}/devices")
def device(
    request: Request,
    asker: Annotated[Asker, Depends(changing(DEVICES))],
    visit_id: str,
    description: Annotated[str, Form(max_length=500)],
    disposition: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """A device found on the visit (linking it to a case exhibit is ``safenet triage --visit``'s work)."""
    add_device(
        ops_context(request).store, asker.actor, visit_id, description.strip(), disposition, optional_text(reason)
    )
    return _to_visit(visit_id)


@router.get("/ops/lab")
def lab_page(request: Request, asker: Annotated[Asker, Depends(viewing(DEVICES))]) -> Response:
    return show(request, asker, "lab.html", devices=awaiting_lab(ops_context(request).store, asker.actor))
