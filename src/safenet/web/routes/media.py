"""Thumbnails (blurred, grey, small), the audited reveal of one item, and its clear picture for a short time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import Response

from safenet.case.gradings import REVEALERS, GradingError, record_reveal
from safenet.web.auth import WebSession, api_session, logged_in
from safenet.web.context import web_context
from safenet.web.csrf import api_write
from safenet.web.render import may
from safenet.web.thumbs import MediaError

router = APIRouter()


@router.get("/media/thumb/{item_id}")
def thumbnail(item_id: int, request: Request, session: Annotated[WebSession, Depends(api_session)]) -> Response:
    ctx = web_context(request)
    try:
        data = ctx.media.thumbnail(item_id, ctx.prefs(logged_in(session).name))
    except MediaError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return Response(data, media_type="image/jpeg")


@router.post("/api/items/{item_id}/reveal")
def reveal(item_id: int, request: Request, session: Annotated[WebSession, Depends(api_write)]) -> dict[str, Any]:
    """Audit the reveal, then allow this session (only) to fetch this item's clear picture for a while."""
    ctx = web_context(request)
    user = logged_in(session)
    if not may(user, REVEALERS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role.value} may not reveal clear images")
    try:
        item = ctx.media.item(item_id)
    except MediaError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    if item.media_kind != "image":
        raise HTTPException(status.HTTP_409_CONFLICT, "only still images can be revealed; videos show frame sheets")
    try:
        record_reveal(ctx.case, item_id, user)
    except GradingError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    until = ctx.settings.clock() + ctx.settings.reveal_for
    session.reveal = (item_id, until)  # replaces any earlier reveal: one item at a time
    return {"item_id": item_id, "url": f"/media/clear/{item_id}", "until": until.isoformat()}


@router.get("/media/clear/{item_id}")
def clear(item_id: int, request: Request, session: Annotated[WebSession, Depends(api_session)]) -> Response:
    ctx = web_context(request)
    revealed = session.reveal
    if revealed is None or revealed[0] != item_id or ctx.settings.clock() > revealed[1]:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reveal this item first (each reveal is recorded)")
    try:
        data = ctx.media.clear(item_id)
    except MediaError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return Response(data, media_type="image/jpeg")
