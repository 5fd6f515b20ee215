"""The P and O keys grade other material (prohibited, extreme) in a real browser (Playwright + Debian's
Chromium), like the A/B/C keys: the focused item is graded and the focus moves on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from safenet.case.gradings import Grade
from tests.web import browser_support
from tests.web.browser_support import log_in, poll
from tests.web.test_browser_grading import _grades, _grid_ids, many_template, paged_server, slow_server

pytestmark = pytest.mark.slow
server, browser_page = browser_support.server, browser_support.browser_page  # fixtures
__all__ = ["many_template", "paged_server", "slow_server"]  # fixtures used through the imports above


def test_p_and_o_grade_other_material(slow_server: tuple[str, Path], browser_page: object) -> None:
    url, case_path = slow_server
    page: Any = browser_page
    log_in(page, url, "alice")
    ids = _grid_ids(page)
    page.locator(f'.card[data-item="{ids[0]}"]').focus()
    page.keyboard.press("p")
    page.keyboard.press("o")
    assert page.evaluate("document.activeElement.dataset.item") == str(ids[2])
    poll(page, "document.querySelectorAll('.card.pending').length === 0", seconds=30)
    assert _grades(case_path) == {ids[0]: Grade.PROHIBITED, ids[1]: Grade.EXTREME}
    texts = page.evaluate("Array.from(document.querySelectorAll('.card .grade')).map(g => g.textContent)")
    assert texts[:3] == ["prohibited", "extreme", "ungraded"]
    assert "P prohibited (non-photographic)" in page.locator("details.keys").text_content()
