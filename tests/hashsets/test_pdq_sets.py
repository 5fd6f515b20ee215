"""Hash sets carrying PDQ: the pdq list format, PDQ in VICS, the per-set index and threshold, the lookup."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from safenet.hashsets import HashKind, HashSetError, HashSetStore, SetKind, detect_format, get_format
from safenet.hashsets import perceptual as perceptual_module
from safenet.hashsets.index import load
from safenet.hashsets.perceptual import PDQ_INDEX_FILE

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"
RNG = np.random.default_rng(4)


class Warnings(list[tuple[str, str]]):
    def __call__(self, ref: str, message: str) -> None:
        self.append((ref, message))


def random_hash() -> bytes:
    return RNG.integers(0, 256, 32, dtype=np.uint8).tobytes()


def flip(value: bytes, bits: int) -> bytes:
    number = int.from_bytes(value, "big")
    for bit in range(bits):
        number ^= 1 << (bit * 7)
    return number.to_bytes(32, "big")


@pytest.fixture
def store(tmp_path: Path) -> HashSetStore:
    return HashSetStore(tmp_path / "db")


def test_pdq_lines_with_quality_are_detected_and_read(tmp_path: Path) -> None:
    a, b = random_hash(), random_hash()
    path = tmp_path / "pdq.txt"
    path.write_text(f"{a.hex()},100,one.jpg\n{b.hex()},49,two.jpg\nnot a hash\n")
    fmt = detect_format(path)
    assert fmt.NAME == "pdq"
    warnings = Warnings()
    records = list(fmt.read(path, warnings))
    assert [(r.pdq, r.pdq_quality, r.name) for r in records] == [(a, 100, "one.jpg"), (b, 49, "two.jpg")]
    assert warnings == [("line 3", "not a PDQ line (64 hex digits, then optionally a quality): 'not a hash'; skipped")]


def test_pdq_csv_with_header_and_algorithm_line(tmp_path: Path) -> None:
    a = random_hash()
    csv_path = tmp_path / "pdq.csv"
    csv_path.write_text(f"md5,pdq,quality,category\n{'00' * 16},{a.hex().upper()},90,A\n{'11' * 16},{a.hex()},x,B\n")
    assert detect_format(csv_path).NAME == "pdq"
    warnings = Warnings()
    [record] = list(get_format("pdq").read(csv_path, warnings))
    assert (record.pdq, record.pdq_quality, record.category, record.md5) == (a, 90, "A", bytes(16))
    assert "quality 'x'" in warnings[0][1]
    listed = tmp_path / "list.txt"
    listed.write_text(f"PDQ\n{a.hex()}\n")
    assert detect_format(listed).NAME == "pdq"
    [bare] = list(get_format("pdq").read(listed, Warnings()))
    assert (bare.pdq, bare.pdq_quality) == (a, None)


def test_bare_64_hex_lines_stay_sha256_unless_pdq_is_forced(tmp_path: Path, store: HashSetStore) -> None:
    a = random_hash()
    path = tmp_path / "bare.txt"
    path.write_text(f"{a.hex()}\n")
    assert detect_format(path).NAME == "hashlist"
    info = store.import_file(path, "p", kind=SetKind.ILLICIT, format_name="pdq", warn=Warnings())
    assert info.digests == (HashKind.PDQ,) and info.pdq_threshold == 31


def test_import_keeps_low_quality_hashes_but_never_matches_them(tmp_path: Path, store: HashSetStore) -> None:
    good, weak, unknown = random_hash(), random_hash(), random_hash()
    path = tmp_path / "pdq.txt"
    path.write_text(f"{good.hex()},80\n{weak.hex()},20\n{unknown.hex()},\n")
    warnings = Warnings()
    store.import_file(path, "p", kind=SetKind.ILLICIT, warn=warnings)
    assert ("", "1 PDQ hashes have quality below 50: kept, but never used to claim a match") in warnings
    [directory] = (store.root / "sets").iterdir()
    saved = load(directory / PDQ_INDEX_FILE)
    assert saved.qualities.tolist() == [80, 20, -1] and saved.ids.tolist() == [0, 1, 2]
    with store.matcher(["p"]) as matcher:
        assert matcher.perceptual_sets
        found = matcher.perceptual([[(False, [flip(good, 10)])], [(False, [weak])], [(True, [random_hash(), unknown])]])
    assert [(m.entry, m.distance, m.orientation, m.trimmed, m.match_kind) for m in found[0]] == [
        (0, 10, "original", False, "perceptual")
    ]
    assert found[1] == []
    assert [(m.entry, m.distance, m.orientation, m.trimmed) for m in found[2]] == [(2, 0, "rotate-270", True)]


def test_threshold_is_per_set_and_checked(tmp_path: Path, store: HashSetStore) -> None:
    base = random_hash()
    path = tmp_path / "pdq.txt"
    path.write_text(f"{base.hex()},100\n")
    store.import_file(path, "tight", kind=SetKind.ILLICIT, pdq_threshold=8, warn=Warnings())
    store.import_file(path, "loose", kind=SetKind.ILLICIT, warn=Warnings())
    assert store.get("tight").pdq_threshold == 8
    with store.matcher(["tight", "loose"]) as matcher:
        [found] = matcher.perceptual([[(False, [flip(base, 12)])]])
    assert [m.set_name for m in found] == ["loose"]
    with pytest.raises(HashSetError, match=r"PDQ threshold 99 is outside 0\.\.63"):
        store.import_file(path, "x", kind=SetKind.ILLICIT, pdq_threshold=99, warn=Warnings())
    store.set_pdq_threshold("tight", 20)
    assert store.get("tight").pdq_threshold == 20


def test_faiss_and_brute_force_sets_give_the_same_matches(
    tmp_path: Path, store: HashSetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = [random_hash() for _ in range(300)]
    path = tmp_path / "pdq.txt"
    path.write_text("".join(f"{h.hex()},100\n" for h in hashes))
    store.import_file(path, "p", kind=SetKind.ILLICIT, warn=Warnings())
    queries = [[(False, [flip(h, n % 40) for n in range(8)])] for h in hashes[:50]]
    with store.matcher(["p"]) as brute:
        expected = brute.perceptual(queries)
    monkeypatch.setattr(perceptual_module, "FAISS_FROM", 1)
    with store.matcher(["p"]) as fast:
        assert fast.perceptual(queries) == expected
    assert sum(map(len, expected)) == 50


def test_vics_pdq_field_and_alternative_hashes_are_imported(tmp_path: Path, store: HashSetStore) -> None:
    a, b = random_hash(), random_hash()
    photodna = "QUJD" * 48
    media = [
        {"MediaID": 1, "MD5": "00112233445566778899AABBCCDDEEFF", "Category": 1, "PDQ": a.hex(), "PhotoDNA": photodna},
        {
            "MediaID": 2,
            "Category": 2,
            "AlternativeHashes": [
                {"HashName": "PhotoDNA", "HashValue": photodna},
                {"HashName": "PDQ", "HashValue": b.hex().upper()},
            ],
        },
        {"MediaID": 3, "MD5": "ffeeddccbbaa99887766554433221100", "PDQ": "zz"},
    ]
    path = tmp_path / "vics.json"
    path.write_text(json.dumps({"@odata.context": CONTEXT, "value": media}))
    warnings = Warnings()
    info = store.import_file(path, "caid", warn=warnings)
    assert info.entry_count == 3 and HashKind.PDQ in info.digests
    assert any("is not a 64-digit hex PDQ hash" in message for _, message in warnings)
    assert store.extra("caid", 0) == {"MediaID": "1", "PhotoDNA": photodna}
    assert store.extra("caid", 1) == {"MediaID": "2", "PhotoDNA": photodna}
    with store.matcher(["caid"]) as matcher:
        found = matcher.perceptual([[(False, [a])], [(False, [flip(b, 3)])]])
    assert [(m.entry, m.category, m.distance) for m in found[0]] == [(0, "A", 0)]
    assert [(m.entry, m.category, m.distance) for m in found[1]] == [(1, "B", 3)]


def test_version_1_catalog_is_migrated(tmp_path: Path, store: HashSetStore) -> None:
    path = tmp_path / "list.txt"
    path.write_text("00112233445566778899aabbccddeeff\n")
    store.import_file(path, "old", kind=SetKind.ILLICIT, warn=Warnings())
    with sqlite3.connect(store.root / "catalog.sqlite") as db:
        db.execute("DROP TABLE set_perceptual")
        db.execute("ALTER TABLE sets DROP COLUMN pdq_threshold")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    db.close()
    again = HashSetStore(store.root)
    assert again.get("old").pdq_threshold == 31
    with sqlite3.connect(store.root / "catalog.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone() == ("2",)
    db.close()
    with again.matcher(["old"]) as matcher:
        assert not matcher.perceptual_sets
        assert matcher.perceptual([[(False, [random_hash()])]]) == [[]]
