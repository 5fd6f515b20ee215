"""The review grid page, the user's display preferences, the break reminder, the side panel and cluster edits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import status as http
from fastapi.responses import RedirectResponse, Response

from safenet.analysis.camera import HEADER_BYTES, camera_of
from safenet.case.clusteredits import merge_clusters, split_items
from safenet.case.clustermap import cluster_map
from safenet.case.gradings import GRADERS, Grade, GradingError
from safenet.case.itemdetail import add_note, add_tag, item_detail
from safenet.case.reviewqueue import SOURCE_KINDS, ReviewItem, review_queue
from safenet.report.tally import review_tally
from safenet.users import User
from safenet.web.auth import WebSession, api_session, logged_in, page_session
from safenet.web.context import web_context
from safenet.web.csrf import api_write, page_write
from safenet.web.ids import ItemId
from safenet.web.render import break_due, may, page
from safenet.web.schemas import Filters, MergeRequest, NoteRequest, SplitRequest, TagRequest
from safenet.web.settings import BLUR_LEVELS, THUMB_SIZES, Preferences
from safenet.web.thumbs import MediaError, Thumbnailer

router = APIRouter()
CATEGORIES = ("A", "B", "C", "prohibited", "extreme", "non-indecent", "uncertain", "uncategorised", "ungraded")


@router.get("/")
def home(_session: Annotated[WebSession, Depends(page_session)]) -> Response:
    return RedirectResponse("/review", status_code=302)


@router.get("/review")
def grid(
    request: Request,
    session: Annotated[WebSession, Depends(page_session)],
    filters: Annotated[Filters, Query()],
) -> Response:
    ctx = web_context(request)
    user = logged_in(session)
    if session.review_started is None:
        session.review_started = ctx.settings.clock()
    items = review_queue(
        ctx.case,
        include_matched=filters.matched,
        exhibit=filters.exhibit,
        media_kind=filters.media,
        deleted=None if filters.state is None else filters.state == "deleted",
        category=filters.category,
        match_kind=filters.match,
        source=filters.source,
        path_prefix=filters.path,
        cluster=filters.cluster,
        min_size=None if filters.min_kb is None else filters.min_kb * 1024,
        max_size=None if filters.max_kb is None else filters.max_kb * 1024 + 1023,
        modified_from=_day(filters.since),
        modified_to=_day(filters.until, end=True),
        sort=filters.sort,
    )
    if filters.collapse and filters.cluster is None:
        items = _representatives(items)
    # The cluster view shows every member on one page: a cluster grade may touch only what was shown.
    size = max(len(items), 1) if filters.cluster is not None else ctx.settings.page_size
    pages = max(1, -(-len(items) // size))
    shown = items[(filters.page - 1) * size : filters.page * size]
    everything = items if _unfiltered(filters) else review_queue(ctx.case)
    cluster_exhibits = sorted({i.exhibit for i in items}) if filters.cluster is not None else []
    edits = cluster_map(ctx.case).applied.get(filters.cluster, []) if filters.cluster is not None else []
    clusters = _cluster_summary(everything if filters.cluster is None else items)
    options: dict[str, Any] = {
        "exhibits": [e.label for e in ctx.case.exhibits()],
        "categories": CATEGORIES,
        "sizes": THUMB_SIZES,
        "blurs": sorted(BLUR_LEVELS),
        "grades": [g.value for g in Grade],
        "sources": SOURCE_KINDS,
    }
    return page(
        request,
        session,
        "review.html",
        items=shown,
        total=len(items),
        counts=review_tally(ctx.case),
        cluster_exhibits=cluster_exhibits,
        cluster_edits=edits,
        clusters=clusters,
        pages=pages,
        filters=filters,
        prefs=ctx.prefs(user.name),
        options=options,
    )


def _representatives(items: list[ReviewItem]) -> list[ReviewItem]:
    """The first item of each near-duplicate cluster stands for it (items outside clusters stay)."""
    seen: set[int] = set()
    out = []
    for item in items:
        if item.cluster_id is not None:
            if item.cluster_id in seen:
                continue
            seen.add(item.cluster_id)
        out.append(item)
    return out


def _cluster_summary(items: list[ReviewItem]) -> dict[int, tuple[int, int]]:
    """Per near-duplicate cluster in the review: (members to review, exhibits they are in)."""
    members: dict[int, list[str]] = {}
    for item in items:
        if item.cluster_id is not None:
            members.setdefault(item.cluster_id, []).append(item.exhibit)
    return {c: (len(ex), len(set(ex))) for c, ex in members.items()}


def _day(day: date | None, *, end: bool = False) -> datetime | None:
    """A UTC day as the first (or last) moment of it, for the modified-date filter."""
    if day is None:
        return None
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1, microseconds=-1) if end else start


def _unfiltered(filters: Filters) -> bool:
    narrowed = filters.model_dump(exclude={"page", "sort"})
    return all(value in (None, False) for value in narrowed.values())


@router.post("/settings")
def preferences(
    request: Request,
    session: Annotated[WebSession, Depends(page_write)],
    size: Annotated[int, Form()],
    blur: Annotated[int, Form()],
) -> Response:
    ctx = web_context(request)
    try:
        prefs = Preferences.parse(size, blur)
    except ValueError as exc:
        return page(request, session, "error.html", status_code=400, message=str(exc))
    ctx.preferences[logged_in(session).name] = prefs
    return RedirectResponse("/review", status_code=303)


@router.post("/break")
def had_a_break(request: Request, session: Annotated[WebSession, Depends(page_write)]) -> Response:
    """The reviewer says they had a break: the hour starts again."""
    session.review_started = web_context(request).settings.clock()
    return RedirectResponse("/review", status_code=303)


@router.get("/api/status")
def status(request: Request, session: Annotated[WebSession, Depends(api_session)]) -> dict[str, Any]:
    user = logged_in(session)
    return {"user": user.name, "role": user.role.value, "break_due": break_due(request, session)}


@router.get("/api/items/{item_id}/detail")
def detail(item_id: ItemId, request: Request, session: Annotated[WebSession, Depends(api_session)]) -> dict[str, Any]:
    """The side panel: metadata, matches, grade history, notes and tags of one item (no picture)."""
    logged_in(session)
    ctx = web_context(request)
    try:
        out = item_detail(ctx.case, item_id)
    except GradingError as exc:
        raise HTTPException(http.HTTP_404_NOT_FOUND, str(exc)) from exc
    if out["media_kind"] == "image":
        out["camera"] = _camera(ctx.media, item_id)
    return out


def _camera(media: Thumbnailer, item_id: int) -> str:
    """The EXIF camera make, model and serial, read now from the item's first bytes in the evidence."""
    try:
        head = media.read_head(item_id, HEADER_BYTES)
    except MediaError as exc:
        return f"not read: {exc}"
    found = camera_of(head)
    return found if isinstance(found, str) else found.text()


@router.post("/api/items/{item_id}/notes")
def note(
    item_id: ItemId, body: NoteRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]
) -> dict[str, bool]:
    try:
        add_note(web_context(request).case, item_id, body.text, logged_in(session))
    except GradingError as exc:
        raise HTTPException(http.HTTP_409_CONFLICT, str(exc)) from exc
    return {"added": True}


@router.post("/api/items/{item_id}/tags")
def tag(
    item_id: ItemId, body: TagRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]
) -> dict[str, bool]:
    try:
        add_tag(web_context(request).case, item_id, body.tag, logged_in(session))
    except GradingError as exc:
        raise HTTPException(http.HTTP_409_CONFLICT, str(exc)) from exc
    return {"added": True}


@router.post("/api/clusters/split")
def split(body: SplitRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]) -> dict[str, Any]:
    """Take items out of their near-duplicate clusters (audited; kept over a re-run of ``safenet cluster``)."""
    try:
        edits = split_items(web_context(request).case, body.item_ids, _editor(session))
    except GradingError as exc:
        raise HTTPException(http.HTTP_409_CONFLICT, str(exc)) from exc
    return {"split": [e.item_id for e in edits]}


@router.post("/api/clusters/merge")
def merge(body: MergeRequest, request: Request, session: Annotated[WebSession, Depends(api_write)]) -> dict[str, Any]:
    """Merge one near-duplicate cluster into another (audited; kept over a re-run of ``safenet cluster``)."""
    try:
        merge_clusters(web_context(request).case, body.cluster_id, body.other_cluster_id, _editor(session))
    except GradingError as exc:
        raise HTTPException(http.HTTP_409_CONFLICT, str(exc)) from exc
    return {"cluster_id": body.cluster_id, "merged": body.other_cluster_id}


def _editor(session: WebSession) -> User:
    user = logged_in(session)
    if not may(user, GRADERS):
        raise HTTPException(http.HTTP_403_FORBIDDEN, f"a {user.role.value} cannot change clusters; ask an examiner")
    return user
