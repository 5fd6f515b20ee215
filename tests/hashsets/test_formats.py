"""Format readers: the third-party sample files in tests/data, detection, and the text formats' edge cases."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from safenet.hashsets import (
    HashKind,
    HashRecord,
    HashSetError,
    SetKind,
    UnknownFormat,
    detect_format,
    get_format,
)
from safenet.hashsets.formats import FORMAT_CLASSES, FORMATS, HashSetFormat, _registry
from safenet.hashsets.formats.base import BulkDigests
from safenet.hashsets.formats.vics import VicsFormat
from tests.datafiles import DATA

CORPUS = DATA / "hashsets"

H = bytes.fromhex
MD5_A = H("00112233445566778899aabbccddeeff")
MD5_B = H("ffeeddccbbaa99887766554433221100")
SHA1_A = H("00112233445566778899aabbccddeeff00112233")
SHA1_B = H("ffeeddccbbaa99887766554433221100ffeeddcc")


class Warnings(list[tuple[str, str]]):
    """Collects warn(ref, message) calls."""

    def __call__(self, ref: str, message: str) -> None:
        self.append((ref, message))


def read_all(fmt: HashSetFormat, path: Path) -> tuple[list[HashRecord], Warnings]:
    warnings = Warnings()
    return list(fmt.read(path, warnings)), warnings


def digest_sets(items: Iterator[HashRecord | BulkDigests]) -> dict[HashKind, set[bytes]]:
    """Every digest per kind, whether it came as a record or in a bulk batch."""
    found: dict[HashKind, set[bytes]] = {kind: set() for kind in HashKind}
    for item in items:
        if isinstance(item, BulkDigests):
            for kind, rows in item.columns.items():
                found[kind].update(bytes(row) for row in rows)
        else:
            for kind in HashKind:
                value = item.digest(kind)
                if value is not None:
                    found[kind].add(value)
    return found


# --- registry contract ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", FORMAT_CLASSES, ids=lambda c: c.NAME)
def test_every_format_honours_the_contract(cls: type[HashSetFormat], tmp_path: Path) -> None:
    assert isinstance(cls.NAME, str) and cls.NAME
    assert cls.DEFAULT_KIND is None or isinstance(cls.DEFAULT_KIND, SetKind)
    assert cls.DESCRIPTION
    assert callable(cls.sniff) and callable(cls.read)
    instance = cls()
    assert isinstance(instance.default_scheme(), str)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert cls.sniff(empty, b"") is False
    noise = tmp_path / "noise"
    noise.write_bytes(os.urandom(4096))
    assert cls.sniff(noise, noise.read_bytes()) is False


def test_registry_names_are_stable_and_unique() -> None:
    assert list(FORMATS) == ["vics", "nsrl-v3", "nsrl-v2", "hashdeep", "vpdq", "pdq", "hashlist"]
    assert FORMAT_CLASSES[-1].NAME == "hashlist"  # the catch-all goes last


def test_duplicate_names_fail_when_the_registry_is_built() -> None:
    with pytest.raises(RuntimeError, match="'vics' is registered twice"):
        _registry((VicsFormat, VicsFormat))


def test_get_format() -> None:
    assert get_format("nsrl-v2").NAME == "nsrl-v2"
    assert get_format("vics") is not get_format("vics")  # fresh readers: they hold per-file state
    with pytest.raises(HashSetError, match="unknown hash-set format 'encase'; use one of vics"):
        get_format("encase")


# --- detection ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vics20_hashset_default.json", "vics"),
        ("vics20_case_uk.json", "vics"),
        ("vics12_media_caid_style.json", "vics"),
        ("NSRLFile.txt", "nsrl-v2"),
        ("RDS_synthetic_minimal.db", "nsrl-v3"),
        ("example.hashdeep", "hashdeep"),
        ("example.md5", "hashlist"),
        ("example.sha1", "hashlist"),
        ("example_bsd.md5", "hashlist"),
    ],
)
def test_detection_of_corpus_files(name: str, expected: str) -> None:
    detected = detect_format(CORPUS / name).NAME
    assert detected == expected


@pytest.mark.parametrize(
    "name",
    [
        "NSRLProd.txt",
        "NSRLOS.txt",
        "NSRLMfg.txt",
        "README.md",
        "example.hash",
        "example.hsh",
        "example.kdb",
        "iped-hashes.db",
        "example.dfxml",
        "RDS_synthetic_minimal.schema.sql",
    ],
)
def test_files_that_are_not_supported_hash_sets(name: str) -> None:
    with pytest.raises(UnknownFormat, match="is not in a hash-set format Safenet reads"):
        detect_format(CORPUS / name)


def test_jpeg_random_and_empty_files_are_unknown(tmp_path: Path) -> None:
    jpeg = tmp_path / "photo.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + os.urandom(2000) + b"\xff\xd9")
    random_file = tmp_path / "random.bin"
    random_file.write_bytes(os.urandom(70_000))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for path in (jpeg, random_file):
        with pytest.raises(UnknownFormat, match=r"photo\.jpg|random\.bin") as info:
            detect_format(path)
        assert "vics, nsrl-v3, nsrl-v2, hashdeep, vpdq, pdq, hashlist" in str(info.value)
    with pytest.raises(UnknownFormat, match="is empty"):
        detect_format(empty)


def test_detection_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HashSetError, match="cannot read"):
        detect_format(tmp_path / "absent.md5")


# --- corpus fixtures ------------------------------------------------------------------------------------


def test_nsrl_v2_corpus() -> None:
    fmt = get_format("nsrl-v2")
    records, warnings = read_all(fmt, CORPUS / "NSRLFile.txt")
    assert warnings == []
    assert [(r.sha1, r.md5, r.sha256, r.name, r.size, r.ref) for r in records] == [
        (SHA1_A, MD5_A, None, "example.dll", 12288, "line 2"),
        (SHA1_B, MD5_B, None, "readme.txt", 512, "line 3"),
    ]
    assert fmt.DEFAULT_KIND is SetKind.KNOWN_GOOD
    assert fmt.default_scheme() == "none"


def test_nsrl_v3_corpus_is_read_without_touching_the_database() -> None:
    path = CORPUS / "RDS_synthetic_minimal.db"
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    records, warnings = read_all(get_format("nsrl-v3"), path)
    assert warnings == []
    assert len(records) == 1
    assert records[0].md5 == MD5_A
    assert records[0].sha1 == SHA1_A
    assert records[0].sha256 == H("00112233445566778899aabbccddeeff" * 2)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    assert not Path(f"{path}-journal").exists()
    assert not Path(f"{path}-wal").exists()


def test_hashdeep_corpus() -> None:
    records, warnings = read_all(get_format("hashdeep"), CORPUS / "example.hashdeep")
    assert warnings == []
    assert [(r.md5, r.sha256, r.size, r.name, r.ref) for r in records] == [
        (MD5_A, H("00112233445566778899aabbccddeeff" * 2), 12288, "/evidence/docs/example.dll", "line 6"),
        (MD5_B, H("ffeeddccbbaa99887766554433221100" * 2), 512, "/evidence/docs/readme.txt", "line 7"),
    ]


def test_md5sum_corpus_text_and_binary_mode() -> None:
    records, warnings = read_all(get_format("hashlist"), CORPUS / "example.md5")
    assert warnings == []
    assert [(r.md5, r.name) for r in records] == [(MD5_A, "./docs/example.dll"), (MD5_B, "./docs/readme.txt")]


def test_sha1sum_corpus() -> None:
    records, warnings = read_all(get_format("hashlist"), CORPUS / "example.sha1")
    assert warnings == []
    assert [(r.sha1, r.md5, r.name) for r in records] == [(SHA1_A, None, "./docs/example.dll")]


def test_bsd_tag_corpus() -> None:
    records, warnings = read_all(get_format("hashlist"), CORPUS / "example_bsd.md5")
    assert warnings == []
    assert [(r.md5, r.name) for r in records] == [(MD5_A, "./docs/example.dll")]


@pytest.mark.parametrize(
    "name",
    [
        "NSRLFile.txt",
        "RDS_synthetic_minimal.db",
        "example.md5",
        "example.sha1",
        "example_bsd.md5",
        "example.hashdeep",
        "vics20_hashset_default.json",
    ],
)
def test_bulk_path_gives_the_same_digests_as_read(name: str) -> None:
    path = CORPUS / name
    fmt = detect_format(path)
    assert digest_sets(fmt.read_bulk(path, Warnings())) == digest_sets(iter(fmt.read(path, Warnings())))


# --- hash lists -----------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes, name: str = "list.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_gnu_escaped_names(tmp_path: Path) -> None:
    path = write(tmp_path, "\\" + MD5_A.hex() + "  dir\\\\new\\nline.jpg\n" + MD5_B.hex() + " *plain\n")
    assert detect_format(path).NAME == "hashlist"
    records, warnings = read_all(get_format("hashlist"), path)
    assert warnings == []
    assert [(r.md5, r.name) for r in records] == [(MD5_A, "dir\\new\nline.jpg"), (MD5_B, "plain")]


def test_bare_list_algorithm_by_length_and_case(tmp_path: Path) -> None:
    sha256 = "AB" * 32
    path = write(tmp_path, f"{MD5_A.hex().upper()}\r\n{SHA1_B.hex()}\r\n\r\n# comment\n{sha256}\n")
    records, warnings = read_all(get_format("hashlist"), path)
    assert warnings == []
    assert [(r.md5, r.sha1, r.sha256) for r in records] == [
        (MD5_A, None, None),
        (None, SHA1_B, None),
        (None, None, H(sha256)),
    ]


def test_header_line_names_the_algorithm(tmp_path: Path) -> None:
    clean = write(tmp_path, f"SHA-1\n{SHA1_A.hex()}\n{SHA1_B.hex()}\n", "clean.txt")
    assert detect_format(clean).NAME == "hashlist"
    path = write(tmp_path, f"SHA-1\n{SHA1_A.hex()}\n{MD5_A.hex()}\nMD5\n")
    fmt = get_format("hashlist")
    records, warnings = read_all(fmt, path)
    assert [(r.sha1, r.ref) for r in records] == [(SHA1_A, "line 2")]
    assert warnings == [
        ("line 3", "SHA1 digest must have 40 hex characters, not 32; skipped"),
        ("line 4", "algorithm line 'MD5' only counts as the first line of the list; skipped"),
    ]
    assert digest_sets(fmt.read_bulk(path, Warnings()))[HashKind.SHA1] == {SHA1_A}


def test_bsd_tags_of_each_algorithm(tmp_path: Path) -> None:
    sha256 = "cd" * 32
    text = (
        f"MD5 (a b.jpg) = {MD5_A.hex()}\nSHA1 (x) = {SHA1_A.hex()}\nSHA256 (y (1).png) = {sha256}\n"
        f"SHA2-256 (z) = {sha256}\nSHA512 (big) = {'00' * 64}\n"
    )
    records, warnings = read_all(get_format("hashlist"), write(tmp_path, text))
    assert [(r.name, r.md5 or r.sha1 or r.sha256) for r in records] == [
        ("a b.jpg", MD5_A),
        ("x", SHA1_A),
        ("y (1).png", H(sha256)),
        ("z", H(sha256)),
    ]
    assert warnings == [
        ("line 5", "SHA512 digests are not supported (MD5, SHA-1, SHA-256, ED2K and BTIH only); skipped")
    ]


def test_bad_lines_warn_and_continue(tmp_path: Path) -> None:
    text = f"{MD5_A.hex()}  good\n{'g' * 32}  bad hex\n{'0' * 31}  short\nhello world\n{MD5_B.hex()}\n"
    path = write(tmp_path, text)
    fmt = get_format("hashlist")
    records, warnings = read_all(fmt, path)
    assert [r.md5 for r in records] == [MD5_A, MD5_B]
    assert [ref for ref, _ in warnings] == ["line 2", "line 3", "line 4"]
    assert "not a hash line" in warnings[2][1]
    bulk_warnings = Warnings()
    assert digest_sets(fmt.read_bulk(path, bulk_warnings))[HashKind.MD5] == {MD5_A, MD5_B}
    assert sorted(bulk_warnings) == sorted(warnings)


def test_fast_path_on_a_big_list_matches_line_by_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    digests = [bytes(row) for row in rng.integers(0, 256, (3000, 20), dtype=np.uint8)]
    lines = []
    for i, digest in enumerate(digests):
        shapes = [f"{digest.hex()}  f{i}", f"{digest.hex()} *f{i}", digest.hex(), f"SHA1 (f{i}) = {digest.hex()}"]
        lines.append(shapes[i % 4])
    path = write(tmp_path, "\n".join(lines))  # no final newline on purpose
    fmt = get_format("hashlist")
    warnings = Warnings()
    bulk = digest_sets(fmt.read_bulk(path, warnings))
    assert warnings == []
    assert bulk == digest_sets(iter(fmt.read(path, Warnings())))
    assert bulk[HashKind.SHA1] == set(digests)


# --- hashdeep and NSRL edge cases ---------------------------------------------------------------------


def test_hashdeep_file_name_with_commas_and_sha1(tmp_path: Path) -> None:
    text = (
        "%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,filename\n## Invoked from: /e\n## $ hashdeep -c md5,sha1\n##\n"
        f"10,{MD5_A.hex()},{SHA1_A.hex()},/e/a, b, c.jpg\n"
        f"x,{MD5_B.hex()},nothex,/e/d.jpg\n"
        "12,short\n"
    )
    path = write(tmp_path, text, "audit.txt")
    assert detect_format(path).NAME == "hashdeep"
    records, warnings = read_all(get_format("hashdeep"), path)
    assert [(r.md5, r.sha1, r.size, r.name) for r in records] == [
        (MD5_A, SHA1_A, 10, "/e/a, b, c.jpg"),
        (MD5_B, None, None, "/e/d.jpg"),
    ]
    assert warnings == [
        ("line 7", "SHA1: 'nothex' is not hexadecimal; ignored"),
        ("line 8", "row has 2 fields, the header names 4; skipped"),
    ]


def test_nsrl_v2_rds1_column_order(tmp_path: Path) -> None:
    text = (
        '"SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32","SpecialCode"\n'
        f'"{SHA1_A.hex().upper()}","old.dll",100,1,"WIN","{"0" * 32}","{MD5_A.hex().upper()}","00000000",""\n'
    )
    path = write(tmp_path, text, "NSRLFile.txt")
    fmt = detect_format(path)
    assert fmt.NAME == "nsrl-v2"
    records, warnings = read_all(fmt, path)
    assert warnings == []
    assert [(r.sha1, r.md5, r.name, r.size) for r in records] == [(SHA1_A, MD5_A, "old.dll", 100)]
    assert digest_sets(fmt.read_bulk(path, Warnings()))[HashKind.MD5] == {MD5_A}


def test_nsrl_v2_garbage_rows_warn(tmp_path: Path) -> None:
    header = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\n'
    path = write(tmp_path, header + "this is not,a row\n" + '"zz","yy","1","n",1,1,"1",""\n', "NSRLFile.txt")
    fmt = get_format("nsrl-v2")
    records, warnings = read_all(fmt, path)
    assert records == []
    assert [ref for ref, _ in warnings] == ["line 2", "line 3"]
    bulk_warnings = Warnings()
    assert list(fmt.read_bulk(path, bulk_warnings)) == []
    assert bulk_warnings == warnings


def test_nsrl_v3_full_edition_style_view(tmp_path: Path) -> None:
    """Full editions expose FILE as a view over METADATA; the reader only needs the FILE columns."""
    path = tmp_path / "full.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE METADATA (sha256 TEXT, sha1 TEXT, md5 TEXT, extension TEXT)")
        db.execute("CREATE VIEW FILE AS SELECT sha256, sha1, md5 FROM METADATA")
        db.executemany(
            "INSERT INTO METADATA VALUES (?, ?, ?, 'dll')",
            [
                ("AB" * 32, SHA1_A.hex().upper(), MD5_A.hex().upper()),
                ("AB" * 32, SHA1_A.hex().upper(), MD5_A.hex().upper()),
                ("", "XYZ", MD5_B.hex()),
            ],
        )
    db.close()
    fmt = detect_format(path)
    assert fmt.NAME == "nsrl-v3"
    records, warnings = read_all(fmt, path)
    assert [(r.sha256, r.sha1, r.md5) for r in records] == [
        (H("AB" * 32), SHA1_A, MD5_A),
        (None, None, MD5_B),
    ] or [(r.sha256, r.sha1, r.md5) for r in records] == [(None, None, MD5_B), (H("AB" * 32), SHA1_A, MD5_A)]
    assert len(warnings) == 1 and "SHA1" in warnings[0][1]
    assert digest_sets(fmt.read_bulk(path, Warnings())) == digest_sets(iter(records))


def test_other_sqlite_databases_are_not_nsrl(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE hashes (md5 BLOB)")
    db.close()
    with pytest.raises(UnknownFormat):
        detect_format(path)


def test_over_long_lines_are_dropped_not_buffered(tmp_path: Path) -> None:
    text = f"{MD5_A.hex()}  a\n" + "x" * (3 * 1024 * 1024) + f"\n{MD5_B.hex()}  b\n"
    path = write(tmp_path, text)
    fmt = get_format("hashlist")
    records, warnings = read_all(fmt, path)
    assert [(r.md5, r.ref) for r in records] == [(MD5_A, "line 1"), (MD5_B, "line 3")]
    assert warnings == [("line 2", "line longer than 1 MiB; dropped")]
    bulk_warnings = Warnings()
    assert digest_sets(fmt.read_bulk(path, bulk_warnings))[HashKind.MD5] == {MD5_A, MD5_B}
    assert bulk_warnings == warnings


def test_nsrl_v2_row_the_csv_module_rejects(tmp_path: Path) -> None:
    header = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\n'
    good = f'"{SHA1_A.hex()}","{MD5_A.hex()}","0","a",1,1,"1",""\n'
    huge = '"' + "y" * 200_000 + '",2\n'
    path = write(tmp_path, header + huge + good, "NSRLFile.txt")
    fmt = get_format("nsrl-v2")
    records, warnings = read_all(fmt, path)
    assert [(r.md5, r.ref) for r in records] == [(MD5_A, "line 3")]
    assert [ref for ref, _ in warnings] == ["line 2"]
    assert "not a CSV row" in warnings[0][1]
    bulk_warnings = Warnings()
    assert digest_sets(fmt.read_bulk(path, bulk_warnings))[HashKind.MD5] == {MD5_A}
    assert bulk_warnings == warnings
