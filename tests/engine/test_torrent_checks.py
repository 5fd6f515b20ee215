"""Torrents in a triage: Transmission's info-hash from the artefact's name, and each .torrent's pieces checked
against the files it names on the exhibit (``engine.torrents``), recorded, audited and verified.

Every torrent and resume file is built here from BEP 3 and the clients' documented keys; contents are benign
byte patterns, the hash set a synthetic list of info-hashes.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from pathlib import Path
from typing import BinaryIO

import jsonschema
import pytest

from safenet.analysis.p2p.bittorrent import TorrentFile
from safenet.case.activity import p2p_records
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.torrents import Candidate, components, place
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.sfr1 import render_sfr1_html, sfr1_data
from tests.analysis.p2p.test_bittorrent import PIECE, Bencodable, benc, pieces_of
from tests.builders import write
from tests.report.test_reports import SCHEMA
from tests.report.test_sfr1 import _html_text


def torrent(name: str, files: dict[str, bytes] | bytes) -> tuple[bytes, bytes]:
    """A version-1 .torrent of one file (``files`` the content) or several (path under ``name`` -> content)."""
    info: dict[bytes, Bencodable] = {b"name": name, b"piece length": PIECE}
    if isinstance(files, bytes):
        info[b"length"] = len(files)
        info[b"pieces"] = pieces_of(files)
    else:
        info[b"files"] = [
            {b"length": len(c), b"path": [p.encode() for p in path.split("/")]} for path, c in files.items()
        ]
        info[b"pieces"] = pieces_of(b"".join(files.values()))
    return benc({b"announce": "http://tracker.invalid/announce", b"info": info}), hashlib.sha1(benc(info)).digest()


def pattern(seed: int, size: int) -> bytes:
    return bytes((seed * 7 + i * 13) % 251 for i in range(size))


ALBUM = {"one/a.jpg": pattern(1, PIECE + 100), "one/b.png": pattern(2, PIECE // 2), "c.txt": pattern(3, 2 * PIECE + 7)}
HOLIDAY = pattern(4, 3 * PIECE)
BEACH = pattern(5, 3 * PIECE + 5)
PARTLY = {"x.jpg": pattern(6, 2 * PIECE), "y.jpg": pattern(7, 2 * PIECE)}
DUP = pattern(8, PIECE + 1)


def _case(tmp_path: Path, root: Path, store: HashSetStore | None = None, sets: tuple[str, ...] = ()) -> Case:
    case = Case.create_or_open(tmp_path / "case")
    triage(root, case, store, TriageOptions(exhibit="EX1", hashsets=sets, operator="tester"))
    return case


def _checks(case: Case) -> dict[str, dict[str, object]]:
    """The case's torrent checks by torrent name (its record's name)."""
    con = sqlite3.connect(case.path / "case.db")
    try:
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "SELECT c.*, r.name AS torrent FROM torrent_checks c JOIN p2p_records r ON r.id = c.record_id"
        ).fetchall()
    finally:
        con.close()
    return {row["torrent"]: {**dict(row), "files": json.loads(row["files"])} for row in rows}


def _only_warning(case: Case) -> tuple[str, str]:
    """The case's one warning: its code and message."""
    con = sqlite3.connect(case.path / "case.db")
    try:
        [(code, message)] = con.execute("SELECT code, message FROM warnings").fetchall()
    finally:
        con.close()
    return str(code), str(message)


def _item_name(case: Case, item_id: object) -> str:
    con = sqlite3.connect(case.path / "case.db")
    try:
        return str(con.execute("SELECT display FROM items WHERE id = ?", (item_id,)).fetchone()[0])
    finally:
        con.close()


def test_a_transmission_record_carries_its_info_hash_and_matches_a_set(tmp_path: Path) -> None:
    _, btih = torrent("holiday.jpg", HOLIDAY)
    root = tmp_path / "exhibit"
    resume = benc({b"name": "holiday.jpg", b"destination": "/home/bob/Downloads", b"done-date": 1_700_000_000})
    write(root, f"home/bob/.config/transmission/resume/{btih.hex()}.resume", resume)
    listing = tmp_path / "torrents.txt"
    listing.write_text(f"magnet:?xt=urn:btih:{btih.hex()}&dn=holiday.jpg\n")
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(listing, "torrents", kind=SetKind.ILLICIT, warn=lambda ref, message: None)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", hashsets=("torrents",), operator="tester")
    outcome = triage(root, case, store, options)
    assert outcome.known_records == 1
    (view,) = p2p_records(case)
    assert (view.client, view.hashes, view.save_path) == ("transmission", {"btih": btih.hex()}, "/home/bob/Downloads")
    assert [(k.hashset, k.hash_kind) for k in view.known] == [("torrents", "btih")]


def build_exhibit(root: Path) -> None:
    """Five torrents: complete by save path, complete by name and size, one byte changed, a file missing, and
    one whose file has two candidates of its name and size."""
    # album: all its files where qBittorrent's resume data says it saved them (rule: save path)
    album, album_hash = torrent("album", ALBUM)
    write(root, "Users/bob/Downloads/album.torrent", album)
    for path, content in ALBUM.items():
        write(root, f"Users/bob/Downloads/album/{path}", content)
    resume = benc({b"info-hash": album_hash, b"name": "album", b"qBt-savePath": "C:\\Users\\bob\\Downloads"})
    write(root, f"Users/bob/AppData/Local/qBittorrent/BT_backup/{album_hash.hex()}.fastresume", resume)
    # holiday: found by name and size elsewhere (no resume data)
    write(root, "Users/bob/Torrents/holiday.jpg.torrent", torrent("holiday.jpg", HOLIDAY)[0])
    write(root, "Users/bob/Pictures/holiday.jpg", HOLIDAY)
    # beach: on the exhibit, one byte of its second piece changed
    write(root, "Users/bob/Torrents/beach.torrent", torrent("beach.jpg", BEACH)[0])
    changed = bytearray(BEACH)
    changed[PIECE + 10] ^= 0xFF
    write(root, "Users/bob/Pictures/beach.jpg", bytes(changed))
    # partly: y.jpg is not on the exhibit
    write(root, "Users/bob/Torrents/partly.torrent", torrent("partly", PARTLY)[0])
    write(root, "Users/bob/Pictures/x.jpg", PARTLY["x.jpg"])
    # dup: two files of its name and size: never guessed
    write(root, "Users/bob/Torrents/dup.torrent", torrent("dup.jpg", DUP)[0])
    write(root, "Users/bob/Desktop/dup.jpg", DUP)
    write(root, "Users/bob/Documents/dup.jpg", DUP)


@pytest.fixture
def checked(tmp_path: Path) -> Case:
    build_exhibit(tmp_path / "exhibit")
    return _case(tmp_path, tmp_path / "exhibit")


def test_piece_checks_of_the_torrents_found(checked: Case) -> None:
    checks = _checks(checked)
    assert set(checks) == {"album", "holiday.jpg", "beach.jpg", "partly", "dup.jpg"}
    counts = ("status", "pieces", "matched", "mismatched", "unavailable", "files_found", "files_missing")
    summary = {name: tuple(check[k] for k in counts) for name, check in checks.items()}
    assert summary["album"] == ("complete", 4, 4, 0, 0, 3, 0)  # 16484 + 8192 + 32775 bytes in 16 KiB pieces
    assert [f["rule"] for f in checks["album"]["files"]] == ["save-path"] * 3  # type: ignore[union-attr]
    assert summary["holiday.jpg"] == ("complete", 3, 3, 0, 0, 1, 0)
    assert checks["holiday.jpg"]["files"][0]["rule"] == "name-size"  # type: ignore[index]
    assert summary["beach.jpg"] == ("partial", 4, 3, 1, 0, 1, 0)
    assert summary["partly"] == ("partial", 4, 2, 0, 2, 1, 1)
    assert summary["dup.jpg"] == ("ambiguous", 2, 0, 0, 2, 0, 0)
    assert checks["dup.jpg"]["files_ambiguous"] == 1
    [dup] = checks["dup.jpg"]["files"]  # type: ignore[misc]
    assert dup["state"] == "ambiguous" and dup["item_id"] is None
    shown = sorted(_item_name(checked, i).split(" (inode")[0].rsplit("/", 2)[-2] for i in dup["candidates"])
    assert shown == ["Desktop", "Documents"]
    # the items read are the ones named
    holiday = checks["holiday.jpg"]["files"][0]  # type: ignore[index]
    assert "Pictures/holiday.jpg" in _item_name(checked, holiday["item_id"])
    assert holiday["read"] == "whole" and dup["read"] is None
    partly = {f["path"]: f for f in checks["partly"]["files"]}  # type: ignore[union-attr]
    assert partly["partly/y.jpg"]["state"] == "missing" and partly["partly/y.jpg"]["item_id"] is None
    assert verify_case(checked).ok


def test_verify_detects_a_tampered_check(checked: Case) -> None:
    con = sqlite3.connect(checked.path / "case.db")
    with con:
        con.execute("UPDATE torrent_checks SET matched = pieces, status = 'complete' WHERE status = 'partial'")
    con.close()
    problems = verify_case(checked).problems
    assert any(p.startswith("torrent_checks ") and "edited" in p for p in problems), problems


def test_placing_by_save_path_ignores_case_and_drive_and_a_cut_root() -> None:
    file = TorrentFile("album/c.txt", 10, 0)
    here = Candidate(1, "", "c.txt", 10, components("Downloads/album/c.txt"))  # the exhibit is bob's folder
    other = Candidate(2, "", "c.txt", 10, components("Users/bob/Backup/album/c.txt"))
    placed = place(file, ["C:\\Users\\Bob\\Downloads"], [here, other])
    assert (placed.state, placed.rule, placed.item) == ("found", "save-path", here)
    # without the save path both have the name and size: ambiguous, never a guess
    assert place(file, [], [here, other]).state == "ambiguous"
    # the save path names neither: by name and size; the one of the right size is taken
    small = Candidate(3, "", "c.txt", 9, components("Elsewhere/c.txt"))
    assert place(file, ["/srv/torrents"], [small, here]).item == here


def test_the_reports_state_each_check(checked: Case) -> None:
    report = report_data(checked)
    jsonschema.validate(report, SCHEMA)
    checks = {c["name"]: c for c in report["torrent_checks"]}
    assert (checks["album"]["status"], checks["album"]["matched"], checks["album"]["pieces"]) == ("complete", 4, 4)
    assert [f["state"] for f in checks["partly"]["files"]] == ["found", "missing"]
    text = " ".join(_html_text(render_sfr1_html(sfr1_data(checked, report))).split())
    assert 'torrent "album": its files are on the exhibit, 4 of 4 pieces verified' in text
    assert 'torrent "holiday.jpg": its files are on the exhibit, 3 of 3 pieces verified' in text
    assert (
        'torrent "beach.jpg": its files are partly on the exhibit, 3 of 4 pieces verified (1 differ, 0 not available; '
        "1 of 1 files found)"
    ) in text
    assert 'torrent "partly": its files are partly on the exhibit, 2 of 4 pieces verified' in text
    assert 'torrent "dup.jpg": not decided, 1 of its 1 files have more than one candidate' in text


def test_a_torrent_of_known_material_is_named_by_its_info_hash_only(tmp_path: Path) -> None:
    root = tmp_path / "exhibit"
    data, btih = torrent("holiday.jpg", HOLIDAY)
    write(root, "Users/bob/Torrents/t.torrent", data)
    listing = tmp_path / "torrents.txt"
    listing.write_text(f"magnet:?xt=urn:btih:{btih.hex()}\n")
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(listing, "torrents", kind=SetKind.ILLICIT, warn=lambda ref, message: None)
    case = _case(tmp_path, root, store, ("torrents",))
    report = report_data(case)
    [check] = report["torrent_checks"]
    assert (check["name"], check["status"], [f["path"] for f in check["files"]]) == (None, "not-present", [None])
    text = " ".join(_html_text(render_sfr1_html(sfr1_data(case, report))).split())
    assert f"torrent with info-hash {btih.hex()}: its files are not on the exhibit (none of its 1 files found)" in text
    assert "holiday.jpg" not in text


def test_a_file_that_cannot_be_read_leaves_its_pieces_unavailable() -> None:
    from safenet.analysis.p2p.bittorrent import read_torrent
    from safenet.engine.torrents import check

    info, _ = read_torrent(torrent("partly", PARTLY)[0])
    assert info is not None
    named = {
        "x.jpg": [Candidate(1, "", "x.jpg", 2 * PIECE, components("partly/x.jpg"))],
        "y.jpg": [Candidate(2, "", "y.jpg", 2 * PIECE, components("partly/y.jpg"))],
    }

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= PIECE:
                raise OSError("bad sector")
            return super().read(PIECE - self.tell())  # one piece a call

    def open_item(candidate: Candidate) -> BinaryIO:
        if candidate.item_id == 1:
            return Failing(PARTLY["x.jpg"])  # the first piece reads, the second fails
        raise OSError("gone")

    outcome = check(info, [], named, open_item)
    assert (outcome.status, outcome.pieces.matched, outcome.pieces.unavailable) == ("partial", 1, 3)
    assert [(p.state, p.read) for p in outcome.placed] == [("found", "failed"), ("found", "failed")]


def test_a_torrent_that_cannot_be_reread_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safenet.engine import torrents

    def gone(evidence: object, locator: str) -> None:
        raise OSError("no such file")

    root = tmp_path / "exhibit"
    write(root, "Users/bob/Torrents/holiday.jpg.torrent", torrent("holiday.jpg", HOLIDAY)[0])
    monkeypatch.setattr(torrents, "_read_torrent", gone)
    case = _case(tmp_path, root)
    assert _checks(case) == {}
    code, message = _only_warning(case)
    assert code == "torrent-check-unreadable" and "could not be reread (no such file)" in message
    assert verify_case(case).ok


def test_a_check_stopped_by_a_hostile_torrent_is_a_safe_one_line_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exception's text may carry the torrent's own bytes: escaped, on one line, without memory addresses."""
    from safenet.engine import torrents

    def hostile(*args: object) -> None:
        raise ValueError("bad \x1b[2J name\nforged line <obj at 0x7f3a12345678>")

    root = tmp_path / "exhibit"
    write(root, "Users/bob/Torrents/holiday.jpg.torrent", torrent("holiday.jpg", HOLIDAY)[0])
    monkeypatch.setattr(torrents, "check", hostile)
    case = _case(tmp_path, root)
    code, message = _only_warning(case)
    assert code == "torrent-check-unreadable" and "checking stopped (ValueError: bad " in message
    assert "\x1b" not in message and "\n" not in message and "0x7f3a12345678" not in message


def test_a_hostile_file_path_in_a_torrent_is_escaped_in_the_reports(tmp_path: Path) -> None:
    """A torrent's own file paths are the torrent maker's text: a bidi override or a control character is shown
    escaped, as every name from evidence is, not raw in the JSON report."""
    root = tmp_path / "exhibit"
    hostile = {"gpj.\u202eexe.jpg": pattern(7, 3000), "new\nline.jpg": pattern(8, 2000)}
    write(root, "Torrents/odd.torrent", torrent("odd", hostile)[0])
    case = _case(tmp_path, root)
    report = report_data(case)
    (check,) = report["torrent_checks"]
    paths = [f["path"] for f in check["files"]]
    assert not any(ch in path for path in paths for ch in "\u202e\n")
    assert sorted(paths) == ["odd/gpj.\\u202eexe.jpg", "odd/new\\nline.jpg"]
    jsonschema.validate(report, SCHEMA)
