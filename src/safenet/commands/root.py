"""The ``safenet`` Typer app: every command group assembled (``commands.registry``), with ``--version``.

Kept apart from :mod:`safenet.cli` (the console entry point) so that ``safenet --version`` answers without
importing Typer and Rich at all; the help and a command line that names no command build this app, any other
command line an app of its one command (``registry.app_for``).
"""

from __future__ import annotations

from safenet.commands.registry import new_app

__all__ = ["app"]

app = new_app()
