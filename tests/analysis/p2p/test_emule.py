"""eMule's files built from the format description (builders_binary) read back field by field, and damaged
copies end in the records before the damage and a warning."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from safenet.analysis.p2p import registry
from safenet.analysis.p2p.binary import LARGEST_ARTEFACT
from safenet.analysis.p2p.emule import (
    CancelledMet,
    KnownMet,
    PartMet,
    SearchStrings,
    StoredSearches,
    cancelled_hash,
)
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning, SearchTerm
from tests.analysis.p2p import builders_binary as b

pytestmark = pytest.mark.timeout(60)

FILES = [
    b.EmuleFile(
        "holiday beach.jpg",
        2_345_678,
        date=1_600_000_000,
        parts=0,
        uploaded=5_000_000_123,
        requested=41,
        accepted=17,
        last_shared=1_700_000_000,
        aich="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        artist="Nobody",
    ),
    b.EmuleFile("garden é.png", 9_728_000 * 2 + 5, date=1_610_000_000, parts=3, last_shared=1_700_000_100),
    b.EmuleFile("big video.mkv", (5 << 32) + 7, date=1_620_000_000, parts=2),
]


def records(entries: list[P2PEntry]) -> list[P2PRecord]:
    return [e for e in entries if isinstance(e, P2PRecord)]


def warnings(entries: list[P2PEntry]) -> list[P2PWarning]:
    return [e for e in entries if isinstance(e, P2PWarning)]


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def check_known(record: P2PRecord, index: int, f: b.EmuleFile) -> None:
    assert record.client == "emule"
    assert record.artefact == "known.met"
    assert record.index == index
    assert record.name == f.name
    assert record.size == f.size
    assert record.hashes == {"ed2k": f.ed2k}
    assert record.uploaded_bytes == f.uploaded
    assert record.upload_requests == f.requested
    assert record.accepted_requests == f.accepted
    assert record.last_shared == (utc(f.last_shared) if f.last_shared else None)
    assert record.shared is None and record.completed is None
    assert record.extra["file_modified"] == utc(f.date).isoformat()
    assert record.extra["part_hashes"] == str(f.parts)
    assert record.extra.get("aich", "") == f.aich
    assert record.extra.get("artist", "") == f.artist


@pytest.mark.parametrize("header", [0x0E, 0x0F])
def test_known_met_every_field(header: int) -> None:
    files = FILES if header == 0x0F else FILES[:2]
    data = b.known_met(files, header=header)
    assert registry.claim("known.met", data[:64]) is not None
    entries = list(KnownMet().parse(data, "known.met"))
    assert warnings(entries) == []
    got = records(entries)
    assert len(got) == len(files)
    for i, (record, f) in enumerate(zip(got, files, strict=True)):
        check_known(record, i, f)
    assert got[0].hashes["ed2k"].hex() == b.synthetic_hash("ed2k:holiday beach.jpg", 16).hex()


def test_known_met_truncated_at_several_points() -> None:
    data = b.known_met(FILES)
    starts = b.record_offsets(data, 5, FILES)
    for cut, whole in [(3, 0), (starts[0] + 10, 0), (starts[1], 1), (starts[1] + 30, 1), (len(data) - 1, 2)]:
        entries = list(KnownMet().parse(data[:cut], "known.met"))
        got = records(entries)
        assert len(got) == whole, cut
        for i, record in enumerate(got):
            check_known(record, i, FILES[i])
        assert [w.code for w in warnings(entries)] == ["p2p-truncated"], cut
        assert entries[-1] == warnings(entries)[0]


def test_known_met_count_past_the_end_and_huge() -> None:
    for declared in (5, 0xFFFFFFFF):
        entries = list(KnownMet().parse(b.known_met(FILES[:2], declared=declared), "known.met"))
        assert [r.name for r in records(entries)] == [f.name for f in FILES[:2]]
        assert [w.code for w in warnings(entries)] == ["p2p-truncated"]


def test_known_met_blob_length_of_2_32_minus_1() -> None:
    data = b.known_met(FILES[:1])
    # A second record whose only tag is a blob claiming 2^32-1 bytes.
    bad = struct.pack("<I", 1) + FILES[1].hashset() + struct.pack("<I", 1)
    bad += bytes([0x07]) + struct.pack("<H", 1) + b"\x99" + struct.pack("<I", 0xFFFFFFFF) + b"xyz"
    data = data[:1] + struct.pack("<I", 2) + data[5:] + bad
    entries = list(KnownMet().parse(data, "known.met"))
    assert [r.name for r in records(entries)] == [FILES[0].name]
    assert [w.code for w in warnings(entries)] == ["p2p-corrupt"]


def test_known_met_unknown_tag_type_and_huge_tag_count() -> None:
    base = b.known_met(FILES[:1])
    for tags in (struct.pack("<I", 1) + b"\x7f\x00\x00", struct.pack("<I", 0xFFFFFFFF) + b"\x83\x01\x00\x00"):
        bad = struct.pack("<I", 1) + FILES[1].hashset() + tags
        data = base[:1] + struct.pack("<I", 2) + base[5:] + bad
        entries = list(KnownMet().parse(data, "known.met"))
        assert [r.name for r in records(entries)] == [FILES[0].name]
        assert [w.code for w in warnings(entries)] == ["p2p-corrupt"]


def test_largest_artefact_is_the_registrys_limit() -> None:
    assert LARGEST_ARTEFACT == registry.MAX_ARTEFACT_BYTES


def test_known_met_unknown_header_is_unsupported() -> None:
    data = b"\x0d" + b.known_met(FILES)[1:]
    assert registry.claim("known.met", data[:8]) is None
    assert [w.code for w in warnings(list(KnownMet().parse(data, "known.met")))] == ["p2p-unsupported-version"]


PART = b.PartFile(
    b.EmuleFile("lake view.jpg", 30_000_000, date=1_650_000_000, parts=4, uploaded=1234, requested=3, accepted=2),
    part_name="007.part",
    gaps=[(0, 1000), (20_000_000, 30_000_000)],
    downloaded=19_999_000,
    active_seconds=3600,
    last_seen_complete=1_650_000_500,
    category=2,
)


@pytest.mark.parametrize("version", [0xE0, 0xE2])
def test_part_met_every_field(version: int) -> None:
    data = b.part_met(PART, version=version)
    assert isinstance(registry.claim("007.part.met", data[:64]), PartMet)
    assert isinstance(registry.claim("007.part.met.bak", data[:64]), PartMet)
    entries = list(PartMet().parse(data, "001.part.met"))
    assert warnings(entries) == []
    (record,) = records(entries)
    f = PART.file
    assert (record.artefact, record.index, record.name, record.size) == ("part.met", 0, f.name, f.size)
    assert record.hashes == {"ed2k": f.ed2k}
    assert record.completed is False
    assert record.save_path == "007.part"
    assert (record.uploaded_bytes, record.upload_requests, record.accepted_requests) == (1234, 3, 2)
    assert record.extra["gaps"] == "2"
    assert record.extra["missing_bytes"] == str(1000 + 10_000_000)
    assert record.extra["downloaded_bytes"] == "19999000"
    assert record.extra["download_active_seconds"] == "3600"
    assert record.extra["last_seen_complete"] == utc(1_650_000_500).isoformat()
    assert record.extra["category"] == "2"
    assert record.extra["file_modified"] == utc(1_650_000_000).isoformat()


def test_part_met_damaged() -> None:
    data = b.part_met(PART)
    for cut in (0, 1, 10, 30, 90, len(data) - 1):
        entries = list(PartMet().parse(data[:cut], "001.part.met"))
        assert records(entries) == []
        assert [w.code for w in warnings(entries)] == ["p2p-truncated"], cut
    huge_parts = data[:21] + struct.pack("<H", 0xFFFF) + data[23:]
    assert [w.code for w in warnings(list(PartMet().parse(huge_parts, "001.part.met")))] == ["p2p-truncated"]
    older = b"\xe1" + data[1:]
    assert [w.code for w in warnings(list(PartMet().parse(older, "001.part.met")))] == ["p2p-unsupported-version"]


HASHES = [b.synthetic_hash(f"cancelled {i}", 16) for i in range(3)]


def test_cancelled_met_salted() -> None:
    seed = 0x1234ABCD
    data = b.cancelled_met(HASHES, seed=seed, names={1: "pond.jpg"})
    assert isinstance(registry.claim("cancelled.met", data[:8]), CancelledMet)
    entries = list(CancelledMet().parse(data, "cancelled.met"))
    assert warnings(entries) == []
    got = records(entries)
    assert [r.index for r in got] == [0, 1, 2]
    assert [r.name for r in got] == ["", "pond.jpg", ""]
    for record, h in zip(got, HASHES, strict=True):
        assert record.hashes == {}
        assert record.completed is False
        assert record.extra["seed"] == str(seed)
        assert record.extra["salted_hash"] == cancelled_hash(seed, h).hex()
        assert record.extra["cancelled"] == "yes"


def test_cancelled_met_old_layout_keeps_the_hashes() -> None:
    entries = list(CancelledMet().parse(b.cancelled_met(HASHES, seed=None), "cancelled.met"))
    assert warnings(entries) == []
    assert [r.hashes["ed2k"].hex() for r in records(entries)] == [h.hex() for h in HASHES]


def test_cancelled_met_damaged() -> None:
    data = b.cancelled_met(HASHES)
    for cut, whole in [(2, 0), (10, 0), (10 + 17 + 5, 1), (len(data) - 1, 2)]:
        entries = list(CancelledMet().parse(data[:cut], "cancelled.met"))
        assert len(records(entries)) == whole, cut
        assert [w.code for w in warnings(entries)] == ["p2p-truncated"], cut
    for declared, code in [(5, "p2p-truncated"), (0xFFFFFFFF, "p2p-corrupt")]:
        entries = list(CancelledMet().parse(data[:6] + struct.pack("<I", declared) + data[10:], "cancelled.met"))
        assert len(records(entries)) == 3
        assert [w.code for w in warnings(entries)] == [code]
    newer = data[:1] + b"\x02" + data[2:]
    assert [w.code for w in warnings(list(CancelledMet().parse(newer, "cancelled.met")))] == ["p2p-unsupported-version"]


SEARCHES = [
    b.StoredSearch(
        "sunset photos", [b.EmuleFile("sunset 1.jpg", 123_456), b.EmuleFile("a much longer file name.jpg", 70_000)]
    ),
    b.StoredSearch("mountain", [b.EmuleFile("peak.png", 5_000_000_000)], search_id=7, kind=2),
]


def test_stored_searches_terms_and_results() -> None:
    data = b.stored_searches(SEARCHES)
    assert isinstance(registry.claim("StoredSearches.met", data[:8]), StoredSearches)
    entries = list(StoredSearches().parse(data, "StoredSearches.met"))
    assert warnings(entries) == []
    terms = [e for e in entries if isinstance(e, SearchTerm)]
    assert [(t.index, t.term, t.artefact) for t in terms] == [
        (0, "sunset photos", "StoredSearches.met"),
        (1, "mountain", "StoredSearches.met"),
    ]
    got = records(entries)
    expected = [(f, s.expression) for s in SEARCHES for f in s.results]
    assert len(got) == len(expected)
    for i, (record, (f, expression)) in enumerate(zip(got, expected, strict=True)):
        assert (record.index, record.name, record.size) == (i, f.name, f.size)
        assert record.hashes == {"ed2k": f.ed2k}
        assert record.extra["from"] == "search result"
        assert "not a file the user had" in record.extra["note"]
        assert record.extra["search"] == expression


def test_stored_searches_damaged() -> None:
    data = b.stored_searches(SEARCHES)
    entries = list(StoredSearches().parse(data[:-3], "StoredSearches.met"))
    assert len([e for e in entries if isinstance(e, SearchTerm)]) == 2
    assert len(records(entries)) == 2
    assert [w.code for w in warnings(entries)] == ["p2p-truncated"]
    first_results = 4 + 4 + 1 + 1 + 2 + 2 + len("sunset photos") + 2 + len("Image")
    huge = data[:first_results] + struct.pack("<I", 0xFFFFFFFF) + data[first_results + 4 :]
    entries = list(StoredSearches().parse(huge, "StoredSearches.met"))
    assert len(records(entries)) == 0
    assert [w.code for w in warnings(entries)] == ["p2p-corrupt"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_search_strings(encoding: str) -> None:
    terms = ["holiday", "lake district", "café"]
    data = b.search_strings(terms, encoding=encoding)
    assert isinstance(registry.claim("AC_SearchStrings.dat", data[:8]), SearchStrings)
    entries = list(SearchStrings().parse(data, "AC_SearchStrings.dat"))
    assert warnings(entries) == []
    assert [(t.index, t.term) for t in entries if isinstance(t, SearchTerm)] == list(enumerate(terms))


def test_search_strings_half_a_character() -> None:
    data = b.search_strings(["holiday", "lake"])[:-1]
    entries = list(SearchStrings().parse(data, "AC_SearchStrings.dat"))
    assert [t.term for t in entries if isinstance(t, SearchTerm)] == ["holiday", "lake"]
    assert [w.code for w in warnings(entries)] == ["p2p-truncated"]


def test_known_met_new_form_tags() -> None:
    """One-byte ids (type | 0x80), short strings (0x11..0x20), u8/u16/u64 integers, a hash and a float tag."""
    f = b.EmuleFile("tiny.gif", 70_000, date=1_690_000_000)
    tags = [
        b.tag_new(b.FT_FILENAME, "tiny.gif"),  # 8 bytes: type 0x18
        b.tag_new(b.FT_FILESIZE, 70_000),  # u32
        b.tag_new(b.FT_ATREQUESTED, 200),  # u8
        b.tag_new(b.FT_ATACCEPTED, 300),  # u16
        b.tag_new(b.FT_ATTRANSFERRED, 9 << 32),  # u64 in one tag
        b.tag_new(0x28, b.synthetic_hash("other", 16)),  # a hash-typed tag
        bytes([0x84, 0xF7]) + b"\x00\x00\x80\x3f",  # a float tag (read past)
        bytes([0x86, 0x30]) + struct.pack("<H", 9) + b"\xff\xff",  # a bool array of 9 bits (2 bytes)
        b.tag_new(b.FT_LASTSHARED, 1_700_000_000),
    ]
    data = b"\x0f" + struct.pack("<I", 1) + struct.pack("<I", f.date) + f.hashset() + struct.pack("<I", len(tags))
    data += b"".join(tags)
    entries = list(KnownMet().parse(data, "known.met"))
    assert warnings(entries) == []
    (record,) = records(entries)
    assert (record.name, record.size) == ("tiny.gif", 70_000)
    assert (record.upload_requests, record.accepted_requests, record.uploaded_bytes) == (200, 300, 9 << 32)
    assert record.last_shared == utc(1_700_000_000)
    assert record.hashes == {"ed2k": f.ed2k}


def test_claims_need_the_name_and_the_header() -> None:
    known = b.known_met(FILES)
    part = b.part_met(PART)
    assert registry.claim("server.met", known[:64]) is None
    assert registry.claim("known.met", part[:64]) is None
    assert registry.claim("known2.met", known[:64]) is None
    assert registry.claim("001.part", part[:64]) is None
