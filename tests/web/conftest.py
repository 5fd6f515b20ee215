"""Fixtures for the review web UI: a small triaged case of benign generated pictures, users, logged-in clients.

The case (built once per test session, copied for each test) holds: one exact copy of a reference picture
(a trusted grade A: hidden from review unless asked), two near-duplicates that form a cluster, two other
unknown pictures, one with ``<script>`` in its name, and a text file (never reviewed).
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from safenet.case.clusters import build_clusters
from safenet.case.copy import copy_case
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.demo import picture
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, UserStore
from safenet.web import WebSettings, create_app
from tests.builders import write
from tests.pgcase import BACKENDS, Databases, use_backend

PASSWORD = "correct horse battery"
SCRIPT_NAME = "<script>alert(1).jpg"
ROLES = {"alice": Role.EXAMINER, "erin": Role.EXAMINER, "bob": Role.REVIEWER, "vic": Role.VIEWER, "root": Role.ADMIN}


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format=fmt, quality=90)
    return buf.getvalue()


class Clock:
    """A settable clock for the app (break reminder, reveal expiry)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Built:
    case: Path
    evidence: Path
    ids: dict[str, int]  # item name -> id


def _no_warning(ref: str | None, message: str) -> None:
    raise AssertionError(f"unexpected warning {ref}: {message}")


@pytest.fixture(scope="session")
def template_case(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("webcase")
    store = HashSetStore(root / "db")
    write(root / "ref", "1.jpg", encode(picture(1, (320, 240))))
    store.build_folder(root / "ref", "ref-a", kind=SetKind.ILLICIT, category="A", scheme="uk", warn=_no_warning)
    ev = root / "ev"
    write(ev, "trusted.jpg", encode(picture(1, (320, 240))))
    write(ev, "dup-big.jpg", encode(picture(20, (640, 480))))
    write(ev, "dup-small.png", encode(picture(20, (640, 480)).resize((400, 300)), "PNG"))
    write(ev, "other.jpg", encode(picture(30, (320, 240))))
    write(ev, SCRIPT_NAME, encode(picture(31, (320, 240))))
    write(ev, "notes.txt", b"not a picture\n")
    case = Case.create_or_open(root / "case")
    triage(
        ev, case, store, TriageOptions(exhibit="EX1", hashsets=("ref-a",), operator="t", executor=ExecutorKind.INLINE)
    )
    build_clusters(case)
    with case.sessions() as s:
        ids = {row.name: row.id for row in s.query(ItemRow)}
    case.close()
    return Built(root / "case", ev, ids)


@pytest.fixture(params=BACKENDS)
def case_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Databases | None]:
    """The grading API tests run against SQLite and PostgreSQL (``pytestmark = usefixtures("case_db")``)."""
    yield from use_backend(request.param, monkeypatch)


@pytest.fixture
def built(template_case: Built, tmp_path: Path, request: pytest.FixtureRequest) -> Built:
    """A fresh copy of the case for each test (grades and audit lines do not leak between tests); on
    PostgreSQL, copied there with ``safenet case copy``'s code."""
    target = tmp_path / "case"
    databases = request.getfixturevalue("case_db") if "case_db" in request.fixturenames else None
    if databases is None:
        shutil.copytree(template_case.case, target)
    else:
        copy_case(template_case.case, target, databases.new())
    return Built(target, template_case.evidence, template_case.ids)


def quick_users(path: Path) -> UserStore:
    """A users file whose password hashing is cheap (tests only: it would be weak for real passwords)."""
    return UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def users_file(path: Path, roles: Mapping[str, Role]) -> Path:
    """A users file holding one user per role given, each with PASSWORD."""
    store = quick_users(path)
    for name, role in roles.items():
        store.add(name, role, PASSWORD)
    return path


@pytest.fixture(scope="session")
def users_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return users_file(tmp_path_factory.mktemp("users") / "users.sqlite", ROLES)


@pytest.fixture
def users(users_template: Path, tmp_path: Path) -> UserStore:
    path = tmp_path / "users.sqlite"
    shutil.copy(users_template, path)
    return quick_users(path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(built: Built, users: UserStore, clock: Clock) -> Iterator[FastAPI]:
    application = create_app(built.case, users, WebSettings(clock=clock))
    yield application
    application.state.web.case.close()


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Browser(TestClient):
    """A TestClient that remembers the CSRF token of the last page it loaded."""

    csrf = ""

    def page(self, url: str) -> str:
        response = self.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
        self.csrf = csrf_of(response.text)
        return response.text

    def api(self, url: str, body: object = None) -> httpx2.Response:
        return self.post(url, json=body if body is not None else {}, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def login(app: FastAPI) -> Callable[[str], Browser]:
    def _login(name: str) -> Browser:
        client = Browser(app, follow_redirects=False)
        client.page("/login")
        response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": client.csrf})
        assert response.status_code == 303 and response.headers["location"] == "/review", response.text
        client.page("/review")
        return client

    return _login
