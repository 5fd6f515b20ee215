"""Browser caches (Firefox cache2, Chrome simple and block-file) and phone thumbnail stores as item producers.

Caches are built from the documented formats (tests.evidence.browser_cache_builders) with benign Pillow
pictures; every extracted body must hash like the picture put in and reopen from its locator alone.
"""

from __future__ import annotations

import hashlib
import struct
from functools import partial
from pathlib import Path

import pytest

from safenet.evidence.caches import WARNING_CODES, cache_kind, expand_cache
from safenet.evidence.caches.common import CacheLimits
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import Evidence, EvidenceWarning, Item, TimeSource
from safenet.evidence.registry import open_locator, open_source
from tests.builders import jpeg, png, write
from tests.evidence.browser_cache_builders import (
    BLOCK_256,
    BlockfileCache,
    block_addr,
    entry_store,
    firefox_entry,
    simple_entry,
    thumbdata,
)

FIREFOX = "Users/bob/AppData/Local/Mozilla/Firefox/Profiles/ab12.default-release/cache2/entries"
SHA1 = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
CHROME = "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Cache/Cache_Data"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _item(evidence: Evidence, name: str) -> Item:
    return next(i for i in evidence.items(lambda w: None) if i.name == name)


def _expand(
    root: Path, name: str, filetype: str = "unknown"
) -> tuple[Evidence, list[Item], list[bytes], list[EvidenceWarning]]:
    """Expand one file of the folder ``root`` as the engine would; (evidence, items, bodies, warnings)."""
    evidence = open_source(root)
    item = _item(evidence, name)
    kind = cache_kind(item, filetype)
    assert kind is not None, f"{name} not recognised as a cache"
    warnings: list[EvidenceWarning] = []
    items, bodies = [], []
    for child, stream in expand_cache(item, kind, partial(open_locator, evidence, item.locator), warnings.append):
        items.append(child)
        bodies.append(stream.read())
    return evidence, items, bodies, warnings


def _reopened(evidence: Evidence, item: Item) -> bytes:
    with open_locator(evidence, item.locator) as stream:
        return stream.read()


# --- Firefox cache2 -----------------------------------------------------------------------------------------------
def test_firefox_entry_yields_its_jpeg_body_with_url_and_times(tmp_path: Path) -> None:
    picture = jpeg(1)
    key = "O^partitionKey=%28https%2Cexample.org%29,a,:https://example.org/img/cat.jpg?size=2"
    write(tmp_path, f"{FIREFOX}/{SHA1}", firefox_entry(picture, key, fetched=1_700_000_000, modified=1_700_000_100))
    evidence, items, bodies, warnings = _expand(tmp_path, SHA1, "jpeg")  # sniffed as its body: still a cache
    assert warnings == []
    (item,) = items
    assert md5(bodies[0]) == md5(picture) and item.size == len(picture)
    assert item.name == "cat.jpg" and item.carved
    assert item.note is not None and "URL https://example.org/img/cat.jpg?size=2" in item.note
    assert "Content-Type image/jpeg" in item.note
    assert item.accessed is not None and int(item.accessed.value.timestamp()) == 1_700_000_000
    assert item.modified is not None and int(item.modified.value.timestamp()) == 1_700_000_100
    assert item.modified.source is TimeSource.CACHE
    leaf = item.locator.leaf
    assert leaf.kind is LayerKind.CACHE_ENTRY and (leaf.offset, leaf.length, leaf.detail) == (
        0,
        len(picture),
        "firefox-cache2",
    )
    assert _reopened(evidence, item) == picture


def test_firefox_version_1_metadata_and_plain_key(tmp_path: Path) -> None:
    picture = png(2)
    write(tmp_path, f"{FIREFOX}/{SHA1}", firefox_entry(picture, ":http://example.org/a/b/", version=1))
    _, items, bodies, warnings = _expand(tmp_path, SHA1, "png")
    assert warnings == [] and [md5(b) for b in bodies] == [md5(picture)]
    assert items[0].name == "b.png"


def test_firefox_entry_that_is_no_picture_yields_nothing_quietly(tmp_path: Path) -> None:
    write(
        tmp_path,
        f"{FIREFOX}/{SHA1}",
        firefox_entry(b"<html>hello</html>", ":https://example.org/", content_type="text/html"),
    )
    _, items, _, warnings = _expand(tmp_path, SHA1)
    assert items == [] and warnings == []


def test_firefox_entry_is_recognised_only_in_cache2_entries(tmp_path: Path) -> None:
    write(tmp_path, f"elsewhere/{SHA1}", firefox_entry(jpeg(1), ":https://example.org/a.jpg"))
    write(tmp_path, f"profile/cache2/trash2461/{SHA1.lower()}", firefox_entry(jpeg(1), ":https://example.org/a.jpg"))
    evidence = open_source(tmp_path)
    kinds = {item.locator.leaf.value.split("/")[1]: cache_kind(item, "jpeg") for item in evidence.items(print)}
    assert kinds == {"elsewhere": None, "profile": "firefox-cache2"}


def test_firefox_hostile_name_is_escaped(tmp_path: Path) -> None:
    write(tmp_path, f"{FIREFOX}/{SHA1}", firefox_entry(jpeg(1), ":https://example.org/x\u202egpj.exe\x07"))
    _, items, _, _ = _expand(tmp_path, SHA1, "jpeg")
    assert items[0].name == "x\\u202egpj.exe\\x07"  # the URL's own extension, escaped
    assert items[0].note is not None and "\u202e" not in items[0].note


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        (lambda data: data[:-4] + struct.pack(">I", 0xFFFFFF00), "cache-index-outside"),  # metadata offset past end
        (lambda data: data[:-4] + struct.pack(">I", len(data) - 10), "cache-index-outside"),  # no room for a header
        (lambda data: data[:20], "cache-corrupt"),  # truncated
    ],
)
def test_firefox_bad_metadata_offset_is_a_warning(tmp_path: Path, damage: object, code: str) -> None:
    data = firefox_entry(jpeg(1), ":https://example.org/a.jpg")
    write(tmp_path, f"{FIREFOX}/{SHA1}", damage(data))  # type: ignore[operator]
    _, items, _, warnings = _expand(tmp_path, SHA1)
    assert items == [] and [w.code for w in warnings] == [code]


def test_firefox_huge_key_length_is_a_warning(tmp_path: Path) -> None:
    picture = jpeg(1)
    data = bytearray(firefox_entry(picture, ":https://example.org/a.jpg"))
    key_len_at = len(picture) + 4 + 2 + 24  # hash u32, one chunk hash u16, then the 7th header field
    struct.pack_into(">I", data, key_len_at, 0x7FFFFFFF)
    write(tmp_path, f"{FIREFOX}/{SHA1}", bytes(data))
    _, items, _, warnings = _expand(tmp_path, SHA1)
    assert items == [] and [w.code for w in warnings] == ["cache-index-outside"]
    assert "key length 2147483647" in warnings[0].message


# --- Chrome simple cache ------------------------------------------------------------------------------------------
NAME0 = "0b1862f8e0d8319f_0"


@pytest.mark.parametrize("with_sha", [True, False])
def test_chrome_simple_entry_yields_its_body_with_url(tmp_path: Path, with_sha: bool) -> None:
    picture = jpeg(3, (120, 90))
    key = "1/0/_dk_https://site.example https://site.example https://cdn.example/p/dog.jpg"
    write(tmp_path, f"{CHROME}/{NAME0}", simple_entry(picture, key, with_sha=with_sha))
    evidence, items, bodies, warnings = _expand(tmp_path, NAME0)
    assert warnings == []
    (item,) = items
    assert md5(bodies[0]) == md5(picture) and item.name == "dog.jpg"
    assert item.note is not None and "URL https://cdn.example/p/dog.jpg" in item.note and "CRC-32 matches" in item.note
    assert item.locator.leaf.offset == 24 + len(key) and item.locator.leaf.detail == "chrome-simple"
    assert _reopened(evidence, item) == picture


def test_chrome_simple_hostile_entries_are_warnings(tmp_path: Path) -> None:
    picture = jpeg(3)
    good = simple_entry(picture, "https://cdn.example/a.jpg")
    bad_eof = simple_entry(picture, "https://cdn.example/a.jpg", final_magic=0x1122334455667788)
    huge_key = bytearray(good)
    struct.pack_into("<I", huge_key, 12, 0xFFFFFFF0)
    huge_stream0 = bytearray(good)
    struct.pack_into("<I", huge_stream0, len(good) - 8, 0x7FFFFFFF)  # stream_size of the last EOF record
    cases = {
        "1111111111111111_0": (bad_eof, "cache-corrupt"),
        "2222222222222222_0": (bytes(huge_key), "cache-index-outside"),
    }
    cases["3333333333333333_0"] = (bytes(huge_stream0), "cache-index-outside")
    cases["4444444444444444_0"] = (b"\x00" * 100, "cache-corrupt")
    for name, (data, _) in cases.items():
        write(tmp_path, f"{CHROME}/{name}", data)
    for name, (_, code) in cases.items():
        _, items, _, warnings = _expand(tmp_path, name)
        assert items == [] and [w.code for w in warnings] == [code], name


# --- Chrome block-file cache --------------------------------------------------------------------------------------
def _blockfile(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    cache = BlockfileCache()
    bodies = {
        "https://a.example/tiny.png": png(4, (8, 8)),  # < 1 KiB: data_1
        "https://a.example/small.jpg": jpeg(1),  # < 4 KiB: data_2
        "https://a.example/mid.jpg": jpeg(3, (400, 300)),  # <= 16 KiB: data_3
        "https://a.example/big.jpg": jpeg(6, (900, 700)),  # external f_000001
    }
    for url, body in bodies.items():
        cache.add(url, body, key_prefix="1/0/_dk_https://a.example https://a.example ")
    cache.add("https://a.example/page.html", b"<html>" + b"x" * 20000, content_type="text/html")  # f_000002
    return cache.write(tmp_path / "Cache"), bodies


def test_blockfile_data_1_yields_bodies_it_holds_and_lists_the_others(tmp_path: Path) -> None:
    _, bodies = _blockfile(tmp_path)
    assert len(bodies["https://a.example/big.jpg"]) > 16384
    evidence, items, got, warnings = _expand(tmp_path, "data_1")
    (item,) = items
    assert md5(got[0]) == md5(bodies["https://a.example/tiny.png"]) and item.name == "tiny.png"
    assert item.note is not None and "URL https://a.example/tiny.png" in item.note
    assert item.created is not None and item.created.value.year == 2024
    assert _reopened(evidence, item) == bodies["https://a.example/tiny.png"]
    (warning,) = warnings
    assert warning.code == "cache-body-elsewhere" and warning.message.startswith("3 cached bodies")
    assert "f_000001 <- https://a.example/big.jpg" in warning.message
    assert "data_2 block" in warning.message and "data_3 block" in warning.message
    assert "page.html" not in warning.message and "1 other bodies" in warning.message


@pytest.mark.parametrize(("name", "url"), [("data_2", "small.jpg"), ("data_3", "mid.jpg")])
def test_blockfile_data_2_and_3_bodies_are_found_at_block_starts(tmp_path: Path, name: str, url: str) -> None:
    _, bodies = _blockfile(tmp_path)
    evidence, items, got, warnings = _expand(tmp_path, name)
    assert warnings == []
    assert [md5(b) for b in got] == [md5(bodies[f"https://a.example/{url}"])]
    assert items[0].locator.leaf.detail == "chrome-blockfile"
    assert _reopened(evidence, items[0]) == got[0]


def test_blockfile_external_file_is_the_body_and_index_data_0_are_quiet(tmp_path: Path) -> None:
    folder, bodies = _blockfile(tmp_path)
    assert md5((folder / "f_000001").read_bytes()) == md5(bodies["https://a.example/big.jpg"])
    evidence = open_source(tmp_path)
    assert cache_kind(_item(evidence, "index"), "unknown") is None
    assert cache_kind(_item(evidence, "f_000001"), "jpeg") is None
    _, items, _, warnings = _expand(tmp_path, "data_0")
    assert items == [] and warnings == []


@pytest.mark.timeout(60)  # a hang guard, not a speed claim: speed is measured in bench/
def test_blockfile_address_out_of_range_and_chain_loop_are_bounded(tmp_path: Path) -> None:
    cache = BlockfileCache()
    cache.add("https://a.example/tiny.png", png(4, (8, 8)))
    outside = block_addr(BLOCK_256, 1, 5000)  # block 5000 of a file of a few blocks
    cache.data[1].add(entry_store("https://a.example/gone.jpg", 200, outside))
    oversize = block_addr(BLOCK_256, 1, 0)  # one block, but a size of 4 KiB
    cache.data[1].add(entry_store("https://a.example/long.jpg", 4096, oversize))
    loop_block = len(cache.data[1].blocks)  # an entry whose hash chain points at itself
    cache.data[1].add(
        entry_store("https://a.example/loop.png", 5, oversize, next_addr=block_addr(BLOCK_256, 1, loop_block))
    )
    cache.write(tmp_path / "Cache")
    _, items, _, warnings = _expand(tmp_path, "data_1")
    assert [i.name for i in items] == ["tiny.png"]
    codes = sorted(w.code for w in warnings)
    assert codes == ["cache-index-outside", "cache-index-outside"]
    assert any("gone.jpg" in w.message and "block 5000" in w.message for w in warnings)


def test_blockfile_named_file_that_is_not_a_block_file_is_quiet(tmp_path: Path) -> None:
    write(tmp_path, "project/data_1", b"just some data" * 100)
    _, items, _, warnings = _expand(tmp_path, "data_1")
    assert items == [] and warnings == []


def test_blockfile_walk_is_bounded_by_the_entry_limit(tmp_path: Path) -> None:
    cache = BlockfileCache()
    for n in range(5):
        cache.add(f"https://a.example/{n}.png", png(n, (8, 8)))
    folder = cache.write(tmp_path / "Cache")
    evidence = open_source(folder)
    item = _item(evidence, "data_1")
    limited = CacheLimits(max_entries=3)  # blocks walked
    found = list(expand_cache(item, "chrome-blockfile", partial(open_locator, evidence, item.locator), print, limited))
    assert len(found) < 5


# --- phones -------------------------------------------------------------------------------------------------------
def test_android_thumbdata_yields_each_jpeg(tmp_path: Path) -> None:
    pictures = [jpeg(10), jpeg(11, (96, 72)), jpeg(12, (50, 50))]
    write(tmp_path, "sdcard/DCIM/.thumbnails/.thumbdata3--1967290299", thumbdata(pictures))
    evidence, items, got, warnings = _expand(tmp_path, ".thumbdata3--1967290299")
    assert warnings == []
    assert [md5(b) for b in got] == [md5(p) for p in pictures]
    assert [i.locator.leaf.offset for i in items] == [13, 10013, 20013]
    assert all(_reopened(evidence, i) == b for i, b in zip(items, got, strict=True))


def test_ios_ithmb_is_recorded_as_not_examined(tmp_path: Path) -> None:
    write(tmp_path, "iTunes_Control/Artwork/F3008_1.ithmb", bytes(range(256)) * 40)
    _, items, _, warnings = _expand(tmp_path, "F3008_1.ithmb")
    assert items == [] and [w.code for w in warnings] == ["cache-not-examined"]


def test_warning_codes_are_documented() -> None:
    for code in ("cache-index-outside", "cache-body-elsewhere", "cache-not-examined", "cache-corrupt", "cache-limit"):
        assert code in WARNING_CODES
    assert all(code == code.lower() and " " not in code for code in WARNING_CODES)
