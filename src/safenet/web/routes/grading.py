"""Grading, confirmation and undo: JSON calls from the grid's keyboard script, straight to the case services.

Each answer names the items it changed (the script says which, and reconciles its optimistic display with
it). A cluster grade grades only the members the grader was shown, and a bulk grade that would replace
another grade is answered 409 with the conflicts until the grader confirms (``overwrite``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse

from safenet.case.gradings import (
    CONFIRMERS,
    GRADERS,
    GradingConflict,
    GradingError,
    GradingRecord,
    confirm_gradings,
    grade_items,
    undo_gradings,
)
from safenet.case.reviewqueue import review_queue
from safenet.report.tally import review_tally
from safenet.web.auth import WebSession, api_session, logged_in
from safenet.web.context import web_context
from safenet.web.csrf import api_write
from safenet.web.render import break_due, may
from safenet.web.schemas import ConfirmRequest, GradeRequest, UndoRequest

router = APIRouter()


def _record(record: GradingRecord) -> dict[str, Any]:
    return {
        "item_id": record.item_id,
        "row_id": record.row_id,
        "grade": record.grade.value,
        "examiner": record.examiner,
        "at": record.at.isoformat(),
        "confirmed_by": record.confirmed_by,
        "frames": list(record.frames) if record.frames is not None else None,
    }


def _grader(request: Request, session: WebSession) -> Any:
    user = logged_in(session)
    if not may(user, GRADERS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role.value} cannot grade; ask an examiner")
    return user


@router.post("/api/grade", response_model=None)
def grade(
    body: GradeRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]
) -> dict[str, Any] | JSONResponse:
    ctx = web_context(request)
    user = _grader(request, session)
    ids = list(dict.fromkeys(body.item_ids))
    if not ids:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "nothing to grade: focus or select items")
    if body.cluster_id is not None:
        members = {i.item_id for i in review_queue(ctx.case, cluster=body.cluster_id)}
        outside = [i for i in ids if i not in members]
        if outside:
            listed = ", ".join(str(i) for i in outside)
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"item(s) {listed} are not reviewable members of cluster {body.cluster_id}; nothing was graded",
            )
    # One focused item is an explicit act on what the grader sees; a bulk grade must not silently replace.
    overwrite = body.overwrite or (len(ids) == 1 and body.cluster_id is None)
    try:
        records = grade_items(ctx.case, ids, body.grade, user, overwrite=overwrite, frames=body.frames)
    except GradingConflict as exc:
        conflicts = [{"item_id": c.item_id, "grade": c.grade.value, "examiner": c.examiner} for c in exc.conflicts]
        return JSONResponse({"detail": str(exc), "conflicts": conflicts}, status_code=status.HTTP_409_CONFLICT)
    except GradingError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {"graded": [_record(r) for r in records], "break_due": break_due(request, session)}


@router.post("/api/undo")
def undo(body: UndoRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]) -> dict[str, Any]:
    ctx = web_context(request)
    user = _grader(request, session)
    try:
        undone = undo_gradings(ctx.case, body.row_ids, user)
    except GradingError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {
        "undone": [
            {
                "item_id": u.item_id,
                "row_id": u.row_id,
                "grade": u.restored.grade.value if u.restored else None,
                "confirmed_by": u.restored.confirmed_by if u.restored else None,
            }
            for u in undone
        ]
    }


@router.post("/api/confirm")
def confirm(
    body: ConfirmRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]
) -> dict[str, Any]:
    ctx = web_context(request)
    user = logged_in(session)
    if not may(user, CONFIRMERS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role.value} cannot confirm grades; ask a reviewer")
    try:
        confirmed, refused = confirm_gradings(ctx.case, body.item_ids, user)
    except GradingError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if refused and not confirmed:
        raise HTTPException(status.HTTP_409_CONFLICT, refused[0][1])
    return {
        "confirmed": [_record(r) for r in confirmed],
        "refused": [{"item_id": item_id, "reason": reason} for item_id, reason in refused],
    }


@router.get("/api/counts")
def counts(request: Request, session: Annotated[WebSession, Depends(api_session)]) -> dict[str, int]:
    """Live per-category counts (the reports' totals: ``report.categorisation``) and the review's progress."""
    logged_in(session)
    return review_tally(web_context(request).case)
