"""The ``safenet`` console entry point: exit codes for what escapes a command, and a fast ``--version``.

The Typer app itself (every command, assembled) is :mod:`safenet.commands.root`; it is imported on first use
of ``safenet.cli.app``, so ``safenet --version`` prints without loading Typer and Rich (a tenth of a second
at start-up). Exit codes are defined and documented in :class:`safenet.commands.common.Exit` (and in the
README).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from safenet import version_line

if TYPE_CHECKING:
    import typer

    from safenet.commands.common import Exit

    app: typer.Typer

__all__ = ["Exit", "app", "main", "run"]


def __getattr__(name: str) -> Any:
    """``app`` and ``Exit`` load the command line on first use (PEP 562), then stay as module attributes."""
    value: Any
    if name == "app":
        from safenet.commands.root import app as value
    elif name == "Exit":
        from safenet.commands.common import Exit as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def main(argv: list[str] | None = None) -> int:
    """Console entry point: typer handles usage errors (exit 2); anything unexpected is exit 1, one line."""
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        print(version_line())  # the answer the Typer option gives, without importing Typer and Rich
        return 0
    this = sys.modules[__name__]  # ``app`` through the module: built on first use, and tests may replace it
    try:
        this.app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # a bug: say so plainly, no traceback for the officer
        from rich.text import Text

        from safenet.case.store import is_disk_full  # imported here: the store loads SQLAlchemy, slow to start
        from safenet.commands.common import Exit, err

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
