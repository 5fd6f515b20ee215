"""Windows thumbnail caches: every corpus thumbcache file gives the entries an independent reader finds
in its raw headers, every extracted entry is a picture, entries reopen from their locators, and
hostile caches end in warnings, never exceptions."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from safenet.analysis.filetype import MediaKind, sniff
from safenet.evidence.caches import CacheIndex, CacheLimits, cache_kind, expand_cache, open_cache_entry
from safenet.evidence.caches.thumbcache import read_header, walk
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item
from tests.datafiles import DATA, data_file

CORPUS = DATA / "thumbcache"
# Cache files as the corpus names them (thumbcache_96.db, mostly unused preallocated space, is kept gzipped:
# data_file unpacks it); the thumbcache_idx.db beside each is read from the corpus folder.
CACHE_FILES = sorted(
    p.with_name(p.name.removesuffix(".gz"))
    for p in CORPUS.glob("*/thumbcache_*.db*")
    if p.name.removesuffix(".gz") != "thumbcache_idx.db"
)


def independent_count(data: bytes) -> tuple[int, int, list[tuple[int, int]]]:
    """Records and (data offset, size) of records with data, read straight from the raw headers.

    Written apart from the parser on purpose (libwtcdb's format notes): where the first and the
    available entry offsets sit depends on the version; then records are chained by their size.
    """
    version = struct.unpack("<I", data[4:8])[0]
    if version in (20, 21):
        first, available = struct.unpack("<II", data[12:20])
    else:
        first, available = struct.unpack("<II", data[16:24])
    header_len = {20: 56, 21: 48}.get(version, 56)
    fields_at = {20: 24}.get(version, 16)  # Vista keeps a 4-char extension before the sizes
    records, with_data, offset = 0, [], first
    while offset < available:
        assert data[offset : offset + 4] == b"CMMM"
        size = struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        id_len, pad, data_size = struct.unpack("<III", data[offset + fields_at : offset + fields_at + 12])
        records += 1
        if data_size:
            with_data.append((offset + header_len + id_len + pad, data_size))
        offset += size
    return records, len(with_data), with_data


def top(path: Path | str, size: int) -> Item:
    name = Path(path).name
    return Item(Locator.source(str(path)).child(Layer(LayerKind.PATH, name)), name, size)


def collect(
    item: Item, opener: Callable[[], BinaryIO], kind: str = "thumbcache", **kwargs: object
) -> tuple[list[tuple[Item, bytes]], list[EvidenceWarning]]:
    warnings: list[EvidenceWarning] = []
    out = [(i, s.read()) for i, s in expand_cache(item, kind, opener, warnings.append, **kwargs)]  # type: ignore[arg-type]
    return out, warnings


def test_corpus_has_every_windows_version() -> None:
    versions = {read_header(io.BytesIO(data_file(p).read_bytes())).version for p in CACHE_FILES}
    assert versions == {20, 21, 31, 32}  # Vista, 7, 8.1, 10/11


@pytest.mark.parametrize("path", CACHE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_entries_match_independent_reader(path: Path) -> None:
    data = data_file(path).read_bytes()
    records, images, ranges = independent_count(data)
    header = read_header(io.BytesIO(data))
    walked = list(walk(io.BytesIO(data), header, CacheLimits(), lambda *a: pytest.fail(f"warning {a}")))
    assert len(walked) == records
    index = CacheIndex(path.with_name("thumbcache_idx.db").read_bytes())
    items, warnings = collect(top(path, len(data)), lambda: io.BytesIO(data), index=index)
    assert warnings == []
    assert len(items) == images
    assert [(i.locator.leaf.offset, i.locator.leaf.length) for i, _ in items] == ranges
    for item, body in items:
        assert sniff(body[:4096]).name in {"jpeg", "png", "bmp"}, item.note
        leaf = item.locator.leaf
        assert leaf.kind is LayerKind.CACHE_ENTRY and leaf.detail == path.stem
        assert body == data[leaf.offset : leaf.offset + leaf.length]  # type: ignore[operator]
        assert item.carved and item.size == len(body)
        assert leaf.value in item.name and leaf.value in (item.note or "")
        assert "listed in thumbcache_idx.db at" in (item.note or "") and "Windows.edb" in (item.note or "")
        with open_cache_entry(io.BytesIO(data), leaf) as again:
            assert again.read() == body


def test_corpus_totals() -> None:
    """The figures a reviewer can check by hand: pictures per Windows version."""
    totals: dict[str, int] = {}
    for path in CACHE_FILES:
        data = data_file(path).read_bytes()
        items, _ = collect(top(path, len(data)), lambda d=data: io.BytesIO(d))  # type: ignore[misc]
        totals[path.parent.name] = totals.get(path.parent.name, 0) + len(items)
    assert totals == {"windows_10": 103, "windows_11": 32, "windows_7": 0, "windows_81": 48, "windows_vista": 51}


def _cache(version: int, entries: list[tuple[int, bytes]], available: int | None = None) -> bytearray:
    """A synthetic cache file: entries of (hash, data) in the given version's layout."""
    body = bytearray()
    first = 24
    for entry_hash, data in entries:
        ident = f"{entry_hash:016x}".encode("utf-16-le")
        if version == 21:
            head = struct.pack(
                "<4sIQIIIIQQ", b"CMMM", 48 + len(ident) + len(data), entry_hash, len(ident), 0, len(data), 0, 0, 0
            )
        else:
            size = 56 + len(ident) + len(data)
            head = struct.pack("<4sIQIIIIIIQQ", b"CMMM", size, entry_hash, len(ident), 0, len(data), 8, 8, 0, 0, 0)
        body += head + ident + data
    end = first + len(body)
    if version == 21:
        header = struct.pack("<4sIIIII", b"CMMM", 21, 2, first, available or end, len(entries))
    else:
        header = struct.pack("<4sIIIII", b"CMMM", version, 4, 0, first, available or end)
    return bytearray(header) + body


PNG = bytes.fromhex("89504e470d0a1a0a") + b"\x00" * 40


@pytest.mark.parametrize("version", [21, 32])
def test_synthetic_versions(version: int) -> None:
    data = bytes(_cache(version, [(0x1122334455667788, PNG), (0xAABB, b"")]))
    items, warnings = collect(top("thumbcache_96.db", len(data)), lambda: io.BytesIO(data))
    assert warnings == []
    assert [(i.locator.leaf.value, body) for i, body in items] == [("1122334455667788", PNG)]
    assert "thumbcache_idx.db not consulted" in (items[0][0].note or "")


def _hostile(mutate: Callable[[bytearray], None]) -> tuple[list[tuple[Item, bytes]], list[EvidenceWarning]]:
    data = _cache(32, [(1, PNG), (2, PNG), (3, PNG)])
    mutate(data)
    frozen = bytes(data)
    return collect(top("thumbcache_256.db", len(frozen)), lambda: io.BytesIO(frozen))


RECORD = 56 + 32 + len(PNG)


def test_record_size_outside_file_resyncs() -> None:
    items, warnings = _hostile(lambda d: d.__setitem__(slice(24 + 4, 24 + 8), struct.pack("<I", 1 << 31)))
    assert [i.locator.leaf.value for i, _ in items] == [f"{2:016x}", f"{3:016x}"]
    assert [w.code for w in warnings] == ["cache-corrupt"]
    assert warnings[0].locator is not None and warnings[0].locator.leaf.kind is LayerKind.CACHE_ENTRY


def test_zero_size_record_cannot_loop() -> None:
    items, warnings = _hostile(lambda d: d.__setitem__(slice(24 + RECORD + 4, 24 + RECORD + 8), b"\0\0\0\0"))
    assert [i.locator.leaf.value for i, _ in items] == [f"{1:016x}", f"{3:016x}"]
    assert [w.code for w in warnings] == ["cache-corrupt"]


def test_data_size_overrunning_record_is_skipped() -> None:
    items, warnings = _hostile(lambda d: d.__setitem__(slice(24 + 24, 24 + 28), struct.pack("<I", 10**9)))
    assert len(items) == 2 and [w.code for w in warnings] == ["cache-corrupt"]


def test_available_offset_outside_file() -> None:
    items, warnings = _hostile(lambda d: d.__setitem__(slice(20, 24), struct.pack("<I", 0xFFFFFFF0)))
    assert len(items) == 3 and [w.code for w in warnings] == ["cache-corrupt"]
    assert "outside the file" in warnings[0].message


def test_first_offset_outside_file() -> None:
    items, warnings = _hostile(lambda d: d.__setitem__(slice(16, 20), struct.pack("<I", 0xFFFFFFF0)))
    assert items == [] and [w.code for w in warnings] == ["cache-corrupt"]


def test_garbage_everywhere_bounded() -> None:
    """A cache whose records are overwritten with CMMM garbage: finishes, warns, no exception."""
    data = bytearray(b"CMMM\x20\0\0\0\0\0\0\0\x18\0\0\0" + struct.pack("<II", 24, 1 << 20)) + bytearray(
        b"CMMM\xff\xff\xff\xff" * ((1 << 20) // 8)
    )
    frozen = bytes(data[: 1 << 20])
    items, warnings = collect(
        top("thumbcache_32.db", len(frozen)), lambda: io.BytesIO(frozen), limits=CacheLimits(max_entries=1000)
    )
    assert items == [] and warnings and {w.code for w in warnings} <= {"cache-corrupt", "cache-limit"}


def test_not_a_cache_is_a_warning() -> None:
    items, warnings = collect(top("thumbcache_32.db", 10), lambda: io.BytesIO(b"not a cache"))
    assert items == [] and [w.code for w in warnings] == ["cache-corrupt"]


def test_entry_over_limit() -> None:
    data = bytes(_cache(32, [(1, PNG)]))
    items, warnings = collect(
        top("thumbcache_32.db", len(data)), lambda: io.BytesIO(data), limits=CacheLimits(max_entry_bytes=8)
    )
    assert items == [] and [w.code for w in warnings] == ["cache-limit"]


def test_cache_kind() -> None:
    assert cache_kind(top("x.db", 1), "thumbcache") == "thumbcache"
    assert cache_kind(top("Thumbs.db", 1), "ole") == "thumbs.db"
    assert cache_kind(top("report.doc", 1), "ole") is None
    assert sniff(PNG).kind is MediaKind.IMAGE
