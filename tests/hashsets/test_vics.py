"""VICS (Project VIC / CAID JSON) reader: corpus files, lenient typing, profiles and streaming."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from safenet.hashsets import HashSetError, HashSetStore, SetKind, detect_format, get_format
from safenet.hashsets.formats.vics import VicsFormat, parse_header
from tests.datafiles import DATA

CORPUS = DATA / "hashsets"
CONTEXT_20 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{profile}/$metadata#{kind}"
H = bytes.fromhex


class Warnings(list[tuple[str, str]]):
    def __call__(self, ref: str, message: str) -> None:
        self.append((ref, message))


def vics_file(tmp_path: Path, media: list[Any], profile: str = "UK", kind: str = "Media", bom: bool = False) -> Path:
    body: dict[str, Any] = {"@odata.context": CONTEXT_20.format(profile=profile, kind=kind), "value": media}
    path = tmp_path / "set.json"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + json.dumps(body).encode())
    return path


def test_default_hashset_corpus() -> None:
    path = CORPUS / "vics20_hashset_default.json"
    fmt = detect_format(path)
    warnings = Warnings()
    records = list(fmt.read(path, warnings))
    assert warnings == []
    assert fmt.profile() == "Default"
    assert fmt.default_scheme() == "projectvic"
    assert fmt.DEFAULT_KIND is SetKind.ILLICIT
    first, second = records
    assert (first.md5, first.sha1, first.category, first.size, first.ref) == (
        H("00112233445566778899AABBCCDDEEFF"),
        H("00112233445566778899AABBCCDDEEFF00112233"),
        "0",
        2835,
        "MediaID 1",
    )
    assert (second.md5, second.sha1, second.category, second.size) == (
        H("FFEEDDCCBBAA99887766554433221100"),
        H("FFEEDDCCBBAA99887766554433221100FFEEDDCC"),
        "1",
        12345,
    )
    # Booleans arrive as strings in one entry and as JSON booleans in the other: both normalised.
    assert first.extra is not None and second.extra is not None
    assert first.extra["VictimIdentified"] == "false" and first.extra["IsPrecategorized"] == "true"
    assert second.extra["VictimIdentified"] == "true" and second.extra["OffenderIdentified"] == "false"
    assert second.extra["IsDistributed"] == "true"
    assert second.extra["PhotoDNA"] == "SYNTHETIC-PHOTODNA-PLACEHOLDER-NOT-192-CHARS"  # verbatim
    assert second.extra["Series"] == "SYNTHETIC-SERIES"
    assert second.extra["Tags"] == "tag1|tag2"
    assert "Series" not in first.extra  # empty strings are not kept


def test_uk_case_corpus() -> None:
    path = CORPUS / "vics20_case_uk.json"
    fmt = detect_format(path)
    records = list(fmt.read(path, Warnings()))
    assert fmt.profile() == "UK"
    assert fmt.default_scheme() == "vics-uk"
    assert fmt.scheme_caveat() is None
    assert [(r.md5, r.sha1, r.category, r.size, r.name) for r in records] == [
        (
            H("0123456789ABCDEF0123456789ABCDEF"),
            H("0123456789ABCDEF0123456789ABCDEF01234567"),
            None,
            4096,
            "IMG_0001.jpg",
        )
    ]


def test_vics_1_2_corpus() -> None:
    path = CORPUS / "vics12_media_caid_style.json"
    fmt = detect_format(path)
    warnings = Warnings()
    records = list(fmt.read(path, warnings))
    assert warnings == []
    assert fmt.profile() is None
    assert fmt.default_scheme() == "projectvic"
    assert [(r.md5, r.sha1, r.size, r.name, r.ref, r.category) for r in records] == [
        (
            H("00112233445566778899AABBCCDDEEFF"),
            H("00112233445566778899AABBCCDDEEFF00112233"),
            2835,  # a string in the file
            "example.gif",
            "MediaID 0",
            None,
        )
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases"}', ("1.3", None, True)),
        ('{"@odata.context": "' + CONTEXT_20.format(profile="US", kind="Media") + '"}', ("2.0", "US", False)),
        ('  {"@odata.context": "' + CONTEXT_20.format(profile="CUSTOM", kind="Cases") + '"', ("2.0", "CUSTOM", True)),
    ],
)
def test_header_parsing(text: str, expected: tuple[str, str | None, bool]) -> None:
    header = parse_header(text.encode())
    assert header is not None
    assert (header.version, header.profile, header.cases) == expected


def test_plain_json_is_not_vics() -> None:
    assert parse_header(b'{"value": [], "note": "DataModels/2.0.xml#Media"}') is None
    assert parse_header(b"[1, 2, 3]") is None


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = vics_file(tmp_path, [{"MediaID": 3, "MD5": "AB" * 16, "Category": 2}], bom=True)
    fmt = detect_format(path)
    assert fmt.NAME == "vics"
    records = list(fmt.read(path, Warnings()))
    assert [(r.md5, r.category) for r in records] == [(H("AB" * 16), "2")]


def test_lenient_fields(tmp_path: Path) -> None:
    media = [
        {"MediaID": 1, "MD5": "aa" * 16, "Category": None, "MediaSize": "77", "Unknown": {"x": 1}},
        {"MediaID": 2, "MD5": "bb" * 16, "Category": "", "MediaSize": 1.0},
        {"MediaID": 3, "MD5": "cc" * 16, "Category": " 3 ", "Series": {"Name": "S"}},
        {"MediaID": 4, "MD5": "dd" * 16, "Category": 7, "MediaSize": "big"},
        {"MediaID": 5, "MD5": "", "SHA1": "", "AlternativeHashes": [{"HashName": "SHA256", "HashValue": "ee" * 32}]},
        {
            "MediaID": 6,
            "MD5": "ff" * 16,
            "AlternativeHashes": [
                {"HashName": "PhotoDNA", "HashValue": "AAAA"},
                {"HashName": "SHA-1", "HashValue": "11" * 20},
                {"HashName": "EDK", "HashValue": "zz"},
            ],
        },
    ]
    warnings = Warnings()
    records = list(get_format("vics").read(vics_file(tmp_path, media), warnings))
    assert [r.category for r in records] == [None, None, "3", "7", None, None]
    assert [r.size for r in records] == [77, 1, None, None, None, None]
    assert records[2].extra is not None and records[2].extra["Series"] == '{"Name":"S"}'
    assert (records[4].md5, records[4].sha256) == (None, H("ee" * 32))
    assert records[5].sha1 == H("11" * 20)
    assert records[5].extra is not None and records[5].extra["PhotoDNA"] == "AAAA"
    assert warnings == [("MediaID 4", "MediaSize 'big' is not a byte count; ignored")]


def test_entries_without_a_usable_digest_are_skipped_with_a_warning(tmp_path: Path) -> None:
    media = [
        {"MediaID": 1, "MD5": "not-hex"},
        {"MediaID": 2},
        "not an object",
        {"MediaID": 4, "MD5": "aa" * 16, "SHA1": "12"},
    ]
    warnings = Warnings()
    records = list(get_format("vics").read(vics_file(tmp_path, media), warnings))
    assert [r.md5 for r in records] == [H("aa" * 16)]
    assert [ref for ref, _ in warnings] == ["MediaID 1", "MediaID 2", "Media 3", "MediaID 4"]
    assert "no usable digest" in warnings[0][1] and "not hexadecimal" in warnings[0][1]
    assert warnings[3][1] == "SHA1: SHA1 digest must have 40 hex characters, not 2; ignored"


def test_cases_file_with_several_cases(tmp_path: Path) -> None:
    cases = [
        {"CaseNumber": "A", "Media": [{"MediaID": 1, "MD5": "aa" * 16}], "Agency": "tolerated"},
        {"CaseNumber": "B", "Media": [{"MediaID": 1, "MD5": "bb" * 16}, {"MediaID": 2, "MD5": "cc" * 16}]},
    ]
    records = list(get_format("vics").read(vics_file(tmp_path, cases, kind="Cases"), Warnings()))
    assert [r.md5 for r in records] == [H("aa" * 16), H("bb" * 16), H("cc" * 16)]


def test_custom_profile_falls_back_with_a_caveat(tmp_path: Path) -> None:
    fmt = VicsFormat()
    list(fmt.read(vics_file(tmp_path, [{"MD5": "aa" * 16}], profile="CUSTOM"), Warnings()))
    assert fmt.default_scheme() == "projectvic"
    caveat = fmt.scheme_caveat()
    assert caveat is not None and "--scheme-file" in caveat


def test_truncated_file_fails_clearly(tmp_path: Path) -> None:
    path = vics_file(tmp_path, [{"MediaID": i, "MD5": "aa" * 16} for i in range(10)])
    path.write_bytes(path.read_bytes()[:-60])
    with pytest.raises(HashSetError, match="damaged or cut short"):
        list(get_format("vics").read(path, Warnings()))


def test_missing_context_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    path.write_text('{"value": []}')
    with pytest.raises(HashSetError, match="no VICS context string"):
        list(get_format("vics").read(path, Warnings()))


def write_big_vics(path: Path, count: int) -> None:
    """A synthetic #Media set written entry by entry (synthetic digests derived from the entry number)."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"@odata.context": "' + CONTEXT_20.format(profile="UK", kind="Media") + '", "value": [')
        for i in range(count):
            separator = "," if i else ""
            handle.write(f'{separator}{{"MediaID":{i},"Category":{i % 5},"MD5":"{i:032X}","IsDistributed":"true"}}')
        handle.write("]}")


@pytest.mark.timeout(120)  # a hang guard, not a speed claim: speed is measured in bench/
def test_streaming_200k_entries(tmp_path: Path) -> None:
    """The reader streams: its peak Python allocation stays far below the file size."""
    path = tmp_path / "big.json"
    write_big_vics(path, 200_000)
    size = path.stat().st_size
    assert size > 15_000_000
    fmt = get_format("vics")
    seen = 0
    tracemalloc.start()
    try:
        for _ in fmt.read(path, Warnings()):
            seen += 1
            if seen == 10_000:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 10_000
    assert peak < size / 10, f"peak {peak} bytes while reading a {size}-byte file: not streaming"

    store = HashSetStore(tmp_path / "store")
    warnings = Warnings()
    info = store.import_file(path, "big", warn=warnings)
    assert info.entry_count == 200_000
    assert info.scheme == "vics-uk"
    assert warnings == []
    assert store.extra("big", 199_999) == {"IsDistributed": "true", "MediaID": "199999"}
