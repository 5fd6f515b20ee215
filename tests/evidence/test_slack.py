"""File slack and volume slack (full profile): a picture left in the last cluster of a file that a small
file overwrote, and one written past the end of the file system, are carved with their MD5s and
located on the disk; the slack regions reopen from their locators alone."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from safenet.evidence.carve import REGION
from safenet.evidence.image import ImageEvidence
from safenet.evidence.image.allocation import slack_runs
from safenet.evidence.locator import Locator
from safenet.evidence.model import EvidenceWarning, OpenContext
from safenet.evidence.registry import open_locator
from tests.builders import jpeg
from tests.evidence.image_builders import HAVE_EXT4, HAVE_FAT, ext4_image, full_triage

pytestmark = pytest.mark.skipif(not HAVE_FAT, reason="dosfstools/mtools missing (make sysdeps-test)")
CLUSTER = 8192


def _region(image: Path, name: str) -> bytes:
    evidence = ImageEvidence(image, OpenContext(unallocated=True))
    warnings: list[EvidenceWarning] = []
    items = list(evidence.items(warnings.append))
    assert not [w for w in warnings if w.code in ("fs-corrupt", "carve-not-supported")]
    (region,) = [i for i in items if i.locator.leaf.detail == REGION and i.name == name]
    with ImageEvidence(image).open(region.locator) as stream:  # another object: the runs are worked out again
        data = stream.read()
    assert len(data) == region.size
    return data


def fat_with_slack(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    """A FAT16 volume (8 KiB clusters) where two deleted files were overwritten by small ones.

    OLD.DOC held 1 KiB of text then a small picture (a document with an embedded photo), one cluster;
    BIG.JPG a picture of two clusters. NEW1.TXT (100 bytes) took OLD.DOC's cluster, NEW2.TXT BIG.JPG's
    first: the embedded picture is whole in NEW1.TXT's slack, the big one's first cluster but its head in
    NEW2.TXT's slack. Returns (image, embedded picture, big picture).
    """
    image = tmp_path / "slack.img"
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "12", "-s", "16", str(image)], check=True, capture_output=True)
    embedded = jpeg(91, (64, 48))
    big = jpeg(92, (480, 360))
    assert 1024 + len(embedded) <= CLUSTER < len(big) <= 2 * CLUSTER
    sources = {
        "OLD.DOC": (b"minutes of the meeting. " * 64)[:1024] + embedded,
        "BIG.JPG": big,
        "NEW1.TXT": b"n" * 100,
        "NEW2.TXT": b"m" * 100,
    }
    for name, data in sources.items():
        (tmp_path / name).write_bytes(data)
    for name in ("OLD.DOC", "BIG.JPG"):
        subprocess.run(["mcopy", "-i", str(image), str(tmp_path / name), f"::/{name}"], check=True)
    subprocess.run(["mdel", "-i", str(image), "::/OLD.DOC", "::/BIG.JPG"], check=True)
    for name in ("NEW1.TXT", "NEW2.TXT"):
        subprocess.run(["mcopy", "-i", str(image), str(tmp_path / name), f"::/{name}"], check=True)
    return image, embedded, big


def test_file_slack_holds_what_small_files_did_not_overwrite(tmp_path: Path) -> None:
    image, embedded, big = fat_with_slack(tmp_path)
    data = _region(image, "$FileSlack")
    assert embedded in data
    assert big[512:CLUSTER] in data  # the big picture's first cluster, less the sector NEW2.TXT wrote
    assert len(data) == 2 * (CLUSTER - 512)  # from the sector after each file's end to its cluster's end
    assert b"n" * 100 not in data and b"m" * 100 not in data  # the live files themselves are not slack


def test_full_triage_carves_the_picture_in_file_slack(tmp_path: Path) -> None:
    image, embedded, big = fat_with_slack(tmp_path)
    hits, rows = full_triage(image, tmp_path, {"embedded": embedded, "big": big})
    carved = [r for r in rows if r.carved and r.status != "skipped" and r.md5 == hashlib.md5(embedded).hexdigest()]
    assert len(carved) == 1 and hits == 1  # the big one lost its head: carving cannot find it, nor hash it
    (row,) = carved
    assert "$FileSlack" in row.locator
    offset = int((row.note or "").split("disk offset ")[1].split()[0])
    assert image.read_bytes()[offset : offset + len(embedded)] == embedded
    with open_locator(ImageEvidence(image), Locator.from_json(row.locator)) as stream:
        assert stream.read() == embedded


def test_volume_slack_past_the_file_system_end_is_carved(tmp_path: Path) -> None:
    """A 4 MiB FAT file system in an 8 MiB image, a picture at 6 MiB: carved from the volume slack."""
    image = tmp_path / "short.img"
    subprocess.run(["truncate", "-s", "8M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "12", str(image), "4096"], check=True, capture_output=True)  # 4096 KiB
    picture = jpeg(93, (320, 240))
    at = 6 << 20
    with image.open("r+b") as handle:
        handle.seek(at)
        handle.write(picture)
    data = _region(image, "$VolumeSlack")
    assert len(data) == 4 << 20 and data[(2 << 20) : (2 << 20) + len(picture)] == picture
    hits, rows = full_triage(image, tmp_path, {"p": picture})
    assert hits == 1
    (row,) = [r for r in rows if r.carved and r.status != "skipped"]
    assert "$VolumeSlack" in row.locator and f"disk offset {at} " in (row.note or "")


def test_ext4_file_slack_is_a_region(tmp_path: Path) -> None:
    if not HAVE_EXT4:
        pytest.skip("mkfs.ext4/debugfs missing")
    files = {"a.txt": b"x" * 5000, "b.txt": b"y" * 100}
    image = ext4_image(tmp_path, files, delete=[])
    data = _region(image, "$FileSlack")
    assert len(data) == (8192 - 5120) + (4096 - 512)  # 4 KiB blocks, from the next sector on


def test_slack_runs_start_on_a_sector_and_skip_holes() -> None:
    # a 5 000-byte file in blocks 10 and 11 (4 KiB): slack from byte 5 120 of it to the block's end
    assert slack_runs([(10, 1, False), (11, 1, False)], 5000, 4096) == [(11 * 4096 + 1024, 3072)]
    assert slack_runs([(10, 2, False)], 8192, 4096) == []  # no slack: the file fills its blocks
    assert slack_runs([(10, 1, False), (0, 11, True)], 116, 1024) == [(10 * 1024 + 512, 512)]  # trailing hole
    assert slack_runs([(10, 1, False)], 4000, 4096) == []  # less than one sector left: nothing to carve
    # slack ends with the cluster of the file's last byte: preallocated clusters past it are not slack
    assert slack_runs([(10, 4, False)], 5000, 4096) == [(11 * 4096 + 1024, 3072)]
    # FAT: TSK counts sectors, the cluster is 16 of them
    assert slack_runs([(100, 32, False)], 100, 512, cluster=8192) == [(100 * 512 + 512, 8192 - 512)]
