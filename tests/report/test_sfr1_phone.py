"""The SFR1's phone parts, from what the case recorded: a logical acquisition recovers no deleted data, vault
apps are not decoded, UFDR hashes that disagreed with Safenet's are counted from their warnings; and a UFDR
extraction end to end (identity, limitation, sent items, production indicator kept to the restricted output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safenet.analysis.appmedia import VAULT_APPS
from safenet.case.store import Case
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.phone.identity import Acquisition, AcquisitionRecord, DeviceIdentity, to_details
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.restricted import production_indicators
from safenet.report.sfr1 import FROM_CASE, UFDR_MISMATCH, _limitations, _phone, render_sfr1_html, sfr1_data
from tests.builders import jpeg, write
from tests.case.test_gradings import _no_warning
from tests.evidence.phone.ufdr_builder import Ufdr
from tests.report.test_restricted import exif_jpeg
from tests.report.test_sfr1 import _html_text, _squash


def _exhibit(label: str, acquisition: str | None) -> dict[str, Any]:
    return {"label": label, "phone": [] if acquisition else None, "acquisition": acquisition}


def test_phone_limitations(tmp_path: Path) -> None:
    exhibits = [
        _exhibit("EX1", None),  # a computer
        _exhibit("EX2", Acquisition.ADB_LOGICAL.value),
        _exhibit("EX3", Acquisition.UFDR.value),
    ]
    report = {
        "exhibits": [
            {"label": "EX1", "warnings_by_code": {}},
            {"label": "EX2", "warnings_by_code": {"device-disconnected": 1}},
            {"label": "EX3", "warnings_by_code": {UFDR_MISMATCH: 3}},
        ]
    }
    lines = _limitations(exhibits, report, tmp_path)
    assert [line.split(":")[0] for line in lines] == [
        "Exhibit EX2",
        "Exhibit EX3",
        "Photo-vault apps' storage is not decoded",
    ]
    assert "deleted data is not recovered" in lines[0] and "ADB" in lines[0]
    assert (
        lines[1].startswith("Exhibit EX3: 3 file hash(es) recorded in the UFDR extraction disagreed")
        and UFDR_MISMATCH in lines[1]
    )
    assert all(app.name in lines[2] for app in VAULT_APPS)


def test_no_phone_no_phone_limitation(tmp_path: Path) -> None:
    report = {"exhibits": [{"label": "EX1", "warnings_by_code": {}}]}
    assert _limitations([_exhibit("EX1", None)], report, tmp_path) == []


def test_a_ufdr_extraction_end_to_end(tmp_path: Path) -> None:
    """A UFDR (built by the UFDR tests' builder) whose report lists a wrong MD5 for one file, and whose camera
    picture's EXIF names the extraction's phone: the SFR1 shows the phone as the UFDR identified it, the hash
    disagreement as a limitation and only a pointer to the restricted output, which names the picture."""
    ufdr = Ufdr()
    ufdr.add("/data/media/0/DCIM/Camera/IMG_0001.jpg", exif_jpeg(30, "samsung", "SM-G991B"))
    ufdr.add(
        "/data/media/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/Sent/IMG-1.jpg",
        jpeg(1),
        md5="00" * 16,  # the report says another file was there
    )
    (tmp_path / "phone.ufdr").write_bytes(ufdr.build())
    store = HashSetStore(tmp_path / "db")
    write(tmp_path / "ref", "1.jpg", jpeg(1))
    store.build_folder(tmp_path / "ref", "ref-a", kind=SetKind.ILLICIT, category="A", scheme="uk", warn=_no_warning)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="PH1", hashsets=("ref-a",), operator="DC Op", executor=ExecutorKind.INLINE)
    triage(tmp_path / "phone.ufdr", case, store, options)
    report = report_data(case)
    assert report["exhibits"][0]["warnings_by_code"][UFDR_MISMATCH] == 1
    text = _html_text(render_sfr1_html(sfr1_data(case, report)))
    squashed = _squash(text)
    assert _squash(f"Model SM-G991B {FROM_CASE}") in squashed and _squash("Serial number R58N12345AB") in squashed
    assert _squash("Acquisition method Cellebrite UFDR extraction (imported)") in squashed
    assert "Exhibit PH1: 1 file hash(es) recorded in the UFDR extraction disagreed" in text
    assert "Exhibit PH1: a logical acquisition" not in text  # an imported extraction: not said to be logical
    assert "Sent items (distribution) 1 0 0 0 0 WhatsApp" in text  # the Sent folder's known A picture
    assert "Production indicators: see restricted output." in text and "IMG_0001.jpg" not in text
    found = production_indicators(case)
    assert [(f.name, f.matched_on, f.phone_exhibit) for f in found.found] == [("IMG_0001.jpg", "model", "PH1")]
    case.close()


def test_phone_identity_and_acquisition_are_shown_escaped() -> None:
    """The phone's identity (its owner-given name above all) and an imported extraction's tool come from the
    evidence: a bidi override or escape sequence in them is shown in the SFR1, never obeyed."""
    identity = DeviceIdentity(platform="ios", model="iPhone\u202e31,1", name="Bob\x1b[2J")
    record = AcquisitionRecord(Acquisition.UFDR, tool="UFED\u2066 7.60", note="n\u202e")
    fields = _phone({"details": to_details(identity, record)})
    assert fields is not None
    values = {f.label: f.value for f in fields}
    assert values["Model"] == "iPhone\\u202e31,1" and values["Device name"] == "Bob\\x1b[2J"
    assert values["Acquisition tool and version"] == "UFED\\u2066 7.60" and values["Acquisition note"] == "n\\u202e"
