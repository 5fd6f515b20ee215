"""safenet.analysis.pdq.jpeg_open: where it answers for Pillow, Pillow answers the same (answer key: Pillow).

Inputs are built here, seeded: JPEG heads followed by random bytes (the benchmark's undecodable files), random
marker structures (fill bytes, escapes, junk, every marker byte, lengths cut short or running past the end,
short JFIF/Adobe segments, Photoshop segments, a PhotoCD name at 2048) and real pictures, whole, cut and with
bytes changed.
"""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from safenet.analysis.guard import describe
from safenet.analysis.pdq.decode import decode
from safenet.analysis.pdq.jpeg_open import refusal

JFIF = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")


def pillow(data: bytes) -> str | None:
    """Pillow's own answer: None when it opens the bytes, else what it raised (as reports word it)."""
    try:
        with Image.open(io.BytesIO(data)):
            return None
    except Exception as exc:
        return describe(exc)


def structured(rng: random.Random) -> bytes:
    out = bytearray(b"\xff\xd8\xff" if rng.random() < 0.9 else b"\xff\xd8\xff\xff")
    for _ in range(rng.randint(0, 6)):
        kind = rng.random()
        if kind < 0.1:
            out += b"\xff" * rng.randint(1, 3)
        elif kind < 0.2:
            out += b"\x00" + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 4)))
        elif kind < 0.3:
            out += bytes(rng.choice(range(255)) for _ in range(rng.randint(1, 20))) + b"\xff"
            continue
        marker = rng.choice([0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xFE, 0xC4, 0xDD, 0xD8, 0xD9, 0xD0, 0xF0, 0x01, 0x7F])
        marker = rng.choice([marker, 0xC0, 0xC2, 0xCF, 0xDE, 0xDB, 0xDA]) if rng.random() < 0.9 else rng.getrandbits(8)
        out.append(marker)
        frame = bytes([rng.choice([8, 8, 12]), 0, 16, 0, 16, rng.choice([1, 3, 4, 2])])  # a frame header's start
        tables = [b"\x00" + bytes(64), b"\x11" + bytes(128) + b"\x00" + bytes(64)]  # quantisation tables
        names = [b"JFIF", b"Adobe", b"Photoshop 3.0\x00", b"Exif\x00\x00", b"MPF\x00", b"ICC_PROFILE\x00", b""]
        body = rng.choice([*names, frame, *tables])
        body += bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 0, 3, 6, rng.randint(0, 12)])))
        length = len(body) + 2 if rng.random() < 0.8 else rng.randint(0, 80)
        out += length.to_bytes(2, "big") + body
        if rng.random() < 0.8:
            out += b"\xff"
    if rng.random() < 0.05:
        out += bytes(2048 - len(out)) + b"PCD_" if len(out) < 2048 else b""
    if rng.random() < 0.2:
        out = out[: rng.randint(0, len(out))]
    return bytes(out)


def real(rng: random.Random) -> bytes:
    picture = Image.new("RGB", (rng.randint(1, 40), rng.randint(1, 40)), (rng.getrandbits(8), 10, 200))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=rng.randint(10, 95), progressive=rng.random() < 0.3)
    data = bytearray(buffer.getvalue())
    if rng.random() < 0.4:
        data = data[: rng.randint(3, len(data))]
    for _ in range(rng.randint(0, 3)):
        data[rng.randrange(len(data))] = rng.getrandbits(8)
    return bytes(data)


def random_tail(rng: random.Random) -> bytes:
    return JFIF + rng.randbytes(rng.choice([0, 1, 2, 5, 30, 300, 3000, 20_000]))


@pytest.mark.parametrize("build", [random_tail, structured, real])
def test_answers_only_what_pillow_answers(build: object) -> None:
    rng = random.Random(f"jpeg-open-{getattr(build, '__name__', '')}")
    photo_sized = decided = 0
    for n in range(3000):
        data = build(rng)  # type: ignore[operator]
        answer = refusal(data)
        photo_sized += len(data) > 3000
        if answer is None:
            continue
        decided += len(data) > 3000
        assert describe(answer) == pillow(data), (n, data[:64].hex())
    if build is random_tail:  # the case it is for: a photo-sized file is nearly always decided without Pillow
        assert decided > photo_sized * 0.85


def test_a_picture_pillow_opens_is_left_to_it() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, "JPEG")
    assert refusal(buffer.getvalue()) is None
    assert refusal(b"\x89PNG\r\n\x1a\n") is None  # not JPEG-signed: not its business


def test_decode_gives_pillows_skip_for_a_refused_jpeg() -> None:
    rng = random.Random(7)
    for _ in range(200):
        data = random_tail(rng)
        if refusal(data) is None:
            continue
        try:
            with Image.open(io.BytesIO(data)):
                raise AssertionError("Pillow opened bytes the walk refused")
        except Exception as exc:
            expected = describe(exc)
        skipped = decode(data, fast=True, orient=True)
        assert not hasattr(skipped, "pixels") and skipped.message == expected  # type: ignore[union-attr]


@pytest.mark.parametrize("build", [random_tail, structured, real])
def test_a_head_answers_only_what_the_whole_file_answers(build: object) -> None:
    """``complete=False`` (the head read for typing, a file's first bytes): an answer is the whole file's answer,
    and the head of a JPEG head over random bytes is most often enough to tell."""
    rng = random.Random(f"jpeg-open-head-{getattr(build, '__name__', '')}")
    longer = decided = 0
    for n in range(3000):
        data = build(rng)  # type: ignore[operator]
        longer += len(data) > 4096
        for cut in (len(data), 2052, 2100, 4096, rng.randint(0, len(data))):
            answer = refusal(data[:cut], complete=False)
            if answer is not None:
                assert answer is refusal(data), (n, cut, data[:64].hex())
                decided += cut == 4096 and len(data) > 4096
    if build is random_tail:  # most files longer than the head are told from it
        assert decided > longer * 0.6


def test_a_cut_off_head_is_left_undecided() -> None:
    segment_past_the_head = JFIF + b"\xff\xe1\xff\xf0" + bytes(5000)  # an APP1 segment longer than the head
    assert refusal(segment_past_the_head[:4096]) is not None  # as a whole file: truncated
    assert refusal(segment_past_the_head[:4096], complete=False) is None  # as a head: the rest may hold it
    assert refusal(JFIF + b"\xff\xe1\x00", complete=False) is None  # the length field cut off by the head's end
