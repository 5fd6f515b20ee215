"""The ``safenet`` Typer app: every command group assembled, the ``--version`` option and ``demo``.

Kept apart from :mod:`safenet.cli` (the console entry point) so that ``safenet --version`` answers without
importing Typer and Rich at all; any other command line builds this app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safenet import version_line
from safenet.commands.case import case_app, cluster_cmd, report_cmd, verify_cmd
from safenet.commands.common import out, user_errors
from safenet.commands.devices import devices_cmd
from safenet.commands.export import export_cmd
from safenet.commands.hashsets import hashset_app
from safenet.commands.items import items_cmd
from safenet.commands.lab import lab_app
from safenet.commands.ops import ops_app
from safenet.commands.review import review_cmd
from safenet.commands.sample import sample_cmd
from safenet.commands.triage import inspect_cmd, triage_cmd
from safenet.commands.users import users_app
from safenet.commands.validate import validate_cmd

__all__ = ["app"]

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
app.add_typer(lab_app, name="lab")
app.add_typer(ops_app, name="ops")
for _name, _command in (
    ("triage", triage_cmd),
    ("inspect", inspect_cmd),
    ("devices", devices_cmd),
    ("report", report_cmd),
    ("cluster", cluster_cmd),
    ("verify", verify_cmd),
    ("items", items_cmd),
    ("export", export_cmd),
    ("review", review_cmd),
    ("validate", validate_cmd),
    ("sample", sample_cmd),
):
    app.command(_name)(_command)


def _version(value: bool) -> None:
    if value:
        out.print(version_line())
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
