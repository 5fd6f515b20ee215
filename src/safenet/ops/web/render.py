"""Rendering dashboard pages: the review app's ``page`` (user, CSRF token, cookie) plus the operation's
navigation, which lists only the pages the user's role may open."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from safenet.ops.access import DEVICES, FIGURES, LEADS, PEOPLE, SAFEGUARDING, VISITS, Action, Actor, allowed
from safenet.ops.web.context import ops_context
from safenet.ops.web.guard import Asker
from safenet.web.auth import WebSession
from safenet.web.render import page

#: The navigation: (path, label, group the page needs).
PAGES = (
    ("/ops", "Dashboard", FIGURES),
    ("/ops/leads", "Leads", LEADS),
    ("/ops/visits", "Visits", VISITS),
    ("/ops/lab", "Awaiting lab", DEVICES),
    ("/ops/deadlines", "Deadlines", PEOPLE),
    ("/ops/people", "People", PEOPLE),
    ("/ops/safeguarding", "Safeguarding", SAFEGUARDING),
    ("/ops/report", "Weekly report", PEOPLE),
    ("/ops/figures", "Public figures", FIGURES),
)


def may(actor: Actor | None, group: str, action: Action = "view") -> bool:
    return actor is not None and allowed(actor, group, action)


def show(request: Request, asker: Asker, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return page_for(request, asker.session, asker.actor, template, status_code, **context)


def page_for(
    request: Request, session: WebSession, actor: Actor | None, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    nav = [(path, label) for path, label, group in PAGES if may(actor, group)]
    return page(
        request,
        session,
        template,
        status_code,
        nav=nav,
        current=request.url.path,
        may_do=lambda group, action="view": may(actor, group, action),
        **context,
    )


def this_week(request: Request) -> str:
    """The ISO week of the server's clock, e.g. "2026-W50"."""
    return iso_week(ops_context(request).settings.clock().date())


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def see_other(path: str) -> RedirectResponse:
    """The answer to a form's POST: the browser loads ``path`` with a GET, so reloading it posts nothing again."""
    return RedirectResponse(path, status_code=303)
