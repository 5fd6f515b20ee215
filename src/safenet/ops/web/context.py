"""What the dashboard's handlers need, held on ``app.state.web`` like the review app's context.

It satisfies ``safenet.web.context.SiteContext``, so the review app's login, sessions and CSRF work unchanged;
login lines go to the operation's own hash-chained audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from fastapi import Request

from safenet.case.audit import AuditLog
from safenet.ops.store import OpsStore
from safenet.users import UserStore
from safenet.web.settings import WebSettings

if TYPE_CHECKING:
    from jinja2 import Environment

    from safenet.web.auth import SessionStore
    from safenet.web.throttle import FailedLogins, LoginThrottle

HOME = "/ops"


@dataclass(slots=True)
class OpsWebContext:
    store: OpsStore
    users: UserStore
    settings: WebSettings
    templates: Environment
    sessions: SessionStore = field(init=False)
    logins: LoginThrottle = field(init=False)
    failed_logins: FailedLogins = field(init=False)
    home: str = HOME
    hashdb: Path | None = None  # the installation's hash sets: the subjects' known categories (none without)

    def audit_log(self) -> AuditLog:
        return self.store.audit


def ops_context(request: Request) -> OpsWebContext:
    return cast(OpsWebContext, request.app.state.web)
