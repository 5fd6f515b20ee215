"""The public figures of a week (aggregate only, small numbers suppressed, the force's safety advice) as a
page and as a PDF, and the supervisor's or admin's edit of the safety-advice text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from safenet.ops.access import FIGURES
from safenet.ops.figures import public_figures, set_safety_advice
from safenet.ops.web.context import ops_context
from safenet.ops.web.guard import Asker, changing, viewing
from safenet.ops.web.publicfigures import figure_rows, figures_pdf
from safenet.ops.web.render import see_other, show, this_week

router = APIRouter()
Week = Annotated[str | None, Query(max_length=10)]


@router.get("/ops/figures")
def figures_page(request: Request, asker: Annotated[Asker, Depends(viewing(FIGURES))], week: Week = None) -> Response:
    week = week or this_week(request)
    figures = public_figures(ops_context(request).store, week=week)
    return show(request, asker, "figures.html", figures=figures, rows=figure_rows(figures), week=week)


@router.get("/ops/figures.pdf")
def figures_pdf_file(
    request: Request, _asker: Annotated[Asker, Depends(viewing(FIGURES))], week: Week = None
) -> Response:
    figures = public_figures(ops_context(request).store, week=week or this_week(request))
    name = f"safenet-figures-{figures.period}.pdf".replace(" ", "_")
    return Response(
        figures_pdf(figures),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/ops/figures/advice")
def advice(
    request: Request,
    asker: Annotated[Asker, Depends(changing(FIGURES))],
    text: Annotated[str, Form(max_length=8000)],
) -> Response:
    set_safety_advice(ops_context(request).store, asker.actor, text.strip())
    return see_other("/ops/figures")
