"""The charging summary as a PDF, for any logged-in user (a document of counts: no image content).

It goes through the same service as ``safenet report --format pdf``: written into the case's reports/
folder (owner-only) and audited as "report-written", then served.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from safenet.report.writers import write_report
from safenet.web.auth import WebSession, logged_in, page_session
from safenet.web.context import web_context

router = APIRouter()


@router.get("/reports/charging.pdf")
def charging_pdf(request: Request, session: Annotated[WebSession, Depends(page_session)]) -> Response:
    logged_in(session)
    path = write_report(web_context(request).case, "pdf")
    return FileResponse(path, media_type="application/pdf", filename="charging-summary.pdf")
