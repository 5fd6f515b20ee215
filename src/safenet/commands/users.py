"""``safenet users``: manage the installation's examiners, reviewers, viewers and admins.

Anyone who can write the users file (owner-only, in the Safenet data folder) may manage users from the
command line; in the web UI only admins may. Passwords come from a hidden prompt with confirmation, or
from the first line of standard input with ``--password-stdin`` (scripts, tests); never from an option,
which would leave them in the shell history and the process list.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from safenet.users import Role, UserError, UserStore

users_app = typer.Typer(help="Manage who may grade, confirm and view (per installation).", no_args_is_help=True)

UsersFile = Annotated[
    Path | None,
    typer.Option(
        "--users-file",
        envvar="SAFENET_USERS",
        help="Users database file (default: ~/.local/share/safenet/users.sqlite).",
    ),
]


@contextmanager
def _errors() -> Iterator[None]:
    """User-management mistakes are usage errors (exit 2): one sentence, no traceback."""
    from safenet.commands.common import Exit, fail, user_errors

    with user_errors():
        try:
            yield
        except UserError as exc:
            fail(Exit.USAGE, str(exc))


def _say(message: str) -> None:
    from safenet.commands.common import out

    out.print(Text(message))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name, e.g. alice or dc.smith.")],
    role: Annotated[Role, typer.Option("--role", help="examiner, reviewer, viewer, admin, analyst or supervisor.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
    users_file: UsersFile = None,
) -> None:
    """Add a user (asks for the password twice)."""
    with _errors():
        user = UserStore(users_file).add(name, role, _password(password_stdin))
        _say(f"added {user.name} ({user.role.value})")


@users_app.command("list")
def users_list(users_file: UsersFile = None) -> None:
    """List the users and their roles."""
    from rich.table import Table

    from safenet.commands.common import out

    with _errors():
        table = Table()
        for heading in ("Name", "Role", "Created (UTC)"):
            table.add_column(heading, no_wrap=True)
        for user in UserStore(users_file).list():
            table.add_row(Text(user.name), user.role.value, user.created_at.isoformat(timespec="seconds"))
        out.print(table)


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[Role, typer.Option("--role", help="examiner, reviewer, viewer, admin, analyst or supervisor.")],
    users_file: UsersFile = None,
) -> None:
    """Change a user's role."""
    with _errors():
        user = UserStore(users_file).set_role(name, role)
        _say(f"{user.name} is now {user.role.value}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="User name.")], users_file: UsersFile = None) -> None:
    """Remove a user (their past grades stay in the cases, under their name)."""
    with _errors():
        UserStore(users_file).remove(name)
        _say(f"removed {name}")
