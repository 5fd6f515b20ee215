"""The grade API takes the other-material codes (prohibited, extreme) like A/B/C; the reports count them apart."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from safenet.report.data import report_data
from tests.web.conftest import Browser, Built


def test_other_material_grades_through_the_api(app: FastAPI, login: Callable[[str], Browser], built: Built) -> None:
    alice = login("alice")
    big, other = built.ids["dup-big.jpg"], built.ids["other.jpg"]
    assert alice.api("/api/grade", {"grade": "prohibited", "item_ids": [big]}).status_code == 200
    assert alice.api("/api/grade", {"grade": "extreme", "item_ids": [other]}).status_code == 200
    assert alice.api("/api/grade", {"grade": "bogus", "item_ids": [other]}).status_code == 422
    total = report_data(app.state.web.case)["counts"]["total"]
    assert {r["category"]: r["total"] for r in total["other_material"]} == {"prohibited": 1, "extreme": 1}
    assert sum(r["total"] for r in total["rows"]) == total["totals"]["total"] == 1  # only the trusted A item
    counts = alice.get("/api/counts").json()  # the review's live counts, as the reports count them
    assert (counts["prohibited"], counts["extreme"], counts["A"]) == (1, 1, 1)
    page = alice.page("/review?category=prohibited")  # the grid's category filter offers and applies them
    assert "<option selected>prohibited</option>" in page and "<option>extreme</option>" in page
    assert "dup-big.jpg" in page and "other.jpg" not in page
    assert 'prohibited (other material): <span data-count="prohibited">1</span>' in page
