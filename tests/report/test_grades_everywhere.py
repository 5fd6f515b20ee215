"""Every report carries every grade, and the totals agree across JSON, CSV, HTML, the charging PDF and VICS.

A scripted grading session through the gradings service, on a case of two exhibits: grades, a regrade that
supersedes a grade, a confirmation, a grade on an item no hash set matched, an indicative hash hit settled
by an examiner, an examiner grade that disagrees with a trusted hash-set grade, an undo that withdraws a
grade, a deleted trusted item, an indicative hit left unsettled, and a picture inside a trusted-graded item
(as an EXIF thumbnail is), settled with its parent. The expected counts are worked out by
hand below; each report is read back the way its reader would (JSON, CSV rows, HTML text, the PDF's text
through pdftotext, the VICS file) and must show exactly those counts and every grade with its provenance.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
from collections import Counter
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from safenet.case.gradings import (
    Grade,
    confirm_grading,
    grade_events,
    grade_items,
    record_reveal,
    undo_gradings,
)
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.exports import write_export
from safenet.report.writers import given_grade, write_report
from tests.builders import VicsSet, jpeg, write
from tests.case.test_gradings import ADMIN, EXAMINER, EXAMINER2, REVIEWER, Built, build_case
from tests.report.test_charging import KEYS

SCHEMA = json.loads(resources.files("safenet.report").joinpath("report.schema.json").read_text())
COUNT_KEYS = KEYS  # the columns of the hand-written answer tuples below, as the charging test writes them
#          total  still live/del  video live/del  trusted indicative examiner confirmed  min still/video/total
EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "EX1": {
        "A": (3, 2, 0, 1, 0, 1, 0, 1, 1, 1, 1, 2),  # trusted_a (examiner disagrees), indicative_b settled, clip
        "B": (1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1),  # u10: A by alice, regraded B by erin, confirmed by bob
        "C": (2, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0),  # trusted_c (deleted), u11 (no hash hit)
    },
    "EX2": {
        "A": (1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1),  # copy_a: trusted
        "B": (1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0),  # x1: no hash hit, graded by an examiner
        "C": (1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0),  # lead: indicative, not settled
    },
}
TOTAL: dict[str, tuple[int, ...]] = {
    c: tuple(a + b for a, b in zip(EXPECTED["EX1"][c], EXPECTED["EX2"][c], strict=True)) for c in "ABC"
}
# not indecent, uncertain, matched uncategorised, with a trusted parent, unreviewed (ungraded), disagreements
OTHERS = {"EX1": (1, 1, 0, 1, 1, 1), "EX2": (0, 0, 0, 0, 0, 0)}
VICS_CODES = {1: "A", 2: "B", 3: "C", 4: "non-indecent"}


def _no_warning(ref: str | None, message: str) -> None:
    raise AssertionError(f"unexpected warning {ref}: {message}")


@pytest.fixture
def session(tmp_path: Path) -> Built:
    built = build_case(tmp_path, extra={"u14.jpg": jpeg(14), "child.jpg": jpeg(15)})
    store = HashSetStore(built.hashdb)
    leads = VicsSet()
    leads.add(jpeg(41), 3)  # the assumed VICS UK codes: an indicative C
    store.import_file(leads.write(tmp_path / "leads.json"), "leads", kind=SetKind.ILLICIT, warn=_no_warning)
    ev2 = tmp_path / "ev2"
    write(ev2, "copy_a.jpg", jpeg(1))
    write(ev2, "x1.jpg", jpeg(40))
    write(ev2, "lead.jpg", jpeg(41))
    options = TriageOptions(
        exhibit="EX2", hashsets=("ref-a", "ref-c", "vics", "leads"), operator="DC Op", executor=ExecutorKind.INLINE
    )
    triage(ev2, built.case, store, options)
    with sqlite3.connect(built.case.path / "case.db") as db:
        built.ids.update(dict(db.execute("SELECT name, id FROM items")))
        db.execute("UPDATE items SET deleted = 1 WHERE id = ?", (built.ids["trusted_c.jpg"],))  # as on a disk image
        # as the EXIF thumbnail inside trusted_a.jpg would be
        db.execute("UPDATE items SET parent_id = ? WHERE id = ?", (built.ids["trusted_a.jpg"], built.ids["child.jpg"]))
    db.close()
    ids, case = built.ids, built.case
    grade_items(case, [ids["u10.jpg"]], Grade.A, EXAMINER)
    grade_items(case, [ids["u10.jpg"]], Grade.B, EXAMINER2)  # supersedes alice's A
    grade_items(case, [ids["u11.jpg"], ids["x1.jpg"]], Grade.C, EXAMINER)
    grade_items(case, [ids["x1.jpg"]], Grade.B, EXAMINER)  # alice changes her mind
    grade_items(case, [ids["indicative_b.jpg"], ids["clip.mp4"]], Grade.A, EXAMINER)  # settles the indicative B
    grade_items(case, [ids["u12.jpg"]], Grade.NON_INDECENT, EXAMINER)
    grade_items(case, [ids["u13.jpg"]], Grade.UNCERTAIN, ADMIN)
    grade_items(case, [ids["trusted_a.jpg"]], Grade.NON_INDECENT, EXAMINER2)  # the trusted A stands
    [withdrawn] = grade_items(case, [ids["u14.jpg"]], Grade.C, EXAMINER)
    undo_gradings(case, [withdrawn.row_id or 0], EXAMINER)  # back to ungraded; both rows stay in the history
    [slip] = grade_items(case, [ids["u11.jpg"]], Grade.A, EXAMINER)
    undo_gradings(case, [slip.row_id or 0], EXAMINER)  # restores her C
    for name in ("u10.jpg", "clip.mp4"):
        record_reveal(case, ids[name], REVIEWER, step="grey")
        confirm_grading(case, ids[name], REVIEWER)
    return built


def _tally(items: list[tuple[str | None, str, bool, bool]]) -> dict[str, tuple[int, ...]]:
    """Counts from (category, provenance, moving, deleted) per item, worked out independently of the reports."""
    rows = {c: Counter[str]() for c in "ABC"}
    for category, provenance, moving, deleted in items:
        if category is None:
            continue
        row, kind = rows[category], "video" if moving else "still"
        row["total"] += 1
        row[f"{kind}_{'deleted' if deleted else 'live'}"] += 1
        row[provenance] += 1
        if not deleted and provenance in ("trusted", "examiner-confirmed"):
            row[f"min_{kind}"] += 1
            row["min_total"] += 1
    return {c: tuple(rows[c][k] for k in COUNT_KEYS) for c in "ABC"}


def _block(block: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {r["category"]: tuple(r[k] for k in COUNT_KEYS) for r in block["rows"]}


def _others(block: dict[str, Any]) -> tuple[int, ...]:
    keys = ("not_indecent", "uncertain", "matched_uncategorised", "with_trusted_parent", "unreviewed", "disagreements")
    return tuple(block[k] for k in keys)


def _table_lines(counts: dict[str, tuple[int, ...]]) -> list[str]:
    """The two rows per category that the HTML and PDF tables show, as flattened text."""
    lines = []
    for category, n in counts.items():
        lines.append(f"Category {category} {' '.join(map(str, (*n[1:5], n[0], *n[9:12])))}")
        lines.append(f"Category {category} {' '.join(map(str, (*n[5:9], n[0])))}")
    return lines


def _others_text(others: tuple[int, ...]) -> str:
    """The sentence under each table saying what was not counted under A/B/C (HTML and PDF alike)."""
    return (
        f"Not counted under A, B or C: {others[0]} graded not indecent by an examiner; {others[1]} graded uncertain; "
        f"{others[2]} matched an illicit hash set that gives no A/B/C category; {others[3]} embedded pictures or "
        "thumbnails inside an item with a trusted grade, settled with it and not counted on their own; "
        f"{others[4]} images or videos neither matched nor graded (ungraded)."
    )


def _section(text: str, start: str, end: str) -> str:
    head = text.index(start)
    return text[head : text.index(end, head + len(start))]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_json_counts_and_every_grade(session: Built) -> None:
    data = report_data(session.case)
    jsonschema.validate(data, SCHEMA)
    assert data["report_version"] == 8
    counts = data["counts"]
    assert _block(counts["total"]) == TOTAL
    assert _others(counts["total"]) == tuple(a + b for a, b in zip(OTHERS["EX1"], OTHERS["EX2"], strict=True))
    for block in counts["exhibits"]:
        assert _block(block) == EXPECTED[block["label"]] and _others(block) == OTHERS[block["label"]]
    items = {i["name"]: i for i in data["items"]}
    assert (
        _tally(
            [
                (g["category"], g["provenance"], i["media_kind"] == "video", i["deleted"] or i["carved"])
                for i in items.values()
                if (g := i["grading"])
            ]
        )
        == TOTAL
    )
    # graded items no hash set matched are listed, with no findings
    assert items["u11.jpg"]["findings"] == [] and items["x1.jpg"]["findings"] == []
    assert items["u14.jpg"]["grading"]["outcome"] == "ungraded" and items["u14.jpg"]["grading"]["grade"] is None
    withdrawn = items["u14.jpg"]["grading"]["superseded"]
    assert [(g["grade"], g["undone_by"]) for g in withdrawn] == [("C", None), ("withdrawn", "alice")]
    assert withdrawn[1]["undo_of"] == withdrawn[0]["row"]
    restored = items["u11.jpg"]["grading"]
    assert (restored["outcome"], restored["grade"]["grade"], restored["grade"]["undone_by"]) == ("C", "C", "alice")
    assert [g["grade"] for g in restored["superseded"]] == ["C", "A"]
    assert restored["grade"]["undo_of"] == restored["superseded"][1]["row"]
    u10 = items["u10.jpg"]["grading"]
    assert (u10["outcome"], u10["provenance"]) == ("B", "examiner-confirmed")
    assert (u10["grade"]["examiner"], u10["grade"]["role"], u10["grade"]["confirmed_by"]) == ("erin", "examiner", "bob")
    assert u10["grade"]["confirmed_at"] and u10["grade"]["at"].endswith("Z")
    assert [(g["grade"], g["examiner"], g["role"]) for g in u10["superseded"]] == [("A", "alice", "examiner")]
    assert items["u13.jpg"]["grading"]["grade"]["role"] == "admin"
    settled = items["indicative_b.jpg"]["grading"]
    assert (settled["outcome"], settled["provenance"], settled["hash_set"]["trusted"]) == ("A", "examiner", False)
    trusted = items["trusted_a.jpg"]["grading"]
    assert (trusted["outcome"], trusted["provenance"], trusted["disagrees_with_trusted"]) == ("A", "trusted", True)
    assert trusted["grade"]["grade"] == "non-indecent"  # the examiner's grade is kept and shown
    assert items["lead.jpg"]["grading"]["provenance"] == "indicative"
    # every grading row the service holds is in the JSON, with who, role, when and the confirmation
    for name, item_id in session.ids.items():
        events = grade_events(session.case, item_id)
        if not events:
            continue
        grading = items[name]["grading"]
        shown = [grading["grade"], *grading["superseded"]] if grading["grade"] else grading["superseded"]
        assert sorted(g["row"] for g in shown) == [e.row_id for e in events], name
        for event in events:
            [given] = [g for g in shown if g["row"] == event.row_id]
            assert (given["grade"], given["examiner"], given["confirmed_by"]) == (
                event.grade,
                event.examiner,
                event.confirmed_by,
            )
            assert given["role"] in ("examiner", "admin")


def test_csv_html_pdf_and_vics_agree_with_the_json(session: Built, tmp_path: Path) -> None:
    data = report_data(session.case)
    json_items = {i["item_id"]: i for i in data["items"]}

    # CSV: one row per finding plus one per graded item without a finding; the grade columns per item
    rows = list(csv.DictReader(write_report(session.case, "csv").open(encoding="utf-8")))
    per_item = {int(r["item_id"]): r for r in rows}
    assert set(per_item) == set(json_items)
    assert {int(r["item_id"]) for r in rows if not r["hashset"]} == {
        i for i, item in json_items.items() if not item["findings"]
    }
    assert (
        _tally(
            [
                (
                    r["counted_category"] or None,
                    r["grade_provenance"],
                    r["media_kind"] == "video",
                    r["deleted"] == "True" or r["carved"] == "True",
                )
                for r in per_item.values()
            ]
        )
        == TOTAL
    )
    for item_id, item in json_items.items():
        grading, row = item["grading"], per_item[item_id]
        if grading is None:
            continue
        current = grading["grade"] or {}
        assert (row["outcome"], row["grade_provenance"], row["grade"], row["graded_by"], row["grader_role"]) == (
            grading["outcome"],
            grading["provenance"],
            current.get("grade", ""),
            current.get("examiner", ""),
            current.get("role", "") or "",
        )
        assert (row["graded_at"], row["confirmed_by"]) == (current.get("at", ""), current.get("confirmed_by") or "")
        assert row["superseded_grades"] == "; ".join(given_grade(g) for g in grading["superseded"])

    # HTML: the categorisation tables and every grade, current and superseded
    text = _html_text(write_report(session.case, "html").read_text(encoding="utf-8"))
    total = _section(text, "Categorisation: all exhibits", "Hash-set matches before examiner grading")
    assert all(line in total for line in _table_lines(TOTAL)), total
    assert _others_text(OTHERS["EX1"]) in total  # EX2 has none of these
    for label in ("EX1", "EX2"):
        block = _section(text, f"Exhibit {label} Source", "Hash-set matches before examiner grading")
        assert all(line in block for line in _table_lines(EXPECTED[label])), (label, block)
        assert _others_text(OTHERS[label]) in block
    grades = _section(text, "Examiner grades", "Matched items")
    for item in json_items.values():
        grading = item["grading"]
        for given in ([grading["grade"]] if grading and grading["grade"] else []) + (
            grading["superseded"] if grading else []
        ):
            assert given_grade(given) in grades, given
    assert "examiner disagrees with the trusted grade" in grades

    # PDF (the charging summary) as pdftotext reads it
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing: run `make sysdeps-test`")
    pdf = write_report(session.case, "pdf", tmp_path / "charging.pdf")
    flat = " ".join(
        subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    summary = _section(flat, "Summary: all exhibits", "Definitions")
    assert all(line in summary for line in _table_lines(TOTAL)), summary
    assert _others_text(OTHERS["EX1"]) in summary
    for label in ("EX1", "EX2"):
        block = _section(flat, f"Exhibit {label} Source", "Not examined")
        assert all(line in block for line in _table_lines(EXPECTED[label])), (label, block)
        assert _others_text(OTHERS[label]) in block

    # VICS: a category goes back to CAID only for settled grades (trusted or examiner), per file
    path, _ = write_export(session.case, "vics", tmp_path / "export.json")
    [vics_case] = json.loads(path.read_text())["value"]
    sent: Counter[str] = Counter()
    for media in vics_case["Media"]:
        if "Category" in media:
            sent[VICS_CODES[media["Category"]]] += len(media["MediaFiles"])
    settled = {c: n[0] - n[6] for c, n in TOTAL.items()}  # total minus indicative
    assert sent == Counter({**settled, "non-indecent": data["counts"]["total"]["not_indecent"]})
    exported = [
        i
        for i in json_items.values()
        if i["grading"] and (i["grading"]["hash_set"] or i["grading"]["grade"] or i["grading"]["superseded"])
    ]
    assert vics_case["TotalMediaFiles"] == len(exported)  # every matched or graded item, once
