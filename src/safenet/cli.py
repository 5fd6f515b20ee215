"""The ``safenet`` console entry point: exit codes for what escapes a command, a fast ``--version`` and ``--help``.

The Typer app itself (every command, assembled) is :mod:`safenet.commands.root`; it is imported on first use
of ``safenet.cli.app``, so ``safenet --version`` prints without loading Typer and Rich (a tenth of a second
at start-up), and so does ``safenet [COMMAND ...] --help`` once Typer has printed it (:mod:`safenet.helpcache`).
Any other command line runs an app of the one command it names (``commands.registry.app_for``): the other
command modules are not imported.
Exit codes are defined and documented in :class:`safenet.commands.common.Exit` (and in the README).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

from safenet import collector, helpcache, version_line

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
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        print(version_line())  # the answer the Typer option gives, without importing Typer and Rich
        return 0
    recorder = None
    if helpcache.is_help_request(args):
        kept = helpcache.cached(args)
        if kept is not None:  # Typer's own output for this command line and terminal, kept: no Typer, no Rich
            sys.stdout.write(kept)
            sys.stdout.flush()
            return 0
        recorder = helpcache.Recorder(sys.stdout)
    this = sys.modules[__name__]  # ``app`` through the module: built on first use, and tests may replace it
    code = 0
    import contextlib  # here: a tenth of the start-up that --version and kept help need not pay

    try:
        with contextlib.redirect_stdout(cast(TextIO, recorder)) if recorder is not None else contextlib.nullcontext():
            _app_for(args, recorder is not None)(args=argv, standalone_mode=True)
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
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
    if recorder is not None and code == 0 and helpcache.names_commands(this.app, args[:-1]):
        helpcache.remember(args, recorder.text())
    return code


def _app_for(args: list[str], help_asked: bool) -> Any:
    """What runs the command line: the whole app for help (it lists every command) or once it is built or replaced
    (tests); else an app of the one command named (``commands.registry.app_for``), where ``args`` name one."""
    if not help_asked and "app" not in globals():
        from safenet.commands.registry import app_for

        one = app_for(args)
        if one is not None:
            return one
    return sys.modules[__name__].app


def run() -> None:
    """The console entry point: the command's exit code, without the interpreter's teardown.

    When a command has returned, what it wrote is committed, closed or in an exit handler; what the interpreter
    does after that (collecting and freeing the objects of every module loaded: 0.18 s after a triage, a fifth
    of a small one; bench/bench_exit.py) serves nothing. So the end is the interpreter's own first steps,
    then the process ends: wait for the command's non-daemon threads (``threading._shutdown``, which also stops
    idle thread pools), run the exit handlers (temporary folders, logging, process pools), flush the standard
    streams. An exception out of ``main`` (Ctrl-C) ends as Python ends it.

    The cyclic garbage collector runs after every 10 000 new container objects, not 700 (``safenet.collector``).
    """
    collector.collect_less()
    code = main()
    import atexit
    import contextlib
    import threading

    getattr(threading, "_shutdown")()  # noqa: B009 - private, what Py_FinalizeEx calls first (3.11-3.13)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more to say there
            stream.flush()
    os._exit(code)
