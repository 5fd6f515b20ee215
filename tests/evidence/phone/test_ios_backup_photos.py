"""Photos.sqlite read on its own (the function the backup and the live iOS readers share), the decrypting
reader of encrypted files, and damaged encrypted files."""

from __future__ import annotations

import io
import random
import sqlite3
from pathlib import Path

import pytest

from safenet.evidence.model import Credential, CredentialKind, EvidenceWarning, OpenContext
from safenet.evidence.phone import cbc, photos_db
from safenet.evidence.phone.cbc import CbcReader, DecryptError
from safenet.evidence.phone.ios_backup import IosBackupEvidence
from safenet.evidence.phone.photos_db import PhotosDbError, core_data_time, photos_notes
from tests.evidence.phone.ios_builder import BackupFile, build_backup, encrypt, photos_sqlite


def _db(sql: str) -> bytes:
    conn = sqlite3.connect(":memory:")
    conn.executescript(sql)
    data = conn.serialize()
    conn.close()
    return data


def test_notes_from_bytes_and_from_a_path_agree(tmp_path: Path) -> None:
    data = photos_sqlite(
        [
            ("DCIM/100APPLE", "IMG_1.JPG", 1, 1, 0.0),
            ("DCIM/100APPLE/", "IMG_2.JPG", 0, 0, 0.0),
            ("", "loose.jpg", 0, 1, None),
        ]
    )
    path = tmp_path / "Photos.sqlite"
    path.write_bytes(data)
    expected = {
        "DCIM/100APPLE/IMG_1.JPG": "recently deleted in Photos (ZTRASHEDSTATE); hidden in Photos (ZHIDDEN); "
        "created 2001-01-01 00:00:00 UTC (ZDATECREATED)",
        "loose.jpg": "hidden in Photos (ZHIDDEN)",
    }
    assert photos_notes(data) == expected
    assert photos_notes(path) == expected
    assert path.read_bytes() == data  # read-only


def test_missing_columns_read_as_absent() -> None:
    data = _db(
        "CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY, ZDIRECTORY TEXT, ZFILENAME TEXT, ZHIDDEN INTEGER);"
        "INSERT INTO ZASSET VALUES (1, 'DCIM/100APPLE', 'a.jpg', 1);"
    )
    assert photos_notes(data) == {"DCIM/100APPLE/a.jpg": "hidden in Photos (ZHIDDEN)"}


@pytest.mark.parametrize(
    "data",
    [
        b"SQLite format 3\x00" + b"\xff" * 200,  # a header and nothing sane after it
        b"plain text, not a database",
        _db("CREATE TABLE other (x);"),  # no ZASSET
        _db("CREATE TABLE t (x); CREATE VIEW ZASSET AS SELECT 1 AS ZFILENAME FROM t;"),  # a view runs SQL: refused
    ],
)
def test_hostile_or_damaged_databases_raise_photos_db_error(data: bytes) -> None:
    with pytest.raises(PhotosDbError):
        photos_notes(data)


def test_a_query_that_takes_too_much_work_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    data = photos_sqlite([("DCIM/100APPLE", f"IMG_{n}.JPG", 1, 0, 0.0) for n in range(2000)])
    monkeypatch.setattr(photos_db, "MAX_STEPS", 5_000)
    with pytest.raises(PhotosDbError, match="more work"):
        photos_notes(data)


@pytest.mark.parametrize("value", [None, "x", True, 1e300, float("nan")])
def test_absurd_core_data_times_are_absent(value: object) -> None:
    assert core_data_time(value) is None


def test_a_damaged_encrypted_file_fails_to_open_and_the_rest_read(tmp_path: Path) -> None:
    files = [BackupFile("HomeDomain", "a.bin", b"a" * 100), BackupFile("HomeDomain", "b.bin", b"b" * 100)]
    built = build_backup(tmp_path / "backup", files, "pw")
    damaged = built.root / files[0].id[:2] / files[0].id
    damaged.write_bytes(damaged.read_bytes()[:-16] + bytes(16))  # last block replaced: the padding breaks
    evidence = IosBackupEvidence(built.root, OpenContext((Credential(CredentialKind.PASSWORD, "pw"),)))
    warnings: list[EvidenceWarning] = []
    items = {i.locator.leaf.value: i for i in evidence.items(warnings.append)}
    with pytest.raises(DecryptError, match="padding"):
        evidence.open(items["HomeDomain/a.bin"].locator)
    with evidence.open(items["HomeDomain/b.bin"].locator) as stream:
        assert stream.read() == b"b" * 100


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4096, 70_001])
def test_the_cbc_reader_gives_the_plaintext_whatever_the_read_sizes(size: int) -> None:
    key = bytes(range(32))
    plain = bytes((i * 7) % 251 for i in range(size))
    reader = CbcReader(io.BytesIO(encrypt(plain, key)), key)
    assert reader.size == size
    rng = random.Random(size)
    got = b""
    while chunk := reader.read(rng.choice([1, 3, 16, 17, 1000, 5000])):
        got += chunk
    assert got == plain
    reader.seek(size // 3)
    assert reader.read() == plain[size // 3 :]


@pytest.mark.parametrize("small", [0, 1 << 20])
@pytest.mark.parametrize("size", [0, 5, 16, 40_000])
def test_small_files_decrypted_whole_and_large_ones_streamed_give_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch, small: int, size: int
) -> None:
    monkeypatch.setattr(cbc, "SMALL", small)
    key = bytes(range(32, 64))
    plain = bytes((i * 13) % 256 for i in range(size))
    with cbc.open_decrypted(io.BytesIO(encrypt(plain, key)), key) as stream:
        stream.seek(size // 2)
        assert stream.read() == plain[size // 2 :]
        stream.seek(0)
        assert stream.read() == plain
    with pytest.raises(DecryptError):
        cbc.open_decrypted(io.BytesIO(encrypt(plain, key)[:-1]), key)
