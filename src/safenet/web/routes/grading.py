"""Grading and confirmation: JSON calls from the grid's keyboard script, straight to the case services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from safenet.case.gradings import (
    CONFIRMERS,
    GRADERS,
    GradingError,
    GradingRecord,
    confirm_grading,
    grade_items,
    review_queue,
)
from safenet.web.auth import WebSession, logged_in
from safenet.web.context import web_context
from safenet.web.csrf import api_write
from safenet.web.render import break_due, may
from safenet.web.schemas import ConfirmRequest, GradeRequest

router = APIRouter()


def _record(record: GradingRecord) -> dict[str, Any]:
    return {
        "item_id": record.item_id,
        "grade": record.grade.value,
        "examiner": record.examiner,
        "at": record.at.isoformat(),
        "confirmed_by": record.confirmed_by,
    }


@router.post("/api/grade")
def grade(body: GradeRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]) -> dict[str, Any]:
    ctx = web_context(request)
    user = logged_in(session)
    if not may(user, GRADERS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role.value} cannot grade; ask an examiner")
    ids = list(body.item_ids)
    if body.cluster_id is not None:
        # The cluster as the grid shows it: items with a trusted hash-set grade are not re-graded.
        ids += [i.item_id for i in review_queue(ctx.case) if i.cluster_id == body.cluster_id]
    if not ids:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "nothing to grade: select items or a cluster")
    try:
        records = grade_items(ctx.case, ids, body.grade, user)
    except GradingError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {"graded": [_record(r) for r in records], "break_due": break_due(request, session)}


@router.post("/api/confirm")
def confirm(
    body: ConfirmRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]
) -> dict[str, Any]:
    ctx = web_context(request)
    user = logged_in(session)
    if not may(user, CONFIRMERS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role.value} cannot confirm grades; ask a reviewer")
    confirmed, refused = [], []
    for item_id in dict.fromkeys(body.item_ids):
        try:
            confirmed.append(_record(confirm_grading(ctx.case, item_id, user)))
        except GradingError as exc:
            refused.append({"item_id": item_id, "reason": str(exc)})
    if refused and not confirmed:
        raise HTTPException(status.HTTP_409_CONFLICT, refused[0]["reason"])
    return {"confirmed": confirmed, "refused": refused}
