"""The dashboard's first page: the parts of the operation the user's role may see, each in brief."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from safenet.ops.access import DEVICES, FIGURES, LEADS, PEOPLE, VISITS
from safenet.ops.figures import public_figures
from safenet.ops.leads import list_leads
from safenet.ops.subjects import subjects
from safenet.ops.visits import visits
from safenet.ops.web.context import ops_context
from safenet.ops.web.guard import Asker, viewing
from safenet.ops.web.render import may, show, this_week
from safenet.ops.web.routes.outcomes import deadlines_of
from safenet.ops.web.routes.visits import awaiting_lab

router = APIRouter()
QUEUE_SHOWN = 10


@router.get("/ops")
def dashboard(request: Request, asker: Annotated[Asker, Depends(viewing(FIGURES))]) -> Response:
    ctx, actor = ops_context(request), asker.actor
    store = ctx.store
    week = this_week(request)
    parts: dict[str, Any] = {"week": week, "figures": public_figures(store, week=week)}
    parts["queue"] = list_leads(store, actor)[:QUEUE_SHOWN] if may(actor, LEADS) else None
    parts["queue_subjects"] = subjects(store, actor, hashdb=ctx.hashdb)[:QUEUE_SHOWN] if may(actor, LEADS) else None
    parts["visits"] = visits(store, actor, week=week) if may(actor, VISITS) else None
    parts["lab"] = awaiting_lab(store, actor) if may(actor, DEVICES) else None
    parts["deadlines"] = deadlines_of(store, actor) if may(actor, PEOPLE) else None
    return show(request, asker, "dashboard.html", **parts)
