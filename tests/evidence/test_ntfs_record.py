"""``ntfs_record``: $DATA sizes from raw MFT records of a real mkntfs volume, the TSK behaviour past the
initialized size that the module exists for, and hostile records (each answers None, none raises).

The image is written with ntfs-3g's ``ntfscp`` into the unmounted image, so no FUSE mount is needed.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytsk3

from safenet.evidence.image import ImageEvidence
from safenet.evidence.image.ntfs_record import DataSizes, data_sizes, record_size
from safenet.evidence.image.region import RunsRaw

HAVE_NTFSCP = bool(shutil.which("mkntfs") and shutil.which("ntfscp"))
SMALL = bytes(range(100))
BIG = random.Random(7).randbytes(200_000)
SIDE = random.Random(8).randbytes(5_000)  # too big to stay resident in a 1 KiB record
DATA, ATTRIBUTE_LIST, END = 0x80, 0x20, 0xFFFFFFFF


@dataclass(frozen=True)
class Volume:
    image: Path
    record_size: int


def _mft_offset(fs: pytsk3.FS_Info, record: int, size: int) -> int:
    """Byte offset in the image of MFT record ``record``, through $MFT's own data runs."""
    cluster = fs.info.block_size
    mft = fs.open_meta(inode=0)
    attr = next(a for a in mft if a.info.type == pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA and not a.info.name)
    wanted = record * size
    start = 0
    for run in attr:
        length = run.len * cluster
        if start <= wanted < start + length:
            return int(run.addr * cluster + wanted - start)
        start += length
    raise AssertionError(f"MFT record {record} lies outside $MFT's runs")


def read_record(volume: Volume, path: str) -> tuple[bytes, int]:
    """The raw MFT record of ``path`` as on disk (fixups not applied) and its offset in the image."""
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(volume.image)))
    offset = _mft_offset(fs, fs.open(path=path).info.meta.addr, volume.record_size)
    with volume.image.open("rb") as handle:
        handle.seek(offset)
        return handle.read(volume.record_size), offset


def tsk_streams(image: Path, path: str) -> dict[str, tuple[int, bytes]]:
    """Each $DATA stream of ``path`` as TSK reads it: name → (size, bytes)."""
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)))
    handle = fs.open(path=path)
    streams = {}
    for attr in handle:
        if attr.info.type == pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA:
            name = (attr.info.name or b"").decode()
            data = handle.read_random(0, attr.info.size, attr.info.type, attr.info.id)
            streams[name] = (attr.info.size, data)
    return streams


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Volume:
    if not HAVE_NTFSCP:
        pytest.skip("mkntfs/ntfscp (ntfs-3g) missing")
    root = tmp_path_factory.mktemp("ntfs")
    image = root / "ntfs.img"
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkntfs", "-F", "-q", "-f", "-L", "EVIDENCE", str(image)], check=True, capture_output=True)
    for name, data, stream in (("small.bin", SMALL, None), ("big.bin", BIG, None), ("big.bin", SIDE, "side")):
        source = root / f"{name}.{stream}"
        source.write_bytes(data)
        extra = ["-N", stream] if stream else []
        subprocess.run(["ntfscp", "-q", *extra, str(image), str(source), f"/{name}"], check=True, capture_output=True)
    size = record_size(image.read_bytes()[:512])
    assert size == 1024
    return Volume(image, size)


# Helpers that edit a raw record the way the disk holds it -------------------------------------------------


def fixed_up(raw: bytes) -> bytes:
    """The record with its fixups applied (test-side, independent of the module)."""
    usa_offset, usa_count = struct.unpack_from("<HH", raw, 4)
    fixed = bytearray(raw)
    for stride in range(1, usa_count):
        fixed[stride * 512 - 2 : stride * 512] = raw[usa_offset + 2 * stride : usa_offset + 2 * stride + 2]
    return bytes(fixed)


def patch(raw: bytes, pos: int, data: bytes) -> bytes:
    """Write ``data`` at ``pos`` of the fixed-up record: bytes a stride's last two bytes stand for go to the USA."""
    (usa_offset,) = struct.unpack_from("<H", raw, 4)
    out = bytearray(raw)
    for index, value in enumerate(data):
        at = pos + index
        if at % 512 >= 510:
            out[usa_offset + 2 * (at // 512 + 1) + at % 512 - 510] = value
        else:
            out[at] = value
    return bytes(out)


def attributes(raw: bytes) -> list[tuple[int, int]]:
    """(offset, type) of each attribute of a well-formed record."""
    fixed = fixed_up(raw)
    (pos,) = struct.unpack_from("<H", fixed, 0x14)
    found = []
    while (kind := struct.unpack_from("<I", fixed, pos)[0]) != END:
        found.append((pos, kind))
        pos += struct.unpack_from("<I", fixed, pos + 4)[0]
    return found


def unnamed_data(raw: bytes) -> int:
    fixed = fixed_up(raw)
    return next(pos for pos, kind in attributes(raw) if kind == DATA and fixed[pos + 9] == 0)


# Real records --------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_real_records_match_tsk(volume: Volume) -> None:
    raw, _ = read_record(volume, "/big.bin")
    streams = tsk_streams(volume.image, "/big.bin")
    assert streams[""] == (len(BIG), BIG) and streams["side"] == (len(SIDE), SIDE)
    for stream, (size, _data) in streams.items():
        sizes = data_sizes(raw, stream)
        assert sizes is not None
        assert sizes.real == size == sizes.initialized
        assert sizes.allocated >= size and sizes.allocated % 4096 == 0
    assert data_sizes(raw, "SIDE") is None  # stream names compare exactly, as stored
    assert data_sizes(raw, "missing") is None
    small, _ = read_record(volume, "/small.bin")
    assert tsk_streams(volume.image, "/small.bin")[""] == (len(SMALL), SMALL)
    assert data_sizes(small) is None  # resident: nothing to pread


@pytest.mark.timeout(60)
def test_initialized_size_below_real_is_reported_and_tsk_reads_zeros_past_it(volume: Volume, tmp_path: Path) -> None:
    raw, offset = read_record(volume, "/big.bin")
    patched = patch(raw, unnamed_data(raw) + 0x38, struct.pack("<Q", 10_000))
    copy = tmp_path / "patched.img"
    shutil.copyfile(volume.image, copy)
    with copy.open("r+b") as handle:
        handle.seek(offset)
        handle.write(patched)

    sizes = data_sizes(patched)
    assert sizes is not None and (sizes.real, sizes.initialized) == (len(BIG), 10_000)
    size, data = tsk_streams(copy, "/big.bin")[""]
    assert size == len(BIG)
    assert data[:10_000] == BIG[:10_000]
    assert data[10_000:] == bytes(len(BIG) - 10_000)  # valid data length: TSK zero-fills, a pread would not

    # Safenet's own reading of the listed image: big.bin goes through TSK (its initialized size is short),
    # its stream and the other files are read from their runs; every one gives TSK's bytes.
    evidence = ImageEvidence(copy)
    items = {item.name: item for item in evidence.items(lambda warning: None)}
    for name, expected, direct in (("big.bin", data, False), ("big.bin:side", SIDE, True)):
        with evidence.open(items[name].locator) as stream:
            assert isinstance(getattr(stream, "raw", None), RunsRaw) is direct
            assert stream.read() == expected


@pytest.mark.timeout(60)
def test_patch_helper_routes_stride_end_bytes_through_the_usa(volume: Volume) -> None:
    raw, _ = read_record(volume, "/big.bin")
    marker = b"ABCDEFGH"
    patched = patch(raw, 506, marker)  # 506..513 straddles stride 1's check bytes; free space past "used"
    assert fixed_up(patched)[506:514] == marker
    assert patched[510:512] == raw[510:512]  # the update sequence number stays, so the record is not torn
    assert data_sizes(patched) == data_sizes(raw) is not None


# Hostile records -----------------------------------------------------------------------------------------


def _u16(pos: int, value: int) -> Callable[[bytes], bytes]:
    return lambda raw: patch(raw, pos, struct.pack("<H", value))


def _first_attr(field: int, value: int) -> Callable[[bytes], bytes]:
    return lambda raw: patch(raw, attributes(raw)[0][0] + field, struct.pack("<I", value))


def _data(field: int, fmt: str, value: Callable[[DataSizes], int] | int) -> Callable[[bytes], bytes]:
    def mutate(raw: bytes) -> bytes:
        sizes = data_sizes(raw)
        assert sizes is not None
        number = value(sizes) if callable(value) else value
        return patch(raw, unnamed_data(raw) + field, struct.pack(fmt, number))

    return mutate


def _no_end_marker(raw: bytes) -> bytes:
    last = attributes(raw)[-1][0]
    end = last + struct.unpack_from("<I", fixed_up(raw), last + 4)[0]
    return patch(raw, end, struct.pack("<I", 0x10))


def _used_cuts_walk(raw: bytes) -> bytes:
    first = attributes(raw)[0][0]
    end = first + struct.unpack_from("<I", fixed_up(raw), first + 4)[0]
    return patch(raw, 0x18, struct.pack("<I", end + 2))


def _torn(raw: bytes) -> bytes:
    return raw[:510] + bytes([raw[510] ^ 0xFF, raw[511]]) + raw[512:]


HOSTILE: dict[str, Callable[[bytes], bytes]] = {
    "all zeros": lambda raw: bytes(len(raw)),
    "wrong signature": lambda raw: b"BAAD" + raw[4:],
    "torn fixup": _torn,
    "usa offset outside": _u16(0x04, 0xFFF0),
    "usa count outside": _u16(0x06, 0x7FFF),
    "usa count too small": _u16(0x06, 2),
    "usa over first attribute": _u16(0x14, 0x30),
    "not in use": _u16(0x16, 0x0000),
    "used size past end": lambda raw: patch(raw, 0x18, struct.pack("<I", len(raw) + 8)),
    "extension record": lambda raw: patch(raw, 0x20, struct.pack("<Q", 5)),
    "attribute length 0": _first_attr(4, 0),
    "attribute length unaligned": _first_attr(4, 0x4C),
    "attribute length past end": _first_attr(4, 0x10000),
    "attribute list present": _first_attr(0, ATTRIBUTE_LIST),
    "end marker missing": _no_end_marker,
    "truncated": lambda raw: raw[:100],
    "truncated to one stride": lambda raw: raw[:512],
    "data resident": _data(0x08, "<B", 0),
    "data compressed": _data(0x0C, "<H", 0x0001),
    "data encrypted": _data(0x0C, "<H", 0x4000),
    "data sparse": _data(0x0C, "<H", 0x8000),
    "data lowest vcn not 0": _data(0x10, "<Q", 1),
    "data runs offset outside": _data(0x20, "<H", 0xFFF8),
    "initialized above real": _data(0x38, "<Q", lambda s: s.real + 1),
    "real above allocated": _data(0x30, "<Q", lambda s: s.allocated + 1),
    "used size cuts the walk": _used_cuts_walk,
    "data name past attribute": lambda raw: patch(raw, attributes(raw)[-1][0] + 9, b"\xff"),
    "second unnamed data": lambda raw: patch(raw, attributes(raw)[-1][0] + 9, b"\0"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_record_answers_none(volume: Volume, name: str) -> None:
    raw, _ = read_record(volume, "/big.bin")
    assert data_sizes(raw) is not None
    assert data_sizes(HOSTILE[name](raw)) is None


@pytest.mark.timeout(60)
def test_random_mutations_never_raise(volume: Volume) -> None:
    raw, _ = read_record(volume, "/big.bin")
    rng = random.Random(1)
    answers = 0
    for _ in range(2_000):
        record = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            record[rng.randrange(0x200 if rng.random() < 0.8 else len(record))] = rng.randrange(256)
        if rng.random() < 0.1:
            record = record[: rng.randrange(len(record))]
        result = data_sizes(bytes(record), rng.choice(["", "side", "\ud800"]))
        assert result is None or isinstance(result, DataSizes)
        answers += result is not None
    assert 0 < answers < 2_000  # the loop reached the parser's deep end as well as its refusals


# record_size --------------------------------------------------------------------------------------------


def boot(sector: int = 512, per_cluster: int = 8, per_record: int = 0xF6, oem: bytes = b"NTFS    ") -> bytes:
    sector_bytes = bytearray(512)
    sector_bytes[3:11] = oem
    struct.pack_into("<HB", sector_bytes, 0x0B, sector, per_cluster)
    sector_bytes[0x40] = per_record
    sector_bytes[510:512] = b"\x55\xaa"
    return bytes(sector_bytes)


@pytest.mark.timeout(60)
def test_record_size_of_the_real_boot_sector(volume: Volume) -> None:
    assert record_size(volume.image.read_bytes()[:512]) == 1024


@pytest.mark.parametrize(
    ("sector", "expected"),
    [
        (boot(per_record=0xF6), 1024),
        (boot(per_record=0xF7), 512),
        (boot(per_record=1), 4096),  # one 4 KiB cluster
        (boot(sector=4096, per_cluster=1, per_record=1), 4096),
        (boot(per_cluster=0xF4, per_record=0xF6), 1024),  # 2**12 sectors: 2 MiB clusters
        (boot(per_cluster=0xF4, per_record=1), None),  # a 2 MiB record
        (boot(per_record=0), None),
        (boot(per_record=0x80), None),  # 2**128 bytes
        (boot(per_record=0xF8), 256),
        (boot(per_record=0xF9), None),  # 128 bytes
        (boot(per_cluster=0), None),
        (boot(per_cluster=3), None),
        (boot(sector=1000), None),
        (boot(sector=128), None),
        (boot(sector=8192), None),
        (boot(oem=b"MSDOS5.0"), None),
        (boot()[:100], None),
        (b"", None),
        (random.Random(2).randbytes(512), None),
        (bytes(512), None),
    ],
)
def test_record_size(sector: bytes, expected: int | None) -> None:
    assert record_size(sector) == expected
