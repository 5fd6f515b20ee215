"""MBFile records: the fields Safenet takes from them, and hostile records (truncated, mutated, oversized)
failing only with ValueError, which the listing turns into a warning."""

from __future__ import annotations

import contextlib
import plistlib
import random
from datetime import UTC, datetime

import pytest

from safenet.evidence.phone.ios_backup import parse_record
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


def test_truncated_and_mutated_records_fail_with_value_error_only() -> None:
    blob = mbfile("Media/x.jpg", 10, 1_700_000_000, 5, b"\x03\x00\x00\x00" + b"k" * 40)
    rng = random.Random(14)
    for cut in range(len(blob)):
        with pytest.raises(ValueError):
            parse_record(blob[:cut])
    for _ in range(3000):
        mutated = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        with contextlib.suppress(ValueError):  # a mutation may still be a valid record
            parse_record(bytes(mutated))


def test_an_oversized_record_is_refused_unread() -> None:
    with pytest.raises(ValueError, match="larger than any real one"):
        parse_record(b"bplist00" + bytes(2 << 20))
