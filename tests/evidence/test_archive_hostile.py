"""Hostile archives: bombs, lying headers, names that climb out of folders, damage, encryption,
special entries. Each is expanded without an exception escaping and with the warning it deserves."""

from __future__ import annotations

import io
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import py7zr
import pytest

from safenet.evidence.archive import ArchiveCorrupt, ArchiveLimitExceeded, ArchiveLimits, expand, open_member
from safenet.evidence.locator import Locator, display_safe
from safenet.evidence.model import EvidenceWarning
from tests.evidence.archive_builders import (
    RawEntry,
    deflated,
    deflated_zeros,
    gzip_of_deflate,
    raw_zip,
    read_all,
    run,
    run_opener,
    stored,
    tar_bytes,
    tar_file,
    top_item,
)

GIB = 1 << 30


@pytest.fixture(scope="module")
def zeros_gib() -> bytes:
    return deflated_zeros(GIB)  # about 1 MB of deflate that inflates to 1 GiB


@pytest.mark.timeout(60)  # a hang guard, not a speed claim: speed is measured in bench/
def test_zip_bomb_with_honest_sizes_is_refused_before_reading(tmp_path: Path, zeros_gib: bytes) -> None:
    path = tmp_path / "bomb.zip"
    path.write_bytes(raw_zip([RawEntry(b"zeros.bin", zeros_gib, 8, 0, GIB)]))
    result = run_opener(lambda: path.open("rb"), "zip", top_item("bomb.zip", path.stat().st_size))
    assert result.members == [] and result.codes() == ["archive-bomb"]
    assert "refused before reading" in result.warnings[0].message and "ratio" in result.warnings[0].message


@pytest.mark.timeout(60)  # a hang guard, not a speed claim: speed is measured in bench/
@pytest.mark.parametrize("kind", ["zip-without-sizes", "gzip"])
def test_bomb_that_hides_its_size_is_stopped_while_read(tmp_path: Path, zeros_gib: bytes, kind: str) -> None:
    """No header says how big it is (zip data descriptor without central directory; gzip): the bytes
    actually produced are counted, and the member stream raises once the ratio is crossed."""
    if kind == "gzip":
        data, filetype = gzip_of_deflate(zeros_gib, GIB), "gzip"
    else:
        data, filetype = raw_zip([RawEntry(b"zeros.bin", zeros_gib, 8, 0, GIB)], central=False, descriptor=True), "zip"
    path = tmp_path / "bomb"
    path.write_bytes(data)
    warnings: list[EvidenceWarning] = []
    raised = []
    tracemalloc.start()
    for _item, stream in expand(
        top_item("bomb", len(data)), filetype, lambda: path.open("rb"), ArchiveLimits(), warnings.append
    ):
        with pytest.raises(ArchiveLimitExceeded, match="ratio") as info:
            while stream.read(1 << 20):
                pass
        raised.append(info.value)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(raised) == 1 and peak < 32 << 20
    assert [w.code for w in warnings] == ["archive-corrupt"] * (kind != "gzip") + ["archive-bomb"]


@pytest.mark.timeout(60)  # a hang guard, not a speed claim: speed is measured in bench/
def test_zip_bomb_of_overlapping_entries_is_refused_quickly() -> None:
    """One member's data, 20 000 central entries pointing at it (Fifield's construction)."""
    member = deflated(b"a", bytes(1 << 20))
    member.usize = 10  # small declared sizes, so only the overlap gives it away
    data = raw_zip([member], directory_points_to=[0] * 20_000)
    result = run(data, "zip")
    assert result.members == [] and result.codes() == ["archive-bomb"]
    assert "overlapping" in result.warnings[0].message


def test_member_count_and_total_size_limits() -> None:
    data = raw_zip([stored(f"f{i}".encode(), b"x") for i in range(50)])
    result = run(data, "zip", limits=ArchiveLimits(max_members=10))
    assert result.members == [] and result.codes() == ["archive-bomb"] and "member-count" in result.warnings[0].message
    tar = tar_bytes(tar_file(f"f{i}", b"x" * 1000) for i in range(20))
    limited = run(tar, "tar", limits=ArchiveLimits(max_total_bytes=25_000))  # tarfile reads ahead 10 KiB
    assert 0 < len(limited.members) < 20 and len(limited.read_errors) <= 1
    assert limited.codes() == ["archive-bomb"] and "size limit" in limited.warnings[0].message


def test_7z_bomb_is_refused_from_its_declared_sizes() -> None:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        archive.writestr(bytes(4 << 20), "zeros.bin")
    result = run(buf.getvalue(), "7z", limits=ArchiveLimits(ratio_floor_bytes=1 << 20, max_ratio=50))
    assert result.members == [] and result.codes() == ["archive-bomb"]


def test_zip_header_that_lies_about_size_gets_no_more_than_it_declares() -> None:
    member = deflated(b"small.txt", bytes(1 << 20))
    member.usize = 100
    result = run(raw_zip([member]), "zip")
    assert result.members == [] and len(result.read_errors) == 1  # 100 bytes, then the CRC does not match
    assert isinstance(result.read_errors[0], ArchiveCorrupt)
    assert result.codes() == ["archive-corrupt"] and "CRC" in result.warnings[0].message


HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/shadow",
    "C:\\Windows\\evil.dll",
    "a\x00b.jpg",
    "line\nbreak.jpg",
    "esc\x1b[31m.jpg",
    "doc\u202egpj.exe",
]


def test_zip_names_that_climb_out_are_yielded_and_flagged() -> None:
    data = raw_zip([stored(name.encode("utf-8"), b"payload", flags=0x800) for name in HOSTILE_NAMES])
    result = run(data, "zip")
    assert result.names == HOSTILE_NAMES
    assert result.codes() == ["suspicious-member-name"] * len(HOSTILE_NAMES)
    for (item, _), warning in zip(result.members, result.warnings, strict=True):
        assert warning.locator == item.locator
        assert "\n" not in warning.message and "\x1b" not in warning.message and "\u202e" not in warning.message


@pytest.mark.parametrize(
    ("raw", "flags", "expected"),
    [
        (b"caf\x82 \x81ber.jpg", 0, "café über.jpg"),  # no UTF-8 flag: cp437, as Windows wrote it
        (b"bad\xff\xfe.jpg", 0x800, "bad\udcff\udcfe.jpg"),  # flagged UTF-8 but is not: bytes kept as escapes
        (b"ok\xc3\xa9\n.jpg", 0x800, "oké\n.jpg"),
    ],
)
def test_zip_names_round_trip_through_locator_json(raw: bytes, flags: int, expected: str) -> None:
    data = raw_zip([stored(raw, b"payload", flags=flags), stored(b"next.txt", b"more")])
    result = run(data, "zip")
    assert result.names == [expected, "next.txt"]
    item = result.members[0][0]
    again = Locator.from_json(item.locator.to_json())
    assert again == item.locator and again.leaf.value == expected
    assert read_all(open_member(io.BytesIO(data), again.leaf)) == b"payload"
    if "\n" in expected:
        assert result.codes() == ["suspicious-member-name"]


def test_tar_names_with_raw_bytes_and_control_characters_round_trip() -> None:
    names = ["x\udcff\udcfe.jpg", "tab\there.jpg", "cr\rlf\n.jpg"]  # raw 0xff 0xfe bytes, not UTF-8
    data = tar_bytes(
        (tar_file(name, b"data") for name in names),
        format=tarfile.GNU_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    )
    assert b"x\xff\xfe.jpg" in data
    result = run(data, "tar")
    assert result.names == names and result.codes() == ["suspicious-member-name"] * 2
    for item, _ in result.members:
        again = Locator.from_json(item.locator.to_json())
        assert again == item.locator and again.to_json().isascii()
        assert read_all(open_member(io.BytesIO(data), again.leaf)) == b"data"
        assert "\n" not in str(again) and display_safe(again.leaf.value) in str(again)


def test_truncated_zip_yields_members_before_the_cut() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(6):
            archive.writestr(f"file{i}.bin", bytes([i]) * 20_000 + bytes(range(256)) * 40)
    data = buf.getvalue()
    result = run(data[: len(data) // 2], "zip")
    assert 1 <= len(result.names) < 6 and result.names == [f"file{i}.bin" for i in range(len(result.names))]
    assert result.read_errors == []
    assert set(result.codes()) == {"archive-corrupt"} and "central directory not found" in result.warnings[0].message
    assert all(w.locator == top_item("exhibit.bin").locator for w in result.warnings)
    assert "cut off" in result.warnings[-1].message


def test_zip_without_central_directory_and_with_data_descriptors_is_recovered() -> None:
    data = raw_zip([deflated(b"a.txt", b"A" * 5000), deflated(b"b.txt", b"B" * 7000)], central=False, descriptor=True)
    result = run(data, "zip")
    assert result.names == ["a.txt", "b.txt"] and result.content("b.txt") == b"B" * 7000
    assert result.codes() == ["archive-corrupt"]
    for item, content in result.members:  # reopened from the member header alone
        assert read_all(open_member(io.BytesIO(data), item.locator.leaf)) == content


def test_zip_with_bad_crc_reports_the_member() -> None:
    member = stored(b"x.txt", b"abc")
    member.crc ^= 1
    result = run(raw_zip([member, stored(b"y.txt", b"def")]), "zip")
    assert result.names == ["y.txt"] and len(result.read_errors) == 1
    assert result.codes() == ["archive-corrupt"] and "x.txt" in result.warnings[0].message


def test_truncated_tar_gz_yields_members_before_the_cut() -> None:
    import os

    data = tar_bytes((tar_file(f"f{i}.bin", os.urandom(30_000)) for i in range(6)), "w:gz")
    result = run(data[: len(data) * 2 // 3], "gzip")
    assert 2 <= len(result.names) < 6
    assert result.names == [f"f{i}.bin" for i in range(len(result.names))]
    assert len(result.read_errors) <= 1  # the member the cut went through
    assert "archive-corrupt" in result.codes() and set(result.codes()) == {"archive-corrupt"}


def test_garbage_and_cut_headers_are_warnings_not_exceptions() -> None:
    good = tar_bytes([tar_file("a.txt", b"x" * 600)])
    broken = good[:1024] + b"\x07" * 512 + good[1024:]  # a garbage header after the first member
    result = run(broken, "tar")
    assert result.names == ["a.txt"] and result.codes() == ["archive-corrupt"]
    for filetype, data in [
        ("zip", b"PK\x03\x04" + b"\xff" * 40),
        ("7z", b"7z\xbc\xaf\x27\x1c" + bytes(40)),
        ("gzip", b"\x1f\x8b\x08" + b"\x00" * 5),
        ("xz", b"\xfd7zXZ\x00junk"),
        ("tar", b"junk" * 10),
    ]:
        assert run(data, filetype).codes() and set(run(data, filetype).codes()) == {"archive-corrupt"}, filetype


def test_encrypted_zip_member_is_not_examined() -> None:
    data = raw_zip([stored(b"secret.jpg", b"\x00" * 12 + b"ciphertext", flags=0x1), stored(b"plain.txt", b"hi")])
    result = run(data, "zip")
    assert result.names == ["plain.txt"] and result.codes() == ["encrypted-member"]
    assert result.warnings[0].locator is not None and result.warnings[0].locator.leaf.value == "secret.jpg"


@pytest.mark.parametrize("header_encryption", [False, True])
def test_encrypted_7z_is_not_examined(header_encryption: bool) -> None:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password="pw", header_encryption=header_encryption) as archive:
        archive.writestr(b"hidden" * 100, "a.jpg")
        archive.writestr(b"hidden" * 100, "b.jpg")
    result = run(buf.getvalue(), "7z")
    assert result.members == []
    assert set(result.codes()) == {"encrypted-member"} and len(result.codes()) == (1 if header_encryption else 2)


def test_zip_member_with_unsupported_method_is_reported() -> None:
    member = stored(b"d64.bin", b"whatever")
    member.method = 9  # deflate64
    result = run(raw_zip([member]), "zip")
    assert (
        result.members == [] and result.codes() == ["unsupported-member"] and "deflate64" in result.warnings[0].message
    )


def test_tar_links_devices_and_fifos_are_not_yielded() -> None:
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [tar_file("real.txt", b"content")]
    for name, kind in [
        ("sym", tarfile.SYMTYPE),
        ("hard", tarfile.LNKTYPE),
        ("fifo", tarfile.FIFOTYPE),
        ("tty", tarfile.CHRTYPE),
        ("sda", tarfile.BLKTYPE),
    ]:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "real.txt" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        entries.append((info, None))
    result = run(tar_bytes(entries), "tar")
    assert result.names == ["real.txt"] and result.codes() == ["special-member"] * 5
    assert [w.locator.leaf.value for w in result.warnings if w.locator] == ["sym", "hard", "fifo", "tty", "sda"]


def test_empty_input_for_every_format_is_a_warning() -> None:
    for filetype in ("zip", "tar", "7z", "bzip2", "xz"):
        result = run(b"", filetype)
        assert result.members == [] and set(result.codes()) == {"archive-corrupt"}, filetype
    assert run(b"", "gzip").names == ["exhibit.bin.decompressed"]  # an empty gzip stream is empty content
