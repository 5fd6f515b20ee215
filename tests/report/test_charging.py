"""The charging summary: counts per category, still/moving, accessible/deleted, provenance, minimum provable
number; the PDF's text (pdftotext) holds them; hostile names stay inert in HTML and PDF.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from safenet.case.gradings import Grade, confirm_grading, grade_items, record_reveal
from safenet.cli import main
from safenet.report.charging import charging_data, render_charging_html
from safenet.report.data import report_data
from tests.builders import jpeg
from tests.case.test_gradings import ADMIN, EXAMINER, REVIEWER, Built, build_case

EVIL = "<script>alert(1)<img src=x onerror=alert(2)>.jpg"


@pytest.fixture
def graded(tmp_path: Path) -> Built:
    built = build_case(tmp_path, exhibit="EX<1>", extra={EVIL: jpeg(30)})
    ids = built.ids
    grade_items(built.case, [ids["u10.jpg"], ids["clip.mp4"]], Grade.A, EXAMINER)
    for name in ("u10.jpg", "clip.mp4"):
        record_reveal(built.case, ids[name], REVIEWER)  # a confirmer must have been shown the item
        confirm_grading(built.case, ids[name], REVIEWER)
    grade_items(built.case, [ids["u11.jpg"]], Grade.B, EXAMINER)
    grade_items(built.case, [ids["u12.jpg"]], Grade.NON_INDECENT, EXAMINER)
    grade_items(built.case, [ids["u13.jpg"]], Grade.UNCERTAIN, ADMIN)
    grade_items(built.case, [ids[EVIL]], Grade.C, EXAMINER)
    with sqlite3.connect(built.case.path / "case.db") as db:  # as a disk image's deleted file would be
        db.execute("UPDATE items SET deleted = 1 WHERE id = ?", (ids["trusted_c.jpg"],))
    db.close()
    return built


#            total  still live/del  video live/del  trusted indicative examiner confirmed  min still/video/total
EXPECTED = {
    "A": (3, 2, 0, 1, 0, 1, 0, 0, 2, 2, 1, 3),
    "B": (2, 2, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0),
    "C": (2, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0),
}
KEYS = (
    "total",
    "still_live",
    "still_deleted",
    "video_live",
    "video_deleted",
    "trusted",
    "indicative",
    "examiner",
    "examiner-confirmed",
    "min_still",
    "min_video",
    "min_total",
)


def test_counts_provenance_and_minimum_provable(graded: Built) -> None:
    data = charging_data(graded.case, report_data(graded.case))
    for block in (data["total"], data["exhibits"][0]):
        assert {r["category"]: tuple(r[k] for k in KEYS) for r in block["rows"]} == EXPECTED
        assert (block["not_indecent"], block["uncertain"], block["unreviewed"]) == (1, 1, 0)
    assert data["total"]["totals"]["min_total"] == 3 and data["total"]["totals"]["total"] == 7
    assert {(e["examiner"], e["confirmed_by"], e["grade"]): e["items"] for e in data["examiners"]} == {
        ("alice", "bob", "A"): 2,
        ("alice", None, "B"): 1,
        ("alice", None, "C"): 1,
        ("alice", None, "non-indecent"): 1,
        ("root", None, "uncertain"): 1,
    }
    assert data["operators"] == ["DC Op"] and data["case_reference"] == "case"


def test_pdf_text_holds_the_counts(graded: Built, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing: run `make sysdeps-test`")
    pdf = graded.case.path / "reports" / "charging.pdf"
    assert main(["report", str(graded.case.path), "--format", "pdf", "--output", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_mode & 0o077 == 0
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    for category, n in EXPECTED.items():  # counts table, then provenance table
        counts = (n[1], n[2], n[3], n[4], n[0], n[9], n[10], n[11])
        assert f"Category {category} {' '.join(map(str, counts))}" in flat, category
        assert f"Category {category} {' '.join(map(str, (*n[5:9], n[0])))}" in flat, category
    assert "All categories 5 1 1 0 7 2 1 3" in flat
    assert "Minimum provable number" in flat and "Case reference case" in flat
    assert re.search(r"Page 1 of \d", flat) and "DC Op" in flat
    assert "Exhibit EX<1>" in flat  # shown as text, never interpreted as markup
    assert any(e["event"] == "report-written" and e["data"]["format"] == "pdf" for e in graded.case.audit.entries())
    capsys.readouterr()


def test_hostile_names_are_escaped_in_the_html(graded: Built, capsys: pytest.CaptureFixture[str]) -> None:
    html = render_charging_html(charging_data(graded.case, report_data(graded.case)))
    assert "<script>" not in html and "<img" not in html and "EX&lt;1&gt;" in html
    out = graded.case.path / "reports" / "charging.html"
    assert main(["report", str(graded.case.path), "--format", "charging-html", "--output", str(out)]) == 0
    assert "<script>" not in out.read_text() and "Category A" in out.read_text()
    capsys.readouterr()
