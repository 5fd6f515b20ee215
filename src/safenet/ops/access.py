"""Who may view and change which field group of the operation (least privilege per group).

Roles are the installation's (``safenet.users.Role``). A person's or a child's details are the most
restricted: only the supervisor and the analyst who prepares the visit see them; an examiner sees the visits
and devices he works on, a viewer only the aggregate figures. ``admin`` manages users and the figures'
text, not personal data: administering the installation gives no reason to read about suspects.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Literal

from safenet.ops.errors import AccessDenied
from safenet.users import Role, UserStore

Action = Literal["view", "change"]

LEADS = "leads"
VISITS = "visits"
APPROVAL = "approval"
DEVICES = "devices"
PEOPLE = "people"
SAFEGUARDING = "safeguarding"
FIGURES = "figures"
ADMIN = "admin"

# Who may view each group.
FIELD_GROUPS: dict[str, set[Role]] = {
    LEADS: {Role.ANALYST, Role.SUPERVISOR},
    VISITS: {Role.ANALYST, Role.SUPERVISOR, Role.EXAMINER, Role.REVIEWER},
    APPROVAL: {Role.ANALYST, Role.SUPERVISOR, Role.EXAMINER, Role.REVIEWER},
    DEVICES: {Role.ANALYST, Role.SUPERVISOR, Role.EXAMINER, Role.REVIEWER},
    PEOPLE: {Role.ANALYST, Role.SUPERVISOR},
    SAFEGUARDING: {Role.ANALYST, Role.SUPERVISOR},
    FIGURES: set(Role),
    ADMIN: {Role.ADMIN},
}

# Who may change each group (always a subset of who may view it).
CHANGE_GROUPS: dict[str, set[Role]] = {
    LEADS: {Role.ANALYST, Role.SUPERVISOR},
    VISITS: {Role.ANALYST, Role.SUPERVISOR},
    APPROVAL: {Role.SUPERVISOR},
    DEVICES: {Role.SUPERVISOR, Role.EXAMINER},
    PEOPLE: {Role.ANALYST, Role.SUPERVISOR},
    SAFEGUARDING: {Role.ANALYST, Role.SUPERVISOR},
    FIGURES: {Role.SUPERVISOR, Role.ADMIN},
    ADMIN: {Role.ADMIN},
}

# Who may check the operation's audit log (it names people and safeguarding records).
AUDITORS = frozenset({Role.SUPERVISOR, Role.ADMIN})

# Groups whose every view and change goes into the ops audit log.
AUDITED_GROUPS = frozenset({PEOPLE, SAFEGUARDING})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a user of this installation and the role the users store gives him."""

    name: str
    role: Role


def actor_for(name: str | None, users: UserStore | None = None) -> Actor:
    """The actor for a user name on the command line (default: the login name), with the role the users file
    gives him; a name not in the users file is one sentence."""
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            name = str(os.getuid())
    user = (users or UserStore()).get(name)
    if user is None:
        raise AccessDenied(
            f"{name} is not a Safenet user of this installation; give --as NAME, or ask an admin to add you "
            "(`safenet users add`)"
        )
    return Actor(user.name, user.role)


def allowed(actor: Actor, group: str, action: Action = "view") -> bool:
    table = FIELD_GROUPS if action == "view" else CHANGE_GROUPS
    return actor.role in table[group]


def require(actor: Actor, group: str, action: Action) -> None:
    """Raise :class:`AccessDenied` (one sentence) unless the actor's role may do ``action`` on ``group``."""
    if group not in FIELD_GROUPS:
        raise KeyError(group)
    if not allowed(actor, group, action):
        raise AccessDenied(f"{actor.name} ({actor.role.value}) may not {action} {group} records in the operation")
