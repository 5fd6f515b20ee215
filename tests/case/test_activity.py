"""``case.activity``: P2P records and search terms as recorded, read back for the reports.

Records are written through the recorder (as a triage's batch would be, with an artefact item of its own) over
items a real triage recorded, so the links are checked against real digests: a record is linked to the first
item of its own exhibit with one of its content digests (sha256, sha1, md5, ed2k: strongest first), never to
an item of another exhibit, and btih links nothing. Hostile values (a counter past 64 bits, a zone-less time,
control characters and undecodable bytes in a name) are stored as a reader can trust them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from safenet.analysis.filetype import UNKNOWN
from safenet.analysis.p2p.model import P2PRecord, SearchTerm
from safenet.case import activity
from safenet.case.activity import p2p_records, search_term_count, search_terms
from safenet.case.recorder import record_results
from safenet.case.records import ItemRecord, ItemStatus, P2PFound, WorkResult
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.triage import TriageOptions, TriageOutcome, triage
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import Item
from safenet.hashsets.model import HashKind, Match, SetKind
from tests.builders import jpeg, write

A, B, C = jpeg(11), jpeg(12), jpeg(13)


def _triage(case: Case, root: Path, label: str) -> TriageOutcome:
    options = TriageOptions(exhibit=label, algorithms=("md5", "sha1", "sha256"), operator="tester")
    return triage(root, case, None, options)


def _artefact(root: Path, name: str) -> Item:
    locator = Locator.source(str(root)).child(Layer(LayerKind.PATH, f"/client/{name}"))
    return Item(locator, name, 100)


def _found(index: int, **fields: object) -> P2PFound:
    record = P2PRecord(client="test", artefact="records.dat", index=index, name=f"r{index}", **fields)  # type: ignore[arg-type]
    return P2PFound(0, "test-records", record)


def _record(case: Case, outcome: TriageOutcome, root: Path, found: list[P2PFound]) -> None:
    data = b"a client's records"  # on the evidence too: verify re-hashes an artefact with known records
    write(root, "client/records.dat", data)
    digests = {"md5": hashlib.md5(data).digest(), "sha256": hashlib.sha256(data).digest()}
    artefact = ItemRecord(_artefact(root, "records.dat"), UNKNOWN, ItemStatus.EXAMINED, digests, False)
    result = WorkResult((artefact,), (), 0, tuple(found))
    record_results(case, outcome.exhibit_id, outcome.run_id, [result])


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case.create_or_open(tmp_path / "case")


def _ids(case: Case) -> dict[tuple[str, str], int]:
    with case.engine.connect() as db:
        rows = db.execute(text("SELECT e.label, i.name, i.id FROM items i JOIN exhibits e ON e.id = i.exhibit_id"))
        return {(label, name): item_id for label, name, item_id in rows}


@pytest.mark.parametrize("chunk", [500, 1], ids=["by-value", "one-pass"])
def test_links_follow_the_exhibit_and_the_strongest_content_digest(
    case: Case, tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activity, "_CHUNK", chunk)  # many digests are looked up in one pass, a few by value
    one, two = tmp_path / "one", tmp_path / "two"
    write(one, "a.jpg", A)
    write(one, "copy/a-again.jpg", A)  # a second copy: the first recorded is named
    write(one, "b.jpg", B)
    write(two, "c.jpg", C)
    first = _triage(case, one, "EX1")
    second = _triage(case, two, "EX2")
    ids = _ids(case)
    a_first = min(ids[("EX1", "a.jpg")], ids[("EX1", "a-again.jpg")])
    records = [
        _found(0, hashes={"md5": hashlib.md5(A).digest()}),
        _found(1, hashes={"sha1": hashlib.sha1(B).digest(), "md5": hashlib.md5(A).digest()}),  # sha1 wins
        _found(2, hashes={"sha256": hashlib.sha256(C).digest()}),  # C is on EX2 only
        _found(3, hashes={"btih": hashlib.sha1(A).digest()}),  # an info-hash names no file's content
        _found(4),  # no hash at all
    ]
    _record(case, first, one, records)
    _record(case, second, two, [_found(0, hashes={"sha256": hashlib.sha256(C).digest()})])
    ex1 = p2p_records(case, "EX1")
    assert [(v.index, v.linked_item_id) for v in ex1] == [
        (0, a_first),
        (1, ids[("EX1", "b.jpg")]),
        (2, None),
        (3, None),
        (4, None),
    ]
    (ex2,) = p2p_records(case, "EX2")
    assert ex2.linked_item_id == ids[("EX2", "c.jpg")]
    assert [v.exhibit for v in p2p_records(case)] == ["EX1"] * 5 + ["EX2"]
    assert ex1[1].hashes == {"md5": hashlib.md5(A).hexdigest(), "sha1": hashlib.sha1(B).hexdigest()}
    assert {v.artefact_display for v in ex1} == {f"{one} › /client/records.dat"}


def test_known_matches_and_values_as_stored(case: Case, tmp_path: Path) -> None:
    root = tmp_path / "ev"
    write(root, "a.jpg", A)
    outcome = _triage(case, root, "EX1")
    match = Match("set-x", "0" * 64, SetKind.ILLICIT, HashKind.MD5, "1", "A", "vics-uk", 7)
    hostile = P2PRecord(
        client="test",
        artefact="records.dat",
        index=0,
        name="evil\x1b[31m\udcff.jpg",
        size=1 << 64,  # no 64-bit column holds it: not kept
        hashes={"md5": hashlib.md5(A).digest()},
        shared=True,
        completed=None,
        uploaded_bytes=-5,
        upload_requests=2,
        added=datetime(2024, 5, 1, 14, 30),  # local time of an unknown zone
        last_shared=datetime(2024, 6, 1, 8, 0, tzinfo=UTC),
        zone_known=False,
        save_path="C:\\Users\\x\\Downloads\x00",
        extra={"aich": "ABC"},
    )
    found = P2PFound(0, "test-records", hostile, (match,))
    term = P2PFound(
        0, "test-records", SearchTerm("test", "records.dat", 0, "beach\x07", datetime(2024, 1, 2, tzinfo=UTC))
    )
    _record(case, outcome, root, [found, term])
    (view,) = p2p_records(case)
    assert view.name == "evil\\x1b[31m\\xff.jpg" and view.save_path == "C:\\Users\\x\\Downloads\\x00"
    assert (view.size, view.uploaded_bytes, view.upload_requests, view.accepted_requests) == (None, None, 2, None)
    assert (view.shared, view.completed, view.zone_known) == (True, None, False)
    assert view.added == datetime(2024, 5, 1, 14, 30, tzinfo=UTC)  # as written, flagged by zone_known
    assert view.last_shared == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert [(k.hashset, k.set_kind, k.hash_kind, k.category, k.category_raw, k.scheme) for k in view.known] == [
        ("set-x", "illicit", "md5", "A", "1", "vics-uk")
    ]
    with case.engine.connect() as db:
        raw, extra = db.execute(text("SELECT name_raw, extra FROM p2p_records")).one()
    assert json.loads(raw) == "evil\x1b[31m\udcff.jpg"  # the exact name, kept as JSON text
    assert json.loads(extra) == {"aich": "ABC"}
    (shown,) = search_terms(case)
    assert (shown.term, shown.client, shown.at) == ("beach\\x07", "test", datetime(2024, 1, 2, tzinfo=UTC))
    assert search_term_count(case) == 1 and search_term_count(case, "EX1") == 1 and search_term_count(case, "EX9") == 0
    assert verify_case(case).ok  # written through the recorder: audited per batch like items


def test_an_empty_case_has_no_activity(case: Case) -> None:
    assert p2p_records(case) == [] and search_terms(case) == [] and search_term_count(case) == 0
