"""Login and logout. Every attempt is written to the case's audit log (access logging: docs/domain.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from safenet.web.auth import COOKIE, WebSession, browser_session
from safenet.web.context import web_context
from safenet.web.csrf import login_write, page_write
from safenet.web.render import page, set_cookie

router = APIRouter()


@router.get("/login")
def login_form(request: Request) -> Response:
    session = browser_session(request)
    if session is not None and session.user is not None:
        return RedirectResponse("/review", status_code=303)
    return page(request, session or web_context(request).sessions.new(None), "login.html", error=None)


@router.post("/login")
def login(
    request: Request,
    session: Annotated[WebSession, Depends(login_write)],
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    ctx = web_context(request)
    keys = ctx.logins.keys(name, request.client.host if request.client else None)
    if (left := ctx.logins.refused(keys)) is not None:
        # the same answer whether or not the name exists; the password is not even checked
        ctx.case.audit.append("web-login-failed", user=name, reason="too many failed attempts")
        minutes = max(1, -(-int(left.total_seconds()) // 60))
        error = f"Too many failed attempts. Logging in is paused; try again in {minutes} minute(s)."
        return page(request, session, "login.html", status_code=429, error=error)
    user = ctx.users.authenticate(name, password)
    if user is None:
        ctx.logins.failed(keys)
        ctx.case.audit.append("web-login-failed", user=name)
        return page(request, session, "login.html", status_code=401, error="Wrong name or password.")
    ctx.logins.succeeded(keys)
    ctx.sessions.drop(session.id)  # a new id at login: no session fixation
    fresh = ctx.sessions.new(user)
    ctx.case.audit.append("web-login", user=user.name, role=user.role.value)
    response = RedirectResponse("/review", status_code=303)
    set_cookie(request, response, fresh)
    return response


@router.post("/logout")
def logout(request: Request, session: Annotated[WebSession, Depends(page_write)]) -> Response:
    ctx = web_context(request)
    ctx.sessions.drop(session.id)
    if session.user is not None:
        ctx.case.audit.append("web-logout", user=session.user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
