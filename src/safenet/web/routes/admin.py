"""The admin-only list of users and roles (read-only: users are managed with ``safenet users``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from safenet.web.auth import WebSession, logged_in, page_session
from safenet.web.context import web_context
from safenet.web.render import USER_ADMINS, may, page

router = APIRouter()


@router.get("/admin/users")
def users(request: Request, session: Annotated[WebSession, Depends(page_session)]) -> Response:
    user = logged_in(session)
    if not may(user, USER_ADMINS):
        return page(request, session, "error.html", status_code=403, message="Only an admin can see the user list.")
    return page(request, session, "users.html", users=web_context(request).users.list())
