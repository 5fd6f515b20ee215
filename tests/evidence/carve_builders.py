"""A synthetic raw region for the carving tests and the carving benchmark: known benign pictures at odd
offsets, some whole, some truncated, some split in two fragments, plus decoys with JPEG markers, all
in seeded random junk. Returns the region and the answer key."""

from __future__ import annotations

import hashlib
import io
import random
import struct
from dataclasses import dataclass, field

from safenet.demo import _encode, picture
from tests.datafiles import DATA

CORPUS = DATA


@dataclass
class Answer:
    whole: dict[int, tuple[str, str]] = field(default_factory=dict)  # offset -> (type, md5)
    partial: dict[int, str] = field(default_factory=dict)  # offset -> type
    decoys: list[int] = field(default_factory=list)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def avi(frames: int = 3) -> bytes:
    """A minimal structurally valid AVI: hdrl and movi lists and an idx1 chunk."""

    def chunk(code: bytes, body: bytes) -> bytes:
        return code + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")

    hdrl = b"LIST" + struct.pack("<I", 4 + 64) + b"hdrl" + chunk(b"avih", bytes(56))
    movi_body = b"movi" + b"".join(chunk(b"00dc", bytes([n]) * 101) for n in range(frames))
    movi = b"LIST" + struct.pack("<I", len(movi_body)) + movi_body
    body = b"AVI " + hdrl + movi + chunk(b"idx1", bytes(16 * frames))
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tiff() -> bytes:
    buf = io.BytesIO()
    picture(7, (64, 48)).save(buf, format="TIFF")
    return buf.getvalue()


def webp() -> bytes:
    buf = io.BytesIO()
    picture(8, (64, 48)).save(buf, format="WEBP", quality=80)
    return buf.getvalue()


def build(seed: int = 5, scale: int = 1, align: int = 1) -> tuple[bytes, Answer]:
    """The region and its answer key. ``scale`` repeats the layout (for the benchmark); ``align`` puts
    every file and decoy start on that boundary (512: sectors, as a file system would)."""
    rng = random.Random(seed)
    out = bytearray()
    answer = Answer()

    def junk(n: int) -> None:
        out.extend(rng.randbytes(n))

    def place() -> None:
        junk(rng.randrange(1, 5000))
        junk(-len(out) % align)

    def whole(kind: str, data: bytes) -> None:
        place()
        answer.whole[len(out)] = (kind, md5(data))
        out.extend(data)

    def partial(kind: str, data: bytes) -> None:
        place()
        answer.partial[len(out)] = kind
        out.extend(data)

    for round_ in range(scale):
        base = 100 * round_
        jpeg_big = _encode(picture(base + 1, (800, 600)), "JPEG")
        png = _encode(picture(base + 2, (320, 240)), "PNG")
        gif = _encode(picture(base + 3, (200, 150)), "GIF")
        whole("jpeg", jpeg_big)
        whole("png", png)
        whole("gif", gif)
        whole("bmp", _encode(picture(base + 4, (90, 61)), "BMP"))
        whole("jpeg", _encode(picture(base + 5, (123, 77)), "JPEG"))
        whole("webp", webp())
        whole("tiff", tiff())
        whole("avi", avi())
        whole("mp4", (CORPUS / "media" / "video" / "realshort.mp4").read_bytes())
        # truncated: the rest overwritten by random data
        cut_jpeg = _encode(picture(base + 9, (640, 480)), "JPEG")
        partial("jpeg", cut_jpeg[: len(cut_jpeg) * 2 // 3])
        cut_png = _encode(picture(base + 10, (320, 240)), "PNG")
        partial("png", cut_png[: len(cut_png) * 2 // 3])
        # fragmented: two fragments with other data (random, then zeros) between them
        frag = _encode(picture(base + 11, (640, 480)), "JPEG")
        partial("jpeg", frag[: len(frag) // 2])
        junk(4096)
        out.extend(frag[len(frag) // 2 :])
        frag_png = _encode(picture(base + 12, (320, 240)), "PNG")
        partial("png", frag_png[: len(frag_png) // 2])
        out.extend(bytes(4096))
        out.extend(frag_png[len(frag_png) // 2 :])
        frag_zero = _encode(picture(base + 13, (640, 480)), "JPEG")
        partial("jpeg", frag_zero[: len(frag_zero) // 2])
        out.extend(bytes(4096))
        out.extend(frag_zero[len(frag_zero) // 2 :])
        frag_gif = _encode(picture(base + 14, (200, 150)), "GIF")
        partial("gif", frag_gif[: len(frag_gif) // 2])
        junk(4096)
        out.extend(frag_gif[len(frag_gif) // 2 :])
        # decoys: JPEG markers followed by random data, and a plausible APP0 header with no picture
        for head in (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\xff\xd8\xff\xc4", b"\xff\xd8\xff"):
            place()
            answer.decoys.append(len(out))
            out.extend(head)
            junk(rng.randrange(100, 20000))
        place()
        answer.decoys.append(len(out))
        out.extend(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        junk(5000)
    junk(rng.randrange(1, 5000))
    return bytes(out), answer
