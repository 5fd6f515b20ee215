"""The leads queue by priority (subjects with the entered risk level beside the derived signals), importing
a lead file, entering a subscriber address, a subject's risk assessment, and planning a visit.

An uploaded file is written under a fresh owner-only temporary folder, named after the browser's file name
reduced to plain characters (that name is attacker-controlled: never a path, but the import's one-sentence
errors name the file as the user knows it); the temporary folder is taken out of any message.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from safenet.ops.access import LEADS, VISITS
from safenet.ops.errors import ImportFailed, OpsError
from safenet.ops.leads import ImportResult, import_csv, import_cybertip, list_leads, set_subscriber
from safenet.ops.subjects import set_risk, subjects
from safenet.ops.visits import add_visit
from safenet.ops.web.context import ops_context
from safenet.ops.web.guard import Asker, changing, viewing
from safenet.ops.web.render import see_other, show
from safenet.ops.web.routes.forms import ids, optional_date, optional_text, required_date

router = APIRouter()
#: Largest lead file accepted through the browser (larger packages: ``safenet ops leads import``).
MAX_UPLOAD = 64 << 20
CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(sent: str | None, fallback: str) -> str:
    """A file name for the upload's copy: the last part of what the browser sent, in plain characters."""
    name = _UNSAFE.sub("_", (sent or "").replace("\\", "/").rsplit("/", 1)[-1]).strip("._")[:100]
    return name or fallback


def _leads_page(request: Request, asker: Asker, result: ImportResult | None = None) -> Response:
    ctx = ops_context(request)
    store = ctx.store
    return show(
        request,
        asker,
        "leads.html",
        subjects=subjects(store, asker.actor, hashdb=ctx.hashdb),
        leads=list_leads(store, asker.actor, order="priority"),
        result=result,
    )


@router.get("/ops/leads")
def leads_page(request: Request, asker: Annotated[Asker, Depends(viewing(LEADS))]) -> Response:
    return _leads_page(request, asker)


async def _saved(upload: UploadFile, target: Path) -> Path:
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise ImportFailed(
                    f"the file is larger than {MAX_UPLOAD >> 20} MiB; import it with `safenet ops leads import`."
                )
            out.write(chunk)
    if size == 0:
        raise ImportFailed("the uploaded file is empty; choose the lead file again.")
    return target


@router.post("/ops/leads/import")
async def import_leads(
    request: Request,
    asker: Annotated[Asker, Depends(changing(LEADS))],
    file: Annotated[UploadFile, File()],
    source: Annotated[str, Form(max_length=64)] = "cybertip",
    mapping: Annotated[UploadFile | None, File()] = None,
) -> Response:
    store = ops_context(request).store
    source = source.strip() or "cybertip"
    # parsing and writing a large upload takes seconds: off the event loop, so other dashboard requests go on
    with tempfile.TemporaryDirectory(prefix="safenet-leads-") as folder:  # 0700
        (Path(folder) / "mapping").mkdir()
        data = await _saved(file, Path(folder) / safe_name(file.filename, "leads"))
        try:
            if source == "cybertip":
                result = await run_in_threadpool(import_cybertip, store, asker.actor, data)
            else:
                if mapping is None or not mapping.filename:
                    raise ImportFailed(f"a CSV file of {source} leads needs its YAML column mapping; choose one.")
                mapped = await _saved(mapping, Path(folder) / "mapping" / safe_name(mapping.filename, "mapping.yaml"))
                result = await run_in_threadpool(import_csv, store, asker.actor, data, mapped, source)
        except OpsError as exc:
            raise type(exc)(str(exc).replace(f"{folder}/mapping/", "").replace(f"{folder}/", "")) from exc
    return _leads_page(request, asker, result)


@router.post("/ops/leads/{lead_id}/subscriber")
def subscriber(
    request: Request,
    asker: Annotated[Asker, Depends(changing(LEADS))],
    lead_id: str,
    address: Annotated[str, Form(max_length=500)],
) -> Response:
    set_subscriber(ops_context(request).store, asker.actor, lead_id, address.strip())
    return see_other("/ops/leads")


@router.post("/ops/subjects/{subject_id}/risk")
def risk(
    request: Request,
    asker: Annotated[Asker, Depends(changing(LEADS))],
    subject_id: str,
    level: Annotated[str, Form(max_length=64)],
    reasons: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    set_risk(ops_context(request).store, asker.actor, subject_id, level.strip(), reasons.strip())
    return see_other("/ops/leads")


@router.post("/ops/visits")
def plan_visit(
    request: Request,
    asker: Annotated[Asker, Depends(changing(VISITS))],
    lead_ids: Annotated[str, Form(max_length=1000)],
    warrant_power: Annotated[str, Form(max_length=200)],
    warrant_ref: Annotated[str, Form(max_length=200)],
    planned_date: Annotated[str, Form(max_length=20)],
    issuing_court: Annotated[str, Form(max_length=200)] = "",
    warrant_date: Annotated[str, Form(max_length=20)] = "",
    team: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    visit_id = add_visit(
        ops_context(request).store,
        asker.actor,
        lead_ids=ids(lead_ids),
        warrant_power=warrant_power.strip(),
        warrant_ref=warrant_ref.strip(),
        issuing_court=optional_text(issuing_court) or "",
        warrant_date=optional_date(warrant_date, "The warrant date"),
        planned_date=required_date(planned_date, "The planned date"),
        team=team.strip(),
    )
    return see_other(f"/ops/visits/{visit_id}")
