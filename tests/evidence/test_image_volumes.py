"""Volume systems and file systems the corpus has no image of, built here with Debian tools: GPT (sgdisk),
Apple partition map (parted ``mklabel mac``) and XFS (``mkfs.xfs -p`` proto file). Each holds known benign
photos; every partition must be listed and every photo read back with its MD5."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from safenet.case.store import Case
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.image import ImageEvidence
from safenet.evidence.locator import Layer, LayerKind
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.inspect import inspect_source
from tests.builders import VicsSet, jpeg
from tests.datafiles import DATA, data_file
from tests.evidence.image_builders import content, listing, path_of

SECTOR = 512
CORPUS_DFVFS = DATA / "disk" / "dfvfs"
needs_fat = pytest.mark.skipif(
    not (shutil.which("mkfs.vfat") and shutil.which("mcopy")), reason="dosfstools/mtools missing (make sysdeps-test)"
)


def _fat(tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    """A 12 MiB FAT16 file system holding ``files`` (paths relative to its root)."""
    image = tmp_path / f"{name}.fat"
    subprocess.run(["truncate", "-s", "12M", str(image)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "16", "-n", name.upper(), str(image)], check=True, capture_output=True)
    for rel, data in files.items():
        source = tmp_path / f"{name}-{Path(rel).name}"
        source.write_bytes(data)
        if "/" in rel:
            subprocess.run(["mmd", "-D", "s", "-i", str(image), f"::/{Path(rel).parent}"], check=False)
        subprocess.run(["mcopy", "-i", str(image), str(source), f"::/{rel}"], check=True)
    return image


def _place(disk: Path, fs: Path, start_sector: int) -> None:
    """Write a file-system image into a disk image at a partition's first sector."""
    with disk.open("r+b") as out:
        out.seek(start_sector * SECTOR)
        out.write(fs.read_bytes())


def _by_partition(evidence: ImageEvidence) -> dict[str, dict[str, str]]:
    """{partition name: {path: md5}} of every item listed."""
    _, items, warnings = listing(evidence.path)
    assert warnings == []
    found: dict[str, dict[str, str]] = {}
    for item in items:
        partition = next(la for la in item.locator.layers if la.kind is LayerKind.PARTITION)
        digest = hashlib.md5(content(evidence, item)).hexdigest()
        found.setdefault(f"{partition.value} {partition.detail}", {})[path_of(item).lstrip("/")] = digest
    return found


def _md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {path: hashlib.md5(data).hexdigest() for path, data in files.items()}


@needs_fat
@pytest.mark.skipif(not shutil.which("sgdisk"), reason="gdisk missing (make sysdeps-test)")
def test_gpt_disk_every_partition_is_listed_with_its_photos(tmp_path: Path) -> None:
    disk = tmp_path / "gpt.img"
    subprocess.run(["truncate", "-s", "40M", str(disk)], check=True)
    subprocess.run(
        ["sgdisk", "-o", "-n", "1:2048:+12M", "-t", "1:0700", "-c", "1:photos", "-n", "2:26624:+12M", str(disk)],
        check=True,
        capture_output=True,
    )
    first = {"DCIM/IMG_0001.JPG": jpeg(1, (160, 120)), "DCIM/IMG_0002.JPG": jpeg(2, (160, 120))}
    second = {"holiday.jpg": jpeg(3, (160, 120))}
    _place(disk, _fat(tmp_path, "p1", first), 2048)
    _place(disk, _fat(tmp_path, "p2", second), 26624)

    assert _by_partition(ImageEvidence(disk)) == {"p1 gpt": _md5s(first), "p2 gpt": _md5s(second)}
    volumes = inspect_source(disk)["volumes"]
    assert [(v["scheme"], v["offset"], v["filesystem"]) for v in volumes] == [
        ("gpt", 2048 * SECTOR, "FAT"),
        ("gpt", 26624 * SECTOR, "FAT"),
    ]


@needs_fat
@pytest.mark.skipif(not shutil.which("parted"), reason="parted missing (make sysdeps-test)")
def test_apple_partition_map_is_read(tmp_path: Path) -> None:
    disk = tmp_path / "apm.img"
    subprocess.run(["truncate", "-s", "40M", str(disk)], check=True)
    subprocess.run(
        ["parted", "-s", str(disk), "mklabel", "mac", "mkpart", "photos", "fat32", "1MiB", "13MiB"],
        check=True,
        capture_output=True,
    )
    files = {"DCIM/IMG_0007.JPG": jpeg(7, (160, 120))}
    _place(disk, _fat(tmp_path, "mac", files), 2048)

    evidence = ImageEvidence(disk)
    assert _by_partition(evidence) == {"p1 apm": _md5s(files)}
    [volume] = inspect_source(disk)["volumes"]
    assert (volume["scheme"], volume["offset"], volume["state"]) == ("apm", 2048 * SECTOR, "readable")
    assert str(listing(disk)[1][0].locator).startswith(f"{disk} › raw › p1 apm › FAT16 › ")


@pytest.mark.skipif(not shutil.which("mkfs.xfs"), reason="xfsprogs missing (make sysdeps-test)")
def test_xfs_file_system_lists_its_photos_and_says_deleted_files_are_not_listed(tmp_path: Path) -> None:
    files = {"DCIM/IMG_0010.JPG": jpeg(10, (160, 120)), "DCIM/IMG_0011.JPG": jpeg(11, (160, 120))}
    lines = ["/dev/null", "0 0", "d--755 0 0", "DCIM d--755 0 0"]
    for rel, data in files.items():
        source = tmp_path / Path(rel).name
        source.write_bytes(data)
        lines.append(f"{Path(rel).name} ---644 0 0 {source}")
    proto = tmp_path / "proto"
    proto.write_text("\n".join([*lines, "$", "$", ""]))
    image = tmp_path / "xfs.img"
    subprocess.run(["truncate", "-s", "300M", str(image)], check=True)  # XFS's minimum size; sparse here
    subprocess.run(["mkfs.xfs", "-q", "-p", str(proto), str(image)], check=True, capture_output=True)

    evidence, items, warnings = listing(image)
    assert {path_of(i).lstrip("/"): hashlib.md5(content(evidence, i)).hexdigest() for i in items} == _md5s(files)
    assert {la.detail for i in items for la in i.locator.layers if la.kind is LayerKind.FILESYSTEM} == {"XFS"}
    # The XFS reader sees live files only: the run says so instead of implying nothing was deleted.
    assert [w.code for w in warnings] == ["deleted-not-listed"]


def _loop_device(image: Path) -> str | None:
    """Attach ``image`` to a read-only loop device (root only), as a write blocker presents a drive."""
    if os.geteuid() != 0 or not shutil.which("losetup"):
        return None
    attached = subprocess.run(
        ["losetup", "--read-only", "--find", "--show", str(image)], capture_output=True, text=True
    )
    return attached.stdout.strip() if attached.returncode == 0 and attached.stdout.startswith("/dev/") else None


@needs_fat
@pytest.mark.skipif(not shutil.which("sgdisk"), reason="gdisk missing (make sysdeps-test)")
def test_a_block_device_is_triaged_like_its_image_and_hashed_when_asked(tmp_path: Path) -> None:
    disk = tmp_path / "drive.img"
    subprocess.run(["truncate", "-s", "16M", str(disk)], check=True)
    subprocess.run(["sgdisk", "-o", "-n", "1:2048:+12M", str(disk)], check=True, capture_output=True)
    files = {"DCIM/IMG_0020.JPG": jpeg(20, (160, 120)), "DCIM/IMG_0021.JPG": jpeg(21, (160, 120))}
    _place(disk, _fat(tmp_path, "dev", files), 2048)
    device = _loop_device(disk)
    if device is None:
        pytest.skip("no read-only loop device here (needs root and losetup)")
    try:
        evidence = ImageEvidence(Path(device))
        assert evidence.device
        assert _by_partition(evidence) == {"p1 gpt": _md5s(files)}
        known = VicsSet()
        known.add(files["DCIM/IMG_0021.JPG"], 1)
        store = HashSetStore(tmp_path / "hashdb")
        store.import_file(known.write(tmp_path / "set.json"), "caid", kind=SetKind.ILLICIT, warn=lambda r, m: None)
        case = Case.create_or_open(tmp_path / "case")
        options = TriageOptions(exhibit="EX2", hashsets=("caid",), operator="tester", verify_image=True)
        assert triage(Path(device), case, store, options).hits == 1
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)
    # The acquisition hash of the device is the hash of every byte the drive holds, recorded in the audit log.
    audit = (tmp_path / "case" / "audit.jsonl").read_text()
    assert '"image-hash"' in audit and hashlib.sha256(disk.read_bytes()).hexdigest() in audit


@needs_fat
@pytest.mark.skipif(not shutil.which("sgdisk"), reason="gdisk missing (make sysdeps-test)")
def test_raw_images_are_read_by_tsk_itself_with_the_same_bytes_as_through_dfvfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = tmp_path / "raw.img"
    subprocess.run(["truncate", "-s", "16M", str(disk)], check=True)
    subprocess.run(["sgdisk", "-o", "-n", "1:2048:+12M", str(disk)], check=True, capture_output=True)
    files = {"DCIM/IMG_0030.JPG": jpeg(30, (160, 120)), "DCIM/IMG_0031.JPG": jpeg(31, (160, 120))}
    _place(disk, _fat(tmp_path, "raw", files), 2048)
    evidence = ImageEvidence(disk)
    [volume] = evidence.volumes
    raw = evidence._raw_volume(volume.layers[:-1])  # image › partition (the file system's parent)
    assert raw is not None and (raw.offset, raw.get_size()) == (2048 * SECTOR, 12 << 20)
    native = _by_partition(evidence)
    monkeypatch.setattr(ImageEvidence, "_raw_volume", lambda self, layers: None)  # every read through dfVFS
    assert _by_partition(ImageEvidence(disk)) == native == {"p1 gpt": _md5s(files)}
    # Split raw, E01 and devices are never read natively: the file is not the media there.
    assert (
        ImageEvidence(data_file(CORPUS_DFVFS / "ext2.splitraw.000"))._raw_volume(
            (Layer(LayerKind.IMAGE, detail="raw"),)
        )
        is None
    )
