"""Accessibility (WCAG 2.2 AA) of the dashboard pages, checked by axe-core in Chromium as the review pages are
(``tests/web/test_browser_a11y.py``; `make axe` installs the pinned axe-core): no serious or critical
violations on any page, with every form a supervisor and an analyst are offered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from safenet.ops.people import record_outcome
from safenet.ops.store import OpsStore
from safenet.ops.visits import link_exhibit
from tests.ops import web_support
from tests.ops.web_support import ANALYST, EXAMINER, log_in, log_out, seed
from tests.web import browser_support
from tests.web import conftest as web_conftest
from tests.web.conftest import Built
from tests.web.test_browser_a11y import serious_violations

pytestmark = pytest.mark.slow
browser_page = browser_support.browser_page  # fixtures
ops_users_template, ops_users = web_support.ops_users_template, web_support.ops_users
ops_store, ops_app = web_support.ops_store, web_support.ops_app
built, template_case = web_conftest.built, web_conftest.template_case

PAGES = (
    "/ops",
    "/ops/leads",
    "/ops/visits",
    "/ops/visits/V-1",
    "/ops/lab",
    "/ops/deadlines",
    "/ops/people",
    "/ops/safeguarding",
    "/ops/report",
    "/ops/figures",
)


@pytest.fixture
def server(ops_app: FastAPI, ops_store: OpsStore, built: Built, tmp_path: Path) -> Iterator[str]:
    seeded = seed(ops_store, built, tmp_path / "leads")
    link_exhibit(ops_store, EXAMINER, seeded.visit, built.case, "EX1")
    record_outcome(ops_store, ANALYST, seeded.person, arrested_on=date(2026, 12, 9))
    yield from browser_support.serve(ops_app)


@pytest.mark.parametrize("name", ["sue", "ann", "vic"])
def test_dashboard_pages_have_no_serious_violations(server: str, browser_page: object, name: str) -> None:
    page: Any = browser_page
    page.goto(f"{server}/login")
    assert serious_violations(page) == [], "login"
    log_in(page, server, name)
    checked = 0
    for path in PAGES:
        response = page.goto(f"{server}{path}")
        assert response is not None
        assert serious_violations(page) == [], (name, path, response.status)
        checked += response.status == 200
    assert checked >= 2
    log_out(page, server)
