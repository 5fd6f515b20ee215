"""Other material (prohibited non-photographic images, extreme pornography): graded by an examiner or given by
a hash set, counted by ``categorise`` in rows of their own and never in the A/B/C rows or totals; the SFR1 shows
them in their own table with the JSON report's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from safenet.case.gradings import OTHER_GRADES, Grade, grade_items
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.charging import charging_data, render_charging_html
from safenet.report.data import report_data
from safenet.report.sfr1 import render_sfr1_html, sfr1_data
from tests.builders import jpeg, write
from tests.case.test_gradings import EXAMINER, _no_warning
from tests.report.test_sfr1 import _html_text

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "src/safenet/report/report.schema.json").read_text())


@pytest.fixture
def case(tmp_path: Path) -> Case:
    """a.jpg matches a UK set (A); p.jpg a set whose code is 'prohibited'; e.jpg is graded extreme and c.jpg C."""
    store = HashSetStore(tmp_path / "db")
    for name, seed, category in (("ref-a", 1, "A"), ("ref-p", 2, "prohibited")):
        write(tmp_path / "ref" / name, f"{seed}.jpg", jpeg(seed))
        store.build_folder(
            tmp_path / "ref" / name, name, kind=SetKind.ILLICIT, category=category, scheme="uk", warn=_no_warning
        )
    ev = tmp_path / "ev"
    for name, seed in (("a.jpg", 1), ("p.jpg", 2), ("e.jpg", 3), ("c.jpg", 4), ("u.jpg", 5)):
        write(ev, name, jpeg(seed))
    opened = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", hashsets=("ref-a", "ref-p"), operator="DC Op", executor=ExecutorKind.INLINE)
    triage(ev, opened, store, options)
    with opened.sessions() as s:
        ids = {row.name: row.id for row in s.query(ItemRow)}
    grade_items(opened, [ids["e.jpg"]], Grade.EXTREME, EXAMINER)
    grade_items(opened, [ids["c.jpg"]], Grade.C, EXAMINER)
    return opened


def test_other_material_is_counted_apart_from_abc(case: Case) -> None:
    report = report_data(case)
    jsonschema.validate(report, SCHEMA)
    counts = report["counts"]
    total = counts["total"]
    assert {r["category"]: r["total"] for r in total["rows"]} == {"A": 1, "B": 0, "C": 1}
    assert total["totals"]["total"] == 2  # the prohibited and extreme items are not in the A/B/C totals
    other = {r["category"]: r for r in total["other_material"]}
    assert list(other) == list(OTHER_GRADES)
    # the prohibited picture: an exact match to a set whose scheme is confirmed, so a trusted grade
    assert (other["prohibited"]["total"], other["prohibited"]["trusted"], other["prohibited"]["min_total"]) == (1, 1, 1)
    # the extreme one: an unconfirmed examiner grade, so not in the minimum provable number
    assert (other["extreme"]["total"], other["extreme"]["examiner"], other["extreme"]["min_total"]) == (1, 1, 0)
    assert total["unreviewed"] == 1  # u.jpg
    outcomes = {i["name"]: i["grading"] for i in report["items"]}
    assert outcomes["p.jpg"]["outcome"] == "prohibited" and outcomes["p.jpg"]["category"] is None
    assert outcomes["e.jpg"]["grade"]["grade"] == "extreme"
    assert {r["category"]: r["total"] for r in counts["deduplicated"]["other_material"]} == {
        "prohibited": 1,
        "extreme": 1,
    }

    text = _html_text(render_sfr1_html(sfr1_data(case, report)))
    for label, row in (
        ("Prohibited images (non-photographic)", other["prohibited"]),
        ("Extreme pornography", other["extreme"]),
    ):
        still = row["still_live"] + row["still_deleted"]
        line = f"{label} {still} 0 no videos {row['total']} {row['min_total']}"
        assert text.count(line) == 3, line  # the exhibit, all copies, copies counted once
    assert "Category A 1 0 no videos 1 1" in text and "All categories 2 0 no videos 2" in text
    for label in ("Prohibited images (non-photographic)", "Extreme pornography"):  # date rows: exhibit, all
        assert text.count(f"{label} 20") == 2 and text.count(f"{label} none counted") == 0, label
    charging = _html_text(render_charging_html(charging_data(case, report)))  # the charging summary says so too
    assert "1 prohibited (non-photographic) image(s), counted apart as other material." in charging
    assert "1 item(s) of extreme pornography, counted apart as other material." in charging


def test_examiner_grade_codes_include_other_material() -> None:
    assert {g.value for g in Grade} >= set(OTHER_GRADES)
