"""The restricted output: production indicators (a picture's EXIF camera against the phones seized), search
terms and names of P2P records of known material, written owner-only and audited, and never in the SFR1 or the
JSON report."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from safenet.analysis.camera import Camera
from safenet.case.store import Case
from safenet.cli import main
from safenet.evidence.phone.identity import (
    Acquisition,
    AcquisitionRecord,
    DeviceIdentity,
    to_details,
)
from safenet.report.data import report_data
from safenet.report.restricted import (
    RESTRICTED_EVENT,
    Indicators,
    Phone,
    ProductionIndicator,
    camera_matches,
    production_indicators,
    render_restricted_html,
)
from safenet.report.sfr1 import render_sfr1_html, sfr1_data
from tests.builders import picture
from tests.case.test_gradings import Built, build_case
from tests.report.test_sfr1 import _html_text, _pdf_text

PHONE = DeviceIdentity(platform="android", manufacturer="samsung", model="SM-G991B", serial="R5CR00TEST")


def exif_jpeg(seed: int, make: str | None, model: str | None, serial: str | None = None) -> bytes:
    """A small benign JPEG whose EXIF names a camera (make, model and the EXIF IFD's BodySerialNumber)."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if serial:
        exif.get_ifd(0x8769)[0xA431] = serial
    buf = io.BytesIO()
    picture(seed, (64, 48)).save(buf, format="JPEG", quality=80, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("camera", "identity", "expected"),
    [
        (Camera("samsung", "SM-G991B", None), PHONE, "model"),
        (Camera("Samsung ", "sm-g991b", "R5CR00TEST"), PHONE, "model and body serial"),
        (Camera("samsung", "SM-G991B", "OTHER"), PHONE, None),  # another body of the same model
        (Camera("samsung", "SM-G998B", None), PHONE, None),
        (Camera("Canon", "SM-G991B", None), PHONE, None),  # makes differ
        (Camera(None, None, None), PHONE, None),
        (Camera("Apple", "iPhone 11", None), DeviceIdentity(manufacturer="Apple", model="iPhone12,1"), "model"),
        (Camera("Apple", "iPhone 11 Pro", None), DeviceIdentity(manufacturer="Apple", model="iPhone12,1"), None),
    ],
)
def test_camera_matches(camera: Camera, identity: DeviceIdentity, expected: str | None) -> None:
    assert camera_matches(camera, identity) == expected


def _as_phone(case: Case, label: str, identity: DeviceIdentity) -> None:
    """Give an exhibit the description a phone back-end writes (as if it had been read from a phone)."""
    details = to_details(identity, AcquisitionRecord(Acquisition.ADB_LOGICAL, "adbutils 2.8.0"))
    with sqlite3.connect(case.path / "case.db") as db:
        row = db.execute("SELECT description_json FROM exhibits WHERE label = ?", (label,)).fetchone()
        description = json.loads(row[0])
        description["details"] = {**description.get("details", {}), **details}
        db.execute("UPDATE exhibits SET description_json = ? WHERE label = ?", (json.dumps(description), label))
    db.close()


@pytest.fixture
def built(tmp_path: Path) -> Built:
    """EX1 holds two unknown pictures taken 'by' the seized phone (one with its body serial), one by another
    camera, and the standard matched files; EX1 is then described as that phone."""
    extra = {
        "DCIM/Camera/own.jpg": exif_jpeg(40, "samsung", "SM-G991B"),
        "DCIM/Camera/own_serial.jpg": exif_jpeg(41, "samsung", "SM-G991B", "R5CR00TEST"),
        "Download/other.jpg": exif_jpeg(42, "Canon", "Canon EOS 5D"),
    }
    built = build_case(tmp_path, extra=extra)
    _as_phone(built.case, "EX1", PHONE)
    return built


def test_production_indicators_are_found_and_only_in_the_restricted_output(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    found = production_indicators(built.case)
    assert [p.exhibit for p in found.phones] == ["EX1"]
    assert sorted((f.name, f.matched_on) for f in found.found) == [
        ("own.jpg", "model"),
        ("own_serial.jpg", "model and body serial"),
    ]
    assert found.unread == 0 and found.compared >= 3

    case = str(built.case.path)
    out = built.case.path / "reports" / "r.pdf"
    capsys.readouterr()
    assert main(["report", case, "--format", "restricted", "--output", str(out)]) == 0
    said = capsys.readouterr().out
    assert "restricted" in said and str(out.with_suffix(".html")) in " ".join(said.split())
    for path in (out, out.with_suffix(".html")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    html = _html_text(out.with_suffix(".html").read_text(encoding="utf-8"))
    for text in (html, _pdf_text(out)):
        assert "possible first-generation material" in text
        assert "own_serial.jpg" in text and "model and body serial" in text and "other.jpg" not in text
    written = [e["data"] for e in built.case.audit.entries() if e["event"] == "report-written"]
    assert written[-1]["format"] == "restricted" and written[-1]["path"] == str(out)
    (line,) = [e["data"] for e in built.case.audit.entries() if e["event"] == RESTRICTED_EVENT]
    assert line == {
        "pdf": str(out),
        "html": str(out.with_suffix(".html")),
        "production_indicators": 2,
        "search_terms": 0,
        "known_records": 0,
    }

    # the SFR1 says only that they exist; the JSON report does not hold them
    report = report_data(built.case)
    sfr1 = _html_text(render_sfr1_html(sfr1_data(built.case, report)))
    assert "Production indicators: see restricted output." in sfr1
    assert "own_serial.jpg" not in sfr1 and "first-generation" not in sfr1
    assert "first-generation" not in json.dumps(report) and "body serial" not in json.dumps(report)
    assert "could not be read" not in sfr1  # every picture was compared

    # evidence moved away: nothing is compared, and the SFR1 says how many pictures were not
    built.evidence.rename(built.evidence.with_name("moved"))
    assert production_indicators(built.case).found == []
    sfr1 = _html_text(render_sfr1_html(sfr1_data(built.case, report)))
    unread = production_indicators(built.case).unread
    assert unread >= 3 and f"The EXIF camera of {unread} picture(s) could not be read" in sfr1
    assert "Production indicators: see restricted output." not in sfr1


def test_no_phone_no_indicator(tmp_path: Path) -> None:
    built = build_case(tmp_path, extra={"x.jpg": exif_jpeg(40, "samsung", "SM-G991B")})
    found = production_indicators(built.case)
    assert (found.phones, found.found, found.compared) == ([], [], 0)
    sfr1 = _html_text(render_sfr1_html(sfr1_data(built.case, report_data(built.case))))
    assert "Production indicators" not in sfr1


def test_search_terms_and_record_names_are_shown_escaped() -> None:
    """A term or record name from evidence can neither add markup nor reorder what is read (a bidi override)."""
    term = SimpleNamespace(exhibit="EX1", client="emule", artefact_display="a", term="<b>x</b>\u202egpj.exe", at=None)
    record = SimpleNamespace(
        exhibit="EX1", client="emule", artefact_display="a", index=0, name="y\u202egpj.exe\x1b[2J", known=[]
    )
    doc = {
        "tool": {"version": "x"},
        "audit": {"intact": True},
        "indicators": Indicators([], [], 0, 0),
        "search_terms": [term],
    }
    html = render_restricted_html({**doc, "known_records": [record]})
    assert "\u202e" not in html and "\x1b" not in html and "<b>x" not in html
    assert "&lt;b&gt;x&lt;/b&gt;\\u202egpj.exe" in html and "y\\u202egpj.exe\\x1b[2J" in html


def test_phone_identities_are_shown_escaped() -> None:
    """A phone's model and serial come from the phone or its backup (Info.plist, a UFDR report): a bidi override
    or escape sequence in them is shown, never obeyed, where the restricted output names the phones compared."""
    phone = DeviceIdentity(platform="ios", manufacturer="Apple", model="iPhone\u202e31,1", serial="F2\x1b[2J")
    camera = Camera("Apple", "iPhone", None)  # EXIF texts are cleaned when read (analysis.camera)
    found = ProductionIndicator(1, "EX1", "a.jpg", "a.jpg", "A", camera, "PH1", phone.label(), "model")
    doc = {
        "tool": {"version": "x"},
        "audit": {"intact": True},
        "indicators": Indicators([Phone("PH1", phone)], [found], 1, 0),
        "search_terms": [],
        "known_records": [],
    }
    html = render_restricted_html(doc)
    assert "\u202e" not in html and "\x1b" not in html
    assert html.count("iPhone\\u202e31,1 F2\\x1b[2J") == 2  # the phones compared, and the matching phone
