"""Carving: every whole picture in a synthetic region is found with the right MD5, truncated and
fragmented ones are flagged partial, decoys never become items, an endless JPEG stops at its cap,
and a 1 GiB region of zeros scans in bounded time and memory."""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
from typing import TYPE_CHECKING

import pytest

from safenet.evidence.carve import CarveLimits, carve, expand_carved, open_carved
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item
from tests.evidence.carve_builders import build, md5

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


def region_item(size: int) -> Item:
    return Item(Locator.source("/exhibit.dd").child(Layer(LayerKind.PATH, "$Unallocated")), "$Unallocated", size)


def test_synthetic_region_whole_partial_and_decoys() -> None:
    data, answer = build()
    warnings: list[EvidenceWarning] = []
    found = {
        item.locator.leaf.offset: (item, stream.read())
        for item, stream in expand_carved(region_item(len(data)), lambda: io.BytesIO(data), warnings.append)
    }
    assert warnings == []
    whole = {
        off: (item.locator.leaf.value, md5(body))
        for off, (item, body) in found.items()
        if item.locator.leaf.detail is None
    }
    partial = {
        off: item.locator.leaf.value for off, (item, _) in found.items() if item.locator.leaf.detail == "partial"
    }
    assert whole == answer.whole  # every whole one, right type and MD5, nothing else
    assert partial == answer.partial  # truncated and fragmented ones flagged, none passed off as whole
    assert not set(found) & set(answer.decoys)
    for off, (item, body) in found.items():
        assert off is not None
        leaf = item.locator.leaf
        assert item.carved and leaf.kind is LayerKind.CARVED and leaf.length == len(body) == item.size
        assert body == data[off : off + len(body)]
        assert str(off) in (item.note or "")
        with open_carved(io.BytesIO(data), leaf) as again:
            assert again.read() == body
    fragmented = [item.note for item, _ in found.values() if "fragmented" in (item.note or "")]
    assert len(fragmented) == 6  # 2 truncated (overwritten by random data) + 4 split


def test_signature_straddling_windows() -> None:
    """A file whose signature crosses the boundary between two scan windows is still found."""
    data, answer = build()
    offsets = sorted(answer.whole)
    limits = CarveLimits(window=offsets[1] + 3)  # the PNG signature starts 3 bytes before a window ends
    got = {c.offset for c in carve(io.BytesIO(data), len(data), limits) if c.partial is None}
    assert got == set(answer.whole)


def test_random_data_with_many_jpeg_markers_gives_nothing() -> None:
    rng = random.Random(11)
    parts = []
    for _ in range(2000):
        parts.append(
            rng.choice(
                [
                    b"\xff\xd8\xff\xe0",
                    b"\xff\xd8\xff\xdb",
                    b"\xff\xd8\xff\xc0",
                    b"\x89PNG\r\n\x1a\n",
                    b"GIF89a",
                    b"BM",
                    b"RIFF",
                    b"ftyp",
                ]
            )
        )
        parts.append(rng.randbytes(rng.randrange(10, 3000)))
    data = b"".join(parts)
    assert list(carve(io.BytesIO(data), len(data))) == []


def endless_jpeg(body_bytes: int) -> bytes:
    """A valid JPEG header and scan start, then compressed-looking data (stuffed FF) and no EOI."""
    from safenet.demo import _encode, picture

    jpeg = _encode(picture(21, (64, 64)), "JPEG")
    sos = jpeg.index(b"\xff\xda")
    header_end = sos + 2 + int.from_bytes(jpeg[sos + 2 : sos + 4], "big")
    body = random.Random(3).randbytes(body_bytes).replace(b"\xff", b"\xff\x00")
    return jpeg[:header_end] + body


def test_endless_jpeg_stops_at_cap() -> None:
    data = endless_jpeg(3 << 20)
    limits = CarveLimits(caps={"jpeg": 1 << 20})
    found = list(carve(io.BytesIO(data), len(data), limits))
    assert len(found) == 1
    assert found[0].offset == 0 and found[0].length == 1 << 20
    assert found[0].partial is not None and "cap" in found[0].partial


def test_endless_jpeg_to_region_end_is_truncated() -> None:
    data = endless_jpeg(200_000)
    (found,) = carve(io.BytesIO(data), len(data))
    assert found.length == len(data) and found.partial is not None and "truncated" in found.partial


def test_carve_limit_is_a_warning() -> None:
    data, _ = build()
    warnings: list[EvidenceWarning] = []
    items = list(
        expand_carved(region_item(len(data)), lambda: io.BytesIO(data), warnings.append, CarveLimits(max_carves=3))
    )
    assert len(items) == 3 and [w.code for w in warnings] == ["carve-limit"]


def test_reopen_outside_region_fails() -> None:
    from safenet.evidence.model import EvidenceError

    with pytest.raises(EvidenceError):
        open_carved(io.BytesIO(b"x" * 10), Layer(LayerKind.CARVED, "jpeg", offset=5, length=10))


class Zeros(io.RawIOBase):
    """A seekable stream of ``size`` zero bytes, produced on demand (nothing is written to disk)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.pos, self.served = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = (
            offset if whence == io.SEEK_SET else (self.pos + offset if whence == io.SEEK_CUR else self.size + offset)
        )
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self.size - self.pos))
        view[:n] = bytes(n)
        self.pos += n
        self.served += n
        return n


@pytest.mark.timeout(120)  # a hang guard, not a speed claim: speed is measured in bench/
def test_one_gib_of_zeros_in_bounded_time() -> None:
    size = 1 << 30
    stream = Zeros(size)
    started = time.perf_counter()
    found = list(carve(stream, size))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert found == []
    assert stream.served <= size + (size >> 20) * 64  # each byte read about once (window overlaps only)
    rate = size / elapsed / 1e6
    print(f"zeros: {rate:.0f} MB/s")


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="linux only")
def test_md5_helper_matches_hashlib() -> None:
    assert md5(b"abc") == hashlib.md5(b"abc").hexdigest()
