"""Shareaza's library: Library1.dat / Library2.dat (Shareaza writes the two in turn and loads the one saved last;
each is read here, its records carrying its save time).

Layout as Shareaza's published source writes and reads it (Library.cpp CLibrary::Save / Serialize,
LibraryDictionary.cpp, LibraryMaps.cpp Serialize1, LibraryFolders.cpp, SharedFolder.cpp CLibraryFolder::Serialize,
SharedFile.cpp CLibraryFile::Serialize and CSharedSource::Serialize, XML.cpp CXMLElement::Serialize, Hashes
SerializeIn). The file is a FILETIME (the save time) and then an MFC CArchive:

- version (i32): 1 to 29, all read the way Shareaza 2.7 reads them (29 is the last Shareaza wrote; Envy and PeerProject
  write 1000 and are reported, not guessed at).
- dictionary word count (u32, version 29+), next file index (u32), three map sizes (u32 each, version 28+).
- the library folders: a count, then each folder: path (CString), shared (TRISTATE as i32: 0 inherit, 1 no,
  2 yes; a byte before version 5, 0 = no), expanded (BOOL, version 3+), its sub-folders (count, then each
  folder), its files (count, then each file).
- a file: name, index (u32), size (u64; u32 before version 17), last-write time (FILETIME), shared (as for a
  folder), virtual size (u64, version 21+; then the virtual base (u64) when non-zero), the hashes SHA-1 (20),
  Tiger tree root (24, version 8+), MD5 (16, 11+), ED2K (16, 11+), BitTorrent info-hash (20, 26+), each as a u32
  "present" flag then the bytes when present; verified (TRISTATE, 4+); the metadata schema URI (CString) and,
  when it is not empty, (before version 27: metadata-is-automatic (BOOL) and, when it is not, the metadata time)
  the metadata as a CXMLElement (name, value, attributes as a count of name/value pairs, child elements as a
  count of elements); from version 13: rating (i32), comments, share tags (CString, 16+), then since version 27
  metadata-is-automatic (BOOL) and metadata time (FILETIME), before it the metadata time only for automatic
  metadata of a rated or commented file; search hits (u32), uploads started (u32), cached preview (BOOL, 14+),
  bogus (BOOL, 20+); alternate sources (version 2+: a count of URL + last seen, a FILETIME since version 10,
  a u32 before).

MFC CArchive primitives are little-endian. A CString is a length prefix (u8; 0xFF then u16; 0xFFFF then u32),
preceded by FF FE FF when the characters are UTF-16 (the length then counts characters); a count is a u16, or
0xFFFF then a u32. What follows the folders (albums, download history, ghost files) is not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from safenet.analysis.p2p.binary import (
    MAX_DEPTH,
    UNSUPPORTED,
    Corrupt,
    Reader,
    Truncated,
    damage,
    filetime,
    iso,
)
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning, named

CLIENT = "shareaza"
ARTEFACT = "Library.dat"
VERSIONS = range(1, 30)

TRI_UNKNOWN, TRI_FALSE, TRI_TRUE = 0, 1, 2
SIZE_UNKNOWN = 0xFFFFFFFFFFFFFFFF

# (hash kind, bytes, first library version that stores it) in the order CLibraryFile::Serialize writes them.
HASHES = (("sha1", 20, 1), ("tth", 24, 8), ("md5", 16, 11), ("ed2k", 16, 11), ("btih", 20, 26))

MIN_STRING = 1
MIN_FOLDER = MIN_STRING + 4 + 4 + 2 + 2
MIN_FILE = MIN_STRING + 4 + 4 + 8 + 1 + 4 + MIN_STRING + 4 + 4  # the smallest record any version writes
MIN_SOURCE = MIN_STRING + 8
MIN_ATTRIBUTE = 2 * MIN_STRING
MIN_ELEMENT = 2 * MIN_STRING + 2 + 2


def read_cstring(r: Reader) -> str:
    """An MFC CString: ANSI (code page) or, after the FF FE FF marker, UTF-16LE."""
    width = 1
    length = r.u8()
    if length == 0xFF:
        length = r.u16()
        if length == 0xFFFE:
            width = 2
            length = r.u8()
            if length == 0xFF:
                length = r.u16()
        if length == 0xFFFF:
            length = r.u32()
            if length == 0xFFFFFFFF:
                length = r.u64()
    raw = r.take(r.count(length, width, "string length") * width)
    return raw.decode("utf-16-le", errors="replace") if width == 2 else raw.decode("cp1252", errors="replace")


def read_count(r: Reader) -> int:
    """CArchive::ReadCount: a u16, or 0xFFFF then a u32 (then a u64 when that is 0xFFFFFFFF, on 64-bit)."""
    count = r.u16()
    if count != 0xFFFF:
        return count
    count = r.u32()
    return r.u64() if count == 0xFFFFFFFF else count


def read_xml(r: Reader, depth: int = 0) -> tuple[str, dict[str, str]]:
    """A CXMLElement: its name and its own attributes (child elements are read past, not kept)."""
    if depth > MAX_DEPTH:
        raise Corrupt(f"metadata nested deeper than {MAX_DEPTH} elements at offset {r.pos}")
    name = read_cstring(r)
    read_cstring(r)  # the element's text
    attributes: dict[str, str] = {}
    declared = read_count(r)
    room = r.fitting(declared, MIN_ATTRIBUTE)
    for _ in range(room):
        key = read_cstring(r)
        attributes[key] = read_cstring(r)
    r.all_read(declared, room, MIN_ATTRIBUTE, "metadata attributes")
    declared = read_count(r)
    room = r.fitting(declared, MIN_ELEMENT)
    for _ in range(room):
        read_xml(r, depth + 1)
    r.all_read(declared, room, MIN_ELEMENT, "metadata elements")
    return name, attributes


@dataclass(frozen=True, slots=True)
class _Context:
    version: int
    saved: str
    folder: str
    shared: bool  # the folder's effective sharing (CLibraryFolder::IsShared)


def _tristate(r: Reader, version: int) -> int:
    """A sharing setting: a TRISTATE (i32) since version 5; before, a byte where 0 meant "not shared"."""
    if version >= 5:
        return r.i32()
    return TRI_UNKNOWN if r.u8() else TRI_FALSE


def _decide(setting: int, inherited: bool) -> bool:
    """CLibraryFile/CLibraryFolder::IsShared from what the file holds: the own setting, else the nearest folder's,
    else shared. (Shareaza also withholds files of offline folders and private torrents at run time.)"""
    return True if setting == TRI_TRUE else False if setting == TRI_FALSE else inherited


_SETTING = {TRI_UNKNOWN: "inherit", TRI_FALSE: "no", TRI_TRUE: "yes"}


class Library:
    """Library1.dat / Library2.dat: the files in Shareaza's library folders, shared or not."""

    NAME: ClassVar[str] = "shareaza-library"
    CLIENT: ClassVar[str] = CLIENT
    NAMES: ClassVar[tuple[str, ...]] = ("library1.dat", "library2.dat")

    def claims(self, name: str, head: bytes) -> bool:
        return named(name, self.NAMES) and 1 <= int.from_bytes(head[8:12], "little") <= 1000

    def parse(self, data: bytes, name: str) -> Iterator[P2PEntry]:
        r = Reader(data)
        counter = [0]
        try:
            saved = iso(filetime(r.u64()))
            version = r.i32()
            if version not in VERSIONS:
                yield P2PWarning(
                    UNSUPPORTED, f"{ARTEFACT}: version {version}; versions 1 to 29 (Shareaza's own) are read"
                )
                return
            if version >= 29:
                r.u32()  # dictionary word count
            r.u32()  # next file index
            if version >= 28:
                r.take(12)  # index, name and path map sizes
            declared = read_count(r)
            room = r.fitting(declared, MIN_FOLDER)
            for _ in range(room):
                yield from self._folder(r, _Context(version, saved, "", True), counter, 0)
            r.all_read(declared, room, MIN_FOLDER, "library folders")
        except (Truncated, Corrupt) as exc:
            yield damage(ARTEFACT, exc)

    def _folder(self, r: Reader, parent: _Context, counter: list[int], depth: int) -> Iterator[P2PRecord]:
        if depth > MAX_DEPTH:
            raise Corrupt(f"folders nested deeper than {MAX_DEPTH} at offset {r.pos}")
        v = parent.version
        path = read_cstring(r)
        setting = _tristate(r, v)
        if v >= 3:
            r.i32()  # expanded in the tree view
        here = _Context(v, parent.saved, path, _decide(setting, parent.shared))
        declared = read_count(r)
        room = r.fitting(declared, MIN_FOLDER)
        for _ in range(room):
            yield from self._folder(r, here, counter, depth + 1)
        r.all_read(declared, room, MIN_FOLDER, "sub-folders")
        declared = read_count(r)
        room = r.fitting(declared, MIN_FILE)
        for _ in range(room):
            yield self._file(r, here, counter[0])
            counter[0] += 1
        r.all_read(declared, room, MIN_FILE, "files")

    @staticmethod
    def _file(r: Reader, folder: _Context, index: int) -> P2PRecord:
        v = folder.version
        name = read_cstring(r)
        library_index = r.u32()
        size = r.u64() if v >= 17 else r.u32()
        modified = filetime(r.u64())
        setting = _tristate(r, v)
        if v >= 21 and r.u64():
            r.u64()  # virtual base: where a tagged media file's payload starts
        hashes: dict[str, bytes] = {}
        for kind, length, since in HASHES:
            if v >= since and r.u32():
                hashes[kind] = r.take(length)
        verified = r.i32() if v >= 4 else TRI_UNKNOWN
        extra: dict[str, str] = {}
        automatic = False  # CLibraryFile's constructor default, kept when the file has no metadata
        schema = read_cstring(r)
        if schema:
            if v < 27:
                automatic = bool(r.i32())
                if not automatic:
                    r.u64()  # metadata time
            _, attributes = read_xml(r)
            extra["schema"] = schema
            extra.update({f"metadata.{key}": value for key, value in attributes.items()})
        rating, comments, share_tags = 0, "", ""
        if v >= 13:
            rating = r.i32()
            comments = read_cstring(r)
            share_tags = read_cstring(r) if v >= 16 else ""
            if v >= 27:
                r.i32()  # metadata is automatic
                r.u64()  # metadata time
            elif automatic and (rating or comments):
                r.u64()  # metadata time, kept only for rated automatic metadata before version 27
        hits = r.u32()
        uploads = r.u32()
        if v >= 14:
            r.i32()  # cached preview
        bogus = r.i32() if v >= 20 else 0
        declared = read_count(r) if v >= 2 else 0
        room = r.fitting(declared, MIN_SOURCE)
        for _ in range(room):
            read_cstring(r)
            r.take(8 if v >= 10 else 4)  # last seen (a FILETIME since version 10)
        r.all_read(declared, room, MIN_SOURCE, "alternate sources")
        extra.update(
            {
                "library_index": str(library_index),
                "share_setting": _SETTING.get(setting, str(setting)),
                "search_hits": str(hits),
                "alternate_sources": str(declared),
                "library_saved": folder.saved,
            }
        )
        if modified is not None:
            extra["file_modified"] = iso(modified)
        if verified in (TRI_FALSE, TRI_TRUE):
            extra["download_verified"] = _SETTING[verified]
        if rating:
            extra["rating"] = str(rating)
        if comments:
            extra["comments"] = comments
        if share_tags:
            extra["share_tags"] = share_tags
        if bogus:
            extra["bogus"] = "marked bogus by the user"
        return P2PRecord(
            client=CLIENT,
            artefact=ARTEFACT,
            index=index,
            name=name,
            size=None if size == SIZE_UNKNOWN else size,
            hashes=hashes,
            shared=_decide(setting, folder.shared),
            accepted_requests=uploads,
            save_path=f"{folder.folder}\\{name}" if folder.folder else name,
            extra=extra,
        )


PARSERS = (Library(),)
