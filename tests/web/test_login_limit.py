"""Login rate limit: five failures for a name or from a client in 15 minutes, then a cooling-off (HTTP 429)."""

from __future__ import annotations

from fastapi import FastAPI

from tests.web.conftest import PASSWORD, Browser, Clock


def _try(client: Browser, name: str, password: str) -> int:
    client.page("/login")
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": client.csrf})
    return response.status_code


def _events(app: FastAPI) -> list[dict[str, object]]:
    return list(app.state.web.case.audit.entries())


def test_five_failures_for_a_name_pause_logins_for_it_then_it_recovers(app: FastAPI, clock: Clock) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.1", 5000))
    assert [_try(client, "alice", "wrong password!") for _ in range(5)] == [401] * 5
    client.page("/login")
    refused = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": client.csrf})
    assert refused.status_code == 429 and "Too many failed attempts" in refused.text  # even the right password
    assert client.get("/review").status_code == 302
    # from another client the name is still paused: the limit is per name as well as per client
    other = Browser(app, follow_redirects=False, client=("10.0.0.2", 5000))
    assert _try(other, "alice", PASSWORD) == 429
    assert _try(other, "bob", PASSWORD) == 303  # another name from another client is not affected
    failed = [e for e in _events(app) if e["event"] == "web-login-failed"]
    assert len(failed) == 7 and sum(1 for e in failed if e["data"].get("reason")) == 2
    clock.advance(minutes=15, seconds=1)
    assert _try(client, "alice", PASSWORD) == 303


def test_a_client_guessing_many_names_is_paused_and_names_are_not_revealed(app: FastAPI, clock: Clock) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.3", 5000))
    names = ["alice", "nobody", "bob", "ghost", "vic"]
    assert [_try(client, name, "wrong password!") for name in names] == [401] * 5
    real = Browser(app, follow_redirects=False, client=("10.0.0.3", 5001))
    client.page("/login")
    a = client.post("/login", data={"name": "erin", "password": PASSWORD, "csrf_token": client.csrf})
    real.page("/login")
    b = real.post("/login", data={"name": "nobody-at-all", "password": "x", "csrf_token": real.csrf})
    assert a.status_code == b.status_code == 429
    strip = lambda text: text.split('name="csrf-token"')[1].split('name="csrf_token"')[1]  # noqa: E731
    assert strip(a.text).replace(client.csrf, "") == strip(b.text).replace(real.csrf, "")
    clock.advance(minutes=16)
    assert _try(client, "erin", PASSWORD) == 303


def test_failures_spread_over_more_than_the_window_do_not_pause(app: FastAPI, clock: Clock) -> None:
    client = Browser(app, follow_redirects=False, client=("10.0.0.4", 5000))
    for _ in range(8):
        assert _try(client, "alice", "wrong password!") == 401
        clock.advance(minutes=4)
    assert _try(client, "alice", PASSWORD) == 303
