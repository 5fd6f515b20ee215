"""The SFR1-grade summary: every field with its origin mark in the HTML and the PDF's text (pdftotext), the
counts equal the JSON report's (per exhibit, in total and de-duplicated by hash), a field never entered is
marked NOT ENTERED and named by the command; ``safenet case set`` is audited, verified, and refuses bad input.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import ImageFile

from safenet.case.casefields import CASE_FIELDS, EXHIBIT_FIELDS, FIELD_EVENT, current_fields
from safenet.case.gradings import Grade, grade_items
from safenet.case.store import Case
from safenet.cli import main
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.sfr1 import (
    AI_STATEMENT,
    ENTERED,
    FROM_CASE,
    NOT_ENTERED,
    _torrent_line,
    missing_fields,
    render_sfr1_html,
    sfr1_data,
)
from tests.case.test_gradings import EXAMINER, Built, build_case

HOSTILE = "DC <script>alert(1)</script> Smith"
CASE_VALUES = {
    "urn": "01AB2345678",
    "force": "Northshire Police",
    "operation": "Op Lantern",
    "warrant_reference": "W/2026/0042",
    "warrant_date": "2026-03-14",
    "author": HOSTILE,
    "role": "Digital forensic examiner",
    "unit": "Digital Forensics Unit",
    "contact": "dfu@northshire.invalid, 01632 960000",
}
DECLARATIONS = {  # what a force's declarations file holds (docs/domain.md)
    "accreditation_status": "not-accredited",
    "accreditation": "This method is not within the unit's ISO/IEC 17025 scope; the non-compliance is declared.",
    "fsr_declaration": "The unit declares non-compliance with the FSR Code for this method, with mitigations.",
}
EXHIBIT_VALUES = {
    "seal": "SEAL-000123",
    "make": "Acme",
    "model": "Phone 9",
    "serial": "SN-77-ABC",
    "imei": "490154203237518",
    "capacity": "64 GB",
    "where_found": "Bedroom 1, bedside drawer",
    "state_at_seizure": "Powered off, screen cracked",
    "examined_at": "lab",
    "acquisition": "Logical image of the user data",
    "write_blocking": "Read-only mount of a verified image",
    "authority": "Warrant W/2026/0042 (s8 PACE)",
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _flat(text: str) -> str:
    return " ".join(text.split())


def _squash(text: str) -> str:
    return "".join(text.split())


def _html_text(html: str) -> str:
    """The HTML's text as a reader sees it (tags out, entities back)."""
    import html as html_lib

    return _flat(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)))


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing: run `make sysdeps-test`")
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True)
    return _flat(text.stdout)


@pytest.fixture
def two_exhibits(tmp_path: Path) -> Built:
    """EX1 and EX2 hold the same files (so de-duplication halves the copies); EX1's video is graded A and one
    unknown picture B by an examiner."""
    built = build_case(tmp_path)
    options = TriageOptions(
        exhibit="EX2", hashsets=("ref-a", "ref-c", "vics"), operator="DC Op", executor=ExecutorKind.INLINE
    )
    triage(built.evidence, built.case, HashSetStore(built.hashdb), options)
    grade_items(built.case, [built.ids["clip.mp4"], built.ids["u10.jpg"]], Grade.A, EXAMINER)
    grade_items(built.case, [built.ids["u10.jpg"]], Grade.B, EXAMINER)
    return built


def _fill(built: Built, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    case = str(built.case.path)
    yaml_file = tmp_path / "northshire.yaml"
    yaml_file.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in DECLARATIONS.items()), encoding="utf-8")
    assert _run(["case", "set", case, "--declarations", str(yaml_file), "--user", "alice"], capsys)[0] == 0
    assert _run(["case", "set", case, *(f"{k}={v}" for k, v in CASE_VALUES.items())], capsys)[0] == 0
    for label in ("EX1", "EX2"):
        known = {spec.name for spec in EXHIBIT_FIELDS}
        pairs = [f"{k}={v}-{label}" if k == "seal" else f"{k}={v}" for k, v in EXHIBIT_VALUES.items() if k in known]
        assert _run(["case", "set", case, "--exhibit", label, *pairs], capsys)[0] == 0


def _json_counts(built: Built, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = built.case.path / "reports" / "r.json"
    assert _run(["report", str(built.case.path), "--format", "json", "--output", str(out)], capsys)[0] == 0
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _media_line(row: dict[str, Any], label: str) -> str:
    """The SFR1's media table row as the JSON counts give it: still, moving, duration, total, minimum."""
    videos = row["video_live"] + row["video_deleted"]
    if videos == 0:
        duration = "no videos"
    elif row["video_no_duration"] == videos:
        duration = "not recorded"
    else:
        whole = round(row["video_duration_s"])
        duration = f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    still = row["still_live"] + row["still_deleted"]
    return f"{label} {still} {videos} {duration} {row['total']} {row['min_total']}"


def _access_line(row: dict[str, Any], label: str) -> str:
    keys = ("accessible", "deleted_recoverable", "carved_unallocated", "thumbnail_cache")
    return f"{label} {' '.join(str(row[k]) for k in keys)}"


def _block_lines(block: dict[str, Any]) -> list[str]:
    lines = []
    for row in block["rows"]:
        lines += [_media_line(row, f"Category {row['category']}"), _access_line(row, f"Category {row['category']}")]
    return [
        *lines,
        _media_line(block["totals"], "All categories"),
        _access_line(block["totals"], "All categories"),
    ]


def _date_lines(report: dict[str, Any]) -> list[str]:
    """First and last last-modified time per category, per exhibit and for all, read off the JSON's items."""
    lines = []
    for exhibit in ("EX1", "EX2", None):
        for category in "ABC":
            times = sorted(
                i["modified"]
                for i in report["items"]
                if (i["grading"] or {}).get("category") == category and exhibit in (None, i["exhibit"])
            )
            assert times and all(t.endswith("+00:00") for t in times)  # this evidence's zone is known
            first, last = (t[:19].replace("T", " ") for t in (times[0], times[-1]))  # to the second
            lines.append(f"Category {category} {first} {last} UTC")
    return lines


def test_sfr1_carries_every_field_and_the_json_counts(
    two_exhibits: Built, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    built = two_exhibits
    _fill(built, capsys, tmp_path)
    report = _json_counts(built, capsys)
    counts = report["counts"]
    # answer key first: the same files on two exhibits; the copies counted once are one exhibit's worth
    total = {r["category"]: r["total"] for r in counts["total"]["rows"]}
    dedup = {r["category"]: r["total"] for r in counts["deduplicated"]["rows"]}
    assert total == {"A": 3, "B": 3, "C": 2} and dedup == {"A": 2, "B": 2, "C": 1}
    assert counts["total"]["totals"]["video_live"] == 1 and counts["deduplicated"]["totals"]["min_total"] == 2
    clip = next(i for i in report["items"] if i["name"] == "clip.mp4" and i["exhibit"] == "EX1")
    assert clip["video_duration_s"] and counts["total"]["rows"][0]["video_duration_s"] == clip["video_duration_s"]

    html_path, pdf_path = built.case.path / "reports" / "s.html", built.case.path / "reports" / "s.pdf"
    code, said = _run(["report", str(built.case.path), "--format", "sfr1-html", "--output", str(html_path)], capsys)
    assert code == 0 and "not entered" not in said
    code, said = _run(["report", str(built.case.path), "--format", "sfr1", "--output", str(pdf_path)], capsys)
    assert code == 0 and "not entered" not in said
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # WeasyPrint must not leave truncated pictures decodable
    html = html_path.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html  # an entered value is text, never markup
    for text in (_html_text(html), _pdf_text(pdf_path)):
        squashed = _squash(text)  # a PDF table cell wraps long values (at spaces, '/' and '-')
        for spec in CASE_FIELDS:
            value = {**CASE_VALUES, **DECLARATIONS}[spec.name]
            assert _squash(f"{spec.label} {value} {ENTERED}") in squashed, spec.name
        for label in ("EX1", "EX2"):
            for spec in EXHIBIT_FIELDS:
                value = EXHIBIT_VALUES[spec.name] + (f"-{label}" if spec.name == "seal" else "")
                assert _squash(f"{spec.label} {value} {ENTERED}") in squashed, (label, spec.name)
            assert f"Exhibit reference {label} {FROM_CASE}" in text
        assert f"SFR type SFR1 {FROM_CASE}" in text and "This is a summary of the examination" in text
        assert _squash(AI_STATEMENT) in squashed
        assert NOT_ENTERED not in text
        shown = re.search(r"lastSHA-256([0-9a-f]{64})", squashed)  # the audit log as the report was written
        assert shown and shown[1] in built.case.audit.read().hashes
        assert _squash(counts["deduplication_rule"]) in squashed
        for line in _date_lines(report):
            assert _squash(line) in squashed, line
        # every number: per exhibit, all copies, copies counted once, exactly as the JSON report has them
        for block in (*counts["exhibits"], counts["total"], counts["deduplicated"]):
            for line in _block_lines(block):
                assert line in text, (block["label"], line)


def test_missing_fields_are_marked_and_named(built_empty: Built, capsys: pytest.CaptureFixture[str]) -> None:
    case = built_empty.case
    assert _run(["case", "set", str(case.path), "urn=01XY"], capsys)[0] == 0
    out = case.path / "reports" / "s.html"
    code, said = _run(["report", str(case.path), "--format", "sfr1-html", "--output", str(out)], capsys)
    assert code == 0
    expected = missing_fields(case)
    required = [s for s in CASE_FIELDS if s.required and s.name != "urn"] + [s for s in EXHIBIT_FIELDS if s.required]
    assert len(expected) == len(required)
    for line in expected:
        assert f"not entered: {line}" in said
    assert "URN" not in said  # entered: not named
    pdf = case.path / "reports" / "s.pdf"
    assert _run(["report", str(case.path), "--format", "sfr1", "--output", str(pdf)], capsys)[0] == 0
    for text in (_html_text(out.read_text(encoding="utf-8")), _pdf_text(pdf)):
        squashed = _squash(text)
        assert "This form is incomplete" in text
        for spec in CASE_FIELDS:
            if spec.name != "urn":
                assert _squash(f"{spec.label} {NOT_ENTERED}") in squashed, spec.name
        for spec in EXHIBIT_FIELDS:
            assert _squash(f"{spec.label} {NOT_ENTERED}") in squashed, spec.name
        assert _squash("URN (case reference) 01XY") in squashed


@pytest.fixture
def built_empty(tmp_path: Path) -> Built:
    return build_case(tmp_path)


def test_case_set_is_audited_and_verified(built_empty: Built, capsys: pytest.CaptureFixture[str]) -> None:
    case = built_empty.case
    argv = ["case", "set", str(case.path), "--user", "alice"]
    assert _run([*argv, "urn=01AB", "force=Northshire"], capsys)[0] == 0
    assert _run([*argv, "urn=01AB-corrected"], capsys)[0] == 0  # a new value, the old one kept
    assert _run([*argv, "--exhibit", "EX1", "seal=S1"], capsys)[0] == 0
    lines = [e["data"]["row"] for e in case.audit.entries() if e["event"] == FIELD_EVENT]
    assert [(r["exhibit"], r["field"], r["value"], r["user"]) for r in lines] == [
        (None, "urn", "01AB", "alice"),
        (None, "force", "Northshire", "alice"),
        (None, "urn", "01AB-corrected", "alice"),
        ("EX1", "seal", "S1", "alice"),
    ]
    assert current_fields(case)[(None, "urn")].value == "01AB-corrected"
    code, said = _run(["verify", str(case.path)], capsys)
    assert code == 0 and "case fields: 4 entered values checked against the audit log" in said
    with sqlite3.connect(case.path / "case.db") as db:  # edited behind the log's back
        db.execute("UPDATE case_fields SET value = 'S2' WHERE field = 'seal'")
    db.close()
    code, said = _run(["verify", str(case.path)], capsys)
    assert code == 6 and re.search(r"case field 4 \(audit line \d+\): value is 'S2', the log says 'S1'", said)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus=1"], "'bogus' is not a field of the case; known fields: urn,"),
        (["seal=1"], "'seal' is not a field of the case but of an exhibit (add --exhibit LABEL)"),
        (["--exhibit", "EX1", "urn=1"], "'urn' is not a field of an exhibit but of the case (leave out --exhibit)"),
        (["warrant_date=14/03/2026"], "warrant_date '14/03/2026' is not a date written YYYY-MM-DD"),
        (["accreditation_status=maybe"], "is not one of accredited, not-accredited"),
        (["--exhibit", "EX1", "imei=12"], "imei '12' is not 14 to 16 digits"),
        (["--exhibit", "EX9", "seal=1"], "exhibit 'EX9' is not in this case (its exhibits: EX1)"),
        (["urn"], "'urn' is not field=value"),
        (["urn= "], "urn is empty"),
        (["urn=1", "urn=2"], "urn is given twice"),
        (["urn=a\x07b"], "urn contains control characters"),
        ([], "no field given"),
    ],
)
def test_bad_fields_are_refused(
    built_empty: Built, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    case = built_empty.case
    before = len(list(case.audit.entries()))
    kept_out = "make=kept-out" if "--exhibit" in args else "force=kept-out"  # a good value: all or nothing
    code, said = _run(
        ["case", "set", str(case.path), *args, kept_out] if args else ["case", "set", str(case.path)], capsys
    )
    assert code == 2 and message in said and "Traceback" not in said
    assert len(list(case.audit.entries())) == before and current_fields(case) == {}  # all or nothing


def test_a_case_made_before_the_table_opens_and_reads_not_entered(
    built_empty: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    case = built_empty.case
    with sqlite3.connect(case.path / "case.db") as db:
        db.execute("DROP TABLE case_fields")
    db.close()
    reopened = Case.open_existing(case.path)
    assert current_fields(reopened) == {} and len(missing_fields(reopened)) > 0
    out = case.path / "reports" / "s.html"
    assert _run(["report", str(case.path), "--format", "sfr1-html", "--output", str(out)], capsys)[0] == 0
    assert _run(["case", "set", str(case.path), "urn=01AB"], capsys)[0] == 0
    assert _run(["verify", str(case.path)], capsys)[0] == 0


def test_the_documented_declarations_file_is_accepted(built_empty: Built, capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "force-declarations.yaml"
    argv = ["case", "set", str(built_empty.case.path), "--declarations", str(example)]
    assert _run(argv, capsys)[0] == 0
    entered = current_fields(built_empty.case)
    assert entered[(None, "accreditation_status")].value == "not-accredited"
    assert entered[(None, "fsr_declaration")].value.startswith("I declare that the unit has not complied")


def test_dates_say_when_the_zone_is_unknown_or_no_time_was_recorded(built_empty: Built) -> None:
    built = built_empty
    with sqlite3.connect(built.case.path / "case.db") as db:  # as a FAT volume's times, and a carved file's
        db.execute("UPDATE items SET time_zone_known = 0 WHERE id = ?", (built.ids["trusted_a.jpg"],))
        db.execute("UPDATE items SET modified = NULL WHERE id = ?", (built.ids["trusted_c.jpg"],))
    db.close()
    report = report_data(built.case)
    a_item = next(i for i in report["items"] if i["name"] == "trusted_a.jpg")
    text = _html_text(render_sfr1_html(sfr1_data(built.case, report)))
    local = a_item["modified"][:19].replace("T", " ")
    assert f"Category A {local} {local} local time of the device, zone unknown" in text
    assert "Category C 1 counted item(s) with no recorded time (time zone unknown)" in text
    assert "Category B none counted" not in text and "Category B" in text


def test_accessibility_split_and_the_copy_counted_once(two_exhibits: Built) -> None:
    built = two_exhibits
    cache_layer = json.dumps({"kind": "cache-entry", "value": "thumbcache_256.db#1"}, separators=(",", ":"))
    with sqlite3.connect(built.case.path / "case.db") as db:
        ex2 = dict(
            db.execute(
                "SELECT items.name, items.id FROM items JOIN exhibits ON exhibits.id = items.exhibit_id "
                "WHERE exhibits.label = 'EX2'"
            ).fetchall()
        )
        db.execute("UPDATE items SET deleted = 1 WHERE id = ?", (built.ids["trusted_a.jpg"],))  # EX1's copy
        db.execute("UPDATE items SET carved = 1 WHERE id = ?", (built.ids["trusted_c.jpg"],))
        db.execute(  # as a thumbnail cache's entry is recorded: carved, its locator ending in a cache entry
            "UPDATE items SET carved = 1, locator = substr(locator, 1, length(locator) - 1) || ',' || ? || ']' "
            "WHERE id = ?",
            (cache_layer, ex2["trusted_c.jpg"]),
        )
    db.close()
    counts = report_data(built.case)["counts"]
    access = ("accessible", "deleted_recoverable", "carved_unallocated", "thumbnail_cache")

    def split(block: dict[str, Any], category: str) -> tuple[int, ...]:
        row = next(r for r in block["rows"] if r["category"] == category)
        return tuple(row[k] for k in access)

    ex1, ex2_block = counts["exhibits"]
    assert split(ex1, "A") == (1, 1, 0, 0) and split(ex2_block, "A") == (1, 0, 0, 0)  # clip live, trusted_a deleted
    assert split(ex1, "C") == (0, 0, 1, 0) and split(ex2_block, "C") == (0, 0, 0, 1)
    assert split(counts["total"], "C") == (0, 0, 1, 1)
    # copies counted once: trusted_a counts as EX2's accessible copy (minimum provable), trusted_c as the carved
    # copy (carved and cached are both not accessible; the lower item id breaks the tie)
    dedup = counts["deduplicated"]
    assert split(dedup, "A") == (2, 0, 0, 0) and split(dedup, "C") == (0, 0, 1, 0)
    assert next(r for r in dedup["rows"] if r["category"] == "A")["min_total"] == 1
    assert next(r for r in counts["total"]["rows"] if r["category"] == "A")["min_total"] == 1


def test_pictures_found_only_in_browser_caches_count_as_cache(tmp_path: Path) -> None:
    from safenet.engine.profiles import Profile
    from tests.engine.test_browser_cache_triage import _exhibit, _triage

    root = tmp_path / "exhibit"
    known, _ = _exhibit(root)
    case, _, _ = _triage(tmp_path, root, known, Profile.STANDARD, "case")
    rows = {r["category"]: r for r in report_data(case)["counts"]["total"]["rows"]}
    access = ("accessible", "deleted_recoverable", "carved_unallocated", "thumbnail_cache")
    assert [tuple(rows[c][k] for k in access) for c in "ABC"] == [(0, 0, 0, 1), (0, 0, 0, 0), (0, 0, 0, 1)]


def test_case_set_help_names_every_field(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["case", "set", "--help"]) == 0
    text = _squash(capsys.readouterr().out)
    for spec in (*CASE_FIELDS, *EXHIBIT_FIELDS):
        assert spec.name in text, spec.name


def test_the_sfr1_cites_the_last_method_validation_run(
    built_empty: Built, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """None recorded: said, and a limitation. After `safenet validate` (here a one-requirement pack, to keep it
    short): its date, version, build, result and report SHA-256; a failed run is a limitation."""
    import shutil

    import yaml

    from tests.datafiles import DATA

    case = built_empty.case
    out = tmp_path / "s.html"

    def sfr1() -> str:
        assert _run(["report", str(case.path), "--format", "sfr1-html", "--output", str(out)], capsys)[0] == 0
        return _squash(_html_text(out.read_text(encoding="utf-8")))

    text = sfr1()
    assert _squash("No method validation run is recorded in this installation") in text
    data = tmp_path / "data"
    (data / "validation").mkdir(parents=True)
    shutil.copytree(DATA / "hashsets", data / "hashsets")
    pack = yaml.safe_load((DATA / "validation" / "pack.yaml").read_text(encoding="utf-8"))
    pack["requirements"] = [r for r in pack["requirements"] if r["id"] == "R-HASHSET-01"]
    (data / "validation" / "pack.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")
    assert _run(["validate", "--data", str(data), "--out", str(tmp_path / "v")], capsys)[0] == 0
    report_sha = hashlib.sha256((tmp_path / "v" / "validation.json").read_bytes()).hexdigest()
    text = sfr1()
    assert _squash("all 1 requirements passed") in text and report_sha in text
    assert _squash("No method validation run is recorded") not in text
    pack["requirements"][0]["expected"]["warnings"] = 1
    (data / "validation" / "pack.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")
    assert _run(["validate", "--data", str(data), "--out", str(tmp_path / "v")], capsys)[0] == 6
    text = sfr1()
    assert _squash("FAILED: R-HASHSET-01") in text and _squash("The last method validation run failed") in text


def test_a_torrent_name_is_shown_escaped() -> None:
    """A torrent's name comes from evidence: a bidi override or escape sequence in it is shown, never obeyed."""
    check = {"name": "film\u202e4pm.exe\x1b[2J", "info_hash": "ab" * 20, "matched": 1, "pieces": 1, "files": [{}]}
    line = _torrent_line({**check, "status": "complete"})
    assert line == 'torrent "film\\u202e4pm.exe\\x1b[2J": its files are on the exhibit, 1 of 1 pieces verified'
