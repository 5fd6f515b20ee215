"""The P2P hash kinds in the store: ED2K (a file's eDonkey hash) and BTIH (a torrent's info-hash).

Sets carrying them are imported from hash lists (a kind line, BSD tags, ed2k:// and magnet: links), and from
VICS AlternativeHashes; an item is matched by its ED2K as by its MD5, and a P2P record's info-hash is looked
up the same way. Gnutella's ``urn:sha1:`` form of SHA-1 is read wherever a SHA-1 is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from safenet.analysis.ed2k import ed2k, ed2k_link, gnutella_sha1
from safenet.case.schema import Finding, ItemRow
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets import HashKind, HashSetStore, SetKind
from safenet.hashsets.formats.base import parse_hex
from safenet.hashsets.model import DIGEST_SIZES, EXACT_KINDS
from tests.builders import jpeg, write

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"
BTIH_A = hashlib.sha1(b"d4:name5:a.jpge").digest()  # stands for a torrent's info dictionary
BTIH_B = hashlib.sha1(b"d4:name5:b.jpge").digest()


class Warnings(list[tuple[str, str]]):
    def __call__(self, ref: str, message: str) -> None:
        self.append((ref, message))


@pytest.fixture
def store(tmp_path: Path) -> HashSetStore:
    return HashSetStore(tmp_path / "db")


def test_kinds_and_sizes() -> None:
    assert (HashKind.ED2K.size, HashKind.BTIH.size) == (16, 20)
    assert HashKind.ED2K.exact and HashKind.BTIH.exact
    assert {HashKind.ED2K, HashKind.BTIH} <= set(EXACT_KINDS)
    assert DIGEST_SIZES[HashKind("ed2k")] == 16


def test_import_a_list_with_ed2k_and_btih_entries(store: HashSetStore, tmp_path: Path) -> None:
    one, two, three = b"first file", b"second file", b"third file"
    urn_sha1 = gnutella_sha1(hashlib.sha1(three).digest())
    lines = [
        ed2k_link("first%20file.jpg", len(one), ed2k(one)),
        f"ED2K (second.jpg) = {ed2k(two).hex()}",
        f"magnet:?xt=urn:btih:{BTIH_A.hex()}&dn=a.jpg&xl=1234",
        f"magnet:?xt=urn:btih:{base64.b32encode(BTIH_B).decode()}&dn=b",
        f"BTIH (c.torrent) = {BTIH_A.hex().upper()}",  # the same info-hash again: stored once
        f"{urn_sha1} third.jpg",
    ]
    path = tmp_path / "p2p.txt"
    path.write_text("\n".join(lines) + "\n")
    warnings = Warnings()
    info = store.import_file(path, "p2p", kind=SetKind.ILLICIT, warn=warnings)
    assert warnings == []
    assert info.entry_count == 6
    assert set(info.digests) == {HashKind.ED2K, HashKind.BTIH, HashKind.SHA1}
    with store.matcher(["p2p"]) as matcher:
        found = matcher.lookup(
            [
                {HashKind.MD5: hashlib.md5(one).digest(), HashKind.ED2K: ed2k(one)},  # an item: by its ED2K
                {HashKind.ED2K: ed2k(two)},
                {HashKind.BTIH: BTIH_A},  # a P2P record: by its info-hash
                {HashKind.BTIH: BTIH_B},
                {HashKind.SHA1: hashlib.sha1(three).digest()},
                {HashKind.ED2K: ed2k(b"unknown"), HashKind.BTIH: hashlib.sha1(b"x").digest()},
                {HashKind.MD5: ed2k(one)},  # an ED2K is not an MD5: kinds never cross
            ]
        )
        assert [[(m.hash_kind, m.entry) for m in hits] for hits in found] == [
            [(HashKind.ED2K, 0)],
            [(HashKind.ED2K, 1)],
            [(HashKind.BTIH, 2)],
            [(HashKind.BTIH, 3)],
            [(HashKind.SHA1, 5)],
            [],
            [],
        ]
        assert all(m.match_kind == "exact" for hits in found for m in hits)
        assert matcher.contains([{HashKind.BTIH: BTIH_B}, {HashKind.BTIH: bytes(20)}]).tolist() == [True, False]


def test_a_kind_line_names_ed2k_for_a_bare_list(store: HashSetStore, tmp_path: Path) -> None:
    digests = [ed2k(bytes([i]) * 100) for i in range(5)]
    path = tmp_path / "ed2k.txt"
    path.write_text("ED2K\n" + "".join(f"{d.hex()}\n" for d in digests) + f"{ed2k(b'').hex()}\n")
    warnings = Warnings()
    info = store.import_file(path, "bare", kind=SetKind.NOTABLE, warn=warnings)
    assert info.digests == (HashKind.ED2K,)
    assert info.entry_count == 5  # the ED2K of an empty file is dropped, like the MD5 of one
    assert warnings == [("", "1 entries hold only the digest of an empty file; skipped")]
    with store.matcher(["bare"]) as matcher:
        assert matcher.contains([{HashKind.ED2K: d} for d in digests] + [{HashKind.MD5: digests[0]}]).tolist() == [
            True
        ] * 5 + [False]


def test_without_a_kind_line_32_hex_digits_stay_md5(store: HashSetStore, tmp_path: Path) -> None:
    digest = ed2k(b"abc")
    path = tmp_path / "plain.txt"
    path.write_text(f"{digest.hex()}  abc\n")
    info = store.import_file(path, "plain", kind=SetKind.NOTABLE, warn=Warnings())
    assert info.digests == (HashKind.MD5,)


def test_bad_p2p_lines_are_warned_and_skipped(store: HashSetStore, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    good = "".join(ed2k_link(f"ok{i}", 3, ed2k(b"ok%d" % i)) + "\n" for i in range(5))  # most lines are good
    path.write_text(
        f"{good}ed2k://|file|x|12|NOTHEX|/\nmagnet:?xt=urn:btih:1234&dn=x\nmagnet:?dn=nothing\nurn:sha1:SHORT\n"
    )
    warnings = Warnings()
    info = store.import_file(path, "bad", kind=SetKind.NOTABLE, warn=warnings)
    assert info.entry_count == 5
    assert [ref for ref, _ in warnings] == ["line 6", "line 7", "line 8", "line 9"]
    assert "ed2k link" in warnings[0][1]
    assert "info-hash" in warnings[1][1] and "no urn:btih" in warnings[2][1]
    assert "urn:sha1" in warnings[3][1]


def test_vics_alternative_hashes_carry_ed2k_btih_and_urn_sha1(store: HashSetStore, tmp_path: Path) -> None:
    data = b"known picture"
    media = [
        {
            "MediaID": 1,
            "Category": "1",
            "SHA1": gnutella_sha1(hashlib.sha1(data).digest()),
            "AlternativeHashes": [{"HashName": "ED2K", "HashValue": ed2k(data).hex()}],
        },
        {"MediaID": 2, "Category": "2", "AlternativeHashes": [{"HashName": "BTIH", "HashValue": BTIH_A.hex()}]},
    ]
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"@odata.context": CONTEXT, "value": media}))
    warnings = Warnings()
    store.import_file(path, "vics", warn=warnings)
    assert warnings == []
    with store.matcher(["vics"]) as matcher:
        found = matcher.lookup(
            [{HashKind.ED2K: ed2k(data)}, {HashKind.SHA1: hashlib.sha1(data).digest()}, {HashKind.BTIH: BTIH_A}]
        )
    assert [[(m.hash_kind, m.category) for m in hits] for hits in found] == [
        [(HashKind.ED2K, "A")],
        [(HashKind.SHA1, "A")],
        [(HashKind.BTIH, "B")],
    ]


def test_parse_hex_reads_gnutella_sha1() -> None:
    sha1 = hashlib.sha1(b"abc").digest()
    assert parse_hex(gnutella_sha1(sha1)) == (HashKind.SHA1, sha1)
    assert parse_hex(gnutella_sha1(sha1).lower(), HashKind.SHA1) == (HashKind.SHA1, sha1)
    assert isinstance(parse_hex("urn:sha1:ABC"), str)
    assert isinstance(parse_hex(gnutella_sha1(sha1), HashKind.MD5), str)  # an MD5 column takes no SHA-1


def test_triage_matches_an_item_by_its_ed2k(store: HashSetStore, tmp_path: Path) -> None:
    """A set holding only ED2K makes even the quick profile compute it; the finding says ED2K and the item
    row keeps the ED2K beside the other digests."""
    known, other = jpeg(1), jpeg(2)
    root = tmp_path / "exhibit"
    write(root, "shared/known.jpg", known)
    write(root, "shared/other.jpg", other)
    path = tmp_path / "ed2k.txt"
    path.write_text(ed2k_link("known.jpg", len(known), ed2k(known)) + "\n")
    store.import_file(path, "p2p-set", kind=SetKind.ILLICIT, warn=Warnings())
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.QUICK, hashsets=("p2p-set",), operator="tester")
    triage(root, case, store, options, None)
    with case.sessions() as s:
        rows = {r.name: r for r in s.scalars(select(ItemRow))}
        findings = list(s.scalars(select(Finding)))
    assert rows["known.jpg"].ed2k == ed2k(known).hex()
    assert rows["other.jpg"].ed2k == ed2k(other).hex()
    assert [(f.item_id, f.hash_kind, f.match_kind) for f in findings] == [(rows["known.jpg"].id, "ed2k", "exact")]
    # The ED2K is part of the recorded item row: changing it afterwards is caught by verify
    assert verify_case(case).ok
    with sqlite3.connect(case.path / "case.db") as conn:
        conn.execute("UPDATE items SET ed2k = ? WHERE name = 'other.jpg'", (ed2k(b"something else").hex(),))
    assert not verify_case(Case.open_existing(case.path)).ok


def test_hashdeep_reads_a_urn_sha1_column(store: HashSetStore, tmp_path: Path) -> None:
    data = b"deep file"
    path = tmp_path / "audit.hashdeep"
    path.write_text(
        "%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,filename\n"
        f"{len(data)},{hashlib.md5(data).hexdigest()},{gnutella_sha1(hashlib.sha1(data).digest())},/x/deep.bin\n"
    )
    warnings = Warnings()
    info = store.import_file(path, "deep", kind=SetKind.NOTABLE, warn=warnings)
    assert warnings == [] and set(info.digests) == {HashKind.MD5, HashKind.SHA1}
    with store.matcher(["deep"]) as matcher:
        assert matcher.contains([{HashKind.SHA1: hashlib.sha1(data).digest()}]).tolist() == [True]


def test_a_set_of_info_hashes_never_blocks_a_digest_choice(store: HashSetStore, tmp_path: Path) -> None:
    """A set holding only torrents' info-hashes matches P2P records, never a file's digests: --digests md5 with
    it selected is not "a choice no selected set can match" (no file digest could ever match it)."""
    root = tmp_path / "exhibit"
    write(root, "a.jpg", jpeg(3))
    path = tmp_path / "btih.txt"
    path.write_text(f"magnet:?xt=urn:btih:{BTIH_A.hex()}&dn=a\n")
    store.import_file(path, "torrents", kind=SetKind.ILLICIT, warn=Warnings())
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(
        exhibit="EX1", profile=Profile.QUICK, hashsets=("torrents",), algorithms=("md5",), operator="tester"
    )
    outcome = triage(root, case, store, options, None)
    assert outcome.hits == 0
