"""Ares Galaxy's library databases: ShareH.dat (files shared, by SHA-1) and ShareL.dat (the library's cached
file details: path, size, title, artist).

Layout as Ares' helper_library_db.pas writes them (documented by the Mobius Forensic Toolkit's Ares module and
forensic write-ups): a 14-byte signature ("__ARESDB1.02H_" / "__ARESDB1.04L_"), then per file a fixed header
scrambled with key 13871 and a metadata block of the length the header names, scrambled with key 13872. The
scrambler works byte by byte: plain = scrambled xor (key >> 8); key = (scrambled + key) * 23219 + 36126 (16-bit).
A metadata block is fields of type (u8), length (u16) and value.

ShareH header (23 bytes): SHA-1 (20), shared flag (1, 1 = shared), metadata length (u16). Fields: 2 title,
3 artist, 4 album, 5 category, 6 year, 8 language, 9 URL, 10 comment, 11 download completed (UNIX time, u32),
17 marked corrupt.
ShareL header (47 bytes): SHA-1 (20), media type (1), 4 unknown bytes, size (u64), three u32 parameters,
metadata length (u16). Fields: 1 path, 2 title, 3 artist, 4 album, 5 category, 6 year, 7 video info,
8 language, 9 URL, 10 comment, 17 marked corrupt, 18 hash of the file's part hashes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from safenet.analysis.p2p.binary import UNSUPPORTED, Corrupt, Reader, Truncated, damage, iso, unix_time
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning, named

CLIENT = "ares"

HEADER_KEY = 13871
METADATA_KEY = 13872
SIGNATURE_H = b"__ARESDB1.02H_"
SIGNATURE_L = b"__ARESDB1.04L_"

_TEXT_FIELDS = {
    2: "title",
    3: "artist",
    4: "album",
    5: "category",
    6: "year",
    7: "video",
    8: "language",
    9: "url",
    10: "comment",
}
_MEDIA_TYPES = {0: "other", 1: "audio", 2: "audio", 3: "software", 4: "audio", 5: "video", 6: "document", 7: "image"}


def descramble(data: bytes, key: int) -> bytes:
    out = bytearray(len(data))
    for i, c in enumerate(data):
        out[i] = c ^ (key >> 8)
        key = ((c + key) * 23219 + 36126) & 0xFFFF
    return bytes(out)


def _fields(block: bytes) -> dict[int, bytes]:
    """A metadata block's fields; a field running past the block's end is damage and raises."""
    r = Reader(block)
    fields: dict[int, bytes] = {}
    while r.remaining:
        kind = r.u8()
        fields[kind] = r.take(r.u16())
    return fields


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _extra(fields: dict[int, bytes]) -> dict[str, str]:
    extra = {name: _text(fields[kind]) for kind, name in _TEXT_FIELDS.items() if kind in fields}
    if 17 in fields:
        extra["corrupt"] = "marked corrupt by Ares"
    return extra


class _ShareDb:
    """The walk both files share: signature, then header + metadata per file until the data ends."""

    SIGNATURE: ClassVar[bytes]
    HEADER_SIZE: ClassVar[int]
    FILE_NAME: ClassVar[str]
    NAMES: ClassVar[tuple[str, ...]]

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and head.startswith(b"__ARESDB")

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        if not data.startswith(self.SIGNATURE):
            yield P2PWarning(UNSUPPORTED, f"{self.FILE_NAME}: signature {data[:14]!r} is not {self.SIGNATURE.decode()}")
            return
        r = Reader(data, len(self.SIGNATURE))
        index = 0
        try:
            while r.remaining:
                header = Reader(descramble(r.take(self.HEADER_SIZE), HEADER_KEY))
                fixed = header.take(self.HEADER_SIZE - 2)
                block = descramble(r.take(header.u16()), METADATA_KEY)
                yield self.record(index, fixed, _fields(block))
                index += 1
        except (Truncated, Corrupt) as exc:
            yield damage(self.FILE_NAME, exc)

    def record(self, index: int, fixed: bytes, fields: dict[int, bytes]) -> P2PRecord:
        raise NotImplementedError


class ShareH(_ShareDb):
    NAME: ClassVar[str] = "ares-shareh"
    CLIENT: ClassVar[str] = CLIENT
    SIGNATURE = SIGNATURE_H
    HEADER_SIZE = 23
    FILE_NAME = "ShareH.dat"
    NAMES: ClassVar[tuple[str, ...]] = ("shareh.dat",)

    def record(self, index: int, fixed: bytes, fields: dict[int, bytes]) -> P2PRecord:
        extra = _extra(fields)
        completed = None
        if 11 in fields and len(fields[11]) >= 4:
            completed = unix_time(int.from_bytes(fields[11][:4], "little"))
            extra["download_completed"] = iso(completed)
        return P2PRecord(
            client=CLIENT,
            artefact=self.FILE_NAME,
            index=index,
            name=extra.get("title", ""),
            hashes={"sha1": fixed[:20]},
            shared=fixed[20] == 1,
            completed=True if completed is not None else None,
            completed_at=completed,
            extra=extra,
        )


class ShareL(_ShareDb):
    NAME: ClassVar[str] = "ares-sharel"
    CLIENT: ClassVar[str] = CLIENT
    SIGNATURE = SIGNATURE_L
    HEADER_SIZE = 47
    FILE_NAME = "ShareL.dat"
    NAMES: ClassVar[tuple[str, ...]] = ("sharel.dat",)

    def record(self, index: int, fixed: bytes, fields: dict[int, bytes]) -> P2PRecord:
        r = Reader(fixed, 20)
        media = _MEDIA_TYPES.get(r.u8(), "other")
        r.take(4)
        size = r.u64()
        extra = _extra(fields)
        extra["media_type"] = media
        if 18 in fields:
            extra["part_hashes_hash"] = fields[18].hex()
        path = _text(fields[1]) if 1 in fields else ""
        name = path.replace("/", "\\").rsplit("\\", 1)[-1] if path else extra.get("title", "")
        return P2PRecord(
            client=CLIENT,
            artefact=self.FILE_NAME,
            index=index,
            name=name,
            size=size,
            hashes={"sha1": fixed[:20]},
            save_path=path,
            extra=extra,
        )


PARSERS = (ShareH(), ShareL())
