"""Shared pieces of the dashboard tests (tests/ops/test_web*.py, tests/ops/test_browser*.py): an operation
database, users of every role, lead files (one with hostile fields), a seeded operation, logged-in clients.

The known picture is the review tests' triaged case (``tests.web.conftest``: ``trusted.jpg`` is a copy of the
category A reference picture); a lead observes its MD5, so a visit linked to that exhibit shows the
corroboration. Fixtures are imported by name into the test modules.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from safenet.ops.access import Actor
from safenet.ops.leads import import_csv, set_subscriber
from safenet.ops.people import add_person, record_safeguarding
from safenet.ops.store import OpsStore
from safenet.ops.visits import add_visit
from safenet.ops.web import create_app
from safenet.users import Role, UserStore
from safenet.web import WebSettings
from tests.web.conftest import PASSWORD, Browser, Built, Clock, quick_users, users_file

ROLES = {
    "ann": Role.ANALYST,
    "sue": Role.SUPERVISOR,
    "eve": Role.EXAMINER,
    "rob": Role.REVIEWER,
    "vic": Role.VIEWER,
    "root": Role.ADMIN,
}
ACTORS = {name: Actor(name, role) for name, role in ROLES.items()}
ANALYST, SUPERVISOR, EXAMINER = ACTORS["ann"], ACTORS["sue"], ACTORS["eve"]
WEEK = "2026-W50"
TODAY = date(2026, 12, 9)  # a Wednesday of WEEK
XSS_FILE = '<script>alert("file")</script>.jpg'
XSS_ISP = '<img src=x onerror=alert("isp")>'
OTHER_MD5 = "0123456789abcdef0123456789abcdef"
ADDRESS = "1 Test Street, Testtown"
PERSON = "Sam Testperson"
REFERRAL = "Testtown children's services"
MAPPING = """columns:
  source_ref: reference
  observed: seen
  ip: ip
  port: port
  hash: hash
  file_name: file
  client_id: guid
  isp: isp
  observations: hits
fixed:
  hash_kind: md5
"""


def clock_at(day: date) -> Clock:
    clock = Clock()
    clock.now = clock.now.replace(year=day.year, month=day.month, day=day.day, hour=10)
    return clock


def known_md5(built: Built) -> str:
    return hashlib.md5((built.evidence / "trusted.jpg").read_bytes()).hexdigest()


def lead_files(folder: Path, md5: str, *, extra_rows: int = 0) -> tuple[Path, Path]:
    """A P2P CSV (the known picture observed twice by one client, a hostile row) and its mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        ["P2P-1", "2026-12-01T21:14:05+00:00", "203.0.113.7", "4662", md5, "holiday.jpg", "GUID-1", "Example ISP", "3"],
        ["P2P-2", "2026-12-02T08:00:00+01:00", "203.0.113.9", "4662", OTHER_MD5, XSS_FILE, "GUID-2", XSS_ISP, "1"],
    ]
    rows += [
        [f"P2P-{n}", "2026-12-03T08:00:00Z", "198.51.100.1", "", OTHER_MD5, f"f{n}.jpg", "G", "ISP", "1"]
        for n in range(3, 3 + extra_rows)
    ]
    data = folder / "obs.csv"
    with data.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["reference", "seen", "ip", "port", "hash", "file", "guid", "isp", "hits"])
        writer.writerows(rows)
    mapping = folder / "p2p.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return data, mapping


@pytest.fixture(scope="session")
def ops_users_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return users_file(tmp_path_factory.mktemp("opsusers") / "users.sqlite", ROLES)


@pytest.fixture
def ops_users(ops_users_template: Path, tmp_path: Path) -> UserStore:
    path = tmp_path / "users.sqlite"
    path.write_bytes(ops_users_template.read_bytes())
    return quick_users(path)


@pytest.fixture
def ops_store(tmp_path: Path) -> Iterator[OpsStore]:
    store = OpsStore.open(tmp_path / "ops" / "ops.sqlite", create=True)
    yield store
    store.close()


@pytest.fixture
def ops_app(ops_store: OpsStore, ops_users: UserStore) -> FastAPI:
    return create_app(ops_store, ops_users, WebSettings(clock=clock_at(TODAY)))


@dataclass(frozen=True)
class Seeded:
    lead: str  # the known picture's lead
    hostile_lead: str
    visit: str
    person: str


def seed(store: OpsStore, built: Built, folder: Path) -> Seeded:
    """Leads imported, a subscriber address entered, a visit planned, a person and a safeguarding record."""
    data, mapping = lead_files(folder, known_md5(built))
    result = import_csv(store, ANALYST, data, mapping, "p2p")
    known, hostile = result.added
    set_subscriber(store, ANALYST, known, ADDRESS)
    visit_id = add_visit(
        store,
        ANALYST,
        lead_ids=[known],
        warrant_power="s.8 PACE",
        warrant_ref="2026/431",
        issuing_court="Testtown Magistrates",
        warrant_date=date(2026, 12, 7),
        planned_date=TODAY,
        team="Team 1",
    )
    person_id = add_person(store, ANALYST, visit_id, PERSON)
    record_safeguarding(store, ANALYST, visit_id, children=2, referral_to=REFERRAL, referral_on=TODAY)
    return Seeded(known, hostile, visit_id, person_id)


class OpsBrowser(Browser):
    """The review tests' browser (it remembers the CSRF token of the last page), posting the dashboard's forms."""

    def form(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """A form post with the CSRF token (``files=`` for an upload)."""
        return self.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


@pytest.fixture
def ops_login(ops_app: FastAPI) -> Callable[[str], OpsBrowser]:
    def _login(name: str) -> OpsBrowser:
        client = OpsBrowser(ops_app, follow_redirects=False)
        client.page("/login")
        response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": client.csrf})
        assert response.status_code == 303 and response.headers["location"] == "/ops", response.text
        client.page("/ops")
        return client

    return _login


def log_in(page: Any, server: str, name: str) -> None:
    """Log in through the browser (Playwright page); the dashboard follows."""
    page.goto(f"{server}/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{server}/ops")


def log_out(page: Any, server: str) -> None:
    page.click("text=Log out")
    page.wait_for_url(f"{server}/login")
