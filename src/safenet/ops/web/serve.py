"""``safenet ops serve``: run the dashboard with uvicorn, on loopback unless told otherwise.

The same choices as ``safenet review``, through its helpers: a port in use is one sentence before anything
is written, the Host header is checked on loopback, and the listening socket is bound before the app is built.
"""

from __future__ import annotations

from pathlib import Path

from safenet.commands.review import allowed_hosts, bind, is_loopback
from safenet.ops.errors import OpsError
from safenet.ops.store import OpsStore
from safenet.users import UserStore
from safenet.web.settings import WebSettings


def serve(
    db: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8766,
    users_file: Path | None = None,
    hashdb: Path | None = None,
) -> None:
    """Serve the dashboard of the operation database ``db`` (a file path or a URL) until Ctrl-C; ``hashdb``:
    the hash sets naming the subjects' known categories."""
    import uvicorn

    from safenet.ops.web.app import create_app

    if not is_loopback(host):
        # Personal data of suspects and children: never on a network without TLS and a proxy in front.
        raise OpsError(f"--host {host} is not a loopback address; serve on 127.0.0.1 behind a TLS reverse proxy")
    users = UserStore(users_file)
    if not users.list():
        raise OpsError("there are no users yet; add one with `safenet users add NAME --role analyst`")
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise OpsError(f"cannot listen on {host} port {port}: {exc.strerror or exc}; choose another --port") from exc
    try:
        store = OpsStore.open(db)
    except BaseException:
        sock.close()
        raise
    try:
        app = create_app(store, users, WebSettings(allowed_hosts=allowed_hosts(host, None)), hashdb=hashdb)
        store.audit.append("ops-served", host=host, port=port)
        print(f"Safenet operation dashboard: http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, proxy_headers=False)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()
