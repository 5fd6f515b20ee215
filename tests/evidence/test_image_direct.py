"""Files of a raw image read straight from their runs give exactly the bytes TSK's own read gives.

``TskFileSystem.open`` reads a live, plain stream (non-resident, uncompressed, no sparse or filler runs,
initialized to its size) of a single-file raw image with ``pread`` from the runs its listing found, instead
of through pytsk3. Every file of every raw corpus image and of synthetic ext4, NTFS and FAT images is read
both ways here: through a listed ``ImageEvidence`` (which knows the runs) and through a fresh one (which
does not, so TSK reads it). The run reader is also checked on its own against runs laid out by hand.
"""

from __future__ import annotations

import gzip
import io
import random
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from safenet.evidence.image import ImageEvidence
from safenet.evidence.image.region import RunsRaw
from safenet.evidence.image.tsk import RawVolume
from tests.datafiles import DATA
from tests.evidence.image_builders import (
    HAVE_EXT4,
    HAVE_FAT,
    HAVE_NTFS,
    ext4_image,
    listing,
    ntfs_image,
    path_of,
    photos,
)

CORPUS = DATA / "disk"


def both_ways(image: Path) -> tuple[int, int]:
    """Read every listed file (whole, then in odd pieces) through the run reader where it applies and
    through TSK; assert the bytes are equal. Returns (files read from their runs, live files with content)."""
    listed, items, _ = listing(image)
    fresh = ImageEvidence(image)  # never listed: knows no runs, so every open goes through TSK
    direct = 0
    for item in items:
        with listed.open(item.locator) as ours, fresh.open(item.locator) as tsk:
            used = isinstance(getattr(ours, "raw", None), RunsRaw)
            assert not isinstance(getattr(tsk, "raw", None), RunsRaw)
            expected = tsk.read()
            assert ours.read() == expected, path_of(item)
            if used and len(expected) > 1:
                rng = random.Random(path_of(item))
                for _ in range(4):  # seeks and reads that start and end inside runs
                    at, n = rng.randrange(len(expected)), rng.randrange(1, 70_000)
                    ours.seek(at)
                    assert ours.read(n) == expected[at : at + n], (path_of(item), at, n)
        assert not (used and item.deleted)  # deleted files are always read by TSK
        direct += used
    return direct, sum(1 for item in items if not item.deleted and item.size)


@pytest.mark.parametrize(
    ("source", "member", "every"),
    [
        ("dfvfs/ext2.raw.gz", None, True),
        ("dfvfs/mbr_2022.raw.gz", None, True),  # ext2 and ext4 in MBR partitions (one a logical partition)
        ("sleuthkit/image.dd", None, True),
        ("dftt/7-undel-ntfs.zip", "7-undel-ntfs/7-ntfs-undel.dd", True),
        ("dftt/6-undel-fat.zip", "6-undel-fat/6-fat-undel.dd", True),
        ("fat_exfat/fat12.raw.gz", None, True),
        ("fat_exfat/fat16.raw.gz", None, True),
        ("fat_exfat/fat32_full_test.tgz", "fat32_full_test.raw", True),
        ("fat_exfat/fat_lfn_test.raw.gz", None, True),
        ("fat_exfat/exfat_win.raw.gz", None, False),  # exFAT: always TSK (its valid data length is not read)
    ],
)
@pytest.mark.timeout(120)
def test_corpus_files_read_from_their_runs_equal_tsk(
    source: str, member: str | None, every: bool, tmp_path: Path
) -> None:
    image = _extracted(CORPUS / source, member, tmp_path)
    direct, live = both_ways(image)
    assert direct == live if every else direct < live
    if "/exfat_" in source:
        assert direct == 0


def _extracted(path: Path, member: str | None, tmp_path: Path) -> Path:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            return Path(archive.extract(member or "", tmp_path))
    if path.suffix == ".tgz":
        with tarfile.open(path) as archive:
            archive.extract(member or "", tmp_path, filter="data")
        return tmp_path / (member or "")
    if path.suffix == ".gz":
        target = tmp_path / path.name.removesuffix(".gz")
        with gzip.open(path) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return target
    return path


@pytest.mark.skipif(not HAVE_EXT4, reason="mkfs.ext4/debugfs not installed")
@pytest.mark.timeout(120)
def test_ext4_photos_read_from_their_runs(tmp_path: Path) -> None:
    files = photos(12) | {"big/one.bin": random.Random(5).randbytes(3_000_001)}
    image = ext4_image(tmp_path, files, delete=["DCIM/IMG_0003.JPG"])
    assert both_ways(image) == (len(files) - 1, len(files) - 1)  # every live file; the deleted one through TSK


@pytest.mark.skipif(not HAVE_NTFS, reason="mkntfs/ntfs-3g not installed")
@pytest.mark.timeout(120)
def test_ntfs_files_and_streams_read_from_their_runs(tmp_path: Path) -> None:
    files = photos(6) | {"small.txt": b"resident data", "big.bin": random.Random(6).randbytes(2_000_003)}
    streams = {"big.bin:hidden": random.Random(7).randbytes(300_000)}
    image = ntfs_image(tmp_path, files, delete=["DCIM/IMG_0002.JPG"], streams=streams)
    direct, live = both_ways(image)
    assert (direct, live) == (5 + 2, 5 + 2 + 1)  # live photos, big.bin and its stream; not the resident small.txt


@pytest.mark.skipif(not HAVE_FAT, reason="mkfs.vfat/mtools not installed")
@pytest.mark.timeout(120)
def test_fat_photos_read_from_their_runs(tmp_path: Path) -> None:
    image = tmp_path / "fat.img"
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "16", str(image)], check=True, capture_output=True)
    files = photos(5)
    for rel, data in files.items():
        (tmp_path / "src.jpg").write_bytes(data)
        subprocess.run(["mmd", "-D", "s", "-i", str(image), "::DCIM"], capture_output=True)
        subprocess.run(["mcopy", "-i", str(image), str(tmp_path / "src.jpg"), f"::{rel}"], check=True)
    direct, total = both_ways(image)
    assert direct == total == len(files)


# --- the run reader on its own ------------------------------------------------------------------------


def _volume(tmp_path: Path, data: bytes, offset: int = 0) -> RawVolume:
    path = tmp_path / "volume.raw"
    path.write_bytes(data)
    return RawVolume(str(path), offset, len(data) - offset)


def _bytes(runs: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """(sector, count) runs as byte runs."""
    return [(sector * 512, count * 512) for sector, count in runs]


def test_run_reader_follows_runs_out_of_order(tmp_path: Path) -> None:
    disk = random.Random(1).randbytes(64 * 512)
    volume = _volume(tmp_path, disk, offset=1024)  # a partition two sectors into the image
    runs = ((20, 2), (3, 1), (40, 3))
    size = 5 * 512 + 100  # ends inside the last run
    fs = disk[1024:]
    expected = (fs[20 * 512 : 22 * 512] + fs[3 * 512 : 4 * 512] + fs[40 * 512 : 43 * 512])[:size]
    reader = io.BufferedReader(RunsRaw(volume.readinto_at, _bytes(runs), size), buffer_size=64)
    assert reader.read() == expected
    rng = random.Random(2)
    for _ in range(300):
        at, n = rng.randrange(size + 10), rng.randrange(0, 2000)
        reader.seek(at)
        assert reader.read(n) == expected[at : at + n]


def test_run_reader_past_the_image_end_is_a_read_error(tmp_path: Path) -> None:
    volume = _volume(tmp_path, bytes(8 * 512))
    reader = RunsRaw(volume.readinto_at, _bytes(((6, 4),)), 4 * 512)  # runs past the end of a truncated image
    with pytest.raises(OSError, match="the image ends before it"):
        reader.read()  # what is there, then the error, never a short file passed off as whole


@pytest.mark.skipif(not HAVE_NTFS, reason="mkntfs/ntfs-3g not installed")
@pytest.mark.timeout(120)
def test_a_worker_given_the_listings_hints_reads_every_plain_file_from_its_runs(tmp_path: Path) -> None:
    """A worker process or cluster worker opens a fresh ``ImageEvidence`` (it did not list the image): with the
    hints the listing process hands over (``reading_hint``), it reads what the listing process reads straight
    from the runs, the same bytes, files and alternate streams alike; without them, through TSK."""
    files = photos(4) | {"small.txt": b"resident data", "big.bin": random.Random(8).randbytes(1_000_003)}
    image = ntfs_image(tmp_path, files, delete=["DCIM/IMG_0001.JPG"], streams={"big.bin:hidden": b"s" * 300_000})
    listed, items, _ = listing(image)
    worker = ImageEvidence(image)
    hinted = 0
    for item in items:
        hint = listed.reading_hint(item.locator)
        if hint is None:
            continue
        worker.take_reading_hint(item.locator, hint)
        assert worker.reading_hint(item.locator) == hint  # what it took, it could hand on
        hinted += 1
        with listed.open(item.locator) as ours, worker.open(item.locator) as theirs:
            assert isinstance(getattr(theirs, "raw", None), RunsRaw) and isinstance(getattr(ours, "raw", None), RunsRaw)
            assert theirs.read() == ours.read(), path_of(item)
    assert hinted == 3 + 2  # the live photos, big.bin and its stream: not the resident file or the deleted photo
    fresh = ImageEvidence(image)
    for bad in (("unknown", None), "not a hint"):  # a hint it cannot use is ignored: TSK reads the file
        fresh.take_reading_hint(items[0].locator, bad)
    with fresh.open(items[0].locator) as stream, listed.open(items[0].locator) as ours:
        assert not isinstance(getattr(stream, "raw", None), RunsRaw) and stream.read() == ours.read()
