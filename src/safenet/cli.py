"""The ``safenet`` command line (Typer + Rich): the app, its commands, and the console entry point.

Commands live in ``safenet.commands`` (one module per group); this module only assembles them. Exit codes
are defined and documented in :class:`safenet.commands.common.Exit` (and in the README).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from safenet import __version__
from safenet.case.store import is_disk_full
from safenet.commands.case import case_app, cluster_cmd, report_cmd, verify_cmd
from safenet.commands.common import Exit, err, out, user_errors
from safenet.commands.export import export_cmd
from safenet.commands.hashsets import hashset_app
from safenet.commands.items import items_cmd
from safenet.commands.review import review_cmd
from safenet.commands.triage import inspect_cmd, triage_cmd
from safenet.commands.users import users_app

__all__ = ["Exit", "app", "main", "run"]

app = typer.Typer(
    name="safenet",
    help="Triage seized media against national hash sets (CAID, Project VIC) and count hits by UK category.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(hashset_app, name="hashset")
app.add_typer(users_app, name="users")
app.add_typer(case_app, name="case")
for _name, _command in (
    ("triage", triage_cmd),
    ("inspect", inspect_cmd),
    ("report", report_cmd),
    ("cluster", cluster_cmd),
    ("verify", verify_cmd),
    ("items", items_cmd),
    ("export", export_cmd),
    ("review", review_cmd),
):
    app.command(_name)(_command)


def _version(value: bool) -> None:
    if value:
        out.print(f"safenet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Safenet."""


@app.command("demo")
def demo_cmd(
    workdir: Annotated[Path, typer.Option("--workdir", help="Where demo evidence, hash sets and the case go.")] = Path(
        "demo-out"
    ),
) -> None:
    """Build benign demo evidence and a demo hash set, triage it, and print the summary."""
    from safenet.demo import run_demo

    with user_errors():
        run_demo(workdir, out)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: typer handles usage errors (exit 2); anything unexpected is exit 1, one line."""
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # a bug: say so plainly, no traceback for the officer
        if is_disk_full(exc):  # outside a command's own error mapping: still one sentence, still exit 7
            err.print(Text("safenet: error: the disk is full; free some space and run the command again"))
            return Exit.DISK_FULL
        err.print(
            Text(
                f"safenet: internal error: {exc.__class__.__name__}: {exc}. This is a bug; the case "
                "folder is still valid. Set SAFENET_DEBUG=1 for details.",
                style="bold red",
            )
        )
        if os.environ.get("SAFENET_DEBUG"):
            raise
        return Exit.INTERNAL
    return 0


def run() -> None:
    sys.exit(main())
