"""``safenet review CASE``: serve the welfare-safe review and grading web UI for one case.

Bound to 127.0.0.1 by default: the UI shows (blurred) evidence, so listening on a network is an explicit
choice (``--allow-remote``), and it prints a warning. The web stack is imported only when the command
runs, so the rest of the CLI starts as fast without it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from safenet.users import UserStore

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only "localhost" is taken as loopback
        return False


def review_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow --host to be an address other than loopback.")
    ] = False,
    users_file: Annotated[
        Path | None,
        typer.Option("--users-file", envvar="SAFENET_USERS", help="Users database file (see `safenet users`)."),
    ] = None,
) -> None:
    """Serve the review and grading web UI for a case (on 127.0.0.1 unless told otherwise)."""
    from safenet.commands.common import Exit, err, fail, out, user_errors

    with user_errors():
        if not is_loopback(host) and not allow_remote:
            fail(Exit.USAGE, f"--host {host} is not a loopback address; add --allow-remote to serve on a network")
        users = UserStore(users_file)
        if not users.list():
            fail(Exit.USAGE, "there are no users yet; add one with `safenet users add NAME --role examiner`")
        import uvicorn

        from safenet.web import create_app

        app = create_app(case, users)
        if not is_loopback(host):
            err.print(
                Text(
                    f"warning: serving on {host}, reachable from the network; use TLS in front of it and "
                    "keep it on a closed lab network",
                    style="bold yellow",
                )
            )
        shown = f"[{host}]" if ":" in host else host
        app.state.web.case.audit.append("review-served", host=host, port=port)
        out.print(Text(f"Safenet review of {case}: http://{shown}:{port}/  (Ctrl-C stops it)"))
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
