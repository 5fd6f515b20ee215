"""Login and logout, written to the app's audit log (the case's; the operation's for the dashboard)
(access logging: docs/domain.md); failed attempts are aggregated there (``safenet.web.throttle.FailedLogins``)
so a flood cannot grow the log without bound."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from safenet.web.auth import COOKIE, WebSession, browser_session
from safenet.web.context import SiteContext, site_context
from safenet.web.csrf import login_write, page_write
from safenet.web.render import page, set_cookie
from safenet.web.throttle import ANY_NAME

router = APIRouter()


@router.get("/login")
def login_form(request: Request) -> Response:
    session = browser_session(request)
    if session is not None and session.user is not None:
        return RedirectResponse(site_context(request).home, status_code=303)
    return page(request, session or site_context(request).sessions.new(None), "login.html", error=None, name="")


def _audit_failures(ctx: SiteContext, lines: list[dict[str, object]]) -> None:
    for data in lines:
        ctx.audit_log().append("web-login-failed", **data)


@router.post("/login")
def login(
    request: Request,
    session: Annotated[WebSession, Depends(login_write)],
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    ctx = site_context(request)
    client = request.client.host if request.client else "unknown"
    if (paused := ctx.logins.refused(name, client)) is not None:
        # the same answer whether or not the name exists; the password is not even checked
        left, client_paused = paused
        _audit_failures(ctx, ctx.failed_logins.record(ANY_NAME if client_paused else name, client, refused=True))
        minutes = max(1, -(-int(left.total_seconds()) // 60))
        error = f"Too many failed attempts. Logging in is paused; try again in {minutes} minute(s)."
        return page(request, session, "login.html", status_code=429, error=error, name=name)
    user = ctx.users.authenticate(name, password)
    if user is None:
        ctx.logins.failed(name, client)
        _audit_failures(ctx, ctx.failed_logins.record(name, client, refused=False))
        return page(request, session, "login.html", status_code=401, error="Wrong name or password.", name=name)
    ctx.logins.succeeded(name)
    ctx.sessions.drop(session.id)  # a new id at login: no session fixation
    fresh = ctx.sessions.new(user)
    ctx.audit_log().append("web-login", user=user.name, role=user.role.value, client=client)
    response = RedirectResponse(ctx.home, status_code=303)
    set_cookie(request, response, fresh)
    return response


@router.post("/logout")
def logout(request: Request, session: Annotated[WebSession, Depends(page_write)]) -> Response:
    ctx = site_context(request)
    ctx.sessions.drop(session.id)
    if session.user is not None:
        ctx.audit_log().append("web-logout", user=session.user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
