"""Per-request role checks: every dashboard route names the field group it shows or changes.

Why dependencies and not a check inside each handler: a route cannot be added without saying which group
it needs (the route table test enumerates them), and the user is re-read from the users store on every
request (``safenet.web.auth``), so a user re-roled or removed loses access at once. The service functions
check again (``ops.access.require``): the web check decides what a page offers, the service what is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from safenet.ops.access import Action, Actor, allowed
from safenet.web.auth import WebSession, logged_in, page_session
from safenet.web.csrf import page_write


@dataclass(frozen=True, slots=True)
class Asker:
    """The logged-in session of a request and the operation actor it stands for."""

    session: WebSession
    actor: Actor


class Denied(Exception):
    """The user's role may not see or change this part of the operation (answered 403 with one sentence)."""


def actor_of(session: WebSession) -> Actor:
    user = logged_in(session)
    return Actor(user.name, user.role)


def _checked(session: WebSession, group: str, action: Action) -> Asker:
    asker = Asker(session, actor_of(session))
    if not allowed(asker.actor, group, action):
        verb = "see" if action == "view" else "change"
        raise Denied(f"Your role ({asker.actor.role.value}) may not {verb} the operation's {group} records.")
    return asker


def viewing(group: str) -> Callable[[WebSession], Asker]:
    """A page: logged in (else to /login), and the role may view ``group`` (else 403)."""

    def dependency(session: Annotated[WebSession, Depends(page_session)]) -> Asker:
        return _checked(session, group, "view")

    return dependency


def changing(group: str) -> Callable[[WebSession], Awaitable[Asker]]:
    """A form post: logged in, the CSRF token (else 403), and the role may change ``group`` (else 403)."""

    async def dependency(session: Annotated[WebSession, Depends(page_write)]) -> Asker:
        return _checked(session, group, "change")

    return dependency
