"""Ares Galaxy's ShareH.dat and ShareL.dat built from the format description (builders_binary) read back field
by field; damaged copies end in the records before the damage and a warning."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from safenet.analysis.p2p import registry
from safenet.analysis.p2p.ares import ShareH, ShareL, descramble
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning
from tests.analysis.p2p import builders_binary as b

pytestmark = pytest.mark.timeout(60)

FILES = [
    b.AresFile(
        "one",
        path="C:\\Users\\u\\Documents\\My Shared Folder\\meadow.jpg",
        size=812_345,
        shared=True,
        title="Meadow",
        artist="Someone",
        album="Walks",
        completed=1_300_000_000,
    ),
    b.AresFile("two", path="D:\\Ares\\river café.png", size=5_000_000_000, shared=False, media_type=5),
    b.AresFile("three", shared=True),
]


def records(entries: list[P2PEntry]) -> list[P2PRecord]:
    return [e for e in entries if isinstance(e, P2PRecord)]


def codes(entries: list[P2PEntry]) -> list[str]:
    return [e.code for e in entries if isinstance(e, P2PWarning)]


def test_scrambling_round_trip() -> None:
    plain = bytes(range(256)) * 3
    for key in (13871, 13872, 0, 0xFFFF):
        assert descramble(b.ares_scramble(plain, key), key) == plain
    assert b.ares_scramble(plain, 13871) != plain


def test_shareh_every_field() -> None:
    data = b.share_h(FILES)
    assert isinstance(registry.claim("ShareH.dat", data[:16]), ShareH)
    entries = list(ShareH().parse(data, "ShareH.dat"))
    assert codes(entries) == []
    got = records(entries)
    assert len(got) == 3
    for i, (record, f) in enumerate(zip(got, FILES, strict=True)):
        assert (record.client, record.artefact, record.index) == ("ares", "ShareH.dat", i)
        assert record.hashes == {"sha1": f.sha1}
        assert record.shared is f.shared
        assert record.name == f.title
        assert record.extra.get("artist", "") == f.artist
        assert record.extra.get("album", "") == f.album
    assert got[0].completed_at == datetime.fromtimestamp(1_300_000_000, UTC)
    assert got[0].completed is True
    assert got[1].completed_at is None and got[1].completed is None
    assert got[0].hashes["sha1"].hex() == b.synthetic_hash("sha1:one", 20).hex()


def test_sharel_every_field() -> None:
    data = b.share_l(FILES)
    assert isinstance(registry.claim("ShareL.dat", data[:16]), ShareL)
    entries = list(ShareL().parse(data, "ShareL.dat"))
    assert codes(entries) == []
    got = records(entries)
    assert [r.name for r in got] == ["meadow.jpg", "river café.png", ""]
    for i, (record, f) in enumerate(zip(got, FILES, strict=True)):
        assert (record.artefact, record.index) == ("ShareL.dat", i)
        assert record.hashes == {"sha1": f.sha1}
        assert record.size == f.size
        assert record.save_path == f.path
        assert record.extra.get("title", "") == f.title
    assert [r.extra["media_type"] for r in got] == ["image", "video", "image"]


@pytest.mark.parametrize(("build", "parser", "header"), [(b.share_h, ShareH(), 23), (b.share_l, ShareL(), 47)])
def test_truncated_at_several_points(
    build: Callable[[list[b.AresFile]], bytes], parser: ShareH | ShareL, header: int
) -> None:
    data = build(FILES)
    first_end = 14 + header + len(FILES[0].meta_h() if header == 23 else FILES[0].meta_l())
    for cut, whole in [(20, 0), (14 + header - 1, 0), (14 + header + 3, 0), (first_end + 5, 1), (len(data) - 1, 2)]:
        entries = list(parser.parse(data[:cut], parser.FILE_NAME))
        assert len(records(entries)) == whole, cut
        assert codes(entries) == ["p2p-truncated"], cut


def test_metadata_field_past_its_block() -> None:
    # A first file whose metadata block holds one field claiming 65535 bytes.
    block = bytes([2]) + struct.pack("<H", 0xFFFF) + b"abc"
    head = FILES[0].sha1 + b"\x01" + struct.pack("<H", len(block))
    data = b"__ARESDB1.02H_" + b.ares_scramble(head, 13871) + b.ares_scramble(block, 13872)
    entries = list(ShareH().parse(data + b.share_h(FILES)[14:], "ShareH.dat"))
    assert records(entries) == []
    assert codes(entries) == ["p2p-truncated"]


def test_other_signature_is_unsupported() -> None:
    data = b"__ARESDB1.01H_" + b.share_h(FILES)[14:]
    assert isinstance(registry.claim("shareh.dat", data[:16]), ShareH)
    assert codes(list(ShareH().parse(data, "ShareH.dat"))) == ["p2p-unsupported-version"]
    assert registry.claim("ShareH.dat", b"not ares") is None
