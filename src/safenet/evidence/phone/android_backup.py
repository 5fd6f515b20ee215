"""Android backups (``adb backup`` files, ``.ab``): a short text header, then a tar of the apps' data and shared
storage, zlib-compressed and AES-256 encrypted when the header says so.

The header's lines: ``ANDROID BACKUP``, the format version (1-5), the compressed flag (0/1) and the encryption
(``none`` or ``AES-256``). An encrypted backup adds five more: the user password's PBKDF2 salt (hex), the
master key checksum's salt (hex), the PBKDF2 rounds, the IV (hex) and the encrypted master key blob (hex).
The password gives a key (PBKDF2-HMAC-SHA1, 32 bytes) that decrypts the blob (AES-256-CBC) into
``[len][IV][len][master key][len][checksum]``; the checksum is PBKDF2 of the master key itself, so a wrong
password is told apart from a damaged file for sure. The body is AES-256-CBC under the master key.

The checksum has a quirk that must be reproduced exactly: Android turns the master key's bytes into Java
chars by a signed cast (a byte 0x80-0xFF becomes U+FF80-U+FFFF), and from format version 2 on the key
derivation encodes those chars as UTF-8; version 1 used an 8-bit encoding instead. Android itself tries the
UTF-8 form first and, for version 1 files only, the 8-bit form after it; so does this reader.

Files are read from the tar as a stream, never extracted (``tarstream``). A backup has no device identity:
the DEVICE layer says "Android backup".
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from safenet.evidence.archives.fields import leaf_name
from safenet.evidence.directory import open_readonly, regular_file
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    NotMyFormat,
    OpenContext,
    WarningSink,
)
from safenet.evidence.phone.identity import (
    Acquisition,
    AcquisitionRecord,
    DeviceIdentity,
    Platform,
    check_name,
    device_locator,
    file_layer,
    to_details,
)
from safenet.evidence.phone.tarstream import CHUNK, Body, BodyError, TarFile, TarStream, budget_for, list_files

MAGIC = b"ANDROID BACKUP\n"
VERSIONS = range(1, 6)
ENCRYPTION_NONE = "none"
ENCRYPTION_AES = "AES-256"
LABEL = "Android backup"
_LINE_MAX = 1024  # no header line of a real backup comes near this
_MAX_ROUNDS = 1_000_000  # Android writes 10 000; a hostile file must not make opening it take hours
_BLOCK = 16


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    compressed: bool
    encryption: str
    body_start: int  # offset of the first body byte in the file
    user_salt: bytes = b""
    checksum_salt: bytes = b""
    rounds: int = 0
    user_iv: bytes = b""
    master_blob: bytes = b""


def java_chars_utf8(raw: bytes) -> bytes:
    """Android's key checksum input (versions >= 2): each byte cast to a Java char with sign extension, as UTF-8."""
    return "".join(chr(b if b < 0x80 else 0xFF00 | b) for b in raw).encode("utf-8")


def _eight_bit(text: str) -> bytes:
    """Java's PBKDF2WithHmacSHA1And8bit: each char keeps its low 8 bits."""
    return bytes(ord(ch) & 0xFF for ch in text)


def _pbkdf2(secret: bytes, salt: bytes, rounds: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha1", secret, salt, rounds, 32)


def _unpad(block: bytes) -> bytes | None:
    pad = block[-1] if block else 0
    if not 1 <= pad <= _BLOCK or block[-pad:] != bytes([pad]) * pad:
        return None
    return block[:-pad]


def _parse_blob(blob: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The blob's (IV, master key, checksum), each stored after its one-byte length; None when malformed."""
    parts: list[bytes] = []
    at = 0
    for _ in range(3):
        if at >= len(blob):
            return None
        size = blob[at]
        parts.append(blob[at + 1 : at + 1 + size])
        if len(parts[-1]) != size:
            return None
        at += 1 + size
    return parts[0], parts[1], parts[2]


def _aes_cbc(key: bytes, iv: bytes) -> Any:
    """AES-256-CBC from pycryptodome, imported at the first encrypted backup: it loads cffi and its C parser
    (tens of milliseconds of every triage's start otherwise)."""
    from Crypto.Cipher import AES

    return AES.new(key, AES.MODE_CBC, iv)


def master_key(header: Header, password: str) -> tuple[bytes, bytes] | None:
    """The body's (key, IV) when ``password`` is right, else None (as Android's restore decides it)."""
    forms: list[tuple[Callable[[str], bytes], Callable[[bytes], bytes]]] = [
        (lambda text: text.encode("utf-8"), java_chars_utf8)
    ]
    if header.version == 1:
        forms.append((_eight_bit, lambda raw: raw))
    for password_bytes, checksum_input in forms:
        user_key = _pbkdf2(password_bytes(password), header.user_salt, header.rounds)
        plain = _unpad(_aes_cbc(user_key, header.user_iv).decrypt(header.master_blob))
        parts = _parse_blob(plain) if plain is not None else None
        if parts is None:
            continue
        iv, key, checksum = parts
        if hmac.compare_digest(_pbkdf2(checksum_input(key), header.checksum_salt, header.rounds), checksum):
            if len(key) != 32 or len(iv) != _BLOCK:
                return None
            return key, iv
    return None


def _line(fp: BinaryIO, what: str) -> str:
    raw = fp.readline(_LINE_MAX)
    if not raw.endswith(b"\n"):
        raise EvidenceError(f"the Android backup header is cut off or damaged at its {what} line")
    return raw[:-1].decode("ascii", "replace")


def _hex(fp: BinaryIO, what: str) -> bytes:
    text = _line(fp, what)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise EvidenceError(f"the Android backup header's {what} is not hexadecimal") from None


def read_header(fp: BinaryIO) -> Header:
    """Parse the header of a file that starts with the magic line (EvidenceError when it is unusable)."""
    fp.seek(len(MAGIC))
    version_text = _line(fp, "version")
    version = int(version_text) if version_text.isdigit() else 0
    if version not in VERSIONS:
        raise EvidenceError(f"Android backup format version {display_safe(version_text)!r} is not supported (1-5)")
    compressed_text = _line(fp, "compression")
    if compressed_text not in ("0", "1"):
        raise EvidenceError(f"the Android backup's compression flag {display_safe(compressed_text)!r} is not 0 or 1")
    encryption = _line(fp, "encryption")
    if encryption == ENCRYPTION_NONE:
        return Header(version, compressed_text == "1", encryption, fp.tell())
    if encryption != ENCRYPTION_AES:
        raise EvidenceError(f"Android backup encryption {display_safe(encryption)!r} is not supported")
    user_salt, checksum_salt = _hex(fp, "password salt"), _hex(fp, "key checksum salt")
    rounds_text = _line(fp, "PBKDF2 rounds")
    rounds = int(rounds_text) if rounds_text.isdigit() else 0
    if not 1 <= rounds <= _MAX_ROUNDS:
        raise EvidenceError(f"the Android backup's PBKDF2 round count {display_safe(rounds_text)!r} is implausible")
    user_iv, blob = _hex(fp, "IV"), _hex(fp, "master key")
    if len(user_iv) != _BLOCK or not blob or len(blob) % _BLOCK:
        raise EvidenceError("the Android backup header's IV or encrypted master key has an impossible length")
    return Header(
        version, compressed_text == "1", encryption, fp.tell(), user_salt, checksum_salt, rounds, user_iv, blob
    )


class _Decrypt:
    """AES-256-CBC over a stream; the last block is held back until the end, where its padding is removed."""

    def __init__(self, raw: BinaryIO, key: bytes, iv: bytes) -> None:
        self._raw = raw
        self._cipher = _aes_cbc(key, iv)
        self._held = b""
        self._out = b""
        self._ended = False

    def read(self, size: int) -> bytes:
        while not self._out and not self._ended:
            data = self._raw.read(CHUNK)
            if not data:
                self._ended = True
                self._out = self._final()
                break
            buf = self._held + data
            cut = len(buf) - (len(buf) % _BLOCK or _BLOCK)  # keep the last block: it may be the padding
            self._out, self._held = self._cipher.decrypt(buf[:cut]) if cut else b"", buf[cut:]
        out, self._out = self._out[:size], self._out[size:]
        return out

    def _final(self) -> bytes:
        if len(self._held) != _BLOCK:
            raise BodyError("the encrypted data is cut off (it does not end on a whole AES block)")
        plain = _unpad(self._cipher.decrypt(self._held))
        if plain is None:
            raise BodyError("the encrypted data is cut off or damaged (its final padding is wrong)")
        return plain


class _Inflate:
    """A zlib stream inflated with bounded output; one that stops before its end is reported as cut off."""

    def __init__(self, inner: Callable[[int], bytes]) -> None:
        self._inner = inner
        self._z = zlib.decompressobj()

    def read(self, size: int) -> bytes:
        while not self._z.eof:
            data = self._z.unconsumed_tail or self._inner(CHUNK)
            if not data:
                raise BodyError("the compressed data is cut off (the zlib stream does not end)")
            out = self._z.decompress(data, size)
            if out:
                return out
        return b""


class AndroidBackupEvidence:
    """An ``adb backup`` file as evidence: its apps' files and shared storage, addressed by tar member name."""

    NAME: ClassVar[str] = "android-backup"

    def __init__(self, path: Path, context: OpenContext | None = None) -> None:
        st = regular_file(path, f"{path} is not a regular file")
        self.path = path.resolve()
        self.size = st.st_size
        with open_readonly(self.path) as fp:
            if fp.read(len(MAGIC)) != MAGIC:
                raise NotMyFormat(f"{path} is not an Android backup")
            self.header = read_header(fp)
        self._key: tuple[bytes, bytes] | None = None
        if self.header.encryption == ENCRYPTION_AES:
            self._key = self._unlock((context or OpenContext()).passwords())
        self.locator = device_locator(str(self.path), LABEL, Acquisition.ANDROID_BACKUP)
        self._tar = TarStream(self._body)

    def _unlock(self, passwords: list[str]) -> tuple[bytes, bytes]:
        name = display_safe(self.path.name)
        if not passwords:
            raise EvidenceError(f"the Android backup {name} is encrypted: give its password with --password")
        for password in passwords:
            if (key := master_key(self.header, password)) is not None:
                return key
        raise EvidenceError(f"the password given does not open the encrypted Android backup {name}; check it")

    def _body(self) -> Body:
        raw = open_readonly(self.path)
        raw.seek(self.header.body_start)
        pull: Callable[[int], bytes] = raw.read
        if self._key is not None:
            pull = _Decrypt(raw, *self._key).read
        if self.header.compressed:
            pull = _Inflate(pull).read
        return Body(pull, budget_for(self.size), raw)

    def describe(self) -> EvidenceDescription:
        h = self.header
        how = ", ".join(
            ["compressed" if h.compressed else "not compressed", "AES-256 encrypted" if self._key else "not encrypted"]
        )
        note = "encrypted (AES-256); decrypted with the examiner's password" if self._key else ""
        record = AcquisitionRecord(Acquisition.ANDROID_BACKUP, f"adb backup (format version {h.version})", note)
        details = to_details(DeviceIdentity(platform=Platform.ANDROID.value), record)
        details.update({"size": str(self.size), "ab.version": str(h.version), "ab.compressed": str(int(h.compressed))})
        details["ab.encryption"] = h.encryption
        summary = f"Android backup {display_safe(str(self.path))} (version {h.version}, {how})"
        return EvidenceDescription(self.NAME, str(self.path), summary, details)

    def items(self, warn: WarningSink) -> Iterator[Item]:
        def problem(message: str) -> None:
            warn(EvidenceWarning("android-backup-damaged", f"the backup's data is {message}", self.locator))

        for entry in list_files(self._body(), problem):
            yield self._item(entry, warn)

    def _item(self, entry: TarFile, warn: WarningSink) -> Item:
        locator = self.locator.child(Layer(LayerKind.PATH, entry.name, offset=entry.offset))
        check_name(entry.name, entry.name, locator, warn)
        return Item(
            locator, leaf_name(entry.name, "/"), entry.size, modified=entry.modified, note=owner_note(entry.name)
        )

    def open(self, locator: Locator) -> BinaryIO:
        leaf = file_layer(self.locator, locator, self.path)
        return self._tar.open(leaf.value, leaf.offset if leaf.offset is not None else -1)


def owner_note(name: str) -> str | None:
    """An app's own file (``apps/<package>/...``) names its app, as phone items do."""
    parts = name.split("/")
    if len(parts) > 2 and parts[0] == "apps" and parts[1]:
        return f"owner app {display_safe(parts[1])}"
    return None
