"""Disk-image gaps found with third-party images (issue 13 part 3): a volume holding two file systems,
NTFS metadata files in the full profile, and deleted ext names whose content is gone."""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.store import Case
from safenet.cli import Exit, main
from safenet.evidence.image import ImageEvidence
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, OpenContext
from safenet.inspect import inspect_source
from safenet.report.summary import summarise
from tests.builders import jpeg
from tests.datafiles import DATA, data_file

HAVE_DUAL = bool(shutil.which("mkntfs") and shutil.which("ntfscp") and shutil.which("mkfs.ext2"))

# --- a volume with the signatures of two file systems --------------------------------------------------

NTFS_FILES = {"ntfs-photo.jpg": jpeg(7001, (200, 150)), "ntfs-note.txt": b"written while the volume was NTFS\n"}
EXT_FILES = {"ext-photo.jpg": jpeg(7002, (160, 120)), "ext-note.txt": b"written after re-formatting as ext2\n"}


def dual_image(tmp_path: Path) -> Path:
    """An NTFS volume re-formatted as a small ext2 without wiping, its NTFS boot sector put back.

    mkntfs with 64 KiB clusters puts $MFT at 128 KiB and file data past the MFT zone (megabytes in); the
    ext2 (1 KiB blocks, 32 inodes, no reserved GDT blocks, no discard) lives in the first 2 MiB and its
    structures end before 128 KiB, so both stay whole: the NTFS boot sector at sector 0 (mke2fs zeroes it)
    and the ext2 superblock at 1024. TSK's detection then refuses the volume ("multiple file system types").
    """
    image = tmp_path / "dual.img"
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkntfs", "-F", "-q", "-f", "-c", "65536", str(image)], check=True, capture_output=True)
    for name, data in NTFS_FILES.items():
        (tmp_path / name).write_bytes(data)
        subprocess.run(["ntfscp", "-f", str(image), str(tmp_path / name), name], check=True, capture_output=True)
    boot = image.read_bytes()[:512]
    tree = tmp_path / "ext-tree"
    tree.mkdir()
    for name, data in EXT_FILES.items():
        (tree / name).write_bytes(data)
    cmd = ["mkfs.ext2", "-q", "-F", "-b", "1024", "-N", "32", "-O", "^resize_inode", "-E", "nodiscard"]
    subprocess.run([*cmd, "-d", str(tree), str(image), "2048"], check=True, capture_output=True)
    with image.open("r+b") as out:
        out.write(boot)
    return image


@pytest.fixture(scope="module")
def dual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_DUAL:
        pytest.skip("mkntfs, ntfscp or mkfs.ext2 missing (make sysdeps-test)")
    return dual_image(tmp_path_factory.mktemp("dual"))


def _fs(item: Item) -> str:
    return next(la.detail or "" for la in item.locator.layers if la.kind is LayerKind.FILESYSTEM)


def _listing(image: Path, context: OpenContext | None = None) -> tuple[dict[str, str], list[EvidenceWarning]]:
    """(fs name/file name -> MD5 of its content, warnings) for the user files of ``image``."""
    evidence = ImageEvidence(image, context)
    warnings: list[EvidenceWarning] = []
    found = {}
    for item in evidence.items(warnings.append):
        if item.name in NTFS_FILES or item.name in EXT_FILES:
            with evidence.open(item.locator) as stream:
                found[f"{_fs(item)}/{item.name}"] = hashlib.md5(stream.read()).hexdigest()
    return found, warnings


def _md5s(prefix: str, files: dict[str, bytes]) -> dict[str, str]:
    return {f"{prefix}/{name}": hashlib.md5(data).hexdigest() for name, data in files.items()}


def test_each_file_system_of_a_volume_with_two_is_examined_as_its_own_layer(dual: Path) -> None:
    found, warnings = _listing(dual)
    assert found == _md5s("NTFS", NTFS_FILES) | _md5s("ext2", EXT_FILES)
    assert "volume-unreadable" not in {w.code for w in warnings}
    several = [w for w in warnings if w.code == "several-filesystems"]
    assert [w.locator.leaf.detail for w in several if w.locator] == ["NTFS", "ext2"]
    for warning in several:
        assert "signatures of NTFS and ext2/3/4 in one volume" in warning.message


def test_inspect_opens_what_it_calls_readable_and_agrees_with_triage(dual: Path) -> None:
    info = inspect_source(dual)
    assert [(v["filesystem"], v["state"]) for v in info["volumes"]] == [("NTFS", "readable"), ("ext2", "readable")]
    assert all("signatures of NTFS and ext2/3/4" in v["message"] for v in info["volumes"])


def test_filesystem_option_chooses_one(dual: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = dual
    found, _ = _listing(image, OpenContext(filesystem="ext"))
    assert found == _md5s("ext2", EXT_FILES)
    found, _ = _listing(image, OpenContext(filesystem="NTFS"))
    assert found == _md5s("NTFS", NTFS_FILES)
    with pytest.raises(EvidenceError, match="use one of ntfs, fat"):
        ImageEvidence(image, OpenContext(filesystem="zfs"))
    with pytest.raises(EvidenceError, match=r"no volume of dual\.img holds both a HFS\+ file system"):
        ImageEvidence(image, OpenContext(filesystem="hfs"))
    assert main(["inspect", str(image), "--filesystem", "ext"]) == Exit.OK
    shown = capsys.readouterr().out
    assert "ext2: readable" in shown and "NTFS" not in shown.replace("signatures of NTFS", "")
    case = tmp_path / "case"
    argv = ["triage", str(image), "--case", str(case), "--exhibit", "E", "--filesystem", "ntfs", "--workers", "1"]
    assert main(argv) == Exit.OK, capsys.readouterr().err
    with Case.open_existing(case).sessions() as s:
        codes = [w.code for w in s.query(WarningRow)]
    assert codes == ["several-filesystems"]


def test_a_stale_signature_that_does_not_open_is_named(tmp_path: Path) -> None:
    # An NTFS boot sector written over an ext2 volume's first sector (ext2's superblock is at 1024): its
    # MFT address points into ext2's structures, so only ext2 opens; the warning says NTFS's mark was there.
    if not HAVE_DUAL:
        pytest.skip("mkntfs or mkfs.ext2 missing (make sysdeps-test)")
    ntfs = tmp_path / "ntfs.img"
    subprocess.run(["truncate", "-s", "4M", str(ntfs)], check=True)
    subprocess.run(["mkntfs", "-F", "-q", "-f", str(ntfs)], check=True, capture_output=True)
    tree = tmp_path / "ext-tree"
    tree.mkdir()
    for name, data in EXT_FILES.items():
        (tree / name).write_bytes(data)
    image = tmp_path / "ext2.img"
    subprocess.run(["truncate", "-s", "4M", str(image)], check=True)
    subprocess.run(["mkfs.ext2", "-q", "-F", "-d", str(tree), str(image)], check=True, capture_output=True)
    with image.open("r+b") as out:
        out.write(ntfs.read_bytes()[:512])
    found, warnings = _listing(image)
    assert found == _md5s("ext2", EXT_FILES)
    [several] = [w for w in warnings if w.code == "several-filesystems"]
    assert "signatures of NTFS and ext2/3/4 in one volume (NTFS does not open)" in several.message
    [volume] = inspect_source(image)["volumes"]
    assert (volume["filesystem"], volume["state"]) == ("ext2", "readable")


def test_inspect_calls_a_file_system_with_a_damaged_catalog_unreadable(tmp_path: Path) -> None:
    # TSK opens this HFS+ volume but cannot find its root folder: triage records fs-corrupt and lists
    # nothing, so inspect must not say "readable".
    hfs = bytearray(data_file(DATA / "disk" / "dfvfs" / "hfsplus.raw").read_bytes())
    block_size = struct.unpack_from(">I", hfs, 1024 + 0x28)[0]
    start = struct.unpack_from(">I", hfs, 1024 + 0x110 + 16)[0]
    hfs[start * block_size : (start + 1) * block_size] = bytes(block_size)  # the catalog's header node
    image = tmp_path / "hfs.raw"
    image.write_bytes(bytes(hfs))
    [volume] = inspect_source(image)["volumes"]
    assert volume["state"] == "error" and volume["message"].startswith("root folder unreadable: ")


# --- NTFS metadata files in the full profile -----------------------------------------------------------

HAVE_MKNTFS = bool(shutil.which("mkntfs"))
REGIONS = {"$Unallocated", "$FileSlack", "$VolumeSlack"}  # what the full profile carves: not metadata files


def _paths(image: Path, full: bool) -> dict[str, Item]:
    evidence = ImageEvidence(image, OpenContext(unallocated=full))
    return {
        "/".join(la.value for la in item.locator.layers if la.kind in (LayerKind.PATH, LayerKind.STREAM)): item
        for item in evidence.items(lambda w: None)
    }


@pytest.mark.skipif(not HAVE_MKNTFS, reason="mkntfs missing (make sysdeps-test)")
def test_full_profile_lists_and_hashes_ntfs_metadata_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "ntfs.img"
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkntfs", "-F", "-q", "-f", str(image)], check=True, capture_output=True)
    full = _paths(image, full=True)
    assert {"/$MFT", "/$MFTMirr", "/$LogFile", "/$Boot", "/$Bitmap", "/$Secure/$SDS"} <= set(full)
    assert "/$BadClus/$Bad" not in full  # sparse, the volume's size, holds nothing
    metadata = [item for item in full.values() if "$" in item.name and item.name not in REGIONS]
    assert metadata and all((item.note or "").startswith("file-system metadata file") for item in metadata)
    assert not [path for path in _paths(image, full=False) if "$" in path]  # quick: none (and no regions)
    case = tmp_path / "case"
    argv = ["triage", str(image), "--case", str(case), "--exhibit", "E", "--profile", "full", "--workers", "1"]
    assert main(argv) == Exit.OK, capsys.readouterr().err
    with Case.open_existing(case).sessions() as s:
        rows = {row.name: row for row in s.query(ItemRow)}
    data = image.read_bytes()
    # answer keys from the volume itself: $Boot is its first 8 KiB; $MFTMirr copies the MFT's first 4 records
    assert rows["$Boot"].md5 == hashlib.md5(data[:8192]).hexdigest()
    mft_at = struct.unpack_from("<Q", data, 0x30)[0] * struct.unpack_from("<H", data, 11)[0] * data[13]
    assert rows["$MFTMirr"].md5 == hashlib.md5(data[mft_at : mft_at + 4096]).hexdigest()
    assert rows["$MFT"].sha256 and rows["$LogFile"].md5 and rows["$MFT"].note == rows["$Boot"].note


def test_full_profile_lists_the_ntfs_transaction_logs_under_extend() -> None:
    image = data_file(DATA / "disk" / "dfvfs" / "vsstest.qcow2")
    full = {path: item.size for path, item in _paths(image, full=True).items()}
    txf = "/$Extend/$RmMetadata/$TxfLog"
    assert full[f"{txf}/$TxfLog.blf"] == 65536
    assert full[f"{txf}/$TxfLogContainer00000000000000000001"] == 10485760
    assert full[f"{txf}/$Tops/$T"] == 1048576
    assert full["/$Extend/$RmMetadata/$Repair/$Config"] == 8
    assert not [path for path in _paths(image, full=False) if path.startswith("/$Extend")]


# --- deleted ext names whose content is gone ---------------------------------------------------------

HAVE_DEBUGFS = bool(shutil.which("mkfs.ext4") and shutil.which("debugfs"))
PHOTOS = {f"IMG_000{n}.JPG": jpeg(7100 + n, (120, 90)) for n in range(1, 5)}


def deleted_ext4(tmp_path: Path) -> Path:
    """ext4 with /DCIM/IMG_0001..4; then IMG_0001 removed and its inode (13) reused by /new.bin, IMG_0002's
    block map emptied and size zeroed before its removal (as the Linux kernel deletes), IMG_0003 removed
    with debugfs's plain ``rm`` (its block map stays: recoverable), IMG_0004 left alone."""
    tree = tmp_path / "src"
    (tree / "DCIM").mkdir(parents=True)
    for name, data in PHOTOS.items():
        (tree / "DCIM" / name).write_bytes(data)
    image = tmp_path / "ext4.img"
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    cmd = ["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "root_owner=0:0", "-d", str(tree), str(image)]
    subprocess.run(cmd, check=True, capture_output=True)
    (tmp_path / "new.bin").write_bytes(b"a live file written after the deletions\n")
    script = tmp_path / "cmd"
    script.write_text(
        "punch /DCIM/IMG_0002.JPG 0\nsif /DCIM/IMG_0002.JPG size 0\nrm /DCIM/IMG_0002.JPG\n"
        "rm /DCIM/IMG_0003.JPG\nrm /DCIM/IMG_0001.JPG\n"
        f"write {tmp_path / 'new.bin'} /new.bin\n"
    )
    subprocess.run(["debugfs", "-w", "-f", str(script), str(image)], check=True, capture_output=True)
    return image


@pytest.mark.skipif(not HAVE_DEBUGFS, reason="e2fsprogs missing (make sysdeps-test)")
def test_deleted_ext_names_whose_content_is_gone_are_each_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = deleted_ext4(tmp_path)
    evidence = ImageEvidence(image)
    warnings: list[EvidenceWarning] = []
    items = {item.name: item for item in evidence.items(warnings.append)}
    assert items["IMG_0003.JPG"].deleted and items["new.bin"].allocated
    with evidence.open(items["IMG_0003.JPG"].locator) as stream:
        assert stream.read() == PHOTOS["IMG_0003.JPG"]  # plain rm: still listed, with its content
    assert "IMG_0001.JPG" not in items and "IMG_0002.JPG" not in items
    gone = {
        (w.locator.leaf.value, w.locator.leaf.inode): w.message
        for w in warnings
        if w.code == "deleted-unrecoverable" and w.locator
    }
    assert gone.keys() == {("/DCIM/IMG_0001.JPG", 13), ("/DCIM/IMG_0002.JPG", 14)}
    assert "metadata record now belongs to a live file" in gone[("/DCIM/IMG_0001.JPG", 13)]
    assert "block map was emptied on delete" in gone[("/DCIM/IMG_0002.JPG", 14)]
    assert all(message.startswith("deleted name; its content is gone") for message in gone.values())
    case = tmp_path / "case"
    assert main(["triage", str(image), "--case", str(case), "--exhibit", "E", "--workers", "1"]) == Exit.OK
    capsys.readouterr()
    [exhibit] = summarise(Case.open_existing(case)).exhibits
    assert (
        "deleted names whose content is gone (carving may find it): /DCIM/IMG_0001.JPG (inode 13); "
        "/DCIM/IMG_0002.JPG (inode 14)" in exhibit.not_examined
    )
    assert "2 × deleted-unrecoverable (see warnings)" in exhibit.not_examined
