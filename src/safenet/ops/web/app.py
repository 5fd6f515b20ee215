"""The dashboard's app factory: one operation database, one user store, one settings object → a FastAPI app.

The security defaults are the review app's (``safenet.web.app``): no OpenAPI pages, its security headers
(no caching, no framing, a CSP without inline script), the Host and proxy checks. Its templates are looked up
first in this package, then in the review app's (the login page is the review app's, in this app's layout).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader, StrictUndefined

from safenet.case.audit import AuditError
from safenet.evidence.locator import display_safe
from safenet.ops.errors import AccessDenied, OpsError
from safenet.ops.store import OpsStore
from safenet.ops.web.context import HOME, OpsWebContext
from safenet.ops.web.guard import Denied, actor_of
from safenet.ops.web.render import page_for
from safenet.ops.web.routes import dashboard, figures, leads, outcomes, visits
from safenet.users import UserStore
from safenet.web.app import harden
from safenet.web.auth import LoginRequired, SessionStore, browser_session
from safenet.web.routes import login
from safenet.web.settings import WebSettings
from safenet.web.throttle import FailedLogins, LoginThrottle


def templates() -> Environment:
    """Jinja with autoescaping always on: every lead field is hostile input (file names, ISP names ...)."""
    review = PackageLoader("safenet.web", "templates")
    # "review/login.html" names the review app's own page, so this app's login.html can extend it
    loader = ChoiceLoader([PackageLoader("safenet.ops.web", "templates"), PrefixLoader({"review": review}), review])
    env = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
    env.trim_blocks = env.lstrip_blocks = True
    # escaping stops markup, not a bidi override ("x\u202egpj.exe" shown as "xexe.jpg") or an invisible
    # character: text from lead files goes through ``| data``, shown as the command line shows it
    env.filters["data"] = display_safe
    return env


def create_app(
    store: OpsStore, users: UserStore, settings: WebSettings | None = None, *, hashdb: Path | None = None
) -> FastAPI:
    """Build the dashboard for an open operation database (the caller closes it); ``hashdb``: the hash sets
    that name the categories of the leads' hashes."""
    settings = settings or WebSettings()
    ctx = OpsWebContext(store, users, settings, templates(), hashdb=hashdb)
    ctx.sessions = SessionStore(ctx)
    ctx.logins = LoginThrottle(settings)
    ctx.failed_logins = FailedLogins(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for data in ctx.failed_logins.flush():  # failed-login windows still open when the server stops
            store.audit.append("web-login-failed", **data)

    app = FastAPI(title="Safenet operation", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.web = ctx
    for module in (login, dashboard, leads, visits, outcomes, figures):
        app.include_router(module.router)
    app.mount(
        "/static", StaticFiles(packages=[("safenet.ops.web", "static"), ("safenet.web", "static")]), name="static"
    )

    def error_page(request: Request, status_code: int, message: str) -> Response:
        session = browser_session(request)
        if session is None or session.user is None:
            return JSONResponse({"detail": message}, status_code=status_code)
        return page_for(request, session, actor_of(session), "error.html", status_code, message=message)

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=302)

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        return error_page(request, 403, str(exc))

    @app.exception_handler(AccessDenied)
    async def service_denied(request: Request, exc: AccessDenied) -> Response:
        return error_page(request, 403, f"{exc}.")

    @app.exception_handler(OpsError)
    async def user_mistake(request: Request, exc: OpsError) -> Response:
        return error_page(request, 400, str(exc))

    @app.exception_handler(AuditError)
    async def audit_unwritable(request: Request, exc: AuditError) -> Response:
        return error_page(request, 503, f"nothing was recorded: {exc}")

    @app.get("/")
    def root() -> Response:
        return RedirectResponse(HOME, status_code=302)

    harden(app, settings)
    return app
