"""The operation in a browser (Playwright + Debian's Chromium): an analyst imports leads (one with hostile
fields) and plans a visit, a supervisor approves it, an examiner triages a folder with ``--visit`` (the CLI),
the visit shows the verdict and the corroboration, an officer records the execution, arrest, charge and
safeguarding, and the public figures show the week's totals with suppression; a viewer is refused every page
but the figures."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from safenet.cli import main
from safenet.demo import picture
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.ops.store import OpsStore
from safenet.ops.web import create_app
from safenet.ops.web.render import iso_week
from safenet.users import UserStore
from safenet.web import WebSettings
from tests.builders import write
from tests.ops import web_support
from tests.ops.web_support import ADDRESS, PERSON, REFERRAL, XSS_FILE, XSS_ISP, lead_files, log_in, log_out
from tests.web import browser_support
from tests.web.conftest import encode

pytestmark = pytest.mark.slow
browser_page = browser_support.browser_page  # fixture
ops_users_template, ops_users, ops_store = web_support.ops_users_template, web_support.ops_users, web_support.ops_store

#: Every page a viewer might try, with ids that exist once the scenario has run.
PAGES = (
    "/ops/leads",
    "/ops/visits",
    "/ops/visits/V-1",
    "/ops/lab",
    "/ops/deadlines",
    "/ops/people",
    "/ops/safeguarding",
    "/ops/report",
)


@pytest.fixture
def live_app(ops_store: OpsStore, ops_users: UserStore) -> FastAPI:
    # the real clock: the devices' recording time (the examined-devices figure) is the machine's
    return create_app(ops_store, ops_users, WebSettings())


@pytest.fixture
def server(live_app: FastAPI) -> Iterator[str]:
    yield from browser_support.serve(live_app)


def test_the_operation_end_to_end(
    server: str, browser_page: object, ops_store: OpsStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page: Any = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    today = datetime.now(UTC).date().isoformat()
    week = iso_week(datetime.now(UTC).date())
    known = encode(picture(1, (320, 240)))
    write(tmp_path / "ref", "1.jpg", known)
    hashdb = HashSetStore(Path(os.environ["SAFENET_HASHDB"]))
    hashdb.build_folder(tmp_path / "ref", "known", kind=SetKind.ILLICIT, category="A", scheme="uk", warn=print)
    evidence = tmp_path / "seized"
    write(evidence, "Users/sam/Pictures/holiday.jpg", known)
    write(evidence, "Users/sam/Pictures/beach.jpg", encode(picture(30, (320, 240))))
    data, mapping = lead_files(tmp_path / "leads", hashlib.md5(known).hexdigest())

    # an analyst imports the leads, enters the subscriber address and plans the visit
    log_in(page, server, "ann")
    page.goto(f"{server}/ops/leads")
    page.set_input_files("#import-file", str(data))
    page.fill("#import-source", "p2p")
    page.set_input_files("#import-mapping", str(mapping))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("text=2 lead(s) added")
    assert page.locator("#lead-L-2 .file-name").text_content() == XSS_FILE
    assert page.locator("#lead-L-2 .isp").text_content() == XSS_ISP
    assert page.locator("main script, main img").count() == 0
    page.fill("#address-L-1", ADDRESS)
    page.click("#lead-L-1 button[type=submit]")
    page.wait_for_selector(f"text={ADDRESS} (S-1)")
    page.fill("#plan-leads", "L-1")
    page.fill("#plan-ref", "2026/431")
    page.fill("#plan-date", today)
    page.click("#plan-form button[type=submit]")
    page.wait_for_url(f"{server}/ops/visits/V-1")
    assert "planned" in (page.locator("#visit-status").text_content() or "")
    assert page.locator("#approve-form").count() == 0
    log_out(page, server)

    # a supervisor approves it
    log_in(page, server, "sue")
    page.goto(f"{server}/ops/visits/V-1")
    page.click("#approve-form button")
    page.wait_for_selector("#visit-status:has-text('approved by sue')")
    log_out(page, server)

    # an examiner triages the seized folder on scene with --visit
    monkeypatch.setenv("SAFENET_OPS_DB", str(ops_store.folder / "ops.sqlite"))
    monkeypatch.setenv("SAFENET_OPS_USER", "eve")
    case = tmp_path / "case"
    args = ["triage", str(evidence), "--case", str(case), "--exhibit", "EX1", "--hashset", "known", "--visit", "V-1"]
    assert main(args) == 0
    log_in(page, server, "eve")
    page.goto(f"{server}/ops/visits/V-1")
    verdict = page.locator("#device-D-1 .verdict").text_content() or ""
    assert "hits" in verdict and "A: 1" in verdict and "no hits" not in verdict, verdict
    corroboration = page.locator(".corroborations").text_content() or ""
    assert "(L-1, md5" in corroboration and "is on exhibit EX1" in corroboration
    assert "Users/sam/Pictures/holiday.jpg" in corroboration
    log_out(page, server)

    # an officer records the execution, the person's arrest and charge, and the safeguarding referral
    log_in(page, server, "ann")
    page.goto(f"{server}/ops/visits/V-1")
    page.fill("#actual-date", today)
    page.click("#executed-form button")
    page.wait_for_selector("#visit-status:has-text('executed')")
    page.fill("#person-name", PERSON)
    page.click("#person-form button")
    page.wait_for_url(f"{server}/ops/people")
    page.fill("#outcome-P-1 input[name=arrested_on]", today)
    page.click("#outcome-P-1 button")
    page.wait_for_url(f"{server}/ops/people")
    page.fill("#outcome-P-1 input[name=charged_on]", today)
    page.fill("#outcome-P-1 input[name=offence]", "s.1(1)(a) Protection of Children Act 1978 (making)")
    page.fill("#outcome-P-1 input[name=counts]", "3")
    page.click("#outcome-P-1 button")
    page.wait_for_url(f"{server}/ops/people")
    row = page.locator("#person-P-1").text_content() or ""
    assert PERSON in row and row.count(today) == 2 and "(making) (3 counts)" in row
    page.goto(f"{server}/ops/visits/V-1")
    page.fill("#children-V-1", "6")
    page.fill("#referral-to-V-1", REFERRAL)
    page.fill("#referral-on-V-1", today)
    page.click(".safeguarding-form button")
    page.wait_for_url(f"{server}/ops/safeguarding")
    assert REFERRAL in (page.locator("main").text_content() or "")
    log_out(page, server)

    # the public figures of the week: small numbers suppressed, six children shown
    log_in(page, server, "vic")
    page.goto(f"{server}/ops/figures?week={week}")
    figures = {
        (r.locator("th").text_content() or ""): (r.locator("td").text_content() or "")
        for r in page.locator("table.figures tbody tr").all()
    }
    assert figures == {
        "Warrants executed": "fewer than 5",
        "Arrests": "fewer than 5",
        "People charged": "fewer than 5",
        "Children safeguarded": "6",
        "Devices examined": "fewer than 5",
    }
    text = page.locator("main").text_content() or ""
    assert "Safety advice" in text and PERSON not in text and ADDRESS not in text and "V-1" not in text

    # a viewer is refused every other page, and sees nothing of them
    for path in PAGES:
        response = page.goto(f"{server}{path}")
        assert response is not None and response.status == 403, path
        shown = page.locator("body").text_content() or ""
        assert PERSON not in shown and REFERRAL not in shown and ADDRESS not in shown, path
    assert dialogs == []
