"""BitTorrent: .torrent files and the clients' resume data, built here from BEP 3 and the clients' documented
keys, and their hostile variants (cut short, a string past the end, deep nesting, a 2^63 integer)."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import BinaryIO

import pytest

from safenet.analysis.ed2k import ed2k
from safenet.analysis.p2p import registry
from safenet.analysis.p2p.bencode import MAX_DEPTH, decode
from safenet.analysis.p2p.bittorrent import (
    QBittorrentFastresume,
    TorrentFileParser,
    TransmissionResume,
    UTorrentResume,
    read_torrent,
    verify_pieces,
)
from safenet.analysis.p2p.model import P2PEntry, P2PRecord, P2PWarning

Bencodable = int | bytes | str | list["Bencodable"] | dict[bytes, "Bencodable"]


def benc(value: Bencodable) -> bytes:
    """BEP 3: integers i<n>e, strings <length>:<bytes>, lists l...e, dictionaries d...e with sorted keys."""
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(benc(v) for v in value) + b"e"
    return b"d" + b"".join(benc(k) + benc(v) for k, v in sorted(value.items())) + b"e"


T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
WHEN = datetime.fromtimestamp(T0, UTC)
PIECE = 16 * 1024


def records(entries: list[P2PEntry]) -> list[P2PRecord]:
    return [e for e in entries if isinstance(e, P2PRecord)]


def warnings(entries: list[P2PEntry]) -> list[P2PWarning]:
    return [e for e in entries if isinstance(e, P2PWarning)]


def pieces_of(data: bytes) -> bytes:
    return b"".join(hashlib.sha1(data[i : i + PIECE]).digest() for i in range(0, len(data), PIECE))


# --- bencode ------------------------------------------------------------------------------------------------


def test_decode_keeps_exact_key_bytes_and_top_level_spans() -> None:
    data = benc({b"a\xff": 1, b"info": {b"x": [b"y", 2]}})
    decoded = decode(data)
    assert decoded.error is None
    assert decoded.value == {b"a\xff": 1, b"info": {b"x": [b"y", 2]}}
    start, end = decoded.spans[b"info"]
    assert data[start:end] == benc({b"x": [b"y", 2]})


@pytest.mark.parametrize(
    ("data", "message", "truncated"),
    [
        (b"d1:ai1e1:bli2e", "data ends inside a value", True),
        (b"d1:ai1e1:b9999:abc", "runs past the end", True),
        (b"d1:ai1e1:bi9223372036854775808ee", "signed 64-bit", False),
        (b"d1:ai1e1:bi-0ee", "signed 64-bit", False),
        (b"d1:ai1e1:bi01ee", "signed 64-bit", False),
        (b"d1:ai1e1:a1:be", "given twice", False),
        (b"d1:ai1ei5e1:be", "not a string", False),
        (b"d1:ai1e1:bx", "does not start", False),
        (b"d1:ai1e1:b" + b"l" * 10_000 + b"e" * 10_000 + b"e", f"deeper than {MAX_DEPTH}", False),
    ],
)
def test_hostile_bencode_keeps_what_was_whole(data: bytes, message: str, truncated: bool) -> None:
    decoded = decode(data)
    assert decoded.error is not None
    assert message in str(decoded.error)
    assert decoded.error.truncated is truncated
    assert decoded.value == {b"a": 1}  # the complete value before the damage, nothing of the damaged one


def test_largest_integers_and_value_cap() -> None:
    assert decode(b"i9223372036854775807e").value == 2**63 - 1
    assert decode(b"i-9223372036854775808e").value == -(2**63)
    assert decode(b"i" + b"9" * 5000 + b"e").error is not None  # never int() of 5 000 digits
    capped = decode(b"l" + b"i1e" * 100 + b"e", max_values=50)
    assert capped.error is not None and "more than 50 values" in str(capped.error)


# --- .torrent -----------------------------------------------------------------------------------------------


def single_torrent(content: bytes) -> tuple[bytes, bytes]:
    info: dict[bytes, Bencodable] = {
        b"name": "holiday.jpg",
        b"length": len(content),
        b"piece length": PIECE,
        b"pieces": pieces_of(content),
        b"md5sum": hashlib.md5(content).hexdigest(),
    }
    root: dict[bytes, Bencodable] = {
        b"announce": "http://tracker.invalid/announce",
        b"created by": "mktorrent 1.1",
        b"creation date": T0,
        b"comment": "benign test",
        b"info": info,
    }
    return benc(root), hashlib.sha1(benc(info)).digest()


def test_single_file_torrent() -> None:
    content = bytes(range(256)) * 300
    data, btih = single_torrent(content)
    assert isinstance(registry.claim("holiday.jpg.torrent", data[:64]), TorrentFileParser)
    entries = list(TorrentFileParser().parse(data, "x.torrent"))
    assert warnings(entries) == []
    [record] = records(entries)
    assert (record.client, record.artefact, record.index, record.name, record.size) == (
        "torrent",
        ".torrent",
        0,
        "holiday.jpg",
        len(content),
    )
    assert record.hashes == {"btih": btih, "md5": hashlib.md5(content).digest()}
    assert record.shared is None and record.completed is None  # a .torrent is intent, not activity
    assert record.extra == {
        "announce": "http://tracker.invalid/announce",
        "created_by": "mktorrent 1.1",
        "creation_date": WHEN.isoformat(),
        "piece_length": str(PIECE),
        "files": "1",
        "comment": "benign test",
    }


def test_info_hash_is_of_the_bytes_as_written() -> None:
    """Keys out of order (not canonical bencode): the BTIH is still the SHA-1 of the bytes in the file."""
    info = b"d6:lengthi3e4:name1:x12:piece lengthi16384e6:pieces20:" + bytes(20) + b"e"
    unsorted = b"d4:name1:x6:lengthi3e12:piece lengthi16384e6:pieces20:" + bytes(20) + b"e"
    for raw in (info, unsorted):
        torrent, problems = read_torrent(b"d8:announce3:url4:info" + raw + b"e")
        assert problems == []
        assert torrent is not None and torrent.info_hash == hashlib.sha1(raw).digest()


def multi_torrent(files: dict[str, bytes], padding_after: str | None = None) -> tuple[bytes, list[str]]:
    entries: list[Bencodable] = []
    joined = b""
    for path, content in files.items():
        entry: dict[bytes, Bencodable] = {b"length": len(content), b"path": [p.encode() for p in path.split("/")]}
        entry[b"ed2k"] = ed2k(content)
        entries.append(entry)
        joined += content
        if path == padding_after:
            pad = -len(joined) % PIECE
            entries.append({b"length": pad, b"path": [b".pad", str(pad).encode()], b"attr": b"p"})
            joined += bytes(pad)
    info: dict[bytes, Bencodable] = {
        b"name": "album",
        b"piece length": PIECE,
        b"pieces": pieces_of(joined),
        b"files": entries,
    }
    return benc({b"announce-list": [[b"udp://a.invalid"], [b"udp://b.invalid"]], b"info": info}), [
        f"album/{p}" for p in files
    ]


CONTENTS = {
    "one/a.jpg": bytes([1]) * (PIECE + 100),
    "one/b.png": bytes([2]) * (PIECE // 2),
    "c.txt": bytes([3]) * (2 * PIECE + 7),
}


def test_multi_file_torrent_records_each_file() -> None:
    data, paths = multi_torrent(CONTENTS)
    entries = list(TorrentFileParser().parse(data, "x.torrent"))
    assert warnings(entries) == []
    torrent, *files = records(entries)
    assert (torrent.name, torrent.size, torrent.extra["files"]) == ("album", sum(map(len, CONTENTS.values())), "3")
    assert torrent.extra["announce"] == "udp://a.invalid"
    assert [(f.index, f.name, f.size) for f in files] == [
        (i, path, len(content)) for i, (path, content) in enumerate(zip(paths, CONTENTS.values(), strict=True), 1)
    ]
    assert [f.hashes for f in files] == [{"ed2k": ed2k(c)} for c in CONTENTS.values()]
    assert all("btih" not in f.hashes and f.extra["btih"] == torrent.hashes["btih"].hex() for f in files)


def opener(found: dict[str, bytes]) -> tuple[list[str], Callable[[str], BinaryIO | None]]:
    asked: list[str] = []

    def read_file(path: str) -> BinaryIO | None:
        asked.append(path)
        return io.BytesIO(found[path]) if path in found else None

    return asked, read_file


def test_verify_pieces_all_present_one_missing_one_changed() -> None:
    data, paths = multi_torrent(CONTENTS)
    torrent, _ = read_torrent(data)
    assert torrent is not None
    total = -(-sum(map(len, CONTENTS.values())) // PIECE)

    asked, read_file = opener(dict(zip(paths, CONTENTS.values(), strict=True)))
    check = verify_pieces(torrent, read_file)
    assert (check.pieces, check.matched, check.mismatched, check.unavailable) == (total, total, 0, 0)
    assert check.complete and (check.files_found, check.files_missing) == (3, 0)
    assert asked == paths

    # b.png missing: it lies inside piece 1 (bytes 16384..32768 hold the end of a.jpg, b.png, c.txt's start)
    present = {p: c for p, c in zip(paths, CONTENTS.values(), strict=True) if not p.endswith("b.png")}
    check = verify_pieces(torrent, opener(present)[1])
    assert (check.matched, check.mismatched, check.unavailable, check.files_missing) == (total - 1, 0, 1, 1)

    changed = dict(zip(paths, CONTENTS.values(), strict=True))
    changed["album/c.txt"] = changed["album/c.txt"][:-1] + b"X"  # the last piece differs
    check = verify_pieces(torrent, opener(changed)[1])
    assert (check.matched, check.mismatched, check.unavailable) == (total - 1, 1, 0)

    shorter = dict(zip(paths, CONTENTS.values(), strict=True))
    shorter["album/c.txt"] = shorter["album/c.txt"][:PIECE]  # a partial download: the tail is unavailable
    check = verify_pieces(torrent, opener(shorter)[1])
    assert check.unavailable >= 1 and check.mismatched == 0 and not check.complete


def test_verify_pieces_feeds_padding_files_as_zeros() -> None:
    data, paths = multi_torrent(CONTENTS, padding_after="one/a.jpg")
    torrent, _ = read_torrent(data)
    assert torrent is not None
    asked, read_file = opener(dict(zip(paths, CONTENTS.values(), strict=True)))
    check = verify_pieces(torrent, read_file)
    assert check.complete and check.mismatched == 0
    assert asked == paths  # the padding file is never asked for
    assert len(records(list(TorrentFileParser().parse(data, "x.torrent")))) == 4  # nor recorded as a file


def test_verify_pieces_refuses_an_inconsistent_torrent() -> None:
    data, _ = single_torrent(b"x" * (3 * PIECE))
    torrent, _ = read_torrent(data.replace(b"i16384e", b"i32768e"))  # the piece length no longer fits
    assert torrent is not None
    check = verify_pieces(torrent, lambda path: None)
    assert check.problem and check.matched == 0 and not check.complete


def test_truncated_torrent_without_info_is_a_warning() -> None:
    data, _ = single_torrent(b"abc")
    entries = list(TorrentFileParser().parse(data[: data.index(b"4:info") + 20], "x.torrent"))
    assert records(entries) == []
    assert [w.code for w in warnings(entries)] == ["p2p-truncated", "p2p-corrupt"]


# --- resume data --------------------------------------------------------------------------------------------

HASH_A = hashlib.sha1(b"torrent a").digest()
HASH_B = hashlib.sha1(b"torrent b").digest()


def utorrent_resume() -> bytes:
    return benc(
        {
            b".fileguard": b"0123456789ABCDEF0123456789ABCDEF01234567",
            b"rec": {b"a": 1},
            b"a.torrent": {
                b"caption": "Holiday pictures",
                b"path": "C:\\Users\\bob\\Downloads\\Holiday pictures",
                b"added_on": T0,
                b"completed_on": T0 + 3600,
                b"downloaded": 5000,
                b"uploaded": 12000,
                b"info": HASH_A,
                b"seedtime": 7200,
                b"label": "pics",
            },
            b"b.torrent": {
                b"caption": "Unfinished",
                b"path": "C:\\Users\\bob\\Downloads\\Unfinished",
                b"added_on": T0 + 10,
                b"completed_on": 0,
                b"downloaded": 10,
                b"uploaded": 0,
                b"info": HASH_B,
                b"seedtime": 0,
            },
        }
    )


def test_utorrent_resume_dat() -> None:
    data = utorrent_resume()
    assert isinstance(registry.claim("resume.dat", data[:64]), UTorrentResume)
    entries = list(UTorrentResume().parse(data, "resume.dat"))
    assert warnings(entries) == []
    a, b = records(entries)
    assert (a.client, a.artefact, a.index, a.name, a.hashes) == (
        "utorrent",
        "resume.dat",
        0,
        "Holiday pictures",
        {"btih": HASH_A},
    )
    assert (a.shared, a.completed, a.uploaded_bytes, a.added, a.completed_at) == (
        True,
        True,
        12000,
        WHEN,
        datetime.fromtimestamp(T0 + 3600, UTC),
    )
    assert a.save_path == "C:\\Users\\bob\\Downloads\\Holiday pictures"
    assert a.extra == {"torrent_file": "a.torrent", "downloaded": "5000", "seedtime_s": "7200", "label": "pics"}
    assert (b.index, b.name, b.shared, b.completed, b.completed_at, b.uploaded_bytes) == (
        1,
        "Unfinished",
        None,
        None,
        None,
        0,
    )


def test_transmission_resume_takes_the_hash_from_its_name() -> None:
    data = benc(
        {
            b"name": "Holiday pictures",
            b"destination": "/home/bob/Downloads",
            b"added-date": T0,
            b"done-date": T0 + 60,
            b"activity-date": T0 + 120,
            b"uploaded": 999,
            b"downloaded": 5000,
            b"paused": 0,
            b"progress": {b"have": b"all"},
        }
    )
    name = f"{HASH_A.hex()}.resume"
    parser = registry.claim(name, data[:64])
    assert isinstance(parser, TransmissionResume)
    [record] = records(list(parser.parse(data, name)))
    assert (record.client, record.name, record.hashes, record.save_path) == (
        "transmission",
        "Holiday pictures",
        {"btih": HASH_A},
        "/home/bob/Downloads",
    )
    assert (record.shared, record.completed, record.uploaded_bytes) == (True, True, 999)
    assert (record.added, record.completed_at) == (WHEN, datetime.fromtimestamp(T0 + 60, UTC))
    assert record.extra["downloaded"] == "5000"
    [unnamed] = records(list(parser.parse(data, "holiday.resume")))  # not named by its hash: no info-hash
    assert unnamed.hashes == {} and unnamed.shared is True
    paused = data.replace(b"6:pausedi0e", b"6:pausedi1e")
    [record] = records(list(parser.parse(paused, name)))
    assert (record.shared, record.completed) == (None, True)


def test_qbittorrent_fastresume() -> None:
    data = benc(
        {
            b"file-format": "libtorrent resume file",
            b"info-hash": HASH_B,
            b"name": "Album",
            b"save_path": "/tmp/incomplete",
            b"qBt-savePath": "/home/bob/Music",
            b"added_time": T0,
            b"completed_time": T0 + 30,
            b"total_uploaded": 4096,
            b"total_downloaded": 8192,
            b"paused": 0,
            b"seed_mode": 0,
            b"qBt-category": "music",
        }
    )
    parser = registry.claim(f"{HASH_B.hex()}.fastresume", data[:64])
    assert isinstance(parser, QBittorrentFastresume)
    [record] = records(list(parser.parse(data, f"{HASH_B.hex()}.fastresume")))
    assert (record.client, record.artefact, record.name, record.hashes, record.save_path) == (
        "qbittorrent",
        "fastresume",
        "Album",
        {"btih": HASH_B},
        "/home/bob/Music",
    )
    assert (record.shared, record.completed, record.uploaded_bytes) == (True, True, 4096)
    assert record.extra == {"downloaded": "8192", "paused": "0", "category": "music"}
    [stopped] = records(list(parser.parse(data.replace(b"6:pausedi0e", b"6:pausedi1e"), "x.fastresume")))
    assert stopped.shared is None


def test_claims_look_at_name_and_first_byte_only() -> None:
    assert registry.claim("resume.dat", b"PK\x03\x04") is None
    assert registry.claim("notes.resume", b"hello") is None
    assert registry.claim("x.torrent", b"<html>") is None
    assert registry.claim("notes.resume", b"done: buy milk") is None  # a 'd' alone is not a dictionary
    assert isinstance(registry.claim("RESUME.DAT", b"d10:.fileguard"), UTorrentResume)


# --- hostile resume data: the records read whole, then a warning --------------------------------------------


def cut(data: bytes, marker: bytes, extra: int = 0) -> bytes:
    return data[: data.index(marker) + extra]


@pytest.mark.parametrize(
    ("variant", "code"),
    [
        pytest.param(lambda d: cut(d, b"Unfinished", 4), "p2p-truncated", id="truncated"),
        pytest.param(lambda d: d.replace(b"10:Unfinished", b"99999:Unfinished"), "p2p-truncated", id="length-past-end"),
        pytest.param(
            lambda d: d.replace(b"7:caption10:Unfinished", b"7:caption" + b"l" * 10_000 + b"e" * 10_000),
            "p2p-corrupt",
            id="nesting-10000",
        ),
        pytest.param(
            lambda d: d.replace(b"8:uploadedi0e", b"8:uploadedi9223372036854775808e"), "p2p-corrupt", id="2^63"
        ),
    ],
)
def test_hostile_resume_dat(variant: Callable[[bytes], bytes], code: str) -> None:
    data = variant(utorrent_resume())
    entries = list(UTorrentResume().parse(data, "resume.dat"))
    [first] = records(entries)
    assert (first.name, first.hashes) == ("Holiday pictures", {"btih": HASH_A})
    [warning] = warnings(entries)
    assert warning.code == code
    assert "resume.dat" in warning.message


@pytest.mark.parametrize("parser", [TransmissionResume(), QBittorrentFastresume(), TorrentFileParser()])
@pytest.mark.parametrize(
    "data",
    [b"", b"d", b"l" * 10_000, b"i9223372036854775808e", b"d4:name99:x", b"d4:infod6:lengthi-5e4:name1:xee"],
)
def test_single_torrent_parsers_never_raise(parser: object, data: bytes) -> None:
    entries = list(parser.parse(data, "x"))  # type: ignore[attr-defined]
    assert all(isinstance(e, P2PRecord | P2PWarning) for e in entries)
    assert warnings(entries) or records(entries)


# --- every cut and seeded random damage ------------------------------------------------------------------


def fuzz_cases() -> list[tuple[str, object, bytes]]:
    transmission = benc({b"name": "x", b"done-date": T0, b"paused": 0, b"uploaded": 5})
    fastresume = benc({b"info-hash": HASH_A, b"name": "x", b"completed_time": T0, b"paused": 0})
    return [
        ("single.torrent", TorrentFileParser(), single_torrent(b"abc" * 100)[0]),
        ("multi.torrent", TorrentFileParser(), multi_torrent(CONTENTS, padding_after="one/a.jpg")[0]),
        ("resume.dat", UTorrentResume(), utorrent_resume()),
        (f"{HASH_A.hex()}.resume", TransmissionResume(), transmission),
        (f"{HASH_A.hex()}.fastresume", QBittorrentFastresume(), fastresume),
    ]


def run_damaged(parser: object, data: bytes, name: str) -> None:
    entries = list(parser.parse(data, name))  # type: ignore[attr-defined]
    assert all(isinstance(e, P2PRecord | P2PWarning) for e in entries)
    kinds = [isinstance(e, P2PWarning) for e in entries]
    assert kinds == sorted(kinds)  # records first, then the warnings: nothing is read after damage


@pytest.mark.parametrize(("name", "parser", "data"), fuzz_cases(), ids=[c[0] for c in fuzz_cases()])
def test_every_cut_and_random_damage(name: str, parser: object, data: bytes) -> None:
    assert registry.claim(name, data[:64]) is not None
    for cut_at in range(len(data)):
        run_damaged(parser, data[:cut_at], name)
    rng = random.Random(f"bittorrent-fuzz:{name}")
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(len(damaged))] = rng.choice(b"de:il0123456789\xff")
        run_damaged(parser, bytes(damaged), name)
