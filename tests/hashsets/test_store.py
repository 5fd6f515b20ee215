"""The hash-set database: import, catalog operations, failures, and batched lookups."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from safenet.hashsets import (
    HashKind,
    HashSetError,
    HashSetStore,
    Match,
    SetKind,
    UnknownFormat,
)
from safenet.hashsets.formats.base import EMPTY_DIGESTS
from tests.datafiles import DATA

CORPUS = DATA / "hashsets"
CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{profile}/$metadata#Media"
H = bytes.fromhex
MD5_A = H("00112233445566778899aabbccddeeff")
MD5_B = H("ffeeddccbbaa99887766554433221100")
SHA1_A = H("00112233445566778899aabbccddeeff00112233")
SHA1_B = H("ffeeddccbbaa99887766554433221100ffeeddcc")
SHA256_A = H("00112233445566778899aabbccddeeff" * 2)


class Warnings(list[tuple[str, str]]):
    def __call__(self, ref: str, message: str) -> None:
        self.append((ref, message))


@pytest.fixture
def store(tmp_path: Path) -> HashSetStore:
    return HashSetStore(tmp_path / "db")


def vics(tmp_path: Path, media: list[dict[str, Any]], profile: str = "UK", name: str = "set.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"@odata.context": CONTEXT.format(profile=profile), "value": media}))
    return path


def text_file(tmp_path: Path, text: str, name: str = "list.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def summary(matches: list[Match]) -> list[tuple[str, HashKind, str | None, str]]:
    return [(m.set_name, m.hash_kind, m.category_raw, m.category) for m in matches]


# --- import and catalog ---------------------------------------------------------------------------------


def test_import_corpus_sets_and_catalog(store: HashSetStore) -> None:
    warnings = Warnings()
    pv = store.import_file(CORPUS / "vics20_hashset_default.json", "pv", warn=warnings)
    nsrl = store.import_file(CORPUS / "NSRLFile.txt", "nsrl", warn=warnings)
    rds = store.import_file(CORPUS / "RDS_synthetic_minimal.db", "rds", warn=warnings)
    deep = store.import_file(CORPUS / "example.hashdeep", "deep", kind=SetKind.NOTABLE, warn=warnings)
    md5 = store.import_file(CORPUS / "example.md5", "md5", kind=SetKind.NOTABLE, warn=warnings)
    assert warnings == []
    assert (pv.format, pv.kind, pv.scheme, pv.profile, pv.entry_count) == (
        "vics",
        SetKind.ILLICIT,
        "projectvic",
        "Default",
        2,
    )
    assert pv.digests == (HashKind.MD5, HashKind.SHA1)
    assert pv.source_sha256 == hashlib.sha256((CORPUS / "vics20_hashset_default.json").read_bytes()).hexdigest()
    assert pv.imported_at.tzinfo is UTC
    assert (nsrl.kind, nsrl.scheme, nsrl.entry_count) == (SetKind.KNOWN_GOOD, "none", 2)
    assert rds.digests == (HashKind.MD5, HashKind.SHA1, HashKind.SHA256)
    assert deep.digests == (HashKind.MD5, HashKind.SHA256)
    assert md5.digests == (HashKind.MD5,)
    assert [info.name for info in store.list()] == ["deep", "md5", "nsrl", "pv", "rds"]
    assert store.get("pv") == pv
    assert HashSetStore(store.root).get("rds") == rds  # reopened from disk
    assert store.extra("pv", 1) is not None
    assert store.extra("nsrl", 0) is None


def test_root_is_owner_only(tmp_path: Path) -> None:
    store = HashSetStore(tmp_path / "new" / "db")
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


def test_get_and_remove_unknown_names(store: HashSetStore) -> None:
    with pytest.raises(HashSetError, match=r"no hash set named 'x'; run `safenet hashset list`"):
        store.get("x")
    with pytest.raises(HashSetError, match="no hash set named 'x'"):
        store.remove("x")
    with pytest.raises(HashSetError, match="no hash set named 'x'"):
        store.matcher(["x"])


def test_remove(store: HashSetStore) -> None:
    store.import_file(CORPUS / "NSRLFile.txt", "nsrl", warn=Warnings())
    store.remove("nsrl")
    assert store.list() == []
    assert [p.name for p in (store.root / "sets").iterdir()] == []


def test_name_taken_and_replace(store: HashSetStore, tmp_path: Path) -> None:
    first = text_file(tmp_path, MD5_A.hex() + "\n", "first.md5")
    second = text_file(tmp_path, MD5_B.hex() + "\n", "second.md5")
    store.import_file(first, "list", kind=SetKind.NOTABLE, warn=Warnings())
    with pytest.raises(HashSetError, match=r"a hash set named 'list' already exists; .* pass --replace"):
        store.import_file(second, "list", kind=SetKind.NOTABLE, warn=Warnings())
    info = store.import_file(second, "list", kind=SetKind.ILLICIT, replace=True, warn=Warnings())
    assert store.list() == [info]
    assert len(list((store.root / "sets").iterdir())) == 1
    with store.matcher(["list"]) as matcher:
        old, new = matcher.lookup([{HashKind.MD5: MD5_A}, {HashKind.MD5: MD5_B}])
    assert old == []
    assert [m.kind for m in new] == [SetKind.ILLICIT]


def test_kind_must_be_given_for_plain_lists(store: HashSetStore) -> None:
    with pytest.raises(HashSetError, match=r"pass --kind illicit\|known-good\|notable"):
        store.import_file(CORPUS / "example.md5", "md5", warn=Warnings())


@pytest.mark.parametrize("name", ["", " lead", "a/b\n", "x" * 101])
def test_bad_set_names(store: HashSetStore, name: str) -> None:
    with pytest.raises(HashSetError, match="is not usable"):
        store.import_file(CORPUS / "NSRLFile.txt", name, warn=Warnings())


def test_jpeg_is_refused_clearly(store: HashSetStore, tmp_path: Path) -> None:
    jpeg = tmp_path / "photo.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9")
    with pytest.raises(UnknownFormat, match=r"photo\.jpg is not in a hash-set format"):
        store.import_file(jpeg, "x", kind=SetKind.ILLICIT, warn=Warnings())
    with pytest.raises(HashSetError, match="no SHA-1 or MD5 column"):
        store.import_file(jpeg, "x", format_name="nsrl-v2", warn=Warnings())
    with pytest.raises(HashSetError, match="gave no usable hash entries when read as hashlist"):
        store.import_file(jpeg, "x", kind=SetKind.ILLICIT, format_name="hashlist", warn=Warnings())
    assert store.list() == []
    assert list((store.root / "sets").iterdir()) == []


def test_nsrl_header_with_garbage_rows(store: HashSetStore, tmp_path: Path) -> None:
    header = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\n'
    path = text_file(tmp_path, header + "garbage\n" + '"xx","yy","0","a",1,1,"1",""\n', "NSRLFile.txt")
    warnings = Warnings()
    with pytest.raises(HashSetError, match="gave no usable hash entries when read as nsrl-v2"):
        store.import_file(path, "bad", warn=warnings)
    assert [ref for ref, _ in warnings] == ["line 2", "line 3"]
    assert store.list() == []
    assert list((store.root / "sets").iterdir()) == []


def test_failed_import_leaves_no_half_set(store: HashSetStore, tmp_path: Path) -> None:
    path = vics(tmp_path, [{"MediaID": i, "MD5": f"{i:032x}"} for i in range(1, 50)])
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(HashSetError, match="damaged or cut short"):
        store.import_file(path, "cut", warn=Warnings())
    assert store.list() == []
    assert list((store.root / "sets").iterdir()) == []


def test_missing_file(store: HashSetStore, tmp_path: Path) -> None:
    with pytest.raises(HashSetError, match="is not a file"):
        store.import_file(tmp_path / "absent.json", "x", warn=Warnings())


def test_unknown_category_codes_warn_once_per_code(store: HashSetStore, tmp_path: Path) -> None:
    media = [
        {"MediaID": 1, "MD5": "01" * 16, "Category": 1},
        {"MediaID": 2, "MD5": "02" * 16, "Category": 7},
        {"MediaID": 3, "MD5": "03" * 16, "Category": 7},
        {"MediaID": 4, "MD5": "04" * 16, "Category": "9"},
        {"MediaID": 5, "MD5": "05" * 16},
        {"MediaID": 6, "MD5": "06" * 16, "Category": 7},
    ]
    warnings = Warnings()
    info = store.import_file(vics(tmp_path, media), "uk", warn=warnings)
    assert info.scheme == "vics-uk"
    assert info.entry_count == 6
    assert store.category_counts("uk") == [
        (None, "uncategorised", 1),
        ("1", "A", 1),
        ("7", "unknown:7", 3),
        ("9", "unknown:9", 1),
    ]
    assert store.scheme("uk").confirmed is False
    assert warnings == [
        ("MediaID 2", "unknown category code '7' for scheme 'vics-uk'; kept as shown (3 entries)"),
        ("MediaID 4", "unknown category code '9' for scheme 'vics-uk'; kept as shown (1 entries)"),
    ]
    with store.matcher(["uk"]) as matcher:
        found = matcher.lookup([{HashKind.MD5: bytes([i]) * 16} for i in range(1, 7)])
    assert [(m.category_raw, m.category, m.scheme) for [m] in found] == [
        ("1", "A", "vics-uk"),
        ("7", "unknown:7", "vics-uk"),
        ("7", "unknown:7", "vics-uk"),
        ("9", "unknown:9", "vics-uk"),
        (None, "uncategorised", "vics-uk"),
        ("7", "unknown:7", "vics-uk"),
    ]


def test_scheme_choice(store: HashSetStore, tmp_path: Path) -> None:
    path = vics(tmp_path, [{"MediaID": 1, "MD5": "01" * 16, "Category": 1}])
    info = store.import_file(path, "as-pv", scheme="projectvic", warn=Warnings())
    assert info.scheme == "projectvic"
    scheme_file = text_file(tmp_path, "name: force-x\nto_uk: {1: B}\n", "force.yaml")
    info = store.import_file(path, "as-force", scheme_file=scheme_file, warn=Warnings())
    assert info.scheme == "force-x"
    scheme_file.write_text("name: force-x\nto_uk: {1: C}\n")  # later edits do not change an imported set
    assert store.scheme("as-force").to_uk == {"1": "B"}
    with store.matcher(["as-pv", "as-force"]) as matcher:
        [found] = matcher.lookup([{HashKind.MD5: b"\x01" * 16}])
    assert [(m.set_name, m.category) for m in found] == [("as-pv", "uncategorised"), ("as-force", "B")]
    with pytest.raises(HashSetError, match="disagree"):
        store.import_file(path, "x", scheme="uk", scheme_file=scheme_file, warn=Warnings())
    with pytest.raises(HashSetError, match="unknown category scheme 'nope'"):
        store.import_file(path, "x", scheme="nope", warn=Warnings())


def test_custom_profile_warns_about_its_scheme(store: HashSetStore, tmp_path: Path) -> None:
    warnings = Warnings()
    info = store.import_file(vics(tmp_path, [{"MD5": "01" * 16}], profile="CUSTOM"), "c", warn=warnings)
    assert info.scheme == "projectvic"
    assert info.profile == "CUSTOM"
    assert len(warnings) == 1 and "--scheme-file" in warnings[0][1]


def test_empty_file_digests_are_skipped(store: HashSetStore, tmp_path: Path) -> None:
    lines = [EMPTY_DIGESTS[HashKind.MD5].hex(), MD5_A.hex(), EMPTY_DIGESTS[HashKind.SHA256].hex()]
    warnings = Warnings()
    info = store.import_file(text_file(tmp_path, "\n".join(lines)), "l", kind=SetKind.ILLICIT, warn=warnings)
    assert info.entry_count == 1
    assert warnings == [("", "2 entries hold only the digest of an empty file; skipped")]
    with store.matcher(["l"]) as matcher:
        assert matcher.lookup([{HashKind.MD5: EMPTY_DIGESTS[HashKind.MD5]}]) == [[]]


def test_warnings_are_capped(store: HashSetStore, tmp_path: Path) -> None:
    text = MD5_A.hex() + "\n" + "not a hash\n" * 1500
    warnings = Warnings()
    store.import_file(text_file(tmp_path, text), "l", kind=SetKind.NOTABLE, format_name="hashlist", warn=warnings)
    assert len(warnings) == 1001
    assert warnings[-1] == ("", "500 further warnings not shown (1500 in all)")


def test_unknown_store_version_is_refused(store: HashSetStore) -> None:
    with sqlite3.connect(store.root / "catalog.sqlite") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    db.close()
    with pytest.raises(HashSetError, match="format version 99 but this Safenet reads version 2"):
        HashSetStore(store.root)


def test_damaged_arrays_are_reported(store: HashSetStore) -> None:
    store.import_file(CORPUS / "NSRLFile.txt", "nsrl", warn=Warnings())
    [directory] = (store.root / "sets").iterdir()
    (directory / "md5.prefix.npy").write_bytes(b"not an array")
    with pytest.raises(HashSetError, match=r"is damaged.*re-import the set with --replace"):
        store.matcher(["nsrl"])


# --- lookups --------------------------------------------------------------------------------------------


def test_lookups_by_each_kind_and_across_sets(store: HashSetStore) -> None:
    store.import_file(CORPUS / "vics20_hashset_default.json", "pv", warn=Warnings())
    store.import_file(CORPUS / "RDS_synthetic_minimal.db", "rds", warn=Warnings())
    with store.matcher(["pv", "rds"]) as matcher:
        assert [info.name for info in matcher.sets] == ["pv", "rds"]
        by_md5, by_sha1, by_sha256, both, absent, nothing = matcher.lookup(
            [
                {HashKind.MD5: MD5_A},
                {HashKind.SHA1: SHA1_B},
                {HashKind.SHA256: SHA256_A},
                {HashKind.MD5: MD5_A, HashKind.SHA1: SHA1_A, HashKind.SHA256: SHA256_A},
                {HashKind.MD5: bytes(16), HashKind.SHA1: bytes(20)},
                {},
            ]
        )
    assert summary(by_md5) == [
        ("pv", HashKind.MD5, "0", "non-indecent"),
        ("rds", HashKind.MD5, None, "uncategorised"),
    ]
    assert summary(by_sha1) == [("pv", HashKind.SHA1, "1", "uncategorised")]
    assert summary(by_sha256) == [("rds", HashKind.SHA256, None, "uncategorised")]
    # One match per set entry, by the strongest digest that hit.
    assert summary(both) == [
        ("pv", HashKind.SHA1, "0", "non-indecent"),
        ("rds", HashKind.SHA256, None, "uncategorised"),
    ]
    assert absent == [] and nothing == []
    with store.matcher(["pv", "rds"]) as matcher:
        contains = matcher.contains([{HashKind.MD5: MD5_A}, {HashKind.MD5: bytes(16)}, {}, {HashKind.SHA1: SHA1_B}])
    assert contains.tolist() == [True, False, False, True]
    pv_match = by_md5[0]
    assert pv_match.kind is SetKind.ILLICIT
    assert pv_match.set_sha256 == store.get("pv").source_sha256
    assert pv_match.scheme == "projectvic"
    assert store.extra("pv", pv_match.entry) == {
        "DateUpdated": "2024-01-01T00:00:00.000Z",
        "IsDistributed": "false",
        "IsPrecategorized": "true",
        "MediaID": "1",
        "OffenderIdentified": "false",
        "VictimIdentified": "false",
    }


def test_empty_query_list_and_empty_matcher(store: HashSetStore) -> None:
    store.import_file(CORPUS / "NSRLFile.txt", "nsrl", warn=Warnings())
    with store.matcher(["nsrl"]) as matcher:
        assert matcher.lookup([]) == []
        assert matcher.contains([]).shape == (0,)
    with store.matcher([]) as matcher:
        assert matcher.sets == ()
        assert matcher.lookup([{HashKind.MD5: MD5_A}]) == [[]]
        assert matcher.contains([{HashKind.MD5: MD5_A}]).tolist() == [False]


def test_wrong_digest_length_is_a_programming_error(store: HashSetStore) -> None:
    store.import_file(CORPUS / "NSRLFile.txt", "nsrl", warn=Warnings())
    with (
        store.matcher(["nsrl"]) as matcher,
        pytest.raises(ValueError, match="query 1: a MD5 digest must be 16 raw bytes, not 32"),
    ):
        matcher.lookup([{HashKind.MD5: MD5_A}, {HashKind.MD5: MD5_A.hex().encode()}])


def test_matches_are_ordinary_frozen_values(store: HashSetStore) -> None:
    """Matches are built through the slot setters for speed; they must equal normally built ones."""
    info = store.import_file(CORPUS / "NSRLFile.txt", "nsrl", warn=Warnings())
    with store.matcher(["nsrl"]) as matcher:
        [[match]] = matcher.lookup([{HashKind.MD5: MD5_A}])
    expected = Match("nsrl", info.source_sha256, SetKind.KNOWN_GOOD, HashKind.MD5, None, "uncategorised", "none", 0)
    assert match == expected
    assert hash(match) == hash(expected)
    assert repr(match) == repr(expected)
    with pytest.raises(AttributeError):
        match.entry = 1  # type: ignore[misc]


def test_prefix_collisions(store: HashSetStore, tmp_path: Path) -> None:
    """Digests sharing their first 8 bytes must still be told apart by the rest."""
    prefix = H("0123456789abcdef")
    stored = [prefix + H("0000000000000001"), prefix + H("0000000000000002"), prefix + H("ffffffffffffffff")]
    other = prefix + H("0000000000000003")
    media = [{"MediaID": i, "MD5": d.hex(), "Category": i} for i, d in enumerate(stored, 1)]
    store.import_file(vics(tmp_path, media), "c", warn=Warnings())
    with store.matcher(["c"]) as matcher:
        found = matcher.lookup([{HashKind.MD5: d} for d in [*stored, other]])
    assert [[m.category_raw for m in hits] for hits in found] == [["1"], ["2"], ["3"], []]


def test_same_digest_in_several_entries(store: HashSetStore, tmp_path: Path) -> None:
    """Repeats with the same category collapse to one match; a conflicting category is kept and shown."""
    media = [
        {"MediaID": 1, "MD5": MD5_A.hex(), "Category": 1},
        {"MediaID": 2, "MD5": MD5_A.hex(), "Category": 1},
        {"MediaID": 3, "MD5": MD5_A.hex(), "Category": 2},
        {"MediaID": 4, "MD5": MD5_B.hex(), "Category": 3},
    ]
    store.import_file(vics(tmp_path, media), "d", warn=Warnings())
    with store.matcher(["d"]) as matcher:
        first, second = matcher.lookup([{HashKind.MD5: MD5_A}, {HashKind.MD5: MD5_B}])
    assert [(m.entry, m.category) for m in first] == [(0, "A"), (2, "B")]
    assert [(m.entry, m.category) for m in second] == [(3, "C")]


def random_digests(rng: np.random.Generator, count: int, size: int) -> list[bytes]:
    return [bytes(row) for row in rng.integers(0, 256, (count, size), dtype=np.uint8)]


def test_matcher_agrees_with_a_plain_dict(store: HashSetStore, tmp_path: Path) -> None:
    """Brute-force reference: a dict from digest to categories, over ~50k random digests."""
    rng = np.random.default_rng(20240101)
    md5s = random_digests(rng, 30_000, 16)
    sha1s = random_digests(rng, 20_000, 20)
    # Force shared prefixes and repeated digests so the slow paths are exercised too.
    md5s[100:110] = [md5s[99][:8] + bytes(rng.integers(0, 256, 8, dtype=np.uint8)) for _ in range(10)]
    md5s[200:205] = [md5s[199]] * 5
    media = []
    expected: dict[tuple[HashKind, bytes], set[str | None]] = {}
    for i, md5 in enumerate(md5s):
        entry: dict[str, Any] = {"MediaID": i, "MD5": md5.hex()}
        category = None if i % 7 == 0 else str(i % 5)
        if category is not None:
            entry["Category"] = int(category)
        if i < len(sha1s):
            entry["SHA1"] = sha1s[i].hex()
            expected.setdefault((HashKind.SHA1, sha1s[i]), set()).add(category)
        expected.setdefault((HashKind.MD5, md5), set()).add(category)
        media.append(entry)
    store.import_file(vics(tmp_path, media), "p", warn=Warnings())

    queries: list[dict[HashKind, bytes]] = []
    queries += [{HashKind.MD5: d} for d in md5s[::2]]
    queries += [{HashKind.SHA1: d} for d in sha1s[::3]]
    queries += [{HashKind.MD5: d} for d in random_digests(rng, 10_000, 16)]
    queries += [{HashKind.SHA256: d} for d in random_digests(rng, 1000, 32)]
    queries += [{HashKind.MD5: m, HashKind.SHA1: s} for m, s in zip(md5s[1::50], sha1s[1::50], strict=False)]
    with store.matcher(["p"]) as matcher:
        found = matcher.lookup(queries)
        contained = matcher.contains(queries)
    assert len(found) == len(queries)
    assert contained.tolist() == [bool(hits) for hits in found]
    for query, hits in zip(queries, found, strict=True):
        want: set[str | None] = set()
        for kind, digest in query.items():
            want |= expected.get((kind, digest), set())
        assert {m.category_raw for m in hits} == want
        assert len({m.entry for m in hits}) == len(hits)


def test_bulk_imported_list_agrees_with_a_plain_set(store: HashSetStore, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    md5s = random_digests(rng, 20_000, 16)
    sha256s = random_digests(rng, 5_000, 32)
    lines = [f"{d.hex()}  file{i}.jpg" for i, d in enumerate(md5s)] + [d.hex().upper() for d in sha256s]
    lines.insert(500, "a broken line")
    warnings = Warnings()
    info = store.import_file(text_file(tmp_path, "\n".join(lines) + "\n"), "l", kind=SetKind.ILLICIT, warn=warnings)
    assert info.entry_count == 25_000
    assert warnings == [("line 501", "not a hash line: 'a broken line'; skipped")]
    absent = random_digests(rng, 5_000, 16)
    queries = [{HashKind.MD5: d} for d in md5s + absent] + [{HashKind.SHA256: d} for d in sha256s]
    with store.matcher(["l"]) as matcher:
        found = matcher.lookup(queries)
    assert [bool(hits) for hits in found] == [True] * 20_000 + [False] * 5_000 + [True] * 5_000


# --- leftovers of killed imports ------------------------------------------------------------------------

# Holds an flock on argv[1] until its stdin closes: an import still running in another process.
HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""

# Starts an import and is killed (SIGKILL: no cleanup runs) at its first warning, while reading.
KILLED_IMPORT = """
import os, signal, sys
from pathlib import Path
from safenet.hashsets import HashSetStore, SetKind
def die(ref, message):
    os.kill(os.getpid(), signal.SIGKILL)
store = HashSetStore(Path(sys.argv[1]))
store.import_file(Path(sys.argv[2]), "x", kind=SetKind.NOTABLE, format_name="hashlist", warn=die)
"""


def staging_folders(store: HashSetStore) -> list[Path]:
    return sorted(p for p in (store.root / "sets").iterdir() if p.name.startswith(".tmp-"))


def test_killed_import_is_cleaned_up_on_the_next_open(store: HashSetStore, tmp_path: Path) -> None:
    path = text_file(tmp_path, "not a hash\n" + MD5_A.hex() + "\n")
    killed = subprocess.run([sys.executable, "-c", KILLED_IMPORT, str(store.root), str(path)], check=False)
    assert killed.returncode == -signal.SIGKILL
    [left] = staging_folders(store)
    assert (left / ".lock").exists()
    HashSetStore(store.root)
    assert staging_folders(store) == []
    assert store.list() == []


def test_folder_of_an_import_running_elsewhere_survives(store: HashSetStore) -> None:
    live = store.root / "sets" / ".tmp-0123456789abcdef"
    live.mkdir()
    (live / "md5.prefix.npy").write_bytes(b"half written")
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(live / ".lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == b"locked\n"
        HashSetStore(store.root)
        assert (live / "md5.prefix.npy").read_bytes() == b"half written"
        holder.stdin.close()
    assert holder.returncode == 0
    HashSetStore(store.root)  # the lock died with its process: now the folder is stale
    assert not live.exists()


def test_opening_the_store_during_an_import_keeps_its_folder(store: HashSetStore, tmp_path: Path) -> None:
    seen: list[list[Path]] = []

    def reopen(ref: str, message: str) -> None:
        HashSetStore(store.root)
        seen.append(staging_folders(store))

    path = text_file(tmp_path, "not a hash\n" + MD5_A.hex() + "\n")
    info = store.import_file(path, "x", kind=SetKind.NOTABLE, format_name="hashlist", warn=reopen)
    assert [len(folders) for folders in seen] == [1]
    assert info.entry_count == 1
    assert staging_folders(store) == []
    assert [p.name for p in (store.root / "sets").iterdir()] == [store_directory(store, "x")]
    assert not (store.root / "sets" / store_directory(store, "x") / ".lock").exists()


def store_directory(store: HashSetStore, name: str) -> str:
    with sqlite3.connect(store.root / "catalog.sqlite") as db:
        row = db.execute("SELECT directory FROM sets WHERE name = ?", (name,)).fetchone()
    db.close()
    return str(row[0])


@pytest.mark.parametrize(("age_days", "kept"), [(2, False), (0, True)])
def test_lockless_folders_of_older_versions(store: HashSetStore, age_days: int, kept: bool) -> None:
    """Without a lock file (a Safenet older than the lock) a folder is only stale once a day old."""
    old = store.root / "sets" / ".tmp-fedcba9876543210"
    old.mkdir()
    (old / "md5.prefix.npy").write_bytes(b"x")
    stamp = time.time() - age_days * 86400
    os.utime(old, (stamp, stamp))
    HashSetStore(store.root)
    assert old.exists() is kept
