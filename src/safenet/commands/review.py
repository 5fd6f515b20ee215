"""``safenet review CASE``: serve the welfare-safe review and grading web UI for one case.

Bound to 127.0.0.1 by default: the UI shows (blurred) evidence, so listening on a network is an explicit
choice (``--allow-remote``), and it prints a warning. Behind a TLS reverse proxy, ``--public-url`` names
the address users type (the cookie gets the Secure flag, and only that Host is answered) and
``--trusted-proxy`` the proxy whose X-Forwarded-For names the client. The port is bound before anything
is written, so a port in use ends the command with one sentence and no ``review-served`` line in the audit
log. The web stack is imported only when the command runs, so the rest of the CLI starts as fast without it.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.text import Text

from safenet.commands.common import Keys, Password, Recovery

if TYPE_CHECKING:
    from safenet.web.settings import WebSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Host headers a loopback server answers (besides its own --host): what a local browser sends.
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only "localhost" is taken as loopback
        return False


def public_host(url: str) -> tuple[str, bool]:
    """The host name of ``--public-url`` and whether it is https; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--public-url {url!r} is not an http(s) URL such as https://review.lab.example")
    return parts.hostname, parts.scheme == "https"


def allowed_hosts(host: str, public: str | None) -> tuple[str, ...] | None:
    """Host headers to answer: the public name; on loopback the local names; otherwise any (None)."""
    if public is not None:
        return (public,)
    if is_loopback(host) and ":" not in host:  # Starlette's host check cannot parse IPv6 literals
        return tuple(dict.fromkeys((host, *LOOPBACK_NAMES)))
    return None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or OSError (port in use, address not on this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def review_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow --host to be an address other than loopback.")
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="URL users open, e.g. https://review.lab.example behind a TLS proxy: https sets the cookie's "
            "Secure flag, and other Host headers are refused.",
        ),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="Address of a reverse proxy whose X-Forwarded-For names the client (repeatable); from anyone "
            "else the header is ignored.",
        ),
    ] = None,
    users_file: Annotated[
        Path | None,
        typer.Option("--users-file", envvar="SAFENET_USERS", help="Users database file (see `safenet users`)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="The case's PostgreSQL URL, when it needs a password (postgresql://user:pw@host/db)."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=64, help="Worker processes serving the UI (more than 1: PostgreSQL cases only)."
        ),
    ] = 1,
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
) -> None:
    """Serve the review and grading web UI for a case (on 127.0.0.1 unless told otherwise)."""
    from safenet.commands.common import Exit, err, fail, open_context, out, user_errors
    from safenet.users import UserStore

    with user_errors():
        if not is_loopback(host) and not allow_remote:
            fail(Exit.USAGE, f"--host {host} is not a loopback address; add --allow-remote to serve on a network")
        proxies = tuple(trusted_proxy or ())
        for proxy in proxies:
            try:
                ipaddress.ip_address(proxy)
            except ValueError:
                fail(Exit.USAGE, f"--trusted-proxy {proxy!r} is not an IP address")
        public: str | None = None
        secure = False
        if public_url is not None:
            try:
                public, secure = public_host(public_url)
            except ValueError as exc:
                fail(Exit.USAGE, str(exc))
        users = UserStore(users_file)
        if not users.list():
            fail(Exit.USAGE, "there are no users yet; add one with `safenet users add NAME --role examiner`")
        try:
            sock = bind(host, port)
        except OSError as exc:
            fail(Exit.EVIDENCE, f"cannot listen on {host} port {port}: {exc.strerror or exc}; choose another --port")
        import uvicorn

        from safenet.web import WebSettings, create_app

        settings = WebSettings(
            secure_cookies=secure,
            allowed_hosts=allowed_hosts(host, public),
            trusted_proxies=proxies,
            evidence_context=open_context(password, recovery, keys, None),
        )
        try:
            app = create_app(case, users, settings, db=db)
        except BaseException:
            sock.close()
            raise
        if workers > 1 and app.state.web.case.dialect != "postgresql":
            sock.close()
            fail(
                Exit.USAGE,
                "--workers needs a case kept in PostgreSQL (see `safenet case copy --db`); "
                "a case.db case is served by one process",
            )
        if workers > 1 and (password or recovery or keys):
            sock.close()
            fail(
                Exit.USAGE,
                "--workers cannot hand an encrypted source's credential to its workers; serve it with one worker",
            )
        if not is_loopback(host):
            err.print(
                Text(
                    f"warning: serving on {host}, reachable from the network; use TLS in front of it "
                    "(--public-url https://...) and keep it on a closed lab network",
                    style="bold yellow",
                )
            )
        shown = f"[{host}]" if ":" in host else host
        app.state.web.case.audit.append("review-served", host=host, port=port, public_url=public_url)
        out.print(Text(f"Safenet review of {case}: {public_url or f'http://{shown}:{port}/'}  (Ctrl-C stops it)"))
        if workers > 1:
            _serve_workers(case, db, users_file, settings, workers, sock)
            return
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, server_header=False, proxy_headers=False
        )  # the app reads X-Forwarded-For itself, and only from --trusted-proxy addresses
        uvicorn.Server(config).run(sockets=[sock])


def _serve_workers(
    case: Path, db: str | None, users_file: Path | None, settings: WebSettings, workers: int, sock: socket.socket
) -> None:
    """Several uvicorn worker processes on the one listening socket; their shared state is in the case's
    PostgreSQL database (``web.shared``)."""
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from safenet.web.worker import ENV, handed_down

    os.environ[ENV] = handed_down(case.resolve(), db, users_file, settings)
    config = uvicorn.Config(
        "safenet.web.worker:app",
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    Multiprocess(config, sockets=[sock]).run()
