"""The backup builder is proven right by an independent reader (iphone_backup_decrypt) before Safenet's reader
is tested against what it builds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from iphone_backup_decrypt import EncryptedBackup, IncorrectPassphraseError  # type: ignore[import-untyped]

from tests.builders import jpeg
from tests.evidence.phone.ios_builder import BackupFile, build_backup, file_id


def _files() -> list[BackupFile]:
    return [
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", jpeg(1)),
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.JPG", jpeg(2)),
        BackupFile("AppDomain-net.whatsapp.WhatsApp", "Documents/notes.txt", b"hello\n" * 100),
        BackupFile("HomeDomain", "Library/empty.txt", b""),
        BackupFile("HomeDomain", "Library/block.bin", bytes(range(16)) * 4),  # a whole number of AES blocks
    ]


def test_the_independent_reader_decrypts_every_file_of_an_encrypted_backup(tmp_path: Path) -> None:
    built = build_backup(tmp_path / "backup", _files(), password="correct horse")
    backup = EncryptedBackup(backup_directory=str(built.root), passphrase="correct horse")
    backup.test_decryption()
    with backup.manifest_db_cursor() as cur:
        cur.execute("SELECT fileID, domain, relativePath FROM Files WHERE flags = 1")
        listed = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
    assert listed == {f.id: (f.domain, f.relative) for f in built.files}
    for f in built.files:
        assert backup.extract_file_as_bytes(f.relative, domain_like=f.domain) == f.data, f.path
    for folder in backup.get_folders():
        assert folder[2] == "Media/DCIM"


def test_the_independent_reader_refuses_a_wrong_password(tmp_path: Path) -> None:
    built = build_backup(tmp_path / "backup", _files()[:1], password="right")
    with pytest.raises(IncorrectPassphraseError):
        EncryptedBackup(backup_directory=str(built.root), passphrase="wrong").test_decryption()


def test_a_plain_backup_stores_files_by_their_sha1_file_id(tmp_path: Path) -> None:
    built = build_backup(tmp_path / "backup", _files())
    conn = sqlite3.connect(built.root / "Manifest.db")
    rows = conn.execute("SELECT fileID, domain, relativePath FROM Files WHERE flags = 1").fetchall()
    conn.close()
    assert {r[0] for r in rows} == {file_id(r[1], r[2]) for r in rows} == {f.id for f in built.files}
    for f in built.files:
        assert (built.root / f.id[:2] / f.id).read_bytes() == f.data
