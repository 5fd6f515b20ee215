"""eMule's own files: known.met, *.part.met, cancelled.met, StoredSearches.met and AC_SearchStrings.dat.

Layouts as eMule's published source reads them (KnownFile.cpp, KnownFileList.cpp, PartFile.cpp, Packets.cpp for
tags, Opcodes.h for tag ids, SearchList.cpp and SearchParams.h for stored searches, CustomAutoComplete.cpp for
the search strings). All integers are little-endian; all times are UNIX seconds, UTC.

A tag is ``type`` (u8) then its name: when ``type & 0x80`` a one-byte id follows, otherwise a u16 name length and
the name (a length of 1 is again a one-byte id). Values by type: 0x01 hash (16 bytes), 0x02 string (u16 length),
0x03 u32, 0x04 float (4), 0x05 bool (1), 0x06 bool array (u16 bits, then bits/8+1 bytes), 0x07 blob (u32 length),
0x08 u16, 0x09 u8, 0x0A bsob (u8 length), 0x0B u64, 0x11..0x20 a string of 1..16 bytes with no length field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import ClassVar

from safenet.analysis.p2p.binary import (
    TRUNCATED,
    UNSUPPORTED,
    Corrupt,
    Reader,
    Truncated,
    damage,
    decode_text,
    iso,
    unix_time,
)
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning, SearchTerm, named

CLIENT = "emule"

MET_HEADER = 0x0E
MET_HEADER_I64TAGS = 0x0F
PARTFILE_VERSION = 0xE0
PARTFILE_SPLITTEDVERSION = 0xE1
PARTFILE_VERSION_LARGEFILE = 0xE2
CANCELLED_VERSION = 0x01
STOREDSEARCHES_VERSION = 1

# Tag ids (Opcodes.h).
FT_FILENAME = 0x01
FT_FILESIZE = 0x02
FT_LASTSEENCOMPLETE = 0x05
FT_TRANSFERRED = 0x08
FT_GAPSTART = 0x09
FT_GAPEND = 0x0A
FT_PARTFILENAME = 0x12
FT_STATUS = 0x14
FT_DL_ACTIVE_TIME = 0x23
FT_AICH_HASH = 0x27
FT_LASTSHARED = 0x34
FT_FILESIZE_HI = 0x3A
FT_ATTRANSFERRED = 0x50
FT_ATREQUESTED = 0x51
FT_ATACCEPTED = 0x52
FT_CATEGORY = 0x53
FT_ATTRANSFERREDHI = 0x54
FT_MEDIA_ARTIST = 0xD0
FT_MEDIA_ALBUM = 0xD1
FT_MEDIA_TITLE = 0xD2

_MEDIA_TAGS = {FT_MEDIA_ARTIST: "artist", FT_MEDIA_ALBUM: "album", FT_MEDIA_TITLE: "title"}

TAGTYPE_HASH = 0x01
TAGTYPE_STRING = 0x02
TAGTYPE_UINT32 = 0x03
TAGTYPE_FLOAT32 = 0x04
TAGTYPE_BOOL = 0x05
TAGTYPE_BOOLARRAY = 0x06
TAGTYPE_BLOB = 0x07
TAGTYPE_UINT16 = 0x08
TAGTYPE_UINT8 = 0x09
TAGTYPE_BSOB = 0x0A
TAGTYPE_UINT64 = 0x0B
TAGTYPE_STR1 = 0x11
TAGTYPE_STR16 = 0x20

MIN_TAG_SIZE = 3  # type, one-byte id, one-byte value
MIN_FILE_RECORD = 4 + 16 + 2 + 4  # date, ED2K hash, part-hash count, tag count
MIN_CANCELLED_RECORD = 16 + 1
MIN_SEARCH_RESULT = 16 + 4 + 2 + 4


@dataclass(frozen=True, slots=True)
class Tag:
    """One eMule tag: ``ident`` for a one-byte name, ``name`` (raw bytes) for a string name."""

    ident: int
    name: bytes
    value: int | str | bytes | None


def read_tag(r: Reader) -> Tag:
    kind = r.u8()
    if kind & 0x80:
        kind &= 0x7F
        ident, name = r.u8(), b""
    else:
        length = r.u16()
        raw = r.take(length)
        ident, name = (raw[0], b"") if length == 1 else (0, raw)
    value: int | str | bytes | None
    if kind == TAGTYPE_STRING:
        value = decode_text(r.take(r.u16()))
    elif TAGTYPE_STR1 <= kind <= TAGTYPE_STR16:
        value = decode_text(r.take(kind - TAGTYPE_STR1 + 1))
    elif kind == TAGTYPE_UINT32:
        value = r.u32()
    elif kind == TAGTYPE_UINT64:
        value = r.u64()
    elif kind == TAGTYPE_UINT16:
        value = r.u16()
    elif kind == TAGTYPE_UINT8:
        value = r.u8()
    elif kind == TAGTYPE_HASH:
        value = r.take(16)
    elif kind == TAGTYPE_BLOB:
        value = r.take(r.count(r.u32(), 1, "blob tag length"))
    elif kind == TAGTYPE_BSOB:
        value = r.take(r.u8())
    elif kind == TAGTYPE_FLOAT32:
        r.take(4)
        value = None
    elif kind == TAGTYPE_BOOL:
        value = r.u8()
    elif kind == TAGTYPE_BOOLARRAY:
        r.take(r.u16() // 8 + 1)
        value = None
    else:
        # eMule itself cannot step over a tag of unknown type: nothing after it can be trusted.
        raise Corrupt(f"unknown tag type 0x{kind:02x} at offset {r.pos}")
    return Tag(ident, name, value)


def read_tags(r: Reader, declared: int) -> list[Tag]:
    return [read_tag(r) for _ in range(r.count(declared, MIN_TAG_SIZE, "tag count"))]


@dataclass(slots=True)
class _FileTags:
    """The tags of one file record that Safenet reports, gathered in eMule's own reading order."""

    name: str | None = None
    size_lo: int | None = None
    size_hi: int = 0
    transferred_lo: int | None = None
    transferred_hi: int = 0
    requested: int | None = None
    accepted: int | None = None
    last_shared: int = 0
    last_seen_complete: int = 0
    aich: str = ""
    part_name: str = ""
    downloaded: int | None = None
    active_seconds: int | None = None
    category: int | None = None
    gaps: dict[int, list[int | None]] = field(default_factory=dict)
    media: dict[str, str] = field(default_factory=dict)

    def add(self, tag: Tag) -> None:
        v = tag.value
        if tag.name[:1] in (bytes([FT_GAPSTART]), bytes([FT_GAPEND])) and isinstance(v, int):
            # Gaps are named tags: 0x09 or 0x0A then the gap's number in decimal; the end is stored exclusive.
            try:
                key = int(tag.name[1:].decode("ascii"))
            except ValueError:
                return
            pair = self.gaps.setdefault(key, [None, None])
            pair[0 if tag.name[0] == FT_GAPSTART else 1] = v
            return
        if tag.name:
            return
        if isinstance(v, str):
            if tag.ident == FT_FILENAME and self.name is None:
                self.name = v  # eMule keeps the first name tag (a UTF-8 copy may precede the BOM one)
            elif tag.ident == FT_AICH_HASH:
                self.aich = v.upper()
            elif tag.ident == FT_PARTFILENAME:
                self.part_name = v
            elif tag.ident in _MEDIA_TAGS:
                self.media[_MEDIA_TAGS[tag.ident]] = v
        elif isinstance(v, int):
            self._add_int(tag.ident, v)

    def _add_int(self, ident: int, v: int) -> None:
        if ident == FT_FILESIZE:
            self.size_lo = v
        elif ident == FT_FILESIZE_HI:
            self.size_hi = v
        elif ident == FT_ATTRANSFERRED:
            self.transferred_lo = v
        elif ident == FT_ATTRANSFERREDHI:
            self.transferred_hi = v
        elif ident == FT_ATREQUESTED:
            self.requested = v
        elif ident == FT_ATACCEPTED:
            self.accepted = v
        elif ident == FT_LASTSHARED:
            self.last_shared = v
        elif ident == FT_LASTSEENCOMPLETE:
            self.last_seen_complete = v
        elif ident == FT_TRANSFERRED:
            self.downloaded = v
        elif ident == FT_DL_ACTIVE_TIME:
            self.active_seconds = v
        elif ident == FT_CATEGORY:
            self.category = v

    @property
    def size(self) -> int | None:
        if self.size_lo is None:
            return None
        return self.size_lo | (self.size_hi << 32) if self.size_lo < 1 << 32 else self.size_lo

    @property
    def uploaded(self) -> int | None:
        if self.transferred_lo is None:
            return None
        if self.transferred_lo >= 1 << 32:
            return self.transferred_lo
        return self.transferred_lo | (self.transferred_hi << 32)

    def extra(self) -> dict[str, str]:
        out = dict(self.media)
        if self.aich:
            out["aich"] = self.aich
        return out


def _read_hashset(r: Reader) -> tuple[bytes, int]:
    """The file's ED2K hash and its part hashes (only counted: they identify 9 500 KiB parts, not files)."""
    file_hash = r.take(16)
    parts = r.count(r.u16(), 16, "part hash count")
    r.take(parts * 16)
    return file_hash, parts


def _file_record(artefact: str, index: int, date: int, ed2k: bytes, parts: int, tags: _FileTags) -> P2PRecord:
    extra = tags.extra()
    if date:
        extra["file_modified"] = iso(unix_time(date))
    extra["part_hashes"] = str(parts)
    return P2PRecord(
        client=CLIENT,
        artefact=artefact,
        index=index,
        name=tags.name or "",
        size=tags.size,
        hashes={"ed2k": ed2k},
        uploaded_bytes=tags.uploaded,
        upload_requests=tags.requested,
        accepted_requests=tags.accepted,
        last_shared=unix_time(tags.last_shared),
        extra=extra,
    )


def _gather(r: Reader) -> _FileTags:
    tags = _FileTags()
    for tag in read_tags(r, r.u32()):
        tags.add(tag)
    return tags


class KnownMet:
    """known.met: every file eMule hashed (shared or downloaded), with its upload statistics."""

    NAME: ClassVar[str] = "emule-known-met"
    CLIENT: ClassVar[str] = CLIENT
    NAMES: ClassVar[tuple[str, ...]] = ("known.met",)

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and head[:1] in (bytes([MET_HEADER]), bytes([MET_HEADER_I64TAGS]))

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        r = Reader(data)
        try:
            header = r.u8()
            if header not in (MET_HEADER, MET_HEADER_I64TAGS):
                yield P2PWarning(UNSUPPORTED, f"known.met: header byte 0x{header:02x} is not 0x0e or 0x0f")
                return
            declared = r.u32()
            room = r.fitting(declared, MIN_FILE_RECORD)
            for index in range(room):
                date = r.u32()
                ed2k, parts = _read_hashset(r)
                yield _file_record("known.met", index, date, ed2k, parts, _gather(r))
            r.all_read(declared, room, MIN_FILE_RECORD, "known.met records")
        except (Truncated, Corrupt) as exc:
            yield damage("known.met", exc)


class PartMet:
    """*.part.met: a download in progress (name, size, ED2K hash, gaps still missing)."""

    NAME: ClassVar[str] = "emule-part-met"
    CLIENT: ClassVar[str] = CLIENT
    NAMES: ClassVar[tuple[str, ...]] = ("*.part.met", "*.part.met.bak")

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and head[:1] in (
            bytes([PARTFILE_VERSION]),
            bytes([PARTFILE_SPLITTEDVERSION]),
            bytes([PARTFILE_VERSION_LARGEFILE]),
        )

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        r = Reader(data)
        try:
            version = r.u8()
            # eDonkey's "new old" part files (00 00 02 01 at offset 24) and eMule's split layout (0xE1) are
            # older layouts than eMule 0.4x writes; they are named rather than guessed at.
            if version not in (PARTFILE_VERSION, PARTFILE_VERSION_LARGEFILE) or data[24:28] == b"\x00\x00\x02\x01":
                yield P2PWarning(UNSUPPORTED, f"part.met: version byte 0x{version:02x} is an older layout")
                return
            date = r.u32()
            ed2k, parts = _read_hashset(r)
            tags = _gather(r)
        except (Truncated, Corrupt) as exc:
            yield damage("part.met", exc)
            return
        record = _file_record("part.met", 0, date, ed2k, parts, tags)
        extra = dict(record.extra)
        missing = sum(end - start for start, end in tags.gaps.values() if start is not None and end is not None)
        extra["gaps"] = str(len(tags.gaps))
        extra["missing_bytes"] = str(max(missing, 0))
        if tags.downloaded is not None:
            extra["downloaded_bytes"] = str(tags.downloaded)
        if tags.active_seconds is not None:
            extra["download_active_seconds"] = str(tags.active_seconds)
        if tags.last_seen_complete:
            extra["last_seen_complete"] = iso(unix_time(tags.last_seen_complete))
        if tags.category is not None:
            extra["category"] = str(tags.category)
        yield replace(record, completed=False if tags.gaps else None, save_path=tags.part_name, extra=extra)


def cancelled_hash(seed: int, ed2k: bytes) -> bytes:
    """What cancelled.met (version 1) stores for a cancelled ED2K hash: MD5 of the u32 seed then the hash."""
    return hashlib.md5(seed.to_bytes(4, "little") + ed2k, usedforsecurity=False).digest()


class CancelledMet:
    """cancelled.met: downloads the user cancelled. Version 1 stores each ED2K hash salted with a per-install
    seed (``cancelled_hash``), so a record matches a known hash only by recomputing; the old layout stores the
    ED2K hash itself."""

    NAME: ClassVar[str] = "emule-cancelled-met"
    CLIENT: ClassVar[str] = CLIENT
    NAMES: ClassVar[tuple[str, ...]] = ("cancelled.met",)

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and head[:1] in (bytes([MET_HEADER]), bytes([MET_HEADER_I64TAGS]))

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        r = Reader(data)
        try:
            header = r.u8()
            seed: int | None = None
            if header == MET_HEADER_I64TAGS:
                version = r.u8()
                if version > CANCELLED_VERSION:
                    yield P2PWarning(UNSUPPORTED, f"cancelled.met: version {version} is newer than 1")
                    return
                seed = r.u32()
            elif header != MET_HEADER:
                yield P2PWarning(UNSUPPORTED, f"cancelled.met: header byte 0x{header:02x} is not 0x0e or 0x0f")
                return
            declared = r.u32()
            room = r.fitting(declared, MIN_CANCELLED_RECORD)
            for index in range(room):
                stored = r.take(16)
                tags = _FileTags()
                for tag in read_tags(r, r.u8()):
                    tags.add(tag)
                yield self._record(index, stored, seed, tags)
            r.all_read(declared, room, MIN_CANCELLED_RECORD, "cancelled.met records")
        except (Truncated, Corrupt) as exc:
            yield damage("cancelled.met", exc)

    @staticmethod
    def _record(index: int, stored: bytes, seed: int | None, tags: _FileTags) -> P2PRecord:
        extra = {"cancelled": "yes"}
        hashes: dict[str, bytes] = {}
        if seed is None:
            hashes["ed2k"] = stored
        else:
            extra["salted_hash"] = stored.hex()
            extra["seed"] = str(seed)
            extra["note"] = "eMule stores MD5(seed, ED2K hash), not the ED2K hash: match by recomputing"
        return P2PRecord(
            client=CLIENT,
            artefact="cancelled.met",
            index=index,
            name=tags.name or "",
            size=tags.size,
            hashes=hashes,
            completed=False,
            extra=extra,
        )


class StoredSearches:
    """StoredSearches.met: the searches open when eMule closed (the expression typed) and their results.

    The results are what the network offered, not files the user had: each record says so in ``extra``."""

    NAME: ClassVar[str] = "emule-stored-searches"
    CLIENT: ClassVar[str] = CLIENT
    NAMES: ClassVar[tuple[str, ...]] = ("storedsearches.met",)

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and head[:1] == bytes([MET_HEADER_I64TAGS])

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        r = Reader(data)
        result_index = 0
        try:
            if r.u8() != MET_HEADER_I64TAGS:
                yield P2PWarning(UNSUPPORTED, "StoredSearches.met: the header byte is not 0x0f")
                return
            version = r.u8()
            if version != STOREDSEARCHES_VERSION:
                yield P2PWarning(UNSUPPORTED, f"StoredSearches.met: version {version} is not 1")
                return
            for search in range(r.u16()):
                r.u32()  # search id
                r.u8()  # search type
                r.u8()  # "client shared files" flag
                r.take(r.u16())  # special title
                expression = decode_text(r.take(r.u16()))
                r.take(r.u16())  # file type
                yield SearchTerm(client=CLIENT, artefact="StoredSearches.met", index=search, term=expression)
                for _ in range(r.count(r.u32(), MIN_SEARCH_RESULT, "search result count")):
                    ed2k = r.take(16)
                    r.u32()  # client id
                    r.u16()  # client port
                    tags = _gather(r)
                    yield self._result(result_index, expression, ed2k, tags)
                    result_index += 1
        except (Truncated, Corrupt) as exc:
            yield damage("StoredSearches.met", exc)

    @staticmethod
    def _result(index: int, expression: str, ed2k: bytes, tags: _FileTags) -> P2PRecord:
        extra = tags.extra()
        extra["from"] = "search result"
        extra["note"] = "offered by the network for a search; not a file the user had"
        extra["search"] = expression
        return P2PRecord(
            client=CLIENT,
            artefact="StoredSearches.met",
            index=index,
            name=tags.name or "",
            size=tags.size,
            hashes={"ed2k": ed2k},
            extra=extra,
        )


class SearchStrings:
    """AC_SearchStrings.dat: the search box's autocomplete list, one search a line (UTF-16LE with a BOM since
    eMule's Unicode builds; UTF-8 or the ANSI code page before)."""

    NAME: ClassVar[str] = "emule-search-strings"
    CLIENT: ClassVar[str] = CLIENT
    NAMES: ClassVar[tuple[str, ...]] = ("ac_searchstrings.dat",)

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES)

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        if data.startswith(b"\xff\xfe"):
            body = data[2:]
            if len(body) % 2:
                yield P2PWarning(TRUNCATED, "AC_SearchStrings.dat: UTF-16 text ends in half a character")
                body = body[:-1]
            text = body.decode("utf-16-le", errors="replace")
        else:
            text = decode_text(data)
        index = 0
        for line in text.splitlines():
            term = line.strip(" \r\n")
            if term:
                yield SearchTerm(client=CLIENT, artefact="AC_SearchStrings.dat", index=index, term=term)
                index += 1


PARSERS = (KnownMet(), PartMet(), CancelledMet(), StoredSearches(), SearchStrings())
