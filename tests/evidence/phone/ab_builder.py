"""Android backup (.ab) files built for tests, laid out as Android's BackupManagerService writes them.

Encryption follows AOSP: a random user salt, checksum salt, user IV, master key and master IV; the user key is
PBKDF2-HMAC-SHA1(password, user salt, rounds, 32 bytes); the master key blob ``[len][IV][len][key][len][ck]``
is AES-256-CBC encrypted under it, PKCS#7 padded; the checksum ``ck`` is PBKDF2 of the master key's bytes cast
to Java chars (signed), encoded as UTF-8 for format versions >= 2 and as 8-bit for version 1. The body (a tar,
zlib-compressed when asked) is AES-256-CBC under the master key. Encryption here uses ``cryptography``.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROUNDS = 2000  # Android uses 10 000; fewer keeps the tests quick and changes nothing in the format
MTIME = 1_700_000_000


def java_chars(raw: bytes, version: int) -> bytes:
    """The checksum's PBKDF2 input: bytes as signed Java chars, UTF-8 (version >= 2) or low 8 bits (version 1)."""
    if version == 1:
        return raw
    return "".join(chr(b if b < 0x80 else 0xFF00 | b) for b in raw).encode("utf-8")


def _cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def tar_of(members: list[tuple[str, bytes]], *, end_marker: bool = True) -> bytes:
    """A tar of regular files (folders implied), as Android's full backup writes it (two zero blocks at the end)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    if not end_marker:
        raw = raw.rstrip(b"\0")
        raw += b"\0" * (-len(raw) % 512)
    return raw


@dataclass(frozen=True)
class Built:
    data: bytes
    master_key: bytes = b""
    master_iv: bytes = b""
    header_end: int = 0


def build_ab(
    members: list[tuple[str, bytes]],
    *,
    version: int = 5,
    compressed: bool = True,
    password: str | None = None,
    master_key: bytes | None = None,
    tar: bytes | None = None,
) -> Built:
    """An .ab file holding ``members`` (or the ``tar`` given as is)."""
    body = tar if tar is not None else tar_of(members)
    if compressed:
        body = zlib.compress(body, 6)
    head = f"ANDROID BACKUP\n{version}\n{int(compressed)}\n".encode()
    if password is None:
        head += b"none\n"
        return Built(head + body, header_end=len(head))
    user_salt, ck_salt, user_iv, master_iv = os.urandom(64), os.urandom(64), os.urandom(16), os.urandom(16)
    key = master_key if master_key is not None else os.urandom(32)
    password_bytes = password.encode("utf-8") if version >= 2 else bytes(ord(c) & 0xFF for c in password)
    user_key = hashlib.pbkdf2_hmac("sha1", password_bytes, user_salt, ROUNDS, 32)
    checksum = hashlib.pbkdf2_hmac("sha1", java_chars(key, version), ck_salt, ROUNDS, 32)
    blob = bytes([len(master_iv)]) + master_iv + bytes([len(key)]) + key + bytes([len(checksum)]) + checksum
    head += b"AES-256\n"
    head += f"{user_salt.hex().upper()}\n{ck_salt.hex().upper()}\n{ROUNDS}\n{user_iv.hex().upper()}\n".encode()
    head += _cbc_encrypt(user_key, user_iv, blob).hex().upper().encode() + b"\n"
    return Built(head + _cbc_encrypt(key, master_iv, body), key, master_iv, len(head))
