"""Writers for the P2P clients' binary files, written from the formats' published descriptions, so the parser
tests have answer keys of their own making (benign names, synthetic hashes).

- eMule: the writers in eMule's source (KnownFile::WriteToFile, CPartFile::SavePartFile, CKnownFileList::Save
  for cancelled.met, CSearchList::StoreSearches with SSearchParams::StorePartially and
  CSearchFile::StoreToFile, CCustomAutoComplete::SaveList), tags as CTag::WriteTagToFile (old form: type, u16
  name length 1, id) and CTag::WriteNewEd2kTag (new form: type|0x80, id, short strings 0x11..0x20).
- Ares Galaxy: ShareH.dat / ShareL.dat as the Mobius Forensic Toolkit documents them from Ares' own
  helper_library_db.pas: a 14-byte signature, then per file a fixed header scrambled with key 13871 and a
  metadata block scrambled with key 13872 (out = in xor key>>8; key = (in_scrambled + key) * 23219 + 36126).
- Shareaza: Library1.dat / Library2.dat as CLibrary::Save writes them (a FILETIME, then an MFC CArchive of
  CLibrary::Serialize, version 29 or 27: dictionary, maps, folders with their files; see shareaza.py).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------------- eMule


def synthetic_hash(label: str, size: int) -> bytes:
    """A stand-in hash of ``size`` bytes: no real file has it."""
    return hashlib.sha256(label.encode()).digest()[:size]


def tag_old(ident: int, value: int | str | bytes, *, wide: bool = False) -> bytes:
    """CTag::WriteTagToFile: type, u16 name length (1), the id, the value (strings with a u16 length)."""
    return _tag(bytes([0]) + struct.pack("<H", 1) + bytes([ident]), value, wide=wide, short=False)


def tag_new(ident: int, value: int | str | bytes) -> bytes:
    """CTag::WriteNewEd2kTag: type|0x80, the id; integers in the smallest type, strings of 1..16 bytes short."""
    return _tag(bytes([0x80, ident]), value, wide=None, short=True)


def tag_named(name: bytes, value: int, *, wide: bool = False) -> bytes:
    """A tag with a string name (how part.met names its gap tags)."""
    return _tag(bytes([0]) + struct.pack("<H", len(name)) + name, value, wide=wide, short=False)


def _tag(prefix: bytes, value: int | str | bytes, *, wide: bool | None, short: bool) -> bytes:
    flag, rest = prefix[0], prefix[1:]
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if any(ord(c) > 127 for c in value):
            raw = b"\xef\xbb\xbf" + raw  # utf8strOptBOM
        if short and 1 <= len(raw) <= 16:
            return bytes([flag | (0x11 + len(raw) - 1)]) + rest + raw
        return bytes([flag | 0x02]) + rest + struct.pack("<H", len(raw)) + raw
    if isinstance(value, bytes):
        if len(value) == 16:
            return bytes([flag | 0x01]) + rest + value
        return bytes([flag | 0x07]) + rest + struct.pack("<I", len(value)) + value
    if wide is None:  # the smallest type that holds it
        for kind, fmt, limit in ((0x09, "<B", 0xFF), (0x08, "<H", 0xFFFF), (0x03, "<I", 0xFFFFFFFF)):
            if value <= limit:
                return bytes([flag | kind]) + rest + struct.pack(fmt, value)
        return bytes([flag | 0x0B]) + rest + struct.pack("<Q", value)
    if wide:
        return bytes([flag | 0x0B]) + rest + struct.pack("<Q", value)
    return bytes([flag | 0x03]) + rest + struct.pack("<I", value)


FT_FILENAME, FT_FILESIZE, FT_LASTSEENCOMPLETE, FT_TRANSFERRED = 0x01, 0x02, 0x05, 0x08
FT_PARTFILENAME, FT_DL_ACTIVE_TIME, FT_AICH_HASH, FT_LASTSHARED = 0x12, 0x23, 0x27, 0x34
FT_FILESIZE_HI, FT_ATTRANSFERRED, FT_ATREQUESTED, FT_ATACCEPTED = 0x3A, 0x50, 0x51, 0x52
FT_CATEGORY, FT_ATTRANSFERREDHI, FT_ULPRIORITY, FT_MEDIA_ARTIST = 0x53, 0x54, 0x19, 0xD0


@dataclass
class EmuleFile:
    """One known.met / part.met file record's fields."""

    name: str
    size: int
    date: int = 1_600_000_000
    parts: int = 0
    uploaded: int | None = None
    requested: int | None = None
    accepted: int | None = None
    last_shared: int | None = None
    aich: str = ""
    artist: str = ""
    label: str = ""

    @property
    def ed2k(self) -> bytes:
        return synthetic_hash("ed2k:" + (self.label or self.name), 16)

    def hashset(self) -> bytes:
        parts = b"".join(synthetic_hash(f"part:{self.name}:{i}", 16) for i in range(self.parts))
        return self.ed2k + struct.pack("<H", self.parts) + parts

    def stat_tags(self) -> list[bytes]:
        tags = []
        if self.uploaded is not None:
            tags += [tag_old(FT_ATTRANSFERRED, self.uploaded & 0xFFFFFFFF)]
            tags += [tag_old(FT_ATTRANSFERREDHI, self.uploaded >> 32)]
        if self.requested is not None:
            tags.append(tag_old(FT_ATREQUESTED, self.requested))
        if self.accepted is not None:
            tags.append(tag_old(FT_ATACCEPTED, self.accepted))
        return tags

    def known_tags(self, *, large: bool) -> list[bytes]:
        tags = [tag_old(FT_FILENAME, self.name)]
        if large:
            tags.append(tag_old(FT_FILESIZE, self.size, wide=True))
        else:
            tags += [tag_old(FT_FILESIZE, self.size & 0xFFFFFFFF), tag_old(FT_FILESIZE_HI, self.size >> 32)]
        if self.aich:
            tags.append(tag_old(FT_AICH_HASH, self.aich))
        if self.last_shared is not None:
            tags.append(tag_old(FT_LASTSHARED, self.last_shared))
        tags += self.stat_tags()
        tags.append(tag_old(FT_ULPRIORITY, 5))
        if self.artist:
            tags.append(tag_old(FT_MEDIA_ARTIST, self.artist))
        return tags


def known_met(files: list[EmuleFile], *, header: int = 0x0F, declared: int | None = None) -> bytes:
    """known.met as CKnownFileList::Save and CKnownFile::WriteToFile write it."""
    out = bytearray([header]) + struct.pack("<I", len(files) if declared is None else declared)
    for f in files:
        tags = f.known_tags(large=header == 0x0F and f.size >= 1 << 32)
        out += struct.pack("<I", f.date) + f.hashset() + struct.pack("<I", len(tags)) + b"".join(tags)
    return bytes(out)


def record_offsets(data: bytes, first: int, files: list[EmuleFile]) -> list[int]:
    """Where each known.met record starts (for truncating a file at known points)."""
    offsets, pos = [], first
    for f in files:
        offsets.append(pos)
        tags = f.known_tags(large=data[0] == 0x0F and f.size >= 1 << 32)
        pos += 4 + len(f.hashset()) + 4 + sum(len(t) for t in tags)
    return offsets


@dataclass
class PartFile:
    file: EmuleFile
    part_name: str = "001.part"
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (start, end exclusive)
    downloaded: int = 0
    active_seconds: int = 0
    last_seen_complete: int = 0
    category: int = 0


def part_met(part: PartFile, *, version: int = 0xE0) -> bytes:
    """*.part.met as CPartFile::SavePartFile writes it (gap tags named 0x09/0x0A + the gap number)."""
    f = part.file
    large = version == 0xE2
    tags = [
        tag_old(FT_FILENAME, f.name),
        tag_old(FT_PARTFILENAME, part.part_name),
        tag_old(FT_FILESIZE, f.size, wide=large),
        tag_old(FT_TRANSFERRED, part.downloaded, wide=large),
        tag_old(FT_DL_ACTIVE_TIME, part.active_seconds),
        tag_old(FT_LASTSEENCOMPLETE, part.last_seen_complete),
        tag_old(FT_CATEGORY, part.category),
        *f.stat_tags(),
    ]
    for i, (start, end) in enumerate(part.gaps):
        number = str(i).encode()
        tags += [tag_named(b"\x09" + number, start, wide=large), tag_named(b"\x0a" + number, end, wide=large)]
    return bytes([version]) + struct.pack("<I", f.date) + f.hashset() + struct.pack("<I", len(tags)) + b"".join(tags)


def cancelled_met(
    ed2k_hashes: list[bytes], *, seed: int | None = 0x1234ABCD, names: dict[int, str] | None = None
) -> bytes:
    """cancelled.met as CKnownFileList::Save writes it (version 1, salted); ``seed=None`` writes the old layout
    (header 0x0E, the ED2K hashes themselves). ``names`` adds a name tag to some records (a later version's
    extension the format leaves room for)."""
    names = names or {}
    out = bytearray([0x0E]) if seed is None else bytearray([0x0F, 0x01]) + struct.pack("<I", seed)
    out += struct.pack("<I", len(ed2k_hashes))
    for i, h in enumerate(ed2k_hashes):
        stored = h if seed is None else hashlib.md5(struct.pack("<I", seed) + h, usedforsecurity=False).digest()
        tags = [tag_new(FT_FILENAME, names[i])] if i in names else []
        out += stored + bytes([len(tags)]) + b"".join(tags)
    return bytes(out)


@dataclass
class StoredSearch:
    expression: str
    results: list[EmuleFile] = field(default_factory=list)
    search_id: int = 0x80000001
    kind: int = 1


def stored_searches(searches: list[StoredSearch]) -> bytes:
    """StoredSearches.met as CSearchList::StoreSearches writes it (result tags in the new form)."""
    out = bytearray([0x0F, 0x01]) + struct.pack("<H", len(searches))
    for s in searches:
        out += struct.pack("<IBB", s.search_id, s.kind, 0)
        for text in ("", s.expression, "Image"):
            raw = text.encode("utf-8")
            out += struct.pack("<H", len(raw)) + raw
        out += struct.pack("<I", len(s.results))
        for f in s.results:
            tags = [tag_new(FT_FILENAME, f.name), tag_new(FT_FILESIZE, f.size), tag_new(0x15, 3)]
            out += f.ed2k + struct.pack("<IH", 0x0A000001, 4662) + struct.pack("<I", len(tags)) + b"".join(tags)
    return bytes(out)


def search_strings(terms: list[str], *, encoding: str = "utf-16") -> bytes:
    """AC_SearchStrings.dat: the BOM 0xFEFF then each term and CR LF (UTF-16LE), or plain UTF-8 lines."""
    if encoding == "utf-16":
        return b"\xff\xfe" + "".join(t + "\r\n" for t in terms).encode("utf-16-le")
    return "".join(t + "\n" for t in terms).encode("utf-8")


# ---------------------------------------------------------------------------------------------------- Ares


def ares_scramble(plain: bytes, key: int) -> bytes:
    """The inverse of Ares' descrambler: each output byte feeds the key schedule, as Ares writes it."""
    out = bytearray()
    for p in plain:
        c = p ^ (key >> 8)
        out.append(c)
        key = ((c + key) * 23219 + 36126) & 0xFFFF
    return bytes(out)


def ares_fields(fields: list[tuple[int, bytes]]) -> bytes:
    return b"".join(bytes([kind]) + struct.pack("<H", len(value)) + value for kind, value in fields)


@dataclass
class AresFile:
    label: str
    path: str = ""
    size: int = 0
    shared: bool = True
    media_type: int = 7
    title: str = ""
    artist: str = ""
    album: str = ""
    completed: int = 0  # UNIX time the download completed (ShareH field 11)

    @property
    def sha1(self) -> bytes:
        return synthetic_hash("sha1:" + self.label, 20)

    def meta_h(self) -> bytes:
        fields = [(2, self.title.encode()), (3, self.artist.encode()), (4, self.album.encode())]
        if self.completed:
            fields.append((11, struct.pack("<I", self.completed)))
        return ares_fields([(k, v) for k, v in fields if v])

    def meta_l(self) -> bytes:
        fields = [(1, self.path.encode()), (2, self.title.encode()), (3, self.artist.encode())]
        return ares_fields([(k, v) for k, v in fields if v])


def share_h(files: list[AresFile]) -> bytes:
    out = bytearray(b"__ARESDB1.02H_")
    for f in files:
        meta = f.meta_h()
        head = f.sha1 + bytes([1 if f.shared else 0]) + struct.pack("<H", len(meta))
        out += ares_scramble(head, 13871) + ares_scramble(meta, 13872)
    return bytes(out)


def share_l(files: list[AresFile]) -> bytes:
    out = bytearray(b"__ARESDB1.04L_")
    for f in files:
        meta = f.meta_l()
        head = (
            f.sha1
            + bytes([f.media_type])
            + b"\x00" * 4
            + struct.pack("<QIII", f.size, 0, 0, 0)
            + struct.pack("<H", len(meta))
        )
        out += ares_scramble(head, 13871) + ares_scramble(meta, 13872)
    return bytes(out)


# ---------------------------------------------------------------------------------------------------- Shareaza

TRI_UNKNOWN, TRI_FALSE, TRI_TRUE = 0, 1, 2


def cstring(text: str, *, unicode: bool = True) -> bytes:
    """MFC's AfxWriteStringLength then the characters: FF FE FF marks UTF-16; lengths count characters."""
    raw = text.encode("utf-16-le") if unicode else text.encode("cp1252")
    n = len(text)
    prefix = b"\xff\xfe\xff" if unicode else b""
    if n < 0xFF:
        return prefix + bytes([n]) + raw
    if n < 0xFFFE:
        return prefix + b"\xff" + struct.pack("<H", n) + raw
    return prefix + b"\xff\xff\xff" + struct.pack("<I", n) + raw


def count(n: int) -> bytes:
    """CArchive::WriteCount."""
    return struct.pack("<H", n) if n < 0xFFFF else b"\xff\xff" + struct.pack("<I", n)


@dataclass
class ShareazaFile:
    name: str
    size: int
    shared: int = TRI_UNKNOWN
    modified: int = 0x01D5_0000_0000_0000  # a FILETIME
    hash_kinds: tuple[str, ...] = ("sha1", "tth", "md5", "ed2k", "btih")
    verify: int = TRI_UNKNOWN
    schema: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    metadata_auto: bool = True
    rating: int = 0
    comments: str = ""
    hits: int = 0
    uploads: int = 0
    sources: list[str] = field(default_factory=list)
    virtual_size: int = 0
    xml_depth: int = 1  # how deep the metadata's one child element chain goes

    def hash(self, kind: str) -> bytes:
        return synthetic_hash(f"{kind}:{self.name}", {"sha1": 20, "tth": 24, "md5": 16, "ed2k": 16, "btih": 20}[kind])

    def serialize(self, version: int = 29) -> bytes:
        """CLibraryFile::Serialize as Shareaza 2.7's loader expects each version (SharedFile.cpp)."""
        v = version
        out = bytearray(cstring(self.name) + struct.pack("<I", 7))
        out += struct.pack("<Q", self.size) if v >= 17 else struct.pack("<I", self.size & 0xFFFFFFFF)
        out += struct.pack("<Q", self.modified) + tristate(self.shared, v)
        if v >= 21:
            out += struct.pack("<Q", self.virtual_size)
            if self.virtual_size:
                out += struct.pack("<Q", 128)
        for kind, since in (("sha1", 1), ("tth", 8), ("md5", 11), ("ed2k", 11), ("btih", 26)):
            if v >= since:
                out += struct.pack("<I", 1) + self.hash(kind) if kind in self.hash_kinds else struct.pack("<I", 0)
        if v >= 4:
            out += struct.pack("<i", self.verify)
        out += cstring(self.schema)
        if self.schema:
            if v < 27:
                out += struct.pack("<i", int(self.metadata_auto))
                if not self.metadata_auto:
                    out += struct.pack("<Q", 0x01D6_0000_0000_0000)
            # CXMLElement: name, value, attributes, then one chain of child elements with no attributes.
            out += cstring("image") + cstring("")
            out += count(len(self.metadata))
            for key, value in self.metadata.items():
                out += cstring(key) + cstring(value)
            child = cstring("note") + cstring("inner text") + count(0) + count(0)
            for _ in range(self.xml_depth - 1):
                child = cstring("note") + cstring("") + count(0) + count(1) + child
            out += count(1) + child
        if v >= 13:
            out += struct.pack("<i", self.rating) + cstring(self.comments)
            if v >= 16:
                out += cstring("")
            if v >= 27:
                out += struct.pack("<iQ", 1, 0x01D6_0000_0000_0000)
            elif self.schema and self.metadata_auto and (self.rating or self.comments):
                out += struct.pack("<Q", 0x01D6_0000_0000_0000)
        out += struct.pack("<II", self.hits, self.uploads)
        if v >= 14:
            out += struct.pack("<i", 0)
        if v >= 20:
            out += struct.pack("<i", 0)
        if v >= 2:
            out += count(len(self.sources))
            for url in self.sources:
                out += cstring(url) + (struct.pack("<Q", 0x01D7_0000_0000_0000) if v >= 10 else struct.pack("<I", 5))
        return bytes(out)


def tristate(value: int, version: int) -> bytes:
    """A TRISTATE (i32) since version 5; before, a byte (0 = not shared, otherwise "inherit")."""
    return struct.pack("<i", value) if version >= 5 else bytes([0 if value == TRI_FALSE else 1])


@dataclass
class ShareazaFolder:
    path: str
    shared: int = TRI_UNKNOWN
    folders: list[ShareazaFolder] = field(default_factory=list)
    files: list[ShareazaFile] = field(default_factory=list)

    def serialize(self, version: int = 29) -> bytes:
        """CLibraryFolder::Serialize: path, sharing, expanded (3+), sub-folders first, then files."""
        out = bytearray(cstring(self.path) + tristate(self.shared, version))
        if version >= 3:
            out += struct.pack("<i", 1)
        out += count(len(self.folders)) + b"".join(f.serialize(version) for f in self.folders)
        out += count(len(self.files)) + b"".join(f.serialize(version) for f in self.files)
        return bytes(out)


SHAREAZA_SAVED = 0x01D8_1234_5678_9ABC


def library_dat(folders: list[ShareazaFolder], *, version: int = 29) -> bytes:
    """CLibrary::Save: the save FILETIME, then CLibrary::Serialize up to and including the folders (the album
    root, history and ghost files that follow are left out: the parser does not read them)."""
    out = bytearray(struct.pack("<Qi", SHAREAZA_SAVED, version))
    if version >= 29:
        out += struct.pack("<I", 1234)
    out += struct.pack("<I", 99)
    if version >= 28:
        out += struct.pack("<III", 10, 10, 10)
    out += count(len(folders)) + b"".join(f.serialize(version) for f in folders)
    return bytes(out)
