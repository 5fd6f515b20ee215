"""Carving a disk image's unallocated space (full profile): a FAT image with one file whose directory
entry was wiped (its bytes only in unallocated space) and one deleted but still listed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.carve import REGION
from safenet.evidence.image import ImageEvidence
from safenet.evidence.image.tsk import _subtract
from safenet.evidence.locator import Locator
from safenet.evidence.model import OpenContext
from safenet.evidence.registry import open_locator
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg
from tests.evidence.image_builders import HAVE_EXT4, HAVE_NTFS, ext4_image, ntfs_image, photos

pytestmark = pytest.mark.skipif(
    not (shutil.which("mkfs.vfat") and shutil.which("mcopy")), reason="dosfstools/mtools missing (make sysdeps-test)"
)


def fat_image(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """Three JPEGs in the root folder; IMG_0001 deleted (listed), IMG_0002 deleted and its entry wiped."""
    image = tmp_path / "stick.img"
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "16", "-n", "STICK", str(image)], check=True, capture_output=True)
    files = {f"IMG_{i:04d}.JPG": jpeg(40 + i, (320, 240)) for i in range(3)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        subprocess.run(["mcopy", "-i", str(image), str(tmp_path / name), f"::/{name}"], check=True)
    for name in ("IMG_0001.JPG", "IMG_0002.JPG"):
        subprocess.run(["mdel", "-i", str(image), f"::/{name}"], check=True)
    raw = bytearray(image.read_bytes())
    at = raw.index(b"\xe5MG_0002JPG")  # the last entry of the root folder: zeroed, it ends the listing
    raw[at : at + 32] = bytes(32)
    image.write_bytes(bytes(raw))
    return image, files


def test_unallocated_region_is_listed_only_when_asked_and_reopens(tmp_path: Path) -> None:
    image, files = fat_image(tmp_path)
    assert not any(i.locator.leaf.detail == REGION for i in ImageEvidence(image).items(lambda w: None))
    evidence = ImageEvidence(image, OpenContext(unallocated=True))
    items = list(evidence.items(lambda w: None))
    assert [i.name for i in items if i.deleted] == ["_MG_0001.JPG"]  # TSK: FAT keeps no first letter
    (region,) = [i for i in items if i.locator.leaf.detail == REGION]
    with evidence.open(region.locator) as stream:
        data = stream.read()
    assert len(data) == region.size
    assert files["IMG_0002.JPG"] in data  # wiped entry: its clusters are free
    assert files["IMG_0001.JPG"][-600:] not in data  # listed deleted file: left out of the region
    fresh = ImageEvidence(image)  # another process: the runs are worked out again
    with fresh.open(region.locator) as stream:
        assert stream.read() == data
        stream.seek(region.size - 10)
        assert stream.read(100) == data[-10:]


def test_full_triage_carves_the_wiped_file_once_and_not_the_listed_one(tmp_path: Path) -> None:
    image, files = fat_image(tmp_path)
    known = VicsSet()
    known.add(files["IMG_0001.JPG"], 1)
    known.add(files["IMG_0002.JPG"], 2)
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(known.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.FULL, hashsets=("caid-test",), operator="tester")
    outcome = triage(image, case, store, options)
    assert outcome.hits == 2  # the listed deleted file once, the wiped one carved once
    with case.sessions() as s:
        rows = list(s.query(ItemRow))
    by_md5 = {hashlib.md5(data).hexdigest(): name for name, data in files.items()}
    carved = [r for r in rows if r.carved and r.status != "skipped"]
    assert [by_md5.get(r.md5 or "") for r in carved] == ["IMG_0002.JPG"]
    assert "disk offset" in (carved[0].note or "")
    offset = int((carved[0].note or "").split("disk offset ")[1].split()[0])
    data = files["IMG_0002.JPG"]
    assert image.read_bytes()[offset : offset + len(data)] == data  # the note names where it lies
    evidence = ImageEvidence(image)
    with open_locator(evidence, Locator.from_json(carved[0].locator)) as stream:
        assert hashlib.md5(stream.read()).hexdigest() == carved[0].md5
    deleted = [r for r in rows if r.deleted and not r.carved]
    assert [r.md5 for r in deleted] == [hashlib.md5(files["IMG_0001.JPG"]).hexdigest()]


def test_subtract_leaves_out_overlapping_cuts() -> None:
    assert _subtract([(0, 100), (200, 50)], [(10, 10), (15, 20), (90, 130)]) == [(0, 10), (35, 55), (220, 30)]
    assert _subtract([(0, 10)], []) == [(0, 10)]


def test_ntfs_region_holds_neither_live_nor_listed_deleted_clusters(tmp_path: Path) -> None:
    if not HAVE_NTFS:
        pytest.skip("mkntfs/ntfs-3g missing")
    files = photos(3)
    try:
        image = ntfs_image(tmp_path, files, delete=["DCIM/IMG_0001.JPG"])
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot mount NTFS here: {exc}")
    evidence = ImageEvidence(image, OpenContext(unallocated=True))
    items = list(evidence.items(lambda w: None))
    (region,) = [i for i in items if i.locator.leaf.detail == REGION]
    with evidence.open(region.locator) as stream:
        data = stream.read()
    assert len(data) == region.size and len(data) > 1 << 20  # most of a 16 MiB volume is free
    assert not any(content[-600:] in data for content in files.values())


def test_ext4_unallocated_space_is_reported_not_carved(tmp_path: Path) -> None:
    if not HAVE_EXT4:
        pytest.skip("mkfs.ext4/debugfs missing")
    image = ext4_image(tmp_path, photos(1), delete=[])
    warnings: list[str] = []
    items = list(ImageEvidence(image, OpenContext(unallocated=True)).items(lambda w: warnings.append(w.code)))
    assert "carve-not-supported" in warnings
    assert not any(i.locator.leaf.detail == REGION for i in items)
