"""Thumbnails and frame strips (blurred, grey), the audited graded reveal of one item, and its end.

Every picture route re-reads the user's role (the session dependency re-reads the user on each request),
so a user demoted to viewer gets no clear picture from a reveal made a moment before.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from safenet.analysis.video.frames import REVIEW_FRAMES
from safenet.case.gradings import REVEALERS, GradingError, record_reveal, record_reveal_closed
from safenet.users import User
from safenet.web.auth import WebSession, api_session, logged_in
from safenet.web.context import web_context
from safenet.web.csrf import api_write
from safenet.web.ids import ItemId
from safenet.web.render import may
from safenet.web.reveals import Reveal, RevealStep
from safenet.web.thumbs import CannotDisplay, MediaError

router = APIRouter()

FrameIndex = Annotated[int, Field(ge=0, lt=REVIEW_FRAMES)]


class RevealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: RevealStep = RevealStep.LARGE_BLURRED  # the least revealing step unless asked
    frame: FrameIndex | None = None


class CloseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["closed", "expired", "navigated"] = "closed"


def _jpeg(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg")


def _revealer(session: WebSession) -> User:
    user = logged_in(session)
    if not may(user, REVEALERS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role.value} may not reveal clear images")
    return user


def _media_errors(exc: MediaError) -> HTTPException:
    code = status.HTTP_409_CONFLICT if isinstance(exc, CannotDisplay) else status.HTTP_404_NOT_FOUND
    return HTTPException(code, str(exc))


@router.get("/media/thumb/{item_id}")
def thumbnail(item_id: ItemId, request: Request, session: Annotated[WebSession, Depends(api_session)]) -> Response:
    ctx = web_context(request)
    try:
        return _jpeg(ctx.media.thumbnail(item_id, ctx.prefs(logged_in(session).name)))
    except MediaError as exc:
        raise _media_errors(exc) from exc


@router.get("/media/sheet/{item_id}")
def sheet(item_id: ItemId, request: Request, session: Annotated[WebSession, Depends(api_session)]) -> Response:
    """A video's or animated GIF's whole blurred frame sheet, at the size it was made."""
    logged_in(session)
    try:
        return _jpeg(web_context(request).media.sheet(item_id))
    except MediaError as exc:
        raise _media_errors(exc) from exc


@router.get("/api/items/{item_id}/frames")
def frames(item_id: ItemId, request: Request, session: Annotated[WebSession, Depends(api_session)]) -> dict[str, Any]:
    logged_in(session)
    try:
        found = web_context(request).media.frames(item_id)
    except MediaError as exc:
        raise _media_errors(exc) from exc
    return {
        "item_id": item_id,
        "kind": found.kind.value,
        "frames": [{"index": f.index, "time_s": f.time_s} for f in found.frames],
    }


@router.get("/media/frame/{item_id}/{index}")
def frame(
    item_id: ItemId,
    index: Annotated[int, Path(ge=0, lt=REVIEW_FRAMES)],
    request: Request,
    session: Annotated[WebSession, Depends(api_session)],
) -> Response:
    ctx = web_context(request)
    try:
        return _jpeg(ctx.media.frame(item_id, index, ctx.prefs(logged_in(session).name)))
    except MediaError as exc:
        raise _media_errors(exc) from exc


@router.post("/api/items/{item_id}/reveal")
def reveal(
    item_id: ItemId, body: RevealRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]
) -> dict[str, Any]:
    """Check the picture can be shown, audit the reveal, then let this session (only) fetch it for a while.

    A video or animated GIF is revealed one sampled frame at a time (the first unless ``frame`` says which).
    """
    ctx = web_context(request)
    user = _revealer(session)
    try:
        item = ctx.media.item(item_id)
        picture, frame = ctx.media.revealed(item_id, body.step, body.frame, ctx.prefs(user.name))
    except MediaError as exc:
        raise _media_errors(exc) from exc  # nothing was shown, so nothing is audited as shown
    try:
        record_reveal(ctx.case, item_id, user, step=body.step.value, frame=frame)
    except GradingError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    until = ctx.settings.clock() + ctx.settings.reveal_for
    session.reveal = Reveal(item_id, body.step, frame, until, picture)  # replaces any earlier reveal
    return {
        "item_id": item_id,
        "url": session.reveal.url(),
        "until": until.isoformat(),
        "seconds": int(ctx.settings.reveal_for.total_seconds()),
        "step": body.step.value,
        "frame": frame,
        "label": f"{item.exhibit} › {item.display}",
    }


@router.get("/media/clear/{item_id}")
def clear(
    item_id: ItemId,
    request: Request,
    session: Annotated[WebSession, Depends(api_session)],
    step: Annotated[RevealStep, Query()] = RevealStep.LARGE_BLURRED,
    frame: Annotated[int | None, Query(ge=0, lt=REVIEW_FRAMES)] = None,
) -> Response:
    """The revealed picture: this session's current reveal of this item, step and frame, until it expires."""
    _revealer(session)  # the role now, not at the reveal: a demoted user sees nothing more
    revealed = session.reveal
    if revealed is None or not revealed.matches(item_id, step, frame):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reveal this item first (each reveal is recorded)")
    ctx = web_context(request)
    if ctx.settings.clock() > revealed.until:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this reveal has expired; reveal the item again")
    if revealed.picture:
        return _jpeg(revealed.picture)
    try:  # several workers (web.shared): the reveal is shared, its picture rendered again, never stored
        return _jpeg(ctx.media.revealed(item_id, step, frame, ctx.prefs(logged_in(session).name))[0])
    except MediaError as exc:
        raise _media_errors(exc) from exc


@router.post("/api/items/{item_id}/reveal/close")
def close_reveal(
    item_id: ItemId, body: CloseRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]
) -> dict[str, Any]:
    """End this session's reveal of the item and audit why (closed by the user, expired, navigated away)."""
    ctx = web_context(request)
    user = logged_in(session)
    revealed = session.reveal
    if revealed is None or revealed.item_id != item_id:
        return {"closed": False}
    session.reveal = None
    try:
        record_reveal_closed(ctx.case, item_id, user, body.reason)
    except GradingError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {"closed": True}
