"""Exports: VICS 2.0 UK round-trips through Safenet's own importer; CASE/UCO passes case_validate; DFXML
validates against the vendored DFXML schema; hostile names come through as inert text in every format.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from safenet.case.gradings import Grade, grade_items
from safenet.case.store import Case
from safenet.cli import main
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.exports.vics import VICS_UK_CONTEXT
from tests.builders import jpeg
from tests.case.test_gradings import ADMIN, EXAMINER, Built, build_case

EVIL = "<script>alert(1)<b>&amp;\"'.jpg"  # no '/': it is one file name
SUFFIX = {"vics": "json", "case-uco": "jsonld", "dfxml": "xml"}
DFXML_XSD = Path(__file__).resolve().parents[1] / "data" / "dfxml" / "dfxml.xsd"


@pytest.fixture
def graded(tmp_path: Path) -> Built:
    built = build_case(tmp_path, extra={EVIL: jpeg(30), "copy/u10-copy.jpg": jpeg(10)})
    ids = built.ids
    grade_items(built.case, [ids["u10.jpg"], ids["u10-copy.jpg"], ids[EVIL]], Grade.A, EXAMINER)
    grade_items(built.case, [ids["u11.jpg"]], Grade.B, EXAMINER)
    grade_items(built.case, [ids["clip.mp4"]], Grade.C, EXAMINER)
    grade_items(built.case, [ids["u12.jpg"]], Grade.NON_INDECENT, EXAMINER)
    grade_items(built.case, [ids["u13.jpg"]], Grade.UNCERTAIN, ADMIN)
    return built


def _export(built: Built, fmt: str, capsys: pytest.CaptureFixture[str]) -> Path:
    path = built.case.path.parent / f"export.{SUFFIX[fmt]}"
    assert main(["export", str(built.case.path), "--format", fmt, "--output", str(path)]) == 0
    assert f"({fmt}): {path}" in capsys.readouterr().out
    assert path.stat().st_mode & 0o077 == 0
    return path


def test_vics_export_shape(graded: Built, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(_export(graded, "vics", capsys).read_text())
    assert doc["@odata.context"] == VICS_UK_CONTEXT
    [case] = doc["value"]
    assert case["CaseID"].startswith("{") and case["SourceApplicationName"] == "Safenet"
    media = {f["FileName"]: m for m in case["Media"] for f in m["MediaFiles"]}
    assert [m["MediaID"] for m in case["Media"]] == list(range(1, len(case["Media"]) + 1))
    u10 = media["u10.jpg"]
    assert u10["Category"] == 1 and u10["MD5"].isupper() and len(u10["SHA1"]) == 40
    assert sorted(f["FileName"] for f in u10["MediaFiles"]) == ["u10-copy.jpg", "u10.jpg"]  # one Media, 2 files
    assert all(f["Deleted"] is False and f["SourceID"] == "EX1" for f in u10["MediaFiles"])
    assert media["u11.jpg"]["Category"] == 2 and media["clip.mp4"]["Category"] == 3
    assert media["u12.jpg"]["Category"] == 4
    assert "Category" not in media["u13.jpg"]  # uncertain: sent back ungraded
    assert media["trusted_a.jpg"]["Category"] == 1  # exact hash-set grade
    assert media[EVIL]["MediaFiles"][0]["FileName"] == EVIL
    assert "u13.jpg" in media and "notes.txt" not in media and len(media["u10.jpg"].get("PDQ", "x" * 64)) == 64
    assert any(e["event"] == "export-written" and e["data"]["format"] == "vics" for e in graded.case.audit.entries())


def test_vics_round_trip_through_the_importer(
    graded: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _export(graded, "vics", capsys)
    hashdb = tmp_path / "db2"
    assert main(["hashset", "import", str(path), "--name", "back", "--hashdb", str(hashdb)]) == 0
    assert "imported back:" in capsys.readouterr().out
    case = Case.create_or_open(tmp_path / "case2")
    options = TriageOptions(exhibit="EX1", hashsets=("back",), operator="t", executor=ExecutorKind.INLINE)
    triage(graded.evidence, case, HashSetStore(hashdb), options)
    found = {
        item["name"]: {f["category"] for f in item["findings"] if f["match_kind"] == "exact"}
        for item in report_data(case)["items"]
    }
    assert found["u10.jpg"] == found["u10-copy.jpg"] == found[EVIL] == {"A"}
    assert found["u11.jpg"] == {"B"} and found["clip.mp4"] == {"C"} and found["u12.jpg"] == {"non-indecent"}
    assert found["trusted_a.jpg"] == {"A"} and found["u13.jpg"] == {"uncategorised"}


def test_case_uco_export_validates(graded: Built, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(graded, "case-uco", capsys)
    doc = json.loads(path.read_text())
    names = [f["uco-observable:fileName"] for n in doc["@graph"] for f in n.get("uco-core:hasFacet", [])[:1]]
    assert EVIL in names
    assert any(n.get("uco-core:statement", "").startswith("UK category A (examiner alice)") for n in doc["@graph"])
    validate = Path(sys.executable).parent / "case_validate"
    result = subprocess.run([str(validate), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Conforms: True" in result.stdout


def test_dfxml_export_validates_and_escapes(graded: Built, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(graded, "dfxml", capsys)
    raw = path.read_bytes()
    assert b"<script>" not in raw and b"&lt;script&gt;" in raw
    doc = etree.parse(str(path))
    schema = etree.XMLSchema(etree.parse(str(DFXML_XSD)))
    assert schema.validate(doc), schema.error_log
    ns = {"d": "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"}
    names = [e.text for e in doc.findall(".//d:fileobject/d:filename", ns)]
    assert any(EVIL in n for n in names)
    assert len(doc.findall(".//d:hashdigest[@type='md5']", ns)) == len(names)
