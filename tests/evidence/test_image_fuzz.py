"""Damaged disk images never end a run: ``inspect`` and ``triage`` of every image in tests/data/disk, with
seeded damage to its metadata, end in exit 0 with warnings (``inspect`` may also refuse a file it cannot
recognise as an image: exit 3, one sentence).

The damage is made here rather than with ``tests/mutants.py``, whose positions favour a file's first KiB:
in a disk image the structures a reader trusts (boot sectors, superblocks, catalogs, MFT records, inode
tables, container headers) are spread over the non-zero sectors, while most of a small test image is
zeros. Each mutant smashes a whole non-zero sector, flips bytes in several, or cuts the image short. A
working copy is damaged in place and repaired from the original after each run, so large images are copied
once.
"""

from __future__ import annotations

import random
import shutil
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.store import Case
from safenet.cli import Exit, main
from tests.datafiles import DATA, data_file

DISK = DATA / "disk"
SECTOR = 512
_LATER_SEGMENTS = (".E02", ".001")
_NOT_IMAGES = (".txt", ".xml", ".html", ".zip")
# In-process and inline, so a failure is this process's exception; the full profile reads the most metadata.
_TRIAGE_FLAGS = ("--exhibit", "E", "--profile", "full", "--executor", "inline", "--workers", "1")


def disk_images(tmp: Path) -> list[Path]:
    """Every image in tests/data/disk (unpacked where kept gzipped; the dftt zips' images extracted to
    ``tmp``), each split image by its first segment."""
    found: list[Path] = []
    for path in sorted(DISK.rglob("*")):
        name = path.name.removesuffix(".gz") if path.name != "corrupt1.gz" else path.name
        if not path.is_file() or name.startswith("LICENSE") or name.endswith(_LATER_SEGMENTS):
            continue
        if path.suffix == ".zip":
            found.extend(_zipped_images(path, tmp))
        elif not name.endswith(_NOT_IMAGES) and "expected" not in path.parts:
            found.append(data_file(path.with_name(name)) if name != path.name else path)
    return found


def _zipped_images(archive: Path, tmp: Path) -> Iterator[Path]:
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            if member.lower().endswith((".dd", ".img", ".iso", ".raw")):
                target = tmp / archive.stem / Path(member).name
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zipped.open(member) as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                yield target


def segments(image: Path) -> list[Path]:
    """The files one image is made of: E01/E02…, 000/001…, or the file alone."""
    if image.suffix.upper() not in (".E01", ".000"):
        return [image]
    stem = Path(image.name).stem
    return sorted(p for p in image.parent.glob(f"{stem}.*") if Path(p.name).stem == stem)


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes written over the image at offsets, or the image cut at ``cut``; ``how`` reproduces it."""

    how: str
    writes: tuple[tuple[int, bytes], ...] = ()
    cut: int | None = None


def damages(data: np.ndarray, size: int, seed: int, count: int) -> list[Damage]:
    """``count`` seeded damages: sector smashes, byte flips and truncations, in turn."""
    rng = random.Random(seed)
    whole = size // SECTOR
    sectors = np.flatnonzero(data[: whole * SECTOR].reshape(-1, SECTOR).any(axis=1)) if whole else np.zeros(1, int)
    if not len(sectors):
        sectors = np.zeros(1, dtype=np.int64)
    out: list[Damage] = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            sector = int(sectors[rng.randrange(len(sectors))])
            fill = rng.choice(("zero", "ff", "random"))
            block = {"zero": bytes(SECTOR), "ff": b"\xff" * SECTOR, "random": rng.randbytes(SECTOR)}[fill]
            out.append(Damage(f"smash-{fill}@sector{sector}", ((sector * SECTOR, block[: size - sector * SECTOR]),)))
        elif kind == 1:
            writes = []
            for _ in range(rng.randint(1, 16)):
                at = int(sectors[rng.randrange(len(sectors))]) * SECTOR + rng.randrange(SECTOR)
                if at < size:
                    writes.append((at, bytes([rng.randrange(256)])))
            out.append(Damage("flip@" + ",".join(str(at) for at, _ in writes), tuple(writes)))
        else:
            cut = rng.randrange(1, max(2, size))
            out.append(Damage(f"cut@{cut}", cut=cut))
    return out


class WorkingCopy:
    """A copy of an image's segments that damage is applied to and then undone."""

    def __init__(self, image: Path, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for part in segments(image):
            shutil.copyfile(part, folder / part.name)
        self.original = image
        self.path = folder / image.name
        self.size = self.path.stat().st_size

    def apply(self, damage: Damage) -> None:
        with self.path.open("r+b") as handle:
            for at, data in damage.writes:
                handle.seek(at)
                handle.write(data)
            if damage.cut is not None:
                handle.truncate(damage.cut)

    def undo(self, damage: Damage) -> None:
        with self.original.open("rb") as src, self.path.open("r+b") as dst:
            for at, data in damage.writes:
                src.seek(at)
                dst.seek(at)
                dst.write(src.read(len(data)))
            if damage.cut is not None:
                src.seek(damage.cut)
                dst.seek(damage.cut)
                shutil.copyfileobj(src, dst, 1 << 20)


def check(image: Path, seed: int, count: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = WorkingCopy(image, tmp_path / "work")
    data = np.fromfile(copy.path, dtype=np.uint8)
    for number, damage in enumerate(damages(data, copy.size, seed, count)):
        copy.apply(damage)
        where = f"{image.name} seed {seed} mutant {number} ({damage.how})"
        code = main(["inspect", str(copy.path)])
        err = capsys.readouterr().err
        assert code in (Exit.OK, Exit.EVIDENCE), f"{where}: inspect exit {code}: {err[-500:]}"
        assert "internal error" not in err and "Traceback" not in err, f"{where}: {err[-500:]}"
        case = tmp_path / f"case{number}"
        code = main(["triage", str(copy.path), "--case", str(case), *_TRIAGE_FLAGS])
        err = capsys.readouterr().err
        assert code == Exit.OK, f"{where}: triage exit {code}: {err[-500:]}"
        copy.undo(damage)
        shutil.rmtree(case)
    assert copy.path.read_bytes() == image.read_bytes()  # every damage was undone: the mutants were independent


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return disk_images(tmp_path_factory.mktemp("dftt"))


def test_every_disk_image_is_found(images: list[Path]) -> None:
    names = {p.name for p in images}
    assert {"hfsplus.raw", "ext2.raw", "image.E01", "image.vhd", "ext-part-test-2.dd", "iso9660.raw"} <= names
    assert not any(name.endswith(_LATER_SEGMENTS) for name in names)


QUICK = ("hfsplus.raw", "ext2.raw", "image.vhd", "ímynd.dd", "apfs.raw")


@pytest.mark.parametrize("name", QUICK)
def test_damaged_images_end_in_exit_0(
    name: str, images: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [image] = [p for p in images if p.name == name]
    check(image, seed=19, count=3, tmp_path=tmp_path, capsys=capsys)


@pytest.mark.slow
def test_every_damaged_image_ends_in_exit_0(
    images: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for number, image in enumerate(images):
        check(image, seed=7 + number, count=8, tmp_path=tmp_path / str(number), capsys=capsys)


# --- a file system whose root folder cannot be opened --------------------------------------------------


def _mbr(partitions: list[tuple[int, int, int]]) -> bytes:
    """A master boot record with (type, first sector, sectors) entries."""
    table = b"".join(
        struct.pack("<B3sB3sII", 0, b"\0\0\0", kind, b"\0\0\0", start, count) for kind, start, count in partitions
    )
    return bytes(446) + table.ljust(64, b"\0") + b"\x55\xaa"


def _catalog(hfs: bytearray) -> tuple[int, int]:
    """(offset, node size) of the HFS+ catalog file's first extent, from the volume header."""
    header = 1024
    block_size = struct.unpack_from(">I", hfs, header + 0x28)[0]
    start = struct.unpack_from(">I", hfs, header + 0x110 + 16)[0]
    return start * block_size, block_size


def test_hfs_with_a_damaged_catalog_is_fs_corrupt_and_the_other_volume_is_triaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hfs = bytearray(data_file(DISK / "dfvfs" / "hfsplus.raw").read_bytes())
    offset, node = _catalog(hfs)
    hfs[offset : offset + node] = bytes(node)  # the catalog's header node: TSK can find no folder at all
    ext2 = data_file(DISK / "dfvfs" / "ext2.raw").read_bytes()
    first, second = 2048, 2048 + len(hfs) // SECTOR
    disk = tmp_path / "disk.raw"
    with disk.open("wb") as out:
        out.write(_mbr([(0xAF, first, len(hfs) // SECTOR), (0x83, second, len(ext2) // SECTOR)]))
        out.seek(first * SECTOR)
        out.write(hfs)
        out.seek(second * SECTOR)
        out.write(ext2)
    case = tmp_path / "case"
    code = main(["triage", str(disk), "--case", str(case), "--exhibit", "E", "--profile", "full", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == Exit.OK, err
    opened = Case.open_existing(case)
    with opened.sessions() as s:
        warnings = [(w.code, w.message, w.display) for w in s.query(WarningRow)]
        names = {row.name for row in s.query(ItemRow)}
    corrupt = [w for w in warnings if w[0] == "fs-corrupt"]
    assert len(corrupt) == 1 and corrupt[0][1].startswith("root folder unreadable: ")
    assert (corrupt[0][2] or "").endswith("› p1 mbr › HFS+ › /"), corrupt  # the damaged volume, by its locator
    assert {"passwords.txt", "a_file", "another_file"} <= names  # the ext2 volume was still examined
