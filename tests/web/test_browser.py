"""The review UI in a real browser: Playwright driving Debian's Chromium (never Playwright's own download).

Log in, see blurred thumbnails (the bytes the browser received are the blurred greyscale ones), reveal one
item (audited), grade a near-duplicate cluster and one item with the keyboard, and find the grades stored.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image

from safenet.case.gradings import Grade, current_gradings
from safenet.case.store import Case
from tests.web.conftest import PASSWORD, Built

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the review server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


@pytest.fixture
def browser_page() -> Iterator[object]:
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: run `make sysdeps-test` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def test_log_in_see_blurred_thumbnails_reveal_and_grade_with_the_keyboard(
    server: str, browser_page: object, built: Built, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, Response, expect

    page = browser_page
    assert isinstance(page, Page)
    received: dict[str, bytes] = {}
    clear_requests: list[str] = []

    def on_response(response: Response) -> None:
        if "/media/thumb/" in response.url and response.ok:
            received[response.url.rsplit("/", 1)[1]] = response.body()
        if "/media/clear/" in response.url:
            clear_requests.append(response.url)

    page.on("response", on_response)
    page.goto(f"{server}/review")
    assert page.url.endswith("/login")
    page.fill('input[name="name"]', "alice")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{server}/review")
    expect(page.locator(".card")).to_have_count(4)  # trusted.jpg is hidden, notes.txt is no picture
    _poll(page, "Array.from(document.querySelectorAll('.card img')).every(i => i.complete)")

    # the browser got the blurred greyscale thumbnails, nothing else
    other = built.ids["other.jpg"]
    deadline = time.monotonic() + 10
    while str(other) not in received and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    thumb = Image.open(io.BytesIO(received[str(other)]))
    assert thumb.mode == "L" and max(thumb.size) <= 128
    assert received[str(other)] != (built.evidence / "other.jpg").read_bytes()
    assert received[str(other)] == (built.case / "thumbs" / "review" / f"{other}-128-2.jpg").read_bytes()
    assert not clear_requests

    # reveal one item: audited, shown, hidden again
    page.locator(f'.card[data-item="{other}"]').focus()
    page.keyboard.press("r")
    expect(page.locator("#reveal")).to_be_visible()
    expect(page.locator("#message")).to_contain_text("Revealed item")
    _poll(page, "document.getElementById('reveal-image').complete")
    assert clear_requests == [f"{server}/media/clear/{other}"]
    page.keyboard.press("Escape")
    expect(page.locator("#reveal")).to_be_hidden()

    # grade the near-duplicate cluster (Shift+B) and one item (C)
    page.locator(f'.card[data-item="{built.ids["dup-big.jpg"]}"]').focus()
    page.keyboard.press("Shift+B")
    expect(page.locator("#message")).to_contain_text("Graded 2 item(s) B")
    page.locator(f'.card[data-item="{other}"]').focus()
    page.keyboard.press("c")
    expect(page.locator("#message")).to_contain_text("Graded 1 item(s) C")
    expect(page.locator(f'.card[data-item="{other}"] .grade')).to_have_text("C")

    # the charging summary a prosecutor gets: a PDF whose text holds the counts just graded
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing: run `make sysdeps-test`")
    with page.expect_download() as download:
        page.click("#charging-pdf")
    pdf = tmp_path / "charging.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    # counts (still accessible … total): two B and one C just graded by keyboard, one A from the trusted set
    assert "Category B 2 0 0 0 2" in flat and "Category C 1 0 0 0 1" in flat and "Category A 1 0 0 0 1" in flat
    # provenance (trusted, indicative, examiner unconfirmed, examiner confirmed, total)
    assert "Category B 0 0 2 0 2" in flat and "Category C 0 0 1 0 1" in flat

    case = Case.open_existing(built.case)
    try:
        grades = {i: (r.grade, r.examiner) for i, r in current_gradings(case).items()}
        revealed = [e["data"] for e in case.audit.entries() if e["event"] == "item-revealed"]
    finally:
        case.close()
    assert grades == {
        built.ids["dup-big.jpg"]: (Grade.B, "alice"),
        built.ids["dup-small.png"]: (Grade.B, "alice"),
        other: (Grade.C, "alice"),
    }
    assert revealed == [{"item": other, "user": "alice", "role": "examiner"}]


def _poll(page: Any, expression: str, seconds: float = 10.0) -> None:
    """Wait until ``expression`` is true, polling from Python.

    Not ``page.wait_for_function``: once it has to poll, it compiles the expression inside the page, which
    the app's Content-Security-Policy (no eval) rightly forbids, so it failed whenever the first check was
    false. ``page.evaluate`` runs through the DevTools protocol and is not subject to the page's policy.
    """
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        page.wait_for_timeout(50)
