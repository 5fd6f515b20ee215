"""Accessibility (WCAG 2.2 AA) of the review pages, checked by axe-core in Chromium (issue 12, defect 18).

axe-core is a pinned npm package installed by `make axe` into .cache/npm (git-ignored); it is injected
through the DevTools protocol (``page.evaluate``), which the pages' Content-Security-Policy does not block.
Serious and critical violations fail the test, each listed with the elements it found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web import browser_support
from tests.web.browser_support import log_in, poll
from tests.web.conftest import Built

pytestmark = pytest.mark.slow
server, browser_page = browser_support.server, browser_support.browser_page  # fixtures

AXE = Path(__file__).resolve().parents[2] / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def serious_violations(page: Any) -> list[str]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make axe` (npm install of the pinned axe-core into .cache/npm)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(f"axe.run(document, {{runOnly: {{type: 'tag', values: {TAGS!r}}}}})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_login_grid_cluster_and_reveal_views_have_no_serious_violations(
    server: str, browser_page: object, built: Built
) -> None:
    page: Any = browser_page
    page.goto(f"{server}/login")
    assert serious_violations(page) == [], "login"
    log_in(page, server, "alice")
    poll(page, "Array.from(document.querySelectorAll('.card img')).every(i => i.complete)")
    assert serious_violations(page) == [], "grid"
    page.locator(f'.card[data-item="{built.ids["dup-big.jpg"]}"]').focus()
    page.keyboard.press(" ")  # the selected state is checked too
    assert serious_violations(page) == [], "grid with a selection"
    page.keyboard.press("i")  # the side panel: matches, metadata, history, notes and tags
    poll(page, "!document.getElementById('detail').hidden")
    assert "dup-big.jpg" in (page.locator("#detail-title").text_content() or "")
    page.fill("#note-text", "same series as the cluster")
    page.click("#note-form button")
    poll(page, "document.getElementById('detail-list').textContent.includes('same series as the cluster')")
    assert serious_violations(page) == [], "side panel"
    page.click("#detail-close")
    page.keyboard.press("e")
    page.wait_for_url("**/review?cluster=*")
    assert serious_violations(page) == [], "cluster view"
    page.keyboard.press("r")
    poll(page, "document.getElementById('reveal').open && document.getElementById('reveal-image').complete")
    assert serious_violations(page) == [], "reveal dialog"
    # the dialog names the item and holds the focus while open
    assert "dup-big.jpg" in (page.locator("#reveal-title").text_content() or "")
    assert page.evaluate("document.getElementById('reveal').contains(document.activeElement)")
