"""Acceptance (issue 15): a scripted charging case, benign pictures and synthetic hash sets only.

The case:
- EX1, a computer (folder): known pictures planted (one A, one C), an unknown one, and an eMule client's files
  (known.met built by the P2P parser tests' writer from the published format: a record of the known A picture on
  the disk, and a record whose ED2K is in an illicit set while the file is gone, both P2P records of known
  material; AC_SearchStrings.dat with two benign terms).
- EX2, an iPhone backup (built by the iOS backup tests' builder; its identity says iPhone12,1, an "iPhone 11"):
  two camera-roll pictures whose EXIF make and model are Apple / iPhone 11 (one graded B by an examiner, one not
  graded), and a known C picture in WhatsApp's media folder.
- EX3, an Android backup (.ab, built by the Android backup tests' builder) of shared storage: a known A picture in
  WhatsApp's Sent folder (distribution), a known A picture received, and an unknown camera picture.

Checked: every number the SFR1 prints (per exhibit, all copies, copies counted once, other material, sent items,
P2P records of known material, the search-term count) against the JSON report, in the HTML and in the PDF's text
(pdftotext); the restricted output holds the production indicators and the search terms, and neither the SFR1 nor
the JSON report does.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from safenet.analysis.appmedia import MediaKind, classify
from safenet.analysis.ed2k import ed2k
from safenet.case.gradings import COUNTED_GRADES, Grade, grade_items
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.case.verify import verify_case
from safenet.cli import main
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.categories import most_severe
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.sfr1 import FROM_CASE, item_path
from tests.analysis.p2p.builders_binary import EmuleFile, known_met, search_strings
from tests.builders import VICS_UK_CONTEXT, jpeg, write
from tests.case.test_gradings import EXAMINER, _no_warning
from tests.evidence.phone.ab_builder import build_ab
from tests.evidence.phone.ios_builder import BackupFile, build_backup
from tests.report.test_restricted import exif_jpeg
from tests.report.test_sfr1 import _block_lines, _html_text, _media_line, _pdf_text, _squash

KNOWN_MET = "Users/sam/AppData/Local/eMule/config/known.met"
SEARCHES = "Users/sam/AppData/Local/eMule/config/AC_SearchStrings.dat"
TERMS = ["harbour sunset", "garden 2024"]  # benign stand-ins for recovered search terms
CAMERA_ROLL = "Media/DCIM/100APPLE"
WHATSAPP_IOS = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
SENT = "shared/0/WhatsApp/Media/WhatsApp Images/Sent/IMG-20240101-WA0001.jpg"
RECEIVED = "shared/0/WhatsApp/Media/WhatsApp Images/IMG-20240102-WA0002.jpg"
KIND_TEXT = {
    MediaKind.SENT: "Sent items (distribution)",
    MediaKind.RECEIVED: "Received media",
    MediaKind.CHAT: "Chat media, direction unknown",
    MediaKind.CAMERA: "Camera folder",
}


@dataclass
class _Named(EmuleFile):
    """A known.met record naming real content (its real ED2K, not the writer's stand-in hash)."""

    content: bytes = b""

    @property
    def ed2k(self) -> bytes:
        return ed2k(self.content)


@dataclass
class Scripted:
    case: Case
    root: Path


def _sets(tmp: Path) -> HashSetStore:
    """ref-a (A) and ref-c (C): UK-scheme sets (trusted exact grades); p2p-known: a VICS set holding only the
    ED2K of a picture that is on no exhibit (its records are P2P records of known material, category A)."""
    store = HashSetStore(tmp / "hashdb")
    for name, seeds, category in (("ref-a", (1, 4), "A"), ("ref-c", (2,), "C")):
        for seed in seeds:
            write(tmp / "ref" / name, f"{seed}.jpg", jpeg(seed))
        store.build_folder(
            tmp / "ref" / name, name, kind=SetKind.ILLICIT, category=category, scheme="uk", warn=_no_warning
        )
    media = [
        {"MediaID": 1, "Category": "1", "AlternativeHashes": [{"HashName": "ED2K", "HashValue": ed2k(jpeg(7)).hex()}]}
    ]
    vics = tmp / "p2p-known.json"
    vics.write_text(json.dumps({"@odata.context": VICS_UK_CONTEXT, "value": media}))
    store.import_file(vics, "p2p-known", kind=SetKind.ILLICIT, warn=_no_warning)
    return store


def _computer(root: Path) -> Path:
    write(root, "Users/sam/Pictures/a1.jpg", jpeg(1))
    write(root, "Users/sam/Pictures/c1.jpg", jpeg(2))
    write(root, "Users/sam/Pictures/u1.jpg", jpeg(10))
    records = [
        _Named("a1.jpg", len(jpeg(1)), uploaded=8192, requested=4, accepted=3, content=jpeg(1)),
        _Named(
            "gone.jpg", len(jpeg(7)), uploaded=2048, requested=2, accepted=1, last_shared=1_700_000_000, content=jpeg(7)
        ),
        EmuleFile("notes.txt", 1234),
    ]
    write(root, KNOWN_MET, known_met(records))
    write(root, SEARCHES, search_strings(TERMS))
    return root


def _iphone(root: Path) -> Path:
    files = [
        BackupFile("CameraRollDomain", f"{CAMERA_ROLL}/IMG_0001.JPG", exif_jpeg(20, "Apple", "iPhone 11")),
        BackupFile("CameraRollDomain", f"{CAMERA_ROLL}/IMG_0002.JPG", exif_jpeg(21, "Apple", "iPhone 11")),
        BackupFile(WHATSAPP_IOS, "Message/Media/447700900123@s.whatsapp.net/a/b/c1.jpg", jpeg(2)),
    ]
    build_backup(root, files)
    return root


def _android(path: Path) -> Path:
    members = [(SENT, jpeg(4)), (RECEIVED, jpeg(1)), ("shared/0/DCIM/Camera/IMG_20240103.jpg", jpeg(11))]
    path.write_bytes(build_ab(members).data)
    return path


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[Scripted]:
    store = _sets(tmp_path)
    case = Case.create_or_open(tmp_path / "case")
    sources = (
        ("EX1", _computer(tmp_path / "computer")),
        ("EX2", _iphone(tmp_path / "iphone-backup")),
        ("EX3", _android(tmp_path / "phone.ab")),
    )
    for label, source in sources:
        options = TriageOptions(
            exhibit=label,
            hashsets=("ref-a", "ref-c", "p2p-known"),
            operator="DC Op",
            executor=ExecutorKind.INLINE,
            authority="Warrant W/2026/0042",
        )
        triage(source, case, store, options)
    with case.sessions() as s:
        graded = s.query(ItemRow.id).filter(ItemRow.name == "IMG_0002.JPG").scalar()
    grade_items(case, [graded], Grade.B, EXAMINER)
    yield Scripted(case, tmp_path)
    case.close()


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    captured = capsys.readouterr()
    return captured.out + captured.err


def _other_lines(block: dict[str, Any]) -> list[str]:
    labels = {"prohibited": "Prohibited images (non-photographic)", "extreme": "Extreme pornography"}
    return [_media_line(row, labels[row["category"]]) for row in block["other_material"]]


def _app_lines(report: dict[str, Any], exhibit: str | None) -> list[str]:
    """The SFR1's app-folder rows for sent and received items, computed here from the JSON report's items."""
    lines = []
    for kind, text in KIND_TEXT.items():
        counts = dict.fromkeys(COUNTED_GRADES, 0)
        apps = set()
        for item in report["items"]:
            outcome = (item["grading"] or {}).get("outcome")
            found = classify(item_path(item))
            if outcome in counts and found is not None and found.kind is kind and exhibit in (None, item["exhibit"]):
                counts[outcome] += 1
                apps.add(found.app)
        if kind is MediaKind.SENT or any(counts.values()):
            lines.append(f"{text} {' '.join(str(n) for n in counts.values())} {', '.join(sorted(apps)) or 'none'}")
    return lines


def _p2p_lines(report: dict[str, Any], exhibit: str | None) -> list[str]:
    """The SFR1's P2P rows (records of known material per category), computed from the JSON's p2p_records."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for record in report["p2p_records"]:
        codes = [k["category"] for k in record["known"] if is_hit(k["set_kind"], k["category"])]
        if codes and exhibit in (None, record["exhibit"]):
            rows.setdefault(most_severe(codes), []).append(record)
    lines = []
    for category, records in sorted(rows.items()):
        shared = sum(1 for r in records if r["shared"])
        uploaded = sum(1 for r in records if (r["uploaded_bytes"] or 0) > 0 or (r["upload_requests"] or 0) > 0)
        present = sum(1 for r in records if r["linked_item_id"] is not None)
        lines.append(f"Category {category} {len(records)} {shared} {uploaded} {present}")
    return lines


def test_scripted_charging_case(scripted: Scripted, capsys: pytest.CaptureFixture[str]) -> None:
    case, reports = scripted.case, scripted.case.path / "reports"
    reports.mkdir(exist_ok=True)
    path = str(case.path)
    _cli(["report", path, "--format", "json", "--output", str(reports / "r.json")], capsys)
    report = json.loads((reports / "r.json").read_text())
    counts = report["counts"]

    # answer key first: what the script planted
    per_exhibit = {e["label"]: {r["category"]: r["total"] for r in e["rows"]} for e in counts["exhibits"]}
    assert per_exhibit == {
        "EX1": {"A": 1, "B": 0, "C": 1},
        "EX2": {"A": 0, "B": 1, "C": 1},
        "EX3": {"A": 2, "B": 0, "C": 0},
    }
    assert {r["category"]: r["total"] for r in counts["deduplicated"]["rows"]} == {"A": 2, "B": 1, "C": 1}
    known = [r for r in report["p2p_records"] if r["known_material"]]
    # both records of known material (a1.jpg's by the ED2K the built set keeps, gone.jpg's by the VICS set's):
    # their names are restricted output (null in the JSON), their counters and links are not
    a1 = next(i["item_id"] for i in report["items"] if i["name"] == "a1.jpg")
    assert [(r["exhibit"], r["index"], r["name"], r["linked_item_id"]) for r in known] == [
        ("EX1", 0, None, a1),
        ("EX1", 1, None, None),
    ]
    assert [(r["uploaded_bytes"], r["upload_requests"]) for r in known] == [(8192, 4), (2048, 2)]
    assert report["search_terms_count"] == len(TERMS)
    assert report["totals"]["hits"] == 5  # files only: the record of known material is not a file hit
    sent = [i for i in report["items"] if (found := classify(item_path(i))) and found.kind is MediaKind.SENT]
    assert [(i["exhibit"], i["grading"]["outcome"]) for i in sent] == [("EX3", "A")]
    assert [e["authority"] for e in report["exhibits"]] == ["Warrant W/2026/0042"] * 3
    json_text = json.dumps(report)
    assert not any(secret in json_text for secret in (*TERMS, "gone.jpg"))  # restricted output only

    html_path, pdf_path = reports / "sfr1.html", reports / "sfr1.pdf"
    _cli(["report", path, "--format", "sfr1-html", "--output", str(html_path)], capsys)
    _cli(["report", path, "--format", "sfr1", "--output", str(pdf_path)], capsys)
    expected = []
    for block in (*counts["exhibits"], counts["total"], counts["deduplicated"]):
        expected += _block_lines(block) + _other_lines(block)
    for exhibit in ("EX1", "EX2", "EX3", None):
        expected += _app_lines(report, exhibit) + _p2p_lines(report, exhibit)
    assert "Sent items (distribution) 1 0 0 0 0 WhatsApp" in expected and "Category A 2 0 2 1" in expected
    assert "Chat media, direction unknown 0 0 1 0 0 WhatsApp" in expected
    assert "Camera folder 0 1 0 0 0 Camera roll" in expected
    for text in (_html_text(html_path.read_text(encoding="utf-8")), _pdf_text(pdf_path)):
        squashed = _squash(text)
        for line in expected:
            assert _squash(line) in squashed, line
        assert _squash(f"{len(TERMS)} search terms recovered: see restricted output.") in squashed
        assert "Production indicators: see restricted output." in text
        # the phone exhibits as their sources reported them
        assert _squash(f"Model iPhone12,1 {FROM_CASE}") in squashed
        assert _squash(f"Serial number F2LTESTSERIAL {FROM_CASE}") in squashed
        assert _squash("Acquisition method logical: an iTunes/Finder backup") in squashed
        assert _squash("Acquisition method logical: an Android backup file (.ab)") in squashed
        assert _squash("Authority (power relied on) Warrant W/2026/0042") in squashed
        for exhibit in report["exhibits"]:  # who examined each exhibit, and when (UTC), as the runs recorded
            for run in exhibit["runs"]:
                started, ended = (datetime.fromisoformat(run[k]).astimezone(UTC) for k in ("started_at", "ended_at"))
                when = f"{started:%Y-%m-%d %H:%M:%S} to {ended:%Y-%m-%d %H:%M:%S}"
                assert _squash(f"{run['operator']}, {when}, {run['status']}") in squashed
        # limitations
        for label in ("EX2", "EX3"):
            assert _squash(f"Exhibit {label}: a logical acquisition") in squashed
        assert "Photo-vault apps' storage is not decoded: Vaulty" in text
        # nothing restricted
        for secret in (*TERMS, "IMG_0001.JPG", "IMG_0002.JPG", "first-generation", "gone.jpg"):
            assert secret not in text, secret

    restricted = reports / "restricted.pdf"
    said = _cli(["report", path, "--format", "restricted", "--output", str(restricted)], capsys)
    assert "keep apart from the SFR1" in " ".join(said.split())
    for written in (restricted, restricted.with_suffix(".html")):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
    for text in (_html_text(restricted.with_suffix(".html").read_text(encoding="utf-8")), _pdf_text(restricted)):
        squashed = _squash(text)
        assert "possible first-generation material" in text
        for name in ("IMG_0001.JPG", "IMG_0002.JPG"):
            assert name in text
        assert _squash("exhibit EX2 (Apple iPhone12,1 F2LTESTSERIAL)") in squashed
        assert "IMG_20240103.jpg" not in text  # the Android backup names no model: nothing compared with it
        for term in TERMS:
            assert term in text
        assert "gone.jpg" in text  # the name of the P2P record of known material
    formats = [e["data"]["format"] for e in case.audit.entries() if e["event"] == "report-written"]
    assert formats == ["json", "sfr1-html", "sfr1", "restricted"]
    assert verify_case(case).ok  # the reports' audit lines (the restricted output's own too) keep it verifiable
