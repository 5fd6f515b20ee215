"""Rendering pages and the session cookie.

The page must know whether to offer a Reveal button or grading keys; it asks the same role rules that
``safenet.case.gradings`` enforces on every grade, confirmation and reveal (imported, not repeated).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from safenet.case.gradings import CONFIRMERS, GRADERS, REVEALERS
from safenet.users import Role, User
from safenet.web.auth import COOKIE, WebSession
from safenet.web.context import site_context
from safenet.web.csrf import csrf_token

USER_ADMINS = frozenset({Role.ADMIN})


def may(user: User | None, roles: frozenset[Role]) -> bool:
    return user is not None and user.role in roles


def break_due(request: Request, session: WebSession) -> bool:
    settings = site_context(request).settings
    started = session.review_started
    return started is not None and settings.clock() - started >= settings.break_after


def set_cookie(request: Request, response: Response, session: WebSession) -> None:
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        secure=site_context(request).settings.secure_cookies,
        path="/",
    )


def page(request: Request, session: WebSession, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with what the layout needs: the user, their CSRF token and role flags."""
    ctx = site_context(request)
    user = session.user
    html = ctx.templates.get_template(template).render(
        user=user,
        csrf=csrf_token(ctx.settings.secret, session.id),
        may_grade=may(user, GRADERS),
        may_confirm=may(user, CONFIRMERS),
        may_reveal=may(user, REVEALERS),
        may_manage=may(user, USER_ADMINS),
        break_due=break_due(request, session),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    set_cookie(request, response, session)
    return response
