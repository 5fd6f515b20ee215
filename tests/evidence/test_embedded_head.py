"""A JPEG's embedded-picture scan decided from its first bytes (``exif.jpeg_may_hold_pictures``): where the head
says "nothing", the whole scan finds nothing and warns of nothing (answer key: the scan itself)."""

from __future__ import annotations

import random

from safenet.analysis.filetype import HEAD_BYTES
from safenet.evidence.embedded import EmbeddedLimits, embedded_kind
from safenet.evidence.embedded.exif import jpeg_may_hold_pictures
from safenet.evidence.locator import Locator
from safenet.evidence.model import Item
from tests.evidence.test_embedded import PILLOW, exif_app1, jpeg_bytes, run, with_app1

JFIF = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
SEGMENTS = EmbeddedLimits().max_segments


def says_nothing(data: bytes) -> bool:
    return not jpeg_may_hold_pictures(data[:HEAD_BYTES], SEGMENTS)


def mutated(rng: random.Random) -> bytes:
    """A picture with an EXIF thumbnail (sometimes), then damaged: bytes changed, cut, junk put in."""
    data = bytearray(jpeg_bytes(rng.randrange(1000)))
    if rng.random() < 0.6:
        data = bytearray(with_app1(bytes(data), exif_app1(jpeg_bytes(rng.randrange(1000), (16, 12)))))
    for _ in range(rng.randint(0, 4)):
        where = rng.randrange(2, min(len(data), 200))
        if rng.random() < 0.5:
            data[where] = rng.getrandbits(8)
        else:
            data[where:where] = rng.randbytes(rng.randint(1, 8))
    if rng.random() < 0.2:
        data = data[: rng.randint(4, len(data))]
    if rng.random() < 0.2:  # a long segment first: the walk passes the head
        data[2:2] = b"\xff\xfe" + (60_000).to_bytes(2, "big") + bytes(59_998)
    return bytes(data)


def test_where_the_head_says_nothing_the_scan_finds_nothing() -> None:
    rng = random.Random(20)
    said_nothing = 0
    for n in range(600):
        data = mutated(rng) if n % 2 else JFIF + rng.randbytes(rng.choice([10, 500, 5000, 50_000]))
        if says_nothing(data):
            said_nothing += 1
            assert run(data, "jpeg") == ([], []), n
    assert said_nothing > 200  # it does decide, not always defer


def test_corpus_pictures_with_embedded_ones_are_scanned() -> None:
    for path in sorted(PILLOW.glob("*.[jm]p*")):
        data = path.read_bytes()
        found, warnings = run(data, "jpeg", name=path.name)
        if found or warnings:
            assert not says_nothing(data), path.name
        elif says_nothing(data):
            assert (found, warnings) == ([], [])


def test_the_bench_kind_of_file_needs_no_scan() -> None:
    """A JPEG head over other bytes (the benchmark's files): no producer for it; a real picture keeps one."""
    rng = random.Random(3)
    item = Item(Locator.source("/exhibit/IMG_0001.jpg"), "IMG_0001.jpg", 120_000)
    heads = [(JFIF + rng.randbytes(HEAD_BYTES))[:HEAD_BYTES] for _ in range(200)]
    assert sum(embedded_kind(item, "jpeg", None, head) is None for head in heads) >= 195
    thumbed = with_app1(jpeg_bytes(1), exif_app1(jpeg_bytes(2, (16, 12))))
    assert embedded_kind(item, "jpeg", None, thumbed[:HEAD_BYTES]) == "jpeg"
    assert embedded_kind(item, "jpeg", None, b"") == "jpeg"  # head not known: scanned
