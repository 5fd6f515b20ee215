"""Reports: the JSON validates against its schema; HTML and CSV escape hostile names; counts agree."""

from __future__ import annotations

import csv
import json
import os
import re
from importlib import resources
from pathlib import Path

import jsonschema

from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import REPORT_VERSION, SCHEMA_ID, report_data
from safenet.report.writers import render_html, write_report
from tests.builders import VicsSet, jpeg, write, zip_bytes

SCHEMA = json.loads(resources.files("safenet.report").joinpath("report.schema.json").read_text())
EVIL = '=HYPERLINK("x")<script>alert(1)<img src=x onerror=alert(2)>'  # no '/': it is a file name


def _case(tmp_path: Path) -> Case:
    root = tmp_path / "ev"
    known = VicsSet()
    for i, code in enumerate((1, 2, 3, None, 7)):
        data = jpeg(i)
        write(root, f"p{i}.jpg", data)
        known.add(data, code)
    evil = jpeg(20)
    with open(os.fsencode(root) + b"/" + EVIL.encode() + b"\n.jpg", "wb") as fh:
        fh.write(evil)
    known.add(evil, 1)
    member = jpeg(21)
    write(root, "a.zip", zip_bytes({EVIL + ".jpg": member}))
    known.add(member, 2)
    store = HashSetStore(tmp_path / "db")
    warnings: list[str] = []
    store.import_file(known.write(tmp_path / "s.json"), "s", kind=SetKind.ILLICIT, warn=lambda r, m: warnings.append(m))
    assert any("7" in w for w in warnings)  # the unknown category code was reported at import
    case = Case.create_or_open(tmp_path / "case")
    triage(root, case, store, TriageOptions(exhibit="EX<1>", profile=Profile.STANDARD, hashsets=("s",)))
    return case


def test_json_report_is_complete_and_valid(tmp_path: Path) -> None:
    case = _case(tmp_path)
    data = report_data(case)
    jsonschema.validate(data, SCHEMA)
    totals = {c["category"]: c["total"] for c in data["totals"]["categories"]}
    assert totals == {"A": 2, "B": 2, "C": 1, "uncategorised": 1, "unknown:7": 1}
    assert data["totals"]["hits"] == 7 == data["exhibits"][0]["hits"]
    # nothing graded: the assumed VICS UK codes give indicative grades; uncategorised and unknown codes apart
    counts = data["counts"]["total"]
    assert {r["category"]: (r["total"], r["indicative"], r["min_total"]) for r in counts["rows"]} == {
        "A": (2, 2, 0),
        "B": (2, 2, 0),
        "C": (1, 1, 0),
    }
    assert counts["matched_uncategorised"] == 2 and counts["unreviewed"] == 0
    assert data["audit"]["intact"]
    assert data["hashsets"][0]["name"] == "s" and data["hashsets"][0]["kind"] == "illicit"
    assert data["hashsets"][0]["scheme"] == "vics-uk" and data["hashsets"][0]["scheme_confirmed"] is False
    member = next(i for i in data["items"] if i["locator"][-1]["kind"] == "archive-member")
    assert member["locator"][-1]["value"] == EVIL + ".jpg"


def test_html_escapes_everything_from_evidence(tmp_path: Path) -> None:
    html = render_html(report_data(_case(tmp_path)))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "EX&lt;1&gt;" in html
    assert "category codes not confirmed" in html


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    case = _case(tmp_path)
    path = write_report(case, "csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) == 7
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@"))
    assert path.stat().st_mode & 0o077 == 0
    assert any(e["event"] == "report-written" for e in case.audit.entries())


def test_readme_states_the_report_version_the_schema_holds() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    stated = {int(n) for n in re.findall(r"`report_version` (\d+)", readme)}
    assert stated == {REPORT_VERSION} == {SCHEMA["properties"]["report_version"]["const"]}
    assert SCHEMA["$id"] == SCHEMA_ID and SCHEMA_ID.endswith(f"report-{REPORT_VERSION}.json")
