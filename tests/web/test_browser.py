"""The review UI in a real browser: Playwright driving Debian's Chromium (never Playwright's own download).

Log in, see blurred thumbnails (the bytes the browser received are the blurred greyscale ones), reveal one
item (audited), grade a near-duplicate cluster and one item with the keyboard, and find the grades stored.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from safenet.case.gradings import Grade, current_gradings
from safenet.case.store import Case
from tests.web import browser_support
from tests.web.browser_support import poll
from tests.web.conftest import PASSWORD, Built

pytestmark = pytest.mark.slow
server, browser_page = browser_support.server, browser_support.browser_page  # fixtures


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
    poll(page, "Array.from(document.querySelectorAll('.card img')).every(i => i.complete)")

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

    # reveal one item: audited (first step: larger, still blurred), shown in a modal dialog, hidden again
    page.locator(f'.card[data-item="{other}"]').focus()
    page.keyboard.press("r")
    expect(page.locator("#reveal")).to_be_visible()
    expect(page.locator("#message")).to_contain_text("Revealed EX1")
    poll(page, "document.getElementById('reveal-image').complete")
    assert clear_requests == [f"{server}/media/clear/{other}?step=large-blurred"]
    page.keyboard.press("Escape")
    expect(page.locator("#reveal")).to_be_hidden()

    # grade the near-duplicate cluster in its cluster view (E, then Shift+B) and one item (C)
    page.locator(f'.card[data-item="{built.ids["dup-big.jpg"]}"]').focus()
    page.keyboard.press("e")
    page.wait_for_url("**/review?cluster=*")
    page.keyboard.press("Shift+B")
    expect(page.locator("#message")).to_contain_text("Graded 2 items")
    page.keyboard.press("e")
    page.wait_for_url(f"{server}/review")
    page.locator(f'.card[data-item="{other}"]').focus()
    page.keyboard.press("c")
    expect(page.locator("#message")).to_contain_text(f"Graded item {other} (other.jpg, EX1) C.")
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
    assert revealed == [{"item": other, "user": "alice", "role": "examiner", "step": "large-blurred", "frame": None}]
