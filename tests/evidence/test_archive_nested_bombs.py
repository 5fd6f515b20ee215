"""Nested archive bombs: the limits hold for everything inside the outermost archive together.

Each archive below stays under every per-archive limit (each leaf under the ratio floor, each inner
archive small), yet together they expand without end: a zip of zips of small bombs. The budget is
cumulative per outermost archive (bytes out, members, ratio against its compressed size): expansion stops
with one ``archive-bomb`` warning at the archive where the limit was met, and what came before is kept.
Everything is built in memory from highly compressible members; nothing large is written.
"""

from __future__ import annotations

import bz2
import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from functools import partial

import pytest

from safenet.case.records import ItemStatus, WorkResult
from safenet.engine.pipeline import Settings, examine
from safenet.engine.profiles import Profile
from safenet.evidence.archive import ArchiveLimits, Nesting, expand
from tests.evidence.archive_builders import read_all, top_item

MIB = 1 << 20
JPEG_HEAD = b"\xff\xd8\xff\xe0"  # leaves are pictures by signature, so every profile reads them whole
#: Small limits so a test expands megabytes, not gigabytes; the defaults are tested below.
LIMITS = ArchiveLimits(ratio_floor_bytes=4 * MIB, max_ratio=200.0)


def gz_leaf(size: int) -> bytes:
    """A gzip member of ``size`` bytes: a JPEG signature, then zeros (about 1 000:1)."""
    first_mib = JPEG_HEAD + bytes(MIB - len(JPEG_HEAD))
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(first_mib) + co.flush(zlib.Z_FULL_FLUSH)
    unit = co.compress(bytes(MIB)) + co.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every later MiB
    crc = zlib.crc32(first_mib)
    for _ in range(size // MIB - 1):
        crc = zlib.crc32(bytes(MIB), crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    body = first + unit * (size // MIB - 1) + co.flush()
    return header + body + struct.pack("<2L", crc, size & 0xFFFFFFFF)


def bz2_leaf(size: int) -> bytes:
    """A multi-stream bzip2 member of ``size`` bytes (JPEG signature, zeros): about 50 bytes a MiB."""
    first = bz2.compress(JPEG_HEAD + bytes(MIB - len(JPEG_HEAD)), 9)
    return first + bz2.compress(bytes(MIB), 9) * (size // MIB - 1)


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # members are compressed already
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def nested(pack: Callable[[dict[str, bytes]], bytes], leaf: bytes, suffix: str, width: int, ext: str) -> bytes:
    """An archive of ``width`` archives of ``width`` identical leaves each."""
    inner = pack({f"leaf{i}.jpg{suffix}": leaf for i in range(width)})
    return pack({f"inner{i}.{ext}": inner for i in range(width)})


def examine_archive(data: bytes, name: str, limits: ArchiveLimits) -> WorkResult:
    return examine(top_item(name, len(data)), lambda: io.BytesIO(data), Settings(Profile.STANDARD, ("md5",), limits))


def leaves(result: WorkResult) -> list[str]:
    """Pictures read whole and hashed (the leaves' own content, one level below their .gz/.bz2)."""
    return [
        str(r.item.locator)
        for r in result.records
        if r.item.name.endswith(".jpg") and r.status is ItemStatus.EXAMINED and r.digests
    ]


@pytest.mark.timeout(120)  # a hang guard: before the fix this expanded every leaf
@pytest.mark.parametrize(
    ("pack", "ext", "leaf", "suffix"),
    [(zip_of, "zip", "gz", ".gz"), (tar_of, "tar", "gz", ".gz"), (zip_of, "zip", "bz2", ".bz2")],
    ids=["zip-of-zips-of-gz", "tar-of-tars-of-gz", "zip-of-zips-of-bz2"],
)
def test_nested_small_bombs_stop_at_the_outermost_archives_ratio(
    pack: Callable[[dict[str, bytes]], bytes], ext: str, leaf: str, suffix: str
) -> None:
    one = (gz_leaf if leaf == "gz" else bz2_leaf)(3 * MIB)  # under the 4 MiB floor: no per-archive limit
    data = nested(pack, one, suffix, 8, ext)  # 64 leaves, 192 MiB together
    result = examine_archive(data, f"bomb.{ext}", LIMITS)
    bombs = [w for w in result.warnings if w.code == "archive-bomb"]
    assert len(bombs) == 1, [w.code for w in result.warnings]
    assert "together" in bombs[0].message and "ratio limit" in bombs[0].message
    assert bombs[0].locator.archive_depth >= 1  # named at the nested archive where the limit was met
    allowed = max(LIMITS.ratio_floor_bytes, LIMITS.max_ratio * len(data))
    found = leaves(result)
    assert 1 <= len(found) < 64  # what came before the stop is kept; the rest was not expanded
    assert len(found) * 3 * MIB <= allowed + 3 * MIB  # at most one leaf beyond the budget was read


def test_members_are_counted_across_nested_archives() -> None:
    inner = zip_of({f"m{i}.txt": b"x" for i in range(30)})
    data = zip_of({f"inner{i}.zip": inner for i in range(4)})  # 4 + 120 members, 34 at most per archive
    result = examine_archive(data, "many.zip", ArchiveLimits(max_members=50))
    bombs = [w for w in result.warnings if w.code == "archive-bomb"]
    assert len(bombs) == 1 and "member-count limit" in bombs[0].message
    assert 1 < len([r for r in result.records if r.item.name.endswith(".txt")]) <= 50


def test_a_nesting_charges_the_outermost_budget_directly() -> None:
    """The evidence-level seam the engine uses: an archive expanded inside another's expansion."""
    inner = zip_of({"a.bin": bytes(2 * MIB), "b.bin": bytes(2 * MIB)})
    outer = zip_of({"inner.zip": inner})
    warnings: list[object] = []
    nesting = Nesting()
    limits = ArchiveLimits(ratio_floor_bytes=3 * MIB, max_ratio=1.6)  # 6.4 MiB from the 4 MiB outer zip
    read: list[int] = []
    for member, stream in expand(
        top_item("o.zip", len(outer)), "zip", lambda: io.BytesIO(outer), limits, warnings.append, nesting
    ):
        inside = expand(member, "zip", partial(io.BytesIO, read_all(stream)), limits, warnings.append, nesting)
        try:
            for _, leaf_stream in inside:
                read.append(len(read_all(leaf_stream)))
        except Exception:  # the engine records the member whose read crossed the limit as partial
            pass
        finally:
            inside.close()
    assert read == [2 * MIB]  # 4 MiB (inner zip) + 2 + 2 crosses 6.4 MiB; alone, inner holds 4 MiB of 4
    assert [w.code for w in warnings] == ["archive-bomb"]  # type: ignore[attr-defined]


def test_archives_side_by_side_are_not_nested() -> None:
    """Two top-level archives each get their own budget: only nesting adds up."""
    data = zip_of({"a.jpg": JPEG_HEAD + bytes(3 * MIB)})
    for _ in range(3):
        result = examine_archive(data, "ok.zip", LIMITS)
        assert [w.code for w in result.warnings] == [] and len(leaves(result)) == 1


@pytest.mark.timeout(300)  # a hang guard: before the fix this decompressed and hashed 15 GiB
def test_the_reported_shape_with_default_limits() -> None:
    """A zip of 16 zips of 16 leaves of 60 MiB (bzip2, under the 64 MiB floor each): stops near 64 MiB."""
    data = nested(zip_of, bz2_leaf(60 * MIB), ".bz2", 16, "zip")
    limits = ArchiveLimits()
    result = examine_archive(data, "bomb.zip", limits)
    assert [w.code for w in result.warnings].count("archive-bomb") == 1
    assert 1 <= len(leaves(result)) <= 2  # 64 MiB floor: the second leaf crosses it


def _document(part: bytes) -> bytes:
    """An Office Open XML file (a zip): its content list, then one picture part, deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/media/image1.jpg", part)
    return out.getvalue()


def test_documents_parts_count_toward_the_archive_around_them() -> None:
    """A document's pictures are expanded as parts of its zip: inside an archive, that zip is nested too."""
    document = _document(JPEG_HEAD + bytes(3 * MIB))  # under the 4 MiB floor alone
    data = zip_of({f"report{i}.docx": document for i in range(8)})
    result = examine_archive(data, "documents.zip", LIMITS)
    assert [w.code for w in result.warnings].count("archive-bomb") == 1
    parts = [r for r in result.records if r.item.name.endswith("image1.jpg") and r.digests]
    assert 1 <= len(parts) < 8
