"""Thumbs.db (OLE compound file): thumbnails come out with their catalog names, reopen from their
locators, and damaged files end in warnings. The compound files are written here by a minimal
CFB writer (version 3, 512-byte sectors, every stream at least 4096 bytes so no mini stream)."""

from __future__ import annotations

import hashlib
import io
import struct

from safenet.demo import _encode, picture
from safenet.evidence.caches import expand_cache, open_cache_entry
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item

END, FREE, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD


def cfb(streams: dict[str, bytes]) -> bytes:
    """A compound file holding the given root-level streams (each padded to 4096 bytes or more)."""
    sectors: list[bytes] = []
    fat: list[int] = []
    starts: list[tuple[str, int, int]] = []

    def put(data: bytes) -> int:
        start = len(sectors)
        chunks = [data[i : i + 512].ljust(512, b"\0") for i in range(0, len(data), 512)]
        for n, chunk in enumerate(chunks):
            sectors.append(chunk)
            fat.append(start + n + 1 if n + 1 < len(chunks) else END)
        return start

    for name, data in streams.items():
        data = data.ljust(4096, b"\0")
        starts.append((name, put(data), len(data)))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = (name + "\0").encode("utf-16-le")
        return (
            raw.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(raw), kind, 1, FREE, right, child)
            + b"\0" * 16
            + struct.pack("<IQQIQ", 0, 0, 0, start, size)
        )

    directory = entry("Root Entry", 5, 1 if starts else FREE, FREE, END, 0)
    for n, (name, start, size) in enumerate(starts, 1):
        directory += entry(name, 2, FREE, n + 1 if n < len(starts) else FREE, start, size)
    directory = directory.ljust(-(-len(directory) // 512) * 512, b"\0")
    first_dir = put(directory)
    fat_count = -(-(len(sectors) + 1) // 127) or 1
    fat_start = len(sectors)
    fat.extend([FATSECT] * fat_count)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(512 * fat_count, b"\xff")
    difat = list(range(fat_start, fat_start + fat_count)) + [FREE] * (109 - fat_count)
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, fat_count, first_dir, 0, 4096, END, 0, END, 0)
        + struct.pack("<109I", *difat)
    )
    return header + b"".join(sectors) + fat_bytes


def catalog(names: list[tuple[int, str]]) -> bytes:
    out = struct.pack("<HHIII", 16, 7, len(names), 96, 96)
    for index, name in names:
        raw = name.encode("utf-16-le") + b"\0\0"
        out += struct.pack("<IIQ", 16 + len(raw), index, 132_000_000_000_000_000) + raw
    return out


def thumb(index: int, data: bytes) -> bytes:
    return struct.pack("<III", 12, index, len(data)) + data


def top(name: str, size: int) -> Item:
    return Item(Locator.source("/ex").child(Layer(LayerKind.PATH, name)), name, size)


def run(data: bytes) -> tuple[list[tuple[Item, bytes]], list[EvidenceWarning]]:
    warnings: list[EvidenceWarning] = []
    items = [
        (i, s.read())
        for i, s in expand_cache(top("Thumbs.db", len(data)), "thumbs.db", lambda: io.BytesIO(data), warnings.append)
    ]
    return items, warnings


def test_thumbs_db_entries_with_catalog_names() -> None:
    jpegs = {n: _encode(picture(n, (96, 72)), "JPEG") for n in (1, 2, 12)}
    streams = {"Catalog": catalog([(1, "holiday.jpg"), (2, "beach.jpg"), (12, "garden.jpg")])}
    streams.update({str(n)[::-1]: thumb(n, data) for n, data in jpegs.items()})
    streams["9"] = b"\x0c\0\0\0" + b"no picture here" * 10  # a stream that holds no picture
    data = cfb(streams)
    items, warnings = run(data)
    got = {i.locator.leaf.value: (body, i) for i, body in items}
    assert set(got) == {"1", "2", "21"}
    for n, jpeg in jpegs.items():
        body, item = got[str(n)[::-1]]
        assert hashlib.md5(body).digest() == hashlib.md5(jpeg).digest()
        assert item.name.endswith(".jpg") and item.carved
        assert item.locator.leaf.detail == "thumbs.db" and item.locator.leaf.offset == 12
        with open_cache_entry(io.BytesIO(data), item.locator.leaf) as again:
            assert again.read() == jpeg
    assert "garden.jpg" in (got["21"][1].note or "")
    assert [w.code for w in warnings] == ["cache-corrupt"]
    assert warnings[0].locator is not None and warnings[0].locator.leaf.value == "9"


def test_damaged_compound_file_is_a_warning() -> None:
    data = bytearray(cfb({"1": thumb(1, _encode(picture(3, (32, 32)), "JPEG"))}))
    data[48:52] = struct.pack("<I", 0xFFFFFF00)  # first directory sector far outside the file
    items, warnings = run(bytes(data))
    assert items == [] and [w.code for w in warnings] == ["cache-corrupt"]


def test_not_ole_is_a_warning() -> None:
    items, warnings = run(b"\0" * 2048)
    assert items == [] and [w.code for w in warnings] == ["cache-corrupt"]
