"""Security of the review UI: sessions on every route, CSRF on every state change, roles, escaping, headers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount

from tests.web.conftest import PASSWORD, SCRIPT_NAME, Browser, Built

#: Routes that must answer without a session: the login form itself, and the static CSS/JS (no case data).
PUBLIC = {("GET", "/login"), ("POST", "/login")}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _flatten(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Routes with their prefixes, including those of included routers (FastAPI keeps those lazily)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flatten(inner.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        else:
            yield prefix, route


def _routes(app: FastAPI, concrete: bool = True) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, from app.routes: new routes are covered automatically. Concrete
    paths have "1" for each parameter; otherwise the patterns are kept (``{item_id}``)."""
    found: list[tuple[str, str]] = []
    for prefix, route in _flatten(app.routes):
        if isinstance(route, Mount):
            assert prefix + route.path == "/static", f"unexpected mount {route.path}: add it to the session tests"
            continue
        assert isinstance(route, APIRoute), f"unexpected route type {route!r}: add it to the session tests"
        path = re.sub(r"\{[^}]+\}", "1", prefix + route.path) if concrete else prefix + route.path
        found.extend((method, path) for method in sorted(route.methods or ()))
    return found


def test_every_route_requires_a_session(app: FastAPI, built: Built) -> None:
    routes = _routes(app)
    assert {("GET", "/review"), ("GET", "/media/thumb/1"), ("POST", "/api/grade")} <= set(routes)
    anonymous = TestClient(app, follow_redirects=False)
    item = built.ids["other.jpg"]
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        path = path.replace("/1", f"/{item}")
        response = anonymous.request(method, path)
        if path.startswith(("/api/", "/media/")):
            assert response.status_code == 401, (method, path, response.status_code)
        else:
            assert response.status_code == 302 and response.headers["location"] == "/login", (method, path)
        assert "other.jpg" not in response.text and "EX1" not in response.text
        checked += 1
    assert checked >= 10


def test_item_ids_out_of_range_are_404_on_every_route(app: FastAPI, login: Callable[[str], Browser]) -> None:
    client = login("alice")
    with_item = [(m, p) for m, p in _routes(app, concrete=False) if "{item_id}" in p]
    assert len(with_item) >= 6
    for method, path in with_item:
        for bad in (str(2**63), str(2**64 + 5), "0", "-1", "9" * 30):
            url = path.replace("{item_id}", bad).replace("{index}", "0")
            response = client.request(method, url, json={}, headers={"X-CSRF-Token": client.csrf})
            assert response.status_code == 404, (method, url, response.status_code)
    for url, body in (("/api/grade", {"grade": "A", "item_ids": [2**63]}), ("/api/confirm", {"item_ids": [2**63]})):
        assert client.api(url, body).status_code == 422, url  # ids in a body: a malformed request, never a 500


def test_static_files_hold_no_case_data(app: FastAPI) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get("/static/review.js").status_code == 200
    assert anonymous.get("/static/../case.db").status_code == 404


def test_no_docs_or_openapi_pages(app: FastAPI) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert anonymous.get(path).status_code in (302, 404)


def test_csrf_is_required_on_every_state_changing_route(app: FastAPI, login: Callable[[str], Browser]) -> None:
    client = login("root")
    changing = [(m, p) for m, p in _routes(app) if m in STATE_CHANGING and (m, p) not in PUBLIC]
    assert len(changing) >= 6
    for method, path in changing:
        for headers in ({}, {"X-CSRF-Token": "0" * 64}):
            response = client.request(method, path, json={"grade": "A", "item_ids": [1]}, headers=headers)
            assert response.status_code == 403, (method, path, headers, response.status_code)
            response = client.request(method, path, data={"csrf_token": headers.get("X-CSRF-Token", "")})
            assert response.status_code == 403, (method, path, "form", response.status_code)
    # the token of another session is worthless here
    other = login("alice")
    response = client.post("/api/grade", json={"grade": "A", "item_ids": [1]}, headers={"X-CSRF-Token": other.csrf})
    assert response.status_code == 403


def test_login_needs_csrf_too(app: FastAPI) -> None:
    client = Browser(app, follow_redirects=False)
    assert client.post("/login", data={"name": "alice", "password": PASSWORD}).status_code == 403
    client.page("/login")
    assert client.post("/login", data={"name": "alice", "password": PASSWORD}).status_code == 403
    response = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": "x" * 64})
    assert response.status_code == 403


def test_login_sets_a_strict_httponly_cookie_and_a_new_session(app: FastAPI) -> None:
    client = Browser(app, follow_redirects=False)
    client.page("/login")
    before = client.cookies.get("safenet_session")
    response = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": client.csrf})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.cookies.get("safenet_session") not in (None, before)


def test_wrong_password_is_refused_and_audited(app: FastAPI, built: Built) -> None:
    client = Browser(app, follow_redirects=False)
    client.page("/login")
    response = client.post("/login", data={"name": "alice", "password": "wrong password!", "csrf_token": client.csrf})
    assert response.status_code == 401 and "Wrong name or password" in response.text
    assert client.get("/review").status_code == 302
    events = [e["event"] for e in app.state.web.case.audit.entries()]
    assert "web-login-failed" in events and "web-login" not in events


def test_logout_ends_the_session(app: FastAPI, login: Callable[[str], Browser]) -> None:
    client = login("alice")
    response = client.post("/logout", data={"csrf_token": client.csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/review").status_code == 302
    assert client.get("/api/status").status_code == 401


def test_a_removed_user_loses_access_at_once(app: FastAPI, login: Callable[[str], Browser]) -> None:
    client = login("erin")
    app.state.web.users.remove("erin")
    assert client.get("/review").status_code == 302


def test_session_expires_when_idle(app: FastAPI, login: Callable[[str], Browser], clock: object) -> None:
    client = login("alice")
    clock.advance(minutes=31)  # type: ignore[attr-defined]
    assert client.get("/api/status").status_code == 401


def test_viewer_cannot_grade_confirm_or_reveal(app: FastAPI, login: Callable[[str], Browser], built: Built) -> None:
    client = login("vic")
    item = built.ids["other.jpg"]
    response = client.api("/api/grade", {"grade": "A", "item_ids": [item]})
    assert response.status_code == 403 and "viewer cannot grade" in response.json()["detail"]
    assert client.api("/api/confirm", {"item_ids": [item]}).status_code == 403
    assert client.api(f"/api/items/{item}/reveal").status_code == 403
    from safenet.case.gradings import current_gradings

    assert current_gradings(app.state.web.case) == {}
    page = client.page("/review")
    assert 'data-may-grade="no"' in page and "blurred thumbnail" in page  # a viewer still reads the grid


def test_examiner_cannot_manage_users(app: FastAPI, login: Callable[[str], Browser]) -> None:
    examiner = login("alice")
    response = examiner.get("/admin/users")
    assert response.status_code == 403 and "Only an admin" in response.text
    assert 'href="/admin/users"' not in examiner.page("/review")
    admin = login("root")
    listing = admin.page("/admin/users")
    assert all(name in listing for name in ("alice", "bob", "vic", "root"))
    # no route changes users at all: that is `safenet users`, on the machine
    changing = {p for m, p in _routes(app) if m in STATE_CHANGING}
    assert not any("user" in path for path in changing)


def test_script_in_an_evidence_name_is_escaped(login: Callable[[str], Browser]) -> None:
    page = login("alice").page("/review")
    assert SCRIPT_NAME.replace("<", "&lt;").replace(">", "&gt;") in page
    assert "<script>alert" not in page
    assert page.count("<script") == 1  # only the grid's own script file


def test_security_headers(login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    for url in ("/review", f"/media/thumb/{built.ids['other.jpg']}"):
        headers = client.get(url).headers
        assert headers["cache-control"] == "no-store"
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
