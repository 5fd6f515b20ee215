"""Server-side sessions and the "who is asking" dependencies.

Why server-side: the cookie holds only a random session id (HttpOnly, SameSite=Strict), so nothing a
browser holds can be edited into another user or role, logging out really ends the session, and a user
removed or re-roled in the UserStore loses access at their next request (the user is re-read every time).
Sessions live in this process only; restarting the server logs everyone out, which is the safe default.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from fastapi import HTTPException, Request, status

from safenet.users import User
from safenet.web.context import SiteContext, site_context
from safenet.web.reveals import Reveal

COOKIE = "safenet_session"
#: Sessions not yet logged in (the login form's CSRF token needs one) are capped, oldest dropped first.
MAX_ANONYMOUS = 512


@dataclass(slots=True)
class WebSession:
    """One browser's session. ``user`` is None until login succeeds."""

    id: str
    user: User | None
    last_seen: datetime
    review_started: datetime | None = None
    reveal: Reveal | None = None  # one item (and step, frame) at a time


class LoginRequired(Exception):
    """A page was asked for without a session: the app answers with a redirect to /login."""


class SessionStore:
    """Sessions by id, expired after ``idle`` without a request. Thread-safe (handlers run in a pool)."""

    def __init__(self, ctx: SiteContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()

    def new(self, user: User | None) -> WebSession:
        now = self._ctx.settings.clock()
        session = WebSession(secrets.token_urlsafe(32), user, now)
        with self._lock:
            self._sessions[session.id] = session
            anonymous = [sid for sid, s in self._sessions.items() if s.user is None]
            for sid in anonymous[: max(0, len(anonymous) - MAX_ANONYMOUS)]:
                del self._sessions[sid]
        return session

    def get(self, session_id: str | None) -> WebSession | None:
        if not session_id:
            return None
        now = self._ctx.settings.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self._ctx.settings.session_idle:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)


def browser_session(request: Request) -> WebSession | None:
    """The request's session, logged in or not, with its user re-read from the UserStore."""
    ctx = site_context(request)
    session = ctx.sessions.get(request.cookies.get(COOKIE))
    if session is not None and session.user is not None:
        fresh = ctx.users.get(session.user.name)
        if fresh is None:  # removed since login
            ctx.sessions.drop(session.id)
            return None
        session.user = fresh
    return session


def page_session(request: Request) -> WebSession:
    """For HTML pages: a logged-in session, or a redirect to the login page."""
    session = browser_session(request)
    if session is None or session.user is None:
        raise LoginRequired
    return session


def api_session(request: Request) -> WebSession:
    """For the JSON API and images: a logged-in session, or 401."""
    session = browser_session(request)
    if session is None or session.user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    return session


def logged_in(session: WebSession) -> User:
    """The user of a session that a dependency has already checked is logged in."""
    if session.user is None:  # pragma: no cover - the dependencies above exclude it
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    return session.user
