"""Several review worker processes on one PostgreSQL case share sessions, reveals, the login limit, the
failed-login tally and preferences (``web.shared``): here two apps on the same case stand for two workers, a
browser's requests alternating between them. ``safenet review --workers`` refuses a SQLite case."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest
from fastapi import FastAPI
from PIL import Image

from safenet.case.gradings import grading_history
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.cli import main
from safenet.users import UserStore
from safenet.web import WebSettings, create_app
from tests.pgcase import Databases
from tests.web.conftest import PASSWORD, Browser, Built, Clock, csrf_of


@pytest.fixture
def workers(
    case_db: Databases | None, built: Built, users: UserStore, clock: Clock
) -> Iterator[tuple[FastAPI, FastAPI]]:
    if case_db is None:
        pytest.skip("one process serves a SQLite case: its state stays in that process (tests/web/test_review.py)")
    settings = WebSettings(clock=clock, secret=b"k" * 32)  # the parent hands its secret to every worker
    first, second = create_app(built.case, users, settings), create_app(built.case, users, settings)
    yield first, second
    first.state.web.case.close()
    second.state.web.case.close()


def _login(app: FastAPI, name: str, client: tuple[str, int] = ("10.1.0.1", 5000)) -> Browser:
    browser = Browser(app, follow_redirects=False, client=client)
    browser.page("/login")
    response = browser.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": browser.csrf})
    assert response.status_code == 303, response.text
    return browser


def _on(app: FastAPI, browser: Browser) -> Browser:
    """The same browser (cookies, CSRF token) talking to another worker."""
    other = Browser(app, follow_redirects=False, cookies=browser.cookies)
    other.csrf = browser.csrf
    return other


def test_a_session_and_its_reveal_follow_the_browser_to_another_worker(
    workers: tuple[FastAPI, FastAPI], built: Built, clock: Clock
) -> None:
    first, second = workers
    alice = _login(first, "alice")
    alice.page("/review")
    elsewhere = _on(second, alice)
    assert elsewhere.get("/review").status_code == 200  # logged in on the other worker too
    item = built.ids["other.jpg"]
    assert elsewhere.get(f"/media/clear/{item}?step=colour").status_code == 403  # nothing revealed yet
    assert alice.api(f"/api/items/{item}/reveal", {"step": "colour"}).status_code == 200
    clear = elsewhere.get(f"/media/clear/{item}?step=colour")  # rendered again there, never stored
    assert clear.status_code == 200 and Image.open(io.BytesIO(clear.content)).mode == "RGB"
    assert elsewhere.get(f"/media/clear/{built.ids['dup-big.jpg']}?step=colour").status_code == 403
    assert _on(second, _login(first, "erin")).get(f"/media/clear/{item}?step=colour").status_code == 403
    clock.advance(seconds=61)
    assert elsewhere.get(f"/media/clear/{item}?step=colour").status_code == 403  # expired everywhere
    # a grade made through one worker is seen by the other; a logout on one ends the session on both
    graded = elsewhere.api("/api/grade", {"grade": "C", "item_ids": [item]})
    assert graded.status_code == 200, graded.text
    assert alice.get("/api/counts").json() == elsewhere.get("/api/counts").json()
    assert alice.post("/logout", data={"csrf_token": alice.csrf}).status_code == 303
    assert elsewhere.get("/review").status_code == 302


def test_the_login_limit_counts_failures_on_every_worker(workers: tuple[FastAPI, FastAPI]) -> None:
    first, second = workers
    statuses = []
    for attempt in range(6):
        browser = Browser(workers[attempt % 2], follow_redirects=False, client=("10.1.0.9", 5000 + attempt))
        browser.page("/login")
        data = {"name": "alice", "password": "wrong password!", "csrf_token": browser.csrf}
        statuses.append(browser.post("/login", data=data).status_code)
    assert statuses == [401] * 5 + [429]  # five failures across both workers pause the name on both
    browser = Browser(first, follow_redirects=False)
    browser.page("/login")
    refused = browser.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": browser.csrf})
    assert refused.status_code == 429
    failed = [e["data"] for e in second.state.web.case.audit.entries() if e["event"] == "web-login-failed"]
    # the first failure of each (name, client) window at once, as before ...
    assert [(line["client"], line["count"]) for line in failed] == [("10.1.0.9", 1), ("testclient", 1)]
    [rest] = first.state.web.failed_logins.flush()  # ... the rest, counted by both workers, as one line
    assert (rest["user"], rest["client"], rest["count"], rest["refused"]) == ("alice", "10.1.0.9", 5, 1)
    assert second.state.web.failed_logins.flush() == []


def test_preferences_set_on_one_worker_are_used_by_another(workers: tuple[FastAPI, FastAPI], built: Built) -> None:
    first, second = workers
    alice = _login(first, "alice")
    alice.page("/review")
    assert alice.post("/settings", data={"size": "192", "blur": "3", "csrf_token": alice.csrf}).status_code == 303
    assert (second.state.web.prefs("alice").size, second.state.web.prefs("bob").size) == (192, 128)
    assert not (built.case / "review-preferences.json").exists()


def test_workers_refuse_a_sqlite_case(built: Built, users: UserStore, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["review", str(built.case), "--workers", "2", "--port", str(port), "--users-file", str(users.path)]
    assert main(argv) == 2
    assert "--workers needs a case kept in PostgreSQL" in capsys.readouterr().err


@pytest.mark.slow
def test_safenet_review_with_two_worker_processes(
    workers: tuple[FastAPI, FastAPI], built: Built, users: UserStore
) -> None:
    """The real command: two uvicorn worker processes on one socket; every request on a new connection, so they
    land on either worker, and the login, CSRF token, reveal and grades work wherever they land."""
    for app in workers:
        app.state.web.case.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "safenet", "review", str(built.case), "--workers", "2", "--port", str(port)]
    server = subprocess.Popen([*command, "--users-file", str(users.path)], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx2.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        cookies = httpx2.Cookies()

        def call(method: str, path: str, **kwargs: object) -> httpx2.Response:
            with httpx2.Client(base_url=base, cookies=cookies, follow_redirects=False, timeout=30) as client:
                response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
                cookies.update(client.cookies)
                return response

        token = csrf_of(call("GET", "/login").text)
        login = call("POST", "/login", data={"name": "alice", "password": PASSWORD, "csrf_token": token})
        assert login.status_code == 303
        token = csrf_of(call("GET", "/review").text)
        item = built.ids["other.jpg"]
        reveal = call("POST", f"/api/items/{item}/reveal", json={"step": "grey"}, headers={"X-CSRF-Token": token})
        assert reveal.status_code == 200, reveal.text
        for _ in range(4):
            assert call("GET", f"/media/clear/{item}?step=grey").status_code == 200
        for grade in ("C", "B", "A", "C", "B", "A"):
            body = {"grade": grade, "item_ids": [item], "overwrite": True}
            assert call("POST", "/api/grade", json=body, headers={"X-CSRF-Token": token}).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    case = Case.open_existing(built.case)
    assert [g.grade for g in grading_history(case, item)] == ["C", "B", "A", "C", "B", "A"]
    assert verify_case(case).ok
    case.close()


def test_a_login_name_with_a_nul_is_a_wrong_name_on_every_worker(workers: tuple[FastAPI, FastAPI]) -> None:
    """PostgreSQL text holds no NUL: such a name must still be counted and answered, not end in a server error."""
    statuses = []
    for attempt in range(6):
        browser = Browser(workers[attempt % 2], follow_redirects=False, client=("10.1.0.7", 5000))
        browser.page("/login")
        data = {"name": "al\x00ice", "password": "wrong password!", "csrf_token": browser.csrf}
        statuses.append(browser.post("/login", data=data).status_code)
    assert statuses == [401] * 5 + [429]
