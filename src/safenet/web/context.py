"""What every handler needs, held on ``app.state`` (no module globals: two apps can run side by side)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from fastapi import Request

from safenet.case.store import Case
from safenet.users import UserStore
from safenet.web.settings import Preferences, PreferenceStore, WebSettings

if TYPE_CHECKING:
    from jinja2 import Environment

    from safenet.web.auth import SessionStore
    from safenet.web.throttle import FailedLogins, LoginThrottle
    from safenet.web.thumbs import Thumbnailer


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

    def prefs(self, user_name: str) -> Preferences:
        return self.preferences.get(user_name)


def web_context(request: Request) -> WebContext:
    return cast(WebContext, request.app.state.web)
