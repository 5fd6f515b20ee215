"""Where each top-level ``safenet`` command lives, and the Typer app made of all of them or of one.

Why one table: ``safenet triage ...`` (any command line that is not a help request) needs its own command only, so
the console entry point (:mod:`safenet.cli`) builds an app holding that one (:func:`app_for`) instead of importing
every command module and having Typer build every command's parameters (about 0.04 s of each start). The help
and anything this table does not name go to the whole app (:mod:`safenet.commands.root`), built from the same
table in the same order, so a command behaves the same whichever app runs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Annotated, Any, Final

import typer

from safenet import version_line

#: name -> (module, attribute): a command function, or a Typer group of commands. In the help's order.
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "hashset": ("safenet.commands.hashsets", "hashset_app"),
    "users": ("safenet.commands.users", "users_app"),
    "case": ("safenet.commands.case", "case_app"),
    "lab": ("safenet.commands.lab", "lab_app"),
    "ops": ("safenet.commands.ops", "ops_app"),
    "triage": ("safenet.commands.triage", "triage_cmd"),
    "inspect": ("safenet.commands.triage", "inspect_cmd"),
    "devices": ("safenet.commands.devices", "devices_cmd"),
    "report": ("safenet.commands.case", "report_cmd"),
    "cluster": ("safenet.commands.case", "cluster_cmd"),
    "verify": ("safenet.commands.case", "verify_cmd"),
    "items": ("safenet.commands.items", "items_cmd"),
    "export": ("safenet.commands.export", "export_cmd"),
    "review": ("safenet.commands.review", "review_cmd"),
    "validate": ("safenet.commands.validate", "validate_cmd"),
    "sample": ("safenet.commands.sample", "sample_cmd"),
    "demo": ("safenet.commands.demo", "demo_cmd"),
}


def _version(value: bool) -> None:
    if value:
        from safenet.commands.common import out

        out.print(version_line())
        raise typer.Exit()


def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Safenet."""


def new_app(names: tuple[str, ...] = tuple(COMMANDS)) -> typer.Typer:
    """The ``safenet`` app with the commands ``names`` (every one by default)."""
    app = typer.Typer(
        name="safenet",
        help="Triage seized media against national hash sets (CAID, Project VIC) and count hits by UK category.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(main_options)
    for name in names:
        module, attribute = COMMANDS[name]
        found: Any = getattr(import_module(module), attribute)
        if isinstance(found, typer.Typer):
            app.add_typer(found, name=name)
        else:
            app.command(name)(found)
    return app


def app_for(args: list[str]) -> typer.Typer | None:
    """An app holding only the command that ``args`` start with, or None where they name none (an option, a
    mistyped command: the whole app answers, with its list of commands)."""
    return new_app((args[0],)) if args and args[0] in COMMANDS else None
