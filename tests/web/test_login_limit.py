"""Login rate limit (per name and per client, separately), failed logins aggregated in the audit log,
X-Forwarded-For only from configured proxies, and the typed name kept after a failed login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from safenet.users import UserStore
from safenet.web import WebSettings, create_app
from tests.web.conftest import PASSWORD, Browser, Built, Clock

pytestmark = pytest.mark.usefixtures("case_db")  # SQLite and PostgreSQL (tests/pgcase.py)


def _try(client: Browser, name: str, password: str, **headers: str) -> int:
    client.page("/login")
    data = {"name": name, "password": password, "csrf_token": client.csrf}
    return client.post("/login", data=data, headers=headers).status_code


def _failed(app: FastAPI) -> list[dict[str, object]]:
    return [e["data"] for e in app.state.web.case.audit.entries() if e["event"] == "web-login-failed"]


def test_five_failures_for_a_name_pause_that_name_only(app: FastAPI, clock: Clock) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.1", 5000))
    assert [_try(client, "alice", "wrong password!") for _ in range(5)] == [401] * 5
    client.page("/login")
    refused = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": client.csrf})
    assert refused.status_code == 429 and "Too many failed attempts" in refused.text  # even the right password
    assert client.get("/review").status_code == 302
    # from another client the name is still paused: a name is guarded wherever the guesses come from
    other = Browser(app, follow_redirects=False, client=("10.0.0.2", 5000))
    assert _try(other, "alice", PASSWORD) == 429
    # ... but the workstation where alice made her typos is not: bob logs in there
    assert _try(Browser(app, follow_redirects=False, client=("10.0.0.1", 5001)), "bob", PASSWORD) == 303
    clock.advance(minutes=15, seconds=1)
    assert _try(client, "alice", PASSWORD) == 303


def test_one_name_hammered_from_a_client_does_not_lock_out_that_client(app: FastAPI) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.5", 5000))
    assert [_try(client, "ghost", "wrong password!") for _ in range(30)] == [401] * 5 + [429] * 25
    assert _try(client, "erin", PASSWORD) == 303


def test_a_client_spraying_many_names_is_paused_and_names_are_not_revealed(app: FastAPI, clock: Clock) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.3", 5000))
    names = ["alice", "nobody", "bob", "ghost", "vic", "x1", "x2", "x3", "x4", "x5"]
    assert [_try(client, name, "wrong password!") for name in names] == [401] * 10
    real = Browser(app, follow_redirects=False, client=("10.0.0.3", 5001))
    client.page("/login")
    a = client.post("/login", data={"name": "erin", "password": PASSWORD, "csrf_token": client.csrf})
    real.page("/login")
    b = real.post("/login", data={"name": "erin", "password": "x", "csrf_token": real.csrf})
    assert a.status_code == b.status_code == 429
    strip = lambda text: text.split('name="csrf-token"')[1].split('name="csrf_token"')[1]  # noqa: E731
    assert strip(a.text).replace(client.csrf, "") == strip(b.text).replace(real.csrf, "")
    assert _try(Browser(app, follow_redirects=False, client=("10.0.0.9", 5000)), "erin", PASSWORD) == 303
    clock.advance(minutes=16)
    assert _try(client, "erin", PASSWORD) == 303


def test_failures_spread_over_more_than_the_window_do_not_pause(app: FastAPI, clock: Clock) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.4", 5000))
    for _ in range(8):
        assert _try(client, "alice", "wrong password!") == 401
        clock.advance(minutes=4)
    assert _try(client, "alice", PASSWORD) == 303


def test_failed_logins_are_aggregated_per_name_client_and_window(app: FastAPI, clock: Clock) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.6", 5000))
    for _ in range(200):
        _try(client, "alice", "wrong password!")
    lines = _failed(app)
    assert len(lines) == 1 and lines[0]["user"] == "alice" and lines[0]["client"] == "10.0.0.6"
    assert lines[0]["count"] == 1
    clock.advance(minutes=15)
    _try(client, "alice", "wrong password!")  # the window has closed: its tally is written, a new one opens
    lines = _failed(app)
    assert len(lines) == 3
    assert (lines[1]["count"], lines[1]["refused"]) == (199, 195) and lines[2]["count"] == 1
    assert sum(int(line["count"]) for line in lines) == 201  # every attempt counted once  # type: ignore[call-overload]


def test_open_windows_are_written_when_the_server_stops(built: Built, users: UserStore, clock: Clock) -> None:
    app = create_app(built.case, users, WebSettings(clock=clock))
    with Browser(app, follow_redirects=False, client=("10.0.0.7", 5000)) as client:
        for _ in range(3):
            _try(client, "bob", "wrong password!")
        assert [line["count"] for line in _failed(app)] == [1]
    assert [line["count"] for line in _failed(app)] == [1, 2]
    app.state.web.case.close()


def test_a_failed_login_keeps_the_typed_name(app: FastAPI) -> None:
    client = Browser(app, follow_redirects=False)
    client.page("/login")
    response = client.post("/login", data={"name": "al<i>ce", "password": "nope", "csrf_token": client.csrf})
    assert response.status_code == 401 and 'value="al&lt;i&gt;ce"' in response.text


@pytest.fixture
def proxied(built: Built, users: UserStore, clock: Clock) -> Iterator[FastAPI]:
    application = create_app(built.case, users, WebSettings(clock=clock, trusted_proxies=("10.9.9.9",)))
    yield application
    application.state.web.case.close()


def test_x_forwarded_for_is_ignored_without_configured_proxies(app: FastAPI) -> None:
    # rotating the header from loopback does not make new clients
    local = Browser(app, follow_redirects=False, client=("127.0.0.1", 5000))
    names = [f"n{i}" for i in range(10)]
    assert [_try(local, n, "bad password", **{"X-Forwarded-For": f"192.0.2.{i}"}) for i, n in enumerate(names)] == [
        401
    ] * 10
    assert _try(local, "alice", PASSWORD, **{"X-Forwarded-For": "192.0.2.200"}) == 429
    assert {line["client"] for line in _failed(app)} == {"127.0.0.1"}


def test_x_forwarded_for_names_the_client_only_from_a_configured_proxy(proxied: FastAPI) -> None:
    proxy = Browser(proxied, follow_redirects=False, client=("10.9.9.9", 5000))
    assert _try(proxy, "ghost", "bad password", **{"X-Forwarded-For": "192.0.2.77"}) == 401
    assert _failed(proxied)[-1]["client"] == "192.0.2.77"
    stranger = Browser(proxied, follow_redirects=False, client=("10.0.0.8", 5000))
    assert _try(stranger, "ghost2", "bad password", **{"X-Forwarded-For": "192.0.2.78"}) == 401
    assert _failed(proxied)[-1]["client"] == "10.0.0.8"
