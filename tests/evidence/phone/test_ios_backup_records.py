"""MBFile records read by Safenet's own reader (phone.mbfile) with plistlib as the answer key, and hostile
records (truncated, mutated, oversized, nested keys) failing only with ValueError, which the listing turns
into a warning."""

from __future__ import annotations

import contextlib
import plistlib
import random
from datetime import UTC, datetime

import pytest

from safenet.evidence.phone.mbfile import parse_record
from tests.evidence.phone.ios_builder import mbfile


def _answer(blob: bytes) -> dict[str, object]:
    archive = plistlib.loads(blob)
    objects = archive["$objects"]
    top = objects[archive["$top"]["root"].data]
    key = objects[top["EncryptionKey"].data]["NS.data"] if "EncryptionKey" in top else None
    return {**{k: v for k, v in top.items() if not isinstance(v, plistlib.UID)}, "key": key}


@pytest.mark.parametrize(
    ("size", "mtime", "inode", "key"),
    [
        (0, 0, 1, None),
        (255, 1_700_000_000, 70_000, None),
        (1 << 40, 2_000_000_000, 1 << 33, b"\x03\x00\x00\x00" + bytes(range(40))),
        (12, -5, 2, b"\x01\x00\x00\x00" + b"k" * 40),
    ],
)
def test_records_agree_with_plistlib(size: int, mtime: int, inode: int, key: bytes | None) -> None:
    blob = mbfile("Media/DCIM/100APPLE/IMG_0001.JPG", size, mtime, inode, key)
    answer = _answer(blob)
    record = parse_record(blob)
    assert record.size == answer["Size"] and record.inode == answer["InodeNumber"]
    assert record.modified == datetime.fromtimestamp(mtime, UTC)
    assert record.created == datetime.fromtimestamp(answer["Birth"], UTC)  # type: ignore[arg-type]
    assert record.protection_class == answer["ProtectionClass"] and record.wrapped_key == answer["key"]


def _answer_record(blob: bytes) -> tuple[object, ...] | None:
    """The fields by plistlib as Safenet keeps them (a value of the wrong type or wider than 64 bits, a negative
    size or a time out of range is absent), or None when plistlib cannot read the record as an MBFile."""
    try:
        answer = _answer(blob)
    except Exception:
        return None

    def integer(name: str) -> int | None:
        value = answer.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not -(1 << 63) <= value < 1 << 63:
            return None  # an integer wider than 64 bits is no real size, time or inode: Safenet reads none
        return value

    size, mtime = integer("Size"), integer("LastModified")
    try:
        mtime = int(datetime.fromtimestamp(mtime, UTC).timestamp()) if mtime is not None else None
    except (OverflowError, OSError, ValueError):
        mtime = None
    key = answer["key"] if isinstance(answer["key"], bytes) else None
    return (
        size if size is not None and size >= 0 else None,
        mtime,
        integer("InodeNumber"),
        integer("ProtectionClass"),
        key,
    )


def test_truncated_and_mutated_records_fail_with_value_error_or_agree_with_plistlib() -> None:
    blob = mbfile("Media/x.jpg", 10, 1_700_000_000, 5, b"\x03\x00\x00\x00" + b"k" * 40)
    rng = random.Random(14)
    for cut in range(len(blob)):
        with pytest.raises(ValueError):
            parse_record(blob[:cut])
    agreed = 0
    for _ in range(3000):
        mutated = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        with contextlib.suppress(ValueError):  # a mutation may still be a valid record
            record = parse_record(bytes(mutated))
            answer = _answer_record(bytes(mutated))
            if answer is not None:
                mtime = int(record.modified.timestamp()) if record.modified else None
                mine = (record.size, mtime, record.inode, record.protection_class, record.wrapped_key)
                assert mine == answer
                agreed += 1
    assert agreed > 100  # the comparison is not vacuous


def test_keys_that_are_dictionaries_are_refused_without_following_them() -> None:
    blob = mbfile("Media/x.jpg", 10, 1_700_000_000, 5)
    marker = b"\x54Size"  # the ASCII string "Size" (marker 0x54) used as a key
    assert blob.count(marker) == 1
    with pytest.raises(ValueError, match="key is not a string"):
        parse_record(blob.replace(marker, b"\xd0Size"))  # now an empty dictionary


def test_an_oversized_record_is_refused_unread() -> None:
    with pytest.raises(ValueError, match="larger than any real one"):
        parse_record(b"bplist00" + bytes(2 << 20))


@pytest.mark.parametrize("extra", ["Größe", "K" * 15, "K" * 300, "\u0000"])
def test_keys_in_every_string_form_are_read_like_plistlib(extra: str) -> None:
    """Keys the reader compares in place (ASCII up to 255 characters) and those it decodes (UTF-16, longer):
    an unwanted key of each form is passed over, the wanted ones still read."""
    archive = plistlib.loads(mbfile("Media/x.jpg", 77, 1_700_000_000, 9, b"\x02\x00\x00\x00" + b"w" * 40))
    archive["$objects"][1][extra] = 5
    blob = plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)
    record = parse_record(blob)
    mtime = int(record.modified.timestamp()) if record.modified else None
    assert (record.size, mtime, record.inode, record.protection_class, record.wrapped_key) == _answer_record(blob)
    assert record.changed == datetime.fromtimestamp(1_700_000_001, UTC)  # LastStatusChange: 16 characters


def test_a_key_that_is_not_ascii_text_is_refused() -> None:
    blob = mbfile("Media/x.jpg", 10, 1_700_000_000, 5)
    marker = b"\x54Size"
    assert blob.count(marker) == 1
    with pytest.raises(ValueError, match="not ASCII"):
        parse_record(blob.replace(marker, b"\x54Siz\xe9"))
