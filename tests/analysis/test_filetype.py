from __future__ import annotations

from pathlib import Path

import pytest

from safenet.analysis.filetype import EMPTY, HEAD_BYTES, UNKNOWN, MediaKind, extension_mismatch, sniff

PILLOW = "media/pillow"

# Real third-party files from the corpus, with the type their bytes say they are.
KNOWN = [
    (f"{PILLOW}/hopper.jpg", "jpeg"),
    (f"{PILLOW}/pil_sample_cmyk.jpg", "jpeg"),
    (f"{PILLOW}/junk_jpeg_header.jpg", "jpeg"),  # junk inside the header, valid SOI
    (f"{PILLOW}/hopper.png", "png"),
    (f"{PILLOW}/apng/blend_op_over_near_transparent.png", "apng"),
    (f"{PILLOW}/hopper.gif", "gif"),
    (f"{PILLOW}/hopper.webp", "webp"),
    (f"{PILLOW}/avif/hopper.avif", "avif"),
    (f"{PILLOW}/avif/hopper.heif", "heic"),  # major brand heic despite the name
    (f"{PILLOW}/sugarshack.mpo", "jpeg"),
    ("media/video/cockatoo.mp4", "mp4"),
    ("media/video/newtonscradle.gif", "gif"),
    ("media/photos/chelsea.png", "png"),
    ("media/photos/bricks.jpg", "jpeg"),
]


@pytest.mark.parametrize(("rel", "expected"), KNOWN)
def test_corpus_files_are_typed_by_their_bytes(corpus: Path, rel: str, expected: str) -> None:
    head = (corpus / rel).read_bytes()[:HEAD_BYTES]
    assert sniff(head).name == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"BM" + (1000).to_bytes(4, "little") + b"\0" * 8 + (40).to_bytes(4, "little") + b"\0" * 40, "bmp"),
        (b"BMW is a car maker", "unknown"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "mov"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
        (b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska", "mkv"),
        (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9", "asf"),
        (b"PK\x03\x04" + b"\0" * 26 + b"[Content_Types].xml", "ooxml"),
        (b"PK\x03\x04" + b"\0" * 26 + b"photos/a.jpg", "zip"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (b"%PDF-1.7\n", "pdf"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
        (b"\0" * 257 + b"ustar\x0000", "tar"),
        (b"hello world", "unknown"),
    ],
)
def test_signatures(head: bytes, expected: str) -> None:
    assert sniff(head).name == expected


def test_empty_and_media_kinds() -> None:
    assert sniff(b"") is EMPTY
    assert sniff(b"\xff\xd8\xff\xe0").kind is MediaKind.IMAGE
    assert sniff(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isom").kind is MediaKind.VIDEO


def test_extension_mismatch_is_recorded_not_trusted() -> None:
    jpeg = sniff(b"\xff\xd8\xff\xe0")
    assert not extension_mismatch(jpeg, "IMG_0001.JPG")
    assert extension_mismatch(jpeg, "minutes.txt")
    assert extension_mismatch(jpeg, "noextension")
    assert not extension_mismatch(UNKNOWN, "anything.bin")


def test_prefixes_by_first_byte_answer_as_the_ordered_table() -> None:
    """``sniff`` asks only the prefixes that share the head's first byte: the same type as walking ``_PREFIXES``
    in order and then every sniffer, for every prefix (alone and followed by other bytes) and for other heads."""
    import random

    from safenet.analysis import filetype

    def walked(head: bytes) -> filetype.FileType:
        if not head:
            return EMPTY
        for prefix, name in filetype._PREFIXES:
            if head.startswith(prefix):
                return filetype.TYPES[name]
        for sniffer in (*filetype._SNIFFERS, filetype._bmp, filetype._thumbcache):
            if found := sniffer(head):
                return filetype.TYPES[found]
        return UNKNOWN

    rng = random.Random(20261206)
    heads = [prefix + tail for prefix, _ in filetype._PREFIXES for tail in (b"", rng.randbytes(64))]
    heads += [b"", b"PK\x03\x04" + bytes(40), b"\x89PNG\r\n\x1a\n" + bytes(30)]
    heads += [rng.randbytes(rng.randrange(1, 64)) for _ in range(2000)]
    for head in heads:
        assert sniff(head) == walked(head), head[:16]
