"""The review page's live counts are the reports' counts (one categorisation), including when an examiner's
grade disagrees with a trusted hash-set grade: the trusted grade stands on the page as in every report."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from safenet.report.data import report_data
from tests.web.conftest import Browser, Built

pytestmark = pytest.mark.usefixtures("case_db")  # SQLite and PostgreSQL (tests/pgcase.py)


def _page_counts(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="([^"]+)">(\d+)<', page)}


def test_page_and_api_counts_equal_the_json_report_after_a_session_with_a_disagreement(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    alice, erin = login("alice"), login("erin")
    trusted, big, small, other = (built.ids[n] for n in ("trusted.jpg", "dup-big.jpg", "dup-small.png", "other.jpg"))
    # the scripted session: an examiner grades the trusted A item C (a disagreement), grades, a regrade, an undo
    assert alice.api("/api/grade", {"grade": "C", "item_ids": [trusted]}).status_code == 200
    assert alice.api("/api/grade", {"grade": "B", "item_ids": [big, small]}).status_code == 200
    assert erin.api("/api/grade", {"grade": "A", "item_ids": [small]}).status_code == 200
    rows = alice.api("/api/grade", {"grade": "non-indecent", "item_ids": [other]}).json()["graded"]
    assert alice.api("/api/undo", {"row_ids": [rows[0]["row_id"]]}).status_code == 200
    assert alice.api("/api/grade", {"grade": "uncertain", "item_ids": [other]}).status_code == 200

    api = alice.get("/api/counts").json()
    total = report_data(app.state.web.case)["counts"]["total"]
    by_category = {row["category"]: row["total"] for row in total["rows"]}
    report = {
        **by_category,
        **{row["category"]: row["total"] for row in total["other_material"]},
        "non-indecent": total["not_indecent"],
        "uncertain": total["uncertain"],
        "matched-uncategorised": total["matched_uncategorised"],
        "with-trusted-parent": total["with_trusted_parent"],
        "ungraded": total["unreviewed"],
        "disagreements": total["disagreements"],
    }
    # answer key: trusted.jpg stays A (trusted), big B, small A (erin's regrade), other uncertain, one ungraded
    assert report == {
        "A": 2,
        "B": 1,
        "C": 0,
        "prohibited": 0,
        "extreme": 0,
        "non-indecent": 0,
        "uncertain": 1,
        "matched-uncategorised": 0,
        "with-trusted-parent": 0,
        "ungraded": 1,
        "disagreements": 1,
    }
    assert {k: api[k] for k in report} == report
    assert (api["to_grade"], api["total"]) == (1, 4)  # the <script> picture is still to grade
    page = alice.page("/review")
    assert _page_counts(page) == report
    # the trusted item's card says both: the trusted grade stands, the examiner disagreed
    matched = html.unescape(alice.page("/review?matched=1"))
    assert "trusted grade A stands; the examiner graded C (disagrees)" in matched
