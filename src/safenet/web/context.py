"""What every handler needs, held on ``app.state`` (no module globals: two apps can run side by side).

Login, sessions, CSRF and page rendering need only :class:`SiteContext` (users, settings, templates, the
session and throttle stores, where to write login lines and which page follows a login), so a second app
of the same installation (the operation dashboard, ``safenet.ops.web``) reuses them with its own context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from fastapi import Request

from safenet.case.store import Case
from safenet.users import UserStore
from safenet.web.settings import Preferences, PreferenceStore, WebSettings

if TYPE_CHECKING:
    from jinja2 import Environment

    from safenet.case.audit import AuditLog
    from safenet.web.auth import SessionStore
    from safenet.web.throttle import FailedLogins, LoginThrottle
    from safenet.web.thumbs import Thumbnailer


class SiteContext(Protocol):
    """What the shared login/session/CSRF/render machinery reads from an app's context."""

    users: UserStore
    settings: WebSettings
    templates: Environment
    sessions: SessionStore
    logins: LoginThrottle
    failed_logins: FailedLogins
    #: The page a successful login (or a logged-in visit to /login) goes to.
    home: str

    def audit_log(self) -> AuditLog:
        """Where logins, logouts and failed logins are recorded."""
        ...


@dataclass(slots=True)
class WebContext:
    case: Case
    users: UserStore
    settings: WebSettings
    templates: Environment
    sessions: SessionStore = field(init=False)
    media: Thumbnailer = field(init=False)
    logins: LoginThrottle = field(init=False)
    failed_logins: FailedLogins = field(init=False)
    preferences: PreferenceStore = field(init=False)
    home: str = "/review"

    def audit_log(self) -> AuditLog:
        return self.case.audit

    def prefs(self, user_name: str) -> Preferences:
        return self.preferences.get(user_name)


def web_context(request: Request) -> WebContext:
    return cast(WebContext, request.app.state.web)


def site_context(request: Request) -> SiteContext:
    return cast("SiteContext", request.app.state.web)
