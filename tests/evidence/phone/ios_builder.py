"""Builds iTunes/Finder backups in a test's folder: plain and encrypted, with the real Manifest.db schema.

Encrypted backups follow Apple's published scheme (and iphone_backup_decrypt, which reads them back in a test
to prove this builder right): the password is stretched twice with PBKDF2 (SHA-256 over DPSL for DPIC rounds,
then SHA-1 over SALT for ITER rounds); each protection class key is wrapped under that with AES key wrap (RFC
3394) in the keybag; each file's own key is wrapped under its class key in the file's MBFile record; files and
Manifest.db are AES-256-CBC with a zero IV and PKCS#7 padding. Iteration counts are tiny so tests stay fast.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import sqlite3
import struct
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

SCHEMA = """
CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
CREATE INDEX FilesDomainIdx ON Files(domain);
CREATE INDEX FilesRelativePathIdx ON Files(relativePath);
CREATE INDEX FilesFlagsIdx ON Files(flags);
CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);
"""
WHEN = 1_700_000_000  # 2023-11-14 22:13:20 UTC
MANIFEST_CLASS = 4  # the class iOS wraps the Manifest.db key under
FILE_CLASS = 3  # NSFileProtectionCompleteUntilFirstUserAuthentication, the usual one
UNSET: bytes = b"\x00unset"  # marker: build the record blob from the file's fields

INFO = {
    "Build Version": "21F90",
    "Device Name": "Test iPhone",
    "Display Name": "Test iPhone",
    "GUID": "0123456789ABCDEF0123456789ABCDEF",
    "IMEI": "356789012345678",
    "Product Name": "iPhone 11",
    "Product Type": "iPhone12,1",
    "Product Version": "17.5.1",
    "Serial Number": "F2LTESTSERIAL",
    "Target Identifier": "00008030-001a2b3c4d5e6f70",
    "Target Type": "Device",
    "Unique Identifier": "00008030-001A2B3C4D5E6F70",
    "iTunes Version": "12.13.2.3",
    "Last Backup Date": datetime(2024, 6, 1, 9, 30),
}


def file_id(domain: str, relative: str) -> str:
    """How iOS names a file in a backup: SHA-1 of ``domain-relativePath``."""
    return hashlib.sha1(f"{domain}-{relative}".encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class BackupFile:
    """One file record. Overrides make hostile records: another fileID, a raw blob (None: no blob), no data file."""

    domain: str
    relative: str
    data: bytes
    mtime: int = WHEN
    fid: str = ""  # "" -> file_id(domain, relative)
    blob: bytes | None = UNSET
    write_data: bool = True
    inode: int = 0  # 0 -> a made-up inode number

    @property
    def id(self) -> str:
        return self.fid or file_id(self.domain, self.relative)

    @property
    def path(self) -> str:
        """The Domain/relativePath Safenet shows for it."""
        return f"{self.domain}/{self.relative}"


@dataclass
class Built:
    root: Path
    files: list[BackupFile]
    password: str | None
    class_keys: dict[int, bytes] = field(default_factory=dict)


def mbfile(
    relative: str, size: int, mtime: int, inode: int, encryption_key: bytes | None = None, mode: int = 0o100644
) -> bytes:
    """An MBFile record as iOS archives it (NSKeyedArchiver, binary plist)."""
    top: dict[str, object] = {
        "LastModified": mtime,
        "Birth": mtime - 60,
        "LastStatusChange": mtime + 1,
        "Mode": mode,
        "InodeNumber": inode,
        "UserID": 501,
        "GroupID": 501,
        "Size": size,
        "ProtectionClass": FILE_CLASS,
        "Flags": 0,
        "RelativePath": plistlib.UID(2),
    }
    objects: list[object] = ["$null", top, relative]
    if encryption_key is not None:
        objects.append({"NS.data": encryption_key, "$class": plistlib.UID(len(objects) + 1)})
        top["EncryptionKey"] = plistlib.UID(len(objects) - 1)
        objects.append({"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]})
    objects.append({"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]})
    top["$class"] = plistlib.UID(len(objects) - 1)
    archive = {
        "$version": 100000,
        "$archiver": "NSKeyedArchiver",
        "$top": {"root": plistlib.UID(1)},
        "$objects": objects,
    }
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)


def encrypt(data: bytes, key: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _tlv(tag: bytes, value: bytes | int) -> bytes:
    raw = struct.pack(">L", value) if isinstance(value, int) else value
    return tag + struct.pack(">L", len(raw)) + raw


def keybag(password: str, class_keys: dict[int, bytes], dpic: int = 10, iterations: int = 10) -> bytes:
    """A backup keybag (type 1) whose class keys unlock with ``password``."""
    dpsl, salt = os.urandom(20), os.urandom(20)
    round1 = hashlib.pbkdf2_hmac("sha256", password.encode(), dpsl, dpic, 32)
    passphrase_key = hashlib.pbkdf2_hmac("sha1", round1, salt, iterations, 32)
    out = b"".join(
        [
            _tlv(b"VERS", 3),
            _tlv(b"TYPE", 1),
            _tlv(b"UUID", os.urandom(16)),
            _tlv(b"HMCK", os.urandom(40)),
            _tlv(b"WRAP", 0),
            _tlv(b"SALT", salt),
            _tlv(b"ITER", iterations),
            _tlv(b"DPWT", 1),
            _tlv(b"DPIC", dpic),
            _tlv(b"DPSL", dpsl),
        ]
    )
    for clas, key in sorted(class_keys.items()):
        out += _tlv(b"UUID", os.urandom(16)) + _tlv(b"CLAS", clas) + _tlv(b"WRAP", 2) + _tlv(b"KTYP", 0)
        out += _tlv(b"WPKY", aes_key_wrap(passphrase_key, key))
    return out


def photos_sqlite(assets: list[tuple[str, str, int, int, float | None]]) -> bytes:
    """A minimal Photos.sqlite: ZASSET rows of (ZDIRECTORY, ZFILENAME, ZTRASHEDSTATE, ZHIDDEN, ZDATECREATED)."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZDIRECTORY VARCHAR, ZFILENAME VARCHAR, "
        "ZTRASHEDSTATE INTEGER, ZHIDDEN INTEGER, ZDATECREATED TIMESTAMP, ZKIND INTEGER)"
    )
    conn.executemany(
        "INSERT INTO ZASSET (ZDIRECTORY, ZFILENAME, ZTRASHEDSTATE, ZHIDDEN, ZDATECREATED, ZKIND) VALUES (?,?,?,?,?,0)",
        assets,
    )
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data


def build_backup(
    root: Path,
    files: list[BackupFile],
    password: str | None = None,
    info: dict[str, object] | None = None,
    folders: tuple[tuple[str, str], ...] = (("CameraRollDomain", "Media/DCIM"),),
) -> Built:
    """Write a backup of ``files`` into ``root`` (encrypted when ``password`` is given)."""
    root.mkdir(parents=True, exist_ok=True)
    class_keys = {clas: os.urandom(32) for clas in range(1, 12)} if password is not None else {}
    db_path = root / "Manifest.db"
    conn = sqlite3.connect(db_path)
    conn.executescript(SCHEMA)
    for n, f in enumerate(files, start=1):
        wrapped = None
        stored = f.data
        if password is not None:
            key = os.urandom(32)
            wrapped = struct.pack("<l", FILE_CLASS) + aes_key_wrap(class_keys[FILE_CLASS], key)
            stored = encrypt(f.data, key)
        blob = mbfile(f.relative, len(f.data), f.mtime, f.inode or 1000 + n, wrapped) if f.blob is UNSET else f.blob
        conn.execute("INSERT INTO Files VALUES (?, ?, ?, 1, ?)", (f.id, f.domain, f.relative, blob))
        if f.write_data:
            target = root / f.id[:2] / f.id
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(stored)
    for domain, relative in folders:
        blob = mbfile(relative, 0, WHEN, 99, mode=0o040755)
        conn.execute("INSERT INTO Files VALUES (?, ?, ?, 2, ?)", (file_id(domain, relative), domain, relative, blob))
    conn.execute("INSERT INTO Properties VALUES ('salt', ?)", (os.urandom(20),))
    conn.commit()
    conn.close()
    manifest: dict[str, object] = {
        "Version": "10.0",
        "Date": datetime(2024, 6, 1, 9, 30),
        "SystemDomainsVersion": "24.0",
        "WasPasscodeSet": True,
        "IsEncrypted": password is not None,
        "Lockdown": {"ProductVersion": "17.5.1", "SerialNumber": INFO["Serial Number"], "DeviceName": "Test iPhone"},
        "Applications": {},
    }
    if password is not None:
        manifest_key = os.urandom(32)
        manifest["BackupKeyBag"] = keybag(password, class_keys)
        manifest["ManifestKey"] = struct.pack("<l", MANIFEST_CLASS) + aes_key_wrap(
            class_keys[MANIFEST_CLASS], manifest_key
        )
        db_path.write_bytes(encrypt(db_path.read_bytes(), manifest_key))
    (root / "Manifest.plist").write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
    (root / "Info.plist").write_bytes(plistlib.dumps(dict(INFO if info is None else info)))
    (root / "Status.plist").write_bytes(plistlib.dumps({"IsFullBackup": False, "Version": "3.3"}))
    return Built(root, files, password, class_keys)
