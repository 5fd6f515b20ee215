"""The app factory: one case, one user store, one settings object → a FastAPI app.

Why a factory: tests and ``safenet review`` build independent apps (no module-global state), and every
security default is set in one place: no OpenAPI/docs pages, strict security headers on every response
(no caching, no framing, a CSP that allows no inline script), the two "not logged in" answers
(redirect for pages, 401 for the API and images), the Host headers accepted, and whose X-Forwarded-For
is believed (only configured proxies': anyone else could otherwise pick their own address and step
around the per-client login limit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.middleware.trustedhost import TrustedHostMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from safenet.case.audit import AuditError
from safenet.case.store import Case, is_disk_full
from safenet.users import UserStore
from safenet.web.auth import LoginRequired, SessionStore
from safenet.web.context import WebContext
from safenet.web.routes import admin, grading, login, media, reports, review
from safenet.web.settings import PREFERENCES_FILE, PreferenceStore, WebSettings
from safenet.web.throttle import FailedLogins, LoginThrottle
from safenet.web.thumbs import Thumbnailer

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def templates() -> Environment:
    """Jinja with autoescaping always on: evidence names are hostile input."""
    env = Environment(loader=PackageLoader("safenet.web", "templates"), autoescape=True, undefined=StrictUndefined)
    env.trim_blocks = env.lstrip_blocks = True
    return env


def create_app(
    case_path: Path, users: UserStore, settings: WebSettings | None = None, *, db: str | None = None
) -> FastAPI:
    """Build the review app for the case at ``case_path`` (opened here; a bad path raises CaseError); ``db``:
    its PostgreSQL URL again, with a password (``Case.open_existing``)."""
    settings = settings or WebSettings()
    ctx = WebContext(Case.open_existing(case_path, db), users, settings, templates())
    ctx.sessions = SessionStore(ctx)
    ctx.media = Thumbnailer(ctx.case, settings)
    ctx.logins = LoginThrottle(settings)
    ctx.failed_logins = FailedLogins(settings)
    ctx.preferences = PreferenceStore(ctx.case.path / PREFERENCES_FILE)
    if ctx.case.dialect == "postgresql":  # several worker processes may serve it: their state in the database
        shared_state(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for data in ctx.failed_logins.flush():  # failed-login windows still open when the server stops
            ctx.case.audit.append("web-login-failed", **data)

    app = FastAPI(title="Safenet review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.web = ctx
    for module in (login, review, media, grading, admin, reports):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(packages=[("safenet.web", "static")]), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=302)

    # A grade, confirmation or reveal is audited before its database commit, so when the log cannot be written
    # nothing of the request is kept: say so in one sentence (the grid shows ``detail``), never a bare 500.
    @app.exception_handler(AuditError)
    async def audit_unwritable(_request: Request, exc: AuditError) -> Response:
        return JSONResponse({"detail": f"nothing was recorded: {exc}"}, status_code=503)

    @app.exception_handler(OSError)
    async def disk_full(_request: Request, exc: OSError) -> Response:
        if is_disk_full(exc):
            detail = f"nothing was recorded: the disk holding the case folder {ctx.case.path} is full; free some space"
            return JSONResponse({"detail": detail}, status_code=507)
        return JSONResponse({"detail": "internal error; the case stays valid (see the server's log)"}, status_code=500)

    harden(app, settings)
    return app


def shared_state(ctx: WebContext) -> None:
    from safenet.web import shared

    engine = ctx.case.engine
    shared.create_tables(engine)
    ctx.sessions = shared.SharedSessionStore(ctx, engine)
    ctx.logins = shared.SharedLoginThrottle(ctx.settings, engine)
    ctx.failed_logins = shared.SharedFailedLogins(ctx.settings, engine)
    ctx.preferences = shared.SharedPreferenceStore(engine)


def harden(app: FastAPI, settings: WebSettings) -> None:
    """The security headers on every response, the Host check and the trusted proxies (shared by the
    review app and the operation dashboard)."""

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    if settings.allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    if settings.trusted_proxies:  # added last, so it runs first: the client address is settled before anything
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
