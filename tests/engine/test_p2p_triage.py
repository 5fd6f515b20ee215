"""P2P artefacts in a triage: an eMule client's known.met and AC_SearchStrings.dat (built by the parser tests'
writers from the published formats) are parsed by the workers, their records matched against the hash sets by
ED2K, recorded with the artefact item, linked to the item with the same content, audited and verified.

The exhibit (benign pictures, synthetic sets):
- Users/alice/Pictures/holiday.jpg: on the disk, named by known.met record 0 (its real ED2K): linked.
- known.met record 1 ("gone.jpg"): its ED2K is in the illicit set, the file itself is not on the exhibit: a
  P2P record of known material, reported on its own line and never counted as a file hit.
- known.met record 2: neither present nor known.
- Windows/Temp/hit.jpg: in the set by MD5 (a file hit); ordered after known.met (system folders come last).
- Windows/Temp/eMule/AC_SearchStrings.dat: two benign search terms, after the file hit.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from safenet.analysis.ed2k import ed2k
from safenet.analysis.p2p import registry
from safenet.case.activity import p2p_records, search_term_count, search_terms
from safenet.case.casefields import current_fields
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.demo import VICS_UK_CONTEXT
from safenet.engine.events import Hit, KnownRecord
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import OptionsError, RunStatus, TriageError, TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.writers import render_html
from tests.analysis.p2p.builders_binary import EmuleFile, known_met, search_strings
from tests.builders import jpeg, md5, write
from tests.report.test_reports import SCHEMA

KNOWN_MET = "Users/alice/AppData/Local/eMule/config/known.met"
SEARCHES = "Windows/Temp/eMule/AC_SearchStrings.dat"
TERMS = ["holiday pictures", "beach 2024"]


@dataclass
class _Named(EmuleFile):
    """A known.met record naming real content (the builder's own records carry stand-in hashes)."""

    content: bytes = b""

    @property
    def ed2k(self) -> bytes:
        return ed2k(self.content)


class Collect:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.records: list[KnownRecord] = []

    def planned(self, items: int, total_bytes: int) -> None:
        pass

    def advanced(self, items: int, bytes_read: int) -> None:
        pass

    def hit(self, hit: Hit) -> None:
        self.hits.append(hit)

    def known_record(self, record: KnownRecord) -> None:
        self.records.append(record)


@dataclass
class Exhibit:
    root: Path
    store: HashSetStore
    holiday: bytes
    gone: bytes
    hit: bytes


@pytest.fixture
def exhibit(tmp_path: Path) -> Exhibit:
    holiday, gone, hit = jpeg(1), jpeg(2), jpeg(3)
    root = tmp_path / "exhibit"
    write(root, "Users/alice/Pictures/holiday.jpg", holiday)
    records = [
        _Named("holiday.jpg", len(holiday), uploaded=4096, requested=3, accepted=2, content=holiday),
        _Named("gone.jpg", len(gone), uploaded=0, requested=1, accepted=0, last_shared=1_700_000_000, content=gone),
        EmuleFile("notes.txt", 1234),
    ]
    write(root, KNOWN_MET, known_met(records))
    write(root, "Windows/Temp/hit.jpg", hit)
    write(root, SEARCHES, search_strings(TERMS))
    media = [
        {"MediaID": 1, "MD5": md5(hit).upper(), "Category": "1"},
        {"MediaID": 2, "Category": "2", "AlternativeHashes": [{"HashName": "ED2K", "HashValue": ed2k(gone).hex()}]},
    ]
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"@odata.context": VICS_UK_CONTEXT, "value": media}))
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(path, "known", kind=SetKind.ILLICIT, warn=lambda ref, message: None)
    return Exhibit(root, store, holiday, gone, hit)


def _triage(case: Case, ex: Exhibit, events: Collect, **options: object) -> object:
    opts = TriageOptions(exhibit="EX1", hashsets=("known",), operator="tester", **options)  # type: ignore[arg-type]
    return triage(ex.root, case, ex.store, opts, events)


def _leaf(display: str) -> str:
    """A file's name from its displayed locator ("... › /a/b.dat (inode 12)")."""
    return display.split(" (inode")[0].rsplit("/", 1)[-1]


def _item_id(case: Case, name: str) -> int:
    with sqlite3.connect(case.path / "case.db") as db:
        return int(db.execute("SELECT id FROM items WHERE name = ?", (name,)).fetchone()[0])


def test_records_are_recorded_matched_linked_and_reported_apart(tmp_path: Path, exhibit: Exhibit) -> None:
    case = Case.create_or_open(tmp_path / "case")
    events = Collect()
    outcome = _triage(case, exhibit, events)
    assert outcome.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    assert outcome.hits == 1 and outcome.known_records == 1  # type: ignore[attr-defined]
    assert [h.locator.leaf.value for h in events.hits] == ["/Windows/Temp/hit.jpg"]  # only the file
    (line,) = events.records
    assert (line.client, line.artefact, line.index, line.name) == ("emule", "known.met", 1, "gone.jpg")
    assert (line.category, line.hash_kind, line.hashsets) == ("B", "ed2k", ("known",))
    assert line.locator.leaf.value == "/" + KNOWN_MET

    views = p2p_records(case)
    assert [(v.index, v.name) for v in views] == [(0, "holiday.jpg"), (1, "gone.jpg"), (2, "notes.txt")]
    holiday, gone, notes = views
    assert holiday.hashes["ed2k"] == ed2k(exhibit.holiday).hex()
    assert holiday.linked_item_id == _item_id(case, "holiday.jpg") and holiday.known == ()
    assert (holiday.uploaded_bytes, holiday.upload_requests, holiday.accepted_requests) == (4096, 3, 2)
    assert gone.linked_item_id is None  # the file is gone: the record alone says the client knew of it
    assert [(k.hashset, k.set_kind, k.hash_kind, k.category) for k in gone.known] == [("known", "illicit", "ed2k", "B")]
    assert notes.linked_item_id is None and notes.known == ()
    assert {v.artefact_item_id for v in views} == {_item_id(case, "known.met")}
    assert {(v.exhibit, v.client, v.artefact) for v in views} == {("EX1", "emule", "known.met")}
    assert {v.artefact_display.split(" (inode")[0] for v in views} == {f"{exhibit.root} › /{KNOWN_MET}"}
    assert [(t.term, t.client) for t in search_terms(case)] == [(t, "emule") for t in TERMS]
    assert search_term_count(case) == 2 and p2p_records(case, "EX2") == [] and search_terms(case, "EX2") == []

    data = report_data(case)
    jsonschema.validate(data, SCHEMA)
    assert data["report_version"] == 8 and data["search_terms_count"] == 2
    assert [(r["name"], r["known_material"], r["linked_item_id"]) for r in data["p2p_records"]] == [
        ("holiday.jpg", False, holiday.linked_item_id),
        (None, True, None),  # the name of a record of known material is restricted output
        ("notes.txt", False, None),
    ]
    assert data["totals"]["hits"] == 1  # the record of known material is not a file hit
    html = render_html(data)
    for text in (json.dumps(data), html):
        assert not any(term in text for term in [*TERMS, "gone.jpg"])  # restricted output
    assert "P2P clients: 1 records of known material" in html and "2 search terms were recovered" in html
    assert "known (ed2k)" in html and "not found" in html
    assert verify_case(case).ok


def test_a_record_of_known_material_does_not_stop_the_run_and_resume_does_not_duplicate(
    tmp_path: Path, exhibit: Exhibit
) -> None:
    case = Case.create_or_open(tmp_path / "case")
    events = Collect()
    first = _triage(case, exhibit, events, stop_at_first_hit=True, executor=ExecutorKind.INLINE)
    # known.met (with its known record) came before the file hit, and did not stop the run
    assert first.status is RunStatus.STOPPED and len(events.records) == 1  # type: ignore[attr-defined]
    assert len(p2p_records(case)) == 3 and search_terms(case) == []  # the search strings were not reached
    second = _triage(case, exhibit, Collect(), resume=True, executor=ExecutorKind.INLINE)
    assert second.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    assert [v.index for v in p2p_records(case)] == [0, 1, 2]
    assert [t.term for t in search_terms(case)] == TERMS
    result = verify_case(case)
    assert result.ok, result.problems
    assert any(line.startswith("p2p_records: 3 rows") for line in result.lines)
    assert any(line.startswith("search_terms: 2 rows") for line in result.lines)


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("UPDATE p2p_records SET uploaded_bytes = 0 WHERE name = 'holiday.jpg'", "p2p_records"),
        ("UPDATE p2p_records SET hashes = '{}' WHERE name = 'gone.jpg'", "p2p_records"),
        ("DELETE FROM p2p_findings", "p2p_findings"),
        ("UPDATE search_terms SET term = 'other'", "search_terms"),
    ],
)
def test_verify_detects_a_changed_p2p_row(tmp_path: Path, exhibit: Exhibit, statement: str, table: str) -> None:
    case = Case.create_or_open(tmp_path / "case")
    _triage(case, exhibit, Collect())
    with sqlite3.connect(case.path / "case.db") as db:
        assert db.execute(statement).rowcount >= 1
    result = verify_case(case)
    assert any(p.startswith(table) for p in result.problems), result.problems


def test_an_oversized_artefact_is_hashed_but_not_parsed(
    tmp_path: Path, exhibit: Exhibit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "MAX_ARTEFACT_BYTES", 32)  # the inline executor runs in this process
    case = Case.create_or_open(tmp_path / "case")
    _triage(case, exhibit, Collect(), executor=ExecutorKind.INLINE)
    assert p2p_records(case) == [] and search_terms(case) == []
    with sqlite3.connect(case.path / "case.db") as db:
        codes = db.execute("SELECT code, display FROM warnings WHERE code = 'p2p-too-large'").fetchall()
        hashed = db.execute("SELECT md5 FROM items WHERE name = 'known.met'").fetchone()[0]
    assert sorted(_leaf(display) for _, display in codes) == ["AC_SearchStrings.dat", "known.met"]
    assert hashed is not None  # hashed and matched like any file, in the quick profile too


def test_damaged_artefacts_and_a_failing_parser_are_warnings(
    tmp_path: Path, exhibit: Exhibit, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (exhibit.root / KNOWN_MET).read_bytes()
    (exhibit.root / KNOWN_MET).write_bytes(data[: len(data) - 10])  # the last record cut short
    parser = next(p for p in registry.PARSERS if p.NAME == "emule-search-strings")

    def explode(data: bytes) -> object:
        raise RuntimeError("a parser bug")

    monkeypatch.setattr(type(parser), "parse", lambda self, data: explode(data))
    case = Case.create_or_open(tmp_path / "case")
    outcome = _triage(case, exhibit, Collect(), executor=ExecutorKind.INLINE)
    assert outcome.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    assert [v.index for v in p2p_records(case)] == [0, 1]  # the records before the damage
    with sqlite3.connect(case.path / "case.db") as db:
        warned = dict(db.execute("SELECT display, code FROM warnings WHERE code LIKE 'p2p-%'").fetchall())
    assert {_leaf(display): code for display, code in warned.items()} == {
        "known.met": "p2p-truncated",
        "AC_SearchStrings.dat": "p2p-corrupt",
    }
    assert verify_case(case).ok


def test_authority_is_an_audited_exhibit_field(tmp_path: Path, exhibit: Exhibit) -> None:
    case = Case.create_or_open(tmp_path / "case")
    _triage(case, exhibit, Collect(), authority="  Warrant 123/2026 (Westminster MC)  ")
    fields = current_fields(case)
    assert fields[("EX1", "authority")].value == "Warrant 123/2026 (Westminster MC)"
    assert fields[("EX1", "authority")].user == "tester"
    data = report_data(case)
    assert data["exhibits"][0]["authority"] == "Warrant 123/2026 (Westminster MC)"
    assert "Authority relied on: Warrant 123/2026 (Westminster MC)" in render_html(data)
    assert verify_case(case).ok


def test_a_bad_authority_is_refused_before_anything_is_recorded(tmp_path: Path, exhibit: Exhibit) -> None:
    case = Case.create_or_open(tmp_path / "case")
    with pytest.raises(OptionsError, match="--authority: authority contains control characters"):
        _triage(case, exhibit, Collect(), authority="warrant\x1b[31m")
    assert case.exhibits() == [] and current_fields(case) == {}


def test_authority_on_the_command_line_and_by_case_set(
    tmp_path: Path, exhibit: Exhibit, capsys: pytest.CaptureFixture[str]
) -> None:
    from safenet.cli import main

    folder = tmp_path / "cli-case"
    args = ["triage", str(exhibit.root), "--case", str(folder), "--exhibit", "EX1", "--hashset", "known"]
    args += ["--authority", "Warrant 9/2026"]
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert "authority: Warrant 9/2026" in shown and "P2P record of known material" in shown
    assert "eMule known.met record 1 'gone.jpg' → set known category B" in shown
    assert main(["case", "set", str(folder), "--exhibit", "EX1", "authority=Warrant 10/2026"]) == 0
    case = Case.open_existing(folder)
    assert current_fields(case)[("EX1", "authority")].value == "Warrant 10/2026"
    assert [e["event"] for e in case.audit.entries()].count("case-field-set") == 2
    assert verify_case(case).ok


def test_a_torrent_is_matched_by_its_info_hash_and_linked_by_its_md5(tmp_path: Path) -> None:
    from tests.analysis.p2p.test_bittorrent import single_torrent

    content = jpeg(7)
    torrent, btih = single_torrent(content)
    root = tmp_path / "exhibit"
    write(root, "Users/bob/Downloads/holiday.jpg", content)
    write(root, "Users/bob/Downloads/holiday.jpg.torrent", torrent)
    listing = tmp_path / "torrents.txt"
    listing.write_text(f"magnet:?xt=urn:btih:{btih.hex()}&dn=holiday.jpg\n")
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(listing, "torrents", kind=SetKind.ILLICIT, warn=lambda ref, message: None)
    case = Case.create_or_open(tmp_path / "case")
    events = Collect()
    options = TriageOptions(exhibit="EX1", hashsets=("torrents",), operator="tester")
    outcome = triage(root, case, store, options, events)
    assert outcome.hits == 0 and outcome.known_records == 1  # type: ignore[attr-defined]
    (line,) = events.records
    assert (line.client, line.artefact, line.hash_kind, line.category) == (
        "torrent",
        ".torrent",
        "btih",
        "uncategorised",
    )
    (view,) = p2p_records(case)
    assert view.hashes["btih"] == btih.hex() and view.linked_item_id == _item_id(case, "holiday.jpg")
    assert [(k.hashset, k.hash_kind) for k in view.known] == [("torrents", "btih")]


def test_verify_rehashes_the_artefact_of_a_record_of_known_material(tmp_path: Path, exhibit: Exhibit) -> None:
    case = Case.create_or_open(tmp_path / "case")
    _triage(case, exhibit, Collect())
    lines = verify_case(case).lines
    assert any("2 of 2 matched items re-hashed identically" in line for line in lines), lines  # hit.jpg, known.met
    path = exhibit.root / KNOWN_MET
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # the artefact changed after triage
    problems = verify_case(case).problems
    assert [_leaf(p.split(": digests differ")[0]) for p in problems if "digests differ" in p] == ["known.met"]


def test_a_refused_triage_records_no_authority(tmp_path: Path, exhibit: Exhibit) -> None:
    case = Case.create_or_open(tmp_path / "case")
    _triage(case, exhibit, Collect())
    with pytest.raises(TriageError, match="already triaged"):
        _triage(case, exhibit, Collect(), authority="Warrant 1/2026")
    assert current_fields(case) == {}


def test_an_artefact_inside_an_archive_is_parsed_as_a_member(tmp_path: Path) -> None:
    from tests.builders import zip_bytes

    content = jpeg(9)
    root = tmp_path / "exhibit"
    write(root, "backup.zip", zip_bytes({"eMule/config/known.met": known_met([_Named("a.jpg", 9, content=content)])}))
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, operator="tester")
    triage(root, case, None, options, Collect())
    (view,) = p2p_records(case)
    assert (view.name, view.hashes["ed2k"]) == ("a.jpg", ed2k(content).hex())
    assert view.artefact_item_id == _item_id(case, "known.met")
    assert "backup.zip" in view.artefact_display and view.artefact_display.endswith("eMule/config/known.met")
