"""Shareaza's Library1.dat / Library2.dat built from the format description (builders_binary) read back field
by field; damaged copies end in the records before the damage and a warning."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from safenet.analysis.p2p import registry
from safenet.analysis.p2p.binary import Reader
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning
from safenet.analysis.p2p.shareaza import Library, read_cstring
from tests.analysis.p2p import builders_binary as b

pytestmark = pytest.mark.timeout(60)

BEACH = b.ShareazaFile(
    "beach é.jpg",
    123_456,
    verify=b.TRI_TRUE,
    schema="http://www.shareaza.com/schemas/image.xsd",
    metadata={"title": "Beach", "width": "640"},
    rating=4,
    comments="taken on holiday",
    hits=12,
    uploads=3,
    sources=["http://192.0.2.1:6346/uri-res/N2R?urn:sha1:X", "http://192.0.2.2:6346/"],
)
UNHASHED = b.ShareazaFile("new file.bin", 0xFFFFFFFFFFFFFFFF, hash_kinds=())
VIDEO = b.ShareazaFile("walk.mkv", 5_000_000_000, hash_kinds=("sha1", "ed2k"), virtual_size=4_999_000_000)
DIARY = b.ShareazaFile(
    "diary.txt", 100, schema="http://www.shareaza.com/schemas/document.xsd", metadata_auto=False, hits=1
)
POSTCARD = b.ShareazaFile("postcard.jpg", 2000, shared=b.TRI_TRUE, uploads=9)
SONG = b.ShareazaFile("song.mp3", 4000, shared=b.TRI_FALSE)

ROOT, PRIVATE, SHARED = "C:\\Users\\u\\Downloads", "C:\\Users\\u\\Downloads\\private", "D:\\Shared"
LIBRARY = [
    b.ShareazaFolder(
        ROOT,
        b.TRI_TRUE,
        folders=[b.ShareazaFolder(PRIVATE, b.TRI_FALSE, files=[DIARY, POSTCARD])],
        files=[BEACH, UNHASHED, VIDEO],
    ),
    b.ShareazaFolder(SHARED, files=[SONG]),
]
# (file, its folder's path, the settings from the root down to the file) in the order the library stores them:
# sub-folders before files.
EXPECTED = [
    (DIARY, PRIVATE, (b.TRI_TRUE, b.TRI_FALSE, DIARY.shared)),
    (POSTCARD, PRIVATE, (b.TRI_TRUE, b.TRI_FALSE, POSTCARD.shared)),
    (BEACH, ROOT, (b.TRI_TRUE, BEACH.shared)),
    (UNHASHED, ROOT, (b.TRI_TRUE, UNHASHED.shared)),
    (VIDEO, ROOT, (b.TRI_TRUE, VIDEO.shared)),
    (SONG, SHARED, (b.TRI_UNKNOWN, SONG.shared)),
]
VERSIONS = [1, 2, 3, 4, 5, 8, 10, 11, 13, 14, 16, 17, 20, 21, 26, 27, 28, 29]


def records(entries: list[P2PEntry]) -> list[P2PRecord]:
    return [e for e in entries if isinstance(e, P2PRecord)]


def codes(entries: list[P2PEntry]) -> list[str]:
    return [e.code for e in entries if isinstance(e, P2PWarning)]


def filetime(value: int) -> str:
    return (datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=value // 10)).isoformat()


def as_stored(setting: int, version: int) -> int:
    """Before version 5 a setting is a byte: "not shared", or "inherit" for anything else."""
    return setting if version >= 5 or setting == b.TRI_FALSE else b.TRI_UNKNOWN


def effective(settings: tuple[int, ...], version: int) -> bool:
    """Shareaza's rule: the file's own setting, else the nearest folder's up the tree, else shared."""
    for setting in reversed([as_stored(s, version) for s in settings]):
        if setting != b.TRI_UNKNOWN:
            return setting == b.TRI_TRUE
    return True


def check(record: P2PRecord, index: int, expected: tuple[b.ShareazaFile, str, tuple[int, ...]], v: int = 29) -> None:
    f, folder, settings = expected
    since = {"sha1": 1, "tth": 8, "md5": 11, "ed2k": 11, "btih": 26}
    assert (record.client, record.artefact, record.index) == ("shareaza", "Library.dat", index)
    assert record.name == f.name
    if v >= 17:
        assert record.size == (None if f.size == 0xFFFFFFFFFFFFFFFF else f.size)
    else:
        assert record.size == f.size & 0xFFFFFFFF
    assert record.hashes == {kind: f.hash(kind) for kind in f.hash_kinds if v >= since[kind]}
    assert record.shared is effective(settings, v)
    assert record.accepted_requests == f.uploads
    assert record.upload_requests is None
    assert record.save_path == folder + "\\" + f.name
    assert record.extra["search_hits"] == str(f.hits)
    assert record.extra["alternate_sources"] == str(len(f.sources) if v >= 2 else 0)
    assert record.extra["file_modified"] == filetime(f.modified)
    assert record.extra["library_saved"] == filetime(b.SHAREAZA_SAVED)
    assert record.extra["share_setting"] == {0: "inherit", 1: "no", 2: "yes"}[as_stored(f.shared, v)]
    assert record.extra.get("comments", "") == (f.comments if v >= 13 else "")
    assert record.extra.get("rating", "0") == (str(f.rating) if v >= 13 else "0")
    assert record.extra.get("download_verified", "") == ({1: "no", 2: "yes"}.get(f.verify, "") if v >= 4 else "")
    assert record.extra.get("schema", "") == f.schema
    for key, value in f.metadata.items():
        assert record.extra[f"metadata.{key}"] == value


@pytest.mark.parametrize("version", VERSIONS)
def test_library_every_field(version: int) -> None:
    data = b.library_dat(LIBRARY, version=version)
    for name in ("Library1.dat", "library2.dat"):
        assert isinstance(registry.claim(name, data[:64]), Library)
    entries = list(Library().parse(data, "Library1.dat"))
    assert codes(entries) == []
    got = records(entries)
    assert len(got) == len(EXPECTED)
    for i, (record, expected) in enumerate(zip(got, EXPECTED, strict=True)):
        check(record, i, expected, version)
    if version >= 8:
        assert got[2].hashes["tth"].hex() == b.synthetic_hash("tth:beach é.jpg", 24).hex()


def test_sharing_follows_the_folder_tree() -> None:
    got = records(list(Library().parse(b.library_dat(LIBRARY), "Library1.dat")))
    assert [(r.name, r.shared) for r in got] == [
        ("diary.txt", False),  # inherits the private folder's "no"
        ("postcard.jpg", True),  # its own "yes" overrides the folder
        ("beach é.jpg", True),
        ("new file.bin", True),
        ("walk.mkv", True),
        ("song.mp3", False),  # its own "no" in a folder that inherits "shared"
    ]


def test_cstring_forms() -> None:
    long = "x" * 300
    for text, unicode in [("", True), ("abc", False), (long, True), (long, False), ("ümlaut", True)]:
        assert read_cstring(Reader(b.cstring(text, unicode=unicode))) == text


@pytest.mark.parametrize("version", [0, -1, 30, 1000])
def test_other_versions_are_unsupported(version: int) -> None:
    data = b.library_dat(LIBRARY, version=29)
    data = data[:8] + struct.pack("<i", version) + data[12:]
    assert codes(list(Library().parse(data, "Library1.dat"))) == ["p2p-unsupported-version"]


def test_truncated_at_several_points() -> None:
    data = b.library_dat(LIBRARY)
    whole = len(b.library_dat([]))
    ends = []
    for cut in range(whole, len(data)):
        got = len(records(list(Library().parse(data[:cut], "Library1.dat"))))
        ends.append(got)
    # The count of whole records never goes down as the cut moves on, and reaches 5 (all but the last file).
    assert ends == sorted(ends)
    assert ends[-1] == 5
    for cut in (3, 10, whole + 5, len(data) // 2, len(data) - 1):
        entries = list(Library().parse(data[:cut], "Library1.dat"))
        assert codes(entries) == ["p2p-truncated"], cut
        for i, record in enumerate(records(entries)):
            check(record, i, EXPECTED[i])


def test_counts_past_the_end() -> None:
    data = b.library_dat(LIBRARY[1:])
    files_at = len(data) - len(SONG.serialize()) - 2
    assert data[files_at : files_at + 2] == b"\x01\x00"
    for declared, code in [(b"\x05\x00", "p2p-truncated"), (b"\xff\xff\xfe\xff\xff\xff", "p2p-truncated")]:
        entries = list(Library().parse(data[:files_at] + declared + data[files_at + 2 :], "Library1.dat"))
        assert [r.name for r in records(entries)] == ["song.mp3"]
        assert codes(entries) == [code]


def test_huge_folder_count_with_no_folders() -> None:
    data = b.library_dat([])[:-2] + b"\xff\xff" + struct.pack("<I", 0xFFFFFFF0)
    assert codes(list(Library().parse(data, "Library1.dat"))) == ["p2p-corrupt"]


def test_string_length_of_2_32_minus_1() -> None:
    data = b.library_dat(LIBRARY[1:])
    name_at = len(data) - len(SONG.serialize())
    bad = data[:name_at] + b"\xff\xfe\xff\xff\xff\xff" + struct.pack("<I", 0xFFFFFFFE) + data[name_at + 3 :]
    entries = list(Library().parse(bad, "Library1.dat"))
    assert records(entries) == []
    assert codes(entries) == ["p2p-corrupt"]


def test_deep_nesting() -> None:
    folder = b.ShareazaFolder("C:\\deep", files=[DIARY])
    for _ in range(100):
        folder = b.ShareazaFolder("C:\\deep", folders=[folder])
    entries = list(Library().parse(b.library_dat([folder]), "Library1.dat"))
    assert records(entries) == []
    assert codes(entries) == ["p2p-corrupt"]


def test_metadata_nesting() -> None:
    schema = "http://www.shareaza.com/schemas/image.xsd"
    fine = b.ShareazaFile("fine.jpg", 10, schema=schema, metadata={"title": "T"}, xml_depth=20)
    deep = b.ShareazaFile("deep.jpg", 10, schema=schema, xml_depth=100)
    entries = list(Library().parse(b.library_dat([b.ShareazaFolder("C:\\x", files=[fine, deep])]), "Library1.dat"))
    assert [r.name for r in records(entries)] == ["fine.jpg"]
    assert records(entries)[0].extra["metadata.title"] == "T"
    assert codes(entries) == ["p2p-corrupt"]
